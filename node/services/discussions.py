"""Discussions: opening (official or citizen), moderation, closing with a conclusion, listing."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from node import visibility as visibility_module
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.models import Actor, Contribution, Discussion, Follow, FollowStates, Space, utcnow
from node.services import coalitions, outbox
from node.services.actors import create_group, local_actor
from node.services.i18n import pick, text_map
from node.uris import GROUP_HANDLE_RE, Uris, check_slug

KINDS = ("official", "citizen")
DISCUSSION_OPENED = "discussion.opened"
DISCUSSION_UPDATED = "discussion.updated"


async def open_discussion(
    session: AsyncSession,
    uris: Uris,
    organization: Actor,
    slug: str,
    title: dict | str,
    *,
    summary: dict | str | None = None,
    body: dict | str | None = None,
    kind: str = "official",
    author: Actor | None = None,
    space: Space | None = None,
    visibility: str = visibility_module.PUBLIC,
    alignment_enabled: bool = False,
    support_threshold: int = 5,
    official_only: bool = False,
) -> Discussion:
    """Open a discussion with its Group actor. Citizen discussions wait for moderation."""
    if not await coalitions.hosts_participation(session, organization):
        raise InvalidInput("discussions belong to a local organisation or coalition")
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
    if kind == "citizen" and author is None:
        raise InvalidInput("a citizen discussion needs its author")
    if not 1 <= support_threshold <= 1_000_000:
        raise InvalidInput("the support threshold must be between 1 and 1,000,000")
    if visibility not in visibility_module.LEVELS:
        raise InvalidInput(f"visibility must be one of {', '.join(visibility_module.LEVELS)}")
    slug = check_slug(slug)
    title_map = text_map(title, required=True, what="title", max_length=200)
    handle = uris.discussion_handle(organization.username, slug)
    if not GROUP_HANDLE_RE.match(handle):
        raise InvalidInput(f"the slug {slug!r} is too long for this organisation")
    if await local_actor(session, handle) is not None:
        raise Conflict(f"{organization.username} already has a discussion {slug!r}")
    page = uris.discussion_page(organization.username, slug)
    summary_map = text_map(summary, what="summary", max_length=500)
    group = await create_group(session, uris, handle, pick(title_map, "fr"), page,
                               pick(summary_map, "fr"))
    discussion = Discussion(
        organization_id=organization.id, group_id=group.id, space_id=space.id if space else None,
        author_id=author.id if author else None, page_ap_id=page, slug=slug, kind=kind,
        moderation="pending" if kind == "citizen" else "approved", status="open",
        title=title_map, summary=summary_map, body=text_map(body, what="text"), conclusion={},
        visibility=visibility, alignment_enabled=alignment_enabled,
        support_threshold=support_threshold, official_only=official_only,
    )
    discussion.group, discussion.organization = group, organization
    session.add(discussion)
    await session.flush()
    if discussion.moderation == "approved" and visibility_module.federates(visibility_module.level_of(space, discussion)):
        await outbox.emit(session, DISCUSSION_OPENED, discussion_id=discussion.id)
    return discussion


async def moderate(session: AsyncSession, discussion: Discussion, approve: bool) -> None:
    """A moderator approves (published and federated) or rejects a citizen discussion."""
    if discussion.moderation != "pending":
        raise Conflict("this discussion was already moderated")
    discussion.moderation = "approved" if approve else "rejected"
    if approve and visibility_module.federates(await level(session, discussion)):
        await outbox.emit(session, DISCUSSION_OPENED, discussion_id=discussion.id)


async def close(session: AsyncSession, discussion: Discussion, conclusion: dict | str) -> None:
    if discussion.status == "closed":
        raise Conflict("this discussion is already closed")
    discussion.status, discussion.closed_at = "closed", utcnow()
    discussion.conclusion = text_map(conclusion, required=True, what="conclusion")
    await outbox.emit(session, DISCUSSION_UPDATED, discussion_id=discussion.id)


async def space_of(session: AsyncSession, discussion: Discussion) -> Space | None:
    return await session.get(Space, discussion.space_id) if discussion.space_id else None


async def level(session: AsyncSession, discussion: Discussion) -> str:
    """The discussion's level: the stricter of its own and its space's (node/visibility.py)."""
    return visibility_module.level_of(await space_of(session, discussion), discussion)


def listed_clause(levels: tuple[str, ...]):
    """SQL: discussions (outer-joined with their Space) whose level is within ``levels``."""
    return visibility_module.level_in(levels, Space.visibility, Discussion.visibility)


def can_contribute(discussion: Discussion) -> None:
    if discussion.status != "open":
        raise Forbidden("this discussion is closed")
    if discussion.moderation != "approved":
        raise Forbidden("this discussion is waiting for moderation")


async def by_slug(session: AsyncSession, organization: Actor, slug: str) -> Discussion:
    discussion = await session.scalar(
        select(Discussion).where(Discussion.organization_id == organization.id,
                                 Discussion.slug == slug.lower())
    )
    if discussion is None:
        raise NotFound("no such discussion")
    return discussion


async def by_page(session: AsyncSession, page_ap_id: str) -> Discussion | None:
    return await session.scalar(select(Discussion).where(Discussion.page_ap_id == page_ap_id))


async def by_group(session: AsyncSession, group: Actor) -> Discussion | None:
    return await session.scalar(select(Discussion).where(Discussion.group_id == group.id))


async def by_group_ap_id(session: AsyncSession, ap_id: str) -> Discussion | None:
    return await session.scalar(
        select(Discussion).join(Actor, Actor.id == Discussion.group_id).where(Actor.ap_id == ap_id)
    )


async def list_for(session: AsyncSession, organization: Actor, *, status: str | None = "open",
                   kind: str | None = None, include_pending: bool = False,
                   levels: tuple[str, ...] | None = None) -> list[Discussion]:
    """The organisation's discussions; with ``levels`` (``visibility.listed_levels(who)``) only
    those listed to that reader."""
    query = select(Discussion).where(Discussion.organization_id == organization.id)
    if levels is not None:
        query = query.outerjoin(Space, Space.id == Discussion.space_id).where(listed_clause(levels))
    if status:
        query = query.where(Discussion.status == status)
    if kind:
        query = query.where(Discussion.kind == kind)
    if not include_pending:
        query = query.where(Discussion.moderation == "approved")
    return list(await session.scalars(query.order_by(Discussion.created_at.desc(), Discussion.id.desc())))


async def pending_moderation(session: AsyncSession, organization: Actor) -> list[Discussion]:
    return list(await session.scalars(
        select(Discussion).where(Discussion.organization_id == organization.id,
                                 Discussion.moderation == "pending").order_by(Discussion.id)
    ))


async def follower_count(session: AsyncSession, discussion: Discussion) -> int:
    return await session.scalar(
        select(func.count()).select_from(Follow)
        .where(Follow.followed_id == discussion.group_id, Follow.state == FollowStates.accepted)
    ) or 0


async def participant_count(session: AsyncSession, discussion: Discussion) -> int:
    return await session.scalar(
        select(func.count(func.distinct(Contribution.author_id)))
        .where(Contribution.discussion_id == discussion.id, Contribution.deleted_at.is_(None),
               Contribution.hidden.is_(False))  # hidden and held ones are not counted (rule 22)
    ) or 0
