"""Acceptance (issue 11): a poll of an organisation, voted in from Fedify and bovine-herd, followed
by a second Civic Node; and a poll made by Fedify in one of our discussions.

Two real `civic serve` processes on their own loopback addresses — node **A** (organisation lyon,
which asks) and node **B** (organisation nice, which follows lyon) — plus Fedify's alice and
bovine-herd's alice, each on its own server. The polls are made with the node's services on A's
database (tests/interop/poll_setup.py: no `civic` command makes polls) and the running nodes
federate them; each node's update delay is 1 s (CIVIC_POLL_UPDATE_DELAY):

1. Fedify's alice follows lyon; B's nice follows lyon; A opens the discussion "kiosque";
2. lyon publishes a poll (Lundi, Mardi, Mercredi) and a second one (Oui, Non): Fedify receives
   the Create{Question} through its strict parser, and B stores lyon's polls;
3. Fedify's alice votes Lundi and herd's alice Mardi, each from her own server in Mastodon's form
   (`Create{Note{name, inReplyTo}}`, no content), and amel, a person of B, votes Mardi through B
   (which sends the same Note): A counts 1, 2, 0 and three voters; Fedify reads them at the poll's
   id; B shows the same tallies (on nice's page, to its staff) once A's debounced Update{Question}
   arrived;
4. Fedify's alice votes again (Mercredi): refused, "already voted"; the second poll's end time
   passes and herd's alice votes in it: refused, "closed"; nothing is counted, and B learns
   that the second poll closed;
5. Fedify's alice makes a poll of her own addressed to the discussion's Group: A shows it in the
   discussion with her tallies, and her Update{Question} moves them.

Each step is a module fixture that depends on the one before and returns what the nodes and
peers held right after it; each test asserts one step's snapshot. The nodes run on SQLite, as
`civic init` sets them up; when CIVIC_TEST_DATABASE_URL names a PostgreSQL server, the scenario
runs a second time with each node on its own PostgreSQL database, on other loopback addresses.
"""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest

from tests.dbs import backends, create_pg_database, drop_pg_database
from tests.interop import poll_setup as setup
from tests.interop.node_process import CivicNode
from tests.interop.peers import FedifyPeer, HerdPeer
from tests.interop.peers import wait_for as poll_until

ORG, ORG_B = "lyon", "nice"
WAIT = 30.0  # seconds: a node's fan-out picks up what another process wrote within 5 s
HOSTS = {"sqlite": {"a": 71, "b": 72}, "postgresql": {"a": 73, "b": 74}}
NODES: dict[str, CivicNode] = {}
STAFF_PASSWORD = "interop-password-1"


def diagnosis() -> str:
    """What each running node last received and has not delivered (where the scenario stopped)."""
    lines = []
    for role, node in NODES.items():
        for row in node.inbox()[-8:]:
            lines.append(f"{role} inbox: {row['type']} {row['id']} from {row['actor']}: {row['state']} ({row['error']})")
        for row in node.deliveries():
            if row["state"] != "delivered":
                lines.append(f"{role} delivery: {row['type']} {row['activity']} to {row['inbox']}: "
                             f"{row['state']} after {row['attempts']} ({row['last_status']}, {row['error']})")
    return "\n".join(lines)


def wait_for(check, what: str, timeout: float = WAIT):
    try:
        return poll_until(check, timeout, what, interval=0.3)
    except TimeoutError as error:
        raise AssertionError(f"{error}\n{diagnosis()}") from None


@pytest.fixture(scope="module", params=backends())
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def _node(tmp_path_factory: pytest.TempPathFactory, backend: str, role: str, organisations: dict[str, str]):
    number = HOSTS[backend][role]
    url = asyncio.run(create_pg_database()) if backend == "postgresql" else None
    node = CivicNode(tmp_path_factory.mktemp(f"civic-poll-{role}"), host=f"127.0.0.{number}",
                     port=8000 + number, database_url=url)
    node.env["CIVIC_POLL_UPDATE_DELAY"] = "1"
    try:
        NODES[role] = node.start(organisations)
        yield node
    finally:
        NODES.pop(role, None)
        node.stop()
        if url is not None:
            asyncio.run(drop_pg_database(url))


@pytest.fixture(scope="module")
def a(tmp_path_factory: pytest.TempPathFactory, backend: str):
    """Node A, with organisation lyon (which asks)."""
    yield from _node(tmp_path_factory, backend, "a", {ORG: "Ville de Lyon"})


@pytest.fixture(scope="module")
def b(tmp_path_factory: pytest.TempPathFactory, backend: str):
    """Node B, with organisation nice (which follows lyon)."""
    yield from _node(tmp_path_factory, backend, "b", {ORG_B: "Métropole Nice"})


# ---- 1. the followers and the discussion


@pytest.fixture(scope="module")
def scene(a: CivicNode, b: CivicNode, fedify_peer: FedifyPeer):
    """Fedify's alice and B's nice follow lyon; A opens the discussion "kiosque". Fedify's follow
    is undone at the end: the peer must not deliver to a stopped node."""
    lyon = a.actor_url(ORG)
    fedify_peer.follow(lyon)
    fedify_peer.wait_for_accepted(lyon, timeout=WAIT)
    b.follow(ORG_B, lyon)
    wait_for(lambda: b.follow_state(b.actor_url(ORG_B), lyon) == "accepted", "nice@B following lyon@A")
    discussion = setup.open_discussion(a, ORG, "kiosque", "Le kiosque du parc")
    setup.add_staff(b, ORG_B, "estrosi", STAFF_PASSWORD)  # nice's admin, who reads its page on B
    yield {"lyon": lyon, "discussion": discussion}
    fedify_peer.unfollow(lyon)


# ---- 2. lyon publishes its polls


@pytest.fixture(scope="module")
def published(scene: dict, a: CivicNode, b: CivicNode, fedify_peer: FedifyPeer) -> dict:
    poll_id = setup.create_poll(a, ORG, "Quel jour pour le marché ?", ["Lundi", "Mardi", "Mercredi"])
    late_id = setup.create_poll(a, ORG, "Ouvrir le dimanche ?", ["Oui", "Non"])
    created = fedify_peer.wait_for_inbox(
        lambda item: item["type"] == "Create" and item["object"] == poll_id, timeout=WAIT)
    at_b = wait_for(lambda: setup.poll(b, poll_id), "B storing lyon's poll")
    wait_for(lambda: setup.poll(b, late_id), "B storing lyon's second poll")
    return {"poll": poll_id, "late": late_id, "fedify_create": created, "at_b": at_b}


def test_published__fedify_parses_the_question_and_b_stores_the_poll(published: dict):
    """Fedify's strict parser took our Create{Question} (a poll with its three options and no
    vote yet); B keeps it as a remote poll of lyon, shown in no discussion."""
    question = published["fedify_create"]["activity"]["object"]
    assert question["type"] == "Question"
    assert [o["name"] for o in question["oneOf"]] == ["Lundi", "Mardi", "Mercredi"]
    assert published["at_b"] == {"local": False, "options": {"Lundi": 0, "Mardi": 0, "Mercredi": 0},
                                 "voters": 0, "closed": False, "discussion": None, "deleted": False}


# ---- 3. the peers vote from their own servers


def fedify_vote(fedify_peer: FedifyPeer, poll_id: str, name: str, lyon: str) -> str:
    """alice votes on Fedify (Create{Note} signed and delivered by Fedify); the Create's id."""
    note_id = f"{fedify_peer.actor_url}/votes/{uuid.uuid4().hex}"
    activity = {"@context": setup.AS, "type": "Create", "id": f"{note_id}/activity",
                "actor": fedify_peer.actor_url, "to": [lyon],
                "object": setup.vote_note(fedify_peer.actor_url, note_id, poll_id, name, lyon)}
    return fedify_peer.send(activity, to=[lyon])["activity"]["id"]


def herd_vote(herd_peer: HerdPeer, poll_id: str, name: str, lyon: str) -> str:
    """alice votes on bovine-herd (through its C2S outbox, which delivers it); the Create's id."""
    note_id = f"{herd_peer.actor_id}/votes/{uuid.uuid4().hex}"
    activity = {"type": "Create", "actor": herd_peer.actor_id, "to": [lyon],
                "object": setup.vote_note(herd_peer.actor_id, note_id, poll_id, name, lyon)}
    return herd_peer.client("send", {"activity": activity})["id"]


@pytest.fixture(scope="module")
def voted(published: dict, scene: dict, a: CivicNode, b: CivicNode, fedify_peer: FedifyPeer,
          herd_peer: HerdPeer) -> dict:
    poll_id, lyon = published["poll"], scene["lyon"]
    votes = [fedify_vote(fedify_peer, poll_id, "Lundi", lyon), herd_vote(herd_peer, poll_id, "Mardi", lyon)]
    setup.vote_here(b, "amel", poll_id, "Mardi")  # a person of B, through her own node
    counted = {"Lundi": 1, "Mardi": 2, "Mercredi": 0}
    at_a = wait_for(lambda: (p := setup.poll(a, poll_id)) and p["options"] == counted and p,
                    "A counting both votes")
    at_b = wait_for(lambda: (p := setup.poll(b, poll_id)) and p["options"] == counted and p,
                    "B showing the new tallies (Update{Question})")
    # Fedify reads the poll at its id (a signed GET, through its strict parser), with the tallies.
    fetched = fedify_peer.lookup(poll_id)
    # B's page of nice, as its admin reads it: the polls of the accounts nice follows.
    page_b = setup.signed_in_page_text(b, "estrosi", STAFF_PASSWORD, f"/actors/{ORG_B}")
    return {"votes": votes, "outcomes": setup.outcomes(a, votes), "at_a": at_a, "at_b": at_b,
            "fetched": fetched, "page_b": page_b}


def test_voted__each_peer_vote_is_counted_on_a(voted: dict):
    """Fedify's, herd's and B's person's votes: three voters on A."""
    assert voted["at_a"]["voters"] == 3 and voted["at_a"]["local"]
    assert [voted["outcomes"][v] for v in voted["votes"]] == [("processed", "vote recorded")] * 2


def test_voted__fedify_reads_the_tallies_at_the_polls_id(voted: dict):
    question = voted["fetched"]
    assert question["type"] == "Question" and question["votersCount"] == 3
    assert {o["name"]: o["replies"]["totalItems"] for o in question["oneOf"]} == \
        {"Lundi": 1, "Mardi": 2, "Mercredi": 0}


def test_voted__b_shows_the_tallies_after_the_update(voted: dict):
    assert voted["at_b"] == {"local": False, "options": {"Lundi": 1, "Mardi": 2, "Mercredi": 0},
                             "voters": 3, "closed": False, "discussion": None, "deleted": False}
    page = voted["page_b"]
    assert "Quel jour pour le marché ?" in page and "3 voters" in page, page[:3000]
    assert re.search(r"Lundi (33% )+· 1 vote Mardi (67% )+· 2 votes Mercredi (0% )+· 0 votes", page), page[:3000]


# ---- 4. a second vote and a late one


@pytest.fixture(scope="module")
def refused(voted: dict, published: dict, scene: dict, a: CivicNode, b: CivicNode,
            fedify_peer: FedifyPeer, herd_peer: HerdPeer) -> dict:
    lyon = scene["lyon"]
    second = fedify_vote(fedify_peer, published["poll"], "Mercredi", lyon)
    setup.end_now(a, published["late"])
    late = herd_vote(herd_peer, published["late"], "Oui", lyon)
    outcomes = wait_for(lambda: (o := setup.outcomes(a, [second, late])) and len(o) == 2
                        and all(state != "received" for state, _ in o.values()) and o,
                        "A deciding on the second and the late vote")
    closed_at_b = wait_for(lambda: (p := setup.poll(b, published["late"])) and p["closed"] and p,
                           "B learning that the second poll closed")
    return {"second": outcomes[second], "late": outcomes[late], "poll_at_a": setup.poll(a, published["poll"]),
            "late_at_a": setup.poll(a, published["late"]), "closed_at_b": closed_at_b}


def test_votes__a_second_vote_and_a_late_vote_are_refused(refused: dict):
    """Fedify's second vote and herd's vote after the end time are refused with their reasons and
    count nothing, on A and then on B."""
    assert refused["second"] == ("failed", "refused: you have already voted in this poll")
    assert refused["late"] == ("failed", "refused: this poll is closed")
    assert refused["poll_at_a"]["options"] == {"Lundi": 1, "Mardi": 2, "Mercredi": 0}
    assert refused["poll_at_a"]["voters"] == 3
    assert refused["late_at_a"]["options"] == {"Oui": 0, "Non": 0} and refused["late_at_a"]["closed"]
    assert refused["closed_at_b"]["options"] == {"Oui": 0, "Non": 0}


# ---- 5. Fedify's own poll, in the discussion


@pytest.fixture(scope="module")
def fedify_poll(refused: dict, scene: dict, a: CivicNode, fedify_peer: FedifyPeer) -> dict:
    group = scene["discussion"]["group"]
    alice = fedify_peer.actor_url
    question_id = f"{alice}/questions/{uuid.uuid4().hex}"
    question = setup.question(alice, question_id, "Un kiosque à musique ?", {"Oui": 0, "Non": 0},
                              cc=[f"{alice}/followers", group])
    fedify_peer.send({"@context": setup.POLL_CONTEXT, "type": "Create", "id": f"{question_id}/create",
                      "actor": alice, "to": question["to"], "cc": question["cc"], "object": question}, to=[group])
    stored = wait_for(lambda: setup.poll(a, question_id), "A storing Fedify's poll")
    newer = setup.question(alice, question_id, "Un kiosque à musique ?", {"Oui": 2, "Non": 1},
                           cc=[f"{alice}/followers", group])
    fedify_peer.send({"@context": setup.POLL_CONTEXT, "type": "Update", "id": f"{question_id}/update/1",
                      "actor": alice, "to": newer["to"], "cc": newer["cc"], "object": newer}, to=[group])
    updated = wait_for(lambda: (p := setup.poll(a, question_id)) and p["options"]["Oui"] == 2 and p,
                       "A following Fedify's tallies")
    sent = [row["document"] for row in a.inbox(alice) if row["type"] in ("Create", "Update")]
    return {"stored": stored, "updated": updated, "page": setup.page_text(scene["discussion"]["page"]),
            "sent": sent}


def test_fedify_poll__shows_in_the_discussion_and_follows_its_tallies(fedify_poll: dict):
    assert fedify_poll["stored"] == {"local": False, "options": {"Oui": 0, "Non": 0}, "voters": 0,
                                     "closed": False, "discussion": "kiosque", "deleted": False}
    assert fedify_poll["updated"]["options"] == {"Oui": 2, "Non": 1}
    assert fedify_poll["updated"]["voters"] == 3, fedify_poll["sent"]
    # the discussion's page shows her poll, asked by her, with her tallies
    page = fedify_poll["page"]
    assert "Un kiosque à musique ? Asked by Alice (Fedify peer)" in page and "3 voters" in page
    assert re.search(r"Oui (67% )+· 2 votes Non (33% )+· 1 vote\b", page), page[:3000]
