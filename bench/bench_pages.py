"""Page rendering under load: the discussion page with 200 contributions and the proposal index
over 1,000 proposals and 1,000,000 supports, against a raw jinja2 page measured in the same run;
then the discussion page read while people write (issue 9, "Live consultations at scale"), and the
web process's peak memory with 10,000 remote followers of the organisation.

One command: `.venv/bin/python bench/bench_pages.py [REQUESTS] [--seconds S] [--quick] [--profile PATH]`

- REQUESTS (default 2000): requests per cached-page run (the raw page, anonymous visitors);
  the "a new URL each request" runs make REQUESTS // 20 (at least 32).
- --seconds S (default 11, more than two page-cache lifetimes): length of each run of the
  signed-in readers and of each cell of the mixed read/write table.
- --quick: a check that the whole command works (about 45 s on an idle 2-core machine): 100 proposals × 100
  supports, 1,000 followers, 1-second cells, 200 requests; its figures are printed, never
  written to bench/RESULTS.md.
- --profile PATH: cProfile the web process during the mixed table only (statistics written to
  PATH, read them with `python -m pstats PATH`); profiling slows it, so nothing is written or judged.
- --code TEXT: what code is measured, for the results (default: the checkout's commit, and the
  files changed but not committed).

Pages (issue "Participation spaces"): p50 ≤ 25 ms, p99 ≤ 100 ms at 32 connections, ≥ 0.25× the
raw page rate, and no full scan of proposal_supports in the query plans of those pages (checked
with EXPLAIN on the same data). Both pages are measured for anonymous visitors and for 32
signed-in residents (one per connection), each with their own agreements and supports; before the
run, every resident's copy is checked to carry their own marks. Beside the cached figures, the
cost of a rendering (a cache may help a goal, never be the only thing that meets it): a run asking
for a new URL each time (the page cache misses; the web process's CPU time per page), and cold
renderings in this process with nothing cached at all (handler CPU time, median).

Mixed reads and writes: 32 connections read the discussion page (anonymous, then 32 signed-in
residents) while one more signed-in resident posts contributions through the web form (CSRF token,
redirects not followed) at 0, 1 and 5 writes/s, without and then with 20 signed `Like`s/s of the
discussion's contributions arriving at the shared inbox from remote actors (real keys; their
documents served by a small aiohttp process on 127.0.0.2, which also answers the deliveries to the
followers' 100 shared inboxes), each Like a new agreement. Writes and Likes are
sent on a fixed schedule (open loop), so a slow answer never lowers the rate. Each cell is
compared with the quiet cell (no writes, no Likes) of the same readers. Goals: signed-in readers at
5 writes/s keep ≥ 0.5× their quiet rate with p99 ≤ 100 ms (and the same with the Likes); the web
process's peak RSS (VmHWM) over the whole run ≤ 200 MB.

The node runs in its own process on SQLite (its default), the load comes from this process; the
machine's cores are shared by both, as said in the results.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import math
import multiprocessing
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import jinja2
from aiohttp import web
from sqlalchemy import event, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import (  # noqa: E402
    CONCURRENCY,
    HOST,
    Sent,
    cpu_seconds,
    free_port,
    load,
    measure_cpu,
    memory_mb,
    pct,
    reset_peak,
    schedule_seconds,
    serve_remote,
    steady,
    wait_up,
)
from bench.report import append  # noqa: E402
from civic.app import create_app  # noqa: E402
from federation.runtime import RUNTIME  # noqa: E402
from federation.signatures import sign_headers  # noqa: E402
from node.config import Settings  # noqa: E402
from node.db import create_engine, session_factory, transaction  # noqa: E402
from node.keys import generate_rsa_keypair  # noqa: E402
from node.migrate import upgrade  # noqa: E402
from node.models import (  # noqa: E402
    Actor,
    Agreement,
    Contribution,
    Follow,
    FollowStates,
    Proposal,
    ProposalSupport,
    utcnow,
)
from node.services import actors, discussions  # noqa: E402
from node.uris import Uris  # noqa: E402
from web.cache import TTL  # noqa: E402
from web.security import COOKIE  # noqa: E402

__all__ = ["seed", "login", "sign_in_readers", "serve_node", "serve_raw", "load", "wait_up", "pct", "RAW"]

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SHOWN = re.compile(r'<li id="contribution-r(\d+)"')  # the seeded contributions are remote ones
READERS = CONCURRENCY  # signed-in residents, one per connection
WRITER = "writer"  # the resident who posts during the mixed runs (not one of the readers)
PASSWORD = "bench-password-1"
PAGES = {"discussion": "/orgs/bench/discussions/big", "proposals": "/orgs/bench/proposals?sort=supports"}
WRITE_RATES = (0, 1, 5)  # contributions per second through the web form
LIKE_RATE = 20  # Likes per second through the inbox (the second half of the mixed table)
REMOTE_HOST = "127.0.0.2"  # the other servers: the remote actors' documents, the followers' inboxes
GOAL_RATIO, GOAL_P99, GOAL_RSS_MB = 0.5, 100.0, 200.0
RAW = jinja2.Environment(autoescape=True).from_string(
    "<!doctype html><html lang=en><head><title>{{ title }}</title></head><body><main><h1>{{ title }}</h1>"
    "{% for item in items %}<article><h2>{{ item.author }}</h2><div>{{ item.body }}</div>"
    "<p>{{ item.count }} agree</p><form method=post><button>Agree</button></form></article>"
    "{% endfor %}</main></body></html>")


@dataclass(frozen=True)
class Scale:
    """How much data the node holds: proposals × supporters supports, contributions in the big
    discussion, remote followers of the organisation."""
    proposals: int
    supporters: int
    contributions: int
    followers: int


FULL = Scale(proposals=1_000, supporters=1_000, contributions=200, followers=10_000)  # 1,000,000 supports
QUICK = Scale(proposals=100, supporters=100, contributions=200, followers=1_000)
PROPOSALS, SUPPORTERS, CONTRIBUTIONS, FOLLOWERS = FULL.proposals, FULL.supporters, FULL.contributions, FULL.followers


def _free_port() -> int:  # kept for the benches that import it from here
    return free_port()


async def seed(url: str, base: str, scale: Scale = FULL, followers_at: str | None = None) -> None:
    """Bench data: services for what needs keys, Core bulk inserts for the volume. The followers'
    100 servers have their shared inboxes at ``followers_at``/follower<k>/inbox when it is given
    (a loopback server that answers), else at https://follower<k>.example/inbox (never reached)."""
    engine = create_engine(url)
    await upgrade(engine)
    uris = Uris(base)
    async with transaction(session_factory(engine)) as s:
        org = await actors.create_organization(s, uris, "bench", "Bench City")
        disc = await discussions.open_discussion(s, uris, org, "big", "A big discussion",
                                                 summary="200 contributions", support_threshold=5)
        readers = [(await actors.create_user(s, uris, f"reader{r}", PASSWORD, f"Resident {r}")).actor_id
                   for r in range(READERS)]
        await actors.create_user(s, uris, WRITER, PASSWORD, "Resident who writes")
        org_id, disc_id = org.id, disc.id
    now = utcnow()
    async with engine.begin() as conn:
        await conn.execute(insert(Actor), [
            {"ap_id": f"https://remote{i % 20}.example/users/u{i}", "type": "Person", "local": False,
             "username": f"u{i}", "domain": f"remote{i % 20}.example", "name": f"Supporter {i}",
             "summary": "", "manually_approves_followers": False, "discoverable": True, "created_at": now}
            for i in range(scale.supporters - 1)])
        first_actor = (await conn.execute(text("SELECT min(id) FROM actors WHERE local = false"))).scalar()
        remote_ids = list(range(first_actor, first_actor + scale.supporters - 1))
        rows = []
        for i in range(scale.contributions):
            parent = (i - 1) if i % 4 else None  # threads of up to 4 → depth capped at 3
            rows.append({"ap_id": f"{base}/contributions/b{i}", "discussion_id": disc_id,
                         "author_id": remote_ids[i % 50], "depth": 1 if parent is None else min(3, i % 4 + 1),
                         "local": False, "content": f"<p>Contribution {i}: " + "du texte " * 30 + "</p>",
                         "agree_count": i % 9, "quality_recognised": i % 17 == 0, "impact": i % 31 == 0,
                         "official": False, "hidden": False, "published": now - timedelta(minutes=i)})
        await conn.execute(insert(Contribution), rows)
        first_c = (await conn.execute(text("SELECT min(id) FROM contributions"))).scalar()
        # Resident r agrees with the contributions c where c % READERS == r (6 or 7 each).
        await conn.execute(insert(Agreement), [
            {"ap_id": f"{base}/likes/c{c}", "contribution_id": first_c + c,
             "actor_id": readers[c % READERS], "created_at": now} for c in range(scale.contributions)])
        await conn.execute(insert(Proposal), [
            {"ap_id": f"{base}/proposals/p{i}", "organization_id": org_id, "author_id": remote_ids[i % min(100, len(remote_ids))],
             "title": f"Proposal {i}", "body": "<p>" + "une idée " * 40 + "</p>", "state": "published",
             "support_count": scale.supporters, "created_at": now, "published_at": now - timedelta(minutes=i)}
            for i in range(scale.proposals)])
        first_p = (await conn.execute(text("SELECT min(id) FROM proposals"))).scalar()
        for p in range(first_p, first_p + scale.proposals):  # remote supporters + resident p % READERS
            await conn.execute(insert(ProposalSupport), [
                {"ap_id": f"{base}/likes/{p}-{a}", "proposal_id": p, "actor_id": a, "created_at": now}
                for a in [readers[(p - first_p) % READERS], *remote_ids]])
        await _seed_followers(conn, org_id, scale.followers, now, followers_at)
    await engine.dispose()


async def _seed_followers(conn, org_id: int, count: int, now, followers_at: str | None) -> None:
    """``count`` remote people on 100 servers following the organisation (accepted), as a node
    with a large audience holds them."""
    hosts = [f"follower{k}.example" for k in range(100)]
    shared = [f"{followers_at}/follower{k}/inbox" if followers_at else f"https://{host}/inbox"
              for k, host in enumerate(hosts)]
    await conn.execute(insert(Actor), [
        {"ap_id": f"https://{hosts[i % 100]}/users/f{i}", "type": "Person", "local": False,
         "username": f"f{i}", "domain": hosts[i % 100], "name": f"Follower {i}", "summary": "",
         "inbox": f"https://{hosts[i % 100]}/users/f{i}/inbox", "shared_inbox": shared[i % 100],
         "manually_approves_followers": False, "discoverable": True, "created_at": now}
        for i in range(count)])
    first = (await conn.execute(text("SELECT min(id) FROM actors WHERE username = 'f0' AND local = false"))).scalar()
    await conn.execute(insert(Follow), [
        {"ap_id": f"https://{hosts[i % 100]}/follows/{i}", "follower_id": first + i, "followed_id": org_id,
         "state": FollowStates.accepted, "created_at": now} for i in range(count)])


async def login(http: aiohttp.ClientSession, base: str, reader: int | str = 0) -> str:
    """Sign ``reader{reader}`` (or the account named ``reader``) in; returns the session cookie's value."""
    username = reader if isinstance(reader, str) else f"reader{reader}"
    async with http.get(f"{base}/login") as response:
        token = CSRF.search(await response.text()).group(1)
        anonymous = response.cookies[COOKIE].value  # the CSRF token belongs to this session
    async with http.post(f"{base}/login", allow_redirects=False, headers={"Cookie": f"{COOKIE}={anonymous}"},
                         data={"csrf_token": token, "username": username, "password": PASSWORD}) as response:
        assert response.status == 303, response.status
        return response.cookies[COOKIE].value


def _seeded_index(db: Path) -> dict[int, int]:
    """Row id → seed number of the seeded contributions (b0, b1, …)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT id, ap_id FROM contributions WHERE ap_id LIKE '%/contributions/b%'").fetchall()
    finally:
        conn.close()
    return {row_id: int(ap_id.rsplit("/b", 1)[1]) for row_id, ap_id in rows}


async def sign_in_readers(base: str, scale: Scale = FULL, seeded: dict[int, int] | None = None) -> list[str]:
    """Each resident's session cookie, after checking that their copies carry their own marks.
    ``seeded`` (row id → seed number) lets the check count only the contributions the page shows
    (a page may show the first threads only); without it, all of them must be shown."""
    cookies = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        for r in range(READERS):
            cookie = await login(http, base, r)
            cookies.append(cookie)
            headers = {"Cookie": f"{COOKIE}={cookie}"}
            async with http.get(base + PAGES["discussion"], headers=headers) as response:
                page = await response.text()
            agreed = page.count('aria-pressed="true"')
            if seeded is None:
                shown = range(scale.contributions)
            else:
                shown = [seeded[int(i)] for i in SHOWN.findall(page) if int(i) in seeded]
                assert shown, f"resident {r}: no seeded contribution on the discussion page"
            expected = sum(1 for c in shown if c % READERS == r)
            assert agreed == expected and f"Resident {r}<" in page, (r, agreed, expected)
            async with http.get(base + PAGES["proposals"], headers=headers) as response:
                page = await response.text()
            # The first page of 20 (equal support counts, so the highest ids): the last 20 proposals;
            # resident r supports the proposals i with i % READERS == r.
            expected = sum(1 for i in range(scale.proposals - 20, scale.proposals) if i % READERS == r)
            assert page.count("badge-supported") == expected, (r, page.count("badge-supported"))
    return cookies


async def plans(url: str, settings: Settings) -> list[str]:
    """Render each page once in-process, EXPLAIN every statement it ran that reads supports."""
    app = create_app(settings, background=False)
    statements: list[tuple[str, object]] = []
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    engine = app[RUNTIME].sessions.kw["bind"]

    def capture(_conn, _cursor, statement, parameters, _context, _executemany):
        statements.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    port = free_port()
    await web.TCPSite(runner, HOST, port).start()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        # Signed in: the pages also ask what *you* agreed with and supported.
        headers = {"Cookie": f"{COOKIE}={await login(http, f'http://{HOST}:{port}')}"}
        for path in PAGES.values():
            async with http.get(f"http://{HOST}:{port}{path}", headers=headers) as response:
                assert response.status == 200, (path, response.status)
    event.remove(engine.sync_engine, "before_cursor_execute", capture)
    problems, problems_ok, seen = [], [], []
    async with engine.connect() as conn:
        for statement, parameters in list(statements):
            if "proposal_supports" not in statement or statement in seen:
                continue
            seen.append(statement)
            plan = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)).all()
            details = " | ".join(str(row[-1]) for row in plan)
            if any(str(row[-1]).startswith("SCAN proposal_supports") for row in plan):
                problems.append(details)
            else:
                problems_ok.append(details)
    await runner.cleanup()
    return ([f"{len(seen)} statements read proposal_supports"] + [f"FULL SCAN: {p}" for p in problems]
            + [f"indexed: {p}" for p in problems_ok])


async def cold_renders(url: str, settings: Settings, renders: int) -> dict[str, float]:
    """Median CPU milliseconds of the handler of each page for a signed-in resident, rendered
    in-process with nothing cached: a new URL each time (the page cache misses) and, where the
    node keeps rendered contributions (web/participation/fragments.py), those emptied first."""
    try:
        from web.participation.fragments import FRAGMENTS
    except ImportError:  # code from before the fragment cache
        FRAGMENTS = None
    app = create_app(settings, background=False)
    spent: list[float] = []
    measure_cpu(app, spent)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, HOST, port).start()
    medians = {}
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            headers = {"Cookie": f"{COOKIE}={await login(http, f'http://{HOST}:{port}')}"}
            for name, path in PAGES.items():
                times = []
                for n in range(renders):
                    if FRAGMENTS is not None and FRAGMENTS in app:
                        app[FRAGMENTS].clear()
                    spent.clear()
                    target = f"http://{HOST}:{port}{path}{'&' if '?' in path else '?'}cold={n}"
                    async with http.get(target, headers=headers) as response:
                        assert response.status == 200, (path, response.status)
                        await response.read()
                    times.append(spent[0] * 1000)
                medians[name] = statistics.median(times)
    finally:
        await runner.cleanup()
    return medians


def serve_node(port: int, url: str, data_dir: str, ready, profile: str | None = None) -> None:
    """The node, as `civic serve` runs it. With ``profile`` (a path), SIGUSR1 starts cProfile in
    the web process and SIGUSR2 stops it and writes its statistics there."""
    settings = Settings(base_url=f"http://{HOST}:{port}", database_url=url, data_dir=Path(data_dir),
                        development=True, secret_key="bench")
    app = create_app(settings)
    if profile:
        profiler = cProfile.Profile()

        def stop() -> None:
            profiler.disable()
            profiler.dump_stats(profile)

        async def on_signals(_app: web.Application) -> None:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGUSR1, profiler.enable)
            loop.add_signal_handler(signal.SIGUSR2, stop)

        app.on_startup.append(on_signals)
    ready.set()
    web.run_app(app, host=HOST, port=port, print=None, access_log=None)


def serve_raw(port: int, ready) -> None:
    items = [{"author": f"Supporter {i}", "body": "du texte " * 30, "count": i % 9} for i in range(CONTRIBUTIONS)]

    async def page(_request):
        return web.Response(text=RAW.render(title="A big discussion", items=items), content_type="text/html")

    app = web.Application()
    app.router.add_get("/raw", page)
    ready.set()
    web.run_app(app, host=HOST, port=port, print=None, access_log=None)


# --- mixed reads and writes ------------------------------------------------------------------------

class Writer:
    """The signed-in resident who posts contributions through the discussion's web form."""

    def __init__(self, http: aiohttp.ClientSession, base: str, cookie: str, token: str):
        self.http, self.cookie, self.token = http, cookie, token
        self.url = f"{base}{PAGES['discussion']}/contributions"
        self.tag = ""

    @staticmethod
    async def sign_in(base: str) -> tuple[str, str]:
        """The writer's session cookie and the CSRF token of the form on the discussion page."""
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            cookie = await login(http, base, WRITER)
            async with http.get(base + PAGES["discussion"], headers={"Cookie": f"{COOKIE}={cookie}"}) as response:
                return cookie, CSRF.search(await response.text()).group(1)  # as a browser sends it

    async def post(self, k: int) -> int:
        form = {"csrf_token": self.token, "content": f"Written while people read ({self.tag} #{k}): "
                "we could keep the square open on Sunday mornings."}
        async with self.http.post(self.url, data=form, allow_redirects=False,
                                  headers={"Cookie": f"{COOKIE}={self.cookie}"}) as response:
            await response.read()
            return response.status


class Likers:
    """Remote people (one key pair, each their own actor document) who like the seeded
    contributions through the node's shared inbox; the n-th Like is from actor n % count, so each
    (actor, contribution) pair comes once and each Like is a new agreement."""

    def __init__(self, base: str, remote: str, count: int, contributions: int):
        self.public, self.private = generate_rsa_keypair()
        self.base, self.count, self.contributions = base, count, contributions
        self.inbox = f"{base}/inbox"
        self.ids = [f"{remote}/users/liker{k}" for k in range(count)]
        self.documents = {f"/users/liker{k}": self._document(actor) for k, actor in enumerate(self.ids)}
        self.sent = 0

    def _document(self, actor: str) -> dict:
        return {"@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                "id": actor, "type": "Person", "preferredUsername": actor.rsplit("/", 1)[1],
                "inbox": f"{actor}/inbox",
                "publicKey": {"id": f"{actor}#main-key", "owner": actor, "publicKeyPem": self.public}}

    def signed(self, n: int) -> list[tuple[bytes, dict]]:
        """The next ``n`` Likes, signed now (signing is not what is measured)."""
        out = []
        for j in range(self.sent, self.sent + n):
            actor, target = self.ids[j % self.count], j // self.count
            assert target < self.contributions, "more Likes than (actor, contribution) pairs"
            doc = {"@context": "https://www.w3.org/ns/activitystreams", "type": "Like",
                   "id": f"{actor}/likes/{j}", "actor": actor, "object": f"{self.base}/contributions/b{target}"}
            body = json.dumps(doc).encode()
            out.append((body, sign_headers("POST", self.inbox, body, f"{actor}#main-key", self.private)))
        self.sent += n
        return out

    async def send(self, http: aiohttp.ClientSession, like: tuple[bytes, dict]) -> int:
        body, headers = like
        async with http.post(self.inbox, data=body, headers=headers) as response:
            await response.read()
            return response.status


@dataclass
class Cell:
    """One run of the mixed table: who reads, how many writes and Likes a second, what came of it."""
    readers: str
    writes: int
    likes: int
    seconds: float  # how long writes and Likes were sent
    elapsed: float  # until the last read answered
    latencies: list[float]
    failures: int
    wrote: Sent
    liked: Sent
    cpu: float  # the web process's CPU seconds during the cell (all its threads)
    ran: float  # seconds its main thread (the event loop) ran on a CPU
    waited: float  # seconds its main thread was ready to run but waited for a CPU
    contributions: int  # in the discussion when the cell began
    caught_up: float | None  # seconds until its inbox and outbox work was done (None: not within bound)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed


def _query(db: Path, sql: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def _pending(db: Path) -> int:
    """Inbound activities not yet processed and outbox events not yet fanned out."""
    return (_query(db, "SELECT count(*) FROM inbox_activities WHERE state = 'received'")
            + _query(db, "SELECT count(*) FROM outbox_events WHERE processed_at IS NULL"))


async def _catch_up(db: Path, bound: float = 20.0) -> float | None:
    """Wait (at most ``bound`` seconds) for the node to finish what a cell sent it, so that the
    next cell starts from a quiet node; how long it took, or None."""
    start = time.perf_counter()
    while time.perf_counter() - start < bound:
        if _pending(db) == 0:
            return time.perf_counter() - start
        await asyncio.sleep(0.1)
    return None


async def _cell(page: str, db: Path, node_pid: int, cookies: list[str] | None, writes: int, likes: int,
                seconds: float, writer: Writer, likers: Likers, http: aiohttp.ClientSession) -> Cell:
    readers = "anonymous" if cookies is None else f"{READERS} signed-in residents"
    writer.tag = f"{readers}, {writes}/s, {likes} Likes/s"
    batch = likers.signed(int(likes * seconds))
    contributions = _query(db, "SELECT count(*) FROM contributions")
    cpu, (ran, waited) = cpu_seconds(node_pid), schedule_seconds(node_pid)
    (elapsed, latencies, failures), wrote, liked = await asyncio.gather(
        load(page, 0, cookies, min_seconds=seconds, cookie_name=COOKIE),
        steady(writes, seconds, writer.post),
        steady(likes, seconds, lambda k: likers.send(http, batch[k])))
    cpu, (ran_after, waited_after) = cpu_seconds(node_pid) - cpu, schedule_seconds(node_pid)
    return Cell(readers, writes, likes, seconds, elapsed, latencies, failures, wrote, liked, cpu,
                ran_after - ran, waited_after - waited, contributions, await _catch_up(db))


def likers_for(base: str, remote: str, seconds: float, scale: Scale) -> Likers:
    """Enough remote actors for every Like of the mixed table to be a new agreement."""
    likes_needed = len(WRITE_RATES) * 2 * int(LIKE_RATE * seconds)
    return Likers(base, remote, math.ceil((likes_needed + 64) / scale.contributions) + 1, scale.contributions)


async def mixed(base: str, db: Path, node_pid: int, cookies: list[str], writer_session: tuple[str, str],
                seconds: float, likers: Likers) -> tuple[list[Cell], dict[str, int]]:
    """The mixed table: for anonymous and then signed-in readers, the quiet cell and each write
    rate, without and then with the Likes; then what the node stored of it."""
    page = base + PAGES["discussion"]
    cells = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        writer = Writer(http, base, *writer_session)
        # One Like from each remote actor first: the node fetches their documents (keys) once.
        warm = await asyncio.gather(*(likers.send(http, like) for like in likers.signed(likers.count)))
        assert set(warm) == {202}, warm
        for who in (None, cookies):
            await load(page, 100, who, cookie_name=COOKIE)  # warm-up
            if await _catch_up(db) is None:
                raise RuntimeError("the node did not process the warm-up Likes within 20 s")
            for likes in (0, LIKE_RATE):
                for writes in WRITE_RATES:
                    cells.append(await _cell(page, db, node_pid, who, writes, likes, seconds, writer,
                                             likers, http))
    remote = likers.ids[0].split("/users/")[0]
    stored = {
        "contributions written": _query(db, "SELECT count(*) FROM contributions c JOIN actors a "
                                            f"ON a.id = c.author_id WHERE a.local AND a.username = '{WRITER}'"),
        "agreements from the Likes": _query(db, "SELECT count(*) FROM agreements g JOIN actors a "
                                                 f"ON a.id = g.actor_id WHERE a.ap_id LIKE '{remote}/%'"),
        "Likes sent": likers.sent,
        "inbox rows not processed": _query(db, "SELECT count(*) FROM inbox_activities WHERE state != 'processed'"),
        "deliveries to the followers' servers done": _query(
            db, "SELECT count(*) FROM deliveries WHERE state = 'delivered'"),
        "not done": _query(db, "SELECT count(*) FROM deliveries WHERE state != 'delivered'"),
    }
    return cells, stored


def _mixed_lines(cells: list[Cell], scale: Scale, judged: bool) -> tuple[list[str], bool]:
    quiet = {c.readers: c.rate for c in cells if not c.writes and not c.likes}
    lines, ok = [], True
    for c in cells:
        ratio = c.rate / quiet[c.readers]
        line = (f"mixed, {c.readers}, {c.writes} writes/s" + (f" + {c.likes} Likes/s" if c.likes else "")
                + f": {c.rate:,.0f} req/s, p50 {pct(c.latencies, .5):.1f} ms, p99 {pct(c.latencies, .99):.1f} ms, "
                f"{ratio:.2f}× the quiet rate")
        if c.failures:
            line += f", {c.failures} non-200"
        if c.writes:
            line += "; writes: " + c.wrote.summary(303, c.seconds, "POSTs")
        if c.likes:
            line += "; Likes: " + c.liked.summary(202, c.seconds, "signed POSTs")
        line += (f"; {c.contributions} contributions at the start; web process CPU {c.cpu / c.elapsed:.0%} "
                 f"of one core, its event loop ran {c.ran / c.elapsed:.0%} of the time and waited for a "
                 f"CPU {c.waited / c.elapsed:.0%}; " + (f"its work done {c.caught_up:.1f} s after the cell" if c.caught_up is not None
                                     else "its work NOT done 20 s after the cell"))
        lines.append(line)
    for likes, label in ((0, ""), (LIKE_RATE, f" with {LIKE_RATE} Likes/s")):
        for c in cells:
            if c.readers != "anonymous" and c.writes == max(WRITE_RATES) and c.likes == likes:
                ratio, p99 = c.rate / quiet[c.readers], pct(c.latencies, .99)
                sent_all = c.wrote.ok(303) >= 0.9 * c.wrote.planned and (
                    not likes or c.liked.ok(202) >= 0.9 * c.liked.planned)
                met = ratio >= GOAL_RATIO and p99 <= GOAL_P99 and not c.failures and sent_all
                ok &= met
                verdict = ("met" if met else "NOT met") if judged else "not judged (--quick or --profile)"
                lines.append(f"goal: signed-in readers at {c.writes} writes/s{label} keep ≥ {GOAL_RATIO}× their "
                             f"quiet rate with p99 ≤ {GOAL_P99:.0f} ms: {ratio:.2f}×, p99 {p99:.1f} ms"
                             f"{'' if sent_all else ', the writes or Likes were not all answered'} — {verdict}")
    return lines, ok


# --- the command ---------------------------------------------------------------------------------

def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("requests", nargs="?", type=int, help="requests per cached-page run (default 2000)")
    parser.add_argument("--seconds", type=float, help=f"length of each timed run (default {2 * TTL + 1:.0f})")
    parser.add_argument("--quick", action="store_true", help="small data, short runs, nothing written")
    parser.add_argument("--profile", metavar="PATH", help="cProfile the web process during the mixed table, "
                        "statistics written to PATH (read with python -m pstats); slows it: figures not written")
    parser.add_argument("--code", help="what code is measured, for the results (default: the checkout's commit)")
    args = parser.parse_args()
    args.requests = args.requests or (200 if args.quick else 2000)
    args.seconds = args.seconds or (1.0 if args.quick else 2 * TTL + 1)
    return args


def _code() -> str:
    """The commit measured, and whether the checkout had changes not committed."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        changed = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                 capture_output=True, text=True, check=True, timeout=10).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"
    changed = sorted(line[3:] for line in changed if line.strip())
    return f"commit {commit}" + (f" with changes not committed in {', '.join(changed)}" if changed else "")


def _load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _say(began: float, what: str) -> None:
    """Progress on stderr, so that a long run shows where it is."""
    print(f"[{time.perf_counter() - began:5.0f} s] {what}", file=sys.stderr, flush=True)


def _start(ctx, target, *args, **kwargs) -> multiprocessing.Process:
    ready = ctx.Event()
    proc = ctx.Process(target=target, args=(*args, ready), kwargs=kwargs, daemon=True)
    proc.start()
    ready.wait(60)
    return proc


def _page_runs(base: str, raw: str, node_pid: int, n: int, seconds: float, cookies: list[str],
               memory: dict[str, tuple[float, float]]) -> tuple[dict, dict[str, float]]:
    """The cached pages (anonymous, signed-in) and a new URL each request, with the web process's
    CPU time per page of the latter."""
    results, cpu_per_page = {}, {}
    asyncio.run(load(raw, 200))  # warm-up
    results["raw jinja2 page"] = asyncio.run(load(raw, n))
    for name, path in PAGES.items():
        asyncio.run(load(f"{base}{path}", 100))
        results[f"{name}, anonymous (page cache)"] = asyncio.run(load(f"{base}{path}", n))
        # Warmed up like the anonymous run; then measured over more than two cache lifetimes
        # (by default), so that the run includes the pages and marks being refreshed.
        asyncio.run(load(f"{base}{path}", 100, cookies=cookies, cookie_name=COOKIE))
        results[f"{name}, {READERS} signed-in residents (shared rendering, own marks; "
                f"≥ {seconds:.0f} s, cache refreshed every {TTL:.0f} s)"] = asyncio.run(
            load(f"{base}{path}", n, cookies=cookies, min_seconds=seconds, cookie_name=COOKIE))
        fresh = f"{name}, signed in, a new URL each request (page cache missed, other caches kept; reference)"
        cpu = cpu_seconds(node_pid)
        results[fresh] = asyncio.run(load(f"{base}{path}", max(32, n // 20), cookies=cookies, fresh_urls=True,
                                          cookie_name=COOKIE))
        cpu_per_page[fresh] = (cpu_seconds(node_pid) - cpu) / len(results[fresh][1]) * 1000
        memory[f"after the {name} runs"] = memory_mb(node_pid)
    return results, cpu_per_page


def _page_lines(results: dict, cpu_per_page: dict[str, float]) -> tuple[list[str], bool]:
    raw_elapsed, raw_latencies, _ = results["raw jinja2 page"]
    raw_rate = len(raw_latencies) / raw_elapsed
    lines, ok = [], True
    for name, (elapsed, lat, failures) in results.items():
        rate = len(lat) / elapsed
        line = f"{name}: {rate:,.0f} req/s, p50 {pct(lat, .5):.1f} ms, p99 {pct(lat, .99):.1f} ms"
        if name != "raw jinja2 page":
            ratio = rate / raw_rate
            if name in cpu_per_page:
                line += (f", {ratio:.2f}× raw; {cpu_per_page[name]:.1f} ms of web-process CPU per page "
                         f"({elapsed / len(lat) * 1000:.1f} ms of wall time per page at {CONCURRENCY} connections)")
            else:
                met = pct(lat, .5) <= 25 and pct(lat, .99) <= 100 and ratio >= 0.25 and not failures
                ok &= met
                line += (f", {ratio:.2f}× raw (goals p50 ≤ 25 ms, p99 ≤ 100 ms, ≥ 0.25×) — "
                         f"{'met' if met else 'NOT met'}")
        lines.append(line + (f", {failures} non-200" if failures else ""))
    return lines, ok


def main() -> None:
    args = _arguments()
    scale = QUICK if args.quick else FULL
    n, seconds = args.requests, args.seconds
    began, load_before = time.perf_counter(), _load_average()
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as data_dir:
        db = Path(data_dir) / "bench.db"
        url = f"sqlite+aiosqlite:///{db}"
        node_port, raw_port, remote_port = free_port(), free_port(), free_port(REMOTE_HOST)
        base, remote = f"http://{HOST}:{node_port}", f"http://{REMOTE_HOST}:{remote_port}"
        likers = likers_for(base, remote, seconds, scale)
        asyncio.run(seed(url, base, scale, followers_at=remote))
        seeded = time.perf_counter() - began
        _say(began, "seeded")
        settings = Settings(base_url=base, database_url=url, data_dir=Path(data_dir), development=True,
                            secret_key="bench")
        plan_lines = asyncio.run(plans(url, settings))
        cold = asyncio.run(cold_renders(url, settings, 5 if args.quick else 20))
        _say(began, "query plans and cold renderings measured")
        procs = [_start(ctx, serve_remote, REMOTE_HOST, remote_port, likers.documents),
                 _start(ctx, serve_node, node_port, url, data_dir, profile=args.profile),
                 _start(ctx, serve_raw, raw_port)]
        node_pid, memory = procs[1].pid, {}
        try:
            raw = f"http://{HOST}:{raw_port}/raw"
            asyncio.run(wait_up(raw))
            for path in PAGES.values():
                asyncio.run(wait_up(f"{base}{path}"))
            memory["started"] = memory_mb(node_pid)
            measured_from, scheduled = time.perf_counter(), schedule_seconds(node_pid)
            _say(began, "node started")
            cookies = asyncio.run(sign_in_readers(base, scale, _seeded_index(db)))
            writer_session = asyncio.run(Writer.sign_in(base))
            memory["readers and writer signed in"] = memory_mb(node_pid)
            # Each log-in verifies an argon2 hash (64 MiB each with argon2-cffi's defaults): the
            # peak so far is kept, and the peak while serving pages alone is measured from here.
            reset_peak(node_pid)
            _say(began, "readers signed in, their marks checked")
            results, cpu_per_page = _page_runs(base, raw, node_pid, n, seconds, cookies, memory)
            _say(began, "pages measured")
            if args.profile:
                os.kill(node_pid, signal.SIGUSR1)
            cells, stored = asyncio.run(mixed(base, db, node_pid, cookies, writer_session, seconds, likers))
            if args.profile:
                os.kill(node_pid, signal.SIGUSR2)
            memory["after the mixed table"] = serving_peak, current = memory_mb(node_pid)
            peak = max(serving_peak, memory["readers and writer signed in"][0])
            measured = time.perf_counter() - measured_from
            ran, waited = (after - before for after, before in zip(schedule_seconds(node_pid), scheduled, strict=True))
        finally:
            for proc in procs:
                proc.terminate()
                proc.join(5)
    judged = not (args.quick or args.profile)
    lines = [f"data: {scale.proposals:,} proposals, {scale.proposals * scale.supporters:,} supports, "
             f"{scale.contributions} contributions in one discussion, {scale.followers:,} remote followers "
             f"of the organisation on 100 servers (their shared inboxes answered 202 on {REMOTE_HOST}) "
             f"(SQLite, seeded in {seeded:.0f} s); at least {n} requests per run, "
             f"{CONCURRENCY} connections; the node in one process, the load from another, on the same "
             f"{os.cpu_count()} cores (load average {load_before} before the run, {_load_average()} after: other "
             f"work on the machine counts); whole command {time.perf_counter() - began:.0f} s",
             f"code measured: {args.code or _code()}",
             f"the web process's event loop, from its start to the end of the mixed table ({measured:.0f} s): "
             f"ran on a CPU {ran / measured:.0%} of the time, ready but waiting for a CPU {waited / measured:.0%} "
             "(the rest: idle, or waiting for its database thread)"]
    page_lines, ok = _page_lines(results, cpu_per_page)
    lines += page_lines
    lines.append("cold rendering, signed in (nothing cached: a new URL, rendered contributions emptied; "
                 "in-process, CPU of the handler, median): "
                 + ", ".join(f"{name} {ms:.1f} ms" for name, ms in cold.items()))
    lines.append("query plans (EXPLAIN QUERY PLAN): " + "; ".join(plan_lines))
    ok &= not any(line.startswith("FULL SCAN") for line in plan_lines)
    lines.append(f"mixed reads and writes: {seconds:.0f} s per cell, readers on the discussion page over "
                 f"{CONCURRENCY} connections; one signed-in resident posts contributions through the web "
                 f"form; {LIKE_RATE} Likes/s from remote actors (signed, each a new agreement) at the "
                 "shared inbox; ratios against the quiet cell (no writes, no Likes) of the same readers; "
                 "the written contributions stay, so the discussion grows from cell to cell")
    table, mixed_ok = _mixed_lines(cells, scale, judged)
    lines += table
    lines.append("stored after the mixed runs: " + ", ".join(f"{k} {v}" for k, v in stored.items()))
    memory_met = peak <= GOAL_RSS_MB
    lines.append(f"memory: web process peak RSS (VmHWM) over the whole run {peak:.0f} MB ({current:.0f} MB at "
                 f"the end), serving {scale.proposals * scale.supporters:,} supports and {scale.followers:,} "
                 f"followers; goal ≤ {GOAL_RSS_MB:.0f} MB — "
                 + (("met" if memory_met else "NOT met") if judged else "not judged (--quick or --profile)")
                 + f"; peak while serving pages after the {READERS + 1} log-ins (peak reset then): "
                 f"{serving_peak:.0f} MB; peak / current RSS along the run: "
                 + ", ".join(f"{when} {hwm:.0f} / {rss:.0f} MB" for when, (hwm, rss) in memory.items()))
    print("\n".join(lines))
    failures = sum(r[2] for r in results.values()) + sum(c.failures for c in cells)
    if args.quick or args.profile:
        print(f"(--{'quick' if args.quick else 'profile'}: not written to bench/RESULTS.md)")
        sys.exit(1 if failures else 0)
    append("Pages and live consultations (bench/bench_pages.py)", lines)
    sys.exit(0 if ok and mixed_ok and memory_met else 1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
