"""Participatory budgets: phases, projects (proposed, reviewed, supported, commented, carried
out), ballots and published results (SECURITY.md rule 31; FEDERATION.md "Questionnaires, polls
and budgets").

A budget moves through ``BUDGET_PHASES`` (forward only). Anyone — a local account or a fediverse
actor — proposes projects in the proposing phase; the organisation's admins and officials review
them (feasible or not, with a reason and a cost estimate). In the voting phase each eligible
person (a local account, a verified member of the organisation when ``verified_only``; a fediverse
actor never) casts one ballot, which the ballot rule checks here (node/services/budget_rules.py)
and which a later ballot of the same person replaces until the phase ends. Results are computed
by node/services/budget_results.py and published as an ``Article``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from node import visibility as access
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.models import (
    Actor,
    Ballot,
    BallotProject,
    Budget,
    BudgetDistrict,
    BudgetProject,
    BudgetProjectComment,
    BudgetProjectSupport,
    Space,
    User,
    utcnow,
)
from node.models.budgets import BALLOT_RULES, BUDGET_PHASES, RESULT_METHODS
from node.services import actors, budget_results, budget_rules, membership, outbox, reactions
from node.services.i18n import text_map
from node.uris import Uris, check_slug, new_token

# Outbox events (federation/outbound builds them; payload keys as named).
PROJECT_CREATED = "budget.project_created"  # project_id: the author's Create{Page}
PROJECT_UPDATED = "budget.project_updated"  # project_id: reviewed, withdrawn, progress (Update{Page})
COMMENT_CREATED = "budget.comment_created"  # comment_id: Create{Note{inReplyTo = project}}
SUPPORT_CREATED = "budget.support_created"  # support_id: Like{project}
SUPPORT_UNDONE = "budget.support_undone"  # support_ap_id, actor_id, project_id: Undo{Like}
RESULTS_PUBLISHED = "budget.results_published"  # budget_id: the organisation's Create{Article}

REVIEWERS = ("admin", "official")  # the roles that review projects and publish results
MAX_TITLE, MAX_BODY, MAX_COMMENT, MAX_REASON, MAX_NOTE = 300, 40_000, 20_000, 5_000, 5_000
MAX_AMOUNT = 2_000_000_000  # fits the integer columns, with room for sums of several budgets
FEDIVERSE_BALLOT = "fediverse accounts cannot cast ballots: sign in with an account of this node"
BALLOT_CLOSED = "ballots are not accepted now"
SELF_SUPPORT = "the author cannot support their own project"
# Projects still open to a proposal's author erasing their account (before ballots exist).
BEFORE_VOTING = ("informing", "proposing", "reviewing")


def _positive(value, what: str, *, allow_none: bool = False, zero: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if zero else 1) or value > MAX_AMOUNT:
        raise InvalidInput(f"{what} must be a whole number between {0 if zero else 1} and {MAX_AMOUNT}")
    return value


def _text(value, what: str, limit: int, *, minimum: int = 0) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"the {what} must be text")
    value = value.strip()
    if not minimum <= len(value) <= limit:
        raise InvalidInput(f"the {what} must have between {minimum} and {limit} characters")
    return value


def _slug(value, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"the {what} must be text")
    return check_slug(value)


def _texts(value, what: str, *, required: bool = False, max_length: int = 20_000) -> dict[str, str]:
    """A translatable text (``i18n.text_map``), refused with a reason when it is not text."""
    if value is not None and not isinstance(value, (str, dict)) or isinstance(value, dict) and not all(
            isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in value.items()):
        raise InvalidInput(f"the {what} must be text")
    return text_map(value, required=required, what=what, max_length=max_length)


def _names(value, what: str) -> dict[str, str]:
    return _texts(value, what, required=True, max_length=MAX_TITLE)


# -- budgets ---------------------------------------------------------------------------------------

async def create(session: AsyncSession, uris: Uris, organization: Actor, slug: str, title: dict, amount: int,
                 *, currency: str = "EUR", description=None, rule: str = "knapsack", min_share: int | None = None,
                 min_projects: int | None = None, max_projects: int | None = None,
                 result_method: str = "greedy", verified_only: bool = True, space: Space | None = None,
                 districts: Iterable[tuple[str, dict, int]] = (), visibility: str = "public") -> Budget:
    """A budget of ``organization`` in its first phase; ``districts``: (slug, name, amount) each,
    whose ballots are cast per district within the district's amount."""
    slug = _slug(slug, "slug")
    title = _names(title, "title")
    amount = _positive(amount, "the amount")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise InvalidInput("the currency is a three-letter code (EUR, CHF …)")
    if rule not in BALLOT_RULES:
        raise InvalidInput(f"the ballot rule must be one of {', '.join(BALLOT_RULES)}")
    if result_method not in RESULT_METHODS:
        raise InvalidInput(f"the result method must be one of {', '.join(RESULT_METHODS)}")
    if min_share is not None and (isinstance(min_share, bool) or not isinstance(min_share, int)
                                  or not 0 <= min_share <= 100):
        raise InvalidInput("the minimum share is a percentage between 0 and 100")
    min_projects = _positive(min_projects, "the minimum number of projects", allow_none=True, zero=True)
    max_projects = _positive(max_projects, "the maximum number of projects", allow_none=True)
    if min_projects is not None and max_projects is not None and min_projects > max_projects:
        raise InvalidInput("the minimum number of projects exceeds the maximum")
    level = level_of(visibility)
    if await session.scalar(select(Budget.id).where(Budget.organization_id == organization.id,
                                                    Budget.slug == slug)) is not None:
        raise Conflict(f"@{organization.username} already has a budget {slug!r}")
    budget = Budget(ap_id=uris.budget(new_token()), organization_id=organization.id,
                    space_id=space.id if space else None, slug=slug, title=title,
                    description=_texts(description, "description"),
                    visibility=level, amount=amount, currency=currency.upper(), phase=BUDGET_PHASES[0],
                    rule=rule, min_share=min_share or None, min_projects=min_projects, max_projects=max_projects,
                    result_method=result_method, verified_only=bool(verified_only), results={})
    session.add(budget)
    await session.flush()
    seen = set()
    for entry in districts:
        if not isinstance(entry, (tuple, list)) or len(entry) != 3:
            raise InvalidInput("a district is (slug, name, amount)")
        d_slug, d_name, d_amount = entry
        d_slug = _slug(d_slug, "district's slug")
        if d_slug in seen:
            raise InvalidInput(f"the district {d_slug!r} is named twice")
        seen.add(d_slug)
        session.add(BudgetDistrict(budget_id=budget.id, slug=d_slug, name=_names(d_name, "district name"),
                                   amount=_positive(d_amount, "a district's amount")))
    await session.flush()
    return budget


def level_of(level) -> str:
    try:
        return access.check_level(level)
    except access.UnknownLevel as exc:
        raise InvalidInput(str(exc)) from None


async def level(session: AsyncSession, budget: Budget) -> str:
    """The level of the budget and of everything in it (projects, comments, results): the stricter
    of its own and its space's. Pages, AS2, deliveries, inbound and ballots all ask here
    (SECURITY.md rule 24)."""
    space = await session.get(Space, budget.space_id) if budget.space_id else None
    return access.level_of(space, budget)


async def by_ap_id(session: AsyncSession, ap_id: str) -> Budget | None:
    return await session.scalar(select(Budget).where(Budget.ap_id == ap_id))


async def require(session: AsyncSession, ap_id: str) -> Budget:
    budget = await by_ap_id(session, ap_id)
    if budget is None:
        raise NotFound("no such budget")
    return budget


async def by_slug(session: AsyncSession, organization: Actor, slug: str) -> Budget:
    budget = await session.scalar(select(Budget).where(Budget.organization_id == organization.id,
                                                       Budget.slug == slug))
    if budget is None:
        raise NotFound("no such budget")
    return budget


async def of_organisation(session: AsyncSession, organization: Actor, *,
                          levels: tuple[str, ...] | None = None) -> list[Budget]:
    """The organisation's budgets, newest first; with ``levels`` (``node.visibility.listed_levels(who)``)
    only those listed to that reader (the budget's level and its space's)."""
    query = select(Budget).where(Budget.organization_id == organization.id)
    if levels is not None:
        query = query.outerjoin(Space, Space.id == Budget.space_id).where(
            access.level_in(levels, Budget.visibility, Space.visibility))
    return list(await session.scalars(query.order_by(Budget.created_at.desc(), Budget.id.desc())))


async def districts(session: AsyncSession, budget: Budget) -> list[BudgetDistrict]:
    return list(await session.scalars(select(BudgetDistrict).where(BudgetDistrict.budget_id == budget.id)
                                      .order_by(BudgetDistrict.id)))


async def find_district(session: AsyncSession, budget: Budget, which) -> BudgetDistrict | None:
    """A district of ``budget`` by itself, its id or its slug (None for None); InvalidInput when
    it is not one of the budget's."""
    if which is None:
        return None
    found = None
    if isinstance(which, BudgetDistrict):
        found = which if which.budget_id == budget.id else None
    elif isinstance(which, int) and not isinstance(which, bool):
        found = await session.scalar(select(BudgetDistrict).where(BudgetDistrict.budget_id == budget.id,
                                                                  BudgetDistrict.id == which))
    elif isinstance(which, str):
        found = await session.scalar(select(BudgetDistrict).where(BudgetDistrict.budget_id == budget.id,
                                                                  BudgetDistrict.slug == which))
    if found is None:
        raise InvalidInput("no such district in this budget")
    return found


async def set_phase(session: AsyncSession, budget: Budget, phase: str, *,
                    voting_ends_at: datetime | None = None) -> None:
    """Move the budget to ``phase`` (forward, or staying to change when voting ends). Entering
    the voting phase needs at least one feasible project; ``voting_ends_at`` only goes with it."""
    if phase not in BUDGET_PHASES:
        raise InvalidInput(f"the phase must be one of {', '.join(BUDGET_PHASES)}")
    if BUDGET_PHASES.index(phase) < BUDGET_PHASES.index(budget.phase):
        raise Conflict(f"a budget cannot go back from {budget.phase} to {phase}")
    if voting_ends_at is not None and phase != "voting":
        raise InvalidInput("only the voting phase has an end")
    if phase == "voting" and budget.phase != "voting" and not await ballot_projects(session, budget):
        raise Conflict("no feasible project to vote on yet")
    budget.phase = phase
    if phase == "voting":
        budget.voting_ends_at = voting_ends_at
    await session.flush()


def voting_open(budget: Budget, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return budget.phase == "voting" and (budget.voting_ends_at is None or now < budget.voting_ends_at)


# -- projects --------------------------------------------------------------------------------------

def cost_of(project: BudgetProject) -> int:
    """What the project costs on ballots and in results: the review's estimate, else the author's."""
    if project.cost_estimate is not None:
        return project.cost_estimate
    return project.cost or 0


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
    cost = _positive(cost, "the cost", allow_none=True)
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
    cost_estimate = _positive(cost_estimate, "the cost estimate", allow_none=True)
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


# -- ballots (local accounts only; they never leave the node) ---------------------------------------

def _on_ballot(budget: Budget) -> tuple:
    return (BudgetProject.budget_id == budget.id, BudgetProject.feasibility == "feasible",
            BudgetProject.state != "withdrawn", BudgetProject.deleted_at.is_(None))


async def ballot_projects(session: AsyncSession, budget: Budget, district=None) -> list[BudgetProject]:
    """The projects on the ballot (of ``district``, if given): feasible, not withdrawn, not erased."""
    query = select(BudgetProject).where(*_on_ballot(budget))
    found = await find_district(session, budget, district)
    if found is not None:
        query = query.where(BudgetProject.district_id == found.id)
    return list(await session.scalars(query.order_by(BudgetProject.id)))


async def _voter(session: AsyncSession, who: User | Actor | None) -> User | None:
    """The local account behind ``who`` (None for a fediverse actor, or nobody)."""
    if isinstance(who, User):
        return who
    if isinstance(who, Actor) and who.local:
        return await session.scalar(select(User).where(User.actor_id == who.id))
    return None


async def _refusal(session: AsyncSession, budget: Budget, who: User | Actor | None,
                   now: datetime | None) -> Exception | None:
    if not voting_open(budget, now):
        return Conflict(BALLOT_CLOSED)
    if isinstance(who, Actor) and not who.local:
        return Forbidden(FEDIVERSE_BALLOT)
    user = await _voter(session, who)
    if user is None:
        return Forbidden("sign in to vote")
    organization = await session.get(Actor, budget.organization_id)
    if budget.verified_only and not await membership.is_verified(session, organization, user):
        return Forbidden(f"only verified members of {organization.name or organization.username} can vote")
    if await level(session, budget) == access.MEMBERS and \
            not await membership.is_member(session, organization, user):
        return Forbidden("only members of the organisation can vote")
    return None


async def may_vote(session: AsyncSession, budget: Budget, user: User | Actor | None, *,
                   now: datetime | None = None) -> str | None:
    """None when ``user`` may cast (or change) a ballot now, else the reason they may not.
    A fediverse actor (an ``Actor`` that is not local) never may."""
    refusal = await _refusal(session, budget, user, now)
    return refusal.reason if refusal is not None else None


def _ids(project_ids) -> list[int]:
    if isinstance(project_ids, (str, bytes)) or not isinstance(project_ids, Sequence | set | frozenset):
        raise InvalidInput("a ballot is a list of projects")
    ids = []
    for value in project_ids:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput("a ballot lists projects by number")
        ids.append(value)
    return ids


def _insert(session: AsyncSession):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def _count(session: AsyncSession, deltas: dict[int, int]) -> None:
    """Move each project's ``votes_count`` by its delta, in SQL: concurrent ballots never
    overwrite each other's counts."""
    moved = {project_id: delta for project_id, delta in sorted(deltas.items()) if delta}
    if not moved:
        return
    if session.get_bind().dialect.name != "postgresql":  # SQLite: one writer at a time, one statement
        await session.execute(update(BudgetProject).where(BudgetProject.id.in_(moved)).values(
            votes_count=BudgetProject.votes_count + case(moved, value=BudgetProject.id)))
        return
    # PostgreSQL: one row at a time in id order, so that two ballots never lock the same
    # projects in opposite orders (a deadlock).
    for project_id, delta in moved.items():
        await session.execute(update(BudgetProject).where(BudgetProject.id == project_id)
                              .values(votes_count=BudgetProject.votes_count + delta))


async def _locked_ballot(session: AsyncSession, budget: Budget, user: User) -> Ballot | None:
    return await session.scalar(select(Ballot).where(Ballot.budget_id == budget.id, Ballot.user_id == user.id)
                                .with_for_update().execution_options(populate_existing=True))


async def _ballot_place(session: AsyncSession, budget: Budget, district_id) -> BudgetDistrict | None:
    places = await districts(session, budget)
    if not places:
        if district_id is not None:
            raise InvalidInput("this budget has no districts")
        return None
    if district_id is None:
        raise InvalidInput("choose your district")
    place = next((d for d in places if d.id == district_id and isinstance(district_id, int)), None)
    if place is None:
        raise InvalidInput("no such district in this budget")
    return place


async def _ballot_costs(session: AsyncSession, budget: Budget, place: BudgetDistrict | None) -> dict[int, int]:
    """The cost (``cost_of``) of each project on the ballot (of ``place``), in one query."""
    query = select(BudgetProject.id, BudgetProject.cost, BudgetProject.cost_estimate).where(*_on_ballot(budget))
    if place is not None:
        query = query.where(BudgetProject.district_id == place.id)
    return {pid: estimate if estimate is not None else (cost or 0)
            for pid, cost, estimate in await session.execute(query)}


async def cast(session: AsyncSession, budget: Budget, user: User | Actor, project_ids: Sequence[int], *,
               district_id: int | None = None, now: datetime | None = None) -> Ballot:
    """``user``'s ballot for ``project_ids`` (in ``district_id`` when the budget has districts),
    checked against the budget's rule; it replaces their earlier ballot, if any. Race-safe: the
    unique (budget, user) key keeps one ballot per person — the upsert of a concurrent ballot of
    the same person waits for the other's transaction, then replaces it — and votes are counted
    by deltas in SQL."""
    refusal = await _refusal(session, budget, user, now)
    if refusal is not None:
        raise refusal
    user = await _voter(session, user)
    ids = _ids(project_ids)
    place = await _ballot_place(session, budget, district_id)
    costs = await _ballot_costs(session, budget, place)
    budget_rules.check(budget_rules.rule_for(budget, place), costs, ids)

    now = now or utcnow()
    upsert = _insert(session)(Ballot).values(budget_id=budget.id, user_id=user.id, district_id=place.id if place else None,
                                             total=budget_rules.total(costs, ids), created_at=now)
    upsert = upsert.on_conflict_do_update(index_elements=[Ballot.budget_id, Ballot.user_id], set_={
        "district_id": upsert.excluded.district_id, "total": upsert.excluded.total, "updated_at": now})
    ballot = await session.scalar(upsert.returning(Ballot), execution_options={"populate_existing": True})
    before = set()
    if ballot.updated_at is not None:  # it replaced an earlier ballot: what did that one choose?
        before = set(await session.scalars(select(BallotProject.project_id)
                                           .where(BallotProject.ballot_id == ballot.id)))
    chosen = set(ids)
    if before - chosen:
        await session.execute(delete(BallotProject).where(BallotProject.ballot_id == ballot.id,
                                                          BallotProject.project_id.in_(before - chosen)))
    if chosen - before:
        await session.execute(_insert(session)(BallotProject).values(
            [{"ballot_id": ballot.id, "project_id": p} for p in sorted(chosen - before)]))
    await _count(session, {p: (p in chosen) - (p in before) for p in before | chosen})
    return ballot


async def withdraw_ballot(session: AsyncSession, budget: Budget, user: User, *,
                          now: datetime | None = None) -> bool:
    """Take one's ballot back while voting is open; False when there was none."""
    if not voting_open(budget, now):
        raise Conflict(BALLOT_CLOSED)
    ballot = await _locked_ballot(session, budget, user)
    if ballot is None:
        return False
    before = set(await session.scalars(select(BallotProject.project_id).where(BallotProject.ballot_id == ballot.id)))
    await _count(session, {p: -1 for p in before})
    await session.execute(delete(BallotProject).where(BallotProject.ballot_id == ballot.id))
    await session.execute(delete(Ballot).where(Ballot.id == ballot.id))
    return True


async def ballot_of(session: AsyncSession, budget: Budget, user: User | Actor | None) -> tuple[Ballot | None, set[int]]:
    """``user``'s ballot in ``budget`` and the projects on it (None and nothing for a fediverse
    actor or nobody)."""
    user = await _voter(session, user)
    if user is None:
        return None, set()
    ballot = await session.scalar(select(Ballot).where(Ballot.budget_id == budget.id, Ballot.user_id == user.id))
    if ballot is None:
        return None, set()
    return ballot, set(await session.scalars(select(BallotProject.project_id)
                                             .where(BallotProject.ballot_id == ballot.id)))


async def ballots_count(session: AsyncSession, budget: Budget) -> int:
    return await session.scalar(select(func.count()).select_from(Ballot).where(Ballot.budget_id == budget.id)) or 0


async def ballots(session: AsyncSession, budget: Budget) -> dict[int, tuple[int | None, set[int]]]:
    """Every ballot of ``budget``: id → (district id, chosen project ids); for results and exports
    (ballots of erased accounts included: they stay counted, linked to no one)."""
    found: dict[int, tuple[int | None, set[int]]] = {}
    rows = await session.execute(select(Ballot.id, Ballot.district_id, BallotProject.project_id)
                                 .outerjoin(BallotProject, BallotProject.ballot_id == Ballot.id)
                                 .where(Ballot.budget_id == budget.id).order_by(Ballot.id))
    for ballot_id, district_id, project_id in rows:
        entry = found.setdefault(ballot_id, (district_id, set()))
        if project_id is not None:
            entry[1].add(project_id)
    return found


# -- results ---------------------------------------------------------------------------------------

async def compute_results(session: AsyncSession, budget: Budget) -> dict:
    """The outcome, as stored in ``budget.results`` when published (JSON)::

        {"method": "greedy" | "mes", "utilities": "approval" (mes), "completion": "add1" (mes),
         "amount", "currency", "ballots", "spent", "winners": [project ids in the order funded],
         "districts": [{"id", "slug", "name", "amount", "ballots", "spent", "winners"}] (empty without),
         "projects": [{"id", "ap_id", "title", "cost", "votes", "selected", "district"}]}

    Per district when the budget has some (each with its own ballots and amount). Votes are
    recounted from the ballots, for the projects still on the ballot."""
    places = await districts(session, budget)
    every = await ballot_projects(session, budget)
    cast_ballots = await ballots(session, budget)
    scopes = [(d, d.amount) for d in places] or [(None, budget.amount)]
    winners: list[int] = []
    district_results, votes = [], {}
    for place, limit in scopes:
        mine = [p for p in every if place is None or p.district_id == place.id]
        costs = {p.id: cost_of(p) for p in mine}
        chosen = [set(projects_) & costs.keys() for district_id, projects_ in cast_ballots.values()
                  if place is None or district_id == place.id]
        scope_votes = {p: sum(p in c for c in chosen) for p in costs}
        votes.update(scope_votes)
        if budget.result_method == "mes":
            won = budget_results.equal_shares(limit, costs, chosen, utilities="approval", completion="add1")
        else:
            won = budget_results.greedy(limit, costs, scope_votes)
        winners += won
        if place is not None:
            district_results.append({"id": place.id, "slug": place.slug, "name": place.name, "amount": limit,
                                     "ballots": len(chosen), "spent": sum(costs[p] for p in won),
                                     "winners": won})
    slugs = {d.id: d.slug for d in places}
    selected = set(winners)
    ordered = sorted(every, key=lambda p: (p.district_id or 0, p.id not in selected, -votes.get(p.id, 0),
                                           cost_of(p), p.id))
    results = {"method": budget.result_method, "amount": budget.amount, "currency": budget.currency,
               "ballots": len(cast_ballots), "spent": sum(cost_of(p) for p in every if p.id in selected),
               "winners": winners, "districts": district_results,
               "projects": [{"id": p.id, "ap_id": p.ap_id, "title": p.title, "cost": cost_of(p),
                             "votes": votes.get(p.id, 0), "selected": p.id in selected,
                             "district": slugs.get(p.district_id)} for p in ordered]}
    if budget.result_method == "mes":
        results.update(utilities="approval", completion="add1")
    return results


async def publish_results(session: AsyncSession, uris: Uris, budget: Budget, *, by: User) -> dict:
    """Compute and publish the results (once): the voting phase ends, winners become
    ``selected`` and the other projects ``not_selected``, and the organisation's ``Article``
    at ``<budget id>/results`` federates."""
    organization = await session.get(Actor, budget.organization_id)
    if by is None or not await actors.has_role(session, by, organization, *REVIEWERS):
        raise Forbidden("only the organisation's admins and officials can do this")
    if budget.results_published_at is not None:
        raise Conflict("the results are already published")
    if budget.phase not in ("voting", "results"):
        raise Conflict("results are published after the voting phase")
    results = await compute_results(session, budget)
    budget.phase = "results"
    budget.results = results
    budget.results_ap_id = uris.budget_results(budget.ap_id)
    budget.results_published_at = utcnow()
    selected = set(results["winners"])
    if selected:
        await session.execute(update(BudgetProject).where(BudgetProject.id.in_(selected))
                              .values(state="selected"))
    await session.execute(update(BudgetProject).where(
        BudgetProject.budget_id == budget.id, BudgetProject.state == "proposed",
        BudgetProject.id.not_in(selected or {0})).values(state="not_selected"))
    await session.flush()
    await outbox.emit(session, RESULTS_PUBLISHED, budget_id=budget.id)
    return results


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
