"""What the containers run: docker-compose.yml's commands, executed here against PostgreSQL.

No Docker engine runs on the test machines, so this runs the compose file's `web` and `worker`
commands as processes with the compose environment (database URL pointed at the test server)
and checks the production topology: web without delivery, a separate worker that delivers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.dbs import create_pg_database, drop_pg_database, pg_server_url
from tests.remote import RemoteHost

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
AS = "https://www.w3.org/ns/activitystreams"


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose__services_run_civic_commands():
    """web runs init + serve without in-process delivery; worker runs `civic worker`."""
    services = compose()["services"]
    assert set(services) == {"db", "web", "worker"}
    web_cmd = " ".join(services["web"]["command"])
    assert "civic init" in web_cmd and "civic serve" in web_cmd and "--no-worker" in web_cmd
    assert services["worker"]["command"] == ["civic", "worker"]
    assert services["web"]["environment"]["CIVIC_DATABASE_URL"].startswith("postgresql+asyncpg://")
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "civic serve" in dockerfile


def _shell(command: list[str]) -> str:
    """The compose command as a local shell line, with `civic` from this virtualenv."""
    line = command[2] if command[:2] == ["sh", "-c"] else " ".join(command)
    return line.replace("civic ", f"{BIN / 'civic'} ").replace("0.0.0.0", "127.0.0.21")


async def _civic(env: dict, *args: str) -> subprocess.CompletedProcess:
    return await asyncio.to_thread(subprocess.run, [str(BIN / "civic"), *args], env=env,
                                   capture_output=True, text=True, timeout=60)


async def _wait_http(url: str, proc: subprocess.Popen) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            assert proc.poll() is None, "the web process exited"
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered")


async def _wait(predicate, what: str, timeout: float = 30.0) -> None:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.skipif(pg_server_url() is None, reason="needs CIVIC_TEST_DATABASE_URL (PostgreSQL)")
async def test_compose__web_and_worker_deliver_on_postgresql(tmp_path):
    """A remote follow reaches the web process; the worker process sends Accept and the post."""
    services = compose()["services"]
    database = await create_pg_database()
    port = 8080  # the compose command's port; bound on a loopback address of its own
    remote = await RemoteHost(host="127.0.0.22").start()
    env = {**os.environ, **{k: str(v) for k, v in services["web"]["environment"].items()},
           "CIVIC_BASE_URL": f"http://127.0.0.21:{port}", "CIVIC_DEVELOPMENT": "1",
           "CIVIC_DATABASE_URL": database, "CIVIC_DATA_DIR": str(tmp_path)}
    procs = []
    try:
        web = subprocess.Popen(["sh", "-c", _shell(services["web"]["command"])], env=env,  # noqa: ASYNC220
                               start_new_session=True, stdout=(tmp_path / "web.log").open("w"),
                               stderr=subprocess.STDOUT)
        procs.append(web)
        await _wait_http(f"http://127.0.0.21:{port}/.well-known/nodeinfo", web)
        worker_env = {**env, "CIVIC_DATA_DIR": str(tmp_path / "worker")}  # shares only the database
        worker = subprocess.Popen(_shell(services["worker"]["command"]).split(),  # noqa: ASYNC220
                                  env=worker_env, start_new_session=True,
                                  stdout=(tmp_path / "worker.log").open("w"),
                                  stderr=subprocess.STDOUT)
        procs.append(worker)
        made = await _civic(env, "org", "create", "lyon", "--name", "Lyon")
        assert made.returncode == 0, made.stderr
        alice = remote.add_actor("alice")
        org = f"http://127.0.0.21:{port}/actors/lyon"
        follow = {"@context": AS, "id": f"{alice.ap_id}/follow/1", "type": "Follow",
                  "actor": alice.ap_id, "object": org}
        status, _ = await remote.post(f"{org}/inbox", follow, alice)
        assert status == 202
        await _wait(lambda: any(d["type"] == "Accept" for d in remote.received), "the Accept")
        said = await _civic(env, "org", "announce", "lyon", "Conseil lundi")
        assert said.returncode == 0, said.stderr
        await _wait(lambda: any(d["type"] == "Create" for d in remote.received), "the Create")
        create = next(d for d in remote.received if d["type"] == "Create")
        assert create["actor"] == org and "Conseil lundi" in create["object"]["content"]
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        await remote.stop()
        await drop_pg_database(database)
