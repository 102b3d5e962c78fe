"""Retention: how long copies of remote posts and the node's logs are kept (``civic retention apply``).

Conservative by design: a remote post is removed only when it is old, nobody here follows its
author any more, no local post answers it and it is not a tombstone (which must stay so that a
replayed Create cannot bring it back, SECURITY.md rule 9). Contributions in discussions are the
consultation's record and are never removed here. Logs are rows whose work is finished."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from node.config import Settings
from node.models import (
    Activity,
    Actor,
    Delivery,
    DeliveryStates,
    Follow,
    FollowStates,
    InboxActivity,
    InboxRefusal,
    InboxStates,
    ModerationLogEntry,
    Note,
    OutboxEvent,
    utcnow,
)

# Activity types that carry a text to its recipients (their deliveries say who holds a copy).
CARRYING = ("Create", "Update", "Announce")


@dataclass(frozen=True)
class Rule:
    """Rows of one table that the retention settings let go."""

    name: str  # as printed: the table, or what is cleared in it
    model: type
    where: tuple


def _remote_notes(cutoff: datetime) -> Rule:
    followed = select(Follow.id).where(Follow.followed_id == Note.actor_id,
                                       Follow.state == FollowStates.accepted,
                                       Follow.follower_id.in_(select(Actor.id).where(Actor.local.is_(True))))
    local = aliased(Note)
    answered = select(local.id).where(local.local.is_(True), local.in_reply_to == Note.ap_id)
    return Rule("notes", Note, (Note.local.is_(False), Note.deleted_at.is_(None), Note.published < cutoff,
                                ~exists(followed), ~exists(answered)))


def _logs(cutoff: datetime) -> list[Rule]:
    finished = (InboxStates.processed, InboxStates.ignored, InboxStates.failed)
    # A delivered activity that carries a live text stays on record: when the text or its
    # author's account is erased, its Delete goes to exactly those inboxes (erasure.py).
    carried = select(Activity.id).where(Activity.id == Delivery.activity_id, Activity.withdrawn_at.is_(None),
                                        Activity.type.in_(CARRYING))
    # An inbound activity older than the cutoff cannot be replayed: its signature's Date would be
    # refused long before (SECURITY.md rule 3), so forgetting its id does not undo rule 8.
    return [
        Rule("inbox_activities", InboxActivity,
             (InboxActivity.state.in_(finished), InboxActivity.received_at < cutoff)),
        Rule("inbox_refusals", InboxRefusal, (InboxRefusal.received_at < cutoff,)),
        Rule("deliveries", Delivery, (Delivery.created_at < cutoff, or_(
            Delivery.state == DeliveryStates.failed,
            and_(Delivery.state == DeliveryStates.delivered, ~exists(carried))))),
        Rule("outbox_events", OutboxEvent, (OutboxEvent.processed_at.is_not(None),
                                            OutboxEvent.processed_at < cutoff)),
        Rule("moderation_log", ModerationLogEntry, (ModerationLogEntry.created_at < cutoff,)),
    ]


def rules(settings: Settings, now: datetime | None = None) -> list[Rule]:
    """What the settings let go now (a setting of 0 keeps its rows forever)."""
    now = now or utcnow()
    found: list[Rule] = []
    if settings.retention_remote_days:
        found.append(_remote_notes(now - timedelta(days=settings.retention_remote_days)))
    if settings.retention_log_days:
        found += _logs(now - timedelta(days=settings.retention_log_days))
    return found


def _erased_keys() -> tuple:
    """An erased person's private key is kept only while a Delete of theirs is still queued."""
    queued = select(Delivery.id).join(Activity, Activity.id == Delivery.activity_id).where(
        Activity.actor_id == Actor.id, Delivery.state == DeliveryStates.queued)
    return (Actor.local.is_(True), Actor.deleted_at.is_not(None), Actor.private_key_pem.is_not(None),
            ~exists(queued))


async def apply(session: AsyncSession, settings: Settings, *, dry_run: bool = False,
                now: datetime | None = None) -> dict[str, int]:
    """Remove (or with ``dry_run`` only count) what retention lets go, in the caller's
    transaction; returns {what: rows}. Erased accounts' private keys are cleared once their
    Deletes are sent, whatever the settings."""
    counts: dict[str, int] = {}
    for rule in rules(settings, now):
        if dry_run:
            counts[rule.name] = await session.scalar(
                select(func.count()).select_from(rule.model).where(*rule.where)) or 0
        else:
            result = await session.execute(delete(rule.model).where(*rule.where)
                                           .execution_options(synchronize_session=False))
            counts[rule.name] = result.rowcount or 0
    if dry_run:
        counts["erased_keys"] = await session.scalar(
            select(func.count()).select_from(Actor).where(*_erased_keys())) or 0
    else:
        result = await session.execute(update(Actor).where(*_erased_keys()).values(private_key_pem=None)
                                       .execution_options(synchronize_session=False))
        counts["erased_keys"] = result.rowcount or 0
    return counts
