"""The delivery worker: claims due deliveries, signs and POSTs them, records each outcome."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import signal
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import aiohttp
from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from federation.fetch import make_client_session
from federation.isolation import describe, log_failure
from federation.retry import retry_delay
from federation.runtime import wait_for_signal
from federation.signatures import sign_headers
from federation.ssrf import UnsafeURL, check_url_syntax
from node.config import Settings, load_settings
from node.db import create_engine, session_factory
from node.models import Activity, Actor, Delivery, DeliveryStates, utcnow

log = logging.getLogger(__name__)

# The declared state graph: what one attempt may turn a delivery into. delivered and failed are
# final, so a delivery recorded as delivered is never claimed, hence never sent, again.
QUEUED, DELIVERED, FAILED = DeliveryStates.queued, DeliveryStates.delivered, DeliveryStates.failed
TRANSITIONS: dict[str, frozenset[str]] = {
    QUEUED: frozenset({DELIVERED, QUEUED, FAILED}),
    DELIVERED: frozenset(),
    FAILED: frozenset(),
}

DEFAULT_LEASE = 300.0  # seconds a claimed row stays ours; renewed while we still work on it
DEFAULT_CONCURRENCY = 64  # requests in flight across all hosts
DEFAULT_TIMEOUT = 30.0  # seconds for one POST, connection included
RUN_LIMIT = 10_000  # rows per pass of run(); the pipeline refills itself within a pass
HOST_BACKLOG = 8  # rows in hand per host, in multiples of its cap, before we claim no more for it
IDLE_POLL = 5.0  # longest idle wait: picks up rows queued by other processes without a wake-up
PAYLOAD_CACHE = 256  # activities whose serialised body we keep
ERROR_LIMIT = 300  # characters of a remote error kept in the row and the log

_t = Delivery.__table__


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery row this worker holds a lease on."""

    id: int
    activity_id: int
    inbox: str
    host: str
    attempts: int
    created_at: datetime


_CLAIMED = [_t.c[name] for name in Claimed.__dataclass_fields__]


@dataclass(frozen=True, slots=True)
class Payload:
    """What every inbox of one activity receives: the body bytes, serialised once, and the signer."""

    body: bytes
    key_id: str
    private_key_pem: str


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one POST came to: an HTTP status, or None with the network error."""

    status: int | None
    retry_after: str | None = None
    error: str | None = None
    permanent: bool = False  # a local reason no retry can fix (no signing key, refused URL)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The row's new state after an attempt, as written back."""

    id: int
    state: str
    attempts: int
    last_status: int | None
    error: str | None
    next_try_at: datetime | None  # None: unchanged (delivered)
    finished_at: datetime | None


def _due():
    now = bindparam("now")
    lease_free = or_(_t.c.locked_until.is_(None), _t.c.locked_until < now)
    return and_(_t.c.state == QUEUED, _t.c.next_try_at <= now, lease_free)


# Built once, executed with parameters: the claim runs per batch, and rebuilding it each time
# cost more than the database work. The claim is two statements in one transaction: pick the ids
# (oldest first; SKIP LOCKED lets concurrent workers take disjoint batches on PostgreSQL, SQLite
# renders nothing: its single writer lock serialises claims), then lease exactly those ids. As one
# statement (UPDATE … WHERE id IN (SELECT … FROM pick)), PostgreSQL planned the join from the due
# rows whenever its statistics predated a large fan-out (not yet analysed: "1 row" where there
# were 10,000), a nested loop of 10,000 × the batch that took half a second per claim; a list
# of ids is looked up by key whatever the statistics say (a few milliseconds). The due condition
# is repeated on the UPDATE so that a row another worker leased in between (SQLite) is left
# alone: RETURNING gives only the rows this claim leased.
_PICK = (
    select(_t.c.id)
    .where(_due(), _t.c.host.not_in(bindparam("busy", expanding=True)))
    .order_by(_t.c.next_try_at, _t.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_CLAIM = (
    update(_t)
    .where(_t.c.id.in_(bindparam("ids", expanding=True)), _due())
    .values(locked_until=bindparam("lease_until"))
    .returning(*_CLAIMED)
)


async def claim_due(
    session: AsyncSession,
    now: datetime,
    lease_until: datetime,
    limit: int,
    exclude_hosts: Sequence[str] = (),
) -> list[Claimed]:
    """Lease up to ``limit`` due rows (oldest first, skipping ``exclude_hosts``): a bounded batch,
    never more than ``limit`` rows in hand per claim."""
    params = {"now": now, "limit": limit, "busy": list(exclude_hosts)}
    ids = list(await session.scalars(_PICK, params))
    if not ids:
        return []
    rows = (await session.execute(_CLAIM, {"ids": ids, "now": now, "lease_until": lease_until})).all()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


def serialise(document: dict) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


async def load_payloads(session: AsyncSession, activity_ids: set[int]) -> dict[int, Payload | str]:
    """Each activity's body and signing key, or the reason it cannot be sent."""
    query = select(Activity.id, Activity.document, Actor.key_id, Actor.private_key_pem)
    query = query.join(Actor, Actor.id == Activity.actor_id).where(Activity.id.in_(activity_ids))
    found: dict[int, Payload | str] = {}
    for activity_id, document, key_id, private_key_pem in await session.execute(query):
        if not key_id or not private_key_pem:
            found[activity_id] = "its actor has no private key on this node"
            continue
        try:
            found[activity_id] = Payload(serialise(document), key_id, private_key_pem)
        except (TypeError, ValueError, RecursionError) as exc:  # fails its own rows only (rule 13)
            found[activity_id] = f"the activity cannot be serialised: {describe(exc)}"
    for missing in activity_ids - found.keys():
        found[missing] = "the activity no longer exists"
    return found


@lru_cache(maxsize=4096)
def refusal(inbox: str, allow_private: bool) -> str | None:
    """Why we will not POST to this URL, or None. Cached: followers' inboxes recur in every fan-out."""
    try:
        # IP-literal hosts never reach the session's checking resolver: check them here, so that
        # an inbox naming a metadata or private address is refused (SECURITY.md rule 5).
        check_url_syntax(inbox, allow_private=allow_private)
    except UnsafeURL as exc:
        return f"refused inbox URL: {exc.reason}"
    return None


async def send(
    http: aiohttp.ClientSession, inbox: str, payload: Payload, client_timeout: aiohttp.ClientTimeout
) -> Attempt:
    """Sign (per request: Date and Host differ) and POST the stored body to one inbox."""
    headers = sign_headers("POST", inbox, payload.body, payload.key_id, payload.private_key_pem)
    try:
        # Redirects are not followed: the signature covers the host and path of this inbox.
        async with http.post(
            inbox, data=payload.body, headers=headers, timeout=client_timeout, allow_redirects=False
        ) as response:
            if 200 <= response.status < 300:
                return Attempt(response.status)
            snippet = (await response.content.read(ERROR_LIMIT)).decode("utf-8", "replace")
            reason = f"HTTP {response.status} {response.reason or ''}: {snippet}".strip(": ")
            return Attempt(response.status, response.headers.get("Retry-After"), reason)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return Attempt(None, error=f"{type(exc).__name__}: {exc}"[:ERROR_LIMIT])


def decide(
    row: Claimed,
    attempt: Attempt,
    now: datetime,
    give_up_after: float,
    rng: random.Random | None = None,
) -> Outcome:
    """The row's next state after ``attempt``: delivered, queued again with a delay, or failed."""
    attempts, status = row.attempts + 1, attempt.status
    if status is not None and 200 <= status < 300:
        return Outcome(row.id, DELIVERED, attempts, status, None, None, now)
    delay = None
    if not attempt.permanent:
        elapsed = (now - row.created_at).total_seconds()
        horizon = {"elapsed": elapsed, "give_up_after": give_up_after, "now": now.timestamp()}
        delay = retry_delay(attempts, status, attempt.retry_after, rng=rng, **horizon)
    if delay is None:
        return Outcome(row.id, FAILED, attempts, status, attempt.error, now, now)
    retry_at = now + timedelta(seconds=delay)
    return Outcome(row.id, QUEUED, attempts, status, attempt.error, retry_at, None)


# Outcome's fields are the columns it writes. Only a row still queued changes, so a final state
# is never overwritten.
_WRITTEN = ("state", "attempts", "last_status", "error", "next_try_at", "finished_at")
_RECORD = (
    update(_t)
    .where(_t.c.id == bindparam("o_id"), _t.c.state == QUEUED)
    .values({**{name: bindparam(f"o_{name}") for name in _WRITTEN}, "locked_until": None})
)
_DELIVERED = (
    update(_t)
    .where(_t.c.id.in_(bindparam("o_ids", expanding=True)), _t.c.state == QUEUED)
    .values(state=DELIVERED, attempts=_t.c.attempts + 1, last_status=bindparam("o_status"),
            error=None, finished_at=bindparam("o_finished"), locked_until=None)
)  # fmt: skip


async def record_outcomes(session: AsyncSession, outcomes: list[Outcome]) -> None:
    """Write many outcomes: deliveries by id list (one UPDATE per status), the rest in one
    executemany, so the common case costs the database almost nothing per row."""
    delivered: dict[int | None, list[Outcome]] = {}
    others = []
    for outcome in outcomes:
        if outcome.state not in TRANSITIONS[QUEUED]:
            raise ValueError(f"undeclared transition {QUEUED} -> {outcome.state}")
        if outcome.state == DELIVERED:
            delivered.setdefault(outcome.last_status, []).append(outcome)
        else:
            others.append(outcome)
    for status, group in delivered.items():
        finished = max(o.finished_at for o in group)
        params = {"o_ids": [o.id for o in group], "o_status": status, "o_finished": finished}
        await session.execute(_DELIVERED, params)
    if others:
        names = ("id", *_WRITTEN)
        params = [{f"o_{name}": getattr(o, name) for name in names} for o in others]
        await session.execute(_RECORD, params)


async def extend_leases(session: AsyncSession, ids: list[int], lease_until: datetime) -> None:
    stmt = update(_t).where(_t.c.id.in_(ids), _t.c.state == QUEUED)
    await session.execute(stmt.values(locked_until=lease_until))


async def next_due(session: AsyncSession, now: datetime) -> datetime | None:
    """When the earliest queued row becomes claimable (its try time, or the end of its lease)."""
    lease_free = or_(_t.c.locked_until.is_(None), _t.c.locked_until < now)
    free = select(func.min(_t.c.next_try_at)).where(_t.c.state == QUEUED, lease_free)
    leased = select(func.min(_t.c.locked_until)).where(_t.c.state == QUEUED, ~lease_free)
    times = [await session.scalar(free), await session.scalar(leased)]
    return min((t for t in times if t is not None), default=None)


class _Recorder:
    """Group commit: outcomes arriving while one transaction runs are written by the next one.

    Each response is flushed at once (no timer): a crash can only lose the outcomes of the
    transaction in progress, so at most those few deliveries may be sent a second time.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions
        self._waiting: list[tuple[Outcome, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None

    async def record(self, outcome: Outcome) -> None:
        """Return once ``outcome`` is committed (or raise the database error)."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((outcome, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                async with self._sessions() as session, session.begin():
                    await record_outcomes(session, [outcome for outcome, _ in batch])
            except Exception as exc:  # handed to every waiter, which logs it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)


class DeliveryWorker:
    """Delivers queued rows; ``run_once`` steps it, ``run`` loops until ``stop`` is set."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        http_session: aiohttp.ClientSession | None = None,
        *,
        now: Callable[[], datetime] | None = None,
        lease: float = DEFAULT_LEASE,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout: float = DEFAULT_TIMEOUT,
        rng: random.Random | None = None,
    ):
        self.settings, self.sessions, self.lease = settings, sessions, lease
        self._http, self._owns_http = http_session, http_session is None
        self._now, self._rng = now or utcnow, rng
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._global = asyncio.Semaphore(concurrency)
        # Rows in hand per host, and one semaphore per such host (dropped with its last row).
        self._load: Counter[str] = Counter()
        self._host_slots: dict[str, asyncio.Semaphore] = {}
        self._host_backlog = HOST_BACKLOG * settings.delivery_per_host
        # Claim in batches, and claim the next batch while one batch is still in hand, so the
        # pipeline never drains between batches.
        self._claim_batch = max(100, concurrency)
        self._recorder = _Recorder(sessions)
        self._payloads: dict[int, Payload | str] = {}
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New rows are queued: stop idling now (called by the fan-out after its commit)."""
        self._wake.set()

    async def close(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.close()
            self._http = None

    async def run_once(self, limit: int = 500) -> int:
        """Deliver up to ``limit`` due rows, claiming more as those in hand finish; return how
        many were attempted. Returns once every claimed row has its outcome recorded."""
        return await self._pump(limit, None)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set, idling until the next due row or a wake-up."""
        while not stop.is_set():
            self._wake.clear()  # before looking, so that a wake-up during the pass is kept
            try:
                if await self._pump(RUN_LIMIT, stop):
                    continue
                async with self.sessions() as session:
                    due = await next_due(session, self._now())
                wait = IDLE_POLL if due is None else (due - self._now()).total_seconds()
            except Exception as exc:  # the worker outlives a database outage or a bug
                log_failure(log, exc, "delivery worker: pass failed; next look in %.0f s", IDLE_POLL)
                wait = IDLE_POLL
            await wait_for_signal(self._wake, stop, min(max(wait, 0.01), IDLE_POLL))

    async def _pump(self, limit: int, stop: asyncio.Event | None) -> int:
        if self._http is None:
            limit_per_host = self.settings.delivery_per_host
            self._http = make_client_session(self.settings, limit_per_host=limit_per_host)
        in_hand: set[asyncio.Task] = set()
        finished = asyncio.Event()  # set by _done; cheaper than asyncio.wait() over all in hand
        pending: set[int] = set()  # leased rows whose outcome is not recorded yet
        keeper = asyncio.create_task(self._keep_leases(pending))
        attempted, drained, blocked = 0, False, False
        try:
            while True:
                want = min(self._claim_batch, limit - attempted)
                stopping = stop is not None and stop.is_set()
                if not (drained or blocked or stopping) and want > 0 and len(in_hand) <= self._claim_batch:
                    busy = [host for host, n in self._load.items() if n >= self._host_backlog]
                    rows = await self._claim(want, busy)
                    attempted += len(rows)
                    # Fewer rows than asked: none are left, unless the rest are on the hosts we
                    # skipped as busy; then claim again once a row in hand has finished.
                    drained, blocked = len(rows) < want and not busy, len(rows) < want and bool(busy)
                    await self._start(rows, in_hand, pending, finished)
                    continue
                if not in_hand:
                    return attempted
                finished.clear()
                await finished.wait()
                blocked = False
        finally:
            keeper.cancel()
            for task in in_hand:  # only when cancelled: their rows are retried after the lease
                task.cancel()

    async def _claim(self, want: int, busy: list[str]) -> list[Claimed]:
        now = self._now()
        async with self.sessions() as session, session.begin():
            lease_until = now + timedelta(seconds=self.lease)
            return await claim_due(session, now, lease_until, want, busy)

    async def _start(
        self, rows: list[Claimed], in_hand: set, pending: set[int], finished: asyncio.Event
    ) -> None:
        if not rows:
            return
        payloads = await self._payloads_for({row.activity_id for row in rows})
        for row in rows:
            pending.add(row.id)
            self._load[row.host] += 1
            per_host = self.settings.delivery_per_host
            slot = self._host_slots.setdefault(row.host, asyncio.Semaphore(per_host))
            task = asyncio.create_task(self._deliver(row, payloads[row.activity_id], slot, pending))
            in_hand.add(task)
            task.add_done_callback(
                lambda done, host=row.host: self._done(done, host, in_hand, finished)
            )

    def _done(self, task: asyncio.Task, host: str, in_hand: set, finished: asyncio.Event) -> None:
        in_hand.discard(task)
        if len(in_hand) <= self._claim_batch:  # the pump only acts below the refill mark
            finished.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task failed: %r", task.exception(), exc_info=task.exception())
        self._load[host] -= 1
        if not self._load[host]:  # no row of this host in hand: nobody holds or awaits its slot
            del self._load[host], self._host_slots[host]

    async def _payloads_for(self, activity_ids: set[int]) -> dict[int, Payload | str]:
        missing = activity_ids - self._payloads.keys()
        if missing:
            async with self.sessions() as session:
                self._payloads.update(await load_payloads(session, missing))
        wanted = {activity_id: self._payloads[activity_id] for activity_id in activity_ids}
        while len(self._payloads) > PAYLOAD_CACHE:  # oldest first (dicts keep insertion order)
            del self._payloads[next(iter(self._payloads))]
        return wanted

    async def _deliver(
        self, row: Claimed, payload: Payload | str, slot: asyncio.Semaphore, pending: set[int]
    ) -> None:
        development = self.settings.development
        reason = payload if isinstance(payload, str) else refusal(row.inbox, development)
        # Host slot first: a request queued behind a busy host must not hold a global slot.
        async with slot, self._global:
            try:
                if reason is None:
                    attempt = await send(self._http, row.inbox, payload, self._timeout)
                else:
                    attempt = Attempt(None, error=reason, permanent=True)
            except Exception as exc:
                # A bug or a bad key, not the network (send() turns those into attempts): this
                # row fails for good with its reason, and the others go on (SECURITY.md rule 13).
                log.exception("delivery %s to %s could not be attempted", row.id, row.inbox)
                attempt = Attempt(None, error=describe(exc)[:ERROR_LIMIT], permanent=True)
        give_up = self.settings.delivery_give_up_seconds
        try:
            outcome = decide(row, attempt, self._now(), give_up, self._rng)
        except Exception as exc:  # e.g. a Retry-After no parser expected: fail the row, not the worker
            log.exception("delivery %s: no decision after %r", row.id, attempt)
            now = self._now()
            outcome = Outcome(row.id, FAILED, row.attempts + 1, attempt.status,
                              describe(exc)[:ERROR_LIMIT], now, now)
        _log_outcome(row, outcome)
        try:
            await self._recorder.record(outcome)
        except Exception as exc:
            what = f"delivery {row.id} to {row.inbox}: outcome {outcome.state} not recorded"
            log.error("%s (%r); the row is tried again when its lease ends", what, exc)
        else:
            pending.discard(row.id)

    async def _keep_leases(self, pending: set[int]) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            if not pending:
                continue
            lease_until = self._now() + timedelta(seconds=self.lease)
            try:
                async with self.sessions() as session, session.begin():
                    await extend_leases(session, sorted(pending), lease_until)
            except SQLAlchemyError as exc:
                log.error("could not renew the lease of %d deliveries: %r", len(pending), exc)


def _log_outcome(row: Claimed, outcome: Outcome) -> None:
    if outcome.state == DELIVERED:
        log.debug("delivered %s to %s (HTTP %s)", row.activity_id, row.inbox, outcome.last_status)
        return
    what = f"delivery {row.id} of activity {row.activity_id} to {row.inbox}"
    if outcome.state == QUEUED:
        retry_at = outcome.next_try_at.isoformat(timespec="seconds")
        log.warning("%s failed (try %d: %s); next try at %s", what, outcome.attempts,
                    outcome.error, retry_at)  # fmt: skip
    else:
        log.error("%s failed for good after %d tries: %s", what, outcome.attempts, outcome.error)


async def run_worker(
    settings: Settings,
    stop: asyncio.Event,
    *,
    lease: float = DEFAULT_LEASE,
    on_start: Callable[[DeliveryWorker], None] | None = None,
) -> None:
    """Build the engine, sessions, HTTP client and worker, and deliver until ``stop`` is set.
    ``on_start`` receives the worker (e.g. so that the fan-out can call its ``wake``)."""
    engine = create_engine(settings.effective_database_url)
    limit_per_host = settings.delivery_per_host
    try:
        async with make_client_session(settings, limit_per_host=limit_per_host) as http:
            worker = DeliveryWorker(settings, session_factory(engine), http, lease=lease)
            if on_start is not None:
                on_start(worker)
            await worker.run(stop)
    finally:
        await engine.dispose()


async def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m federation.delivery", description="Run one delivery worker until SIGTERM."
    )
    for option in ("--data-dir", "--database-url", "--base-url"):
        parser.add_argument(option)
    parser.add_argument("--development", action="store_true", default=None)
    parser.add_argument("--per-host", type=int, dest="delivery_per_host")
    parser.add_argument("--lease", type=float, default=DEFAULT_LEASE)
    options = vars(parser.parse_args(argv))
    lease = options.pop("lease")
    settings = load_settings(options.pop("data_dir"), **options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_worker(settings, stop, lease=lease)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(_main())
