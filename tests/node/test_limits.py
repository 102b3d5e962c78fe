"""Rate limits stored in the database (node.services.limits), on every backend (SECURITY.md rule 17)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from node.models import RateCounter
from node.services import limits

T0 = 1_800_000_000.0  # a window start for windows of 60 and 3600 seconds


async def _rows(sessions) -> list[tuple[str, int, int]]:
    async with sessions() as session:
        rows = await session.execute(
            select(RateCounter.key, RateCounter.window_start, RateCounter.count)
            .order_by(RateCounter.key, RateCounter.window_start))
        return [tuple(row) for row in rows.all()]


@pytest.mark.parametrize(
    ("stored", "previous", "elapsed", "limit", "expected"),
    [
        (0, 0, 0.0, 3, 0.0),  # nothing yet: fits
        (2, 0, 10.0, 3, 0.0),  # the third fits
        (3, 0, 10.0, 3, 70.0),  # full: 20 s into the next window, the 3 weigh 2
        (6, 0, 30.0, 3, 30.0 + 60 * (1 - 2 / 6)),  # well over: later in the next window
        (0, 6, 30.0, 3, 30.0 - 2 * 60 / 6),  # the previous window's weight must fall below 2
        (2, 6, 0.0, 3, 60.0),  # 3 fill the budget now: wait for the next window
        (1, 4, 59.0, 3, 0.0),  # the previous window is almost out of sight
    ],
)
def test_retry_after__sliding_estimate(stored, previous, elapsed, limit, expected):
    """Seconds until one more hit fits, for windows of 60 s: previous windows weigh as they overlap."""
    assert limits.retry_after(stored, previous, elapsed, 60, limit) == pytest.approx(expected)


async def test_hit__allows_the_limit_then_refuses_with_the_wait(sessions):
    """Three hits per minute pass, the fourth gets the seconds to wait; the next window is free."""
    results = [await limits.hit(sessions, "login_ip:192.0.2.1", 3, 60, now=T0 + 10) for _ in range(4)]
    assert results[:3] == [None, None, None]
    assert results[3] == pytest.approx(50 + 60 * (1 - 2 / 4))
    assert await _rows(sessions) == [("login_ip:192.0.2.1", int(T0), 4)]  # one row, one UPSERT each
    # Another key has its own budget.
    assert await limits.hit(sessions, "login_ip:192.0.2.2", 3, 60, now=T0 + 10) is None
    # Two windows later nothing weighs any more.
    assert await limits.hit(sessions, "login_ip:192.0.2.1", 3, 60, now=T0 + 125) is None


async def test_hit__the_previous_window_still_counts_at_the_turn(sessions):
    """A burst at the end of one window does not buy a full budget at the start of the next."""
    for _ in range(3):
        assert await limits.hit(sessions, "k", 3, 60, now=T0 + 59) is None
    assert await limits.hit(sessions, "k", 3, 60, now=T0 + 61) is not None
    # Half a window later half of the previous burst still weighs: 3 * 0.5 + 1 (refused) + 1 > 3.
    assert await limits.hit(sessions, "k", 3, 60, now=T0 + 90) is not None
    assert await limits.hit(sessions, "k", 3, 60, now=T0 + 121) is None


async def test_check__records_nothing(sessions):
    """check() answers like hit() without counting."""
    for _ in range(2):
        await limits.hit(sessions, "k", 2, 60, now=T0)
    assert await limits.check(sessions, "k", 2, 60, now=T0) == pytest.approx(60 + 30)
    assert await limits.check(sessions, "other", 2, 60, now=T0) is None
    assert await _rows(sessions) == [("k", int(T0), 2)]


async def test_clear__forgets_a_key(sessions):
    """A successful log-in clears its account's failures, and only those."""
    await limits.hit(sessions, "a", 1, 60, now=T0)
    await limits.hit(sessions, "b", 1, 60, now=T0)
    await limits.clear(sessions, "a")
    assert [row[0] for row in await _rows(sessions)] == ["b"]


async def test_prune__removes_rows_whose_window_no_longer_matters(sessions):
    """Rows live until the end of the window after theirs; then pruning deletes them."""
    await limits.hit(sessions, "short", 5, 60, now=T0)
    await limits.hit(sessions, "long", 5, 3600, now=T0)
    assert await limits.prune(sessions, now=T0 + 119) == 0
    assert await limits.prune(sessions, now=T0 + 120) == 1
    assert [row[0] for row in await _rows(sessions)] == ["long"]


async def test_hit__prunes_now_and_then(sessions, monkeypatch):
    """hit() itself deletes expired rows (at most once a minute per process): the table stays small."""
    monkeypatch.setattr(limits, "_last_prune", 0.0)
    await limits.hit(sessions, "old", 5, 60, now=T0)
    await limits.hit(sessions, "new", 5, 60, now=T0 + 1000)
    assert [row[0] for row in await _rows(sessions)] == ["new"]


async def test_hit__long_keys_are_stored_by_digest(sessions):
    """A key longer than the column keeps its prefix and a digest: two long keys stay apart."""
    first, second = "x" * 300 + "1", "x" * 300 + "2"
    assert await limits.hit(sessions, first, 1, 60, now=T0) is None
    assert await limits.hit(sessions, second, 1, 60, now=T0) is None
    assert await limits.hit(sessions, first, 1, 60, now=T0) is not None
    async with sessions() as session:
        longest = await session.scalar(select(func.max(func.length(RateCounter.key))))
    assert longest <= limits.MAX_KEY


async def test_refund__gives_back_one_hit_of_the_current_window(sessions):
    """A log-in counted before its password was checked is given back when it succeeds."""
    for _ in range(2):
        await limits.hit(sessions, "k", 2, 60, now=T0)
    await limits.refund(sessions, "k", 60, now=T0 + 1)
    assert await limits.hit(sessions, "k", 2, 60, now=T0 + 2) is None
    assert await limits.hit(sessions, "k", 2, 60, now=T0 + 3) is not None
    await limits.refund(sessions, "never-hit", 60, now=T0)
    assert [row[0] for row in await _rows(sessions)] == ["k"]
