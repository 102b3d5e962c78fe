"""Retention: old copies of remote posts nobody here cares about and finished log rows go; what
erasure, replays and the consultation's record need stays."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from node.db import transaction
from node.models import (
    Activity,
    Actor,
    Delivery,
    Follow,
    FollowStates,
    InboxActivity,
    InboxRefusal,
    ModerationLogEntry,
    Note,
    OutboxEvent,
    utcnow,
)
from node.services import actors, retention

OLD, RECENT = timedelta(days=400), timedelta(days=1)


async def _seed(session, uris) -> dict:
    now = utcnow()
    lyon = await actors.create_organization(session, uris, "lyon", "Ville de Lyon")
    authors = {}
    for name in ("gone", "followed", "answered"):
        authors[name] = Actor(ap_id=f"https://far.example/users/{name}", type="Person", local=False,
                              username=name, domain="far.example", inbox=f"https://far.example/users/{name}/inbox")
        session.add(authors[name])
    await session.flush()
    session.add(Follow(ap_id="https://x.example/f/1", follower_id=lyon.id, followed_id=authors["followed"].id,
                       state=FollowStates.accepted))
    notes = {
        "old_unfollowed": Note(ap_id="https://far.example/n/1", actor_id=authors["gone"].id, published=now - OLD),
        "recent": Note(ap_id="https://far.example/n/2", actor_id=authors["gone"].id, published=now - RECENT),
        "tombstone": Note(ap_id="https://far.example/n/3", actor_id=authors["gone"].id, published=now - OLD,
                          deleted_at=now - OLD),
        "followed": Note(ap_id="https://far.example/n/4", actor_id=authors["followed"].id, published=now - OLD),
        "answered": Note(ap_id="https://far.example/n/5", actor_id=authors["answered"].id, published=now - OLD),
    }
    session.add_all(notes.values())
    session.add(Note(ap_id=uris.note("reply"), actor_id=lyon.id, local=True, in_reply_to="https://far.example/n/5"))
    session.add_all([
        InboxActivity(ap_id="https://far.example/a/1", type="Like", actor="x", document={}, state="processed",
                      received_at=now - OLD),
        InboxActivity(ap_id="https://far.example/a/2", type="Like", actor="x", document={}, state="received",
                      received_at=now - OLD),
        InboxActivity(ap_id="https://far.example/a/3", type="Like", actor="x", document={}, state="processed",
                      received_at=now - RECENT),
        InboxRefusal(status=401, reason="bad signature", received_at=now - OLD),
        InboxRefusal(status=401, reason="bad signature", received_at=now - RECENT),
        OutboxEvent(kind="note.created", payload={}, created_at=now - OLD, processed_at=now - OLD),
        OutboxEvent(kind="note.created", payload={}, created_at=now - OLD),
        ModerationLogEntry(action="hide", target_kind="contribution", target_ap_id="x", created_at=now - OLD),
        ModerationLogEntry(action="hide", target_kind="contribution", target_ap_id="y", created_at=now - RECENT),
    ])
    follow = Activity(ap_id=uris.activity("f"), actor_id=lyon.id, type="Follow", document={})
    create = Activity(ap_id=uris.activity("c"), actor_id=lyon.id, type="Create", document={})
    session.add_all([follow, create])
    await session.flush()
    old = now - OLD
    session.add_all([
        Delivery(activity_id=follow.id, inbox="https://far.example/inbox", host="far.example", state="delivered",
                 created_at=old),
        Delivery(activity_id=create.id, inbox="https://far.example/inbox", host="far.example", state="delivered",
                 created_at=old),
        Delivery(activity_id=create.id, inbox="https://other.example/inbox", host="other.example", state="failed",
                 created_at=old),
    ])
    await session.flush()
    return {"lyon": lyon.id}


def _settings(settings):
    return replace(settings, retention_remote_days=180, retention_log_days=90)


async def _count(session, model, *where) -> int:
    return await session.scalar(select(func.count()).select_from(model).where(*where))


EXPECTED = {"notes": 1, "inbox_activities": 1, "inbox_refusals": 1, "deliveries": 2, "outbox_events": 1,
            "moderation_log": 1, "erased_keys": 0}


async def test_retention_apply__removes_only_what_the_settings_let_go(settings, sessions, uris):
    """Exactly the old unfollowed, unanswered remote note and the old finished log rows go."""
    async with transaction(sessions) as session:
        await _seed(session, uris)
    async with transaction(sessions) as session:
        counts = await retention.apply(session, _settings(settings))
    assert counts == EXPECTED
    async with sessions() as session:
        kept = set(await session.scalars(select(Note.ap_id).where(Note.local.is_(False))))
        assert kept == {f"https://far.example/n/{n}" for n in (2, 3, 4, 5)}
        assert set(await session.scalars(select(InboxActivity.ap_id))) == {
            "https://far.example/a/2", "https://far.example/a/3"}
        assert await _count(session, InboxRefusal) == 1
        assert await _count(session, OutboxEvent) == 1
        assert await _count(session, ModerationLogEntry) == 1
        # The delivered Create stays: it says who holds a copy, for a later erasure.
        assert [d.state for d in await session.scalars(select(Delivery))] == ["delivered"]


async def test_retention_apply__dry_run_counts_and_removes_nothing(settings, sessions, uris):
    """--dry-run reports the same counts and leaves every row in place."""
    async with transaction(sessions) as session:
        await _seed(session, uris)
    async with transaction(sessions) as session:
        counts = await retention.apply(session, _settings(settings), dry_run=True)
    assert counts == EXPECTED
    async with sessions() as session:
        assert await _count(session, Note, Note.local.is_(False)) == 5
        assert await _count(session, Delivery) == 3


async def test_retention_apply__zero_keeps_forever(settings, sessions, uris):
    """With both settings at 0 nothing is removed."""
    async with transaction(sessions) as session:
        await _seed(session, uris)
    async with transaction(sessions) as session:
        counts = await retention.apply(session, replace(settings, retention_remote_days=0, retention_log_days=0))
    assert counts == {"erased_keys": 0}


@pytest.mark.parametrize("queued", [True, False])
async def test_retention_apply__erased_private_key_goes_once_its_deletes_are_sent(settings, sessions, uris, queued):
    """An erased person's private key stays while a delivery of theirs is queued, then goes."""
    async with transaction(sessions) as session:
        user = await actors.create_user(session, uris, "amel", "password-123")
        user.actor.deleted_at = utcnow()
        activity = Activity(ap_id=uris.activity("d"), actor_id=user.actor.id, type="Delete", document={})
        session.add(activity)
        await session.flush()
        session.add(Delivery(activity_id=activity.id, inbox="https://far.example/inbox", host="far.example",
                             state="queued" if queued else "delivered"))
    async with transaction(sessions) as session:
        counts = await retention.apply(session, settings)
    async with sessions() as session:
        key = await session.scalar(select(Actor.private_key_pem).where(Actor.username == "amel"))
    assert counts["erased_keys"] == (0 if queued else 1)
    assert (key is not None) is queued
