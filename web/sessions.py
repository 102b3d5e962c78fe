"""Browser sessions: a signed cookie loaded only by the pages that need it, rotated at login."""

from __future__ import annotations

from aiohttp import web

from federation.runtime import RUNTIME
from web.security import COOKIE, SESSION_MAX_AGE, SIGNER

SESSION = web.RequestKey("civic_session", dict)
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


def start_session(request: web.Request, user_id: int | None) -> dict:
    """A brand-new session (new nonce, so new CSRF token): at login and logout."""
    request[SESSION] = request.app[SIGNER].new_session(user_id)
    request[CHANGED] = True
    return request[SESSION]


def csrf_token(request: web.Request) -> str:
    return request.app[SIGNER].csrf_token(get_session(request))


def check_csrf(request: web.Request, token: str | None) -> bool:
    return request.app[SIGNER].check_csrf(get_session(request), token)


@web.middleware
async def session_cookies(request: web.Request, handler):
    """Write the cookie only when a handler started or changed the session (never for AP traffic)."""
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
