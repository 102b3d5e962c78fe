"""node/services/budget_rules.py: every ballot rule, boundaries included (table-driven), and the
rule applied by budget_ballots.cast to districts and to projects no longer on the ballot."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.db import transaction
from node.errors import CivicError, InvalidInput
from node.models import Ballot, Budget, BudgetProject
from node.services import budget_ballots, budget_rules, budgets
from node.services.budget_rules import BallotRule
from tests.node.budget_scene import make_town, voting_budget

# Projects 1..6 on the ballot with these costs (of a 100 budget).
COSTS = {1: 40, 2: 30, 3: 20, 4: 10, 5: 60, 6: 49}
KNAPSACK = BallotRule("knapsack", 100)
SHARE = BallotRule("knapsack", 100, min_share=70)  # at least 70
SHARE_ODD = BallotRule("knapsack", 99, min_share=50)  # 49.5 → at least 50 (rounded up)
APPROVAL = BallotRule("approval", 100, min_projects=2, max_projects=3)
ONLY_MAX = BallotRule("approval", 100, max_projects=1)
ONLY_MIN = BallotRule("approval", 100, min_projects=3)
FREE = BallotRule("approval", 100)

CASES = [
    # (name, rule, chosen, the refusal's words or None when valid)
    ("knapsack: exactly the budget", KNAPSACK, [1, 2, 3, 4], None),
    ("knapsack: one unit over", BallotRule("knapsack", 99), [1, 2, 3, 4], "cost 100, more than the 99"),
    ("knapsack: over the budget", KNAPSACK, [1, 5, 4], "cost 110, more than the 100"),
    ("knapsack: a single project", KNAPSACK, [5], None),
    ("knapsack: every project is too much", KNAPSACK, [1, 2, 3, 4, 5, 6], "more than the 100"),
    ("knapsack: order does not matter", KNAPSACK, [4, 3, 2, 1], None),
    ("min share: exactly the share", SHARE, [1, 2], None),
    ("min share: one unit under", BallotRule("knapsack", 100, min_share=71), [1, 2], "cost 70; choose "
     "projects for at least 71"),
    ("min share: under", SHARE, [1, 3], "cost 60; choose projects for at least 70"),
    ("min share: 50 % of 99 is 50 (rounded up)", SHARE_ODD, [1, 4], None),
    ("min share: 49 is under 50 % of 99", SHARE_ODD, [6], "cost 49; choose projects for at least 50"),
    ("min share: 100 % needs the whole budget", BallotRule("knapsack", 100, min_share=100), [5, 1], None),
    ("min share: 100 %, under", BallotRule("knapsack", 100, min_share=100), [5, 2], "at least 100"),
    ("min share: zero is no minimum", BallotRule("knapsack", 100, min_share=0), [4], None),
    ("min share: the maximum still holds", SHARE, [5, 1, 4], "more than the 100"),
    ("approval: the minimum", APPROVAL, [1, 2], None),
    ("approval: one under the minimum", APPROVAL, [1], "at least 2 projects"),
    ("approval: the maximum", APPROVAL, [1, 2, 5], None),
    ("approval: one over the maximum", APPROVAL, [1, 2, 3, 4], "at most 3 projects"),
    ("approval: cost is no limit", FREE, [1, 2, 3, 4, 5, 6], None),
    ("approval: a maximum of one", ONLY_MAX, [5], None),
    ("approval: one over a maximum of one", ONLY_MAX, [5, 4], "at most 1 projects"),
    ("approval: only a minimum", ONLY_MIN, [1, 2, 3], None),
    ("approval: under a minimum alone", ONLY_MIN, [1, 2], "at least 3 projects"),
    ("empty ballot, knapsack", KNAPSACK, [], budget_rules.EMPTY),
    ("empty ballot, approval without a minimum", FREE, [], budget_rules.EMPTY),
    ("a duplicate", KNAPSACK, [4, 4], "more than once"),
    ("a duplicate within the maximum", APPROVAL, [1, 1], "more than once"),
    ("an unknown project", KNAPSACK, [4, 99], "project 99 is not on this ballot"),
    ("a project of another ballot, approval", APPROVAL, [1, 2, 8], "project 8 is not on this ballot"),
    ("an unknown rule", BallotRule("ranked", 100), [1], "unknown ballot rule"),
]


@pytest.mark.parametrize(("name", "rule", "chosen", "refusal"), CASES, ids=[c[0] for c in CASES])
def test_rules__table(name, rule, chosen, refusal):
    """Each rule accepts exactly the ballots within its bounds (both ends inclusive) and refuses
    the others with a reason naming the bound."""
    if refusal is None:
        budget_rules.check(rule, COSTS, chosen)
    else:
        with pytest.raises(InvalidInput, match=refusal):
            budget_rules.check(rule, COSTS, chosen)


def test_rules__minimum_spend_is_rounded_up():
    """``min_share`` percent of the limit, rounded up: 50 % of 99 is 50, 70 % of 100 is 70."""
    assert budget_rules.minimum_spend(SHARE_ODD) == 50
    assert budget_rules.minimum_spend(SHARE) == 70
    assert budget_rules.minimum_spend(KNAPSACK) == 0
    assert budget_rules.minimum_spend(APPROVAL) == 0


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(kind=st.sampled_from(["knapsack", "approval"]), limit=st.integers(1, 200),
       share=st.one_of(st.none(), st.integers(0, 100)), low=st.one_of(st.none(), st.integers(0, 5)),
       high=st.one_of(st.none(), st.integers(1, 6)),
       chosen=st.lists(st.integers(0, 7), max_size=8))
def test_rules__agree_with_their_definition(kind, limit, share, low, high, chosen):
    """For any rule and ballot: accepted exactly when the ballot is non-empty, without
    duplicates, of known projects, and within the rule's bounds (as the docstring states them)."""
    rule = BallotRule(kind, limit, min_share=share, min_projects=low, max_projects=high)
    spent = sum(COSTS.get(p, 0) for p in chosen)
    valid = bool(chosen) and len(set(chosen)) == len(chosen) and all(p in COSTS for p in chosen)
    if valid and kind == "knapsack":
        valid = spent <= limit and spent * 100 >= (share or 0) * limit
    if valid and kind == "approval":
        valid = (low is None or len(chosen) >= low) and (high is None or len(chosen) <= high)
    try:
        budget_rules.check(rule, COSTS, chosen)
        accepted = True
    except InvalidInput:
        accepted = False
    assert accepted == valid


# -- the rules as budget_ballots.cast applies them: districts, and projects no longer on the ballot

FUZZ = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
async def districts(sessions, uris):
    """Two districts (Nord 30k, Süd 20k) of a 50k budget; projects 0 and 2 in Nord (10k, 25k),
    1 and 3 in Süd (20k, 5k)."""
    async with transaction(sessions) as s:
        town = await make_town(s, uris)
        await voting_budget(s, uris, town, [10_000, 20_000, 25_000, 5_000],
                            districts=[("nord", {"de": "Nord"}, 30_000), ("sued", {"de": "Süd"}, 20_000)])
        places = await budgets.districts(s, town.budget)
    return town, {d.slug: d.id for d in places}


DISTRICT_CASES = [
    ("within Nord's amount", "nord", [0], None),
    ("Nord's two projects exceed its 30k", "nord", [0, 2], "cost 35000, more than the 30000"),
    ("exactly Süd's amount", "sued", [1], None),
    ("Süd's two projects exceed its 20k", "sued", [1, 3], "cost 25000, more than the 20000"),
    ("a project of another district", "nord", [0, 1], "is not on this ballot"),
    ("no district chosen", None, [0], "choose your district"),
    ("an unknown district", 10**6, [0], "no such district"),
]


@pytest.mark.parametrize(("name", "district", "chosen", "refusal"), DISTRICT_CASES,
                         ids=[c[0] for c in DISTRICT_CASES])
async def test_rules__districts(sessions, districts, name, district, chosen, refusal):
    """A ballot is cast in one district, for that district's projects, within its amount."""
    town, ids = districts
    district_id = ids.get(district, district)
    async with transaction(sessions) as s:
        budget = await s.get(Budget, town.budget.id)
        project_ids = [town.projects[n].id for n in chosen]
        if refusal is None:
            ballot = await budget_ballots.cast(s, budget, town.residents[0], project_ids, district_id=district_id)
            assert ballot.district_id == district_id
        else:
            with pytest.raises(InvalidInput, match=refusal):
                await budget_ballots.cast(s, budget, town.residents[0], project_ids, district_id=district_id)


@pytest.mark.parametrize("change", ["withdrawn", "unfeasible", "pending", "erased"])
async def test_rules__a_project_off_the_ballot_is_refused(sessions, uris, change):
    """A withdrawn, unfeasible, not yet reviewed or erased project is not on the ballot."""
    async with transaction(sessions) as s:
        town = await make_town(s, uris)
        budget = await voting_budget(s, uris, town, [10_000, 20_000])
        target = await s.get(BudgetProject, town.projects[1].id)
        if change == "withdrawn":
            target.state = "withdrawn"
        elif change == "erased":
            target.deleted_at = target.created_at
        else:
            target.feasibility = change
    async with transaction(sessions) as s:
        budget = await s.get(Budget, budget.id)
        assert [p.id for p in await budgets.ballot_projects(s, budget)] == [town.projects[0].id]
        with pytest.raises(InvalidInput, match="is not on this ballot"):
            await budget_ballots.cast(s, budget, town.residents[0], [town.projects[0].id, town.projects[1].id])
        await budget_ballots.cast(s, budget, town.residents[0], [town.projects[0].id])


HOSTILE = st.one_of(st.none(), st.text(max_size=5), st.integers(-2, 2**40), st.booleans(),
                    st.lists(st.one_of(st.integers(-5, 2**40), st.text(max_size=3), st.none(), st.booleans(),
                                       st.floats(allow_nan=True)), max_size=6),
                    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))


@pytest.fixture
async def voting(sessions, uris):
    async with transaction(sessions) as s:
        town = await make_town(s, uris)
        await voting_budget(s, uris, town, [10_000, 20_000])
    return town


@FUZZ
@given(project_ids=HOSTILE, district_id=st.one_of(st.none(), st.integers(-3, 2**40), st.text(max_size=3)),
       who=st.sampled_from(["resident", "stranger", "fediverse"]))
async def test_rules__hostile_ballots_are_refused_with_a_reason(sessions, voting, project_ids, district_id, who):
    """Whatever a form or a script sends as a ballot, by whomever, cast either stores a valid
    ballot or refuses it with a reason (a CivicError, a 4xx) — never another exception."""
    voter = {"resident": voting.residents[0], "stranger": voting.stranger, "fediverse": voting.fediverse}[who]
    async with transaction(sessions) as s:
        budget = await s.get(Budget, voting.budget.id)
        try:
            ballot = await budget_ballots.cast(s, budget, voter, project_ids, district_id=district_id)
        except CivicError as refusal:
            assert refusal.reason and refusal.status < 500
        else:
            assert isinstance(ballot, Ballot) and who == "resident"
