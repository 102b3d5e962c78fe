"""Who may read a proposal and where one may be filed: its level, inherited from its space and
its discussion (node/visibility.py, SECURITY.md rule 24)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from node import visibility
from node.errors import NotFound
from node.models import Actor, Discussion, Proposal, Space, User
from node.services import discussions


async def reader_of(session: AsyncSession, actor: Actor) -> visibility.Reader:
    """The reader an actor is: its local account (with its roles), or a remote actor."""
    user = await session.scalar(select(User).where(User.actor_id == actor.id)) if actor.local else None
    return visibility.Reader.of_user(user) if user is not None else visibility.Reader.of_remote(actor.id)


async def level_in(session: AsyncSession, space: Space | None, discussion: Discussion | None) -> str:
    """The level of what is filed in ``space`` and/or ``discussion``: the stricter of the space's,
    the discussion's and that discussion's own space's; a discussion not approved is ``members``
    (only its organisation's people and its author see it, and nothing in it leaves the node)."""
    if discussion is not None and discussion.moderation != "approved":
        return visibility.MEMBERS
    outer = await discussions.space_of(session, discussion) if discussion is not None else None
    return visibility.level_of(space, discussion, outer)


async def containers(session: AsyncSession, proposal: Proposal) -> tuple[Space | None, Discussion | None]:
    space = await session.get(Space, proposal.space_id) if proposal.space_id else None
    discussion = await session.get(Discussion, proposal.discussion_id) if proposal.discussion_id else None
    return space, discussion


async def level(session: AsyncSession, proposal: Proposal) -> str:
    """The proposal's level: the stricter of its space's, its discussion's and that one's space's."""
    return await level_in(session, *await containers(session, proposal))


async def readable(session: AsyncSession, reader: visibility.Reader, proposal: Proposal, *,
                   federated: bool = False) -> bool:
    """May ``reader`` read this proposal? Its level decides; a discussion waiting for moderation
    hides it; with ``federated``, as an AS2 document (``members`` never is one). Drafts and hidden
    proposals are the caller's business."""
    space, discussion = await containers(session, proposal)
    if discussion is not None and discussion.moderation != "approved":
        return False
    at = await level_in(session, space, discussion)
    if federated and not visibility.federates(at):
        return False
    return await visibility.may_read(session, reader, proposal.organization_id, at)


async def check_filing(session: AsyncSession, organization: Actor, author: Actor, space: Space | None,
                       discussion_id: int | None) -> None:
    """A proposal goes only into a space or discussion of its organisation that its author may
    read: otherwise the same NotFound as one that does not exist (a non-member filing into a
    ``members`` space would publish to them what they cannot see, and to others on its page)."""
    discussion = await session.get(Discussion, discussion_id) if discussion_id else None
    missing = NotFound("no such space or discussion")
    if space is not None and space.organization_id != organization.id:
        raise missing
    if discussion_id is not None and (discussion is None or discussion.organization_id != organization.id
                                      or discussion.moderation != "approved"):
        raise missing
    if space is None and discussion is None:
        return
    at = await level_in(session, space, discussion)
    if not await visibility.may_read(session, await reader_of(session, author), organization.id, at):
        raise missing


def listed_ids(levels: tuple[str, ...]):
    """SQL: the ids of proposals whose level is within ``levels`` (``visibility.listed_levels(who)``)
    and whose discussion, if any, is approved: for indexes and counts."""
    own_space, outer_space = aliased(Space), aliased(Space)
    return (select(Proposal.id)
            .outerjoin(own_space, own_space.id == Proposal.space_id)
            .outerjoin(Discussion, Discussion.id == Proposal.discussion_id)
            .outerjoin(outer_space, outer_space.id == Discussion.space_id)
            .where(visibility.level_in(levels, own_space.visibility, Discussion.visibility,
                                       outer_space.visibility),
                   or_(Discussion.id.is_(None), Discussion.moderation == "approved")))
