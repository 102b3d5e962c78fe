"""Coalition membership across nodes (FEDERATION.md "Coalitions and campaigns"): in-process Civic Nodes on their
own loopback addresses — the coalition's home and a member organisation's node — whose Joins,
Invites, Leaves, Removes and answers are really POSTed, signed and verified between them."""

from __future__ import annotations

import itertools
import os

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from federation.resolve import resolve_actor, resolve_coalition, resolve_organisation
from federation.signatures import sign_headers
from node.db import transaction
from node.errors import Conflict, InvalidInput
from node.models import Actor, CoalitionMember, Delivery, Follow, FollowStates, InboxActivity
from node.services import actors, coalitions, moderation

AS = "https://www.w3.org/ns/activitystreams"


# -- the scene ----------------------------------------------------------------------------------

async def _step_all(*nodes):
    for _ in range(4):
        for n in nodes:
            await n.step()


async def _scene(node_factory, home_host: str, member_host: str, visibility: str = "public"):
    """The home (surfrider founds the coalition ``blue``) and a member node (the city ``nice``)."""
    home = await node_factory(home_host)
    member = await node_factory(member_host)
    async with transaction(home.rt.sessions) as s:
        founder = await actors.create_organization(s, home.uris, "surfrider", "Surfrider")
        await coalitions.create(s, home.uris, "blue", "Blue Coalition", founder=founder,
                                languages=("fr", "de"), visibility_level=visibility)
    async with transaction(member.rt.sessions) as s:
        await actors.create_organization(s, member.uris, "nice", "Ville de Nice")
    return home, member


async def _remote(node, url: str) -> Actor:
    return await resolve_actor(node.rt, url)


async def _rows(node) -> list[tuple[str, str, str, str]]:
    """(coalition, organisation, role, state) of every coalition_members row on a node."""
    async with node.rt.sessions() as s:
        rows = await s.scalars(select(CoalitionMember).order_by(CoalitionMember.id))
        out = []
        for row in rows:
            coalition = await s.get(Actor, row.coalition_id)
            out.append((coalition.username, row.member.username, row.role, row.state))
        return out


async def _outcomes(node, kind: str) -> list[tuple[str, str | None]]:
    async with node.rt.sessions() as s:
        rows = await s.scalars(select(InboxActivity).where(InboxActivity.type == kind)
                               .order_by(InboxActivity.id))
        return [(row.state, row.error) for row in rows]


async def _join(home, member) -> None:
    """nice (on the member node) asks to join blue (on the home), and the request arrives."""
    blue = await _remote(member, f"{home.base}/actors/blue")
    async with transaction(member.rt.sessions) as s:
        nice = await actors.require_local_actor(s, "nice")
        await coalitions.request_join(s, member.uris, nice, await s.merge(blue))
    await _step_all(member, home)


async def _home_row(home, org_ap_id: str) -> CoalitionMember | None:
    async with home.rt.sessions() as s:
        org = await s.scalar(select(Actor).where(Actor.ap_id == org_ap_id))
        blue = await actors.require_local_actor(s, "blue")
        return await coalitions.membership(s, blue, org) if org else None


async def _get(url: str, signer: tuple[str, str] | None = None) -> tuple[int, dict]:
    headers = {"Accept": "application/activity+json"}
    if signer is not None:
        headers.update(sign_headers("GET", url, None, *signer))
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers=headers) as response:
            return response.status, await response.json(content_type=None)


def _members(doc: dict) -> list[tuple[str, str]]:
    return [(item["actor"].rsplit("/", 1)[1], item["role"]) for item in doc["orderedItems"]]


# -- Join ---------------------------------------------------------------------------------------

async def test_coalition__a_join_accepted_both_nodes_agree(node_factory):
    home, member = await _scene(node_factory, "127.0.0.41", "127.0.0.42")
    await _join(home, member)
    nice_id = f"{member.base}/actors/nice"
    assert await _rows(member) == [("blue", "nice", "member", "requested")]
    assert ("blue", "nice", "member", "requested") in await _rows(home)
    assert await _outcomes(home, "Join") == [("processed", "join requested")]

    async with transaction(home.rt.sessions) as s:
        await coalitions.accept(s, await s.merge(await _home_row(home, nice_id)))
    await _step_all(home, member)

    assert await _rows(member) == [("blue", "nice", "member", "accepted")]
    assert ("blue", "nice", "member", "accepted") in await _rows(home)
    assert await _outcomes(member, "Accept") == [("processed", "join accepted")]
    status, doc = await _get(f"{home.base}/actors/blue/members")
    assert status == 200 and _members(doc) == [("surfrider", "admin"), ("nice", "member")]
    assert doc["orderedItems"][1]["object"] == f"{home.base}/actors/blue"


async def test_coalition__a_join_refused_the_member_nodes_row_goes(node_factory):
    home, member = await _scene(node_factory, "127.0.0.43", "127.0.0.44")
    await _join(home, member)
    async with transaction(home.rt.sessions) as s:
        await coalitions.reject(s, await s.merge(await _home_row(home, f"{member.base}/actors/nice")))
    await _step_all(home, member)

    assert await _rows(member) == []
    assert await _rows(home) == [("blue", "surfrider", "admin", "accepted")]
    assert await _outcomes(member, "Reject") == [("processed", "join refused")]
    status, doc = await _get(f"{home.base}/actors/blue/members")
    assert _members(doc) == [("surfrider", "admin")]


async def test_coalition__a_join_from_a_blocked_domain_is_refused_at_the_inbox(node_factory):
    home, member = await _scene(node_factory, "127.0.0.45", "127.0.0.46")
    blue = await _remote(member, f"{home.base}/actors/blue")  # fetched before the block
    async with transaction(home.rt.sessions) as s:
        await moderation.block_domain(s, "127.0.0.46")
        home.rt.blocked_domains = await moderation.blocked_domains(s)
    async with transaction(member.rt.sessions) as s:
        nice = await actors.require_local_actor(s, "nice")
        await coalitions.request_join(s, member.uris, nice, await s.merge(blue))
    await _step_all(member, home)

    async with member.rt.sessions() as s:
        statuses = list(await s.scalars(select(Delivery.last_status)))
    assert statuses == [403]
    assert await _outcomes(home, "Join") == []  # never stored, never handled
    assert await _rows(home) == [("blue", "surfrider", "admin", "accepted")]


async def test_coalition__a_join_signed_by_someone_else_is_refused(node_factory, remote):
    home, _member = await _scene(node_factory, "127.0.0.47", "127.0.0.48")
    ngo = remote.add_actor("ngo", "Organization")
    mallory = remote.add_actor("mallory", "Organization")
    join = {"@context": AS, "id": f"{ngo.ap_id}/join/1", "type": "Join", "actor": ngo.ap_id,
            "object": f"{home.base}/actors/blue"}
    status, body = await remote.post(f"{home.base}/actors/blue/inbox", join, ngo, key=mallory)
    assert status == 401 and "actor" in body["error"]
    await home.step()
    assert await _outcomes(home, "Join") == []
    assert await _rows(home) == [("blue", "surfrider", "admin", "accepted")]


async def test_coalition__a_join_by_a_person_is_ignored_with_its_reason(node_factory, remote):
    home, _member = await _scene(node_factory, "127.0.0.49", "127.0.0.50")
    alice = remote.add_actor("alice")  # a Person
    join = {"@context": AS, "id": f"{alice.ap_id}/join/1", "type": "Join", "actor": alice.ap_id,
            "object": f"{home.base}/actors/blue"}
    assert (await remote.post(f"{home.base}/actors/blue/inbox", join, alice))[0] == 202
    ngo = remote.add_actor("ngo", "Organization")
    surfrider = {**join, "id": f"{ngo.ap_id}/join/2", "actor": ngo.ap_id,
                 "object": f"{home.base}/actors/surfrider"}  # an organisation, not a coalition
    assert (await remote.post(f"{home.base}/inbox", surfrider, ngo))[0] == 202
    await home.step()
    assert await _outcomes(home, "Join") == [
        ("processed", "ignored: only organisations can be members of a coalition"),
        ("processed", "ignored: the Join is not for a coalition of this node")]
    assert await _rows(home) == [("blue", "surfrider", "admin", "accepted")]


# -- Invite -------------------------------------------------------------------------------------

async def _invite(home, member, role: str = "member") -> None:
    nice = await _remote(home, f"{member.base}/actors/nice")
    async with transaction(home.rt.sessions) as s:
        blue = await actors.require_local_actor(s, "blue")
        await coalitions.invite(s, home.uris, blue, await s.merge(nice), role)
    await _step_all(home, member)


async def _answer(member, home, accept: bool) -> None:
    async with transaction(member.rt.sessions) as s:
        nice = await actors.require_local_actor(s, "nice")
        blue = await s.scalar(select(Actor).where(Actor.ap_id == f"{home.base}/actors/blue"))
        await coalitions.answer_invite(s, member.uris, nice, blue, accept)
    await _step_all(member, home)


async def test_coalition__an_invite_declined_the_homes_row_goes(node_factory):
    home, member = await _scene(node_factory, "127.0.0.51", "127.0.0.52")
    await _invite(home, member)
    assert await _rows(member) == [("blue", "nice", "member", "invited")]
    assert await _outcomes(member, "Invite") == [
        ("processed", "invitation waiting for the organisation's admins")]
    assert ("blue", "nice", "member", "invited") in await _rows(home)

    await _answer(member, home, False)
    assert await _rows(member) == []
    assert await _rows(home) == [("blue", "surfrider", "admin", "accepted")]
    assert await _outcomes(home, "Reject") == [("processed", "invitation declined")]


async def test_coalition__an_invite_accepted_both_nodes_agree(node_factory):
    home, member = await _scene(node_factory, "127.0.0.53", "127.0.0.54")
    await _invite(home, member)
    await _answer(member, home, True)
    assert await _rows(member) == [("blue", "nice", "member", "accepted")]
    assert ("blue", "nice", "member", "accepted") in await _rows(home)
    assert await _outcomes(home, "Accept") == [("processed", "invitation accepted")]
    _status, doc = await _get(f"{home.base}/actors/blue/members")
    assert _members(doc) == [("surfrider", "admin"), ("nice", "member")]


async def test_coalition__a_returning_member_is_invited_from_a_previous_coalition(node_factory):
    """On Vote after Vote Anyway: blue's members are invited to a new coalition on the same home;
    the member node hears the Invite and accepting it makes it a member of both."""
    home, member = await _scene(node_factory, "127.0.0.73", "127.0.0.74")
    await _invite(home, member)
    await _answer(member, home, True)
    async with transaction(home.rt.sessions) as s:
        surfrider = await actors.require_local_actor(s, "surfrider")
        onvote = await coalitions.create(s, home.uris, "onvote", "On Vote", founder=surfrider)
        blue = await actors.require_local_actor(s, "blue")
        invited = await coalitions.invite_from(s, home.uris, onvote.actor, blue)
        nice = await s.scalar(select(Actor).where(Actor.ap_id == f"{member.base}/actors/nice"))
        assert [row.member_id for row in invited] == [nice.id]
    await _step_all(home, member)
    assert ("onvote", "nice", "member", "invited") in await _rows(member)

    async with transaction(member.rt.sessions) as s:
        nice = await actors.require_local_actor(s, "nice")
        onvote = await s.scalar(select(Actor).where(Actor.ap_id == f"{home.base}/actors/onvote"))
        await coalitions.answer_invite(s, member.uris, nice, onvote, True)
    await _step_all(member, home)
    assert sorted(await _rows(member)) == [("blue", "nice", "member", "accepted"),
                                           ("onvote", "nice", "member", "accepted")]
    _status, doc = await _get(f"{home.base}/actors/onvote/members")
    assert _members(doc) == [("surfrider", "admin"), ("nice", "member")]


# -- Leave and Remove ---------------------------------------------------------------------------

async def test_coalition__the_last_admin_leaving_is_refused_and_keeps_its_membership(node_factory):
    """nice becomes the coalition's only admin; its Leave is refused on the home (Reject{Leave}),
    and its node, which dropped the membership when it sent the Leave, keeps it again."""
    home, member = await _scene(node_factory, "127.0.0.55", "127.0.0.56")
    await _invite(home, member, role="admin")
    await _answer(member, home, True)
    async with transaction(home.rt.sessions) as s:
        blue = await actors.require_local_actor(s, "blue")
        surfrider = await actors.require_local_actor(s, "surfrider")
        await coalitions.set_role(s, blue, surfrider, "member")
        nice = await s.scalar(select(Actor).where(Actor.ap_id == f"{member.base}/actors/nice"))
        with pytest.raises(Conflict, match="last admin"):  # the service refuses it too
            await coalitions.remove(s, blue, nice)

    async with transaction(member.rt.sessions) as s:
        nice = await actors.require_local_actor(s, "nice")
        blue = await s.scalar(select(Actor).where(Actor.ap_id == f"{home.base}/actors/blue"))
        await coalitions.leave(s, member.uris, nice, blue)
    assert await _rows(member) == []
    await _step_all(member, home)

    assert await _outcomes(home, "Leave") == [("processed", f"leave refused: {coalitions.LAST_ADMIN}")]
    assert ("blue", "nice", "admin", "accepted") in await _rows(home)
    assert await _outcomes(member, "Reject") == [
        ("processed", "leave refused by the coalition: still a member (its last admin)")]
    assert await _rows(member) == [("blue", "nice", "admin", "accepted")]


async def test_coalition__a_member_leaving_goes_on_both_nodes(node_factory):
    home, member = await _scene(node_factory, "127.0.0.57", "127.0.0.58")
    await _invite(home, member)
    await _answer(member, home, True)
    async with transaction(member.rt.sessions) as s:
        nice = await actors.require_local_actor(s, "nice")
        blue = await s.scalar(select(Actor).where(Actor.ap_id == f"{home.base}/actors/blue"))
        await coalitions.leave(s, member.uris, nice, blue)
    await _step_all(member, home)
    assert await _outcomes(home, "Leave") == [("processed", "left")]
    assert await _rows(home) == [("blue", "surfrider", "admin", "accepted")]
    assert await _rows(member) == []


async def test_coalition__a_member_removed_goes_on_its_node_and_from_the_collection(node_factory):
    home, member = await _scene(node_factory, "127.0.0.59", "127.0.0.60")
    await _invite(home, member)
    await _answer(member, home, True)
    async with transaction(home.rt.sessions) as s:
        blue = await actors.require_local_actor(s, "blue")
        nice = await s.scalar(select(Actor).where(Actor.ap_id == f"{member.base}/actors/nice"))
        await coalitions.remove(s, blue, nice)
    await _step_all(home, member)

    assert await _rows(member) == []
    assert await _outcomes(member, "Remove") == [("processed", "removed from the coalition")]
    _status, doc = await _get(f"{home.base}/actors/blue/members")
    assert _members(doc) == [("surfrider", "admin")] and doc["totalItems"] == 1


async def test_coalition__invite_and_remove_from_an_actor_that_is_not_the_coalition_are_ignored(
        node_factory, remote):
    home, member = await _scene(node_factory, "127.0.0.61", "127.0.0.62")
    await _invite(home, member)
    await _answer(member, home, True)
    nice = f"{member.base}/actors/nice"
    blue = f"{home.base}/actors/blue"
    other = remote.add_actor("other", "Group")  # a group nice is not in
    alice = remote.add_actor("alice")  # a person
    sent = [
        (other, {"type": "Remove", "actor": other.ap_id, "object": nice,
                 "target": f"{other.ap_id}/members"}),
        (alice, {"type": "Invite", "actor": alice.ap_id, "object": alice.ap_id, "target": nice}),
        (other, {"type": "Invite", "actor": other.ap_id, "object": blue, "target": nice}),
        (other, {"type": "Remove", "actor": other.ap_id, "object": nice, "target": f"{blue}/members"}),
        (other, {"type": "Reject", "actor": other.ap_id,  # nice never left "other": it stays out
                 "object": {"type": "Leave", "actor": nice, "object": other.ap_id}}),
    ]
    for n, (who, doc) in enumerate(sent):
        doc = {"@context": AS, "id": f"{who.ap_id}/a/{n}", **doc}
        assert (await remote.post(f"{member.base}/inbox", doc, who))[0] == 202
    await member.step()

    assert await _outcomes(member, "Remove") == [
        ("processed", "ignored: only a coalition the organisation is in removes it"),
        ("failed", "refused: a Remove's target must be the coalition's own collection")]
    assert await _outcomes(member, "Invite") == [
        ("processed", "invitation waiting for the organisation's admins"),  # blue's own
        ("processed", "ignored: only a coalition invites to itself"),
        ("failed", "refused: an Invite's object must be the coalition that sends it")]
    assert await _outcomes(member, "Reject") == [
        ("processed", "ignored: the organisation sent no such Leave to this coalition")]
    assert await _rows(member) == [("blue", "nice", "member", "accepted")]


# -- the members collection and the coalition's document -----------------------------------------

async def _follow_as(home, remote_actor, remote) -> None:
    """``remote_actor`` follows blue and the follow is accepted."""
    follow = {"@context": AS, "id": f"{remote_actor.ap_id}/follows/1", "type": "Follow",
              "actor": remote_actor.ap_id, "object": f"{home.base}/actors/blue"}
    assert (await remote.post(f"{home.base}/actors/blue/inbox", follow, remote_actor))[0] == 202
    await home.step()
    async with transaction(home.rt.sessions) as s:
        rows = list(await s.scalars(select(Follow)))
        for row in rows:
            row.state = FollowStates.accepted
    assert rows


async def test_coalition__the_document_carries_members_and_the_coalition_flag(node_factory):
    home, _member = await _scene(node_factory, "127.0.0.63", "127.0.0.64")
    status, doc = await _get(f"{home.base}/actors/blue")
    assert status == 200
    assert doc["type"] == "Group" and doc["civic:coalition"] is True
    assert doc["members"] == f"{home.base}/actors/blue/members"
    assert {"@id": "mz:members", "@type": "@id"} in [c.get("members") for c in doc["@context"]
                                                    if isinstance(c, dict)]
    status, org = await _get(f"{home.base}/actors/surfrider")
    assert "members" not in org and "civic:coalition" not in org


async def test_coalition__followers_members_collection_answers_followers_and_members(node_factory, remote):
    home, member = await _scene(node_factory, "127.0.0.65", "127.0.0.66", visibility="followers")
    await _invite(home, member)
    await _answer(member, home, True)
    url = f"{home.base}/actors/blue/members"
    fan, stranger = remote.add_actor("fan"), remote.add_actor("stranger")
    await _follow_as(home, fan, remote)
    assert (await _get(url))[0] == 404
    assert (await _get(url, (stranger.key_id, stranger.private_pem)))[0] == 404
    status, doc = await _get(url, (fan.key_id, fan.private_pem))
    assert status == 200 and _members(doc) == [("surfrider", "admin"), ("nice", "member")]
    async with member.rt.sessions() as s:
        nice = await actors.require_local_actor(s, "nice")
        signer = (nice.key_id, nice.private_key_pem)
    assert (await _get(url, signer))[0] == 200  # a member organisation reads it, signed
    assert (await _get(f"{home.base}/actors/blue"))[0] == 200  # its actor stays fetchable


async def test_coalition__a_members_coalition_never_answers_as_as2(node_factory, remote):
    home, member = await _scene(node_factory, "127.0.0.67", "127.0.0.68", visibility="members")
    fan = remote.add_actor("fan")
    for url in (f"{home.base}/actors/blue", f"{home.base}/actors/blue/members",
                f"{home.base}/actors/blue/outbox", f"{home.base}/actors/blue/followers"):
        assert (await _get(url))[0] == 404
        assert (await _get(url, (fan.key_id, fan.private_pem)))[0] == 404
    host = home.base.split("://", 1)[1]
    assert (await _get(f"{home.base}/.well-known/webfinger?resource=acct:blue@{host}"))[0] == 404
    ngo = remote.add_actor("ngo", "Organization")
    join = {"@context": AS, "id": f"{ngo.ap_id}/join/1", "type": "Join", "actor": ngo.ap_id,
            "object": f"{home.base}/actors/blue"}
    assert (await remote.post(f"{home.base}/inbox", join, ngo))[0] == 202
    await home.step()
    assert await _outcomes(home, "Join") == [
        ("processed", "ignored: the Join is not for a coalition of this node")]
    assert await _rows(home) == [("blue", "surfrider", "admin", "accepted")]


async def test_coalition__public_members_collection_for_everyone_unknown_handles_404(node_factory):
    home, _member = await _scene(node_factory, "127.0.0.69", "127.0.0.70", visibility="unlisted")
    status, doc = await _get(f"{home.base}/actors/blue/members")
    assert status == 200 and doc["type"] == "OrderedCollection" and doc["totalItems"] == 1
    assert (await _get(f"{home.base}/actors/surfrider/members"))[0] == 404  # not a coalition
    assert (await _get(f"{home.base}/actors/nobody/members"))[0] == 404


async def test_resolve__a_coalition_or_an_organisation_by_handle_or_url(node_factory):
    """What the CLI and the web pages call to find whom to invite or which coalition to join."""
    home, member = await _scene(node_factory, "127.0.0.71", "127.0.0.72")
    blue = await resolve_coalition(member.rt, f"@blue@{home.uris.domain}")
    assert blue.ap_id == f"{home.base}/actors/blue" and not blue.local
    assert (await resolve_coalition(home.rt, f"blue@{home.uris.domain}")).local  # one of ours
    nice = await resolve_organisation(home.rt, f"{member.base}/actors/nice")
    assert nice.type == "Organization"
    with pytest.raises(InvalidInput, match="not a coalition"):
        await resolve_coalition(member.rt, f"surfrider@{home.uris.domain}")
    with pytest.raises(InvalidInput, match="not a coalition"):
        await resolve_coalition(member.rt, f"nice@{member.uris.domain}")
    with pytest.raises(InvalidInput, match="not an organisation"):
        await resolve_organisation(member.rt, f"{home.base}/actors/blue")


# -- hostile membership activities --------------------------------------------------------------

HOSTILE = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=30),
    st.sampled_from(["$blue", "$surfrider", "$ngo", "$members", "$other", "javascript:x", "http://[",
                     "", "\x00", "x" * 3000, "$blue/" + "x" * 3000, ["$blue", "$ngo"], {"id": "$blue"},
                     {"id": 7}, "Join", "Invite", "Leave", "Follow"]))
INNER = st.fixed_dictionaries({
    "type": st.sampled_from(["Join", "Invite", "Leave", "Follow", "Bogus"]) | HOSTILE,
    "actor": st.sampled_from(["$ngo", "$blue", "$other"]) | HOSTILE,
    "object": st.sampled_from(["$blue", "$ngo"]) | HOSTILE,
}, optional={"id": st.sampled_from(["$ngo/j/1", "$blue/i/1"]) | HOSTILE,
             "target": st.sampled_from(["$ngo", "$blue"]) | HOSTILE})
MEMBERSHIP = st.fixed_dictionaries({
    "type": st.sampled_from(["Join", "Leave", "Accept", "Reject", "Invite", "Remove"]),
    "actor": st.just("$ngo") | st.just(["$ngo"]) | st.just({"id": "$ngo", "type": "Organization"}),
    "object": st.sampled_from(["$blue", "$surfrider", "$ngo", "$other"]) | INNER | HOSTILE,
}, optional={"target": st.sampled_from(["$members", "$blue", "$surfrider"]) | HOSTILE,
             "to": st.just(["$blue"]) | HOSTILE})


def _filled(value, ids: dict[str, str]):
    if isinstance(value, str):
        for placeholder, real in ids.items():
            value = value.replace(placeholder, real)
        return value
    if isinstance(value, list):
        return [_filled(item, ids) for item in value]
    if isinstance(value, dict):
        return {k: _filled(v, ids) for k, v in value.items()}
    return value


@pytest.fixture
async def fuzzed(node, remote):
    """A home (blue, founded by surfrider) where the remote organisation ngo is a member."""
    async with transaction(node.rt.sessions) as s:
        founder = await actors.create_organization(s, node.uris, "surfrider", "Surfrider")
        await coalitions.create(s, node.uris, "blue", "Blue Coalition", founder=founder)
    ngo = remote.add_actor("ngo", "Organization")
    blue = f"{node.base}/actors/blue"
    join = {"@context": AS, "id": f"{ngo.ap_id}/join/0", "type": "Join", "actor": ngo.ap_id, "object": blue}
    assert (await remote.post(f"{blue}/inbox", join, ngo))[0] == 202
    await node.step()
    async with transaction(node.rt.sessions) as s:
        row = await s.scalar(select(CoalitionMember).where(CoalitionMember.state == "requested"))
        await coalitions.accept(s, row)
    await node.step()
    ids = {"$members": f"{blue}/members", "$blue": blue, "$surfrider": f"{node.base}/actors/surfrider",
           "$ngo": ngo.ap_id, "$other": f"{remote.base}/users/other"}
    return node, remote, ngo, ids, itertools.count(1)


@settings(max_examples=int(os.environ.get("CIVIC_FUZZ_EXAMPLES", "150")), deadline=None,
          derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(template=MEMBERSHIP)
async def test_coalition__hostile_membership_activities_fail_alone_with_their_reason(fuzzed, template):
    """Signed Join/Leave/Accept/Reject/Invite/Remove with hostile values: a 2xx or a 4xx, never a
    5xx; processed or failed with a reason, never an exception; and whatever they say, the signer
    touches nothing but its own membership: the founder stays the coalition's admin."""
    node, remote, ngo, ids, counter = fuzzed
    doc = {"@context": AS, "id": f"{ngo.ap_id}/fuzz/{next(counter)}", **_filled(template, ids)}
    status, answer = await remote.post(f"{node.base}/inbox", doc, ngo)
    assert 200 <= status < 300 or 400 <= status < 500, (status, answer, doc)
    await node.step()
    async with node.rt.sessions() as s:
        row = await s.scalar(select(InboxActivity).where(InboxActivity.ap_id == doc["id"]))
        members = [(r.member.ap_id, r.role, r.state)
                   for r in await s.scalars(select(CoalitionMember).order_by(CoalitionMember.id))]
    if row is not None:
        assert row.state in ("processed", "failed", "ignored"), (row.state, row.error, doc)
        assert row.error and not row.error.startswith("error:"), (row.error, doc)
    assert members[0] == (ids["$surfrider"], "admin", "accepted")
    assert {ap_id for ap_id, _role, _state in members} <= {ids["$surfrider"], ngo.ap_id}
