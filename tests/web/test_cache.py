"""The anonymous page micro-cache: shared renderings, personal CSRF tokens, prompt invalidation."""

from __future__ import annotations

import re

import pytest

from node.db import transaction
from node.services import actors, notes
from tests.web.client import Browser
from web.cache import CSRF_PLACEHOLDER, PAGE_CACHE

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def lyon(node):
    async with transaction(node.rt.sessions) as s:
        org = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        admin = await actors.create_user(s, node.uris, "lyon_admin", "password-123", "Équipe Lyon")
        await actors.add_member(s, admin, org, "admin")
    return org


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


async def test_cache__signed_in_pages_are_never_cached_and_changes_elsewhere_expire(node, lyon):
    """Signed-in views render every time; a change made outside this process shows after the TTL
    (here forced by expiring the entry: the cache keeps nothing past its deadline)."""
    cache = node.app[PAGE_CACHE]
    reader = Browser(node.base)
    try:
        await reader.get("/actors/lyon")
        async with transaction(node.rt.sessions) as s:  # as the CLI would, without the web layer
            org = await actors.require_local_actor(s, "lyon")
            await notes.publish_announcement(s, node.uris, org, "<p>Depuis la ligne de commande</p>")
        _, stale = await reader.get("/actors/lyon")
        assert "Depuis la ligne de commande" not in stale  # served from the cache
        for entry in cache._entries.values():
            entry.expires = 0
        _, fresh = await reader.get("/actors/lyon")
        assert "Depuis la ligne de commande" in fresh
        admin = Browser(node.base)
        await admin.login("lyon_admin", "password-123")
        hits = cache.hits
        await admin.get("/actors/lyon")
        await admin.get("/actors/lyon")
        assert cache.hits == hits
        await admin.close()
    finally:
        await reader.close()
