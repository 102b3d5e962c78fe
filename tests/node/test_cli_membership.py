"""`civic org members|admit|expel|census|codes|salt`: what they print, what they store, and errors
that are one message and a non-zero exit, never a traceback, with nothing half-written."""

from __future__ import annotations

import asyncio
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from civic.cli import main
from node.db import create_engine, session_factory
from node.models import CensusEntry, Membership, MemberVerification, VerificationCode
from tests.node.cli_run import civic

CIVIC = str(Path(sys.executable).parent / "civic")
CODE = re.compile(r"^[A-HJKMNP-Z2-9]{5}-[A-HJKMNP-Z2-9]{5}")


@pytest.fixture
def node_dir(tmp_path, database_url, capsys):
    """An initialised data directory with the organisation lyon and the accounts camille and eva."""
    directory = tmp_path / "node"
    assert main(["init", "--base-url", "http://127.0.0.1:18091", "--development",
                 "--database-url", database_url, "--data-dir", str(directory)]) == 0
    assert main(["org", "create", "lyon", "--name", "Ville de Lyon", "--data-dir", str(directory)]) == 0
    for handle in ("camille", "eva"):
        assert main(["user", "create", handle, "--password", "password-123",
                     "--data-dir", str(directory)]) == 0
    capsys.readouterr()
    return directory


async def _count(database_url, model, *where) -> int:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as s:
            return await s.scalar(select(func.count()).select_from(model).where(*where))
    finally:
        await engine.dispose()


def count(database_url, model, *where) -> int:
    return asyncio.run(_count(database_url, model, *where))


def test_cli_membership__admit_list_and_expel(node_dir, database_url, capsys):
    """admit with a note (a note with a terminal escape is refused), members lists roles, method
    and identity; expel takes it away."""
    code, _, err = civic(capsys, node_dir, "org", "admit", "lyon", "camille", "--note", "C\x1b[31m")
    assert code == 1 and "the note contains control characters" in err
    assert count(database_url, Membership, Membership.role == "member") == 0
    code, out, _ = civic(capsys, node_dir, "org", "admit", "lyon", "@camille", "--note", "Camille,\tcarte 7")
    assert code == 0 and out.strip() == "@camille is now a member of @lyon."
    code, out, _ = civic(capsys, node_dir, "org", "members", "lyon")
    assert code == 0
    [line] = out.splitlines()
    handle, _name, roles, method, _when, identity = line.split("\t")
    assert (handle, roles, method) == ("camille", "member", "admin")
    assert identity == "Camille, carte 7"  # one line, one field: white space collapsed
    code, out, _ = civic(capsys, node_dir, "org", "expel", "lyon", "camille")
    assert code == 0 and "no longer a member" in out
    assert count(database_url, Membership, Membership.role == "member") == 0
    assert count(database_url, MemberVerification) == 0


def test_cli_membership__census_import_and_salt(node_dir, database_url, capsys, tmp_path):
    """The salt printed is the one the import hashes with: a line hashed outside the node with it
    and a plain identifier are both imported; a duplicate is skipped and counted."""
    code, salt, _ = civic(capsys, node_dir, "org", "salt", "lyon")
    salt = salt.strip()
    assert code == 0 and re.fullmatch(r"[0-9a-f]{64}", salt)
    hashed = hashlib.sha256((salt + "ab1234").encode()).hexdigest()
    census = tmp_path / "census.txt"
    census.write_text(f"{hashed}\nAB-12 34\ncd5678\n", encoding="utf-8")
    code, out, _ = civic(capsys, node_dir, "org", "census", "lyon", str(census))
    assert code == 0 and out.strip() == "Imported 2 new census entries into @lyon (1 duplicates skipped)."
    assert count(database_url, CensusEntry) == 2


def test_cli_membership__codes_are_printed_once_with_their_labels(node_dir, database_url, capsys):
    """codes N prints N codes (labelled ones with their label); only hashes are stored."""
    code, out, _ = civic(capsys, node_dir, "org", "codes", "lyon", "3", "--label", "Mme Durand",
                         "--label", "M. Petit")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3 and all(CODE.match(line) for line in lines)
    assert sorted(line.split("\t")[1] for line in lines if "\t" in line) == ["M. Petit", "Mme Durand"]
    assert count(database_url, VerificationCode) == 3


@pytest.mark.parametrize("args, message", [
    (("org", "members", "nowhere"), "no organisation with the handle 'nowhere'"),
    (("org", "admit", "lyon", "nobody"), "no user with the handle 'nobody'"),
    (("org", "expel", "lyon", "eva"), "@eva is not a member of @lyon"),
    (("org", "census", "lyon", "/nonexistent/census.txt"), "cannot read /nonexistent/census.txt"),
    (("org", "codes", "lyon", "0"), "between 1 and 500 codes"),
    (("org", "codes", "lyon", "1", "--label", "a", "--label", "b"), "2 labels for 1 code(s)"),
])
def test_cli_membership__errors_are_a_message_and_exit_1(node_dir, database_url, capsys, args, message):
    """Unknown organisation or user, not a member, unreadable file, bad counts: one line, exit 1."""
    code, _, err = civic(capsys, node_dir, *args)
    assert code == 1 and message in err and "Traceback" not in err
    assert count(database_url, VerificationCode) == 0


def test_cli_membership__a_bad_census_file_imports_nothing(node_dir, database_url, capsys, tmp_path):
    """Invalid lines are named with their numbers and nothing of the file is imported; a file that
    is not UTF-8 is refused. As a separate process too: no traceback, exit 1."""
    census = tmp_path / "census.txt"
    census.write_bytes(b"ab1234\n---\ncd5678\n" + b"e" * 63 + b"\n")
    code, _, err = civic(capsys, node_dir, "org", "census", "lyon", str(census))
    assert code == 1 and "invalid line(s) 2 (no identifier), 4 (looks like a hash" in err
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Jos\xe9\n".encode("latin-1"))
    code, _, err = civic(capsys, node_dir, "org", "census", "lyon", str(latin))
    assert code == 1 and "not UTF-8 text" in err
    result = subprocess.run([CIVIC, "org", "census", "lyon", str(census), "--data-dir", str(node_dir)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "civic: error: the census was not imported" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert count(database_url, CensusEntry) == 0
