"""The fan-out of one post to many followers streams them: every SELECT of followers is a page
bounded by LIMIT (never all 5,000 at once), and the deliveries are exactly one per inbox (a shared
inbox once), each delivered once however often the fan-out and the worker run."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from aiohttp import web
from sqlalchemy import event, func, insert, select

from federation.delivery import DeliveryWorker
from federation.fanout import process_events
from federation.outbound.audience import BATCH
from node.db import transaction
from node.models import Actor, Delivery, DeliveryStates, Follow, FollowStates
from node.services import actors, discussions

FOLLOWERS = 5_000
PORTS = 10  # receiving authorities, so that the per-host cap does not serialise the worker
SHARED_EVERY = 5  # every 5th follower has its host's shared inbox


class Receiver:
    """Loopback inboxes on PORTS ports: 202 to every POST, counted per URL."""

    def __init__(self):
        self.posts: Counter[str] = Counter()
        self.runner: web.AppRunner | None = None
        self.ports: list[int] = []

    async def start(self) -> Receiver:
        async def inbox(request: web.Request) -> web.Response:
            await request.read()
            self.posts[f"http://{request.host}{request.path}"] += 1
            return web.Response(status=202)

        app = web.Application()
        app.router.add_post("/{tail:.*}", inbox)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        for _ in range(PORTS):
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            self.ports.append(site._server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        await self.runner.cleanup()


@pytest.fixture
async def receiver():
    found = await Receiver().start()
    yield found
    await found.stop()


def _follower(n: int, port: int) -> dict:
    base = f"http://127.0.0.1:{port}"
    return {"ap_id": f"{base}/users/u{n}", "type": "Person", "local": False, "username": f"u{n}",
            "domain": f"127.0.0.1:{port}", "inbox": f"{base}/users/u{n}/inbox",
            "shared_inbox": f"{base}/inbox" if n % SHARED_EVERY == 0 else None}


async def _scene(node, receiver) -> tuple[int, set[str]]:
    """An organisation with FOLLOWERS approved remote followers (and a few that are not) spread
    over the receiver's ports; returns its id and the inboxes its post must reach."""
    rows = [_follower(n, receiver.ports[n % PORTS]) for n in range(FOLLOWERS + 10)]
    async with transaction(node.rt.sessions) as s:
        org = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        await s.execute(insert(Actor), rows)
        ids = dict((await s.execute(select(Actor.ap_id, Actor.id).where(Actor.local.is_(False)))).all())
        await s.execute(insert(Follow), [
            {"ap_id": f"{row['ap_id']}/follow", "follower_id": ids[row["ap_id"]], "followed_id": org.id,
             "state": FollowStates.accepted if n < FOLLOWERS else FollowStates.pending}
            for n, row in enumerate(rows)])
        org_id = org.id
    expected = {row["shared_inbox"] or row["inbox"] for row in rows[:FOLLOWERS]}
    return org_id, expected


async def _publish(node, org_id: int) -> list[str]:
    """Open a public discussion (its Page goes to the organisation's followers) and run the
    fan-out; returns the SQL statements that read follows meanwhile."""
    async with transaction(node.rt.sessions) as s:
        org = await s.get(Actor, org_id)
        await discussions.open_discussion(s, node.uris, org, "parc", {"fr": "Le parc"}, body="Texte",
                                          visibility="public")
    seen: list[str] = []
    engine = node.rt.sessions.kw["bind"].sync_engine

    def record(_conn, _cursor, statement, _parameters, _context, _many) -> None:
        if "FROM follows" in statement and "SELECT" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert (await process_events(node.rt))[0] >= 1
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


async def _rows(node) -> list[str]:
    async with node.rt.sessions() as s:
        return list(await s.scalars(select(Delivery.inbox)))


async def test_fanout_reads_followers_in_bounded_pages(node, receiver):
    org_id, expected = await _scene(node, receiver)
    statements = await _publish(node, org_id)
    pages = [sql for sql in statements if "LIMIT" in sql and "EXISTS" not in sql]
    unbounded = [sql for sql in statements if "LIMIT" not in sql and "EXISTS" not in sql]
    assert not unbounded, unbounded
    assert len(pages) >= math.ceil(FOLLOWERS / BATCH)  # read page by page, never all at once
    inboxes = await _rows(node)
    assert len(inboxes) == len(set(inboxes)) == len(expected)  # one row per inbox, shared ones once
    assert set(inboxes) == expected
    assert await process_events(node.rt) == (0, 0)  # the event is done: a second run adds nothing
    assert len(await _rows(node)) == len(expected)


async def test_each_inbox_is_delivered_once(node, receiver):
    org_id, expected = await _scene(node, receiver)
    await _publish(node, org_id)
    worker = DeliveryWorker(node.settings, node.rt.sessions, node.rt.http)
    # A pass returns when a claim comes back short; on PostgreSQL (SKIP LOCKED) that may leave a
    # few rows to the next pass. Every row is attempted exactly once over the passes, and a last
    # pass finds nothing: nothing is sent twice.
    passes = [await worker.run_once(limit=2 * FOLLOWERS)]
    while passes[-1] and len(passes) < 5:
        passes.append(await worker.run_once(limit=2 * FOLLOWERS))
    await process_events(node.rt)
    assert (sum(passes), passes[-1]) == (len(expected), 0), passes
    assert set(receiver.posts) == expected and set(receiver.posts.values()) == {1}
    async with node.rt.sessions() as s:
        states = dict((await s.execute(
            select(Delivery.state, func.count()).group_by(Delivery.state))).all())
    assert states == {DeliveryStates.delivered: len(expected)}
