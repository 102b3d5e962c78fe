"""Acceptance "Moderation interop": Fedify 1.5 and a real `civic serve`.

- A Fedify actor's `Flag` (object: our resident and her contribution, `content`: the reason) reaches
  the moderators' queue as a report by that actor.
- A moderator forwards a report about Fedify's reply: it reaches the Fedify peer as a `Flag` signed
  by our instance actor (Fedify verifies the signature before its inbox records it).
- After `civic account block <Fedify's actor>`, Fedify's later replies are refused: the inbox row
  is failed with "the account is blocked" and no contribution is stored.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node.models import Report
from node.services import actors, reports
from node.uris import Uris
from tests.interop import participation_setup as setup
from tests.interop.node_process import CivicNode, serving
from tests.interop.peers import FedifyPeer, wait_for

ORG, ORG_NAME = "lyon", "Ville de Lyon"
WAIT = 30.0  # seconds: the node's fan-out picks up events written by another process within 5 s
AS = "https://www.w3.org/ns/activitystreams"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory):
    """`civic serve` on 127.0.0.13 (port 8013 unless taken) with organisation lyon."""
    yield from serving(tmp_path_factory.mktemp("civic-moderation"), {ORG: ORG_NAME}, host="127.0.0.13", port=8013)


@pytest.fixture(scope="module")
def scene(node: CivicNode) -> dict:
    """Discussion lyon.parc, resident amel and her contribution."""
    amel = setup.create_user(node, "amel", "Amel")
    discussion = setup.open_discussion(node, ORG, "parc", "Le parc")
    note = setup.contribute(node, discussion["id"], "amel", "<p>Des bancs à l'ombre</p>")
    return {**discussion, "amel": amel, "note": note}


def reports_of(node: CivicNode) -> list[dict]:
    async def work(session: AsyncSession) -> list[dict]:
        return [{"id": r.id, "reporter": r.reporter.ap_id, "target": r.target_ap_id, "reason": r.reason,
                 "state": r.state, "flag": r.flag_ap_id}
                for r in await session.scalars(select(Report).order_by(Report.id))]

    return node.query(work)


def test_fedify_flag__reaches_the_queue(node: CivicNode, fedify_peer: FedifyPeer, scene: dict):
    """Fedify signs and sends a Flag naming amel and her contribution: a report by Fedify's actor
    with the Flag's content as its reason is in the queue, the inbox row processed."""
    flag_id = f"{fedify_peer.base_url}/flags/{uuid.uuid4()}"
    flag = {"@context": AS, "id": flag_id, "type": "Flag", "actor": fedify_peer.actor_url,
            "object": [scene["amel"], scene["note"]], "content": "Message publicitaire"}
    fedify_peer.send(flag, to=[scene["amel"]])
    found = wait_for(lambda: [r for r in reports_of(node) if r["flag"] == flag_id], WAIT,
                     "the Flag's report in the queue", interval=0.2)
    assert [(r["reporter"], r["target"], r["reason"], r["state"]) for r in found] == [
        (fedify_peer.actor_url, scene["note"], "Message publicitaire", "open")]
    row = next(r for r in node.inbox(fedify_peer.actor_url) if r["id"] == flag_id)
    assert (row["type"], row["state"]) == ("Flag", "processed")


@pytest.fixture(scope="module")
def fedify_reply(node: CivicNode, fedify_peer: FedifyPeer, scene: dict) -> str:
    """Fedify's alice replies to the discussion page; returns the stored contribution's id."""
    sent = fedify_peer.post(f"<p>Achetez mes montres {uuid.uuid4()}</p>", in_reply_to=scene["page"],
                            to=[scene["group"]])
    wait_for(lambda: setup.contribution(node, sent["note"]), WAIT, "Fedify's reply as a contribution",
             interval=0.2)
    return sent["note"]


def test_forwarded_report__reaches_fedify_as_a_signed_flag(node: CivicNode, fedify_peer: FedifyPeer,
                                                           scene: dict, fedify_reply: str):
    """amel reports Fedify's reply; the node admin forwards it: Fedify's inbox (which checks our
    signature) records a Flag from our instance actor naming alice and the reply, without amel."""

    async def work(session: AsyncSession, uris: Uris) -> int:
        admin = await actors.create_user(session, uris, "chloe", "interop-password", "Chloé", is_admin=True)
        amel = await actors.require_local_actor(session, "amel")
        row = await reports.report(session, amel, await reports.target_of(session, fedify_reply),
                                   category="spam", reason="de la pub")
        await reports.forward(session, admin, row, "Spam reçu sur notre nœud")
        return row.id

    setup.write(node, work)
    flag = fedify_peer.wait_for_inbox(lambda a: a["type"] == "Flag", timeout=WAIT)
    assert flag["actor"] == f"{node.base_url}/actor"
    raw = flag["raw"]
    assert raw["object"] == [fedify_peer.actor_url, fedify_reply]
    assert raw["content"] == "Spam reçu sur notre nœud"
    assert scene["amel"] not in str(raw)
    assert fedify_peer.errors() == []


def test_blocked_account__later_replies_are_refused(node: CivicNode, fedify_peer: FedifyPeer, scene: dict,
                                                    fedify_reply: str):
    """`civic account block` on Fedify's actor: its next reply is stored, then refused with the
    reason "the account is blocked"; it never becomes a contribution."""
    out = node.civic("account", "block", fedify_peer.actor_url, "--reason", "spam")
    assert f"Blocked {fedify_peer.actor_url}." in out
    sent = fedify_peer.post(f"<p>Encore des montres {uuid.uuid4()}</p>", in_reply_to=scene["page"],
                            to=[scene["group"]])
    row = wait_for(lambda: next((r for r in node.inbox(fedify_peer.actor_url)
                                 if r["id"] == sent["activity"]["id"] and r["state"] != "received"), None),
                   WAIT, "the blocked reply processed", interval=0.2)
    assert (row["state"], row["error"]) == ("failed", "refused: the account is blocked")
    assert setup.contribution(node, sent["note"]) is None
