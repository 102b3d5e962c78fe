"""Follows out: our Follow and its Undo, and our Accept or Reject of a remote follower.

Between two actors only: sent to the other actor's inbox, never listed in an outbox."""

from __future__ import annotations

from sqlalchemy import select

from activities import wrappers
from federation.outbound.publisher import Publisher
from federation.outbound.registry import builds
from node import visibility
from node.models import Actor, Follow
from node.services import outbox


async def _follow_parts(p: Publisher, follow_id: int) -> tuple[Follow, Actor, Actor] | None:
    follow = await p.session.get(Follow, follow_id)
    if follow is None:
        return None
    return follow, await p.session.get(Actor, follow.follower_id), await p.session.get(Actor, follow.followed_id)


async def _send(p: Publisher, actor: Actor, doc: dict, inbox: str, object_ap_id: str) -> None:
    await p.publish(actor, doc, [inbox], level=visibility.PUBLIC, object_ap_id=object_ap_id,
                    listed=False)


@builds(outbox.FOLLOW_ACCEPTED)
async def follow_accepted(p: Publisher, follow_id: int) -> None:
    parts = await _follow_parts(p, follow_id)
    if parts is None:
        return
    follow, follower, followed = parts
    follow_doc = wrappers.follow(follow.ap_id, follower.ap_id, followed.ap_id)
    await _send(p, followed, wrappers.accept(p.new_id(), followed.ap_id, follow_doc), follower.inbox,
                follow.ap_id)


@builds(outbox.FOLLOW_REJECTED)
async def follow_rejected(p: Publisher, follow_ap_id: str, follower: str, followed_id: int) -> None:
    followed = await p.session.get(Actor, followed_id)
    target = await p.session.scalar(select(Actor).where(Actor.ap_id == follower))
    if followed is None or target is None:
        return
    follow_doc = wrappers.follow(follow_ap_id, follower, followed.ap_id)
    await _send(p, followed, wrappers.reject(p.new_id(), followed.ap_id, follow_doc), target.inbox,
                follow_ap_id)


@builds(outbox.FOLLOW_REQUESTED)
async def follow_requested(p: Publisher, follow_id: int) -> None:
    parts = await _follow_parts(p, follow_id)
    if parts is None:
        return
    follow, follower, followed = parts
    await _send(p, follower, wrappers.follow(follow.ap_id, follower.ap_id, followed.ap_id),
                followed.inbox, followed.ap_id)


@builds(outbox.FOLLOW_UNDONE)
async def follow_undone(p: Publisher, follow_ap_id: str, follower_id: int, followed: str) -> None:
    follower = await p.session.get(Actor, follower_id)
    target = await p.session.scalar(select(Actor).where(Actor.ap_id == followed))
    if follower is None or target is None:
        return
    inner = wrappers.follow(follow_ap_id, follower.ap_id, followed)
    await _send(p, follower, wrappers.undo(p.new_id(), follower.ap_id, inner, [followed]),
                target.inbox, follow_ap_id)
