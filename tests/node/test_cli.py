"""The `civic` command: each subcommand's help, clear errors, non-zero exits, nothing half-written."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from civic.cli import main
from node.db import create_engine, session_factory
from node.models import Actor, Membership, Note, OutboxEvent

CIVIC = str(Path(sys.executable).parent / "civic")


def civic(*args: str, data_dir=None, input: str | None = None, env=None) -> subprocess.CompletedProcess:
    argv = [CIVIC, *args]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, input=input, env=env)


def assert_clean_error(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode != 0
    assert fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.fixture
def initialised(tmp_path, database_url):
    """A data directory initialised by `civic init` on the test database."""
    result = civic("init", "--base-url", "http://127.0.0.1:18090", "--development",
                   "--database-url", database_url, data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path


async def _count(database_url, model, *where) -> int:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as s:
            return await s.scalar(select(func.count()).select_from(model).where(*where))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("command", [[], ["init"], ["serve"], ["worker"], ["migrate"], ["org", "create"],
                                     ["org", "announce"], ["org", "follow"], ["org", "requests"],
                                     ["user", "create"], ["domain"], ["demo"]])
def test_cli__every_command_has_help(command, capsys):
    """`civic … --help` exits 0 and describes its usage."""
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    assert "usage: civic" in capsys.readouterr().out


def test_cli__console_script_runs():
    """The installed `civic` entry point starts (packaging works)."""
    result = civic("--version")
    assert result.returncode == 0 and "civic-node" in result.stdout


def test_cli__init_writes_config_and_instance_actor(initialised, database_url):
    """init writes civic.toml with a secret key and creates the instance actor."""
    text = (initialised / "civic.toml").read_text()
    assert 'base_url = "http://127.0.0.1:18090"' in text
    assert "secret_key" in text
    assert asyncio.run(_count(database_url, Actor, Actor.type == "Application")) == 1


def test_cli__org_create_then_duplicate_is_refused(initialised, database_url):
    """A second organisation with the same handle: one clear message, exit 1, first one intact."""
    ok = civic("org", "create", "lyon", "--name", "Ville de Lyon", data_dir=initialised)
    assert ok.returncode == 0, ok.stderr
    assert "@lyon@127.0.0.1:18090" in ok.stdout
    dup = civic("org", "create", "Lyon", "--name", "Autre", data_dir=initialised)
    assert_clean_error(dup, "already taken")
    assert asyncio.run(_count(database_url, Actor, Actor.type == "Organization")) == 1


def test_cli__invalid_handle_is_refused(initialised, database_url):
    result = civic("org", "create", "ville de lyon", "--name", "X", data_dir=initialised)
    assert_clean_error(result, "invalid handle")
    assert asyncio.run(_count(database_url, Actor, Actor.type == "Organization")) == 0


def test_cli__user_create_with_role_and_short_password(initialised, database_url):
    """A user joins an organisation as admin; a too-short password leaves no account behind."""
    assert civic("org", "create", "nice", "--name", "Nice", data_dir=initialised).returncode == 0
    ok = civic("user", "create", "camille", "--name", "Camille", "--org", "nice", "--role", "admin",
               data_dir=initialised, input="correct horse battery\n")
    assert ok.returncode == 0, ok.stderr
    assert asyncio.run(_count(database_url, Membership)) == 1
    short = civic("user", "create", "dominique", "--password", "short", data_dir=initialised)
    assert_clean_error(short, "at least 8 characters")
    assert asyncio.run(_count(database_url, Actor, Actor.username == "dominique")) == 0
    unknown_org = civic("user", "create", "eve", "--password", "long enough pw", "--org", "nowhere",
                        data_dir=initialised)
    assert_clean_error(unknown_org, "no organisation")
    assert asyncio.run(_count(database_url, Actor, Actor.username == "eve")) == 0


def test_cli__announce_writes_note_and_outbox_event_together(initialised, database_url):
    """`org announce` stores the Note and its outbox event in one transaction."""
    assert civic("org", "create", "lyon", "--name", "Lyon", data_dir=initialised).returncode == 0
    result = civic("org", "announce", "lyon", "Atelier <samedi>", data_dir=initialised)
    assert result.returncode == 0, result.stderr
    assert asyncio.run(_count(database_url, Note)) == 1
    assert asyncio.run(_count(database_url, OutboxEvent, OutboxEvent.kind == "note.created")) == 1
    missing = civic("org", "announce", "nowhere", "x", data_dir=initialised)
    assert_clean_error(missing, "no organisation")


def test_cli__unreachable_database_fails_cleanly_and_writes_nothing(tmp_path):
    """init against a database nobody answers: one message, exit 1, no civic.toml left behind."""
    target = tmp_path / "data"
    result = civic("init", "--database-url", "postgresql+asyncpg://postgres@127.0.0.1:1/none",
                   "--base-url", "https://civic.example", data_dir=target)
    assert_clean_error(result, "cannot reach the database")
    assert not (target / "civic.toml").exists()


def test_cli__commands_need_an_initialised_directory(tmp_path):
    result = civic("org", "create", "lyon", "--name", "Lyon", data_dir=tmp_path / "empty")
    assert_clean_error(result, "civic init")


def test_cli__plain_http_base_url_needs_development(tmp_path):
    """A production node only mints https ids; http needs the explicit development switch."""
    result = civic("init", "--base-url", "http://civic.example", data_dir=tmp_path)
    assert_clean_error(result, "plain http")
    assert not (tmp_path / "civic.toml").exists()


def test_cli__domain_block_list_unblock(initialised):
    assert civic("domain", "block", "spam.example", data_dir=initialised).returncode == 0
    assert "spam.example" in civic("domain", "list", data_dir=initialised).stdout
    bad = civic("domain", "block", "not a domain", data_dir=initialised)
    assert_clean_error(bad, "not a domain name")
    assert civic("domain", "unblock", "spam.example", data_dir=initialised).returncode == 0
    assert "spam.example" not in civic("domain", "list", data_dir=initialised).stdout


def test_cli__domain_allow_allowed_disallow(initialised):
    """(Bad domain names go through the same check as `domain block`, tested above.)"""
    added = civic("domain", "allow", "Partner.example", data_dir=initialised)
    assert added.returncode == 0 and "allowlist_mode" in added.stdout  # the mode is off here
    assert civic("domain", "allowed", data_dir=initialised).stdout.split() == ["partner.example"]
    assert civic("domain", "disallow", "partner.example", data_dir=initialised).returncode == 0
    missing = civic("domain", "disallow", data_dir=initialised)
    assert missing.returncode != 0 and "needs a DOMAIN" in missing.stderr
