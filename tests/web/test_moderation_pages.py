"""Moderation pages: the report form, the queue (who may see it), hide/restore with a reason shown in
place of the content on every path, account blocks, the moderation log."""

from __future__ import annotations

import re

import aiohttp
import pytest
from sqlalchemy import select

from node.db import transaction
from node.models import AccountRestriction, Report
from node.services import actors, moderation
from tests.web.participation_helpers import PASSWORD, Client, build_world, make_proposals

DISCUSSION = "/orgs/lyon/discussions/clos-jouve"
TOP_TEXT = "Installation d'un composteur"


@pytest.fixture
async def world(node):
    world = await build_world(node)
    async with transaction(node.rt.sessions) as s:
        paris = await actors.create_organization(s, node.uris, "paris", "Ville de Paris")
        other = await actors.create_user(s, node.uris, "pmodo", PASSWORD, "Modo de Paris")
        await actors.add_member(s, other, paris, "moderator")
        await actors.create_user(s, node.uris, "chloe", PASSWORD, "Chloé", is_admin=True)
    return world


@pytest.fixture
async def clients(node):
    made = []

    async def make(handle: str | None = None) -> Client:
        made.append(Client(node.base))
        if handle:
            await made[-1].login(handle)
        return made[-1]

    yield make
    for client in made:
        await client.close()


async def _report(client: Client, target: str, category: str = "spam", reason: str = "Publicité"):
    return await client.post("/report", {"target": target, "category": category, "reason": reason},
                             form=f"/report?target={target}")


async def _report_ids(node) -> list[int]:
    async with node.rt.sessions() as s:
        return list(await s.scalars(select(Report.id).order_by(Report.id)))


async def test_report_form__a_resident_reports_once_with_a_category(node, world, clients):
    """The form needs a signed-in resident (anonymous: to the log-in page) and a category; a second
    report of the same contribution while the first is open is refused with 409; CSRF is checked."""
    target = world.ids["top_ap_id"]
    anonymous = await clients()
    assert (await anonymous.get(f"/report?target={target}")).location.startswith("/login")
    camille = await clients("camille")
    form = await camille.get(f"/report?target={target}")
    assert form.status == 200 and 'name="category"' in form.text
    assert (await camille.get("/report?target=https://nowhere.example/x")).status == 404
    assert (await _report(camille, target, category="nonsense")).status == 400
    assert (await _report(camille, target, reason="x" * 1001)).status == 400
    assert await _report_ids(node) == []
    refused = await camille.post("/report", {"target": target, "category": "spam"}, csrf=False)
    assert refused.status == 403
    sent = await _report(camille, target)
    assert sent.status == 200 and "Thank you for your report" in sent.text
    again = await _report(camille, target)
    assert again.status == 409 and "You already reported this" in again.text
    assert len(await _report_ids(node)) == 1


async def test_queue__only_the_organisations_moderators_and_node_admins(node, world, clients):
    """lyon's moderator and the node admin see the report about lyon's contribution; a resident
    gets 403; paris's moderator sees an empty queue and 404 on the report itself."""
    camille = await clients("camille")
    await _report(camille, world.ids["top_ap_id"], reason="Hors sujet")
    (report_id,) = await _report_ids(node)
    modo, admin, pmodo = await clients("modo"), await clients("chloe"), await clients("pmodo")
    for allowed in (modo, admin):
        queue = await allowed.get("/moderation")
        assert queue.status == 200 and "Hors sujet" in queue.text
        assert (await allowed.get(f"/moderation/reports/{report_id}")).status == 200
    assert (await camille.get("/moderation")).status == 403
    assert (await camille.get(f"/moderation/reports/{report_id}")).status == 403
    other = await pmodo.get("/moderation")
    assert other.status == 200 and "Hors sujet" not in other.text
    assert (await pmodo.get(f"/moderation/reports/{report_id}")).status == 404
    resolve = {"action": "resolve", "note": "vu"}
    assert (await pmodo.post(f"/moderation/reports/{report_id}", resolve, form="/moderation")).status == 404
    assert (await modo.post(f"/moderation/reports/{report_id}", resolve, form="/moderation")).status == 303
    assert (await modo.post(f"/moderation/reports/{report_id}", resolve, form="/moderation")).status == 409
    assert "Hors sujet" not in (await modo.get("/moderation")).text
    assert (await (await clients()).get("/moderation")).location.startswith("/login")


async def test_hide__the_reason_replaces_the_content_on_every_path(node, world, clients):
    """A hidden contribution keeps its place (its reply stays) and shows "Hidden by the moderators:
    <reason>" instead of its text on the discussion page and its own page; its AS2 document is
    404; only its organisation's moderators may hide it, with a reason; restore brings it back."""
    target = world.ids["top_ap_id"]
    own_page = f"{DISCUSSION}/contributions/{world.ids['top']}"
    modo, camille, pmodo = await clients("modo"), await clients("camille"), await clients("pmodo")
    hide = {"target": target, "action": "hide", "reason": "Propos hors sujet"}
    assert (await camille.post("/moderation/content", hide, form=DISCUSSION)).status == 403
    assert (await pmodo.post("/moderation/content", hide, form=DISCUSSION)).status == 403
    no_reason = await modo.post("/moderation/content", {**hide, "reason": " "}, form=DISCUSSION)
    assert no_reason.status == 400
    assert (await modo.post("/moderation/content", hide, form=DISCUSSION)).status == 303
    for path in (DISCUSSION, own_page):
        for viewer in (await clients(), camille):
            shown = await viewer.get(path)
            assert shown.status == 200, path
            assert TOP_TEXT not in shown.text and "Hidden by the moderators: Propos hors sujet" in shown.text
    assert "Les contraintes du compostage" in (await camille.get(DISCUSSION)).text  # the reply stays
    assert TOP_TEXT in (await modo.get(DISCUSSION)).text  # moderators still read it
    async with aiohttp.ClientSession() as http:
        async with http.get(target, headers={"Accept": "application/activity+json"}) as r:
            assert r.status == 404
    restore = {"target": target, "action": "restore", "reason": "Relu"}
    assert (await modo.post("/moderation/content", restore, form=DISCUSSION)).status == 303
    assert TOP_TEXT in (await (await clients()).get(DISCUSSION)).text
    log = await modo.get("/moderation/log")
    assert log.status == 200
    rows = re.findall(r"<tr>(.*?)</tr>", log.text, re.S)[1:]  # after the header row
    assert len(rows) == 2 and "Shown again" in rows[0] and "Relu" in rows[0]
    assert "Hidden" in rows[1] and "Propos hors sujet" in rows[1] and "Modération" in rows[1]
    assert "Propos hors sujet" not in (await pmodo.get("/moderation/log")).text
    assert (await camille.get("/moderation/log")).status == 403


async def test_accounts__only_node_admins_block_or_silence_remote_accounts(node, world, clients):
    """The node admin blocks then lifts the block of a remote account (logged); an organisation's
    moderator gets 403; a local account or a bad address is refused with 400."""
    remote = "https://social.example/users/troll"
    admin, modo = await clients("chloe"), await clients("modo")
    block = {"account": remote, "action": "block", "reason": "spam"}
    assert (await modo.post("/moderation/accounts", block, form="/moderation")).status == 403
    assert (await admin.post("/moderation/accounts", {**block, "account": "troll"}, form="/moderation")).status == 400
    local = world.people["camille"].ap_id
    assert (await admin.post("/moderation/accounts", {**block, "account": local}, form="/moderation")).status == 400
    assert (await admin.post("/moderation/accounts", block, form="/moderation")).status == 303
    async with node.rt.sessions() as s:
        assert [(r.actor_ap_id, r.level) for r in await s.scalars(select(AccountRestriction))] == [(remote, "block")]
    assert "Account blocked" in (await admin.get("/moderation/log")).text
    unblock = {"account": remote, "action": "unblock"}
    assert (await admin.post("/moderation/accounts", unblock, form="/moderation")).status == 303
    async with node.rt.sessions() as s:
        assert list(await s.scalars(select(AccountRestriction))) == []


async def test_hide_proposal__reason_replaces_its_text_and_its_document_is_404(node, world, clients):
    """A hidden proposal's page shows the reason instead of its text (moderators still read it); its
    AS2 document answers 404; a resident can report it from its page; restore brings the text back."""
    (proposal,) = await make_proposals(node, world, 1)
    modo, camille = await clients("modo"), await clients("camille")
    assert "/report?target=" in (await camille.get(proposal)).text
    hide = {"target": proposal, "action": "hide", "reason": "Doublon"}
    assert (await camille.post("/moderation/content", hide, form=proposal)).status == 403
    assert (await modo.post("/moderation/content", hide, form=proposal)).status == 303
    shown = await (await clients()).get(proposal)
    assert shown.status == 200 and "Body 0" not in shown.text and "Hidden by the moderators: Doublon" in shown.text
    assert "Body 0" in (await modo.get(proposal)).text
    async with aiohttp.ClientSession() as http:
        async with http.get(proposal, headers={"Accept": "application/activity+json"}) as r:
            assert r.status == 404
    restore = {"target": proposal, "action": "restore"}
    assert (await modo.post("/moderation/content", restore, form=proposal)).status == 303
    assert "Body 0" in (await (await clients()).get(proposal)).text
    async with aiohttp.ClientSession() as http:
        async with http.get(proposal, headers={"Accept": "application/activity+json"}) as r:
            assert r.status == 200


async def test_report_account__from_its_page_to_the_node_admins(node, world, clients):
    """A resident reports another resident's account from its page; the report reaches the node
    admin's queue, not an organisation's moderators (an account belongs to no organisation)."""
    camille = await clients("camille")
    dominique = world.people["dominique"].ap_id
    assert "/report?target=" in (await camille.get(dominique)).text
    assert "/report?target=" not in (await camille.get(world.people["camille"].ap_id)).text
    assert (await _report(camille, dominique, category="abuse", reason="Insultes")).status == 200
    assert "Insultes" in (await (await clients("chloe")).get("/moderation")).text
    assert "Insultes" not in (await (await clients("modo")).get("/moderation")).text


async def test_domains__node_admins_block_a_domain_from_the_moderation_pages(node, world, clients):
    """The node admin blocks a domain (the existing domain blocks, logged); a moderator gets 403;
    this node's own domain is refused with 400."""
    admin, modo = await clients("chloe"), await clients("modo")
    block = {"domain": "spam.example", "action": "block", "reason": "spam waves"}
    assert (await modo.post("/moderation/domains", block, form="/moderation")).status == 403
    assert (await admin.post("/moderation/domains", {**block, "domain": node.uris.domain},
                             form="/moderation")).status == 400
    assert (await admin.post("/moderation/domains", block, form="/moderation")).status == 303
    async with node.rt.sessions() as s:
        assert await moderation.blocked_domains(s) == {"spam.example"}
    log = (await admin.get("/moderation/log")).text
    assert "Domain blocked" in log and "spam waves" in log
