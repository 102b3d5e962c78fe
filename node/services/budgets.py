"""Participatory budgets: the budget, its districts and phases, and what is on its ballot
(SECURITY.md rule 31; FEDERATION.md "Questionnaires, polls and budgets").

A budget moves through ``BUDGET_PHASES`` (forward only). Anyone — a local account or a fediverse
actor — proposes projects in the proposing phase; the organisation's admins and officials review
them (feasible or not, with a reason and a cost estimate): node/services/budget_projects.py. In the
voting phase each eligible person (a local account, a verified member of the organisation when
``verified_only``; a fediverse actor never) casts one ballot, which the ballot rule checks
(node/services/budget_rules.py) and which a later ballot of the same person replaces until the phase
ends: node/services/budget_ballots.py, which also computes the results (with
node/services/budget_results.py) and publishes them as an ``Article``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node import visibility as access
from node.errors import Conflict, InvalidInput, NotFound
from node.models import Actor, Budget, BudgetDistrict, BudgetProject, Space, utcnow
from node.models.budgets import BALLOT_RULES, BUDGET_PHASES, RESULT_METHODS
from node.services.i18n import text_map
from node.uris import Uris, check_slug, new_token

REVIEWERS = ("admin", "official")  # the roles that review projects and publish results
MAX_TITLE = 300
MAX_AMOUNT = 2_000_000_000  # fits the integer columns, with room for sums of several budgets


def whole_number(value, what: str, *, allow_none: bool = False, zero: bool = False) -> int | None:
    """``value`` if a whole number from 1 (0 with ``zero``) to ``MAX_AMOUNT``; else InvalidInput."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if zero else 1) or value > MAX_AMOUNT:
        raise InvalidInput(f"{what} must be a whole number between {0 if zero else 1} and {MAX_AMOUNT}")
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
    amount = whole_number(amount, "the amount")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise InvalidInput("the currency is a three-letter code (EUR, CHF …)")
    if rule not in BALLOT_RULES:
        raise InvalidInput(f"the ballot rule must be one of {', '.join(BALLOT_RULES)}")
    if result_method not in RESULT_METHODS:
        raise InvalidInput(f"the result method must be one of {', '.join(RESULT_METHODS)}")
    if min_share is not None and (isinstance(min_share, bool) or not isinstance(min_share, int)
                                  or not 0 <= min_share <= 100):
        raise InvalidInput("the minimum share is a percentage between 0 and 100")
    min_projects = whole_number(min_projects, "the minimum number of projects", allow_none=True, zero=True)
    max_projects = whole_number(max_projects, "the maximum number of projects", allow_none=True)
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
                                   amount=whole_number(d_amount, "a district's amount")))
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


# -- what is on the ballot -------------------------------------------------------------------------

def cost_of(project: BudgetProject) -> int:
    """What the project costs on ballots and in results: the review's estimate, else the author's."""
    if project.cost_estimate is not None:
        return project.cost_estimate
    return project.cost or 0


def on_ballot(budget: Budget) -> tuple:
    """The conditions of a project on ``budget``'s ballot, for a query's ``where``."""
    return (BudgetProject.budget_id == budget.id, BudgetProject.feasibility == "feasible",
            BudgetProject.state != "withdrawn", BudgetProject.deleted_at.is_(None))


async def ballot_projects(session: AsyncSession, budget: Budget, district=None) -> list[BudgetProject]:
    """The projects on the ballot (of ``district``, if given): feasible, not withdrawn, not erased."""
    query = select(BudgetProject).where(*on_ballot(budget))
    found = await find_district(session, budget, district)
    if found is not None:
        query = query.where(BudgetProject.district_id == found.id)
    return list(await session.scalars(query.order_by(BudgetProject.id)))
