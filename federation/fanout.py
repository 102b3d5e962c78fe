"""Fan-out: outbox events become stored AS2 activities and one delivery row per target inbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from activities import wrappers
from activities.notes import iso, note_to_as
from federation.isolation import describe, transient
from federation.moderation_fanout import BUILDERS as MODERATION_BUILDERS
from federation.outbound import BUILDERS as OUTBOUND_BUILDERS
from federation.outbound.publisher import Publisher
from federation.participation_documents import local_actor_as
from federation.participation_fanout import BUILDERS as PARTICIPATION_BUILDERS
from federation.runtime import Runtime, wait_for_signal
from node import visibility
from node.db import is_sqlite, writing
from node.models import Actor, Follow, Note, OutboxEvent, utcnow
from node.services import follows, outbox

log = logging.getLogger(__name__)


class Fanout(Publisher):
    """Builds the activity for one event inside the event's transaction."""

    async def _follow_parts(self, follow_id: int) -> tuple[Follow, Actor, Actor] | None:
        follow = await self.session.get(Follow, follow_id)
        if follow is None:
            return None
        follower = await self.session.get(Actor, follow.follower_id)
        followed = await self.session.get(Actor, follow.followed_id)
        return follow, follower, followed

    async def note_created(self, note_id: int) -> None:
        note = await self.session.get(Note, note_id)
        if note is None or note.deleted_at is not None:
            return
        actor = note.actor
        obj = note_to_as(note, actor)
        doc = wrappers.create(f"{note.ap_id}/activity", actor.ap_id, obj, iso(note.published))
        inboxes = await follows.delivery_inboxes(self.session, actor)
        await self.publish(actor, doc, inboxes, level=visibility.PUBLIC, listed=note.visibility in ("public", "unlisted"))

    async def note_deleted(self, note_id: int) -> None:
        note = await self.session.get(Note, note_id)
        if note is None:
            return
        actor = note.actor
        doc = wrappers.delete(self.new_id(), actor.ap_id, note.ap_id,
                              to=["https://www.w3.org/ns/activitystreams#Public"],
                              cc=[actor.followers_url])
        await self.publish(actor, doc, await follows.delivery_inboxes(self.session, actor),
                           level=visibility.PUBLIC, listed=False)

    async def follow_accepted(self, follow_id: int) -> None:
        parts = await self._follow_parts(follow_id)
        if parts is None:
            return
        follow, follower, followed = parts
        follow_doc = wrappers.follow(follow.ap_id, follower.ap_id, followed.ap_id)
        doc = wrappers.accept(self.new_id(), followed.ap_id, follow_doc)
        await self.publish(followed, doc, [follower.inbox], level=visibility.PUBLIC, listed=False)

    async def follow_rejected(self, follow_ap_id: str, follower: str, followed_id: int) -> None:
        followed = await self.session.get(Actor, followed_id)
        target = await self.session.scalar(select(Actor).where(Actor.ap_id == follower))
        if followed is None or target is None:
            return
        follow_doc = wrappers.follow(follow_ap_id, follower, followed.ap_id)
        doc = wrappers.reject(self.new_id(), followed.ap_id, follow_doc)
        await self.publish(followed, doc, [target.inbox], level=visibility.PUBLIC, listed=False)

    async def follow_requested(self, follow_id: int) -> None:
        parts = await self._follow_parts(follow_id)
        if parts is None:
            return
        follow, follower, followed = parts
        doc = wrappers.follow(follow.ap_id, follower.ap_id, followed.ap_id)
        await self.publish(follower, doc, [followed.inbox], level=visibility.PUBLIC, listed=False)

    async def follow_undone(self, follow_ap_id: str, follower_id: int, followed: str) -> None:
        follower = await self.session.get(Actor, follower_id)
        target = await self.session.scalar(select(Actor).where(Actor.ap_id == followed))
        if follower is None or target is None:
            return
        inner = wrappers.follow(follow_ap_id, follower.ap_id, followed)
        doc = wrappers.undo(self.new_id(), follower.ap_id, inner, [followed])
        await self.publish(follower, doc, [target.inbox], level=visibility.PUBLIC, listed=False)

    async def actor_updated(self, actor_id: int) -> None:
        """Update{actor} to its followers: Mastodon refreshes the name, summary and avatar."""
        actor = await self.session.get(Actor, actor_id)
        doc = await local_actor_as(self.session, self.rt.uris, actor) if actor else None
        if doc is None:
            return
        await self.publish(actor, wrappers.update_actor(self.new_id(), doc),
                           await follows.delivery_inboxes(self.session, actor), level=visibility.PUBLIC, listed=True)


BUILDERS: dict[str, Callable[..., Awaitable[None]]] = {
    outbox.NOTE_CREATED: Fanout.note_created,
    outbox.NOTE_DELETED: Fanout.note_deleted,
    outbox.FOLLOW_ACCEPTED: Fanout.follow_accepted,
    outbox.FOLLOW_REJECTED: Fanout.follow_rejected,
    outbox.FOLLOW_REQUESTED: Fanout.follow_requested,
    outbox.FOLLOW_UNDONE: Fanout.follow_undone,
    outbox.ACTOR_UPDATED: Fanout.actor_updated,
    **PARTICIPATION_BUILDERS,
    **MODERATION_BUILDERS,
    **OUTBOUND_BUILDERS,
}


async def _build(fanout: Fanout, event: OutboxEvent) -> None:
    """One event's activities, in a savepoint: whatever its builder raises fails this event alone,
    recorded on it, with nothing sent (SECURITY.md rule 13)."""
    builder = BUILDERS.get(event.kind)
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
        fanout = Fanout(rt, session)
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
        except Exception:
            log.exception("fan-out failed; the events stay pending")
            count, deliveries = 0, 0
        if deliveries:
            on_deliveries()
        if count:
            continue
        await wait_for_signal(rt.outbox_ready, stop, idle)
