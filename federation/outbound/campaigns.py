"""Campaigns out: the coalition's campaign, a member organisation's variant, and the supports of a
variant relayed to the coalition's home (FEDERATION.md "Coalitions and campaigns").

The home is the one place where a campaign's supports are counted, so a member's node sends it
each support of its variants and each withdrawal (``Announce{Like}`` / ``Announce{Undo{Like}}``)
and nothing else: the supporter's actor id, never its profile (issue 10, sovereignty). When the
coalition lives on this very node (a local member organisation), nothing is delivered to
ourselves: node/services/campaigns.py counted the support with the variant's own, in its
transaction."""

from __future__ import annotations

from activities import wrappers
from activities.campaigns import relayed_support
from federation.campaign_objects import campaign_as, variant_as, variant_level
from federation.outbound.audience import audience, inbox_of
from federation.outbound.publisher import Publisher
from federation.outbound.registry import builds
from node import visibility
from node.models import Actor, Campaign, CampaignVariant, VariantSupport
from node.services import campaigns, coalitions


@builds(campaigns.CAMPAIGN_PUBLISHED)
async def campaign_published(p: Publisher, campaign_id: int) -> None:
    """Create{Page} by the coalition, to its followers (approved ones only below ``public``) and
    to every accepted member's inbox: members hear of it whatever the coalition's level."""
    campaign = await p.session.get(Campaign, campaign_id)
    if campaign is None or not campaign.local or campaign.deleted_at is not None:
        return
    level = await campaigns.level(p.session, campaign)
    if not visibility.federates(level):
        return
    coalition = await p.session.get(Actor, campaign.coalition_id)
    members = [inbox for row in await coalitions.members(p.session, coalition)
               for inbox in inbox_of(row.member)]
    within = None if visibility.admits(level, visibility.NOBODY) else coalition
    targets = await audience(p.session, [coalition], within=within, named=members)
    doc = await campaign_as(p.session, p.rt.uris, campaign)
    await p.publish(coalition, wrappers.create(p.new_id(), coalition.ap_id, doc, doc["published"]),
                    targets, level=level, organization_id=coalition.id, object_ap_id=campaign.ap_id)


@builds(campaigns.VARIANT_PUBLISHED)
async def variant_published(p: Publisher, variant_id: int) -> None:
    """Create{Page} by the organisation, to its followers and to the coalition's inbox (the home
    credits the supports relayed through it to the organisation)."""
    variant = await p.session.get(CampaignVariant, variant_id)
    if variant is None or not variant.local or variant.deleted_at is not None:
        return
    campaign, level = await variant_level(p.session, variant)
    if campaign is None or campaign.deleted_at is not None or not visibility.federates(level):
        return
    organization = await p.session.get(Actor, variant.organization_id)
    coalition = await p.session.get(Actor, campaign.coalition_id)
    # Below ``public``, the level is the coalition's: only the coalition hears of it.
    followed = [organization] if visibility.admits(level, visibility.NOBODY) else []
    targets = await audience(p.session, followed, named=inbox_of(coalition))
    doc = await variant_as(p.session, p.rt.uris, variant)
    await p.publish(organization, wrappers.create(p.new_id(), organization.ap_id, doc, doc["published"]),
                    targets, level=level, organization_id=organization.id, object_ap_id=variant.ap_id)


async def _relayed(p: Publisher, variant_id: int, actor_id: int
                   ) -> tuple[CampaignVariant, Campaign, Actor, Actor, Actor] | None:
    """(variant, campaign, supporter, organisation, coalition) of a support to relay."""
    variant = await p.session.get(CampaignVariant, variant_id)
    campaign = await p.session.get(Campaign, variant.campaign_id) if variant else None
    supporter = await p.session.get(Actor, actor_id)
    if campaign is None or supporter is None or not variant.local:
        return None
    organization = await p.session.get(Actor, variant.organization_id)
    coalition = await p.session.get(Actor, campaign.coalition_id)
    return variant, campaign, supporter, organization, coalition


async def _relay(p: Publisher, found, like_id: str, *, undo: bool) -> None:
    variant, _campaign, supporter, organization, coalition = found
    doc = relayed_support(p.new_id(), organization.ap_id, like_id=like_id, supporter=supporter.ap_id,
                          variant=variant.ap_id, coalition=coalition.ap_id,
                          undo_id=p.new_id() if undo else None)
    # Not listed in the organisation's outbox, and at its id only to those who may read the
    # variant: it names the supporter, and only the coalition is told.
    await p.publish(organization, doc, inbox_of(coalition), level=visibility.PUBLIC,
                    organization_id=organization.id, object_ap_id=variant.ap_id, listed=False)


@builds(campaigns.VARIANT_SUPPORT_CREATED)
async def variant_support_created(p: Publisher, variant_support_id: int) -> None:
    """Announce{Like} by the organisation to the coalition's inbox; for a local supporter the
    Like is ours (its id is the support's)."""
    row = await p.session.get(VariantSupport, variant_support_id)
    found = await _relayed(p, row.variant_id, row.actor_id) if row else None
    if found is None:
        return
    if found[1].local:  # the coalition is ours: counted with the support (node), nothing to deliver
        return
    await _relay(p, found, row.ap_id, undo=False)


@builds(campaigns.VARIANT_SUPPORT_UNDONE)
async def variant_support_undone(p: Publisher, like_ap_id: str, actor_id: int, variant_id: int) -> None:
    """Announce{Undo{Like}} by the organisation to the coalition's inbox (an Undo, or the
    supporter's erasure: reactions.withdraw_all emits this for every support it takes back)."""
    found = await _relayed(p, variant_id, actor_id)
    if found is None:
        return
    if found[1].local:  # taken back with the variant's support (node/services/campaigns.py)
        return
    await _relay(p, found, like_ap_id, undo=True)


@builds(campaigns.SUPPORT_CREATED)
async def support_created(p: Publisher, support_id: int) -> None:
    """Nothing to send: a support counted at the home is the end of its journey (the supporter's
    own server sent the Like, or a member relayed it); supports are not announced onwards."""


@builds(campaigns.SUPPORT_UNDONE)
async def support_undone(p: Publisher, support_ap_id: str, actor_id: int, campaign_id: int) -> None:
    """Nothing to send, for the same reason: the withdrawal came to the home, it ends here."""
