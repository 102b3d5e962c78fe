"""Two Civic Node instances on different loopback addresses follow each other and exchange posts."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from federation.resolve import resolve_actor
from node.db import transaction
from node.models import Follow, Note
from node.services import actors, follows, notes


async def _follow(node, org_handle: str, target: str):
    target_actor = await resolve_actor(node.rt, target)
    async with transaction(node.rt.sessions) as s:
        org = await actors.require_local_actor(s, org_handle)
        await follows.request_follow(s, node.uris, org, await s.merge(target_actor))


async def _step_all(*nodes):
    for _ in range(4):
        for n in nodes:
            await n.step()


async def test_two_nodes__follow_each_other_by_handle_and_exchange_posts(node_factory):
    """lyon@A follows nice@B by acct: handle and vice versa; each receives the other's post."""
    a = await node_factory("127.0.0.11")
    b = await node_factory("127.0.0.12")
    async with transaction(a.rt.sessions) as s:
        await actors.create_organization(s, a.uris, "lyon", "Ville de Lyon")
    async with transaction(b.rt.sessions) as s:
        await actors.create_organization(s, b.uris, "nice", "Métropole Nice")

    await _follow(a, "lyon", f"nice@{b.uris.domain}")
    await _follow(b, "nice", f"acct:lyon@{a.uris.domain}")
    await _step_all(a, b)
    for n in (a, b):
        async with n.rt.sessions() as s:
            states = list(await s.scalars(select(Follow.state)))
        assert states == ["accepted", "accepted"], states

    async with transaction(b.rt.sessions) as s:
        nice = await actors.require_local_actor(s, "nice")
        await notes.publish_announcement(s, b.uris, nice, "<p>Tramway: réunion jeudi</p>")
    async with transaction(a.rt.sessions) as s:
        lyon = await actors.require_local_actor(s, "lyon")
        await notes.publish_announcement(s, a.uris, lyon, "<p>Clos Jouve: atelier samedi</p>")
    await _step_all(a, b)

    async with a.rt.sessions() as s:
        lyon = await actors.require_local_actor(s, "lyon")
        got_a = [n.content for n in await notes.timeline_of(s, lyon)]
    async with b.rt.sessions() as s:
        nice = await actors.require_local_actor(s, "nice")
        got_b = [n.content for n in await notes.timeline_of(s, nice)]
    assert got_a == ["<p>Tramway: réunion jeudi</p>"]
    assert got_b == ["<p>Clos Jouve: atelier samedi</p>"]


async def test_two_nodes__undo_follow_stops_delivery(node_factory):
    """After Undo(Follow) the remote follower is gone and the next post is not delivered."""
    a = await node_factory("127.0.0.13")
    b = await node_factory("127.0.0.14")
    async with transaction(a.rt.sessions) as s:
        await actors.create_organization(s, a.uris, "lyon", "Ville de Lyon")
    async with transaction(b.rt.sessions) as s:
        await actors.create_organization(s, b.uris, "nice", "Métropole Nice")
    await _follow(a, "lyon", f"nice@{b.uris.domain}")
    await _step_all(a, b)
    async with b.rt.sessions() as s:
        nice = await actors.require_local_actor(s, "nice")
        assert await follows.count(s, nice) == 1
    target = await resolve_actor(a.rt, f"nice@{b.uris.domain}")
    async with transaction(a.rt.sessions) as s:
        lyon = await actors.require_local_actor(s, "lyon")
        await follows.unfollow(s, lyon, await s.merge(target))
    await _step_all(a, b)
    async with transaction(b.rt.sessions) as s:
        nice = await actors.require_local_actor(s, "nice")
        assert await follows.count(s, nice) == 0
        await notes.publish_announcement(s, b.uris, nice, "<p>Not for you</p>")
    await _step_all(a, b)
    async with a.rt.sessions() as s:
        assert await s.scalar(select(Note).where(Note.local.is_(False))) is None


async def test_two_nodes__both_in_secure_mode_still_federate(node_factory):
    """With authorized fetch on both sides, signed key fetches do not wait on each other."""
    a = await node_factory("127.0.0.15")
    b = await node_factory("127.0.0.16")
    for n in (a, b):
        n.rt.settings = dataclasses.replace(n.rt.settings, authorized_fetch=True)
    async with transaction(b.rt.sessions) as s:
        await actors.create_organization(s, b.uris, "nice", "Métropole Nice")
    async with transaction(a.rt.sessions) as s:
        await actors.create_organization(s, a.uris, "lyon", "Ville de Lyon")
    await _follow(a, "lyon", f"nice@{b.uris.domain}")
    await _step_all(a, b)
    async with b.rt.sessions() as s:
        nice = await actors.require_local_actor(s, "nice")
        assert [f.ap_id for f in await follows.followers(s, nice)] == [f"{a.base}/actors/lyon"]
