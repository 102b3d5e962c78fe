"""node/services/budgets.py, budget_projects.py and budget_ballots.py: phases, projects and their
review, eligibility, ballots (one per person, changed until the phase ends), results published, and
erasure."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from node.db import create_engine, session_factory, transaction
from node.errors import CivicError, Conflict, Forbidden, InvalidInput, NotFound
from node.models import (
    Ballot,
    BallotProject,
    Budget,
    BudgetProject,
    BudgetProjectSupport,
    OutboxEvent,
    User,
    utcnow,
)
from node.services import budget_ballots, budget_projects, budgets, erasure, membership, spaces
from node.uris import Uris
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
        assert await budget_ballots.may_vote(s, budget, town.fediverse) == budget_ballots.FEDIVERSE_BALLOT
        with pytest.raises(Forbidden, match="fediverse accounts cannot cast ballots"):
            await budget_ballots.cast(s, budget, town.fediverse, [town.projects[0].id])
        assert await budget_ballots.ballot_of(s, budget, town.fediverse) == (None, set())
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Ballot)) == 0
    async with transaction(sessions) as s:
        project = await s.get(BudgetProject, town.projects[0].id)
        assert await budget_projects.support(s, None, project, town.fediverse, "https://people.example/likes/1")
        assert project.support_count == 1


async def test_ballot__one_per_person_and_changed_until_the_phase_ends(sessions, town):
    """A second ballot replaces the first (counts follow); after voting_ends_at it is refused."""
    p = [project.id for project in town.projects]
    async with transaction(sessions) as s:
        budget = await s.get(Budget, town.budget.id)
        await budget_ballots.cast(s, budget, town.residents[0], [p[0], p[1]])
    async with transaction(sessions) as s:
        budget = await s.get(Budget, town.budget.id)
        await budget_ballots.cast(s, budget, town.residents[0], [p[1], p[2]])
        ballot, chosen = await budget_ballots.ballot_of(s, budget, town.residents[0])
        assert chosen == {p[1], p[2]} and ballot.total == 45_000 and ballot.updated_at is not None
        kept, counted, ballots = await recount(s, budget.id)
        assert kept == counted == {p[0]: 0, p[1]: 1, p[2]: 1, p[3]: 0} and ballots == 1
        budget.voting_ends_at = utcnow() + timedelta(minutes=5)
    async with transaction(sessions) as s:
        budget = await s.get(Budget, town.budget.id)
        later = utcnow() + timedelta(minutes=6)
        assert await budget_ballots.may_vote(s, budget, town.residents[0], now=later) == budget_ballots.BALLOT_CLOSED
        with pytest.raises(Conflict):
            await budget_ballots.cast(s, budget, town.residents[0], [p[0]], now=later)


async def test_ballot__withdrawn_while_voting_is_open(sessions, town):
    """A ballot taken back takes its votes back; none to take back answers False."""
    p = [project.id for project in town.projects]
    async with transaction(sessions) as s:
        budget = await s.get(Budget, town.budget.id)
        await budget_ballots.cast(s, budget, town.residents[0], [p[0], p[1]])
        assert await budget_ballots.withdraw_ballot(s, budget, town.residents[0])
        assert not await budget_ballots.withdraw_ballot(s, budget, town.residents[0])
        kept, counted, ballots = await recount(s, budget.id)
        assert kept == counted == dict.fromkeys(p, 0) and ballots == 0


async def test_ballot__open_to_any_local_account_without_verified_only(sessions, uris):
    """Without ``verified_only``, any local account may vote (a fediverse account still not);
    a members-only budget still needs a member."""
    async with transaction(sessions) as s:
        town = await make_town(s, uris)
        budget = await voting_budget(s, uris, town, [10], verified_only=False)
        assert await budget_ballots.may_vote(s, budget, town.stranger) is None
        assert await budget_ballots.may_vote(s, budget, town.fediverse) == budget_ballots.FEDIVERSE_BALLOT
        assert await budget_ballots.may_vote(s, budget, None) == "sign in to vote"
        budget.visibility = "members"
        assert "only members" in await budget_ballots.may_vote(s, budget, town.stranger)
        assert await budget_ballots.may_vote(s, budget, town.residents[0]) is None


async def test_ballot__only_verified_members_when_verified_only(sessions, town):
    """A local account that is not a verified member is refused; once admitted, it may vote."""
    async with transaction(sessions) as s:
        budget = await s.get(Budget, town.budget.id)
        stranger = await s.get(User, town.stranger.id)
        assert "verified members" in await budget_ballots.may_vote(s, budget, stranger)
        with pytest.raises(Forbidden):
            await budget_ballots.cast(s, budget, stranger, [town.projects[0].id])
        await membership.admit(s, town.org, stranger, town.admin)
        assert await budget_ballots.may_vote(s, budget, stranger) is None
        await budget_ballots.cast(s, budget, stranger.actor, [town.projects[0].id])  # by its local actor too
        assert (await budget_ballots.ballot_of(s, budget, stranger))[1] == {town.projects[0].id}


async def test_ballot__the_rule_is_checked_server_side(sessions, town):
    """Over the budget, or a project that is not on the ballot, is refused and nothing is stored."""
    async with transaction(sessions) as s:
        budget = await s.get(Budget, town.budget.id)
        with pytest.raises(InvalidInput, match="more than the 50000"):
            await budget_ballots.cast(s, budget, town.residents[0], [p.id for p in town.projects])
        with pytest.raises(InvalidInput, match="not on this ballot"):
            await budget_ballots.cast(s, budget, town.residents[0], [10**6])
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
            await budget_ballots.cast(s, budget, user, chosen)
    async with transaction(sessions) as s:
        budget = await s.get(Budget, town.budget.id)
        with pytest.raises(Forbidden):
            await budget_ballots.publish_results(s, uris, budget, by=town.residents[0])
        results = await budget_ballots.publish_results(s, uris, budget, by=town.admin)
        assert results["winners"] == [p[0], p[3]] and results["spent"] == 40_000
        assert budget.phase == "results" and budget.results_ap_id == f"{budget.ap_id}/results"
        assert await _events(s, budget_ballots.RESULTS_PUBLISHED) == [{"budget_id": budget.id}]
        with pytest.raises(Conflict):
            await budget_ballots.publish_results(s, uris, budget, by=town.admin)
        with pytest.raises(Conflict, match=budget_ballots.BALLOT_CLOSED):  # the vote is over
            await budget_ballots.cast(s, budget, town.residents[0], [p[1]])
    async with sessions() as s:
        states = dict((await s.execute(select(BudgetProject.id, BudgetProject.state))).all())
        assert states == {p[0]: "selected", p[1]: "not_selected", p[2]: "not_selected", p[3]: "selected"}


async def test_erasure__an_erased_accounts_ballot_stays_counted_unlinked(sessions, town):
    """Erasing a voter's account keeps their ballot (user_id NULL) and the counts equal the rows."""
    p = [project.id for project in town.projects]
    async with transaction(sessions) as s:
        budget = await s.get(Budget, town.budget.id)
        await budget_ballots.cast(s, budget, town.residents[0], [p[0], p[1]])
        await budget_ballots.cast(s, budget, town.residents[1], [p[1]])
    async with transaction(sessions) as s:
        await erasure.erase_account(s, await s.get(User, town.residents[0].id), by=None)
    async with sessions() as s:
        users = list(await s.scalars(select(Ballot.user_id).order_by(Ballot.id)))
        assert users == [None, town.residents[1].id]
        kept, counted, ballots = await recount(s, town.budget.id)
        assert kept == counted and kept[p[1]] == 2 and ballots == 2
        assert await s.scalar(select(func.count()).select_from(BallotProject)) == 3


async def test_erasure__projects_before_the_vote_and_comments_become_tombstones(sessions, uris):
    """An erased author's project of a budget still in its proposing phase is tombstoned (off the
    lists, a Delete queued); their project already on a ballot stays; their comments are cleared;
    their support of another project stays counted, by a nameless placeholder."""
    async with transaction(sessions) as s:
        town = await make_town(s, uris)
        voting = await voting_budget(s, uris, town, [10_000, 20_000])  # projects by r0 and r1
        proposing = await budgets.create(s, uris, town.org, "2027", {"de": "Budget 2027"}, 10_000)
        await budgets.set_phase(s, proposing, "proposing")
        author = town.residents[0].actor
        early = await budget_projects.propose(s, uris, proposing, author, "Ein Brunnen", "<p>Wasser</p>", cost=5_000)
        other = await s.get(BudgetProject, town.projects[1].id)
        note = await budget_projects.comment(s, uris, other, author, "<p>Gute Idee</p>")
        assert await budget_projects.support(s, uris, other, author)
    async with transaction(sessions) as s:
        erased = await erasure.erase_account(s, await s.get(User, town.residents[0].id), by=None)
    assert (early.ap_id, "Page") in erased.objects and (note.ap_id, "Note") in erased.objects
    async with sessions() as s:
        gone = await s.get(BudgetProject, early.id)
        assert gone.deleted_at is not None and gone.title == "" and gone.body == ""
        assert await budget_projects.projects(s, await s.get(Budget, proposing.id)) == []
        kept = await s.get(BudgetProject, town.projects[0].id)
        assert kept.deleted_at is None and kept.title == "Projekt 0"
        assert [p.id for p in await budgets.ballot_projects(s, await s.get(Budget, voting.id))] == [
            town.projects[0].id, town.projects[1].id]
        assert await budget_projects.comments(s, await s.get(BudgetProject, other.id)) == []
        assert (await s.get(BudgetProject, other.id)).support_count == 1
        rows = list(await s.scalars(select(BudgetProjectSupport).where(BudgetProjectSupport.project_id == other.id)))
        assert len(rows) == 1 and rows[0].actor_id != author.id
        assert [e["object_ap_id"] for e in await _events(s, erasure.OBJECT_ERASED)] == [early.ap_id, note.ap_id]


# -- phases, proposals, review, supports, progress -------------------------------------------------

async def test_phases__move_forward_only_and_voting_needs_a_feasible_project(sessions, uris):
    """Phases go forward (skipping allowed), never back; voting needs a feasible project; an
    end time only goes with the voting phase."""
    async with transaction(sessions) as s:
        town = await make_town(s, uris)
        budget = await budgets.create(s, uris, town.org, "b", {"fr": "Budget"}, 1_000)
        assert budget.phase == "informing"
        with pytest.raises(Conflict, match="no feasible project"):
            await budgets.set_phase(s, budget, "voting")
        with pytest.raises(InvalidInput, match="only the voting phase"):
            await budgets.set_phase(s, budget, "proposing", voting_ends_at=utcnow())
        await budgets.set_phase(s, budget, "reviewing")
        with pytest.raises(Conflict, match="cannot go back"):
            await budgets.set_phase(s, budget, "proposing")
        with pytest.raises(InvalidInput, match="the phase must be one of"):
            await budgets.set_phase(s, budget, "closed")
        with pytest.raises(Conflict, match="proposing phase only"):
            await budget_projects.propose(s, uris, budget, town.residents[0].actor, "Ein Park", "<p>…</p>", cost=10)


@pytest.mark.parametrize(("options", "reason"), [
    ({"amount": 0}, "the amount must be a whole number"),
    ({"amount": "100"}, "the amount must be a whole number"),
    ({"currency": "EURO"}, "three-letter code"),
    ({"rule": "ranked"}, "the ballot rule must be one of"),
    ({"result_method": "borda"}, "the result method must be one of"),
    ({"min_share": 101}, "between 0 and 100"),
    ({"min_projects": 3, "max_projects": 2}, "exceeds the maximum"),
    ({"visibility": "secret"}, "visibility must be one of"),
    ({"slug": "Not a slug!"}, "invalid slug"),
    ({"title": {}}, "title is required"),
    ({"title": 7}, "the title must be text"),
    ({"title": {"xx": "Budget"}}, "unsupported language"),
    ({"description": 12}, "the description must be text"),
    ({"description": {"fr": 12}}, "the description must be text"),
    ({"title": {"fr": ["Budget"]}}, "the title must be text"),
    ({"description": {"fr": "x" * 20_001}}, "description is limited"),
    ({"districts": [("nord", {"de": "Nord"}, 10), ("nord", {"de": "Nord"}, 10)]}, "named twice"),
    ({"districts": [("nord", {"de": "Nord"})]}, "a district is"),
    ({"districts": [("nord", {"de": "Nord"}, -1)]}, "a district's amount"),
])
async def test_create__refuses_bad_settings_with_a_reason(sessions, uris, options, reason):
    """Every setting is checked; a bad one is refused with what is wrong."""
    async with transaction(sessions) as s:
        town = await make_town(s, uris, residents=0)
        values = {"slug": "b", "title": {"fr": "Budget"}, "amount": 1_000, **options}
        with pytest.raises(InvalidInput, match=reason):
            await budgets.create(s, uris, town.org, values.pop("slug"), values.pop("title"), values.pop("amount"),
                                 **values)


async def test_create__a_slug_is_unique_in_its_organisation(sessions, uris):
    """Two budgets of one organisation cannot share a slug."""
    async with transaction(sessions) as s:
        town = await make_town(s, uris, residents=0)
        await budgets.create(s, uris, town.org, "b", {"fr": "Budget"}, 1_000)
        with pytest.raises(Conflict):
            await budgets.create(s, uris, town.org, "b", {"fr": "Autre"}, 1_000)


async def test_propose__local_and_fediverse_authors(sessions, uris):
    """A local author's project emits its event; a fediverse author's keeps its own id and emits
    none; the same id twice is refused; a members-only budget takes no fediverse project."""
    async with transaction(sessions) as s:
        town = await make_town(s, uris)
        budget = await budgets.create(s, uris, town.org, "b", {"fr": "Budget"}, 50_000)
        await budgets.set_phase(s, budget, "proposing")
        local = await budget_projects.propose(s, uris, budget, town.residents[0].actor, "Des bancs", "<p>…</p>", cost=5_000)
        remote = await budget_projects.propose(s, uris, budget, town.fediverse, "Des arbres", "<p>…</p>",
                                       ap_id="https://people.example/pages/1", language="fr")
        assert remote.ap_id == "https://people.example/pages/1" and remote.cost is None
        assert await _events(s, budget_projects.PROJECT_CREATED) == [{"project_id": local.id}]
        with pytest.raises(Conflict):
            await budget_projects.propose(s, uris, budget, town.fediverse, "Des arbres", "<p>…</p>",
                                  ap_id="https://people.example/pages/1")
        for title, body, cost, reason in (("ab", "<p>…</p>", None, "title"), ("Des bancs", " ", None, "description"),
                                          ("Des bancs", "<p>…</p>", 0, "the cost"),
                                          ("Des bancs", "<p>…</p>", True, "the cost")):
            with pytest.raises(InvalidInput, match=reason):
                await budget_projects.propose(s, uris, budget, town.residents[0].actor, title, body, cost=cost)
        closed = await budgets.create(s, uris, town.org, "m", {"fr": "Membres"}, 1_000, visibility="members")
        await budgets.set_phase(s, closed, "proposing")
        with pytest.raises(Forbidden):
            await budget_projects.propose(s, uris, closed, town.fediverse, "Des arbres", "<p>…</p>")


async def test_review__by_admins_with_a_reason_and_a_cost_within_the_budget(sessions, uris):
    """A review needs an admin or official, a reason, and for a feasible project a cost (the
    estimate or the author's) that fits the budget; the estimate is what the ballot then shows."""
    async with transaction(sessions) as s:
        town = await make_town(s, uris)
        budget = await budgets.create(s, uris, town.org, "b", {"fr": "Budget"}, 50_000)
        await budgets.set_phase(s, budget, "proposing")
        project = await budget_projects.propose(s, uris, budget, town.fediverse, "Des arbres", "<p>…</p>")
        with pytest.raises(Forbidden):
            await budget_projects.review(s, project, feasible=True, reason="ok", cost_estimate=10, by=town.residents[0])
        with pytest.raises(InvalidInput, match="needs a cost estimate"):
            await budget_projects.review(s, project, feasible=True, reason="ok", cost_estimate=None, by=town.admin)
        with pytest.raises(InvalidInput, match="the reason"):
            await budget_projects.review(s, project, feasible=False, reason="  ", cost_estimate=None, by=town.admin)
        with pytest.raises(InvalidInput, match="cannot fit in the 50000"):
            await budget_projects.review(s, project, feasible=True, reason="ok", cost_estimate=50_001, by=town.admin)
        await budget_projects.review(s, project, feasible=True, reason="Faisable", cost_estimate=50_000, by=town.admin)
        assert (project.feasibility, project.review_reason, budgets.cost_of(project)) == ("feasible", "Faisable", 50_000)
        assert project.reviewed_by_id == town.admin.id and project.reviewed_at is not None
        await budget_projects.review(s, project, feasible=False, reason="Terrain privé", cost_estimate=None, by=town.admin)
        assert project.feasibility == "unfeasible" and await budgets.ballot_projects(s, budget) == []
        await budgets.set_phase(s, budget, "results")
        with pytest.raises(Conflict):
            await budget_projects.review(s, project, feasible=True, reason="ok", cost_estimate=10, by=town.admin)


async def test_support__once_per_actor_never_by_the_author(sessions, uris, town):
    """Supports count once per actor (local or fediverse), the author is refused, a withdrawn
    support takes the count back."""
    async with transaction(sessions) as s:
        project = await s.get(BudgetProject, town.projects[0].id)  # by r0
        with pytest.raises(Conflict, match=budget_projects.SELF_SUPPORT):
            await budget_projects.support(s, None, project, town.residents[0].actor)
        assert await budget_projects.support(s, None, project, town.residents[1].actor, "https://x.example/likes/1")
        assert not await budget_projects.support(s, None, project, town.residents[1].actor, "https://x.example/likes/2")
        assert await budget_projects.support(s, None, project, town.fediverse, "https://people.example/likes/9")
        assert project.support_count == 2
        assert await budget_projects.withdraw_support(s, town.fediverse, like_ap_id="https://people.example/likes/9")
        await s.refresh(project)
        assert project.support_count == 1
        assert await budget_projects.supported_by(s, town.residents[1].actor, [project.id]) == {project.id}


async def test_progress__selected_projects_in_the_implementation_phase(sessions, uris, town):
    """Progress is reported on a selected project in the implementation phase, as a percentage."""
    p = [project.id for project in town.projects]
    async with transaction(sessions) as s:
        budget = await s.get(Budget, town.budget.id)
        await budget_ballots.cast(s, budget, town.residents[0], [p[0]])
        project = await s.get(BudgetProject, p[0])
        with pytest.raises(Conflict):
            await budget_projects.set_progress(s, project, 10, "")
        await budget_ballots.publish_results(s, uris, budget, by=town.admin)
        await budgets.set_phase(s, budget, "implementation")
        for bad in (101, -1, "50", True):
            with pytest.raises(InvalidInput):
                await budget_projects.set_progress(s, project, bad, "")
        await budget_projects.set_progress(s, project, 40, "Les travaux ont commencé")
        assert (project.progress, project.progress_note) == (40, "Les travaux ont commencé")
        assert {"project_id": project.id} in await _events(s, budget_projects.PROJECT_UPDATED)
        with pytest.raises(Conflict):
            await budget_projects.set_progress(s, await s.get(BudgetProject, p[1]), 10, "")


async def test_withdraw__a_project_leaves_the_ballot_before_the_vote_only(sessions, uris):
    """Only its author withdraws a project; a withdrawn project is off the lists and not reviewed."""
    async with transaction(sessions) as s:
        town = await make_town(s, uris)
        budget = await budgets.create(s, uris, town.org, "b", {"fr": "Budget"}, 50_000)
        await budgets.set_phase(s, budget, "proposing")
        project = await budget_projects.propose(s, uris, budget, town.residents[0].actor, "Des bancs", "<p>…</p>", cost=10)
        with pytest.raises(Forbidden):
            await budget_projects.withdraw_project(s, project, by=town.residents[1].actor)
        await budget_projects.withdraw_project(s, project, by=town.residents[0].actor)
        assert project.state == "withdrawn" and await budget_projects.projects(s, budget) == []
        with pytest.raises(Conflict):
            await budget_projects.review(s, project, feasible=True, reason="ok", cost_estimate=None, by=town.admin)


# -- the state machine: whatever happens, the kept counts equal a recount -------------------------------------------

def test_stateful__votes_and_ballots_always_equal_a_recount(database_url):
    """Random sequences of ballots (valid or not, by verified residents, a stranger and a
    fediverse account), replacements, withdrawals, supports and account erasures: each
    project's votes_count equals its ballot rows, each person's ballot holds what they last
    chose, an erased voter's ballot stays counted, and support counts equal their rows."""
    loop = asyncio.new_event_loop()
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    uris = Uris("http://127.0.0.1:18080")
    runs = {"n": 0}

    class Ballots(RuleBasedStateMachine):
        def run(self, coroutine):
            return loop.run_until_complete(coroutine)

        @initialize()
        def scene(self):
            runs["n"] += 1

            async def make():
                async with transaction(sessions) as s:
                    town = await make_town(s, uris, residents=4, prefix=f"s{runs['n']}")
                    await voting_budget(s, uris, town, [10, 20, 30, 40, 50], amount=70)
                    return town

            self.town = self.run(make())
            self.voters = [*self.town.residents, self.town.stranger, self.town.fediverse]
            self.ids = [p.id for p in self.town.projects]
            self.costs = dict(zip(self.ids, [10, 20, 30, 40, 50], strict=True))
            self.ballots: dict[int, set[int]] = {}  # user id → chosen
            self.orphans: list[set[int]] = []  # ballots of erased accounts
            self.supports: dict[int, set[int]] = {p: set() for p in self.ids}
            self.erased: set[int] = set()
            self.likes = 0

        def _voter(self, who: int):
            voter = self.voters[who % len(self.voters)]
            return None if getattr(voter, "id", None) in self.erased else voter

        @rule(who=st.integers(0, 5), picks=st.lists(st.integers(0, 5), max_size=4))
        def cast(self, who, picks):
            voter = self._voter(who)
            if voter is None:
                return
            chosen = [self.ids[n] if n < len(self.ids) else 10**6 for n in picks]

            async def go():
                async with transaction(sessions) as s:
                    budget = await s.get(Budget, self.town.budget.id)
                    subject = await s.get(User, voter.id) if isinstance(voter, User) else voter
                    await budget_ballots.cast(s, budget, subject, chosen)

            valid = (isinstance(voter, User) and voter is not self.town.stranger and chosen
                     and len(set(chosen)) == len(chosen) and all(p in self.costs for p in chosen)
                     and sum(self.costs[p] for p in chosen) <= 70)
            try:
                self.run(go())
            except CivicError as refusal:
                assert not valid, refusal.reason
            else:
                assert valid
                self.ballots[voter.id] = set(chosen)

        @rule(who=st.integers(0, 3))
        def withdraw(self, who):
            voter = self._voter(who)
            if voter is None:
                return

            async def go():
                async with transaction(sessions) as s:
                    return await budget_ballots.withdraw_ballot(s, await s.get(Budget, self.town.budget.id),
                                                         await s.get(User, voter.id))

            assert self.run(go()) == (voter.id in self.ballots)
            self.ballots.pop(voter.id, None)

        @rule(who=st.integers(0, 5), pick=st.integers(0, 4))
        def support(self, who, pick):
            voter = self._voter(who)
            if voter is None:
                return
            actor = voter.actor if isinstance(voter, User) else voter
            project = self.ids[pick]
            author = self.town.residents[pick % len(self.town.residents)].actor_id
            self.likes += 1

            async def go():
                async with transaction(sessions) as s:
                    like = None if actor.local else f"https://people.example/likes/{runs['n']}/{self.likes}"
                    return await budget_projects.support(s, uris, await s.get(BudgetProject, project), actor, like)

            if actor.id == author:
                with pytest.raises(Conflict):
                    self.run(go())
                return
            assert self.run(go()) == (actor.id not in self.supports[project])
            self.supports[project].add(actor.id)

        @rule(who=st.integers(0, 3))
        def erase(self, who):
            voter = self._voter(who)
            if voter is None or len(self.erased) >= 2:
                return

            async def go():
                async with transaction(sessions) as s:
                    await erasure.erase_account(s, await s.get(User, voter.id), by=None)

            self.run(go())
            self.erased.add(voter.id)
            if voter.id in self.ballots:
                self.orphans.append(self.ballots.pop(voter.id))
            for supporters in self.supports.values():
                if voter.actor_id in supporters:  # stays counted, by a placeholder
                    supporters.discard(voter.actor_id)
                    supporters.add(-voter.actor_id)

        @invariant()
        def counts_equal_their_recount(self):
            if not hasattr(self, "town"):
                return

            async def go():
                async with sessions() as s:
                    kept, counted, n = await recount(s, self.town.budget.id)
                    stored = await budget_ballots.ballots(s, await s.get(Budget, self.town.budget.id))
                    owners = dict((await s.execute(select(Ballot.id, Ballot.user_id)
                                                   .where(Ballot.budget_id == self.town.budget.id))).all())
                    supports = {p: (await s.get(BudgetProject, p)).support_count for p in self.ids}
                    rows = dict((await s.execute(select(BudgetProjectSupport.project_id, func.count())
                                                 .group_by(BudgetProjectSupport.project_id))).all())
                    return kept, counted, n, stored, owners, supports, rows

            kept, counted, n, stored, owners, supports, rows = self.run(go())
            assert kept == counted
            assert n == len(self.ballots) + len(self.orphans)
            mine = {owners[b]: chosen for b, (_, chosen) in stored.items() if owners[b] is not None}
            assert mine == self.ballots
            assert sorted(map(sorted, (c for b, (_, c) in stored.items() if owners[b] is None))) == sorted(
                map(sorted, self.orphans))
            assert supports == {p: len(a) for p, a in self.supports.items()}
            assert {p: rows.get(p, 0) for p in self.ids} == supports

    Ballots.TestCase.settings = settings(max_examples=10, stateful_step_count=25, deadline=None, database=None,
                                         derandomize=True, suppress_health_check=list(HealthCheck))
    try:
        run_state_machine_as_test(Ballots, settings=Ballots.TestCase.settings)
    finally:
        loop.run_until_complete(engine.dispose())
        loop.close()


# -- hostile input: what a form, a CLI argument or an inbound Page may carry ----------------------------------------

ANY = st.one_of(st.none(), st.booleans(), st.integers(-10, 2**40), st.text(max_size=12), st.floats(allow_nan=True),
                st.lists(st.text(max_size=3), max_size=2), st.dictionaries(st.sampled_from(["fr", "de", "xx"]),
                                                                           st.one_of(st.text(max_size=5), st.none(),
                                                                                     st.integers()),
                                                                           max_size=2))
FUZZ = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(slug=ANY, title=ANY, amount=ANY, currency=ANY, rule=ANY, share=ANY, low=ANY, high=ANY, method=ANY,
       level=ANY, districts=st.one_of(st.just(()), st.lists(st.tuples(ANY, ANY, ANY), max_size=2),
                                      st.lists(ANY, max_size=2)))
async def test_fuzz__create_refuses_or_stores_a_valid_budget(sessions, uris, town, slug, title, amount, currency,
                                                             rule, share, low, high, method, level, districts):
    """Any settings: a budget is stored with valid values, or InvalidInput/Conflict says why."""
    async with transaction(sessions) as s:
        try:
            budget = await budgets.create(s, uris, town.org, slug, title, amount, currency=currency, rule=rule,
                                          min_share=share, min_projects=low, max_projects=high, result_method=method,
                                          districts=districts, visibility=level)
        except CivicError as refusal:
            assert refusal.status < 500 and refusal.reason
            return
        assert budget.amount >= 1 and len(budget.currency) == 3 and budget.title


EXAMPLES: list[int] = []


@FUZZ
@given(title=ANY, body=ANY, cost=ANY, district=ANY, language=ANY, content=ANY, feasible=st.booleans(),
       reason=ANY, estimate=ANY, percent=ANY)
async def test_fuzz__projects_reviews_and_comments_refuse_with_a_reason(sessions, uris, town, title, body, cost,
                                                                        district, language, content, feasible,
                                                                        reason, estimate, percent):
    """A project proposed, reviewed and commented with any values (by a fediverse author, as an
    inbound Page would): stored valid, or refused with a 4xx reason — never another exception."""
    EXAMPLES.append(1)
    async with transaction(sessions) as s:
        budget = await budgets.create(s, uris, town.org, f"f{len(EXAMPLES)}", {"fr": "Budget"}, 1_000)
        await budgets.set_phase(s, budget, "proposing")
        try:
            project = await budget_projects.propose(s, uris, budget, town.fediverse, title, body, cost=cost, district=district,
                                            language=language, ap_id=f"https://people.example/pages/{len(EXAMPLES)}")
        except CivicError as refusal:
            assert refusal.status < 500 and refusal.reason
            return
        for step in (lambda: budget_projects.review(s, project, feasible=feasible, reason=reason, cost_estimate=estimate,
                                            by=town.admin),
                     lambda: budget_projects.comment(s, uris, project, town.fediverse, content),
                     lambda: budget_projects.set_progress(s, project, percent, reason)):
            try:
                await step()
            except CivicError as refusal:
                assert refusal.status < 500 and refusal.reason


async def test_lookups__by_id_slug_and_levels(sessions, uris, town):
    """A budget is found by its id and slug; an organisation's list keeps to the reader's levels."""
    async with transaction(sessions) as s:
        hidden = await budgets.create(s, uris, town.org, "intern", {"de": "Intern"}, 1_000, visibility="members")
        assert (await budgets.require(s, town.budget.ap_id)).id == town.budget.id
        assert (await budgets.by_slug(s, town.org, "intern")).id == hidden.id
        with pytest.raises(NotFound):
            await budgets.by_slug(s, town.org, "nope")
        with pytest.raises(NotFound):
            await budgets.require(s, "http://127.0.0.1:18080/budgets/nope")
        assert [b.slug for b in await budgets.of_organisation(s, town.org)] == ["intern", "2026"]
        assert [b.slug for b in await budgets.of_organisation(s, town.org, levels=("public", "unlisted"))] == ["2026"]


async def test_level__a_budget_in_a_members_space_is_members_for_every_path(sessions, uris):
    """A public budget in a members-only space is at the members level (budgets.level, the one place
    that pages, AS2, deliveries and inbound ask): a fediverse account may not propose or comment
    there, and only members of the organisation may cast a ballot, verified or not."""
    async with transaction(sessions) as s:
        town = await make_town(s, uris, residents=1)
        space = await spaces.create_space(s, town.org, "quartier", "Quartier", visibility="members")
        budget = await budgets.create(s, uris, town.org, "bb", {"de": "Bürgerbudget"}, 50_000,
                                      space=space, verified_only=False, visibility="public")
        assert await budgets.level(s, budget) == "members"
        await budgets.set_phase(s, budget, "proposing")
        with pytest.raises(Forbidden, match="not open to the fediverse"):
            await budget_projects.propose(s, uris, budget, town.fediverse, "Ein Projekt", "<p>…</p>", cost=10,
                                  ap_id="https://people.example/pages/1")
        project = await budget_projects.propose(s, uris, budget, town.residents[0].actor, "Ein Projekt", "<p>…</p>",
                                        cost=10)
        with pytest.raises(Forbidden, match="not open to the fediverse"):
            await budget_projects.comment(s, uris, project, town.fediverse, "<p>Gut</p>",
                                  ap_id="https://people.example/notes/1")
        await budget_projects.review(s, project, feasible=True, reason="machbar", cost_estimate=None, by=town.admin)
        await budgets.set_phase(s, budget, "voting")
        assert await budget_ballots.may_vote(s, budget, town.stranger) == "only members of the organisation can vote"
        assert await budget_ballots.may_vote(s, budget, town.residents[0]) is None
