"""Coalition pages with the real app: founding a coalition, its page (members with their nodes,
campaigns, demands, discussions), its member list (invite, Join requests, remove, roles, the last
admin), an organisation's coalitions (join, answer, leave), campaigns (texts and kit per language,
the support button), a member's variant and its support, the dashboard (SVG) and the report (HTML
with a print stylesheet, CSV and JSON whose figures are the tallies'); visibility on every path and
hostile input answered with a 4xx and its reason."""

from __future__ import annotations

import csv
import io
import json
import re
import struct
import zlib

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from node.db import transaction
from node.models import Campaign, CampaignSupport, CampaignVariant, CoalitionMember, Proposal
from node.services import actors
from node.services import campaigns as campaign_service
from node.services import coalitions as coalition_service
from node.services import proposals as proposal_service
from tests.web.conftest import PASSWORD, Browser

AS2 = "application/activity+json"
CAMPAIGN = re.compile(r"/campaigns/([A-Za-z0-9_-]+)")
VARIANT = re.compile(r"/variants/([A-Za-z0-9_-]+)")


def png(width: int = 2, height: int = 2) -> bytes:
    """A real PNG (red pixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture
async def orgs(node):
    return await people(node)


async def people(node):
    """Lyon (admin ``maire``) and Greenpeace Lyon (admin ``ngo_admin``, moderator ``ngo_modo``), the
    residents camille and dominique; passwords PASSWORD."""
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        ngo = await actors.create_organization(s, node.uris, "ngo", "Greenpeace Lyon")
        for handle, org, role in (("maire", lyon, "admin"), ("ngo_admin", ngo, "admin"),
                                  ("ngo_modo", ngo, "moderator")):
            user = await actors.create_user(s, node.uris, handle, PASSWORD, handle.title())
            await actors.add_member(s, user, org, role)
        for handle in ("camille", "dominique"):
            await actors.create_user(s, node.uris, handle, PASSWORD, handle.title())
    return lyon, ngo


async def signed_in(make_browser, handle: str, lang: str = "en") -> Browser:
    browser = make_browser(lang)
    assert (await browser.login(handle)).status == 303
    return browser


def path(node, url: str) -> str:
    assert url.startswith(node.base), url
    return url[len(node.base):]


async def found(browser: Browser, handle: str = "blue", *, founder: str = "lyon", languages=("fr", "de"),
                level: str = "public", name: str = "Coalition bleue"):
    data = {"founder": founder, "handle": handle, "name": name, "summary": "Pour les océans.",
            "visibility": level, **{f"language_{code}": "on" for code in languages}}
    return await browser.post("/coalitions/new", data)


@pytest.fixture
async def blue(node, orgs, make_browser):
    """The public coalition ``blue`` (fr, de) founded by Lyon on the web, with the NGO a member."""
    maire = await signed_in(make_browser, "maire")
    answer = await found(maire)
    assert answer.status == 303, answer.text[:500]
    async with transaction(node.rt.sessions) as s:
        coalition = await coalition_service.require(s, "blue")
        await coalition_service.invite(s, node.uris, coalition.actor, orgs[1])
        await coalition_service.answer_invite(s, node.uris, orgs[1], coalition.actor, True)
    return maire


async def member_rows(node, handle: str = "blue") -> dict[str, tuple[str, str]]:
    """{organisation: (role, state)} of the coalition's list."""
    async with node.rt.sessions() as s:
        coalition = await coalition_service.require(s, handle)
        rows = await coalition_service.members(s, coalition.actor, states=("requested", "invited", "accepted"))
        return {row.member.username: (row.role, row.state) for row in rows}


async def count(node, model, *where) -> int:
    async with node.rt.sessions() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


# -- founding and the coalition's page -------------------------------------------------------------

async def test_found__an_organisation_admin_founds_a_coalition_its_page_lists_members_and_nodes(
        node, orgs, make_browser):
    maire = await signed_in(make_browser, "maire")
    form = await maire.get("/coalitions/new")
    assert form.status == 200 and 'value="lyon"' in form.text and 'value="ngo"' not in form.text
    answer = await found(maire)
    assert answer.status == 303 and path(node, answer.location) == "/actors/blue"
    assert await member_rows(node) == {"lyon": ("admin", "accepted")}
    page = await make_browser("en").get("/actors/blue")
    assert page.status == 200
    assert "Coalition bleue" in page.text and "Ville de Lyon" in page.text
    assert f"<td>{node.uris.domain}</td>" in page.text  # the member's node
    assert "Shared demands" in page.text and "Joint discussions" in page.text
    # An AS2 request of the same id is the Group document, not this page.
    as2 = await make_browser("en").get("/actors/blue", Accept=AS2)
    assert as2.status == 200 and json.loads(as2.text)["type"] == "Group"


async def test_found__refused_to_residents_and_for_another_organisation_with_reasons(node, orgs, make_browser):
    camille = await signed_in(make_browser, "camille")
    assert (await camille.get("/coalitions/new")).status == 403
    maire = await signed_in(make_browser, "maire")
    # Founding for an organisation one does not administer: a form error, nothing written.
    answer = await found(maire, founder="ngo")
    assert answer.status == 400 and "Choose one of your organisations." in answer.text
    answer = await found(maire, handle="bad handle!")
    assert answer.status == 400 and "A handle has letters, digits and underscores" in answer.text
    answer = await found(maire, languages=())
    assert answer.status == 400 and "Choose at least one language." in answer.text
    answer = await found(maire, handle="lyon")
    assert answer.status == 409 and "This handle is already taken on this node." in answer.text
    answer = await found(maire, level="secret")
    assert answer.status == 400 and "Choose who can see the coalition." in answer.text
    answer = await found(maire, name="x" * 201)
    assert answer.status == 400 and "At most 200 characters (you wrote 201)." in answer.text
    async with node.rt.sessions() as s:
        assert await coalition_service.listed(s) == []


# -- the member list -------------------------------------------------------------------------------

async def test_members__invite_a_local_organisation_it_accepts_on_its_own_page(node, orgs, make_browser):
    maire = await signed_in(make_browser, "maire")
    await found(maire)
    page = await maire.get("/coalitions/blue/members")
    assert page.status == 200 and "Invite an organisation" in page.text
    answer = await maire.post("/coalitions/blue/members", {"action": "invite", "address": "ngo", "role": "member"})
    assert answer.status == 303 and answer.location.endswith("/coalitions/blue/members?done=invited")
    assert (await member_rows(node))["ngo"] == ("member", "invited")
    # The NGO's admin sees the invitation on its admin side and accepts it.
    ngo = await signed_in(make_browser, "ngo_admin")
    mine = await ngo.get("/orgs/ngo/coalitions")
    assert mine.status == 200 and "Coalition bleue" in mine.text and "Accept the invitation" in mine.text
    row_id = re.search(r'name="coalition" value="(\d+)"', mine.text).group(1)
    answer = await ngo.post("/orgs/ngo/coalitions", {"action": "accept", "coalition": row_id},
                            form_page="/orgs/ngo/coalitions")
    assert answer.status == 303 and answer.location.endswith("?done=joined")
    assert (await member_rows(node))["ngo"] == ("member", "accepted")
    page = await make_browser("en").get("/actors/blue")
    assert "Greenpeace Lyon" in page.text
    # Its moderator is no admin of the NGO: the organisation's coalitions are not theirs.
    modo = await signed_in(make_browser, "ngo_modo")
    assert (await modo.get("/orgs/ngo/coalitions")).status == 403


async def test_members__a_join_request_waits_for_the_admins_accept_and_refuse(node, orgs, make_browser):
    maire = await signed_in(make_browser, "maire")
    await found(maire)
    ngo = await signed_in(make_browser, "ngo_admin")
    answer = await ngo.post("/orgs/ngo/coalitions", {"action": "join", "address": "blue"},
                            form_page="/orgs/ngo/coalitions")
    assert answer.status == 303 and answer.location.endswith("?done=asked")
    assert (await member_rows(node))["ngo"] == ("member", "requested")
    page = await maire.get("/coalitions/blue/members")
    assert "Requests to join" in page.text and "Greenpeace Lyon" in page.text
    async with node.rt.sessions() as s:
        row = await s.scalar(select(CoalitionMember).where(CoalitionMember.state == "requested"))
    answer = await maire.post("/coalitions/blue/members", {"action": "reject", "member": str(row.id)})
    assert answer.status == 303 and "ngo" not in await member_rows(node)
    # Asked again, accepted this time.
    await ngo.post("/orgs/ngo/coalitions", {"action": "join", "address": f"@blue@{node.uris.domain}"},
                   form_page="/orgs/ngo/coalitions")
    async with node.rt.sessions() as s:
        row = await s.scalar(select(CoalitionMember).where(CoalitionMember.state == "requested"))
    answer = await maire.post("/coalitions/blue/members", {"action": "accept", "member": str(row.id)})
    assert answer.status == 303 and (await member_rows(node))["ngo"] == ("member", "accepted")
    # A stale answer (the row is accepted now): 404 with its reason, nothing changes.
    answer = await maire.post("/coalitions/blue/members", {"action": "accept", "member": str(row.id)})
    assert answer.status == 404 and "This request is no longer waiting." in answer.text


async def test_members__the_last_admin_cannot_leave_be_removed_or_demoted_shown_as_a_form_error(
        node, orgs, blue, make_browser):
    maire = blue
    rows = await member_rows(node)
    assert rows == {"lyon": ("admin", "accepted"), "ngo": ("member", "accepted")}
    async with node.rt.sessions() as s:
        lyon_row = await s.scalar(select(CoalitionMember).where(CoalitionMember.member_id == orgs[0].id))
        ngo_row = await s.scalar(select(CoalitionMember).where(CoalitionMember.member_id == orgs[1].id))
    for data in ({"action": "remove", "member": str(lyon_row.id)},
                 {"action": "role", "member": str(lyon_row.id), "role": "member"}):
        answer = await maire.post("/coalitions/blue/members", data)
        assert answer.status == 409, answer.text[:300]
        assert "The last admin of a coalition cannot leave it" in answer.text
        assert 'class="error-summary"' in answer.text
    # Leaving from its own admin side: the same refusal.
    mine = await maire.get("/orgs/lyon/coalitions")
    row_id = re.search(r'name="coalition" value="(\d+)"', mine.text).group(1)
    answer = await maire.post("/orgs/lyon/coalitions", {"action": "leave", "coalition": row_id},
                              form_page="/orgs/lyon/coalitions")
    assert answer.status == 409 and "The last admin of a coalition cannot leave it" in answer.text
    assert await member_rows(node) == rows
    # Once the NGO is an admin too, Lyon may step down, and the NGO may be removed by it? No: the
    # NGO is then the last admin.
    answer = await maire.post("/coalitions/blue/members", {"action": "role", "member": str(ngo_row.id),
                                                           "role": "admin"})
    assert answer.status == 303
    answer = await maire.post("/coalitions/blue/members", {"action": "role", "member": str(lyon_row.id),
                                                           "role": "member"})
    assert answer.status == 303
    assert await member_rows(node) == {"lyon": ("member", "accepted"), "ngo": ("admin", "accepted")}
    # Lyon's admin is no coalition admin any more: the member list is not theirs.
    assert (await maire.get("/coalitions/blue/members")).status == 403
    ngo = await signed_in(make_browser, "ngo_admin")
    answer = await ngo.post("/coalitions/blue/members", {"action": "remove", "member": str(lyon_row.id)})
    assert answer.status == 303 and await member_rows(node) == {"ngo": ("admin", "accepted")}


async def test_members__invite_the_members_of_a_previous_coalition(node, orgs, blue, make_browser):
    maire = blue
    assert (await found(maire, "onvote", name="On Vote")).status == 303
    page = await maire.get("/coalitions/onvote/members")
    assert "Invite the members of a previous coalition" in page.text and 'value="blue"' in page.text
    answer = await maire.post("/coalitions/onvote/members", {"action": "invite_from", "previous": "blue"})
    assert answer.status == 303
    assert (await member_rows(node, "onvote"))["ngo"] == ("member", "invited")
    answer = await maire.post("/coalitions/onvote/members", {"action": "invite_from", "previous": "nope"})
    assert answer.status == 404 and "Choose a previous coalition." in answer.text


async def test_members__hostile_input_gets_a_4xx_with_its_reason(node, orgs, blue, make_browser):
    maire = blue
    for data, status, reason in (
            ({"action": "explode"}, 400, "Choose what to do."),
            ({"action": "invite", "address": ""}, 400, "Give an address."),
            ({"action": "invite", "address": "nobody_here"}, 400, "No organisation was found at this address."),
            ({"action": "invite", "address": "camille"}, 400, "Only organisations can be members of a coalition."),
            ({"action": "invite", "address": "blue"}, 400, "Only organisations can be members of a coalition."),
            ({"action": "invite", "address": "ngo", "role": "emperor"}, 400, "Choose a role."),
            ({"action": "invite", "address": "x" * 3000}, 400, "At most 2,048 characters"),
            ({"action": "invite", "address": "@a@b@c"}, 400, "No organisation was found at this address."),
            ({"action": "remove", "member": "99999"}, 404, "This organisation is no longer in the list."),
            ({"action": "remove", "member": "-1"}, 404, "This organisation is no longer in the list."),
            ({"action": "role", "member": "1e9", "role": "admin"}, 404, "This organisation is no longer in the list.")):
        answer = await maire.post("/coalitions/blue/members", data)
        assert answer.status == status, (data, answer.status, answer.text[:300])
        assert reason in answer.text, (data, answer.text[:500])
    # Without a CSRF token: 403; a resident: 403; anonymous: sent to log in.
    answer = await maire.post("/coalitions/blue/members", {"action": "invite", "address": "ngo"}, csrf=False)
    assert answer.status == 403
    camille = await signed_in(make_browser, "camille")
    answer = await camille.post("/coalitions/blue/members", {"action": "invite", "address": "ngo"},
                                form_page="/actors/blue")
    assert answer.status == 403
    assert (await make_browser("en").get("/coalitions/blue/members")).status == 303
    assert (await maire.get("/coalitions/nothing/members")).status == 404
    assert (await maire.get("/coalitions/lyon/members")).status == 404  # an organisation, not a coalition


# -- campaigns -------------------------------------------------------------------------------------

CAMPAIGN_TEXTS = {
    "name_fr": "Océans propres", "summary_fr": "Des plages sans plastique.",
    "content_fr": "Nous demandons la fin des plastiques jetables.", "message_fr": "Signez pour des océans propres !",
    "alt_fr": "Une vague bleue",
    "name_de": "Saubere Meere", "summary_de": "Strände ohne Plastik.",
    "content_de": "Wir fordern das Ende von Einwegplastik.", "message_de": "Unterschreiben Sie für saubere Meere!",
    "alt_de": "Eine blaue Welle",
}


async def multipart(browser: Browser, node, url: str, fields: dict, files: dict[str, bytes], *,
                    form_page: str) -> tuple[int, str, str]:
    form = aiohttp.FormData()
    form.add_field("csrf_token", (await browser.get(form_page)).csrf)
    for name, value in fields.items():
        form.add_field(name, value)
    for name, data in files.items():
        form.add_field(name, data, filename="visual.png", content_type="image/png")
    async with browser.session.post(node.base + url, data=form, allow_redirects=False) as r:
        return r.status, await r.text(), r.headers.get("Location", "")


NEW_CAMPAIGN = "/coalitions/blue/campaigns/new"


async def create_campaign(browser: Browser, node, fields: dict | None = None,
                          files: dict[str, bytes] | None = None) -> tuple[int, str, str]:
    files = {"visual_fr": png(), "visual_de": png(3, 3)} if files is None else files
    return await multipart(browser, node, NEW_CAMPAIGN, CAMPAIGN_TEXTS if fields is None else fields, files,
                           form_page=NEW_CAMPAIGN)


@pytest.fixture
async def campaign(node, blue) -> str:
    """The path of the coalition's campaign ``Océans propres`` (fr, de), made on the web."""
    status, body, location = await create_campaign(blue, node)
    assert status == 303, body[:500]
    return path(node, location)


async def the_campaign(node) -> Campaign:
    async with node.rt.sessions() as s:
        return await s.scalar(select(Campaign))


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

async def adapt(browser: Browser, node, campaign: str, fields: dict, files: dict | None = None, org: str = "ngo"):
    url = f"/orgs/{org}/campaigns/{campaign.rsplit('/', 1)[1]}/adapt"
    return await multipart(browser, node, url, fields, files or {}, form_page=url)


VARIANT_TEXTS = {"language": "de", "title": "Greenpeace für saubere Meere",
                 "text": "Unsere Mitglieder unterstützen die Kampagne."}


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


# -- the dashboard and the report ------------------------------------------------------------------

async def supported_scenario(node, orgs, blue, campaign, make_browser) -> str:
    """The NGO's German variant supported by dominique; camille supports the campaign itself in
    French; a shared demand of the coalition with one support. Returns the variant's path."""
    ngo = await signed_in(make_browser, "ngo_admin")
    _status, _body, location = await adapt(ngo, node, campaign, VARIANT_TEXTS)
    variant_path = path(node, location)
    dominique = await signed_in(make_browser, "dominique")
    await dominique.post(variant_path + "/support", {}, form_page=variant_path)
    camille = await signed_in(make_browser, "camille", "fr")
    await camille.post(campaign + "/support", {"language": "fr"}, form_page=campaign)
    await node.step()
    async with transaction(node.rt.sessions) as s:
        coalition = await coalition_service.require(s, "blue")
        author = await actors.require_local_actor(s, "camille")
        demand = await proposal_service.create(s, node.uris, coalition.actor, author, "Interdire le plastique",
                                               "<p>Partout en Europe.</p>", publish=True)
        supporter = await actors.require_local_actor(s, "dominique")
        await proposal_service.support(s, node.uris, demand, supporter)
    return variant_path


async def test_report__csv_and_json_figures_equal_the_tallies_and_the_page_prints(
        node, orgs, blue, campaign, make_browser):
    await supported_scenario(node, orgs, blue, campaign, make_browser)
    async with node.rt.sessions() as s:
        stored = await s.scalar(select(Campaign))
        shares = await campaign_service.breakdown(s, stored)
        total = await campaign_service.total(s, stored)
    expected = {((share.member.ap_id if share.member else ""), share.language): share.supports for share in shares}
    assert expected == {(orgs[1].ap_id, "de"): 1, ("", "fr"): 1} and total == stored.support_count == 2
    visitor = make_browser("en")
    answer = await visitor.get("/coalitions/blue/report.json")
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("application/json")
    assert answer.headers["Content-Disposition"] == 'attachment; filename="blue-report.json"'
    assert "no-store" not in answer.headers.get("Cache-Control", "")  # a public coalition
    data = json.loads(answer.text)
    [reported] = data["campaigns"]
    assert reported["supports"] == 2 and data["totals"]["supports"] == 2
    assert {((b["member"] or {}).get("id", ""), b["language"]): b["supports"] for b in reported["breakdown"]} == expected
    assert reported["per_language"] == {"de": 1, "fr": 1} and reported["variants"] == 1
    assert data["demands"][0]["title"] == "Interdire le plastique" and data["demands"][0]["supports"] == 1
    answer = await visitor.get("/coalitions/blue/report.csv")
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/csv")
    assert answer.headers["Content-Disposition"] == 'attachment; filename="blue-report.csv"'
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    breakdown = {(r["member_id"], r["language"]): int(r["supports"]) for r in rows if r["section"] == "breakdown"}
    assert breakdown == expected
    assert [int(r["supports"]) for r in rows if r["section"] == "campaign"] == [2]
    assert [(r["demand"], r["supports"]) for r in rows if r["section"] == "demand"] == [("Interdire le plastique", "1")]
    # The printable page: the same figures, a print stylesheet, links to both files.
    page = await visitor.get("/coalitions/blue/report")
    assert page.status == 200
    assert '<link rel="stylesheet" href="/static/coalitions.css">' in page.text
    assert '<dd id="report-supports">2</dd>' in page.text and '<dd id="report-members">2</dd>' in page.text
    assert "Greenpeace Lyon" in page.text and "Interdire le plastique" in page.text
    assert "/coalitions/blue/report.csv" in page.text and "/coalitions/blue/report.json" in page.text
    css = await visitor.get("/static/coalitions.css")
    assert css.status == 200 and "@media print" in css.text


async def test_dashboard__members_posts_breakdown_and_growth_as_svg(node, orgs, blue, campaign, make_browser):
    await supported_scenario(node, orgs, blue, campaign, make_browser)
    page = await blue.get("/coalitions/blue/dashboard")
    assert page.status == 200
    assert '<span class="number" id="total-members">2</span>' in page.text
    assert '<span class="number" id="total-posts">2</span>' in page.text  # the campaign and one variant
    assert '<span class="number" id="total-supports">2</span>' in page.text
    assert page.text.count('<svg xmlns="http://www.w3.org/2000/svg"') == 2
    assert 'role="img"' in page.text and "Supports over time" in page.text
    per_member = re.search(r'<table class="figures-table" id="per-member">(.*?)</table>', page.text, re.S).group(1)
    assert "Greenpeace Lyon" in per_member and "The campaign itself (no member)" in per_member
    per_language = re.search(r'<table class="figures-table" id="per-language">(.*?)</table>', page.text, re.S).group(1)
    assert "Deutsch" in per_language or "German" in per_language


# -- visibility: a ``members`` coalition leaks on no path ------------------------------------------

async def test_visibility__a_members_coalition_shows_nothing_to_outsiders_on_any_path(
        node, orgs, make_browser):
    maire = await signed_in(make_browser, "maire")
    assert (await found(maire, "secret", name="Coalition secrète", level="members")).status == 303
    status, body, location = await multipart(
        maire, node, "/coalitions/secret/campaigns/new",
        {"name_fr": "Campagne cachée", "content_fr": "Texte caché", "message_fr": "Message caché"}, {},
        form_page="/coalitions/secret/campaigns/new")
    assert status == 303, body[:300]
    campaign_path = path(node, location)
    async with transaction(node.rt.sessions) as s:
        coalition = await coalition_service.require(s, "secret")
        author = await actors.require_local_actor(s, "maire")
        await proposal_service.create(s, node.uris, coalition.actor, author, "Demande cachée", "<p>Cachée.</p>",
                                      publish=True)
    paths = ("/actors/secret", campaign_path, "/coalitions/secret/report", "/coalitions/secret/report.csv",
             "/coalitions/secret/report.json", "/coalitions/secret/dashboard", "/orgs/secret/proposals",
             "/orgs/secret/theme.css")
    anonymous = make_browser("en")
    camille = await signed_in(make_browser, "camille")
    for visitor in (anonymous, camille):
        for url in paths:
            answer = await visitor.get(url)
            assert answer.status == 404, (url, answer.status)
            for secret in ("Coalition secrète", "Campagne cachée", "Demande cachée", "Message caché"):
                assert secret not in answer.text, (url, secret)
        assert (await visitor.get(campaign_path, Accept=AS2)).status == 404
        assert "Coalition secrète" not in (await visitor.get("/")).text
    # The founder's admin reads everything; the report files are not to be kept by caches.
    for url in paths:
        assert (await maire.get(url)).status == 200, url
    for url in ("/coalitions/secret/report.csv", "/coalitions/secret/report.json", "/coalitions/secret/report"):
        assert (await maire.get(url)).headers["Cache-Control"] == "no-store"
    # The staff of a member organisation read it; the report and dashboard stay its admins'.
    async with transaction(node.rt.sessions) as s:
        coalition = await coalition_service.require(s, "secret")
        await coalition_service.invite(s, node.uris, coalition.actor, orgs[1])
        await coalition_service.answer_invite(s, node.uris, orgs[1], coalition.actor, True)
    modo = await signed_in(make_browser, "ngo_modo")
    assert (await modo.get("/actors/secret")).status == 200
    assert (await modo.get(campaign_path)).status == 200
    assert (await modo.get("/coalitions/secret/report.csv")).status == 403
    assert (await modo.get("/coalitions/secret/dashboard")).status == 403
    # A Like-free visitor cannot support what it cannot read.
    answer = await camille.post(campaign_path + "/support", {}, form_page="/actors/lyon")
    assert answer.status == 404
    assert await count(node, CampaignSupport) == 0


async def test_visibility__a_public_coalitions_report_is_everyones_its_member_list_its_admins(
        node, orgs, blue, make_browser):
    anonymous = make_browser("en")
    assert (await anonymous.get("/coalitions/blue/report")).status == 200
    assert (await anonymous.get("/coalitions/blue/dashboard")).status == 200
    assert (await anonymous.get("/coalitions/blue/members")).status == 303  # to log in
    camille = await signed_in(make_browser, "camille")
    assert (await camille.get("/coalitions/blue/members")).status == 403


async def test_shared_demands_and_the_organisation_loader_accept_a_coalition(node, orgs, blue, make_browser):
    maire = blue
    form = await maire.get("/orgs/blue/proposals/new")
    assert form.status == 200
    answer = await maire.post("/orgs/blue/proposals/new", {"title": "Une demande commune",
                                                           "body": "Pour toutes les villes.", "action": "publish"})
    assert answer.status == 303
    async with node.rt.sessions() as s:
        demand = await s.scalar(select(Proposal))
        coalition = await coalition_service.require(s, "blue")
    assert demand.organization_id == coalition.actor_id
    page = await make_browser("en").get("/actors/blue")
    assert "Une demande commune" in page.text
    assert "Une demande commune" in (await make_browser("en").get("/orgs/blue/proposals")).text
    # The organisation pages that are an organisation's only keep it out.
    assert (await maire.get("/orgs/blue/coalitions")).status == 404


# -- hostile input, fuzzed --------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(fields=st.dictionaries(st.sampled_from(["action", "address", "role", "member", "previous",
                                               "coalition", "founder", "handle", "name", "visibility",
                                               "language_fr", "language"]), TEXT, max_size=6))
async def test_fuzz__member_and_founding_forms_answer_4xx_or_a_redirect_never_a_500(node, orgs, blue, fields):
    for url in ("/coalitions/blue/members", "/orgs/ngo/coalitions", "/coalitions/new"):
        answer = await blue.post(url, fields, form_page="/coalitions/new")
        assert answer.status in (303, 400, 403, 404, 409, 413), (url, fields, answer.status, answer.text[:300])
        assert "Traceback" not in answer.text
    assert (await member_rows(node))["lyon"] == ("admin", "accepted")


async def test_organisation_page__lists_the_coalitions_it_is_in_as_their_visibility_lists_them(
        node, orgs, blue, make_browser):
    maire = blue
    assert (await found(maire, "secret", name="Coalition secrète", level="members")).status == 303
    page = await make_browser("en").get("/actors/lyon")
    assert 'id="coalitions"' in page.text and "Coalition bleue" in page.text
    assert "Coalition secrète" not in page.text
    assert "Coalition secrète" in (await maire.get("/actors/lyon")).text  # its admin is a member
    assert "Coalition bleue" in (await make_browser("en").get("/actors/ngo")).text
    # The admin side links to the organisation's coalitions.
    assert "/orgs/lyon/coalitions" in (await maire.get("/orgs/lyon/admin/profile")).text


# -- organisations and coalitions elsewhere --------------------------------------------------------

async def test_remote__invite_an_organisation_by_its_address_and_join_a_coalition_elsewhere(
        node, orgs, blue, remote, make_browser):
    maire = blue
    elsewhere = remote.add_actor("greenpeace", "Organization")
    person = remote.add_actor("alice")
    answer = await maire.post("/coalitions/blue/members", {"action": "invite", "address": elsewhere.ap_id})
    assert answer.status == 303, answer.text[:300]
    assert (await member_rows(node))["greenpeace"] == ("member", "invited")
    page = await maire.get("/coalitions/blue/members")
    assert f"({remote.host}:{remote.port})" in page.text  # its node
    answer = await maire.post("/coalitions/blue/members", {"action": "invite", "address": person.ap_id})
    assert answer.status == 400 and "Only organisations can be members of a coalition." in answer.text
    answer = await maire.post("/coalitions/blue/members",
                              {"action": "invite", "address": f"{remote.base}/users/nobody"})
    assert answer.status == 400 and "No organisation was found at this address." in answer.text
    await node.step()
    invites = [doc for doc in remote.received if doc.get("type") == "Invite"]
    assert invites and invites[0]["target"] == elsewhere.ap_id
    # The NGO asks to join a coalition hosted elsewhere: its membership waits, a Join goes out.
    home = remote.add_actor("oceans", "Group")
    ngo = await signed_in(make_browser, "ngo_admin")
    answer = await ngo.post("/orgs/ngo/coalitions", {"action": "join", "address": home.ap_id},
                            form_page="/orgs/ngo/coalitions")
    assert answer.status == 303 and answer.location.endswith("?done=asked")
    mine = await ngo.get("/orgs/ngo/coalitions")
    assert "Oceans" in mine.text and "Asked to join" in mine.text and "Withdraw the request" in mine.text
    await node.step()
    joins = [doc for doc in remote.received if doc.get("type") == "Join"]
    assert joins and joins[0]["object"] == home.ap_id and joins[0]["actor"] == orgs[1].ap_id
    # A person is no coalition.
    answer = await ngo.post("/orgs/ngo/coalitions", {"action": "join", "address": person.ap_id},
                            form_page="/orgs/ngo/coalitions")
    assert answer.status == 400 and "No coalition was found at this address." in answer.text


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


async def test_joint_discussions__the_coalitions_admins_open_one_on_the_organisation_screens(
        node, orgs, blue, make_browser):
    maire = blue
    assert (await maire.get("/orgs/blue/admin")).status == 200
    assert (await maire.get("/orgs/blue/admin/discussions")).status == 200
    answer = await maire.post("/orgs/blue/admin/discussions",
                              {"slug": "plastique", "visibility": "public", "title_fr": "Moins de plastique",
                               "summary_fr": "Discutons-en ensemble.", "body_fr": "Quelles mesures ?"},
                              form_page="/orgs/blue/admin/discussions")
    assert answer.status == 303, answer.text[:500]
    page = await make_browser("en").get("/actors/blue")
    assert "Moins de plastique" in page.text
    discussion = await make_browser("en").get("/orgs/blue/discussions/plastique")
    assert discussion.status == 200 and "Moins de plastique" in discussion.text
    # The NGO's admin is a coalition member's staff: a member, not an admin of the coalition.
    ngo = await signed_in(make_browser, "ngo_admin")
    assert (await ngo.get("/orgs/blue/admin/discussions")).status in (403, 404)
    assert "/orgs/blue/admin" in (await maire.get("/actors/blue")).text
    assert "/coalitions/blue/members" in (await maire.get("/orgs/blue/admin")).text


def test_growth_series__from_the_eve_of_the_first_support_to_today_zeros_included_and_bounded():
    from datetime import date, timedelta

    from web.participation.campaigns import GROWTH_DAYS, cumulative, daily_series

    today = date(2026, 12, 6)
    assert daily_series({}, today) == []
    series = daily_series({today - timedelta(days=2): 3, today: 1}, today)
    assert series == [(today - timedelta(days=3), 0), (today - timedelta(days=2), 3),
                      (today - timedelta(days=1), 0), (today, 1)]
    assert cumulative(series) == [(today - timedelta(days=3), 0), (today - timedelta(days=2), 3),
                                  (today - timedelta(days=1), 3), (today, 4)]
    old = daily_series({today - timedelta(days=1000): 5, today: 1}, today)
    assert len(old) == GROWTH_DAYS and old[-1] == (today, 1)


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
