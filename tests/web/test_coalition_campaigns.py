"""Coalition campaigns with the real app: texts and kit per language, the support button, a
member's variant and its support, a campaign from a coalition elsewhere adapted, the variants a
campaign's page lists; hostile input answered with a 4xx and its reason."""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from node.db import transaction
from node.models import Campaign, CampaignSupport, CampaignVariant, CoalitionMember
from node.services import actors
from node.services import campaigns as campaign_service
from tests.web.coalition_people import (  # noqa: F401 (fixtures)
    AS2,
    CAMPAIGN,
    CAMPAIGN_TEXTS,
    NEW_CAMPAIGN,
    TEXT,
    VARIANT,
    VARIANT_TEXTS,
    adapt,
    blue_fixture,
    campaign_fixture,
    count,
    create_campaign,
    multipart,
    orgs_fixture,
    path,
    png,
    signed_in,
    the_campaign,
)
from tests.web.conftest import PASSWORD

# -- campaigns -------------------------------------------------------------------------------------

async def test_campaign__admin_publishes_texts_and_kit_per_language_shown_by_the_page_language(
        node, orgs, blue, campaign, make_browser):
    assert CAMPAIGN.fullmatch(campaign)
    stored = await the_campaign(node)
    assert stored.name == {"fr": "Océans propres", "de": "Saubere Meere"}
    assert stored.content["de"] == "<p>Wir fordern das Ende von Einwegplastik.</p>"
    kit = {(item["language"], item["kind"]): item for item in stored.kit}
    assert set(kit) == {("fr", "message"), ("fr", "visual"), ("de", "message"), ("de", "visual")}
    assert kit[("de", "visual")]["url"].startswith("/media/") and kit[("de", "visual")]["media_type"] == "image/png"
    assert kit[("fr", "visual")]["name"] == "Une vague bleue"
    german = await make_browser("de").get(campaign)
    assert german.status == 200 and "<h1 lang=\"de\">Saubere Meere</h1>" in german.text
    # The kit, the page's language first, each visual with its description.
    assert german.text.index('id="kit-de"') < german.text.index('id="kit-fr"')
    assert f'src="{kit[("de", "visual")]["url"]}" alt="Eine blaue Welle"' in german.text
    assert "Signez pour des océans propres !" in german.text
    french = await make_browser("fr").get(campaign)
    assert "Océans propres" in french.text
    # Listed on the coalition's page.
    assert campaign in (await make_browser("en").get("/actors/blue")).text
    # AS2 of the same id: the Page document (federation/campaign_objects.py).
    as2 = await make_browser("en").get(campaign, Accept=AS2)
    assert as2.status == 200 and json.loads(as2.text)["type"] == "Page"


async def test_campaign__support_button_counts_once_in_the_page_language_and_takes_back(
        node, orgs, blue, campaign, make_browser):
    anonymous = make_browser("en")
    assert '<span class="support-count">0</span>' in (await anonymous.get(campaign)).text  # now cached
    camille = await signed_in(make_browser, "camille", "de")
    page = await camille.get(campaign)
    assert "Support the campaign" in page.text or "Kampagne unterstützen" in page.text
    answer = await camille.post(campaign + "/support", {"language": "de"}, form_page=campaign)
    assert answer.status == 303 and answer.location.endswith("#support")
    stored = await the_campaign(node)
    assert stored.support_count == 1
    async with node.rt.sessions() as s:
        shares = await campaign_service.breakdown(s, stored)
    assert [(share.member, share.language, share.supports) for share in shares] == [(None, "de", 1)]
    page = await camille.get(campaign)
    assert 'aria-pressed="true"' in page.text and '<span class="support-count">1</span>' in page.text
    # A language the coalition does not write in is replaced by the page's.
    dominique = await signed_in(make_browser, "dominique", "en")
    await dominique.post(campaign + "/support", {"language": "<script>"}, form_page=campaign)
    async with node.rt.sessions() as s:
        languages = set(await s.scalars(select(CampaignSupport.language)))
    assert languages == {"de", "fr"}
    # Clicked again: taken back.
    await camille.post(campaign + "/support", {}, form_page=campaign)
    assert (await the_campaign(node)).support_count == 1
    # Anonymous visitors see the new count (the support changed the campaign's scope) and are
    # asked to log in to support.
    page = await anonymous.get(campaign)
    assert '<span class="support-count">1</span>' in page.text and "Log in to support the campaign" in page.text


async def test_campaign__form_refusals_come_back_with_their_reasons(node, orgs, blue, make_browser):
    maire = blue
    form = await maire.get(NEW_CAMPAIGN)
    assert form.status == 200 and 'id="name_fr"' in form.text and 'id="name_de"' in form.text
    assert 'id="name_en"' not in form.text  # the coalition writes in French and German
    cases = (
        ({**CAMPAIGN_TEXTS, "name_fr": "", "name_de": ""}, None, 400, "Give the campaign a name in at least one language."),
        (CAMPAIGN_TEXTS, {"visual_fr": b"GIF89a not a png"}, 400, "The image must be a PNG, JPEG or WebP file."),
        ({**CAMPAIGN_TEXTS, "alt_de": ""}, {"visual_de": png()}, 400, "Describe the visual for people who cannot see it."),
        ({**CAMPAIGN_TEXTS, "name_fr": "x" * 301}, {}, 400, "At most 300 characters (you wrote 301)."),
        ({**CAMPAIGN_TEXTS, "content_de": "y" * 20_001}, {}, 400, "At most 20,000 characters"),
    )
    for fields, files, status, reason in cases:
        got, body, _ = await create_campaign(maire, node, fields, files)
        assert got == status and reason in body, (reason, got, body[:400])
        assert "Des plages sans plastique." in body  # what was typed comes back
    got, body, _ = await create_campaign(maire, node, CAMPAIGN_TEXTS, {"visual_fr": png() + b"\0" * (600 * 1024)})
    assert got == 400 and "The image is limited to 512 KB." in body
    assert await count(node, Campaign) == 0
    # Not the coalition's admin: 403; a coalition that does not exist: 404.
    ngo = await signed_in(make_browser, "ngo_admin")
    assert (await ngo.get(NEW_CAMPAIGN)).status == 403
    assert (await maire.get("/coalitions/none/campaigns/new")).status == 404


async def test_campaign__missing_and_hostile_tokens_are_404(node, orgs, blue, campaign, make_browser):
    visitor = make_browser("en")
    for url in ("/campaigns/nothing", "/campaigns/" + "a" * 300, "/variants/nothing",
                "/campaigns/..%2f..%2fetc", "/variants/%E2%80%AE"):
        assert (await visitor.get(url)).status == 404, url
    assert (await visitor.get("/campaigns/%00")).status == 400  # refused before any handler
    camille = await signed_in(make_browser, "camille")
    answer = await camille.post("/campaigns/nothing/support", {}, form_page=campaign)
    assert answer.status == 404
    answer = await camille.post("/variants/nothing/support", {}, form_page=campaign)
    assert answer.status == 404


# -- variants --------------------------------------------------------------------------------------

async def test_variant__a_member_adapts_it_its_page_and_support_credit_the_member(
        node, orgs, blue, campaign, make_browser):
    ngo = await signed_in(make_browser, "ngo_admin")
    mine = await ngo.get("/orgs/ngo/coalitions")
    assert "Make our variant" in mine.text and campaign.rsplit("/", 1)[1] in mine.text
    form = await ngo.get(f"/orgs/ngo/campaigns/{campaign.rsplit('/', 1)[1]}/adapt")
    assert form.status == 200 and "Océans propres" in form.text  # the texts to start from
    status, body, location = await adapt(ngo, node, campaign, VARIANT_TEXTS, {"visual": png(4, 4)})
    assert status == 303, body[:500]
    variant_path = path(node, location)
    assert VARIANT.fullmatch(variant_path)
    page = await make_browser("en").get(variant_path)
    assert page.status == 200 and "Greenpeace für saubere Meere" in page.text
    assert re.search(r'<img src="/media/[0-9a-f]{64}\.png" alt="Greenpeace für saubere Meere">', page.text)
    # The campaign's page lists the member's variant with its node.
    listed = await make_browser("en").get(campaign)
    assert variant_path in listed.text and "Greenpeace Lyon" in listed.text
    # Dominique supports the variant: counted on it, and at the home (this node) for the NGO in German.
    dominique = await signed_in(make_browser, "dominique")
    answer = await dominique.post(variant_path + "/support", {}, form_page=variant_path)
    assert answer.status == 303
    await node.step()
    async with node.rt.sessions() as s:
        variant = await s.scalar(select(CampaignVariant))
        stored = await s.scalar(select(Campaign))
        shares = await campaign_service.breakdown(s, stored)
    assert variant.support_count == 1 and stored.support_count == 1
    assert [(share.member.username, share.language, share.supports) for share in shares] == [("ngo", "de", 1)]
    # The same language twice: a form error (409), nothing written.
    status, body, _ = await adapt(ngo, node, campaign, VARIANT_TEXTS)
    assert status == 409 and "Your organisation has a variant in this language already." in body
    assert await count(node, CampaignVariant) == 1


async def test_variant__refused_to_non_members_and_hostile_input_gets_reasons(node, orgs, blue, campaign, make_browser):
    ngo = await signed_in(make_browser, "ngo_admin")
    for fields, files, status, reason in (
            ({**VARIANT_TEXTS, "title": "ab"}, None, 400, "The title needs between 3 and 300 characters."),
            ({**VARIANT_TEXTS, "text": ""}, None, 400, "Write the text of your variant."),
            ({**VARIANT_TEXTS, "language": "xx"}, None, 400, "Choose a language."),
            (VARIANT_TEXTS, {"visual": b"<svg/>"}, 400, "The image must be a PNG, JPEG or WebP file."),
            ({**VARIANT_TEXTS, "text": "z" * 20_001}, None, 400, "At most 20,000 characters")):
        got, body, _ = await adapt(ngo, node, campaign, fields, files)
        assert got == status and reason in body, (reason, got, body[:300])
    assert await count(node, CampaignVariant) == 0
    # Lyon's moderator-free organisation "lyon" is a member too; a third organisation is not.
    async with transaction(node.rt.sessions) as s:
        other = await actors.create_organization(s, node.uris, "other", "Autre")
        admin = await actors.create_user(s, node.uris, "other_admin", PASSWORD, "Other")
        await actors.add_member(s, admin, other, "admin")
    outsider = await signed_in(make_browser, "other_admin")
    url = f"/orgs/other/campaigns/{campaign.rsplit('/', 1)[1]}/adapt"
    assert (await outsider.get(url)).status == 403
    assert (await ngo.get("/orgs/ngo/campaigns/unknown/adapt")).status == 404
    # The NGO's moderator is no admin of it.
    modo = await signed_in(make_browser, "ngo_modo")
    assert (await modo.get(f"/orgs/ngo/campaigns/{campaign.rsplit('/', 1)[1]}/adapt")).status == 403


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(fields=st.dictionaries(st.sampled_from(["name_fr", "name_de", "summary_de", "content_fr", "message_de",
                                               "alt_fr", "language", "title", "text", "name_en"]),
                              TEXT, max_size=6),
       image=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"\x00" * 64]))
async def test_fuzz__campaign_and_variant_forms_answer_4xx_or_a_redirect_never_a_500(
        node, orgs, blue, campaign, make_browser, fields, image):
    ngo = await signed_in(make_browser, "ngo_admin")
    status, body, _ = await multipart(blue, node, NEW_CAMPAIGN, fields, {"visual_fr": image} if image else {},
                                      form_page=NEW_CAMPAIGN)
    assert status in (303, 400, 413), (fields, status, body[:300])
    status, body, _ = await adapt(ngo, node, campaign, fields, {"visual": image} if image else None)
    assert status in (303, 400, 409, 413), (fields, status, body[:300])
    assert "Traceback" not in body


async def test_remote_campaign__adapted_from_its_stored_copy_its_hostile_url_never_linked(
        node, orgs, remote, make_browser):
    """A campaign a coalition elsewhere sent: the NGO (an accepted member on its own records) finds
    it on its coalitions screen and adapts it; a ``javascript:`` url is never a link."""
    home = remote.add_actor("oceans", "Group")
    fetched = await node.rt.keys.get_actor(home.ap_id)  # stored in its own transaction
    async with transaction(node.rt.sessions) as s:
        coalition = await s.get(type(fetched), fetched.id)
        s.add(CoalitionMember(coalition_id=coalition.id, member_id=orgs[1].id, role="member", state="accepted"))
        await s.flush()
        await campaign_service.store_remote(
            s, coalition, ap_id=f"{remote.base}/campaigns/abc_123", name={"de": "Meere"}, summary={},
            content={"de": "<p>Text</p>"}, kit=[], url="javascript:alert(1)", published=None)
    ngo = await signed_in(make_browser, "ngo_admin")
    mine = await ngo.get("/orgs/ngo/coalitions")
    assert "Meere" in mine.text and "javascript:" not in mine.text
    assert f'href="{remote.base}/campaigns/abc_123"' in mine.text
    # The token's underscore is no LIKE wildcard: another id does not match.
    assert (await ngo.get("/orgs/ngo/campaigns/abcX123/adapt")).status == 404
    status, body, location = await adapt(ngo, node, "/campaigns/abc_123", VARIANT_TEXTS)
    assert status == 303, body[:300]
    async with node.rt.sessions() as s:
        variant = await s.scalar(select(CampaignVariant))
    assert variant.language == "de" and variant.local and location == variant.ap_id
    page = await make_browser("en").get(path(node, location))
    assert page.status == 200 and "javascript:" not in page.text


async def test_campaign__the_page_lists_its_most_supported_variants_and_how_many_in_all(
        node, orgs, blue, campaign, make_browser):
    """A campaign of 250 members lists its VARIANTS_SHOWN most supported variants, not all."""
    from node.models import Actor
    from web.participation.campaigns import VARIANTS_SHOWN

    total = VARIANTS_SHOWN + 3
    async with transaction(node.rt.sessions) as s:
        stored = await s.scalar(select(Campaign))
        for i in range(total):
            org = Actor(ap_id=f"https://n{i}.example/actors/org", type="Organization", local=False,
                        username="org", domain=f"n{i}.example", inbox=f"https://n{i}.example/inbox")
            s.add(org)
            await s.flush()
            s.add(CampaignVariant(ap_id=f"https://n{i}.example/variants/1", campaign_id=stored.id,
                                  organization_id=org.id, local=False, language="fr",
                                  name=f"Variante numéro {i:03d}", content="<p>…</p>", support_count=i))
    page = await make_browser("en").get(campaign)
    assert page.status == 200
    listed = re.findall(r"Variante numéro (\d{3})", page.text)
    assert listed == [f"{i:03d}" for i in range(total - 1, total - 1 - VARIANTS_SHOWN, -1)]
    assert f"The {VARIANTS_SHOWN} most supported of {total} variants." in page.text
