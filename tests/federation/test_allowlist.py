"""Allow-list mode (setting ``allowlist_mode``): the node federates only with the domains on its
allow list — it refuses their signed requests (403), fetches nothing from them and delivers
nothing to them — and a domain added with `civic domain allow` is heard at once."""

from __future__ import annotations

import dataclasses

import pytest

from federation.fetch import FetchError
from federation.policy import refused, reload_blocks
from federation.runtime import Runtime
from node.config import Settings
from node.db import transaction
from node.services import actors, moderation, notes

AS = "https://www.w3.org/ns/activitystreams"


def runtime(allowlist: bool, allowed=(), blocked=()) -> Runtime:
    rt = Runtime(settings=Settings(base_url="https://civic.example", allowlist_mode=allowlist), sessions=None)
    rt.allowed_domains, rt.blocked_domains = set(allowed), set(blocked)
    return rt


@pytest.mark.parametrize(("allowlist", "url", "is_refused"), [
    (False, "https://mastodon.example/users/a", False),  # open federation
    (False, "https://spam.example/users/a", True),  # blocked
    (True, "https://mastodon.example/users/a", True),  # not on the allow list
    (True, "https://partner.example/users/a#main-key", False),
    (True, "https://lemmy.partner.example:8443/c/x", False),  # a subdomain of an allowed one
    (True, "https://spam.partner.example/users/a", True),  # blocked wins over allowed
    (True, "https://civic.example/actors/lyon", False),  # this node itself
    (True, "notpartner.example", True),
])
def test_refused__blocks_and_the_allow_list(allowlist, url, is_refused):
    rt = runtime(allowlist, allowed={"partner.example"}, blocked={"spam.example", "spam.partner.example"})
    assert refused(url, rt) is is_refused


async def test_allowlist__only_allowed_domains_are_heard_fetched_and_delivered_to(node, remote):
    async with transaction(node.rt.sessions) as s:
        org = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
    alice = remote.add_actor("alice")
    follow = {"@context": AS, "id": f"{alice.ap_id}/follows/1", "type": "Follow", "actor": alice.ap_id,
              "object": org.ap_id}
    assert (await remote.post(org.inbox, follow, alice))[0] == 202  # open federation so far
    await node.step()
    remote.received.clear()

    node.rt.settings = dataclasses.replace(node.rt.settings, allowlist_mode=True)
    status, body = await remote.post(org.inbox, {**follow, "id": f"{alice.ap_id}/follows/2"}, alice)
    assert status == 403 and "allow list" in body["error"]
    with pytest.raises(FetchError, match="domain policy"):
        await node.rt.fetcher.get_json(alice.ap_id)
    async with transaction(node.rt.sessions) as s:
        await notes.publish_announcement(s, node.uris, await s.merge(org), "<p>Pour nos partenaires</p>")
    await node.step()
    assert [d for d in remote.received if d["type"] == "Create"] == []  # alice's host is not allowed

    async with transaction(node.rt.sessions) as s:
        await moderation.allow_domain(s, "127.0.0.1")
    await reload_blocks(node.rt)  # what the running node does when told (see test_inbox)
    assert (await remote.post(org.inbox, {**follow, "id": f"{alice.ap_id}/follows/3"}, alice))[0] == 202
    assert (await node.rt.fetcher.get_json(alice.ap_id))["id"] == alice.ap_id
    async with transaction(node.rt.sessions) as s:
        await notes.publish_announcement(s, node.uris, await s.merge(org), "<p>Bienvenue</p>")
    await node.step()
    [create] = [d for d in remote.received if d["type"] == "Create"]
    assert "Bienvenue" in create["object"]["content"]
