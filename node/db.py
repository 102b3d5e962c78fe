"""Database engines and sessions: SQLite (WAL) by default, PostgreSQL through asyncpg."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from node.changes import CHANGES, NOTIFY, TrackedSession, tracker_info
from node.errors import ConfigError


def is_sqlite(url_or_engine) -> bool:
    url = str(getattr(url_or_engine, "url", url_or_engine))
    return url.startswith("sqlite")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; NORMAL sync is durable across a process crash
    # (the WAL is fsynced at checkpoints) and is the usual choice for WAL mode.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _begin_before_savepoint(connection, _name) -> None:
    """Python's sqlite3 opens a transaction only before INSERT/UPDATE/DELETE: a SAVEPOINT taken
    before the first write would itself be the outermost transaction, and releasing it would
    commit everything so far — a later rollback could not undo it. BEGIN first, so a savepoint is
    always nested in the session's transaction (SECURITY.md rule 13: nothing half-written)."""
    raw = connection.connection.dbapi_connection
    if not getattr(raw, "_connection", raw).in_transaction:  # aiosqlite's adapter, or sqlite3
        connection.exec_driver_sql("BEGIN")


CONNECT_TIMEOUT = 10.0  # seconds to open one PostgreSQL connection


def create_engine(url: str, **kwargs) -> AsyncEngine:
    """An async engine with the pragmas (SQLite) or pool settings (PostgreSQL) the node relies on."""
    if is_sqlite(url):
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "savepoint", _begin_before_savepoint)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    # After a database restart every pooled connection is dead: each is checked when lent and
    # replaced, so the node recovers by itself. A server that does not answer at all fails a
    # connection attempt after CONNECT_TIMEOUT instead of asyncpg's 60 s, so that requests get
    # their 503 (web/errors.py) promptly rather than piling up.
    kwargs.setdefault("pool_pre_ping", True)
    kwargs["connect_args"] = {"timeout": CONNECT_TIMEOUT, **kwargs.get("connect_args", {})}
    return create_async_engine(url, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that record what they write: at commit, the scopes of the pages it changed are
    announced to the node's processes (node/changes.py)."""
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=TrackedSession,
                              info=tracker_info())


async def check_connection(engine: AsyncEngine) -> None:
    """Raise ConfigError with one clear sentence when the database cannot be reached."""
    try:
        async with asyncio.timeout(10):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except (OperationalError, DBAPIError, OSError, sqlite3.Error, TimeoutError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise ConfigError(f"cannot reach the database {engine.url.render_as_string()}: {reason}") from None


_WRITE_LOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _write_lock(sessions: async_sessionmaker[AsyncSession]) -> asyncio.Lock | None:
    """SQLite has one writer: writers of one process queue on an asyncio lock instead of
    spinning in SQLite's busy handler (which sleeps and ruins latency under load)."""
    engine = sessions.kw.get("bind")
    if engine is None or not is_sqlite(engine):
        return None
    lock = _WRITE_LOCKS.get(engine.sync_engine)
    if lock is None:
        lock = _WRITE_LOCKS[engine.sync_engine] = asyncio.Lock()
    return lock


@asynccontextmanager
async def writing(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A write transaction; on SQLite, taken in turn with the process's other writers."""
    lock = _write_lock(sessions)
    if lock is None:
        async with sessions() as session, session.begin():
            yield session
        return
    async with lock, sessions() as session, session.begin():
        yield session


@asynccontextmanager
async def writing_connection(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncConnection]:
    """A write transaction on a bare connection, without an ORM session: for many rows of a table
    no page shows, written by one statement (the inbox's group commit), where a session's own
    cost would be most of the work. Nothing is change-tracked here (node/changes.py). On SQLite,
    taken in turn with the process's other writers."""
    engine = sessions.kw["bind"]
    async with _write_lock(sessions) or contextlib.nullcontext(), engine.begin() as connection:
        yield connection


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on any error."""
    async with writing(sessions) as session:
        yield session


# -- changes between the processes of one node (PostgreSQL LISTEN/NOTIFY) -------------------------

log = logging.getLogger(__name__)


def _dialect(session: AsyncSession | AsyncConnection) -> str:
    if isinstance(session, AsyncConnection):
        return session.dialect.name
    return session.get_bind().dialect.name


async def announce(session: AsyncSession | AsyncConnection, what: str) -> None:
    """Tell the node's other processes that ``what`` changed ("inbox", "outbox", "blocks"; what
    pages show is announced with each commit that changes it, node/changes.py).

    On PostgreSQL a NOTIFY in the session's (or connection's) transaction: sent at commit,
    dropped on rollback, repeated ones merged. On SQLite nothing: the other processes notice by
    polling."""
    if _dialect(session) == "postgresql":
        await session.execute(NOTIFY, {"channel": CHANGES, "what": what})


async def listen(engine: AsyncEngine, on_change: Callable[[str], None], stop: asyncio.Event,
                 retry: float = 5.0, ready: asyncio.Event | None = None) -> None:
    """Until ``stop`` is set, call ``on_change(what)`` for each change announced by any process of
    this node (PostgreSQL; returns at once on SQLite). A dedicated connection; when it is lost,
    reconnects after ``retry`` seconds and calls ``on_change("*")``: something may have been missed.
    ``ready`` is set once announcements are being received."""
    if is_sqlite(engine):
        return
    import asyncpg

    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    first = True
    while not stop.is_set():
        connection = None
        try:
            connection = await asyncpg.connect(dsn, timeout=10)
            lost = asyncio.Event()
            connection.add_termination_listener(lambda _connection, lost=lost: lost.set())
            await connection.add_listener(CHANGES, lambda _c, _pid, _channel, what: on_change(what))
            if not first:
                on_change("*")
            first = False
            if ready is not None:
                ready.set()
            await _first_of(stop, lost)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("listening for changes failed (%s); retrying in %.0f s", exc, retry)
        finally:
            if connection is not None and not connection.is_closed():
                await connection.close()
        if not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), retry)


async def _first_of(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
