"""Test databases: a fresh SQLite file, and — when CIVIC_TEST_DATABASE_URL is set — PostgreSQL."""

from __future__ import annotations

import os
import uuid

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


async def create_pg_database() -> str:
    """Create an empty database on the test server; return its SQLAlchemy URL."""
    server = pg_server_url()
    assert server
    name = f"civic_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(_dsn(server, make_url(server).database or "postgres"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


async def drop_pg_database(url: str) -> None:
    server = pg_server_url()
    assert server
    name = make_url(url).database
    conn = await asyncpg.connect(_dsn(server, make_url(server).database or "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def sqlite_url(directory) -> str:
    return f"sqlite+aiosqlite:///{directory}/civic.db"
