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

from aiohttp import web
from multidict import MultiDictProxy

from federation.isolation import OUTAGE, transient
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
        if transient(exc):
            OUTAGE.failed(exc)
            return unavailable(request)
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return internal_error(request)


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
