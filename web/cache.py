"""A micro-cache of rendered pages for anonymous visitors.

Anonymous GETs of the same page in the same language share one rendering for a few seconds.
Entries are dropped at once when this process changes content (any successful form POST, inbound
activities processed) and expire after ``TTL`` seconds for changes made by other processes (the
CLI, other `civic serve` processes). Each response still gets the visitor's own CSRF token: the
page is cached with a placeholder that is replaced per request. Signed-in visitors, AS2 requests
and non-200 answers are never cached. Page-view counts are replayed on hits.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from aiohttp import web

from federation.objects import wants_activity_json
from federation.runtime import RUNTIME
from web.i18n import locale_of
from web.sessions import csrf_token, get_session

TTL = 5.0
MAX_ENTRIES = 512
CSRF_PLACEHOLDER = "__civic_csrf_placeholder__"
CACHEABLE = web.RequestKey("civic_cacheable", bool)
# Handlers that count a page view store (organisation id, discussion id) here for replay on hits.
VISIT = web.RequestKey("civic_visit", tuple)
_KEPT_HEADERS = ("Content-Type", "Content-Language", "Content-Security-Policy", "Vary")


@dataclass
class Entry:
    body: str
    headers: dict[str, str]
    visit: tuple | None
    version: int
    expires: float


class PageCache:
    def __init__(self, ttl: float = TTL, max_entries: int = MAX_ENTRIES):
        self.ttl, self.max_entries = ttl, max_entries
        self._entries: OrderedDict[tuple[str, str], Entry] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: tuple[str, str], version: int) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None or entry.version != version or entry.expires < time.monotonic():
            self._entries.pop(key, None)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def put(self, key: tuple[str, str], entry: Entry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


PAGE_CACHE = web.AppKey("civic_page_cache", PageCache)


def uncacheable(request: web.Request) -> None:
    """A handler whose page depends on more than the URL and the language says so here."""
    request[CACHEABLE] = False


def _eligible(request: web.Request) -> bool:
    if request.method != "GET" or wants_activity_json(request) or request.path.startswith("/static/"):
        return False
    return not get_session(request).get("uid")


def _respond(request: web.Request, entry: Entry) -> web.Response:
    body = entry.body.replace(CSRF_PLACEHOLDER, csrf_token(request))
    response = web.Response(text=body, headers={k: v for k, v in entry.headers.items()
                                               if k != "Content-Type"},
                            content_type="text/html", charset="utf-8")
    return response


@web.middleware
async def cached_pages(request: web.Request, handler):
    rt = request.app[RUNTIME]
    if request.method == "POST":
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # handlers answer most form posts with a raised 303
            if exc.status < 400:
                rt.content_version += 1
            raise
        if response.status < 400:
            rt.content_version += 1  # this process changed something: cached pages are stale
        return response
    if not _eligible(request):
        return await handler(request)
    cache = request.app[PAGE_CACHE]
    key = (request.path_qs, locale_of(request))
    entry = cache.get(key, rt.content_version)
    if entry is not None:
        if entry.visit and request.app.get(VISIT_COUNTER) is not None:
            request.app[VISIT_COUNTER](request, *entry.visit)
        return _respond(request, entry)
    request[CACHEABLE] = True
    version = rt.content_version
    try:
        response = await handler(request)
    finally:
        # Error pages are rendered outside this middleware: they must get a real token.
        cacheable, request[CACHEABLE] = request.get(CACHEABLE), False
    if not (isinstance(response, web.Response) and response.content_type == "text/html"
            and response.text is not None and CSRF_PLACEHOLDER in response.text):
        return response
    headers = {k: response.headers[k] for k in _KEPT_HEADERS if k in response.headers}
    entry = Entry(response.text, headers, request.get(VISIT), version, time.monotonic() + cache.ttl)
    if cacheable and response.status == 200:
        cache.put(key, entry)
    fresh = _respond(request, entry)
    fresh.set_status(response.status)
    return fresh


# The participation layer registers its page-view counter here (called on cache hits).
VISIT_COUNTER = web.AppKey("civic_visit_counter", object)


def setup(app: web.Application) -> None:
    app[PAGE_CACHE] = PageCache()
    app.middlewares.append(cached_pages)
