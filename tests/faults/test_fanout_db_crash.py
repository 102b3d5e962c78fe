"""PostgreSQL crashed and restarted while a post's deliveries are under way.

An organisation with 2,000 followers on 20 hosts (127.0.0.81 … 127.0.0.100) publishes a post; the
fan-out queues one delivery per inbox and a delivery worker process (`python -m federation.delivery`,
as `civic worker` runs it) sends them. When a quarter has arrived, the node's PostgreSQL (a server
of this test's own) is stopped with ``-m immediate`` — a crash — and started again. The worker is
not restarted: it outlives the outage and the backlog drains by itself.

No loss: every inbox gets the activity. "No duplicate" cannot hold strictly: a POST that succeeded
while its outcome could not be recorded (the database being away) is sent again once its lease
ends. Those repeats are bounded by the rows the worker held at the crash, and they are harmless to
a receiver that de-duplicates by activity id, as our inbox does (tests/faults/test_inbox_outage.py).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import event, func, insert, select

from activities.normalize import id_of
from federation.delivery import DEFAULT_CONCURRENCY
from federation.fanout import process_events
from federation.isolation import transient
from node.db import transaction
from node.models import Activity, Actor, Delivery, DeliveryStates, Follow, FollowStates, OutboxEvent
from node.services import actors, notes
from tests.conftest import start_node
from tests.faults.receiver import CountingInboxes
from tests.remote import free_port

pytestmark = pytest.mark.xdist_group("faults")

ROOT = Path(__file__).resolve().parents[2]
HOSTS = [f"127.0.0.{n}" for n in range(81, 101)]
PER_HOST = 100  # followers per host: 2,000 in all, each its own inbox (no shared inbox)
CRASH_AT = 500  # arrivals before the crash
LEASE = 2.0  # seconds a claimed row stays the worker's (production: 300 s)
CLAIM_BATCH = max(100, DEFAULT_CONCURRENCY)  # federation.delivery: rows claimed at a time
WITHIN = 60.0


@pytest.fixture
async def inboxes():
    server = await CountingInboxes().start()
    yield server
    await server.stop()


@pytest.fixture
async def node(pg_url, tmp_path):
    running, runner = await start_node(pg_url, tmp_path, host="127.0.0.80")
    yield running
    await runner.cleanup()


@pytest.fixture
async def worker_process(node, pg_url, tmp_path):
    log_path = tmp_path / "worker.log"
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "federation.delivery", "--data-dir", str(tmp_path),
            "--database-url", pg_url, "--base-url", node.base, "--development", "--lease", str(LEASE),
            cwd=ROOT, stdout=log, stderr=log)
    yield process, log_path
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()


async def followers(node, inboxes) -> tuple[Actor, list[str]]:
    """The organisation and its 2,000 accepted remote followers' inboxes, one port per host."""
    authorities = []
    for host in HOSTS:
        port = free_port(host)
        await inboxes.listen(host, port)
        authorities.append(f"{host}:{port}")
    rows = [{"ap_id": f"http://{a}/users/u{n}", "type": "Person", "local": False,
             "username": f"u{n}", "domain": a, "inbox": f"http://{a}/users/u{n}/inbox"}
            for a in authorities for n in range(PER_HOST)]
    async with transaction(node.rt.sessions) as s:
        org = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        await s.execute(insert(Actor), rows)
        ids = dict((await s.execute(select(Actor.ap_id, Actor.id).where(Actor.local.is_(False)))).all())
        await s.execute(insert(Follow), [
            {"ap_id": f"{row['ap_id']}/follow", "follower_id": ids[row["ap_id"]],
             "followed_id": org.id, "state": FollowStates.accepted} for row in rows])
    return org, [row["inbox"] for row in rows]


async def recorded(node) -> dict[str, int]:
    async with node.rt.sessions() as s:
        query = select(Delivery.state, func.count()).group_by(Delivery.state)
        return dict((await s.execute(query)).all())


async def test_postgresql_crash_during_deliveries__none_lost_repeats_bounded(
    pg, node, inboxes, worker_process
):
    process, log_path = worker_process
    org, targets = await followers(node, inboxes)
    async with transaction(node.rt.sessions) as s:
        note = await notes.publish_announcement(s, node.uris, org, "<p>Réunion publique mardi</p>")
    assert (await process_events(node.rt))[1] == len(targets)  # the fan-out: one row per inbox
    async with node.rt.sessions() as s:
        query = select(Activity).join(Delivery, Delivery.activity_id == Activity.id).limit(1)
        activity = await s.scalar(query)
    assert activity.type == "Create" and id_of(activity.document["object"]) == note.ap_id
    activity_id = activity.ap_id

    def arrived() -> int:
        return sum(inboxes.inboxes(activity_id).values())

    await inboxes.wait_for(lambda: arrived() >= CRASH_AT, WITHIN, f"{CRASH_AT} arrivals")
    before = arrived()
    crashed = time.monotonic()
    await asyncio.to_thread(pg.stop, "immediate")
    during = arrived()
    await asyncio.to_thread(pg.start)
    outage = time.monotonic() - crashed
    assert before < len(targets), "the deliveries were over before the crash: nothing was tested"

    def everyone() -> bool:
        return set(inboxes.inboxes(activity_id)) == set(targets)

    try:
        await inboxes.wait_for(everyone, WITHIN, "every inbox after the restart")

        async def all_delivered() -> bool:
            return await recorded(node) == {DeliveryStates.delivered: len(targets)}

        await inboxes.wait_for(all_delivered, WITHIN, "every delivery recorded")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; rows {await recorded(node)}; worker log:\n"
                             f"{log_path.read_text(errors='replace')[-3000:]}") from None
    assert process.returncode is None  # the same worker process drained the backlog

    received = inboxes.inboxes(activity_id)
    repeated = {inbox: n for inbox, n in received.items() if n > 1}
    print(f"arrived before the crash: {before}, while stopping: {during - before}, "
          f"outage {outage:.2f} s, inboxes that got it twice: {len(repeated)}")
    assert set(received) == set(targets)  # no loss
    assert set(repeated.values()) <= {2}  # a repeat is one resend after the lease, never more
    # Repeats are at most the rows the worker held at the crash: claimed, POSTed or in flight,
    # their outcomes not yet recorded (two claim batches at most, federation.delivery).
    assert len(repeated) <= 2 * CLAIM_BATCH


@pytest.mark.parametrize("mode", ["immediate", "fast"])
async def test_postgresql_stopped_in_the_middle_of_the_fan_out__rows_made_once(pg, node, inboxes,
                                                                              mode):
    """The server goes down while the fan-out inserts the post's delivery rows (the first INSERT
    stops it, ``immediate``: a crash, ``fast``: an administrator's shutdown): the fan-out raises,
    the post's event stays pending — never marked failed — and once the server is back the fan-out
    makes every row, once."""
    org, targets = await followers(node, inboxes)
    async with transaction(node.rt.sessions) as s:
        await notes.publish_announcement(s, node.uris, org, "<p>Réunion publique mardi</p>")
    engine = node.rt.sessions.kw["bind"].sync_engine
    stopped = []

    def stop_at_first_insert(_conn, _cursor, statement, _parameters, _context, _many) -> None:
        if not stopped and statement.lstrip().upper().startswith("INSERT INTO DELIVERIES"):
            stopped.append(statement)
            pg.stop(mode)  # blocks this event loop for the stop: nothing else may run meanwhile

    event.listen(engine, "before_cursor_execute", stop_at_first_insert)
    try:
        with pytest.raises(Exception) as raised:
            await process_events(node.rt)
    finally:
        event.remove(engine, "before_cursor_execute", stop_at_first_insert)
    assert stopped, "the fan-out inserted no delivery row: nothing was tested"
    assert transient(raised.value), repr(raised.value)
    await asyncio.to_thread(pg.start)

    assert (await process_events(node.rt))[1] == len(targets)
    assert await process_events(node.rt) == (0, 0)
    async with node.rt.sessions() as s:
        inboxes_queued = list(await s.scalars(select(Delivery.inbox)))
        events = list(await s.scalars(select(OutboxEvent.error)))
    assert sorted(inboxes_queued) == sorted(targets)  # every inbox, once
    assert events and not any(events)  # no event was recorded as failed
