"""Participatory budget ballots, and the results computed from them and published.

Only local accounts cast ballots, and ballots never leave the node (SECURITY.md rule 31);
node/services/budgets.py holds the budget, its phases and what is on its ballot.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from node import visibility as access
from node.errors import Conflict, Forbidden, InvalidInput
from node.models import (
    Actor,
    Ballot,
    BallotProject,
    Budget,
    BudgetDistrict,
    BudgetProject,
    User,
    utcnow,
)
from node.services import actors, budget_results, budget_rules, membership, outbox
from node.services.budgets import (
    REVIEWERS,
    ballot_projects,
    cost_of,
    districts,
    level,
    on_ballot,
    voting_open,
)
from node.uris import Uris

RESULTS_PUBLISHED = "budget.results_published"  # budget_id: the organisation's Create{Article}
FEDIVERSE_BALLOT = "fediverse accounts cannot cast ballots: sign in with an account of this node"
BALLOT_CLOSED = "ballots are not accepted now"


# -- ballots (local accounts only; they never leave the node) ---------------------------------------

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
    query = select(BudgetProject.id, BudgetProject.cost, BudgetProject.cost_estimate).where(*on_ballot(budget))
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

