"""Campaigns and variants served at their ids, as AS2 (the web part serves their pages to people
and calls these for AS2 requests, as web/participation/proposals.py does for proposals).

A campaign answers exactly when its reader may read its coalition's things at the coalition's
level (node/visibility.py, SECURITY.md rule 24); a variant at its campaign's level (a remote
campaign was sent to us: public). Missing, unreadable and ``members`` things get the same 404;
a deleted one 410 with a Tombstone (SECURITY.md rule 9). Only our own are served: a remote
campaign or variant we keep answers at its own server."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from activities.campaigns import campaign_to_as, variant_to_as
from federation.participation_objects import Check, Served, _as2, _later, _tombstone
from node.models import Actor, Campaign, CampaignVariant
from node.services import campaigns
from node.uris import Uris


async def campaign_as(session: AsyncSession, uris: Uris, campaign: Campaign) -> dict:
    """The campaign's Page (also what CAMPAIGN_PUBLISHED sends)."""
    coalition = await session.get(Actor, campaign.coalition_id)
    return campaign_to_as(campaign, coalition, level=await campaigns.level(session, campaign),
                          base=uris.base)


async def variant_level(session: AsyncSession, variant: CampaignVariant) -> tuple[Campaign | None, str]:
    """A variant's campaign and level: its campaign's (public for a remote campaign)."""
    campaign = await session.get(Campaign, variant.campaign_id)
    if campaign is None:
        return None, "members"
    return campaign, await campaigns.level(session, campaign)


async def variant_as(session: AsyncSession, uris: Uris, variant: CampaignVariant) -> dict | None:
    """The variant's Page (also what VARIANT_PUBLISHED sends); None when its campaign is gone."""
    campaign, level = await variant_level(session, variant)
    if campaign is None:
        return None
    organization = await session.get(Actor, variant.organization_id)
    coalition = await session.get(Actor, campaign.coalition_id)
    return variant_to_as(variant, organization, campaign_id=campaign.ap_id, coalition_id=coalition.ap_id,
                         level=level, base=uris.base)


async def _campaign(session: AsyncSession, uris: Uris, check: Check, token: str) -> Served | None:
    campaign = await campaigns.by_ap_id(session, uris.campaign(token))
    if campaign is None or not campaign.local:
        return None
    if not await check(campaign.coalition_id, await campaigns.level(session, campaign)):
        return None
    if campaign.deleted_at is not None:
        return _tombstone(campaign.ap_id, "Page", campaign.deleted_at, campaign.ap_id)
    return _later(campaign.ap_id, lambda: campaign_as(session, uris, campaign))


async def _variant(session: AsyncSession, uris: Uris, check: Check, token: str) -> Served | None:
    variant = await campaigns.variant_by_ap_id(session, uris.variant(token))
    if variant is None or not variant.local:
        return None
    campaign, level = await variant_level(session, variant)
    if campaign is None or not await check(campaign.coalition_id, level):
        return None
    if variant.deleted_at is not None or campaign.deleted_at is not None:
        return _tombstone(variant.ap_id, "Page", variant.deleted_at or campaign.deleted_at, variant.ap_id)
    return _later(variant.ap_id, lambda: variant_as(session, uris, variant))


async def campaign_document(request: web.Request, token: str) -> web.Response:
    """GET /campaigns/{token} as AS2: the campaign's Page."""
    return await _as2(request, _campaign, token)


async def variant_document(request: web.Request, token: str) -> web.Response:
    """GET /variants/{token} as AS2: the variant's Page."""
    return await _as2(request, _variant, token)

