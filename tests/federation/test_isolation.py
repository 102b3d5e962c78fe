"""One row fails alone (SECURITY.md rule 13) and out-of-range values are refused at the edge
(rule 14): a poison activity, an exception injected into a handler, into fan-out and into delivery
each fail only their own row, with their reason, and the queue moves on."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from federation import fanout, processing
from federation.delivery import DeliveryWorker
from federation.inbound import registry
from node.db import transaction
from node.models import (
    Activity,
    Contribution,
    Delivery,
    DeliveryStates,
    Follow,
    InboxActivity,
    InboxRefusal,
    OutboxEvent,
    utcnow,
)
from node.services import actors, outbox
from tests.federation.participation_scene import (
    contribute,
    make_activity,
    mastodon_reply,
    open_scene,
    outcome_of,
)

YEAR_ONE = "0001-01-01T00:00:00+01:00"


def _poison_reply(alice, note_id: str, scene) -> dict:
    doc = mastodon_reply(alice, 1, note_id, scene.group)
    doc["object"]["published"] = doc["published"] = YEAR_ONE
    return doc


async def _rows(node, model, *where):
    async with node.rt.sessions() as s:
        return list(await s.scalars(select(model).where(*where)))


async def _follow_answered(node, remote, bob, scene) -> None:
    """bob's Follow of the discussion is accepted, and bob received the Accept."""
    [follow] = await _rows(node, Follow)
    assert follow.state == "accepted"
    accepts = [d for d in remote.received if d["type"] == "Accept" and d["object"]["actor"] == bob.ap_id]
    assert len(accepts) == 1


async def test_isolation__year_one_reply_is_refused_at_intake_and_a_follow_goes_on(node, remote):
    """The year-0001 reply (OverflowError once moved to UTC) is a 400 with its reason, recorded
    for the admin; another actor's Follow right after is accepted and answered."""
    scene = await open_scene(node)
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
    note_id = await contribute(node, scene)
    status, body = await remote.post(scene.group_inbox, _poison_reply(alice, note_id, scene), alice)
    assert status == 400 and "out of range" in body["error"]
    follow = make_activity(bob, "Follow", 1, scene.group)
    assert (await remote.post(scene.group_inbox, follow, bob))[0] == 202
    await node.step()
    await _follow_answered(node, remote, bob, scene)
    await node.app[handlers_refusals()].close()
    [refusal] = await _rows(node, InboxRefusal)
    assert (refusal.status, refusal.type, refusal.actor) == (400, "Create", alice.ap_id)
    assert "out of range" in refusal.reason


def handlers_refusals():
    from federation.inbox import REFUSALS
    return REFUSALS


async def test_isolation__year_one_reply_stored_before_the_check_fails_alone(node, remote):
    """A poison row already in the inbox (stored by an older version) is processed in the same
    batch as a Follow: the Follow is accepted and answered, the reply has an outcome."""
    scene = await open_scene(node)
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
    note_id = await contribute(node, scene)
    poison = _poison_reply(alice, note_id, scene)
    async with transaction(node.rt.sessions) as s:
        s.add(InboxActivity(ap_id=poison["id"], type="Create", actor=alice.ap_id,
                            document=poison, state="received", received_at=utcnow()))
    assert (await remote.post(scene.group_inbox, make_activity(bob, "Follow", 1, scene.group), bob))[0] == 202
    await node.step()
    await _follow_answered(node, remote, bob, scene)
    # Its date cannot be moved to UTC: it is read as absent, and the reply is kept with the
    # time it was received (before, the OverflowError held every row behind it).
    assert await outcome_of(node, poison["id"]) == ("processed", "contribution stored")
    [stored] = await _rows(node, Contribution, Contribution.ap_id == poison["object"]["id"])
    assert stored.published.year == utcnow().year


async def test_isolation__exception_in_a_handler_fails_that_row_only(node, remote, monkeypatch):
    """Any exception (here OverflowError) raised while processing one activity marks that row
    failed with its reason; nothing it wrote stays; the Follow in the same batch is answered."""
    scene = await open_scene(node)
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
    note_id = await contribute(node, scene)
    real_create = registry.HANDLERS[("Create", "contribution")]

    async def exploding(ctx):
        await real_create(ctx)  # writes the contribution first: it must be rolled back
        raise OverflowError("date value out of range")

    monkeypatch.setitem(registry.HANDLERS, ("Create", "contribution"), exploding)
    reply = mastodon_reply(alice, 1, note_id, scene.group)
    assert (await remote.post(scene.group_inbox, reply, alice))[0] == 202
    assert (await remote.post(scene.group_inbox, make_activity(bob, "Follow", 1, scene.group), bob))[0] == 202
    await node.step()
    assert await outcome_of(node, reply["id"]) == ("failed", "error: OverflowError: date value out of range")
    assert await _rows(node, Contribution, Contribution.ap_id == reply["object"]["id"]) == []
    await _follow_answered(node, remote, bob, scene)


async def test_isolation__a_row_that_cannot_commit_gives_up_after_its_tries(node, remote, monkeypatch):
    """An error that looks transient (the database said no) is retried, but a row that keeps
    failing is failed after MAX_ATTEMPTS with its last error; the Follow beside it is answered."""
    scene = await open_scene(node)
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
    note_id = await contribute(node, scene)

    async def locked(ctx):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setitem(registry.HANDLERS, ("Create", "contribution"), locked)
    reply = mastodon_reply(alice, 1, note_id, scene.group)
    assert (await remote.post(scene.group_inbox, reply, alice))[0] == 202
    assert (await remote.post(scene.group_inbox, make_activity(bob, "Follow", 1, scene.group), bob))[0] == 202
    for _ in range(processing.MAX_ATTEMPTS):
        await processing.process_pending(node.rt)
    await node.step()
    [row] = await _rows(node, InboxActivity, InboxActivity.ap_id == reply["id"])
    assert (row.state, row.attempts) == ("failed", processing.MAX_ATTEMPTS)
    assert "database is locked" in row.error and "gave up" in row.error
    await _follow_answered(node, remote, bob, scene)


async def test_isolation__exception_in_fan_out_fails_that_event_only(node, remote, monkeypatch):
    """A builder that raises marks its event processed with the reason and sends nothing for it;
    the next event (an Accept) is built and delivered."""
    scene = await open_scene(node)
    bob = remote.add_actor("bob")

    async def broken(self, **payload):
        raise KeyError("no such field")

    monkeypatch.setitem(fanout.BUILDERS, "test.broken", broken)
    async with transaction(node.rt.sessions) as s:
        await outbox.emit(s, "test.broken", anything=1)
    assert (await remote.post(scene.group_inbox, make_activity(bob, "Follow", 1, scene.group), bob))[0] == 202
    await node.step()
    [event] = await _rows(node, OutboxEvent, OutboxEvent.kind == "test.broken")
    assert event.processed_at is not None and event.error == "KeyError: 'no such field'"
    await _follow_answered(node, remote, bob, scene)


async def test_isolation__exception_in_delivery_fails_that_row_only(node, remote, monkeypatch):
    """send() raising for one inbox (a bug, not the network) fails that delivery for good with its
    reason; the other inbox of the same activity is delivered."""
    from federation import delivery

    async with transaction(node.rt.sessions) as s:
        org = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        activity = Activity(ap_id=f"{org.ap_id}/a/1", actor_id=org.id, type="Create",
                            document={"id": f"{org.ap_id}/a/1", "type": "Create"})
        s.add(activity)
        await s.flush()
        good, bad = f"{remote.base}/users/bob/inbox", f"{remote.base}/users/carol/inbox"
        s.add_all([Delivery(activity_id=activity.id, inbox=i, host=remote.base.split("/")[2])
                   for i in (good, bad)])
    real_send = delivery.send

    async def send(http, inbox, payload, client_timeout):
        if inbox == bad:
            raise ValueError("cannot sign this")
        return await real_send(http, inbox, payload, client_timeout)

    monkeypatch.setattr(delivery, "send", send)
    worker = DeliveryWorker(node.settings, node.rt.sessions, node.rt.http)
    assert await worker.run_once() == 2
    rows = {r.inbox: r for r in await _rows(node, Delivery)}
    assert rows[good].state == DeliveryStates.delivered
    assert (rows[bad].state, rows[bad].error) == (DeliveryStates.failed, "ValueError: cannot sign this")
    assert await worker.run_once() == 0
    assert [json.dumps(d) for d in remote.received] == [json.dumps(activity.document)]


async def test_limits__inbox_posts_per_host_are_limited_with_retry_after(node, remote):
    """Over inbox_host_limit signed POSTs from one host, the next ones get 429 with Retry-After
    (counted in the shared counters, SECURITY.md rule 17); another host is not affected."""
    from dataclasses import replace

    from federation.inbox_limits import HOST_LIMITER

    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    limiter = node.app[HOST_LIMITER]
    limiter.runtime.settings = replace(limiter.runtime.settings, inbox_host_limit=3)
    for n in range(4):
        doc = make_activity(alice, "Follow", n, scene.group)
        assert (await remote.post(scene.group_inbox, doc, alice))[0] == 202
    await limiter.sync()
    status, body = await remote.post(scene.group_inbox, make_activity(alice, "Follow", 9, scene.group), alice)
    assert status == 429 and "too many activities" in body["error"]
    assert limiter.retry_after("elsewhere.example") is None


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(("field", "raw", "reason"), [
    ("nesting", _nested(1000), "nested more than 32 levels"),
    ("nesting", _nested(40), "nested more than 32 levels"),
    ("published", '"9999-12-31T23:59:59-14:00"', "out of range"),
    ("count", "NaN", "not a JSON number"),
    ("count", "1" + "0" * 30, "out of range"),
    ("content", '"a\\u0000b"', "NUL"),
])
async def test_bounds__out_of_range_values_are_400_and_nothing_is_stored(node, remote, field, raw, reason):
    """SECURITY.md rule 14: refused at intake with the reason, before anything is stored."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    doc = make_activity(alice, "Follow", 1, scene.group)
    body = json.dumps(doc)[:-1] + f', "{field}": {raw}}}'
    status, answer = await remote.post(scene.group_inbox, doc, alice, body=body.encode())
    assert status == 400 and reason in answer["error"]
    assert await _rows(node, InboxActivity) == []


async def test_bounds__a_lone_surrogate_is_400_and_does_not_fail_its_neighbours(node, remote):
    """"\\ud800" parses as JSON but PostgreSQL cannot store it: refused at intake (rule 14), so it
    never reaches the group commit that other POSTs share."""
    scene = await open_scene(node)
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
    doc = make_activity(alice, "Follow", 1, scene.group)
    body = json.dumps(doc)[:-1] + ', "summary": "\\ud800"}'
    status, answer = await remote.post(scene.group_inbox, doc, alice, body=body.encode())
    assert status == 400 and "surrogate" in answer["error"]
    assert (await remote.post(scene.group_inbox, make_activity(bob, "Follow", 1, scene.group), bob))[0] == 202


async def test_inbox_writer__a_row_the_database_refuses_fails_alone(node):
    """Group commit: when a batch cannot be written, each row is written alone and only the one
    the database refuses gets its error (a 503 for that POST); the others are stored."""
    import asyncio

    from federation.inbox import INBOX_WRITER

    writer = node.app[INBOX_WRITER]

    def row(n, ap_id=None):
        return {"ap_id": ap_id or f"https://a.example/{n}", "type": "Follow", "actor": "https://a.example/u",
                "recipient": None, "document": {"n": n}, "state": "received", "received_at": utcnow()}

    bad = row(2, ap_id=None)
    bad["type"] = None  # NOT NULL: the database refuses this row
    results = await asyncio.gather(writer.store(row(1)), writer.store(bad), writer.store(row(3)),
                                   return_exceptions=True)
    assert results[0] is None and results[2] is None and isinstance(results[1], Exception)
    stored = {r.ap_id for r in await _rows(node, InboxActivity)}
    assert stored == {"https://a.example/1", "https://a.example/3"}


async def test_inbox__an_unexpected_error_while_admitting_is_a_400_not_a_500(node, remote, monkeypatch):
    """A bug set off by one request (here in signature verification) answers 400 with a reason
    and is recorded (SECURITY.md rule 19); the next POST is admitted as usual."""
    from federation import inbox

    scene = await open_scene(node)
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
    real = inbox.verify_signed

    async def verify(request, body):
        if b"/users/alice" in body:
            raise KeyError("publicKeyPem")
        return await real(request, body)

    monkeypatch.setattr(inbox, "verify_signed", verify)
    status, body = await remote.post(scene.group_inbox, make_activity(alice, "Follow", 1, scene.group), alice)
    assert (status, body) == (400, {"error": "the activity could not be checked (KeyError)"})
    assert (await remote.post(scene.group_inbox, make_activity(bob, "Follow", 1, scene.group), bob))[0] == 202


async def test_refusals__a_refused_document_with_a_lone_surrogate_is_still_recorded(node, remote):
    """What the sender wrote is made storable before the refusal is written (rule 21)."""
    from federation.inbox import REFUSALS

    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    doc = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{alice.ap_id}/x/1",
           "type": "SURROGATE", "actor": alice.ap_id, "object": scene.group}
    body = json.dumps(doc).replace("SURROGATE", "\\ud800").encode()
    status, _ = await remote.post(scene.group_inbox, doc, alice, body=body)
    assert status == 400
    await node.app[REFUSALS].close()
    [refusal] = await _rows(node, InboxRefusal)
    assert refusal.actor == alice.ap_id and "surrogate" in refusal.reason
