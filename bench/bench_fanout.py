"""Fan-out throughput: a raw signed-POST loop against the DeliveryWorker, to one loopback receiver."""

# Run: .venv/bin/python bench/bench_fanout.py  (appends a section to bench/RESULTS.md)
# The receiver runs in its own process so that it does not take event-loop time from the sender.

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web
from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: the project packages are beside us

from bench.report import append  # noqa: E402
from federation.delivery import DeliveryWorker, serialise  # noqa: E402
from federation.fetch import make_client_session  # noqa: E402
from federation.signatures import sign_headers  # noqa: E402
from node.config import Settings  # noqa: E402
from node.db import create_engine, session_factory, transaction  # noqa: E402
from node.migrate import upgrade  # noqa: E402
from node.models import Activity, Delivery, utcnow  # noqa: E402
from node.services.actors import create_organization  # noqa: E402
from node.uris import Uris  # noqa: E402

N = 2000
CONCURRENCY = 32  # requests in flight, for both senders (the worker's per-host cap = this)
ROUNDS = 5  # alternating raw / worker rounds; the median of each is reported
GOAL = 0.8
NOTE = {"type": "Note", "content": "Réunion publique mardi 18 h, salle du conseil. " * 6}


# --- the receiver (child process) ---------------------------------------------------------------


def serve_receiver() -> None:
    """Answer every POST with 202 after reading the body; GET /count says how many arrived."""
    received = 0

    async def inbox(request: web.Request) -> web.Response:
        nonlocal received
        await request.read()
        received += 1
        return web.Response(status=202)

    async def count(_request: web.Request) -> web.Response:
        return web.Response(text=str(received))

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/inbox/{n}", inbox)
        app.router.add_get("/count", count)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, backlog=1024).start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()  # until the parent terminates us

    asyncio.run(serve())


async def start_receiver() -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--receiver", stdout=asyncio.subprocess.PIPE
    )
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    return proc, f"http://127.0.0.1:{int(line)}"


async def received(http, base: str) -> int:
    async with http.get(f"{base}/count") as response:
        return int(await response.text())


# --- the two senders ----------------------------------------------------------------------------


async def raw_sender(http, base: str, body: bytes, actor, offset: int) -> tuple[float, float]:
    """Sign and POST N times with CONCURRENCY in flight; returns (wall, CPU) seconds."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(n: int) -> None:
        async with gate:
            url = f"{base}/inbox/{offset + n}"
            headers = sign_headers("POST", url, body, actor.key_id, actor.private_key_pem)
            async with http.post(url, data=body, headers=headers) as response:
                if response.status != 202:
                    raise RuntimeError(f"raw sender: HTTP {response.status}")

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(n) for n in range(N)))
    return time.perf_counter() - started, time.process_time() - cpu


async def queue_rows(sessions, actor, base: str, round_no: int) -> int:
    """One stored activity and N queued delivery rows, as the fan-out leaves them."""
    doc = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor.ap_id}/activities/bench-{round_no}",
        "type": "Create",
        "actor": actor.ap_id,
        "object": NOTE,
    }
    async with transaction(sessions) as s:
        activity = Activity(ap_id=doc["id"], actor_id=actor.id, type="Create", document=doc)
        s.add(activity)
        await s.flush()
        now, host = utcnow(), base.removeprefix("http://")
        rows = [
            {"activity_id": activity.id, "inbox": f"{base}/inbox/{n}", "host": host,
             "state": "queued", "attempts": 0, "next_try_at": now, "created_at": now}
            for n in range(N)
        ]  # fmt: skip
        await s.execute(insert(Delivery), rows)
        return activity.id


async def worker_sender(settings, sessions, http, actor, base: str, round_no: int):
    """Queue N rows, then time the worker delivering them; returns (wall, CPU) seconds."""
    activity_id = await queue_rows(sessions, actor, base, round_no)
    worker = DeliveryWorker(settings, sessions, http, concurrency=CONCURRENCY)
    started, cpu = time.perf_counter(), time.process_time()
    # One pass over all N rows, as run() makes its passes (claims refill the pipeline as it goes).
    attempted = await worker.run_once(limit=N)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    async with sessions() as s:
        done = await s.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.activity_id == activity_id, Delivery.state == "delivered")
        )
    if attempted != N or done != N:
        raise RuntimeError(f"worker: {attempted} attempted, {done} delivered, of {N}")
    return elapsed, cpu


# --- the run ------------------------------------------------------------------------------------


async def bench() -> dict:
    proc, base = await start_receiver()
    directory = Path(tempfile.mkdtemp(prefix="civic-bench-"))
    settings = Settings(
        base_url="http://127.0.0.1:18080",
        database_url=f"sqlite+aiosqlite:///{directory / 'civic.db'}",
        data_dir=directory,
        development=True,
        delivery_per_host=CONCURRENCY,
    )
    engine = create_engine(settings.database_url)
    raw, worker = [], []
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        async with transaction(sessions) as s:
            actor = await create_organization(s, Uris(settings.base_url), "bench", "Bench")
        body = serialise({"@context": "https://www.w3.org/ns/activitystreams", "object": NOTE})
        async with make_client_session(settings, limit_per_host=CONCURRENCY) as http:
            # Warm up: open the pooled connections and parse the key once for both senders.
            await raw_sender(http, base, body, actor, 10**6)
            for round_no in range(ROUNDS):
                offset = (round_no + 2) * 10**6
                raw.append(await raw_sender(http, base, body, actor, offset))
                worker.append(await worker_sender(settings, sessions, http, actor, base, round_no))
            total = await received(http, base)
        if total != N * (1 + 2 * ROUNDS):
            raise RuntimeError(f"the receiver counted {total} POSTs, not {N * (1 + 2 * ROUNDS)}")
    finally:
        await engine.dispose()
        proc.terminate()
        await proc.wait()
    raw_rates, worker_rates = [N / wall for wall, _ in raw], [N / wall for wall, _ in worker]
    raw_rate, worker_rate = statistics.median(raw_rates), statistics.median(worker_rates)
    return {
        "raw": raw_rates,
        "worker": worker_rates,
        "raw_rate": raw_rate,
        "worker_rate": worker_rate,
        "ratio": worker_rate / raw_rate,
        "raw_cpu_ms": 1000 * statistics.median(cpu for _, cpu in raw) / N,
        "worker_cpu_ms": 1000 * statistics.median(cpu for _, cpu in worker) / N,
    }


def record(figures: dict) -> None:
    def rounds(rates: list[float]) -> str:
        return ", ".join(f"{rate:,.0f}" for rate in rates)

    verdict = "met" if figures["ratio"] >= GOAL else "NOT met"
    append(
        "Fan-out delivery (bench/bench_fanout.py)",
        [
            f"deliveries: {N} per run to one loopback receiver (own process), {CONCURRENCY} in "
            f"flight for both senders, each request signed (draft-cavage rsa-sha256); median of "
            f"{ROUNDS} alternating rounds",
            f"raw aiohttp sender (sign + POST): {figures['raw_rate']:,.0f} deliveries/s "
            f"(rounds {rounds(figures['raw'])}; {figures['raw_cpu_ms']:.3f} ms CPU each)",
            f"civic-node DeliveryWorker (claim, sign, POST, group-committed outcome, SQLite WAL): "
            f"{figures['worker_rate']:,.0f} deliveries/s (rounds {rounds(figures['worker'])}; "
            f"{figures['worker_cpu_ms']:.3f} ms CPU each)",
            f"ratio: {figures['ratio']:.2f}× the raw rate (goal ≥ {GOAL}×) — {verdict}",
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--receiver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    if args.receiver:
        serve_receiver()
        return
    figures = asyncio.run(bench())
    print(f"raw sender:     {figures['raw_rate']:8.0f} deliveries/s")
    print(f"DeliveryWorker: {figures['worker_rate']:8.0f} deliveries/s")
    print(f"ratio:          {figures['ratio']:8.2f} (goal ≥ {GOAL})")
    print(
        f"CPU per delivery: raw {figures['raw_cpu_ms']:.3f} ms, "
        f"worker {figures['worker_cpu_ms']:.3f} ms"
    )
    if not args.no_record:
        record(figures)


if __name__ == "__main__":
    main()
