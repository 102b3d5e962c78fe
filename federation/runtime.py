"""The federation runtime one node process shares: settings, sessions, HTTP client, key cache."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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

    @property
    def uris(self) -> Uris:
        return Uris(self.settings.base_url)


RUNTIME = web.AppKey("civic_runtime", Runtime)


async def wait_for_signal(signal: asyncio.Event, stop: asyncio.Event, timeout: float) -> None:  # noqa: ASYNC109
    """Wait until ``signal`` or ``stop`` is set, or ``timeout`` seconds pass (a periodic re-check)."""
    waiters = {asyncio.ensure_future(signal.wait()), asyncio.ensure_future(stop.wait())}
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
