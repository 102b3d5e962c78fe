"""What a write changed, as the pages see it: the rows each session writes, turned into scopes at commit.

Every session of the node (node.db.session_factory) records the rows it inserts, updates and
deletes — ORM objects when they are flushed, and the rows an ``update()``/``delete()`` statement
is about to change, read with the same condition just before it runs. At commit (of any
transaction: ``writing()``, ``transaction()`` or a plain ``session.begin()``) the rows become scopes
through the rules of node/change_rules.py (:data:`RULES`), one place for the whole node.

The scopes of one transaction are announced to the node's other processes with the commit
(PostgreSQL NOTIFY, node.db.announce's channel) and, once committed, given to this process's
subscribers (:func:`subscribe`; the federation runtime keeps a :class:`Versions` of them that the
page cache reads). Rows are resolved in the committing transaction (node/change_rules.py
``Lookup``), with a small memo of what never changes.

The scope names (``org()``, ``discussion()``, ``EVERYTHING``…) are defined in node/change_rules.py
and re-exported here: the pages and services that declare or touch scopes use this module.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import event, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import ORMExecuteState, Session, attributes

# The scope names are re-exported (the F401 lines): callers write ``changes.org(...)`` beside
# ``changes.touch(...)``.
from node.change_rules import (
    EVERYTHING,
    IGNORED,
    RULES,
    SITE,  # noqa: F401
    Lookup,
    actor,  # noqa: F401
    budget,  # noqa: F401
    campaign,  # noqa: F401
    discussion,  # noqa: F401
    forget,
    org,  # noqa: F401
    poll,  # noqa: F401
    profile,  # noqa: F401
    proposal,  # noqa: F401
    questionnaire,  # noqa: F401
    reader,  # noqa: F401
    scopes_of,
)

# ``as``: a re-export, which the parameters named ``session`` below may shadow.
from node.change_rules import session as session

CHANGES = "civic_changes"  # the PostgreSQL channel the node's processes listen to (node.db.listen)
# A NOTIFY in the transaction: sent at its commit, dropped on rollback (node.db.announce too).
NOTIFY = text("SELECT pg_notify(:channel, :what)")
PREFIX = "content"  # a payload on the change channel: "content <origin> <scope> <scope>…"
MAX_PAYLOAD = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more
MAX_ROWS = 200  # an update or delete of more rows than this changes everything
_TRACKER = "civic_changes"
_RECORDS = "civic_changes_rows"
_DONE = "civic_changes_done"
log = logging.getLogger(__name__)


# -- recording the rows a session writes -----------------------------------------------------------

@dataclass(frozen=True)
class Row:
    table: str
    event: str
    values: dict
    written: frozenset[str] | None = None


@dataclass
class Tracker:
    """One per session factory: this process's subscribers, an id for its own announcements
    (so that it does not bump twice what it heard from itself), and the lookups' memo."""

    origin: str = field(default_factory=lambda: secrets.token_hex(6))
    subscribers: list[Callable[[frozenset[str]], None]] = field(default_factory=list)
    memo: dict = field(default_factory=dict)


def tracker_info() -> dict:
    """The ``info`` of a new session factory: its sessions record what they write."""
    return {_TRACKER: Tracker()}


def _tracker(sessions) -> Tracker | None:
    info = getattr(sessions, "kw", {}).get("info") or {}
    return info.get(_TRACKER)


def subscribe(sessions, callback: Callable[[frozenset[str]], None]) -> str | None:
    """Call ``callback(scopes)`` after each commit of a session of ``sessions`` that changed
    something pages show; returns the origin id its announcements carry (None: not tracked)."""
    tracker = _tracker(sessions)
    if tracker is None:
        return None
    tracker.subscribers.append(callback)
    return tracker.origin


def touch(session, *scopes: str) -> None:
    """Declare scopes this transaction changes beyond the rows it writes (rarely needed)."""
    sync = getattr(session, "sync_session", session)
    sync.info.setdefault(_RECORDS, []).append(Row("", "touch", {"scopes": scopes}))


def _record(session: Session, row: Row) -> None:
    session.info.setdefault(_RECORDS, []).append(row)


def inserted(session, table: str, rows: Iterable[dict]) -> None:
    """Rows a Core ``INSERT`` wrote through ``session.connection()`` (many at once, which the
    tracker does not see): recorded as the ORM's flush records its inserts, so that their scopes
    come from :data:`RULES` like any other row's. Each row gives its rule's columns (an ``id``
    when the rule reads it)."""
    sync = getattr(session, "sync_session", session)
    tracker = sync.info.get(_TRACKER)
    if tracker is None or table in IGNORED:
        return
    rule = RULES.get(table)
    if rule is None:
        _record(sync, Row("", "touch", {"scopes": (EVERYTHING,)}))
        return
    for values in rows:
        forget(tracker.memo, table, values.get("id"))
        _record(sync, Row(table, "insert", {name: values.get(name) for name in rule.columns}))


def _values(obj, columns: tuple[str, ...]) -> dict:
    return {name: getattr(obj, name, None) for name in columns}


def _written(obj) -> frozenset[str]:
    state = attributes.instance_state(obj)
    changed = set()
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if history.added and list(history.added) != list(history.deleted):
            changed.add(attr.key)
    return frozenset(changed)


def _after_flush(session: Session, _context) -> None:
    tracker = session.info.get(_TRACKER)
    if tracker is None:
        return
    for event_name, objects in (("insert", session.new), ("update", session.dirty),
                                ("delete", session.deleted)):
        for obj in objects:
            table = getattr(obj, "__tablename__", "")
            if table in IGNORED:
                continue
            if event_name == "insert":
                forget(tracker.memo, table, getattr(obj, "id", None))
            rule = RULES.get(table)
            columns = rule.columns if rule else ()
            written = _written(obj) if event_name == "update" else None
            if event_name == "update" and not written:
                continue
            _record(session, Row(table, event_name, _values(obj, columns), written))


def _statement_columns(statement) -> frozenset[str] | None:
    values = getattr(statement, "_values", None)
    if not values:
        return None
    return frozenset(getattr(key, "key", None) or getattr(key, "name", None) or str(key) for key in values)


def _before_statement(state: ORMExecuteState) -> None:
    """An ``update()``/``delete()`` (or ``insert()``) statement writes rows the ORM never sees:
    read the rows it is about to change, with its own condition (at most MAX_ROWS)."""
    session = state.session
    if _TRACKER not in session.info or not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", "")
    if name in IGNORED:
        return
    rule = RULES.get(name)
    event_name = "insert" if state.is_insert else "update" if state.is_update else "delete"
    written = _statement_columns(state.statement) if state.is_update else None
    if rule is not None and event_name == "insert" and not rule.inserts:
        return
    if rule is not None and event_name == "update" and rule.watched is not None \
            and written is not None and not rule.watched.intersection(written):
        return  # an update of columns no page shows
    if rule is None or state.is_insert or state.statement.whereclause is None:
        _record(session, Row("", "touch", {"scopes": (EVERYTHING,)}))
        return
    columns = [table.c[column] for column in rule.columns]
    if not columns:
        _record(session, Row(name, event_name, {}, written))
        return
    rows = session.execute(select(*columns).where(state.statement.whereclause).limit(MAX_ROWS + 1)).all()
    if len(rows) > MAX_ROWS:
        _record(session, Row("", "touch", {"scopes": (EVERYTHING,)}))
        return
    for row in rows:
        _record(session, Row(name, event_name, dict(row._mapping), written))


def resolve(session: Session, rows: list[Row], memo: dict) -> frozenset[str]:
    """The scopes of the recorded rows, read in ``session``'s transaction."""
    lookup, scopes = Lookup(session, memo), set()
    lookup.know_locality({row.values.get(rule.actor_column) for row in rows
                          if (rule := RULES.get(row.table)) is not None and rule.actor_column})
    for row in rows:
        if row.event == "touch":
            scopes.update(row.values["scopes"])
        else:
            try:
                scopes |= scopes_of(row.table, row.values, lookup, row.event, row.written)
            except SQLAlchemyError:
                raise  # the transaction is failing: so does its commit
            except Exception:  # a rule's mistake must not refuse a write: every page is dropped
                log.exception("no scopes for a row of %s; everything changed", row.table)
                scopes.add(EVERYTHING)
        if EVERYTHING in scopes:
            return frozenset({EVERYTHING})
    return frozenset(scopes)


def payload(origin: str, scopes: Iterable[str]) -> str:
    """What the change channel carries: ``content <origin> <scopes…>``; a bare ``content`` when
    everything changed or the scopes would not fit (as other writers announce it: PostgreSQL
    merges the same payload sent twice in one transaction)."""
    scopes = set(scopes)
    text_ = " ".join([PREFIX, origin, *sorted(scopes)])
    return PREFIX if EVERYTHING in scopes or len(text_.encode()) > MAX_PAYLOAD else text_


def parse(what: str) -> tuple[str, frozenset[str]] | None:
    """(origin, scopes) of a payload on the change channel; None when it is about something else
    (the inbox, the outbox…). A bare ``content`` or ``*`` changed everything."""
    if what == EVERYTHING:
        return "", frozenset({EVERYTHING})
    parts = what.split()
    if not parts or parts[0] != PREFIX:
        return None
    if len(parts) < 3:
        return "", frozenset({EVERYTHING})
    return parts[1], frozenset(parts[2:])


def _before_commit(session: Session) -> None:
    tracker = session.info.get(_TRACKER)
    if tracker is None:
        return
    session.flush()
    rows = session.info.pop(_RECORDS, None)
    if not rows:
        return
    scopes = resolve(session, rows, tracker.memo)
    if not scopes:
        return
    session.info[_DONE] = scopes
    if session.get_bind().dialect.name == "postgresql":
        session.execute(NOTIFY, {"channel": CHANGES, "what": payload(tracker.origin, scopes)})


def _after_commit(session: Session) -> None:
    scopes = session.info.pop(_DONE, None)
    tracker = session.info.get(_TRACKER)
    if scopes and tracker is not None:
        for callback in tracker.subscribers:
            callback(scopes)


def _after_rollback(session: Session, previous) -> None:
    if previous.parent is None:  # the whole transaction; a savepoint's rows may be over-counted
        session.info.pop(_RECORDS, None)
        session.info.pop(_DONE, None)


class TrackedSession(Session):
    """The node's sessions: they record what they write (see the module docstring)."""


event.listen(TrackedSession, "after_flush", _after_flush)
event.listen(TrackedSession, "do_orm_execute", _before_statement)
event.listen(TrackedSession, "before_commit", _before_commit)
event.listen(TrackedSession, "after_commit", _after_commit)
event.listen(TrackedSession, "after_soft_rollback", _after_rollback)


class Versions:
    """The clock of changes this process knows of, per scope: a page rendered at clock ``seen``
    that depends on ``scopes`` is current while :meth:`latest` of them is not after ``seen``."""

    MAX_SCOPES = 100_000

    def __init__(self) -> None:
        self.clock = 0
        self._everything = 0
        self._at: dict[str, int] = {}

    def bump(self, scopes: Iterable[str]) -> None:
        self.clock += 1
        scopes = set(scopes)
        if EVERYTHING in scopes or len(self._at) + len(scopes) > self.MAX_SCOPES:
            self._everything = self.clock
            self._at.clear()
            return
        for scope in scopes:
            self._at[scope] = self.clock

    def latest(self, scopes: Iterable[str] | None) -> int:
        """The clock of the last change of any of ``scopes`` (None: of anything)."""
        if scopes is None:
            return self.clock
        at = self._at.get
        return max(self._everything, *(at(scope, 0) for scope in scopes)) if scopes else self._everything
