"""Per-account policy on inbound activities: a blocked remote account's activities are refused.

Inbox processing calls :func:`refused_actors` once per batch (one query) before dispatch and marks the
row failed with the reason it returns (SECURITY.md rule 22). Domain blocks are federation/policy.py's.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node.models import AccountRestriction, AccountRestrictions
from node.services import moderation

BLOCKED = "the account is blocked"


async def refused_actor(session: AsyncSession, actor_ap_id: str) -> str | None:
    """The reason to refuse what this actor sends (it is blocked), or None."""
    return (await refused_actors(session, {actor_ap_id})).get(actor_ap_id)


async def refused_actors(session: AsyncSession, actor_ap_ids: set[str]) -> dict[str, str]:
    """``refused_actor`` for a batch of actors in one query: {actor id: reason} of the blocked."""
    if not actor_ap_ids:
        return {}
    rows = await session.scalars(select(AccountRestriction.actor_ap_id).where(
        AccountRestriction.actor_ap_id.in_(actor_ap_ids),
        AccountRestriction.level == AccountRestrictions.blocked))
    return {ap_id: BLOCKED for ap_id in rows}


async def silenced(session: AsyncSession, actor_ap_id: str) -> bool:
    """Whether this actor's contributions are held for review instead of shown."""
    row = await moderation.account_restriction(session, actor_ap_id)
    return row is not None and row.level == AccountRestrictions.silenced
