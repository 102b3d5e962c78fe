"""Alembic: an upgraded empty database matches the models, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from node.db import create_engine
from node.migrate import current_revision, head_revision, upgrade
from node.models import Base


def _diff(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


async def test_migrations__upgraded_empty_database_matches_models(database_url):
    """`database_url` is migrated from empty by the fixture; autogenerate finds nothing to do."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
        assert diff == [], f"models and migrations differ: {diff}"
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_migrations__upgrade_is_idempotent(database_url):
    """Running the upgrade again on an up-to-date database changes nothing and does not fail."""
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()
