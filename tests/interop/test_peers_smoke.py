"""The interop harness itself: Fedify, bovine-herd and pasture talk to each other, without our node."""

from __future__ import annotations

import uuid

import pytest

from tests.interop.peers import FedifyPeer, HerdPeer, http_json

SIGNING_ACTORS = {"bob", "claire", "emily", "frank"}
ALL_ACTORS = {"alice", "bob", "claire", "dean", "emily", "frank"}


def object_of(activity: dict) -> dict:
    value = activity.get("object")
    return value if isinstance(value, dict) else {"id": value}


def id_of(value) -> str | None:
    return value.get("id") if isinstance(value, dict) else value


@pytest.fixture(scope="module")
def fedify_follows_herd(fedify_peer: FedifyPeer, herd_peer: HerdPeer) -> dict:
    """Fedify's alice follows herd's alice; returns the Accept Fedify received."""
    sent = fedify_peer.follow(herd_peer.actor_id)
    follow_id = sent["activity"]["id"]
    fedify_peer.wait_for_accepted(herd_peer.actor_id)
    return fedify_peer.wait_for_inbox(lambda a: a["type"] == "Accept" and a["object"] == follow_id)


def test_fedify_follow__herd_auto_accepts(fedify_follows_herd, fedify_peer, herd_peer):
    """herd answers Fedify's signed Follow with an Accept of that Follow and lists the follower."""
    accept = fedify_follows_herd
    assert accept["actor"] == herd_peer.actor_id
    assert object_of(accept["raw"])["type"] == "Follow"
    assert id_of(object_of(accept["raw"])["actor"]) == fedify_peer.actor_url
    assert fedify_peer.actor_url in herd_peer.wait_for_follower(fedify_peer.actor_url)


def test_herd_follow__fedify_accepts(fedify_peer, herd_peer):
    """Fedify answers herd's Follow with Accept; both sides record the relation."""
    follow_id = herd_peer.follow(fedify_peer.actor_url)
    accept = herd_peer.wait_for_inbox(
        lambda a: a.get("type") == "Accept" and id_of(a.get("object")) == follow_id
    )
    assert accept["actor"] == fedify_peer.actor_url
    followers = {f["id"]: f for f in fedify_peer.followers()}
    assert followers[herd_peer.actor_id]["followId"] == follow_id
    assert fedify_peer.actor_url in herd_peer.following()


def test_herd_post__reaches_fedify_follower(fedify_follows_herd, fedify_peer, herd_peer):
    """A public Note herd's alice posts through her outbox arrives, verified, at her Fedify follower."""
    text = f"herd says {uuid.uuid4()}"
    created = herd_peer.post(f"<p>{text}</p>")
    entry = fedify_peer.wait_for_inbox(
        lambda a: a["type"] == "Create" and text in str(object_of(a["raw"]).get("content"))
    )
    assert entry["actor"] == herd_peer.actor_id
    assert entry["object"] == created["note"]
    assert entry["id"] == created["id"]


def test_fedify_post__reaches_herd(fedify_peer, herd_peer):
    """A Note Fedify addresses to herd's alice lands in her inbox with its content and author."""
    text = f"fedify says {uuid.uuid4()}"
    sent = fedify_peer.post(f"<p>{text}</p>", to=[herd_peer.actor_id])
    assert sent["recipients"] == [herd_peer.actor_id]
    create = herd_peer.wait_for_inbox(
        lambda a: a.get("type") == "Create" and text in str(object_of(a).get("content"))
    )
    assert create["actor"] == fedify_peer.actor_url
    assert id_of(create["object"]) == sent["note"]


def test_fedify_like__reaches_herd(fedify_peer, herd_peer):
    """Fedify's Like of a herd note, sent to its author (found through a signed GET), arrives."""
    note = herd_peer.post(f"<p>like me {uuid.uuid4()}</p>")["note"]
    like = fedify_peer.like(note)["activity"]
    received = herd_peer.wait_for_inbox(lambda a: a.get("id") == like["id"])
    assert received["type"] == "Like"
    assert id_of(received["object"]) == note


def test_herd_unfollow__fedify_drops_follower(fedify_peer, herd_peer):
    """Undo(Follow) from herd removes herd's alice from Fedify's followers."""
    follow_id = herd_peer.follow(fedify_peer.actor_url)
    herd_peer.wait_for_inbox(
        lambda a: a.get("type") == "Accept" and id_of(a.get("object")) == follow_id
    )
    herd_peer.unfollow(fedify_peer.actor_url)
    fedify_peer.wait_for_inbox(lambda a: a["type"] == "Undo" and a["object"] == follow_id)
    assert herd_peer.actor_id not in {f["id"] for f in fedify_peer.followers()}


def test_fedify__rejects_unsigned_post(fedify_peer):
    """The Fedify peer verifies signatures: an unsigned Create is refused and never recorded."""
    activity_id = f"http://127.0.0.9:9/{uuid.uuid4()}"
    activity = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": activity_id,
        "type": "Create",
        "actor": "http://127.0.0.9:9/mallory",
        "object": {"type": "Note", "content": "forged"},
    }
    status, _ = http_json("POST", f"{fedify_peer.actor_url}/inbox", activity)
    assert status in (400, 401)
    assert activity_id not in {a["id"] for a in fedify_peer.inbox()}


def test_wait_for_inbox__times_out(fedify_peer):
    """A wait that is never satisfied fails within its bound instead of hanging."""
    with pytest.raises(TimeoutError):
        fedify_peer.wait_for_inbox(lambda a: a["id"] == "urn:never", timeout=0.5)


def test_pasture__verifies_fedify_actor(pasture, fedify_peer):
    """All six pasture actors fetch Fedify's alice; only the signing ones may post to her inbox."""
    result = pasture.verify(fedify_peer.actor_url)
    assert result.fetched() == ALL_ACTORS
    assert result.posted() == SIGNING_ACTORS
    assert result.webfinger


def test_pasture__verifies_herd_actor(pasture, herd_peer):
    """herd requires signed GETs: the unsigned pasture actors cannot even fetch its actor."""
    result = pasture.verify(herd_peer.actor_id)
    assert result.fetched() == SIGNING_ACTORS
    assert result.posted() == SIGNING_ACTORS
