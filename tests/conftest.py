"""Shared fixtures: settings, a migrated database on every backend, the app, the worker stepper,
and what keeps the run short (xdist groups, cheap keys and hashes, catalogs and templates compiled once)."""

from __future__ import annotations

import errno
from dataclasses import dataclass

import aiohttp_jinja2
import pytest
from aiohttp import web

from civic.app import create_app
from federation.delivery import DeliveryWorker
from federation.fanout import process_events
from federation.processing import process_pending
from federation.runtime import RUNTIME, Runtime
from node.config import Settings
from node.db import create_engine, session_factory
from node.uris import Uris
from tests import cheap_crypto, start_caches
from tests.dbs import (
    backends,
    drop_pg_database_later,
    drop_templates,
    migrated_pg_database,
    migrated_sqlite,
)
from tests.remote import RemoteHost, free_port

BASE = "http://127.0.0.1:18080"
# Tests that share expensive session or module state run on one xdist worker, in file order, under
# `--dist loadgroup` (Makefile): the interop peers and nodes, the browser's demo node and chromium.
XDIST_GROUPS = {"tests/interop/": "interop", "tests/e2e/": "e2e"}


# Modules with a fixture broader than one test: keys restart per module there, not per test.
SHARED_STATE_MODULES: set[str] = set()


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks to group the tests
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for folder, group in XDIST_GROUPS.items():
            if item.nodeid.startswith(folder):
                item.add_marker(pytest.mark.xdist_group(group))
        if cheap_crypto.shares_state(item, own="tests"):
            SHARED_STATE_MODULES.add(item.nodeid.split("::")[0])


@pytest.fixture(scope="session", autouse=True)
def _cheap_start():
    """Message catalogs compiled once (tests.start_caches); RSA keys from a pool and argon2 at its
    smallest cost (tests.cheap_crypto, unless CIVIC_TEST_REAL_CRYPTO=1)."""
    with pytest.MonkeyPatch.context() as patch:
        start_caches.install(patch)
        if cheap_crypto.wanted():
            cheap_crypto.install(patch)
        yield


@pytest.fixture(scope="module", autouse=True)
def _fresh_keys_per_module():
    """Keys restart with each module (tests.cheap_crypto.KeyPool)."""
    cheap_crypto.POOL.restart()


@pytest.fixture(autouse=True)
def _fresh_keys_per_test(request):
    """…and with each test, unless the module's tests share a fixture (tests.cheap_crypto)."""
    if request.node.nodeid.split("::")[0] not in SHARED_STATE_MODULES:
        cheap_crypto.POOL.restart()


@dataclass
class RunningNode:
    """A node under test; ``step()`` runs inbox processing, fan-out and delivery until idle."""

    app: web.Application
    settings: Settings

    @property
    def rt(self) -> Runtime:
        return self.app[RUNTIME]

    @property
    def base(self) -> str:
        return self.settings.base_url

    @property
    def uris(self) -> Uris:
        return Uris(self.settings.base_url)

    async def step(self, rounds: int = 5) -> None:
        worker = DeliveryWorker(self.settings, self.rt.sessions, self.rt.http)
        for _ in range(rounds):
            processed = await process_pending(self.rt)
            events, _ = await process_events(self.rt)
            sent = await worker.run_once()
            if not (processed or events or sent):
                return


@pytest.fixture(params=backends())
async def database_url(request, tmp_path):
    """An empty, migrated database URL — once per backend (SQLite, and PostgreSQL when configured)."""
    if request.param == "sqlite":
        url = await migrated_sqlite(tmp_path)
    else:
        url = await migrated_pg_database()
    yield url
    if request.param == "postgresql":
        drop_pg_database_later(url)


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(
        base_url=BASE,
        database_url=database_url,
        data_dir=tmp_path,
        development=True,
        instance_name="Test node",
    )


@pytest.fixture
def uris(settings) -> Uris:
    return Uris(settings.base_url)


@pytest.fixture
async def engine(database_url):
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine):
    return session_factory(engine)


@pytest.fixture
async def remote():
    """A second host on loopback with real actors and keys (tests.remote.RemoteHost)."""
    host = await RemoteHost().start()
    yield host
    await host.stop()


async def start_node(database_url: str, data_dir, host: str = "127.0.0.1") -> tuple[RunningNode, web.AppRunner]:
    """A node serving on a free port of ``host``. The port is free when chosen; another worker may
    take it before the node binds it (the suite starts nodes in parallel): then another one."""
    for attempt in range(5):
        port = free_port(host)
        settings = Settings(base_url=f"http://{host}:{port}", database_url=database_url,
                            data_dir=data_dir, development=True, instance_name="Test node",
                            secret_key="test-secret")
        app = create_app(settings, background=False)
        aiohttp_jinja2.get_env(app).bytecode_cache = start_caches.TEMPLATE_CODE
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            await runner.cleanup()
            if exc.errno != errno.EADDRINUSE or attempt == 4:
                raise
            continue
        return RunningNode(app, settings), runner
    raise AssertionError("unreachable")


@pytest.fixture
async def node(database_url, tmp_path):
    """A running node (HTTP on a free loopback port), workers stepped by the test, not by timers."""
    running, runner = await start_node(database_url, tmp_path)
    yield running
    await runner.cleanup()


@pytest.fixture(params=backends())
async def node_factory(request, tmp_path):
    """Start nodes, each on its own loopback address with its own database (once per backend)."""
    backend = request.param
    runners, databases = [], []

    async def make(host: str) -> RunningNode:
        directory = tmp_path / host
        directory.mkdir()
        if backend == "postgresql":
            url = await migrated_pg_database()
            databases.append(url)
        else:
            url = await migrated_sqlite(directory)
        running, runner = await start_node(url, directory, host)
        runners.append(runner)
        return running

    yield make
    for runner in runners:
        await runner.cleanup()
    for url in databases:
        drop_pg_database_later(url)


def pytest_sessionfinish(session, exitstatus):
    """Drop the template databases the run migrated once (tests.dbs)."""
    import asyncio

    asyncio.run(drop_templates())
