"""Composition root: builds the aiohttp application (web + federation + background workers)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from federation import (
    budget_objects,
    coalition_objects,
    discovery,
    inbox,
    objects,
    participation_objects,
)
from federation.delivery import DeliveryWorker
from federation.fanout import run_fanout
from federation.fetch import RemoteFetcher, make_client_session
from federation.inbox import INBOX_WRITER, REFUSALS, InboxWriter
from federation.inbox_limits import HOST_LIMITER, HostLimiter
from federation.keys import KeyResolver
from federation.policy import keep_blocks, refused, reload_blocks
from federation.poll_updates import run_poll_updates
from federation.processing import run_processor
from federation.refusals import RefusalLog
from federation.runtime import RUNTIME, Runtime
from node.config import Settings
from node.db import check_connection, create_engine, listen, session_factory
from node.errors import ConfigError
from node.migrate import current_revision, head_revision
from node.services.actors import ensure_instance_actor
from node.uris import Uris
from web import setup as web_setup

log = logging.getLogger(__name__)


async def build_runtime(settings: Settings) -> tuple[Runtime, object]:
    """Engine, sessions, HTTP client, key resolver — shared by `serve` and `worker`."""
    engine = create_engine(settings.effective_database_url)
    await check_connection(engine)
    if await current_revision(engine) != head_revision():
        await engine.dispose()
        raise ConfigError("the database schema is not up to date: run `civic init` or `civic migrate`")
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        instance = await ensure_instance_actor(session, Uris(settings.base_url),
                                               settings.instance_name)
    rt = Runtime(settings=settings, sessions=sessions)
    await reload_blocks(rt, starting=True)
    rt.http = make_client_session(settings)
    rt.fetcher = RemoteFetcher(settings, rt.http, (instance.key_id, instance.private_key_pem),
                               refuse=lambda url: refused(url, rt))
    rt.keys = KeyResolver(sessions, rt.fetcher)
    return rt, engine


async def close_runtime(rt: Runtime, engine) -> None:
    if rt.http is not None:
        await rt.http.close()
    await engine.dispose()


async def run_background(rt: Runtime, stop: asyncio.Event, *, deliver: bool = True) -> None:
    """Inbox processing, fan-out and (optionally) delivery, until ``stop`` is set."""
    worker = DeliveryWorker(rt.settings, rt.sessions, rt.http) if deliver else None
    tasks = [
        asyncio.create_task(run_processor(rt, stop), name="inbox-processor"),
        asyncio.create_task(run_fanout(rt, stop, worker.wake if worker else (lambda: None)),
                            name="fanout"),
        asyncio.create_task(run_poll_updates(rt, stop), name="poll-updates"),
    ]
    if worker is not None:
        tasks.append(asyncio.create_task(worker.run(stop), name="delivery"))
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()


def create_app(settings: Settings, *, background: bool = True, deliver: bool = True) -> web.Application:
    """The node's aiohttp application; ``background`` runs the workers inside it (SQLite default)."""
    app = web.Application(client_max_size=inbox.MAX_BODY + 1)

    async def lifetime(app: web.Application):
        rt, engine = await build_runtime(settings)
        app[RUNTIME] = rt
        app[INBOX_WRITER] = InboxWriter(rt)
        app[REFUSALS] = RefusalLog(rt)
        app[HOST_LIMITER] = HostLimiter(rt)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(listen(engine, rt.on_change, stop, ready=rt.listening), name="listen"),
                 asyncio.create_task(keep_blocks(rt, stop), name="domain-blocks")]
        if background:
            tasks.append(asyncio.create_task(run_background(rt, stop, deliver=deliver)))
        yield
        stop.set()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=10)
        await app[INBOX_WRITER].close()
        await app[REFUSALS].close()
        await app[HOST_LIMITER].close()
        await close_runtime(rt, engine)

    app.cleanup_ctx.append(lifetime)
    app.middlewares.append(objects.signed_fetch)
    discovery.add_routes(app)
    objects.add_routes(app)
    participation_objects.add_routes(app)
    coalition_objects.add_routes(app)
    budget_objects.add_routes(app)
    inbox.add_routes(app)
    web_setup(app, settings)
    return app
