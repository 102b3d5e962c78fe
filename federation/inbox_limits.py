"""Inbox POSTs per remote host, limited for every process of the node at once (SECURITY.md rule 17).

The inbox is the hottest path of a node, so a POST never waits for the database here: each process
counts its POSTs per host in memory and adds them to the shared counters of node.services.limits
about once a second (one UPSERT per host that sent something). The shared total decides: a host
over its limit is refused with 429 and ``Retry-After`` by every process from its next sync on. A
host can therefore exceed its budget by at most one sync interval's worth of POSTs per process.
Only POSTs with a valid signature count, against the verified signer's host, so nobody can spend
another host's budget by naming its key.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

from aiohttp import web

from federation.isolation import log_failure
from federation.runtime import Runtime
from node.services import limits

log = logging.getLogger(__name__)
SYNC_EVERY = 1.0  # seconds between two additions of this process's counts to the shared ones


class HostLimiter:
    def __init__(self, runtime: Runtime, clock=time.monotonic):
        self.runtime, self.clock = runtime, clock
        self._counts: Counter[str] = Counter()
        self._refused_until: dict[str, float] = {}
        self._task: asyncio.Task | None = None

    def retry_after(self, host: str) -> float | None:
        """Count one POST from ``host``; the seconds to wait when it is over its limit, else None."""
        until = self._refused_until.get(host)
        if until is not None:
            wait = until - self.clock()
            if wait > 0:
                return wait
            del self._refused_until[host]
        self._counts[host] += 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._sync_soon(), name="inbox-host-limits")
        return None

    async def _sync_soon(self) -> None:
        await asyncio.sleep(SYNC_EVERY)  # a second's POSTs in one UPSERT per host
        await self.sync()

    async def sync(self) -> None:
        """Add this process's counts to the shared ones; remember the hosts now over their limit."""
        counts, self._counts = self._counts, Counter()
        settings = self.runtime.settings
        for host, count in counts.items():
            try:
                wait = await limits.hit(self.runtime.sessions, f"inbox-host:{host}",
                                        settings.inbox_host_limit, settings.inbox_host_window,
                                        count=count)
            except Exception as exc:  # the database is away: the inbox itself answers 503 meanwhile
                log_failure(log, exc, "could not add %d inbox POSTs of %s to the shared limits", count, host)
                continue
            if wait is not None:
                log.warning("inbox: %s is over its limit; refused for %.0f s", host, wait)
                self._refused_until[host] = self.clock() + wait

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


HOST_LIMITER = web.AppKey("civic_inbox_host_limiter", HostLimiter)
