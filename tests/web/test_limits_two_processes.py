"""Acceptance: two `civic serve` processes of one node on PostgreSQL share their limits and sessions.

Rate limits (SECURITY.md rule 17) and session epochs (rule 16) live in the database, so a client
that alternates between the processes gets the same budget as with one, and a logout in one process
ends the session in the other at once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dbs import create_pg_database, drop_pg_database, pg_server_url
from tests.node.test_deploy import _wait_http
from tests.remote import free_port
from tests.web.conftest import PASSWORD, Browser
from web.security import COOKIE

CIVIC = str(Path(sys.executable).parent / "civic")
LIMIT = 4

pytestmark = pytest.mark.skipif(
    pg_server_url() is None,
    reason="two `civic serve` processes share a node only on PostgreSQL: set CIVIC_TEST_DATABASE_URL",
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
    # Small budgets so the test is short; the proxy setting lets each test client be an address.
    env.update(CIVIC_LOGIN_IP_LIMIT=str(LIMIT), CIVIC_TRUSTED_PROXIES="127.0.0.1",
               PYTHONUNBUFFERED="1")
    return env


async def _civic(env: dict, *args: str) -> None:
    result = await asyncio.to_thread(subprocess.run, [CIVIC, *args], env=env, capture_output=True,
                                     text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


async def _login(browser: Browser, address: str, password: str):
    return await browser.post("/login", {"username": "maire", "password": password},
                              form_page="/login", **{"X-Forwarded-For": address})


async def test_two_processes__share_the_login_limit_and_the_session_epoch(tmp_path):
    """Failed log-ins alternated between two processes trip the limit at the same total count as
    with one process; a logout in one process ends the copied session in the other."""
    database = await create_pg_database()
    env, data_dir = _env(), tmp_path / "data"
    hosts = ["127.0.0.41", "127.0.0.42"]
    ports = [free_port(host) for host in hosts]
    bases = [f"http://{host}:{port}" for host, port in zip(hosts, ports, strict=True)]
    procs: list[subprocess.Popen] = []
    browsers: list[Browser] = []
    try:
        await _civic(env, "init", "--data-dir", str(data_dir), "--base-url", bases[0],
                     "--development", "--database-url", database)
        await _civic(env, "user", "create", "maire", "--password", PASSWORD, "--data-dir",
                     str(data_dir))
        for host, port in zip(hosts, ports, strict=True):
            procs.append(subprocess.Popen(  # noqa: ASYNC220
                [CIVIC, "serve", "--data-dir", str(data_dir), "--host", host, "--port", str(port),
                 "--no-worker"], env=env, start_new_session=True,
                stdout=(tmp_path / f"{host}.log").open("w"), stderr=subprocess.STDOUT))
        for base, proc in zip(bases, procs, strict=True):
            await _wait_http(f"{base}/.well-known/nodeinfo", proc)
        browsers = [Browser(base) for base in bases]

        # Rule 17: LIMIT failures from one address, alternating processes, then both refuse.
        for attempt in range(LIMIT):
            page = await _login(browsers[attempt % 2], "203.0.113.5", "wrong password")
            assert page.status == 400, (attempt, page.status)
        for browser in browsers:
            page = await _login(browser, "203.0.113.5", PASSWORD)
            assert page.status == 429 and int(page.headers["Retry-After"]) > 0
        # Another address still logs in, on either process.
        assert (await _login(browsers[1], "198.51.100.7", PASSWORD)).status == 303

        # Rule 16: the session started on process B, copied to process A, ends with a logout on B.
        copy = Browser(bases[0])
        browsers.append(copy)
        copy.set_cookie(COOKIE, browsers[1].cookie(COOKIE))
        assert (await copy.get("/account")).status == 200
        assert (await browsers[1].post("/logout", {}, form_page="/")).status == 303
        page = await copy.get("/account")
        assert page.status == 303 and page.location == "/login?next=/account"
    finally:
        for browser in browsers:
            await browser.close()
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                await asyncio.to_thread(proc.wait, 30)
        await drop_pg_database(database)
