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
