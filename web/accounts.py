"""Local accounts: registration, log in (rate-limited per handle) and out, the language choice."""

from __future__ import annotations

import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from federation.runtime import RUNTIME, Runtime
from node.db import transaction
from node.errors import CivicError
from node.models import User
from node.services import actors as actor_service
from node.uris import RESERVED, USERNAME_RE
from web.i18n import LANG_COOKIE, LANG_COOKIE_MAX_AGE, LANGUAGES, translations
from web.render import current_user, local_path, read_form, render
from web.sessions import start_session

MIN_PASSWORD = 8  # node.services.actors.hash_password refuses shorter ones
MAX_PASSWORD = 1024  # argon2 would hash more, but nobody types that: refuse to burn CPU on it
MAX_DISPLAY_NAME = 100
MAX_EMAIL = 320
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]+$")


class LoginLimiter:
    """Failed log-ins per handle within a sliding window, in memory (per process).

    After ``max_failures`` failures the handle is refused until the oldest failure leaves the window,
    whatever the password: guessing stays at ``max_failures`` per ``window`` seconds per handle.
    At most ``max_handles`` handles are tracked; the least recently failed are forgotten first."""

    def __init__(
        self,
        max_failures: int = 10,
        window: float = 15 * 60,
        max_handles: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.max_failures = max_failures
        self.window = window
        self.max_handles = max_handles
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, handle: str) -> deque[float] | None:
        failures = self._failures.get(handle)
        if failures is None:
            return None
        horizon = self.clock() - self.window
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[handle]
            return None
        return failures

    def blocked(self, handle: str) -> bool:
        failures = self._recent(handle)
        return failures is not None and len(failures) >= self.max_failures

    def failed(self, handle: str) -> None:
        failures = self._recent(handle) or deque()
        failures.append(self.clock())
        self._failures[handle] = failures
        self._failures.move_to_end(handle)
        while len(self._failures) > self.max_handles:
            self._failures.popitem(last=False)

    def succeeded(self, handle: str) -> None:
        self._failures.pop(handle, None)


LOGIN_LIMITER = web.AppKey("civic_login_limiter", LoginLimiter)


# -- log in / out ---------------------------------------------------------------------------------


async def login_form(request: web.Request) -> web.Response:
    context = {"error": None, "username": "", "next": local_path(request.query.get("next"), "")}
    return await render(request, "login.html", context)


async def login(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    rt: Runtime = request.app[RUNTIME]
    tr = translations(request)
    limiter = request.app[LOGIN_LIMITER]
    username = (form.get("username") or "").strip().lstrip("@")
    key = username.lower()
    context = {"username": username, "next": local_path(form.get("next"), "")}
    if limiter.blocked(key):
        context["error"] = tr.gettext(
            "Too many failed attempts for this handle. Wait 15 minutes and retry."
        )
        response = await render(request, "login.html", context, status=429)
        response.headers["Retry-After"] = str(int(limiter.window))
        return response
    async with rt.sessions() as session:
        user = await actor_service.user_by_username(session, key) if key else None
    password = form.get("password", "")
    if user is None or not actor_service.verify_password(user.password_hash, password):
        if key:
            limiter.failed(key)
        context["error"] = tr.gettext("Unknown handle or wrong password.")
        return await render(request, "login.html", context, status=400)
    limiter.succeeded(key)
    start_session(request, user.id)  # rotation: a new nonce (so a new CSRF token) at every login
    raise web.HTTPSeeOther(local_path(form.get("next")))


async def logout(request: web.Request) -> web.StreamResponse:
    await read_form(request)
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
                    )
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
    app[LOGIN_LIMITER] = LoginLimiter()
    app.router.add_get("/login", login_form, name="login")
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/register", register_form, name="register")
    app.router.add_post("/register", register)
    app.router.add_post("/language", switch_language, name="language")
