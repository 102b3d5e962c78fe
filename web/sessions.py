"""Browser sessions: a signed cookie, rotated at login, ended everywhere by the account's epoch."""

from __future__ import annotations

from aiohttp import web

from federation.runtime import RUNTIME
from node.services import accounts
from web.security import COOKIE, SESSION_MAX_AGE, SIGNER

SESSION = web.RequestKey("civic_session", dict)
# The signed-in user, once loaded for this request (web.render.current_user).
USER = web.RequestKey("civic_user", object)
CHANGED = web.RequestKey("civic_session_changed", bool)


def get_session(request: web.Request) -> dict:
    """The visitor's session; an anonymous one is started (and its cookie set) on first use."""
    if SESSION not in request:
        data = request.app[SIGNER].loads(request.cookies.get(COOKIE))
        if data is None:
            data = request.app[SIGNER].new_session(None)
            request[CHANGED] = True
        request[SESSION] = data
    return request[SESSION]


def start_session(request: web.Request, user_id: int | None, epoch: int = 0) -> dict:
    """A brand-new session (new nonce, so new CSRF token): at login and logout; ``epoch`` is the
    account's current session epoch."""
    request[SESSION] = request.app[SIGNER].new_session(user_id, epoch)
    request[CHANGED] = True
    return request[SESSION]


def csrf_token(request: web.Request) -> str:
    return request.app[SIGNER].csrf_token(get_session(request))


def check_csrf(request: web.Request, token: str | None) -> bool:
    return request.app[SIGNER].check_csrf(get_session(request), token)


async def _check_epoch(request: web.Request) -> None:
    """A signed-in cookie whose epoch is not the account's current one (logout, password change,
    account deletion elsewhere) is replaced by an anonymous session before any handler or the page
    cache (web/cache.py) reads it. One indexed query, read from the database so every process of
    the node agrees at once (SECURITY.md rule 16); anonymous visitors and static files cost none."""
    cookie = request.cookies.get(COOKIE)
    if not cookie or request.path.startswith(("/static/", "/media/")):
        return
    data = request.app[SIGNER].loads(cookie)
    uid = data.get("uid") if data else None
    if uid is None:
        return
    async with request.app[RUNTIME].sessions() as session:
        current = await accounts.session_epoch(session, uid) if isinstance(uid, int) else None
    if current is None or data.get("ep", 0) != current:
        data = request.app[SIGNER].new_session(None)
        request[CHANGED] = True
    request[SESSION] = data


@web.middleware
async def session_cookies(request: web.Request, handler):
    """Write the cookie only when a handler started or changed the session (never for AP traffic)."""
    await _check_epoch(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status in (302, 303) and request.get(CHANGED):
            _set_cookie(request, exc)
        raise
    if request.get(CHANGED) and isinstance(response, web.StreamResponse):
        _set_cookie(request, response)
    return response


def _set_cookie(request: web.Request, response: web.StreamResponse) -> None:
    secure = request.app[RUNTIME].settings.base_url.startswith("https")
    response.set_cookie(COOKIE, request.app[SIGNER].dumps(request[SESSION]), max_age=SESSION_MAX_AGE,
                        httponly=True, samesite="Lax", secure=secure, path="/")
