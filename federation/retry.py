"""When to try a failed delivery again: a pure back-off policy keyed on the HTTP outcome."""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime

# Seconds before the second try. Read at each call, not bound as a default, so that one setting
# (or a test that must finish in seconds) can shorten every back-off at once; a caller may also
# pass ``base_delay`` to override it per call.
BASE_DELAY = 30.0
MAX_DELAY = 12 * 3600.0  # no two tries further apart than this, Retry-After included
JITTER = 0.2  # ±20 %, so that deliveries failing together do not all come back together

# Request Timeout and Too Many Requests say "later", not "never" (RFC 9110 §15.5.9, RFC 6585 §4).
RETRIED_4XX = frozenset({408, 429})


def is_permanent(status: int | None) -> bool:
    """True when trying again cannot help: redirects and client errors except 408 and 429."""
    if status is None or status >= 500:
        return False  # network error or server trouble: the next try may well succeed
    # A redirect is not followed: the signature covers host and path, so the inbox must be
    # re-discovered from the actor document rather than chased.
    return status not in RETRIED_4XX


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks us to wait (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # unparseable: fall back to our own back-off
    if when.tzinfo is None:
        return None  # RFC 9110 §5.6.7 dates are GMT; a zone-less date is not one
    return max(0.0, when.timestamp() - now)


def backoff(attempts: int, rng: random.Random | None = None, base_delay: float | None = None) -> float:
    """Exponential back-off after ``attempts`` tries: 30 s, 60 s, 120 s … capped, with jitter."""
    base = BASE_DELAY if base_delay is None else base_delay
    if base <= 0:
        raise ValueError(f"the base delay must be positive, not {base}")
    # The exponent is bounded so that a huge attempt count cannot overflow the float.
    raw = min(base * 2.0 ** min(attempts - 1, 32), MAX_DELAY)
    spread = (rng or random).uniform(-JITTER, JITTER)
    return raw * (1.0 + spread)


def retry_delay(
    attempts: int,
    status: int | None,
    retry_after: str | None,
    *,
    elapsed: float,
    give_up_after: float,
    rng: random.Random | None = None,
    now: float | None = None,
    base_delay: float | None = None,
) -> float | None:
    """Seconds until the next try after a failed one, or None to stop trying (permanent or too late).

    ``attempts`` counts the tries made so far, the failed one included; ``status`` is the HTTP
    status, None for a network error or time-out; ``elapsed`` is the time since the delivery was
    queued and ``give_up_after`` the horizon past which we stop; ``now`` (epoch seconds) is only
    used to read an HTTP-date ``Retry-After``; ``base_delay`` replaces BASE_DELAY.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    if status is not None and status < 300:
        raise ValueError(f"status {status} is a success, not a failure to retry")
    if is_permanent(status):
        return None
    delay = backoff(attempts, rng, base_delay)
    asked = parse_retry_after(retry_after, time.time() if now is None else now)
    if asked is not None:
        # Honour the server's wish, but never sooner than our own back-off (a Retry-After: 0 must
        # not turn into a retry storm) and never later than the cap (a hostile value cannot park
        # the delivery forever).
        delay = max(delay, min(asked, MAX_DELAY))
    if elapsed + delay > give_up_after:
        return None
    return delay
