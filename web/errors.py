"""What the web layer answers when a request cannot be read (400 with a reason), when the database
is away (503 with Retry-After) or when a bug is hit (a bare 500).

SECURITY.md rule 19: nothing a client sends gives a 500. A body aiohttp cannot decode (an unknown
charset, bytes that are not valid in their charset, a malformed multipart body or part) is the
client's mistake and gets a 400 saying which; so is an address holding a NUL. An exception that escapes a handler anyway is a bug:
its traceback goes to the server log and the client gets a short 500 page without it.

A database that cannot be reached (stopped, restarting, crashed, out of connections) is not a bug
and not the client's fault: every request that needs it is answered 503 with ``Retry-After`` and
no traceback, the outage is logged once (and summed up at most once a minute while it lasts), and
the node recovers by itself when the database returns: the engine's pool checks a connection
before lending it (node/db.py ``create_engine``) and reconnects. Pages still fresh in the page
cache (web/cache.py) are served meanwhile: visitors of popular pages may not notice the outage.
"""

from __future__ import annotations

import html
import logging
import time

from aiohttp import web
from multidict import MultiDictProxy

from federation.isolation import describe, transient
from federation.objects import wants_activity_json
from web.i18n import _, locale_of, translate
from web.security import CSP

log = logging.getLogger(__name__)

UNKNOWN_CHARSET = _("The form uses an unknown character set.")
INVALID_TEXT = _("The form holds text that is not valid in its character set.")
UNREADABLE = _("The form could not be read: its body is malformed.")
NUL_IN_ADDRESS = _("This address contains a character that is not allowed.")
INTERNAL = _("Something went wrong on this node. It has been recorded; retry in a moment.")
UNAVAILABLE = _("Something went wrong. Retry in a moment.")
RETRY_AFTER = 10  # seconds: a database restart takes a few; browsers reload the 503 page after it
# SQLSTATE classes of a server that is away: 08 connection exception, 57 operator intervention
# (shutting down, starting up, crash recovery); 53300 too many connections.
_AWAY_SQLSTATE_CLASSES = ("08", "57")
_AWAY_SQLSTATES = ("53300",)
JSON_TYPES = ("application/json", "application/activity+json", "application/ld+json")


async def read_post(request: web.Request) -> MultiDictProxy:
    """``request.post()``, with what cannot be decoded refused as a 400 that says why.

    aiohttp raises LookupError for an unknown charset (of the body or of a multipart part),
    UnicodeDecodeError for bytes invalid in the charset, RuntimeError for an unknown
    Content-Transfer-Encoding or Content-Encoding of a part, ValueError for a malformed
    multipart body; only the reading of the body is guarded, never the handler's own code."""
    try:
        return await request.post()
    except LookupError:
        reason = UNKNOWN_CHARSET
    except UnicodeDecodeError:
        reason = INVALID_TEXT
    except (ValueError, RuntimeError):
        reason = UNREADABLE
    raise web.HTTPBadRequest(text=reason)


@web.middleware
async def nul_in_address(request: web.Request, handler):
    """A path or query with a NUL character names nothing on this node, and PostgreSQL refuses
    to compare text holding one: a 400 before any handler looks it up (SECURITY.md rules 14, 19)."""
    if "\x00" in request.path or any("\x00" in key or "\x00" in value for key, value in request.query.items()):
        if wants_json(request):
            return web.json_response({"error": "the address contains a NUL character"}, status=400)
        raise web.HTTPBadRequest(text=NUL_IN_ADDRESS)
    return await handler(request)


def wants_json(request: web.Request) -> bool:
    """Server-to-server traffic (AS2 accepted, or a JSON body sent) gets its errors as JSON."""
    return wants_activity_json(request) or request.content_type in JSON_TYPES


@web.middleware
async def unexpected(request: web.Request, handler):
    """The outermost middleware: a bug is logged with its traceback and answered with a bare 500;
    the database being away is logged once per outage and answered 503 with Retry-After.

    HTTP errors raised on purpose pass through untouched (their pages are rendered further in)."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        if database_away(exc):
            OUTAGE.failed(exc)
            return unavailable(request)
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return internal_error(request)


def database_away(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) says the database cannot be reached right now.

    The inbox, fan-out and delivery retry the same errors (federation.isolation.transient); a
    server that refuses connections while it starts up or shuts down is recognised by SQLSTATE,
    as SQLAlchemy wraps asyncpg's CannotConnectNowError in a plain DBAPIError."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if transient(current):
            return True
        state = str(getattr(current, "sqlstate", None) or getattr(current, "pgcode", None) or "")
        if state[:2] in _AWAY_SQLSTATE_CLASSES or state in _AWAY_SQLSTATES:
            return True
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return False


class Outage:
    """Logs a database outage once, not a traceback per request: a warning at the first failed
    request, then at most one summary per ``every`` seconds while requests keep failing. Failures
    further apart than ``quiet`` seconds are a new outage (pages served from the page cache in
    between say nothing about the database, so a success does not end an outage)."""

    def __init__(self, every: float = 60.0, quiet: float = 30.0, clock=time.monotonic):
        self.every, self.quiet, self._clock = every, quiet, clock
        self.started: float | None = None
        self._last_failure = self._last_log = 0.0
        self.failures = 0

    def failed(self, exc: BaseException) -> None:
        now = self._clock()
        if self.started is None or now - self._last_failure > self.quiet:
            self.started, self._last_log, self.failures = now, now, 0
            log.warning("the database cannot be reached (%s): answering 503 until it is back",
                        describe(exc))
        elif now - self._last_log >= self.every:
            self._last_log = now
            log.warning("the database still cannot be reached after %.0f s (%d requests answered "
                        "503 so far): %s", now - self.started, self.failures + 1, describe(exc))
        self._last_failure = now
        self.failures += 1


OUTAGE = Outage()  # per process: each process of the node has its own connections and log


def unavailable(request: web.Request) -> web.Response:
    """A 503 with Retry-After and no traceback: ``{"error": …}`` for JSON clients, a small page for
    browsers that reloads itself (GET only: reloading a form's address would not resend it).

    Built without templates, the session or the database, which is what is away."""
    if wants_json(request):
        response = web.json_response({"error": "the node cannot reach its database; retry later"},
                                     status=503)
    else:
        text = html.escape(translate(request, UNAVAILABLE))
        reload = (f'<meta http-equiv="refresh" content="{RETRY_AFTER}">'
                  if request.method in ("GET", "HEAD") else "")
        body = (f"<!DOCTYPE html><html lang=\"{locale_of(request)}\"><head><meta charset=\"utf-8\">"
                f"{reload}<title>503</title></head>"
                f"<body><h1>503</h1><p>{text}</p><p><a href=\"/\">/</a></p></body></html>")
        response = web.Response(text=body, status=503, content_type="text/html")
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Retry-After"] = str(RETRY_AFTER)
    response.headers["Cache-Control"] = "no-store"
    return response


def internal_error(request: web.Request) -> web.Response:
    """A 500 without a traceback: ``{"error": …}`` for JSON clients, a small page for browsers.

    Built without templates, the session or the database, which may be what failed."""
    if wants_json(request):
        return web.json_response({"error": "internal error"}, status=500)
    text = html.escape(translate(request, INTERNAL))
    body = (f"<!DOCTYPE html><html lang=\"{locale_of(request)}\"><head><meta charset=\"utf-8\">"
            "<title>500</title></head>"
            f"<body><h1>500</h1><p>{text}</p><p><a href=\"/\">/</a></p></body></html>")
    response = web.Response(text=body, status=500, content_type="text/html")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
