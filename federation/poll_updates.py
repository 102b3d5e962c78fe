"""The debounced ``Update{Question}``: a pass, run beside the fan-out, that queues one update for
each poll made here whose tallies changed a few seconds ago (``poll_update_delay``) or that has
just closed (its end time passed): votes arriving together are pushed together, and followers
learn the final tallies once (FEDERATION.md "Questionnaires, polls and budgets")."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from federation.isolation import log_failure
from federation.runtime import Runtime, wait_for_signal
from node.db import writing
from node.models import utcnow
from node.services import outbox, polls

log = logging.getLogger(__name__)


async def push_due(rt: Runtime, now: datetime | None = None) -> int:
    """Queue POLL_UPDATED for every poll whose update is due (the fan-out builds it); returns how
    many. The events and the cleared marks are committed together: a crash between them sends
    the update again, never loses it."""
    now = now or utcnow()
    async with writing(rt.sessions) as session:
        due = await polls.due_updates(session, now)
        for poll in due:
            await outbox.emit(session, polls.POLL_UPDATED, poll_id=poll.id)
            await polls.pushed(session, poll, now)
    if due:
        rt.outbox_ready.set()
    return len(due)


def interval(rt: Runtime) -> float:
    """Seconds between passes: the delay itself, within 1 to 5 s (a pass is one indexed query
    and one UPDATE when nothing is due)."""
    return float(min(5, max(1, rt.settings.poll_update_delay)))


async def run_poll_updates(rt: Runtime, stop: asyncio.Event) -> None:
    """Loop until ``stop``: one pass, then wait ``interval`` seconds."""
    never = asyncio.Event()  # nothing wakes the pass early: it is a timer
    while not stop.is_set():
        try:
            await push_due(rt)
        except Exception as exc:  # the database is away: the updates stay due
            log_failure(log, exc, "queueing the polls' updates failed")
        await wait_for_signal(never, stop, interval(rt))
