"""Acceptance: our node federates with independent ActivityPub implementations on loopback.

Our node is a real `civic serve` process (tests/interop/node_process.py) set up with `civic init`
and `civic org create lyon`; announcements and follows go through `civic org announce` and
`civic org follow` against its data directory, as an administrator would run them. What the node
stored is read back from its database with the node's own services.

- bovine-herd and Fedify 1.5 each: follow the organisation by its `acct:` handle and get its
  signed Accept; receive its next announcement; are followed by it and auto-accept; and their
  next post reaches the organisation's timeline. Both peers only take signed POSTs (each test
  shows the peer's check is real), so their acceptance proves our HTTP signatures.
- fediverse-pasture `verify_actor`: its signing test actors fetch our actor and POST to its inbox;
  the unsigned ones are refused with 401.

SQLite only: the node runs as `civic init` sets it up (SQLite in the data directory, inbox
processing, fan-out and delivery inside `civic serve`); PostgreSQL is covered by tests/federation.
Restart robustness is not tested here.
"""

from __future__ import annotations

import html
import re
import uuid

import pytest

from tests.interop.node_process import CivicNode, serving
from tests.interop.peers import (
    FedifyPeer,
    HerdPeer,
    PastureVerifier,
    VerifyResult,
    http_json,
    wait_for,
)

ORG, ORG_NAME = "lyon", "Ville de Lyon"
WAIT = 30.0  # seconds: the node's fan-out picks up a CLI announcement within 5 s when idle
SIGNING_ACTORS = {"bob", "claire", "emily", "frank"}
UNSIGNED_ACTORS = {"alice", "dean"}
ACTIVITY_JSON = "application/activity+json"


def id_of(value) -> str | None:
    return value.get("id") if isinstance(value, dict) else value


def text_of(content: str) -> str:
    """The text of an HTML `content` (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]*>", "", content or ""))


def self_link(jrd: dict) -> str | None:
    """The actor id a WebFinger JRD points to (rel=self, AS2 type)."""
    for link in jrd.get("links") or []:
        if link.get("rel") == "self" and link.get("type") == ACTIVITY_JSON:
            return link.get("href")
    return None


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory):
    """`civic serve` on 127.0.0.5 (port 8005 unless taken) with organisation lyon."""
    yield from serving(tmp_path_factory.mktemp("civic"), {ORG: ORG_NAME})


@pytest.fixture(scope="module")
def org_url(node: CivicNode) -> str:
    return node.actor_url(ORG)


def wait_following(node: CivicNode, follower: str, followed: str) -> None:
    """Until the node records `follower` -> `followed` as accepted."""
    wait_for(
        lambda: node.follow_state(follower, followed) == "accepted",
        WAIT,
        f"{follower} following {followed} accepted in our database",
        interval=0.2,
    )


def our_follow_of(node: CivicNode, target: str) -> dict:
    """The Follow activity our node sent to `target` (its delivery row)."""
    follows = [
        d
        for d in node.deliveries()
        if d["type"] == "Follow" and id_of(d["document"].get("object")) == target
    ]
    assert len(follows) == 1, follows
    return follows[0]


def wait_timeline_note(node: CivicNode, note_id: str) -> dict:
    """The note `note_id` once it shows in lyon's timeline (posts of the actors lyon follows)."""
    return wait_for(
        lambda: next((n for n in node.timeline(ORG) if n["id"] == note_id), None),
        WAIT,
        f"{note_id} in {ORG}'s timeline",
        interval=0.2,
    )


def inbox_row(node: CivicNode, actor: str, activity_id: str) -> dict:
    rows = [r for r in node.inbox(actor) if r["id"] == activity_id]
    assert len(rows) == 1, rows
    return rows[0]


# ---- bovine-herd ----


@pytest.fixture(scope="module")
def herd_follows_org(node: CivicNode, herd_peer: HerdPeer, org_url: str):
    """herd's alice looks lyon up by acct: handle (herd's WebFinger client) and follows it."""
    found = herd_peer.lookup(node.acct(ORG))
    follow_id = herd_peer.follow(id_of(found))
    accept = herd_peer.wait_for_inbox(
        lambda a: a.get("type") == "Accept" and id_of(a.get("object")) == follow_id, timeout=WAIT
    )
    yield {"found": found, "follow_id": follow_id, "accept": accept}
    # The peers outlive this module's node: unwind the relation while the node still runs.
    herd_peer.unfollow(id_of(found))


@pytest.fixture(scope="module")
def org_follows_herd(node: CivicNode, herd_peer: HerdPeer, org_url: str):
    """`civic org follow lyon acct:alice@herd`; returns the actor id the command resolved."""
    followed = node.follow(ORG, herd_peer.handle)
    wait_following(node, org_url, herd_peer.actor_id)
    yield followed
    # herd must not keep delivering to this module's node once it is gone.
    node.civic("org", "follow", ORG, herd_peer.handle, "--undo")
    wait_for(
        lambda: org_url not in herd_peer.followers(), WAIT, f"herd to drop {org_url}", interval=0.2
    )


def test_herd_follow__by_acct_gets_signed_accept(node, herd_peer, org_url, herd_follows_org):
    """herd resolves acct:lyon@node through WebFinger, follows, and takes lyon's signed Accept."""
    found, follow_id = herd_follows_org["found"], herd_follows_org["follow_id"]
    accept = herd_follows_org["accept"]
    assert found["id"] == org_url
    assert found["type"] == "Organization"
    assert id_of(accept["actor"]) == org_url
    assert accept["id"].startswith(f"{node.base_url}/activities/")
    inner = accept["object"]
    assert (inner["id"], inner["type"]) == (follow_id, "Follow")
    assert id_of(inner["actor"]) == herd_peer.actor_id
    assert id_of(inner["object"]) == org_url
    assert node.follow_state(herd_peer.actor_id, org_url) == "accepted"
    # herd processed the Accept: lyon is among the accounts its alice follows.
    assert org_url in herd_peer.following()
    sent = node.wait_delivered(accept["id"])
    assert 200 <= sent["last_status"] < 300
    # herd checks signatures: the very same Accept, unsigned, is refused.
    status, _ = http_json("POST", sent["inbox"], sent["document"])
    assert status == 401


def test_org_announce__reaches_herd_follower(node, herd_peer, org_url, herd_follows_org):
    """`civic org announce` on the running node delivers a signed Create(Note) that herd stores."""
    text = f"Clos Jouve: atelier samedi {uuid.uuid4()}"
    note_id = node.announce(ORG, text)
    create = herd_peer.wait_for_inbox(
        lambda a: a.get("type") == "Create" and id_of(a.get("object")) == note_id, timeout=WAIT
    )
    assert id_of(create["actor"]) == org_url
    note = create["object"]
    assert note["type"] == "Note"
    assert id_of(note["attributedTo"]) == org_url
    assert text in text_of(note["content"])
    sent = node.wait_delivered(create["id"])
    assert 200 <= sent["last_status"] < 300


def test_org_follow__herd_auto_accepts(node, herd_peer, org_url, org_follows_herd):
    """`civic org follow lyon acct:alice@herd` resolves herd's opaque actor id; herd accepts."""
    assert org_follows_herd == herd_peer.actor_id
    follow = our_follow_of(node, herd_peer.actor_id)
    assert follow["state"] == "delivered"
    accepts = [r for r in node.inbox(herd_peer.actor_id) if r["type"] == "Accept"]
    assert [id_of(r["document"]["object"]) for r in accepts] == [follow["activity"]]
    assert accepts[0]["state"] == "processed"
    assert org_url in herd_peer.wait_for_follower(org_url)


def test_herd_post__reaches_org_timeline(node, herd_peer, org_url, org_follows_herd):
    """The next Note herd's alice posts arrives signed and lands in lyon's timeline."""
    text = f"herd: réunion tramway {uuid.uuid4()}"
    created = herd_peer.post(f"<p>{text}</p>")
    note = wait_timeline_note(node, created["note"])
    assert note["actor"] == herd_peer.actor_id
    assert text in text_of(note["content"])
    assert not note["local"]
    row = inbox_row(node, herd_peer.actor_id, created["id"])
    assert (row["type"], row["state"], row["error"]) == ("Create", "processed", "note stored")


# ---- Fedify ----


@pytest.fixture(scope="module")
def fedify_follows_org(node: CivicNode, fedify_peer: FedifyPeer, org_url: str):
    """Fedify's alice follows lyon. Fedify 1.5 resolves acct: over https only, so the handle is
    resolved through our WebFinger here and Fedify gets the actor URL it names."""
    status, jrd = node.webfinger(node.acct(ORG))
    assert status == 200, jrd
    sent = fedify_peer.follow(self_link(jrd))
    follow_id = sent["activity"]["id"]
    following = fedify_peer.wait_for_accepted(org_url, timeout=WAIT)
    accept = fedify_peer.wait_for_inbox(
        lambda a: a["type"] == "Accept" and a["object"] == follow_id, timeout=WAIT
    )
    yield {"jrd": jrd, "sent": sent, "following": following, "accept": accept}
    fedify_peer.unfollow(org_url)


@pytest.fixture(scope="module")
def org_follows_fedify(node: CivicNode, fedify_peer: FedifyPeer, org_url: str):
    """`civic org follow lyon acct:alice@fedify` (our WebFinger client, over http in development)."""
    followed = node.follow(ORG, fedify_peer.handle)
    wait_following(node, org_url, fedify_peer.actor_url)
    yield followed
    # Fedify delivers to every follower at once and fails a post when one is unreachable.
    node.civic("org", "follow", ORG, fedify_peer.handle, "--undo")
    wait_for(
        lambda: org_url not in {f["id"] for f in fedify_peer.followers()},
        WAIT,
        f"Fedify to drop {org_url}",
        interval=0.2,
    )


def test_fedify_follow__by_acct_gets_signed_accept(node, fedify_peer, org_url, fedify_follows_org):
    """Our WebFinger maps acct:lyon@node to lyon; Fedify follows it and verifies lyon's Accept."""
    jrd, sent = fedify_follows_org["jrd"], fedify_follows_org["sent"]
    accept = fedify_follows_org["accept"]
    assert jrd["subject"] == node.acct(ORG)
    assert self_link(jrd) == org_url
    assert sent["recipients"] == [org_url]
    assert fedify_follows_org["following"]["followId"] == sent["activity"]["id"]
    assert accept["actor"] == org_url
    assert accept["id"].startswith(f"{node.base_url}/activities/")
    inner = accept["raw"]["object"]
    assert inner["type"] == "Follow"
    assert id_of(inner["actor"]) == fedify_peer.actor_url
    assert node.follow_state(fedify_peer.actor_url, org_url) == "accepted"
    assert 200 <= node.wait_delivered(accept["id"])["last_status"] < 300
    assert fedify_peer.errors() == []


def test_org_announce__reaches_fedify_follower(node, fedify_peer, org_url, fedify_follows_org):
    """Fedify verifies the signature and origin of lyon's Create(Note) from `civic org announce`."""
    text = f"Presqu'île: consultation ouverte {uuid.uuid4()}"
    note_id = node.announce(ORG, text)
    create = fedify_peer.wait_for_inbox(
        lambda a: a["type"] == "Create" and a["object"] == note_id, timeout=WAIT
    )
    assert create["actor"] == org_url
    raw_note = create["raw"]["object"]
    assert raw_note["type"] == "Note"
    assert raw_note["attributedTo"] == org_url
    assert text in text_of(raw_note["content"])
    assert 200 <= node.wait_delivered(create["id"])["last_status"] < 300
    assert fedify_peer.errors() == []


def test_org_follow__fedify_accepts(node, fedify_peer, org_url, org_follows_fedify):
    """`civic org follow lyon acct:alice@fedify` is verified and accepted by Fedify."""
    assert org_follows_fedify == fedify_peer.actor_url
    follow = our_follow_of(node, fedify_peer.actor_url)
    followers = {f["id"]: f for f in fedify_peer.followers()}
    assert followers[org_url]["followId"] == follow["activity"]
    accepts = [r for r in node.inbox(fedify_peer.actor_url) if r["type"] == "Accept"]
    assert [id_of(r["document"]["object"]) for r in accepts] == [follow["activity"]]
    assert accepts[0]["state"] == "processed"


def test_fedify_post__reaches_org_timeline(node, fedify_peer, org_url, org_follows_fedify):
    """The next Note Fedify's alice posts to her followers lands in lyon's timeline."""
    text = f"fedify: budget participatif {uuid.uuid4()}"
    sent = fedify_peer.post(f"<p>{text}</p>")
    assert org_url in sent["recipients"]
    note = wait_timeline_note(node, sent["note"])
    assert note["actor"] == fedify_peer.actor_url
    assert text in text_of(note["content"])
    row = inbox_row(node, fedify_peer.actor_url, sent["activity"]["id"])
    assert (row["type"], row["state"], row["error"]) == ("Create", "processed", "note stored")


# ---- fediverse-pasture verify_actor ----


@pytest.fixture(scope="module")
def pasture_verdict(node: CivicNode, pasture: PastureVerifier, org_url: str) -> VerifyResult:
    return pasture.verify(org_url)


def test_pasture_verify_actor__signed_actors_fetch_and_post(node, pasture, pasture_verdict):
    """pasture's four signing actors fetch lyon and their signed POSTs are stored by our inbox."""
    assert pasture_verdict.fetched() == SIGNING_ACTORS | UNSIGNED_ACTORS
    assert pasture_verdict.posted() == SIGNING_ACTORS
    assert pasture_verdict.webfinger
    stored = {r["actor"] for r in node.inbox() if r["actor"].startswith(pasture.base_url)}
    assert stored == {f"{pasture.base_url}/{name}" for name in SIGNING_ACTORS}


def test_pasture_verify_actor__unsigned_post_refused(node, pasture, pasture_verdict):
    """The unsigned actors' POSTs get 401 and leave nothing in our inbox."""
    for name in UNSIGNED_ACTORS:
        assert not pasture_verdict.actors[name].post_inbox
        assert "Got 401 for unsigned POST" in pasture_verdict.steps_of(name), name
        assert node.inbox(f"{pasture.base_url}/{name}") == []
