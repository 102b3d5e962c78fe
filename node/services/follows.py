"""Follow relations in both directions, pending requests, and the follower lists used for fan-out."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from node.errors import Conflict, NotFound
from node.models import Actor, Follow, FollowStates
from node.services import outbox
from node.uris import Uris, new_token


async def find(session: AsyncSession, follower: Actor, followed: Actor) -> Follow | None:
    return await session.scalar(
        select(Follow).where(Follow.follower_id == follower.id, Follow.followed_id == followed.id)
    )


async def receive_follow(session: AsyncSession, follower: Actor, followed: Actor, ap_id: str) -> Follow:
    """A remote actor asks to follow a local one: accept at once unless the local one gates follows.

    Re-sent Follows (same or new id) answer again with an Accept: Mastodon re-sends a Follow when
    it never saw our Accept.
    """
    follow = await find(session, follower, followed)
    if follow is None:
        follow = Follow(follower_id=follower.id, followed_id=followed.id, ap_id=ap_id,
                        state=FollowStates.pending)
        session.add(follow)
    else:
        follow.ap_id = ap_id
    await session.flush()
    if not followed.manually_approves_followers or follow.state == FollowStates.accepted:
        await accept(session, follow)
    return follow


async def accept(session: AsyncSession, follow: Follow) -> None:
    follow.state = FollowStates.accepted
    await session.flush()
    await outbox.emit(session, outbox.FOLLOW_ACCEPTED, follow_id=follow.id)


async def reject(session: AsyncSession, follow: Follow) -> None:
    """Refuse a pending request: the remote side hears a Reject; the row goes."""
    follower = await session.get(Actor, follow.follower_id)
    followed = await session.get(Actor, follow.followed_id)
    await outbox.emit(session, outbox.FOLLOW_REJECTED, follow_ap_id=follow.ap_id,
                      follower=follower.ap_id, followed_id=followed.id)
    await session.delete(follow)
    await session.flush()


async def remove_by_follower(session: AsyncSession, follower: Actor, followed_ap_id: str | None,
                             follow_ap_id: str | None) -> int:
    """Undo(Follow): the follower is always the signed actor, so nobody else's follow can go."""
    query = delete(Follow).where(Follow.follower_id == follower.id)
    if followed_ap_id:
        followed_ids = select(Actor.id).where(Actor.ap_id == followed_ap_id)
        query = query.where(Follow.followed_id.in_(followed_ids))
    elif follow_ap_id:
        query = query.where(Follow.ap_id == follow_ap_id)
    else:
        return 0
    result = await session.execute(query)
    return result.rowcount or 0


async def request_follow(session: AsyncSession, uris: Uris, follower: Actor, target: Actor) -> Follow:
    """A local actor follows a remote one: store a pending Follow and emit the Follow activity."""
    if target.id == follower.id:
        raise Conflict("an actor cannot follow itself")
    follow = await find(session, follower, target)
    if follow is not None:
        return follow
    follow = Follow(follower_id=follower.id, followed_id=target.id,
                    ap_id=uris.activity(new_token()), state=FollowStates.pending)
    if target.local:
        follow.state = FollowStates.accepted
    session.add(follow)
    await session.flush()
    if not target.local:
        await outbox.emit(session, outbox.FOLLOW_REQUESTED, follow_id=follow.id)
    return follow


async def unfollow(session: AsyncSession, follower: Actor, target: Actor) -> None:
    follow = await find(session, follower, target)
    if follow is None:
        raise NotFound(f"{follower.username} does not follow {target.ap_id}")
    if not target.local:
        await outbox.emit(session, outbox.FOLLOW_UNDONE, follow_ap_id=follow.ap_id,
                          follower_id=follower.id, followed=target.ap_id)
    await session.delete(follow)
    await session.flush()


async def mark_accepted(session: AsyncSession, follow_ap_id: str | None, follower: Actor | None,
                        followed: Actor) -> bool:
    """The remote side accepted our Follow (matched by the Follow's id, or by the pair)."""
    follow = None
    if follow_ap_id:
        follow = await session.scalar(
            select(Follow).where(Follow.ap_id == follow_ap_id, Follow.followed_id == followed.id)
        )
    if follow is None and follower is not None:
        follow = await find(session, follower, followed)
    if follow is None:
        return False
    follow.state = FollowStates.accepted
    return True


async def _related(session: AsyncSession, actor: Actor, *, of: str, offset: int,
                   limit: int | None) -> list[Actor]:
    """Accepted followers (``of="followers"``) or followed actors of ``actor``, oldest first."""
    mine, theirs = ((Follow.followed_id, Follow.follower_id) if of == "followers"
                    else (Follow.follower_id, Follow.followed_id))
    query = (
        select(Actor).join(Follow, theirs == Actor.id)
        .where(mine == actor.id, Follow.state == FollowStates.accepted)
        .order_by(Follow.id)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(await session.scalars(query))


async def followers(session: AsyncSession, actor: Actor, *, offset: int = 0,
                    limit: int | None = None) -> list[Actor]:
    return await _related(session, actor, of="followers", offset=offset, limit=limit)


async def following(session: AsyncSession, actor: Actor, *, offset: int = 0,
                    limit: int | None = None) -> list[Actor]:
    return await _related(session, actor, of="following", offset=offset, limit=limit)


async def count(session: AsyncSession, actor: Actor, *, of: str = "followers") -> int:
    column = Follow.followed_id if of == "followers" else Follow.follower_id
    return await session.scalar(
        select(func.count()).select_from(Follow)
        .where(column == actor.id, Follow.state == FollowStates.accepted)
    ) or 0


async def pending_requests(session: AsyncSession, actor: Actor) -> list[tuple[Follow, Actor]]:
    rows = await session.execute(
        select(Follow, Actor).join(Actor, Follow.follower_id == Actor.id)
        .where(Follow.followed_id == actor.id, Follow.state == FollowStates.pending)
        .order_by(Follow.id)
    )
    return [(f, a) for f, a in rows]


async def delivery_inboxes(session: AsyncSession, actor: Actor) -> list[str]:
    """Inboxes of the actor's remote followers, each shared inbox once (FEDERATION.md "What we send": shared inboxes de-duplicated)."""
    rows = await session.execute(
        select(Actor.shared_inbox, Actor.inbox).join(Follow, Follow.follower_id == Actor.id)
        .where(Follow.followed_id == actor.id, Follow.state == FollowStates.accepted,
               Actor.local.is_(False))
    )
    return sorted({shared or inbox for shared, inbox in rows if shared or inbox})
