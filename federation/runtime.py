"""The federation runtime one node process shares: settings, sessions, HTTP client, key cache."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from node import changes as node_changes
from node.config import Settings
from node.uris import Uris


@dataclass
class Runtime:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    http: aiohttp.ClientSession | None = None
    fetcher: object | None = None  # federation.fetch.RemoteFetcher
    keys: object | None = None  # federation.keys.KeyResolver
    # Set when new inbox rows or outbox events are waiting, so the workers wake at once.
    inbox_ready: asyncio.Event = field(default_factory=asyncio.Event)
    outbox_ready: asyncio.Event = field(default_factory=asyncio.Event)
    blocked_domains: set[str] = field(default_factory=set)
    allowed_domains: set[str] = field(default_factory=set)  # used in allow-list mode only
    # Monotonic time of the last inbox write: processing yields to a burst of incoming POSTs.
    last_ingest: float = 0.0
    # What pages show, by scope (node/changes.py): bumped after each commit of this process that
    # changed something, and for each change another process announces; the page cache keeps a
    # rendering while nothing it depends on changed.
    changes: node_changes.Versions = field(default_factory=node_changes.Versions)
    origin: str | None = None  # the id this process's announcements of changes carry

    # Set (and cleared by whoever waits on it) when another process announced a change; `listening`
    # once this process receives those announcements (PostgreSQL).
    changed_elsewhere: asyncio.Event = field(default_factory=asyncio.Event)
    listening: asyncio.Event = field(default_factory=asyncio.Event)
    last_heard: str = ""
    # Set when the domain blocks changed (federation.policy.keep_blocks reloads them), and each
    # time they were reloaded.
    blocks_changed: asyncio.Event = field(default_factory=asyncio.Event)
    blocks_reloaded: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        if self.sessions is not None:
            self.origin = node_changes.subscribe(self.sessions, self.changes.bump)

    @property
    def uris(self) -> Uris:
        return Uris(self.settings.base_url)

    def on_change(self, what: str) -> None:
        """A process of this node announced a change (node.db.listen, PostgreSQL): wake the
        workers it concerns, and let the page cache drop what depends on the scopes it changed
        (its own announcements were counted at commit; ``*`` after a reconnection: everything)."""
        heard = node_changes.parse(what)
        if heard is not None and heard[0] != self.origin:
            self.changes.bump(heard[1])
        self.last_heard = what
        if what in ("inbox", "*"):
            self.inbox_ready.set()
        if what in ("outbox", "*"):
            self.outbox_ready.set()
        if what in ("blocks", "*"):
            self.blocks_changed.set()
        self.changed_elsewhere.set()


RUNTIME = web.AppKey("civic_runtime", Runtime)


async def wait_for_signal(signal: asyncio.Event, stop: asyncio.Event, timeout: float | None) -> None:  # noqa: ASYNC109
    """Wait until ``signal`` or ``stop`` is set, or ``timeout`` seconds pass (a periodic re-check;
    None: no re-check)."""
    waiters = {asyncio.ensure_future(signal.wait()), asyncio.ensure_future(stop.wait())}
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def wait_for_quiet(rt: Runtime, stop: asyncio.Event, quiet: float = 0.05,
                         max_wait: float = 1.0) -> None:
    """Let a burst of inbox POSTs be acknowledged first: wait until no write happened for
    ``quiet`` seconds, but never longer than ``max_wait`` (processing always makes progress)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait
    # A poll rather than an Event: "nothing happened for a while" has no event to wait on.
    while not stop.is_set() and loop.time() < deadline and time.monotonic() - rt.last_ingest < quiet:  # noqa: ASYNC110
        await asyncio.sleep(quiet)
