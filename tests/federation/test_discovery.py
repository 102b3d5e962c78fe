"""WebFinger, host-meta, NodeInfo, actor documents, content negotiation and paged collections."""

from __future__ import annotations

import aiohttp

from federation.signatures import sign_headers
from node.db import transaction
from node.services import actors, discussions, follows, notes
from tests.federation.participation_scene import make_activity, post

AS = "application/activity+json"


async def _get(url, accept=AS, **params):
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers={"Accept": accept}, params=params) as response:
            ctype = response.content_type
            body = await (response.json(content_type=None) if "json" in ctype else response.text())
            return response.status, response.headers, body


async def _org(node, handle="lyon", **kw):
    async with transaction(node.rt.sessions) as s:
        return await actors.create_organization(s, node.uris, handle, "Ville de Lyon", **kw)


async def test_webfinger__acct_round_trip_as_mastodon_checks(node):
    """acct:lyon@host → self link to the actor; the actor's preferredUsername@host gives it back."""
    org = await _org(node)
    status, _, jrd = await _get(f"{node.base}/.well-known/webfinger",
                                resource=f"acct:LYON@{node.uris.domain}")
    assert status == 200
    self_link = next(link for link in jrd["links"] if link["rel"] == "self")
    assert self_link == {"rel": "self", "type": AS, "href": org.ap_id}
    _, _, actor = await _get(self_link["href"])
    _, _, again = await _get(f"{node.base}/.well-known/webfinger",
                             resource=f"acct:{actor['preferredUsername']}@{node.uris.domain}")
    assert next(x for x in again["links"] if x["rel"] == "self")["href"] == org.ap_id
    assert again["subject"] == f"acct:lyon@{node.uris.domain}"


async def test_webfinger__unknown_and_foreign_resources_are_404(node):
    """Unknown handles and other hosts' handles answer 404; a missing resource is 400."""
    assert (await _get(f"{node.base}/.well-known/webfinger", resource="acct:nobody@"
                       + node.uris.domain))[0] == 404
    assert (await _get(f"{node.base}/.well-known/webfinger", resource="acct:lyon@other.example"))[0] == 404
    assert (await _get(f"{node.base}/.well-known/webfinger"))[0] == 400


async def test_webfinger__instance_url_gives_application_actor(node):
    """FEP-d556: resource=https://host/ answers with the instance Application actor."""
    status, _, jrd = await _get(f"{node.base}/.well-known/webfinger", resource=f"{node.base}/")
    assert status == 200
    href = next(link for link in jrd["links"] if link["rel"] == "self")["href"]
    _, _, actor = await _get(href)
    assert actor["type"] == "Application"
    assert actor["publicKey"]["owner"] == href


async def test_nodeinfo__20_and_21_describe_the_node(node):
    """/.well-known/nodeinfo links 2.0 and 2.1; both name civic-node and count local posts."""
    org = await _org(node)
    async with transaction(node.rt.sessions) as s:
        await notes.publish_announcement(s, node.uris, org, "<p>Hello</p>")
    _, _, links = await _get(f"{node.base}/.well-known/nodeinfo", accept="application/json")
    hrefs = {link["rel"].rsplit("/", 1)[-1]: link["href"] for link in links["links"]}
    for version in ("2.0", "2.1"):
        status, _, info = await _get(hrefs[version], accept="application/json")
        assert status == 200
        assert info["version"] == version
        assert info["software"]["name"] == "civic-node"
        assert info["protocols"] == ["activitypub"]
        assert info["usage"]["localPosts"] == 1
        assert set(info["usage"]["users"]) == {"total", "activeMonth", "activeHalfyear"}
        assert info["metadata"]["nodeName"] == "Test node"


async def test_host_meta__points_to_webfinger(node):
    status, _, body = await _get(f"{node.base}/.well-known/host-meta", accept="application/xrd+xml")
    assert status == 200
    assert f"{node.base}/.well-known/webfinger?resource={{uri}}" in body


async def test_actor__organization_document_has_what_mastodon_reads(node):
    """Organization actor: inbox, outbox, followers, sharedInbox, RSA key owned by the actor."""
    org = await _org(node)
    status, headers, doc = await _get(org.ap_id)
    assert status == 200
    assert headers["Content-Type"].startswith(AS)
    assert "Accept" in headers["Vary"]
    assert doc["type"] == "Organization"
    assert doc["id"] == org.ap_id
    assert doc["preferredUsername"] == "lyon"
    assert doc["endpoints"]["sharedInbox"] == f"{node.base}/inbox"
    assert doc["publicKey"] == {"id": f"{org.ap_id}#main-key", "owner": org.ap_id,
                                "publicKeyPem": org.public_key_pem}
    assert "privateKeyPem" not in str(doc) and "PRIVATE KEY" not in str(doc)
    assert doc["manuallyApprovesFollowers"] is False


async def test_actor__same_url_serves_html_to_browsers(node):
    """Content negotiation: text/html gets the page, ld+json gets AS2 (Vary: Accept)."""
    org = await _org(node)
    status, headers, html = await _get(org.ap_id, accept="text/html")
    assert status == 200 and "Ville de Lyon" in html and "<html" in html
    assert "Accept" in headers["Vary"]
    ld = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
    status, _, doc = await _get(org.ap_id, accept=ld)
    assert doc["type"] == "Organization"


async def test_collections__followers_and_outbox_are_paged(node, remote):
    """25 followers → totalItems 25, first page 20 items with next, second page 5 items."""
    org = await _org(node)
    fans = [await node.rt.keys.get_actor(remote.add_actor(f"f{i}").ap_id) for i in range(25)]
    async with transaction(node.rt.sessions) as s:
        for fan in fans:
            await follows.receive_follow(s, await s.merge(fan), org, f"{fan.ap_id}/follow")
        await notes.publish_announcement(s, node.uris, org, "<p>One</p>")
    await node.step()
    _, _, coll = await _get(org.followers_url)
    assert coll["type"] == "OrderedCollection" and coll["totalItems"] == 25
    _, _, page1 = await _get(coll["first"])
    assert len(page1["orderedItems"]) == 20 and page1["next"].endswith("page=2")
    _, _, page2 = await _get(page1["next"])
    assert len(page2["orderedItems"]) == 5 and "next" not in page2
    _, _, outbox = await _get(org.outbox)
    assert outbox["totalItems"] == 1
    _, _, opage = await _get(outbox["first"])
    assert opage["orderedItems"][0]["type"] == "Create"
    assert opage["orderedItems"][0]["object"]["content"] == "<p>One</p>"


async def test_note__url_serves_as2_and_html(node):
    """An announcement's id answers AS2 (Note with FEP-7888 context) and HTML."""
    org = await _org(node)
    async with transaction(node.rt.sessions) as s:
        note = await notes.publish_announcement(s, node.uris, org, "<p>Réunion publique</p>")
    _, _, doc = await _get(note.ap_id)
    assert doc["type"] == "Note" and doc["attributedTo"] == org.ap_id
    assert doc["context"] and doc["to"] == ["https://www.w3.org/ns/activitystreams#Public"]
    _, _, html = await _get(note.ap_id, accept="text/html")
    assert "Réunion publique" in html


async def test_objects__missing_things_are_404(node):
    assert (await _get(f"{node.base}/actors/nobody"))[0] == 404
    assert (await _get(f"{node.base}/notes/nothing"))[0] == 404
    assert (await _get(f"{node.base}/actors/nobody/followers"))[0] == 404


async def test_objects__followers_only_note_answers_like_a_missing_one(node):
    """A non-public object answers the same 404 as one that does not exist (rule 10)."""
    org = await _org(node)
    async with transaction(node.rt.sessions) as s:
        note = await notes.publish_announcement(s, node.uris, org, "<p>Members</p>", "followers")
    hidden = await _get(note.ap_id)
    missing = await _get(f"{node.base}/notes/nothing")
    assert hidden[0] == missing[0] == 404
    assert hidden[2] == missing[2]


async def test_webfinger__a_followers_discussions_group_answers_its_signed_followers_only(node, remote):
    """WebFinger of a followers discussion's Group: 404 like an absent handle to an unsigned
    request and to a stranger's signed one; the JRD to a signed request by an approved follower
    of the organisation (SECURITY.md rule 24)."""
    org = await _org(node)
    async with transaction(node.rt.sessions) as s:
        await discussions.open_discussion(s, node.uris, await s.merge(org), "abonnes", "Entre abonnés",
                                          visibility="followers")
    fidele, inconnu = remote.add_actor("fidele"), remote.add_actor("inconnu")
    await post(node, remote, org.inbox, make_activity(fidele, "Follow", 1, org.ap_id), fidele)
    url = f"{node.base}/.well-known/webfinger?resource=acct:lyon.abonnes@{node.uris.domain}"
    absent = await _signed(url.replace("lyon.abonnes", "lyon.absente"), None)
    assert absent[0] == 404
    assert await _signed(url, None) == absent
    assert await _signed(url, inconnu) == absent
    status, body = await _signed(url, fidele)
    assert status == 200 and f"acct:lyon.abonnes@{node.uris.domain}" in body


async def test_nodeinfo__local_posts_count_what_anyone_may_list(node):
    """usage.localPosts counts public announcements, not unlisted or followers-only ones."""
    org = await _org(node)
    async with transaction(node.rt.sessions) as s:
        for level in ("public", "unlisted", "followers"):
            await notes.publish_announcement(s, node.uris, await s.merge(org), f"<p>{level}</p>",
                                             visibility=level)
    _, _, doc = await _get(f"{node.base}/nodeinfo/2.1", accept="application/json")
    assert doc["usage"]["localPosts"] == 1


async def _signed(url: str, actor) -> tuple[int, str]:
    headers = {"Accept": "application/jrd+json"}
    if actor is not None:
        headers.update(sign_headers("GET", url, None, actor.key_id, actor.private_pem))
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers=headers) as response:
            return response.status, await response.text()
