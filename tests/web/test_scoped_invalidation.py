"""The page cache drops only what a change affects (node/changes.py, web/cache.py ``depends``).

Two organisations: a contribution posted through the form, an agreement and a Like from a remote
account processed from the inbox, all in Lyon's discussion, refresh Lyon's pages at once and leave
Nantes's pages (anonymous and signed-in renderings) in the cache — in this process, and on
PostgreSQL in another process of the node that hears the change through LISTEN/NOTIFY.
"""

from __future__ import annotations

import asyncio
import contextlib
import re

import pytest
from aiohttp import web

from civic.app import create_app
from federation.runtime import RUNTIME
from node.db import transaction
from node.services import actors, contributions, discussions, proposals
from tests.federation.participation_scene import mastodon_like, post
from tests.remote import free_port
from tests.web.client import Browser
from web.cache import PAGE_CACHE
from web.participation import visits

PASSWORD = "password-123"
A_DISCUSSION = "/orgs/lyon/discussions/clos-jouve"
B_PAGES = ("/actors/nantes", "/orgs/nantes/discussions/ile-de-nantes", "/orgs/nantes/proposals")
B_DISCUSSION = B_PAGES[1]
B_SHARED = B_PAGES[1:]  # the organisation page is rendered for each signed-in reader (no share_page)


@pytest.fixture
async def two_orgs(node):
    """Lyon and Nantes, a discussion each with a contribution by Amel; a proposal in Nantes;
    residents Camille (a reader) and Dominique (who writes)."""
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        nantes = await actors.create_organization(s, node.uris, "nantes", "Ville de Nantes")
        amel, _camille, dominique = [(await actors.create_user(s, node.uris, n, PASSWORD, n.title())).actor
                                     for n in ("amel", "camille", "dominique")]
        here = await discussions.open_discussion(s, node.uris, lyon, "clos-jouve", "Clos Jouve")
        there = await discussions.open_discussion(s, node.uris, nantes, "ile-de-nantes", "Île de Nantes")
        written = await contributions.contribute(s, node.uris, here, amel, "<p>Des arbres</p>")
        await contributions.contribute(s, node.uris, there, amel, "<p>Des quais</p>")
        await proposals.create(s, node.uris, nantes, dominique, "Un bac", "<p>…</p>", publish=True)
    return {"written": written}


@contextlib.asynccontextmanager
async def no_visit_flush(app: web.Application):
    """Page views are written every few seconds (their dashboards change then): held back while
    the test counts renderings."""
    async with app[visits.VISITS].writing:
        yield


async def signed_in(base: str, handle: str) -> Browser:
    browser = Browser(base)
    await browser.login(handle, PASSWORD)
    return browser


async def renders_of(app: web.Application, *reads: tuple[Browser, tuple[str, ...]]) -> int:
    """How many renderings the ``(reader, paths)`` reads cost."""
    cache = app[PAGE_CACHE]
    before = cache.renders
    for reader, paths in reads:
        for path in paths:
            status, _ = await reader.get(path)
            assert status == 200, path
    return cache.renders - before


def agreements(page: str) -> int:
    """The agreement count shown under Amel's contribution in Lyon's discussion."""
    found = re.search(r"\+ (\d+) (?:person agrees|people agree)", page)
    return int(found.group(1)) if found else 0


async def test_scoped__changes_in_one_discussion_leave_the_other_organisations_pages_cached(node, two_orgs, remote):
    node.app[PAGE_CACHE].ttl = 3600.0  # nothing expires by itself during the test
    anonymous, camille = Browser(node.base), await signed_in(node.base, "camille")
    dominique = await signed_in(node.base, "dominique")
    nantes = ((anonymous, B_PAGES), (camille, B_SHARED))
    try:
        async with no_visit_flush(node.app):
            await renders_of(node.app, *nantes, (anonymous, (A_DISCUSSION,)), (camille, (A_DISCUSSION,)))
            assert await renders_of(node.app, *nantes) == 0

            # A contribution posted through the form in Lyon's discussion.
            status, body, _ = await dominique.post(f"{A_DISCUSSION}/contributions",
                                                   {"content": "Un composteur"}, csrf_from=A_DISCUSSION)
            assert status == 303, body
            _, page = await anonymous.get(A_DISCUSSION)
            assert "Un composteur" in page  # at once
            assert await renders_of(node.app, *nantes) == 0

            # An agreement through the form.
            target = two_orgs["written"]
            status, _, _ = await dominique.post(f"{A_DISCUSSION}/contributions/{target.id}/agree", {},
                                                csrf_from=A_DISCUSSION)
            assert status == 303
            _, page = await camille.get(A_DISCUSSION)
            assert agreements(page) == 1
            assert await renders_of(node.app, *nantes) == 0

            # A Like from a remote account, received and processed from the inbox.
            zoe = remote.add_actor("zoe")
            await post(node, remote, f"{node.base}/actors/lyon/inbox", mastodon_like(zoe, 1, target.ap_id), zoe)
            _, page = await anonymous.get(A_DISCUSSION)
            assert agreements(page) == 2
            assert await renders_of(node.app, *nantes) == 0
            # Nantes's pages were rendered once each per audience, at the start: never again.
            _, still = await anonymous.get(B_DISCUSSION)
            assert "Des quais" in still
    finally:
        for browser in (anonymous, camille, dominique):
            await browser.close()


async def test_scoped__a_change_in_the_organisation_drops_its_pages_and_only_its(node, two_orgs):
    """Lyon's organisation page lists its discussions and counts: a contribution in Lyon drops it;
    Nantes's stays."""
    node.app[PAGE_CACHE].ttl = 3600.0
    reader, dominique = Browser(node.base), await signed_in(node.base, "dominique")
    try:
        async with no_visit_flush(node.app):
            await renders_of(node.app, (reader, ("/actors/lyon", "/actors/nantes")))
            status, _, _ = await dominique.post(f"{A_DISCUSSION}/contributions", {"content": "Encore"},
                                                csrf_from=A_DISCUSSION)
            assert status == 303
            assert await renders_of(node.app, (reader, ("/actors/nantes",))) == 0
            assert await renders_of(node.app, (reader, ("/actors/lyon",))) == 1
    finally:
        await reader.close()
        await dominique.close()


async def _until(condition, heard: asyncio.Event) -> None:
    """Wait until ``condition()`` holds, looking again after each change the process hears."""
    while not await condition():
        heard.clear()
        await heard.wait()


async def test_scoped__another_process_drops_exactly_the_pages_the_change_affects(node, two_orgs):
    """Two web processes of one node (PostgreSQL): a contribution posted through the first drops
    Lyon's discussion in the second at once, and leaves Nantes's pages in its cache."""
    if node.settings.database_url.startswith("sqlite"):
        pytest.skip("LISTEN/NOTIFY exists on PostgreSQL only (SQLite processes poll)")
    second = create_app(node.settings, background=False)
    runner = web.AppRunner(second, access_log=None)
    await runner.setup()
    port = free_port("127.0.0.1")
    await web.TCPSite(runner, "127.0.0.1", port).start()
    other = second[RUNTIME]
    second[PAGE_CACHE].ttl = 3600.0
    base = f"http://127.0.0.1:{port}"
    anonymous, camille = Browser(base), await signed_in(base, "camille")
    dominique = await signed_in(node.base, "dominique")
    nantes = ((anonymous, B_PAGES), (camille, B_SHARED))
    try:
        await asyncio.wait_for(other.listening.wait(), 10)
        async with no_visit_flush(second), no_visit_flush(node.app):
            await renders_of(second, *nantes, (anonymous, (A_DISCUSSION,)), (camille, (A_DISCUSSION,)))
            clock = other.changes.clock
            status, _, _ = await dominique.post(f"{A_DISCUSSION}/contributions", {"content": "Vu d’ailleurs"},
                                                csrf_from=A_DISCUSSION)
            assert status == 303

            async def heard() -> bool:
                return other.changes.clock > clock

            await asyncio.wait_for(_until(heard, other.changed_elsewhere), 10)
            assert await renders_of(second, *nantes) == 0
            assert await renders_of(second, (anonymous, (A_DISCUSSION,)), (camille, (A_DISCUSSION,))) == 2
            _, page = await anonymous.get(A_DISCUSSION)
            assert "Vu d’ailleurs" in page
    finally:
        for browser in (anonymous, camille, dominique):
            await browser.close()
        await runner.cleanup()


async def test_scoped__others_writing_keeps_a_readers_marks_their_own_acts_and_access_drop_them(node, two_orgs):
    """A reader's side of a shared page (their marks and audience) is not looked up again when
    someone else writes in the discussion — the page is, at once — but is when they act themselves,
    and when the discussion's own row (who may read it) changes."""
    from sqlalchemy import select

    from node.models import Actor, Discussion, User

    cache = node.app[PAGE_CACHE]
    cache.ttl = 3600.0
    camille, dominique = await signed_in(node.base, "camille"), await signed_in(node.base, "dominique")
    async with node.rt.sessions() as s:
        uid = await s.scalar(select(User.id).join(Actor, Actor.id == User.actor_id)
                             .where(Actor.username == "camille"))

    def kept() -> bool:
        return cache.viewer((uid, A_DISCUSSION), node.rt.changes) is not None

    try:
        async with no_visit_flush(node.app):
            await camille.get(A_DISCUSSION)
            assert kept()
            status, _, _ = await dominique.post(f"{A_DISCUSSION}/contributions", {"content": "Un banc"},
                                                csrf_from=A_DISCUSSION)
            assert status == 303
            assert kept()  # someone else wrote: her marks still hold
            _, page = await camille.get(A_DISCUSSION)
            assert "Un banc" in page  # and the page itself is new
            target = two_orgs["written"]
            status, _, _ = await camille.post(f"{A_DISCUSSION}/contributions/{target.id}/agree", {},
                                              csrf_from=A_DISCUSSION)
            assert status == 303
            assert not kept()  # her own agreement: looked up again…
            _, page = await camille.get(A_DISCUSSION)
            assert re.search(f'contributions/{target.id}/agree" class="inline">\\s*<input[^>]+>\\s*'
                             '<button type="submit" class="secondary" aria-pressed="true"', page)
            assert kept()
            async with transaction(node.rt.sessions) as s:
                found = await s.scalar(select(Discussion).where(Discussion.slug == "clos-jouve"))
                found.status = "closed"
            assert not kept()  # who may do what there changed: looked up again
    finally:
        for browser in (camille, dominique):
            await browser.close()


async def test_scoped__while_a_page_is_rendered_again_others_get_the_one_a_change_made_old(node, two_orgs):
    """A contribution makes the discussion's rendering old; while one request renders it again
    (held open here), another visitor gets the old rendering at once instead of waiting; once
    rendered, everyone gets the new one. The decision's limits are the next test's."""
    cache = node.app[PAGE_CACHE]
    cache.ttl = 3600.0
    anonymous, dominique = Browser(node.base), await signed_in(node.base, "dominique")
    try:
        async with no_visit_flush(node.app):
            await anonymous.get(A_DISCUSSION)
            key, = [k for k in cache._entries if k[0] == A_DISCUSSION and k[2] == ""]
            status, _, _ = await dominique.post(f"{A_DISCUSSION}/contributions", {"content": "Un banc"},
                                                csrf_from=A_DISCUSSION)
            assert status == 303
            assert cache.get(key, node.rt.changes)[0] is None  # made old by the contribution
            held = asyncio.get_running_loop().create_future()
            cache.rendering[key] = held  # someone is rendering it again
            try:
                # (Without the old rendering it would wait for the held one: bounded, to fail.)
                status, page = await asyncio.wait_for(anonymous.get(A_DISCUSSION), 30)
                assert status == 200 and "Des arbres" in page and "Un banc" not in page
                assert cache.superseded_served == 1
            finally:
                del cache.rendering[key]
                held.set_result(None)
            status, page = await anonymous.get(A_DISCUSSION)
            assert status == 200 and "Un banc" in page
    finally:
        for browser in (anonymous, dominique):
            await browser.close()


def test_scoped__an_old_rendering_never_goes_to_its_writer_nor_after_an_access_change():
    """PageCache.superseded: the old rendering is given only for a change of content; not after a
    change of a ``profile:`` scope (who reads what) or of everything, not to a reader who sent a
    form since it was made, not past its time to live."""
    import time

    from node.changes import Versions
    from web.cache import Entry, PageCache

    def made_old_by(*scopes: str) -> tuple[PageCache, Versions, tuple]:
        cache, changes, key = PageCache(ttl=60.0), Versions(), ("/orgs/lyon/discussions/d", "fr", "")
        changes.bump({"discussion:1"})
        entry = Entry.cut("<p>old</p>", [], {}, None, frozenset({"discussion:1", "profile:1"}),
                          changes.clock, time.monotonic() + 60.0)
        cache.put(key, entry)
        changes.bump(set(scopes))
        assert cache.get(key, changes)[0] is None
        return cache, changes, key

    cache, changes, key = made_old_by("discussion:1", "org:1")
    assert cache.superseded(key, changes, None) is not None
    assert cache.superseded(key, changes, 7) is not None
    cache.wrote(7, changes.clock)  # reader 7 sent the change
    assert cache.superseded(key, changes, 7) is None
    assert cache.superseded(key, changes, 8) is not None
    cache, changes, key = made_old_by("profile:1")
    assert cache.superseded(key, changes, None) is None
    cache, changes, key = made_old_by("*")
    assert cache.superseded(key, changes, None) is None
    cache, changes, key = made_old_by("discussion:1")
    cache._previous[key].expires = time.monotonic() - 1
    assert cache.superseded(key, changes, None) is None
    cache, changes, key = made_old_by("discussion:1")
    cache.put(key, cache._previous[key])  # rendered again: nothing old is kept
    assert cache.superseded(key, changes, None) is None
