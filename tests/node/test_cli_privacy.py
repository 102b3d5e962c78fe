"""`civic user export`, `civic user delete` and `civic retention apply` as an operator runs them."""

from __future__ import annotations

import json
import stat

import pytest
from sqlalchemy import func, select

from civic.cli import main
from node.db import create_engine, session_factory
from node.models import Actor, Contribution, OutboxEvent, User
from node.services import erasure
from tests.node.test_cli import assert_clean_error, civic, initialised  # noqa: F401 (fixture)


async def _scalar(database_url, query):
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as s:
            return await s.scalar(query)
    finally:
        await engine.dispose()


@pytest.fixture
def resident(initialised):  # noqa: F811
    result = civic("user", "create", "amel", "--password", "amel-password-1", "--name", "Amel",
                   "--email", "amel@example.org", data_dir=initialised)
    assert result.returncode == 0, result.stderr
    return initialised


def test_cli_user_export__writes_a_private_json_file(resident, tmp_path):
    """--output writes the JSON (owner-only), with the account and no password hash."""
    target = tmp_path / "amel.json"
    result = civic("user", "export", "amel", "--output", str(target), data_dir=resident)
    assert result.returncode == 0, result.stderr
    assert "Wrote the data of @amel" in result.stdout
    data = json.loads(target.read_text(encoding="utf-8"))
    assert data["tables"]["users"][0]["email"] == "amel@example.org"
    assert data["tables"]["users"][0]["password_hash"] == "[redacted]"
    assert "argon2" not in target.read_text(encoding="utf-8")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_cli_user_export__to_standard_output(resident):
    """Without --output the JSON goes to standard output."""
    result = civic("user", "export", "@amel", data_dir=resident)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["account"]["handle"] == "amel"


def test_cli_user_export__unknown_handle_and_directory_are_clean_errors(resident, tmp_path):
    """An unknown handle or a directory as output: a message, exit 1, no traceback, no file."""
    assert_clean_error(civic("user", "export", "nobody", data_dir=resident), "no account with the handle")
    assert_clean_error(civic("user", "export", "amel", "--output", str(tmp_path), data_dir=resident),
                       "is a directory")
    assert not list(tmp_path.glob(".civic-export-*"))


async def test_cli_user_delete__needs_confirmation_then_erases(resident, database_url):
    """Without --yes (and no terminal) nothing happens; with it the account is erased, its
    events queued, and the handle cannot be created again."""
    assert_clean_error(civic("user", "delete", "amel", data_dir=resident), "add --yes")
    assert await _scalar(database_url, select(func.count()).select_from(User)) == 1
    result = civic("user", "delete", "amel", "--yes", data_dir=resident)
    assert result.returncode == 0, result.stderr
    assert "Erased @amel" in result.stdout
    assert await _scalar(database_url, select(func.count()).select_from(User)) == 0
    assert await _scalar(database_url, select(Actor.deleted_at).where(Actor.username == "amel")) is not None
    assert await _scalar(database_url, select(func.count()).select_from(OutboxEvent)
                         .where(OutboxEvent.kind == erasure.ACTOR_ERASED)) == 1
    assert_clean_error(civic("user", "create", "amel", "--password", "another-pass-1", data_dir=resident),
                       "already taken")
    assert_clean_error(civic("user", "delete", "amel", "--yes", data_dir=resident), "no account with the handle")
    assert await _scalar(database_url, select(func.count()).select_from(Contribution)) == 0


def test_cli_retention_apply__prints_each_table(resident):
    """--dry-run and apply print one line per table; a fresh node has nothing to remove."""
    dry = civic("retention", "apply", "--dry-run", data_dir=resident)
    assert dry.returncode == 0, dry.stderr
    assert "inbox_activities\twould remove 0" in dry.stdout and "moderation_log\twould remove 0" in dry.stdout
    done = civic("retention", "apply", data_dir=resident)
    assert done.returncode == 0, done.stderr
    assert "notes\tremoved 0" in done.stdout and "erased_keys\tcleared 0" in done.stdout


@pytest.mark.parametrize("command", [["user", "export"], ["user", "delete"], ["retention", "apply"]])
def test_cli_privacy__every_command_has_help(command, capsys):
    """`civic … --help` exits 0 and describes its usage."""
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    assert "usage: civic" in capsys.readouterr().out
