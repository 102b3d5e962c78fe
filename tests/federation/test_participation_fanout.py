"""Participation fan-out: a discussion's Group (FEP-1b12) is followed and announces what is posted."""

from __future__ import annotations

from sqlalchemy import select

from node.db import transaction
from node.models import Contribution, Discussion, Initiative
from node.services import actors, community, contributions, discussions, follows, proposals
from tests.federation.participation_scene import (
    PUBLIC,
    contribute,
    follow_group,
    make_activity,
    mastodon_reply,
    open_scene,
    outcome_of,
    post,
    received,
)

# ---- following a discussion

async def test_group_follow__remote_follow_is_auto_accepted(node, remote):
    """A Follow of a discussion's Group is accepted at once, by the Group (FEP-1b12)."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    await follow_group(node, remote, scene, alice)
    accepts = received(remote, "Accept", scene.group)
    assert [a["object"]["id"] for a in accepts] == [f"{alice.ap_id}/follows/1"]
    async with node.rt.sessions() as s:
        group = await actors.require_local_actor(s, "lyon.clos-jouve")
        assert await discussions.follower_count(s, await discussions.by_group(s, group)) == 1


async def test_group_follow__pending_discussion_is_not_followed(node, remote):
    """A citizen discussion waiting for moderation cannot be followed (nothing is sent)."""
    async with transaction(node.rt.sessions) as s:
        org = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        amel = (await actors.create_user(s, node.uris, "amel", "password-123")).actor
        d = await discussions.open_discussion(s, node.uris, org, "jardins", "Jardins",
                                              kind="citizen", author=amel)
        group, inbox = d.group.ap_id, d.group.inbox
    alice = remote.add_actor("alice")
    follow = make_activity(alice, "Follow", 1, group)
    await post(node, remote, inbox, follow, alice)
    assert await outcome_of(node, follow["id"]) == ("processed", "ignored: this discussion cannot be followed")
    assert remote.received == []


# ---- local contributions out

async def test_fanout__local_contribution_reaches_follower_as_create_and_both_announces(node, remote):
    """The author's Create(Note), the group's Announce(Create) and Announce(<note id>) arrive."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    await follow_group(node, remote, scene, alice)
    note_id = await contribute(node, scene)
    await node.step()
    [create] = received(remote, "Create", scene.amel)
    assert create["object"]["id"] == note_id
    assert create["object"]["inReplyTo"] == scene.page
    assert create["object"]["audience"] == scene.group
    announces = received(remote, "Announce", scene.group)
    assert len(announces) == 2 and {type(a["object"]) for a in announces} == {dict, str}
    wrapped = next(a for a in announces if isinstance(a["object"], dict))
    assert wrapped["object"]["id"] == create["id"]  # FEP-1b12: the Create, unchanged
    assert wrapped["object"]["object"]["id"] == note_id
    assert next(a for a in announces if isinstance(a["object"], str))["object"] == note_id
    assert all(PUBLIC in a["to"] for a in announces)


async def test_fanout__local_delete_sends_delete_and_announced_delete(node, remote):
    """Deleting a local contribution sends its Delete and the group's Announce(Delete)."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    await follow_group(node, remote, scene, alice)
    note_id = await contribute(node, scene)
    async with transaction(node.rt.sessions) as s:
        c = await s.scalar(select(Contribution).where(Contribution.ap_id == note_id))
        await contributions.delete_contribution(s, c, federate=True)
    await node.step()
    [delete] = received(remote, "Delete", scene.amel)
    assert delete["object"] == note_id
    assert [a["object"]["id"] for a in received(remote, "Announce", scene.group)
            if isinstance(a["object"], dict) and a["object"]["type"] == "Delete"] == [delete["id"]]


async def test_fanout__local_agreement_likes_the_remote_author(node, remote):
    """amel agrees with alice's contribution: alice gets a Like, group followers Announce(Like)."""
    scene = await open_scene(node)
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
    await follow_group(node, remote, scene, bob)
    reply = mastodon_reply(alice, 1, scene.page, scene.org)
    await post(node, remote, scene.group_inbox, reply, alice)
    async with transaction(node.rt.sessions) as s:
        c = await contributions.by_ap_id(s, reply["object"]["id"])
        await contributions.agree(s, node.uris, c, await actors.require_local_actor(s, "amel"))
    await node.step()
    [like] = received(remote, "Like", scene.amel)
    assert like["object"] == reply["object"]["id"]
    relayed = [a["object"] for a in received(remote, "Announce", scene.group)
               if isinstance(a["object"], dict) and a["object"]["type"] == "Like"]
    assert [r["id"] for r in relayed] == [like["id"]]


async def test_fanout__proposal_and_official_answer_reach_organisation_followers(node, remote):
    """A published proposal is a Create(Page); its official answer a Create(Note) in reply."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    await post(node, remote, f"{scene.org}/inbox", make_activity(alice, "Follow", 1, scene.org), alice)
    async with transaction(node.rt.sessions) as s:
        org, amel = (await actors.require_local_actor(s, "lyon"), await actors.require_local_actor(s, "amel"))
        p = await proposals.create(s, node.uris, org, amel, "Des bancs", "<p>Plus de bancs</p>",
                                   discussion_id=scene.discussion_id, publish=True)
        official = await actors.user_by_username(s, "amel")
        await proposals.write_answer(s, p, "<p>Oui, au printemps</p>", user_id=official.id,
                                     state="accepted")
        await proposals.publish_answer(s, node.uris, p, by=org)
    await node.step()
    [page] = [c["object"] for c in received(remote, "Create", scene.amel)]
    assert (page["type"], page["id"], page["audience"]) == ("Page", p.ap_id, scene.group)
    [answer] = [c["object"] for c in received(remote, "Create", scene.org)
                if c["object"]["type"] == "Note"]
    assert (answer["inReplyTo"], answer["civic:officialAnswer"]) == (p.ap_id, True)


async def test_fanout__local_act_and_its_withdrawal_send_join_then_undo_join(node, remote):
    """nadia says "I acted" on an initiative, then takes it back: the group passes on her Join, then
    an Undo of that same Join, to its followers (bob)."""
    scene = await open_scene(node)
    bob = remote.add_actor("bob")
    await follow_group(node, remote, scene, bob)
    async with transaction(node.rt.sessions) as s:
        disc = await s.get(Discussion, scene.discussion_id)
        amel = await actors.require_local_actor(s, "amel")
        initiative = await community.create_initiative(s, node.uris, disc, amel, "Planter", "<p>Ensemble</p>")
        nadia = (await actors.create_user(s, node.uris, "nadia", "password-123")).actor
        assert await community.act(s, node.uris, initiative, nadia)
        nadia_id, initiative_id = nadia.ap_id, initiative.ap_id
    await node.step()
    async with transaction(node.rt.sessions) as s:
        initiative = await s.scalar(select(Initiative).where(Initiative.ap_id == initiative_id))
        assert await community.unact(s, await actors.require_local_actor(s, "nadia"), initiative=initiative)
    await node.step()
    relayed = [a["object"] for a in received(remote, "Announce", scene.group)
               if isinstance(a["object"], dict) and a["object"]["type"] in ("Join", "Undo")]
    assert [r["type"] for r in relayed] == ["Join", "Undo"]
    join, undo = relayed
    assert (join["actor"], join["object"]) == (nadia_id, initiative_id)
    assert undo["actor"] == nadia_id and undo["object"]["id"] == join["id"] and undo["object"]["type"] == "Join"


# ---- delivery by visibility level (SECURITY.md rule 24)

async def _approved_follower(node, remote, scene, actor) -> None:
    """``actor`` follows the organisation, then the followers discussion's group (only the
    organisation's approved followers may), each request approved by a moderator if it waits."""
    for n, (inbox, target, username) in enumerate(
            [(f"{scene.org}/inbox", scene.org, "lyon"),
             (scene.group_inbox, scene.group, "lyon.clos-jouve")], start=1):
        await post(node, remote, inbox, make_activity(actor, "Follow", n, target), actor)
        async with transaction(node.rt.sessions) as s:
            followed = await actors.require_local_actor(s, username)
            for follow, _ in await follows.pending_requests(s, followed):
                await follows.accept(s, follow)
        await node.step()


async def test_fanout__followers_discussion_reaches_approved_followers_without_public(node, remote):
    """A followers discussion federates: its approved group follower receives the contribution's
    Create and the group's Announce(Create), neither addressed to Public, and no Announce(<id>)
    (Mastodon would not boost it, and the note answers signed fetches of followers only)."""
    scene = await open_scene(node, visibility="followers")
    alice = remote.add_actor("alice")
    await _approved_follower(node, remote, scene, alice)
    note_id = await contribute(node, scene)
    await node.step()
    [create] = received(remote, "Create", scene.amel)
    assert create["object"]["id"] == note_id
    announces = received(remote, "Announce", scene.group)
    assert [type(a["object"]) for a in announces] == [dict]
    for doc in (create, create["object"], *announces):
        assert PUBLIC not in doc["to"] + doc["cc"]
    assert scene.group + "/followers" in announces[0]["to"]


async def test_fanout__unlisted_discussion_is_sent_with_public_in_cc_only(node, remote):
    """An unlisted discussion's contribution and the group's Announces arrive with Public in cc,
    never in to: readable by link, on no public timeline (the leak of issue 8)."""
    scene = await open_scene(node, visibility="unlisted")
    alice = remote.add_actor("alice")
    await follow_group(node, remote, scene, alice)
    await contribute(node, scene)
    await node.step()
    sent = received(remote, "Create", scene.amel) + received(remote, "Announce", scene.group)
    assert len(sent) == 3
    assert all(PUBLIC not in d["to"] and PUBLIC in d["cc"] for d in sent)
