"""Shared fixtures: settings, a migrated database on every backend, the app, the worker stepper."""

from __future__ import annotations

import pytest

from node.config import Settings
from node.db import create_engine, session_factory
from node.migrate import upgrade
from node.uris import Uris
from tests.dbs import backends, create_pg_database, drop_pg_database, sqlite_url

BASE = "http://127.0.0.1:18080"


@pytest.fixture(params=backends())
async def database_url(request, tmp_path):
    """An empty, migrated database URL — once per backend (SQLite, and PostgreSQL when configured)."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
    else:
        url = await create_pg_database()
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    yield url
    if request.param == "postgresql":
        await drop_pg_database(url)


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(
        base_url=BASE,
        database_url=database_url,
        data_dir=tmp_path,
        development=True,
        instance_name="Test node",
    )


@pytest.fixture
def uris(settings) -> Uris:
    return Uris(settings.base_url)


@pytest.fixture
async def engine(database_url):
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine):
    return session_factory(engine)
