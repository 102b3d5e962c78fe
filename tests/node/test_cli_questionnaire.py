"""`civic questionnaire …`: the list (drafts included) and the CSV and JSON exports, equal to what
the services give the results page, with no account in them; refusals that are one message and
exit 1 — never a traceback."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from civic.cli import main
from node.models import Questionnaire
from node.services import actors, questionnaire_export, questionnaires
from node.uris import Uris
from tests.node.cli_run import civic, db

CIVIC = str(Path(sys.executable).parent / "civic")
BASE = "http://127.0.0.1:18095"
PASSWORD = "password-123"


@pytest.fixture
def node_dir(tmp_path, database_url, capsys):
    """An initialised node: Lahr's questionnaires "umfrage" (published, two named responses, one
    of them a formula), "anonym" (anonymous, one response) and "entwurf" (a draft)."""
    directory = tmp_path / "node"
    assert main(["init", "--base-url", BASE, "--development", "--database-url", database_url,
                 "--data-dir", str(directory)]) == 0
    capsys.readouterr()

    async def work(s):
        uris = Uris(BASE)
        org = await actors.create_organization(s, uris, "lahr", "Stadt Lahr")
        anna = await actors.create_user(s, uris, "anna", PASSWORD, "Anna Muster")
        ben = await actors.create_user(s, uris, "ben", PASSWORD, "Ben Beispiel")
        q = await questionnaires.create(s, org, "umfrage", {"de": "Lahr 2035", "fr": "Lahr en 2035"},
                                        languages=("de", "fr"))
        yes = await questionnaires.add_question(s, q, "single", {"de": "Wohnen Sie hier?"},
                                                options=[{"key": "ja", "label": {"de": "Ja"}},
                                                         {"key": "nein", "label": {"de": "Nein"}}])
        idea = await questionnaires.add_question(s, q, "short_text", {"de": "Ihre Idee"})
        grid = await questionnaires.add_question(s, q, "matrix_single", {"de": "Wie wichtig?"},
                                                 options=["wenig", "sehr"], rows=["gruen", "licht"])
        await questionnaires.publish(s, q)
        rows = [r["key"] for r in grid.rows]
        columns = [o["key"] for o in grid.options]
        await questionnaires.submit(s, directory, q, anna, {yes.id: "ja", idea.id: "=HYPERLINK(\"x\")",
                                                           grid.id: {rows[0]: [columns[1]]}}, language="de")
        await questionnaires.submit(s, directory, q, ben, {yes.id: "nein", idea.id: "Mehr Bänke",
                                                          grid.id: {rows[0]: [columns[0]], rows[1]: [columns[1]]}})
        hidden = await questionnaires.create(s, org, "anonym", "Anonyme Umfrage", languages=("de",), anonymous=True)
        question = await questionnaires.add_question(s, hidden, "short_text", "Was stört Sie?")
        await questionnaires.publish(s, hidden)
        await questionnaires.submit(s, directory, hidden, anna, {question.id: "Der Lärm"})
        draft = await questionnaires.create(s, org, "entwurf", {"fr": "Brouillon"}, visibility="members")
        await questionnaires.add_question(s, draft, "long_text", "Noch nicht")
    db(database_url, work)
    return directory


def exported(database_url, slug: str, kind: str):
    async def work(s):
        org = await actors.require_local_actor(s, "lahr", "Organization")
        q = await questionnaires.by_slug(s, org, slug)
        return await (questionnaire_export.to_csv if kind == "csv" else questionnaire_export.to_json)(s, q)
    return db(database_url, work)


def counts(database_url) -> dict[str, tuple[str, int]]:
    async def work(s):
        return {q.slug: (q.state, q.response_count) for q in await s.scalars(select(Questionnaire))}
    return db(database_url, work)


def test_cli_questionnaire__list_shows_every_questionnaire_drafts_included(node_dir, capsys):
    """Slug, state, responses, languages, visibility, mode, title and address, newest first."""
    code, out, _ = civic(capsys, node_dir, "questionnaire", "list", "lahr", "--language", "fr")
    assert code == 0
    page = f"{BASE}/orgs/lahr/questionnaires"
    assert out.splitlines() == [
        f"entwurf\tdraft\t0 response(s)\tfr\tmembers\tnamed\tBrouillon\t{page}/entwurf",
        f"anonym\tpublished\t1 response(s)\tde\tpublic\tanonymous\tAnonyme Umfrage\t{page}/anonym",
        f"umfrage\tpublished\t2 response(s)\tde,fr\tpublic\tnamed\tLahr en 2035\t{page}/umfrage"]
    assert civic(capsys, node_dir, "org", "create", "lisieux", "--name", "Lisieux")[0] == 0
    code, out, _ = civic(capsys, node_dir, "questionnaire", "list", "@lisieux")
    assert code == 0 and out == "@lisieux has no questionnaire.\n"


def test_cli_questionnaire__csv_export_is_the_services_without_accounts(node_dir, database_url, capsys):
    """The bytes of questionnaire_export.to_csv: a header and one row per response; no handle or
    name of a respondent; the formula typed by a respondent does not start a cell."""
    code, out, _ = civic(capsys, node_dir, "questionnaire", "export", "lahr", "umfrage", "--format", "csv")
    assert code == 0
    expected = exported(database_url, "umfrage", "csv")
    assert out.encode() == expected
    rows = list(csv.reader(io.StringIO(out.removeprefix("\ufeff"))))
    assert len(rows) == 3 and all(len(row) == len(rows[0]) for row in rows)
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows[1:] for cell in row)
    assert not any(word in out for word in ("anna", "Anna", "Muster", "ben", "Beispiel"))
    code, out, _ = civic(capsys, node_dir, "questionnaire", "export", "lahr", "anonym", "--format", "csv")
    assert code == 0 and "Der Lärm" in out and "anna" not in out


def test_cli_questionnaire__json_export_is_the_services_without_accounts(node_dir, database_url, capsys):
    code, out, _ = civic(capsys, node_dir, "questionnaire", "export", "@lahr", "UMFRAGE", "--format", "json")
    assert code == 0
    assert json.loads(out) == json.loads(json.dumps(exported(database_url, "umfrage", "json")))
    assert not any(word in out for word in ("anna", "Anna", "Muster", "ben", "Beispiel"))


@pytest.mark.parametrize("args, message", [
    (("list", "nowhere"), "no organisation with the handle 'nowhere'"),
    (("list", "anna"), "no organisation with the handle 'anna'"),
    (("list", "lahr", "--language", "xx"), "--language must be one of fr, en, de"),
    (("export", "lahr", "nowhere", "--format", "csv"), "no such questionnaire"),
    (("export", "nowhere", "umfrage", "--format", "csv"), "no organisation with the handle 'nowhere'"),
    (("export", "lahr", "umfrage", "--format", "xlsx"), "--format must be one of csv, json"),
    (("export", "lahr", "umfrage\x1b[2J\x00", "--format", "csv"), "no questionnaire"),
    (("export", "lahr\n\x00", "umfrage", "--format", "json"), "no organisation"),
    (("export", "lahr", "u" * 5000, "--format", "json"), "no questionnaire"),
])
def test_cli_questionnaire__refusals_are_a_message_and_exit_1(node_dir, database_url, capsys, args, message):
    """Unknown organisation or questionnaire, an unknown format or language, hostile names: one
    line on stderr, exit 1, nothing on stdout, nothing changed."""
    before = counts(database_url)
    code, out, err = civic(capsys, node_dir, "questionnaire", *args)
    assert code == 1 and out == "" and message in err and "Traceback" not in err, err
    assert err.startswith("civic: error: ") and err.count("\n") == 1
    assert counts(database_url) == before


def test_cli_questionnaire__a_refusal_in_a_separate_process_has_no_traceback(node_dir):
    result = subprocess.run([CIVIC, "questionnaire", "export", "lahr", "nowhere", "--format", "csv",
                             "--data-dir", str(node_dir)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == "civic: error: no such questionnaire"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
       .filter(lambda a: not a.startswith("-") and a not in ("fr", "en", "de", "csv", "json")
               and a.strip().lstrip("@").lower() not in ("lahr", "umfrage", "anonym", "entwurf")))
def test_cli_questionnaire__hostile_names_are_refused_without_a_traceback(node_dir, capsys, name):
    """Any text as an organisation, a questionnaire, a format or a language: a one-line refusal, exit 1."""
    for args in (("list", name), ("list", "lahr", "--language", name), ("export", name, "umfrage", "--format", "csv"),
                 ("export", "lahr", name, "--format", "json"), ("export", "lahr", "umfrage", "--format", name)):
        code, out, err = civic(capsys, node_dir, "questionnaire", *args)
        assert code == 1 and err.startswith("civic: error: ") and err.count("\n") == 1, (args, err)
        assert "Traceback" not in err and out == ""
