"""Page rendering under load: the discussion page with 200 contributions and the proposal index
over 1,000 proposals and 1,000,000 supports, against a raw jinja2 page measured in the same run.

One command: `.venv/bin/python bench/bench_pages.py [REQUESTS]`. Goals (issue "Participation
spaces"): p50 ≤ 25 ms, p99 ≤ 100 ms at 32 connections, ≥ 0.25× the raw page rate, and no full scan
of proposal_supports in the query plans of those pages (checked with EXPLAIN on the same data).

Both pages are measured for anonymous visitors and for 32 signed-in residents (one per connection),
each with their own agreements and supports; before the run, every resident's copy is checked to
carry their own marks. A last run asks for a new URL each time, so nothing is served from the page
cache: the cost of a rendering, reported for reference.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
import jinja2
from aiohttp import web
from sqlalchemy import event, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import append  # noqa: E402
from civic.app import create_app  # noqa: E402
from federation.runtime import RUNTIME  # noqa: E402
from node.config import Settings  # noqa: E402
from node.db import create_engine, session_factory, transaction  # noqa: E402
from node.migrate import upgrade  # noqa: E402
from node.models import Actor, Agreement, Contribution, Proposal, ProposalSupport, utcnow  # noqa: E402
from node.services import actors, discussions  # noqa: E402
from node.uris import Uris  # noqa: E402
from web.cache import TTL  # noqa: E402
from web.security import COOKIE  # noqa: E402

HOST = "127.0.0.1"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CONCURRENCY = 32
READERS = CONCURRENCY  # signed-in residents, one per connection
PROPOSALS, SUPPORTERS, CONTRIBUTIONS = 1_000, 1_000, 200  # 1,000 × 1,000 = 1,000,000 supports
PASSWORD = "bench-password-1"
PAGES = {"discussion": "/orgs/bench/discussions/big", "proposals": "/orgs/bench/proposals?sort=supports"}
RAW = jinja2.Environment(autoescape=True).from_string(
    "<!doctype html><html lang=en><head><title>{{ title }}</title></head><body><main><h1>{{ title }}</h1>"
    "{% for item in items %}<article><h2>{{ item.author }}</h2><div>{{ item.body }}</div>"
    "<p>{{ item.count }} agree</p><form method=post><button>Agree</button></form></article>"
    "{% endfor %}</main></body></html>")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


async def seed(url: str, base: str) -> None:
    """Bench data: services for what needs keys, Core bulk inserts for the volume."""
    engine = create_engine(url)
    await upgrade(engine)
    uris = Uris(base)
    async with transaction(session_factory(engine)) as s:
        org = await actors.create_organization(s, uris, "bench", "Bench City")
        disc = await discussions.open_discussion(s, uris, org, "big", "A big discussion",
                                                 summary="200 contributions", support_threshold=5)
        readers = [(await actors.create_user(s, uris, f"reader{r}", PASSWORD, f"Resident {r}")).actor_id
                   for r in range(READERS)]
        org_id, disc_id = org.id, disc.id
    now = utcnow()
    async with engine.begin() as conn:
        await conn.execute(insert(Actor), [
            {"ap_id": f"https://remote{i % 20}.example/users/u{i}", "type": "Person", "local": False,
             "username": f"u{i}", "domain": f"remote{i % 20}.example", "name": f"Supporter {i}",
             "summary": "", "manually_approves_followers": False, "discoverable": True, "created_at": now}
            for i in range(SUPPORTERS - 1)])
        first_actor = (await conn.execute(text("SELECT min(id) FROM actors WHERE local = false"))).scalar()
        remote_ids = list(range(first_actor, first_actor + SUPPORTERS - 1))
        rows = []
        for i in range(CONTRIBUTIONS):
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
             "actor_id": readers[c % READERS], "created_at": now} for c in range(CONTRIBUTIONS)])
        await conn.execute(insert(Proposal), [
            {"ap_id": f"{base}/proposals/p{i}", "organization_id": org_id, "author_id": remote_ids[i % 100],
             "title": f"Proposal {i}", "body": "<p>" + "une idée " * 40 + "</p>", "state": "published",
             "support_count": SUPPORTERS, "created_at": now, "published_at": now - timedelta(minutes=i)}
            for i in range(PROPOSALS)])
        first_p = (await conn.execute(text("SELECT min(id) FROM proposals"))).scalar()
        for p in range(first_p, first_p + PROPOSALS):  # 999 remote supporters + resident p % READERS
            await conn.execute(insert(ProposalSupport), [
                {"ap_id": f"{base}/likes/{p}-{a}", "proposal_id": p, "actor_id": a, "created_at": now}
                for a in [readers[(p - first_p) % READERS], *remote_ids]])
    await engine.dispose()


async def login(http: aiohttp.ClientSession, base: str, reader: int = 0) -> str:
    """Sign ``reader{reader}`` in; returns the session cookie's value."""
    async with http.get(f"{base}/login") as response:
        token = CSRF.search(await response.text()).group(1)
        anonymous = response.cookies[COOKIE].value  # the CSRF token belongs to this session
    async with http.post(f"{base}/login", allow_redirects=False, headers={"Cookie": f"{COOKIE}={anonymous}"},
                         data={"csrf_token": token, "username": f"reader{reader}", "password": PASSWORD}) as response:
        assert response.status == 303, response.status
        return response.cookies[COOKIE].value


async def sign_in_readers(base: str) -> list[str]:
    """Each resident's session cookie, after checking that their copies carry their own marks."""
    cookies = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        for r in range(READERS):
            cookie = await login(http, base, r)
            cookies.append(cookie)
            headers = {"Cookie": f"{COOKIE}={cookie}"}
            async with http.get(base + PAGES["discussion"], headers=headers) as response:
                page = await response.text()
            agreed = page.count('aria-pressed="true"')
            assert agreed == len(range(r, CONTRIBUTIONS, READERS)) and f"Resident {r}<" in page, (r, agreed)
            async with http.get(base + PAGES["proposals"], headers=headers) as response:
                page = await response.text()
            # The first page of 20 (equal support counts, so the highest ids): proposals 980…999;
            # resident r supports the proposals i with i % READERS == r.
            expected = sum(1 for i in range(PROPOSALS - 20, PROPOSALS) if i % READERS == r)
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
    port = _free_port()
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


def serve_node(port: int, url: str, data_dir: str, ready) -> None:
    settings = Settings(base_url=f"http://{HOST}:{port}", database_url=url, data_dir=Path(data_dir),
                        development=True, secret_key="bench")
    ready.set()
    web.run_app(create_app(settings), host=HOST, port=port, print=None, access_log=None)


def serve_raw(port: int, ready) -> None:
    items = [{"author": f"Supporter {i}", "body": "du texte " * 30, "count": i % 9} for i in range(CONTRIBUTIONS)]

    async def page(_request):
        return web.Response(text=RAW.render(title="A big discussion", items=items), content_type="text/html")

    app = web.Application()
    app.router.add_get("/raw", page)
    ready.set()
    web.run_app(app, host=HOST, port=port, print=None, access_log=None)


async def load(url: str, n: int, cookies: list[str] | None = None, fresh_urls: bool = False,
               min_seconds: float = 0.0) -> tuple[float, list[float], int]:
    """``n`` GETs (and more until ``min_seconds`` have passed) over CONCURRENCY connections;
    connection i signs in as ``cookies[i]`` if given; ``fresh_urls`` adds a new query string to
    each request (nothing can come from a cache)."""
    latencies, failures, remaining = [], 0, [n]
    deadline = time.perf_counter() + min_seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY),
                                     cookie_jar=aiohttp.DummyCookieJar()) as http:
        async def worker(i: int):
            nonlocal failures
            headers = {"Cookie": f"{COOKIE}={cookies[i]}"} if cookies else {}
            while remaining[0] > 0 or time.perf_counter() < deadline:
                remaining[0] -= 1
                target = f"{url}{'&' if '?' in url else '?'}fresh={remaining[0]}" if fresh_urls else url
                start = time.perf_counter()
                async with http.get(target, headers=headers) as response:
                    await response.read()
                    failures += response.status != 200
                latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(CONCURRENCY)))
        return time.perf_counter() - start, latencies, failures


async def wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} never answered 200")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as data_dir:
        url = f"sqlite+aiosqlite:///{data_dir}/bench.db"
        node_port, raw_port = _free_port(), _free_port()
        base = f"http://{HOST}:{node_port}"
        started = time.perf_counter()
        asyncio.run(seed(url, base))
        seeded = time.perf_counter() - started
        settings = Settings(base_url=base, database_url=url, data_dir=Path(data_dir), development=True,
                            secret_key="bench")
        plan_lines = asyncio.run(plans(url, settings))
        procs = []
        for target, args in ((serve_node, (node_port, url, data_dir)), (serve_raw, (raw_port,))):
            ready = ctx.Event()
            proc = ctx.Process(target=target, args=(*args, ready), daemon=True)
            proc.start()
            ready.wait(60)
            procs.append(proc)
        try:
            asyncio.run(wait_up(f"http://{HOST}:{raw_port}/raw"))
            for path in PAGES.values():
                asyncio.run(wait_up(f"{base}{path}"))
            results = {}
            asyncio.run(load(f"http://{HOST}:{raw_port}/raw", 200))  # warm-up
            results["raw jinja2 page"] = asyncio.run(load(f"http://{HOST}:{raw_port}/raw", n))
            cookies = asyncio.run(sign_in_readers(base))
            for name, path in PAGES.items():
                asyncio.run(load(f"{base}{path}", 100))
                results[f"{name}, anonymous (page cache)"] = asyncio.run(load(f"{base}{path}", n))
                # Warmed up like the anonymous run; then measured over more than two cache
                # lifetimes, so that the run includes the pages and marks being refreshed.
                asyncio.run(load(f"{base}{path}", 100, cookies=cookies))
                results[f"{name}, {READERS} signed-in residents (shared rendering, own marks; "
                        f"≥ {2 * TTL + 1:.0f} s, cache refreshed every {TTL:.0f} s)"] = asyncio.run(
                    load(f"{base}{path}", n, cookies=cookies, min_seconds=2 * TTL + 1))
                results[f"{name}, signed in, a new URL each request (every page rendered; reference)"] = \
                    asyncio.run(load(f"{base}{path}", 200, cookies=cookies, fresh_urls=True))
        finally:
            for proc in procs:
                proc.terminate()
                proc.join(5)
    raw_rate = n / results["raw jinja2 page"][0]
    lines = [f"data: {PROPOSALS:,} proposals, {PROPOSALS * SUPPORTERS:,} supports, {CONTRIBUTIONS} "
             f"contributions in one discussion (SQLite, seeded in {seeded:.0f} s); at least {n} requests "
             f"per run, {CONCURRENCY} connections"]
    ok = True
    for name, (elapsed, lat, failures) in results.items():
        rate = len(lat) / elapsed
        line = f"{name}: {rate:,.0f} req/s, p50 {pct(lat, .5):.1f} ms, p99 {pct(lat, .99):.1f} ms"
        if name != "raw jinja2 page":
            ratio = rate / raw_rate
            if "reference" in name:
                line += f", {ratio:.2f}× raw; {elapsed / len(lat) * 1000:.1f} ms per page"
            else:
                met = pct(lat, .5) <= 25 and pct(lat, .99) <= 100 and ratio >= 0.25 and not failures
                ok &= met
                line += (f", {ratio:.2f}× raw (goals p50 ≤ 25 ms, p99 ≤ 100 ms, ≥ 0.25×) — "
                         f"{'met' if met else 'NOT met'}")
        lines.append(line + (f", {failures} non-200" if failures else ""))
    lines.append("query plans (EXPLAIN QUERY PLAN): " + "; ".join(plan_lines))
    ok &= not any(line.startswith("FULL SCAN") for line in plan_lines)
    print("\n".join(lines))
    append("Pages (bench/bench_pages.py)", lines)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
