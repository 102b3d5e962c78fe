"""Load-generation helpers shared by the benches: readers over a fixed number of connections, an
open-loop sender at a steady rate, other servers (actor documents, inboxes) served on loopback,
and what a server process cost (CPU time, peak memory) read from /proc.

Nothing here knows the node's pages: the benches say what to ask for and what a success is.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

HOST = "127.0.0.1"
CONCURRENCY = 32
REQUEST_TIMEOUT = 60.0  # seconds: a request that takes longer is a failure (every run stays bounded)


def free_port(host: str = HOST) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile of latencies in seconds, in milliseconds (nearest rank, 0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def load(url: str, n: int, cookies: list[str] | None = None, fresh_urls: bool = False,
               min_seconds: float = 0.0, cookie_name: str = "",
               concurrency: int = CONCURRENCY) -> tuple[float, list[float], int]:
    """``n`` GETs (and more until ``min_seconds`` have passed) over ``concurrency`` connections;
    connection i sends ``cookies[i]`` (as ``cookie_name``) if given; ``fresh_urls`` adds a new
    query string to each request (nothing can come from a page cache). Returns the elapsed
    seconds, each request's latency and the number of answers that were not 200."""
    latencies, failures, remaining = [], 0, [n]
    deadline = time.perf_counter() + min_seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency),
                                     cookie_jar=aiohttp.DummyCookieJar(),
                                     timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as http:
        async def worker(i: int):
            nonlocal failures
            headers = {"Cookie": f"{cookie_name}={cookies[i]}"} if cookies else {}
            while remaining[0] > 0 or time.perf_counter() < deadline:
                remaining[0] -= 1
                target = f"{url}{'&' if '?' in url else '?'}fresh={remaining[0]}" if fresh_urls else url
                start = time.perf_counter()
                try:
                    async with http.get(target, headers=headers) as response:
                        await response.read()
                        failures += response.status != 200
                except (TimeoutError, aiohttp.ClientError):  # counted, so that the run still ends
                    failures += 1
                latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        return time.perf_counter() - start, latencies, failures


async def wait_up(url: str, tries: int = 300) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(tries):
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} never answered 200")


@dataclass
class Sent:
    """What an open-loop sender did: how many it started, each one's latency and status."""
    planned: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def ok(self, expected: int) -> int:
        return self.statuses.get(expected, 0)

    def summary(self, expected: int, seconds: float, what: str) -> str:
        others = {s: c for s, c in self.statuses.items() if s != expected}
        text = (f"{self.ok(expected)}/{self.planned} {what} answered {expected} "
                f"({self.ok(expected) / seconds:.1f}/s, p50 {pct(self.latencies, .5):.0f} ms, "
                f"p99 {pct(self.latencies, .99):.0f} ms)")
        return text + (f", others {others}" if others else "")


async def steady(rate: float, seconds: float, send: Callable[[int], Awaitable[int]],
                 grace: float = REQUEST_TIMEOUT + 1) -> Sent:
    """Start ``send(k)`` at ``rate`` per second for ``seconds`` on a fixed schedule (open loop: a
    slow answer never delays the next send, so the rate holds whatever the latency), then wait up
    to ``grace`` seconds for the last answers. ``send`` returns the HTTP status (0 for an error)."""
    sent = Sent()
    if rate <= 0:
        return sent

    async def one(k: int) -> None:
        start = time.perf_counter()
        try:
            status = await asyncio.wait_for(send(k), REQUEST_TIMEOUT)
        except (TimeoutError, aiohttp.ClientError):
            status = 0
        sent.latencies.append(time.perf_counter() - start)
        sent.statuses[status] = sent.statuses.get(status, 0) + 1

    start, tasks = time.perf_counter(), []
    for k in range(int(rate * seconds)):
        delay = start + k / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(k)))
    sent.planned = len(tasks)
    if tasks:
        await asyncio.wait(tasks, timeout=grace)
    return sent


def serve_remote(host: str, port: int, documents: dict[str, dict], ready) -> None:
    """Other servers, in a process of their own on ``host``:``port``: GET of a path in
    ``documents`` answers its JSON (remote actors, whose keys the node fetches), any POST answers
    202 (their inboxes, where the node delivers). Started with multiprocessing (spawn)."""
    async def document(request: web.Request) -> web.Response:
        doc = documents.get(request.path)
        if doc is None:
            raise web.HTTPNotFound()
        return web.json_response(doc, content_type="application/activity+json")

    async def inbox(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=202)

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_get("/{tail:.*}", document)
    app.router.add_post("/{tail:.*}", inbox)
    ready.set()
    web.run_app(app, host=host, port=port, print=None, access_log=None)


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line)


def memory_mb(pid: int) -> tuple[float, float]:
    """(peak RSS, current RSS) of process ``pid`` in MB (VmHWM and VmRSS, Linux)."""
    status = _status(pid)
    return (int(status["VmHWM"].split()[0]) / 1024, int(status["VmRSS"].split()[0]) / 1024)


def reset_peak(pid: int) -> None:
    """Start process ``pid``'s peak RSS (VmHWM) again from its current RSS (Linux ≥ 4.0)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time process ``pid`` has used so far (Linux /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def schedule_seconds(pid: int) -> tuple[float, float]:
    """(seconds running on a CPU, seconds ready but waiting for one) of the main thread of process
    ``pid`` (Linux /proc/<pid>/schedstat): the second says how much other work on the machine
    held it back."""
    running, waiting, _ = Path(f"/proc/{pid}/schedstat").read_text().split()
    return int(running) / 1e9, int(waiting) / 1e9


def measure_cpu(app, spent: list[float]) -> None:
    """Append to ``spent`` the CPU time (seconds, this process) each request of ``app`` takes,
    handler and middlewares included: the cost of a rendering, beside the wall times of a run."""
    @web.middleware
    async def cpu(request, handler):
        started = time.process_time()
        try:
            return await handler(request)
        finally:
            spent.append(time.process_time() - started)

    app.middlewares.insert(0, cpu)
