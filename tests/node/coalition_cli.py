"""The node the `civic coalition …` tests share (the fixture ``node_dir``) and what reads its database."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from civic.cli import main
from node.models import OutboxEvent
from node.services import coalitions
from tests.node.cli_run import db

BASE = "http://127.0.0.1:18093"


# A test module imports the fixture as node_dir_fixture: pytest finds it under its name (node_dir),
# and no test argument shadows an import.
@pytest.fixture(name="node_dir")
def node_dir_fixture(tmp_path, database_url, capsys):
    """An initialised node with the organisations surfrider, lyon and ngo, the account camille,
    and the coalition blue (French and German) founded by surfrider."""
    directory = tmp_path / "node"
    assert main(["init", "--base-url", BASE, "--development", "--database-url", database_url,
                 "--data-dir", str(directory)]) == 0
    for handle, name in (("surfrider", "Surfrider"), ("lyon", "Ville de Lyon"), ("ngo", "Les Amis")):
        assert main(["org", "create", handle, "--name", name, "--data-dir", str(directory)]) == 0
    assert main(["user", "create", "camille", "--password", "password-123", "--data-dir", str(directory)]) == 0
    assert main(["coalition", "create", "blue", "--name", "Blue Coalition", "--org", "surfrider",
                 "--languages", "fr,de", "--summary", "Des océans propres", "--data-dir", str(directory)]) == 0
    capsys.readouterr()
    return directory


def count(database_url, model, *where) -> int:
    return db(database_url, lambda s: s.scalar(select(func.count()).select_from(model).where(*where)))


def states(database_url, coalition="blue") -> dict[str, tuple[str, str]]:
    """{member handle: (role, state)} of a coalition, as stored."""
    async def work(s):
        group = (await coalitions.require(s, coalition)).actor
        rows = await coalitions.members(s, group, states=coalitions.S.ALL)
        return {row.member.username: (row.role, row.state) for row in rows}
    return db(database_url, work)


def events(database_url, kind) -> list[dict]:
    async def work(s):
        return [e.payload for e in await s.scalars(select(OutboxEvent).where(OutboxEvent.kind == kind)
                                                   .order_by(OutboxEvent.id))]
    return db(database_url, work)
