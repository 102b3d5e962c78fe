"""Gated organisations: follow requests wait for an admin, who accepts or rejects them."""

from __future__ import annotations

import aiohttp
from sqlalchemy import select

from node.db import transaction
from node.models import Follow
from node.services import actors, follows
from tests.web.client import Browser

AS = "https://www.w3.org/ns/activitystreams"


async def _gated(node):
    async with transaction(node.rt.sessions) as s:
        org = await actors.create_organization(s, node.uris, "conseil", "Conseil de quartier",
                                               manually_approves_followers=True)
        admin = await actors.create_user(s, node.uris, "conseil_admin", "password-123", "Admin")
        await actors.add_member(s, admin, org, "admin")
    return org


async def _alice_accepted_bob_rejected(node, remote, alice, bob) -> None:
    """Alice got an Accept and is a follower; Bob got a Reject and his request is gone."""
    await node.step()
    sent = {(d["type"], d["object"]["actor"]) for d in remote.received}
    assert sent == {("Accept", alice.ap_id), ("Reject", bob.ap_id)}
    async with node.rt.sessions() as s:
        states = {f.ap_id: f.state for f in await s.scalars(select(Follow))}
    assert states == {f"{alice.ap_id}/follows/0": "accepted"}


def _follow(who, org, n):
    return {"@context": AS, "id": f"{who.ap_id}/follows/{n}", "type": "Follow", "actor": who.ap_id,
            "object": org.ap_id}


async def test_follow_requests__wait_then_accept_and_reject(node, remote):
    """No Accept until an admin decides; accepting sends Accept, rejecting sends Reject and drops it."""
    org = await _gated(node)
    async with aiohttp.ClientSession() as http:
        async with http.get(org.ap_id, headers={"Accept": "application/activity+json"}) as response:
            assert (await response.json(content_type=None))["manuallyApprovesFollowers"] is True
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
    for n, who in enumerate((alice, bob)):
        assert (await remote.post(org.inbox, _follow(who, org, n), who))[0] == 202
    await node.step()
    assert [d["type"] for d in remote.received] == []
    async with node.rt.sessions() as s:
        org_row = await actors.require_local_actor(s, "conseil")
        pending = [who.ap_id for _, who in await follows.pending_requests(s, org_row)]
    assert pending == [alice.ap_id, bob.ap_id]

    async with transaction(node.rt.sessions) as s:
        org_row = await actors.require_local_actor(s, "conseil")
        requests = dict((who.ap_id, f) for f, who in await follows.pending_requests(s, org_row))
        await follows.accept(s, requests[alice.ap_id])
        await follows.reject(s, requests[bob.ap_id])
    await _alice_accepted_bob_rejected(node, remote, alice, bob)


async def test_follow_requests__listed_for_the_organisations_admins_only(node, remote):
    """The organisation page lists pending requests to its admin, not to anonymous visitors."""
    org = await _gated(node)
    alice = remote.add_actor("alice")
    assert (await remote.post(org.inbox, _follow(alice, org, 1), alice))[0] == 202
    await node.step()
    anonymous, admin = Browser(node.base), Browser(node.base)
    try:
        _, public_page = await anonymous.get("/actors/conseil")
        await admin.login("conseil_admin", "password-123")
        _, admin_page = await admin.get("/actors/conseil")
    finally:
        await anonymous.close()
        await admin.close()
    assert alice.ap_id not in public_page
    assert alice.ap_id in admin_page


async def test_follow_requests__answered_from_the_organisation_page(node, remote):
    """The admin accepts one request and rejects another with the page's buttons: Accept and Reject
    go out. A moderator cannot answer (403); an unknown or already answered request is a 404 and a
    missing action a 400, with nothing changed."""
    org = await _gated(node)
    async with transaction(node.rt.sessions) as s:
        modo = await actors.create_user(s, node.uris, "conseil_modo", "password-123", "Modo")
        await actors.add_member(s, modo, await actors.require_local_actor(s, "conseil"), "moderator")
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
    for n, who in enumerate((alice, bob)):
        assert (await remote.post(org.inbox, _follow(who, org, n), who))[0] == 202
    await node.step()
    async with node.rt.sessions() as s:
        ids = {who.ap_id: f.id for f, who in await follows.pending_requests(s, org)}
    admin, moderator = Browser(node.base), Browser(node.base)
    try:
        await admin.login("conseil_admin", "password-123")
        await moderator.login("conseil_modo", "password-123")
        _, admin_page = await admin.get("/actors/conseil")
        assert admin_page.count('name="action" value="accept"') == 2
        _, moderator_page = await moderator.get("/actors/conseil")
        assert alice.ap_id in moderator_page and 'value="accept"' not in moderator_page
        target = f"/orgs/conseil/follow-requests/{ids[alice.ap_id]}"
        status, _, _ = await moderator.post(target, {"action": "accept"}, csrf_from="/actors/conseil")
        assert status == 403
        status, body, _ = await admin.post(target, {}, csrf_from="/actors/conseil")
        assert status == 400 and "accept or to reject" in body
        assert (await admin.post(target, {"action": "accept"}, csrf_from="/actors/conseil"))[0] == 303
        assert (await admin.post(target, {"action": "reject"}, csrf_from="/actors/conseil"))[0] == 404
        bob_target = f"/orgs/conseil/follow-requests/{ids[bob.ap_id]}"
        assert (await admin.post(bob_target, {"action": "reject"}, csrf_from="/actors/conseil"))[0] == 303
        _, after = await admin.get("/actors/conseil")
        assert alice.ap_id not in after and bob.ap_id not in after
    finally:
        await admin.close()
        await moderator.close()
    await _alice_accepted_bob_rejected(node, remote, alice, bob)
