"""One row fails alone (SECURITY.md rule 13): what is worth retrying, and the reason kept.

Inbox processing, fan-out and delivery each work through rows (inbound activities, outbox events,
deliveries). Whatever one row raises is recorded on that row with its reason and the queue moves on;
only an error that is not the row's fault — the database or the network went away — is retried.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

ERROR_LIMIT = 1000  # characters of a reason kept in a row
log = logging.getLogger(__name__)
# SQLSTATE classes of a server that is away: 08 connection exception, 57 operator intervention
# (shutting down, starting up, crash recovery); 53300 too many connections.
_AWAY_SQLSTATE_CLASSES = ("08", "57")
_AWAY_SQLSTATES = ("53300",)


def _away(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError | InterfaceError | ConnectionError | TimeoutError):
        return True
    state = str(getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None) or "")
    return state[:2] in _AWAY_SQLSTATE_CLASSES or state in _AWAY_SQLSTATES


def transient(exc: BaseException) -> bool:
    """An error worth retrying: the database or the network went away, not the row's fault.

    Looks through what ``exc`` wraps: SQLAlchemy wraps asyncpg's CannotConnectNowError (a server
    starting up or shutting down) in a plain DBAPIError, recognised by its SQLSTATE. Pages answer
    503 for the same errors (web/errors.py), the inbox too, so a sender retries instead of
    dropping its activity."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if _away(current):
            return True
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return False


def describe(exc: BaseException) -> str:
    """The reason kept in a failed row: the exception's type and the first line of its message."""
    lines = str(exc).splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")[:ERROR_LIMIT]


class Outage:
    """Logs a database outage once, not a traceback per request: a warning at the first failed
    request, then at most one summary per ``every`` seconds while requests keep failing. Failures
    further apart than ``quiet`` seconds are a new outage (pages served from the page cache in
    between say nothing about the database, so a success does not end an outage)."""

    def __init__(self, every: float = 60.0, quiet: float = 30.0, clock=time.monotonic):
        self.every, self.quiet, self._clock = every, quiet, clock
        self.started: float | None = None
        self._last_failure = self._last_log = 0.0
        self.failures = 0

    def failed(self, exc: BaseException) -> None:
        now = self._clock()
        if self.started is None or now - self._last_failure > self.quiet:
            self.started, self._last_log, self.failures = now, now, 0
            log.warning("the database cannot be reached (%s): answering 503 until it is back",
                        describe(exc))
        elif now - self._last_log >= self.every:
            self._last_log = now
            log.warning("the database still cannot be reached after %.0f s (%d requests answered "
                        "503 so far): %s", now - self.started, self.failures + 1, describe(exc))
        self._last_failure = now
        self.failures += 1


OUTAGE = Outage()  # per process: each process of the node has its own connections and log


def log_failure(logger: logging.Logger, exc: BaseException, message: str, *args) -> None:
    """A background pass failed: while the database is away, one line per outage (OUTAGE), not a
    traceback per pass; anything else is a bug, logged with its traceback."""
    if transient(exc):
        OUTAGE.failed(exc)
    else:
        logger.error(message, *args, exc_info=exc)
