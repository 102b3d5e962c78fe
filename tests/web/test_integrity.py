"""Integrity (SECURITY.md rule 23): nobody agrees with or supports their own text, and a citizen
discussion is shown, and federated, as its author's, never as the organisation's."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, update

from node.db import transaction
from node.errors import Conflict
from node.models import Actor, Agreement, Contribution, Discussion, Proposal, ProposalSupport
from node.services import community, contributions, discussions, proposals
from tests.federation.participation_scene import (
    make_activity,
    mastodon_like,
    mastodon_reply,
    open_scene,
    outcome_of,
    post,
)
from tests.web.test_participation_pages import text_of

AS2 = "application/activity+json"


async def _agreements(node, contribution_id: int) -> tuple[int, int]:
    """(agree_count, agreement rows) of a contribution."""
    async with node.rt.sessions() as s:
        count = (await s.get(Contribution, contribution_id)).agree_count
        rows = await s.scalar(select(func.count()).select_from(Agreement)
                              .where(Agreement.contribution_id == contribution_id))
    return count, rows


# -- agree / support with oneself -----------------------------------------------------------------

@pytest.mark.parametrize("lang, message", [
    ("en", "You cannot agree with your own contribution."),
    ("fr", "Vous ne pouvez pas approuver votre propre contribution."),
    ("de", "Sie können Ihrem eigenen Beitrag nicht zustimmen."),
])
async def test_agree__the_author_cannot_agree_with_their_own_contribution(node, world, clients, lang, message):
    """Camille's "agree" on her own contribution: a 409 in her language, no row, count unchanged;
    Dominique's agreement with it still counts and can still be withdrawn."""
    top, path = world.ids["top"], "/orgs/lyon/discussions/clos-jouve"
    assert await _agreements(node, top) == (2, 2)  # dominique and eva (build_world)
    camille = clients(lang)
    await camille.login("camille")
    refused = await camille.post(f"{path}/contributions/{top}/agree", {}, form=path)
    assert refused.status == 409 and message in text_of(refused.text)
    assert await _agreements(node, top) == (2, 2)
    dominique = clients()
    await dominique.login("dominique")
    assert (await dominique.post(f"{path}/contributions/{top}/agree", {}, form=path)).status == 303
    assert await _agreements(node, top) == (1, 1)  # the toggle withdrew dominique's agreement


async def test_support__the_author_cannot_support_their_own_proposal(node, world, clients):
    """Camille's "support" on her own proposal: refused with a message, nothing stored; Eva's counts."""
    async with transaction(node.rt.sessions) as s:
        proposal = await proposals.create(s, node.uris, world.org, await s.get(Actor, world.people["camille"].id),
                                          "Un composteur", "<p>Rue Duroc</p>", publish=True)
        url = proposal.ap_id
    camille = clients("fr")
    await camille.login("camille")
    own = await camille.get(url)
    assert f'action="{url}/support"' not in own.text  # no button that can only be refused
    assert "Vous ne pouvez pas soutenir votre propre proposition." in text_of(own.text)
    refused = await camille.post(f"{url}/support", {}, form=url)
    assert refused.status == 409
    assert "Vous ne pouvez pas soutenir votre propre proposition." in text_of(refused.text)
    eva = clients()
    await eva.login("eva")
    assert (await eva.post(f"{url}/support", {}, form=url)).status == 303
    async with node.rt.sessions() as s:
        stored = await s.scalar(select(Proposal).where(Proposal.ap_id == url))
        supporters = list(await s.scalars(select(ProposalSupport.actor_id)
                                          .where(ProposalSupport.proposal_id == stored.id)))
    assert stored.support_count == 1 and supporters == [world.people["eva"].id]


async def test_services__self_agreement_and_self_support_raise_conflict(node, world):
    """The rule lives in the node services, so every path (web, fediverse, demo, CLI) shares it."""
    async with transaction(node.rt.sessions) as s:
        camille = await s.get(Actor, world.people["camille"].id)
        top = await s.get(Contribution, world.ids["top"])
        with pytest.raises(Conflict, match="cannot agree with their own contribution"):
            await contributions.agree(s, node.uris, top, camille)
        proposal = await proposals.create(s, node.uris, world.org, camille, "Des bancs", "<p>…</p>",
                                          publish=True)
        with pytest.raises(Conflict, match="cannot support their own proposal"):
            await proposals.support(s, node.uris, proposal, camille)
        assert proposal.support_count == 0


async def test_on_like__the_authors_own_like_from_the_fediverse_is_ignored_with_its_reason(node, remote):
    """Alice replies from her server, then likes her own reply: processed, ignored with the reason,
    nothing counted; Bob's Like of the same reply counts."""
    scene = await open_scene(node)
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob")
    reply = mastodon_reply(alice, 1, scene.page, scene.org)
    await post(node, remote, scene.group_inbox, reply, alice)
    note = reply["object"]["id"]
    own = mastodon_like(alice, 1, note)
    await post(node, remote, scene.group_inbox, own, alice)
    assert await outcome_of(node, own["id"]) == \
        ("processed", "ignored: the author cannot agree with their own contribution")
    async with node.rt.sessions() as s:
        stored = await s.scalar(select(Contribution).where(Contribution.ap_id == note))
    assert await _agreements(node, stored.id) == (0, 0)
    other = mastodon_like(bob, 1, note)
    await post(node, remote, scene.group_inbox, other, bob)
    assert await outcome_of(node, other["id"]) == ("processed", "agreement recorded")
    assert await _agreements(node, stored.id) == (1, 1)


async def test_key_stakeholders__a_self_agreement_stored_before_the_rule_is_not_counted(node, world):
    """The ranking counts agreements by others: a self-agreement left in the database from before
    the rule (written here directly, as the old code did) changes nobody's support."""
    async with transaction(node.rt.sessions) as s:
        discussion = await s.get(Discussion, world.ids["discussion"])
        eva = await s.get(Actor, world.people["eva"].id)
        await community.set_stakeholder(s, discussion, eva, "resident")
        before = {r.stakeholder.actor_id: r.support for r in await community.key_stakeholders(s, discussion)}
        deeper = world.ids["deeper"]  # eva's reply, agreed by nobody
        s.add(Agreement(ap_id=f"{node.base}/activities/self-agreement", contribution_id=deeper,
                        actor_id=eva.id))
        await s.execute(update(Contribution).where(Contribution.id == deeper)
                        .values(agree_count=Contribution.agree_count + 1))
    async with node.rt.sessions() as s:
        discussion = await s.get(Discussion, world.ids["discussion"])
        after = {r.stakeholder.actor_id: r.support for r in await community.key_stakeholders(s, discussion)}
    assert before == after
    # dominique (a stakeholder of build_world) keeps the agreement camille gave his reply.
    assert after[world.people["dominique"].id] == 1 and after[eva.id] == 0


# -- a citizen discussion is its author's ---------------------------------------------------------

async def _citizen_discussion(node, world) -> Discussion:
    """Camille's citizen discussion "composteurs" (build_world), approved by a moderator."""
    async with transaction(node.rt.sessions) as s:
        discussion = await s.get(Discussion, world.ids["pending"])
        await discussions.moderate(s, discussion, approve=True)
    return discussion


async def test_citizen_discussion__the_page_shows_its_author_not_the_organisation(node, world, clients):
    """The introduction names Camille as the one who started it, the organisation only as its host,
    and shows no organisation logo or monogram as its author; an official discussion keeps them."""
    discussion = await _citizen_discussion(node, world)
    page = await clients().get(discussion.page_ap_id)
    assert page.status == 200
    intro = page.text.split('id="intro-title"', 1)[1].split("</section>", 1)[0]
    assert "Citizen discussion started by" in text_of(intro) and "Camille" in text_of(intro)
    assert 'id="discussion-author"' in intro and world.people["camille"].ap_id in intro
    assert "org-logo" not in intro and "org-monogram" not in intro
    assert "Hosted by Ville de Lyon" in text_of(intro)
    official = await clients().get("/orgs/lyon/discussions/clos-jouve")
    official_intro = official.text.split('id="intro-title"', 1)[1].split("</section>", 1)[0]
    assert "org-monogram" in official_intro and "started by" not in text_of(official_intro)


async def test_citizen_discussion__its_page_is_attributed_to_its_author_in_as2(node, world, clients):
    """The AS2 Page of a citizen discussion has ``attributedTo`` = its author (it was the
    organisation's before); an official discussion's page stays the organisation's."""
    discussion = await _citizen_discussion(node, world)
    client = clients()
    citizen = await client.get(discussion.page_ap_id, Accept=AS2)
    official = await client.get("/orgs/lyon/discussions/clos-jouve", Accept=AS2)
    assert citizen.status == official.status == 200
    assert json.loads(citizen.text)["attributedTo"] == world.people["camille"].ap_id
    assert json.loads(official.text)["attributedTo"] == world.org.ap_id


async def test_citizen_discussion__its_page_federates_from_its_author(node, world, remote):
    """Once approved, the citizen discussion's Create(Page) reaches the organisation's followers
    from its author, attributed to her (it came from the organisation before)."""
    alice = remote.add_actor("alice")
    await post(node, remote, world.org.inbox, make_activity(alice, "Follow", 1, world.org.ap_id), alice)
    discussion = await _citizen_discussion(node, world)
    await node.step()
    [create] = [d for d in remote.received if d["type"] == "Create"
                and d["object"].get("id") == discussion.page_ap_id]
    assert create["actor"] == world.people["camille"].ap_id
    assert create["object"]["attributedTo"] == world.people["camille"].ap_id


async def test_agree__no_agree_button_on_ones_own_contributions(node, world, clients):
    """Camille's page (shared renderings with per-viewer marks) hides "agree" on her own
    contributions only; Dominique sees it on Camille's."""
    top, reply = world.ids["top"], world.ids["reply"]  # camille's; dominique's, agreed by camille
    pattern = 'action="{base}/orgs/lyon/discussions/clos-jouve/contributions/{id}/agree" class="inline"{hidden}>'
    for handle, own, other in (("camille", top, reply), ("dominique", reply, top)):
        client = clients()
        await client.login(handle)
        for _ in range(2):  # the first rendering and the shared one
            page = (await client.get("/orgs/lyon/discussions/clos-jouve")).text
            assert pattern.format(base=node.base, id=own, hidden=" hidden") in page, handle
            assert pattern.format(base=node.base, id=other, hidden="") in page, handle
