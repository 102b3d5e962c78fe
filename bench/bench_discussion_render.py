"""CPU of one rendering of the discussion page (the 200-contribution discussion of bench_pages.py):
cold (fragment cache empty), warm (every fragment reused) and after one contribution changed.

One command: `.venv/bin/python bench/bench_discussion_render.py [RENDERS] [--profile] [--record]`.
Each request asks for a new URL (``?r=n``), so the page cache never answers: what is measured is the
handler and its template, in-process, with ``time.process_time`` around the handler (the client
waits meanwhile). Goal (issue 9): a cold rendering ≤ 15 ms of CPU. ``--record`` appends the figures
to bench/RESULTS.md.
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import event, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_pages import HOST, PAGES, _free_port, login, seed  # noqa: E402
from bench.load import measure_cpu  # noqa: E402
from bench.report import append  # noqa: E402
from civic.app import create_app  # noqa: E402
from federation.runtime import RUNTIME  # noqa: E402
from node.config import Settings  # noqa: E402
from node.db import transaction  # noqa: E402
from node.models import Contribution  # noqa: E402
from web.participation.fragments import FRAGMENTS  # noqa: E402
from web.security import COOKIE  # noqa: E402

PAGE = PAGES["discussion"]


async def measure(renders: int, profile: bool) -> list[str]:
    with tempfile.TemporaryDirectory() as data_dir:
        url = f"sqlite+aiosqlite:///{data_dir}/bench.db"
        port = _free_port()
        base = f"http://{HOST}:{port}"
        await seed(url, base)
        app = create_app(Settings(base_url=base, database_url=url, data_dir=Path(data_dir),
                                  development=True, secret_key="bench"), background=False)
        spent: list[float] = []
        templates: list[float] = []
        render_template = aiohttp_jinja2.render_template

        def timed_render(*args, **kwargs):  # the template's share of the CPU
            started = time.process_time()
            try:
                return render_template(*args, **kwargs)
            finally:
                templates.append(time.process_time() - started)

        aiohttp_jinja2.render_template = timed_render

        measure_cpu(app, spent)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        statements: list[str] = []
        event.listen(app[RUNTIME].sessions.kw["bind"].sync_engine, "before_cursor_execute",
                     lambda _c, _k, statement, *_: statements.append(statement))
        await web.TCPSite(runner, HOST, port).start()
        lines = []
        try:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
                cookie = {"Cookie": f"{COOKIE}={await login(http, base)}"}
                fragments = app[FRAGMENTS]
                n = 0

                async def run(label: str, headers: dict, *, clear: bool, change: bool = False) -> None:
                    nonlocal n
                    times, in_templates, queries = [], [], 0
                    for _ in range(renders):
                        if clear:
                            fragments.clear()
                        if change:
                            async with transaction(app[RUNTIME].sessions) as s:
                                await s.execute(update(Contribution).where(Contribution.id == 1)
                                                .values(agree_count=Contribution.agree_count + 1))
                        n += 1
                        spent.clear()
                        templates.clear()
                        statements.clear()
                        async with http.get(f"{base}{PAGE}?r={n}", headers=headers) as response:
                            assert response.status == 200, response.status
                            await response.read()
                        times.append(spent[0] * 1000)
                        in_templates.append(sum(templates) * 1000)
                        queries = len(statements)
                    lines.append(f"{label}: median {statistics.median(times):.1f} ms CPU, "
                                 f"min {min(times):.1f} ms, of which template {statistics.median(in_templates):.1f} ms; "
                                 f"{queries} SQL statements ({renders} renderings)")
                    if "--sql" in sys.argv:
                        print("\n".join(s.split("\n")[0][:150] for s in statements))

                for headers in ({}, cookie):  # templates compiled, connections opened
                    async with http.get(f"{base}{PAGE}?warm-up", headers=headers) as response:
                        await response.read()
                for who, headers in (("anonymous", {}), ("signed-in resident", cookie)):
                    await run(f"{who}, cold fragments", headers, clear=True)
                    await run(f"{who}, warm fragments", headers, clear=False)
                    await run(f"{who}, one contribution changed", headers, clear=False, change=True)
                if profile:
                    profiler = cProfile.Profile()
                    profiler.enable()
                    await run("profiled cold", cookie, clear=True)
                    profiler.disable()
                    pstats.Stats(profiler).sort_stats(sys.argv[-1] if sys.argv[-1] in ("tottime", "cumulative") else "cumulative").print_stats(45)
        finally:
            await runner.cleanup()
        return lines


def main() -> None:
    renders = int(next((a for a in sys.argv[1:] if a.isdigit()), "20"))
    lines = asyncio.run(measure(renders, "--profile" in sys.argv))
    print("\n".join(lines))
    if "--record" in sys.argv:
        append("Discussion page rendering CPU (bench_discussion_render.py)", lines)


if __name__ == "__main__":
    main()
