"""Inbound campaigns: a coalition's campaign reaching a member's node, a member's variant and the
supports relayed through it reaching the coalition's home, Likes of a variant on the member's
node and Likes of a campaign at the home (FEDERATION.md "Coalitions and campaigns").

Trust (SECURITY.md): a campaign is kept only from its own coalition (the signer, its
``attributedTo`` and its id's host) and only when one of our organisations is an accepted member;
a variant only from its own organisation, an accepted member when it first registers one. A
relayed support is accepted only from the organisation that published the variant (the
Announce's signer and actor: the inbox checks they are one); the Like's id is on its actor's
host; one support per person per campaign; an organisation takes back only what it relayed; a
removed member's later relays still count for the campaign, for no member."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from activities.campaigns import parse_campaign, parse_relayed, parse_variant
from activities.errors import InvalidDocument
from federation.campaign_objects import variant_level
from federation.inbound.context import Inbound, admitted, check_ids
from federation.inbound.reactions import Reacting, reacts
from federation.inbound.registry import handles
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.models import Campaign, CampaignVariant
from node.services import campaigns


async def _variant_placed(session: AsyncSession, variant: CampaignVariant) -> tuple[int, str] | None:
    """A variant of ours that can be supported: its organisation and its campaign's level."""
    if not variant.local or variant.deleted_at is not None:
        return None
    campaign, level = await variant_level(session, variant)
    if campaign is None or campaign.deleted_at is not None:
        return None
    return variant.organization_id, level


# A Like of one of our variants (from anyone who may read it); relayed to the home by the outbox
# event VARIANT_SUPPORT emits (federation/outbound/campaigns.py). Its Undo: the generic one.
reacts("Like", "variant", Reacting(campaigns.VARIANT_SUPPORT, CampaignVariant, _variant_placed,
                                   "variant", "support recorded", "already supported"))


@handles("Like", "campaign")
async def on_like_campaign(ctx: Inbound) -> str:
    """A Like of one of our campaigns, sent by the supporter's server: counted for the campaign,
    for no member, in its first language. Its Undo is found by its id (inbound/reactions.py)."""
    session = ctx.session
    campaign = await campaigns.by_ap_id(session, ctx.target.ap_id)
    if campaign is None or not campaign.local or campaign.deleted_at is not None:
        return "ignored: no such campaign"
    if not await admitted(ctx, campaign.coalition_id, await campaigns.level(session, campaign)):
        return "ignored: the campaign is not public"
    check_ids(ctx.doc["id"])
    try:
        added = await campaigns.support(session, ctx.runtime.uris, campaign, ctx.actor,
                                        like_ap_id=ctx.doc["id"])
    except Conflict as exc:
        return f"ignored: {exc.reason}"
    return "support recorded" if added else "ignored: already supported"


@handles("Create", "campaign-page")
async def on_campaign(ctx: Inbound) -> str:
    """A campaign of a coalition one of our organisations is an accepted member of (targets.py
    resolves this kind only then): kept, so that the organisation can adapt it."""
    parsed = parse_campaign(ctx.target.row)
    if parsed.coalition != ctx.actor.ap_id:
        raise InvalidDocument("a campaign is published by its own coalition")
    try:
        await campaigns.store_remote(ctx.session, ctx.actor, **parsed.fields())
    except Forbidden as exc:
        return f"ignored: {exc.reason}"
    return "campaign stored"


@handles("Create", "variant-page")
async def on_variant(ctx: Inbound) -> str:
    """A member organisation's variant of one of our campaigns (at the home): registered, so that
    the supports it relays are credited to it."""
    parsed = parse_variant(ctx.target.row)
    if parsed.organization != ctx.actor.ap_id:
        raise InvalidDocument("a variant is published by its own organisation")
    campaign = await campaigns.by_ap_id(ctx.session, parsed.campaign)
    if campaign is None:
        return "ignored: no such campaign"
    try:
        await campaigns.store_remote_variant(ctx.session, campaign, ctx.actor, **parsed.fields())
    except (Forbidden, NotFound, InvalidInput) as exc:
        return f"ignored: {exc.reason}"
    return "variant stored"


@handles("Announce", "relayed-like")
async def on_relayed_support(ctx: Inbound) -> str:
    """A member organisation relays a support of its variant (Announce{Like}) or its withdrawal
    (Announce{Undo{Like}}): counted at the home, once per person per campaign."""
    session = ctx.session
    relayed = parse_relayed(ctx.doc)
    if relayed.relayer != ctx.actor.ap_id:
        raise InvalidDocument("a support is relayed by the Announce's signer")
    check_ids(relayed.like_id, relayed.supporter, relayed.object)
    variant = await campaigns.variant_by_ap_id(session, relayed.object)
    if variant is None or variant.local:
        return "ignored: no variant of this organisation is known here"
    if variant.organization_id != ctx.actor.id:
        return "ignored: only the variant's organisation relays its supports"
    campaign = await session.get(Campaign, variant.campaign_id)
    if campaign is None or not campaign.local or campaign.deleted_at is not None:
        return "ignored: no such campaign"
    if relayed.undone:
        taken = await campaigns.withdraw_relayed(session, relayed.like_id, ctx.actor)
        return "support withdrawn" if taken else "ignored: no support relayed under this id"
    if ctx.runtime.uris.is_local(relayed.supporter):
        # Our own people support here, never through a relay (nobody can vouch for them).
        return "ignored: a support of this node's people is not relayed"
    try:
        supporter = await campaigns.supporter(session, relayed.supporter)
        added = await campaigns.support(session, ctx.runtime.uris, campaign, supporter,
                                        like_ap_id=relayed.like_id, variant=variant,
                                        relayed_by=ctx.actor)
    except Conflict as exc:
        return f"ignored: {exc.reason}"
    return "support recorded" if added else "ignored: already supported"

