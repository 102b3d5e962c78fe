"""Inbound erasure: a remote server's Delete{actor} removes that account's contributions and
reactions here, and each discussion it took part in passes the Delete on to its followers."""

from __future__ import annotations

from sqlalchemy import func, select

from node.db import transaction
from node.models import (
    Activity,
    Agreement,
    Contribution,
    Discussion,
    Follow,
    Initiative,
    InitiativeAction,
    Note,
    OutboxEvent,
    Proposal,
    ProposalSupport,
)
from node.services import actors, community, outbox, proposals
from tests.federation.participation_scene import (
    PUBLIC,
    contribute,
    follow_group,
    make_activity,
    mastodon_like,
    mastodon_reply,
    open_scene,
    outcome_of,
    post,
    received,
    stored_contribution,
)


async def _count(node, model, *where) -> int:
    async with node.rt.sessions() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


async def test_delete_actor__contributions_reactions_and_relays(node, remote):
    """alice replied, agreed, supported and acted; her server deletes her: her contribution is
    a tombstone and the group's Announces of it are withdrawn, her reactions are gone and each
    count loses exactly hers (carol's stay), her follow goes, and the discussion's follower
    receives the group's Announce of her Delete."""
    scene = await open_scene(node)
    alice, bob, carol = (remote.add_actor(n) for n in ("alice", "bob", "carol"))
    await follow_group(node, remote, scene, bob)
    await post(node, remote, scene.org + "/inbox", make_activity(alice, "Follow", 1, scene.org), alice)
    reply = mastodon_reply(alice, 1, scene.page, scene.org)
    await post(node, remote, scene.group_inbox, reply, alice)
    note_id = await contribute(node, scene)
    async with transaction(node.rt.sessions) as s:
        org, amel = await actors.require_local_actor(s, "lyon"), await actors.require_local_actor(s, "amel")
        proposal = (await proposals.create(s, node.uris, org, amel, "Des bancs", "<p>…</p>", publish=True)).ap_id
        initiative = (await community.create_initiative(
            s, node.uris, await s.get(Discussion, scene.discussion_id), amel, "Plantons", "<p>…</p>")).ap_id
    for who in (alice, carol):
        for n, target in enumerate((note_id, proposal), start=1):
            await post(node, remote, f"{scene.amel}/inbox", mastodon_like(who, n, target), who)
        await post(node, remote, f"{scene.amel}/inbox", make_activity(who, "Join", 1, initiative), who)
    contribution_id = reply["object"]["id"]
    assert await _count(node, Activity, Activity.object_ap_id == contribution_id,
                        Activity.withdrawn_at.is_(None)) >= 1  # the group announced it
    remote.received.clear()

    delete = make_activity(alice, "Delete", 1, alice.ap_id, to=[PUBLIC])
    await post(node, remote, scene.group_inbox, delete, alice)

    assert await outcome_of(node, delete["id"]) == ("processed", "actor deleted")
    stored = await stored_contribution(node, contribution_id)
    assert stored.deleted_at is not None and stored.content == ""
    assert await _count(node, Activity, Activity.object_ap_id == contribution_id,
                        Activity.withdrawn_at.is_(None)) == 0
    async with node.rt.sessions() as s:
        author = await s.scalar(select(Contribution.author_id).where(Contribution.ap_id == contribution_id))
        counts = (await stored_contribution(node, note_id)).agree_count, \
            await s.scalar(select(Proposal.support_count).where(Proposal.ap_id == proposal)), \
            await s.scalar(select(Initiative.acted_count).where(Initiative.ap_id == initiative))
    assert counts == (1, 1, 1)  # carol's remain
    for model in (Agreement, ProposalSupport, InitiativeAction):
        assert await _count(node, model, model.actor_id == author) == 0
        assert await _count(node, model) == 1
    assert await _count(node, Follow, Follow.follower_id == author) == 0
    relays = await _count(node, OutboxEvent, OutboxEvent.kind == outbox.GROUP_RELAYED)
    assert relays == 1  # one discussion, one relay
    announced = [a for a in received(remote, "Announce", scene.group) if isinstance(a["object"], dict)]
    assert [a["object"]["id"] for a in announced] == [delete["id"]]


async def test_delete_actor__of_someone_else_is_refused(node, remote):
    """mallory's server cannot erase alice (SECURITY.md rule 1): nothing of hers goes."""
    scene = await open_scene(node)
    alice, mallory = remote.add_actor("alice"), remote.add_actor("mallory")
    reply = mastodon_reply(alice, 1, scene.page, scene.org)
    await post(node, remote, scene.group_inbox, reply, alice)
    forged = make_activity(mallory, "Delete", 1, alice.ap_id, to=[PUBLIC])
    await post(node, remote, scene.group_inbox, forged, mallory)
    assert (await stored_contribution(node, reply["object"]["id"])).deleted_at is None
    assert await outcome_of(node, forged["id"]) == ("failed", "refused: only an actor's own server may delete it")


async def test_delete_actor__notes_become_tombstones_and_nothing_is_relayed_without_contributions(node, remote):
    """An account that only had notes here: they become tombstones; no discussion relays."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    note = {"id": f"{alice.ap_id}/statuses/1", "type": "Note", "attributedTo": alice.ap_id,
            "content": "<p>Bonjour Lyon</p>", "to": [PUBLIC], "cc": [scene.org]}
    await post(node, remote, scene.org + "/inbox", make_activity(alice, "Create", 1, note, to=[PUBLIC]), alice)
    assert await _count(node, Note, Note.ap_id == note["id"], Note.deleted_at.is_(None)) == 1
    delete = make_activity(alice, "Delete", 1, alice.ap_id, to=[PUBLIC])
    await post(node, remote, scene.org + "/inbox", delete, alice)
    assert await outcome_of(node, delete["id"]) == ("processed", "actor deleted")
    assert await _count(node, Note, Note.ap_id == note["id"], Note.deleted_at.is_not(None)) == 1
    assert await _count(node, OutboxEvent, OutboxEvent.kind == outbox.GROUP_RELAYED) == 0
