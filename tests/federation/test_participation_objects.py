"""Participation objects at their ids: Group actors, pages, contributions, proposals (AS2, 404s)."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from civic.app import create_app
from federation import participation_objects
from node.config import Settings
from node.db import transaction
from node.models import Contribution, Discussion
from node.services import actors, community, contributions, discussions, proposals
from tests.conftest import RunningNode
from tests.remote import free_port

AS2 = {"Accept": "application/activity+json"}
HTML = {"Accept": "text/html"}
NOT_FOUND = {"error": "not found"}


def _registered(app: web.Application, path: str) -> bool:
    return any(resource.canonical == path for resource in app.router.resources())


async def _discussion_page(request: web.Request) -> web.Response:
    m = request.match_info
    return await participation_objects.discussion_document(request, m["org"], m["slug"])


async def _proposal_page(request: web.Request) -> web.Response:
    return await participation_objects.proposal_document(request, request.match_info["token"])


@pytest.fixture
async def pnode(database_url, tmp_path):
    """A running node with the participation routes: civic/app.py's once it wires them, until
    then participation_objects.add_routes and stand-ins for the web pages' AS2 delegation."""
    port = free_port()
    settings = Settings(base_url=f"http://127.0.0.1:{port}", database_url=database_url,
                        data_dir=tmp_path, development=True, instance_name="Test node",
                        secret_key="test-secret")
    app = create_app(settings, background=False)
    if not _registered(app, "/contributions/{token}"):
        participation_objects.add_routes(app)
    if not _registered(app, "/orgs/{org}/discussions/{slug}"):
        app.router.add_get("/orgs/{org}/discussions/{slug}", _discussion_page)
    if not _registered(app, "/proposals/{token}"):
        app.router.add_get("/proposals/{token}", _proposal_page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield RunningNode(app, settings)
    await runner.cleanup()


async def _get(url: str, headers: dict) -> tuple[int, dict | str, Mapping[str, str]]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=headers, allow_redirects=False) as response:
            body = await response.json(content_type=None) if headers is AS2 else await response.text()
            return response.status, body, response.headers


async def _open(node, slug: str = "clos-jouve", **options) -> Discussion:
    async with transaction(node.rt.sessions) as s:
        org = await actors.local_actor(s, "lyon") or \
            await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        amel = await actors.local_actor(s, "amel") or \
            (await actors.create_user(s, node.uris, "amel", "password-123", "Amel")).actor
        return await discussions.open_discussion(
            s, node.uris, org, slug, "Clos Jouve", summary="Un espace public ouvert",
            body="Que faire du Clos Jouve ?", author=amel, **options)


async def test_group_actor__served_with_its_moderators_collection(pnode):
    """The discussion's Group actor (FEP-1b12) names its moderators collection in attributedTo."""
    d = await _open(pnode)
    status, doc, headers = await _get(d.group.ap_id, AS2)
    assert status == 200 and headers["Content-Type"].startswith("application/activity+json")
    assert (doc["type"], doc["id"], doc["inbox"]) == ("Group", d.group.ap_id, d.group.inbox)
    assert doc["attributedTo"] == f"{d.group.ap_id}/moderators"
    assert doc["publicKey"]["owner"] == d.group.ap_id
    status, moderators, _ = await _get(doc["attributedTo"], AS2)
    assert status == 200 and moderators["orderedItems"] == [pnode.uris.actor("lyon")]


async def test_group_actor__pending_discussion_answers_the_missing_404(pnode):
    """A citizen discussion waiting for moderation: its Group, page and moderators 404 alike."""
    d = await _open(pnode, kind="citizen")
    for url in (d.group.ap_id, d.page_ap_id, f"{d.group.ap_id}/moderators",
                pnode.uris.actor("nobody"), pnode.uris.discussion_page("lyon", "nothing")):
        assert (await _get(url, AS2))[:2] == (404, NOT_FOUND), url


async def test_discussion_document__page_in_the_group(pnode):
    """The discussion page, asked for AS2, is a Page by the organisation in the Group."""
    d = await _open(pnode)
    status, doc, headers = await _get(d.page_ap_id, AS2)
    assert status == 200 and headers["Vary"] == "Accept"
    assert (doc["type"], doc["id"]) == ("Page", d.page_ap_id)
    assert (doc["attributedTo"], doc["audience"]) == (pnode.uris.actor("lyon"), d.group.ap_id)
    assert doc["name"] == "Clos Jouve" and doc["summary"] == "Un espace public ouvert"
    assert "Que faire du Clos Jouve ?" in doc["content"]


async def test_contribution_document__note_redirect_and_tombstone(pnode):
    """A contribution: a Note for AS2, its own page for people, 410 once deleted."""
    d = await _open(pnode)
    async with transaction(pnode.rt.sessions) as s:
        amel = await actors.require_local_actor(s, "amel")
        c = await contributions.contribute(s, pnode.uris, await s.get(Discussion, d.id), amel,
                                           "<p>Un jardin</p>")
    status, doc, _ = await _get(c.ap_id, AS2)
    assert status == 200
    assert (doc["type"], doc["inReplyTo"], doc["attributedTo"]) == ("Note", d.page_ap_id, amel.ap_id)
    status, _, headers = await _get(c.ap_id, HTML)
    token = pnode.uris.token_of(c.ap_id)
    assert (status, headers["Location"]) == (
        302, f"{d.page_ap_id}/contributions/{c.id}#contribution-{token}")
    async with transaction(pnode.rt.sessions) as s:
        row = await s.scalar(select(Contribution).where(Contribution.ap_id == c.ap_id))
        await contributions.delete_contribution(s, row, federate=True)
    status, doc, _ = await _get(c.ap_id, AS2)
    assert (status, doc["type"], doc["formerType"]) == (410, "Tombstone", "Note")


async def test_contribution_document__hidden_or_members_only_is_404(pnode):
    """Hidden contributions and those of a members-only discussion answer the missing 404."""
    public, members = await _open(pnode), await _open(pnode, "interne", visibility="members")
    ids = []
    async with transaction(pnode.rt.sessions) as s:
        amel = await actors.require_local_actor(s, "amel")
        for d in (public, members):
            ids.append((await contributions.contribute(
                s, pnode.uris, await s.get(Discussion, d.id), amel, "<p>Texte</p>")).ap_id)
        hidden = await s.scalar(select(Contribution).where(Contribution.ap_id == ids[0]))
        await contributions.set_mark(s, hidden, hidden=True)
    for ap_id in ids:
        assert (await _get(ap_id, AS2))[:2] == (404, NOT_FOUND)


async def test_proposal_documents__page_and_answer_once_published(pnode):
    """A proposal is a Page once published; its answer a Note once the answer is published."""
    d = await _open(pnode)
    async with transaction(pnode.rt.sessions) as s:
        org, amel = await actors.require_local_actor(s, "lyon"), await actors.require_local_actor(s, "amel")
        draft = await proposals.create(s, pnode.uris, org, amel, "Un brouillon", "<p>…</p>")
        p = await proposals.create(s, pnode.uris, org, amel, "Des bancs", "<p>Plus de bancs</p>",
                                   discussion_id=d.id, publish=True)
    assert (await _get(draft.ap_id, AS2))[:2] == (404, NOT_FOUND)
    status, doc, _ = await _get(p.ap_id, AS2)
    assert (status, doc["type"], doc["civic:status"], doc["audience"]) == \
        (200, "Page", "published", d.group.ap_id)
    answer = pnode.uris.proposal_answer(p.ap_id)
    assert (await _get(answer, AS2))[:2] == (404, NOT_FOUND)
    async with transaction(pnode.rt.sessions) as s:
        row = await proposals.require(s, p.ap_id)
        user = await actors.user_by_username(s, "amel")
        await proposals.write_answer(s, row, "<p>Oui</p>", user_id=user.id, state="accepted")
        await proposals.publish_answer(s, pnode.uris, row, by=org)
    status, doc, _ = await _get(answer, AS2)
    assert (status, doc["type"], doc["inReplyTo"], doc["attributedTo"]) == \
        (200, "Note", p.ap_id, org.ap_id)


async def test_article_and_initiative_documents__in_the_group(pnode):
    """Articles and initiatives of a discussion are served in its Group."""
    d = await _open(pnode)
    async with transaction(pnode.rt.sessions) as s:
        amel = await actors.require_local_actor(s, "amel")
        discussion = await s.get(Discussion, d.id)
        article = await community.add_article(s, pnode.uris, discussion, amel, "Le Clos en 1900",
                                              body_html="<p>Histoire</p>")
        initiative = await community.create_initiative(s, pnode.uris, discussion, amel,
                                                       "Planter un arbre", "<p>Ensemble</p>")
    for ap_id, kind in ((article.ap_id, "Article"), (initiative.ap_id, "Page")):
        status, doc, _ = await _get(ap_id, AS2)
        assert (status, doc["type"], doc["audience"]) == (200, kind, d.group.ap_id)


async def test_article_document__people_are_sent_to_the_article_page(pnode):
    """An article id: an Article for AS2; browsers go to the article's own page."""
    d = await _open(pnode)
    async with transaction(pnode.rt.sessions) as s:
        amel = await actors.require_local_actor(s, "amel")
        article = await community.add_article(s, pnode.uris, await s.get(Discussion, d.id), amel,
                                              "Compte rendu", summary="Synthèse",
                                              link="https://example.org/cr")
    status, doc, _ = await _get(article.ap_id, AS2)
    assert (status, doc["type"], doc["name"]) == (200, "Article", "Compte rendu")
    status, _, headers = await _get(article.ap_id, HTML)
    token = pnode.uris.token_of(article.ap_id)
    assert (status, headers["Location"]) == (
        302, pnode.uris.discussion_article("lyon", "clos-jouve", token))
