"""Two web processes against one: `civic serve --processes 2` vs `civic serve` on PostgreSQL.

One command: `.venv/bin/python bench/bench_processes.py [--seconds S] [--quick]`. The data of
bench/bench_pages.py (its ``seed()``: 200 contributions in one discussion, 1,000 proposals,
1,000,000 supports, 10,000 followers) in a PostgreSQL database of its own (CREATE DATABASE
civic_bench_… on the server of $CIVIC_BENCH_DATABASE_URL, default
postgresql://postgres@127.0.0.1:5432/postgres; dropped at the end). The node is the real
`civic serve` command, with 1 process then with `--processes 2`; the load comes from a process of
its own (aiohttp, 32 connections; 32 signed-in residents, one per connection, each checked to get
their own marks first), and a raw jinja2 page is measured in the same run. Reported: req/s,
p50/p99, the 2-vs-1 ratio, the peak RSS (VmHWM) of each web process. Each cell lasts S seconds
(default 2 × the page cache's TTL + 1, so that it includes the cache being refreshed); --quick
checks that the command works on small data and prints without writing bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_pages import FULL, PAGES, QUICK, READERS, Scale, seed, serve_raw, sign_in_readers  # noqa: E402
from bench.load import CONCURRENCY, HOST, cpu_seconds, free_port, load, memory_mb, pct, wait_up  # noqa: E402
from bench.report import append  # noqa: E402
from web.cache import TTL  # noqa: E402
from web.security import COOKIE  # noqa: E402

CIVIC = str(Path(sys.executable).with_name("civic"))
SERVER = os.environ.get("CIVIC_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PAGE = PAGES["discussion"]


# -- the database of this run ---------------------------------------------------------------------

async def _on_server(statement: str) -> None:
    conn = await asyncpg.connect(make_url(SERVER).set(drivername="postgresql")
                                 .render_as_string(hide_password=False))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def create_database() -> str:
    name = f"civic_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_on_server(f'CREATE DATABASE "{name}"'))
    return make_url(SERVER).set(drivername="postgresql+asyncpg", database=name) \
        .render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    asyncio.run(_on_server(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))


@contextlib.contextmanager
def run_database(database_url: str | None, data_dir: str, name: str = "node.db"):
    """The database of one benchmark run, as (url, backend): a fresh PostgreSQL database on the
    server of ``database_url`` (dropped afterwards) when it is given, else SQLite in ``data_dir``."""
    global SERVER
    if not database_url:
        yield f"sqlite+aiosqlite:///{Path(data_dir) / name}", "SQLite"
        return
    SERVER = database_url
    url = create_database()
    try:
        yield url, "PostgreSQL"
    finally:
        drop_database(url)


# -- the node, as `civic serve` ------------------------------------------------------------------

def civic(data_dir: str, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
    subprocess.run([CIVIC, *args, "--data-dir", data_dir], env=env, check=True, timeout=300,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


class Node:
    """`civic serve --processes N` in a process group of its own; its web processes' pids."""

    def __init__(self, data_dir: str, port: int, processes: int, log: Path):
        env = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
        self.processes, self.log = processes, log
        self.proc = subprocess.Popen(
            [CIVIC, "serve", "--data-dir", data_dir, "--host", HOST, "--port", str(port),
             "--processes", str(processes)], env=env, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=log.open("w"), stderr=subprocess.STDOUT)

    def web_pids(self) -> list[int]:
        """The processes that answer: the command itself, or the supervisor's children."""
        if self.processes == 1:
            return [self.proc.pid]
        found = re.findall(r"web process \d+ of \d+ started \(pid (\d+)\)", self.log.read_text())
        return [int(pid) for pid in found]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


async def seeded_index(url: str) -> dict[int, int]:
    """Row id → seed number of the seeded contributions (b0, b1, …), for the residents' check."""
    conn = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        rows = await conn.fetch("SELECT id, ap_id FROM contributions WHERE ap_id LIKE '%/contributions/b%'")
    finally:
        await conn.close()
    return {row["id"]: int(row["ap_id"].rsplit("/b", 1)[1]) for row in rows}


# -- the load, from a process of its own ----------------------------------------------------------

def _load(url: str, seconds: float, cookies: list[str] | None, fresh_urls: bool):
    """In the load process: the run's figures and the CPU time this process used for it."""
    cpu = time.process_time()
    elapsed, latencies, failures = asyncio.run(load(
        url, 1, cookies=cookies, fresh_urls=fresh_urls, min_seconds=seconds, cookie_name=COOKIE))
    return elapsed, latencies, failures, time.process_time() - cpu


async def _backends(url: str) -> list[int]:
    """The PostgreSQL server processes serving the bench's database (the web processes' pools)."""
    conn = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                "AND pid <> pg_backend_pid()")
    finally:
        await conn.close()
    return [row["pid"] for row in rows]


def _cpu(pids) -> dict[int, float]:
    used = {}
    for pid in pids:
        with contextlib.suppress(OSError):  # a backend may end meanwhile
            used[pid] = cpu_seconds(pid)
    return used


@dataclass
class Result:
    """One cell: elapsed seconds, latencies, non-200 answers, and the CPU seconds used per
    second of the run by each web process, by the load process and by PostgreSQL's backends."""
    elapsed: float
    latencies: list[float]
    failures: int
    web_cpu: list[float] = field(default_factory=list)
    load_cpu: float = 0.0
    db_cpu: float | None = None  # None: no database in this run


def measure(pool: ProcessPoolExecutor, url: str, seconds: float, cookies=None, fresh_urls=False,
            pids: tuple[int, ...] = (), database: str | None = None) -> Result:
    """A run of ``seconds`` after a warm-up of 2 seconds."""
    pool.submit(_load, url, 2.0, cookies, fresh_urls).result()
    backends = asyncio.run(_backends(database)) if database else []
    before, db_before = _cpu(pids), _cpu(backends)
    elapsed, latencies, failures, load_cpu = pool.submit(_load, url, seconds, cookies, fresh_urls).result()
    after, db_after = _cpu(pids), _cpu(backends)
    db_used = sum(db_after[pid] - db_before[pid] for pid in db_after if pid in db_before)
    return Result(elapsed, latencies, failures, [(after[pid] - before[pid]) / elapsed for pid in pids],
                  load_cpu / elapsed, db_used / elapsed if database else None)


@dataclass
class Run:
    """What one node (1 or 2 web processes) gave: results by kind of reader, peak RSS."""
    results: dict = field(default_factory=dict)
    rss: list[float] = field(default_factory=list)
    supervisor_rss: float = 0.0

    def merge(self, other: Run) -> None:
        """Add another round of the same node: its requests, time and CPU; the larger peaks."""
        for kind, more in other.results.items():
            if kind not in self.results:
                self.results[kind] = more
                continue
            mine, total = self.results[kind], self.results[kind].elapsed + more.elapsed

            def mean(a: float, b: float, mine=mine, more=more, total=total) -> float:
                return (a * mine.elapsed + b * more.elapsed) / total

            self.results[kind] = Result(
                total, mine.latencies + more.latencies, mine.failures + more.failures,
                [mean(a, b) for a, b in zip(mine.web_cpu, more.web_cpu, strict=True)],
                mean(mine.load_cpu, more.load_cpu),
                None if mine.db_cpu is None else mean(mine.db_cpu, more.db_cpu))
        self.rss = [max(pair) for pair in zip(self.rss, other.rss, strict=True)] if self.rss else other.rss
        self.supervisor_rss = max(self.supervisor_rss, other.supervisor_rss)


def run_node(pool, data_dir: str, url: str, port: int, processes: int, seconds: float,
             scale: Scale, workdir: Path) -> Run:
    """Figures of the node served by ``processes`` web processes."""
    base = f"http://{HOST}:{port}"
    workdir.mkdir(exist_ok=True)
    node = Node(data_dir, port, processes, workdir / f"serve-{processes}.log")
    run = Run()
    try:
        try:
            asyncio.run(wait_up(base + PAGE))
        except RuntimeError:
            raise RuntimeError(f"the node did not answer; its output:\n{node.log.read_text()}") from None
        pids = tuple(node.web_pids())
        assert len(pids) == processes, node.log.read_text()
        # Sign the residents in and check that each one's copy carries their own marks.
        cookies = asyncio.run(sign_in_readers(base, scale, asyncio.run(seeded_index(url))))
        run.results["anonymous"] = measure(pool, base + PAGE, seconds, pids=pids, database=url)
        run.results["signed in"] = measure(pool, base + PAGE, seconds, cookies, pids=pids, database=url)
        run.results["new URL"] = measure(pool, base + PAGE, seconds / 2, cookies, True, pids, url)
        run.rss = [memory_mb(pid)[0] for pid in pids]
        if processes > 1:
            run.supervisor_rss = memory_mb(node.proc.pid)[0]
        return run
    finally:
        node.stop()


def describe(result: Result) -> tuple[float, str]:
    rate = len(result.latencies) / result.elapsed
    text = (f"{rate:,.0f} req/s, p50 {pct(result.latencies, .5):.1f} ms, "
            f"p99 {pct(result.latencies, .99):.1f} ms")
    cpu = [f"web {' + '.join(f'{share:.2f}' for share in result.web_cpu)}", f"load {result.load_cpu:.2f}"]
    if result.db_cpu is not None:
        cpu.append(f"PostgreSQL {result.db_cpu:.2f}")
    text += f" [CPU s/s: {', '.join(cpu)}]"
    return rate, text + (f", {result.failures} non-200" if result.failures else "")


LABELS = {"anonymous": "anonymous (page cache)",
          "signed in": f"{READERS} signed-in residents (shared rendering, own marks)",
          "new URL": "signed in, a new URL each request (every page rendered)"}


def report(raw_result, runs: dict[int, Run], scale: Scale, seeded: float, seconds: float,
           load_before: float, rounds: int) -> list[str]:
    raw_rate, raw_text = describe(raw_result)
    lines = [
        f"data: {scale.proposals:,} proposals, {scale.proposals * scale.supporters:,} supports, "
        f"{scale.contributions} contributions in one discussion, {scale.followers:,} followers "
        f"(bench_pages.seed() on PostgreSQL, seeded in {seeded:.0f} s); page {PAGE}; "
        f"{CONCURRENCY} connections from one load process; {seconds:.0f} s per cell "
        f"({seconds / 2:.0f} s for new URLs) after a 2 s warm-up, {rounds} rounds of each node "
        "in the order 1, 2, 2, 1 (figures pooled over the rounds); CPU s/s: CPU seconds used per "
        "second of the cell by each web process, by the load process and by the PostgreSQL "
        "backends of the bench's database",
        f"caveat: {os.cpu_count()} cores shared by the web processes, the load process and "
        f"PostgreSQL (1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} "
        "after: other work ran on the machine too): the load generator "
        "competes with the servers, so this understates what a second process gives on a "
        "machine with spare cores",
        f"raw jinja2 page (one process): {raw_text}",
    ]
    for kind, label in LABELS.items():
        one, one_text = describe(runs[1].results[kind])
        two, two_text = describe(runs[2].results[kind])
        lines.append(f"{label}: 1 process {one_text} ({one / raw_rate:.2f}× raw); 2 processes "
                     f"{two_text} ({two / raw_rate:.2f}× raw); 2 vs 1: {two / one:.2f}×")
    both = " and ".join(f"{mb:.0f} MB" for mb in runs[2].rss)
    lines.append(f"peak RSS (VmHWM) of each web process: 1 process {runs[1].rss[0]:.0f} MB; "
                 f"2 processes {both} (their supervisor {runs[2].supervisor_rss:.0f} MB)")
    return lines


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2 * TTL + 1, help="length of each cell")
    parser.add_argument("--rounds", type=int, default=2,
                        help="runs of each node, in the order 1, 2, 2, 1… (results pooled)")
    parser.add_argument("--quick", action="store_true",
                        help="small data and 2-second cells, printed only (a check that it works)")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    scale, seconds = (QUICK, 2.0) if args.quick else (FULL, args.seconds)
    ctx = multiprocessing.get_context("spawn")
    load_before = os.getloadavg()[0]
    url = create_database()
    raw = None
    try:
        with tempfile.TemporaryDirectory() as workdir, \
                ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            data_dir, port = str(Path(workdir) / "data"), free_port(HOST)
            base = f"http://{HOST}:{port}"
            civic(data_dir, "init", "--base-url", base, "--development", "--database-url", url)
            started = time.perf_counter()
            asyncio.run(seed(url, base, scale))
            seeded = time.perf_counter() - started
            print(f"seeded in {seeded:.0f} s", flush=True)
            raw_port, ready = free_port(HOST), ctx.Event()
            raw = ctx.Process(target=serve_raw, args=(raw_port, ready), daemon=True)
            raw.start()
            ready.wait(60)
            asyncio.run(wait_up(f"http://{HOST}:{raw_port}/raw"))
            raw_result = measure(pool, f"http://{HOST}:{raw_port}/raw", seconds, pids=(raw.pid,))
            # 1, 2, 2, 1…: the other work on the machine drifts; each count gets both ends.
            runs = {1: Run(), 2: Run()}
            order = [n for _ in range(0, args.rounds, 2) for n in (1, 2, 2, 1)][:2 * args.rounds]
            for round_number, n in enumerate(order):
                runs[n].merge(run_node(pool, data_dir, url, port, n, seconds, scale,
                                       Path(workdir) / str(round_number)))
    finally:
        if raw is not None:
            raw.terminate()
            raw.join(5)
        drop_database(url)
    lines = report(raw_result, runs, scale, seeded, seconds, load_before, args.rounds)
    print("\n".join(lines))
    if not args.quick:
        append("Processes: 2 web processes vs 1 on PostgreSQL (bench/bench_processes.py)", lines)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
