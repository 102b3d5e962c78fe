"""Ballots of a participatory budget through the real HTTP ballot form (issue 11's benchmark).

One command: `.venv/bin/python bench/bench_ballots.py [PARTICIPANTS] [--database-url URL] [--quick]
[--no-record] [--profile PATH] [--code TEXT]`

- PARTICIPANTS (default 500): verified residents who vote; one in EDIT_EVERY of them sends a
  second, different ballot at the same moment as the first (an edit racing its original).
- --database-url URL: PostgreSQL instead of SQLite: a database of its own is created on that server
  for the run and dropped at the end (default: $CIVIC_BENCH_DATABASE_URL, else
  $CIVIC_TEST_DATABASE_URL, when set).
- --quick: a check that the whole command works (40 participants, 8 projects); its figures are
  printed, never written to bench/RESULTS.md.
- --profile PATH: cProfile the node during the ballots-alone run (read with `python -m pstats PATH`);
  profiling slows it, so nothing is written to bench/RESULTS.md.

The node (its real app, `civic serve`'s `create_app`, in a process of its own, bench/bench_pages.py's
``serve_node``) holds one organisation, a knapsack budget of €50,000 in its voting phase with
PROJECTS feasible projects (Künzelsau: €50,000, 350 online votes, 7 funded), and PARTICIPANTS
accounts, each a verified member of the organisation (admitted by an admin: eligibility, SECURITY.md
rule 31). The first FORM_LOGINS participants sign in through the log-in form, the others get sessions
signed with the node's secret as the log-in signs them (argon2 is not what is measured here); each
reads the ballot page once (its CSRF token, as a browser has it); then:

1. The raw baseline: a minimal aiohttp handler in a process of its own that reads the same form
   and does one INSERT per request (its own table, in the same database, through node.db's engine
   and pragmas) answering 303, sent the same bodies over the same CONCURRENCY connections.
2. Ballots alone: every participant's ballot POSTed to `/budgets/<t>/ballot` (session cookie, CSRF
   token, the chosen projects; redirects not followed: a 303 is a ballot stored), the editors'
   second ballot right after their first, so that both are in flight together. The goal: ballots
   answered 303 per second ≥ 0.5× the raw rate.
3. The live mix: every participant changes their ballot again (the editors twice at once) while the
   budget page is read anonymously over READ_CONCURRENCY connections — cached (the same URL), then
   uncached (a new URL each request) — and the organisation's admin reads the results' preview
   (`/budgets/<t>/results`, computed from every ballot at each request) one request after another;
   beside the same pages read on a quiet node.
4. What one ballot costs: once the node's process has stopped, its app in this process on the same
   port and database; ONE_BY_ONE participants change their ballot one after the other (latency of
   a ballot alone), each SQL statement run meanwhile counted (statements per ballot, the most run).
5. The check: exactly one ballot per participant, each holding one of the ballots that participant
   sent last, no ballot of anyone else, and each project's ``votes_count`` equal to a recount of the
   ballots that chose it.

The node's and the raw server's peak RSS (VmHWM) are read from /proc. Everything runs on loopback,
bounded in count and in time (bench/load.py's request timeout), and stops by itself; it exits with 1
when a goal is not met or a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
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
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, event, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_processes  # noqa: E402
from bench.bench_coalition import read_for, read_until  # noqa: E402
from bench.bench_pages import PASSWORD, _code, login, serve_node  # noqa: E402
from bench.load import CONCURRENCY, HOST, REQUEST_TIMEOUT, free_port, memory_mb, pct, wait_up  # noqa: E402
from bench.report import append  # noqa: E402
from civic.app import create_app  # noqa: E402
from federation.runtime import RUNTIME  # noqa: E402
from node.config import Settings  # noqa: E402
from node.db import create_engine, session_factory, transaction  # noqa: E402
from node.migrate import upgrade  # noqa: E402
from node.models import Actor, Ballot, BallotProject, BudgetProject, User, utcnow  # noqa: E402
from node.services import actors, budget_projects, budgets, membership  # noqa: E402
from node.uris import Uris  # noqa: E402
from web.security import COOKIE, SessionSigner  # noqa: E402

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ORG, ADMIN = "kunzelsau", "rathaus"
AMOUNT = 50_000
EDIT_EVERY = 4  # one participant in 4 sends two different ballots at once
READ_CONCURRENCY = 8  # readers of the budget page while ballots arrive
QUIET_SECONDS = 3.0
SIGN_IN_CONCURRENCY = 4  # log-ins verify argon2 one at a time in the node: more would only queue
FORM_LOGINS = 16  # participants who log in through the form (the others: sessions signed as it signs them)
SECRET = "bench"  # the node's secret key (bench/bench_pages.py's serve_node)
PROJECT_FIELD = "project_{id}"  # the ballot form's checkbox of a project (web/participation/budget_ballot.py)
ONE_BY_ONE = 40  # ballots sent one after the other to the node in this process, their statements counted
GOAL_RATIO = 0.5
DB_ENVS = ("CIVIC_BENCH_DATABASE_URL", "CIVIC_TEST_DATABASE_URL")


@dataclass(frozen=True)
class Scale:
    participants: int
    projects: int


FULL = Scale(participants=500, projects=24)
QUICK = Scale(participants=40, projects=8)


# --- the node's data -----------------------------------------------------------------------------

@dataclass
class Seeded:
    budget_id: int
    path: str  # /budgets/<token>
    costs: dict[int, int]  # project id → cost
    usernames: list[str]
    user_ids: list[int]


async def seed(url: str, base: str, scale: Scale) -> Seeded:
    """The organisation, its budget and projects through the services (B1's), the participants as
    accounts sharing one prepared password hash and key pair (argon2 once, not 500 times), each
    admitted as a verified member."""
    engine = create_engine(url)
    await upgrade(engine)
    uris = Uris(base)
    sessions = session_factory(engine)
    rng = random.Random(11)
    try:
        credentials = await actors.prepare_credentials(PASSWORD)
        async with transaction(sessions) as s:
            org = await actors.create_organization(s, uris, ORG, "Stadt Künzelsau")
            admin = await actors.create_user(s, uris, ADMIN, PASSWORD, "Rathaus", credentials=credentials)
            await actors.add_member(s, admin, org, "admin")
            budget = await budgets.create(s, uris, org, "buergerhaushalt-2026",
                                          {"de": "Bürgerhaushalt 2026", "fr": "Budget participatif 2026"},
                                          AMOUNT, rule="knapsack", verified_only=True)
            await budgets.set_phase(s, budget, "proposing")
            projects = []
            for k in range(scale.projects):
                cost = rng.choice((2_000, 3_500, 5_000, 7_500, 9_000, 12_000, 15_000, 20_000))
                projects.append(await budget_projects.propose(
                    s, uris, budget, admin.actor, f"Projekt {k}: Spielplatz, Bänke und Bäume",
                    "<p>" + "Ein Vorschlag für die Stadt. " * 12 + "</p>", cost=cost, language="de"))
            await budgets.set_phase(s, budget, "reviewing")
            for project in projects:
                await budget_projects.review(s, project, feasible=True, reason="machbar",
                                     cost_estimate=project.cost, by=admin)
            await budgets.set_phase(s, budget, "voting", voting_ends_at=utcnow() + timedelta(days=7))
            seeded = Seeded(budget.id, "/budgets/" + budget.ap_id.rsplit("/", 1)[1],
                            {p.id: budgets.cost_of(p) for p in projects}, [], [])
            org_id = org.id
        for first in range(0, scale.participants, 100):
            async with transaction(sessions) as s:
                org = await s.get(type(org), org_id)
                for i in range(first, min(scale.participants, first + 100)):
                    name = f"resident{i}"
                    user = await actors.create_user(s, uris, name, PASSWORD, f"Resident {i}",
                                                    credentials=credentials)
                    await membership.admit(s, org, user, None, note=f"census line {i}")
                    seeded.usernames.append(name)
                    seeded.user_ids.append(user.id)
    finally:
        await engine.dispose()
    return seeded


# --- ballots -------------------------------------------------------------------------------------

def choose(rng: random.Random, costs: dict[int, int]) -> tuple[int, ...]:
    """A ballot that keeps to the knapsack rule: projects in a random order, each taken while the
    total stays within the budget (at least one)."""
    order = list(costs)
    rng.shuffle(order)
    chosen, total = [], 0
    for project in order:
        if total + costs[project] <= AMOUNT and (len(chosen) < 2 or rng.random() < 0.6):
            chosen.append(project)
            total += costs[project]
    return tuple(sorted(chosen))


@dataclass
class Participant:
    username: str
    cookie: str = ""
    token: str = ""


@dataclass
class Submission:
    who: int  # the participant's index
    projects: tuple[int, ...]

    def form(self, token: str) -> list[tuple[str, str]]:
        return [("csrf_token", token), ("action", "cast")] + [(PROJECT_FIELD.format(id=p), "on") for p in self.projects]


def round_of(rng: random.Random, costs: dict[int, int], participants: int) -> list[Submission]:
    """One ballot per participant; every EDIT_EVERY-th also sends a different one right after."""
    out = []
    for who in range(participants):
        out.append(Submission(who, choose(rng, costs)))
        if who % EDIT_EVERY == 0:
            other = choose(rng, costs)
            while other == out[-1].projects:
                other = choose(rng, costs)
            out.append(Submission(who, other))
    return out


async def sign_in(base: str, seeded: Seeded) -> tuple[list[Participant], Counter]:
    """Each participant's session, then the ballot page read with it (its CSRF token, as a browser
    has it). The first FORM_LOGINS log in through the form; the others' sessions are signed with
    the node's secret as the log-in makes them ({user id, new nonce, time, epoch 0}, web/security.py):
    the node checks them on every request all the same, and 500 argon2 verifications (64 MiB and
    tens of milliseconds each, one at a time) are not what this bench measures."""
    signer = SessionSigner(SECRET)
    people = [Participant(name, "" if k < FORM_LOGINS else signer.dumps(signer.new_session(uid, 0)))
              for k, (name, uid) in enumerate(zip(seeded.usernames, seeded.user_ids, strict=True))]
    statuses: Counter = Counter()
    queue = list(reversed(people))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(),
                                     timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as http:
        async def worker() -> None:
            while queue:
                person = queue.pop()
                person.cookie = person.cookie or await login(http, base, person.username)
                async with http.get(f"{base}{seeded.path}/ballot", headers={"Cookie": f"{COOKIE}={person.cookie}"}) as r:
                    statuses[r.status] += 1
                    found = CSRF.search(await r.text())
                    person.token = found.group(1) if found else ""

        await asyncio.gather(*(worker() for _ in range(SIGN_IN_CONCURRENCY)))
    return people, statuses


@dataclass
class Sending:
    """What a run of ballot POSTs did."""
    sent: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    answered: dict[int, list[tuple[int, ...]]] = field(default_factory=dict)  # who → ballots answered 303

    @property
    def stored(self) -> int:
        return self.statuses.get(303, 0)

    @property
    def rate(self) -> float:
        return self.stored / self.seconds

    def line(self, label: str) -> str:
        others = {s: n for s, n in self.statuses.items() if s != 303}
        return (f"{label}: {self.stored:,}/{self.sent:,} answered 303 in {self.seconds:.2f} s — "
                f"{self.rate:,.0f}/s, p50 {pct(self.latencies, .5):.1f} ms, p99 {pct(self.latencies, .99):.1f} ms"
                + (f"; others {dict(others)}" if others else ""))


async def post_all(url: str, submissions: list[Submission], people: list[Participant] | None,
                   concurrency: int = CONCURRENCY) -> Sending:
    """POST each submission's form to ``url`` over ``concurrency`` connections, in order (an
    editor's two ballots leave one after the other, so they are in flight together). With
    ``people``, each carries its participant's session cookie and CSRF token (the node); without,
    none (the raw handler, which reads the same form)."""
    run = Sending(len(submissions), 0.0)
    queue = list(reversed(submissions))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency),
                                     cookie_jar=aiohttp.DummyCookieJar(),
                                     timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as http:
        async def worker() -> None:
            while queue:
                sub = queue.pop()
                person = people[sub.who] if people else None
                headers = {"Cookie": f"{COOKIE}={person.cookie}"} if person else {}
                began = time.perf_counter()
                try:
                    async with http.post(url, data=sub.form(person.token if person else "raw"), headers=headers,
                                         allow_redirects=False) as response:
                        await response.read()
                        status = response.status
                except (TimeoutError, aiohttp.ClientError):
                    status = 0
                run.latencies.append(time.perf_counter() - began)
                run.statuses[status] += 1
                if status == 303:
                    run.answered.setdefault(sub.who, []).append(sub.projects)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        run.seconds = time.perf_counter() - began
    return run


async def one_by_one(port: int, url: str, data_dir: str, seeded: Seeded, people: list[Participant],
                     n: int) -> tuple[Sending, Sending, Counter]:
    """What one ballot costs: the node's app in this process (on the node's port, once its process
    has stopped), a warm-up ballot then ``n`` ballots (changes of ballot) sent one after the other,
    each SQL statement of the latter counted."""
    settings = Settings(base_url=f"http://{HOST}:{port}", database_url=url, data_dir=Path(data_dir),
                        development=True, secret_key=SECRET)
    app = create_app(settings, background=False)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST, port).start()
    engine, statements = app[RUNTIME].sessions.kw["bind"], Counter()

    def count(_conn, _cursor, statement, _parameters, _context, _executemany):
        statements[" ".join(statement.split())[:70]] += 1

    rng = random.Random(5)
    try:
        warm = await post_all(f"http://{HOST}:{port}{seeded.path}/ballot", [Submission(0, choose(rng, seeded.costs))],
                              people, concurrency=1)  # connections, statement caches
        event.listen(engine.sync_engine, "before_cursor_execute", count)
        sending = await post_all(f"http://{HOST}:{port}{seeded.path}/ballot",
                                 [Submission(k + 1, choose(rng, seeded.costs)) for k in range(n)], people, concurrency=1)
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    finally:
        await runner.cleanup()
    return warm, sending, statements


async def ballots_with_readers(url: str, submissions: list[Submission], people: list[Participant],
                               page: str, fresh: bool, preview: tuple[str, str]) -> tuple[Sending, tuple, Timed]:
    """The ballots of a round while the budget page is read (READ_CONCURRENCY connections) and the
    admin reads the results' preview (one request after another), until the last ballot is answered."""
    done = asyncio.Event()
    reading = asyncio.create_task(read_until(page, fresh, done))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(),
                                     timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as http:
        previewing = asyncio.create_task(gets(http, preview[0], 0, preview[1], until=done))
        sending = await post_all(url, submissions, people)
        done.set()
        return sending, await reading, await previewing


async def quiet_previews(preview: tuple[str, str], seconds: float) -> Timed:
    """The admin reads the results' preview one request after another for ``seconds``."""
    done = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, done.set)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(),
                                     timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as http:
        return await gets(http, preview[0], 0, preview[1], until=done)


# --- sequential reads -----------------------------------------------------------------------------

@dataclass
class Timed:
    """Sequential calls: each one's seconds, statuses (HTTP) and the last body."""
    seconds: list[float]
    statuses: Counter
    body: bytes = b""

    def line(self, label: str, unit: str = "ms") -> str:
        scale = 1000 if unit == "ms" else 1
        values = [t * scale for t in self.seconds]
        text_ = (f"{label}: {len(values)} calls, median {statistics.median(values):.{0 if unit == 'ms' else 2}f} {unit}, "
                 f"max {max(values):.{0 if unit == 'ms' else 2}f} {unit}")
        others = {s: n for s, n in self.statuses.items() if s != 200}
        return text_ + (f", non-200 {dict(others)}" if others else "")


async def gets(http: aiohttp.ClientSession, url: str, n: int, cookie: str = "", fresh: bool = False,
               until: asyncio.Event | None = None) -> Timed:
    """``n`` GETs one after the other (or, with ``until``, until it is set): each latency is one
    answer of the server alone; ``fresh`` gives each a new query string (no page cache)."""
    timed, k = Timed([], Counter()), 0
    headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
    while (k < n) if until is None else not until.is_set():
        k += 1
        target = f"{url}{'&' if '?' in url else '?'}fresh={k}-{time.monotonic_ns()}" if fresh else url
        began = time.perf_counter()
        try:
            async with http.get(target, headers=headers) as response:
                timed.body = await response.read()
                timed.statuses[response.status] += 1
        except (TimeoutError, aiohttp.ClientError):
            timed.statuses[0] += 1
        timed.seconds.append(time.perf_counter() - began)
    return timed


# --- the raw baseline ----------------------------------------------------------------------------

RAW = MetaData()
RAW_BALLOTS = Table("bench_raw_ballots", RAW, Column("id", Integer, primary_key=True),
                    Column("token", String(200)), Column("projects", String(2000)),
                    Column("created_at", DateTime(timezone=True)))


def serve_raw(port: int, url: str, ready) -> None:
    """One INSERT per request into the same database (node.db's engine, its pragmas and pool):
    the form read, one row written in its own transaction, 303."""
    engine = create_engine(url)

    async def ballot(request: web.Request) -> web.Response:
        form = await request.post()
        async with engine.begin() as conn:
            await conn.execute(RAW_BALLOTS.insert().values(
                token=form.get("csrf_token", ""), projects=",".join(k for k in form if k.startswith("project_")),
                created_at=utcnow()))
        return web.Response(status=303, headers={"Location": "/ballot"})

    async def start(_app: web.Application) -> None:
        async with engine.begin() as conn:
            await conn.run_sync(RAW.create_all)

    app = web.Application()
    app.router.add_post("/ballot", ballot)
    app.router.add_get("/ballot", lambda _request: web.Response(text="ok"))
    app.on_startup.append(start)
    ready.set()
    web.run_app(app, host=HOST, port=port, print=None, access_log=None)


# --- the check -----------------------------------------------------------------------------------

async def check(url: str, seeded: Seeded, people: list[Participant], last: dict[int, set[tuple[int, ...]]],
                raw_sent: int) -> tuple[list[str], dict]:
    """One ballot per participant holding one of the ballots they sent last; votes_count equal to
    a recount; the raw table holding what the raw handler answered."""
    engine = create_engine(url)
    problems: list[str] = []
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(Ballot.id, Ballot.user_id).where(
                Ballot.budget_id == seeded.budget_id))).all()
            chosen: dict[int, set[int]] = {}
            for ballot_id, project_id in (await conn.execute(
                    select(BallotProject.ballot_id, BallotProject.project_id).join(
                        Ballot, Ballot.id == BallotProject.ballot_id).where(
                        Ballot.budget_id == seeded.budget_id))).all():
                chosen.setdefault(ballot_id, set()).add(project_id)
            counts = dict((await conn.execute(select(BudgetProject.id, BudgetProject.votes_count).where(
                BudgetProject.budget_id == seeded.budget_id))).all())
            user_ids = await _user_ids(conn, [p.username for p in people])
            raw_rows = (await conn.execute(select(func.count()).select_from(RAW_BALLOTS))).scalar_one()
    finally:
        await engine.dispose()
    per_user = Counter(user_id for _, user_id in rows)
    duplicates = {u: n for u, n in per_user.items() if n > 1}
    if duplicates:
        problems.append(f"{len(duplicates)} participants hold more than one ballot")
    index = {user_ids[p.username]: k for k, p in enumerate(people)}
    strangers = [u for u in per_user if u not in index]
    if strangers:
        problems.append(f"{len(strangers)} ballots of no participant")
    missing = [p.username for p in people if user_ids[p.username] not in per_user]
    if missing:
        problems.append(f"{len(missing)} participants have no ballot (e.g. {missing[:3]})")
    wrong = 0
    for ballot_id, user_id in rows:
        k = index.get(user_id)
        if k is not None and tuple(sorted(chosen.get(ballot_id, ()))) not in last.get(k, set()):
            wrong += 1
    if wrong:
        problems.append(f"{wrong} ballots hold none of the ballots their participant sent last")
    recount = Counter(p for projects in chosen.values() for p in projects)
    off = {p: (counts[p], recount.get(p, 0)) for p in counts if counts[p] != recount.get(p, 0)}
    if off:
        problems.append(f"{len(off)} projects' votes_count differ from a recount (e.g. {dict(list(off.items())[:3])})")
    if raw_rows != raw_sent:
        problems.append(f"the raw table holds {raw_rows} rows for {raw_sent} answered")
    figures = {"ballots": len(rows), "participants": len(people), "votes": sum(counts.values()),
               "recount": sum(recount.values())}
    return problems, figures


async def _user_ids(conn, usernames: list[str]) -> dict[str, int]:
    rows = (await conn.execute(select(Actor.username, User.id).join(User, User.actor_id == Actor.id).where(
        Actor.local.is_(True), Actor.username.in_(usernames)))).all()
    return dict(rows)


# --- the command ---------------------------------------------------------------------------------

def _say(began: float, what: str) -> None:
    print(f"[{time.perf_counter() - began:5.0f} s] {what}", file=sys.stderr, flush=True)


def _start(ctx, target, *args, **kwargs) -> multiprocessing.Process:
    ready = ctx.Event()
    proc = ctx.Process(target=target, args=(*args, ready), kwargs=kwargs, daemon=True)
    proc.start()
    if not ready.wait(60):
        raise RuntimeError(f"{target.__name__} did not start")
    return proc


def _load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _reads(label: str, reads: tuple[float, list[float], int]) -> str:
    elapsed, latencies, failures = reads
    return (f"{label}: {len(latencies) / elapsed:,.0f} req/s, p50 {pct(latencies, .5):.1f} ms, "
            f"p99 {pct(latencies, .99):.1f} ms" + (f", {failures} non-200" if failures else ""))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("participants", nargs="?", type=int, help="verified participants (default 500)")
    parser.add_argument("--database-url", default=next((os.environ[k] for k in DB_ENVS if os.environ.get(k)), None),
                        help="a PostgreSQL server to run on (a database of its own; default "
                             f"${DB_ENVS[0]} or ${DB_ENVS[1]}, else SQLite)")
    parser.add_argument("--quick", action="store_true", help="small numbers, nothing written")
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    parser.add_argument("--profile", metavar="PATH", help="cProfile the node during the ballots-alone run "
                        "(statistics written to PATH, read with python -m pstats); nothing is written to RESULTS.md")
    parser.add_argument("--code", help="what code is measured, for the results (default: the checkout's commit)")
    return parser.parse_args()


async def _runs(base: str, raw_url: str, seeded: Seeded, began: float, profile_pid: int | None) -> dict:
    """Sign-ins, the raw baseline, the ballots alone, the live mix."""
    rng, out = random.Random(7), {}
    people, out["ballot pages"] = await sign_in(base, seeded)
    _say(began, f"{len(people)} participants signed in")
    first = round_of(rng, seeded.costs, len(people))
    warm = [Submission(k, choose(rng, seeded.costs)) for k in range(min(50, len(people)))]
    out["raw warm-up"] = await post_all(raw_url, warm, None)
    out["raw"] = await post_all(raw_url, first, None)
    _say(began, "raw baseline measured")
    ballot_url = f"{base}{seeded.path}/ballot"
    if profile_pid:
        os.kill(profile_pid, signal.SIGUSR1)
    out["alone"] = await post_all(ballot_url, first, people)
    if profile_pid:
        os.kill(profile_pid, signal.SIGUSR2)
    _say(began, "ballots alone measured")
    page = f"{base}{seeded.path}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        preview = (f"{page}/results", await login(http, base, ADMIN))
        async with http.get(page) as response:
            out["page status"] = response.status
        async with http.get(preview[0], headers={"Cookie": f"{COOKIE}={preview[1]}"}) as response:
            out["page status"] = max(out["page status"], response.status)
    last = out["alone"].answered
    if out["page status"] == 200:
        out["quiet cached"] = await read_for(page, False, QUIET_SECONDS)
        out["quiet uncached"] = await read_for(page, True, QUIET_SECONDS)
        out["quiet previews"] = await quiet_previews(preview, QUIET_SECONDS)
        for name, fresh in (("cached", False), ("uncached", True)):
            out[name] = await ballots_with_readers(ballot_url, round_of(rng, seeded.costs, len(people)),
                                                   people, page, fresh, preview)
            last = {**last, **out[name][0].answered}
        _say(began, "live mix measured")
    out["people"], out["last"] = people, {who: set(sent) for who, sent in last.items()}
    return out


async def _bench(ctx, url: str, data_dir: str, scale: Scale, began: float,
                 profile: str | None) -> tuple[list[str], bool]:
    node_port, raw_port = free_port(), free_port()
    base = f"http://{HOST}:{node_port}"
    seeded = await seed(url, base, scale)
    _say(began, "seeded")
    procs = [_start(ctx, serve_node, node_port, url, data_dir, profile=profile), _start(ctx, serve_raw, raw_port, url)]
    try:
        await wait_up(f"{base}/.well-known/nodeinfo")
        await wait_up(f"http://{HOST}:{raw_port}/ballot")
        out = await _runs(base, f"http://{HOST}:{raw_port}/ballot", seeded, began, procs[0].pid if profile else None)
        node_memory, raw_memory = memory_mb(procs[0].pid), memory_mb(procs[1].pid)
    finally:
        for proc in procs:
            proc.terminate()
            proc.join(5)
    out["one by one"] = await one_by_one(node_port, url, data_dir, seeded, out["people"],
                                         min(ONE_BY_ONE, len(out["people"]) - 1))
    for run in out["one by one"][:2]:
        out["last"].update({who: set(sent) for who, sent in run.answered.items()})
    problems, figures = await check(url, seeded, out["people"], out["last"],
                                    out["raw warm-up"].stored + out["raw"].stored)
    return _lines(out, scale, problems, figures, node_memory, raw_memory)


def _lines(out: dict, scale: Scale, problems: list[str], figures: dict, node_memory: tuple[float, float],
           raw_memory: tuple[float, float]) -> tuple[list[str], bool]:
    raw, alone = out["raw"], out["alone"]
    ratio = alone.rate / raw.rate if raw.rate else 0.0
    editors = sum(1 for who in range(scale.participants) if who % EDIT_EVERY == 0)
    complete = alone.stored == alone.sent and raw.stored == raw.sent
    met = ratio >= GOAL_RATIO and complete
    ok = met and not problems
    pages = dict(out["ballot pages"])
    lines = [
        f"data: one organisation, a knapsack budget of €{AMOUNT:,} in its voting phase, {scale.projects} "
        f"feasible projects; {scale.participants} verified members, {min(FORM_LOGINS, scale.participants)} signed in "
        f"through the log-in form, the others with sessions signed as it signs them (ballot pages read for "
        f"their CSRF token: {pages}); a round is {alone.sent} ballots: one per "
        f"participant, {editors} of them sending a second, different ballot at the same moment (an edit "
        f"racing the original); {CONCURRENCY} connections, redirects not followed",
        raw.line("raw aiohttp handler, the same form bodies, one INSERT per request into the same database"),
        alone.line("civic node, ballot form → session, CSRF, eligibility, rule, ballot stored, votes moved"),
        f"ratio: {ratio:.2f}× the raw rate (goal ≥ {GOAL_RATIO}×, every ballot answered 303) — "
        + ("met" if met else "NOT met"),
    ]
    if out["page status"] == 200:
        lines.append(f"live mix: the budget page read anonymously over {READ_CONCURRENCY} connections, cached "
                     "(the same URL) and uncached (a new URL each request), and the results' preview read by the "
                     "organisation's admin, on a quiet node and while every participant changes their ballot again")
        lines.append(_reads(f"quiet node, cached ({QUIET_SECONDS:.0f} s)", out["quiet cached"]))
        lines.append(_reads(f"quiet node, uncached ({QUIET_SECONDS:.0f} s)", out["quiet uncached"]))
        lines.append(out["quiet previews"].line(
            f"quiet node, the admin's preview of the results (computed from every ballot by its handler), one "
            f"request after another ({QUIET_SECONDS:.0f} s)") + f", p99 {pct(out['quiet previews'].seconds, .99):.0f} ms")
        for name in ("cached", "uncached"):
            sending, reads, previews = out[name]
            lines.append(_reads(f"while {sending.sent} ballots arrive, {name}", reads))
            lines.append(previews.line("meanwhile, the admin's preview of the results")
                         + f", p99 {pct(previews.seconds, .99):.0f} ms")
            lines.append(sending.line(f"those ballots, with {name} readers ({sending.rate / raw.rate:.2f}× raw)"))
            ok &= sending.stored == sending.sent
    else:
        lines.append(f"live mix: NOT measured — the budget page or the results' preview answered {out['page status']}")
        ok = False
    warm, single, statements = out["one by one"]
    total = sum(statements.values())
    lines.append(single.line(f"one ballot after another (the node's app in this process, {single.sent} changes of "
                             "ballot, one connection)")
                 + f"; {total / max(1, single.sent):.1f} SQL statements per ballot, most run: "
                 + "; ".join(f"{n / max(1, single.sent):.1f}× `{text_}…`" for text_, n in statements.most_common(6)))
    ok &= single.stored == single.sent and warm.stored == warm.sent
    lines.append(f"at the end: {figures['ballots']} ballots for {figures['participants']} participants, "
                 f"{figures['votes']} votes counted on the projects against a recount of {figures['recount']}; "
                 + ("one ballot each, each one of its participant's last, votes_count equal to the recount"
                    if not problems else "PROBLEMS: " + "; ".join(problems)))
    lines.append(f"memory: the node's peak RSS (VmHWM) {node_memory[0]:.0f} MB ({node_memory[1]:.0f} MB at the end; "
                 f"{min(FORM_LOGINS, scale.participants)} log-ins verified argon2, 64 MiB each, one at a time); the raw server "
                 f"{raw_memory[0]:.0f} MB; this process (seeding, load) "
                 f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return lines, ok


def main() -> None:
    args = _arguments()
    scale = QUICK if args.quick else FULL
    if args.participants:
        scale = Scale(args.participants, scale.projects)
    began, load_before = time.perf_counter(), _load_average()
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as data_dir, \
            bench_processes.run_database(args.database_url, data_dir, "node.db") as (url, backend):
        lines, ok = asyncio.run(_bench(ctx, url, data_dir, scale, began, args.profile))
    head = [f"node: {backend}, its app in one process (as `civic serve`), the raw handler in another, the load "
            f"in a third, on the same {os.cpu_count()} cores (load average {load_before} before, "
            f"{_load_average()} after: other work on the machine counts); whole command "
            f"{time.perf_counter() - began:.0f} s",
            f"code measured: {args.code or _code()}"]
    print("\n".join(head + lines))
    if args.quick or args.no_record or args.profile:
        print("(--quick, --no-record or --profile: not written to bench/RESULTS.md)")
    else:
        append(f"Ballots of a participatory budget ({backend}) (bench/bench_ballots.py)", head + lines)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
