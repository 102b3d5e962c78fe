"""Authorized fetch on our side: signed GETs verified, unsigned refused in secure mode, blocks."""

from __future__ import annotations

import dataclasses

import aiohttp
from sqlalchemy import select

from federation.signatures import sign_headers
from node.db import transaction
from node.models import Activity, Contribution
from node.services import actors, contributions, discussions, moderation, reports
from tests.federation.participation_scene import make_activity, post


async def _get(url, headers=None):
    async with aiohttp.ClientSession() as session:
        headers = {"Accept": "application/activity+json", **(headers or {})}
        async with session.get(url, headers=headers) as response:
            return response.status, await response.json(content_type=None)


async def _setup(node, remote):
    async with transaction(node.rt.sessions) as s:
        org = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
    return org, remote.add_actor("alice")


async def test_signed_fetch__secure_mode_refuses_unsigned_and_accepts_signed(node, remote):
    """authorized_fetch on: unsigned GET → 401; GET signed by a remote actor → 200."""
    org, alice = await _setup(node, remote)
    node.rt.settings = dataclasses.replace(node.rt.settings, authorized_fetch=True)
    status, body = await _get(org.ap_id)
    assert status == 401 and "signed" in body["error"]
    signed = sign_headers("GET", org.ap_id, None, alice.key_id, alice.private_pem)
    status, doc = await _get(org.ap_id, signed)
    assert status == 200 and doc["id"] == org.ap_id
    # The instance actor stays fetchable unsigned: others need its key to check our own GETs.
    assert (await _get(node.uris.instance_actor()))[0] == 200


async def test_signed_fetch__bad_signature_is_401(node, remote):
    """In secure mode, a GET signed with a key that is not the claimed one's → 401."""
    org, alice = await _setup(node, remote)
    node.rt.settings = dataclasses.replace(node.rt.settings, authorized_fetch=True)
    mallory = remote.add_actor("mallory")
    forged = sign_headers("GET", org.ap_id, None, alice.key_id, mallory.private_pem)
    status, _ = await _get(org.ap_id, forged)
    assert status == 401


async def test_signed_fetch__blocked_domain_gets_403(node, remote):
    """A signed GET from a blocked domain → 403 (rule 10)."""
    org, alice = await _setup(node, remote)
    async with transaction(node.rt.sessions) as s:
        await moderation.block_domain(s, "127.0.0.1")
        node.rt.blocked_domains = await moderation.blocked_domains(s)
    signed = sign_headers("GET", org.ap_id, None, alice.key_id, alice.private_pem)
    status, body = await _get(org.ap_id, signed)
    assert status == 403


async def _signed_get(url: str, actor) -> tuple[int, dict]:
    headers = {"Accept": "application/activity+json"}
    if actor is not None:
        headers.update(sign_headers("GET", url, None, actor.key_id, actor.private_pem))
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers=headers) as response:
            return response.status, await response.json(content_type=None)


async def test_signed_fetch__a_followers_activity_answers_approved_followers_until_hidden_or_deleted(node, remote):
    """The Create of a contribution in a followers discussion: its signed approved follower gets it
    at its id and announced in the group's outbox; an unsigned GET and a stranger's signed one get the 404
    of a missing activity. Hidden by a moderator, it is 404 and out of the outbox for the follower
    too; deleted, it is a 410 Tombstone to the follower and still the 404 to others
    (SECURITY.md rules 22, 24)."""
    async with transaction(node.rt.sessions) as s:
        org = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        maire = await actors.create_user(s, node.uris, "maire", "password-123", "La maire")
        await actors.add_member(s, maire, org, "admin")
        d = await discussions.open_discussion(s, node.uris, org, "abonnes", "Entre abonnés",
                                              visibility="followers")
        made = await contributions.contribute(s, node.uris, d, maire.actor, "<p>Pour les abonnés</p>")
        group, org_inbox, contribution = d.group.ap_id, org.inbox, made.ap_id
    fidele, inconnu = remote.add_actor("fidele"), remote.add_actor("inconnu")
    await post(node, remote, org_inbox, make_activity(fidele, "Follow", 1, org.ap_id), fidele)
    await node.step()
    async with node.rt.sessions() as s:
        create = await s.scalar(select(Activity.ap_id).where(
            Activity.type == "Create", Activity.object_ap_id == contribution))
    missing = await _signed_get(f"{node.base}/activities/made-up", None)
    outbox = f"{group}/outbox?page=1"

    async def seen_by_follower() -> tuple[int, bool]:
        status, _ = await _signed_get(create, fidele)
        items = (await _signed_get(outbox, fidele))[1]["orderedItems"]
        # The group's Announce{Create} of it, in the group's outbox (FEP-1b12).
        return status, any(isinstance(item["object"], dict) and item["object"]["id"] == create
                           for item in items)

    assert await seen_by_follower() == (200, True)
    assert await _signed_get(create, None) == missing == await _signed_get(create, inconnu)
    async with transaction(node.rt.sessions) as s:
        user = await actors.user_by_username(s, "maire")
        await reports.hide(s, user, await reports.target_of(s, contribution), "Hors sujet")
    assert await seen_by_follower() == (404, False)
    async with transaction(node.rt.sessions) as s:
        user = await actors.user_by_username(s, "maire")
        await reports.restore(s, user, await reports.target_of(s, contribution))
    assert await seen_by_follower() == (200, True)
    async with transaction(node.rt.sessions) as s:
        row = await s.scalar(select(Contribution).where(Contribution.ap_id == contribution))
        await contributions.delete_contribution(s, row, federate=False)
    status, body = await _signed_get(create, fidele)
    assert status == 410 and body["type"] == "Tombstone"
    assert (await seen_by_follower())[1] is False
    assert await _signed_get(create, inconnu) == missing
