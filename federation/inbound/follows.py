"""Inbound follows: Follow of our actors (organisations, people, discussion groups), the Undo of
a Follow, and the Accept or Reject of the Follows we sent."""

from __future__ import annotations

from sqlalchemy import delete

from activities.normalize import id_of
from federation.inbound.context import Inbound
from federation.inbound.registry import handles
from node import visibility
from node.models import Actor, Discussion, Follow, FollowStates
from node.services import discussions, follows
from node.services.actors import local_actor

CANNOT_FOLLOW = "this discussion cannot be followed"
FOLLOWERS_ONLY = "only the organisation's approved followers may follow this discussion"


async def _local_actor(ctx: Inbound, ap_id: str | None) -> Actor | None:
    """The local actor whose id is ``ap_id`` (the instance actor is not followable)."""
    kind = ctx.runtime.uris.kind_of(ap_id)
    if kind is None or kind.kind != "actor":
        return None
    return await local_actor(ctx.session, kind.username)


async def _discussion_refusal(ctx: Inbound, discussion: Discussion) -> str | None:
    """Why the signer may not follow this discussion's Group, or None. A discussion that does not
    federate (waiting for moderation, rejected, ``members``) answers as an absent one; a
    ``followers`` one takes only the organisation's approved followers (FEDERATION.md "Visibility
    levels", SECURITY.md rule 24)."""
    if discussion.moderation != "approved":
        return CANNOT_FOLLOW
    level = await discussions.level(ctx.session, discussion)
    if not visibility.federates(level):
        return CANNOT_FOLLOW
    if visibility.admits(level, visibility.NOBODY):
        return None
    who = await visibility.standing(ctx.session, visibility.Reader.of_remote(ctx.actor.id),
                                    discussion.organization_id)
    return None if visibility.admits(level, who) else FOLLOWERS_ONLY


@handles("Follow", "actor")
async def on_follow_actor(ctx: Inbound) -> str:
    target = await _local_actor(ctx, ctx.target.ap_id)
    if target is None:
        return "ignored: the Follow is not for one of our actors"
    discussion = await discussions.by_group(ctx.session, target) if target.type == "Group" else None
    if discussion is not None:
        refusal = await _discussion_refusal(ctx, discussion)
        if refusal is not None:
            return f"ignored: {refusal}"
    follow = await follows.receive_follow(ctx.session, ctx.actor, target, ctx.doc["id"])
    if discussion is not None and follow.state != FollowStates.accepted:
        # A discussion's Group accepts at once whoever may read it (FEP-1b12); for a
        # ``followers`` discussion the organisation's approval of the follower was the approval.
        await follows.accept(ctx.session, follow)
    return f"follow {follow.state}"


@handles("Undo", "Follow")
async def on_undo_follow(ctx: Inbound) -> str:
    inner = ctx.target.row if isinstance(ctx.target.row, dict) else None
    followed = id_of(inner.get("object")) if inner is not None else None
    removed = await follows.remove_by_follower(ctx.session, ctx.actor, followed, ctx.target.ap_id)
    return f"undo follow: {removed} removed"


@handles("Accept", "Follow")
async def on_accept_follow(ctx: Inbound) -> str:
    inner = ctx.target.row if isinstance(ctx.target.row, dict) else None
    follower = await _local_actor(ctx, id_of(inner.get("actor"))) if inner is not None else None
    ok = await follows.mark_accepted(ctx.session, ctx.target.ap_id, follower, ctx.actor)
    return "follow accepted" if ok else "ignored: no matching follow"


@handles("Reject", "Follow")
async def on_reject_follow(ctx: Inbound) -> str:
    if not ctx.target.ap_id:
        return "ignored: the Reject names no Follow"
    removed = (await ctx.session.execute(delete(Follow).where(
        Follow.followed_id == ctx.actor.id, Follow.ap_id == ctx.target.ap_id))).rowcount
    return f"follow rejected: {removed} removed"
