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

Its parts: bench/coalition_world.py (the member nodes and organisations, the home's processes and
seeding, the signed relays) and bench/coalition_breakdown.py (the seeded supports and the timed
breakdown); this file runs them and reports.

The home's peak RSS (VmHWM) is read from /proc. Everything runs on loopback, bounded in count and
in time (a run whose supports are not all counted within 120 s after its last answer is reported
as such), and stops by itself; it exits with 1 when a goal is not met or a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_processes  # noqa: E402
from bench.bench_inbox import CONCURRENCY, _blast, _serve_raw  # noqa: E402
from bench.bench_pages import _code  # noqa: E402
from bench.coalition_breakdown import DIRECT_EVERY, seed_supports, time_breakdown  # noqa: E402
from bench.coalition_world import (  # noqa: E402
    LANGUAGES,
    NODE_HOSTS,
    Home,
    Relays,
    World,
    seed_home,
    serve_home,
    serve_members,
    serve_web,
    serve_worker,
    support_count,
)
from bench.load import HOST, free_port, load, memory_mb, pct, wait_up  # noqa: E402
from bench.report import append  # noqa: E402
from node.db import create_engine, is_sqlite  # noqa: E402
from node.models import (  # noqa: E402
    CampaignSupport,
    CampaignTally,
)

READ_CONCURRENCY = 8  # readers of the campaign page while supports arrive
MIX_SHARE = 5  # the live mix's runs send N // 5 supports each (readers slow the counting down)
QUIET_SECONDS = 3.0  # length of each read run on a quiet node
COUNT_BOUND = 120.0  # seconds after a run's last answer within which its supports must be counted
GOAL_RATIO, GOAL_MS = 0.5, 25.0
DB_ENV = "CIVIC_BENCH_DATABASE_URL"


@dataclass(frozen=True)
class Scale:
    members: int
    supports: int  # relayed supports per timed run
    seeded: int  # supports of the breakdown's campaign
    calls: int  # timed breakdown calls


FULL = Scale(members=250, supports=3000, seeded=100_000, calls=200)
QUICK = Scale(members=50, supports=300, seeded=2_000, calls=20)


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
