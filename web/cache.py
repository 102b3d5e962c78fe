"""A micro-cache of rendered pages, shared by every visitor who would see the same page.

Visitors of a page in one language share one rendering for a few seconds:

- **Anonymous visitors** all see the same page.
- **Signed-in visitors** share the rendering of their *audience* (for example "resident" or
  "resident who moderates this organisation"). What is theirs alone is put into their copy of the
  page: their CSRF token, their name and link in the account menu, and *marks* — whether they
  already agreed with a contribution, support a proposal, follow the discussion, acted. A handler
  opts its page in with :func:`share_page`, which returns the ``mark`` helper its template uses; the
  viewer's audience and marks are kept (per user and page) next to the shared rendering, so a repeat
  view costs no database query and no template rendering. A handler decorated with
  :func:`viewers_from` also says how to find a visitor's audience and marks alone (a few indexed
  queries), so a visitor new to the page gets the shared rendering without rendering it again.

One rendering per page, language and audience is made at a time: visitors who ask while it is made
wait for it instead of rendering the same page in parallel (after an invalidation, a burst of
visitors costs one rendering, not one each). When the rendering being made replaces one that a
change of content made old (a contribution, an agreement, a like), the visitors who ask meanwhile
get the old one rather than wait — never when the change may concern who reads what, and never
the visitor who sent the change: a page followed by many while people write stays fast.

A page says what it shows with :func:`depends` (scopes of node/change_rules.py: its discussion, its
organisation, ``site``…); a page that says nothing depends on everything. Each commit that changes
what pages show bumps the scopes of the rows it wrote (node/changes.py, the runtime's ``changes``),
in this process at once and, on PostgreSQL, in the node's other processes (node.db.listen): a
rendering (and a viewer's marks) is served only while none of its scopes changed since it began —
a contribution in one discussion leaves the other discussions' pages in place.

Entries expire after ``TTL`` seconds for changes that reach no one that way (the CLI on SQLite,
another `civic serve` on SQLite). A rendering just past its TTL still goes to the visitors who ask
while one request renders the page again; a visitor's marks are kept for a random half to whole
TTL, so that readers who came together are not looked up again all at once. AS2 requests and
non-200 answers are never cached; signed-in pages whose handler did not call :func:`share_page`
are rendered for each request. Page-view counts are replayed on hits.
"""

from __future__ import annotations

import asyncio
import html
import random
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass

from aiohttp import web
from markupsafe import Markup

from federation.objects import wants_activity_json
from federation.runtime import RUNTIME
from node import visibility
from node.changes import Versions, reader
from web.i18n import locale_of
from web.sessions import SESSION, USER, csrf_token, get_session

TTL = 5.0
MAX_ENTRIES = 512
# Bytes of renderings kept (a discussion page with 200 contributions is about 150 KB): a web process
# serving many pages stays within its memory, whatever the number of URLs asked.
MAX_BYTES = 24 * 1024 * 1024
MAX_VIEWERS = 8192
# Placeholders and marks carry a per-process random tag: text written by anyone (a contribution
# with a link to "…?t=__civic_csrf…") can never have a visitor's token or name put into it.
_TAG = secrets.token_hex(8)
CSRF_PLACEHOLDER = f"__civic_csrf_{_TAG}__"
# The account menu of a shared rendering: replaced by the viewer's own name and profile link.
NAME_PLACEHOLDER = f"__civic_name_{_TAG}__"
URL_PLACEHOLDER = f"__civic_url_{_TAG}__"
CACHEABLE = web.RequestKey("civic_cacheable", bool)
# The strictest visibility level of what a rendering shows (see :func:`shows`).
SHOWN_LEVEL = web.RequestKey("civic_shown_level", str)
VIEWER = web.RequestKey("civic_viewer", object)
# The scopes (node/change_rules.py) of what the page shows, declared with :func:`depends`.
DEPENDS = web.RequestKey("civic_depends", set)
MARKS = web.RequestKey("civic_marks", object)
# Handlers that count a page view store (organisation id, discussion id) here for replay on hits.
VISIT = web.RequestKey("civic_visit", tuple)
_KEPT_HEADERS = ("Content-Type", "Content-Language", "Content-Security-Policy", "Vary")
ANONYMOUS = ""
RESIDENT = "resident"  # the audience of a page that shows every signed-in visitor the same thing


@dataclass
class Viewer:
    """A signed-in visitor's side of a shared page: which rendering they share, and their marks."""
    audience: str
    marks: dict[str, frozenset]
    name: str = ""
    url: str = ""
    scopes: frozenset | None = None  # what the marks depend on (None: everything)
    seen: int = 0  # the clock of changes (node.changes.Versions) when they were read
    expires: float = 0.0


def make_viewer(user, audience: str, **marks: Collection) -> Viewer:
    """A signed-in ``user``'s side of a page (see :func:`viewers_from`)."""
    actor = user.actor
    return Viewer(audience, {kind: frozenset(keys) for kind, keys in marks.items()},
                  actor.name or actor.username, actor.url or actor.ap_id)


ViewerOf = Callable[[web.Request], Awaitable["Viewer | None"]]
_VIEWER_OF = "civic_viewer_of"


def viewers_from(viewer_of: ViewerOf):
    """Decorate a page handler that calls :func:`share_page`: ``viewer_of(request)`` returns the
    signed-in visitor's :class:`Viewer` (audience and marks, as the handler would compute them; see
    :func:`make_viewer`) or None, without rendering. It may raise HTTP errors: the handler then runs."""
    def decorate(handler):
        setattr(handler, _VIEWER_OF, viewer_of)
        return handler
    return decorate


class Marks:
    """The ``mark(kind, key, yes, no)`` template helper: ``yes`` when the viewer's ``kind`` set
    holds ``key``, else ``no``. When the page is rendered to be shared, each call leaves a numbered
    marker instead; :func:`_respond` resolves the markers for each viewer."""

    def __init__(self, marks: Mapping[str, Collection], shared: bool):
        self.marks, self.shared = marks, shared
        self.slots: list[tuple[str, object, Markup, Markup]] = []

    def __call__(self, kind: str, key: object, yes: str, no: str = "") -> Markup:
        if not self.shared:
            return Markup(yes if key in self.marks.get(kind, ()) else no)
        self.slots.append((kind, key, Markup(yes), Markup(no)))
        return Markup(f"<!--{_TAG}:{len(self.slots) - 1}-->")


# A rendering is cut once, when it is stored, into UTF-8 pieces and the places that differ per
# visitor; each response joins the pieces (no search through the page, no re-encoding).
_HOLES = re.compile(f"({CSRF_PLACEHOLDER}|{NAME_PLACEHOLDER}|{URL_PLACEHOLDER})|<!--{_TAG}:(\\d+)-->")


@dataclass
class Entry:
    """A stored rendering: ``parts`` are bytes, or an int for a placeholder (0 CSRF token, 1 name, 2 link),
    or a (kind, key, yes bytes, no bytes) mark."""
    parts: list
    headers: dict[str, str]
    visit: tuple | None
    scopes: frozenset | None  # what the page shows (None: everything)
    seen: int  # the clock of changes (node.changes.Versions) when its rendering began
    expires: float
    size: int = 0  # bytes of its pieces

    @classmethod
    def cut(cls, body: str, slots: list[tuple[str, object, Markup, Markup]], headers: dict[str, str],
            visit: tuple | None, scopes: frozenset | None, seen: int, expires: float) -> Entry:
        parts, start = [], 0
        for hole in _HOLES.finditer(body):
            parts.append(body[start:hole.start()].encode())
            if hole[1]:
                parts.append((CSRF_PLACEHOLDER, NAME_PLACEHOLDER, URL_PLACEHOLDER).index(hole[1]))
            else:
                kind, key, yes, no = slots[int(hole[2])]
                parts.append((kind, key, str(yes).encode(), str(no).encode()))
            start = hole.end()
        parts.append(body[start:].encode())
        size = sum(len(part) for part in parts if part.__class__ is bytes)
        return cls(parts, headers, visit, scopes, seen, expires, size)


class PageCache:
    """Shared renderings by (path, language, audience) and viewers by (user id, path)."""

    def __init__(self, ttl: float = TTL, max_entries: int = MAX_ENTRIES, max_viewers: int = MAX_VIEWERS,
                 max_bytes: int = MAX_BYTES):
        self.ttl, self.max_entries, self.max_viewers = ttl, max_entries, max_viewers
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple, Entry] = OrderedDict()
        self._viewers: OrderedDict[tuple, Viewer] = OrderedDict()
        self.rendering: dict[tuple, asyncio.Future] = {}  # renderings in progress, by entry key
        # Renderings a change made old, until the page is rendered again (see :meth:`superseded`),
        # and the clock of changes when each signed-in reader last sent a form.
        self._previous: OrderedDict[tuple, Entry] = OrderedDict()
        self._wrote: OrderedDict[int, int] = OrderedDict()
        self.hits = self.misses = self.renders = self.superseded_served = 0

    def _fresh(self, table: OrderedDict, key: tuple, changes: Versions, grace: float = 0.0):
        """(value, stale): stale when past its deadline by less than ``grace`` seconds; None when
        something it depends on changed since it was read."""
        found = table.get(key)
        late = time.monotonic() - found.expires if found is not None else 0.0
        if found is None or changes.latest(found.scopes) > found.seen or late > grace:
            table.pop(key, None)
            return None, False
        table.move_to_end(key)
        return found, late > 0

    @staticmethod
    def _store(table: OrderedDict, key: tuple, value: object, limit: int) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > limit:
            table.popitem(last=False)

    def get(self, key: tuple, changes: Versions) -> tuple[Entry | None, bool]:
        """The rendering and whether it is stale: past its TTL by less than another TTL, it may be
        served while one request renders the page again (never after a change in this process)."""
        found = self._entries.get(key)
        entry, stale = self._fresh(self._entries, key, changes, grace=self.ttl)
        if entry is None:
            self.misses += 1
            if found is not None and time.monotonic() - found.expires <= 0:
                self._store(self._previous, key, found, self.max_entries)  # made old by a change
        else:
            self.hits += 1
        return entry, stale

    def put(self, key: tuple, entry: Entry) -> None:
        self._previous.pop(key, None)
        self._store(self._entries, key, entry, self.max_entries)
        self._within_bytes()

    def _within_bytes(self) -> None:
        """Drop the least recently used renderings (old ones first) until they fit ``max_bytes``."""
        tables = (self._previous, self._entries)
        total = sum(entry.size for table in tables for entry in table.values())
        for table in tables:
            while total > self.max_bytes and table:
                total -= table.popitem(last=False)[1].size

    def superseded(self, key: tuple, changes: Versions, uid: int | None) -> Entry | None:
        """The rendering a change has just made old, for a request that arrives while the page is
        being rendered again (it would otherwise wait for that rendering: under a stream of
        changes, readers would spend their time waiting). Never when the change may concern who
        reads what — a ``profile:`` scope of the page (roles, membership, the discussion's own
        row) or everything — nor for a reader who sent a form since it was made (they see what
        they wrote), nor past its time to live."""
        entry = self._previous.get(key)
        if entry is None or entry.scopes is None or time.monotonic() > entry.expires:
            return None
        audience = frozenset(scope for scope in entry.scopes if scope.startswith("profile:"))
        if changes.latest(audience) > entry.seen:
            return None
        if uid is not None and self._wrote.get(uid, -1) > entry.seen:
            return None
        self.superseded_served += 1
        return entry

    def wrote(self, uid: int, clock: int) -> None:
        """A signed-in reader sent a form: from now on they get no rendering older than ``clock``."""
        self._store(self._wrote, uid, clock, self.max_viewers)

    def viewer(self, key: tuple, changes: Versions) -> Viewer | None:
        return self._fresh(self._viewers, key, changes)[0]

    def put_viewer(self, key: tuple, viewer: Viewer) -> None:
        self._store(self._viewers, key, viewer, self.max_viewers)

    def expire_all(self) -> None:
        """Make every entry too old to serve, as time would (tests use this instead of waiting)."""
        for table in (self._entries, self._viewers):
            for value in table.values():
                value.expires = -2 * self.ttl

    def clear(self) -> None:
        self._entries.clear()
        self._viewers.clear()
        self._previous.clear()


PAGE_CACHE = web.AppKey("civic_page_cache", PageCache)


def uncacheable(request: web.Request) -> None:
    """A handler whose page depends on more than the URL and the language says so here."""
    request[CACHEABLE] = False


def depends(request: web.Request, *scopes: str, instead_of: tuple[str, ...] = ()) -> None:
    """A handler says its page shows what changes in ``scopes`` (node/change_rules.py), and nothing
    else: its renderings are kept while none of them changes. ``instead_of`` narrows what an
    earlier call declared (a discussion's page depends on its organisation's profile, not on all
    its lists). A page that declares nothing depends on every change."""
    declared = request.setdefault(DEPENDS, set())
    declared.difference_update(instead_of)
    declared.update(scopes)


def _depends_on(request: web.Request) -> frozenset | None:
    declared = request.get(DEPENDS)
    return frozenset(declared) if declared else None


def shows(request: web.Request, level: str) -> None:
    """A handler says its page shows a thing at ``level`` (node/visibility.py). An anonymous
    rendering is stored only when everything it shows is listed to everyone: a page of an
    ``unlisted`` or stricter thing is rendered for each anonymous request, so a change of its
    level made where no invalidation reaches (the CLI on SQLite) can never be served from here
    (SECURITY.md rules 12, 24). Signed-in renderings are keyed by audience (:func:`share_page`)."""
    request[SHOWN_LEVEL] = visibility.stricter(request.get(SHOWN_LEVEL), level)


def share_page(request: web.Request, signed_in: bool, audience: str = RESIDENT,
               **marks: Collection) -> Marks:
    """Let signed-in visitors of this page share renderings: everyone with the same ``audience``
    (choose it from what changes the page besides the marks: roles, rights, and the visitor's
    ``visibility.Standing.key`` wherever what is listed depends on it) sees the same page, except
    for ``marks`` (kind → keys this visitor has), applied to each copy.

    Returns the ``mark`` helper for the template; call it before rendering."""
    shared = bool(signed_in and request.get(CACHEABLE))
    helper = Marks(marks, shared)
    if shared:
        request[VIEWER] = Viewer(audience, {kind: frozenset(keys) for kind, keys in marks.items()})
        request[MARKS] = helper
    return helper


def account_fields(request: web.Request, name: str, url: str) -> tuple[str, str]:
    """The name and link the account menu shows: placeholders in a shared rendering."""
    viewer = request.get(VIEWER)
    if viewer is None or not request.get(CACHEABLE):
        return name, url
    viewer.name, viewer.url = name, url
    return NAME_PLACEHOLDER, URL_PLACEHOLDER


def _eligible(request: web.Request) -> bool:
    return request.method == "GET" and not wants_activity_json(request) \
        and not request.path.startswith(("/static/", "/media/"))


def _respond(request: web.Request, entry: Entry, viewer: Viewer | None) -> web.Response:
    fills = (csrf_token(request).encode(),
             html.escape(viewer.name).encode() if viewer else b"",
             html.escape(viewer.url).encode() if viewer else b"")
    marks = viewer.marks if viewer is not None else {}
    body = []
    for part in entry.parts:
        if part.__class__ is bytes:
            body.append(part)
        elif part.__class__ is int:
            body.append(fills[part])
        else:
            kind, key, yes, no = part
            body.append(yes if key in marks.get(kind, ()) else no)
    return web.Response(body=b"".join(body), headers={k: v for k, v in entry.headers.items()
                                                      if k != "Content-Type"},
                        content_type="text/html", charset="utf-8")


async def _viewer_of(request: web.Request) -> Viewer | None:
    viewer_of = getattr(request.match_info.handler, _VIEWER_OF, None)
    if viewer_of is None:
        return None
    try:
        return await viewer_of(request)
    except web.HTTPException:
        return None  # the handler answers (404, 403…) with its own page


@web.middleware
async def cached_pages(request: web.Request, handler):
    # Form posts change nothing here: what they commit bumps its scopes (node/changes.py); their
    # sender will not be given a rendering made before (PageCache.superseded).
    if request.method == "POST":
        try:
            return await handler(request)
        finally:
            # The session a signed-in writer's cookie gave (web.sessions), or the one the handler
            # started; never one started here: an inbox POST gets no cookie.
            if (writer := (request.get(SESSION) or {}).get("uid")) is not None:
                request.app[PAGE_CACHE].wrote(writer, request.app[RUNTIME].changes.clock)
    if not _eligible(request):
        return await handler(request)
    changes = request.app[RUNTIME].changes
    cache = request.app[PAGE_CACHE]
    uid = get_session(request).get("uid")
    # The clock before anything is read: a change committed while the page is made makes it stale.
    lang, seen, path = locale_of(request), changes.clock, request.path_qs
    viewer = None
    if uid is not None:
        viewer = cache.viewer((uid, path), changes)
        if viewer is None and (viewer := await _viewer_of(request)) is not None:
            _keep_viewer(cache, request, uid, path, viewer, seen, _depends_on(request))
        if viewer is None:  # this reader's side of the page is unknown: the handler finds it
            cache.misses += 1
            return await _render(request, handler, uid, lang, seen)
    key = (path, lang, viewer.audience if viewer else ANONYMOUS)
    entry, stale = cache.get(key, changes)
    while entry is None and key in cache.rendering:  # the same page is being rendered
        if (entry := cache.superseded(key, changes, uid)) is not None:
            break  # meanwhile, the rendering a change just made old, when it may be
        await asyncio.shield(cache.rendering[key])  # else wait for it, and use it when current
        entry, stale = cache.get(key, changes)
    # A stale copy goes to everyone but the one request that renders the page again.
    if entry is not None and not (stale and key not in cache.rendering):
        if entry.visit and request.app.get(VISIT_COUNTER) is not None:
            request.app[VISIT_COUNTER](request, *entry.visit)
        return _respond(request, entry, viewer)
    done = asyncio.get_running_loop().create_future()
    cache.rendering[key] = done
    try:
        return await _render(request, handler, uid, lang, seen)
    finally:
        if cache.rendering.get(key) is done:
            del cache.rendering[key]
        done.set_result(None)


def _marks_depend_on(request: web.Request, scopes: frozenset | None) -> frozenset | None:
    """What a reader's side of a page depends on: who they are to its organisation (``profile:``
    scopes: roles, membership, following, and the rows of its discussions that decide who may
    read them) and their own acts (``reader:``), not what others write on the page — with 32
    readers of a discussion that takes 5 contributions a second, each contribution would
    otherwise cost 32 look-ups. A page without an organisation keeps every scope it declared."""
    user = request.get(USER)
    if scopes is None or user is None:
        return scopes
    audience = {scope for scope in scopes if scope.startswith("profile:")}
    return frozenset({*audience, reader(user.actor_id)}) if audience else scopes


def _keep_viewer(cache: PageCache, request: web.Request, uid: int, path: str, viewer: Viewer,
                 seen: int, scopes: frozenset | None) -> None:
    # Kept between half the TTL and the TTL: readers who arrived together are not looked up again
    # all at the same moment.
    viewer.scopes, viewer.seen = _marks_depend_on(request, scopes), seen
    viewer.expires = time.monotonic() + cache.ttl * (0.5 + random.random() / 2)
    cache.put_viewer((uid, path), viewer)


async def _render(request: web.Request, handler, uid: int | None, lang: str, seen: int) -> web.StreamResponse:
    """Run the handler with placeholders; keep the rendering when it can be shared."""
    cache = request.app[PAGE_CACHE]
    cache.renders += 1
    request[CACHEABLE] = True
    try:
        response = await handler(request)
    finally:
        # Error pages are rendered outside this middleware: they must get a real token.
        cacheable, request[CACHEABLE] = request.get(CACHEABLE), False
    viewer = request.get(VIEWER)
    if not (isinstance(response, web.Response) and response.content_type == "text/html"
            and response.text is not None and CSRF_PLACEHOLDER in response.text):
        return response  # rendered for this visitor alone
    headers = {k: response.headers[k] for k in _KEPT_HEADERS if k in response.headers}
    slots = request[MARKS].slots if MARKS in request else []
    scopes = _depends_on(request)
    entry = Entry.cut(response.text, slots, headers, request.get(VISIT), scopes, seen,
                      time.monotonic() + cache.ttl)
    # A session whose account is gone renders as anonymous but is not stored as such.
    public = visibility.lists(request.get(SHOWN_LEVEL, visibility.PUBLIC), visibility.NOBODY)
    if cacheable and response.status == 200 and (uid is None) == (viewer is None) and (viewer or public):
        cache.put((request.path_qs, lang, viewer.audience if viewer else ANONYMOUS), entry)
        if viewer is not None:
            _keep_viewer(cache, request, uid, request.path_qs, viewer, seen, scopes)
    fresh = _respond(request, entry, viewer)
    fresh.set_status(response.status)
    return fresh


# The participation layer registers its page-view counter here (called on cache hits).
VISIT_COUNTER = web.AppKey("civic_visit_counter", object)


def setup(app: web.Application) -> None:
    app[PAGE_CACHE] = PageCache()
    app.middlewares.append(cached_pages)
