"""A remote peer down for the first half of a run: its deliveries are retried with back-off and
arrive, each exactly once, once it listens again; the other hosts are served meanwhile.

The peer "down" is an address where nothing listens (connection refused). The back-off is
shortened through federation.retry.BASE_DELAY (read at each call) so that the test lasts seconds;
what is waited on is observable state (arrivals, delivery rows), never a sleep.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from federation import retry
from federation.delivery import DeliveryWorker
from node.db import transaction
from node.models import Delivery, DeliveryStates
from node.services.actors import create_organization
from tests.faults.receiver import CountingInboxes
from tests.federation.test_delivery import queue
from tests.remote import free_port

pytestmark = pytest.mark.xdist_group("faults")

UP_HOSTS = ["127.0.0.71", "127.0.0.72", "127.0.0.73", "127.0.0.74"]
DOWN_HOST = "127.0.0.75"
PER_HOST = 25  # inboxes per host
BASE_DELAY = 0.2  # seconds: 0.2, 0.4, 0.8 … instead of 30 s, 60 s, 120 s …
WITHIN = 30.0  # seconds for each phase


@pytest.fixture
async def inboxes():
    server = await CountingInboxes().start()
    yield server
    await server.stop()


@pytest.fixture
async def org(sessions, uris):
    async with transaction(sessions) as s:
        return await create_organization(s, uris, "org", "Org")


async def rows(sessions, host: str | None = None) -> list[Delivery]:
    query = select(Delivery)
    if host is not None:
        query = query.where(Delivery.host == host)
    async with sessions() as s:
        return list(await s.scalars(query))


def test_backoff__the_base_delay_can_be_shortened():
    assert retry.backoff(3, base_delay=0.5) == pytest.approx(2.0, rel=retry.JITTER)
    assert retry.retry_delay(1, None, None, elapsed=0, give_up_after=60,
                             base_delay=1.0) == pytest.approx(1.0, rel=retry.JITTER)
    with pytest.raises(ValueError):
        retry.backoff(1, base_delay=0)


async def test_peer_down_for_the_first_half__backlog_drains_exactly_once(
    settings, sessions, org, inboxes, monkeypatch
):
    monkeypatch.setattr(retry, "BASE_DELAY", BASE_DELAY)
    up = []
    for host in UP_HOSTS:
        port = free_port(host)
        await inboxes.listen(host, port)
        up.append(f"{host}:{port}")
    down = f"{DOWN_HOST}:{free_port(DOWN_HOST)}"  # nothing listens there yet: refused
    targets = [f"http://{authority}/users/u{n}/inbox" for authority in [*up, down]
               for n in range(PER_HOST)]
    doc, _ = await queue(sessions, org, targets)
    up_targets = {t for t in targets if down not in t}
    down_targets = set(targets) - up_targets

    worker = DeliveryWorker(settings, sessions)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        # First half: every other host gets everything while the peer refuses connections.
        await inboxes.wait_for(lambda: set(inboxes.inboxes(doc["id"])) >= up_targets, WITHIN,
                               "the hosts that are up")
        assert not set(inboxes.inboxes(doc["id"])) & down_targets

        async def retried() -> bool:
            waiting = await rows(sessions, down)
            return all(r.state == DeliveryStates.queued and r.attempts >= 2 for r in waiting)

        await inboxes.wait_for(retried, WITHIN, "the peer's deliveries to be tried twice")
        for row in await rows(sessions, down):
            assert row.last_status is None and row.error  # a network error, kept as the reason
        # Second half: the peer listens; its backlog drains without a restart of the worker.
        host, port = down.split(":")
        await inboxes.listen(host, int(port))
        await inboxes.wait_for(lambda: set(inboxes.inboxes(doc["id"])) == set(targets), WITHIN,
                               "the peer's backlog")

        async def all_recorded() -> bool:
            return all(r.state == DeliveryStates.delivered for r in await rows(sessions))

        await inboxes.wait_for(all_recorded, WITHIN, "every delivery to be recorded")
    finally:
        stop.set()
        worker.wake()
        await asyncio.wait_for(running, 30)
        await worker.close()

    received = inboxes.inboxes(doc["id"])
    assert set(received) == set(targets)  # no loss
    assert set(received.values()) == {1}  # no duplicate
    attempts = {r.inbox: r.attempts for r in await rows(sessions)}
    assert all(attempts[t] == 1 for t in up_targets)
    assert all(attempts[t] >= 3 for t in down_targets)  # refused twice or more, then delivered
