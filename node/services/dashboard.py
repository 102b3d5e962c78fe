"""The organisation dashboard: activity and community figures with their change over the
previous period, daily series for charts, and visit counting (no cookies, no IP addresses).

Figures count only what the reader may list (SECURITY.md rule 24): ``levels`` is
``visibility.listed_levels(standing)``; None counts everything (the organisation's staff list
everything anyway)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, or_, select, union, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from node.models import (
    Agreement,
    Contribution,
    DailyVisits,
    Discussion,
    HiddenContent,
    Initiative,
    InitiativeAction,
    Proposal,
    ProposalSupport,
    Space,
)
from node.services import discussions as discussion_service
from node.services import proposal_access

Levels = tuple[str, ...] | None


@dataclass(frozen=True)
class Figure:
    value: int
    previous: int

    @property
    def change(self) -> int | None:
        """Percent change over the previous period (None when there was nothing before)."""
        if self.previous == 0:
            return None
        return round((self.value - self.previous) * 100 / self.previous)


@dataclass(frozen=True)
class Dashboard:
    open_official_discussions: int
    official_answers: Figure
    quality_recognised: Figure
    visits: Figure
    active_people: Figure
    new_comments: Figure
    visits_series: list[tuple[date, int]]
    comments_series: list[tuple[date, int]]
    days: int


def _bounds(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _org_contributions(org_id: int, levels: Levels = None):
    """The organisation's discussions listed at ``levels`` (all of them for None)."""
    query = select(Discussion.id).where(Discussion.organization_id == org_id)
    if levels is None:
        return query
    return query.outerjoin(Space, Space.id == Discussion.space_id).where(
        discussion_service.listed_clause(levels))


def _visits_listed(org_id: int, levels: Levels):
    # Visits of a discussion the reader may not list would tell it exists and is read.
    return or_(DailyVisits.discussion_id.is_(None),
               DailyVisits.discussion_id.in_(_org_contributions(org_id, levels)))


async def _visits(session: AsyncSession, org_id: int, start: date, end: date, levels: Levels = None) -> int:
    return await session.scalar(select(func.coalesce(func.sum(DailyVisits.count), 0)).where(
        DailyVisits.organization_id == org_id, DailyVisits.day >= start, DailyVisits.day < end,
        _visits_listed(org_id, levels))) or 0


# Hidden and held contributions and proposals are counted nowhere: the figures would otherwise
# reveal what the moderators took away (SECURITY.md rule 22).
_SHOWN = Contribution.hidden.is_(False)


def _proposal_shown(levels: Levels = None):
    shown = Proposal.ap_id.not_in(select(HiddenContent.target_ap_id).where(HiddenContent.target_kind == "proposal"))
    if levels is None:
        return shown
    return shown & Proposal.id.in_(proposal_access.listed_ids(levels))


async def _count_contributions(session, org_id: int, start: datetime, end: datetime, levels: Levels,
                               *extra) -> int:
    return await session.scalar(select(func.count()).select_from(Contribution).where(
        Contribution.discussion_id.in_(_org_contributions(org_id, levels)), Contribution.deleted_at.is_(None),
        _SHOWN, Contribution.published >= start, Contribution.published < end, *extra)) or 0


async def _answers(session, org_id: int, start: datetime, end: datetime, levels: Levels) -> int:
    answers = await session.scalar(select(func.count()).select_from(Proposal).where(
        Proposal.organization_id == org_id, Proposal.answer_published_at >= start,
        Proposal.answer_published_at < end, _proposal_shown(levels))) or 0
    official = await _count_contributions(session, org_id, start, end, levels, Contribution.official.is_(True))
    return answers + official


async def _active_people(session, org_id: int, start: datetime, end: datetime, levels: Levels) -> int:
    """Distinct people who contributed, agreed, supported a proposal or acted in the period."""
    discussions = _org_contributions(org_id, levels)
    people = union(
        select(Contribution.author_id.label("who")).where(
            Contribution.discussion_id.in_(discussions), _SHOWN, Contribution.published >= start,
            Contribution.published < end),
        select(Agreement.actor_id).join(Contribution).where(
            Contribution.discussion_id.in_(discussions), _SHOWN, Agreement.created_at >= start,
            Agreement.created_at < end),
        select(ProposalSupport.actor_id).join(Proposal).where(
            Proposal.organization_id == org_id, _proposal_shown(levels), ProposalSupport.created_at >= start,
            ProposalSupport.created_at < end),
        select(InitiativeAction.actor_id).join(Initiative).where(
            Initiative.discussion_id.in_(discussions), InitiativeAction.created_at >= start,
            InitiativeAction.created_at < end),
    ).subquery()
    return await session.scalar(select(func.count(func.distinct(people.c.who)))) or 0


async def dashboard(session: AsyncSession, org_id: int, today: date, days: int = 30,
                    levels: Levels = None) -> Dashboard:
    end_day = today + timedelta(days=1)
    start_day = end_day - timedelta(days=days)
    prev_day = start_day - timedelta(days=days)
    end, start, prev = _bounds(end_day), _bounds(start_day), _bounds(prev_day)

    async def figure(fn, *args) -> Figure:
        return Figure(await fn(session, org_id, start, end, levels, *args),
                      await fn(session, org_id, prev, start, levels, *args))

    visits = Figure(await _visits(session, org_id, start_day, end_day, levels),
                    await _visits(session, org_id, prev_day, start_day, levels))
    open_official = await session.scalar(select(func.count()).select_from(Discussion).where(
        Discussion.id.in_(_org_contributions(org_id, levels)), Discussion.kind == "official",
        Discussion.status == "open", Discussion.moderation == "approved")) or 0
    visit_rows = dict((await session.execute(
        select(DailyVisits.day, func.sum(DailyVisits.count)).where(
            DailyVisits.organization_id == org_id, DailyVisits.day >= start_day, DailyVisits.day < end_day,
            _visits_listed(org_id, levels))
        .group_by(DailyVisits.day))).all())
    comment_day = func.date(Contribution.published)
    comment_rows = {str(d): n for d, n in (await session.execute(
        select(comment_day, func.count()).where(
            Contribution.discussion_id.in_(_org_contributions(org_id, levels)), Contribution.deleted_at.is_(None),
            _SHOWN, Contribution.published >= start, Contribution.published < end).group_by(comment_day))).all()}
    series_days = [start_day + timedelta(days=i) for i in range(days)]
    return Dashboard(
        open_official_discussions=open_official,
        official_answers=await figure(_answers),
        quality_recognised=await figure(_count_contributions, Contribution.quality_recognised.is_(True)),
        visits=visits,
        active_people=await figure(_active_people),
        new_comments=await figure(_count_contributions),
        visits_series=[(d, int(visit_rows.get(d, 0))) for d in series_days],
        comments_series=[(d, int(comment_rows.get(d.isoformat(), 0))) for d in series_days],
        days=days,
    )


async def add_visits(session: AsyncSession, counts: dict[tuple[int, int | None, date], int]) -> None:
    """Add buffered page-view counts: one row per (organisation, discussion, day)."""
    for (org_id, discussion_id, day), n in counts.items():
        where = (DailyVisits.organization_id == org_id, DailyVisits.day == day,
                 DailyVisits.discussion_id.is_(None) if discussion_id is None
                 else DailyVisits.discussion_id == discussion_id)
        result = await session.execute(update(DailyVisits).where(*where).values(count=DailyVisits.count + n))
        if result.rowcount:
            continue
        try:
            async with session.begin_nested():
                session.add(DailyVisits(organization_id=org_id, discussion_id=discussion_id, day=day, count=n))
        except IntegrityError:  # another process inserted the day's row first
            await session.execute(update(DailyVisits).where(*where).values(count=DailyVisits.count + n))
