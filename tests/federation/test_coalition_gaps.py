"""Issue 10 points that the coalition tests did not exercise on their own: a coalition's shared
demand supported from the fediverse, a coalition's joint discussion followed and joined from the
fediverse, and a ``members`` coalition's variants kept from outsiders (HTML and AS2). Each checks
behaviour that the node already has (node/services/proposals.py, discussions, campaigns and
node/visibility.py), on a coalition rather than an organisation."""

from __future__ import annotations

import aiohttp
from sqlalchemy import select

from node.db import transaction
from node.models import Contribution, Discussion, Follow, FollowStates, Proposal
from node.services import actors, campaigns, coalition_report, coalitions, discussions, proposals
from tests.federation.participation_scene import (
    make_activity,
    mastodon_like,
    mastodon_reply,
    mastodon_undo_like,
    outcome_of,
    post,
)

AS2 = {"Accept": "application/activity+json"}


async def _coalition(node, *, level: str = "public"):
    """Organisation ocean (founder) and lyon (a member) of the coalition blue; resident amel."""
    async with transaction(node.rt.sessions) as s:
        ocean = await actors.create_organization(s, node.uris, "ocean", "Ocean Alliance")
        lyon = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        await actors.create_user(s, node.uris, "amel", "password-123", "Amel")
        blue = await coalitions.create(s, node.uris, "blue", "Blue Coalition", founder=ocean,
                                       languages=("fr", "de"), visibility_level=level)
        await coalitions.invite(s, node.uris, blue.actor, lyon)
        await coalitions.answer_invite(s, node.uris, lyon, blue.actor, True)
        return blue.actor.ap_id


async def test_shared_demand__a_fediverse_like_supports_a_coalitions_proposal_and_its_undo_withdraws(
        node, remote):
    """A shared demand is a proposal whose organisation is the coalition's Group: a Like from an
    account on another server supports it (and shows in the coalition's report), its Undo takes
    the support back."""
    await _coalition(node)
    alice = remote.add_actor("alice")
    async with transaction(node.rt.sessions) as s:
        blue = await actors.require_local_actor(s, "blue")
        amel = await actors.require_local_actor(s, "amel")
        demand = await proposals.create(s, node.uris, blue, amel, "Interdire le plastique jetable",
                                        "<p>Partout en Europe.</p>", publish=True)
        demand_id = demand.ap_id
    like = mastodon_like(alice, 1, demand_id)
    await post(node, remote, f"{node.base}/actors/blue/inbox", like, alice)
    async with node.rt.sessions() as s:
        stored = await s.scalar(select(Proposal).where(Proposal.ap_id == demand_id))
        assert stored.support_count == 1, await outcome_of(node, like["id"])
        report = await coalition_report.report(s, await actors.require_local_actor(s, "blue"))
    assert [(d["title"], d["supports"]) for d in report["demands"]] == [
        ("Interdire le plastique jetable", 1)]
    await post(node, remote, f"{node.base}/actors/blue/inbox", mastodon_undo_like(alice, 1, demand_id), alice)
    async with node.rt.sessions() as s:
        stored = await s.scalar(select(Proposal).where(Proposal.ap_id == demand_id))
        assert stored.support_count == 0


async def test_joint_discussion__a_fediverse_account_follows_it_and_takes_part(node, remote):
    """A joint discussion hosted by the coalition: a fediverse account (say a follower of a member
    organisation) follows its Group and its reply to the discussion becomes a contribution."""
    await _coalition(node)
    bob = remote.add_actor("bob")
    async with transaction(node.rt.sessions) as s:
        blue = await actors.require_local_actor(s, "blue")
        d = await discussions.open_discussion(s, node.uris, blue, "plastique",
                                              {"fr": "Moins de plastique"}, body="Quelles mesures ?")
        group, group_inbox, page, discussion_id = d.group.ap_id, d.group.inbox, d.page_ap_id, d.id
    follow = make_activity(bob, "Follow", 1, group)
    await post(node, remote, group_inbox, follow, bob)
    async with node.rt.sessions() as s:
        row = await s.scalar(select(Follow).where(Follow.ap_id == follow["id"]))
        assert row is not None and row.state == FollowStates.accepted, await outcome_of(node, follow["id"])
    reply = mastodon_reply(bob, 1, page, group)
    await post(node, remote, group_inbox, reply, bob)
    async with node.rt.sessions() as s:
        stored = await s.scalar(select(Contribution).where(Contribution.ap_id == reply["object"]["id"]))
        assert stored is not None, await outcome_of(node, reply["id"])
        assert stored.discussion_id == discussion_id and not stored.local
        assert (await s.get(Discussion, discussion_id)).organization_id == blue.id


async def test_visibility__a_members_coalitions_variant_is_404_to_outsiders_in_html_and_as2(node):
    """A ``members`` coalition's campaign and a member's variant of it: 404 to an anonymous
    visitor as HTML and as AS2, like the campaign itself."""
    await _coalition(node, level="members")
    async with transaction(node.rt.sessions) as s:
        blue = await actors.require_local_actor(s, "blue")
        lyon = await actors.require_local_actor(s, "lyon")
        campaign = await campaigns.create(s, node.uris, blue, name={"fr": "Campagne cachée"},
                                          content={"fr": "<p>Texte caché</p>"})
        variant = await campaigns.adapt(s, node.uris, lyon, campaign, language="fr",
                                        name="Variante cachée", content_html="<p>Lyon caché</p>")
        urls = (campaign.ap_id, variant.ap_id)
    async with aiohttp.ClientSession() as http:
        for url in urls:
            for headers in ({}, AS2):
                async with http.get(url, headers=headers, allow_redirects=False) as response:
                    body = await response.text()
                    assert response.status == 404, (url, headers, response.status)
                    assert "cachée" not in body and "caché" not in body, (url, headers)
