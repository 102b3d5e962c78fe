"""Fixtures of the fault tests: a PostgreSQL server of their own (tests/faults/private_pg.py).

The tests stop and crash that server, so they run one at a time on one xdist worker (each module
marks itself ``xdist_group("faults")``, honoured under ``--dist loadgroup``). The server is made
once per session and removed at the end, also when a test failed or left it stopped.
"""

from __future__ import annotations

import atexit

import pytest

from node.db import create_engine
from node.migrate import upgrade
from tests.faults.private_pg import PrivatePostgres, missing

TEMPLATE = "civic_fault_template"


@pytest.fixture(scope="session")
def private_pg():
    """The running private server, with a migrated template database."""
    why = missing()
    if why:
        pytest.skip(f"no private PostgreSQL server for the fault tests: {why}")
    server = PrivatePostgres()
    atexit.register(server.destroy)  # also when the session ends without running finalizers
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def _template(private_pg) -> str:
    import asyncio

    async def make() -> str:
        url = await private_pg.create_database()
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
        return url.rsplit("/", 1)[1]

    return asyncio.run(make())


@pytest.fixture
def pg(private_pg):
    """The private server, running at the start of each test whatever the last one left."""
    private_pg.ensure_running()
    return private_pg


@pytest.fixture
async def pg_url(pg, _template) -> str:
    """A new migrated database on the private server (a copy of the session's template)."""
    return await pg.create_database(template=_template)
