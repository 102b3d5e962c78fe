"""What federation refused or could not do, newest first, for the node's admins (SECURITY.md rule 21)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node.models import (
    Delivery,
    DeliveryStates,
    InboxActivity,
    InboxRefusal,
    InboxStates,
    OutboxEvent,
)


@dataclass(frozen=True)
class Problems:
    refusals: list  # InboxRefusal rows: refused before the 202
    activities: list  # (received_at, type, actor, ap_id, state, error) failed (or ignored) after it
    events: list  # OutboxEvent rows whose fan-out failed
    deliveries: list  # Delivery rows failed for good


async def recent(session: AsyncSession, *, ignored: bool = False, limit: int = 100) -> Problems:
    """The newest ``limit`` of each kind; ``ignored`` lists ignored activities instead of failed."""
    state = InboxStates.ignored if ignored else InboxStates.failed
    return Problems(
        refusals=list(await session.scalars(
            select(InboxRefusal).order_by(InboxRefusal.id.desc()).limit(limit))),
        activities=list(await session.execute(
            select(InboxActivity.received_at, InboxActivity.type, InboxActivity.actor,
                   InboxActivity.ap_id, InboxActivity.state, InboxActivity.error)
            .where(InboxActivity.state == state).order_by(InboxActivity.id.desc()).limit(limit))),
        events=list(await session.scalars(
            select(OutboxEvent).where(OutboxEvent.error.is_not(None))
            .order_by(OutboxEvent.id.desc()).limit(limit))),
        deliveries=list(await session.scalars(
            select(Delivery).where(Delivery.state == DeliveryStates.failed)
            .order_by(Delivery.id.desc()).limit(limit))),
    )
