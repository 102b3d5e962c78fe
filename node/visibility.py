"""Who may read what: the node's one visibility model (SECURITY.md rule 24, FEDERATION.md
"Visibility levels"). Every path — HTML pages, AS2 documents, collections and their counts,
delivery, the page cache, feeds and exports — asks this module and compares no level itself.

Levels, from the most open to the most closed:

``public``
    listed and readable by everyone; federated with ``Public`` in ``to``.
``unlisted``
    readable by everyone who has the link, listed only to those who may manage it; federated
    with ``Public`` in ``cc`` only (activities/addressing.py).
``followers``
    the organisation's approved followers — local accounts, or remote actors proven by a signed
    fetch — and its members; federated to its followers, never to ``Public``.
``members``
    the organisation's members: local accounts with a role in it (a verified membership is the
    role ``member``); never leaves the node.

Visibility is set on spaces and on discussions; what is inside them (contributions, proposals,
articles, initiatives, answers, polls, questionnaires …) inherits the stricter of its
containers' levels (:func:`level_of`). A thing that may not be read is absent: callers answer
exactly the 404 of a missing thing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, false, literal, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from node.models import (
    Coalition,
    CoalitionMember,
    CoalitionStates,
    Follow,
    FollowStates,
    Membership,
    User,
)

PUBLIC, UNLISTED, FOLLOWERS, MEMBERS = "public", "unlisted", "followers", "members"
LEVELS = (PUBLIC, UNLISTED, FOLLOWERS, MEMBERS)  # from the most open to the most closed
FEDERATED = frozenset({PUBLIC, UNLISTED, FOLLOWERS})
# Roles that manage an organisation's content: they read and list everything in it.
STAFF_ROLES = frozenset({"admin", "moderator", "official"})


class UnknownLevel(ValueError):
    """A level that is not one of LEVELS (stored data we do not understand is treated as closed)."""


def check_level(level: str | None) -> str:
    if level not in LEVELS:
        raise UnknownLevel(f"visibility must be one of {', '.join(LEVELS)}")
    return level


def _rank(level: str | None) -> int:
    # Anything unknown counts as the most closed level: a typo never opens a thing up.
    return LEVELS.index(level) if level in LEVELS else len(LEVELS) - 1


def stricter(*levels: str | None) -> str:
    """The most closed of ``levels`` (None entries are ignored; none at all is ``public``)."""
    given = [level for level in levels if level is not None]
    return LEVELS[max((_rank(level) for level in given), default=0)]


def level_of(*containers: object | None) -> str:
    """The level of a thing inside ``containers`` (its space, its discussion, …): the stricter of
    their ``visibility`` attributes. A thing inherits; it has no level of its own."""
    return stricter(*(getattr(c, "visibility", None) for c in containers if c is not None))


def level_in(levels: Iterable[str], column, *columns) -> ColumnElement[bool]:
    """SQL for :func:`level_of` of a row within ``levels``: the stricter of ``columns`` (the
    ``visibility`` columns of its containers, outer-joined: NULL — no such container — is open;
    anything unknown is the most closed) is one of ``levels``. For indexes and counts
    (``level_in(listed_levels(who), Space.visibility, Discussion.visibility)``)."""
    ranks = [LEVELS.index(level) for level in set(levels) if level in LEVELS]
    if not ranks:
        return false()
    strictest = None
    for each in (column, *columns):
        rank = case((each.is_(None), 0), *((each == level, i) for i, level in enumerate(LEVELS)),
                    else_=len(LEVELS) - 1)
        strictest = rank if strictest is None else case((rank > strictest, rank), else_=strictest)
    return strictest.in_(sorted(ranks))


def federates(level: str) -> bool:
    """Whether anything at ``level`` leaves the node (``members`` never does)."""
    return level in FEDERATED


@dataclass(frozen=True)
class Reader:
    """Who is reading: a local account, a remote actor proven by a signed fetch, or nobody."""

    user_id: int | None = None  # the local account
    actor_id: int | None = None  # its Person actor, or the remote actor of a signed fetch
    node_admin: bool = False

    @classmethod
    def of_user(cls, user: User | None) -> Reader:
        if user is None:
            return ANONYMOUS
        return cls(user_id=user.id, actor_id=user.actor_id, node_admin=bool(user.is_admin))

    @classmethod
    def of_remote(cls, actor_id: int | None) -> Reader:
        """A remote actor whose signed fetch was verified (an unsigned fetch is anonymous)."""
        return cls(actor_id=actor_id) if actor_id is not None else ANONYMOUS

    @property
    def anonymous(self) -> bool:
        return self.user_id is None and self.actor_id is None


ANONYMOUS = Reader()


@dataclass(frozen=True)
class Standing:
    """What one reader is to one organisation."""

    staff: bool = False  # admin, moderator or official there (or node admin)
    member: bool = False  # any role there, ``member`` included
    follower: bool = False  # an approved follower of the organisation

    @property
    def key(self) -> str:
        """A short name of what this standing may read: readers with the same key see the same
        things, so a shared rendering (web/cache.py) may be keyed by it and never crosses it."""
        return "staff" if self.staff else "member" if self.member else \
            "follower" if self.follower else "outsider"


NOBODY = Standing()


async def roles(session: AsyncSession, user_id: int, organization_id: int) -> set[str]:
    """A local user's roles in an organisation — or in a coalition hosted here, whose roles come
    from its member organisations: ``admin`` to the admins of an accepted admin member, ``member``
    to the staff (admin, moderator, official) of any accepted member. One query."""
    mine = select(Membership.role.label("role")).where(
        Membership.user_id == user_id, Membership.organization_id == organization_id)
    through = (select(case(((CoalitionMember.role == "admin") & (Membership.role == "admin"),
                            literal("admin")), else_=literal("member")).label("role"))
               .select_from(CoalitionMember)
               # Hosted here: a member node's mirror of a remote coalition gives no role in it.
               .join(Coalition, Coalition.actor_id == CoalitionMember.coalition_id)
               .join(Membership, Membership.organization_id == CoalitionMember.member_id)
               .where(CoalitionMember.coalition_id == organization_id,
                      CoalitionMember.state == CoalitionStates.accepted,
                      Membership.user_id == user_id, Membership.role.in_(STAFF_ROLES)))
    return set(await session.scalars(union(mine, through)))


async def standing(session: AsyncSession, reader: Reader, organization_id: int) -> Standing:
    """The reader's standing in an organisation: two indexed queries at most."""
    if reader.anonymous:
        return NOBODY
    held: set[str] = set()
    if reader.user_id is not None:
        held = await roles(session, reader.user_id, organization_id)
    if reader.node_admin:
        held.add("admin")
    follower = False
    if reader.actor_id is not None:
        follower = bool(await session.scalar(select(Follow.id).where(
            Follow.follower_id == reader.actor_id, Follow.followed_id == organization_id,
            Follow.state == FollowStates.accepted).limit(1)))
    return Standing(staff=bool(held & STAFF_ROLES), member=bool(held), follower=follower)


def admits(level: str, who: Standing) -> bool:
    """May someone of this standing read a thing at ``level``?"""
    rank = _rank(level)
    if rank <= _rank(UNLISTED):
        return True
    if rank == _rank(FOLLOWERS):
        return who.member or who.follower
    return who.member


def lists(level: str, who: Standing) -> bool:
    """Is a thing at ``level`` listed (indexes, organisation pages, collections, counts) to
    someone of this standing? ``unlisted`` is readable by link but listed only to staff."""
    if level == PUBLIC:
        return True
    if level == UNLISTED:
        return who.staff
    return admits(level, who)


def readable_levels(who: Standing) -> tuple[str, ...]:
    """The levels this standing may read, for SQL filters (``visibility.in_(…)``)."""
    return tuple(level for level in LEVELS if admits(level, who))


def listed_levels(who: Standing) -> tuple[str, ...]:
    """The levels listed to this standing, for SQL filters of indexes and counts."""
    return tuple(level for level in LEVELS if lists(level, who))


async def may_read(session: AsyncSession, reader: Reader, organization_id: int, level: str) -> bool:
    """The one question every path asks: may ``reader`` read a thing of this organisation at
    ``level``? (Public and unlisted things need no query.)"""
    if admits(level, NOBODY):
        return True
    return admits(level, await standing(session, reader, organization_id))
