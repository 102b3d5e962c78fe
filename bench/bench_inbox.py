"""Inbox ingest: signed POST → verified → stored durably → 202, against a raw receiver.

One command: `.venv/bin/python bench/bench_inbox.py [N]`. Both receivers run in their own
process; the load comes from this process with pre-signed requests (signing is not measured).
The raw receiver is plain aiohttp + the same signature verification and nothing else.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import append  # noqa: E402
from federation.signatures import sign_headers, verify_request  # noqa: E402
from node.keys import generate_rsa_keypair  # noqa: E402

HOST = "127.0.0.1"
CONCURRENCY = 32
BACKGROUND = os.environ.get("BENCH_BACKGROUND", "1") == "1"
PROCESSING = ("inbox processing in the same process, yielding to bursts" if BACKGROUND
              else "processing left to a separate worker")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# --- the remote side: one actor whose document the node fetches once --------------------------

def _serve_actor(port: int, doc: dict, ready) -> None:
    async def actor(_request):
        return web.json_response(doc, content_type="application/activity+json")

    app = web.Application()
    app.router.add_get("/users/bench", actor)
    ready.set()
    web.run_app(app, host=HOST, port=port, print=None, access_log=None)


# --- the raw receiver ------------------------------------------------------------------------

def _serve_raw(port: int, key: tuple[str, str], ready) -> None:
    owner, pem = key

    async def get_key(_key_id):
        return owner, pem

    async def inbox(request: web.Request):
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        await verify_request("POST", f"http://{HOST}:{port}{request.rel_url}", headers, body, get_key)
        json.loads(body)
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/actors/lyon/inbox", inbox)
    ready.set()
    web.run_app(app, host=HOST, port=port, print=None, access_log=None)


# --- our node ------------------------------------------------------------------------------------

def _serve_node(port: int, data_dir: str, ready) -> None:
    from civic.app import create_app
    from node.config import Settings
    from node.db import create_engine, session_factory, transaction
    from node.migrate import upgrade
    from node.services import actors
    from node.uris import Uris

    # All the load comes from one remote host: its per-host inbox limit (3,600 a minute by
    # default) is raised so that the bench measures ingest, not the 429 path; the limiter's
    # counting and its once-a-second sync still run.
    settings = Settings(base_url=f"http://{HOST}:{port}", data_dir=Path(data_dir), development=True,
                        secret_key="bench", inbox_host_limit=10**9)

    async def prepare():
        engine = create_engine(settings.effective_database_url)
        await upgrade(engine)
        async with transaction(session_factory(engine)) as s:
            await actors.create_organization(s, Uris(settings.base_url), "lyon", "Ville de Lyon")
        await engine.dispose()

    asyncio.run(prepare())
    ready.set()
    web.run_app(create_app(settings, background=BACKGROUND),
                host=HOST, port=port, print=None, access_log=None)


# --- load ----------------------------------------------------------------------------------------

def _requests(url: str, actor_id: str, private_pem: str, n: int, tag: str) -> list[tuple[bytes, dict]]:
    out = []
    for i in range(n):
        doc = {"@context": "https://www.w3.org/ns/activitystreams", "type": "Create",
               "id": f"{actor_id}/activities/{tag}-{i}", "actor": actor_id,
               "to": ["https://www.w3.org/ns/activitystreams#Public"],
               "object": {"id": f"{actor_id}/notes/{tag}-{i}", "type": "Note",
                          "attributedTo": actor_id, "content": f"<p>Contribution {i}</p>",
                          "to": ["https://www.w3.org/ns/activitystreams#Public"]}}
        body = json.dumps(doc).encode()
        out.append((body, sign_headers("POST", url, body, f"{actor_id}#main-key", private_pem)))
    return out


async def _blast(url: str, requests: list[tuple[bytes, dict]]) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    failures = 0
    queue = list(reversed(requests))
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker():
            nonlocal failures
            while queue:
                body, headers = queue.pop()
                start = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 202:
                        failures += 1
                latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - start
    return elapsed, latencies, failures


async def _wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(url) as response:
                    await response.read()
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    public_pem, private_pem = generate_rsa_keypair()
    actor_port, raw_port, node_port = _free_port(), _free_port(), _free_port()
    actor_id = f"http://{HOST}:{actor_port}/users/bench"
    doc = {"@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
           "id": actor_id, "type": "Person", "preferredUsername": "bench", "inbox": f"{actor_id}/inbox",
           "publicKey": {"id": f"{actor_id}#main-key", "owner": actor_id, "publicKeyPem": public_pem}}
    ctx = multiprocessing.get_context("spawn")
    procs = []
    with tempfile.TemporaryDirectory() as data_dir:
        for target, args in ((_serve_actor, (actor_port, doc)),
                             (_serve_raw, (raw_port, (actor_id, public_pem))),
                             (_serve_node, (node_port, data_dir))):
            ready = ctx.Event()
            proc = ctx.Process(target=target, args=(*args, ready), daemon=True)
            proc.start()
            ready.wait(60)
            procs.append(proc)
        try:
            raw_url = f"http://{HOST}:{raw_port}/actors/lyon/inbox"
            node_url = f"http://{HOST}:{node_port}/actors/lyon/inbox"
            asyncio.run(_wait_up(f"http://{HOST}:{node_port}/.well-known/nodeinfo"))
            asyncio.run(_wait_up(f"http://{HOST}:{actor_port}/users/bench"))
            print(f"signing {2 * n + 200} requests…", flush=True)
            warm = _requests(node_url, actor_id, private_pem, 100, "warm")
            raw_reqs = _requests(raw_url, actor_id, private_pem, n, "raw")
            node_reqs = _requests(node_url, actor_id, private_pem, n, "node")
            asyncio.run(_blast(node_url, warm))  # the node fetches and caches the key here
            asyncio.run(_blast(raw_url, warm[:50]))
            raw_time, raw_lat, raw_fail = asyncio.run(_blast(raw_url, raw_reqs))
            node_time, node_lat, node_fail = asyncio.run(_blast(node_url, node_reqs))
        finally:
            for proc in procs:
                proc.terminate()
                proc.join(5)
    raw_rate, node_rate = n / raw_time, n / node_time
    ratio = node_rate / raw_rate
    lines = [
        f"requests: {n} per receiver, {CONCURRENCY} concurrent connections, pre-signed (draft-cavage rsa-sha256)",
        f"raw aiohttp + signature verify: {raw_rate:,.0f} req/s (p50 {_pct(raw_lat, .5):.1f} ms, p99 {_pct(raw_lat, .99):.1f} ms, {raw_fail} non-202)",
        f"civic-node inbox (verify → group-committed SQLite WAL row → 202; {PROCESSING}): {node_rate:,.0f} req/s (p50 {_pct(node_lat, .5):.1f} ms, p99 {_pct(node_lat, .99):.1f} ms, {node_fail} non-202)",
        f"ratio: {ratio:.2f}× the raw rate (goal ≥ 0.5×) — {'met' if ratio >= 0.5 else 'NOT met'}",
    ]
    print("\n".join(lines))
    append("Inbox ingest (bench/bench_inbox.py)", lines)
    if raw_fail or node_fail:
        sys.exit(1)


if __name__ == "__main__":
    main()
