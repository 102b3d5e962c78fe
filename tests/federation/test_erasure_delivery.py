"""Erasure, outbound: Delete{Tombstone} of each object to exactly the inboxes that received it,
Delete{Person} to every inbox that heard from the person, and 410 Tombstones at the ids."""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import select

from federation.fanout import process_events
from node.db import transaction
from node.models import Activity, Actor, Contribution, Delivery, Discussion, User
from node.services import actors, community, erasure, proposals
from tests.federation.participation_scene import (
    contribute,
    follow_group,
    make_activity,
    open_scene,
    post,
)

AS2 = {"Accept": "application/activity+json"}
def _own_inbox(remote, name: str):
    """A remote actor without a shared inbox: its deliveries are told apart from the others'."""
    actor = remote.add_actor(name)
    del actor.document["endpoints"]
    return actor


@pytest.fixture
async def erased(node, remote):
    """amel's contribution, proposal, article and initiative reached: alice (follows the group,
    shared inbox), carol (follows amel); dave follows only the organisation; erin follows nobody.
    Then amel's account is erased."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    carol, dave, erin = (_own_inbox(remote, n) for n in ("carol", "dave", "erin"))
    await follow_group(node, remote, scene, alice)
    await post(node, remote, f"{scene.amel}/inbox", make_activity(carol, "Follow", 1, scene.amel), carol)
    await post(node, remote, f"{scene.org}/inbox", make_activity(dave, "Follow", 1, scene.org), dave)
    note = await contribute(node, scene)
    async with transaction(node.rt.sessions) as s:
        amel = await actors.require_local_actor(s, "amel")
        org = await actors.require_local_actor(s, "lyon")
        discussion = await s.get(Discussion, scene.discussion_id)
        proposal = await proposals.create(s, node.uris, org, amel, "Des bancs", "<p>Des bancs</p>",
                                          discussion_id=discussion.id, publish=True)
        article = await community.add_article(s, node.uris, discussion, amel, "Un article",
                                              body_html="<p>Texte de l'article</p>")
        initiative = await community.create_initiative(s, node.uris, discussion, amel, "Nettoyage",
                                                       "<p>Nettoyons le parc</p>")
        objects = {"contribution": note, "proposal": proposal.ap_id, "article": article.ap_id,
                   "initiative": initiative.ap_id}
    await node.step()
    before = len(remote.received)
    async with transaction(node.rt.sessions) as s:
        user = await s.scalar(select(User).where(User.actor_id == amel.id))
        await erasure.erase_account(s, user, by=user)
    await node.step()
    return {"scene": scene, "objects": objects, "remote": remote, "since": before,
            "inboxes": {"shared": f"{remote.base}/inbox", "carol": carol.inbox, "dave": dave.inbox,
                        "erin": erin.inbox}}


async def _deliveries(node, kind: str, object_id: str) -> set[str]:
    async with node.rt.sessions() as s:
        rows = await s.execute(select(Delivery.inbox, Activity.document).join(
            Activity, Activity.id == Delivery.activity_id).where(Activity.type == kind))
        found = set()
        for inbox, doc in rows:
            target = doc["object"]["id"] if isinstance(doc["object"], dict) else doc["object"]
            if target == object_id:
                found.add(inbox)
        return found


async def _received_before(node, object_id: str) -> set[str]:
    """The inboxes that received an activity carrying the object before the erasure."""
    async with node.rt.sessions() as s:
        rows = await s.execute(select(Delivery.inbox, Activity.document, Activity.type).join(
            Activity, Activity.id == Delivery.activity_id).where(Activity.type != "Delete"))
        return {inbox for inbox, doc, _ in rows if object_id in repr(doc.get("object"))}


async def test_erasure_delivery__delete_of_each_object_to_exactly_its_recipients(node, erased):
    """Each object's Delete goes to the inboxes that received it (the contribution: the group's
    follower alice and amel's follower carol; the proposal also dave, the organisation's
    follower), never to erin."""
    inboxes = erased["inboxes"]
    for kind, object_id in erased["objects"].items():
        got = await _deliveries(node, "Delete", object_id)
        assert got == await _received_before(node, object_id), kind
        assert inboxes["erin"] not in got and inboxes["shared"] in got, kind
    assert inboxes["dave"] in await _deliveries(node, "Delete", erased["objects"]["proposal"])
    assert inboxes["dave"] not in await _deliveries(node, "Delete", erased["objects"]["contribution"])


async def test_erasure_delivery__deletes_arrive_with_tombstones(node, erased):
    """What the remote host received: a signed Delete by amel per object, its object a Tombstone."""
    amel = erased["scene"].amel
    deletes = [d for d in erased["remote"].received[erased["since"]:]
               if d["type"] == "Delete" and d["actor"] == amel]
    tombstones = {d["object"]["id"]: d["object"] for d in deletes if isinstance(d["object"], dict)}
    assert set(erased["objects"].values()) <= set(tombstones)
    assert all(t["type"] == "Tombstone" for t in tombstones.values())
    assert {"Note", "Page", "Article"} <= {t["formerType"] for t in tombstones.values()}


async def test_erasure_delivery__the_group_announces_each_erased_contributions_delete(node, erased):
    """The discussion's Group relays amel's Delete of her contribution (FEP-1b12) to its
    follower alice, signed by the group: alice got the contribution through the group and can
    verify the group's key, while amel's actor now answers 410."""
    scene, note = erased["scene"], erased["objects"]["contribution"]
    announces = [d for d in erased["remote"].received[erased["since"]:]
                 if d["type"] == "Announce" and isinstance(d["object"], dict)
                 and d["object"].get("type") == "Delete"]
    relayed = [d for d in announces if d["object"]["object"]["id"] == note]
    assert len(relayed) == 1
    assert relayed[0]["actor"] == scene.group and relayed[0]["object"]["actor"] == scene.amel


async def test_erasure_delivery__delete_person_to_every_inbox_that_heard_from_her(node, erased):
    """Delete{Person} (object: the actor's id) reaches her follower carol, the shared inbox that
    received her texts and dave, who received her proposal; erin gets nothing."""
    amel, inboxes = erased["scene"].amel, erased["inboxes"]
    got = await _deliveries(node, "Delete", amel)
    assert got == {inboxes["carol"], inboxes["shared"], inboxes["dave"]}
    person = [d for d in erased["remote"].received if d["type"] == "Delete" and d["object"] == amel]
    assert len(person) == 3  # one per inbox on that host: the shared one, carol's and dave's


async def _get(url: str, headers: dict) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=headers, allow_redirects=False) as response:
            return response.status, await response.text()


@pytest.mark.parametrize("kind", ["contribution", "proposal", "article", "initiative"])
async def test_erasure_delivery__objects_answer_410_tombstones(node, erased, kind):
    """Each erased object's id answers 410 with a Tombstone to AS2 requests."""
    object_id = erased["objects"][kind]
    status, body = await _get(object_id, AS2)
    assert status == 410, body
    assert '"Tombstone"' in body and object_id in body


async def test_erasure_delivery__actor_answers_410_tombstone(node, erased):
    """The person's id answers 410 with a Tombstone (formerType Person) and her HTML page shows
    no name."""
    amel = erased["scene"].amel
    status, body = await _get(amel, AS2)
    assert status == 410, body
    assert '"Tombstone"' in body and '"Person"' in body
    status, page = await _get(amel, {"Accept": "text/html"})
    assert status == 410 and "Amel" not in page


async def test_erasure_delivery__html_pages_show_no_content(node, erased):
    """People following the ids of the erased texts, or reading the discussion, its initiatives
    and the proposal index, find no text of hers and not her name."""
    texts = ("Amel", "Un jardin partagé", "Des bancs", "Texte de l'article", "Nettoy")
    base = f"{node.base}/orgs/lyon"
    pages = [*erased["objects"].values(), f"{base}/discussions/clos-jouve",
             f"{base}/discussions/clos-jouve/initiatives", f"{base}/proposals"]
    for url in pages:
        status, page = await _get(url, {"Accept": "text/html", "Accept-Language": "en"})
        assert status in (200, 404, 410), url
        if status == 200:
            found = [text for text in texts if text in page]
            assert not found, (url, found)
            # Not even as an empty entry: no link to (or anchor of) an erased text.
            tokens = [ap_id.rsplit("/", 1)[1] for ap_id in erased["objects"].values()]
            assert not [t for t in tokens if t in page and url not in erased["objects"].values()], url


async def test_erasure_delivery__activities_stored_before_their_object_was_recorded(node):
    """Activities stored before activities recorded their object (object_ap_id NULL, migration
    009) still count: the group's Announce{Create{Note}} that reached an inbox makes the Delete
    go there; an unrelated activity of the author does not."""
    scene = await open_scene(node)
    note = await contribute(node, scene)
    legacy, unrelated = "https://legacy.example/inbox", "https://unrelated.example/inbox"
    async with transaction(node.rt.sessions) as s:
        group = await s.scalar(select(Actor).where(Actor.ap_id == scene.group))
        amel = await s.scalar(select(Actor).where(Actor.ap_id == scene.amel))
        await s.execute(Delivery.__table__.delete())  # only the rows below say who received what
        announce = Activity(ap_id=node.uris.activity("legacy-announce"), actor_id=group.id, type="Announce",
                            document={"type": "Announce", "object": {"type": "Create", "object": {"id": note}}})
        other = Activity(ap_id=node.uris.activity("legacy-like"), actor_id=amel.id, type="Like",
                         document={"type": "Like", "object": "https://elsewhere.example/post/1"})
        s.add_all([announce, other])
        await s.flush()
        s.add_all([Delivery(activity_id=announce.id, inbox=legacy, host="legacy.example", state="delivered"),
                   Delivery(activity_id=other.id, inbox=unrelated, host="unrelated.example", state="delivered")])
        await s.execute(Activity.__table__.update().where(Activity.id.in_([announce.id, other.id]))
                        .values(object_ap_id=None))
        user = await s.scalar(select(User).where(User.actor_id == amel.id))
        await erasure.erase_account(s, user, by=user)
    await process_events(node.rt)
    assert await _deliveries(node, "Delete", note) == {legacy}
    assert unrelated in await _deliveries(node, "Delete", scene.amel)  # she sent it something
    async with node.rt.sessions() as s:
        assert (await s.scalar(select(Contribution).where(Contribution.ap_id == note))).deleted_at is not None


async def test_erasure_delivery__webfinger_of_an_erased_handle_is_410(node, erased):
    """WebFinger no longer resolves the erased handle (410), while others still resolve."""
    base = f"{node.base}/.well-known/webfinger?resource=acct:"
    status, body = await _get(f"{base}amel@{node.uris.domain}", {})
    assert status == 410 and "deleted" in body
    assert (await _get(f"{base}lyon@{node.uris.domain}", {}))[0] == 200
