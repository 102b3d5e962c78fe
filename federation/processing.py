"""Processing stored inbound activities: dispatch by type, idempotent, in batches after the 202."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import select

from activities.jsonld import compact, needs_jsonld
from federation.fetch import FetchError
from federation.handlers import HANDLERS, Inbound
from federation.runtime import Runtime, wait_for_quiet, wait_for_signal
from node.db import announce, is_sqlite, writing
from node.errors import CivicError
from node.models import Actor, InboxActivity, InboxStates, utcnow

log = logging.getLogger(__name__)
BURST = 0.05  # seconds since the last inbox write under which a burst is still going on
BURST_BATCH = 4  # rows per transaction during a burst


async def _actors_of(rt: Runtime, actor_ids: set[str]) -> dict[str, Actor | str]:
    """The stored remote actors (fetched if needed) — before the write transaction opens, so a
    fetch that stores an actor never waits on our own SQLite write lock."""
    found: dict[str, Actor | str] = {}
    for ap_id in actor_ids:
        try:
            found[ap_id] = await rt.keys.get_actor(ap_id)
        except FetchError as exc:
            found[ap_id] = exc.reason
    return found


async def _process_row(rt: Runtime, session, row: InboxActivity, actor: Actor | str) -> None:
    handler = HANDLERS.get(row.type)
    if handler is None:
        row.state, row.error = InboxStates.ignored, "unknown type"
    elif isinstance(actor, str):
        row.state, row.error = InboxStates.failed, f"refused: {actor}"
    else:
        try:
            doc = row.document
            if needs_jsonld(doc):  # unusual contexts go through pyld here, never on the hot path
                doc = {**compact(doc), "id": doc["id"]}
            async with session.begin_nested():
                outcome = await handler(Inbound(rt, session, doc, actor))
            row.state, row.error = InboxStates.processed, outcome[:1000]
        except (CivicError, FetchError) as exc:
            row.state, row.error = InboxStates.failed, f"refused: {exc.reason}"[:1000]
    row.processed_at = utcnow()
    log.log(logging.INFO if row.state == InboxStates.failed else logging.DEBUG,
            "inbox %s %s from %s: %s", row.type, row.ap_id, row.actor, row.error)


async def process_batch(rt: Runtime, limit: int = 25) -> int:
    """Process up to ``limit`` received activities in one transaction (a savepoint each)."""
    async with rt.sessions() as session:
        pending = list(await session.execute(
            select(InboxActivity.id, InboxActivity.actor)
            .where(InboxActivity.state == InboxStates.received)
            .order_by(InboxActivity.id).limit(limit)
        ))
    if not pending:
        return 0
    actors = await _actors_of(rt, {actor for _, actor in pending})
    async with writing(rt.sessions) as session:
        query = (select(InboxActivity).where(InboxActivity.id.in_([i for i, _ in pending]),
                                             InboxActivity.state == InboxStates.received)
                 .order_by(InboxActivity.id))
        if not is_sqlite(rt.settings.effective_database_url):
            query = query.with_for_update(skip_locked=True)  # several workers share the inbox
        merged: dict[str, Actor | str] = {}
        for row in list(await session.scalars(query)):
            actor = actors[row.actor]
            if isinstance(actor, Actor):
                if row.actor not in merged:
                    merged[row.actor] = await session.merge(actor, load=False)
                actor = merged[row.actor]
            await _process_row(rt, session, row, actor)
        await announce(session, "content")  # the node's other processes drop their cached pages
    rt.outbox_ready.set()
    rt.content_version += 1
    return len(pending)


async def process_pending(rt: Runtime, limit: int = 25, rounds: int = 400) -> int:
    """Process what is waiting (after a restart too); returns how many rows were taken."""
    total = 0
    for _ in range(rounds):
        try:
            done = await process_batch(rt, limit)
        except Exception:
            # A bug or a database failure: the batch stays 'received' and is retried later.
            log.exception("processing inbox activities failed")
            return total
        total += done
        if done < limit:
            break
    return total


def batch_plan(rt: Runtime, now: float) -> tuple[int, int]:
    """(rows per transaction, transactions) for the next processing round. Still in a burst (the
    quiet wait gave up): small batches, so that the inbox writer, which needs the same write lock,
    waits for a few rows, not for a hundred (on a machine where each database round trip costs
    half a millisecond, 25 rows hold the lock for about 150 ms)."""
    return (BURST_BATCH, 1) if now - rt.last_ingest < BURST else (25, 4)


async def run_processor(rt: Runtime, stop: asyncio.Event, idle: float = 5.0) -> None:
    """Loop: process what is pending, then wait for new rows (or a periodic re-check)."""
    while not stop.is_set():
        rt.inbox_ready.clear()
        await wait_for_quiet(rt, stop)
        limit, rounds = batch_plan(rt, time.monotonic())
        if await process_pending(rt, limit=limit, rounds=rounds):
            continue
        await wait_for_signal(rt.inbox_ready, stop, idle)
