"""The page micro-cache: shared renderings, personal CSRF tokens, names and marks, prompt invalidation."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from node.db import transaction
from node.models import Actor, Agreement
from node.services import actors, contributions, discussions, proposals, spaces
from tests.web.client import Browser
from web.cache import CSRF_PLACEHOLDER, PAGE_CACHE

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


async def test_cache__anonymous_visitors_share_a_rendering_with_their_own_tokens(node, lyon):
    """Two anonymous visitors: one rendering, two different CSRF tokens, each usable by its owner."""
    cache = node.app[PAGE_CACHE]
    one, two = Browser(node.base), Browser(node.base)
    try:
        _, first = await one.get("/actors/lyon")
        misses = cache.misses
        _, second = await two.get("/actors/lyon")
        assert cache.hits >= 1 and cache.misses == misses
        tokens = TOKEN.findall(first)[0], TOKEN.findall(second)[0]
        assert tokens[0] != tokens[1] and CSRF_PLACEHOLDER not in first + second
        status, _, _ = await two.post("/login", {"username": "lyon_admin", "password": "password-123"},
                                      csrf_from="/actors/lyon")
        assert status == 303  # the token from the cached page was valid for its visitor
    finally:
        await one.close()
        await two.close()


async def test_cache__a_post_in_this_process_shows_at_once(node, lyon):
    """An announcement published through the web appears on the next anonymous view."""
    reader, admin = Browser(node.base), Browser(node.base)
    try:
        await reader.get("/actors/lyon")
        await admin.login("lyon_admin", "password-123")
        await admin.post("/actors/lyon/announce", {"content": "Réunion jeudi"}, csrf_from="/actors/lyon")
        _, page = await reader.get("/actors/lyon")
        assert "Réunion jeudi" in page
    finally:
        await reader.close()
        await admin.close()


async def test_cache__signed_in_pages_are_not_shared_unless_opted_in_and_changes_elsewhere_expire(node, lyon):
    """Signed-in views of a page that does not opt in render every time; a change that reaches no
    process (written straight in the database, announced to no one) shows after the TTL (here
    forced by expiring the entry: the cache keeps nothing past its deadline)."""
    cache = node.app[PAGE_CACHE]
    cache.ttl = 3600.0  # nothing expires by itself during the test (a loaded machine is slow)
    reader = Browser(node.base)
    try:
        await reader.get("/actors/lyon")
        async with unheard(node)() as s, s.begin():
            (await actors.require_local_actor(s, "lyon")).name = "Ville de Lyon (changé ailleurs)"
        _, stale = await reader.get("/actors/lyon")
        assert "changé ailleurs" not in stale  # served from the cache
        cache.expire_all()
        _, fresh = await reader.get("/actors/lyon")
        assert "changé ailleurs" in fresh
        admin = Browser(node.base)
        await admin.login("lyon_admin", "password-123")
        hits = cache.hits
        await admin.get("/actors/lyon")
        await admin.get("/actors/lyon")
        assert cache.hits == hits
        await admin.close()
    finally:
        await reader.close()


def unheard(node) -> async_sessionmaker:
    """Sessions that record nothing (not node.db.session_factory's): their writes reach no
    process, as those of a process that announces nothing (the CLI on SQLite)."""
    return async_sessionmaker(node.rt.sessions.kw["bind"], expire_on_commit=False)


PAGE = "/orgs/lyon/discussions/clos-jouve"
PRESSED = re.compile(r'aria-pressed="(true|false)"')


def agreed_on(page: str) -> set[str]:
    """The contributions whose agree button is pressed ("Agreed"), by their ap_id token."""
    items = page.split('<li id="contribution-')[1:]
    assert items and all(PRESSED.search(item.split("</form>")[0]) for item in items)
    return {item.split('"')[0] for item in items
            if PRESSED.search(item.split("</form>")[0]).group(1) == "true"}


def tokens(*made) -> set[str]:
    return {c.ap_id.rsplit("/", 1)[1] for c in made}


@pytest.fixture
async def clos_jouve(node, lyon):
    """A discussion with three contributions; Alice agrees with the second; Bob agrees with none;
    Modo moderates Lyon. Two proposals; Alice supports the first."""
    async with transaction(node.rt.sessions) as s:
        org = await s.merge(lyon)
        disc = await discussions.open_discussion(s, node.uris, org, "clos-jouve", "Clos Jouve")
        people = {}
        for handle, name in (("alice", "Alice <Rive>"), ("bob", "Bob"), ("modo", "Modo")):
            user = await actors.create_user(s, node.uris, handle, "password-123", name)
            people[handle] = await s.get(Actor, user.actor_id)
            if handle == "modo":
                await actors.add_member(s, user, org, "moderator")
        # By Modo: Bob agrees with one below, and nobody may agree with their own (SECURITY.md rule 23).
        made = [await contributions.contribute(s, node.uris, disc, people["modo"], f"<p>Idée {n}</p>")
                for n in range(3)]
        await contributions.agree(s, node.uris, made[1], people["alice"])
        ideas = [await proposals.create(s, node.uris, org, people["bob"], f"Proposition {n}", "<p>…</p>",
                                        publish=True) for n in range(2)]
        await proposals.support(s, node.uris, ideas[0], people["alice"])
    return made, ideas


async def settled(node) -> None:
    """On PostgreSQL, wait until this process has heard every change announced so far (its own
    form posts included): they arrive in order, so once a fresh marker arrives, all have."""
    if node.settings.database_url.startswith("sqlite"):
        return
    import uuid

    from node.db import announce

    marker = f"marker-{uuid.uuid4().hex}"
    await node.rt.listening.wait()
    node.rt.changed_elsewhere.clear()
    async with node.rt.sessions() as s, s.begin():
        await announce(s, marker)
    while node.rt.last_heard != marker:
        await node.rt.changed_elsewhere.wait()
        node.rt.changed_elsewhere.clear()


async def signed_in(node, handle: str) -> Browser:
    browser = Browser(node.base)
    await browser.login(handle, "password-123")
    return browser


async def test_cache__signed_in_residents_share_a_rendering_with_their_own_marks(node, clos_jouve):
    """Alice and Bob share one rendering of the discussion; each copy carries its reader's name,
    CSRF token and agreements; Bob's first view and every repeat view are served without rendering."""
    cache = node.app[PAGE_CACHE]
    alice, bob = await signed_in(node, "alice"), await signed_in(node, "bob")
    try:
        await settled(node)  # the logins are heard before counting (PostgreSQL)
        _, alice_page = await alice.get(PAGE)
        renders, hits = cache.renders, cache.hits
        _, bob_page = await bob.get(PAGE)  # Bob's marks are looked up; the page is not rendered again
        _, bob_again = await bob.get(PAGE)
        _, alice_again = await alice.get(PAGE)
        assert cache.renders == renders and cache.hits == hits + 3
        made, _ = clos_jouve
        for page in (alice_page, alice_again):
            assert agreed_on(page) == tokens(made[1])
            assert "Signed in as" in page and "Alice &lt;Rive&gt;" in page and "Alice <Rive>" not in page
            assert ">Bob</a></li>" not in page
        for page in (bob_page, bob_again):
            assert agreed_on(page) == set()
            assert "Alice &lt;Rive&gt;" not in page
        assert "__civic_" not in alice_page + bob_page + bob_again + alice_again
        assert "<!--" not in bob_again.split("<main")[1]  # every mark was resolved
        assert TOKEN.findall(alice_again)[0] != TOKEN.findall(bob_again)[0]
        # Bob agrees with the first contribution, with the token of his cached page: his next view
        # shows it, Alice's does not change.
        async with bob.session.post(f"{node.base}{PAGE}/contributions/{made[0].id}/agree",
                                    data={"csrf_token": TOKEN.findall(bob_again)[0]},
                                    allow_redirects=False) as response:
            assert response.status == 303
        _, bob_after = await bob.get(PAGE)
        _, alice_after = await alice.get(PAGE)
        assert agreed_on(bob_after) == tokens(made[0])
        assert agreed_on(alice_after) == tokens(made[1])
        assert "+ 1 person agrees" in bob_after
    finally:
        await alice.close()
        await bob.close()


async def test_cache__moderators_and_residents_get_different_renderings(node, clos_jouve):
    """A moderator's rendering (moderation forms) is never shown to a resident, and the reverse,
    whoever comes first."""
    modo, bob, anonymous = await signed_in(node, "modo"), await signed_in(node, "bob"), Browser(node.base)
    try:
        for _ in range(2):
            _, moderator_page = await modo.get(PAGE)
            _, resident_page = await bob.get(PAGE)
            _, anonymous_page = await anonymous.get(PAGE)
            assert moderator_page.count('<details class="moderate">') == 3
            assert '<details class="moderate">' not in resident_page + anonymous_page
            assert resident_page.count('<details class="reply">') == 3
            assert '<details class="reply">' not in anonymous_page and "Log in to contribute" in anonymous_page
            assert "Signed in as" not in anonymous_page
    finally:
        await modo.close()
        await bob.close()
        await anonymous.close()


async def test_cache__the_proposal_index_marks_what_each_reader_supports(node, clos_jouve):
    alice, bob = await signed_in(node, "alice"), await signed_in(node, "bob")
    try:
        for _ in range(2):
            _, alice_page = await alice.get("/orgs/lyon/proposals?sort=recent")
            _, bob_page = await bob.get("/orgs/lyon/proposals?sort=recent")
            assert alice_page.count("You support it") == 1 and "You support it" not in bob_page
            supported = alice_page.split("You support it")[0].rsplit("<h2>", 1)[1]
            assert "Proposition 0" in supported
    finally:
        await alice.close()
        await bob.close()


async def test_cache__a_change_made_elsewhere_reaches_signed_in_readers_after_the_ttl(node, clos_jouve):
    """Alice's agreement written straight in the database (announced to no process) shows once the
    entries expire; a cached copy is never older than the TTL."""
    cache = node.app[PAGE_CACHE]
    cache.ttl = 3600.0  # nothing expires by itself during the test (a loaded machine is slow)
    made, _ = clos_jouve
    alice = await signed_in(node, "alice")
    try:
        await alice.get(PAGE)
        async with unheard(node)() as s, s.begin():
            me = await actors.require_local_actor(s, "alice")
            s.add(Agreement(ap_id=f"{node.base}/likes/elsewhere", contribution_id=made[2].id, actor_id=me.id))
        _, stale = await alice.get(PAGE)
        assert agreed_on(stale) == tokens(made[1])
        cache.expire_all()
        _, fresh = await alice.get(PAGE)
        assert agreed_on(fresh) == tokens(made[1], made[2])
    finally:
        await alice.close()


async def test_cache__a_burst_after_an_invalidation_renders_the_page_once(node, clos_jouve):
    """Twelve readers (anonymous and signed in) ask at the same moment for a page that is not
    cached: one rendering per audience serves them all, each with their own marks."""
    import asyncio

    cache = node.app[PAGE_CACHE]
    readers = [await signed_in(node, "alice"), await signed_in(node, "bob")] * 3 + \
        [Browser(node.base) for _ in range(6)]
    try:
        await asyncio.gather(*(r.get(PAGE) for r in readers[:2]))  # their marks are known
        await settled(node)
        cache.expire_all()
        renders = cache.renders
        pages = await asyncio.gather(*(r.get(PAGE) for r in readers))
        assert cache.renders - renders <= 2  # the residents' rendering and the anonymous one
        made, _ = clos_jouve
        assert [agreed_on(page) for _, page in pages[:6]] == [tokens(made[1]), set()] * 3
        assert all("Log in to contribute" in page for _, page in pages[6:])
    finally:
        for reader in set(readers):
            await reader.close()


async def test_cache__a_page_past_its_ttl_is_rendered_again_by_one_request_while_others_get_it(node, clos_jouve):
    """A rendering just past its TTL (changes may have come from elsewhere): the first reader
    renders the page again and sees the change; readers meanwhile get the previous copy; one
    rendering in all."""
    import asyncio
    import time

    cache = node.app[PAGE_CACHE]
    readers = [Browser(node.base) for _ in range(8)]
    try:
        await readers[0].get(PAGE)
        async with transaction(node.rt.sessions) as s:  # as another process would
            disc = await discussions.by_slug(s, await actors.require_local_actor(s, "lyon"), "clos-jouve")
            await contributions.contribute(s, node.uris, disc, await actors.require_local_actor(s, "bob"),
                                           "<p>Idée venue d’ailleurs</p>")
        await settled(node)
        await readers[1].get(PAGE)  # rendered again if the change was announced (PostgreSQL)
        for entry in cache._entries.values():
            entry.expires = time.monotonic() - 1  # past the TTL, within the grace period
        renders = cache.renders
        pages = await asyncio.gather(*(reader.get(PAGE) for reader in readers))
        assert cache.renders == renders + 1
        assert any("Idée venue d’ailleurs" in page for _, page in pages)  # the one who rendered it
        _, later = await readers[0].get(PAGE)
        assert "Idée venue d’ailleurs" in later and cache.renders == renders + 1
    finally:
        for reader in readers:
            await reader.close()


async def test_cache__text_written_by_anyone_cannot_receive_a_readers_token_or_name(node, clos_jouve):
    """A contribution carrying placeholder-like text (as an attacker would, to have each reader's
    CSRF token put into a link to their site) keeps its text: placeholders carry a random tag."""
    bait = "__civic_csrf_placeholder__ __civic_viewer_name__ __civic_csrf___ <!--0:0-->"
    async with transaction(node.rt.sessions) as s:
        disc = await discussions.by_slug(s, await actors.require_local_actor(s, "lyon"), "clos-jouve")
        await contributions.contribute(s, node.uris, disc, await actors.require_local_actor(s, "bob"),
                                       f'<p><a href="https://evil.example/?t={bait}">{bait}</a></p>')
    alice = await signed_in(node, "alice")
    try:
        for _ in range(2):  # rendered, then from the cache
            _, page = await alice.get(PAGE)
            token = TOKEN.findall(page)[0]
            link = page.split('href="https://evil.example/?t=')[1].split('"')[0]
            assert "__civic_csrf_placeholder__" in link and token not in link and "Alice" not in link
    finally:
        await alice.close()


async def test_cache__a_members_rendering_is_never_served_to_anyone_else(node, clos_jouve):
    """The proposal index lists a members space's proposal to the organisation's members only:
    a member's shared rendering (keyed by standing, SECURITY.md rules 12, 24) never reaches a
    signed-in resident nor an anonymous visitor, however the visits follow each other."""
    async with transaction(node.rt.sessions) as s:
        org = await actors.require_local_actor(s, "lyon")
        space = await spaces.create_space(s, org, "interne", "Interne", visibility="members")
        marie = await actors.create_user(s, node.uris, "marie", "password-123", "Marie")
        await actors.add_member(s, marie, org, "member")
        await proposals.create(s, node.uris, org, marie.actor, "Proposition interne", "<p>…</p>",
                               space=space, publish=True)
    cache = node.app[PAGE_CACHE]
    member, resident, anonymous = await signed_in(node, "marie"), await signed_in(node, "bob"), Browser(node.base)
    try:
        for _ in range(2):
            _, seen = await member.get("/orgs/lyon/proposals")
            hits = cache.hits
            _, resident_page = await resident.get("/orgs/lyon/proposals")
            _, anonymous_page = await anonymous.get("/orgs/lyon/proposals")
            assert "Proposition interne" in seen
            assert "Proposition interne" not in resident_page + anonymous_page
        assert cache.hits > hits  # each audience shares its own rendering
    finally:
        await member.close()
        await resident.close()
        await anonymous.close()


async def test_cache__anonymous_renderings_of_non_public_things_are_not_stored(node, clos_jouve):
    """An unlisted discussion's page is rendered for each anonymous visit (a change of its level
    that reaches no process can never be served from the cache); a public one is shared."""
    async with transaction(node.rt.sessions) as s:
        org = await actors.require_local_actor(s, "lyon")
        await discussions.open_discussion(s, node.uris, org, "par-lien", "Par lien", visibility="unlisted")
    cache = node.app[PAGE_CACHE]
    visitor = Browser(node.base)
    try:
        for path, shared in (("/orgs/lyon/discussions/par-lien", False), (PAGE, True)):
            status, first = await visitor.get(path)
            renders = cache.renders
            status, again = await visitor.get(path)
            assert status == 200 and (cache.renders == renders) == shared, path
    finally:
        await visitor.close()


async def test_cache__a_page_that_declares_nothing_depends_on_every_change(node, clos_jouve):
    """The privacy notice declares no scope (web/cache.py ``depends``): any change that pages show
    drops it, as every change did before pages said what they show; a change no page shows
    (a queue row) leaves it."""
    from node.models import OutboxEvent

    cache = node.app[PAGE_CACHE]
    cache.ttl = 3600.0
    reader = Browser(node.base)
    try:
        await reader.get("/privacy")
        renders = cache.renders
        async with transaction(node.rt.sessions) as s:
            s.add(OutboxEvent(kind="note.created", payload={}))
        await reader.get("/privacy")
        assert cache.renders == renders
        async with transaction(node.rt.sessions) as s:
            disc = await discussions.by_slug(s, await actors.require_local_actor(s, "lyon"), "clos-jouve")
            await contributions.contribute(s, node.uris, disc, await actors.require_local_actor(s, "bob"),
                                           "<p>Ailleurs</p>")
        await reader.get("/privacy")
        assert cache.renders == renders + 1
    finally:
        await reader.close()


async def test_cache__a_readers_marks_follow_the_scopes_of_their_page(node, clos_jouve):
    """Alice's marks on the discussion are kept while nothing in it changes (another
    organisation's discussion may), and looked up again when an agreement of hers is written."""
    cache = node.app[PAGE_CACHE]
    cache.ttl = 3600.0
    made, _ = clos_jouve
    async with transaction(node.rt.sessions) as s:
        other = await actors.create_organization(s, node.uris, "nantes", "Nantes")
        elsewhere = await discussions.open_discussion(s, node.uris, other, "ile", "Île")
    alice = await signed_in(node, "alice")
    try:
        await settled(node)
        await alice.get(PAGE)
        kept = cache._viewers[next(key for key in cache._viewers if key[1] == PAGE)]
        async with transaction(node.rt.sessions) as s:
            await contributions.contribute(s, node.uris, await s.merge(elsewhere),
                                           await actors.require_local_actor(s, "bob"), "<p>Là-bas</p>")
        await settled(node)
        assert cache.viewer(next(key for key in cache._viewers if key[1] == PAGE), node.rt.changes) is kept
        async with transaction(node.rt.sessions) as s:
            await contributions.agree(s, node.uris, await s.merge(made[2]),
                                      await actors.require_local_actor(s, "alice"))
        _, page = await alice.get(PAGE)
        assert agreed_on(page) == tokens(made[1], made[2])
    finally:
        await alice.close()


def test_cache__renderings_kept_fit_their_byte_budget():
    """However many URLs are asked, the renderings kept stay within ``max_bytes``: the least
    recently used go first (a web process's memory stays bounded)."""
    import time

    from node.changes import Versions
    from web.cache import Entry, PageCache

    cache, changes = PageCache(max_bytes=10_000), Versions()
    for n in range(50):
        cache.put((f"/p/{n}", "fr", ""), Entry.cut("x" * 1_000, [], {}, None, frozenset({"site"}), 0,
                                                   time.monotonic() + 60))
    kept = [key for key in cache._entries]
    assert sum(entry.size for entry in cache._entries.values()) <= 10_000
    assert kept == [(f"/p/{n}", "fr", "") for n in range(40, 50)]  # the most recent ones
    assert cache.get(("/p/49", "fr", ""), changes)[0] is not None
