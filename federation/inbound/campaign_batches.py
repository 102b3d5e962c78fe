"""A coalition's home counts the supports its member organisations relay (``Announce{Like}``)
a batch at a time (federation/inbound/batches.py), with the checks of their one-by-one handler
(federation/inbound/campaigns.py ``on_relayed_support``): the Announce's signer relays, the variant
is that organisation's, the Like's id is on its actor's host, the supporter is not one of ours.
Anything else — an Undo, an unknown variant, a Like id or a person counted already — is left to
that handler and its own outcome."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.campaigns import parse_relayed, relayed_kind
from activities.errors import InvalidDocument
from activities.normalize import first_type
from federation.inbound.batches import Batched, batches
from federation.inbound.context import MAX_ID
from federation.runtime import Runtime
from node.models import CampaignVariant
from node.services.relayed_supports import Relayed, Variant, count_relayed

RECORDED = "support recorded"  # the outcome on_relayed_support gives a counted support


def _relayed_like(doc: dict) -> bool:
    """An ``Announce{Like}`` (its Undo goes one by one: it is rare)."""
    return first_type(doc) == "Announce" and relayed_kind(doc) is not None \
        and first_type(doc.get("object")) == "Like"


@batches(_relayed_like, types={"Announce"})
async def count_relays(rt: Runtime, session: AsyncSession, offered: list[Batched]) -> dict[int, str]:
    parsed = []
    for item in offered:
        try:
            relayed = parse_relayed(item.doc)
        except InvalidDocument:
            continue
        if relayed.undone or relayed.relayer != item.actor.ap_id or rt.uris.is_local(relayed.supporter) \
                or max(len(relayed.like_id), len(relayed.supporter), len(relayed.object)) > MAX_ID:
            continue
        parsed.append((item, relayed))
    if not parsed:
        return {}
    variants = {row.ap_id: Variant(row.id, row.campaign_id, row.organization_id, row.language)
                for row in await session.execute(select(
                    CampaignVariant.ap_id, CampaignVariant.id, CampaignVariant.campaign_id,
                    CampaignVariant.organization_id, CampaignVariant.language).where(
                    CampaignVariant.ap_id.in_({relayed.object for _, relayed in parsed}),
                    CampaignVariant.local.is_(False)))}
    items: dict[str, int] = {}
    relays = []
    for item, relayed in parsed:
        variant = variants.get(relayed.object)
        if variant is None or variant.organization_id != item.actor.id or relayed.like_id in items:
            continue
        items[relayed.like_id] = item.row_id
        relays.append(Relayed(relayed.like_id, relayed.supporter, variant))
    counted = await count_relayed(session, relays)
    return {items[like_id]: RECORDED for like_id in counted}
