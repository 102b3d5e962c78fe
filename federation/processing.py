"""Processing stored inbound activities: dispatch by type, idempotent, after the 202."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from activities.jsonld import compact, needs_jsonld
from federation.fetch import FetchError
from federation.handlers import HANDLERS, Inbound
from federation.runtime import Runtime, wait_for_signal
from node.errors import CivicError
from node.models import InboxActivity, InboxStates, utcnow

log = logging.getLogger(__name__)


async def process_activity(rt: Runtime, row_id: int) -> str:
    """Process one stored activity; returns the outcome (also stored in the row's ``error``)."""
    async with rt.sessions() as session, session.begin():
        row = await session.get(InboxActivity, row_id)
        if row is None or row.state != InboxStates.received:
            return "already processed"
        handler = HANDLERS.get(row.type)
        if handler is None:
            row.state, row.error, row.processed_at = InboxStates.ignored, "unknown type", utcnow()
            return "ignored: unknown type"
        try:
            doc = row.document
            if needs_jsonld(doc):  # unusual contexts: pyld, here rather than on the hot path
                doc = {**compact(doc), "id": doc["id"]}
            actor = await rt.keys.get_actor(row.actor)
            async with session.begin_nested():
                outcome = await handler(Inbound(rt, session, doc, actor))
            row.state = InboxStates.processed
        except (CivicError, FetchError) as exc:
            outcome = f"refused: {getattr(exc, 'reason', str(exc))}"
            row.state = InboxStates.failed
        row.error, row.processed_at = outcome[:1000], utcnow()
        if row.state == InboxStates.processed:
            rt.outbox_ready.set()
        return outcome


async def process_pending(rt: Runtime, limit: int = 200) -> int:
    """Process every activity still in the 'received' state (after a restart too)."""
    async with rt.sessions() as session:
        ids = list(await session.scalars(
            select(InboxActivity.id).where(InboxActivity.state == InboxStates.received)
            .order_by(InboxActivity.id).limit(limit)
        ))
    for row_id in ids:
        try:
            outcome = await process_activity(rt, row_id)
            log.debug("inbox activity %s: %s", row_id, outcome)
        except Exception as exc:
            # A bug or a database failure: record it rather than retrying the same row forever.
            log.exception("processing inbox activity %s failed", row_id)
            async with rt.sessions() as session, session.begin():
                row = await session.get(InboxActivity, row_id)
                if row is not None and row.state == InboxStates.received:
                    row.state, row.processed_at = InboxStates.failed, utcnow()
                    row.error = f"internal error: {type(exc).__name__}"
    return len(ids)


async def run_processor(rt: Runtime, stop: asyncio.Event, idle: float = 5.0) -> None:
    """Loop: process what is pending, then wait for new rows (or a periodic re-check)."""
    while not stop.is_set():
        rt.inbox_ready.clear()
        done = await process_pending(rt)
        if done:
            continue
        await wait_for_signal(rt.inbox_ready, stop, idle)
