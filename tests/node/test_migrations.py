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


def _downgrade(connection, revision: str) -> None:
    from alembic import command

    from node.migrate import alembic_config

    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def test_migrations__self_agreements_and_self_supports_stored_earlier_are_removed(database_url):
    """SECURITY.md rule 23: upgrading a node removes an author's agreement with their own
    contribution and support of their own proposal, and recomputes both counts; others' stay."""
    from sqlalchemy import text

    from node.db import session_factory, transaction
    from node.models import Agreement, Contribution, Proposal, ProposalSupport
    from node.services import actors, contributions, discussions, proposals
    from node.uris import Uris

    engine = create_engine(database_url)
    uris = Uris("https://civic.example")
    try:
        async with transaction(session_factory(engine)) as s:
            org = await actors.create_organization(s, uris, "lyon", "Lyon")
            amel = (await actors.create_user(s, uris, "amel", "password-123", "Amel")).actor
            bob = (await actors.create_user(s, uris, "bob", "password-123", "Bob")).actor
            d = await discussions.open_discussion(s, uris, org, "parc", {"fr": "Parc"}, summary="s", body="b")
            c = await contributions.contribute(s, uris, d, amel, "Un jardin")
            p = await proposals.create(s, uris, org, amel, "Un banc", "<p>Au parc</p>", publish=True)
            await contributions.agree(s, uris, c, bob)
            # What the node allowed before the rule: the author's own agreement and support.
            s.add(Agreement(ap_id=f"{amel.ap_id}#likes/self", contribution_id=c.id, actor_id=amel.id))
            c.agree_count += 1
            s.add(ProposalSupport(ap_id=f"{amel.ap_id}#likes/p", proposal_id=p.id, actor_id=amel.id))
            p.support_count += 1
            ids = (c.id, p.id)
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade, "c7a1e5f0a003")
        await upgrade(engine)
        async with session_factory(engine)() as s:
            contribution = await s.get(Contribution, ids[0])
            assert contribution.agree_count == 1
            assert (await s.execute(text("SELECT count(*) FROM agreements"))).scalar() == 1
            assert (await s.get(Proposal, ids[1])).support_count == 0
            assert (await s.execute(text("SELECT count(*) FROM proposal_supports"))).scalar() == 0
    finally:
        await engine.dispose()


async def test_migrations__activity_columns_come_and_go_without_losing_deliveries(database_url):
    """Migration 009 adds and removes the activities' object/level columns in place: on SQLite a
    copied table would take every delivery with it (ON DELETE CASCADE)."""
    from node.db import session_factory, transaction
    from node.models import Activity, Delivery
    from node.services import actors
    from node.uris import Uris

    engine = create_engine(database_url)
    try:
        async with transaction(session_factory(engine)) as s:
            org = await actors.create_organization(s, Uris("https://civic.example"), "lyon", "Lyon")
            activity = Activity(ap_id="https://civic.example/activities/1", actor_id=org.id,
                                type="Create", document={}, level="followers", organization_id=org.id)
            s.add(activity)
            await s.flush()
            s.add(Delivery(activity_id=activity.id, inbox="https://b.example/inbox", host="b.example",
                           state="queued", attempts=0))
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade, "c7a1e5f0a007")
        assert await _counts(engine) == (1, 1)
        await upgrade(engine)
        assert await _counts(engine) == (1, 1)
    finally:
        await engine.dispose()


async def _counts(engine) -> tuple[int, int]:
    """(activities, deliveries) stored."""
    from sqlalchemy import text

    async with engine.connect() as conn:
        return ((await conn.execute(text("SELECT count(*) FROM activities"))).scalar(),
                (await conn.execute(text("SELECT count(*) FROM deliveries"))).scalar())
