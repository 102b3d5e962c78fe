"""Local accounts: registration, log in and out (limited per address and per account), the language."""

from __future__ import annotations

import re

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from federation.runtime import RUNTIME, Runtime
from node.db import transaction
from node.errors import CivicError
from node.models import User
from node.services import accounts as account_service
from node.services import actors as actor_service
from node.uris import RESERVED, USERNAME_RE
from web import account_page, ratelimit
from web.i18n import LANG_COOKIE, LANG_COOKIE_MAX_AGE, LANGUAGES, translations
from web.render import current_user, local_path, read_form, render
from web.sessions import get_session, start_session

MIN_PASSWORD = 8  # node.services.actors.hash_password refuses shorter ones
MAX_PASSWORD = 1024  # argon2 would hash more, but nobody types that: refuse to burn CPU on it
MAX_DISPLAY_NAME = 100
MAX_EMAIL = 320
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]+$")


# -- log in / out ---------------------------------------------------------------------------------


async def login_form(request: web.Request) -> web.Response:
    context = {"error": None, "username": "", "next": local_path(request.query.get("next"), "")}
    return await render(request, "login.html", context)


def account_key(handle: str) -> str | None:
    """The per-account limit key of a typed handle; None when no account can have that handle."""
    handle = handle.strip().lstrip("@").lower()
    return handle if USERNAME_RE.match(handle) else None


async def login(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    rt: Runtime = request.app[RUNTIME]
    tr = translations(request)
    username = (form.get("username") or "").strip().lstrip("@")
    handle = account_key(username)
    context = {"username": username, "next": local_path(form.get("next"), "")}
    wait = await ratelimit.count_attempt(request, handle)
    if wait:
        context["error"] = ratelimit.too_many_text(tr, wait)
        return ratelimit.retry_after(await render(request, "login.html", context, status=429), wait)
    async with rt.sessions() as session:
        user = await actor_service.user_by_username(session, handle) if handle else None
    password = form.get("password", "")
    # An unknown handle is checked against a dummy hash: the same work, so the same time, as a
    # known one — the answer's timing does not tell which accounts exist (SECURITY.md rule 18).
    if len(password) > MAX_PASSWORD or not await actor_service.verify_password_async(
        user.password_hash if user else None, password
    ):
        context["error"] = tr.gettext("Unknown handle or wrong password.")
        return await render(request, "login.html", context, status=400)
    await ratelimit.succeeded(request, handle)
    async with rt.sessions() as session:
        approved = await account_service.is_approved(session, user.id)
        epoch = await account_service.session_epoch(session, user.id)
    if not approved:  # told only to whoever knows the password
        context["error"] = tr.gettext(
            "Your account awaits approval by the administrators of this node. "
            "You can log in once they have approved it."
        )
        return await render(request, "login.html", context, status=403)
    # Rotation: a new nonce (so a new CSRF token) at every login, under the account's epoch.
    start_session(request, user.id, epoch or 0)
    raise web.HTTPSeeOther(local_path(form.get("next")))


async def logout(request: web.Request) -> web.StreamResponse:
    """Log out everywhere: the account's epoch moves on, so every copy of every cookie of this
    account stops working, in every process of the node (SECURITY.md rule 16)."""
    await read_form(request)
    uid = get_session(request).get("uid")
    if uid is not None:
        async with transaction(request.app[RUNTIME].sessions) as session:
            await account_service.end_sessions(session, uid)
    start_session(request, None)
    raise web.HTTPSeeOther("/")


# -- registration ---------------------------------------------------------------------------------


def _closed(request: web.Request) -> bool:
    return not request.app[RUNTIME].settings.open_registrations


async def register_form(request: web.Request) -> web.Response:
    if _closed(request):
        return await render(request, "register.html", {"closed": True}, status=403)
    if await current_user(request):
        raise web.HTTPSeeOther("/")
    context = {
        "closed": False,
        "errors": {},
        "values": {},
        "next": local_path(request.query.get("next"), ""),
    }
    return await render(request, "register.html", context)


def check_registration(form: dict, tr) -> tuple[dict, dict]:
    """(cleaned values, {field: translated error}) of a registration form."""
    values = {
        "username": (form.get("username") or "").strip().lstrip("@").lower(),
        "display_name": " ".join((form.get("display_name") or "").split()),
        "email": (form.get("email") or "").strip().lower(),
    }
    password, confirmation = form.get("password") or "", form.get("password_confirm") or ""
    errors = {}
    if not values["username"]:
        errors["username"] = tr.gettext("Choose a handle.")
    elif values["username"] in RESERVED:
        errors["username"] = tr.gettext("This handle is reserved. Choose another one.")
    elif not USERNAME_RE.match(values["username"]):
        errors["username"] = tr.gettext(
            "A handle has 1 to 30 characters: letters a-z, digits and _ (dots and dashes inside)."
        )
    if len(values["display_name"]) > MAX_DISPLAY_NAME:
        errors["display_name"] = tr.gettext(
            "The display name may have at most %(max)d characters."
        ) % {"max": MAX_DISPLAY_NAME}
    if values["email"] and (
        len(values["email"]) > MAX_EMAIL or not EMAIL_RE.match(values["email"])
    ):
        errors["email"] = tr.gettext("This is not an e-mail address (or leave the field empty).")
    if len(password) < MIN_PASSWORD:
        errors["password"] = tr.gettext("The password needs at least %(min)d characters.") % {
            "min": MIN_PASSWORD
        }
    elif len(password) > MAX_PASSWORD:
        errors["password"] = tr.gettext("This password is too long.")
    elif password != confirmation:
        errors["password_confirm"] = tr.gettext("The two passwords differ.")
    return values, errors


async def _taken(session, values: dict, tr) -> dict:
    errors = {}
    if await actor_service.local_actor(session, values["username"]) is not None:
        errors["username"] = tr.gettext("This handle is already taken. Choose another one.")
    if values["email"] and await session.scalar(
        select(User.id).where(User.email == values["email"])
    ):
        errors["email"] = tr.gettext("An account already uses this e-mail address.")
    return errors


async def register(request: web.Request) -> web.StreamResponse:
    if _closed(request):
        return await render(request, "register.html", {"closed": True}, status=403)
    form = await read_form(request)
    rt: Runtime = request.app[RUNTIME]
    tr = translations(request)
    values, errors = check_registration(form, tr)
    next_path = local_path(form.get("next"), "")
    user = None
    if not errors:
        # Counted once the form is valid (the costly part is ahead), per client address.
        wait = await ratelimit.hit(request, "registration", ratelimit.client_key(request))
        if wait:
            context = {"closed": False, "errors": {}, "values": values, "next": next_path,
                       "limited": tr.gettext(
                           "Too many accounts were created from your address. Retry in %(minutes)d min."
                       ) % {"minutes": ratelimit.minutes(wait)}}
            response = await render(request, "register.html", context, status=429)
            return ratelimit.retry_after(response, wait)
        # argon2 and the RSA key pair, off the event loop and outside the write transaction.
        credentials = await actor_service.prepare_credentials(form["password"])
        try:
            async with transaction(rt.sessions) as session:
                errors = await _taken(session, values, tr)
                if not errors:
                    user = await actor_service.create_user(
                        session,
                        rt.uris,
                        values["username"],
                        form["password"],
                        display_name=values["display_name"],
                        email=values["email"] or None,
                        credentials=credentials,
                    )
                    if rt.settings.registration_approval:
                        await account_service.mark_pending(session, user.id)
        except (CivicError, IntegrityError):
            # A concurrent registration took the handle or e-mail between the check and the insert.
            errors = {
                "username": tr.gettext(
                    "This handle or e-mail address was just taken. Choose another one."
                )
            }
    if errors or user is None:
        context = {"closed": False, "errors": errors, "values": values, "next": next_path}
        return await render(request, "register.html", context, status=400)
    if rt.settings.registration_approval:
        return await render(request, "register.html", {"closed": False, "pending": True,
                                                       "handle": user.actor.username})
    start_session(request, user.id)
    raise web.HTTPSeeOther(local_path(next_path, f"/actors/{user.actor.username}"))


# -- language -------------------------------------------------------------------------------------


async def switch_language(request: web.Request) -> web.StreamResponse:
    """The language switcher: remember the choice in the ``lang`` cookie, go back to the page."""
    form = await read_form(request)
    lang = form.get("lang")
    if lang not in LANGUAGES:
        raise web.HTTPBadRequest()
    response = web.HTTPSeeOther(local_path(form.get("next")))
    secure = request.app[RUNTIME].settings.base_url.startswith("https")
    response.set_cookie(
        LANG_COOKIE,
        lang,
        max_age=LANG_COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=secure,
    )
    raise response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/login", login_form, name="login")
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/register", register_form, name="register")
    app.router.add_post("/register", register)
    app.router.add_post("/language", switch_language, name="language")
    account_page.add_routes(app)
