"""Rate limits shared by every process of a node: hit counters stored in the database.

Each key (``"login-ip:203.0.113.7"``, ``"register-ip:2001:db8::/64"`` …) counts hits in fixed
windows of ``window`` seconds, one row per (key, window start), written with one UPSERT. The
decision uses a sliding estimate: the previous window's count, weighted by how much of it still
overlaps the last ``window`` seconds, plus the current count — so a burst at the turn of a window
cannot double the budget. Because the counters live in the database, every `civic serve` process of
a node (PostgreSQL) sees the same counts (SECURITY.md rule 17). Rows are pruned once their window
can no longer matter.
"""

from __future__ import annotations

import hashlib
import time

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from node.db import writing
from node.models import RateCounter

# The clock of every limit (seconds since the epoch); tests replace it to move through windows.
CLOCK = time.time
PRUNE_EVERY = 60.0
MAX_KEY = 200
_last_prune = 0.0


def _stored_key(key: str) -> str:
    """Keys longer than the column keep a readable prefix and a digest of the whole."""
    if len(key) <= MAX_KEY:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{key[:MAX_KEY - 65]}#{digest}"


def _window(now: float, window: float) -> tuple[int, int, float]:
    """(window length in whole seconds, start of the current window, seconds since its start)."""
    size = max(1, int(window))
    start = int(now // size) * size
    return size, start, now - start


def retry_after(stored: int, previous: int, elapsed: float, size: int, limit: int) -> float:
    """Seconds until one more hit fits under ``limit``, given ``stored`` hits in the current window
    and ``previous`` in the one before (0.0: it fits now). Pure, so the arithmetic is tested alone."""
    if previous * (size - elapsed) / size + stored + 1 <= limit:
        return 0.0
    if stored + 1 <= limit:  # fits later in this window, as the previous window's weight shrinks
        return (size - elapsed) - (limit - stored - 1) * size / previous
    if limit < 1:
        return (size - elapsed) + size
    # In the next window the current count becomes the weighted "previous" one.
    return (size - elapsed) + size * (1 - (limit - 1) / stored)


async def _counts(session: AsyncSession, key: str, start: int, size: int) -> tuple[int, int]:
    rows = dict((await session.execute(
        select(RateCounter.window_start, RateCounter.count).where(
            RateCounter.key == key, RateCounter.window_start.in_((start, start - size)))
    )).all())
    return rows.get(start, 0), rows.get(start - size, 0)


async def _increment(session: AsyncSession, key: str, start: int, size: int, by: int = 1) -> int:
    """One UPSERT: insert the window's row with ``by``, or add ``by`` to it; returns the new count."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(RateCounter)
        .values(key=key, window_start=start, count=by, expires_at=start + 2 * size)
        .on_conflict_do_update(index_elements=[RateCounter.key, RateCounter.window_start],
                               set_={"count": RateCounter.count + by})
        .returning(RateCounter.count)
    )
    return int(await session.scalar(statement))


async def hit(sessions: async_sessionmaker[AsyncSession], key: str, limit: int, window: float,
              *, now: float | None = None, count: int = 1) -> float | None:
    """Record one hit for ``key``; None when it is within ``limit`` hits per ``window`` seconds,
    else the seconds until one more would be allowed (for ``Retry-After``). Refused hits count too:
    a client that keeps hammering stays refused. ``count`` records that many hits at once (a
    process that counted locally and adds its counts now: federation.inbox_limits)."""
    now = CLOCK() if now is None else now
    key = _stored_key(key)
    size, start, elapsed = _window(now, window)
    async with writing(sessions) as session:
        total = await _increment(session, key, start, size, count)
        _, previous = await _counts(session, key, start, size)
        await _prune_now_and_then(session, now)
    if retry_after(total - 1, previous, elapsed, size, limit) == 0.0:
        return None
    return retry_after(total, previous, elapsed, size, limit)


async def check(sessions: async_sessionmaker[AsyncSession], key: str, limit: int, window: float,
                *, now: float | None = None) -> float | None:
    """Like :func:`hit` without recording anything: would one more hit be allowed now?"""
    now = CLOCK() if now is None else now
    size, start, elapsed = _window(now, window)
    async with sessions() as session:
        count, previous = await _counts(session, _stored_key(key), start, size)
    wait = retry_after(count, previous, elapsed, size, limit)
    return None if wait == 0.0 else wait


async def refund(sessions: async_sessionmaker[AsyncSession], key: str, window: float,
                 *, now: float | None = None) -> None:
    """Take back one hit of the current window: a log-in is counted before the password is
    checked (so parallel guesses are all counted), and given back when it succeeds."""
    now = CLOCK() if now is None else now
    _, start, _ = _window(now, window)
    async with writing(sessions) as session:
        await session.execute(
            update(RateCounter)
            .where(RateCounter.key == _stored_key(key), RateCounter.window_start == start,
                   RateCounter.count > 0)
            .values(count=RateCounter.count - 1))


async def clear(sessions: async_sessionmaker[AsyncSession], key: str) -> None:
    """Forget every hit of ``key`` (a successful log-in clears its account's failures)."""
    async with writing(sessions) as session:
        await session.execute(delete(RateCounter).where(RateCounter.key == _stored_key(key)))


async def prune(sessions: async_sessionmaker[AsyncSession], *, now: float | None = None) -> int:
    """Delete the rows whose window can no longer matter; returns how many."""
    now = CLOCK() if now is None else now
    async with writing(sessions) as session:
        result = await session.execute(delete(RateCounter).where(RateCounter.expires_at <= now))
    return result.rowcount or 0


async def _prune_now_and_then(session: AsyncSession, now: float) -> None:
    """At most once a minute per process, inside a hit's transaction: the table stays small."""
    global _last_prune
    if abs(now - _last_prune) < PRUNE_EVERY:
        return
    _last_prune = now
    await session.execute(delete(RateCounter).where(RateCounter.expires_at <= now))
