"""Who receives what we publish: the inboxes a visibility level allows (SECURITY.md rule 24).

``public`` and ``unlisted`` things go to everyone who follows whoever is involved and to the
remote people they concern (the author replied to, liked or joined); a ``followers`` thing goes
only to approved followers of its organisation (those of them who follow the discussion's group,
for what is posted in a discussion) — a person it concerns who is not one gets nothing — and a
``members`` thing goes nowhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from node import visibility
from node.models import Actor, Follow, FollowStates

BATCH = 1_000  # followers read, and delivery rows inserted, per statement of a fan-out


@dataclass(frozen=True, slots=True)
class Audience:
    """The inboxes something goes to, kept as a query rather than a list: the approved remote
    followers of the actors ``followed`` (only those who are also approved followers of
    ``within`` when it is set: the ``followers`` level), and a few ``named`` inboxes (the remote
    people it concerns).

    The publisher (federation/outbound/publisher.py) reads it with :meth:`batches`, keyset over
    the follows, so that a post to 10,000 followers never holds them all in memory. Each follower
    gives its shared inbox when it has one; the same inbox from two batches is still one delivery
    (the deliveries' unique (activity, inbox)). ``reaches`` says whether anyone at all is in it,
    so that a builder may send nothing to nobody (``if not audience``)."""

    followed: tuple[int, ...] = ()
    within: int | None = None
    named: tuple[str, ...] = ()
    reaches: bool = False

    def __bool__(self) -> bool:
        return self.reaches

    def _follows(self) -> Select:
        query = (select(Follow.id, Actor.shared_inbox, Actor.inbox)
                 .join(Actor, Actor.id == Follow.follower_id)
                 .where(Follow.followed_id.in_(self.followed), Follow.state == FollowStates.accepted,
                        Actor.local.is_(False)))
        if self.within is not None:
            of = aliased(Follow)
            query = query.where(Follow.follower_id.in_(select(of.follower_id).where(
                of.followed_id == self.within, of.state == FollowStates.accepted)))
        return query

    async def batches(self, session: AsyncSession, size: int = BATCH) -> AsyncIterator[list[str]]:
        """The inboxes, at most ``size`` at a time: the named ones, then the followers' in the
        order they followed (``Follow.id``), each page one SELECT … WHERE id > last LIMIT size."""
        for start in range(0, len(self.named), size):
            yield list(self.named[start:start + size])
        if not self.followed:
            return
        last = 0
        while True:
            page = (await session.execute(
                self._follows().where(Follow.id > last).order_by(Follow.id).limit(size))).all()
            if not page:
                return
            yield [shared or inbox for _, shared, inbox in page if shared or inbox]
            if len(page) < size:
                return
            last = page[-1][0]


async def audience(session: AsyncSession, followed: Iterable[Actor | None] = (), *,
                   within: Actor | None = None, named: Iterable[str] = ()) -> Audience:
    """An :class:`Audience`, with one EXISTS query to know whether it reaches anyone."""
    ids = tuple(dict.fromkeys(a.id for a in followed if a is not None))
    named = tuple(dict.fromkeys(i for i in named if i))
    found = Audience(ids, within.id if within is not None else None, named)
    reaches = bool(named) or (bool(ids) and bool(await session.scalar(select(exists(found._follows())))))
    return Audience(found.followed, found.within, named, reaches)


async def followers_of(session: AsyncSession, *actors: Actor | None) -> Audience:
    """The (shared) inboxes of the actors' approved remote followers."""
    return await audience(session, actors)


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
                  concerned: Iterable[Actor | None] = ()) -> Audience:
    """The inboxes something of ``organization`` at ``level`` is delivered to.

    ``followed``: the actors whose followers hear of it (the organisation, the discussion's
    group); ``open_followed``: actors whose followers hear of it only when anyone may read it (an
    author's own followers); ``concerned``: remote people it concerns (:func:`concerned_inboxes`).
    At ``followers`` level a follower of the group who is not (or no longer) an approved follower
    of the organisation gets nothing: the level means the organisation's followers
    (node/visibility.py), and they could not read it at its id either."""
    if not visibility.federates(level):
        return Audience()
    named = await concerned_inboxes(session, level, concerned, organization)
    if visibility.admits(level, visibility.NOBODY):
        return await audience(session, [*followed, *open_followed], named=named)
    if organization is None:
        return await audience(session, named=named)
    return await audience(session, followed, within=organization, named=named)
