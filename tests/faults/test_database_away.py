"""What the web layer counts as "the database is away" (503) rather than a bug (500), and how an
outage is logged: once, then a summary at most once a minute, not a traceback per request."""

from __future__ import annotations

import logging

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from federation.isolation import Outage
from federation.isolation import transient as database_away


def wrapped(error: Exception, kind=DBAPIError) -> Exception:
    """``error`` as SQLAlchemy hands it to a handler: wrapped, with the original as its cause."""
    try:
        try:
            raise error
        except Exception as original:
            raise kind("SELECT 1", None, original) from original
    except kind as exc:
        return exc


@pytest.mark.parametrize("error", [
    ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
    TimeoutError(),
    wrapped(asyncpg.exceptions.CannotConnectNowError("the database system is starting up")),
    wrapped(asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command")),
    wrapped(asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already")),
    wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")),
], ids=["refused", "timeout", "starting-up", "shutting-down", "too-many", "closed"])
def test_database_away__a_server_that_cannot_answer(error):
    assert database_away(error)


@pytest.mark.parametrize("error", [
    ValueError("a bug"),
    KeyError("missing"),
    wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key value"), IntegrityError),
    wrapped(asyncpg.exceptions.UndefinedTableError('relation "nope" does not exist')),
], ids=["bug", "key", "unique", "undefined-table"])
def test_database_away__a_bug_or_a_bad_statement_is_not(error):
    assert not database_away(error)


def test_outage__logged_once_then_summed_up_then_a_new_outage(caplog):
    now = [0.0]
    outage = Outage(every=60.0, quiet=30.0, clock=lambda: now[0])
    refused = ConnectionRefusedError(111, "Connect call failed")
    with caplog.at_level(logging.WARNING, logger="federation.isolation"):
        for second in range(50):  # 50 failed requests within 50 s: one line
            now[0] = float(second)
            outage.failed(refused)
        assert len(caplog.records) == 1
        assert "cannot be reached" in caplog.records[0].getMessage()
        assert caplog.records[0].exc_info is None  # no traceback
        for second in range(50, 110):  # the outage goes on: one summary per minute
            now[0] = float(second)
            outage.failed(refused)
        assert len(caplog.records) == 2
        assert "still cannot be reached after 60 s (61 requests" in caplog.records[1].getMessage()
        now[0] = 500.0  # long after the last failure: a new outage, logged again
        outage.failed(refused)
        assert len(caplog.records) == 3
        assert "cannot be reached" in caplog.records[2].getMessage()
        assert outage.failures == 1


def test_log_failure__background_passes_log_an_outage_once_and_a_bug_with_its_traceback(caplog, monkeypatch):
    """Inbox processing, fan-out, the domain blocks and the inbox writer log a failed pass through
    log_failure: while the database is away, one line for the outage, not a traceback per pass."""
    from federation import isolation

    monkeypatch.setattr(isolation, "OUTAGE", Outage())
    here = logging.getLogger("tests.background")
    with caplog.at_level(logging.WARNING):
        for _ in range(20):
            isolation.log_failure(here, ConnectionRefusedError(111, "Connect call failed"), "pass failed")
        assert len(caplog.records) == 1 and caplog.records[0].exc_info is None
        caplog.clear()
        isolation.log_failure(here, ValueError("a bug"), "pass failed")
        assert [(r.getMessage(), r.exc_info is not None) for r in caplog.records] == [("pass failed", True)]
