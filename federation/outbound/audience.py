"""Who receives what we publish: the inboxes a visibility level allows (SECURITY.md rule 24).

``public`` and ``unlisted`` things go to everyone who follows whoever is involved and to the
remote people they concern (the author replied to, liked or joined); a ``followers`` thing goes
only to the approved followers of its organisation and of its discussion's group — a person it
concerns who is neither gets nothing — and a ``members`` thing goes nowhere.
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


async def _approved_followers(session: AsyncSession, people: list[Actor],
                              followed: list[Actor]) -> list[Actor]:
    if not people or not followed:
        return []
    ids = set(await session.scalars(select(Follow.follower_id).where(
        Follow.follower_id.in_([p.id for p in people]),
        Follow.followed_id.in_([f.id for f in followed]),
        Follow.state == FollowStates.accepted)))
    return [p for p in people if p.id in ids]


async def concerned_inboxes(session: AsyncSession, level: str, concerned: Iterable[Actor | None],
                            followed: Iterable[Actor | None]) -> list[str]:
    """The inboxes of the remote people something concerns (replied to, liked, joined): at
    ``public`` and ``unlisted`` all of them; at ``followers`` only those who are approved followers
    of a ``followed`` actor (the organisation, the group); at ``members`` none."""
    if not visibility.federates(level):
        return []
    people = [a for a in concerned if a is not None]
    if not visibility.admits(level, visibility.NOBODY):
        people = await _approved_followers(session, people, [a for a in followed if a is not None])
    return [inbox for actor in people for inbox in inbox_of(actor)]


async def inboxes(session: AsyncSession, level: str, *, followed: Iterable[Actor | None] = (),
                  open_followed: Iterable[Actor | None] = (),
                  concerned: Iterable[Actor | None] = ()) -> list[str]:
    """The inboxes something at ``level`` is delivered to.

    ``followed``: the actors whose followers the level ``followers`` means (the organisation, the
    discussion's group); ``open_followed``: actors whose followers hear of it only when anyone may
    read it (an author's own followers); ``concerned``: remote people it concerns
    (:func:`concerned_inboxes`)."""
    if not visibility.federates(level):
        return []
    followed = [a for a in followed if a is not None]
    found = await followers_of(session, *followed)
    if visibility.admits(level, visibility.NOBODY):
        found += await followers_of(session, *open_followed)
    return found + await concerned_inboxes(session, level, concerned, followed)
