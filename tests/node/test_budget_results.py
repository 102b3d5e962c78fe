"""node/services/budget_results.py: greedy (table-driven) and the Method of Equal Shares, checked
against worked examples from the literature, a hand-computed example, pabutools (an independent
implementation) and real Pabulib instances; budget_ballots.compute_results per district."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

try:  # pabutools (an independent implementation of MES) is optional: see the lead's report
    from pabutools.election import (
        ApprovalBallot,
        ApprovalProfile,
        Cardinality_Sat,
        Cost_Sat,
        Instance,
        Project,
        parse_pabulib,
    )
    from pabutools.rules import method_of_equal_shares
    from pabutools.tiebreaking import TieBreakingRule
except ImportError:  # pragma: no cover
    method_of_equal_shares = None

from node.db import transaction
from node.models import Budget
from node.services import budget_ballots, budget_results, budgets, pabulib
from tests.node.budget_scene import make_town, voting_budget

FIXTURES = Path(__file__).parent.parent / "fixtures" / "pabulib"

# -- greedy ----------------------------------------------------------------------------------------

GREEDY = [
    # (name, limit, costs, votes, the winners in the order funded)
    ("nothing to fund", 100, {}, {}, []),
    ("everything fits, by votes", 100, {1: 30, 2: 30, 3: 30}, {1: 1, 2: 3, 3: 2}, [2, 3, 1]),
    ("exactly the budget", 100, {1: 60, 2: 40}, {1: 5, 2: 4}, [1, 2]),
    ("one unit over: the second is skipped", 99, {1: 60, 2: 40}, {1: 5, 2: 4}, [1]),
    ("a skipped project lets a cheaper one in", 100, {1: 70, 2: 40, 3: 30}, {1: 9, 2: 8, 3: 1}, [1, 3]),
    ("a project dearer than the budget is skipped", 100, {1: 150, 2: 50}, {1: 9, 2: 1}, [2]),
    ("equal votes: the cheaper first", 100, {1: 60, 2: 50}, {1: 4, 2: 4}, [2]),
    ("equal votes and cost: the first proposed", 100, {2: 60, 1: 60}, {1: 4, 2: 4}, [1]),
    ("no vote, no funding, even if it fits", 100, {1: 10, 2: 10}, {1: 3}, [1]),
    ("no ballot at all", 100, {1: 10}, {1: 0}, []),
    ("Künzelsau-like", 50_000, {1: 12_000, 2: 25_000, 3: 8_000, 4: 9_000, 5: 30_000},
     {1: 210, 2: 190, 3: 150, 4: 150, 5: 260}, [5, 1, 3]),
]


@pytest.mark.parametrize(("name", "limit", "costs", "votes", "expected"), GREEDY, ids=[g[0] for g in GREEDY])
def test_greedy__table(name, limit, costs, votes, expected):
    """Most votes first, skipping what no longer fits; ties to the cheaper, then the lower id."""
    assert budget_results.greedy(limit, costs, votes) == expected


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(limit=st.integers(0, 300), costs=st.dictionaries(st.integers(1, 30), st.integers(1, 120), max_size=10),
       votes=st.dictionaries(st.integers(1, 30), st.integers(0, 9), max_size=10))
def test_greedy__never_over_budget_and_never_leaves_a_voted_project_that_fits(limit, costs, votes):
    """Greedy spends at most the budget, funds only voted projects, and leaves out none that
    would still fit in what is left and has a vote."""
    winners = budget_results.greedy(limit, costs, votes)
    spent = sum(costs[p] for p in winners)
    assert spent <= limit and len(set(winners)) == len(winners)
    assert all(votes.get(p, 0) > 0 for p in winners)
    assert not [p for p in costs if p not in winners and votes.get(p, 0) > 0 and costs[p] <= limit - spent]


# -- the Method of Equal Shares: worked examples ----------------------------------------------------

def test_mes__the_books_example_selects_a_alone_in_its_first_phase():
    """Lackner & Skowron, "Multi-Winner Voting with Approval Preferences" (Springer 2023),
    Example 1, under the Method of Equal Shares (the book's Example 11; abcvoting's expected
    output): 12 voters — 3×{a,b}, 3×{a,c}, 2×{a,d}, {b,c,f}, {e}, {f}, {g} — and 8 candidates of
    cost 1 for 4 seats (budget 4: each voter holds 1/3).

    By hand: a has 8 approvers holding 8/3 ≥ 1; each pays 1/8 (rho 1/8, the least), leaving them
    5/24. Then b's approvers hold 3·5/24 + 1/3 = 23/24 < 1: not affordable; c likewise (23/24);
    d: 2·5/24 < 1; e, g: 1/3 < 1; f: 2/3 < 1. So MES selects {a} alone — the book's "Phase 1:
    adding candidate a with q = 1/8", before its Phragmén completion. add1 cannot help here: the
    first raised budget (1 per voter, 12) buys seven candidates, more than 4."""
    book = [{"a", "b"}] * 3 + [{"a", "c"}] * 3 + [{"a", "d"}] * 2 + [{"b", "c", "f"}, {"e"}, {"f"}, {"g"}]
    costs = {c: 1 for c in "abcdefgh"}
    assert budget_results.equal_shares(4, costs, book, completion=None) == ["a"]
    assert budget_results.equal_shares(4, costs, book) == ["a"]


def test_mes__51_against_49_is_shared_five_and_five():
    """Peters & Skowron's motivating example (equalshares.net; "Proportionality and the Limits of
    Welfarism", EC 2020): 51 voters approve 10 red projects, 49 voters 10 blue ones, each costing
    100, budget 1000. Greedy funds the 10 red projects (51 votes each beat 49).

    MES by hand: each voter holds 10; the reds hold 510, enough for 5 red projects (500) and not
    6; the blues 490, enough for 4 (400). Fixed-budget MES: 5 red + 4 blue = 900. add1: 900
    leaves 100 and a project costs 100, so not exhaustive; with 11 per voter (1100) the reds hold
    561 (5 projects) and the blues 539 (5 projects): 1000 ≤ 1000, exhaustive: 5 red + 5 blue."""
    red, blue = [f"r{n}" for n in range(10)], [f"b{n}" for n in range(10)]
    costs = {p: 100 for p in red + blue}
    ballots = [set(red)] * 51 + [set(blue)] * 49
    votes = {p: 51 if p in red else 49 for p in costs}
    assert budget_results.greedy(1000, costs, votes) == red
    fixed = budget_results.equal_shares(1000, costs, ballots, completion=None)
    assert sorted(fixed) == sorted(red[:5] + blue[:4])
    completed = budget_results.equal_shares(1000, costs, ballots)
    assert sorted(completed) == sorted(red[:5] + blue[:5])


# A budget of 100 and four voters: A (60) by v1 v2 v3, B (40) by v1 v2, C (24) by v4, D (20) by v3 v4.
HAND_COSTS = {"A": 60, "B": 40, "C": 24, "D": 20}
HAND_BALLOTS = [{"A", "B"}, {"A", "B"}, {"A", "D"}, {"C", "D"}]


def test_mes__hand_computed_example_with_approval_utilities_and_add1():
    """Approval utilities, each voter holding 25. Round 1: D costs its two approvers 10 each
    (rho 10), B 20 each, A 20 each (3 approvers), C 24 to v4 alone — D is the cheapest per
    voter: v3 and v4 keep 15. Round 2: A would take v3's 15
    and 22.5 from v1 and v2 (rho 22.5); B 20 each (rho 20); C: v4's 15 < 24 — B: v1, v2 keep 5.
    Round 3: A's approvers hold 5 + 5 + 15 = 25 < 60; C 15 < 24: done, [D, B], 60 spent.

    add1: 40 left and C (24) fits, so not exhaustive. Per voter 26 … 33 (artificial budgets 104 …
    132) give the same [D, B] (v4 keeps b − 10 < 24). At 34: v4 keeps 24 after D, so C follows B:
    [D, B, C] = 84; 16 left, A (60) does not fit: exhaustive, the result. Greedy instead funds A
    (3 votes) then D (2 votes, cheaper than B): [A, D]."""
    assert budget_results.equal_shares(100, HAND_COSTS, HAND_BALLOTS, completion=None) == ["D", "B"]
    assert budget_results.equal_shares(100, HAND_COSTS, HAND_BALLOTS) == ["D", "B", "C"]
    votes = {p: sum(p in b for b in HAND_BALLOTS) for p in HAND_COSTS}
    assert budget_results.greedy(100, HAND_COSTS, votes) == ["A", "D"]


def test_mes__hand_computed_example_with_cost_utilities():
    """Cost utilities (rho per unit of cost), each voter holding 25. Round 1: A costs its three
    approvers 20 each, 20/60 = 1/3 per unit; B 20/40 = 1/2; D 10/20 = 1/2; C 24/24 = 1: A, and v1,
    v2, v3 keep 5. Round 2: D: v3 pays its 5, v4 the other 15: 15/20 = 3/4; B: 5 + 5 < 40; C: v4
    24/24 = 1 — D, v4 keeps 10. Round 3: C 10 < 24, B 10 < 40: [A, D] = 80, and with 20 left
    neither B (40) nor C (24) fits: exhaustive, add1 changes nothing."""
    assert budget_results.equal_shares(100, HAND_COSTS, HAND_BALLOTS, utilities="cost", completion=None) == ["A", "D"]
    assert budget_results.equal_shares(100, HAND_COSTS, HAND_BALLOTS, utilities="cost") == ["A", "D"]


@pytest.mark.parametrize(("limit", "costs", "ballots", "expected"), [
    (100, {1: 10}, [], []),  # no voter
    (0, {1: 10}, [{1}], []),  # no money
    (100, {1: 10, 2: 10}, [set(), set()], []),  # empty ballots
    (100, {1: 100}, [{1}], [1]),  # one voter affords exactly the budget
    (99, {1: 100}, [{1}], []),  # one unit short
    (100, {1: 50, 2: 50}, [{1, 2}], [1, 2]),  # tie: same cost, same approvals, lower id first
    (100, {1: 10}, [[1, 1, 99]], [1]),  # duplicates and unknown ids in a ballot are ignored
])
def test_mes__edges(limit, costs, ballots, expected):
    """Degenerate elections give the obvious outcome, never an error."""
    for utilities in budget_results.UTILITIES:
        assert budget_results.equal_shares(limit, costs, ballots, utilities=utilities) == expected


def test_mes__refuses_unknown_options():
    with pytest.raises(ValueError):
        budget_results.equal_shares(10, {1: 1}, [{1}], utilities="ranked")
    with pytest.raises(ValueError):
        budget_results.equal_shares(10, {1: 1}, [{1}], completion="greedy")


# -- against pabutools, an independent implementation ----------------------------------------------

ELECTIONS = st.integers(1, 7).flatmap(lambda voters: st.tuples(
    st.integers(1, 15).map(lambda per_voter: per_voter * voters),  # a whole amount per voter (see below)
    st.dictionaries(st.integers(1, 7), st.integers(1, 50), min_size=1, max_size=7),
    st.lists(st.sets(st.integers(1, 7)), min_size=voters, max_size=voters)))


NO_PABUTOOLS = pytest.mark.skipif(method_of_equal_shares is None, reason="pabutools is not installed")


@NO_PABUTOOLS
@settings(max_examples=150, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(election=ELECTIONS, utilities=st.sampled_from(budget_results.UTILITIES),
       completion=st.sampled_from(budget_results.COMPLETIONS))
def test_mes__equals_pabutools(election, utilities, completion):
    """pabutools' method_of_equal_shares (exact fractions; its own loop) gives our outcome, with
    its tie-breaking set to ours. The budget is a multiple of the number of voters: pabutools'
    add1 raises B/n by one, ours (equalshares.net's, Pabulib's) floor(B/n) — the same grid then."""
    limit, costs, ballots = election
    ballots = [{p for p in b if p in costs} for b in ballots]
    projects = {p: Project(str(p), cost) for p, cost in costs.items()}
    instance = Instance(init=projects.values(), budget_limit=limit)
    profile = ApprovalProfile(init=[ApprovalBallot([projects[p] for p in b]) for b in ballots], instance=instance)
    votes = {p: sum(p in b for b in ballots) for p in costs}
    ours_first = TieBreakingRule(lambda _i, _p, project: (project.cost, -votes[int(project.name)],
                                                          int(project.name)))
    theirs = method_of_equal_shares(instance, profile, sat_class=Cost_Sat if utilities == "cost" else Cardinality_Sat,
                                    tie_breaking=ours_first, voter_budget_increment=1 if completion else None)
    ours = budget_results.equal_shares(limit, costs, ballots, utilities=utilities, completion=completion)
    assert sorted(ours) == sorted(int(p.name) for p in theirs)


# -- real elections (Pabulib) ----------------------------------------------------------------------

REAL = sorted(FIXTURES.glob("*.pb"))


@pytest.mark.skipif(not REAL, reason="no real Pabulib instance in tests/fixtures/pabulib (see its README)")
@pytest.mark.parametrize("path", REAL, ids=[p.stem for p in REAL])
def test_mes__real_elections_give_their_published_outcome(path):
    """Assen 2024 and Świecie 2023 chose their projects with MES (cost utilities, add1 —
    ``rule;equalshares/add1``): our outcome is the one they published (``selected``)."""
    instance = pabulib.read(path.read_text(encoding="utf-8"))
    assert instance.meta["rule"] == "equalshares/add1" and instance.selected
    outcome = budget_results.equal_shares(instance.budget, instance.costs, instance.approvals, utilities="cost")
    assert set(outcome) == instance.selected


@NO_PABUTOOLS
@pytest.mark.skipif(not REAL, reason="no real Pabulib instance in tests/fixtures/pabulib (see its README)")
def test_mes__a_real_election_with_approval_utilities_equals_pabutools():
    """Assen 2024 under approval utilities (not the rule it used): pabutools agrees with us."""
    path = next(p for p in REAL if "Assen" in p.name)
    instance, profile = parse_pabulib(str(path))
    theirs = method_of_equal_shares(instance, profile, sat_class=Cardinality_Sat, voter_budget_increment=1)
    ours = pabulib.read(path.read_text(encoding="utf-8"))
    outcome = budget_results.equal_shares(ours.budget, ours.costs, ours.approvals)
    assert set(outcome) == {p.name for p in theirs} and set(outcome) != ours.selected


# -- budget_ballots.compute_results ---------------------------------------------------------------

async def test_compute_results__mes_per_district_from_the_ballots(sessions, uris):
    """With districts, each district's ballots elect within its own amount by MES (approval
    utilities, add1); the results list each project's cost and recounted votes.

    Nord (100; 3 ballots, 33.3 each): n0 (60) by v1 v2 — 30 each; n2 (24) by v3 — 24; n4 (30) by
    v1 — 30. n2 first (rho 24); then n0 and n4 tie at 30: the cheaper, n4, leaving v1 3.3; n0's
    approvers now hold 36.7 < 60. [n2, n4] = 54, and n0 (60) does not fit the 46 left: exhaustive.
    Süd (30; 2 ballots, 15 each): s1 (25) by v4, s3 (20) by v5 — neither affordable; add1 raises
    the shares until s3 is (20 each: 40 artificial): [s3] = 20, and s1 (25) does not fit the 10 left."""
    async with transaction(sessions) as s:
        town = await make_town(s, uris, residents=5)
        budget = await voting_budget(s, uris, town, [60, 25, 24, 20, 30], amount=130, result_method="mes",
                                     districts=[("nord", {"de": "Nord"}, 100), ("sued", {"de": "Süd"}, 30)])
        nord, sued = await budgets.districts(s, budget)
    n0, s1, n2, s3, n4 = (p.id for p in town.projects)
    assert [p.district_id for p in town.projects] == [nord.id, sued.id, nord.id, sued.id, nord.id]
    choices = [([n0, n4], nord), ([n0], nord), ([n2], nord), ([s1], sued), ([s3], sued)]
    async with transaction(sessions) as s:
        budget = await s.get(Budget, budget.id)
        for user, (chosen, place) in zip(town.residents, choices, strict=True):
            await budget_ballots.cast(s, budget, user, chosen, district_id=place.id)
    async with transaction(sessions) as s:
        results = await budget_ballots.compute_results(s, await s.get(Budget, budget.id))
    districts = {d["slug"]: d for d in results["districts"]}
    assert districts["nord"]["winners"] == [n2, n4] and districts["nord"]["ballots"] == 3
    assert districts["nord"]["spent"] == 54 and districts["nord"]["amount"] == 100
    assert districts["sued"]["winners"] == [s3] and districts["sued"]["ballots"] == 2
    assert results["winners"] == [n2, n4, s3] and results["spent"] == 74 and results["ballots"] == 5
    assert {p["id"]: (p["votes"], p["selected"]) for p in results["projects"]} == {
        n0: (2, False), n2: (1, True), n4: (1, True), s1: (1, False), s3: (1, True)}
    assert results["method"] == "mes" and results["utilities"] == "approval" and results["completion"] == "add1"


async def test_compute_results__greedy_counts_only_projects_still_on_the_ballot(sessions, uris):
    """A project withdrawn from the ballot after votes were cast is neither counted nor funded."""
    async with transaction(sessions) as s:
        town = await make_town(s, uris)
        budget = await voting_budget(s, uris, town, [30, 30, 30], amount=60)
        p0, p1, p2 = (p.id for p in town.projects)
        for user, chosen in zip(town.residents, [[p0, p1], [p0, p1], [p2]], strict=True):
            await budget_ballots.cast(s, budget, user, chosen)
        (await s.get(type(town.projects[0]), p0)).feasibility = "unfeasible"
    async with transaction(sessions) as s:
        results = await budget_ballots.compute_results(s, await s.get(Budget, budget.id))
    assert results["winners"] == [p1, p2] and results["districts"] == []
    assert [p["id"] for p in results["projects"]] == [p1, p2]
