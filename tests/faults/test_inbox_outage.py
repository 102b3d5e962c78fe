"""Inbox POSTs while PostgreSQL is away answer 503 with Retry-After; the sender's retry succeeds
once it is back, and a repeated activity id is stored once.

Node A runs on a PostgreSQL server of this test's own, node B (the sender) on SQLite, both on
loopback. Node B's delivery worker runs on a clock the test moves forward, so that the 30 s the
503 asks for pass without waiting for them.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import aiohttp
import asyncpg
import pytest
from sqlalchemy import func, select

from federation.delivery import DeliveryWorker
from federation.signatures import sign_headers
from node.db import transaction
from node.models import Activity, Delivery, DeliveryStates, InboxActivity, utcnow
from node.services.actors import create_organization
from tests.conftest import start_node
from tests.dbs import migrated_sqlite

pytestmark = pytest.mark.xdist_group("faults")


@pytest.fixture
async def receiving(pg_url, tmp_path):
    directory = tmp_path / "a"
    directory.mkdir()
    running, runner = await start_node(pg_url, directory, host="127.0.0.110")
    yield running
    await runner.cleanup()


@pytest.fixture
async def sending(tmp_path):
    directory = tmp_path / "b"
    directory.mkdir()
    running, runner = await start_node(await migrated_sqlite(directory), directory, host="127.0.0.111")
    yield running
    await runner.cleanup()


PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


async def queue_note(sessions, actor, inbox: str) -> dict:
    """A public Create{Note} by ``actor`` and its one delivery, queued as the fan-out leaves it."""
    ap_id = f"{actor.ap_id}/activities/outage"
    note = {"id": f"{ap_id}/note", "type": "Note", "attributedTo": actor.ap_id, "to": [PUBLIC],
            "content": "<p>Réunion publique mardi</p>"}
    doc = {"@context": "https://www.w3.org/ns/activitystreams", "id": ap_id, "type": "Create",
           "actor": actor.ap_id, "to": [PUBLIC], "object": note}
    async with transaction(sessions) as s:
        activity = Activity(ap_id=ap_id, actor_id=actor.id, type="Create", document=doc)
        s.add(activity)
        await s.flush()
        s.add(Delivery(activity_id=activity.id, inbox=inbox, host=inbox.split("/")[2]))
    return doc


class Clock:
    """The sender's clock: real time plus what the test skipped."""

    def __init__(self) -> None:
        self.skipped = timedelta()

    def __call__(self):
        return utcnow() + self.skipped


async def the_row(sessions) -> Delivery:
    async with sessions() as s:
        return (await s.scalars(select(Delivery))).one()


async def stored(sessions, ap_id: str) -> int:
    async with sessions() as s:
        query = select(func.count()).select_from(InboxActivity).where(InboxActivity.ap_id == ap_id)
        return await s.scalar(query)


async def test_inbox_answers_503_while_the_database_is_away__the_sender_retries_later(
    pg, receiving, sending
):
    async with transaction(sending.rt.sessions) as s:
        sender = await create_organization(s, sending.uris, "sender", "Sender")
    doc = await queue_note(sending.rt.sessions, sender, f"{receiving.base}/inbox")
    clock = Clock()
    worker = DeliveryWorker(sending.settings, sending.rt.sessions, now=clock)
    try:
        pg.stop("fast")
        assert await worker.run_once() == 1
        row = await the_row(sending.rt.sessions)
        assert (row.state, row.attempts, row.last_status) == (DeliveryStates.queued, 1, 503)
        assert "retry later" in row.error
        # Retry-After: 30 is honoured: not sooner (our own first back-off is 30 s ± 20 %).
        assert row.next_try_at - clock() >= timedelta(seconds=29)

        pg.start()
        assert await worker.run_once() == 0  # not due yet: nothing is sent before its time
        clock.skipped = timedelta(seconds=61)
        assert await worker.run_once() == 1
    finally:
        await worker.close()
    row = await the_row(sending.rt.sessions)
    assert (row.state, row.attempts, row.last_status) == (DeliveryStates.delivered, 2, 202)
    assert await stored(receiving.rt.sessions, doc["id"]) == 1

    # A sender that repeats an activity (its outcome was lost, as in test_fanout_db_crash.py)
    # gets a 202 again, and the activity is stored, hence processed, once.
    body = json.dumps(doc).encode()
    async with transaction(sending.rt.sessions) as s:
        sender = await s.merge(sender)
    headers = sign_headers("POST", f"{receiving.base}/inbox", body, sender.key_id,
                           sender.private_key_pem)
    headers["Content-Type"] = "application/activity+json"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{receiving.base}/inbox", data=body, headers=headers) as response:
            assert response.status == 202, await response.text()
    assert await stored(receiving.rt.sessions, doc["id"]) == 1


@pytest.fixture
async def shutting_down(pg, receiving):
    """PostgreSQL in a smart shutdown: it waits for one session the test holds open and refuses
    every new connection with SQLSTATE 57P03 ("the database system is shutting down"), as it does
    while it starts up. The node's pool is emptied, so that its next query needs a new one."""
    holder = await asyncpg.connect(pg.dsn(), timeout=10)
    try:
        await asyncio.to_thread(pg.signal_stop, "smart")
        await receiving.rt.sessions.kw["bind"].dispose()
        yield
    finally:
        await asyncio.to_thread(pg.stop, "fast")  # turns the smart shutdown into a fast one, waits
        holder.terminate()
        await asyncio.to_thread(pg.start)


async def test_while_postgresql_shuts_down__pages_answer_503(receiving, shutting_down):
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"Accept": "application/activity+json"}):
            async with http.get(f"{receiving.base}/nodeinfo/2.1", headers=headers) as response:
                assert response.status == 503, await response.text()
                assert response.headers["Retry-After"] == "10"


async def test_while_postgresql_shuts_down__the_inbox_answers_503_not_400(
    receiving, sending, shutting_down
):
    async with transaction(sending.rt.sessions) as s:
        sender = await create_organization(s, sending.uris, "sender", "Sender")
    await queue_note(sending.rt.sessions, sender, f"{receiving.base}/inbox")
    worker = DeliveryWorker(sending.settings, sending.rt.sessions)
    try:
        assert await worker.run_once() == 1
    finally:
        await worker.close()
    row = await the_row(sending.rt.sessions)
    assert (row.state, row.last_status) == (DeliveryStates.queued, 503), row.error
