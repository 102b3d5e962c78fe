"""The delivery retry policy: which outcomes are retried, how long we wait, when we give up."""

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from federation.retry import BASE_DELAY, JITTER, MAX_DELAY, backoff, parse_retry_after, retry_delay

DAY = 24 * 3600.0
NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


class FixedRng(random.Random):
    """An rng whose uniform() always returns one end of the range (or its middle)."""

    def __init__(self, where: str):
        super().__init__(0)
        self.where = where

    def uniform(self, a, b):
        return {"low": a, "mid": (a + b) / 2, "high": b}[self.where]


MID = FixedRng("mid")

# (attempts, status, Retry-After, elapsed, expected delay or None)
CASES = [
    # Permanent: the inbox is gone, or the request itself is wrong.
    (1, 404, None, 0, None),
    (1, 410, None, 0, None),
    (1, 400, None, 0, None),
    (1, 401, None, 0, None),
    (1, 403, None, 0, None),
    (1, 413, None, 0, None),
    (1, 422, None, 0, None),
    (1, 301, None, 0, None),
    (1, 308, None, 0, None),
    # Retried: time-outs, throttling, server trouble, network errors (status None).
    (1, 408, None, 0, BASE_DELAY),
    (1, 429, None, 0, BASE_DELAY),
    (1, 500, None, 0, BASE_DELAY),
    (1, 502, None, 0, BASE_DELAY),
    (1, 503, None, 0, BASE_DELAY),
    (1, None, None, 0, BASE_DELAY),
    # Exponential: doubling per attempt, capped at 12 h.
    (2, 500, None, 0, 2 * BASE_DELAY),
    (3, 500, None, 0, 4 * BASE_DELAY),
    (6, None, None, 0, 32 * BASE_DELAY),
    (12, 500, None, 0, MAX_DELAY),
    (10_000, 500, None, 0, MAX_DELAY),
    # Retry-After (delta-seconds) is honoured when longer than our back-off…
    (1, 429, "120", 0, 120.0),
    (1, 503, " 3600 ", 0, 3600.0),
    # …never shortens it (Retry-After: 0 must not become a retry storm)…
    (4, 429, "0", 0, 8 * BASE_DELAY),
    (1, 429, "5", 0, BASE_DELAY),
    # …is capped (a hostile value cannot park the delivery for a year)…
    (1, 429, str(365 * 24 * 3600), 0, MAX_DELAY),
    # …and a garbage value falls back to our back-off.
    (1, 429, "soon", 0, BASE_DELAY),
    (1, 429, "-5", 0, BASE_DELAY),
    # Retry-After as an HTTP-date, relative to now.
    (1, 503, format_datetime(NOW + timedelta(minutes=10), usegmt=True), 0, 600.0),
    (1, 503, format_datetime(NOW - timedelta(minutes=10), usegmt=True), 0, BASE_DELAY),
    # Retry-After does not make a permanent failure retryable.
    (1, 410, "60", 0, None),
    # The give-up horizon (3 days): a retry that would land past it is not scheduled.
    (1, 500, None, 3 * DAY - BASE_DELAY, BASE_DELAY),
    (1, 500, None, 3 * DAY - BASE_DELAY + 1, None),
    (3, 500, None, 3 * DAY, None),
    (1, 429, "7200", 3 * DAY - 3600, None),
]


@pytest.mark.parametrize(("attempts", "status", "retry_after", "elapsed", "expected"), CASES)
def test_retry_delay__table(attempts, status, retry_after, elapsed, expected):
    """Each outcome gets the documented delay (jitter at its middle) or None = stop trying."""
    delay = retry_delay(
        attempts,
        status,
        retry_after,
        elapsed=elapsed,
        give_up_after=3 * DAY,
        rng=MID,
        now=NOW.timestamp(),
    )
    if expected is None:
        assert delay is None
    else:
        assert delay == pytest.approx(expected)


@pytest.mark.parametrize(("where", "factor"), [("low", 1 - JITTER), ("high", 1 + JITTER)])
def test_retry_delay__jitter_bounds(where, factor):
    """The jitter moves the back-off by at most ±20 %."""
    delay = retry_delay(3, 500, None, elapsed=0, give_up_after=DAY, rng=FixedRng(where))
    assert delay == pytest.approx(4 * BASE_DELAY * factor)


def test_retry_delay__jitter_spreads_retries():
    """Deliveries failing together come back at different times."""
    rng = random.Random(42)
    delays = {retry_delay(2, 503, None, elapsed=0, give_up_after=DAY, rng=rng) for _ in range(50)}
    assert len(delays) > 40
    assert all(0.8 * 60 <= d <= 1.2 * 60 for d in delays)


@pytest.mark.parametrize(("attempts", "status"), [(0, 500), (-1, None), (1, 200), (1, 202)])
def test_retry_delay__refuses_nonsense(attempts, status):
    """A zero attempt count or a success status is a caller bug, reported loudly."""
    with pytest.raises(ValueError):
        retry_delay(attempts, status, None, elapsed=0, give_up_after=DAY)


@given(
    attempts=st.integers(min_value=1, max_value=10**6),
    status=st.one_of(st.none(), st.integers(min_value=300, max_value=599)),
    elapsed=st.floats(min_value=0, max_value=10 * DAY),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_retry_delay__never_past_horizon_nor_cap(attempts, status, elapsed, seed):
    """Whatever the outcome, a scheduled retry is positive, capped, and inside the horizon."""
    delay = retry_delay(
        attempts, status, None, elapsed=elapsed, give_up_after=3 * DAY, rng=random.Random(seed)
    )
    if delay is not None:
        assert 0 < delay <= MAX_DELAY * (1 + JITTER)
        assert elapsed + delay <= 3 * DAY


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("30", 30.0),
        ("0", 0.0),
        ("Sat, 01 Mar 2025 12:01:00 GMT", 60.0),
        ("Sat, 01 Mar 2025 11:00:00 GMT", 0.0),
        ("Sat, 01 Mar 2025 12:01:00", None),
        ("tomorrow", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after__forms(header, expected):
    """Both RFC 9110 forms are read; anything else is ignored (our own back-off applies)."""
    assert parse_retry_after(header, NOW.timestamp()) == expected


def test_backoff__doubles_until_cap():
    """Without jitter the sequence is 30, 60, 120 … and then stays at 12 h."""
    delays = [backoff(n, MID) for n in range(1, 16)]
    assert delays[:3] == [30.0, 60.0, 120.0]
    assert all(b >= a for a, b in zip(delays, delays[1:], strict=False))
    assert delays[-1] == MAX_DELAY
