"""Coalition pages with the real app: founding a coalition, its page (members with their nodes,
demands, discussions), its member list (invite, Join requests, remove, roles, the last admin), an
organisation's coalitions (join, answer, leave), here and elsewhere, shared demands and joint
discussions; hostile input answered with a 4xx and its reason. Campaigns and variants:
test_coalition_campaigns.py; the dashboard, the report and visibility: test_coalition_dashboard.py."""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from node.models import CoalitionMember, Proposal
from node.services import coalitions as coalition_service
from tests.web.coalition_people import (  # noqa: F401 (fixtures)
    AS2,
    TEXT,
    blue_fixture,
    found,
    member_rows,
    orgs_fixture,
    path,
    signed_in,
)

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
