"""Acceptance: erasure across two Civic Nodes and a Fedify peer, in both directions.

Node A (`civic serve`, organisation lyon) holds discussion lyon.clos-jouve; node B (`civic serve`,
organisation paris) follows its Group and its resident amel; Fedify's alice follows the Group and
replies in it. amel contributes, answers alice and proposes; her posts reach B (as a follower of
hers) and Fedify (as a follower of the Group, and as the author she answered, which also lets
Fedify verify her signature before her account is gone). Then `civic user delete amel --yes` on A:

- Fedify receives a Delete by amel for each of her objects it received, and Delete{Person};
- node B holds no copy of her posts any more;
- node A's AS2 answers 410 Tombstones at each id and the discussion page shows none of her words.

The reverse: Fedify's alice sends Delete{alice}; her contribution on A and her post on B (paris
follows her) become tombstones.

SQLite only, as the other interop modules: the nodes run as `civic init` sets them up.
"""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid

import pytest
from sqlalchemy import select

from node.models import Contribution, Discussion, Note
from node.services import actors, contributions
from tests.interop import participation_setup as setup
from tests.interop.node_process import CivicNode, serving
from tests.interop.peers import FedifyPeer, wait_for

WAIT = 30.0  # seconds: a running node's fan-out picks up what another process wrote within 5 s
AS2 = "application/activity+json"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


@pytest.fixture(scope="module")
def node_a(tmp_path_factory):
    """`civic serve` on 127.0.0.13 (port 8013 unless taken) with organisation lyon."""
    yield from serving(tmp_path_factory.mktemp("civic-a"), {"lyon": "Ville de Lyon"},
                       host="127.0.0.13", port=8013)


@pytest.fixture(scope="module")
def node_b(tmp_path_factory):
    """`civic serve` on 127.0.0.14 (port 8014 unless taken) with organisation paris."""
    yield from serving(tmp_path_factory.mktemp("civic-b"), {"paris": "Ville de Paris"},
                       host="127.0.0.14", port=8014)


def get(url: str, accept: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def reply(node: CivicNode, discussion_id: int, handle: str, parent_ap_id: str, html: str) -> str:
    """A local reply by `handle` to the contribution `parent_ap_id`; returns its id."""

    async def work(session, uris) -> str:
        author = await actors.require_local_actor(session, handle)
        parent = await contributions.by_ap_id(session, parent_ap_id)
        discussion = await session.get(Discussion, discussion_id)
        return (await contributions.contribute(session, uris, discussion, author, html, parent=parent)).ap_id

    return setup.write(node, work)


def copy_on(node: CivicNode, ap_id: str) -> str | None:
    """The text a node keeps of a post (a contribution or a note), None when it keeps none."""

    async def work(session) -> str | None:
        for model, text in ((Contribution, Contribution.content), (Note, Note.content)):
            row = await session.scalar(select(model).where(model.ap_id == ap_id))
            if row is not None and row.deleted_at is None:
                return await session.scalar(select(text).where(model.ap_id == ap_id))
        return None

    return node.query(work)


def wait_copy(node: CivicNode, ap_id: str, present: bool) -> None:
    wait_for(lambda: (copy_on(node, ap_id) is not None) == present, WAIT,
             f"{ap_id} {'kept' if present else 'gone'} on {node.base_url}", interval=0.3)


@pytest.fixture(scope="module")
def scene(node_a: CivicNode, node_b: CivicNode, fedify_peer: FedifyPeer):
    """The discussion, its followers (B's paris, Fedify's alice), alice's reply, and amel's
    contribution, answer to alice and proposal, each arrived where it goes."""
    amel = setup.create_user(node_a, "amel", "Amel Erasable")
    discussion = setup.open_discussion(node_a, "lyon", "clos-jouve", "Clos Jouve")
    paris = node_b.actor_url("paris")
    for target in (discussion["group"], amel):
        node_b.follow("paris", target)
        wait_for(lambda t=target: node_b.follow_state(paris, t) == "accepted", WAIT,
                 f"paris following {target}", interval=0.3)
    fedify_peer.follow(discussion["group"])
    fedify_peer.wait_for_accepted(discussion["group"], timeout=WAIT)
    node_b.follow("paris", fedify_peer.actor_url)
    wait_for(lambda: node_b.follow_state(paris, fedify_peer.actor_url) == "accepted", WAIT,
             "paris following alice", interval=0.3)
    alice_text = f"alice: un potager {uuid.uuid4()}"
    alice = fedify_peer.post(f"<p>{alice_text}</p>", in_reply_to=discussion["page"],
                             to=[discussion["group"]], cc=[f"{fedify_peer.actor_url}/followers"])
    wait_for(lambda: setup.contribution(node_a, alice["note"]), WAIT, "alice's reply on A", interval=0.3)
    wait_copy(node_b, alice["note"], present=True)
    words = {"contribution": f"amel: des bancs {uuid.uuid4()}", "answer": f"amel: oui {uuid.uuid4()}"}
    objects = {
        "contribution": setup.contribute(node_a, discussion["id"], "amel", f"<p>{words['contribution']}</p>"),
        "answer": reply(node_a, discussion["id"], "amel", alice["note"], f"<p>{words['answer']}</p>"),
        "proposal": setup.publish_proposal(node_a, "lyon", "amel", f"Proposition {uuid.uuid4()}",
                                           discussion["id"]),
    }
    for ap_id in objects.values():
        fedify_peer.wait_for_inbox(lambda a, i=ap_id: a["type"] in ("Create", "Announce") and (
            a["object"] == i or i in str((a.get("raw") or {}).get("object"))), timeout=WAIT)
    for kind in ("contribution", "answer"):
        wait_copy(node_b, objects[kind], present=True)
    yield {**discussion, "amel": amel, "objects": objects, "words": words, "alice": alice,
           "alice_text": alice_text}
    # Fedify delivers to every follower at once and fails a post when one is unreachable: once
    # B has stopped, the next modules' Fedify posts would fail. alice's Delete{alice} (sent by hand
    # below) made B drop its follow; her server forgets her followers as a real one would.
    fedify_peer.forget_followers()


@pytest.fixture(scope="module")
def erased(node_a: CivicNode, scene: dict) -> dict:
    """`civic user delete amel --yes` on node A, as its operator runs it."""
    out = node_a.civic("user", "delete", "amel", "--yes")
    assert "Erased @amel" in out
    return scene


def test_erasure_interop__fedify_receives_a_delete_per_object_and_for_the_actor(fedify_peer, erased):
    """Fedify verified and recorded amel's Delete of each object it received, then Delete{Person}."""
    for kind, ap_id in erased["objects"].items():
        delete = fedify_peer.wait_for_inbox(
            lambda a, i=ap_id: a["type"] == "Delete" and a["object"] == i, timeout=WAIT)
        assert delete["actor"] == erased["amel"], kind
        assert (delete["raw"] or {}).get("object", {}).get("type") == "Tombstone", kind
    person = fedify_peer.wait_for_inbox(
        lambda a: a["type"] == "Delete" and a["object"] == erased["amel"], timeout=WAIT)
    assert person["actor"] == erased["amel"]


def test_erasure_interop__node_b_holds_no_copy(node_b, erased):
    """Node B's copies of amel's posts are gone (tombstones without text)."""
    for kind in ("contribution", "answer"):
        wait_copy(node_b, erased["objects"][kind], present=False)


def test_erasure_interop__node_a_answers_tombstones_only(node_a, erased):
    """Each of amel's ids and her actor answer 410 with a Tombstone; the discussion page shows
    none of her words and not her name."""
    for kind, ap_id in [*erased["objects"].items(), ("actor", erased["amel"])]:
        status, body = get(ap_id, AS2)
        assert status == 410, (kind, status, body[:300])
        assert '"Tombstone"' in body, kind
    status, page = get(erased["page"], "text/html")
    assert status == 200
    for text in [*erased["words"].values(), "Amel Erasable"]:
        assert text not in page
    assert erased["alice_text"] in page  # alice's reply stays


def test_erasure_interop__fedify_actor_deleting_itself_disappears_from_both_nodes(
        node_a, node_b, fedify_peer, erased):
    """alice sends Delete{alice} to the Group and to paris: her contribution on A and her post on
    B become tombstones (the inbound side of erasure)."""
    actor = fedify_peer.actor_url
    activity = {"@context": "https://www.w3.org/ns/activitystreams",
                "id": f"{actor}#delete-{uuid.uuid4()}", "type": "Delete", "actor": actor,
                "object": actor, "to": [PUBLIC]}
    fedify_peer.send(activity, to=[erased["group"], node_b.actor_url("paris")])
    note = erased["alice"]["note"]
    wait_for(lambda: (setup.contribution(node_a, note) or {}).get("deleted"), WAIT,
             "alice's contribution tombstoned on A", interval=0.3)
    assert setup.contribution(node_a, note)["content"] == ""
    wait_copy(node_b, note, present=False)
