"""Browser sessions: a signed cookie, rotated at login, ended everywhere by the account's epoch."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from aiohttp import web

from federation.runtime import RUNTIME
from node import changes
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


@dataclass
class _Epoch:
    value: int | None
    seen: int  # the clock of changes (node.changes.Versions) when it was read
    until: float


class Epochs:
    """The session epochs this process read, each for at most ``ttl`` seconds and only while no
    change of its account's sessions (``session:<id>``, node/changes.py) or of everything was
    committed since: a logout or a password change in any process of the node (PostgreSQL
    NOTIFY) drops it at once; ``ttl`` bounds what no announcement reaches (the CLI on SQLite)."""

    TTL, MAX = 1.0, 8192

    def __init__(self) -> None:
        self._known: OrderedDict[int, _Epoch] = OrderedDict()

    def get(self, uid: int, versions: changes.Versions) -> _Epoch | None:
        found = self._known.get(uid)
        if found is None or time.monotonic() > found.until \
                or versions.latest((changes.session(uid),)) > found.seen:
            self._known.pop(uid, None)
            return None
        return found

    def put(self, uid: int, value: int | None, seen: int) -> None:
        self._known[uid] = _Epoch(value, seen, time.monotonic() + self.TTL)
        self._known.move_to_end(uid)
        while len(self._known) > self.MAX:
            self._known.popitem(last=False)


EPOCHS = web.AppKey("civic_session_epochs", Epochs)


async def _current_epoch(request: web.Request, uid: int) -> int | None:
    rt, epochs = request.app[RUNTIME], request.app[EPOCHS]
    if (known := epochs.get(uid, rt.changes)) is not None:
        return known.value
    seen = rt.changes.clock  # before reading: a change committed meanwhile makes it stale
    async with rt.sessions() as session:
        current = await accounts.session_epoch(session, uid)
    epochs.put(uid, current, seen)
    return current


async def _check_epoch(request: web.Request) -> None:
    """A signed-in cookie whose epoch is not the account's current one (logout, password change,
    account deletion elsewhere) is replaced by an anonymous session before any handler or the page
    cache (web/cache.py) reads it. One indexed query, read from the database so every process of
    the node agrees (SECURITY.md rule 16), and kept a second at most (:class:`Epochs`); anonymous
    visitors and static files cost none."""
    cookie = request.cookies.get(COOKIE)
    if not cookie or request.path.startswith(("/static/", "/media/")):
        return
    data = request.app[SIGNER].loads(cookie)
    uid = data.get("uid") if data else None
    if uid is None:
        return
    current = await _current_epoch(request, uid) if isinstance(uid, int) else None
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
