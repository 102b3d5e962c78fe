"""Crowdsourced articles, stakeholder maps (key stakeholders by support) and take-action initiatives."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from node.errors import InvalidInput, NotFound
from node.models import (
    STAKEHOLDER_ROLES,
    Actor,
    Agreement,
    Article,
    Contribution,
    Discussion,
    Initiative,
    InitiativeAction,
    Stakeholder,
)
from node.services import outbox, reactions
from node.uris import Uris, new_token

ARTICLE_CREATED = "article.created"
INITIATIVE_CREATED = "initiative.created"
INITIATIVE_JOINED = "initiative.joined"
INITIATIVE_LEFT = "initiative.left"


def _check_link(link: str | None) -> str | None:
    link = (link or "").strip() or None
    if link and (not link.startswith(("https://", "http://")) or len(link) > 2048 or " " in link):
        raise InvalidInput("the link must be an http(s) address")
    return link


async def add_article(session: AsyncSession, uris: Uris, discussion: Discussion, author: Actor, title: str,
                      *, summary: str = "", link: str | None = None, body_html: str = "",
                      kind: str = "article") -> Article:
    """An article or report: a link to read elsewhere, or a text written here (one is required)."""
    title = (title or "").strip()
    if not 3 <= len(title) <= 300:
        raise InvalidInput("the title must have between 3 and 300 characters")
    link = _check_link(link)
    if not link and not body_html.strip():
        raise InvalidInput("an article is a link or a text")
    if kind not in ("article", "report"):
        raise InvalidInput("kind must be article or report")
    summary = (summary or "").strip()
    if len(summary) > 1000:  # refused, never cut (what people type is kept whole or not at all)
        raise InvalidInput("the summary is limited to 1000 characters")
    article = Article(ap_id=uris.article(new_token()), discussion_id=discussion.id, author_id=author.id,
                      title=title, summary=summary, link=link, body=body_html,
                      kind=kind)
    article.author = author
    session.add(article)
    await session.flush()
    await outbox.emit(session, ARTICLE_CREATED, article_id=article.id)
    return article


async def articles(session: AsyncSession, discussion: Discussion) -> list[Article]:
    return list(await session.scalars(
        select(Article).where(Article.discussion_id == discussion.id, Article.deleted_at.is_(None))
        .order_by(Article.created_at.desc(), Article.id.desc())))


async def set_stakeholder(session: AsyncSession, discussion: Discussion, actor: Actor, role: str,
                          description: str = "") -> Stakeholder:
    if role not in STAKEHOLDER_ROLES:
        raise InvalidInput(f"role must be one of {', '.join(STAKEHOLDER_ROLES)}")
    description = description.strip()
    if len(description) > 300:  # refused, never cut
        raise InvalidInput("the description is limited to 300 characters")
    row = await session.scalar(select(Stakeholder).where(
        Stakeholder.discussion_id == discussion.id, Stakeholder.actor_id == actor.id))
    if row is None:
        row = Stakeholder(discussion_id=discussion.id, actor_id=actor.id)
        session.add(row)
    row.role, row.description = role, description
    row.actor = actor
    await session.flush()
    return row


async def remove_stakeholder(session: AsyncSession, discussion: Discussion, actor: Actor) -> bool:
    result = await session.execute(delete(Stakeholder).where(
        Stakeholder.discussion_id == discussion.id, Stakeholder.actor_id == actor.id))
    return bool(result.rowcount)


@dataclass(frozen=True)
class RankedStakeholder:
    stakeholder: Stakeholder
    support: int  # agreements received on their contributions in this discussion
    contributions: int
    latest: Contribution | None


async def key_stakeholders(session: AsyncSession, discussion: Discussion, limit: int = 50) -> list[RankedStakeholder]:
    """Stakeholders ranked by the support their contributions received in this discussion.

    Support is counted from the agreements themselves, not from ``agree_count``: an author's
    agreement with their own contribution, stored before it was refused, never counts
    (SECURITY.md rule 23)."""
    live = (Contribution.discussion_id == discussion.id, Contribution.deleted_at.is_(None),
            Contribution.hidden.is_(False))
    totals = (
        select(Contribution.author_id, func.count(Contribution.id).label("n"),
               func.max(Contribution.id).label("latest"))
        .where(*live).group_by(Contribution.author_id).subquery()
    )
    support = (
        select(Contribution.author_id, func.count(Agreement.id).label("support"))
        .join(Agreement, Agreement.contribution_id == Contribution.id)
        .where(*live, Agreement.actor_id != Contribution.author_id)
        .group_by(Contribution.author_id).subquery()
    )
    rows = (await session.execute(
        select(Stakeholder, support.c.support, totals.c.n, totals.c.latest)
        .outerjoin(totals, totals.c.author_id == Stakeholder.actor_id)
        .outerjoin(support, support.c.author_id == Stakeholder.actor_id)
        .where(Stakeholder.discussion_id == discussion.id)
        .order_by(func.coalesce(support.c.support, 0).desc(), Stakeholder.id)
        .limit(limit))).all()
    latest_ids = [latest for *_, latest in rows if latest]
    latest = {c.id: c for c in await session.scalars(
        select(Contribution).where(Contribution.id.in_(latest_ids)))} if latest_ids else {}
    return [RankedStakeholder(s, int(support or 0), int(n or 0), latest.get(last))
            for s, support, n, last in rows]


async def create_initiative(session: AsyncSession, uris: Uris, discussion: Discussion, author: Actor,
                            title: str, body_html: str, link: str | None = None) -> Initiative:
    title = (title or "").strip()
    if not 3 <= len(title) <= 300:
        raise InvalidInput("the title must have between 3 and 300 characters")
    initiative = Initiative(ap_id=uris.initiative(new_token()), discussion_id=discussion.id,
                            author_id=author.id, title=title, body=body_html, link=_check_link(link),
                            acted_count=0)
    initiative.author = author
    session.add(initiative)
    await session.flush()
    await outbox.emit(session, INITIATIVE_CREATED, initiative_id=initiative.id)
    return initiative


async def initiatives(session: AsyncSession, discussion: Discussion) -> list[Initiative]:
    return list(await session.scalars(select(Initiative).where(Initiative.discussion_id == discussion.id,
                                                               Initiative.deleted_at.is_(None))
                                      .order_by(Initiative.acted_count.desc(), Initiative.id)))


async def _actionable(session: AsyncSession, initiative: Initiative, actor: Actor) -> None:
    if initiative.deleted_at is not None:
        raise NotFound("no such initiative")


# "I acted" on a take-action initiative: once per person (a Join); its author may act too.
ACTION = reactions.Reaction(
    "action", InitiativeAction, Initiative, "initiative_id", "acted_count",
    INITIATIVE_JOINED, "action_id", INITIATIVE_LEFT, ("join_ap_id", "initiative_id"),
    activity="Join", state=_actionable)


async def act(session: AsyncSession, uris: Uris, initiative: Initiative, actor: Actor,
              join_ap_id: str | None = None) -> bool:
    """"I acted" (reactions.add with ACTION); False if already recorded."""
    return await reactions.add(session, uris, ACTION, initiative, actor, join_ap_id)


async def unact(session: AsyncSession, actor: Actor, *, initiative: Initiative | None = None,
                join_ap_id: str | None = None) -> bool:
    """Take back "I acted", by the initiative (local click) or by the Join's id (Undo(Join))."""
    return await reactions.withdraw(session, ACTION, actor, target=initiative, ap_id=join_ap_id)


async def acted_in(session: AsyncSession, actor: Actor | None, discussion: Discussion) -> set[int]:
    """The initiatives of ``discussion`` where ``actor`` said "I acted"."""
    return await reactions.given(session, ACTION, actor,
                                 within=Initiative.discussion_id == discussion.id)
