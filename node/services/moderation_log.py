"""The moderation log: every moderation action (who, what, target, reason, when), and who may read it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node.models import ModerationLogEntry, User

# Actions, as stored (the web layer translates them).
ACTIONS = ("hide", "restore", "approve", "resolve", "dismiss", "forward", "block", "silence",
           "unblock", "block_domain", "unblock_domain", "premoderation")
MAX_REASON = 1000


async def record(session: AsyncSession, moderator: User | None, action: str, target_kind: str,
                 target_ap_id: str, *, organization_id: int | None = None, reason: str = "") -> ModerationLogEntry:
    """Write one entry in the caller's transaction (SECURITY.md rule 22: every action is logged)."""
    name = ""
    if moderator is not None:
        name = moderator.actor.name or moderator.actor.username
    entry = ModerationLogEntry(moderator_id=moderator.id if moderator else None, moderator_name=name,
                               action=action, target_kind=target_kind, target_ap_id=target_ap_id,
                               organization_id=organization_id, reason=(reason or "")[:MAX_REASON])
    session.add(entry)
    await session.flush()
    return entry


async def entries(session: AsyncSession, organization_ids: list[int] | None, limit: int = 200) -> list[ModerationLogEntry]:
    """The newest entries: of these organisations, or all of them (``None``: a node admin)."""
    query = select(ModerationLogEntry)
    if organization_ids is not None:
        query = query.where(ModerationLogEntry.organization_id.in_(organization_ids or [-1]))
    return list(await session.scalars(
        query.order_by(ModerationLogEntry.created_at.desc(), ModerationLogEntry.id.desc()).limit(limit)))
