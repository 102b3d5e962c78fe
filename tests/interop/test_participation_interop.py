"""Acceptance: Fedify and bovine-herd take part in a discussion of a real `civic serve`.

The node runs as users run it (`civic init`, `civic org create lyon`, `civic serve`); the
discussion, a local participant, her contribution and a proposal are written with the node's
services (tests/interop/participation_setup.py) and the running node federates them.

- Fedify 1.5 follows the discussion's Group by its URL (the Group accepts), receives the group's
  Announce(Create) and Announce(<note id>) of a new contribution, replies to the discussion page
  (the reply becomes a contribution by Fedify's actor), likes a proposal (a support), undoes the
  Like, and deletes its reply (the contribution is tombstoned).
- bovine-herd follows the Group, replies to the page, likes the proposal and undoes the Like.

Both peers sign every request and check ours, so each step also proves the signatures.
"""

from __future__ import annotations

import html
import re
import urllib.request
import uuid

import pytest

from tests.interop import participation_setup as setup
from tests.interop.node_process import CivicNode, serving
from tests.interop.peers import FedifyPeer, HerdPeer, wait_for

ORG, ORG_NAME = "lyon", "Ville de Lyon"
WAIT = 30.0  # seconds: the node's fan-out picks up events written by another process within 5 s


def id_of(value) -> str | None:
    return value.get("id") if isinstance(value, dict) else value


def text_of(content: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", content or ""))


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory):
    """`civic serve` on 127.0.0.9 (port 8009 unless taken) with organisation lyon."""
    yield from serving(tmp_path_factory.mktemp("civic-participation"), {ORG: ORG_NAME}, host="127.0.0.9", port=8009)


@pytest.fixture(scope="module")
def scene(node: CivicNode) -> dict:
    """Discussion lyon.clos-jouve, resident amel, and amel's published proposal in it."""
    amel = setup.create_user(node, "amel", "Amel")
    discussion = setup.open_discussion(node, ORG, "clos-jouve", "Clos Jouve")
    proposal = setup.publish_proposal(node, ORG, "amel", "Des bancs au Clos Jouve", discussion["id"])
    return {**discussion, "amel": amel, "proposal": proposal}


def wait_contribution(node: CivicNode, ap_id: str, **expected) -> dict:
    """The stored contribution `ap_id` once it exists with the `expected` fields."""
    return wait_for(
        lambda: (c := setup.contribution(node, ap_id)) and all(c[k] == v for k, v in expected.items()) and c,
        WAIT, f"contribution {ap_id} with {expected}", interval=0.2)


def wait_supports(node: CivicNode, proposal: str, count: int) -> None:
    wait_for(lambda: setup.support_count(node, proposal) == count, WAIT,
             f"{count} support(s) of {proposal}", interval=0.2)


def html_page(url: str) -> str | None:
    """The discussion's HTML page when the web layer serves one, else None."""
    request = urllib.request.Request(url, headers={"Accept": "text/html"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read().decode("utf-8")
    except OSError:
        return None


def announces_create_of(note_id: str):
    """Matches an Announce, as it was POSTed, that embeds the Create of `note_id` (FEP-1b12)."""

    def check(item: dict) -> bool:
        inner = (item.get("raw") or {}).get("object")
        return item["type"] == "Announce" and isinstance(inner, dict) and \
            id_of(inner.get("object")) == note_id

    return check


def inbox_outcome(node: CivicNode, actor: str, activity_id: str) -> tuple[str, str]:
    row = next(r for r in node.inbox(actor) if r["id"] == activity_id)
    return row["state"], row["error"]


# ---- Fedify


@pytest.fixture(scope="module")
def fedify_follows_group(node: CivicNode, fedify_peer: FedifyPeer, scene: dict):
    """Fedify's alice follows the discussion's Group by its URL; the Group's Accept arrives."""
    sent = fedify_peer.follow(scene["group"])
    following = fedify_peer.wait_for_accepted(scene["group"], timeout=WAIT)
    yield {"sent": sent, "following": following}
    fedify_peer.unfollow(scene["group"])


def test_fedify_follow_group__accepted_by_the_group(node, fedify_peer, scene, fedify_follows_group):
    """Fedify resolves the Group actor, follows it, and verifies the Group's signed Accept."""
    follow_id = fedify_follows_group["sent"]["activity"]["id"]
    accept = fedify_peer.wait_for_inbox(
        lambda a: a["type"] == "Accept" and a["object"] == follow_id, timeout=WAIT)
    assert accept["actor"] == scene["group"]
    assert node.follow_state(fedify_peer.actor_url, scene["group"]) == "accepted"
    assert fedify_peer.errors() == []


def test_fedify_follower__receives_both_announces_of_a_contribution(
        node, fedify_peer, scene, fedify_follows_group):
    """A local contribution reaches Fedify as the Group's Announce(Create) and Announce(<id>)."""
    text = f"Un jardin partagé {uuid.uuid4()}"
    note_id = setup.contribute(node, scene["id"], "amel", f"<p>{text}</p>")
    by_id = fedify_peer.wait_for_inbox(
        lambda a: a["type"] == "Announce" and a["object"] == note_id, timeout=WAIT)
    wrapped = fedify_peer.wait_for_inbox(announces_create_of(note_id), timeout=WAIT)
    for announce in (by_id, wrapped):
        assert announce["actor"] == scene["group"]
    create = wrapped["raw"]["object"]
    assert (create["type"], create["actor"]) == ("Create", scene["amel"])
    assert text in text_of(create["object"]["content"])
    assert create["object"]["audience"] == scene["group"]
    assert 200 <= node.wait_delivered(wrapped["id"])["last_status"] < 300
    assert fedify_peer.errors() == []


@pytest.fixture(scope="module")
def fedify_reply(node: CivicNode, fedify_peer: FedifyPeer, scene: dict) -> dict:
    """Fedify's alice replies to the discussion page, addressed to the Group."""
    text = f"fedify: des arbres fruitiers {uuid.uuid4()}"
    sent = fedify_peer.post(f"<p>{text}</p>", in_reply_to=scene["page"], to=[scene["group"]])
    return {"text": text, **sent}


def test_fedify_reply__becomes_a_contribution(node, fedify_peer, scene, fedify_reply):
    """The reply is stored as a contribution by Fedify's actor (and shown on the page if any)."""
    assert scene["group"] in fedify_reply["recipients"]
    stored = wait_contribution(node, fedify_reply["note"])
    assert (stored["author"], stored["discussion"], stored["parent"]) == \
        (fedify_peer.actor_url, scene["id"], None)
    assert fedify_reply["text"] in text_of(stored["content"])
    assert inbox_outcome(node, fedify_peer.actor_url, fedify_reply["activity"]["id"]) == \
        ("processed", "contribution stored")
    # FEP-1b12: the Group re-sends Fedify's Create unchanged, and Announce(<note id>).
    wrapped = fedify_peer.wait_for_inbox(announces_create_of(fedify_reply["note"]), timeout=WAIT)
    assert wrapped["raw"]["object"]["id"] == fedify_reply["activity"]["id"]
    fedify_peer.wait_for_inbox(
        lambda a: a["type"] == "Announce" and a["object"] == fedify_reply["note"], timeout=WAIT)
    assert fedify_peer.errors() == []
    page = html_page(scene["page"])
    if page is not None:  # the web layer's discussion page, once it exists
        assert fedify_reply["text"] in html.unescape(page)


def test_fedify_like__supports_the_proposal_and_undo_removes_it(node, fedify_peer, scene):
    """Like(proposal) sent to its author is a support; Undo(Like) takes it back."""
    sent = fedify_peer.like(scene["proposal"], to=scene["amel"])
    assert sent["recipients"] == [scene["amel"]]
    wait_supports(node, scene["proposal"], 1)
    fedify_peer.undo_like(scene["proposal"])
    wait_supports(node, scene["proposal"], 0)


def test_fedify_delete__tombstones_the_contribution(node, fedify_peer, scene, fedify_reply):
    """Delete(Tombstone) of the reply by its author removes the contribution."""
    wait_contribution(node, fedify_reply["note"], deleted=False)
    sent = fedify_peer.delete(fedify_reply["note"])
    assert scene["group"] in sent["recipients"]
    stored = wait_contribution(node, fedify_reply["note"], deleted=True)
    assert stored["content"] == ""
    assert fedify_peer.errors() == []


# ---- bovine-herd


@pytest.fixture(scope="module")
def herd_follows_group(node: CivicNode, herd_peer: HerdPeer, scene: dict):
    """herd's alice follows the discussion's Group; the Group's Accept arrives."""
    follow_id = herd_peer.follow(scene["group"])
    accept = herd_peer.wait_for_inbox(
        lambda a: a.get("type") == "Accept" and id_of(a.get("object")) == follow_id, timeout=WAIT)
    yield {"follow_id": follow_id, "accept": accept}
    herd_peer.unfollow(scene["group"])


def test_herd_follow_group__accepted_by_the_group(node, herd_peer, scene, herd_follows_group):
    """bovine-herd follows the Group and takes its signed Accept."""
    assert id_of(herd_follows_group["accept"]["actor"]) == scene["group"]
    assert node.follow_state(herd_peer.actor_id, scene["group"]) == "accepted"
    assert scene["group"] in herd_peer.following()


def test_herd_reply__becomes_a_contribution(node, herd_peer, scene, herd_follows_group):
    """herd's reply to the discussion page is a contribution by herd's actor, announced back."""
    text = f"herd: un banc à l'ombre {uuid.uuid4()}"
    created = herd_peer.post(f"<p>{text}</p>", in_reply_to=scene["page"], to=[scene["group"]])
    stored = wait_contribution(node, created["note"])
    assert (stored["author"], stored["discussion"]) == (herd_peer.actor_id, scene["id"])
    assert text in text_of(stored["content"])
    announce = herd_peer.wait_for_inbox(
        lambda a: a.get("type") == "Announce" and id_of(a.get("object")) == created["note"],
        timeout=WAIT)
    assert id_of(announce["actor"]) == scene["group"]


def test_herd_like__supports_the_proposal_and_undo_removes_it(node, herd_peer, scene):
    """herd's Like of the proposal is a support; its Undo (the Like's bare id) takes it back."""
    before = setup.support_count(node, scene["proposal"])
    like = herd_peer.like(scene["proposal"], to=scene["amel"])
    wait_supports(node, scene["proposal"], before + 1)
    herd_peer.undo(like["id"], to=scene["amel"])
    wait_supports(node, scene["proposal"], before)
