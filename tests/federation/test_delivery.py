"""The delivery worker: signed POSTs, outcomes by status, back-off, caps, several workers."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import random
import re
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from multidict import CIMultiDict
from sqlalchemy import select, update

from federation.delivery import DeliveryWorker, claim_due
from federation.signatures import verify_request
from node.db import create_engine, is_sqlite, session_factory, transaction
from node.models import Activity, Actor, Delivery, DeliveryStates, utcnow
from node.services.actors import create_organization


@dataclass
class Post:
    path: str
    headers: CIMultiDict
    body: bytes
    status: int

    @property
    def activity_id(self) -> str:
        return json.loads(self.body)["id"]


@dataclass
class InFlight:
    """Requests being handled at once, shared by receivers to observe a global cap."""

    now: int = 0
    most: int = 0


@dataclass
class Receiver:
    """Inboxes on 127.0.0.1 that record every POST and answer planned statuses (202 otherwise)."""

    delay: float = 0.0  # simulated remote latency per request
    plan: dict[str, list[tuple[int, dict]]] = field(default_factory=dict)
    holds: dict[str, asyncio.Event] = field(default_factory=dict)  # answer once the event is set
    shared: InFlight | None = None
    posts: list[Post] = field(default_factory=list)
    own: InFlight = field(default_factory=InFlight)
    base: str = ""

    async def start(self) -> Receiver:
        self._changed = asyncio.Event()
        self._gate = asyncio.Event()
        self._gate.set()
        self._stalls = 0
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        await self._runner.cleanup()

    @property
    def host(self) -> str:
        return self.base.removeprefix("http://")

    def stall(self) -> None:
        """Accept nothing more: hold every open or new request until reopen(), then answer 503."""
        self._stalls += 1
        self._gate.clear()

    def reopen(self) -> None:
        self._gate.set()

    def accepted(self) -> list[Post]:
        return [p for p in self.posts if 200 <= p.status < 300]

    def answer(self, path: str, *responses: int | tuple[int, dict]) -> None:
        """Answer the next POSTs to ``path`` with these statuses (then 202)."""
        self.plan[path] = [r if isinstance(r, tuple) else (r, {}) for r in responses]

    async def _handle(self, request: web.Request) -> web.Response:
        counters = [self.own] + ([self.shared] if self.shared else [])
        for counter in counters:
            counter.now += 1
            counter.most = max(counter.most, counter.now)
        self._changed.set()
        # A request that arrives, or is still open, during a stall is never accepted.
        epoch = self._stalls if self._gate.is_set() else -1
        try:
            body = await request.read()
            if self.delay:
                await asyncio.sleep(self.delay)
            if request.path in self.holds:
                await self.holds[request.path].wait()
            if not self._gate.is_set() or epoch != self._stalls:
                # Open during a stall (see stall()): held, then turned away once reopened.
                await self._gate.wait()
                status, headers = 503, {}
            else:
                planned = self.plan.get(request.path)
                status, headers = planned.pop(0) if planned else (202, {})
            self.posts.append(Post(request.path, CIMultiDict(request.headers), body, status))
            self._changed.set()
            return web.Response(status=status, headers=headers)
        finally:
            for counter in counters:
                counter.now -= 1

    async def wait_for(self, predicate, within: float = 20.0) -> None:
        """Wait until ``predicate()`` holds, woken by each request; fail after ``within`` s."""
        async with asyncio.timeout(within):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()


def verify_signature(post: Post, public_key_pem: str, key_id: str) -> None:
    """Check a draft-cavage rsa-sha256 signature and its Digest independently of our signer."""
    params = dict(re.findall(r'(\w+)="([^"]*)"', post.headers["Signature"]))
    assert params["keyId"] == key_id
    names = params["headers"].split()
    assert {"(request-target)", "host", "date", "digest"} <= set(names)
    lines = [
        f"(request-target): post {post.path}"
        if n == "(request-target)"
        else f"{n}: {post.headers[n]}"
        for n in names
    ]
    digest = base64.b64encode(hashlib.sha256(post.body).digest()).decode()
    assert post.headers["Digest"] == f"SHA-256={digest}"
    load_pem_public_key(public_key_pem.encode()).verify(
        base64.b64decode(params["signature"]),
        "\n".join(lines).encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


class Clock:
    """An injectable clock: starts at the real time, moves only when told."""

    def __init__(self):
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def receiver():
    r = await Receiver().start()
    yield r
    await r.stop()


@pytest.fixture
async def org(sessions, uris) -> Actor:
    async with transaction(sessions) as s:
        return await create_organization(s, uris, "org", "Org")


@pytest.fixture
async def workers():
    """Builds workers and closes their HTTP clients at the end."""
    made: list[DeliveryWorker] = []

    def make(settings, sessions, **kwargs) -> DeliveryWorker:
        made.append(DeliveryWorker(settings, sessions, **kwargs))
        return made[-1]

    yield make
    for worker in made:
        await worker.close()


async def queue(
    sessions,
    actor: Actor,
    inboxes: list[str],
    *,
    created_at=None,
    activity_ap_id: str | None = None,
) -> tuple[dict, list[int]]:
    """Store one Create activity and a queued delivery per inbox; return (document, row ids)."""
    ap_id = activity_ap_id or f"{actor.ap_id}/activities/{random.getrandbits(48):x}"
    doc = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": ap_id,
        "type": "Create",
        "actor": actor.ap_id,
        "object": {"type": "Note", "content": "Réunion publique — mardi 18 h", "id": f"{ap_id}/n"},
    }
    async with transaction(sessions) as s:
        activity = Activity(ap_id=ap_id, actor_id=actor.id, type="Create", document=doc)
        s.add(activity)
        await s.flush()
        rows = [
            Delivery(
                activity_id=activity.id,
                inbox=inbox,
                host=inbox.split("/")[2],
                **({"created_at": created_at, "next_try_at": created_at} if created_at else {}),
            )
            for inbox in inboxes
        ]
        s.add_all(rows)
        await s.flush()
        return doc, [row.id for row in rows]


async def rows_by_id(sessions, ids) -> dict[int, Delivery]:
    async with sessions() as s:
        found = await s.scalars(select(Delivery).where(Delivery.id.in_(ids)))
        return {row.id: row for row in found}


async def test_run_once__delivers_signed_stored_body_to_every_inbox(
    settings, sessions, org, receiver, workers
):
    """Every inbox gets the stored document as signed activity+json; rows end delivered."""
    inboxes = [f"{receiver.base}/users/{n}/inbox" for n in range(3)] + [f"{receiver.base}/inbox"]
    receiver.answer("/users/1/inbox", 200)
    receiver.answer("/inbox", 204)
    doc, ids = await queue(sessions, org, inboxes)
    worker = workers(settings, sessions)

    async def org_key(key_id):
        return (org.ap_id, org.public_key_pem) if key_id == org.key_id else None

    assert await worker.run_once() == 4

    assert sorted(p.path for p in receiver.posts) == sorted(
        i.split(receiver.host)[1] for i in inboxes
    )
    assert len({p.body for p in receiver.posts}) == 1  # the same bytes for every inbox
    for post in receiver.posts:
        assert json.loads(post.body) == doc
        assert post.headers["Content-Type"] == "application/activity+json"
        verify_signature(post, org.public_key_pem, org.key_id)
        # …and the node's own inbox verifier accepts it, as a receiving node would.
        signer = await verify_request(
            "POST", f"{receiver.base}{post.path}", post.headers, post.body, org_key
        )
        assert signer.owner == org.ap_id
    rows = await rows_by_id(sessions, ids)
    assert {r.state for r in rows.values()} == {DeliveryStates.delivered}
    assert sorted(r.last_status for r in rows.values()) == [200, 202, 202, 204]
    assert all(r.attempts == 1 and r.locked_until is None and r.finished_at for r in rows.values())
    assert await worker.run_once() == 0
    assert len(receiver.posts) == 4


@pytest.mark.parametrize("status", [410, 404, 403])
async def test_run_once__gone_inbox_fails_after_one_try(
    settings, sessions, org, receiver, workers, status
):
    """404/410 and other plain 4xx are permanent: failed after one try, never tried again."""
    receiver.answer("/gone", status)
    _, [row_id] = await queue(sessions, org, [f"{receiver.base}/gone"])
    clock = Clock()
    worker = workers(settings, sessions, now=clock)

    assert await worker.run_once() == 1
    clock.advance(24 * 3600)
    assert await worker.run_once() == 0

    row = (await rows_by_id(sessions, [row_id]))[row_id]
    assert (row.state, row.attempts, row.last_status) == (DeliveryStates.failed, 1, status)
    assert str(status) in row.error and row.finished_at == clock.now - timedelta(hours=24)
    assert len(receiver.posts) == 1


async def test_run_once__server_error_is_retried_after_backoff(
    settings, sessions, org, receiver, workers
):
    """500 re-queues the row ~30 s later (attempts=1); it is not due before, and succeeds after."""
    receiver.answer("/flaky", 500)
    _, [row_id] = await queue(sessions, org, [f"{receiver.base}/flaky"])
    clock = Clock()
    worker = workers(settings, sessions, now=clock)

    assert await worker.run_once() == 1
    row = (await rows_by_id(sessions, [row_id]))[row_id]
    assert (row.state, row.attempts, row.last_status) == (DeliveryStates.queued, 1, 500)
    assert "500" in row.error and row.locked_until is None and row.finished_at is None
    wait = (row.next_try_at - clock.now).total_seconds()
    assert 24 <= wait <= 36

    clock.advance(wait - 1)
    assert await worker.run_once() == 0
    clock.advance(2)
    assert await worker.run_once() == 1
    row = (await rows_by_id(sessions, [row_id]))[row_id]
    assert (row.state, row.attempts, row.last_status, row.error) == ("delivered", 2, 202, None)
    assert len(receiver.posts) == 2


async def test_run_once__network_error_is_retried(settings, sessions, org, workers):
    """A refused connection (no HTTP status) re-queues the row with the error recorded."""
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _, [row_id] = await queue(sessions, org, [f"http://127.0.0.1:{port}/inbox"])
    worker = workers(settings, sessions)

    assert await worker.run_once() == 1
    row = (await rows_by_id(sessions, [row_id]))[row_id]
    assert (row.state, row.attempts, row.last_status) == (DeliveryStates.queued, 1, None)
    assert "Error" in row.error and row.next_try_at > utcnow()


@pytest.mark.parametrize(("header", "expected"), [("3600", 3600), ("120", 120)])
async def test_run_once__retry_after_is_honoured(
    settings, sessions, org, receiver, workers, header, expected
):
    """429 with Retry-After schedules the next try when the server asked, not earlier."""
    receiver.answer("/busy", (429, {"Retry-After": header}))
    _, [row_id] = await queue(sessions, org, [f"{receiver.base}/busy"])
    clock = Clock()
    worker = workers(settings, sessions, now=clock)

    assert await worker.run_once() == 1
    row = (await rows_by_id(sessions, [row_id]))[row_id]
    assert (row.state, row.last_status) == (DeliveryStates.queued, 429)
    assert (row.next_try_at - clock.now).total_seconds() == pytest.approx(expected, abs=1)


@pytest.mark.parametrize(("age", "state"), [(3600, "queued"), (3 * 24 * 3600 - 10, "failed")])
async def test_run_once__gives_up_at_the_horizon(
    settings, sessions, org, receiver, workers, age, state
):
    """A retry that would land past delivery_give_up_seconds is not scheduled: the row fails."""
    receiver.answer("/down", 503)
    clock = Clock()
    _, [row_id] = await queue(
        sessions, org, [f"{receiver.base}/down"], created_at=clock.now - timedelta(seconds=age)
    )
    worker = workers(settings, sessions, now=clock)

    assert await worker.run_once() == 1
    row = (await rows_by_id(sessions, [row_id]))[row_id]
    assert (row.state, row.attempts, row.last_status) == (state, 1, 503)


async def test_run_once__unsignable_activity_fails_without_sending(
    settings, sessions, receiver, workers
):
    """An activity whose actor has no private key here is failed permanently, nothing is sent."""
    async with transaction(sessions) as s:
        remote = Actor(
            ap_id="https://remote.example/u/x", type="Person", username="x", domain="remote.example"
        )
        s.add(remote)
    _, [row_id] = await queue(sessions, remote, [f"{receiver.base}/inbox"])
    worker = workers(settings, sessions)

    assert await worker.run_once() == 1
    row = (await rows_by_id(sessions, [row_id]))[row_id]
    assert (row.state, row.attempts) == (DeliveryStates.failed, 1)
    assert "private key" in row.error
    assert receiver.posts == []


@pytest.mark.parametrize("inbox", ["http://169.254.169.254/inbox", "ftp://127.0.0.1/inbox"])
async def test_run_once__unsafe_inbox_url_fails_without_sending(
    settings, sessions, org, workers, inbox
):
    """An inbox URL naming a link-local (metadata) address or another scheme is never contacted."""
    _, [row_id] = await queue(sessions, org, [inbox])
    worker = workers(settings, sessions)

    assert await worker.run_once() == 1
    row = (await rows_by_id(sessions, [row_id]))[row_id]
    assert (row.state, row.attempts, row.last_status) == (DeliveryStates.failed, 1, None)
    assert "refused inbox URL" in row.error


async def test_run_once__never_resends_a_delivered_row(settings, sessions, org, receiver, workers):
    """A row recorded delivered is not claimed again, even with its try time and lease long past."""
    _, ids = await queue(sessions, org, [f"{receiver.base}/a", f"{receiver.base}/b"])
    async with transaction(sessions) as s:
        await s.execute(
            update(Delivery).where(Delivery.id == ids[1]).values(state=DeliveryStates.delivered)
        )
    clock = Clock()
    worker = workers(settings, sessions, now=clock)

    assert await worker.run_once() == 1
    clock.advance(30 * 24 * 3600)
    assert await worker.run_once() == 0
    assert [p.path for p in receiver.posts] == ["/a"]


async def test_run_once__leased_rows_wait_for_the_lease_to_end(
    settings, sessions, org, receiver, workers
):
    """A row leased by another worker is skipped until its lease expires, then taken over."""
    clock = Clock()
    _, [row_id] = await queue(sessions, org, [f"{receiver.base}/a"])
    async with transaction(sessions) as s:
        await s.execute(
            update(Delivery)
            .where(Delivery.id == row_id)
            .values(locked_until=clock.now + timedelta(seconds=60))
        )
    worker = workers(settings, sessions, now=clock)

    assert await worker.run_once() == 0
    clock.advance(61)
    assert await worker.run_once() == 1
    assert len(receiver.posts) == 1


async def test_run_once__per_host_cap_is_never_exceeded(settings, sessions, org, workers):
    """With delivery_per_host=3, no receiver ever has more than 3 requests in flight (and gets 3)."""
    hosts = [await Receiver(delay=0.02).start() for _ in range(2)]
    try:
        await queue(sessions, org, [f"{r.base}/inbox/{n}" for r in hosts for n in range(15)])
        worker = workers(dataclasses.replace(settings, delivery_per_host=3), sessions)

        assert await worker.run_once() == 30
        assert [r.own.most for r in hosts] == [3, 3]
        assert [len(r.posts) for r in hosts] == [15, 15]
    finally:
        for r in hosts:
            await r.stop()


async def test_run_once__global_cap_is_never_exceeded(settings, sessions, org, workers):
    """The global concurrency limit holds across hosts (2 in flight at most, over 3 hosts)."""
    shared = InFlight()
    hosts = [await Receiver(delay=0.02, shared=shared).start() for _ in range(3)]
    try:
        await queue(sessions, org, [f"{r.base}/inbox/{n}" for r in hosts for n in range(6)])
        worker = workers(
            dataclasses.replace(settings, delivery_per_host=4), sessions, concurrency=2
        )

        assert await worker.run_once() == 18
        assert shared.most == 2
    finally:
        for r in hosts:
            await r.stop()


async def test_run__wakes_on_wake_and_stops_on_stop(settings, sessions, org, receiver, workers):
    """An idle run() loop delivers new rows as soon as wake() is called, and ends on stop."""
    worker = workers(settings, sessions)
    stop = asyncio.Event()
    await queue(sessions, org, [f"{receiver.base}/first"])
    task = asyncio.create_task(worker.run(stop))
    try:
        await receiver.wait_for(lambda: len(receiver.posts) == 1)
        await queue(sessions, org, [f"{receiver.base}/second"])
        worker.wake()
        # Well under the idle poll (5 s): only the wake-up can explain a delivery this soon.
        await receiver.wait_for(lambda: len(receiver.posts) == 2, within=2)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert [p.path for p in receiver.posts] == ["/first", "/second"]


async def test_two_workers__share_the_queue_without_double_sending(
    database_url, settings, org, sessions, receiver
):
    """On PostgreSQL two workers (own engines) deliver 300 rows together, each exactly once."""
    if is_sqlite(database_url):
        pytest.skip("SQLite runs a single worker inside `civic serve`; SKIP LOCKED is PostgreSQL's")
    await queue(sessions, org, [f"{receiver.base}/inbox/{n}" for n in range(300)])
    engines = [create_engine(database_url) for _ in range(2)]
    pair = [DeliveryWorker(settings, session_factory(e)) for e in engines]

    counts = [0, 0]
    try:
        for _ in range(100):  # bounded: 300 rows in batches of 20 per worker
            # Both claim at the same moment every round: the race SKIP LOCKED must settle.
            attempted = await asyncio.gather(*(w.run_once(limit=20) for w in pair))
            assert max(attempted) <= 20, attempted  # each claim honours its limit
            counts = [total + n for total, n in zip(counts, attempted, strict=True)]
            if not any(attempted):
                break
        else:
            raise AssertionError("the workers never ran out of rows")
    finally:
        for worker, engine in zip(pair, engines, strict=True):
            await worker.close()
            await engine.dispose()

    paths = [p.path for p in receiver.posts]
    assert len(paths) == 300 and len(set(paths)) == 300
    assert sum(counts) == 300 and min(counts) > 0, counts
    async with sessions() as s:
        states = set(await s.scalars(select(Delivery.state)))
    assert states == {DeliveryStates.delivered}


async def test_claim_due__leases_oldest_first_and_skips_busy_hosts(sessions, org):
    """A claim leases due rows oldest first, never twice, and leaves out the hosts it is told to."""
    _, ids = await queue(
        sessions,
        org,
        ["https://a.example/inbox", "https://b.example/inbox", "https://a.example/u/1/inbox"],
    )
    clock = Clock()
    lease_until = clock.now + timedelta(seconds=60)
    async with transaction(sessions) as s:
        first = await claim_due(s, clock.now, lease_until, 10, exclude_hosts=["a.example"])
    async with transaction(sessions) as s:
        second = await claim_due(s, clock.now, lease_until, 1)
    async with transaction(sessions) as s:
        third = await claim_due(s, clock.now, lease_until, 10)

    assert [c.inbox for c in first] == ["https://b.example/inbox"]
    assert [c.id for c in second] == [ids[0]]
    assert [c.id for c in third] == [ids[2]]
    rows = await rows_by_id(sessions, ids)
    assert all(r.locked_until == lease_until and r.state == "queued" for r in rows.values())


async def test_run_once__limit_counts_across_refills(settings, sessions, org, receiver, workers):
    """run_once(limit) claims in refills up to the limit, and the next call takes the rest."""
    await queue(sessions, org, [f"{receiver.base}/inbox/{n}" for n in range(260)])
    worker = workers(dataclasses.replace(settings, delivery_per_host=64), sessions)

    assert await worker.run_once(limit=230) == 230
    assert len(receiver.posts) == 230
    assert await worker.run_once(limit=230) == 30
    assert len({p.path for p in receiver.posts}) == 260


async def test_run_once__renews_its_lease_while_a_send_is_slow(
    settings, sessions, org, receiver, workers
):
    """A slow send keeps its row leased past the first lease's end, so no other worker takes it."""
    release = receiver.holds["/slow"] = asyncio.Event()
    _, [row_id] = await queue(sessions, org, [f"{receiver.base}/slow"])
    task = asyncio.create_task(workers(settings, sessions, lease=0.6).run_once())
    try:
        await receiver.wait_for(lambda: receiver.own.now == 1)
        first = (await rows_by_id(sessions, [row_id]))[row_id].locked_until

        for _ in range(500):  # polling the database (it has no change event), at most 10 s
            if (await rows_by_id(sessions, [row_id]))[row_id].locked_until > first:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the lease was never renewed")
        # Another worker, at a time past the first lease's end, finds nothing to take.
        other = workers(settings, sessions, now=lambda: first + timedelta(milliseconds=10))
        assert await asyncio.wait_for(other.run_once(), 5) == 0
    finally:
        release.set()
        assert await asyncio.wait_for(task, 10) == 1
    assert [p.path for p in receiver.posts] == ["/slow"]
    assert (await rows_by_id(sessions, [row_id]))[row_id].state == DeliveryStates.delivered
