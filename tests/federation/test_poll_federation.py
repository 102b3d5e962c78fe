"""Polls across servers (FEDERATION.md "Questionnaires, polls and budgets", SECURITY.md rule 30):
nodes in process, each on its own loopback address with its own database, and a remote host whose
actors sign what they send as Mastodon would; every delivery is really POSTed and signed.

Votes in Mastodon's form are counted once per actor (and option), refusals keep their reason on
the inbox row and count nothing; our Question reaches the organisation's followers, then its
debounced Update with the tallies (none while results are hidden); a remote poll addressed to a
discussion is kept with its author's tallies, which only its author changes."""

from __future__ import annotations

import json
import os
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from federation.poll_updates import push_due
from federation.resolve import resolve_actor
from node.db import transaction
from node.models import (
    Actor,
    Discussion,
    InboxActivity,
    InboxStates,
    Note,
    Poll,
    PollVote,
    PollVoter,
    utcnow,
)
from node.services import actors, follows, polls
from tests.federation.participation_scene import AS, PUBLIC, make_activity, open_scene, outcome_of


async def _step(*nodes, rounds: int = 4) -> None:
    for _ in range(rounds):
        for n in nodes:
            await n.step()


async def _org_poll(node, *, multiple: bool = False, hide_results: bool = False) -> str:
    """Organisation lyon and its poll "Quel jour ?" (Lundi, Mardi, Mercredi), ending tomorrow."""
    async with transaction(node.rt.sessions) as s:
        org = await actors.require_local_actor(s, "lyon") if await actors.local_actor(s, "lyon") else \
            await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        poll = await polls.create(s, node.uris, org, org, "<p>Quel jour ?</p>", ["Lundi", "Mardi", "Mercredi"],
                                  multiple=multiple, hide_results=hide_results,
                                  end_time=utcnow() + timedelta(days=1))
        return poll.ap_id


async def _tallies(node, poll_ap_id: str) -> tuple[dict[str, int], int, bool]:
    """({option: votes}, voters, closed) as ``node`` holds the poll."""
    async with node.rt.sessions() as s:
        poll = await polls.by_ap_id(s, poll_ap_id)
        assert poll is not None, f"{node.base} holds no poll {poll_ap_id}"
        counts = {o.name: o.votes_count for o in await polls.options(s, poll)}
        return counts, poll.voters_count, poll.closed_at is not None


def _vote(actor, n: int, poll: str, name: str, to: str, **note) -> dict:
    """Mastodon's vote: Create{Note{name, inReplyTo}} without content, to the poll's author."""
    obj = {"id": f"{actor.ap_id}#votes/{n}", "type": "Note", "name": name, "attributedTo": actor.ap_id,
           "inReplyTo": poll, "to": to, **note}
    return {"@context": AS, "id": f"{actor.ap_id}#votes/{n}/activity", "type": "Create",
            "actor": actor.ap_id, "object": obj, "to": to}


async def _send(node, remote, actor, doc: dict, inbox: str) -> tuple[str, str]:
    status, body = await remote.post(inbox, doc, actor)
    assert status == 202, body
    await node.step()
    return await outcome_of(node, doc["id"])


async def _push(node) -> int:
    """The debounced pass, as if its delay had passed (no waiting in tests)."""
    return await push_due(node.rt, utcnow() + timedelta(seconds=node.settings.poll_update_delay + 1))


# ---- votes ------------------------------------------------------------------------------------

async def test_votes__a_second_vote_and_a_late_vote_are_refused(node_factory, remote):
    """A's organisation lyon asks; amel on node B (who follows lyon) votes through her own node,
    alice (a remote Mastodon-like account) votes directly: both counted. alice's second vote and
    bob's vote after the end time are refused with their reason and count nothing; the closing
    Update{Question} gives B the final tallies."""
    a, b = await node_factory("127.0.0.41"), await node_factory("127.0.0.42")
    async with transaction(a.rt.sessions) as s:
        lyon = await actors.create_organization(s, a.uris, "lyon", "Ville de Lyon")
        lyon_inbox = lyon.inbox
    async with transaction(b.rt.sessions) as s:
        await actors.create_user(s, b.uris, "amel", "password-123", "Amel")
    target = await resolve_actor(b.rt, f"lyon@{a.uris.domain}")
    async with transaction(b.rt.sessions) as s:
        amel = await actors.require_local_actor(s, "amel")
        await follows.request_follow(s, b.uris, amel, await s.merge(target))
    await _step(a, b)
    poll_id = await _org_poll(a)
    await _step(a, b)
    assert await _tallies(b, poll_id) == ({"Lundi": 0, "Mardi": 0, "Mercredi": 0}, 0, False)

    async with transaction(b.rt.sessions) as s:  # amel votes on her own node: a Note goes to lyon
        amel = await actors.require_local_actor(s, "amel")
        await polls.vote(s, b.uris, await polls.by_ap_id(s, poll_id), amel, ["Lundi"])
    await _step(b, a)
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
    assert await _send(a, remote, alice, _vote(alice, 1, poll_id, "Mardi", lyon.ap_id), lyon_inbox) == \
        ("processed", "vote recorded")
    assert await _tallies(a, poll_id) == ({"Lundi": 1, "Mardi": 1, "Mercredi": 0}, 2, False)

    second = await _send(a, remote, alice, _vote(alice, 2, poll_id, "Mercredi", lyon.ap_id), lyon_inbox)
    assert second == ("failed", "refused: you have already voted in this poll")
    async with transaction(a.rt.sessions) as s:  # the end time passes
        await s.execute(update(Poll).where(Poll.ap_id == poll_id).values(end_time=utcnow() - timedelta(seconds=1)))
    late = await _send(a, remote, bob, _vote(bob, 1, poll_id, "Mercredi", lyon.ap_id), lyon_inbox)
    assert late == ("failed", "refused: this poll is closed")
    assert await _tallies(a, poll_id) == ({"Lundi": 1, "Mardi": 1, "Mercredi": 0}, 2, False)

    assert await _push(a) == 1  # closes it, and queues the final Update{Question}
    await _step(a, b)
    assert await _tallies(a, poll_id) == ({"Lundi": 1, "Mardi": 1, "Mercredi": 0}, 2, True)
    assert await _tallies(b, poll_id) == ({"Lundi": 1, "Mardi": 1, "Mercredi": 0}, 2, True)
    assert await _push(a) == 0  # once


async def test_votes__hostile_and_mistaken_votes_count_nothing(node, remote):
    """An unknown option, a vote attributed to someone else, a vote in no poll of ours, a reply
    with content (a post, not a vote), the same Note twice: refused or ignored with a reason;
    in an anyOf poll one Note per option counts each once, the voter once."""
    poll_id = await _org_poll(node)
    multi_id = await _org_poll(node, multiple=True)
    lyon = f"{node.base}/actors/lyon"
    inbox = f"{lyon}/inbox"
    alice, eve = remote.add_actor("alice"), remote.add_actor("eve")

    assert await _send(node, remote, alice, _vote(alice, 1, poll_id, "Dimanche", lyon), inbox) == \
        ("failed", "refused: this poll has no option 'Dimanche'")
    forged = _vote(eve, 1, poll_id, "Lundi", lyon)
    forged["object"]["attributedTo"] = alice.ap_id
    forged["object"]["id"] = f"{alice.ap_id}#votes/9"
    assert await remote.post(inbox, forged, eve) == (400, {"error": "the object is attributed to someone else"})
    nowhere = _vote(alice, 2, f"{node.base}/polls/nosuchpoll", "Lundi", lyon)
    assert await _send(node, remote, alice, nowhere, inbox) == ("failed", "refused: no such poll")
    reply = _vote(alice, 3, poll_id, "Lundi", lyon, content="<p>Lundi, sans hésiter</p>")
    state, outcome = await _send(node, remote, alice, reply, inbox)
    assert state == "processed" and "vote" not in outcome
    assert await _tallies(node, poll_id) == ({"Lundi": 0, "Mardi": 0, "Mercredi": 0}, 0, False)

    vote = _vote(alice, 4, poll_id, "Lundi", lyon)
    assert await _send(node, remote, alice, vote, inbox) == ("processed", "vote recorded")
    again = {**vote, "id": vote["id"] + "/again"}
    assert await _send(node, remote, alice, again, inbox) == ("processed", "ignored: vote already counted")
    assert await _tallies(node, poll_id) == ({"Lundi": 1, "Mardi": 0, "Mercredi": 0}, 1, False)

    for n, name in ((5, "Lundi"), (6, "Mercredi")):
        assert await _send(node, remote, alice, _vote(alice, n, multi_id, name, lyon), inbox) == \
            ("processed", "vote recorded")
    twice = await _send(node, remote, alice, _vote(alice, 7, multi_id, "Lundi", lyon), inbox)
    assert twice == ("failed", "refused: you have already chosen this option")
    assert await _tallies(node, multi_id) == ({"Lundi": 1, "Mardi": 0, "Mercredi": 1}, 1, False)


# ---- our Question out -------------------------------------------------------------------------

def _questions(remote, poll_id: str) -> list[dict]:
    return [doc for doc in remote.received if isinstance(doc.get("object"), dict)
            and doc["object"].get("id") == poll_id and doc["type"] in ("Create", "Update")]


async def test_hidden_results__no_count_leaves_the_node_until_it_closes(node, remote):
    """A follower gets Create{Question}, then one debounced Update per burst of votes with the
    number of voters only (no ``replies`` while results are hidden), then the counts at close."""
    camille = remote.add_actor("camille")
    async with transaction(node.rt.sessions) as s:
        await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
    lyon = f"{node.base}/actors/lyon"
    assert await _send(node, remote, camille, make_activity(camille, "Follow", 1, lyon), f"{lyon}/inbox") \
        == ("processed", "follow accepted")
    poll_id = await _org_poll(node, hide_results=True)
    await node.step()
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
    for voter, name in ((alice, "Lundi"), (bob, "Mardi")):
        await _send(node, remote, voter, _vote(voter, 1, poll_id, name, lyon), f"{lyon}/inbox")
    assert await _push(node) == 1  # two votes, one Update
    await node.step()
    sent = _questions(remote, poll_id)
    assert [d["type"] for d in sent] == ["Create", "Update"]
    assert "totalItems" not in json.dumps(sent) and "replies" not in json.dumps(sent)
    assert sent[1]["object"]["votersCount"] == 2 and sent[1]["object"]["to"] == [PUBLIC]
    assert "votersCount" in json.dumps(sent[1]["@context"])

    async with transaction(node.rt.sessions) as s:
        await polls.close(s, await polls.by_ap_id(s, poll_id))
    assert await _push(node) == 1
    await node.step()
    final = _questions(remote, poll_id)[-1]["object"]
    assert final["closed"] and {o["name"]: o["replies"]["totalItems"] for o in final["oneOf"]} == \
        {"Lundi": 1, "Mardi": 1, "Mercredi": 0}


# ---- remote polls -----------------------------------------------------------------------------

def _question(actor, n: int, group: str, counts: dict[str, int], **extra) -> dict:
    return {"id": f"{actor.ap_id}/statuses/{n}", "type": "Question", "attributedTo": actor.ap_id,
            "content": "<p>Un kiosque ?</p>", "to": [PUBLIC], "cc": [f"{actor.ap_id}/followers", group],
            "endTime": (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "votersCount": sum(counts.values()),
            "oneOf": [{"type": "Note", "name": name, "replies": {"type": "Collection", "totalItems": count}}
                      for name, count in counts.items()], **extra}


async def test_remote_poll__an_update_from_another_actor_is_refused(node, remote):
    """alice's Question addressed to the discussion's Group is kept there with her tallies; bob's
    Update of it is refused and changes nothing; hers changes them; only her Delete removes it."""
    scene = await open_scene(node)
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
    question = _question(alice, 1, scene.group, {"Oui": 3, "Non": 1})
    created = make_activity(alice, "Create", 1, question, to=question["to"], cc=question["cc"])
    assert await _send(node, remote, alice, created, scene.group_inbox) == \
        ("processed", "poll stored for the discussion")
    async with node.rt.sessions() as s:
        shown = [p.ap_id for p in await polls.of_discussion(s, await s.get(Discussion, scene.discussion_id))]
    assert shown == [question["id"]]
    assert await _tallies(node, question["id"]) == ({"Oui": 3, "Non": 1}, 4, False)

    # bob writes on alice's host (a shared host passes the origin checks): only the handler knows
    # the poll is hers.
    forged = make_activity(bob, "Update", 1, {**question, "attributedTo": bob.ap_id, "votersCount": 99, "oneOf": [
        {"type": "Note", "name": "Oui", "replies": {"type": "Collection", "totalItems": 0}},
        {"type": "Note", "name": "Non", "replies": {"type": "Collection", "totalItems": 99}}]})
    assert await _send(node, remote, bob, forged, scene.group_inbox) == \
        ("failed", "refused: only its author may update a poll")
    assert await _tallies(node, question["id"]) == ({"Oui": 3, "Non": 1}, 4, False)

    newer = _question(alice, 1, scene.group, {"Oui": 5, "Non": 2}, closed=utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert await _send(node, remote, alice, make_activity(alice, "Update", 1, newer), scene.group_inbox) == \
        ("processed", "poll updated")
    assert await _tallies(node, question["id"]) == ({"Oui": 5, "Non": 2}, 7, True)

    assert (await _send(node, remote, bob, make_activity(bob, "Delete", 1, question["id"]), scene.group_inbox))[0] \
        == "failed"
    assert await _send(node, remote, alice, make_activity(alice, "Delete", 1, question["id"]), scene.group_inbox) == \
        ("processed", "poll deleted")
    async with node.rt.sessions() as s:
        assert await polls.of_discussion(s, await s.get(Discussion, scene.discussion_id)) == []


async def test_remote_poll__addressed_nowhere_here_is_refused_and_a_followed_authors_is_kept(node, remote):
    """A Question to no discussion here from an actor nobody here follows is refused with the
    reason; once an account here follows its author, the author's next poll is kept (even when
    first heard of by its Update) — not as a post."""
    alice = remote.add_actor("alice")
    async with transaction(node.rt.sessions) as s:
        amel = (await actors.create_user(s, node.uris, "amel", "password-123", "Amel")).actor
        amel_inbox = amel.inbox
    question = _question(alice, 1, f"{alice.ap_id}/followers", {"A": 0, "B": 0})
    lone = make_activity(alice, "Create", 1, question)
    assert await _send(node, remote, alice, lone, amel_inbox) == ("failed", (
        "refused: the poll is addressed to no discussion here and nobody here follows its author"))

    async with transaction(node.rt.sessions) as s:  # amel follows alice (accepted)
        amel = await actors.require_local_actor(s, "amel")
        await follows.request_follow(s, node.uris, amel, await s.merge(await resolve_actor(node.rt, alice.ap_id)))
    await node.step()
    follow = next(d for d in remote.received if d["type"] == "Follow")
    accept = make_activity(alice, "Accept", 1, follow)
    await _send(node, remote, alice, accept, amel_inbox)
    later = _question(alice, 2, f"{alice.ap_id}/followers", {"A": 2, "B": 1})
    assert await _send(node, remote, alice, make_activity(alice, "Update", 2, later), amel_inbox) == \
        ("processed", "poll stored")
    assert await _tallies(node, later["id"]) == ({"A": 2, "B": 1}, 3, False)
    async with node.rt.sessions() as s:
        assert await s.scalar(select(Note.id).where(Note.ap_id == later["id"])) is None
        assert (await polls.by_ap_id(s, later["id"])).organization_id is None
        assert await s.scalar(select(Actor.id).where(Actor.ap_id == alice.ap_id)) is not None


async def test_remote_poll__hidden_counts_stay_hidden_here(node, remote):
    """A remote poll whose options carry no ``replies`` (its author hides the results until it
    closes) is kept with its results hidden here too; its closing Update shows them."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    question = _question(alice, 1, scene.group, {"Oui": 0, "Non": 0})
    for option in question["oneOf"]:
        del option["replies"]
    await _send(node, remote, alice, make_activity(alice, "Create", 1, question), scene.group_inbox)
    async with node.rt.sessions() as s:
        poll = await polls.by_ap_id(s, question["id"])
        assert poll.hide_results and not polls.results_visible(poll)
    closed = _question(alice, 1, scene.group, {"Oui": 4, "Non": 5}, closed=utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert await _send(node, remote, alice, make_activity(alice, "Update", 1, closed), scene.group_inbox) == \
        ("processed", "poll updated")
    async with node.rt.sessions() as s:
        assert polls.results_visible(await polls.by_ap_id(s, question["id"]))
    assert await _tallies(node, question["id"]) == ({"Oui": 4, "Non": 5}, 9, True)


# ---- hostile votes and polls through the whole inbound path -------------------------------------

HOSTILE = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.text(max_size=40)
    | st.sampled_from(["Lundi", "Mardi", " Lundi ", "Question", "Note", "2026-03-01T09:00:00Z",
                       "9999-12-31T23:59:59-23:59", "http://[", "$poll", "$group", "$alice", "$bob"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "id", "name", "content", "inReplyTo", "attributedTo", "replies",
                         "totalItems", "oneOf", "anyOf", "votersCount", "endTime", "closed", "to", "cc"]),
        children, max_size=6),
    max_leaves=20)
FIELDS = ("name", "content", "inReplyTo", "attributedTo", "oneOf", "anyOf", "votersCount", "endTime",
          "closed", "to", "cc", "type", "nameMap", "replies")


@settings(max_examples=int(os.environ.get("CIVIC_FUZZ_EXAMPLES", "60")) // 3 or 1, deadline=None,
          database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kind=st.sampled_from(["vote", "Create", "Update"]), changes=st.dictionaries(st.sampled_from(FIELDS), HOSTILE,
                                                                                  max_size=4),
       n=st.integers(min_value=1, max_value=10**6))
async def test_fuzz__hostile_votes_and_polls_are_answered_and_counted_consistently(node, remote, kind, changes, n):
    """Votes and Questions with hostile values, signed and POSTed: a 202 or a 4xx with its reason,
    never left unprocessed, a failed row refused with its reason (never an error); the stored
    tallies always equal the stored votes, and no stored poll has more options than allowed."""
    scene = getattr(node, "poll_scene", None)
    if scene is None:
        scene = await open_scene(node)
        poll_id = await _org_poll(node)
        node.poll_scene = scene = (scene, poll_id, remote.add_actor("alice"), remote.add_actor("bob"))
    discussion, poll_id, alice, bob = scene
    ids = {"$poll": poll_id, "$group": discussion.group, "$alice": alice.ap_id, "$bob": bob.ap_id}
    text = json.dumps(changes)
    for placeholder, value in ids.items():
        text = text.replace(placeholder, value)
    changes = json.loads(text)
    if kind == "vote":
        doc = _vote(alice, n, poll_id, "Lundi", discussion.org)
        doc["object"].update(changes)
        inbox = f"{discussion.org}/inbox"
    else:
        question = {**_question(alice, n, discussion.group, {"Oui": 1, "Non": 2}), **changes}
        doc = make_activity(alice, kind, n, question)
        inbox = discussion.group_inbox
    status, answer = await remote.post(inbox, doc, alice)
    assert 200 <= status < 300 or 400 <= status < 500, (status, answer, doc)
    if status >= 400:
        assert answer.get("error"), (status, answer)
    await node.step()
    async with node.rt.sessions() as s:
        rows = list(await s.scalars(select(InboxActivity).where(InboxActivity.ap_id == doc["id"])))
        for row in rows:
            assert row.state != InboxStates.received and row.error is not None, (row.error, doc)
            if row.state == InboxStates.failed:
                assert row.error.startswith("refused: "), (row.error, doc)
        for poll in await s.scalars(select(Poll)):
            options = await polls.options(s, poll)
            assert 1 <= len(options) <= 100
            if poll.local:
                votes = await s.scalar(select(func.count()).select_from(PollVote).where(PollVote.poll_id == poll.id))
                voters = await s.scalar(select(func.count()).select_from(PollVoter).where(
                    PollVoter.poll_id == poll.id))
                assert sum(o.votes_count for o in options) == votes and poll.voters_count == voters


async def test_discussion_poll__reaches_the_groups_followers_in_its_thread(node, remote):
    """A poll of lyon in a discussion goes to the followers of the discussion's Group (FEP-1b12:
    ``audience`` and ``context`` are the Group, which is addressed); its Update likewise."""
    scene = await open_scene(node)
    camille = remote.add_actor("camille")
    follow = make_activity(camille, "Follow", 1, scene.group)
    assert await _send(node, remote, camille, follow, scene.group_inbox) == ("processed", "follow accepted")
    async with transaction(node.rt.sessions) as s:
        org = await actors.require_local_actor(s, "lyon")
        poll = await polls.create(s, node.uris, org, org, "<p>Le kiosque ?</p>", ["Oui", "Non"],
                                  discussion=await s.get(Discussion, scene.discussion_id),
                                  end_time=utcnow() + timedelta(days=1))
        poll_id = poll.ap_id
    await node.step()
    await _send(node, remote, camille, _vote(camille, 1, poll_id, "Oui", scene.org), f"{scene.org}/inbox")
    assert await _push(node) == 1
    await node.step()
    sent = _questions(remote, poll_id)
    assert [d["type"] for d in sent] == ["Create", "Update"]
    for doc in sent:
        question = doc["object"]
        assert question["audience"] == question["context"] == scene.group
        assert question["attributedTo"] == scene.org and doc["actor"] == scene.org
        assert scene.group in question["cc"] and f"{scene.group}/followers" in question["cc"]
    assert sent[1]["object"]["oneOf"][0]["replies"]["totalItems"] == 1
