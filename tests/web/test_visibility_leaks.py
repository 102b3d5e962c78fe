"""The visibility leaks of issue 8, found black-box on a fresh node: one test each (SECURITY.md rule 24).

Each fails on the code before the read paths asked node/visibility.py."""

from __future__ import annotations

import json
from datetime import date, timedelta

import aiohttp
import pytest
from sqlalchemy import select

from node.db import transaction
from node.models import Activity, Discussion, Proposal
from node.services import actors, contributions, discussions, notes, proposals, spaces
from tests.federation.participation_scene import (
    PUBLIC,
    follow_group,
    make_activity,
    mastodon_reply,
    open_scene,
    post,
    stored_contribution,
)
from tests.web.participation_helpers import PASSWORD

AS2 = {"Accept": "application/activity+json"}


class Anonymous:
    """An anonymous visitor keeping its cookies, so that two answers compare byte for byte (a
    page's form token is the visitor's; the path asked for, which an error page offers as the
    log-in form's ``next``, reads ``{path}``)."""

    def __init__(self):
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def __call__(self, url: str, headers: dict | None = None) -> tuple[int, str, str]:
        """(status, Content-Type, body) of a GET, redirects not followed."""
        async with self.http.get(url, headers={"Accept": "text/html", **(headers or {})},
                                 allow_redirects=False) as response:
            kind, body = response.headers.get("Content-Type", ""), await response.text()
            if kind.startswith("text/html"):
                body = body.replace(response.url.raw_path_qs, "{path}").replace(response.url.raw_path, "{path}")
            return response.status, kind, body


@pytest.fixture
async def _get():
    visitor = Anonymous()
    yield visitor
    await visitor.http.close()


async def _lyon(node) -> None:
    """lyon with its admin maire, its member marie (role member) and camille, who is neither."""
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        maire = await actors.create_user(s, node.uris, "maire", PASSWORD, "La maire")
        await actors.add_member(s, maire, lyon, "admin")
        marie = await actors.create_user(s, node.uris, "marie", PASSWORD, "Marie")
        await actors.add_member(s, marie, lyon, "member")
        await actors.create_user(s, node.uris, "camille", PASSWORD, "Camille")


async def test_leak__a_members_space_takes_no_proposal_from_a_non_member_and_shows_none_to_others(
        node, clients, _get):
    """A non-member filing into a members space gets the 404 of a missing space and nothing is
    stored; a member's proposal there is absent for anonymous visitors: its page is the 404 of
    a made-up one, and neither the proposal index nor the organisation page names it."""
    await _lyon(node)
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.require_local_actor(s, "lyon")
        space = await spaces.create_space(s, lyon, "budget-interne", "Budget interne", visibility="members")
        await spaces.add_phase(s, space, "Idées", date.today(), date.today() + timedelta(days=30),
                               ["proposals"])
        marie = await actors.require_local_actor(s, "marie")
        filed = await proposals.create(s, node.uris, lyon, marie, "Une cantine interne", "<p>Texte</p>",
                                       space=space, publish=True)
        space_id, filed_id = space.id, filed.ap_id
    camille = clients()
    await camille.login("camille")
    form = "/orgs/lyon/proposals/new"
    refused = await camille.post(form, {"title": "Un parc caché", "body": "Texte", "space": str(space_id)},
                                 form=form)
    missing = await camille.post(form, {"title": "Un parc caché", "body": "Texte", "space": "999999"},
                                 form=form)
    assert refused.status == missing.status == 404
    async with node.rt.sessions() as s:
        assert await s.scalar(select(Proposal.id).where(Proposal.title == "Un parc caché")) is None
    status, kind, body = await _get(filed_id)
    assert (status, kind, body) == await _get(f"{node.base}/proposals/made-up-token")
    assert status == 404 and "Une cantine interne" not in body
    for listing in ("/orgs/lyon/proposals", "/actors/lyon"):
        status, _, body = await _get(node.base + listing)
        assert status == 200 and "Une cantine interne" not in body, listing
    marie_browser = clients()
    await marie_browser.login("marie")
    assert "Une cantine interne" in (await marie_browser.get(filed_id)).text  # the member reads it


async def test_leak__a_restricted_discussions_group_answers_like_an_absent_one(node, _get):
    """The Group of a followers or members discussion: WebFinger, its actor document, outbox and
    followers answer byte for byte what an absent handle gets."""
    await _lyon(node)
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.require_local_actor(s, "lyon")
        for slug, level in (("entre-abonnes", "followers"), ("entre-membres", "members")):
            await discussions.open_discussion(s, node.uris, lyon, slug, slug, visibility=level)
    domain = node.uris.domain
    for handle in ("lyon.entre-abonnes", "lyon.entre-membres"):
        finger = f"{node.base}/.well-known/webfinger?resource=acct:{{}}@{domain}"
        assert await _get(finger.format(handle)) == await _get(finger.format("lyon.absent"))
        assert (await _get(finger.format(handle)))[0] == 404
        for tail in ("", "/outbox", "/followers", "/outbox?page=1"):
            got = await _get(f"{node.base}/actors/{handle}{tail}", AS2)
            assert got == await _get(f"{node.base}/actors/lyon.absent{tail}", AS2), (handle, tail)
            assert got[0] == 404
        html = await _get(f"{node.base}/actors/{handle}")
        assert html[0] == 404 and html == await _get(f"{node.base}/actors/lyon.absent")


async def test_leak__an_unlisted_discussion_is_not_listed_on_the_organisation_page(node, clients, _get):
    """Anonymous visitors and residents do not see an unlisted discussion on the organisation page
    (it is readable by its link); the organisation's staff do."""
    await _lyon(node)
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.require_local_actor(s, "lyon")
        unlisted = await discussions.open_discussion(s, node.uris, lyon, "par-lien", "Discussion par lien",
                                                     visibility="unlisted")
        page = unlisted.page_ap_id
    status, _, body = await _get(f"{node.base}/actors/lyon")
    assert status == 200 and "Discussion par lien" not in body
    camille = clients()
    await camille.login("camille")
    assert "Discussion par lien" not in (await camille.get("/actors/lyon")).text
    assert "Discussion par lien" in (await _get(page))[2]  # readable by its link
    maire = clients()
    await maire.login("maire")
    assert "Discussion par lien" in (await maire.get("/actors/lyon")).text


async def test_leak__a_deleted_remote_actors_announces_leave_the_outbox_and_answer_410(node, remote, _get):
    """After a remote actor's Delete{actor}, the group's Announces of its contribution are out of
    the group's outbox (items and totalItems) and answer 410 with a Tombstone at their ids."""
    scene = await open_scene(node)
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
    await follow_group(node, remote, scene, bob)
    reply = mastodon_reply(alice, 1, scene.page, scene.org)
    await post(node, remote, scene.group_inbox, reply, alice)
    async with node.rt.sessions() as s:
        announces = list(await s.scalars(select(Activity.ap_id).where(
            Activity.type == "Announce", Activity.document["actor"].as_string() == scene.group)))
    assert announces
    outbox = f"{scene.group}/outbox?page=1"
    status, _, body = await _get(outbox, AS2)
    assert status == 200 and set(announces) & {item["id"] for item in json.loads(body)["orderedItems"]}
    for announce in announces:
        assert (await _get(announce, AS2))[0] == 200
    await post(node, remote, scene.group_inbox, make_activity(alice, "Delete", 1, alice.ap_id, to=[PUBLIC]),
               alice)
    assert (await stored_contribution(node, reply["object"]["id"])).deleted_at is not None
    status, _, body = await _get(outbox, AS2)
    listed = json.loads(body)
    assert not set(announces) & {item["id"] for item in listed["orderedItems"]}
    assert listed["totalItems"] == len(listed["orderedItems"])
    for announce in announces:
        status, _, body = await _get(announce, AS2)
        assert status == 410 and json.loads(body)["type"] == "Tombstone", announce
        assert reply["object"]["content"][:20] not in body


async def test_leak__every_activity_we_mint_answers_at_its_id(node, remote, _get):
    """Every activity we stored answers 200 with itself at its id: an announcement's Create
    (<note>/activity), a contribution's Create and the group's Announce{Create} and
    Announce{<note id>}."""
    scene = await open_scene(node)
    bob = remote.add_actor("bob")
    await follow_group(node, remote, scene, bob)
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.require_local_actor(s, "lyon")
        await notes.publish_announcement(s, node.uris, lyon, "<p>Réunion jeudi</p>")
        amel = await actors.require_local_actor(s, "amel")
        await contributions.contribute(s, node.uris, await s.get(Discussion, scene.discussion_id), amel,
                                       "<p>Un jardin</p>")
    await node.step()
    async with node.rt.sessions() as s:
        minted = list(await s.scalars(select(Activity).where(Activity.type.in_(("Create", "Announce")))))
    kinds = {(a.type, isinstance(a.document.get("object"), str)) for a in minted}
    assert ("Announce", True) in kinds and ("Create", False) in kinds
    for activity in minted:
        status, _, body = await _get(activity.ap_id, AS2)
        assert status == 200 and json.loads(body)["id"] == activity.ap_id, (activity.type, activity.document)
