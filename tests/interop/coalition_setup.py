"""What the coalition scenario reads back from the running nodes' databases (node services only).

The scenario drives the nodes with `civic coalition …` commands, as an operator scripts a
coalition; what each node then stored — membership rows, the campaign a member learned, the
variants the home learned, the supports and their per-member/per-language tallies — is read here
from the node's SQLite database with the node's own models and services (never its HTML), so a
check fails on what was stored, not on how a page or a command prints it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node.models import Actor, Campaign, CampaignSupport, CampaignVariant, CoalitionMember
from node.services import campaigns
from tests.interop.node_process import CivicNode


async def _actor_id(session: AsyncSession, ap_id: str) -> int | None:
    return await session.scalar(select(Actor.id).where(Actor.ap_id == ap_id))


def membership_state(node: CivicNode, coalition: str, org: str) -> str | None:
    """The state ("requested", "invited", "accepted") of `org`'s membership of `coalition` (actor
    ids) as `node` records it — the home's list or a member's mirror; None when it has no row."""

    async def work(session: AsyncSession) -> str | None:
        coalition_id, org_id = await _actor_id(session, coalition), await _actor_id(session, org)
        if coalition_id is None or org_id is None:
            return None
        return await session.scalar(select(CoalitionMember.state).where(
            CoalitionMember.coalition_id == coalition_id, CoalitionMember.member_id == org_id))

    return node.query(work)


def campaign(node: CivicNode, ap_id: str) -> dict | None:
    """The campaign `ap_id` as `node` stored it: {"local", "coalition", "name", "content",
    "supports"}; None when it has none."""

    async def work(session: AsyncSession) -> dict | None:
        row = await campaigns.by_ap_id(session, ap_id)
        if row is None:
            return None
        return {"local": row.local, "coalition": row.coalition.ap_id, "name": dict(row.name or {}),
                "content": dict(row.content or {}), "supports": row.support_count}

    return node.query(work)


def variant(node: CivicNode, ap_id: str) -> dict | None:
    """The variant `ap_id` on `node`: {"local", "campaign", "organization", "language", "name",
    "supports"}; None when it has none."""

    async def work(session: AsyncSession) -> dict | None:
        row = await campaigns.variant_by_ap_id(session, ap_id)
        if row is None:
            return None
        campaign_ap_id = await session.scalar(select(Campaign.ap_id).where(Campaign.id == row.campaign_id))
        return {"local": row.local, "campaign": campaign_ap_id,
                "organization": row.organization.ap_id, "language": row.language,
                "name": row.name, "supports": row.support_count,
                "deleted": row.deleted_at is not None}

    return node.query(work)


def counts(node: CivicNode, campaign_ap_id: str) -> dict:
    """The home's figures for one campaign, each read its own way so that they can disagree:
    {"count": Campaign.support_count, "total": the tallies' sum,
     "breakdown": {(member id or None, language): supports} from the tallies (campaigns.breakdown),
     "supporters": {supporter id: (credited member id or None, language, relaying org id or None)}
     from the support rows themselves}."""

    async def work(session: AsyncSession) -> dict:
        row = await campaigns.by_ap_id(session, campaign_ap_id)
        if row is None:
            raise AssertionError(f"{node.base_url} has no campaign {campaign_ap_id}")
        breakdown = {(s.member.ap_id if s.member else None, s.language): s.supports
                     for s in await campaigns.breakdown(session, row)}
        supports = await session.scalars(select(CampaignSupport).where(
            CampaignSupport.campaign_id == row.id))
        names: dict[int, str] = {}

        async def ap_id(actor_id: int | None) -> str | None:
            if actor_id is None:
                return None
            if actor_id not in names:
                names[actor_id] = await session.scalar(select(Actor.ap_id).where(Actor.id == actor_id))
            return names[actor_id]

        supporters = {}
        for support in list(supports):
            supporters[await ap_id(support.actor_id)] = (
                await ap_id(support.member_id), support.language, await ap_id(support.relayed_by_id))
        return {"count": row.support_count, "total": await campaigns.total(session, row),
                "breakdown": breakdown, "supporters": supporters}

    return node.query(work)


def variants_at_home(node: CivicNode, campaign_ap_id: str) -> dict[str, dict]:
    """The variants of a campaign the home learned from its members: {variant id: {"organization",
    "language", "local"}}."""

    async def work(session: AsyncSession) -> dict[str, dict]:
        rows = await session.scalars(select(CampaignVariant).join(
            Campaign, Campaign.id == CampaignVariant.campaign_id).where(Campaign.ap_id == campaign_ap_id))
        return {v.ap_id: {"organization": v.organization.ap_id, "language": v.language, "local": v.local}
                for v in rows}

    return node.query(work)


def actor_row(node: CivicNode, ap_id: str) -> dict | None:
    """What `node` keeps of an actor: {"type", "local", "inbox", "key", "fetched", "document"};
    None when it has no row."""

    async def work(session: AsyncSession) -> dict | None:
        actor = await session.scalar(select(Actor).where(Actor.ap_id == ap_id))
        if actor is None:
            return None
        return {"type": actor.type, "local": actor.local, "inbox": actor.inbox,
                "key": actor.public_key_pem, "fetched": actor.fetched_at is not None,
                "document": actor.document}

    return node.query(work)
