"""A coalition's joint discussion and its visibility level, followed from the fediverse.

A joint discussion belongs to the coalition's Group, so its ``followers`` level means the
coalition's approved followers: the home does not know who follows a member organisation on
another node (each member's followers stay on its node — FEDERATION.md "Coalitions and
campaigns", "Visibility levels"). A follower of a member follows the coalition, or the member
relays or links the discussion. A ``public`` joint discussion takes everyone."""

from __future__ import annotations

from sqlalchemy import select

from node.db import transaction
from node.models import Actor, Contribution, Follow, FollowStates
from node.services import actors, coalitions, discussions
from tests.federation.participation_scene import make_activity, mastodon_reply, outcome_of, post

FOLLOWERS_ONLY = "ignored: only the organisation's approved followers may follow this discussion"


async def _scene(node, remote, level: str) -> dict:
    """Coalition blue (founder ocean, member lyon) with a joint discussion at ``level``; remote
    ``fan`` follows blue, remote ``lyonnais`` follows lyon only (both follows accepted)."""
    async with transaction(node.rt.sessions) as s:
        ocean = await actors.create_organization(s, node.uris, "ocean", "Ocean Alliance")
        lyon = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        blue = await coalitions.create(s, node.uris, "blue", "Blue Coalition", founder=ocean,
                                       languages=("fr", "de"))
        await coalitions.invite(s, node.uris, blue.actor, lyon)
        await coalitions.answer_invite(s, node.uris, lyon, blue.actor, True)
        d = await discussions.open_discussion(s, node.uris, blue.actor, "plastique",
                                              {"fr": "Moins de plastique"}, body="Quelles mesures ?",
                                              visibility=level)
        scene = {"blue": blue.actor.ap_id, "lyon": lyon.ap_id, "group": d.group.ap_id,
                 "inbox": d.group.inbox, "page": d.page_ap_id, "discussion": d.id}
    fan, lyonnais = remote.add_actor("fan"), remote.add_actor("lyonnais")
    for actor, org in ((fan, scene["blue"]), (lyonnais, scene["lyon"])):
        follow = make_activity(actor, "Follow", 1, org)
        await post(node, remote, f"{org}/inbox", follow, actor)
        assert await outcome_of(node, follow["id"]) == ("processed", f"follow {FollowStates.accepted}")
    return {**scene, "fan": fan, "lyonnais": lyonnais}


async def _follow_and_reply(node, remote, scene: dict, actor) -> tuple[tuple, tuple]:
    """``actor`` follows the joint discussion's Group, then replies to its page: the outcomes
    recorded on the two inbox rows."""
    follow = make_activity(actor, "Follow", 2, scene["group"])
    await post(node, remote, scene["inbox"], follow, actor)
    reply = mastodon_reply(actor, 1, scene["page"], scene["group"])
    await post(node, remote, scene["inbox"], reply, actor)
    return await outcome_of(node, follow["id"]), await outcome_of(node, reply["id"])


async def _group_follow_state(node, group: str, follower: str) -> str | None:
    async with node.rt.sessions() as s:
        group_id = await s.scalar(select(Actor.id).where(Actor.ap_id == group))
        follower_id = await s.scalar(select(Actor.id).where(Actor.ap_id == follower))
        return await s.scalar(select(Follow.state).where(Follow.followed_id == group_id,
                                                         Follow.follower_id == follower_id))


async def _contributions_of(node, actor) -> list[tuple[str, int]]:
    """(id, discussion) of every contribution stored whose author is ``actor``, in any discussion."""
    async with node.rt.sessions() as s:
        author_id = await s.scalar(select(Actor.id).where(Actor.ap_id == actor.ap_id))
        return [tuple(row) for row in await s.execute(select(
            Contribution.ap_id, Contribution.discussion_id).where(Contribution.author_id == author_id))]


async def test_followers_joint_discussion__takes_the_coalitions_followers_not_a_members(node, remote):
    """``followers`` on a joint discussion means the coalition's followers: blue's follower
    follows it and its reply becomes a contribution; lyon's follower (not blue's) is refused with
    the reason on its inbox row, and nothing of it is stored in the discussion."""
    scene = await _scene(node, remote, "followers")
    fan, lyonnais = scene["fan"], scene["lyonnais"]
    followed, replied = await _follow_and_reply(node, remote, scene, fan)
    assert followed == ("processed", f"follow {FollowStates.accepted}")
    assert replied[0] == "processed", replied
    assert await _group_follow_state(node, scene["group"], fan.ap_id) == FollowStates.accepted
    assert await _contributions_of(node, fan) == [(f"{fan.ap_id}/statuses/1", scene["discussion"])]

    followed, replied = await _follow_and_reply(node, remote, scene, lyonnais)
    assert followed == ("processed", FOLLOWERS_ONLY)
    assert replied == ("processed", "ignored: this discussion takes no contributions from the fediverse")
    assert await _group_follow_state(node, scene["group"], lyonnais.ap_id) is None
    assert await _contributions_of(node, lyonnais) == []


async def test_public_joint_discussion__takes_a_members_follower_and_the_coalitions(node, remote):
    """A ``public`` joint discussion: the coalition's follower and a member's follower both
    follow it, and the reply of each becomes a contribution."""
    scene = await _scene(node, remote, "public")
    for actor in (scene["fan"], scene["lyonnais"]):
        followed, replied = await _follow_and_reply(node, remote, scene, actor)
        assert followed == ("processed", f"follow {FollowStates.accepted}"), actor.ap_id
        assert replied[0] == "processed", (actor.ap_id, replied)
        assert await _group_follow_state(node, scene["group"], actor.ap_id) == FollowStates.accepted
        assert await _contributions_of(node, actor) == [(f"{actor.ap_id}/statuses/1", scene["discussion"])]
