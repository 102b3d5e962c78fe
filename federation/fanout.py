"""Fan-out: the job that turns outbox events into stored AS2 activities and one delivery row per
target inbox; what each event kind becomes is its builder's, in federation/outbound/."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy import select

from federation.isolation import describe, log_failure, transient
from federation.outbound import BUILDERS, Publisher
from federation.runtime import Runtime, wait_for_signal
from node.db import is_sqlite, writing
from node.models import OutboxEvent, utcnow

log = logging.getLogger(__name__)


async def _build(fanout: Publisher, event: OutboxEvent) -> None:
    """One event's activities, in a savepoint: whatever its builder raises fails this event alone,
    recorded on it, with nothing sent (SECURITY.md rule 13)."""
    builder = BUILDERS.get(event.kind)  # filled by the modules of federation/outbound/
    if builder is None:
        event.error = f"unknown kind {event.kind!r}"
        log.error("outbox event %s has unknown kind %r", event.id, event.kind)
        return
    deliveries = fanout.deliveries
    try:
        async with fanout.session.begin_nested():
            await builder(fanout, **event.payload)
    except Exception as exc:
        if transient(exc):
            raise
        fanout.deliveries = deliveries
        event.error = describe(exc)
        log.exception("outbox event %s (%s) failed; nothing is sent for it", event.id, event.kind)


async def _process(rt: Runtime, limit: int, only: int | None = None) -> tuple[int, int]:
    async with writing(rt.sessions) as session:
        query = select(OutboxEvent).where(OutboxEvent.processed_at.is_(None))
        if only is not None:
            query = query.where(OutboxEvent.id == only)
        query = query.order_by(OutboxEvent.id).limit(limit)
        if not is_sqlite(rt.settings.effective_database_url):
            query = query.with_for_update(skip_locked=True)
        events = list(await session.scalars(query))
        ids = [(event.id, event.kind) for event in events]
        fanout = Publisher(rt, session)
        for event_id, _ in ids:
            event = await session.get(OutboxEvent, event_id)  # re-read: a rollback may expire it
            await _build(fanout, event)
            event.processed_at = utcnow()
    return len(events), fanout.deliveries


async def _fail(rt: Runtime, event_id: int, exc: BaseException) -> None:
    async with writing(rt.sessions) as session:
        event = await session.get(OutboxEvent, event_id)
        if event is not None and event.processed_at is None:
            event.processed_at, event.error = utcnow(), describe(exc)


async def process_events(rt: Runtime, limit: int = 50) -> tuple[int, int]:
    """Turn pending outbox events into activities and deliveries; returns (events, deliveries).

    On PostgreSQL several workers share the events (FOR UPDATE SKIP LOCKED). When the batch's
    transaction fails as a whole, its events are taken one by one, and one that still fails is
    recorded as failed (rule 13); a database that is away raises, and the events wait.
    """
    async with rt.sessions() as session:
        pending = list(await session.scalars(
            select(OutboxEvent.id).where(OutboxEvent.processed_at.is_(None))
            .order_by(OutboxEvent.id).limit(limit)))
    if not pending:
        return 0, 0
    try:
        return await _process(rt, limit)
    except Exception as batch_error:
        if transient(batch_error):
            raise
        log.warning("fan-out batch failed (%s); taking its events one by one", describe(batch_error))
    count = deliveries = 0
    for event_id in pending:
        try:
            done, sent = await _process(rt, 1, only=event_id)
        except Exception as exc:
            if transient(exc):
                raise
            await _fail(rt, event_id, exc)
            done, sent = 1, 0
        count, deliveries = count + done, deliveries + sent
    return count, deliveries


async def run_fanout(rt: Runtime, stop: asyncio.Event, on_deliveries: Callable[[], None],
                     idle: float = 5.0) -> None:
    while not stop.is_set():
        rt.outbox_ready.clear()
        try:
            count, deliveries = await process_events(rt)
        except Exception as exc:
            log_failure(log, exc, "fan-out failed; the events stay pending")
            count, deliveries = 0, 0
        if deliveries:
            on_deliveries()
        if count:
            continue
        await wait_for_signal(rt.outbox_ready, stop, idle)
