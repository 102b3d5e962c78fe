"""Participation over ActivityPub: discussion Groups (FEP-1b12), contributions, Likes, Joins.

Inbound documents are the real Mastodon and Lemmy captures of tests/fixtures/remote/, their ids
moved to the test's remote host and pointed at our discussion.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from node.db import transaction
from node.models import Contribution, Discussion, InboxActivity, Initiative, Proposal
from node.services import actors, community, contributions, discussions, proposals, spaces

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = f"{AS}#Public"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "remote"


@dataclass(frozen=True)
class Scene:
    """lyon's discussion clos-jouve, its Group and Page, and a local participant, amel."""

    discussion_id: int
    org: str
    group: str
    group_inbox: str
    page: str
    amel: str


async def _scene(node, **options) -> Scene:
    async with transaction(node.rt.sessions) as s:
        org = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        amel = (await actors.create_user(s, node.uris, "amel", "password-123", "Amel")).actor
        d = await discussions.open_discussion(
            s, node.uris, org, "clos-jouve", {"fr": "Clos Jouve", "en": "Clos Jouve square"},
            summary="Un espace public ouvert", body="Que faire du Clos Jouve ?", **options)
        return Scene(d.id, org.ap_id, d.group.ap_id, d.group.inbox, d.page_ap_id, amel.ap_id)


def _capture(path: str, moves: dict[str, str]) -> dict:
    """A captured document with its ids moved (``{old: new}``, replaced in order)."""
    text = (FIXTURES / path).read_text(encoding="utf-8")
    for old, new in moves.items():
        text = text.replace(old, new)
    return json.loads(text)


def _mastodon_reply(alice, n: int, in_reply_to: str, cc: str) -> dict:
    """Mastodon's Create(Note) replying to a status, from alice, replying to ``in_reply_to``."""
    return _capture("mastodon/activities/create_note.json", {
        "https://mamot.fr/users/retiolus/statuses/107224244380204526": in_reply_to,
        "https://mamot.fr/users/retiolus": cc,
        "https://mastodon.madrid/users/felix/statuses/107224289116410645": f"{alice.ap_id}/statuses/{n}",
        "https://mastodon.madrid/users/felix": alice.ap_id,
        "https://mastodon.madrid/@felix/107224289116410645": f"{alice.ap_id}/statuses/{n}",
    })


def _lemmy_comment(bob, n: int, in_reply_to: str | None, group: str) -> dict:
    """Lemmy's Create(Note) of a comment in a community (FEP-1b12 ``audience``), from bob."""
    doc = _capture("lemmy/activities/create_or_update/create_comment.json", {
        "https://enterprise.lemmy.ml/c/main": group, "http://enterprise.lemmy.ml/c/main": group,
        "http://ds9.lemmy.ml/post/1": in_reply_to or "",
        "http://ds9.lemmy.ml/comment/1": f"{bob.ap_id}/comment/{n}",
        "1e77d67c-44ac-45ed-bf2a-460e21f60236": f"comment-{n}",
        "http://ds9.lemmy.ml/u/lemmy_alpha": bob.ap_id,
        "http://ds9.lemmy.ml": bob.ap_id.rsplit("/users/", 1)[0],
    })
    if in_reply_to is None:
        del doc["object"]["inReplyTo"]
    return doc


def _like(actor, n: int, target: str) -> dict:
    """Mastodon's Like (a favourite) of ``target``."""
    return _capture("mastodon/activities/like_page.json", {
        "https://ds9.lemmy.ml/post/147": target, "#likes/212340": f"#likes/{n}",
        "https://mastodon.madrid/users/felix": actor.ap_id})


def _undo_like(actor, n: int, target: str) -> dict:
    """Mastodon's Undo(Like), the Like embedded with its id."""
    return _capture("mastodon/activities/undo_like_page.json", {
        "https://ds9.lemmy.ml/post/147": target, "#likes/212341": f"#likes/{n}",
        "https://mastodon.madrid/users/felix": actor.ap_id})


def _activity(actor, kind: str, n: int, obj, **extra) -> dict:
    return {"@context": AS, "id": f"{actor.ap_id}/{kind.lower()}s/{n}", "type": kind,
            "actor": actor.ap_id, "object": obj, **extra}


async def _post(node, remote, inbox: str, doc: dict, actor) -> None:
    status, body = await remote.post(inbox, doc, actor)
    assert status == 202, body
    await node.step()


async def _outcome(node, activity_id: str) -> tuple[str, str]:
    async with node.rt.sessions() as s:
        row = await s.scalar(select(InboxActivity).where(InboxActivity.ap_id == activity_id))
    return row.state, row.error


async def _contribution(node, ap_id: str) -> Contribution | None:
    async with node.rt.sessions() as s:
        return await s.scalar(select(Contribution).where(Contribution.ap_id == ap_id))


async def _thread(node, scene: Scene) -> list[tuple[str, list[str]]]:
    """(author, [reply authors]) of each top-level contribution, newest first."""
    async with node.rt.sessions() as s:
        items = await contributions.thread(s, await s.get(Discussion, scene.discussion_id))
        return [(i.contribution.author.ap_id, [r.contribution.author.ap_id for r in i.replies])
                for i in items]


async def _follow_group(node, remote, scene: Scene, actor, n: int = 1) -> None:
    await _post(node, remote, scene.group_inbox, _activity(actor, "Follow", n, scene.group), actor)


async def _contribute(node, scene: Scene, text: str = "<p>Un jardin partagé</p>") -> str:
    async with transaction(node.rt.sessions) as s:
        author = await actors.require_local_actor(s, "amel")
        c = await contributions.contribute(s, node.uris, await s.get(Discussion, scene.discussion_id),
                                           author, text)
        return c.ap_id


def _received(remote, kind: str, actor: str) -> list[dict]:
    return [d for d in remote.received if d["type"] == kind and d["actor"] == actor]


# ---- following a discussion

async def test_group_follow__remote_follow_is_auto_accepted(node, remote):
    """A Follow of a discussion's Group is accepted at once, by the Group (FEP-1b12)."""
    scene = await _scene(node)
    alice = remote.add_actor("alice")
    await _follow_group(node, remote, scene, alice)
    accepts = _received(remote, "Accept", scene.group)
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
    follow = _activity(alice, "Follow", 1, group)
    await _post(node, remote, inbox, follow, alice)
    assert await _outcome(node, follow["id"]) == ("processed", "ignored: this discussion cannot be followed")
    assert remote.received == []


# ---- local contributions out

async def test_fanout__local_contribution_reaches_follower_as_create_and_both_announces(node, remote):
    """The author's Create(Note), the group's Announce(Create) and Announce(<note id>) arrive."""
    scene = await _scene(node)
    alice = remote.add_actor("alice")
    await _follow_group(node, remote, scene, alice)
    note_id = await _contribute(node, scene)
    await node.step()
    [create] = _received(remote, "Create", scene.amel)
    assert create["object"]["id"] == note_id
    assert create["object"]["inReplyTo"] == scene.page
    assert create["object"]["audience"] == scene.group
    announces = _received(remote, "Announce", scene.group)
    assert len(announces) == 2 and {type(a["object"]) for a in announces} == {dict, str}
    wrapped = next(a for a in announces if isinstance(a["object"], dict))
    assert wrapped["object"]["id"] == create["id"]  # FEP-1b12: the Create, unchanged
    assert wrapped["object"]["object"]["id"] == note_id
    assert next(a for a in announces if isinstance(a["object"], str))["object"] == note_id
    assert all(PUBLIC in a["to"] for a in announces)


async def test_fanout__local_delete_sends_delete_and_announced_delete(node, remote):
    """Deleting a local contribution sends its Delete and the group's Announce(Delete)."""
    scene = await _scene(node)
    alice = remote.add_actor("alice")
    await _follow_group(node, remote, scene, alice)
    note_id = await _contribute(node, scene)
    async with transaction(node.rt.sessions) as s:
        c = await s.scalar(select(Contribution).where(Contribution.ap_id == note_id))
        await contributions.delete_contribution(s, c, federate=True)
    await node.step()
    [delete] = _received(remote, "Delete", scene.amel)
    assert delete["object"] == note_id
    assert [a["object"]["id"] for a in _received(remote, "Announce", scene.group)
            if isinstance(a["object"], dict) and a["object"]["type"] == "Delete"] == [delete["id"]]


async def test_fanout__local_agreement_likes_the_remote_author(node, remote):
    """amel agrees with alice's contribution: alice gets a Like, group followers Announce(Like)."""
    scene = await _scene(node)
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
    await _follow_group(node, remote, scene, bob)
    reply = _mastodon_reply(alice, 1, scene.page, scene.org)
    await _post(node, remote, scene.group_inbox, reply, alice)
    async with transaction(node.rt.sessions) as s:
        c = await contributions.by_ap_id(s, reply["object"]["id"])
        await contributions.agree(s, node.uris, c, await actors.require_local_actor(s, "amel"))
    await node.step()
    [like] = _received(remote, "Like", scene.amel)
    assert like["object"] == reply["object"]["id"]
    relayed = [a["object"] for a in _received(remote, "Announce", scene.group)
               if isinstance(a["object"], dict) and a["object"]["type"] == "Like"]
    assert [r["id"] for r in relayed] == [like["id"]]


async def test_fanout__proposal_and_official_answer_reach_organisation_followers(node, remote):
    """A published proposal is a Create(Page); its official answer a Create(Note) in reply."""
    scene = await _scene(node)
    alice = remote.add_actor("alice")
    await _post(node, remote, f"{scene.org}/inbox", _activity(alice, "Follow", 1, scene.org), alice)
    async with transaction(node.rt.sessions) as s:
        org, amel = (await actors.require_local_actor(s, "lyon"), await actors.require_local_actor(s, "amel"))
        p = await proposals.create(s, node.uris, org, amel, "Des bancs", "<p>Plus de bancs</p>",
                                   discussion_id=scene.discussion_id, publish=True)
        official = await actors.user_by_username(s, "amel")
        await proposals.write_answer(s, p, "<p>Oui, au printemps</p>", user_id=official.id,
                                     state="accepted")
        await proposals.publish_answer(s, node.uris, p, by=org)
    await node.step()
    [page] = [c["object"] for c in _received(remote, "Create", scene.amel)]
    assert (page["type"], page["id"], page["audience"]) == ("Page", p.ap_id, scene.group)
    [answer] = [c["object"] for c in _received(remote, "Create", scene.org)
                if c["object"]["type"] == "Note"]
    assert (answer["inReplyTo"], answer["civic:officialAnswer"]) == (p.ap_id, True)


# ---- remote contributions in

async def test_inbound__mastodon_reply_to_page_becomes_contribution(node, remote):
    """A Mastodon reply to the discussion page is a contribution by its author, re-announced."""
    scene = await _scene(node)
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
    await _follow_group(node, remote, scene, bob)
    reply = _mastodon_reply(alice, 1, scene.page, scene.org)
    await _post(node, remote, scene.org + "/inbox", reply, alice)
    assert await _thread(node, scene) == [(alice.ap_id, [])]
    stored = await _contribution(node, reply["object"]["id"])
    assert "thinkpad" in stored.content and not stored.local
    relayed = [a for a in _received(remote, "Announce", scene.group) if isinstance(a["object"], dict)]
    assert [a["object"]["id"] for a in relayed] == [reply["id"]]  # the original Create, unchanged


async def test_inbound__lemmy_reply_to_contribution_is_nested(node, remote):
    """A Lemmy comment replying to a contribution is stored under it."""
    scene = await _scene(node)
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
    reply = _mastodon_reply(alice, 1, scene.page, scene.org)
    await _post(node, remote, scene.group_inbox, reply, alice)
    comment = _lemmy_comment(bob, 1, reply["object"]["id"], scene.group)
    await _post(node, remote, scene.group_inbox, comment, bob)
    assert await _thread(node, scene) == [(alice.ap_id, [bob.ap_id])]


async def test_inbound__post_addressed_to_group_becomes_top_level_contribution(node, remote):
    """A post only addressed to the Group (FEP-1b12 audience), replying to nothing, is kept."""
    scene = await _scene(node)
    bob = remote.add_actor("bob")
    comment = _lemmy_comment(bob, 1, None, scene.group)
    await _post(node, remote, scene.group_inbox, comment, bob)
    assert await _thread(node, scene) == [(bob.ap_id, [])]


async def test_inbound__reply_to_closed_discussion_is_refused(node, remote):
    """A closed discussion stores no new contribution."""
    scene = await _scene(node)
    async with transaction(node.rt.sessions) as s:
        await discussions.close(s, await s.get(Discussion, scene.discussion_id), "Merci !")
    alice = remote.add_actor("alice")
    reply = _mastodon_reply(alice, 1, scene.page, scene.org)
    await _post(node, remote, scene.group_inbox, reply, alice)
    assert await _contribution(node, reply["object"]["id"]) is None
    assert await _outcome(node, reply["id"]) == ("failed", "refused: this discussion is closed")


async def test_inbound__poll_vote_is_not_a_contribution(node, remote):
    """A Mastodon poll vote (a Note with a name, no content) is not a contribution."""
    scene = await _scene(node)
    alice = remote.add_actor("alice")
    vote = {"id": f"{alice.ap_id}#votes/1", "type": "Note", "name": "Oui",
            "attributedTo": alice.ap_id, "inReplyTo": scene.page, "to": scene.group}
    create = _activity(alice, "Create", 1, vote, to=scene.group)
    await _post(node, remote, scene.group_inbox, create, alice)
    assert await _contribution(node, vote["id"]) is None
    assert await _outcome(node, create["id"]) == ("processed", "ignored: a poll vote is not a contribution")


async def test_inbound__update_by_author_changes_content(node, remote):
    """Update(Note) by its author changes the contribution's text (sanitised)."""
    scene = await _scene(node)
    alice = remote.add_actor("alice")
    reply = _mastodon_reply(alice, 1, scene.page, scene.org)
    await _post(node, remote, scene.group_inbox, reply, alice)
    note = {**reply["object"], "content": "<p>Edited<script>x()</script></p>"}
    await _post(node, remote, scene.group_inbox, _activity(alice, "Update", 1, note), alice)
    stored = await _contribution(node, note["id"])
    assert stored.content == "<p>Edited</p>" and stored.updated is not None


async def test_inbound__delete_by_author_tombstones(node, remote):
    """Delete by the author's server leaves a tombstone; a replayed Create does not revive it."""
    scene = await _scene(node)
    alice = remote.add_actor("alice")
    reply = _mastodon_reply(alice, 1, scene.page, scene.org)
    await _post(node, remote, scene.group_inbox, reply, alice)
    delete = _activity(alice, "Delete", 1, {"id": reply["object"]["id"], "type": "Tombstone"})
    await _post(node, remote, scene.group_inbox, delete, alice)
    assert (await _contribution(node, reply["object"]["id"])).deleted_at is not None
    assert await _thread(node, scene) == []
    await _post(node, remote, scene.group_inbox, {**reply, "id": f"{reply['id']}/replayed"}, alice)
    stored = await _contribution(node, reply["object"]["id"])
    assert stored.deleted_at is not None and stored.content == ""


async def test_inbound__delete_before_create_keeps_it_out(node, remote):
    """A Delete that arrives before its Create keeps the post out (INTEROP rule 9)."""
    scene = await _scene(node)
    alice = remote.add_actor("alice")
    reply = _mastodon_reply(alice, 1, scene.page, scene.org)
    await _post(node, remote, scene.group_inbox, _activity(alice, "Delete", 1, reply["object"]["id"]), alice)
    await _post(node, remote, scene.group_inbox, reply, alice)
    assert await _contribution(node, reply["object"]["id"]) is None
    assert await _outcome(node, reply["id"]) == ("processed", "ignored: its Delete arrived first")


async def test_inbound__delete_by_another_actor_is_refused(node, remote):
    """Mallory, on the same host, cannot delete alice's contribution (INTEROP rule 1)."""
    scene = await _scene(node)
    alice, mallory = remote.add_actor("alice"), remote.add_actor("mallory")
    reply = _mastodon_reply(alice, 1, scene.page, scene.org)
    await _post(node, remote, scene.group_inbox, reply, alice)
    delete = _activity(mallory, "Delete", 1, reply["object"]["id"])
    await _post(node, remote, scene.group_inbox, delete, mallory)
    assert (await _contribution(node, reply["object"]["id"])).deleted_at is None
    assert await _outcome(node, delete["id"]) == \
        ("failed", "refused: only the author's server may delete an object")


# ---- Likes and Joins in

async def test_inbound__like_agrees_and_only_own_undo_withdraws(node, remote):
    """Like → agree_count 1; mallory's Undo of alice's Like changes nothing; alice's → 0."""
    scene = await _scene(node)
    alice, mallory = remote.add_actor("alice"), remote.add_actor("mallory")
    note_id = await _contribute(node, scene)
    await _post(node, remote, f"{scene.amel}/inbox", _like(alice, 1, note_id), alice)
    assert (await _contribution(node, note_id)).agree_count == 1
    forged = _undo_like(alice, 1, note_id)
    forged.update(id=f"{mallory.ap_id}#undo/1", actor=mallory.ap_id)
    await _post(node, remote, f"{scene.amel}/inbox", forged, mallory)
    assert (await _contribution(node, note_id)).agree_count == 1
    await _post(node, remote, f"{scene.amel}/inbox", _undo_like(alice, 1, note_id), alice)
    assert (await _contribution(node, note_id)).agree_count == 0


async def test_inbound__like_of_proposal_supports_within_the_space_limit(node, remote):
    """A Like supports a proposal; over the space's one-support limit it is ignored, logged."""
    scene = await _scene(node)
    alice = remote.add_actor("alice")
    async with transaction(node.rt.sessions) as s:
        org, amel = await actors.require_local_actor(s, "lyon"), await actors.require_local_actor(s, "amel")
        space = await spaces.create_space(s, org, "budget", "Budget", supports_per_person=1)
        ids = [(await proposals.create(s, node.uris, org, amel, title, "<p>…</p>", space=space,
                                       publish=True)).ap_id for title in ("Des bancs", "Des arbres")]
    first, second = _like(alice, 1, ids[0]), _like(alice, 2, ids[1])
    for like in (first, second):
        await _post(node, remote, f"{scene.amel}/inbox", like, alice)
    async with node.rt.sessions() as s:
        counts = [(await proposals.by_ap_id(s, i)).support_count for i in ids]
    assert counts == [1, 0]
    assert await _outcome(node, second["id"]) == \
        ("processed", "ignored: you already gave your 1 supports here")
    await _post(node, remote, f"{scene.amel}/inbox", _undo_like(alice, 1, ids[0]), alice)
    async with node.rt.sessions() as s:
        assert (await s.scalar(select(Proposal).where(Proposal.ap_id == ids[0]))).support_count == 0


async def test_inbound__join_acts_and_undo_join_withdraws(node, remote):
    """Join of an initiative records "I acted"; Undo(Join) takes it back."""
    scene = await _scene(node)
    alice = remote.add_actor("alice")
    async with transaction(node.rt.sessions) as s:
        i = await community.create_initiative(
            s, node.uris, await s.get(Discussion, scene.discussion_id),
            await actors.require_local_actor(s, "amel"), "Planter un arbre", "<p>Ensemble</p>")
    join = _activity(alice, "Join", 1, i.ap_id)
    await _post(node, remote, scene.group_inbox, join, alice)

    async def acted() -> int:
        async with node.rt.sessions() as s:
            return (await s.scalar(select(Initiative).where(Initiative.ap_id == i.ap_id))).acted_count

    assert await acted() == 1
    await _post(node, remote, scene.group_inbox, _activity(alice, "Undo", 1, join), alice)
    assert await acted() == 0
