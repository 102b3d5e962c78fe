"""The privacy notice (/privacy) and the legal notice (/legal) in the reader's language, linked from
every page's footer, and their editing by node admins (/admin/legal).

The notices are plain text: this module turns them into HTML it builds itself (headings, lists,
paragraphs, links to http(s) addresses), escaping everything written, so an admin's text can never
put markup or script into the page (SECURITY.md rule 7). The pages are shared by every anonymous
reader of a language (web/cache.py); saving a notice is a form POST, which drops the cached pages.
"""

from __future__ import annotations

import html
import re

from aiohttp import web
from markupsafe import Markup

from federation.runtime import RUNTIME
from node.db import transaction
from node.services import legal
from web.cache import RESIDENT, share_page, uncacheable
from web.i18n import LANGUAGES, _, locale_of, translate
from web.participation.limits import number, oversize_errors, read_form_keeping
from web.render import current_user, render

TITLES = {"privacy": _("Privacy notice"), "legal": _("Legal notice")}
PROBLEMS = {
    legal.EMPTY: _("Write the text, or restore the default one."),
    legal.TOO_LONG: _("At most %(max)s characters (you wrote %(count)s)."),
    legal.CHARACTERS: _("The text holds a character that cannot be stored (a NUL or an invalid one)."),
}
# The edit form: the text (50,000 characters, up to 4 bytes each once encoded) and its token.
MAX_FORM = 4 * legal.MAX_TEXT + 64 * 1024
NODE_ADMIN = "node-admin"  # the audience of a notice page with an "Edit" link (web/cache.py)

_URL = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)»“”’"


def _inline(text: str) -> str:
    """One line: escaped, its bare http(s) addresses linked (trailing punctuation left out)."""
    out, start = [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        out.append(html.escape(text[start:match.start()]))
        out.append(f'<a href="{html.escape(url)}">{html.escape(url)}</a>')
        start = match.start() + len(url)
    out.append(html.escape(text[start:]))
    return "".join(out)


def _flush(out: list[str], paragraph: list[str], items: list[list[str]]) -> None:
    """Close the paragraph or the list being built."""
    if paragraph:
        out.append("<p>" + "<br>".join(paragraph) + "</p>")
        paragraph.clear()
    if items:
        out.append("<ul>" + "".join(f"<li>{' '.join(item)}</li>" for item in items) + "</ul>")
        items.clear()


def notice_html(text: str) -> Markup:
    """A notice as HTML: ``# ``/``## `` lines are headings (h2/h3, under the page's h1), ``- ``
    lines list items (a following line continues the item), blank lines separate paragraphs."""
    out: list[str] = []
    paragraph: list[str] = []
    items: list[list[str]] = []
    for block in re.split(r"\n\s*\n", legal.normalise(text)):
        for line in block.split("\n"):
            line = line.strip()
            if not line:
                continue
            if line.startswith(("# ", "## ")):
                _flush(out, paragraph, items)
                level = 3 if line.startswith("## ") else 2
                out.append(f"<h{level}>{_inline(line.lstrip('#').strip())}</h{level}>")
            elif line.startswith("- "):
                _flush(out, paragraph, [])
                items.append([_inline(line[2:].strip())])
            elif items:
                items[-1].append(_inline(line))
            else:
                paragraph.append(_inline(line))
        _flush(out, paragraph, items)
    return Markup("\n".join(out))


async def notice_page(request: web.Request) -> web.Response:
    """GET /privacy, /legal: the notice in the reader's language (or the admin's text in another)."""
    kind = request.match_info.route.name
    rt = request.app[RUNTIME]
    user = await current_user(request)
    is_admin = bool(user and user.is_admin)
    # Residents share one rendering; node admins another, which has the "Edit" link.
    share_page(request, user is not None, NODE_ADMIN if is_admin else RESIDENT)
    async with rt.sessions() as session:
        notice = await legal.notice(session, rt.settings, kind, locale_of(request))
    context = {"kind": kind, "title": translate(request, TITLES[kind]), "notice": notice,
               "body": notice_html(notice.text), "language_name": LANGUAGES[notice.language],
               "can_edit": is_admin}
    return await render(request, "legal.html", context)


async def _node_admin(request: web.Request):
    """The signed-in node admin; anyone else gets the 404 of a page that does not exist."""
    user = await current_user(request)
    if user is None or not user.is_admin:
        raise web.HTTPNotFound()
    uncacheable(request)
    return user


def _place(request: web.Request) -> tuple[str, str]:
    kind, language = request.match_info["kind"], request.match_info["lang"]
    if kind not in legal.KINDS or language not in LANGUAGES:
        raise web.HTTPNotFound()
    return kind, language


async def admin_overview(request: web.Request) -> web.Response:
    """GET /admin/legal: each notice in each language, written by an admin or the default."""
    await _node_admin(request)
    async with request.app[RUNTIME].sessions() as session:
        written = await legal.stored(session)
    rows = [{"kind": kind, "title": translate(request, TITLES[kind]), "language": code,
             "language_name": name, "row": written.get((kind, code))}
            for kind in legal.KINDS for code, name in LANGUAGES.items()]
    context = {"rows": rows, "saved": request.query.get("saved", ""), "editing": None}
    return await render(request, "legal_edit.html", context)


async def _edit_page(request: web.Request, kind: str, language: str, text: str, is_default: bool,
                     errors: dict, status: int = 200) -> web.Response:
    context = {"editing": {"kind": kind, "language": language, "title": translate(request, TITLES[kind]),
                           "language_name": LANGUAGES[language], "is_default": is_default},
               "text": text, "errors": errors, "limit": legal.MAX_TEXT}
    return await render(request, "legal_edit.html", context, status=status)


async def edit_form(request: web.Request) -> web.Response:
    """GET /admin/legal/{kind}/{lang}: the text as it is now (the default one filled in, to adapt)."""
    await _node_admin(request)
    kind, language = _place(request)
    rt = request.app[RUNTIME]
    async with rt.sessions() as session:
        row = (await legal.stored(session)).get((kind, language))
    text = row.text if row is not None else legal.default_text(rt.settings, kind, language)
    return await _edit_page(request, kind, language, text, row is None, {})


async def save(request: web.Request) -> web.StreamResponse:
    """POST /admin/legal/{kind}/{lang}: save the text, or (``action=reset``) go back to the default.
    A text that cannot be stored comes back with the reason (400, or 413 when it did not arrive whole)."""
    user = await _node_admin(request)
    kind, language = _place(request)
    form, oversize = await read_form_keeping(request, max_size=MAX_FORM)
    rt = request.app[RUNTIME]
    if form.get("action") == "reset" and oversize is None:
        async with transaction(rt.sessions) as session:
            await legal.reset(session, kind, language)
        raise web.HTTPSeeOther(f"/admin/legal?saved={kind}-{language}")
    text = legal.normalise(form.get("text") or "")
    errors = {}
    if (found := legal.problem(text)) is not None:
        errors["text"] = translate(request, PROBLEMS[found], max=number(request, legal.MAX_TEXT),
                                   count=number(request, len(text)))
    status = oversize_errors(request, errors, oversize, {"text": legal.MAX_TEXT}, fallback="text")
    if errors:
        # Shown back without what no page can carry (a NUL, a lone surrogate UTF-8 cannot encode).
        shown = re.sub(r"[\x00\ud800-\udfff]", "\ufffd", text)
        return await _edit_page(request, kind, language, shown, False, errors, status)
    async with transaction(rt.sessions) as session:
        await legal.set_text(session, kind, language, text, by=user)
    raise web.HTTPSeeOther(f"/admin/legal?saved={kind}-{language}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/privacy", notice_page, name="privacy")
    app.router.add_get("/legal", notice_page, name="legal")
    app.router.add_get("/admin/legal", admin_overview, name="admin_legal")
    app.router.add_get("/admin/legal/{kind}/{lang}", edit_form)
    app.router.add_post("/admin/legal/{kind}/{lang}", save)
