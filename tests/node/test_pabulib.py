"""node/services/pabulib.py: our Pabulib export passes the format's own checker (the
pabulib-checker package) and our reader reads it back equal to the budget it came from."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pabulib import Checker
from sqlalchemy import select

from node.db import transaction
from node.errors import InvalidInput
from node.models import Budget, BudgetProject
from node.services import budget_ballots, budgets, pabulib
from tests.node.budget_scene import make_town, voting_budget


def checked(text: str) -> dict:
    """The checker's report on one file: {"errors": {...}, "warnings": {...}}."""
    report = Checker().process_files([text])
    assert report["metadata"]["processed"] == 1
    return next(v["results"] for k, v in report.items() if k not in ("metadata", "summary"))


async def _vote(sessions, town, choices):
    async with transaction(sessions) as s:
        budget = await s.get(Budget, town.budget.id)
        for user, chosen in zip(town.residents, choices, strict=False):
            await budget_ballots.cast(s, budget, user, [town.projects[n].id for n in chosen])


@pytest.fixture
async def town(sessions, uris):
    """Künzelsau, €50,000, knapsack with a 50 % minimum; five projects, four voters."""
    async with transaction(sessions) as s:
        town = await make_town(s, uris, residents=4)
        await voting_budget(s, uris, town, [12_000, 25_000, 8_000, 9_000, 30_000], min_share=50)
    await _vote(sessions, town, [[4, 0, 2], [4, 3], [1, 0, 2], [0, 3, 2]])
    return town


async def test_pabulib__our_export_passes_the_checker_and_reads_back_equal(sessions, uris, town):
    """Before and after the results: no error from the checker (its greedy verification included,
    once ``selected`` is there); read back, every META value, project and vote is the budget's."""
    async with sessions() as s:
        before = await pabulib.export(s, await s.get(Budget, town.budget.id))
    assert not checked(before).get("errors"), checked(before)
    async with transaction(sessions) as s:
        await budget_ballots.publish_results(s, uris, await s.get(Budget, town.budget.id), by=town.admin)
    async with sessions() as s:
        budget = await s.get(Budget, town.budget.id)
        text = await pabulib.export(s, budget)
        projects = {p.id: p for p in await s.scalars(select(BudgetProject).where(BudgetProject.budget_id == budget.id))}
        cast = await budget_ballots.ballots(s, budget)
    report = checked(text)
    assert not report.get("errors"), report

    instance = pabulib.read(text)
    assert instance.meta["budget"] == "50000" and instance.meta["vote_type"] == "approval"
    assert instance.meta["rule"] == "greedy-threshold" and instance.meta["min_project_score_threshold"] == "1"
    assert instance.meta["max_sum_cost"] == "50000" and instance.meta["min_sum_cost"] == "25000"
    assert instance.meta["currency"] == "EUR" and instance.meta["unit"] == "Stadt Künzelsau"
    assert instance.meta["description"] == "Bürgerbudget" and instance.meta["num_votes"] == "4"
    assert {int(p): (int(row["cost"]), int(row["votes"]), row["name"]) for p, row in instance.projects.items()} == {
        p.id: (budgets.cost_of(p), p.votes_count, p.title) for p in projects.values()}
    assert {int(p) for p in instance.selected} == set(budget.results["winners"]) == {
        p.id for p in projects.values() if p.state == "selected"}
    assert sorted(sorted(map(int, v)) for v in instance.approvals) == sorted(sorted(c) for _, c in cast.values())
    assert list(instance.votes) == ["1", "2", "3", "4"]  # numbered: no account, no ballot id


async def test_pabulib__approval_rules_and_mes_are_described(sessions, uris):
    """An approval ballot writes min_length/max_length; a budget counted by MES (approval
    utilities, which Pabulib has no rule name for) says so in ``comment`` under rule ``unknown``;
    the checker finds no error."""
    async with transaction(sessions) as s:
        town = await make_town(s, uris)
        await voting_budget(s, uris, town, [10, 20, 30], amount=50, rule="approval", min_projects=1,
                            max_projects=2, result_method="mes")
    await _vote(sessions, town, [[0, 1], [2], [1, 2]])
    async with sessions() as s:
        text = await pabulib.export(s, await s.get(Budget, town.budget.id))
    assert not checked(text).get("errors"), checked(text)
    meta = pabulib.read(text).meta
    assert (meta["min_length"], meta["max_length"], meta["rule"]) == ("1", "2", "unknown")
    assert meta["comment"].startswith("#1: Method of Equal Shares, approval utilities")


async def test_pabulib__mes_with_cost_utilities_passes_the_checkers_own_count(sessions, uris):
    """Written as ``equalshares/add1`` with our winners under cost utilities, the checker
    recomputes MES itself and finds the same projects (the hand-computed example of
    test_budget_results: A and D of 100)."""
    async with transaction(sessions) as s:
        town = await make_town(s, uris, residents=4)
        budget = await voting_budget(s, uris, town, [60, 40, 24, 20], amount=100, rule="approval")
    a, b, c, d = (p.id for p in town.projects)
    ids = {"A": a, "B": b, "C": c, "D": d}
    await _vote(sessions, town, [[0, 1], [0, 1], [0, 3], [2, 3]])
    async with sessions() as s:
        budget = await s.get(Budget, budget.id)
        projects = await budgets.ballot_projects(s, budget)
        cast = {k: chosen for k, (_, chosen) in (await budget_ballots.ballots(s, budget)).items()}
    from node.services import budget_results
    winners = budget_results.equal_shares(100, {p.id: budgets.cost_of(p) for p in projects}, list(cast.values()),
                                          utilities="cost")
    assert set(winners) == {ids["A"], ids["D"]}
    text = pabulib.write(budget, projects, cast, selected=set(winners), rule="equalshares/add1")
    assert not checked(text).get("errors"), checked(text)
    wrong = pabulib.write(budget, projects, cast, selected={ids["D"], ids["B"]}, rule="equalshares/add1")
    assert "equalshares/add1 rule not followed" in checked(wrong)["errors"]  # the checker can fail


async def test_pabulib__one_file_per_district(sessions, uris):
    """A budget with districts is exported one district at a time (its amount, its projects,
    its ballots); the whole budget at once is refused."""
    async with transaction(sessions) as s:
        town = await make_town(s, uris)
        budget = await voting_budget(s, uris, town, [10_000, 5_000, 12_000, 4_000], amount=40_000,
                                     districts=[("nord", {"de": "Nord"}, 25_000), ("sued", {"de": "Süd"}, 15_000)])
        nord, sued = await budgets.districts(s, budget)
        await budget_ballots.cast(s, budget, town.residents[0], [town.projects[0].id, town.projects[2].id],
                           district_id=nord.id)
        await budget_ballots.cast(s, budget, town.residents[1], [town.projects[1].id], district_id=sued.id)
    async with sessions() as s:
        budget = await s.get(Budget, budget.id)
        with pytest.raises(InvalidInput):
            await pabulib.export(s, budget)
        text = await pabulib.export(s, budget, district="nord")
    assert not checked(text).get("errors"), checked(text)
    instance = pabulib.read(text)
    assert instance.meta["district"] == "Nord" and instance.budget == 25_000
    assert set(instance.projects) == {str(town.projects[0].id), str(town.projects[2].id)}
    assert instance.approvals == [{str(town.projects[0].id), str(town.projects[2].id)}]


async def test_pabulib__titles_with_separators_and_line_breaks_survive(sessions, uris):
    """A title with ``;``, quotes, commas and a line break is written on one line and read back."""
    async with transaction(sessions) as s:
        town = await make_town(s, uris)
        budget = await voting_budget(s, uris, town, [10_000, 20_000])
        project = await s.get(BudgetProject, town.projects[0].id)
        project.title = 'Bänke; "neue"\nund, alte'
    await _vote(sessions, town, [[0], [1]])
    async with sessions() as s:
        text = await pabulib.export(s, await s.get(Budget, budget.id))
    assert not checked(text).get("errors"), checked(text)
    assert pabulib.read(text).projects[str(town.projects[0].id)]["name"] == 'Bänke; "neue" und, alte'


def test_pabulib__reads_a_minimal_file():
    text = "META\nkey;value\nbudget;100\nnum_projects;1\nnum_votes;1\nPROJECTS\nproject_id;cost\np1;25,5\n" \
           "VOTES\nvoter_id;vote\nv1;p1\n"
    instance = pabulib.read(text)
    assert instance.budget == 100 and instance.costs == {"p1": 25} and instance.approvals == [{"p1"}]


@pytest.mark.parametrize(("text", "reason"), [
    ("", "META has no budget"),
    ("key;value\nbudget;1\n", "data before the META section"),
    ("META\nkey;value\nbudget\n", "a META row is key;value"),
    ("META\nkey;value\nbudget;1\nnum_projects;1\nnum_votes;0\nPROJECTS\nproject_id;cost\np;1;2\n", "3 values for 2"),
    ("META\nkey;value\nbudget;1\nnum_projects;1\nnum_votes;0\nPROJECTS\nproject_id;cost\np;1\np;2\n", "twice"),
    ("META\nkey;value\nbudget;" + "9" * 200_000, "field larger than field limit"),
])
def test_pabulib__malformed_files_are_refused_with_a_reason(text, reason):
    with pytest.raises(InvalidInput, match=reason):
        pabulib.read(text)


@settings(max_examples=200, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(["META", "PROJECTS", "VOTES", "key;value", "budget;1", "budget;x", "num_projects;1",
                              "num_votes;1", "project_id;cost", "p;1", "p;", ";", '"', "v;p,q", "\x00", ""]),
             max_size=14).map("\n".join)))
def test_pabulib__hostile_files_never_crash_the_reader(text):
    """Any text is read or refused with InvalidInput; a file read gives numbers or InvalidInput."""
    try:
        instance = pabulib.read(text)
        instance.budget, instance.costs, instance.approvals, instance.selected  # noqa: B018
    except InvalidInput as refusal:
        assert refusal.reason
