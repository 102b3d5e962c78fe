"""A remote peer down for the first half of a run: its deliveries are retried with back-off and
arrive, each exactly once, once it answers again; the other hosts are served meanwhile.

The peer "down" is either an address where nothing listens (connection refused at once) or a
server that accepts connections and never answers (each POST runs into the worker's time-out,
holding one of the host's slots meanwhile). The back-off is shortened through
federation.retry.BASE_DELAY (read at each call) and the POST time-out through the worker's
``timeout``, so that the test lasts seconds; what is waited on is observable state (arrivals,
delivery rows), never a sleep.
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
PER_HOST = 25  # inboxes per host that is up
DOWN_PER_HOST = 8  # inboxes on the peer that is down: two waves through its 4 slots
BASE_DELAY = 0.2  # seconds: 0.2, 0.4, 0.8 … instead of 30 s, 60 s, 120 s …
# Seconds a POST waits (production: 30 s). Each POST to the silent peer runs into it, so it
# is short; but every other host's first POSTs open their connections at once, on a CI
# machine that is busy with other tests, and must not run into it (CI once saw 0.5 s do so).
POST_TIMEOUT = 2.0
WITHIN = 30.0  # seconds for each phase


@pytest.fixture
async def inboxes():
    server = await CountingInboxes().start()
    yield server
    await server.stop()


class Silent:
    """A peer that accepts connections, reads, and never answers (a hung server)."""

    def __init__(self) -> None:
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._hold, host, port, reuse_address=True)

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        while await reader.read(65536):
            pass

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()
        self._server = None


@pytest.fixture
async def silent():
    peer = Silent()
    yield peer
    await peer.stop()


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


@pytest.mark.parametrize("down_how", ["refusing", "hanging"])
async def test_peer_down_for_the_first_half__backlog_drains_exactly_once(
    settings, sessions, org, inboxes, silent, monkeypatch, down_how
):
    monkeypatch.setattr(retry, "BASE_DELAY", BASE_DELAY)
    up = []
    for host in UP_HOSTS:
        port = free_port(host)
        await inboxes.listen(host, port)
        up.append(f"{host}:{port}")
    down_port = free_port(DOWN_HOST)
    down = f"{DOWN_HOST}:{down_port}"
    if down_how == "hanging":
        await silent.start(DOWN_HOST, down_port)  # else nothing listens there yet: refused
    targets = [f"http://{authority}/users/u{n}/inbox" for authority in up for n in range(PER_HOST)]
    targets += [f"http://{down}/users/u{n}/inbox" for n in range(DOWN_PER_HOST)]
    doc, _ = await queue(sessions, org, targets)
    up_targets = {t for t in targets if down not in t}
    down_targets = set(targets) - up_targets

    worker = DeliveryWorker(settings, sessions, timeout=POST_TIMEOUT)
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
        await silent.stop()
        await inboxes.listen(DOWN_HOST, down_port)
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
