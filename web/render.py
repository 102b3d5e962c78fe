"""Rendering a page with what every page needs (language, user, CSRF token, CSP), and reading forms."""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web

from federation.runtime import RUNTIME
from node.models import User
from web import oversize
from web.cache import CACHEABLE, CSRF_PLACEHOLDER, VIEWER, account_fields
from web.errors import read_post
from web.i18n import LANGUAGES, _, locale_of, translate, translations
from web.security import CSP
from web.sessions import USER, check_csrf, csrf_token, get_session

# 20,000 characters of any script, percent-encoded by the browser (up to 12 bytes each), fit.
MAX_FORM = 256 * 1024

# Every page is rendered with `form-action 'self'`: forms post to this node only. The one exception
# is the remote-follow page (web/follow.py), whose POST answers with a 303 to the visitor's own
# server; Chromium applies form-action to redirects after a form submission (CSP3 §6.3.1.1), so
# that page alone also allows https: (and http: on a development node).
_DIRECTIVES = [
    d.strip() for d in CSP.split(";") if d.strip() and not d.strip().startswith("form-action")
]

# Generic, translated texts for errors raised without a text of their own.
_ERROR_TEXTS = {
    400: _("The request could not be understood."),
    403: _("You are not allowed to do this."),
    404: _("There is no such page on this node."),
    405: _("This page cannot be used this way."),
    410: _("This page was deleted."),
    413: _("What you sent is too large."),
    429: _("Too many attempts. Wait a few minutes and retry."),
}
_ERROR_FALLBACK = _("Something went wrong. Retry in a moment.")


def page_csp(*form_targets: str) -> str:
    """The Content-Security-Policy of an HTML page: strict, forms may post only to 'self' (+ targets)."""
    return "; ".join([*_DIRECTIVES, " ".join(["form-action", "'self'", *form_targets])])


async def current_user(request: web.Request) -> User | None:
    """The logged-in user, or None (loaded once per request)."""
    if USER not in request:
        uid = get_session(request).get("uid")
        user = None
        if uid:
            async with request.app[RUNTIME].sessions() as session:
                user = await session.get(User, uid)
        request[USER] = user
    return request[USER]


def local_path(target: object, default: str = "/") -> str:
    """``target`` when it is a path on this node (a safe ``next``), else ``default``.

    Refuses absolute and scheme-relative URLs (``//host``, ``/\\host``: browsers read a backslash as
    a slash) and control characters, so a redirect to it can never leave the node."""
    text = str(target or "")
    if (
        not text.startswith("/")
        or text.startswith(("//", "/\\"))
        or "\\" in text
        or any(ord(char) < 32 or ord(char) == 127 for char in text)
    ):
        return default
    parts = urlsplit(text)
    return text if not parts.scheme and not parts.netloc else default


async def read_form(request: web.Request, *, files: tuple[str, ...] = (), max_size: int = MAX_FORM) -> dict:
    """A posted form with its CSRF token checked (403 otherwise); 413 above ``max_size`` bytes.

    Text fields are ``str``; each field named in ``files`` (a multipart upload) is the uploaded
    ``bytes`` (empty when no file was chosen), read up to ``max_size`` + 1 bytes. Above
    ``max_size`` the 413 is a ``web.oversize.FormTooLarge`` carrying what could be read, so a
    handler can show the form again with what was typed (SECURITY.md rule 19)."""
    if request.content_length and request.content_length > max_size:
        raise await oversize.too_large(request, max_size, files)
    form = await read_post(request)  # 400 with a reason when it cannot be decoded (web/errors.py)
    if not check_csrf(request, form.get("csrf_token")):
        raise web.HTTPForbidden(
            text=_("The form expired or came from another site. Reload and retry.")
        )
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    for name in files:
        upload = form.get(name)
        values[name] = upload.file.read(max_size + 1) if isinstance(upload, web.FileField) else b""
    return values


async def render(
    request: web.Request,
    template: str,
    context: dict,
    status: int = 200,
    *,
    form_targets: tuple[str, ...] = (),
) -> web.Response:
    """Render ``template`` in the request's language.

    Every template gets ``lang``, ``languages``, ``translations`` (used by ``_()``/``{% trans %}``),
    ``user``, ``csrf_token`` and ``path`` (where the language switcher returns to)."""
    lang = locale_of(request)
    user = await current_user(request)
    # A page shared by several visitors (web/cache.py) carries placeholders, replaced per response.
    shared = request.get(CACHEABLE) and (user is None or VIEWER in request)
    account_name, account_url = ("", "") if user is None else account_fields(
        request, user.actor.name or user.actor.username, user.actor.url or user.actor.ap_id)
    base = {
        "lang": lang,
        "languages": LANGUAGES,
        "translations": translations(request),
        "user": user,
        "account_name": account_name,
        "account_url": account_url,
        "csrf_token": CSRF_PLACEHOLDER if shared else csrf_token(request),
        "path": request.path_qs if request.method == "GET" else request.path,
        "domain": request.app[RUNTIME].uris.domain,
        "registrations_open": request.app[RUNTIME].settings.open_registrations,
    }
    response = aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status)
    response.headers["Content-Language"] = lang
    response.headers["Content-Security-Policy"] = page_csp(*form_targets)
    add_vary(response, "Accept-Language", "Cookie")
    return response


def add_vary(response: web.StreamResponse, *fields: str) -> None:
    """Add fields to the response's Vary header (kept as one header)."""
    present = [f.strip() for f in response.headers.get("Vary", "").split(",") if f.strip()]
    for field in fields:
        if field.lower() not in (p.lower() for p in present):
            present.append(field)
    response.headers["Vary"] = ", ".join(present)


async def render_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    """An error page in the visitor's language; texts marked with ``_`` are translated."""
    text = exc.text
    if not text or text == f"{exc.status}: {exc.reason}":
        text = _ERROR_TEXTS.get(exc.status, _ERROR_FALLBACK)
    context = {"status": exc.status, "reason": translate(request, text)}
    response = await render(request, "error.html", context, status=exc.status)
    for name in ("Retry-After", "Allow"):
        if name in exc.headers:
            response.headers[name] = exc.headers[name]
    return response
