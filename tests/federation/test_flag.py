"""Federated moderation on the federation side: the block hook, inbound Flag, forwarded Flag."""

import json

import pytest
from sqlalchemy import select

from activities.errors import InvalidDocument
from activities.flags import as_to_flag
from federation.moderation_policy import refused_actor, silenced
from node.db import transaction
from node.errors import InvalidInput
from node.models import Actor, HiddenContent, ModerationLogEntry, Report
from node.services import actors, moderation, reports
from tests.federation.participation_scene import (
    follow_group,
    make_activity,
    mastodon_reply,
    open_scene,
    outcome_of,
    post,
    received,
    stored_contribution,
)

SPAMMER = "https://spam.example/users/spammer"


async def test_refused_actor__blocked_account_is_refused_with_its_reason(sessions):
    """SECURITY.md rule 22: a blocked account's activities are refused ("the account is blocked");
    a silenced or unknown account is not refused, and unblocking lifts the refusal."""
    async with sessions() as s:
        assert await refused_actor(s, SPAMMER) is None
    async with transaction(sessions) as s:
        await moderation.restrict_account(s, SPAMMER, "block", "spam")
        await moderation.restrict_account(s, "https://spam.example/users/quiet", "silence")
    async with sessions() as s:
        assert await refused_actor(s, SPAMMER) == "the account is blocked"
        assert await refused_actor(s, "https://spam.example/users/quiet") is None
        assert await silenced(s, "https://spam.example/users/quiet") is True
        assert await refused_actor(s, "https://spam.example/users/other") is None
        logged = [(e.action, e.target_ap_id) for e in await s.scalars(
            select(ModerationLogEntry).order_by(ModerationLogEntry.id))]
        assert logged == [("block", SPAMMER), ("silence", "https://spam.example/users/quiet")]
    async with transaction(sessions) as s:
        assert await moderation.lift_restriction(s, SPAMMER) is True
        assert await moderation.lift_restriction(s, SPAMMER) is False
    async with sessions() as s:
        assert await refused_actor(s, SPAMMER) is None


@pytest.mark.parametrize("bad", ["", "spammer@spam.example", "javascript:alert(1)", "https://x/" + "a" * 2100])
async def test_restrict_account__refuses_what_is_not_an_account_address(sessions, bad):
    """Only an http(s) account address can be blocked; nothing is stored otherwise."""
    with pytest.raises(InvalidInput):
        async with transaction(sessions) as s:
            await moderation.restrict_account(s, bad, "block")
    async with sessions() as s:
        assert await moderation.list_restrictions(s) == []


# ---- inbound Flag, blocks and silences on a running node (real signed POSTs from a remote host)

async def _scene_with_reply(node, remote):
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    reply = mastodon_reply(alice, 1, scene.page, scene.org)
    await post(node, remote, scene.group_inbox, reply, alice)
    return scene, alice, reply


async def test_inbound_flag__instance_actor_flag_reaches_the_queue(node, remote):
    """SECURITY.md rule 22: a Flag signed by a remote instance actor (as Mastodon sends it) naming
    an account and a contribution opens a report by that actor, its content as the reason."""
    scene, alice, reply = await _scene_with_reply(node, remote)
    instance = remote.add_actor("instance", "Application")
    flag = make_activity(instance, "Flag", 1, [alice.ap_id, reply["object"]["id"]],
                         content="Spam <b>everywhere</b>")
    await post(node, remote, node.uris.shared_inbox(), flag, instance)
    assert await outcome_of(node, flag["id"]) == ("processed", "report opened: 1")
    async with node.rt.sessions() as s:
        rows = list(await s.scalars(select(Report)))
        assert [(r.reporter.ap_id, r.target_ap_id, r.reason, r.flag_ap_id, r.state) for r in rows] == [
            (instance.ap_id, reply["object"]["id"], "Spam everywhere", flag["id"], "open")]
        org = await s.scalar(select(Actor).where(Actor.ap_id == scene.org))
        assert rows[0].organization_id == org.id


async def test_inbound_flag__naming_nothing_of_ours_or_nothing_at_all(node, remote):
    """A Flag about unknown objects opens nothing; a Flag without object is refused with a reason."""
    await _scene_with_reply(node, remote)
    bob = remote.add_actor("bob")
    unknown = make_activity(bob, "Flag", 1, ["https://elsewhere.example/notes/1"], content="?")
    await post(node, remote, node.uris.shared_inbox(), unknown, bob)
    assert (await outcome_of(node, unknown["id"]))[0] == "processed"
    empty = make_activity(bob, "Flag", 2, [], content="?")
    await post(node, remote, node.uris.shared_inbox(), empty, bob)
    assert await outcome_of(node, empty["id"]) == ("failed", "refused: a Flag needs the reported object")
    async with node.rt.sessions() as s:
        assert list(await s.scalars(select(Report))) == []


async def test_blocked_account__later_replies_are_refused(node, remote):
    """SECURITY.md rule 22: after a block, the account's replies are marked failed with the reason
    "the account is blocked" and never become contributions; another account is unaffected."""
    scene, alice, _ = await _scene_with_reply(node, remote)
    async with transaction(node.rt.sessions) as s:
        await moderation.restrict_account(s, alice.ap_id, "block", "spam")
    second = mastodon_reply(alice, 2, scene.page, scene.org)
    await post(node, remote, scene.group_inbox, second, alice)
    assert await outcome_of(node, second["id"]) == ("failed", "refused: the account is blocked")
    assert await stored_contribution(node, second["object"]["id"]) is None
    bob = remote.add_actor("bob")
    third = mastodon_reply(bob, 3, scene.page, scene.org)
    await post(node, remote, scene.group_inbox, third, bob)
    assert await stored_contribution(node, third["object"]["id"]) is not None


async def test_silenced_account__replies_are_held_and_not_relayed(node, remote):
    """A silenced account's reply is stored hidden and held for review; the group does not pass it
    on to its followers until a moderator approves it."""
    scene = await open_scene(node)
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
    await follow_group(node, remote, scene, bob)
    async with transaction(node.rt.sessions) as s:
        await moderation.restrict_account(s, alice.ap_id, "silence")
    reply = mastodon_reply(alice, 1, scene.page, scene.org)
    await post(node, remote, scene.group_inbox, reply, alice)
    assert await outcome_of(node, reply["id"]) == (
        "processed", "contribution stored; held for review (the account is silenced)")
    assert (await stored_contribution(node, reply["object"]["id"])).hidden is True
    assert received(remote, "Announce", scene.group) == []
    async with node.rt.sessions() as s:
        held = await s.scalar(select(HiddenContent).where(HiddenContent.target_ap_id == reply["object"]["id"]))
        assert held.held is True and held.reason == "held for review: the account is silenced"


async def test_forwarded_report__flag_from_the_instance_actor_to_the_origin(node, remote):
    """A forwarded report leaves as a Flag from our instance actor (the reporter stays anonymous)
    to the reported account's inbox: object = [account, contribution], content = the comment."""
    scene, alice, reply = await _scene_with_reply(node, remote)
    async with transaction(node.rt.sessions) as s:
        amel = await actors.require_local_actor(s, "amel")
        admin = await actors.create_user(s, node.uris, "chloe", "password-123", "Chloé", is_admin=True)
        target = await reports.target_of(s, reply["object"]["id"])
        row = await reports.report(s, amel, target, category="spam", reason="pub")
    async with transaction(node.rt.sessions) as s:
        await reports.forward(s, admin, await reports.require_report(s, admin, row.id), "Spam wave")
    await node.step()
    flags = [d for d in remote.received if d["type"] == "Flag"]
    assert [(f["actor"], f["object"], f["content"]) for f in flags] == [
        (node.uris.instance_actor(), [alice.ap_id, reply["object"]["id"]], "Spam wave")]
    assert amel.ap_id not in json.dumps(flags)


async def test_premoderation__first_contributions_of_a_remote_account_are_held(node, remote):
    """With pre-moderation of 1 first contribution, a remote account's first reply is held for
    review and its second is shown at once."""
    scene = await open_scene(node)
    async with transaction(node.rt.sessions) as s:
        org = await s.scalar(select(Actor).where(Actor.ap_id == scene.org))
        await reports.set_premoderation(s, None, org.id, 1)
    alice = remote.add_actor("alice")
    first, second = (mastodon_reply(alice, n, scene.page, scene.org) for n in (1, 2))
    await post(node, remote, scene.group_inbox, first, alice)
    await post(node, remote, scene.group_inbox, second, alice)
    assert await outcome_of(node, first["id"]) == (
        "processed", "contribution stored; held for review (pre-moderation)")
    assert (await stored_contribution(node, first["object"]["id"])).hidden is True
    assert (await stored_contribution(node, second["object"]["id"])).hidden is False


@pytest.mark.parametrize("doc, objects, content", [
    # Mastodon: the account then its posts, the reason in content (plain text)
    ({"object": ["https://n.example/actors/a", "https://n.example/contributions/1"], "content": "spam"},
     ["https://n.example/actors/a", "https://n.example/contributions/1"], "spam"),
    # Lemmy: one embedded post, the reason in summary
    ({"object": {"id": "https://n.example/contributions/1", "type": "Note"}, "summary": "<b>rude</b>"},
     ["https://n.example/contributions/1"], "rude"),
    # no reason at all
    ({"object": "https://n.example/actors/a"}, ["https://n.example/actors/a"], ""),
])
def test_as_to_flag__mastodon_and_lemmy_shapes(doc, objects, content):
    """Flags as Mastodon and Lemmy send them read the same: object ids, and the reason as plain text."""
    data = as_to_flag({"id": "https://r.example/flags/1", "type": "Flag", "actor": "https://r.example/actor", **doc})
    assert (data.objects, data.content) == (objects, content)


def test_as_to_flag__without_object_is_refused():
    """A Flag naming nothing is an InvalidDocument (a failed row with its reason, never a crash)."""
    with pytest.raises(InvalidDocument):
        as_to_flag({"id": "https://r.example/flags/1", "type": "Flag", "actor": "https://r.example/actor",
                    "object": []})
