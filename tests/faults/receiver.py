"""Inboxes on 127.0.0.x ports that count what arrives: (activity id, inbox URL) -> times received.

One aiohttp server answers 202 on several (address, port) pairs, each pair one remote host; a pair
may be opened late (a peer down for the first half of a run). Counting by activity id and inbox is
what "no loss, no duplicate" is checked on.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

from aiohttp import web


class CountingInboxes:
    def __init__(self) -> None:
        self.received: Counter[tuple[str, str]] = Counter()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def start(self) -> CountingInboxes:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._inbox)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        return self

    async def listen(self, host: str, port: int) -> None:
        """Start answering on ``host:port`` (a site of the same server)."""
        await web.TCPSite(self._runner, host, port, reuse_address=True).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _inbox(self, request: web.Request) -> web.Response:
        body = await request.read()
        activity = json.loads(body).get("id", "")
        self.received[(activity, f"http://{request.host}{request.path}")] += 1
        self._changed.set()
        return web.Response(status=202)

    def inboxes(self, activity: str) -> Counter[str]:
        """Inbox URL -> how many times ``activity`` arrived there."""
        return Counter({inbox: n for (a, inbox), n in self.received.items() if a == activity})

    async def wait_for(self, check, within: float, what: str) -> None:
        """Wait until ``check()`` holds, re-checking on each arrival (and each half second, for
        conditions on the database), for at most ``within`` seconds."""
        deadline = time.monotonic() + within
        while not await _holds(check):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"after {within:.0f} s still waiting for {what}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(left, 0.5))
            except TimeoutError:
                pass


async def _holds(check) -> bool:
    value = check()
    if asyncio.iscoroutine(value):
        value = await value
    return bool(value)
