"""Savepoints nest in the session's transaction on SQLite as on PostgreSQL (node/db.py): what a
released savepoint wrote is undone by the transaction's rollback, and a savepoint rolled back
alone leaves the transaction's other writes in place."""

from __future__ import annotations

from sqlalchemy import func, select

from node.models import DomainBlock


async def _blocks(sessions) -> set[str]:
    async with sessions() as s:
        return set(await s.scalars(select(DomainBlock.domain)))


async def test_savepoint__released_before_any_write_is_undone_by_the_rollback(sessions):
    async with sessions() as s, s.begin():
        await s.scalar(select(func.count()).select_from(DomainBlock))  # a read first: no BEGIN yet
        async with s.begin_nested():
            s.add(DomainBlock(domain="first.example"))
        await s.rollback()
    assert await _blocks(sessions) == set()


async def test_savepoint__rolled_back_alone_keeps_the_rest_of_the_transaction(sessions):
    async with sessions() as s, s.begin():
        async with s.begin_nested():
            s.add(DomainBlock(domain="kept.example"))
        nested = await s.begin_nested()
        s.add(DomainBlock(domain="undone.example"))
        await s.flush()
        await nested.rollback()
        s.add(DomainBlock(domain="after.example"))
    assert await _blocks(sessions) == {"kept.example", "after.example"}
