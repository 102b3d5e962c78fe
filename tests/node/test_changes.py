"""Changes announced between the processes of one node (PostgreSQL LISTEN/NOTIFY): a separate
worker wakes at once for what a web process queued, and the other web processes drop their
cached pages. SQLite has no such channel (its processes poll): these tests run on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from civic.app import create_app
from federation.runtime import RUNTIME
from node.db import announce, create_engine, listen, session_factory, transaction
from node.services import actors, outbox
from tests.remote import free_port
from tests.web.client import Browser


def _postgresql_only(url: str) -> None:
    if url.startswith("sqlite"):
        pytest.skip("LISTEN/NOTIFY exists on PostgreSQL only (SQLite processes poll)")


async def test_changes__committed_announcements_arrive_rolled_back_ones_never(database_url):
    _postgresql_only(database_url)
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    heard: list[str] = []
    arrived = asyncio.Event()

    def on_change(what: str) -> None:
        heard.append(what)
        if what == "content":
            arrived.set()

    stop, ready = asyncio.Event(), asyncio.Event()
    listener = asyncio.create_task(listen(engine, on_change, stop, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        with pytest.raises(RuntimeError):
            async with transaction(sessions) as session:  # rolled back: never announced
                await outbox.emit(session, outbox.NOTE_CREATED, note_id=1)
                raise RuntimeError("abandoned")
        async with transaction(sessions) as session:
            await outbox.emit(session, outbox.NOTE_CREATED, note_id=2)
            await outbox.emit(session, outbox.NOTE_DELETED, note_id=2)  # merged with the first
        async with sessions() as session, session.begin():
            await announce(session, "content")
        await asyncio.wait_for(arrived.wait(), 10)
        assert heard == ["outbox", "content"]  # commit order; nothing from the rolled-back one
    finally:
        stop.set()
        await asyncio.wait_for(listener, 10)
        await engine.dispose()


async def test_changes__a_post_in_one_web_process_refreshes_the_pages_of_another(node):
    """Two `civic serve` processes of one node: an announcement posted through the first shows
    at once on the second, whose copy of the page was cached."""
    _postgresql_only(node.settings.database_url)
    async with transaction(node.rt.sessions) as s:
        org = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        admin = await actors.create_user(s, node.uris, "lyon_admin", "password-123", "Équipe Lyon")
        await actors.add_member(s, admin, org, "admin")
    second = create_app(node.settings, background=False)
    runner = web.AppRunner(second, access_log=None)
    await runner.setup()
    port = free_port("127.0.0.1")
    await web.TCPSite(runner, "127.0.0.1", port).start()
    reader, writer = Browser(f"http://127.0.0.1:{port}"), Browser(node.base)
    try:
        other = second[RUNTIME]
        _, before = await reader.get("/actors/lyon")  # now in the second process's page cache
        await asyncio.wait_for(other.listening.wait(), 10)
        await writer.login("lyon_admin", "password-123")
        status, _, _ = await writer.post("/actors/lyon/announce", {"content": "Réunion jeudi"},
                                         csrf_from="/actors/lyon")
        assert status == 303
        # Well within the cache's 5-second lifetime: only the announcement can refresh the page.
        after = await asyncio.wait_for(_shown(reader, other, "Réunion jeudi"), 3)
        assert "Réunion jeudi" not in before and "Réunion jeudi" in after
    finally:
        await reader.close()
        await writer.close()
        await runner.cleanup()


async def _shown(reader: Browser, other, text: str) -> str:
    """The page once it shows ``text``, looked at again after each announced change."""
    while True:
        other.changed_elsewhere.clear()
        _, page = await reader.get("/actors/lyon")
        if text in page:
            return page
        await other.changed_elsewhere.wait()
