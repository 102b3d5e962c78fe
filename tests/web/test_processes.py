"""Several web processes of one node: `civic serve --processes N` and separate `civic serve`s.

On PostgreSQL, the processes share nothing but the database: a change made through one process
drops the cached pages of the others at once (LISTEN/NOTIFY), `civic serve --processes 2` answers
on one port from two processes that a supervisor keeps running, and SQLite refuses more than one.
Which process answered a connection is read from /proc (the process holding the server side of it).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import insert

from civic.processes import GaveUp, RestartPolicy, Supervisor, bind_sockets, supervise
from node.config import load_settings
from node.db import create_engine, session_factory, transaction
from node.errors import ConfigError
from node.models import Contribution, utcnow
from node.services import actors, discussions
from node.uris import Uris
from tests.dbs import create_pg_database, drop_pg_database, pg_server_url
from tests.node.test_deploy import _wait_http
from tests.remote import free_port
from tests.web.conftest import PASSWORD, Browser
from web.cache import TTL

CIVIC = str(Path(sys.executable).parent / "civic")
DISCUSSION = "/orgs/lyon/discussions/tram"
WAIT = 60.0  # seconds for a process to start, to stop, or to be restarted

needs_postgresql = pytest.mark.skipif(
    pg_server_url() is None,
    reason="several web processes of one node need PostgreSQL: set CIVIC_TEST_DATABASE_URL")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


def _civic(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CIVIC, *args], env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def _init(env: dict, data_dir: Path, base: str, database: str | None) -> None:
    args = ["init", "--data-dir", str(data_dir), "--base-url", base, "--development"]
    result = _civic(env, *args, *(["--database-url", database] if database else []))
    assert result.returncode == 0, result.stdout + result.stderr


def _serve(env: dict, log: Path, *args: str) -> subprocess.Popen:
    """`civic serve ARGS` in a process group of its own (the test ends the whole group)."""
    return subprocess.Popen([CIVIC, "serve", *args], env=env, start_new_session=True,
                            stdin=subprocess.DEVNULL, stdout=log.open("w"), stderr=subprocess.STDOUT)


def _end(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(WAIT)


# -- a change made through one process shows in the other at once ---------------------------------

async def _seed(database: str, base: str) -> None:
    """Lyon, its open discussion `tram`, a resident who writes (camille) and one who reads (eva)."""
    engine = create_engine(database)
    uris = Uris(base)
    try:
        async with transaction(session_factory(engine)) as s:
            lyon = await actors.create_organization(s, uris, "lyon", "Ville de Lyon")
            await discussions.open_discussion(s, uris, lyon, "tram", "Un tram sur le plateau")
            for handle in ("camille", "eva"):
                await actors.create_user(s, uris, handle, PASSWORD, handle.title())
    finally:
        await engine.dispose()


async def _insert_unannounced(database: str, base: str, text: str) -> None:
    """A contribution written straight into the database: no process hears about it."""
    engine = create_engine(database)
    try:
        async with engine.begin() as conn:
            ids = (await conn.exec_driver_sql(
                "SELECT d.id, a.id FROM discussions d, actors a "
                "WHERE d.slug = 'tram' AND a.username = 'eva'")).one()
            await conn.execute(insert(Contribution).values(
                ap_id=f"{base}/contributions/{text}", discussion_id=ids[0], author_id=ids[1],
                content=f"<p>{text}</p>", published=utcnow()))
    finally:
        await engine.dispose()


async def _wait_listening(database: str, processes: int) -> None:
    """Until ``processes`` connections LISTEN on the database (node.db.listen is ready in each)."""
    server = await asyncpg.connect(database.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for _ in range(int(WAIT * 10)):
            listening = await server.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE 'LISTEN %'")
            if listening >= processes:
                return
            await asyncio.sleep(0.1)
    finally:
        await server.close()
    raise AssertionError(f"only {listening} of {processes} processes listen for changes")


async def _pages(anonymous: Browser, reader: Browser) -> list[str]:
    pages = [await anonymous.get(DISCUSSION), await reader.get(DISCUSSION)]
    assert [page.status for page in pages] == [200, 200]
    assert "Eva" in pages[1].text  # the signed-in page of the reader
    return [page.text for page in pages]


async def _cached_on(anonymous: Browser, reader: Browser, database: str,
                     base: str) -> tuple[str, float]:
    """Warm B's page cache (anonymous and signed in), then show that B serves those copies: a
    contribution written behind every process's back stays unseen there. Returns its text and
    the monotonic time before which none of those copies can have been rendered (their TTL runs
    from there). A copy may expire between the reads on a loaded machine: then it is tried again
    (the copies then served may be the ones the failed attempt's last read rendered)."""
    rendered_after = time.monotonic()
    for attempt in range(3):
        await _pages(anonymous, reader)
        await _pages(anonymous, reader)
        unseen = f"unannounced-{attempt}"
        await _insert_unannounced(database, base, unseen)
        last_read = time.monotonic()
        if not any(unseen in page for page in await _pages(anonymous, reader)):
            return unseen, rendered_after
        rendered_after = last_read
    raise AssertionError("process B never served its cached copies of the discussion page")


@needs_postgresql
async def test_two_processes__a_contribution_posted_on_one_shows_on_the_other_at_once(tmp_path):
    """B caches the discussion page (anonymous and signed in); a contribution posted through A's
    form is on B's pages at the very next read, long before the cache's TTL."""
    database = await create_pg_database()
    env, data_dir = _env(), tmp_path / "data"
    hosts = ["127.0.0.45", "127.0.0.46"]
    ports = [free_port(host) for host in hosts]
    bases = [f"http://{host}:{port}" for host, port in zip(hosts, ports, strict=True)]
    procs: list[subprocess.Popen] = []
    browsers: list[Browser] = []
    try:
        await asyncio.to_thread(_init, env, data_dir, bases[0], database)
        await _seed(database, bases[0])
        for host, port in zip(hosts, ports, strict=True):
            procs.append(_serve(env, tmp_path / f"{host}.log", "--data-dir", str(data_dir),
                                "--host", host, "--port", str(port)))
        for base, proc in zip(bases, procs, strict=True):
            await _wait_http(f"{base}/.well-known/nodeinfo", proc)
        await _wait_listening(database, 2)
        writer, anonymous, reader = Browser(bases[0]), Browser(bases[1]), Browser(bases[1])
        browsers += [writer, anonymous, reader]
        assert (await writer.login("camille")).status == 303
        assert (await reader.login("eva")).status == 303

        unseen, rendered_after = await _cached_on(anonymous, reader, database, bases[0])
        posted = await writer.post(f"{DISCUSSION}/contributions", {"content": "Posted-through-A"},
                                   form_page=DISCUSSION)
        assert posted.status == 303, posted.text

        # The change reaches B by a NOTIFY sent at A's commit: B hears it a moment after A has
        # answered (milliseconds; more on a loaded machine). B's pages show the contribution as
        # soon as it has, and in any case before any copy B holds could have expired: only the
        # announcement can have dropped them.
        expires = rendered_after + TTL
        pages = await _pages(anonymous, reader)
        while not all("Posted-through-A" in page for page in pages):
            assert time.monotonic() < expires, "B kept serving its copies: the change never reached it"
            await asyncio.sleep(0.02)
            pages = await _pages(anonymous, reader)
        assert time.monotonic() < expires, "the copies may have expired by themselves: inconclusive"
        for page in pages:
            assert unseen in page  # rendered again from the database, not patched
    finally:
        for browser in browsers:
            await browser.close()
        for proc in procs:
            await asyncio.to_thread(_end, proc)
        await drop_pg_database(database)


# -- `civic serve --processes 2`: one port, two processes, kept running ---------------------------

def _hex(address: tuple[str, int]) -> str:
    """An IPv4 address and port as /proc/net/tcp writes them (little-endian host)."""
    return f"{socket.inet_aton(address[0])[::-1].hex().upper()}:{address[1]:04X}"


def _answered_by(connection: http.client.HTTPConnection, pids: set[int]) -> int | None:
    """Which of ``pids`` holds the server side of ``connection`` (still open)."""
    wanted = (_hex(connection.sock.getpeername()), _hex(connection.sock.getsockname()))
    inode = next((fields[9] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
                  if (fields := line.split())[1:3] == list(wanted)), None)
    assert inode is not None, "the server side of the connection is not in /proc/net/tcp"
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a process that ended
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]"
                   for fd in os.listdir(f"/proc/{pid}/fd")):
                return pid
    return None


def _ask(host: str, port: int, pids: set[int]) -> int | None:
    """One GET on a new connection; the pid that answered it."""
    connection = http.client.HTTPConnection(host, port, timeout=WAIT)
    try:
        connection.request("GET", "/.well-known/nodeinfo")
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        return _answered_by(connection, pids)
    finally:
        connection.close()


def _answering(host: str, port: int, pids: set[int], wanted: set[int]) -> set[int]:
    """The pids that answered new connections, until all of ``wanted`` did (at most 64 tries:
    the kernel spreads connections over the processes by a hash of the client's port)."""
    seen: set[int] = set()
    for _ in range(64):
        seen.add(_ask(host, port, pids))
        if wanted <= seen:
            break
    return seen


def _argv(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_text().split("\0")


def _started(log: Path, count: int, proc: subprocess.Popen) -> dict[int, int]:
    """{process number: pid} from the supervisor's `web process I of N started (pid P)` lines
    (the latest per number), once ``count`` lines were printed."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        lines = re.findall(r"web process (\d+) of \d+ started \(pid (\d+)\)", log.read_text())
        if len(lines) >= count:
            return {int(number): int(pid) for number, pid in lines}
        assert proc.poll() is None, log.read_text()
        time.sleep(0.1)
    raise AssertionError(f"the supervisor did not start {count} processes: {log.read_text()}")


@needs_postgresql
def test_serve_processes__two_processes_answer_on_one_port_and_a_killed_one_comes_back(tmp_path):
    """Connections to one port are answered by both web processes (the first alone does the
    background work); a process killed with SIGKILL is replaced and the new one answers; SIGTERM
    to the supervisor stops every process."""
    database = asyncio.run(create_pg_database())
    env, data_dir, host = _env(), tmp_path / "data", "127.0.0.47"
    port, log = free_port(host), tmp_path / "serve.log"
    proc = None
    try:
        _init(env, data_dir, f"http://{host}:{port}", database)
        proc = _serve(env, log, "--data-dir", str(data_dir), "--host", host, "--port", str(port),
                      "--processes", "2")
        first = _started(log, 2, proc)
        assert len(set(first.values())) == 2 and proc.pid not in first.values()
        # The first process does the background work (inbox, fan-out, delivery); the other serves.
        assert [_argv(first[n]).count("--web-only") for n in (1, 2)] == [0, 1]
        asyncio.run(_wait_http(f"http://{host}:{port}/.well-known/nodeinfo", proc))
        assert _answering(host, port, {proc.pid, *first.values()}, set(first.values())) == set(first.values())

        assert "ended with" not in log.read_text()  # neither restarted so far
        os.kill(first[2], signal.SIGKILL)
        restarted = _started(log, 3, proc)
        assert restarted[1] == first[1] and restarted[2] not in first.values()
        assert "--web-only" in _argv(restarted[2])
        assert f"(pid {first[2]}) ended with signal SIGKILL" in log.read_text()
        now = set(restarted.values())
        assert _answering(host, port, {proc.pid, *first.values(), *now}, now) == now

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(WAIT) == 0, log.read_text()
        gone = [pid for pid in {*first.values(), *now} if Path(f"/proc/{pid}").exists()]
        assert gone == [], f"still running after SIGTERM: {gone}"
    finally:
        if proc is not None:
            _end(proc)
        asyncio.run(drop_pg_database(database))


# -- a process that keeps dying, SQLite, the setting -----------------------------------------------

async def test_supervisor__gives_up_when_a_process_keeps_dying(capsys):
    """A child that exits at once is restarted with a delay, and after max_deaths deaths the
    supervisor stops with the reason (`civic serve` then exits 1 with it)."""
    sockets = bind_sockets("127.0.0.1", 0, 1)
    started = io.StringIO()
    policy = RestartPolicy(first_delay=0.01, max_delay=0.02, max_deaths=3)
    try:
        with pytest.raises(GaveUp, match=r"web process 1 ended 3 times within 60 s \(last: exit code 3\)"):
            await Supervisor(lambda _index, _fd: [sys.executable, "-c", "raise SystemExit(3)"],
                             sockets, policy, out=started).run()
    finally:
        for sock in sockets:
            sock.close()
    assert started.getvalue().count("web process 1 of 1 started") == 3
    assert capsys.readouterr().err.count("ended with exit code 3; restarting it in") == 2

    with pytest.raises(ConfigError, match="ended 3 times"):
        await supervise(lambda _index, _fd: [sys.executable, "-c", "raise SystemExit(3)"],
                        "127.0.0.1", 0, 2, policy)


def test_serve_processes__sqlite_refuses_more_than_one_with_the_reason(tmp_path):
    """On SQLite, --processes 2 (or processes = 2 in the settings) exits 2 and says why."""
    env, data_dir, host = _env(), tmp_path / "data", "127.0.0.48"
    port = free_port(host)
    _init(env, data_dir, f"http://{host}:{port}", None)
    for extra, settings in ((["--processes", "2"], {}), ([], {"CIVIC_PROCESSES": "2"})):
        result = _civic(_env(**settings), "serve", "--data-dir", str(data_dir), "--host", host,
                        "--port", str(port), *extra)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "--processes 2 needs PostgreSQL" in result.stderr
        assert "writers take turns inside one process" in result.stderr
        assert result.stdout == ""  # nothing was served


def test_processes_setting__between_1_and_64(tmp_path):
    """The processes setting defaults to 1 and refuses what cannot be run."""
    local = {"CIVIC_DEVELOPMENT": "1"}
    assert load_settings(tmp_path, env=local).processes == 1
    assert load_settings(tmp_path, env={**local, "CIVIC_PROCESSES": "4"}).processes == 4
    for bad in ("0", "65", "two"):
        with pytest.raises(ConfigError, match="processes"):
            load_settings(tmp_path, env={**local, "CIVIC_PROCESSES": bad})
