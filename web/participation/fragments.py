"""Rendered contributions kept between renderings of the discussion page (a per-process LRU).

A contribution's HTML, without its replies, is stored under a key made of everything that HTML
depends on: the contribution's own values (text, counts, marks of moderators, author…) and the
page's flags that change it (reader's language, signed in, can contribute, open, moderator,
official). The key validates itself: a changed contribution has a new key and is rendered again,
alone; nothing has to invalidate this cache, and old keys leave by age (least recently used).

Only renderings meant to be shared (web/cache.py: the CSRF token is a placeholder, each reader's
marks are numbered markers) store and reuse fragments: a fragment holds no reader's token. The
marks a fragment made (``mark(kind, key, yes, no)``, whether the reader agreed…) are kept with it
and asked again of each rendering's own ``mark`` helper, so every reader still gets their marks.
"""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import jinja2
from aiohttp import web
from markupsafe import Markup

from web.cache import CSRF_PLACEHOLDER

MAX_FRAGMENTS = 20_000
MAX_BYTES = 16 * 1024 * 1024  # characters of HTML and keyed text, roughly bytes
TEMPLATE = "participation/_contribution.html"
# Where the replies go in a fragment, and the marks it made: per-process random, so that no text
# written by anyone can be taken for them.
_TAG = secrets.token_hex(8)
_REPLIES = f"<!--replies-{_TAG}-->"
_SLOT = re.compile(f"<!--slot-{_TAG}:(\\d+)-->")


@dataclass(frozen=True)
class Fragment:
    """A contribution's HTML before and after its replies: strings, and (kind, key, yes, no) marks."""
    head: tuple
    tail: tuple
    size: int


class FragmentCache:
    """Fragments by key, least recently used out first, bounded in count and size."""

    def __init__(self, max_items: int = MAX_FRAGMENTS, max_bytes: int = MAX_BYTES):
        self.max_items, self.max_bytes = max_items, max_bytes
        self._fragments: OrderedDict[tuple, Fragment] = OrderedDict()
        self.size = 0
        self.hits = self.renders = 0

    def __len__(self) -> int:
        return len(self._fragments)

    def get(self, key: tuple) -> Fragment | None:
        found = self._fragments.get(key)
        if found is not None:
            self._fragments.move_to_end(key)
            self.hits += 1
        return found

    def put(self, key: tuple, fragment: Fragment) -> None:
        self.renders += 1
        if fragment.size > self.max_bytes:
            return
        old = self._fragments.pop(key, None)
        self.size += fragment.size - (old.size if old else 0)
        self._fragments[key] = fragment
        while len(self._fragments) > self.max_items or self.size > self.max_bytes:
            self.size -= self._fragments.popitem(last=False)[1].size

    def clear(self) -> None:
        self._fragments.clear()
        self.size = 0


FRAGMENTS = web.AppKey("civic_fragments", FragmentCache)


def setup(app: web.Application) -> None:
    app[FRAGMENTS] = FragmentCache()


def _page_key(ctx: jinja2.runtime.Context) -> tuple:
    """What the page changes in every contribution's HTML (and the template itself: a template
    changed on a development node is compiled again, into a new object)."""
    discussion = ctx["discussion"]
    return (ctx.environment.get_template(TEMPLATE), ctx["lang"], ctx.get("user") is not None, bool(ctx.get("can_contribute")), bool(ctx.get("open")),
            bool(ctx.get("is_moderator")), bool(ctx.get("is_official")), discussion.id, discussion.slug,
            discussion.organization.username, ctx["uris"].base)


def _item_key(ctx: jinja2.runtime.Context, item, level: int) -> tuple:
    """What one contribution's HTML shows of it (its replies are fragments of their own)."""
    c, author = item.contribution, item.contribution.author
    hidden_reason = (ctx.get("hidden_reasons") or {}).get(c.ap_id) if c.hidden else None
    return (c.id, c.ap_id, c.local, c.content, c.content_warning, c.sensitive, c.language,
            tuple(sorted((c.content_map or {}).items())), c.alignment, c.agree_count, c.official,
            c.quality_recognised, c.impact, c.hidden, hidden_reason, ctx["supported"](c), c.published,
            ctx["days_ago"](c.published), author.id, author.local, author.name, author.username,
            author.url, author.ap_id, author.domain, level, len(item.replies))


class _Rendering:
    """One rendering of a list of threads: fragments from the cache, the missing ones rendered with
    the contribution macros (imported once, with a ``mark`` that records instead of resolving)."""

    def __init__(self, ctx: jinja2.runtime.Context, cache: FragmentCache):
        self.ctx, self.cache, self.mark = ctx, cache, ctx["mark"]
        self.page_key = _page_key(ctx)
        self.slots: list[tuple] = []
        self._module = None

    def _record(self, kind: str, key: object, yes: str, no: str = "") -> Markup:
        self.slots.append((kind, key, Markup(yes), Markup(no)))
        return Markup(f"<!--slot-{_TAG}:{len(self.slots) - 1}-->")

    def _macros(self):
        if self._module is None:
            template = self.ctx.environment.get_template(TEMPLATE)
            self._module = template.make_module({**self.ctx.get_all(), "mark": self._record})
        return self._module

    def _cut(self, text: str) -> tuple:
        pieces, start = [], 0
        for found in _SLOT.finditer(text):
            pieces.append(text[start:found.start()])
            pieces.append(self.slots[int(found[1])])
            start = found.end()
        pieces.append(text[start:])
        return tuple(piece for piece in pieces if piece != "")

    def _render(self, item, level: int) -> Fragment:
        self.slots = []
        text = str(self._macros().contribution_shell(item, level, caller=lambda: Markup(_REPLIES)))
        head, _, tail = text.partition(_REPLIES)  # no replies: no place for them
        return Fragment(self._cut(head), self._cut(tail), len(text) + len(item.contribution.content or ""))

    def _put(self, pieces: tuple, out: list[str]) -> None:
        for piece in pieces:
            out.append(piece if piece.__class__ is str else str(self.mark(*piece)))

    def item(self, item, level: int, out: list[str]) -> None:
        key = self.page_key + _item_key(self.ctx, item, level)
        fragment = self.cache.get(key)
        if fragment is None:
            fragment = self._render(item, level)
            self.cache.put(key, fragment)
        self._put(fragment.head, out)
        for reply in item.replies:
            self.item(reply, level + 1, out)
        self._put(fragment.tail, out)


def shared_rendering(ctx: jinja2.runtime.Context) -> bool:
    """Whether this rendering is meant to be shared: its CSRF token is a placeholder, and a signed-in
    reader's marks are numbered markers (web/cache.py), so no fragment holds anything of a reader's."""
    mark = ctx.get("mark")
    return (ctx.get("csrf_token") == CSRF_PLACEHOLDER and not ctx.get("errors")
            and (ctx.get("user") is None or bool(getattr(mark, "shared", False))))


def threads(cache: FragmentCache | None) -> Callable:
    """The ``threads(items, parts)`` template helper: the contributions ``items`` with their replies,
    as ``<li>`` elements; ``parts`` is the template's import of the contribution macros, used as is
    when the rendering is for one reader alone."""
    @jinja2.pass_context
    def render(ctx: jinja2.runtime.Context, items: list, parts) -> Markup:
        if cache is None or not shared_rendering(ctx):
            return Markup("".join(str(parts.contribution_item(item)) for item in items))
        rendering, out = _Rendering(ctx, cache), []
        for item in items:
            rendering.item(item, 1, out)
        return Markup("".join(out))
    return render
