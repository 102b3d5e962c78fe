"""The node admins' federation page: every refusal and failure, with its reason (SECURITY.md rule 21)."""

from __future__ import annotations

from node.db import transaction
from node.models import InboxActivity, utcnow
from node.services import actors as actor_service
from tests.web.conftest import PASSWORD


async def test_federation_admin__lists_refusals_and_failures_to_node_admins_only(node, make_browser, remote):
    from federation.inbox import REFUSALS

    async with transaction(node.rt.sessions) as s:
        org = await actor_service.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        await actor_service.create_user(s, node.uris, "node_admin", PASSWORD, "Admin", is_admin=True)
        await actor_service.create_user(s, node.uris, "camille", PASSWORD, "Camille")
        s.add(InboxActivity(ap_id="https://elsewhere.example/a/1", type="Create",
                            actor="https://elsewhere.example/u/x", document={}, state="failed",
                            error="refused: the account is blocked", received_at=utcnow()))
    alice = remote.add_actor("alice")
    bad = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{alice.ap_id}/f/1",
           "type": "Follow", "actor": alice.ap_id, "object": org.ap_id, "published": "9999-12-31T23:59:59-14:00"}
    assert (await remote.post(org.inbox, bad, alice))[0] == 400
    await node.app[REFUSALS].close()

    anonymous, resident, admin = make_browser(), make_browser(), make_browser()
    assert (await anonymous.get("/admin/federation")).status == 404
    await resident.login("camille")
    assert (await resident.get("/admin/federation")).status == 404
    await admin.login("node_admin")
    page = await admin.get("/admin/federation")
    assert page.status == 200
    assert "out of range" in page.text and alice.ap_id in page.text  # refused before the 202
    assert "refused: the account is blocked" in page.text  # failed after it
