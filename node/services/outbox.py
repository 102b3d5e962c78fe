"""The transactional outbox: record 'this must federate' in the same transaction as the change."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from node.db import announce
from node.models import Activity, OutboxEvent, utcnow

# Event kinds (the federation worker turns each into AS2 and deliveries).
NOTE_CREATED = "note.created"
NOTE_DELETED = "note.deleted"
FOLLOW_ACCEPTED = "follow.accepted"  # we accepted a remote follower: send Accept
FOLLOW_REJECTED = "follow.rejected"
FOLLOW_REQUESTED = "follow.requested"  # a local actor follows a remote one: send Follow
FOLLOW_UNDONE = "follow.undone"  # a local actor stops following: send Undo(Follow)
ACTOR_UPDATED = "actor.updated"  # a local actor's document changed (an organisation's logo): Update
# Inbound handlers emit this when a remote participant's Update or Delete of a contribution was
# accepted: the discussion's group passes it on to its followers (FEP-1b12).
GROUP_RELAYED = "participation.group_relayed"


async def emit(session: AsyncSession, kind: str, **payload) -> OutboxEvent:
    """Queue an event for the fan-out, in the caller's transaction; at commit the node's other
    processes (a separate `civic worker`) are told at once on PostgreSQL."""
    event = OutboxEvent(kind=kind, payload=payload)
    session.add(event)
    await session.flush()
    await announce(session, "outbox")
    return event


async def withdraw(session: AsyncSession, object_ap_id: str) -> int:
    """The object was deleted or erased: every activity we published that carries it (its Create,
    the group's Announces, Likes of it …) leaves the outbox and answers 410 at its id. Returns how
    many were withdrawn."""
    result = await session.execute(
        update(Activity).where(Activity.object_ap_id == object_ap_id, Activity.withdrawn_at.is_(None))
        .values(withdrawn_at=utcnow(), public=False))
    return result.rowcount or 0
