"""Page views counted in memory per (organisation, discussion, day) and flushed to the database:
no cookie, no IP address, no visitor identifier is ever stored."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from datetime import UTC, date, datetime

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from federation.objects import wants_activity_json
from federation.runtime import RUNTIME
from node.db import transaction
from node.services import dashboard
from web.cache import VISIT, VISIT_COUNTER

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 10.0  # seconds between two writes of the buffered counts
BOT_MARKERS = ("bot", "crawler", "spider", "slurp", "preview")

Key = tuple[int, int | None, date]


class VisitCounter:
    """Buffered counts; ``take`` hands them over and starts a new buffer (one event-loop step)."""

    def __init__(self) -> None:
        self._counts: Counter[Key] = Counter()
        # One flush at a time: when flush() returns, every view counted before it is written.
        self.writing = asyncio.Lock()

    def hit(self, org_id: int, discussion_id: int | None, day: date) -> None:
        self._counts[(org_id, discussion_id, day)] += 1

    def take(self) -> dict[Key, int]:
        counts, self._counts = self._counts, Counter()
        return dict(counts)

    def give_back(self, counts: dict[Key, int]) -> None:
        """Counts whose write failed are kept for the next flush."""
        self._counts.update(counts)

    def pending(self) -> int:
        return sum(self._counts.values())


VISITS = web.AppKey("civic_visits", VisitCounter)


def is_bot(user_agent: str | None) -> bool:
    agent = (user_agent or "").lower()
    return any(marker in agent for marker in BOT_MARKERS)


def count(request: web.Request, org_id: int, discussion_id: int | None = None) -> bool:
    """Count one human page view of an organisation's page (or one of its discussions)."""
    if request.method != "GET" or wants_activity_json(request) or is_bot(request.headers.get("User-Agent")):
        return False
    counter = request.app.get(VISITS)
    if counter is None:
        return False
    request[VISIT] = (org_id, discussion_id)  # replayed when the page is served from the cache
    counter.hit(org_id, discussion_id, datetime.now(UTC).date())
    return True


async def flush(app: web.Application) -> int:
    """Write the buffered counts (one transaction); returns how many views this call wrote."""
    counter = app[VISITS]
    async with counter.writing:
        counts = counter.take()
        if not counts:
            return 0
        try:
            async with transaction(app[RUNTIME].sessions) as session:
                await dashboard.add_visits(session, counts)
        except (SQLAlchemyError, OSError):
            counter.give_back(counts)
            raise
    # The dashboards changed: the commit bumped their organisations' scopes (node/changes.py).
    return sum(counts.values())


async def _flush_periodically(app: web.Application) -> None:
    while True:
        await asyncio.sleep(FLUSH_INTERVAL)
        try:
            await flush(app)
        except (SQLAlchemyError, OSError):
            log.exception("could not write visit counts; kept for the next flush")


def setup(app: web.Application) -> None:
    app[VISITS] = VisitCounter()
    app[VISIT_COUNTER] = count
    app.cleanup_ctx.append(visits_context)


async def visits_context(app: web.Application):
    """cleanup_ctx: a periodic flush while the node runs, and a last flush at shutdown."""
    task = asyncio.create_task(_flush_periodically(app), name="visit-counts")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    try:
        await flush(app)
    except (SQLAlchemyError, OSError):
        log.exception("could not write the last visit counts")
