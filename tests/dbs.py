"""Test databases: a fresh SQLite file, and — when CIVIC_TEST_DATABASE_URL is set — PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import uuid
from concurrent.futures import Future, ThreadPoolExecutor

import asyncpg
from sqlalchemy.engine import make_url

PG_ENV = "CIVIC_TEST_DATABASE_URL"


def pg_server_url() -> str | None:
    """The PostgreSQL server URL from the environment, normalised to the asyncpg driver."""
    raw = os.environ.get(PG_ENV)
    if not raw:
        return None
    url = make_url(raw)
    return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def backends() -> list[str]:
    return ["sqlite", "postgresql"] if pg_server_url() else ["sqlite"]


def _dsn(url: str, database: str) -> str:
    u = make_url(url).set(drivername="postgresql", database=database)
    return u.render_as_string(hide_password=False)


async def _on_server(statement: str) -> None:
    """Run one statement on the test server's own database (CREATE/DROP DATABASE)."""
    server = pg_server_url()
    assert server
    conn = await asyncpg.connect(_dsn(server, make_url(server).database or "postgres"))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _named(name: str) -> str:
    return make_url(pg_server_url()).set(database=name).render_as_string(hide_password=False)


async def create_pg_database(template: str | None = None) -> str:
    """Create a database on the test server (empty, or a copy of ``template``); return its URL."""
    name = f"civic_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    await _on_server(f'CREATE DATABASE "{name}"{copy}')
    return _named(name)


async def drop_pg_database(url: str) -> None:
    await _on_server(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def sqlite_url(directory) -> str:
    return f"sqlite+aiosqlite:///{directory}/civic.db"


# -- migrated databases, copied from a template migrated once per test run -------------------------
# Running the migrations costs about a second per PostgreSQL database and a few hundred
# milliseconds per SQLite file; the suite makes well over a thousand of them. A template is
# migrated once; each test gets a copy (CREATE DATABASE … TEMPLATE, or a file copy), which holds
# exactly what the migrations made: tests/node/test_migrations.py checks it against the models.
_templates: dict[str, str] = {}

# CREATE DATABASE … TEMPLATE still takes a few hundred milliseconds (the copy is written to the WAL
# and flushed), and DROP DATABASE some more: copies are made ahead, and dropped, on a thread of
# their own while the tests run. Each copy is still made from the template and used by one test.
SPARE_COPIES = 2
_background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="civic-test-databases")
_spares: list[Future] = []
_dropping: list[Future] = []


def _on_thread(coroutine) -> Future:
    """Runs ``coroutine`` on the background thread, in an event loop of its own."""
    return _background.submit(asyncio.run, coroutine)


async def _migrate(url: str) -> None:
    from node.db import create_engine
    from node.migrate import upgrade

    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def migrated_pg_database() -> str:
    """A new, migrated PostgreSQL database; returns its SQLAlchemy URL."""
    if "pg" not in _templates:
        url = await create_pg_database()
        await _migrate(url)
        _templates["pg"] = make_url(url).database
    while len(_spares) < SPARE_COPIES + 1:
        _spares.append(_on_thread(create_pg_database(template=_templates["pg"])))
    return await asyncio.wrap_future(_spares.pop(0))


def drop_pg_database_later(url: str) -> None:
    """Drops the database on the background thread; drop_templates() waits for it."""
    _dropping.append(_on_thread(drop_pg_database(url)))


async def migrated_sqlite(directory) -> str:
    """A migrated SQLite database file in ``directory``; returns its SQLAlchemy URL."""
    import shutil
    import tempfile
    from pathlib import Path

    if "sqlite" not in _templates:
        folder = tempfile.mkdtemp(prefix="civic-template-")
        await _migrate(sqlite_url(folder))
        _templates["sqlite"] = str(Path(folder) / "civic.db")
    shutil.copyfile(_templates["sqlite"], Path(directory) / "civic.db")
    return sqlite_url(directory)


async def drop_templates() -> None:
    """At the end of the run: the copies made ahead, the PostgreSQL template and the SQLite
    template's folder, once the drops on the background thread are done."""
    import shutil
    from pathlib import Path

    while _spares:
        spare = _spares.pop()
        try:
            drop_pg_database_later(await asyncio.wrap_future(spare))
        except (asyncpg.PostgresError, OSError):  # a copy that could not be made: nothing to drop
            pass
    while _dropping:
        await asyncio.wrap_future(_dropping.pop(0))
    if "pg" in _templates:
        await drop_pg_database(_named(_templates.pop("pg")))
    if "sqlite" in _templates:
        shutil.rmtree(Path(_templates.pop("sqlite")).parent, ignore_errors=True)
