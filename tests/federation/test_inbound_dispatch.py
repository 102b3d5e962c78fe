"""federation/inbound: one handler per (activity type, kind of target), registered by its feature
module; a new kind is one more module; a pair without a handler is ignored with its reason."""

from __future__ import annotations

import inspect

import pytest
from sqlalchemy import select

from federation.inbound import HANDLERS, Inbound, handles
from federation.inbound.registry import HandlerConflict
from node.db import transaction
from node.models import Actor, Discussion, Follow, FollowStates
from node.services import actors, community, contributions, discussions, follows
from tests.federation.participation_scene import (
    make_activity,
    mastodon_like,
    mastodon_reply,
    open_scene,
    outcome_of,
    post,
    stored_contribution,
)

# The dispatch table: (activity, kind of target) -> feature module and handler.
TABLE = {
    ("Follow", "actor"): "follows.on_follow_actor",
    ("Undo", "Follow"): "follows.on_undo_follow",
    ("Accept", "Follow"): "follows.on_accept_follow",
    ("Reject", "Follow"): "follows.on_reject_follow",
    ("Create", "note"): "notes.on_create_note",
    ("Update", "note"): "notes.on_update_note",
    ("Delete", "note"): "notes.on_delete_note",
    ("Delete", "unknown"): "notes.on_delete_unknown",
    ("Create", "discussion"): "contributions.on_create_contribution",
    ("Create", "contribution"): "contributions.on_create_contribution",
    ("Update", "contribution"): "contributions.on_update_contribution",
    ("Delete", "contribution"): "contributions.on_delete_contribution",
    ("Like", "contribution"): "reactions.on_react",
    ("Like", "proposal"): "reactions.on_react",
    ("Join", "initiative"): "reactions.on_react",
    ("Undo", "Like"): "reactions.on_undo_reaction",
    ("Undo", "Join"): "reactions.on_undo_reaction",
    ("Update", "actor"): "actors.on_update_actor",
    ("Delete", "actor"): "erasure.on_delete_actor",
    ("Flag", "objects"): "moderation.on_flag",
    ("Like", "variant"): "reactions.on_react",
    ("Like", "campaign"): "campaigns.on_like_campaign",
    ("Create", "campaign-page"): "campaigns.on_campaign",
    ("Create", "variant-page"): "campaigns.on_variant",
    ("Announce", "relayed-like"): "campaigns.on_relayed_support",
    ("Join", "actor"): "coalitions.on_join",
    ("Leave", "actor"): "coalitions.on_leave",
    ("Invite", "actor"): "coalitions.on_invite",
    ("Remove", "actor"): "coalitions.on_remove",
    ("Accept", "Join"): "coalitions.on_accept",
    ("Accept", "Invite"): "coalitions.on_accept",
    ("Reject", "Join"): "coalitions.on_reject",
    ("Reject", "Invite"): "coalitions.on_reject",
    ("Reject", "Leave"): "coalitions.on_reject",
    ("Create", "vote"): "polls.on_create_vote",
    ("Create", "question"): "polls.on_create_question",
    ("Update", "poll"): "polls.on_update_poll",
    ("Update", "question"): "polls.on_update_question",
    ("Delete", "poll"): "polls.on_delete_poll",
    ("Like", "project"): "reactions.on_react",
    ("Create", "project"): "budgets.on_create_comment",
    ("Create", "project_comment"): "budgets.on_create_comment",
    ("Create", "budget"): "budgets.on_create_project",
    ("Update", "project"): "budgets.on_update_project",
    ("Delete", "project"): "budgets.on_delete",
    ("Delete", "project_comment"): "budgets.on_delete",
}


@pytest.fixture
def registry_restored():
    """Handlers a test registers are gone after it (the table is the process's)."""
    saved = dict(HANDLERS)
    yield
    HANDLERS.clear()
    HANDLERS.update(saved)


def test_registry__the_table_of_pairs_and_their_modules():
    """Each (activity, kind) pair goes to exactly the handler of its feature module."""
    found = {pair: f"{h.__module__.rsplit('.', 1)[-1]}.{h.__name__}" for pair, h in HANDLERS.items()}
    assert found == TABLE


def test_registry__every_handler_answers_an_outcome():
    """No handler is declared as possibly answering None (nothing falls through to another)."""
    for handler in set(HANDLERS.values()):
        assert inspect.signature(handler).return_annotation == "str", handler.__qualname__


def test_handles__a_handler_that_may_answer_none_is_refused(registry_restored):
    """Registering a handler that may answer None, or a second handler for a taken pair, fails
    at import time rather than silently at dispatch."""
    with pytest.raises(HandlerConflict, match="must answer an outcome"):
        @handles("Like", "article")
        async def maybe(ctx: Inbound) -> str | None:
            return None
    with pytest.raises(HandlerConflict, match="handled by federation.inbound.reactions already"):
        @handles("Like", "contribution")
        async def another(ctx: Inbound) -> str:
            return "twice"
    assert ("Like", "article") not in HANDLERS


async def test_dispatch__a_new_kind_is_one_more_module(node, remote, registry_restored):
    """A Like of an article had no handler; a handler registered here (as a new feature module
    would register it, editing none) receives it through the inbox, with the kind read from our
    id, and its outcome is recorded."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    async with transaction(node.rt.sessions) as s:
        d = await s.get(Discussion, scene.discussion_id)
        amel = await actors.require_local_actor(s, "amel")
        article = await community.add_article(s, node.uris, d, amel, "Le Clos Jouve",
                                              link="https://example.org/a")
    before = mastodon_like(alice, 1, article.ap_id)
    await post(node, remote, f"{scene.amel}/inbox", before, alice)
    assert await outcome_of(node, before["id"]) == ("processed", "ignored: Like of article has no handler")

    @handles("Like", "article")
    async def on_like_article(ctx: Inbound) -> str:
        return f"article liked: {ctx.target.ap_id == article.ap_id} by {ctx.actor.ap_id == alice.ap_id}"

    after = mastodon_like(alice, 2, article.ap_id)
    await post(node, remote, f"{scene.amel}/inbox", after, alice)
    assert await outcome_of(node, after["id"]) == ("processed", "article liked: True by True")


async def test_dispatch__a_handler_answering_none_fails_its_row(node, remote, registry_restored):
    """A handler that answers None anyway is a bug: its row fails with the reason, never
    'processed' with nothing done."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")

    @handles("Like", "discussion")
    async def silent(ctx: Inbound) -> str:
        return None  # type: ignore[return-value]

    like = mastodon_like(alice, 1, scene.page)
    await post(node, remote, f"{scene.amel}/inbox", like, alice)
    state, error = await outcome_of(node, like["id"])
    assert state == "failed" and "answered None, not an outcome" in error


async def test_dispatch__unknown_pairs_are_ignored_with_their_reason(node, remote):
    """A Like of the discussion page, a Follow of a remote actor, an Update of a post we do not
    hold: each is processed as ignored, naming the pair."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    like = mastodon_like(alice, 1, scene.page)
    follow = make_activity(alice, "Follow", 1, "https://elsewhere.example/users/zoe")
    update = make_activity(alice, "Update", 1, {"id": f"{alice.ap_id}/statuses/9", "type": "Note",
                                                "attributedTo": alice.ap_id, "content": "x"})
    for doc in (like, follow, update):
        await post(node, remote, f"{scene.amel}/inbox", doc, alice)
    assert [await outcome_of(node, d["id"]) for d in (like, follow, update)] == [
        ("processed", "ignored: Like of discussion has no handler"),
        ("processed", "ignored: Follow of unknown has no handler"),
        ("processed", "ignored: Update of unknown has no handler"),
    ]


async def test_dispatch__an_unknown_activity_type_is_ignored(node, remote):
    """An activity type nobody handles is stored and ignored as "unknown type"."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    doc = make_activity(alice, "Listen", 1, scene.page)
    await post(node, remote, f"{scene.amel}/inbox", doc, alice)
    assert await outcome_of(node, doc["id"]) == ("ignored", "unknown type")


# ---- Follows and participation by level (FEDERATION.md "Visibility levels")


async def _group_follow_state(node, group_ap_id: str, follower_ap_id: str) -> str | None:
    async with node.rt.sessions() as s:
        group = select(Actor.id).where(Actor.ap_id == group_ap_id).scalar_subquery()
        follower = select(Actor.id).where(Actor.ap_id == follower_ap_id).scalar_subquery()
        return await s.scalar(select(Follow.state).where(
            Follow.followed_id == group, Follow.follower_id == follower))


async def test_follow__a_followers_discussion_takes_only_the_organisations_followers(node, remote):
    """A ``followers`` discussion's Group is followed at once by an approved follower of the
    organisation; anyone else is ignored with the reason, and nothing is stored."""
    scene = await open_scene(node)
    alice, mallory = remote.add_actor("alice"), remote.add_actor("mallory")
    async with transaction(node.rt.sessions) as s:
        org = await actors.require_local_actor(s, "lyon")
        d = await discussions.open_discussion(s, node.uris, org, "budget", "Budget", visibility="followers")
        group = d.group.ap_id
    await post(node, remote, f"{scene.org}/inbox", make_activity(alice, "Follow", 1, scene.org), alice)
    first = make_activity(alice, "Follow", 2, group)
    await post(node, remote, f"{scene.org}/inbox", first, alice)
    second = make_activity(mallory, "Follow", 1, group)
    await post(node, remote, f"{scene.org}/inbox", second, mallory)
    assert await outcome_of(node, first["id"]) == ("processed", f"follow {FollowStates.accepted}")
    assert await outcome_of(node, second["id"]) == (
        "processed", "ignored: only the organisation's approved followers may follow this discussion")
    assert await _group_follow_state(node, group, alice.ap_id) == FollowStates.accepted
    assert await _group_follow_state(node, group, mallory.ap_id) is None


async def test_follow__a_members_discussion_answers_as_an_absent_one(node, remote):
    """A ``members`` discussion's Group cannot be followed, even by the organisation's followers."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    async with transaction(node.rt.sessions) as s:
        org = await actors.require_local_actor(s, "lyon")
        d = await discussions.open_discussion(s, node.uris, org, "interne", "Interne", visibility="members")
        group = d.group.ap_id
    await post(node, remote, f"{scene.org}/inbox", make_activity(alice, "Follow", 1, scene.org), alice)
    follow = make_activity(alice, "Follow", 2, group)
    await post(node, remote, f"{scene.org}/inbox", follow, alice)
    assert await outcome_of(node, follow["id"]) == ("processed", "ignored: this discussion cannot be followed")
    assert await _group_follow_state(node, group, alice.ap_id) is None
    async with node.rt.sessions() as s:
        org = await actors.require_local_actor(s, "lyon")
        assert [a.ap_id for a in await follows.followers(s, org)] == [alice.ap_id]


async def test_participation__a_followers_discussion_takes_part_only_from_those_it_admits(node, remote):
    """In a ``followers`` discussion, an approved follower of the organisation contributes and
    agrees; a stranger's reply and Like are ignored with the reason and change nothing
    (SECURITY.md rule 24)."""
    scene = await open_scene(node)
    alice, mallory = remote.add_actor("alice"), remote.add_actor("mallory")
    async with transaction(node.rt.sessions) as s:
        org = await actors.require_local_actor(s, "lyon")
        amel = await actors.require_local_actor(s, "amel")
        d = await discussions.open_discussion(s, node.uris, org, "budget", "Budget", visibility="followers")
        page, group = d.page_ap_id, d.group.ap_id
        note = (await contributions.contribute(s, node.uris, d, amel, "<p>Un banc</p>")).ap_id
    await post(node, remote, f"{scene.org}/inbox", make_activity(alice, "Follow", 1, scene.org), alice)
    replies = {who.ap_id: mastodon_reply(who, 1, page, group) for who in (alice, mallory)}
    likes = {who.ap_id: mastodon_like(who, 1, note) for who in (alice, mallory)}
    for who in (alice, mallory):
        await post(node, remote, f"{scene.org}/inbox", replies[who.ap_id], who)
        await post(node, remote, f"{scene.amel}/inbox", likes[who.ap_id], who)
    assert await outcome_of(node, replies[alice.ap_id]["id"]) == ("processed", "contribution stored")
    assert await outcome_of(node, likes[alice.ap_id]["id"]) == ("processed", "agreement recorded")
    assert await outcome_of(node, replies[mallory.ap_id]["id"]) == (
        "processed", "ignored: this discussion takes no contributions from the fediverse")
    assert await outcome_of(node, likes[mallory.ap_id]["id"]) == (
        "processed", "ignored: the contribution is not public")
    assert await stored_contribution(node, replies[mallory.ap_id]["object"]["id"]) is None
    assert (await stored_contribution(node, note)).agree_count == 1
