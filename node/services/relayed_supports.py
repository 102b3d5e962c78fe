"""Many relayed supports counted at once: the coalition's home takes the inbox's batch of
``Announce{Like}`` relays in a handful of statements instead of some fifteen per support.

The result is exactly what ``campaigns.support`` gives one by one (the same rows, counters, tallies
and days; credited to the variant's organisation only while it is a member; the variant's
language). Whatever the batch cannot decide at once — a Like id already recorded for any kind of
reaction, a person who supported the campaign already, two relays of one person in the batch, a
campaign that is not open — is left out, for the caller to count one by one, with its own outcome."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from node import changes
from node.models import (
    Actor,
    Campaign,
    CampaignSupport,
    CoalitionMember,
    CoalitionStates,
    utcnow,
)
from node.services import campaigns, reactions


@dataclass(frozen=True)
class Variant:
    """What counting reads of a variant (its row's columns)."""

    id: int
    campaign_id: int
    organization_id: int
    language: str


@dataclass(frozen=True)
class Relayed:
    """One relayed support: the Like's id, its actor (the supporter), the variant it liked and
    the organisation that relayed it (checked by the caller to be the variant's)."""

    like_ap_id: str
    supporter_ap_id: str
    variant: Variant


async def _supporters(session: AsyncSession, ap_ids: set[str]) -> dict[str, int]:
    """The actor row of each supporter: those we have, and a minimal one each for the others
    (``campaigns.stub_values``), inserted by one statement and read back by another."""
    found = dict((await session.execute(select(Actor.ap_id, Actor.id)
                                        .where(Actor.ap_id.in_(ap_ids)))).all())
    new = {ap_id: campaigns.stub_values(ap_id) for ap_id in sorted(ap_ids - set(found))}
    if new:
        connection = await session.connection()
        await connection.execute(insert(Actor.__table__), list(new.values()))
        added = dict((await session.execute(select(Actor.ap_id, Actor.id).where(Actor.ap_id.in_(new)))).all())
        changes.inserted(session, "actors", [{**new[ap_id], "id": row_id} for ap_id, row_id in added.items()])
        found.update(added)
    return found


async def count_relayed(session: AsyncSession, items: list[Relayed]) -> set[str]:
    """Count what can be counted at once; the Like ids counted (the others are the caller's)."""
    items = [i for i in items if campaigns.is_http_id(i.supporter_ap_id)]
    if not items:
        return set()
    campaign_ids = {i.variant.campaign_id for i in items}
    open_campaigns = {c.id: c for c in await session.scalars(select(Campaign).where(
        Campaign.id.in_(campaign_ids), Campaign.local.is_(True), Campaign.deleted_at.is_(None)))}
    members = set((await session.execute(
        select(CoalitionMember.coalition_id, CoalitionMember.member_id).where(
            CoalitionMember.member_id.in_({i.variant.organization_id for i in items}),
            CoalitionMember.state == CoalitionStates.accepted))).all())
    taken = await reactions.taken(session, [i.like_ap_id for i in items])
    actor_ids = await _supporters(session, {i.supporter_ap_id for i in items})
    already = set((await session.execute(select(CampaignSupport.campaign_id, CampaignSupport.actor_id)
                                         .where(CampaignSupport.campaign_id.in_(campaign_ids),
                                                CampaignSupport.actor_id.in_(set(actor_ids.values())))
                                         )).all())
    rows, seen_ids, now = [], set(), utcnow()
    for item in items:
        variant = item.variant
        campaign = open_campaigns.get(variant.campaign_id)
        pair = (variant.campaign_id, actor_ids[item.supporter_ap_id])
        if campaign is None or item.like_ap_id in taken or item.like_ap_id in seen_ids or pair in already:
            continue  # one by one, with its own outcome
        already.add(pair)
        seen_ids.add(item.like_ap_id)
        credited = variant.organization_id if (campaign.coalition_id, variant.organization_id) in members \
            else None
        rows.append({"ap_id": item.like_ap_id, "campaign_id": campaign.id, "actor_id": pair[1],
                     "variant_id": variant.id, "member_id": credited, "language": variant.language[:16],
                     "relayed_by_id": variant.organization_id, "created_at": now})
    if not rows:
        return set()
    # One statement for them all (the ORM would send one INSERT … RETURNING each); the change
    # tracker is told of them as of the ORM's (node/changes.py).
    connection = await session.connection()
    await connection.execute(insert(CampaignSupport.__table__), rows)
    changes.inserted(session, "campaign_supports", rows)
    for campaign_id, added in Counter(row["campaign_id"] for row in rows).items():
        await session.execute(update(Campaign).where(Campaign.id == campaign_id)
                              .values(support_count=Campaign.support_count + added))
    tallies = Counter((row["campaign_id"], row["member_id"] or 0, row["language"]) for row in rows)
    days = Counter((row["campaign_id"], now.date()) for row in rows)
    await campaigns.add_to_tallies(session, tallies, days)
    return {row["ap_id"] for row in rows}


__all__ = ["Relayed", "Variant", "count_relayed"]
