"""`civic budget …`: list, phase, results and the Pabulib export, against what the services store
and compute; refusals that are one message and exit 1 — never a traceback — with nothing changed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pabulib import Checker
from sqlalchemy import select

from civic.cli import main
from node.models import Budget, OutboxEvent
from node.models.budgets import BUDGET_PHASES, RESULT_METHODS
from node.services import actors, budget_ballots, budget_results, budgets, membership, pabulib
from node.uris import Uris
from tests.node.budget_scene import make_town, voting_budget
from tests.node.cli_run import civic, db

CIVIC = str(Path(sys.executable).parent / "civic")
BASE = "http://127.0.0.1:18094"
COSTS = [30_000, 20_000, 15_000, 12_000, 8_000]  # projects A to E of a €50,000 budget
CHOICES = [(0, 1), (0, 2), (0, 3, 4), (1, 3)]  # each resident's ballot, by project index: votes A3 B2 C1 D2 E1
HOSTILE = "Spielplatz\x1b[2J\x1b[31m rot\u202e"


@pytest.fixture
def node_dir(tmp_path, database_url, capsys):
    directory = tmp_path / "node"
    assert main(["init", "--base-url", BASE, "--development", "--database-url", database_url,
                 "--data-dir", str(directory)]) == 0
    capsys.readouterr()
    return directory


@pytest.fixture
def town(node_dir, database_url) -> dict:
    """Künzelsau's €50,000 budget "2026" in its voting phase, five projects (one titled with
    escape sequences), four residents' ballots; a second budget "2027" still informing."""
    async def work(s):
        uris = Uris(BASE)
        town = await make_town(s, uris, residents=4)
        budget = await voting_budget(s, uris, town, COSTS)
        town.projects[4].title = HOSTILE
        for resident, chosen in zip(town.residents, CHOICES, strict=True):
            await budget_ballots.cast(s, budget, resident, [town.projects[k].id for k in chosen])
        later = await budgets.create(s, uris, town.org, "2027", {"de": "Bürgerbudget 2027", "fr": "Budget 2027"},
                                     80_000, rule="approval", max_projects=3)
        return {"id": budget.ap_id, "token": budget.ap_id.rsplit("/", 1)[1], "later": later.ap_id,
                "projects": [p.id for p in town.projects]}
    found = db(database_url, work)
    found["events"] = budget_events(database_url)  # the projects' Create and Update{Page}s
    return found


def stored(database_url, ap_id: str) -> Budget:
    return db(database_url, lambda s: budgets.by_ap_id(s, ap_id))


def results_of(database_url, ap_id: str) -> dict:
    async def work(s):
        return await budget_ballots.compute_results(s, await budgets.by_ap_id(s, ap_id))
    return db(database_url, work)


def budget_events(database_url) -> int:
    async def work(s):
        return len(list(await s.scalars(select(OutboxEvent).where(OutboxEvent.kind.like("budget.%")))))
    return db(database_url, work)


def test_cli_budget__list_shows_each_budget_with_its_phase_amount_ballots_and_projects(node_dir, town, capsys):
    """Newest first; the title in the language asked for; a budget without ballots says 0."""
    code, out, _ = civic(capsys, node_dir, "budget", "list", "kunzelsau", "--language", "fr")
    assert code == 0
    assert out.splitlines() == [
        f"2027\tinforming\t80,000 EUR\t0 ballot(s)\t0 project(s)\tBudget 2027\t{town['later']}",
        f"2026\tvoting\t50,000 EUR\t4 ballot(s)\t5 project(s)\tBürgerbudget\t{town['id']}"]
    code, out, _ = civic(capsys, node_dir, "budget", "list", "@kunzelsau", "--language", "de")
    assert code == 0 and "\tBürgerbudget 2027\t" in out


def test_cli_budget__list_of_an_organisation_without_budgets(node_dir, capsys):
    assert civic(capsys, node_dir, "org", "create", "lahr", "--name", "Stadt Lahr")[0] == 0
    code, out, _ = civic(capsys, node_dir, "budget", "list", "lahr")
    assert code == 0 and out == "@lahr has no budget.\n"


def test_cli_budget__phase_moves_forward_by_id_token_or_slug(node_dir, town, database_url, capsys):
    """The later budget goes informing → proposing (named ORG/SLUG), then reviewing (by its id);
    the voting one gets an end (by its token), given with an offset and stored in UTC."""
    code, out, _ = civic(capsys, node_dir, "budget", "phase", "kunzelsau/2027", "proposing")
    assert code == 0 and out == f"Budget 2027 ({town['later']}) is now in the proposing phase.\n"
    assert civic(capsys, node_dir, "budget", "phase", town["later"], "reviewing")[0] == 0
    assert stored(database_url, town["later"]).phase == "reviewing"
    code, out, _ = civic(capsys, node_dir, "budget", "phase", town["token"], "voting",
                         "--voting-ends-at", "2099-06-30T20:00+02:00")
    assert code == 0 and out.endswith("is now in the voting phase until 2099-06-30 18:00 UTC.\n")
    budget = stored(database_url, town["id"])
    assert (budget.phase, budget.voting_ends_at.isoformat()) == ("voting", "2099-06-30T18:00:00+00:00")
    assert budget_events(database_url) == town["events"]


def test_cli_budget__results_as_text_and_json_equal_the_service_and_publish_nothing(node_dir, town, database_url,
                                                                                   capsys):
    """JSON is compute_results; the text lists every project with its votes and cost, titles made
    safe for a terminal; the budget's stored results, phase and method stay as they were."""
    code, out, _ = civic(capsys, node_dir, "budget", "results", town["token"], "--format", "json")
    assert code == 0
    expected = results_of(database_url, town["id"])
    assert json.loads(out) == json.loads(json.dumps(expected))
    assert expected["method"] == "greedy" and expected["ballots"] == 4
    code, out, _ = civic(capsys, node_dir, "budget", "results", "kunzelsau/2026")
    assert code == 0 and "\x1b" not in out and "\u202e" not in out
    lines = out.splitlines()
    assert lines[1].startswith("phase voting; method greedy; 4 ballot(s); budget 50,000 EUR, spent ")
    assert lines[1].endswith("(not published)")
    rows = {line.split("\t")[-1]: line.split("\t")[:3] for line in lines[3:]}
    by_title = {p["title"]: p for p in expected["projects"]}
    assert len(rows) == 5
    for title, project in by_title.items():
        shown = rows[" ".join(title.replace("\x1b", " ").replace("\u202e", " ").split())]
        assert shown == ["selected" if project["selected"] else "-", f"{project['votes']} vote(s)",
                         f"{project['cost']:,} EUR"]
    budget = stored(database_url, town["id"])
    assert (budget.results, budget.results_published_at, budget.phase) == ({}, None, "voting")
    assert budget_events(database_url) == town["events"]


def test_cli_budget__results_by_the_method_of_equal_shares_store_nothing(node_dir, town, database_url, capsys):
    """--method mes: the winners of budget_results.equal_shares on the same ballots; the budget
    keeps its own method."""
    code, out, _ = civic(capsys, node_dir, "budget", "results", town["id"], "--method", "mes", "--format", "json")
    assert code == 0
    data = json.loads(out)
    ids = town["projects"]
    approvals = [{ids[k] for k in chosen} for chosen in CHOICES]
    assert data["method"] == "mes"
    assert data["winners"] == budget_results.equal_shares(50_000, dict(zip(ids, COSTS, strict=True)), approvals,
                                                          utilities="approval", completion="add1")
    assert stored(database_url, town["id"]).result_method == "greedy"
    code, out, _ = civic(capsys, node_dir, "budget", "results", town["id"], "--method", "greedy", "--format", "json")
    assert code == 0 and json.loads(out)["winners"] == results_of(database_url, town["id"])["winners"]


def test_cli_budget__published_results_are_shown_as_published(node_dir, town, database_url, capsys):
    """Once the admins published them, results (by the budget's method) are the stored ones, said
    published; another --method still computes without storing."""
    async def publish(s):
        budget = await budgets.by_ap_id(s, town["id"])
        admin = await actors.user_by_username(s, "mayor")
        return await budget_ballots.publish_results(s, Uris(BASE), budget, by=admin)
    published = db(database_url, publish)
    code, out, _ = civic(capsys, node_dir, "budget", "results", town["token"], "--format", "json")
    assert code == 0 and json.loads(out) == json.loads(json.dumps(published))
    code, out, _ = civic(capsys, node_dir, "budget", "results", town["token"])
    assert code == 0 and out.splitlines()[1].startswith("phase results; method greedy; 4 ballot(s)")
    assert "(published 2" in out.splitlines()[1]
    code, out, _ = civic(capsys, node_dir, "budget", "results", town["token"], "--method", "mes")
    assert code == 0 and "method mes" in out and "(not published)" in out
    assert stored(database_url, town["id"]).results == json.loads(json.dumps(published))


def test_cli_budget__pabulib_export_is_the_services_and_reads_back(node_dir, town, database_url, capsys):
    """The file is pabulib.export's, valid for the format's own checker (pabulib-checker), read
    back by our reader: the budget, 5 projects, the 4 ballots' approvals, and no account name."""
    code, out, _ = civic(capsys, node_dir, "budget", "export", town["token"], "--format", "pabulib")
    assert code == 0

    async def expected(s):
        return await pabulib.export(s, await budgets.by_ap_id(s, town["id"]))

    assert out == db(database_url, expected)
    report = Checker().process_files([out])
    [(_name, checked)] = [(k, v["results"]) for k, v in report.items() if k not in ("metadata", "summary")]
    assert not checked.get("errors"), checked
    instance = pabulib.read(out)
    assert instance.budget == 50_000 and len(instance.projects) == 5 and len(instance.votes) == 4
    assert sorted(len(a) for a in instance.approvals) == sorted(len(c) for c in CHOICES)
    assert not any(name in out for name in ("mayor", "Mayor", "Resident"))


@pytest.mark.parametrize("args, message", [
    (("list", "nowhere"), "no organisation with the handle 'nowhere'"),
    (("list", "r0"), "no organisation with the handle 'r0'"),
    (("list", "kunzelsau", "--language", "xx"), "--language must be one of fr, en, de"),
    (("phase", "nowhere", "voting"), "no budget 'nowhere' on this node"),
    (("phase", "kunzelsau/1999", "voting"), "no such budget"),
    (("phase", "nobody/2026", "voting"), "no organisation with the handle 'nobody'"),
    (("phase", "https://elsewhere.example/budgets/x", "results"), "no budget"),
    (("phase", "{token}", "dancing"), "the phase must be one of informing, proposing"),
    (("phase", "{token}", "proposing"), "a budget cannot go back from voting to proposing"),
    (("phase", "{later}", "voting"), "no feasible project to vote on yet"),
    (("phase", "{token}", "voting", "--voting-ends-at", "tomorrow"), "--voting-ends-at takes a date and time"),
    (("phase", "{token}", "voting", "--voting-ends-at", "2000-01-01T00:00"), "--voting-ends-at must be in the future"),
    (("phase", "{token}", "results", "--voting-ends-at", "2099-01-01T00:00"), "only the voting phase has an end"),
    (("results", "{token}", "--method", "borda"), "--method must be one of greedy, mes"),
    (("results", "{token}", "--format", "xml"), "--format must be one of text, json"),
    (("results", "{token}", "--language", "it"), "--language must be one of"),
    (("results", "\x1b[2J\x00", "--format", "json"), "no budget"),
    (("results", "x" * 5000), "no budget"),
    (("export", "{token}", "--format", "csv"), "--format must be one of pabulib"),
    (("export", "{token}", "--format", "pabulib", "--district", "nord"), "no such district in this budget"),
    (("export", "{token}", "--format", "pabulib", "--district", "n\x00rd"), "no such district in this budget"),
    (("phase", "{token}", "voting", "--voting-ends-at", "9999-12-31T23:59-23:59"), "--voting-ends-at takes a date"),
])
def test_cli_budget__refusals_are_a_message_and_exit_1(node_dir, town, database_url, capsys, args, message):
    """Unknown budget or organisation, a phase that does not exist or goes back, bad dates,
    methods and formats, hostile names: one line on stderr, exit 1, nothing changed."""
    args = tuple(a.format(**town) if "{" in a and "}" in a else a for a in args)
    code, out, err = civic(capsys, node_dir, "budget", *args)
    assert code == 1 and out == "" and message in err and "Traceback" not in err, err
    assert err.startswith("civic: error: ") and err.count("\n") == 1
    budget, later = stored(database_url, town["id"]), stored(database_url, town["later"])
    assert (budget.phase, budget.voting_ends_at, budget.results, later.phase) == ("voting", None, {}, "informing")
    assert budget_events(database_url) == town["events"]


def test_cli_budget__a_refusal_in_a_separate_process_has_no_traceback(node_dir, town):
    result = subprocess.run([CIVIC, "budget", "phase", town["token"], "informing", "--data-dir", str(node_dir)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == "civic: error: a budget cannot go back from voting to informing"


def test_cli_budget__a_budget_with_districts_exports_one_district_at_a_time(node_dir, database_url, capsys):
    """Without --district: refused with the reason; with it: that district's projects only."""
    async def work(s):
        uris = Uris(BASE)
        town = await make_town(s, uris, residents=2, prefix="d")
        budget = await voting_budget(s, uris, town, [4_000, 5_000, 6_000, 7_000], slug="quartiere",
                                     districts=[("nord", {"de": "Nord"}, 10_000), ("sued", {"de": "Süd"}, 12_000)])
        assert await membership.is_verified(s, town.org, town.residents[0])
        return budget.ap_id
    ap_id = db(database_url, work)
    code, _, err = civic(capsys, node_dir, "budget", "export", ap_id, "--format", "pabulib")
    assert code == 1 and "one district at a time" in err
    code, out, _ = civic(capsys, node_dir, "budget", "export", ap_id, "--format", "pabulib", "--district", "sued")
    assert code == 0 and len(pabulib.read(out).projects) == 2


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
       .filter(lambda a: not a.startswith("-") and a.strip().lstrip("@").lower() != "kunzelsau"
               and a not in BUDGET_PHASES + RESULT_METHODS))  # a phase or method that exists is no refusal
def test_cli_budget__hostile_names_are_refused_without_a_traceback(node_dir, town, database_url, capsys, name):
    """Any text as a budget, an organisation, a phase or a method: a one-line refusal, exit 1;
    the budget stays as it was."""
    for args in (("list", name), ("phase", name, "voting"), ("phase", town["token"], name),
                 ("results", name), ("results", town["token"], "--method", name), ("export", name, "--format", "pabulib"),
                 ("phase", town["token"], "voting", "--voting-ends-at", name)):
        code, out, err = civic(capsys, node_dir, "budget", *args)
        assert code == 1 and err.startswith("civic: error: ") and err.count("\n") == 1, (args, err)
        assert "Traceback" not in err and out == ""
    budget = stored(database_url, town["id"])
    assert (budget.phase, budget.voting_ends_at) == ("voting", None)
