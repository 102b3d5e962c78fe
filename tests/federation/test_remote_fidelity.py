"""Remote content through the real path (signed POST, processing, pages): captured documents
with unusual contexts, content warnings on every page that shows a contribution, actors' urls."""

from __future__ import annotations

import aiohttp
from sqlalchemy import select, update

from node.db import transaction
from node.models import Actor, Discussion
from node.services import community
from tests.federation.participation_scene import (
    AS,
    PUBLIC,
    capture,
    make_activity,
    open_scene,
    outcome_of,
    post,
    stored_contribution,
)


async def _html(url: str, lang: str = "fr") -> str:
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={"Accept": "text/html", "Accept-Language": lang}) as page:
            assert page.status == 200
            return await page.text()


def _note(alice, n: int, group: str, **fields) -> dict:
    return {"id": f"{alice.ap_id}/notes/{n}", "type": "Note", "attributedTo": alice.ap_id,
            "to": [PUBLIC, group], "content": f"<p>Message {n}</p>", **fields}


async def test_fidelity__pleroma_litepub_reply_becomes_contribution(node, remote):
    """Our own Pleroma capture (litepub-0.1.jsonld, not bundled) is a contribution, and the
    context URL is never fetched (rule 5): it is read as compact AS2, as Mastodon reads it."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    doc = capture("pleroma/activities/create_note.json", {
        "https://greenish.red/users/nutomic": alice.ap_id,
        "https://greenish.red/objects/": f"{alice.ap_id}/objects/",
        "https://greenish.red/activities/": f"{alice.ap_id}/activities/",
        "https://enterprise.lemmy.ml/post/55143": scene.page,
    })
    await post(node, remote, scene.group_inbox, doc, alice)
    stored = await stored_contribution(node, doc["object"]["id"])
    assert stored is not None and stored.content.endswith(" test")
    assert not any("litepub" in path for path in remote.fetches)


async def test_fidelity__unbundled_context_is_read_without_fetching_it(node, remote):
    """A context URL we do not bundle never drops the post and is never requested."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    remote.documents[f"{remote.base}/ctx"] = {"@context": {"x": "https://x.example/"}}
    doc = {"@context": [AS, f"{remote.base}/ctx"], "id": f"{alice.ap_id}/create/1",
           "type": "Create", "actor": alice.ap_id, "to": [PUBLIC, scene.group],
           "object": _note(alice, 1, scene.group)}
    await post(node, remote, scene.group_inbox, doc, alice)
    assert (await stored_contribution(node, doc["object"]["id"])) is not None
    assert "/ctx" not in remote.fetches


async def test_fidelity__create_without_to_whose_object_is_addressed_to_the_group(node, remote):
    """A Create with no addressing of its own: the object's ``to`` (the Group) decides."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    doc = {"@context": AS, "id": f"{alice.ap_id}/create/2", "type": "Create",
           "actor": alice.ap_id, "object": _note(alice, 2, scene.group)}
    await post(node, remote, scene.group_inbox, doc, alice)
    assert (await stored_contribution(node, doc["object"]["id"])) is not None, \
        await outcome_of(node, doc["id"])


async def test_fidelity__content_warning_hides_the_text_on_every_page(node, remote):
    """A summary (no sensitive) hides the text behind <details> on the discussion page and the
    reply page; an Update changes the warning; sensitive alone gets the translated warning."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    obj = _note(alice, 3, scene.group, summary="Travaux bruyants", content="<p>Le chantier</p>")
    await post(node, remote, scene.group_inbox, make_activity(alice, "Create", 3, obj), alice)
    stored = await stored_contribution(node, obj["id"])
    reply_page = node.uris.discussion_contribution("lyon", "clos-jouve", stored.id)
    for url in (scene.page, reply_page):
        html = await _html(url)
        assert '<span class="cw-text">Travaux bruyants</span></summary>' in html
        start = html.index('<details class="content-warning">')
        assert "Le chantier" in html[start:html.index("</details>", start)]
    updated = {**obj, "summary": None, "sensitive": True, "content": "<p>Le chantier, bis</p>"}
    await post(node, remote, scene.group_inbox, make_activity(alice, "Update", 3, updated), alice)
    html = await _html(scene.page, "de")
    assert '<span class="cw-text">Sensibler Inhalt</span>' in html and "Travaux" not in html


async def test_fidelity__content_map_in_the_readers_language(node, remote):
    """contentMap: a German reader gets the German text with lang="de"; a French one content."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    obj = _note(alice, 4, scene.group, content="<p>Bonjour</p>",
                contentMap={"fr": "<p>Bonjour</p>", "de": "<p>Guten Tag</p>"})
    await post(node, remote, scene.group_inbox, make_activity(alice, "Create", 4, obj), alice)
    assert '<div class="prose content" lang="de"><p>Guten Tag</p></div>' in await _html(scene.page, "de")
    assert '<div class="prose content" lang="fr"><p>Bonjour</p></div>' in await _html(scene.page, "fr")


async def test_fidelity__javascript_profile_url_is_never_a_link(node, remote):
    """An actor whose url is ``javascript://<its host>/…`` links to its id (rule 20), and so
    does an actor stored with such a url before the rule."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    alice.document["url"] = f"javascript://{remote.base.split('//')[1]}/%0aalert(1)"
    obj = _note(alice, 5, scene.group)
    await post(node, remote, scene.group_inbox, make_activity(alice, "Create", 5, obj), alice)
    html = await _html(scene.page)
    assert "javascript:" not in html and f'href="{alice.ap_id}"' in html
    async with transaction(node.rt.sessions) as s:
        await s.execute(update(Actor).where(Actor.ap_id == alice.ap_id)
                        .values(url="javascript:alert(1)", name="Alice Stored"))
    html = await _html(scene.page)
    assert "Alice Stored" in html  # rendered again, from the stored row
    assert "javascript:" not in html and f'href="{alice.ap_id}"' in html


async def test_fidelity__stakeholder_excerpt_shows_the_warning_not_the_text(node, remote):
    """The key stakeholders' "Commented:" excerpt of a warned contribution is the warning."""
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    obj = _note(alice, 6, scene.group, summary="Spoiler", content="<p>Le secret</p>")
    await post(node, remote, scene.group_inbox, make_activity(alice, "Create", 6, obj), alice)
    async with transaction(node.rt.sessions) as s:
        actor = await s.scalar(select(Actor).where(Actor.ap_id == alice.ap_id))
        await community.set_stakeholder(s, await s.get(Discussion, scene.discussion_id), actor,
                                        "resident")
    for url in (scene.page, f"{scene.page}/stakeholders"):
        html = await _html(url)
        assert "Avertissement : Spoiler</p>" in html, url
        assert "Le secret</p>" not in html.split('class="latest"', 1)[1].split("</p>", 1)[0]
