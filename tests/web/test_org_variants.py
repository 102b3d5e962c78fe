"""An organisation's page lists the campaign variants it published (Gap A of the coalition audit:
local people see what the organisation relays, as its fediverse followers get its Create{Page}),
newest first and bounded, under its coalition's visibility as node/visibility.py ``lists`` says,
and with the real page cache: a variant published, withdrawn or deleted after the page was
rendered shows (or goes) on the next request."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from node import visibility
from node.db import transaction
from node.models import Campaign, CampaignVariant
from node.services import actors, follows
from node.services import campaigns as campaign_service
from node.services import coalitions as coalition_service
from tests.web.coalition_people import VARIANT_TEXTS, adapt, path, people, signed_in
from web.cache import PAGE_CACHE
from web.participation.organisations import VARIANTS_SHOWN


async def coalition_campaign(node, handle: str, level: str, campaign_name: str) -> str:
    """A coalition ``handle`` at ``level`` founded by Lyon with the NGO a member, and its campaign
    (fr); camille follows the coalition. The campaign's path."""
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.require_local_actor(s, "lyon")
        ngo = await actors.require_local_actor(s, "ngo")
        coalition = await coalition_service.create(s, node.uris, handle, f"Coalition {handle}", founder=lyon,
                                                   languages=("fr", "de"), visibility_level=level)
        await coalition_service.invite(s, node.uris, coalition.actor, ngo)
        await coalition_service.answer_invite(s, node.uris, ngo, coalition.actor, True)
        await follows.request_follow(s, node.uris, await actors.require_local_actor(s, "camille"),
                                     coalition.actor)
        campaign = await campaign_service.create(s, node.uris, coalition.actor, name={"fr": campaign_name},
                                                 content={"fr": "<p>Le texte.</p>"})
        return path(node, campaign.ap_id)


async def variant_of(node, campaign_path: str, name: str, language: str = "de") -> str:
    """The NGO's variant of the campaign, made by the service; its path."""
    async with transaction(node.rt.sessions) as s:
        campaign = await campaign_service.by_ap_id(s, node.base + campaign_path)
        ngo = await actors.require_local_actor(s, "ngo")
        variant = await campaign_service.adapt(s, node.uris, ngo, campaign, language=language, name=name,
                                               content_html="<p>Notre version.</p>")
        return path(node, variant.ap_id)


def listed(page_text: str) -> str:
    """The organisation page's list of its variants ('' when there is none)."""
    start = page_text.find('<ul id="variants"')
    return page_text[start:page_text.index("</ul>", start)] if start >= 0 else ""


@pytest.fixture
def cache(node):
    """The app's real page cache, kept past its TTL so that only invalidation renders again."""
    pages = node.app[PAGE_CACHE]
    pages.ttl = 3600.0
    return pages


async def test_organisation_page__a_variant_adapted_after_the_page_was_cached_shows_with_its_links(
        node, cache, make_browser):
    await people(node)
    campaign_path = await coalition_campaign(node, "blue", "public", "Océans propres")
    anonymous = make_browser("en")
    assert listed((await anonymous.get("/actors/ngo")).text) == ""
    hits = cache.hits
    await anonymous.get("/actors/ngo")
    assert cache.hits > hits  # the page is served from the cache until something it shows changes
    ngo = await signed_in(make_browser, "ngo_admin")
    status, body, location = await adapt(ngo, node, campaign_path, VARIANT_TEXTS)
    assert status == 303, body[:300]
    variant_path = path(node, location)
    page = await anonymous.get("/actors/ngo")
    variants = listed(page.text)
    assert f'href="{node.base}{variant_path}" lang="de">Greenpeace für saubere Meere</a>' in variants
    assert f'href="{node.base}{campaign_path}"' in variants and "Océans propres" in variants
    assert "Our campaign variants" in page.text and "adapts" in variants and "Deutsch" in variants
    # The new text in French and German.
    assert "Nos variantes de campagnes" in (await make_browser("fr").get("/actors/ngo")).text
    assert "Unsere Kampagnenvarianten" in (await make_browser("de").get("/actors/ngo")).text
    # The founder's page does not list the NGO's variant: an organisation lists its own.
    assert variant_path not in (await anonymous.get("/actors/lyon")).text


async def test_organisation_page__a_deleted_variant_and_a_withdrawn_campaigns_variant_go_at_once(
        node, cache, make_browser):
    await people(node)
    first = await coalition_campaign(node, "blue", "public", "Océans propres")
    second = await coalition_campaign(node, "green", "public", "Forêts vivantes")
    deleted, withdrawn, kept = (await variant_of(node, first, "Variante supprimée"),
                                await variant_of(node, second, "Variante retirée"),
                                await variant_of(node, first, "Variante gardée", "fr"))
    anonymous = make_browser("en")
    shown = listed((await anonymous.get("/actors/ngo")).text)
    assert deleted in shown and withdrawn in shown and kept in shown
    async with transaction(node.rt.sessions) as s:
        row = await s.scalar(select(CampaignVariant).where(CampaignVariant.name == "Variante supprimée"))
        row.deleted_at = row.created_at
    shown = listed((await anonymous.get("/actors/ngo")).text)
    assert deleted not in shown and withdrawn in shown and kept in shown
    # A campaign withdrawn by its coalition: the variants of it go from the member's page too.
    async with transaction(node.rt.sessions) as s:
        row = await s.scalar(select(Campaign).where(Campaign.ap_id == node.base + second))
        row.deleted_at = row.created_at
    shown = listed((await anonymous.get("/actors/ngo")).text)
    assert withdrawn not in shown and "Variante retirée" not in shown and kept in shown


async def test_organisation_page__lists_the_newest_variants_first_and_at_most_ten(node, make_browser):
    await people(node)
    campaigns = [await coalition_campaign(node, f"c{n}", "public", f"Campagne {n}") for n in range(6)]
    made = [await variant_of(node, campaign, f"Variante {n} {language}", language)
            for n, campaign in enumerate(campaigns) for language in ("fr", "de")]
    shown = listed((await make_browser("en").get("/actors/ngo")).text)
    positions = [shown.find(variant) for variant in made]
    newest = positions[-VARIANTS_SHOWN:]
    assert all(p >= 0 for p in newest) and newest == sorted(newest, reverse=True)
    assert all(p < 0 for p in positions[:-VARIANTS_SHOWN])


READERS = ("anonymous", "camille", "ngo_modo", "maire")
# What each reader is to a coalition: camille follows it, ngo_modo is the staff of a member
# organisation (a ``member`` of the coalition), maire an admin of its admin member (its admin).
STANDINGS = {"anonymous": visibility.NOBODY, "camille": visibility.Standing(follower=True),
             "ngo_modo": visibility.Standing(member=True),
             "maire": visibility.Standing(staff=True, member=True)}


@pytest.mark.parametrize("level", visibility.LEVELS)
async def test_organisation_page__lists_a_variant_to_whom_its_coalitions_level_lists_it(
        node, make_browser, level):
    """Beside a public coalition's variant, the variant of a coalition at ``level`` is listed to
    exactly the readers node/visibility.py ``lists`` lets see the coalition's things listed (the
    rule the page's list of coalitions follows): a ``members`` coalition's to no outsider, an
    ``unlisted`` one's to its staff alone."""
    await people(node)
    open_variant = await variant_of(node, await coalition_campaign(node, "blue", "public", "Océans"), "Ouverte")
    closed_variant = await variant_of(node, await coalition_campaign(node, "closed", level, "Campagne fermée"),
                                      "Variante fermée")
    for reader in READERS:
        browser = make_browser("en") if reader == "anonymous" else await signed_in(make_browser, reader)
        page = await browser.get("/actors/ngo")
        assert page.status == 200
        expected = visibility.lists(level, STANDINGS[reader])
        assert open_variant in listed(page.text), reader
        assert (closed_variant in page.text) is expected, (level, reader)
        assert ("Variante fermée" in page.text) is expected, (level, reader)
        assert ("Campagne fermée" in page.text) is expected, (level, reader)
