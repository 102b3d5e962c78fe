"""The inbox pipeline: size, policy, signatures, shape, origin, de-duplication, durable 202."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from federation.signatures import sign_headers
from node.db import transaction
from node.models import Follow, InboxActivity, Note
from node.services import actors, moderation

AS = "https://www.w3.org/ns/activitystreams"


async def _org(node, handle="lyon"):
    async with transaction(node.rt.sessions) as s:
        return await actors.create_organization(s, node.uris, handle, "Ville de Lyon")


async def _stored(node) -> int:
    async with node.rt.sessions() as s:
        return await s.scalar(select(func.count()).select_from(InboxActivity))


def _follow(remote_actor, org, suffix="1"):
    return {"@context": AS, "id": f"{remote_actor.ap_id}/follows/{suffix}", "type": "Follow",
            "actor": remote_actor.ap_id, "object": org.ap_id}


async def test_inbox__signed_follow_is_stored_accepted_and_answered(node, remote):
    """A signed Follow → 202, stored once, follower recorded, a signed Accept reaches the follower."""
    org = await _org(node)
    alice = remote.add_actor("alice")
    status, _ = await remote.post(org.inbox, _follow(alice, org), alice)
    assert status == 202
    await node.step()
    async with node.rt.sessions() as s:
        follow = await s.scalar(select(Follow))
        assert follow.state == "accepted"
    accepts = [d for d in remote.received if d["type"] == "Accept"]
    assert len(accepts) == 1
    assert accepts[0]["object"]["id"] == f"{alice.ap_id}/follows/1"
    assert accepts[0]["actor"] == org.ap_id


async def test_inbox__oversize_body_is_413_before_parsing(node, remote):
    """A 2 MB POST gets 413 and nothing is stored (SECURITY.md rule 6)."""
    org = await _org(node)
    alice = remote.add_actor("alice")
    doc = _follow(alice, org)
    doc["padding"] = "x" * (2 * 1024 * 1024)
    status, body = await remote.post(org.inbox, doc, alice)
    assert status == 413
    assert "exceeds" in body["error"]
    assert await _stored(node) == 0


async def test_inbox__unsigned_post_is_401(node, remote):
    """An unsigned POST is refused with a JSON reason."""
    org = await _org(node)
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.post(org.inbox, json={"id": "x"}) as response:
            assert response.status == 401
            assert "not signed" in (await response.json())["error"]


async def test_inbox__forged_signature_is_401(node, remote):
    """Signed with a key that is not the claimed key id's → 401, nothing stored (rule 2, 3)."""
    org = await _org(node)
    alice, mallory = remote.add_actor("alice"), remote.add_actor("mallory")
    doc = _follow(alice, org)
    raw = json.dumps(doc).encode()
    headers = sign_headers("POST", org.inbox, raw, alice.key_id, mallory.private_pem)
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.post(org.inbox, data=raw, headers=headers) as response:
            assert response.status == 401
    assert await _stored(node) == 0


async def test_inbox__key_of_x_activity_claims_y_is_401(node, remote):
    """Mallory signs with her own valid key an activity whose actor is Alice → 401 (rule 2)."""
    org = await _org(node)
    alice, mallory = remote.add_actor("alice"), remote.add_actor("mallory")
    status, body = await remote.post(org.inbox, _follow(alice, org), alice, key=mallory)
    assert status == 401
    assert "actor" in body["error"]
    assert await _stored(node) == 0


async def test_inbox__tampered_body_is_401(node, remote):
    """The body differs from the one the Digest was computed over → 401 (rule 3)."""
    org = await _org(node)
    alice = remote.add_actor("alice")
    doc = _follow(alice, org)
    tampered = json.dumps({**doc, "object": "http://elsewhere/"}).encode()
    status, _ = await remote.post(org.inbox, doc, alice, sent_body=tampered)
    assert status == 401
    assert await _stored(node) == 0


@pytest.mark.parametrize("offset", [timedelta(hours=-13), timedelta(hours=2)])
async def test_inbox__stale_or_future_date_is_401(node, remote, offset):
    """A Date 13 h old or 2 h ahead is refused (Mastodon's 12 h / 1 h window)."""
    org = await _org(node)
    alice = remote.add_actor("alice")
    raw = json.dumps(_follow(alice, org)).encode()
    headers = sign_headers("POST", org.inbox, raw, alice.key_id, alice.private_pem,
                           now=datetime.now(UTC) + offset)
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.post(org.inbox, data=raw, headers=headers) as response:
            assert response.status == 401
    assert await _stored(node) == 0


async def test_inbox__duplicate_activity_processed_once(node, remote):
    """The same activity id twice → both 202, one row, one Accept (rule 8)."""
    org = await _org(node)
    alice = remote.add_actor("alice")
    for _ in range(2):
        status, _ = await remote.post(org.inbox, _follow(alice, org), alice)
        assert status == 202
    await node.step()
    assert await _stored(node) == 1
    assert len([d for d in remote.received if d["type"] == "Accept"]) == 1


async def test_inbox__blocked_domain_is_403(node, remote):
    """A signed request from a blocked domain → 403, nothing stored (rule 10)."""
    org = await _org(node)
    alice = remote.add_actor("alice")
    async with transaction(node.rt.sessions) as s:
        await moderation.block_domain(s, "127.0.0.1")
        node.rt.blocked_domains = await moderation.blocked_domains(s)
    status, body = await remote.post(org.inbox, _follow(alice, org), alice)
    assert status == 403
    assert await _stored(node) == 0


async def test_inbox__malformed_json_is_400_with_reason(node, remote):
    """Signed but not JSON → 400 with a reason, never a 500."""
    org = await _org(node)
    alice = remote.add_actor("alice")
    status, body = await remote.post(org.inbox, {}, alice, body=b"{not json")
    assert status == 400
    assert body["error"]


async def test_inbox__object_on_another_host_is_rejected(node, remote):
    """An actor on host A creating an object with an id on host B → 400 (rule 1, CVE-2024-23832)."""
    org = await _org(node)
    alice = remote.add_actor("alice")
    note = {"id": "https://victim.example/notes/1", "type": "Note", "attributedTo": alice.ap_id,
            "content": "spoof", "to": [org.ap_id]}
    create = {"@context": AS, "id": f"{alice.ap_id}/create/1", "type": "Create",
              "actor": alice.ap_id, "object": note}
    status, body = await remote.post(org.inbox, create, alice)
    assert status == 400
    assert "host" in body["error"]
    assert await _stored(node) == 0


async def test_inbox__unknown_type_is_202_and_ignored(node, remote):
    """An activity type we do not handle is stored, answered 202 and marked ignored."""
    org = await _org(node)
    alice = remote.add_actor("alice")
    doc = {"@context": AS, "id": f"{alice.ap_id}/x/1", "type": "Arrive", "actor": alice.ap_id}
    status, _ = await remote.post(org.inbox, doc, alice)
    assert status == 202
    await node.step()
    async with node.rt.sessions() as s:
        row = await s.scalar(select(InboxActivity))
    assert row.state == "ignored"


async def test_inbox__delete_then_replayed_create_does_not_resurrect(node, remote):
    """Delete leaves a tombstone; the same Create replayed later stays deleted (rule 9)."""
    org = await _org(node)
    alice = remote.add_actor("alice")
    note = {"id": f"{alice.ap_id}/notes/1", "type": "Note", "attributedTo": alice.ap_id,
            "content": "<p>Hello</p>", "to": [org.ap_id]}
    create = {"@context": AS, "id": f"{alice.ap_id}/create/1", "type": "Create",
              "actor": alice.ap_id, "object": note}
    delete = {"@context": AS, "id": f"{alice.ap_id}/delete/1", "type": "Delete",
              "actor": alice.ap_id, "object": note["id"]}
    assert (await remote.post(org.inbox, create, alice))[0] == 202
    await node.step()
    assert (await remote.post(org.inbox, delete, alice))[0] == 202
    await node.step()
    replay = {**create, "id": f"{alice.ap_id}/create/2"}
    assert (await remote.post(org.inbox, replay, alice))[0] == 202
    await node.step()
    async with node.rt.sessions() as s:
        stored = await s.scalar(select(Note).where(Note.ap_id == note["id"]))
    assert stored.deleted_at is not None
    assert stored.content == ""


async def test_inbox__delete_by_another_actor_is_refused(node, remote):
    """Only the author's server may delete an object (rule 1, 9)."""
    org = await _org(node)
    alice, mallory = remote.add_actor("alice"), remote.add_actor("mallory")
    note = {"id": f"{alice.ap_id}/notes/1", "type": "Note", "attributedTo": alice.ap_id,
            "content": "<p>Hello</p>", "to": [org.ap_id]}
    create = {"@context": AS, "id": f"{alice.ap_id}/create/1", "type": "Create",
              "actor": alice.ap_id, "object": note}
    await remote.post(org.inbox, create, alice)
    delete = {"@context": AS, "id": f"{mallory.ap_id}/delete/1", "type": "Delete",
              "actor": mallory.ap_id, "object": note["id"]}
    await remote.post(org.inbox, delete, mallory)
    await node.step()
    async with node.rt.sessions() as s:
        stored = await s.scalar(select(Note).where(Note.ap_id == note["id"]))
    assert stored.deleted_at is None
    assert "Hello" in stored.content


async def test_inbox__remote_html_is_sanitised_once(node, remote):
    """Scripts, event handlers and javascript: URLs are removed on the way in (rule 7)."""
    org = await _org(node)
    alice = remote.add_actor("alice")
    note = {"id": f"{alice.ap_id}/notes/2", "type": "Note", "attributedTo": alice.ap_id,
            "content": '<p onclick="x()">Hi<script>alert(1)</script>'
                       '<a href="javascript:alert(1)">link</a><img src=x onerror=alert(1)></p>',
            "to": [org.ap_id]}
    create = {"@context": AS, "id": f"{alice.ap_id}/create/2", "type": "Create",
              "actor": alice.ap_id, "object": note}
    assert (await remote.post(org.inbox, create, alice))[0] == 202
    await node.step()
    async with node.rt.sessions() as s:
        stored = await s.scalar(select(Note).where(Note.ap_id == note["id"]))
    assert "Hi" in stored.content
    for bad in ("<script", "onclick", "onerror", "javascript:", "<img"):
        assert bad not in stored.content


async def test_inbox__a_block_written_elsewhere_applies_without_a_restart(node, remote):
    """`civic domain block` runs in another process: the running node reloads its blocks (told at
    once on PostgreSQL, polled within seconds on SQLite) and refuses the domain; unblocking lets
    it in again."""
    import asyncio

    org = await _org(node)
    alice = remote.add_actor("alice")

    async def changed_elsewhere(change, blocked: bool) -> None:
        async with transaction(node.rt.sessions) as s:  # as the CLI would: the runtime is not touched
            await change(s)

        async def reloaded() -> None:
            while ("127.0.0.1" in node.rt.blocked_domains) != blocked:
                node.rt.blocks_reloaded.clear()
                await node.rt.blocks_reloaded.wait()

        await asyncio.wait_for(reloaded(), 15)

    await changed_elsewhere(lambda s: moderation.block_domain(s, "127.0.0.1"), blocked=True)
    assert (await remote.post(org.inbox, _follow(alice, org), alice))[0] == 403
    await changed_elsewhere(lambda s: moderation.unblock_domain(s, "127.0.0.1"), blocked=False)
    assert (await remote.post(org.inbox, _follow(alice, org), alice))[0] == 202


def test_inbox__processing_holds_the_write_lock_briefly_while_a_burst_is_being_received():
    """The inbox writer and processing share SQLite's write lock: during a burst, a processing
    transaction's one-by-one part stops after a short budget (what batch handlers settle together
    is not bounded: it is cheap); once the burst is over, a longer one; one transaction a round, so
    that whether a burst goes on is asked again before each."""
    from federation.processing import BURST, BURST_BUDGET, QUIET_BUDGET, one_by_one_budget
    from federation.runtime import Runtime

    rt = Runtime(settings=None, sessions=None)
    rt.last_ingest = 100.0
    assert one_by_one_budget(rt, 100.0 + BURST / 2) == BURST_BUDGET
    assert one_by_one_budget(rt, 100.0 + BURST * 2) == QUIET_BUDGET
    assert BURST_BUDGET < QUIET_BUDGET


async def test_inbox__a_spent_budget_leaves_the_rows_not_reached_received_for_the_next_round(node, remote):
    """Processing's budget bounds a transaction's one-by-one rows: past it (after one row at
    least), the others stay received, untouched, and the next round processes them."""
    from federation.processing import process_batch

    org = await _org(node)
    people = [remote.add_actor(f"p{i}") for i in range(3)]
    for person in people:
        assert (await remote.post(org.inbox, _follow(person, org), person))[0] == 202

    async def states() -> list[str]:
        async with node.rt.sessions() as s:
            return list(await s.scalars(select(InboxActivity.state).order_by(InboxActivity.id)))

    assert await process_batch(node.rt, 10, budget=0.0) == 3
    assert await states() == ["processed", "received", "received"]
    assert await process_batch(node.rt, 10, budget=0.0) == 2
    assert await states() == ["processed", "processed", "received"]
    await node.step()
    assert await states() == ["processed"] * 3
    async with node.rt.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Follow).where(Follow.state == "accepted")) == 3


async def test_inbox__an_answer_to_a_server_sets_no_cookie(node, remote):
    """Server-to-server POSTs start no visitor session: neither a 202 nor a refusal carries a
    Set-Cookie (a session minted per activity was signed and sent for nothing)."""
    import aiohttp

    org = await _org(node)
    alice = remote.add_actor("alice")
    for doc in (_follow(alice, org), {**_follow(alice, org, "2"), "actor": "not an actor"}):
        body = json.dumps(doc).encode()
        headers = sign_headers("POST", org.inbox, body, alice.key_id, alice.private_pem)
        async with aiohttp.ClientSession() as http, http.post(org.inbox, data=body, headers=headers) as response:
            assert response.status in (202, 400, 401), response.status
            assert "Set-Cookie" not in response.headers
