"""Who receives what we publish: the inboxes a visibility level allows (SECURITY.md rule 24).

``public`` and ``unlisted`` things go to everyone who follows whoever is involved and to the
remote people they concern (the author replied to, liked or joined); a ``followers`` thing goes
only to approved followers of its organisation (those of them who follow the discussion's group,
for what is posted in a discussion) — a person it concerns who is not one gets nothing — and a
``members`` thing goes nowhere.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node import visibility
from node.models import Actor, Follow, FollowStates
from node.services import follows


async def followers_of(session: AsyncSession, *actors: Actor | None) -> list[str]:
    """The (shared) inboxes of the actors' approved remote followers."""
    inboxes: list[str] = []
    for actor in actors:
        if actor is not None:
            inboxes += await follows.delivery_inboxes(session, actor)
    return inboxes


def inbox_of(actor: Actor | None) -> list[str]:
    """A remote actor's inbox (the author of what a local user replies to, likes or joins)."""
    return [actor.delivery_inbox] if actor is not None and not actor.local and actor.delivery_inbox else []


async def _approved_followers_of(session: AsyncSession, organization: Actor,
                                 people: list[Actor]) -> list[Actor]:
    """Those of ``people`` who are approved followers of ``organization``."""
    if not people:
        return []
    ids = set(await session.scalars(select(Follow.follower_id).where(
        Follow.follower_id.in_([p.id for p in people]), Follow.followed_id == organization.id,
        Follow.state == FollowStates.accepted)))
    return [p for p in people if p.id in ids]


async def _followers_who_follow(session: AsyncSession, organization: Actor,
                                followed: list[Actor]) -> list[str]:
    """The (shared) inboxes of the remote approved followers of ``followed`` who are also approved
    followers of ``organization``: the only remote readers of a ``followers`` thing."""
    if not followed:
        return []
    of_organization = select(Follow.follower_id).where(
        Follow.followed_id == organization.id, Follow.state == FollowStates.accepted)
    rows = await session.execute(
        select(Actor.shared_inbox, Actor.inbox).join(Follow, Follow.follower_id == Actor.id)
        .where(Follow.followed_id.in_([a.id for a in followed]), Follow.state == FollowStates.accepted,
               Actor.local.is_(False), Actor.id.in_(of_organization)))
    return sorted({shared or inbox for shared, inbox in rows if shared or inbox})


async def concerned_inboxes(session: AsyncSession, level: str, concerned: Iterable[Actor | None],
                            organization: Actor | None) -> list[str]:
    """The inboxes of the remote people something concerns (replied to, liked, joined): at
    ``public`` and ``unlisted`` all of them; at ``followers`` only the organisation's approved
    followers; at ``members`` none."""
    if not visibility.federates(level):
        return []
    people = [a for a in concerned if a is not None]
    if not visibility.admits(level, visibility.NOBODY):
        people = await _approved_followers_of(session, organization, people) if organization else []
    return [inbox for actor in people for inbox in inbox_of(actor)]


async def inboxes(session: AsyncSession, level: str, *, organization: Actor | None,
                  followed: Iterable[Actor | None] = (), open_followed: Iterable[Actor | None] = (),
                  concerned: Iterable[Actor | None] = ()) -> list[str]:
    """The inboxes something of ``organization`` at ``level`` is delivered to.

    ``followed``: the actors whose followers hear of it (the organisation, the discussion's
    group); ``open_followed``: actors whose followers hear of it only when anyone may read it (an
    author's own followers); ``concerned``: remote people it concerns (:func:`concerned_inboxes`).
    At ``followers`` level a follower of the group who is not (or no longer) an approved follower
    of the organisation gets nothing: the level means the organisation's followers
    (node/visibility.py), and they could not read it at its id either."""
    if not visibility.federates(level):
        return []
    followed = [a for a in followed if a is not None]
    if visibility.admits(level, visibility.NOBODY):
        found = await followers_of(session, *followed, *open_followed)
    else:
        found = await _followers_who_follow(session, organization, followed) if organization else []
    return found + await concerned_inboxes(session, level, concerned, organization)
