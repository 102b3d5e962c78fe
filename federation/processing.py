"""Processing stored inbound activities: dispatched by (type, kind of target), idempotent, in batches
after the 202."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import bindparam, case, null, select, update

from activities.jsonld import readable
from federation.fetch import FetchError
from federation.inbound import Inbound, batches, dispatch, knows
from federation.inbound.batches import Signer
from federation.isolation import ERROR_LIMIT, describe, log_failure, transient
from federation.moderation_policy import refused_actors
from federation.runtime import Runtime, wait_for_quiet, wait_for_signal
from node.db import is_sqlite, writing
from node.errors import CivicError, Forbidden
from node.models import Actor, InboxActivity, InboxStates, utcnow

log = logging.getLogger(__name__)
BURST = 0.05  # seconds since the last inbox write under which a burst is still going on
BATCH = 256  # rows per transaction
BURST_BUDGET = 0.02  # seconds of one-by-one processing per transaction during a burst
QUIET_BUDGET = 0.05  # and otherwise (a POST arriving then waits for one transaction)
ONE_BY_ONE_CHUNK = 16  # rows processed one by one are loaded this many at a time
MAX_ATTEMPTS = 5  # tries of a row whose own transaction cannot be committed, before it fails


async def _signers_of(rt: Runtime, actor_ids: set[str]) -> dict[str, Signer | str]:
    """The signers' rows, stored or fetched — before the write transaction opens, so a fetch
    that stores an actor never waits on our own SQLite write lock. An actor that cannot be had,
    for whatever reason, fails only its own activities (SECURITY.md rule 13). Only their ids are
    read: batch handlers need no more, and the rows processed one by one get their whole actor
    from ``_whole_actors``."""
    found: dict[str, Signer | str] = {}
    async with rt.sessions() as session:  # those stored: one query for the batch
        stored = dict((await session.execute(select(Actor.ap_id, Actor.id).where(Actor.ap_id.in_(actor_ids)))).all())
    for ap_id in actor_ids:
        if ap_id in stored:
            found[ap_id] = Signer(stored[ap_id], ap_id)
            continue
        try:
            actor = await rt.keys.get_actor(ap_id)
            found[ap_id] = Signer(actor.id, actor.ap_id)
        except FetchError as exc:
            found[ap_id] = exc.reason
        except CivicError as exc:
            found[ap_id] = f"the actor's document is unusable: {exc.reason}"
        except Exception as exc:
            if transient(exc):
                raise
            log.exception("reading actor %s failed", ap_id)
            found[ap_id] = f"the actor could not be read: {describe(exc)}"
    return found


async def _whole_actors(rt: Runtime, ids: set[int]) -> dict[int, Actor]:
    """The actor rows of the signers whose activities are processed one by one (read apart, so
    that each can be merged again after a savepoint's rollback expired its copy)."""
    if not ids:
        return {}
    async with rt.sessions() as session:
        return {actor.id: actor for actor in await session.scalars(select(Actor).where(Actor.id.in_(ids)))}


async def _run_handler(rt: Runtime, session, row: InboxActivity, actor: Actor,
                       refusal: str | None) -> str:
    if refusal:  # a blocked account (SECURITY.md rule 22)
        raise Forbidden(refusal)
    # Unusual contexts go through pyld here, never on the hot path; one that cannot be loaded is
    # read as compact AS2 (activities.jsonld.readable).
    doc = {**readable(row.document), "id": row.document["id"]}
    async with session.begin_nested():
        return await dispatch(Inbound(rt, session, doc, actor))


async def _process_row(rt: Runtime, session, row: InboxActivity, actor: Actor | str,
                       refusal: str | None = None) -> bool:
    """Process one row inside the batch's transaction, in a savepoint: whatever the handler raises
    fails this row alone (SECURITY.md rule 13). Returns False when the handler's changes were
    rolled back (objects it touched may be expired: the caller re-reads what it keeps)."""
    kept = True
    if not knows(row.type):
        row.state, row.error = InboxStates.ignored, "unknown type"
    elif isinstance(actor, str):
        row.state, row.error = InboxStates.failed, f"refused: {actor}"
    else:
        try:
            outcome = await _run_handler(rt, session, row, actor, refusal)
            row.state, row.error = InboxStates.processed, outcome[:ERROR_LIMIT]
        except (CivicError, FetchError) as exc:
            row.state, row.error = InboxStates.failed, f"refused: {exc.reason}"[:ERROR_LIMIT]
            kept = False
        except Exception as exc:
            if transient(exc):
                raise
            log.exception("inbox %s %s: processing raised", row.type, row.ap_id)
            row.state, row.error = InboxStates.failed, f"error: {describe(exc)}"
            kept = False
    row.processed_at = utcnow()
    log.log(logging.INFO if row.state == InboxStates.failed else logging.DEBUG,
            "inbox %s %s from %s: %s", row.type, row.ap_id, row.actor, row.error)
    return kept


async def _process_rows(rt: Runtime, ids: list[int], signers: dict[str, Signer | str],
                        budget: float | None = None) -> None:
    """One transaction over ``ids`` (those still received): what batch handlers settle together,
    then the others in a savepoint each. With ``budget`` (seconds), the one-by-one part stops once
    it is spent (after one row at least): the rows not reached stay received, for the next round."""
    async with writing(rt.sessions) as session:
        # The claim reads plain rows, and the documents only of the types a batch handler may
        # take: most of a burst of relays is settled together, and the others are loaded as
        # objects a few at a time, for their handlers, while the budget lasts.
        table = InboxActivity.__table__
        document = case((table.c.type.in_(batches.batch_types()), table.c.document), else_=null())
        query = (select(table.c.id, table.c.actor, table.c.type, document.label("document"))
                 .where(table.c.id.in_(ids), table.c.state == InboxStates.received).order_by(table.c.id))
        if not is_sqlite(rt.settings.effective_database_url):
            query = query.with_for_update(skip_locked=True)  # several workers share the inbox
        claimed = (await session.execute(query)).all()
        refusals = await refused_actors(session, {row.actor for row in claimed})  # one query a batch
        # What a feature settles many at once (federation/inbound/batches.py); the rest one by one.
        settled = await batches.settle(rt, session, [
            batches.Batched(row.id, row.document, signers[row.actor]) for row in claimed
            if row.document is not None and isinstance(signers[row.actor], Signer)
            and not refusals.get(row.actor) and knows(row.type)])
        if settled:
            connection = await session.connection()
            await connection.execute(
                update(table).where(table.c.id == bindparam("row_id"))
                .values(state=InboxStates.processed, error=bindparam("outcome"), processed_at=utcnow()),
                [{"row_id": row_id, "outcome": outcome} for row_id, outcome in settled.items()])
        deadline = None if budget is None else time.monotonic() + budget
        rest = [row.id for row in claimed if row.id not in settled]
        whole: dict[int, Actor] = {}
        merged: dict[int, Actor] = {}
        done = 0
        for first in range(0, len(rest), ONE_BY_ONE_CHUNK):
            rows = list(await session.scalars(select(InboxActivity).where(
                InboxActivity.id.in_(rest[first:first + ONE_BY_ONE_CHUNK])).order_by(InboxActivity.id)))
            whole.update(await _whole_actors(rt, {signer.id for row in rows if isinstance(
                signer := signers[row.actor], Signer) and signer.id not in whole}))
            for row in rows:
                if deadline is not None and done and time.monotonic() > deadline:
                    return  # the rest stays received: the next round takes it
                done += 1
                actor: Actor | str = signers[row.actor]
                if isinstance(actor, Signer):
                    if actor.id not in merged and actor.id in whole:
                        merged[actor.id] = await session.merge(whole[actor.id], load=False)
                    actor = merged.get(actor.id, "the actor's row is gone")
                if not await _process_row(rt, session, row, actor, refusals.get(row.actor)):
                    merged.clear()  # a rolled-back savepoint expires what it touched: merge again
        # What the activities changed is announced with the commit, by scope (node/changes.py).


async def _record_attempt(rt: Runtime, row_id: int, exc: BaseException) -> None:
    """The row's own transaction failed: count the try; after MAX_ATTEMPTS it fails for good."""
    reason = f"error: {describe(exc)}"
    async with writing(rt.sessions) as session:
        row = await session.get(InboxActivity, row_id)
        if row is None or row.state != InboxStates.received:
            return
        row.attempts = (row.attempts or 0) + 1
        row.error = reason
        if row.attempts >= MAX_ATTEMPTS:
            row.state, row.processed_at = InboxStates.failed, utcnow()
            row.error = f"{reason} (gave up after {row.attempts} tries)"[:ERROR_LIMIT]
            log.warning("inbox row %s failed for good: %s", row_id, row.error)


async def process_batch(rt: Runtime, limit: int = 25, budget: float | None = None) -> int:
    """Process up to ``limit`` received activities in one transaction (a savepoint each; with
    ``budget``, see ``_process_rows``). When the transaction itself fails, its rows are tried one
    by one, so that one row's failure cannot hold the others (SECURITY.md rule 13); a database that
    is away raises, and the rows wait. Returns how many rows were taken."""
    async with rt.sessions() as session:
        pending = list(await session.execute(
            select(InboxActivity.id, InboxActivity.actor)
            .where(InboxActivity.state == InboxStates.received)
            .order_by(InboxActivity.id).limit(limit)
        ))
    if not pending:
        return 0
    signers = await _signers_of(rt, {actor for _, actor in pending})
    ids = [i for i, _ in pending]
    try:
        await _process_rows(rt, ids, signers, budget)
    except Exception as batch_error:
        log.warning("inbox batch of %d failed (%s); taking its rows one by one",
                    len(ids), describe(batch_error))
        for row_id in ids:
            try:
                await _process_rows(rt, [row_id], signers)
            except Exception as exc:
                await _record_attempt(rt, row_id, exc)  # raises too when the database is away
    rt.outbox_ready.set()
    return len(pending)


async def process_pending(rt: Runtime, limit: int = 25, rounds: int = 400,
                          budget: float | None = None) -> int:
    """Process what is waiting (after a restart too); returns how many rows were taken."""
    total = 0
    for _ in range(rounds):
        try:
            done = await process_batch(rt, limit, budget)
        except Exception as exc:
            # The database is away (or a bug outside any one row): the rows stay 'received'.
            log_failure(log, exc, "processing inbox activities failed")
            return total
        total += done
        if done < limit:
            break
    return total


def one_by_one_budget(rt: Runtime, now: float) -> float:
    """Seconds the next processing transaction (up to BATCH rows) may spend on rows processed
    one by one. Still in a burst (the quiet wait gave up), a transaction holds the write lock that
    the inbox writer needs for a short while only: what batch handlers settle together is cheap (a
    burst of relayed supports is a dozen statements for 256 rows), but rows processed one by one
    cost a few round trips each, so they stop after BURST_BUDGET and the rest waits for the next
    round. One transaction a round: whether a burst is going on is asked again before each
    (several rounds in a row once held the lock for 300 ms while POSTs queued, and the gaps that
    left made the inbox look quiet again)."""
    return BURST_BUDGET if now - rt.last_ingest < BURST else QUIET_BUDGET


async def run_processor(rt: Runtime, stop: asyncio.Event, idle: float = 5.0) -> None:
    """Loop: process what is pending, then wait for new rows (or a periodic re-check)."""
    while not stop.is_set():
        rt.inbox_ready.clear()
        await wait_for_quiet(rt, stop)
        budget = one_by_one_budget(rt, time.monotonic())
        if await process_pending(rt, limit=BATCH, rounds=1, budget=budget):
            continue
        await wait_for_signal(rt.inbox_ready, stop, idle)
