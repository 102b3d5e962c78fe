"""Supports arriving at a coalition's home, and the per-member breakdown (issue 10's benchmark).

One command: `.venv/bin/python bench/bench_coalition.py [N] [--database-url URL] [--quick] [--no-record]
[--profile PATH]`

- N (default 3000): relayed supports per timed run (and requests of the raw receiver).
- --database-url URL: PostgreSQL instead of SQLite: a database of its own is created on that
  server for the run and dropped at the end (default: $CIVIC_BENCH_DATABASE_URL when set).
- --quick: a check that the whole command works (50 members, 300 supports a run, 2,000 seeded
  supports, 20 breakdown calls); its figures are printed, never written to bench/RESULTS.md.
- --profile PATH: cProfile the home during the supports-alone run (read with `python -m pstats
  PATH`) and count the SQL statements it runs meanwhile (PATH.statements.json, most frequent
  first); profiling slows it, so nothing is written to bench/RESULTS.md.

The home node (its real app, in a process of its own) holds a coalition, two campaigns (one gets
the relayed supports, the other the breakdown's seeded ones) and 250 member
organisations on 5 member nodes (127.0.0.11-15, one small aiohttp process serving their actor
documents and answering 202 to any POST, counting both). The organisations are stored at the home
as the node stores a remote actor it has met (document, key id, public key), accepted members, each
with its variant of the campaign (campaign_variants, local=False): verifying a relay needs no fetch.

1. Supports counted per second. Each organisation relays supports of its variant to the
   coalition's inbox as signed `Announce{Like}` (each Like by a distinct person on the member's
   node; FEDERATION.md "Coalitions and campaigns"), over 32 connections with pre-signed requests, as
   bench/bench_inbox.py sends (its `_blast`). The inbox answers 202 and processes afterwards, so the
   rate is of supports *counted*: from the first POST until `campaigns.support_count` reaches the
   number sent. The raw receiver of bench/bench_inbox.py (aiohttp + the same signature
   verification, its `_serve_raw`) gets the same bodies in the same run; the goal is ≥ 0.5× its
   rate. On PostgreSQL the same is measured again as the node is deployed there: the home
   restarted as a web process (`civic serve --no-worker`) and a `civic worker`, each its own
   process, on the same database (the worker processes what the web process stores; its ratio
   against the same raw rate). After the runs, the home's per-member tallies are checked against
   what each organisation relayed.
2. The live mix: the campaign page read over 8 connections (anonymous; cached: the same URL;
   uncached: a new URL each request, as bench/bench_pages.py's `load`) first on a quiet node for
   3 s, then while N / 5 more supports arrive, until they are counted (p50/p99 of the reads, and
   the supports' counted rate meanwhile).
3. The breakdown: a second campaign gets 100,000 supports by bulk INSERT over the 250 members × 3
   languages (1 in 50 through the campaign itself, no member), with tallies, days and the count
   upserted in bulk from what was inserted and checked equal to a recount of campaign_supports;
   then `campaigns.breakdown(session, campaign)` is timed (200 calls, each in a new session: median
   and p99; goal: median ≤ 25 ms, p99 reported beside it), its answer checked against the seeded
   tallies, and the plan of every statement it runs is printed (EXPLAIN QUERY PLAN on SQLite,
   EXPLAIN on PostgreSQL after ANALYZE): no statement may read campaign_supports.

The home's peak RSS (VmHWM) is read from /proc. Everything runs on loopback, bounded in count and
in time (a run whose supports are not all counted within 120 s after its last answer is reported
as such), and stops by itself; it exits with 1 when a goal is not met or a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import multiprocessing
import os
import random
import re
import resource
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import event, func, insert, select, text, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_processes  # noqa: E402
from bench.bench_inbox import CONCURRENCY, _blast, _serve_raw  # noqa: E402
from bench.bench_pages import _code  # noqa: E402
from bench.load import HOST, free_port, load, memory_mb, pct, wait_up  # noqa: E402
from bench.report import append  # noqa: E402
from civic.app import create_app  # noqa: E402
from federation.runtime import RUNTIME  # noqa: E402
from federation.signatures import sign_headers  # noqa: E402
from node.config import Settings  # noqa: E402
from node.db import create_engine, is_sqlite, session_factory, transaction  # noqa: E402
from node.keys import generate_rsa_keypair  # noqa: E402
from node.migrate import upgrade  # noqa: E402
from node.models import (  # noqa: E402
    Actor,
    Campaign,
    CampaignDay,
    CampaignSupport,
    CampaignTally,
    CampaignVariant,
    CoalitionMember,
    CoalitionStates,
    OutboxEvent,
    utcnow,
)
from node.services import actors, campaigns, coalitions  # noqa: E402
from node.uris import Uris  # noqa: E402

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = f"{AS}#Public"
NODE_HOSTS = tuple(f"127.0.0.{11 + k}" for k in range(5))  # the member organisations' nodes
LANGUAGES = ("fr", "de", "en")
COALITION = "vote-anyway"
READ_CONCURRENCY = 8  # readers of the campaign page while supports arrive
MIX_SHARE = 5  # the live mix's runs send N // 5 supports each (readers slow the counting down)
QUIET_SECONDS = 3.0  # length of each read run on a quiet node
COUNT_BOUND = 120.0  # seconds after a run's last answer within which its supports must be counted
DIRECT_EVERY = 50  # 1 seeded support in 50 is a Like of the campaign itself (no member)
GOAL_RATIO, GOAL_MS = 0.5, 25.0
DB_ENV = "CIVIC_BENCH_DATABASE_URL"
LONG_LIST = re.compile(r"'\{[0-9,]{40,}\}'")  # PostgreSQL's plans spell out ``IN (…)`` lists


@dataclass(frozen=True)
class Scale:
    members: int
    supports: int  # relayed supports per timed run
    seeded: int  # supports of the breakdown's campaign
    calls: int  # timed breakdown calls


FULL = Scale(members=250, supports=3000, seeded=100_000, calls=200)
QUICK = Scale(members=50, supports=300, seeded=2_000, calls=20)


# --- the member nodes: their organisations, keys and supporters ------------------------------------

@dataclass
class Member:
    """A member organisation on one of the member nodes, and its variant of the live campaign."""
    ap_id: str
    node: str  # the member node's base URL
    language: str
    private_pem: str
    id: int = 0  # its actor row at the home
    variant: str = ""

    @property
    def key_id(self) -> str:
        return f"{self.ap_id}#main-key"


@dataclass
class World:
    """The 5 member nodes (one key pair each: every organisation has its own key id, and a
    signature costs the same to verify whoever's key it is) and their organisations."""
    nodes: list[str]
    keys: list[tuple[str, str]]  # (public, private) PEM per node
    members: list[Member] = field(default_factory=list)

    @classmethod
    def make(cls, count: int) -> World:
        nodes = [f"http://{host}:{free_port(host)}" for host in NODE_HOSTS]
        world = cls(nodes, [generate_rsa_keypair() for _ in nodes])
        for j in range(count):
            k = j % len(nodes)
            world.members.append(Member(f"{nodes[k]}/actors/org{j}", nodes[k], LANGUAGES[j % len(LANGUAGES)],
                                        world.keys[k][1]))
        return world

    def document(self, member: Member) -> dict:
        """The organisation's actor document, as its node serves it and the home stores it."""
        k = self.nodes.index(member.node)
        handle = member.ap_id.rsplit("/", 1)[1]
        return {"@context": [AS, "https://w3id.org/security/v1"], "id": member.ap_id, "type": "Organization",
                "preferredUsername": handle, "name": f"Company {handle[3:]}",
                "summary": "<p>A company of the alliance.</p>", "url": member.ap_id,
                "inbox": f"{member.ap_id}/inbox", "outbox": f"{member.ap_id}/outbox",
                "followers": f"{member.ap_id}/followers", "endpoints": {"sharedInbox": f"{member.node}/inbox"},
                "publicKey": {"id": member.key_id, "owner": member.ap_id, "publicKeyPem": self.keys[k][0]}}

    def documents(self) -> dict[str, dict]:
        return {member.ap_id: self.document(member) for member in self.members}


def serve_members(sites: list[tuple[str, int]], documents: dict[str, dict], ready) -> None:
    """The member nodes, in one process: GET of an organisation's id answers its document, any POST
    answers 202; GET /_bench/counts tells how many of each came (the home should fetch nothing)."""
    counts = {"GET": 0, "POST": 0}

    async def document(request: web.Request) -> web.Response:
        if request.path == "/_bench/counts":
            return web.json_response(counts)
        counts["GET"] += 1
        doc = documents.get(f"http://{request.host}{request.path}")
        if doc is None:
            raise web.HTTPNotFound()
        return web.json_response(doc, content_type="application/activity+json")

    async def inbox(request: web.Request) -> web.Response:
        await request.read()
        counts["POST"] += 1
        return web.Response(status=202)

    async def run() -> None:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_get("/{tail:.*}", document)
        app.router.add_post("/{tail:.*}", inbox)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for host, port in sites:
            await web.TCPSite(runner, host, port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(run())


# --- the home ----------------------------------------------------------------------------------------

def home_settings(base: str, url: str, data_dir: str) -> Settings:
    # 250 organisations on 5 hosts send thousands of relays in seconds: the per-host inbox limit
    # (3,600 a minute by default) is raised, as bench/bench_inbox.py does, so that the bench
    # measures counting and not the 429 path; the limiter's counting still runs.
    return Settings(base_url=base, database_url=url, data_dir=Path(data_dir), development=True,
                    secret_key="bench", inbox_host_limit=10**9)


def serve_home(port: int, url: str, data_dir: str, profile: str | None, ready) -> None:
    """The home node as `civic serve` runs it: web, inbox and its processing in one process. With
    ``profile`` (a path), SIGUSR1 starts cProfile and a count of the SQL statements run, SIGUSR2
    writes the statistics to that path and the statements to PATH.statements.json."""
    app = create_app(home_settings(f"http://{HOST}:{port}", url, data_dir))
    if profile:
        profiler, statements = cProfile.Profile(), Counter()

        def count(_conn, _cursor, statement, _parameters, _context, _executemany):
            statements[" ".join(statement.split())[:160]] += 1

        def start() -> None:
            statements.clear()
            profiler.enable()

        def stop() -> None:
            profiler.disable()
            profiler.dump_stats(profile)
            Path(f"{profile}.statements.json").write_text(json.dumps(statements.most_common(), indent=1))

        async def on_signals(app: web.Application) -> None:
            event.listen(app[RUNTIME].sessions.kw["bind"].sync_engine, "before_cursor_execute", count)
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGUSR1, start)
            loop.add_signal_handler(signal.SIGUSR2, stop)

        app.on_startup.append(on_signals)
    ready.set()
    web.run_app(app, host=HOST, port=port, print=None, access_log=None)


def serve_web(port: int, url: str, data_dir: str, ready) -> None:
    """The home's web process as `civic serve --no-worker` runs it: HTTP and the inbox's door,
    no background work (PostgreSQL: the worker beside it processes what it stores)."""
    app = create_app(home_settings(f"http://{HOST}:{port}", url, data_dir), background=False)
    ready.set()
    web.run_app(app, host=HOST, port=port, print=None, access_log=None)


def serve_worker(port: int, url: str, data_dir: str, ready) -> None:
    """The home's `civic worker` (civic/cli.py cmd_worker): inbox processing, fan-out and delivery,
    woken by the web process's NOTIFY."""
    from civic.app import build_runtime, close_runtime, run_background
    from federation.policy import keep_blocks
    from node.db import listen

    async def run() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        rt, engine = await build_runtime(home_settings(f"http://{HOST}:{port}", url, data_dir))
        ready.set()
        try:
            await asyncio.gather(run_background(rt, stop), listen(engine, rt.on_change, stop, ready=rt.listening),
                                 keep_blocks(rt, stop))
        finally:
            await close_runtime(rt, engine)

    asyncio.run(run())


@dataclass
class Home:
    """What the seeding made at the home."""
    coalition: str  # the coalition's actor id
    inbox: str
    live_id: int  # the campaign the supports of the timed runs go to
    live_url: str
    seeded_id: int  # the campaign of the breakdown
    variants: dict[tuple[int, str], int]  # (member row id, language) → the seeded campaign's variant


def _texts(name: str) -> dict:
    return {"name": {"fr": f"{name} — votez", "de": f"{name} — wählt", "en": f"{name} — vote"},
            "summary": {lang: "Go and vote, whatever you vote." for lang in LANGUAGES},
            "content": {lang: "<p>" + "Every vote counts. " * 20 + "</p>" for lang in LANGUAGES}}


async def seed_home(engine, base: str, world: World) -> Home:
    """The coalition and its two campaigns through the services (keys, profiles, events), the
    member organisations, their memberships and variants as Core bulk inserts (what the home
    stores from their documents, Joins and Create{Page}s)."""
    await upgrade(engine)
    uris = Uris(base)
    async with transaction(session_factory(engine)) as s:
        founder = await actors.create_organization(s, uris, "founders", "The founding companies")
        coalition = await coalitions.create(s, uris, COALITION, "Vote Anyway", founder=founder,
                                            languages=LANGUAGES)
        group = coalition.actor
        live = await campaigns.create(s, uris, group, **_texts("Vote Anyway"))
        seeded = await campaigns.create(s, uris, group, **_texts("On Vote"))
        home = Home(group.ap_id, f"{group.ap_id}/inbox", live.id, live.ap_id, seeded.id, {})
        group_id = group.id
    now = utcnow()
    async with engine.begin() as conn:
        rows = await conn.execute(insert(Actor).returning(Actor.id, sort_by_parameter_order=True), [
            {"ap_id": m.ap_id, "type": "Organization", "local": False, "username": doc["preferredUsername"],
             "domain": m.node.split("//", 1)[1], "name": doc["name"], "summary": doc["summary"],
             "url": m.ap_id, "inbox": doc["inbox"], "shared_inbox": doc["endpoints"]["sharedInbox"],
             "outbox": doc["outbox"], "followers_url": doc["followers"], "key_id": m.key_id,
             "public_key_pem": doc["publicKey"]["publicKeyPem"], "manually_approves_followers": False,
             "discoverable": True, "document": doc, "fetched_at": now, "created_at": now}
            for m, doc in ((m, world.document(m)) for m in world.members)])
        for member, (row_id,) in zip(world.members, rows.all(), strict=True):
            member.id = row_id
            member.variant = f"{member.node}/variants/org{row_id}-{member.language}"
        await conn.execute(insert(CoalitionMember), [
            {"coalition_id": group_id, "member_id": m.id, "role": "member", "state": CoalitionStates.accepted,
             "activity_ap_id": f"{m.ap_id}/join", "created_at": now, "accepted_at": now} for m in world.members])
        variant = {"local": False, "content": "<p>" + "Our people vote. " * 15 + "</p>", "support_count": 0,
                   "created_at": now}
        await conn.execute(insert(CampaignVariant), [
            {**variant, "ap_id": m.variant, "campaign_id": home.live_id, "organization_id": m.id,
             "language": m.language, "name": f"Vote Anyway at {m.ap_id.rsplit('/', 1)[1]}"}
            for m in world.members])
        rows = await conn.execute(insert(CampaignVariant).returning(
            CampaignVariant.id, CampaignVariant.organization_id, CampaignVariant.language,
            sort_by_parameter_order=True), [
            {**variant, "ap_id": f"{m.node}/variants/onvote-org{m.id}-{lang}", "campaign_id": home.seeded_id,
             "organization_id": m.id, "language": lang, "name": f"On Vote ({lang})"}
            for m in world.members for lang in LANGUAGES])
        home.variants = {(org, lang): vid for vid, org, lang in rows.all()}
        # The campaigns were published before anyone supports them: their Create{Page} to the
        # members is not part of this bench (marked sent, so the fan-out stays quiet).
        await conn.execute(update(OutboxEvent).where(OutboxEvent.processed_at.is_(None)).values(processed_at=now))
    return home


# --- relayed supports ------------------------------------------------------------------------------

class Relays:
    """Signed `Announce{Like}`s: relay number i is from organisation i % members, for a person of
    its node who liked its variant; every relay is a new person."""

    def __init__(self, world: World, home: Home):
        self.world, self.home, self.sent = world, home, 0
        self.per_member: Counter[int] = Counter()  # relays sent per member row id

    def body(self, i: int) -> tuple[Member, bytes]:
        member = self.world.members[i % len(self.world.members)]
        person = f"{member.node}/users/p{i}"
        like = {"id": f"{person}/likes/{i}", "type": "Like", "actor": person, "object": member.variant}
        doc = {"@context": AS, "id": f"{member.ap_id}/relays/{i}", "type": "Announce", "actor": member.ap_id,
               "to": [self.home.coalition], "cc": [PUBLIC], "object": like,
               "published": utcnow().isoformat().replace("+00:00", "Z")}
        return member, json.dumps(doc).encode()

    def signed(self, n: int) -> list[tuple[bytes, dict]]:
        """The next ``n`` relays to the home's coalition inbox, signed now (not measured)."""
        out = []
        for i in range(self.sent, self.sent + n):
            member, body = self.body(i)
            self.per_member[member.id] += 1
            out.append((body, sign_headers("POST", self.home.inbox, body, member.key_id, member.private_pem)))
        self.sent += n
        return out

    def for_raw(self, url: str, start: int, n: int) -> list[tuple[bytes, dict]]:
        """The same bodies for the raw receiver, signed with the key it checks against (the first
        member's: it verifies every request against that one key)."""
        first = self.world.members[0]
        return [(body, sign_headers("POST", url, body, first.key_id, first.private_pem))
                for _, body in (self.body(i) for i in range(start, start + n))]


@dataclass
class Run:
    """One timed run of relayed supports."""
    sent: int
    post_seconds: float  # from the first POST to the last answer
    latencies: list[float]
    failures: int  # answers other than 202
    counted_seconds: float | None  # from the first POST until all were counted (None: not within bound)
    counted: int  # supports counted by the end of the run
    reads: tuple[float, list[float], int] | None = None  # load()'s (elapsed, latencies, non-200)

    @property
    def rate(self) -> float | None:
        return self.sent / self.counted_seconds if self.counted_seconds else None


async def support_count(engine, campaign_id: int) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(Campaign.support_count).where(Campaign.id == campaign_id))).scalar_one()


async def _counted(engine, campaign_id: int, target: int, posting: asyncio.Future) -> tuple[float | None, int]:
    """Poll the campaign's count every 20 ms until it reaches ``target`` (the time, from the
    caller's clock) or COUNT_BOUND seconds pass after the POSTs ended (None)."""
    ended = None
    while True:
        count = await support_count(engine, campaign_id)
        if count >= target:
            return time.perf_counter(), count
        if posting.done():
            ended = ended or time.perf_counter()
            if time.perf_counter() - ended > COUNT_BOUND:
                return None, count
        await asyncio.sleep(0.02)


async def read_until(page: str, fresh: bool, done: asyncio.Event) -> tuple[float, list[float], int]:
    """Read ``page`` over READ_CONCURRENCY connections until ``done`` is set: bench/bench_pages.py's
    ``load`` in slices of a second (each slice its own query string, so that ``fresh`` URLs never
    repeat); (elapsed, latencies, non-200) of them all."""
    start, latencies, failures, part = time.perf_counter(), [], 0, 0
    while not done.is_set():
        part += 1
        _, got, failed = await load(f"{page}?part={part}" if fresh else page, 0, fresh_urls=fresh,
                                    min_seconds=1.0, concurrency=READ_CONCURRENCY)
        latencies += got
        failures += failed
    return time.perf_counter() - start, latencies, failures


async def read_for(page: str, fresh: bool, seconds: float) -> tuple[float, list[float], int]:
    done = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, done.set)
    return await read_until(page, fresh, done)


async def timed_run(engine, home: Home, batch: list[tuple[bytes, dict]], read: str | None = None,
                    fresh: bool = False) -> Run:
    """Send ``batch`` over 32 connections and wait until every support is counted; with ``read``,
    readers ask for that page meanwhile, until the supports are counted."""
    before = await support_count(engine, home.live_id)
    done = asyncio.Event()
    start = time.perf_counter()
    posting = asyncio.create_task(_blast(home.inbox, batch))
    reading = asyncio.create_task(read_until(read, fresh, done)) if read else None
    counted_at, count = await _counted(engine, home.live_id, before + len(batch), posting)
    done.set()
    post_seconds, latencies, failures = await posting
    reads = await reading if reading else None
    return Run(len(batch), post_seconds, latencies, failures,
               counted_at - start if counted_at else None, count - before, reads)


async def _member_nodes_counts(base: str) -> dict[str, int]:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/_bench/counts") as response:
        return await response.json()


async def check_tallies(engine, home: Home, relays: Relays) -> list[str]:
    """What the home counted for the live campaign against what each organisation relayed: the
    count, the tallies' total and each member's tally (all in its variant's one language)."""
    async with engine.connect() as conn:
        count = await support_count(engine, home.live_id)
        rows = (await conn.execute(select(CampaignTally.member_key, CampaignTally.language, CampaignTally.supports)
                                   .where(CampaignTally.campaign_id == home.live_id))).all()
        supports = (await conn.execute(select(func.count()).select_from(CampaignSupport)
                                       .where(CampaignSupport.campaign_id == home.live_id))).scalar_one()
    languages = {m.id: m.language for m in relays.world.members}
    tallies = {(key, lang): n for key, lang, n in rows if n}
    expected = {(member, languages[member]): n for member, n in relays.per_member.items()}
    problems = []
    if not count == supports == sum(tallies.values()) == relays.sent:
        problems.append(f"count {count}, supports stored {supports}, tallies {sum(tallies.values())}, "
                        f"relays sent {relays.sent}")
    wrong = {k: (tallies.get(k, 0), n) for k, n in expected.items() if tallies.get(k, 0) != n}
    extra = set(tallies) - set(expected)
    if wrong or extra:
        problems.append(f"{len(wrong)} members' tallies differ from their relays (e.g. "
                        f"{dict(list(wrong.items())[:3])}), {len(extra)} tallies for no relay")
    return problems


async def inbox_states(engine) -> str:
    """The inbox rows by state, and the most frequent outcomes (a processed row's note, a failed
    row's reason)."""
    async with engine.connect() as conn:
        states = (await conn.execute(text("SELECT state, count(*) FROM inbox_activities GROUP BY state"))).all()
        outcomes = (await conn.execute(text(
            "SELECT state, error, count(*) AS n FROM inbox_activities GROUP BY state, error "
            "ORDER BY n DESC LIMIT 4"))).all()
    return (", ".join(f"{state} {n:,}" for state, n in states) + "; outcomes: "
            + "; ".join(f"{state} “{error}” ×{n:,}" for state, error, n in outcomes))


# --- the breakdown over 100,000 supports ------------------------------------------------------------

def _upsert(engine):
    if is_sqlite(engine):
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    return dialect_insert


async def seed_supports(engine, home: Home, world: World, n: int) -> tuple[Counter, list[str]]:
    """``n`` supports of the seeded campaign by bulk INSERT (n new people on the member nodes),
    with the tallies, days and count upserted from what was inserted (as the reaction's tally hook
    keeps them one by one); then a recount of campaign_supports checked against them."""
    tallies: Counter[tuple[int, str]] = Counter()
    days: Counter = Counter()
    start, chunk = utcnow() - timedelta(days=30), 5_000
    rng = random.Random(10)
    async with engine.begin() as conn:
        for first in range(0, n, chunk):
            people = range(first, min(n, first + chunk))
            rows = await conn.execute(insert(Actor).returning(Actor.id, sort_by_parameter_order=True), [
                {"ap_id": f"{world.nodes[i % 5]}/users/s{i}", "type": "Person", "local": False,
                 "username": f"s{i}", "domain": world.nodes[i % 5].split("//", 1)[1], "name": "",
                 "summary": "", "manually_approves_followers": False, "discoverable": True,
                 "created_at": start} for i in people])
            supports = []
            for i, (actor_id,) in zip(people, rows.all(), strict=True):
                language = LANGUAGES[(i // len(world.members)) % len(LANGUAGES)]
                member = None if i % DIRECT_EVERY == 0 else world.members[i % len(world.members)].id
                when = start + timedelta(seconds=rng.randrange(30 * 86_400))
                supports.append({"ap_id": f"{world.nodes[i % 5]}/users/s{i}/likes/onvote",
                                 "campaign_id": home.seeded_id, "actor_id": actor_id,
                                 "variant_id": home.variants[(member, language)] if member else None,
                                 "member_id": member, "language": language,
                                 "relayed_by_id": member, "created_at": when})
                tallies[(member or 0, language)] += 1
                days[when.date()] += 1
            await conn.execute(insert(CampaignSupport), supports)
        upsert = _upsert(engine)
        statement = upsert(CampaignTally)
        await conn.execute(statement.on_conflict_do_update(
            index_elements=["campaign_id", "member_key", "language"],
            set_={"supports": CampaignTally.supports + statement.excluded.supports}),
            [{"campaign_id": home.seeded_id, "member_key": key, "language": lang, "supports": count}
             for (key, lang), count in tallies.items()])
        statement = upsert(CampaignDay)
        await conn.execute(statement.on_conflict_do_update(
            index_elements=["campaign_id", "day"], set_={"supports": CampaignDay.supports + statement.excluded.supports}),
            [{"campaign_id": home.seeded_id, "day": day, "supports": count} for day, count in days.items()])
        await conn.execute(update(Campaign).where(Campaign.id == home.seeded_id)
                           .values(support_count=Campaign.support_count + n))
    async with engine.connect() as conn:
        recount = dict(((key, lang), count) for key, lang, count in (await conn.execute(
            select(func.coalesce(CampaignSupport.member_id, 0), CampaignSupport.language, func.count())
            .where(CampaignSupport.campaign_id == home.seeded_id)
            .group_by(CampaignSupport.member_id, CampaignSupport.language))).all())
        stored = dict(((key, lang), count) for key, lang, count in (await conn.execute(
            select(CampaignTally.member_key, CampaignTally.language, CampaignTally.supports)
            .where(CampaignTally.campaign_id == home.seeded_id))).all())
        count = await support_count(engine, home.seeded_id)
        if not is_sqlite(engine):
            await conn.exec_driver_sql("ANALYZE")  # what autovacuum does after such an insert
            await conn.commit()  # statistics are kept only when their transaction commits
    problems = []
    if recount != stored:
        problems.append(f"tallies differ from a recount of campaign_supports in "
                        f"{sum(1 for k in recount.keys() | stored.keys() if recount.get(k) != stored.get(k))} rows")
    if not count == n == sum(recount.values()):
        problems.append(f"count {count}, recount {sum(recount.values())}, inserted {n}")
    return tallies, problems


async def time_breakdown(engine, home: Home, calls: int, expected: Counter) -> tuple[list[float], list[str], list[str]]:
    """Milliseconds of each ``campaigns.breakdown`` call (a new session each, as a page has), the
    plan of each statement it runs, and what its answer got wrong against ``expected``."""
    sessions = session_factory(engine)
    async with sessions() as s:
        campaign = await s.get(Campaign, home.seeded_id)
    statements: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _executemany):
        statements.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    async with sessions() as s:
        shares = await campaigns.breakdown(s, campaign)
    event.remove(engine.sync_engine, "before_cursor_execute", capture)
    got = Counter({(share.member.id if share.member else 0, share.language): share.supports for share in shares})
    problems = [] if got == expected else [f"breakdown answered {len(got)} shares, {sum(got.values())} supports; "
                                           f"expected {len(expected)}, {sum(expected.values())}"]
    if any("campaign_supports" in statement for statement, _ in statements):
        problems.append("a statement of the breakdown reads campaign_supports")
    explain = "EXPLAIN QUERY PLAN" if is_sqlite(engine) else "EXPLAIN"
    async with engine.connect() as conn:
        held = (await conn.execute(select(func.count()).select_from(CampaignTally))).scalar_one()
        plans = [f"(campaign_tallies holds {held:,} rows, {len(expected):,} of them this campaign's; "
                 "a planner may read so small a table whole)"]
        for statement, parameters in statements:
            plan = (await conn.exec_driver_sql(f"{explain} {statement}", parameters)).all()
            details = LONG_LIST.sub(lambda m: f"'{{…{m.group(0).count(',') + 1} ids}}'",
                                    " | ".join(str(row[-1]).strip() for row in plan))
            head = " ".join(statement.split())[:90]
            plans.append(f"`{head}…` → {details}")
    gc.collect()  # what this process made before (signed requests, seeding) is not a web process's
    for _ in range(5):  # warm-up (connections, statement caches)
        async with sessions() as s:
            await campaigns.breakdown(s, campaign)
    times = []
    for _ in range(calls):
        began = time.perf_counter()
        async with sessions() as s:
            await campaigns.breakdown(s, campaign)
        times.append((time.perf_counter() - began) * 1000)
    return times, plans, problems


# --- the command ---------------------------------------------------------------------------------------

def _say(began: float, what: str) -> None:
    print(f"[{time.perf_counter() - began:5.0f} s] {what}", file=sys.stderr, flush=True)


def _start(ctx, target, *args) -> multiprocessing.Process:
    ready = ctx.Event()
    proc = ctx.Process(target=target, args=(*args, ready), daemon=True)
    proc.start()
    if not ready.wait(60):
        raise RuntimeError(f"{target.__name__} did not start")
    return proc


def _load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _reads(label: str, reads: tuple[float, list[float], int] | None) -> str:
    if reads is None:
        return f"{label}: not measured"
    elapsed, latencies, failures = reads
    line = (f"{label}: {len(latencies) / elapsed:,.0f} req/s, p50 {pct(latencies, .5):.1f} ms, "
            f"p99 {pct(latencies, .99):.1f} ms")
    return line + (f", {failures} non-200" if failures else "")


def _run_line(label: str, run: Run) -> str:
    counted = (f"all {run.sent:,} counted {run.counted_seconds:.2f} s after the first POST: "
               f"{run.rate:,.0f} supports counted/s" if run.rate
               else f"only {run.counted:,} of {run.sent:,} counted within {COUNT_BOUND:.0f} s of the last answer")
    return (f"{label}: {counted}; POSTs answered in {run.post_seconds:.2f} s "
            f"({run.sent / run.post_seconds:,.0f} req/s, p50 {pct(run.latencies, .5):.1f} ms, "
            f"p99 {pct(run.latencies, .99):.1f} ms, {run.failures} non-202)")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("supports", nargs="?", type=int, help="relayed supports per timed run (default 3000)")
    parser.add_argument("--database-url", default=os.environ.get(DB_ENV),
                        help=f"a PostgreSQL server to run on (a database of its own; default ${DB_ENV}, else SQLite)")
    parser.add_argument("--quick", action="store_true", help="small numbers, nothing written")
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    parser.add_argument("--profile", metavar="PATH", help="cProfile the home during the supports-alone run "
                        "(statistics written to PATH, read with python -m pstats); nothing is written to RESULTS.md")
    parser.add_argument("--code", help="what code is measured, for the results (default: the checkout's commit)")
    return parser.parse_args()


async def _http_runs(engine, home: Home, relays: Relays, n: int, raw_url: str, members_base: str,
                     began: float, profile_pid: int | None) -> dict:
    """The raw receiver, the supports alone, the campaign page on a quiet node and while ``n``
    more supports arrive (cached, then uncached)."""
    page, world, out = home.live_url, relays.world, {}
    warm = relays.signed(len(world.members))  # one relay per organisation: keys read once
    timed = relays.signed(n)
    raw = relays.for_raw(raw_url, relays.sent - n, n)
    mix = {"cached": relays.signed(max(100, n // MIX_SHARE)), "uncached": relays.signed(max(100, n // MIX_SHARE))}
    _say(began, f"{relays.sent + n:,} requests signed")
    await _blast(raw_url, raw[:50])
    raw_seconds, raw_latencies, raw_failures = await _blast(raw_url, raw)
    out["raw"] = (n / raw_seconds, raw_latencies, raw_failures)
    out["warm"] = await timed_run(engine, home, warm)
    _say(began, "raw receiver measured, every organisation's key read once")
    if profile_pid:
        os.kill(profile_pid, signal.SIGUSR1)
    out["alone"] = await timed_run(engine, home, timed)
    if profile_pid:
        os.kill(profile_pid, signal.SIGUSR2)
    _say(began, "supports alone measured")
    async with aiohttp.ClientSession() as http, http.get(page) as response:
        page_status = response.status
    out["page_status"] = page_status
    if page_status == 200:
        await load(page, 50, concurrency=READ_CONCURRENCY)
        out["quiet cached"] = await read_for(page, False, QUIET_SECONDS)
        out["quiet uncached"] = await read_for(page, True, QUIET_SECONDS)
        for name, batch in mix.items():
            out[name] = await timed_run(engine, home, batch, page, name == "uncached")
        _say(began, "live mix measured")
    return out


async def _checks(engine, home: Home, relays: Relays, members_base: str, out: dict) -> None:
    """After the runs: what the member nodes were sent, everything sent counted, the tallies."""
    out["member nodes"] = await _member_nodes_counts(members_base)
    # A run that was not all counted within its bound (readers slowed the home down) gets another
    # bound, without readers, so that the tallies are checked against everything sent.
    drained = time.perf_counter()
    finished = asyncio.get_running_loop().create_future()
    finished.set_result(None)  # nothing is being sent any more: the bound runs from now
    counted_at, _ = await _counted(engine, home.live_id, relays.sent, finished)
    out["drained"] = counted_at - drained if counted_at else None
    out["tallies"] = await check_tallies(engine, home, relays)
    out["inbox"] = await inbox_states(engine)


async def _deployed_run(ctx, engine, home: Home, relays: Relays, n: int, port: int, url: str,
                        data_dir: str, began: float) -> tuple[Run, float]:
    """PostgreSQL as deployed: the home restarted as a web process (`civic serve --no-worker`) and
    a `civic worker`, each its own process, on the same database; one relay per organisation
    first (each key read once by the new web process), then ``n`` relays timed as the supports
    alone. Returns the run and the two processes' peak RSS in all (MB)."""
    web_proc = _start(ctx, serve_web, port, url, data_dir)
    worker = _start(ctx, serve_worker, port, url, data_dir)
    try:
        await wait_up(f"http://{HOST}:{port}/.well-known/nodeinfo")
        await timed_run(engine, home, relays.signed(len(relays.world.members)))
        run = await timed_run(engine, home, relays.signed(n))
        peak = memory_mb(web_proc.pid)[0] + memory_mb(worker.pid)[0]
    finally:
        for proc in (web_proc, worker):
            proc.terminate()
            proc.join(5)
    _say(began, "PostgreSQL as deployed (web process and worker) measured")
    return run, peak


def main() -> None:
    args = _arguments()
    scale = QUICK if args.quick else FULL
    if args.supports:
        scale = Scale(scale.members, args.supports, scale.seeded, scale.calls)
    began, load_before = time.perf_counter(), _load_average()
    ctx = multiprocessing.get_context("spawn")
    world = World.make(scale.members)
    with tempfile.TemporaryDirectory() as data_dir, \
            bench_processes.run_database(args.database_url, data_dir, "home.db") as (url, backend):
        lines, ok = asyncio.run(_bench(ctx, url, data_dir, world, scale, began, args.profile))
    head = [f"home: {backend}, its app in one process (web, inbox, processing); {scale.members} member "
            f"organisations on {len(NODE_HOSTS)} member nodes ({', '.join(NODE_HOSTS)}), accepted members, each "
            f"with its variant, keys stored; relays over {CONCURRENCY} connections, pre-signed (draft-cavage "
            f"rsa-sha256); load and home on the same {os.cpu_count()} cores (load average {load_before} before, "
            f"{_load_average()} after: other work on the machine counts); whole command "
            f"{time.perf_counter() - began:.0f} s",
            f"code measured: {args.code or _code()}"]
    print("\n".join(head + lines))
    if args.quick or args.no_record or args.profile:
        print("(--quick, --no-record or --profile: not written to bench/RESULTS.md)")
    else:
        append(f"Coalition supports at the home ({backend}) (bench/bench_coalition.py)", head + lines)
    sys.exit(0 if ok else 1)


async def _bench(ctx, url: str, data_dir: str, world: World, scale: Scale, began: float,
                 profile: str | None) -> tuple[list[str], bool]:
    home_port, raw_port = free_port(), free_port()
    base = f"http://{HOST}:{home_port}"
    engine = create_engine(url)
    try:
        home = await seed_home(engine, base, world)
        _say(began, "home seeded")
        sites = [(host, int(node.rsplit(":", 1)[1])) for host, node in zip(NODE_HOSTS, world.nodes, strict=True)]
        first = world.members[0]
        procs = [_start(ctx, serve_members, sites, world.documents()),
                 _start(ctx, _serve_raw, raw_port, (first.ap_id, world.keys[0][0])),
                 _start(ctx, serve_home, home_port, url, data_dir, profile)]
        home_pid = procs[2].pid
        try:
            await wait_up(f"{base}/.well-known/nodeinfo")
            relays = Relays(world, home)
            out = await _http_runs(engine, home, relays, scale.supports,
                                   f"http://{HOST}:{raw_port}/actors/lyon/inbox", world.nodes[0], began,
                                   home_pid if profile else None)
            peak, current = memory_mb(home_pid)
            procs[2].terminate()
            procs[2].join(5)
            if not is_sqlite(engine) and not profile:
                out["deployed"] = await _deployed_run(ctx, engine, home, relays, scale.supports, home_port, url,
                                                      data_dir, began)
            await _checks(engine, home, relays, world.nodes[0], out)
        finally:
            for proc in procs:
                proc.terminate()
                proc.join(5)
        _say(began, "home stopped; seeding the breakdown's supports")
        seeded_at = time.perf_counter()
        expected, seed_problems = await seed_supports(engine, home, world, scale.seeded)
        seeded = time.perf_counter() - seeded_at
        _say(began, f"{scale.seeded:,} supports seeded in {seeded:.0f} s")
        times, plans, answer_problems = await time_breakdown(engine, home, scale.calls, expected)
    finally:
        await engine.dispose()
    return _lines(out, scale, times, plans, (seed_problems, answer_problems), seeded, peak, current)


def _lines(out: dict, scale: Scale, times: list[float], plans: list[str],
           problems: tuple[list[str], list[str]], seeded: float, peak: float,
           current: float) -> tuple[list[str], bool]:
    raw_rate, raw_latencies, raw_failures = out["raw"]
    alone: Run = out["alone"]
    ratio = (alone.rate or 0) / raw_rate
    deployed: Run | None = out["deployed"][0] if "deployed" in out else None
    deployed_ratio = (deployed.rate or 0) / raw_rate if deployed else 0.0
    ok = max(ratio, deployed_ratio) >= GOAL_RATIO and not raw_failures and not alone.failures \
        and not (deployed and deployed.failures)
    lines = [
        f"raw aiohttp + signature verify (bench_inbox's receiver), the same {alone.sent:,} bodies: "
        f"{raw_rate:,.0f} req/s (p50 {pct(raw_latencies, .5):.1f} ms, p99 {pct(raw_latencies, .99):.1f} ms, "
        f"{raw_failures} non-202)",
        _run_line(f"warm-up, one relay from each of the {scale.members} organisations", out["warm"]),
        _run_line("civic-node home, Announce{Like} relays → verified → stored → processed → counted", alone),
        f"ratio: {ratio:.2f}× the raw rate, supports counted/s against raw requests/s (goal ≥ {GOAL_RATIO}×) — "
        f"{'met' if ratio >= GOAL_RATIO else 'NOT met'}; the POSTs alone (202, before processing) were answered at "
        f"{alone.sent / alone.post_seconds / raw_rate:.2f}× the raw rate",
    ]
    if deployed:
        lines += [
            _run_line("PostgreSQL as deployed: the home restarted as a web process (`civic serve --no-worker`) "
                      "and a `civic worker`, the same relays", deployed),
            f"ratio as deployed: {deployed_ratio:.2f}× the raw rate (goal ≥ {GOAL_RATIO}×) — "
            f"{'met' if deployed_ratio >= GOAL_RATIO else 'NOT met'}; the POSTs alone at "
            f"{deployed.sent / deployed.post_seconds / raw_rate:.2f}× the raw rate; peak RSS of the two "
            f"processes {out['deployed'][1]:.0f} MB in all",
        ]
    if out["page_status"] == 200:
        lines.append(f"live mix: the campaign page read anonymously over {READ_CONCURRENCY} connections, "
                     f"cached (the same URL) and uncached (a new URL each request)")
        lines.append(_reads(f"quiet node, cached ({QUIET_SECONDS:.0f} s)", out["quiet cached"]))
        lines.append(_reads(f"quiet node, uncached ({QUIET_SECONDS:.0f} s)", out["quiet uncached"]))
        for name in ("cached", "uncached"):
            run: Run = out[name]
            lines.append(_reads(f"while {run.sent:,} supports arrive, {name}", run.reads))
            lines.append(_run_line(f"those supports, with {name} readers", run))
    else:
        lines.append(f"live mix: NOT measured — the campaign page answered {out['page_status']}")
    lines.append(f"member nodes: the home sent them {out['member nodes']['GET']} GETs (fetches; 0 expected) "
                 f"and {out['member nodes']['POST']} POSTs")
    lines.append(f"inbox rows at the end: {out['inbox']}")
    tallies = out["tallies"]
    if out["drained"] is None or out["drained"] > 0.1:
        lines.append("after the runs, the home counted the rest of what was sent " + (
            f"in {out['drained']:.1f} s more" if out["drained"] else f"NOT within {COUNT_BOUND:.0f} s more"))
    lines.append("live campaign's count and per-member tallies against the relays each organisation sent: "
                 + ("equal" if not tallies else "DIFFERENT: " + "; ".join(tallies)))
    ok &= not tallies
    median, p99 = statistics.median(times), pct([t / 1000 for t in times], .99)
    seed_problems, answer_problems = problems
    met = median <= GOAL_MS and not seed_problems and not answer_problems
    ok &= met
    lines += [
        f"breakdown data: {scale.seeded:,} supports of one campaign over {scale.members} members × "
        f"{len(LANGUAGES)} languages (1 in {DIRECT_EVERY} through the campaign itself), bulk INSERT in {seeded:.0f} s; "
        "tallies, days and count upserted in bulk, checked equal to a recount: "
        + ("equal" if not seed_problems else "DIFFERENT: " + "; ".join(seed_problems)),
        f"campaigns.breakdown(session, campaign), {scale.calls} calls, a new session each: median {median:.2f} ms, "
        f"p99 {p99:.2f} ms, mean {statistics.fmean(times):.2f} ms (goal ≤ {GOAL_MS:.0f} ms, "
        f"no statement reading campaign_supports) — {'met' if met else 'NOT met'}"
        + ("" if p99 <= GOAL_MS else f"; p99 above {GOAL_MS:.0f} ms")
        + ("; its answer equals the seeded tallies" if not answer_problems else "; " + "; ".join(answer_problems)),
        "its statements' plans: " + " ;; ".join(plans),
        f"memory: the home's peak RSS (VmHWM) {peak:.0f} MB ({current:.0f} MB at the end); this process "
        f"(load, seeding, breakdown) {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
    ]
    return lines, ok


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
