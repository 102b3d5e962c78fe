"""Participatory budget projects: proposed, reviewed, withdrawn, carried out, supported, commented.

Local accounts and fediverse actors propose, support and comment; the organisation's admins and
officials review; node/services/budgets.py holds the budget, its districts and phases.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node import visibility as access
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.models import (
    Actor,
    Budget,
    BudgetDistrict,
    BudgetProject,
    BudgetProjectComment,
    BudgetProjectSupport,
    User,
    utcnow,
)
from node.services import actors, outbox, reactions
from node.services.budgets import (
    MAX_TITLE,
    REVIEWERS,
    districts,
    find_district,
    level,
    whole_number,
)
from node.uris import Uris, new_token

# Outbox events (federation/outbound builds them; payload keys as named).
PROJECT_CREATED = "budget.project_created"  # project_id: the author's Create{Page}
PROJECT_UPDATED = "budget.project_updated"  # project_id: reviewed, withdrawn, progress (Update{Page})
COMMENT_CREATED = "budget.comment_created"  # comment_id: Create{Note{inReplyTo = project}}
SUPPORT_CREATED = "budget.support_created"  # support_id: Like{project}
SUPPORT_UNDONE = "budget.support_undone"  # support_ap_id, actor_id, project_id: Undo{Like}

MAX_BODY, MAX_COMMENT, MAX_REASON, MAX_NOTE = 40_000, 20_000, 5_000, 5_000
SELF_SUPPORT = "the author cannot support their own project"
# Projects still open to a proposal's author erasing their account (before ballots exist).
BEFORE_VOTING = ("informing", "proposing", "reviewing")


def _text(value, what: str, limit: int, *, minimum: int = 0) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"the {what} must be text")
    value = value.strip()
    if not minimum <= len(value) <= limit:
        raise InvalidInput(f"the {what} must have between {minimum} and {limit} characters")
    return value


# -- projects --------------------------------------------------------------------------------------

async def project_by_ap_id(session: AsyncSession, ap_id: str) -> BudgetProject | None:
    return await session.scalar(select(BudgetProject).where(BudgetProject.ap_id == ap_id))


async def projects(session: AsyncSession, budget: Budget, *, district=None,
                   include_withdrawn: bool = False) -> list[BudgetProject]:
    """The budget's projects (not erased), most supported first."""
    query = select(BudgetProject).where(BudgetProject.budget_id == budget.id, BudgetProject.deleted_at.is_(None))
    if not include_withdrawn:
        query = query.where(BudgetProject.state != "withdrawn")
    found = await find_district(session, budget, district)
    if found is not None:
        query = query.where(BudgetProject.district_id == found.id)
    return list(await session.scalars(query.order_by(BudgetProject.support_count.desc(), BudgetProject.id)))


async def propose(session: AsyncSession, uris: Uris, budget: Budget, author: Actor, title: str, body_html: str,
                  *, cost: int | None = None, district=None, language: str | None = None,
                  ap_id: str | None = None) -> BudgetProject:
    """A project (``body_html`` sanitised by the caller), in the proposing phase, by a local
    account or a fediverse actor (``ap_id``: its Page's id). With districts, it names one."""
    if budget.phase != "proposing":
        raise Conflict("projects are proposed in the proposing phase only")
    if not author.local and not access.federates(await level(session, budget)):
        raise Forbidden("this budget is not open to the fediverse")
    title = _text(title, "title", MAX_TITLE, minimum=3)
    if not isinstance(body_html, str) or not body_html.strip() or len(body_html) > MAX_BODY:
        raise InvalidInput("the project needs a description of at most 20,000 characters")
    cost = whole_number(cost, "the cost", allow_none=True)
    found = await find_district(session, budget, district)
    if found is None and await districts(session, budget):
        raise InvalidInput("choose the project's district")
    if ap_id is not None and await project_by_ap_id(session, ap_id) is not None:
        raise Conflict("this project is already recorded")
    if language is not None and (not isinstance(language, str) or len(language) > 8):
        language = None
    project = BudgetProject(ap_id=ap_id or uris.project(new_token()), budget_id=budget.id,
                            district_id=found.id if found else None, author_id=author.id, title=title,
                            body=body_html, language=language, cost=cost, feasibility="pending",
                            review_reason="", state="proposed", votes_count=0, support_count=0, progress=0,
                            progress_note="")
    project.author = author
    session.add(project)
    await session.flush()
    if author.local:
        await outbox.emit(session, PROJECT_CREATED, project_id=project.id)
    return project


async def _reviewer(session: AsyncSession, project: BudgetProject, by: User) -> Budget:
    budget = await session.get(Budget, project.budget_id)
    organization = await session.get(Actor, budget.organization_id)
    if by is None or not await actors.has_role(session, by, organization, *REVIEWERS):
        raise Forbidden("only the organisation's admins and officials can do this")
    return budget


async def _changed(session: AsyncSession, project: BudgetProject) -> None:
    project.updated_at = utcnow()
    await session.flush()
    if project.author is not None and project.author.local:
        await outbox.emit(session, PROJECT_UPDATED, project_id=project.id)


async def review(session: AsyncSession, project: BudgetProject, *, feasible: bool, reason: str,
                 cost_estimate: int | None, by: User) -> None:
    """The feasibility review (proposing or reviewing phase): feasible or not, always with a
    reason; a feasible project needs a cost (the estimate, else the author's) within the budget."""
    budget = await _reviewer(session, project, by)
    if budget.phase not in ("proposing", "reviewing"):
        raise Conflict("projects are reviewed in the proposing and reviewing phases")
    if project.state == "withdrawn" or project.deleted_at is not None:
        raise Conflict("this project was withdrawn")
    reason = _text(reason, "reason", MAX_REASON, minimum=1)
    cost_estimate = whole_number(cost_estimate, "the cost estimate", allow_none=True)
    if feasible:
        cost = cost_estimate if cost_estimate is not None else project.cost
        if not cost:
            raise InvalidInput("a feasible project needs a cost estimate")
        limit = budget.amount
        if project.district_id is not None:
            limit = (await session.get(BudgetDistrict, project.district_id)).amount
        if cost > limit:
            raise InvalidInput(f"a project costing {cost} cannot fit in the {limit} available")
    project.feasibility = "feasible" if feasible else "unfeasible"
    project.review_reason, project.cost_estimate = reason, cost_estimate
    project.reviewed_at, project.reviewed_by_id = utcnow(), by.id
    await _changed(session, project)


async def withdraw_project(session: AsyncSession, project: BudgetProject, *, by: Actor) -> None:
    """Its author withdraws a project before the vote; it leaves the ballot."""
    if project.author_id != by.id:
        raise Forbidden("only the author can withdraw a project")
    budget = await session.get(Budget, project.budget_id)
    if budget.phase not in BEFORE_VOTING:
        raise Conflict("a project can only be withdrawn before the vote")
    if project.state == "withdrawn":
        return
    project.state = "withdrawn"
    await _changed(session, project)


async def set_progress(session: AsyncSession, project: BudgetProject, percent: int, note: str) -> None:
    """How far a selected project's implementation is (percent, with a note), in the
    implementation phase."""
    budget = await session.get(Budget, project.budget_id)
    if budget.phase != "implementation" or project.state != "selected":
        raise Conflict("progress is reported for selected projects in the implementation phase")
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise InvalidInput("progress is a percentage between 0 and 100")
    project.progress, project.progress_note = percent, _text(note or "", "note", MAX_NOTE)
    project.progress_updated_at = utcnow()
    await _changed(session, project)


# -- supports and comments (fediverse actors too) ---------------------------------------------------

async def _supportable(session: AsyncSession, project: BudgetProject, actor: Actor) -> None:
    if project.deleted_at is not None:
        raise NotFound("no such project")
    if project.state == "withdrawn":
        raise Conflict("this project was withdrawn")


# A project's support: once per actor, never by its author (a Like; SECURITY.md rule 23).
PROJECT_SUPPORT = reactions.Reaction(
    "budget_support", BudgetProjectSupport, BudgetProject, "project_id", "support_count",
    SUPPORT_CREATED, "support_id", SUPPORT_UNDONE, ("support_ap_id", "project_id"),
    own=SELF_SUPPORT, state=_supportable)


async def support(session: AsyncSession, uris: Uris, project: BudgetProject, actor: Actor,
                  like_ap_id: str | None = None) -> bool:
    """Support a project (reactions.add with PROJECT_SUPPORT); False if already given."""
    return await reactions.add(session, uris, PROJECT_SUPPORT, project, actor, like_ap_id)


async def withdraw_support(session: AsyncSession, actor: Actor, *, project: BudgetProject | None = None,
                           like_ap_id: str | None = None) -> bool:
    return await reactions.withdraw(session, PROJECT_SUPPORT, actor, target=project, ap_id=like_ap_id)


async def supported_by(session: AsyncSession, actor: Actor | None, project_ids: list[int]) -> set[int]:
    return await reactions.given(session, PROJECT_SUPPORT, actor, project_ids)


async def comment(session: AsyncSession, uris: Uris, project: BudgetProject, author: Actor, content_html: str,
                  *, ap_id: str | None = None) -> BudgetProjectComment:
    """A comment (``content_html`` sanitised by the caller) on a project, local or a fediverse
    reply (``ap_id``: its Note's id)."""
    if project.deleted_at is not None:
        raise NotFound("no such project")
    if not isinstance(content_html, str) or not content_html.strip() or len(content_html) > MAX_COMMENT:
        raise InvalidInput("a comment has between 1 and 20,000 characters")
    if not author.local:
        budget = await session.get(Budget, project.budget_id)
        if not access.federates(await level(session, budget)):
            raise Forbidden("this budget is not open to the fediverse")
    if ap_id is not None and await session.scalar(
            select(BudgetProjectComment.id).where(BudgetProjectComment.ap_id == ap_id)) is not None:
        raise Conflict("this comment is already recorded")
    row = BudgetProjectComment(ap_id=ap_id or uris.project_comment(new_token()), project_id=project.id,
                               author_id=author.id, content=content_html)
    row.author = author
    session.add(row)
    await session.flush()
    if author.local:
        await outbox.emit(session, COMMENT_CREATED, comment_id=row.id)
    return row


async def comments(session: AsyncSession, project: BudgetProject) -> list[BudgetProjectComment]:
    return list(await session.scalars(select(BudgetProjectComment).where(
        BudgetProjectComment.project_id == project.id, BudgetProjectComment.deleted_at.is_(None))
        .order_by(BudgetProjectComment.id)))


# -- erasure ---------------------------------------------------------------------------------------

async def erase_author(session: AsyncSession, actor: Actor, now: datetime) -> list[tuple[str, str]]:
    """An erased account's projects (node/services/erasure.py): those of budgets still before the
    vote become tombstones (title and text cleared, off every list); those already voted on stay
    as the budget's record — ballots chose them — under the erased person's nameless tombstone.
    Their comments become tombstones. Returns the (id, former type) of what was tombstoned."""
    erased: list[tuple[str, str]] = []
    before_vote = select(Budget.id).where(Budget.phase.in_(BEFORE_VOTING))
    for project in await session.scalars(select(BudgetProject).where(
            BudgetProject.author_id == actor.id, BudgetProject.deleted_at.is_(None),
            BudgetProject.budget_id.in_(before_vote))):
        project.deleted_at, project.title, project.body, project.state = now, "", "", "withdrawn"
        erased.append((project.ap_id, "Page"))
    for row in await session.scalars(select(BudgetProjectComment).where(
            BudgetProjectComment.author_id == actor.id, BudgetProjectComment.deleted_at.is_(None))):
        row.deleted_at, row.content = now, ""
        erased.append((row.ap_id, "Note"))
    await session.flush()
    return erased
