"""Contributions (threads up to 3 levels), agreements, moderation marks and discussion progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, exists, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from node.errors import Conflict, InvalidInput, NotFound
from node.models import Actor, Agreement, Contribution, Discussion, utcnow
from node.services import outbox, reactions
from node.services.discussions import can_contribute
from node.uris import Uris, new_token

MAX_DEPTH = 3
MAX_CONTENT = 20_000
ALIGNMENTS = ("favour", "neutral", "against")
CONTRIBUTION_CREATED = "contribution.created"  # local: Create(Note) + the group's Announce
CONTRIBUTION_RECEIVED = "contribution.received"  # remote: the group re-announces it
CONTRIBUTION_DELETED = "contribution.deleted"
AGREEMENT_CREATED = "agreement.created"
AGREEMENT_UNDONE = "agreement.undone"
# SECURITY.md rule 23: agreeing with oneself inflated "supported by the community" and the ranking.
SELF_AGREEMENT = "the author cannot agree with their own contribution"


def _placement(parent: Contribution | None) -> tuple[Contribution | None, int]:
    """Replies deeper than 3 levels join the deepest allowed thread (as Decidim does)."""
    if parent is None:
        return None, 1
    if parent.depth >= MAX_DEPTH:
        return parent, MAX_DEPTH  # kept under its parent but shown at the last level
    return parent, parent.depth + 1


def _check(discussion: Discussion, content_html: str, alignment: str | None) -> None:
    can_contribute(discussion)
    if not content_html.strip():
        raise InvalidInput("a contribution cannot be empty")
    if len(content_html) > MAX_CONTENT:
        raise InvalidInput(f"a contribution is limited to {MAX_CONTENT} characters")
    if alignment is not None:
        if not discussion.alignment_enabled:
            raise InvalidInput("this discussion does not ask for an alignment")
        if alignment not in ALIGNMENTS:
            raise InvalidInput(f"alignment must be one of {', '.join(ALIGNMENTS)}")


async def contribute(session: AsyncSession, uris: Uris, discussion: Discussion, author: Actor,
                     content_html: str, *, parent: Contribution | None = None,
                     alignment: str | None = None, official: bool = False) -> Contribution:
    """A local contribution (content already rendered to safe HTML by the caller)."""
    _check(discussion, content_html, alignment)
    if discussion.official_only and not official:
        raise InvalidInput("only the organisation posts in this discussion")
    if parent is not None and parent.discussion_id != discussion.id:
        raise InvalidInput("the reply is not in the same discussion")
    parent, depth = _placement(parent)
    ap_id = uris.contribution(new_token())
    contribution = Contribution(
        ap_id=ap_id, discussion_id=discussion.id, author_id=author.id,
        parent_id=parent.id if parent else None, depth=depth, local=True, content=content_html,
        url=ap_id, alignment=alignment, official=official, published=utcnow(),
    )
    contribution.author = author
    session.add(contribution)
    await session.flush()
    await outbox.emit(session, CONTRIBUTION_CREATED, contribution_id=contribution.id)
    return contribution


async def receive_remote(session: AsyncSession, discussion: Discussion, author: Actor, *,
                         ap_id: str, content_html: str, parent: Contribution | None,
                         published: datetime | None, url: str | None, activity: dict,
                         content_warning: str | None = None, sensitive: bool = False,
                         language: str | None = None,
                         content_map: dict[str, str] | None = None) -> tuple[Contribution, bool]:
    """A fediverse reply becomes a contribution by its remote author; the group re-announces it.

    Idempotent by id; a deleted contribution stays deleted (a replayed Create cannot revive it).
    The content warning, language and other languages' HTML are kept apart from the content.
    """
    existing = await by_ap_id(session, ap_id)
    if existing is not None:
        return existing, False
    _check(discussion, content_html or "<p></p>", None)
    for text in (content_map or {}).values():
        _check(discussion, text, None)
    parent, depth = _placement(parent)
    contribution = Contribution(
        ap_id=ap_id, discussion_id=discussion.id, author_id=author.id,
        parent_id=parent.id if parent else None, depth=depth, local=False,
        content=content_html, url=url or ap_id, published=published or utcnow(),
        content_warning=content_warning, sensitive=sensitive, language=language,
        content_map=content_map or None,
    )
    contribution.author = author
    session.add(contribution)
    await session.flush()
    await outbox.emit(session, CONTRIBUTION_RECEIVED, contribution_id=contribution.id,
                      activity=activity)
    return contribution, True


async def by_ap_id(session: AsyncSession, ap_id: str) -> Contribution | None:
    return await session.scalar(select(Contribution).where(Contribution.ap_id == ap_id))


async def require(session: AsyncSession, contribution_id: int) -> Contribution:
    contribution = await session.get(Contribution, contribution_id)
    if contribution is None or contribution.deleted_at is not None:
        raise NotFound("no such contribution")
    return contribution


async def _agreeable(session: AsyncSession, contribution: Contribution, actor: Actor) -> None:
    if contribution.deleted_at is not None:
        raise NotFound("no such contribution")


# "I agree" with a contribution: once per person, never by its author (a Like; node/services/reactions).
AGREEMENT = reactions.Reaction(
    "agreement", Agreement, Contribution, "contribution_id", "agree_count",
    AGREEMENT_CREATED, "agreement_id", AGREEMENT_UNDONE, ("agreement_ap_id", "contribution_id"),
    own=SELF_AGREEMENT, state=_agreeable)


async def agree(session: AsyncSession, uris: Uris, contribution: Contribution, actor: Actor,
                like_ap_id: str | None = None) -> bool:
    """Record "I agree" (reactions.add with AGREEMENT); False when it was already recorded."""
    return await reactions.add(session, uris, AGREEMENT, contribution, actor, like_ap_id)


async def withdraw_agreement(session: AsyncSession, actor: Actor, *, contribution: Contribution | None = None,
                             like_ap_id: str | None = None) -> bool:
    """Undo an agreement, by the contribution (local click) or by the Like's id (Undo(Like))."""
    return await reactions.withdraw(session, AGREEMENT, actor, target=contribution, ap_id=like_ap_id)


async def own_unagreed_ids(session: AsyncSession, actor: Actor | None, discussion: Discussion) -> set[int]:
    """The contributions ``actor`` wrote in ``discussion`` and has not agreed with: pages offer no
    "agree" on them (SECURITY.md rule 23); an agreement stored before the rule stays withdrawable."""
    if actor is None:
        return set()
    rows = await session.scalars(
        select(Contribution.id).where(Contribution.discussion_id == discussion.id,
                                      Contribution.author_id == actor.id)
        .where(~select(Agreement.id).where(Agreement.contribution_id == Contribution.id,
                                           Agreement.actor_id == actor.id).exists()))
    return set(rows)


async def reader_marks(session: AsyncSession, actor: Actor | None,
                       discussion: Discussion) -> tuple[set[int], set[int]]:
    """(:func:`agreed_ids`, :func:`own_unagreed_ids`) in one query: what the discussion page marks
    for its reader."""
    if actor is None:
        return set(), set()
    agreed = (select(Agreement.contribution_id, literal(1))
              .join(Contribution, Contribution.id == Agreement.contribution_id)
              .where(Agreement.actor_id == actor.id, Contribution.discussion_id == discussion.id))
    own = (select(Contribution.id, literal(0))
           .where(Contribution.discussion_id == discussion.id, Contribution.author_id == actor.id)
           .where(~select(Agreement.id).where(Agreement.contribution_id == Contribution.id,
                                              Agreement.actor_id == actor.id).exists()))
    rows = (await session.execute(union_all(agreed, own))).all()
    return {cid for cid, kind in rows if kind}, {cid for cid, kind in rows if not kind}


async def agreed_ids(session: AsyncSession, actor: Actor | None, discussion: Discussion) -> set[int]:
    return await reactions.given(session, AGREEMENT, actor,
                                 within=Contribution.discussion_id == discussion.id)


async def set_mark(session: AsyncSession, contribution: Contribution, *, quality: bool | None = None,
                   impact: bool | None = None, hidden: bool | None = None) -> None:
    """Moderators recognise quality, mark impact (integrated into policy) or hide."""
    if quality is not None:
        contribution.quality_recognised = quality
    if impact is not None:
        contribution.impact = impact
    if hidden is not None:
        contribution.hidden = hidden


async def delete_contribution(session: AsyncSession, contribution: Contribution, *, federate: bool) -> None:
    if contribution.deleted_at is not None:
        raise Conflict("already deleted")
    contribution.deleted_at, contribution.content = utcnow(), ""
    contribution.content_map = contribution.content_warning = None  # SECURITY.md rule 9
    await outbox.withdraw(session, contribution.ap_id)  # its Create and Announces go too (rule 24)
    if federate and contribution.local:
        await outbox.emit(session, CONTRIBUTION_DELETED, contribution_id=contribution.id)


def supported_by_community(contribution: Contribution, discussion: Discussion) -> bool:
    return contribution.agree_count >= discussion.support_threshold


@dataclass
class ThreadItem:
    contribution: Contribution
    replies: list[ThreadItem] = field(default_factory=list)


@dataclass(frozen=True)
class Cursor:
    """Where a page of threads stops: the last root shown (threads go newest first). Pages are
    cut by this key, not by an offset, so a contribution written between two page loads never
    makes another appear twice or be skipped."""
    published: datetime
    id: int


@dataclass
class ThreadPage:
    items: list[ThreadItem]
    next: Cursor | None  # None on the last page


def _live(row, include_hidden: bool):
    conditions = [row.deleted_at.is_(None)]
    if not include_hidden:
        conditions.append(row.hidden.is_(False))
    return and_(*conditions)


def _roots(discussion: Discussion, include_hidden: bool):
    """The live contributions that start a thread: no parent, or a parent no longer shown (as
    :func:`thread` places them)."""
    parent = aliased(Contribution)
    shown_parent = exists().where(parent.id == Contribution.parent_id, _live(parent, include_hidden))
    return select(Contribution).where(Contribution.discussion_id == discussion.id,
                                      _live(Contribution, include_hidden),
                                      or_(Contribution.parent_id.is_(None), ~shown_parent))


def _newer_than(cursor: Cursor):
    return or_(Contribution.published > cursor.published,
               and_(Contribution.published == cursor.published, Contribution.id > cursor.id))


def _older_than(cursor: Cursor):
    return or_(Contribution.published < cursor.published,
               and_(Contribution.published == cursor.published, Contribution.id < cursor.id))


async def _with_replies(session: AsyncSession, roots: list[Contribution],
                        include_hidden: bool) -> list[ThreadItem]:
    """``roots`` with their live replies at any depth (oldest first), in one recursive query."""
    if not roots:
        return []
    below = select(Contribution.id).where(Contribution.parent_id.in_([r.id for r in roots]),
                                          _live(Contribution, include_hidden)).cte(recursive=True)
    child = aliased(Contribution)
    below = below.union_all(select(child.id).where(child.parent_id == below.c.id,
                                                   _live(child, include_hidden)))
    replies = await session.scalars(select(Contribution).where(Contribution.id.in_(select(below.c.id)))
                                    .order_by(Contribution.published, Contribution.id))
    items = {row.id: ThreadItem(row) for row in roots}
    for row in replies:
        items[row.id] = ThreadItem(row)
        items[row.parent_id].replies.append(items[row.id])
    return [items[row.id] for row in roots]


async def thread_page(session: AsyncSession, discussion: Discussion, *, before: Cursor | None = None,
                      limit: int = 20, include_hidden: bool = False) -> ThreadPage:
    """A page of ``limit`` threads, newest first, older than ``before`` (the first page without it),
    each with all its replies (oldest first): one query, whatever the size of the discussion.

    The query walks down from ``limit`` + 1 roots (the last one only says whether a next page
    exists) through live replies (a recursive CTE, SQLite and PostgreSQL alike)."""
    roots = _roots(discussion, include_hidden)
    if before is not None:
        roots = roots.where(_older_than(before))
    first = (roots.order_by(Contribution.published.desc(), Contribution.id.desc()).limit(limit + 1)
             .with_only_columns(Contribution.id).subquery())
    tree = select(first.c.id).cte("tree", recursive=True)
    child = aliased(Contribution)
    tree = tree.union_all(select(child.id).where(child.parent_id == tree.c.id, _live(child, include_hidden)))
    rows = list(await session.scalars(select(Contribution).where(Contribution.id.in_(select(tree.c.id)))
                                      .order_by(Contribution.published, Contribution.id)))
    items = {row.id: ThreadItem(row) for row in rows}
    found: list[ThreadItem] = []
    for row in rows:  # a reply's parent is fetched before it; a root's parent is not fetched
        parent = items.get(row.parent_id) if row.parent_id else None
        (parent.replies if parent else found).append(items[row.id])
    found.reverse()
    last = found[limit - 1].contribution if len(found) > limit else None
    return ThreadPage(found[:limit], Cursor(last.published, last.id) if last else None)


async def root_of(session: AsyncSession, contribution: Contribution, *,
                  include_hidden: bool = False) -> Contribution:
    """The root of the thread ``contribution`` is shown in (itself for a root)."""
    current = contribution
    while current.parent_id is not None:
        parent = await session.get(Contribution, current.parent_id)
        if parent is None or parent.deleted_at is not None or (parent.hidden and not include_hidden):
            break
        current = parent
    return current


async def threads_before(session: AsyncSession, discussion: Discussion, root: Contribution, *,
                         include_hidden: bool = False) -> int:
    """How many threads come before the one of ``root`` (newest first): its page is this // limit."""
    newer = _roots(discussion, include_hidden).where(_newer_than(Cursor(root.published, root.id)))
    return await session.scalar(select(func.count()).select_from(newer.subquery()))


async def subthread(session: AsyncSession, contribution: Contribution, *,
                    include_hidden: bool = False) -> ThreadItem:
    """One contribution with its replies (the reply page), without loading the whole discussion."""
    return (await _with_replies(session, [contribution], include_hidden))[0]


async def thread(session: AsyncSession, discussion: Discussion, *, include_hidden: bool = False) -> list[ThreadItem]:
    """Top-level contributions (newest first) with their replies (oldest first), one query."""
    query = select(Contribution).where(Contribution.discussion_id == discussion.id,
                                       Contribution.deleted_at.is_(None))
    if not include_hidden:
        query = query.where(Contribution.hidden.is_(False))
    rows = list(await session.scalars(query.order_by(Contribution.published, Contribution.id)))
    items = {row.id: ThreadItem(row) for row in rows}
    roots: list[ThreadItem] = []
    for row in rows:
        parent = items.get(row.parent_id) if row.parent_id else None
        (parent.replies if parent else roots).append(items[row.id])
    roots.reverse()
    return roots


@dataclass(frozen=True)
class Progress:
    participants: int
    widely_supported: int
    quality_recognised: int
    impact: int
    contributions: int
    last_published: datetime | None = None  # the newest shown contribution ("active … days ago")


async def progress(session: AsyncSession, discussion: Discussion) -> Progress:
    """The discussion's progress box, in one aggregate query. Hidden and held contributions are not
    counted: the public sees no trace of them in the figures (SECURITY.md rule 22)."""
    live = (Contribution.discussion_id == discussion.id, Contribution.deleted_at.is_(None),
            Contribution.hidden.is_(False))
    row = (await session.execute(select(
        func.count(func.distinct(Contribution.author_id)),
        func.count().filter(Contribution.agree_count >= discussion.support_threshold),
        func.count().filter(Contribution.quality_recognised.is_(True)),
        func.count().filter(Contribution.impact.is_(True)),
        func.count(),
        func.max(Contribution.published),
    ).where(*live))).one()
    return Progress(*(int(v or 0) for v in row[:-1]), last_published=row[-1])
