"""Authorized fetch on our side: signed GETs verified, unsigned refused in secure mode, blocks."""

from __future__ import annotations

import dataclasses

import aiohttp

from federation.signatures import sign_headers
from node.db import transaction
from node.services import actors, moderation


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
