"""Participation inbound: fediverse replies become contributions, Likes agree or support, Joins act.

Inbound documents are real Mastodon and Lemmy captures (tests/federation/participation_scene.py).
"""

from __future__ import annotations

from sqlalchemy import select

from node.db import transaction
from node.models import Discussion, Initiative, Proposal
from node.services import actors, community, discussions, proposals, spaces
from tests.federation.participation_scene import (
    PUBLIC,
    contribute,
    follow_group,
    lemmy_comment,
    make_activity,
    mastodon_like,
    mastodon_reply,
    mastodon_undo_like,
    open_scene,
    outcome_of,
    post,
    received,
    stored_contribution,
    thread_of,
)

# ---- remote contributions in

async def test_inbound__mastodon_reply_to_page_becomes_contribution(node, remote):
    """A Mastodon reply to the discussion page is a contribution by its author, re-announced."""
    scene = await open_scene(node)
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
    await follow_group(node, remote, scene, bob)
    reply = mastodon_reply(alice, 1, scene.page, scene.org)
    await post(node, remote, scene.org + "/inbox", reply, alice)
    assert await thread_of(node, scene) == [(alice.ap_id, [])]
    stored = await stored_contribution(node, reply["object"]["id"])
    assert "thinkpad" in stored.content and not stored.local
    relayed = [a for a in received(remote, "Announce", scene.group) if isinstance(a["object"], dict)]
    assert [a["object"]["id"] for a in relayed] == [reply["id"]]  # the original Create, unchanged


async def test_inbound__lemmy_reply_to_contribution_is_nested(node, remote):
    """A Lemmy comment replying to a contribution is stored under it."""
    scene = await open_scene(node)
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
    reply = mastodon_reply(alice, 1, scene.page, scene.org)
    await post(node, remote, scene.group_inbox, reply, alice)
    comment = lemmy_comment(bob, 1, reply["object"]["id"], scene.group)
    await post(node, remote, scene.group_inbox, comment, bob)
    assert await thread_of(node, scene) == [(alice.ap_id, [bob.ap_id])]


async def test_inbound__post_addressed_to_group_becomes_top_level_contribution(node, remote):
    """A post only addressed to the Group (FEP-1b12 audience), replying to nothing, is kept."""
    scene = await open_scene(node)
    bob = remote.add_actor("bob")
    comment = lemmy_comment(bob, 1, None, scene.group)
    await post(node, remote, scene.group_inbox, comment, bob)
    assert await thread_of(node, scene) == [(bob.ap_id, [])]


async def test_inbound__reply_to_closed_discussion_is_refused(node, remote):
    """A closed discussion stores no new contribution."""
    scene = await open_scene(node)
    async with transaction(node.rt.sessions) as s:
        await discussions.close(s, await s.get(Discussion, scene.discussion_id), "Merci !")
    alice = remote.add_actor("alice")
    reply = mastodon_reply(alice, 1, scene.page, scene.org)
    await post(node, remote, scene.group_inbox, reply, alice)
    assert await stored_contribution(node, reply["object"]["id"]) is None
    assert await outcome_of(node, reply["id"]) == ("failed", "refused: this discussion is closed")


async def test_inbound__poll_vote_is_not_a_contribution(node, remote):
    """A Mastodon poll vote (a Note with a name, no content) is not a contribution."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    vote = {"id": f"{alice.ap_id}#votes/1", "type": "Note", "name": "Oui",
            "attributedTo": alice.ap_id, "inReplyTo": scene.page, "to": scene.group}
    create = make_activity(alice, "Create", 1, vote, to=scene.group)
    await post(node, remote, scene.group_inbox, create, alice)
    assert await stored_contribution(node, vote["id"]) is None
    assert await outcome_of(node, create["id"]) == ("processed", "ignored: a poll vote is not a contribution")


async def test_inbound__update_by_author_changes_content(node, remote):
    """Update(Note) by its author changes the contribution's text (sanitised)."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    reply = mastodon_reply(alice, 1, scene.page, scene.org)
    await post(node, remote, scene.group_inbox, reply, alice)
    note = {**reply["object"], "content": "<p>Edited<script>x()</script></p>"}
    await post(node, remote, scene.group_inbox, make_activity(alice, "Update", 1, note), alice)
    stored = await stored_contribution(node, note["id"])
    assert stored.content == "<p>Edited</p>" and stored.updated is not None


async def test_inbound__delete_by_author_tombstones(node, remote):
    """Delete by the author's server leaves a tombstone; a replayed Create does not revive it."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    reply = mastodon_reply(alice, 1, scene.page, scene.org)
    await post(node, remote, scene.group_inbox, reply, alice)
    delete = make_activity(alice, "Delete", 1, {"id": reply["object"]["id"], "type": "Tombstone"})
    await post(node, remote, scene.group_inbox, delete, alice)
    assert (await stored_contribution(node, reply["object"]["id"])).deleted_at is not None
    assert await thread_of(node, scene) == []
    await post(node, remote, scene.group_inbox, {**reply, "id": f"{reply['id']}/replayed"}, alice)
    stored = await stored_contribution(node, reply["object"]["id"])
    assert stored.deleted_at is not None and stored.content == ""


async def test_inbound__delete_before_create_keeps_it_out(node, remote):
    """A Delete that arrives before its Create keeps the post out (SECURITY.md rule 9)."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    reply = mastodon_reply(alice, 1, scene.page, scene.org)
    await post(node, remote, scene.group_inbox, make_activity(alice, "Delete", 1, reply["object"]["id"]), alice)
    await post(node, remote, scene.group_inbox, reply, alice)
    assert await stored_contribution(node, reply["object"]["id"]) is None
    assert await outcome_of(node, reply["id"]) == ("processed", "ignored: its Delete arrived first")


async def test_inbound__delete_by_another_actor_is_refused(node, remote):
    """Mallory, on the same host, cannot delete alice's contribution (SECURITY.md rule 1)."""
    scene = await open_scene(node)
    alice, mallory = remote.add_actor("alice"), remote.add_actor("mallory")
    reply = mastodon_reply(alice, 1, scene.page, scene.org)
    await post(node, remote, scene.group_inbox, reply, alice)
    delete = make_activity(mallory, "Delete", 1, reply["object"]["id"])
    await post(node, remote, scene.group_inbox, delete, mallory)
    assert (await stored_contribution(node, reply["object"]["id"])).deleted_at is None
    assert await outcome_of(node, delete["id"]) == \
        ("failed", "refused: only the author's server may delete an object")


async def test_inbound__actor_delete_tombstones_its_contributions(node, remote):
    """Delete{<actor>}: the account's contributions become tombstones (FEDERATION.md "What we accept")."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    reply = mastodon_reply(alice, 1, scene.page, scene.org)
    await post(node, remote, scene.group_inbox, reply, alice)
    delete = make_activity(alice, "Delete", 1, alice.ap_id, to=[PUBLIC])
    await post(node, remote, scene.group_inbox, delete, alice)
    assert (await stored_contribution(node, reply["object"]["id"])).deleted_at is not None
    assert await outcome_of(node, delete["id"]) == ("processed", "actor deleted")


# ---- Likes and Joins in


async def test_inbound__like_with_an_id_no_column_holds_is_refused(node, remote):
    """A Like whose id exceeds 2,048 characters is refused at intake with its reason (SECURITY.md
    rule 14), never stored nor retried; the next one counts."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    note_id = await contribute(node, scene)
    overlong = {**mastodon_like(alice, 1, note_id), "id": f"{alice.ap_id}#likes/{'9' * 2100}"}
    status, body = await remote.post(f"{scene.amel}/inbox", overlong, alice)
    assert (status, body) == (400, {"error": "'id' ids are limited to 2048 characters"})
    await post(node, remote, f"{scene.amel}/inbox", mastodon_like(alice, 2, note_id), alice)
    assert (await stored_contribution(node, note_id)).agree_count == 1

async def test_inbound__like_agrees_and_only_own_undo_withdraws(node, remote):
    """Like → agree_count 1; mallory's Undo of alice's Like changes nothing; alice's → 0."""
    scene = await open_scene(node)
    alice, mallory = remote.add_actor("alice"), remote.add_actor("mallory")
    note_id = await contribute(node, scene)
    await post(node, remote, f"{scene.amel}/inbox", mastodon_like(alice, 1, note_id), alice)
    assert (await stored_contribution(node, note_id)).agree_count == 1
    forged = mastodon_undo_like(alice, 1, note_id)
    forged.update(id=f"{mallory.ap_id}#undo/1", actor=mallory.ap_id)
    await post(node, remote, f"{scene.amel}/inbox", forged, mallory)
    assert (await stored_contribution(node, note_id)).agree_count == 1
    await post(node, remote, f"{scene.amel}/inbox", mastodon_undo_like(alice, 1, note_id), alice)
    assert (await stored_contribution(node, note_id)).agree_count == 0


async def test_inbound__like_of_proposal_supports_within_the_space_limit(node, remote):
    """A Like supports a proposal; over the space's one-support limit it is ignored, logged."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    async with transaction(node.rt.sessions) as s:
        org, amel = await actors.require_local_actor(s, "lyon"), await actors.require_local_actor(s, "amel")
        space = await spaces.create_space(s, org, "budget", "Budget", supports_per_person=1)
        ids = [(await proposals.create(s, node.uris, org, amel, title, "<p>…</p>", space=space,
                                       publish=True)).ap_id for title in ("Des bancs", "Des arbres")]
    first, second = mastodon_like(alice, 1, ids[0]), mastodon_like(alice, 2, ids[1])
    for like in (first, second):
        await post(node, remote, f"{scene.amel}/inbox", like, alice)
    async with node.rt.sessions() as s:
        counts = [(await proposals.by_ap_id(s, i)).support_count for i in ids]
    assert counts == [1, 0]
    assert await outcome_of(node, second["id"]) == \
        ("processed", "ignored: you already gave your 1 supports here")
    await post(node, remote, f"{scene.amel}/inbox", mastodon_undo_like(alice, 1, ids[0]), alice)
    async with node.rt.sessions() as s:
        assert (await s.scalar(select(Proposal).where(Proposal.ap_id == ids[0]))).support_count == 0


async def test_inbound__join_acts_and_undo_join_withdraws(node, remote):
    """Join of an initiative records "I acted"; Undo(Join) takes it back."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    async with transaction(node.rt.sessions) as s:
        i = await community.create_initiative(
            s, node.uris, await s.get(Discussion, scene.discussion_id),
            await actors.require_local_actor(s, "amel"), "Planter un arbre", "<p>Ensemble</p>")
    join = make_activity(alice, "Join", 1, i.ap_id)
    await post(node, remote, scene.group_inbox, join, alice)

    async def acted() -> int:
        async with node.rt.sessions() as s:
            return (await s.scalar(select(Initiative).where(Initiative.ap_id == i.ap_id))).acted_count

    assert await acted() == 1
    await post(node, remote, scene.group_inbox, make_activity(alice, "Undo", 1, join), alice)
    assert await acted() == 0
