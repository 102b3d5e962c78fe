"""The fan-out job side by side: one post to 10,000 followers on 500 hosts, sent by a raw
sign-and-POST loop, by the node (fan-out + DeliveryWorker, from the outbox event to the last
acknowledged delivery), by Fedify 1.5.9 with its PostgreSQL message queue and by bovine-herd.

One command: `.venv/bin/python bench/bench_fanout_peers.py [--quick] [--only raw,node-sqlite,...]`
(appends a section to bench/RESULTS.md unless --no-record).

Like for like: every follower is one signed POST (no sharedInbox anywhere), every sender signs
with an RSA 2048 key (draft-cavage rsa-sha256), and all of them POST to the same receiver: one
separate process listening on 500 ports of 127.0.0.1 (500 host:port authorities), which reads the
body and answers 202 without verifying the signature (verifying would give the receiver the same
extra CPU for every sender, on a 2-core machine shared with the sender). The receiver counts what
it received; a sender is done when the count reaches the number of followers, or fails after its
timeout. The node's fan-out runs in a child process whose peak RSS (VmHWM) is read from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
import uuid
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: the project packages are beside us

from bench.report import append  # noqa: E402

HOST = "127.0.0.1"
PG_SERVER = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
CONCURRENCY = 32  # requests in flight for the raw loop
NODE_CONCURRENCY = 64  # the worker's, as deployed (federation.delivery.DEFAULT_CONCURRENCY)
SENDER_TIMEOUT = 600.0  # seconds one sender may take before it is stopped and reported as failed
GOALS = {"raw": 0.8, "fedify": 6.0, "herd": 1.5}  # node's rate ≥ this × the other's
MEMORY_GOAL_MB = 150
PEERS = ROOT / ".peers"
FEDIFY_DIR = PEERS / "fedify-bench"  # npm install of bench/peers/package.json
HERD_PYTHON = PEERS / "herd" / "bin" / "python"
SENDERS = ("raw", "node-sqlite", "node-postgresql", "fedify", "herd")
NOTE = "Réunion publique mardi 18 h, salle du conseil : le budget participatif 2027. " * 4


@dataclass
class Size:
    followers: int
    hosts: int


FULL, QUICK = Size(10_000, 500), Size(2_000, 100)


@dataclass
class Run:
    """What one sender did: deliveries counted at the receiver, wall and CPU seconds."""

    name: str
    delivered: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    peak_rss_mb: float | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.delivered / self.wall if self.wall and not self.error else 0.0


# --- the receiver (child process) ---------------------------------------------------------------


def serve_receiver(hosts: int) -> None:
    """202 to every POST after reading its body, on ``hosts`` ports; GET /count on any of them
    says how many POSTs arrived in all. Prints the ports (JSON) once listening."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 500 listeners + the senders' connections
    received = 0

    async def inbox(request: web.Request) -> web.Response:
        nonlocal received
        await request.read()
        received += 1
        return web.Response(status=202)

    async def count(_request: web.Request) -> web.Response:
        return web.Response(text=str(received))

    async def serve() -> None:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_post("/{tail:.*}", inbox)
        app.router.add_get("/count", count)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        ports = []
        for _ in range(hosts):
            site = web.TCPSite(runner, HOST, 0, backlog=1024)
            await site.start()
            ports.append(site._server.sockets[0].getsockname()[1])
        print(json.dumps(ports), flush=True)
        await asyncio.Event().wait()  # until the parent terminates us

    asyncio.run(serve())


class Receiver:
    def __init__(self, proc: asyncio.subprocess.Process, ports: list[int]):
        self.proc, self.ports = proc, ports

    @property
    def count_url(self) -> str:
        return f"http://{HOST}:{self.ports[0]}/count"

    async def count(self, http: aiohttp.ClientSession) -> int:
        async with http.get(self.count_url) as response:
            return int(await response.text())

    async def wait_for(self, http: aiohttp.ClientSession, target: int, deadline: float,
                       watched: asyncio.subprocess.Process | None = None) -> int:
        """Poll the count until it reaches ``target`` (or the deadline, or ``watched`` exits)."""
        while True:
            got = await self.count(http)
            if got >= target or time.monotonic() > deadline:
                return got
            if watched is not None and watched.returncode is not None:
                return got
            await asyncio.sleep(0.02)


@asynccontextmanager
async def receiver(hosts: int):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--receiver", str(hosts), stdout=asyncio.subprocess.PIPE)
    try:
        ports = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
        yield Receiver(proc, ports)
    finally:
        await stop_process(proc)


async def stop_process(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def followers(size: Size, ports: list[int]) -> list[str]:
    """The followers' actor ids: ``size.followers / size.hosts`` per port, in a shuffled order
    (people follow over time from anywhere), the same for every sender."""
    ids = [f"http://{HOST}:{ports[n % size.hosts]}/users/f{n}" for n in range(size.followers)]
    random.Random(9).shuffle(ids)
    return ids


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (and of its waited-for children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


# --- PostgreSQL databases of the run --------------------------------------------------------------


@asynccontextmanager
async def pg_database(prefix: str):
    """A fresh database on the local server, dropped at the end; yields its URL."""
    import asyncpg

    name = f"civic_bench_{prefix}_{uuid.uuid4().hex[:8]}"
    server = await asyncpg.connect(f"{PG_SERVER}/postgres")
    try:
        await server.execute(f'CREATE DATABASE "{name}"')
    finally:
        await server.close()
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        server = await asyncpg.connect(f"{PG_SERVER}/postgres")
        try:
            await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await server.close()


# --- raw: sign and POST -----------------------------------------------------------------------------


async def run_raw(size: Size, rec: Receiver, http: aiohttp.ClientSession) -> Run:
    from federation.delivery import serialise
    from federation.signatures import sign_headers
    from node.keys import generate_rsa_keypair

    _, private_pem = generate_rsa_keypair(2048)
    key_id = f"http://{HOST}:18080/actors/bench#main-key"
    body = serialise({"@context": "https://www.w3.org/ns/activitystreams", "type": "Create",
                      "id": f"http://{HOST}:18080/activities/raw", "actor": key_id.split("#")[0],
                      "object": {"type": "Note", "content": NOTE}})
    inboxes = [f"{actor}/inbox" for actor in followers(size, rec.ports)]
    before, gate = await rec.count(http), asyncio.Semaphore(CONCURRENCY)
    connector = aiohttp.TCPConnector(limit=100)  # as the node's client session

    async def one(session: aiohttp.ClientSession, url: str) -> None:
        async with gate:
            headers = sign_headers("POST", url, body, key_id, private_pem)
            async with session.post(url, data=body, headers=headers) as response:
                if response.status != 202:
                    raise RuntimeError(f"raw sender: HTTP {response.status}")

    started, cpu = time.perf_counter(), time.process_time()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.wait_for(asyncio.gather(*(one(session, url) for url in inboxes)), SENDER_TIMEOUT)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return Run("raw", await rec.count(http) - before, wall, cpu)


# --- the node: seed, then fan out in a child process ---------------------------------------------------


def node_settings(database_url: str, data_dir: Path):
    from node.config import Settings

    return Settings(base_url=f"http://{HOST}:18080", database_url=database_url, data_dir=data_dir,
                    development=True, instance_name="Bench node")


async def seed_node(database_url: str, data_dir: Path, actor_ids: list[str]) -> None:
    """A migrated database with organisation ``bench`` and its approved remote followers, as
    inserted in bulk (what the node would have stored on each Follow: the actor and its inbox)."""
    from sqlalchemy import insert, select

    from node.db import create_engine, session_factory, transaction
    from node.migrate import upgrade
    from node.models import Actor, Follow, FollowStates
    from node.services.actors import create_organization
    from node.uris import Uris

    settings = node_settings(database_url, data_dir)
    engine = create_engine(settings.effective_database_url)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        async with transaction(sessions) as s:
            org = await create_organization(s, Uris(settings.base_url), "bench", "Bench")
            for start in range(0, len(actor_ids), 2_000):
                chunk = actor_ids[start:start + 2_000]
                await s.execute(insert(Actor), [
                    {"ap_id": ap_id, "type": "Person", "local": False,
                     "username": ap_id.rsplit("/", 1)[1], "domain": ap_id.split("/")[2],
                     "inbox": f"{ap_id}/inbox", "shared_inbox": None} for ap_id in chunk])
                ids = dict((await s.execute(select(Actor.ap_id, Actor.id).where(Actor.ap_id.in_(chunk)))).all())
                await s.execute(insert(Follow), [
                    {"ap_id": f"{ap_id}/follow", "follower_id": ids[ap_id], "followed_id": org.id,
                     "state": FollowStates.accepted} for ap_id in chunk])
    finally:
        await engine.dispose()


async def node_child(database_url: str, data_dir: str, concurrency: str) -> None:
    """The node's side of the run, alone in this process: open a discussion (the post: its outbox
    event), run the fan-out, and the worker until no row is due; print the figures, then wait for
    a line on stdin so that the parent can read our peak RSS."""
    from sqlalchemy import func, select

    from federation.delivery import DeliveryWorker
    from federation.fanout import process_events
    from federation.fetch import make_client_session
    from federation.runtime import Runtime
    from node.db import create_engine, session_factory, transaction
    from node.models import Actor, Delivery, DeliveryStates
    from node.services import discussions

    settings = node_settings(database_url, Path(data_dir))
    engine = create_engine(settings.effective_database_url)
    sessions = session_factory(engine)
    rt = Runtime(settings, sessions)
    rss_before = peak_rss_mb(os.getpid())
    async with make_client_session(settings, limit_per_host=settings.delivery_per_host) as http:
        worker = DeliveryWorker(settings, sessions, http, concurrency=int(concurrency))
        started, cpu = time.perf_counter(), time.process_time()
        async with transaction(sessions) as s:
            org = await s.scalar(select(Actor).where(Actor.local.is_(True), Actor.username == "bench"))
            await discussions.open_discussion(s, rt.uris, org, "budget", {"fr": "Budget 2027"},
                                              body=NOTE, visibility="public")
        events, queued = await process_events(rt)
        fanned = time.perf_counter() - started
        attempted = 0
        while sent := await worker.run_once(limit=10_000):
            attempted += sent
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        async with sessions() as s:
            delivered = await s.scalar(select(func.count()).select_from(Delivery)
                                       .where(Delivery.state == DeliveryStates.delivered))
    await engine.dispose()
    print(json.dumps({"events": events, "queued": queued, "attempted": attempted,
                      "delivered": delivered, "wall": wall, "cpu": cpu, "fanout_wall": fanned,
                      "rss_before_mb": rss_before}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def run_node(size: Size, rec: Receiver, http: aiohttp.ClientSession, backend: str,
                   concurrency: int) -> Run:
    name = f"node-{backend}"
    actor_ids = followers(size, rec.ports)
    async with AsyncExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="civic-fanout-")))
        if backend == "postgresql":
            url = (await stack.enter_async_context(pg_database("node"))).replace(
                "postgresql://", "postgresql+asyncpg://", 1)
        else:
            url = f"sqlite+aiosqlite:///{data_dir / 'civic.db'}"
        await seed_node(url, data_dir, actor_ids)
        before = await rec.count(http)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--node-child", url, str(data_dir), str(concurrency),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), SENDER_TIMEOUT)
            if not line:
                return Run(name, error=f"the node's child exited with {await proc.wait()}")
            figures = json.loads(line)
            peak = peak_rss_mb(proc.pid)
            proc.stdin.write(b"done\n")
            await proc.stdin.drain()
            await asyncio.wait_for(proc.wait(), 30)
        finally:
            await stop_process(proc)
    got = await rec.count(http) - before
    run = Run(name, got, figures["wall"], figures["cpu"], peak)
    run.notes.append(f"fan-out (event → {figures['queued']:,} rows) {figures['fanout_wall']:.2f} s; "
                     f"RSS before the post {figures['rss_before_mb']:.0f} MB")
    if figures["delivered"] != size.followers or got != size.followers:
        run.error = f"{figures['delivered']} rows delivered, {got} counted, of {size.followers}"
    return run


# --- Fedify 1.5.9 with PostgresMessageQueue ------------------------------------------------------------


async def run_fedify(size: Size, rec: Receiver, http: aiohttp.ClientSession, workers: int) -> Run:
    name = "fedify" if workers == 1 else f"fedify-parallel{workers}"
    if not (FEDIFY_DIR / "node_modules" / "@fedify" / "postgres").exists():
        return Run(name, error=f"not installed: cd {FEDIFY_DIR} && npm install (bench/peers/package.json)")
    script = FEDIFY_DIR / "fedify_sender.mjs"
    shutil.copy(ROOT / "bench" / "peers" / "fedify_sender.mjs", script)  # beside its node_modules
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(pg_database("fedify"))
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fedify-fanout-")))
        (directory / "followers.json").write_text(json.dumps(followers(size, rec.ports)))
        proc = await asyncio.create_subprocess_exec(
            "node", str(script), "--host", HOST, "--followers", str(directory / "followers.json"),
            "--database-url", url, "--workers", str(workers),
            stdout=asyncio.subprocess.PIPE, cwd=FEDIFY_DIR)
        stack.push_async_callback(stop_process, proc)
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        if not line:
            return Run(name, error=f"the Fedify sender exited with {await proc.wait()}")
        control = json.loads(line)["control"]
        before, cpu = await rec.count(http), cpu_seconds(proc.pid)
        started = time.perf_counter()
        async with http.post(f"{control}/post") as response:
            if response.status != 200:
                return Run(name, error=f"the Fedify sender answered {response.status}: {await response.text()}")
        deadline = time.monotonic() + SENDER_TIMEOUT
        got = await rec.wait_for(http, before + size.followers, deadline, proc) - before
        wall, cpu = time.perf_counter() - started, cpu_seconds(proc.pid) - cpu
    run = Run(name, got, wall, cpu)
    if got != size.followers:
        run.error = f"{got} of {size.followers} counted before the timeout or exit"
    return run


# --- bovine-herd 0.5.19 ---------------------------------------------------------------------------------


async def run_herd(size: Size, rec: Receiver, http: aiohttp.ClientSession) -> Run:
    """bovine-herd under hypercorn (deploy/peers/herd_app.py, SQLite store), its followers
    inserted straight into the store, one Create posted through its C2S outbox."""
    if not HERD_PYTHON.exists():
        return Run("herd", error=f"not installed: {HERD_PYTHON} (make peers)")
    async with AsyncExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="herd-fanout-")))
        (directory / "followers.json").write_text(json.dumps(followers(size, rec.ports)))
        port = free_port()
        domain = f"http://{HOST}:{port}"
        env = {**os.environ, "BOVINE_DB_URL": f"sqlite://{directory / 'herd.sqlite3'}",
               "PYTHONPATH": str(ROOT / "deploy" / "peers"), "BUTCHER_ALLOW_HTTP": "1",
               "HERD_LOG_LEVEL": "WARNING"}  # bovine logs every response at INFO otherwise
        sender = [str(HERD_PYTHON), str(ROOT / "bench" / "peers" / "herd_sender.py")]
        prepared = await herd_command(
            [*sender, "prepare", "--domain", domain, "--followers", str(directory / "followers.json")],
            directory, env, 600)
        proc = await asyncio.create_subprocess_exec(
            str(HERD_PYTHON), "-m", "hypercorn", "herd_app:app", "--bind", f"{HOST}:{port}",
            cwd=directory, env=env, stdout=asyncio.subprocess.DEVNULL)
        stack.push_async_callback(stop_process, proc)
        await wait_listening(http, f"{domain}/.well-known/nodeinfo", proc)
        before, cpu = await rec.count(http), cpu_tree(proc.pid)
        started = time.perf_counter()
        await herd_command([*sender, "post", "--domain", domain, "--secret", prepared["secret"]],
                           directory, env, 120)
        deadline = time.monotonic() + SENDER_TIMEOUT
        got = await rec.wait_for(http, before + size.followers, deadline, proc) - before
        wall, cpu = time.perf_counter() - started, cpu_tree(proc.pid) - cpu
    run = Run("herd", got, wall, cpu)
    run.notes.append("CPU of the hypercorn process tree, SQLite store in it")
    if got != size.followers:
        run.error = f"{got} of {size.followers} counted before the timeout or exit"
    return run


async def herd_command(argv: list[str], cwd: Path, env: dict, seconds: float) -> dict:
    proc = await asyncio.create_subprocess_exec(*argv, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), seconds)
    finally:
        await stop_process(proc)
    if proc.returncode:
        raise RuntimeError(f"{argv[2]} {argv[3]}: exit {proc.returncode}: {err.decode()[-1500:]}")
    return json.loads(out.decode().strip().splitlines()[-1])


async def wait_listening(http: aiohttp.ClientSession, url: str, proc, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.returncode is None:
        with suppress(aiohttp.ClientError, OSError):
            async with http.get(url) as response:
                if response.status < 500:
                    return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"nothing answered at {url}")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def cpu_tree(pid: int) -> float:
    """CPU seconds of a process and its live descendants (hypercorn may fork a worker)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        with suppress(OSError):
            total += cpu_seconds(current)
        todo += children.get(current, [])
    return total


# --- the run ----------------------------------------------------------------------------------------------


async def bench(size: Size, only: list[str], fedify_workers: list[int], rounds: int,
                node_concurrency: int) -> list[Run]:
    """Every sender in turn against one receiver, ``rounds`` times, alternating: the machine is
    shared, and a round's figures move with what else runs."""
    runs: list[Run] = []
    async with receiver(size.hosts) as rec, aiohttp.ClientSession() as http:
        for _ in range(rounds):
            for name in only:
                print(f"{name}: {size.followers:,} followers on {size.hosts} hosts …", flush=True)
                done, receiver_cpu = len(runs), cpu_seconds(rec.proc.pid)
                try:
                    if name == "raw":
                        runs.append(await run_raw(size, rec, http))
                    elif name.startswith("node-"):
                        runs.append(await run_node(size, rec, http, name.removeprefix("node-"),
                                                   node_concurrency))
                    elif name == "fedify":
                        for workers in fedify_workers:
                            runs.append(await run_fedify(size, rec, http, workers))
                    elif name == "herd":
                        runs.append(await run_herd(size, rec, http))
                except Exception as exc:  # one sender failing still reports the others
                    runs.append(Run(name, error=f"{type(exc).__name__}: {exc}"))
                receiver_cpu = cpu_seconds(rec.proc.pid) - receiver_cpu
                for run in runs[done:]:
                    if len(runs) - done == 1 and not run.error:  # the receiver's share of the machine
                        run.notes.append(f"receiver CPU {receiver_cpu:.1f} s")
                    print(f"  {describe(run)}", flush=True)
    return runs


def medians(runs: list[Run]) -> list[Run]:
    """One run per sender: the one with the median rate (the lower of the two middle ones), with
    the rates of all its rounds in its notes; a sender that failed once is reported failed."""
    chosen = []
    for name in dict.fromkeys(run.name for run in runs):
        mine = [run for run in runs if run.name == name]
        failed = [run for run in mine if run.error]
        if failed or len(mine) == 1:
            chosen.append(failed[0] if failed else mine[0])
            continue
        ordered = sorted(mine, key=lambda run: run.rate)
        median = ordered[(len(ordered) - 1) // 2]
        median.notes.append("median of rounds " + ", ".join(f"{run.rate:,.0f}/s" for run in mine))
        chosen.append(median)
    return chosen


def describe(run: Run) -> str:
    if run.error:
        return f"{run.name}: FAILED — {run.error}"
    text = (f"{run.name}: {run.delivered:,} deliveries in {run.wall:.2f} s = {run.rate:,.0f}/s, "
            f"CPU {run.cpu:.2f} s ({1000 * run.cpu / max(run.delivered, 1):.2f} ms each)")
    if run.peak_rss_mb is not None:
        text += f", peak RSS {run.peak_rss_mb:.0f} MB"
    return text + "".join(f"; {note}" for note in run.notes)


def verdicts(runs: list[Run]) -> list[str]:
    lines = []
    for node in (r for r in runs if r.name.startswith("node-") and not r.error):
        for other, goal in GOALS.items():
            for run in (r for r in runs if r.name == other or r.name.startswith(f"{other}-")):
                if run.error or not run.rate:
                    lines.append(f"{node.name}/{run.name}: not measured ({run.name} failed)")
                    continue
                ratio = node.rate / run.rate
                verdict = "met" if ratio >= goal else "NOT met"
                lines.append(f"{node.name}/{run.name}: {ratio:.2f}× (goal ≥ {goal}×) — {verdict}")
        if node.peak_rss_mb is not None:
            verdict = "met" if node.peak_rss_mb <= MEMORY_GOAL_MB else "NOT met"
            lines.append(f"{node.name} worker peak RSS {node.peak_rss_mb:.0f} MB "
                         f"(goal ≤ {MEMORY_GOAL_MB} MB) — {verdict}")
    return lines


def record(size: Size, runs: list[Run], node_concurrency: int, load: str) -> None:
    append("Fan-out job against Fedify and bovine-herd (bench/bench_fanout_peers.py)", [
        f"one post to {size.followers:,} followers on {size.hosts} host:port authorities "
        f"({size.followers // size.hosts} each, no sharedInbox: one signed POST per follower), "
        f"RSA 2048 draft-cavage signatures for every sender; receiver: one separate process on "
        f"{size.hosts} ports of 127.0.0.1 answering 202 without verifying; in flight: raw "
        f"{CONCURRENCY}, node worker {node_concurrency} (4 per host), Fedify one queue message at a "
        f"time (its default; -parallelN: ParallelMessageQueue), bovine-herd all at once (aiohttp's "
        f"100 connections); CPU is the sender process's (the PostgreSQL server's is not counted); "
        f"load average at the start {load} (the machine is shared)",
        *(describe(run) for run in runs),
        *verdicts(runs),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--node-child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--node-concurrency", type=int, default=NODE_CONCURRENCY,
                        help=f"the worker's requests in flight (default {NODE_CONCURRENCY}, its own)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of every sender, alternating; medians reported")
    parser.add_argument("--quick", action="store_true", help="2,000 followers on 100 hosts")
    parser.add_argument("--only", default=",".join(SENDERS), help=f"comma-separated, of {SENDERS}")
    parser.add_argument("--fedify-workers", default="1",
                        help="Fedify queue workers to measure (1: its default; N: ParallelMessageQueue)")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    if args.receiver:
        serve_receiver(args.receiver)
        return
    if args.node_child:
        asyncio.run(node_child(*args.node_child))
        return
    size = QUICK if args.quick else FULL
    only = [name for name in args.only.split(",") if name]
    unknown = set(only) - set(SENDERS)
    if unknown:
        parser.error(f"unknown senders {sorted(unknown)}")
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    runs = medians(asyncio.run(bench(size, only, [int(n) for n in args.fedify_workers.split(",")],
                                     args.rounds, args.node_concurrency)))
    for line in [*map(describe, runs), *verdicts(runs)]:
        print(line)
    if not args.no_record:
        record(size, runs, args.node_concurrency, load)


if __name__ == "__main__":
    with suppress(KeyboardInterrupt):
        main()
