"""node/services/budgets.py: phases, projects and their review, eligibility, ballots (one per
person, changed until the phase ends), results published, and erasure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from node.db import transaction
from node.errors import Conflict, Forbidden, InvalidInput
from node.models import Ballot, BallotProject, Budget, BudgetProject, OutboxEvent, User, utcnow
from node.services import budgets, erasure, membership
from tests.node.budget_scene import make_town, recount, voting_budget


async def _events(s, kind: str) -> list[dict]:
    return [e.payload for e in await s.scalars(select(OutboxEvent).where(OutboxEvent.kind == kind)
                                               .order_by(OutboxEvent.id))]


@pytest.fixture
async def town(sessions, uris):
    """Künzelsau in its voting phase: four feasible projects (10k, 20k, 25k, 30k of 50k)."""
    async with transaction(sessions) as s:
        town = await make_town(s, uris)
        await voting_budget(s, uris, town, [10_000, 20_000, 25_000, 30_000])
    return town


async def test_ballot__a_fediverse_account_cannot_cast_one(sessions, town):
    """A fediverse actor (not a local account) is refused a ballot with the reason, and no ballot
    row exists; it may still support a project."""
    async with transaction(sessions) as s:
        budget = await s.get(Budget, town.budget.id)
        assert await budgets.may_vote(s, budget, town.fediverse) == budgets.FEDIVERSE_BALLOT
        with pytest.raises(Forbidden, match="fediverse accounts cannot cast ballots"):
            await budgets.cast(s, budget, town.fediverse, [town.projects[0].id])
        assert await budgets.ballot_of(s, budget, town.fediverse) == (None, set())
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Ballot)) == 0
    async with transaction(sessions) as s:
        project = await s.get(BudgetProject, town.projects[0].id)
        assert await budgets.support(s, None, project, town.fediverse, "https://people.example/likes/1")
        assert project.support_count == 1


async def test_ballot__one_per_person_and_changed_until_the_phase_ends(sessions, town):
    """A second ballot replaces the first (counts follow); after voting_ends_at it is refused."""
    p = [project.id for project in town.projects]
    async with transaction(sessions) as s:
        budget = await s.get(Budget, town.budget.id)
        await budgets.cast(s, budget, town.residents[0], [p[0], p[1]])
    async with transaction(sessions) as s:
        budget = await s.get(Budget, town.budget.id)
        await budgets.cast(s, budget, town.residents[0], [p[1], p[2]])
        ballot, chosen = await budgets.ballot_of(s, budget, town.residents[0])
        assert chosen == {p[1], p[2]} and ballot.total == 45_000 and ballot.updated_at is not None
        kept, counted, ballots = await recount(s, budget.id)
        assert kept == counted == {p[0]: 0, p[1]: 1, p[2]: 1, p[3]: 0} and ballots == 1
        budget.voting_ends_at = utcnow() + timedelta(minutes=5)
    async with transaction(sessions) as s:
        budget = await s.get(Budget, town.budget.id)
        later = utcnow() + timedelta(minutes=6)
        assert await budgets.may_vote(s, budget, town.residents[0], now=later) == budgets.BALLOT_CLOSED
        with pytest.raises(Conflict):
            await budgets.cast(s, budget, town.residents[0], [p[0]], now=later)


async def test_ballot__only_verified_members_when_verified_only(sessions, town):
    """A local account that is not a verified member is refused; once admitted, it may vote."""
    async with transaction(sessions) as s:
        budget = await s.get(Budget, town.budget.id)
        stranger = await s.get(User, town.stranger.id)
        assert "verified members" in await budgets.may_vote(s, budget, stranger)
        with pytest.raises(Forbidden):
            await budgets.cast(s, budget, stranger, [town.projects[0].id])
        await membership.admit(s, town.org, stranger, town.admin)
        assert await budgets.may_vote(s, budget, stranger) is None
        await budgets.cast(s, budget, stranger.actor, [town.projects[0].id])  # by its local actor too
        assert (await budgets.ballot_of(s, budget, stranger))[1] == {town.projects[0].id}


async def test_ballot__the_rule_is_checked_server_side(sessions, town):
    """Over the budget, or a project that is not on the ballot, is refused and nothing is stored."""
    async with transaction(sessions) as s:
        budget = await s.get(Budget, town.budget.id)
        with pytest.raises(InvalidInput, match="more than the 50000"):
            await budgets.cast(s, budget, town.residents[0], [p.id for p in town.projects])
        with pytest.raises(InvalidInput, match="not on this ballot"):
            await budgets.cast(s, budget, town.residents[0], [10**6])
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Ballot)) == 0


async def test_results__published_once_with_winners_selected(sessions, uris, town):
    """Greedy: 10k and 30k have 2 votes each (the cheaper first), then 20k and 25k (1 vote each)
    no longer fit in the 10k left; the event and the results' id are set."""
    p = [project.id for project in town.projects]
    choices = [[p[3], p[0]], [p[3], p[1]], [p[2], p[0]]]
    async with transaction(sessions) as s:
        budget = await s.get(Budget, town.budget.id)
        for user, chosen in zip(town.residents, choices, strict=True):
            await budgets.cast(s, budget, user, chosen)
    async with transaction(sessions) as s:
        budget = await s.get(Budget, town.budget.id)
        with pytest.raises(Forbidden):
            await budgets.publish_results(s, uris, budget, by=town.residents[0])
        results = await budgets.publish_results(s, uris, budget, by=town.admin)
        assert results["winners"] == [p[0], p[3]] and results["spent"] == 40_000
        assert budget.phase == "results" and budget.results_ap_id == f"{budget.ap_id}/results"
        assert await _events(s, budgets.RESULTS_PUBLISHED) == [{"budget_id": budget.id}]
        with pytest.raises(Conflict):
            await budgets.publish_results(s, uris, budget, by=town.admin)
    async with sessions() as s:
        states = dict((await s.execute(select(BudgetProject.id, BudgetProject.state))).all())
        assert states == {p[0]: "selected", p[1]: "not_selected", p[2]: "not_selected", p[3]: "selected"}


async def test_erasure__an_erased_accounts_ballot_stays_counted_unlinked(sessions, town):
    """Erasing a voter's account keeps their ballot (user_id NULL) and the counts equal the rows."""
    p = [project.id for project in town.projects]
    async with transaction(sessions) as s:
        budget = await s.get(Budget, town.budget.id)
        await budgets.cast(s, budget, town.residents[0], [p[0], p[1]])
        await budgets.cast(s, budget, town.residents[1], [p[1]])
    async with transaction(sessions) as s:
        await erasure.erase_account(s, await s.get(User, town.residents[0].id), by=None)
    async with sessions() as s:
        users = list(await s.scalars(select(Ballot.user_id).order_by(Ballot.id)))
        assert users == [None, town.residents[1].id]
        kept, counted, ballots = await recount(s, town.budget.id)
        assert kept == counted and kept[p[1]] == 2 and ballots == 2
        assert await s.scalar(select(func.count()).select_from(BallotProject)) == 3
