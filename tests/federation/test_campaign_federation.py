"""Campaigns across nodes (issue 10): the coalition's home, a city and an NGO in process, each on
its own loopback address with its own database; deliveries are really POSTed and signed.

The campaign reaches the members; each member's variant reaches its followers and the home;
supports of variants (remote Likes, a local person's) and of the campaign itself are counted once
per person at the home, per member and language; Undo and erasure take one back on both nodes; a
removed member's later supports count for the campaign only; and the home's trust rules for
relayed supports each hold (a remote organisation on the test's remote host plays the forger)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from federation.resolve import resolve_actor
from node.db import transaction
from node.models import (
    Actor,
    Campaign,
    CampaignSupport,
    CampaignVariant,
    CoalitionMember,
    CoalitionStates,
    InboxActivity,
    InboxStates,
    User,
    utcnow,
)
from node.services import actors, campaigns, coalitions, erasure, reactions
from tests.federation.participation_scene import (
    make_activity,
    mastodon_like,
    mastodon_undo_like,
    outcome_of,
)

AS = "https://www.w3.org/ns/activitystreams"
KIT = [{"language": "fr", "kind": "message", "name": "Post", "content": "<p>Signez !</p>"},
       {"language": "de", "kind": "visual", "name": "Plakat", "url": "/media/" + "ab" * 32 + ".png",
        "media_type": "image/png"}]


async def _step(*nodes, rounds: int = 4) -> None:
    for _ in range(rounds):
        for n in nodes:
            await n.step()


async def _member(home, org_node, handle: str) -> None:
    """``handle`` of ``org_node`` is an accepted member of blue on both nodes (the membership
    protocol is tests/federation/test_coalition_membership.py's; here only its result)."""
    coalition = await resolve_actor(org_node.rt, f"blue@{home.uris.domain}")
    org = await resolve_actor(home.rt, f"{handle}@{org_node.uris.domain}")
    for node, coalition_actor, member in ((home, None, org), (org_node, coalition, None)):
        async with transaction(node.rt.sessions) as s:
            group = await s.merge(coalition_actor) if coalition_actor else \
                await actors.require_local_actor(s, "blue")
            organisation = await s.merge(member) if member else await actors.require_local_actor(s, handle)
            s.add(CoalitionMember(coalition_id=group.id, member_id=organisation.id, role="member",
                                  state=CoalitionStates.accepted, accepted_at=utcnow()))


@dataclass
class Scene:
    home: object
    city: object
    ngo: object
    campaign: str
    city_variant: str
    ngo_variant: str
    basel: str
    surfrider: str


async def _adapt(node, handle: str, campaign_id: str, language: str, name: str) -> str:
    async with transaction(node.rt.sessions) as s:
        org = await actors.require_local_actor(s, handle)
        campaign = await campaigns.by_ap_id(s, campaign_id)
        variant = await campaigns.adapt(s, node.uris, org, campaign, language=language, name=name,
                                        content_html=f"<p>{name}</p>",
                                        visual_url="/media/" + "cd" * 32 + ".jpg",
                                        visual_media_type="image/jpeg")
        return variant.ap_id


async def scene(node_factory, remote, prefix: str, followers=()) -> Scene:
    """Home (coalition blue, founded by ocean; fr and de), city (basel) and ngo (surfrider), both
    members; a campaign published; basel's German and surfrider's French variants. ``followers``:
    (remote actor, "city"|"ngo") pairs that follow the organisation before its variant."""
    home, city, ngo = [await node_factory(f"{prefix}.{i}") for i in (1, 2, 3)]
    async with transaction(home.rt.sessions) as s:
        ocean = await actors.create_organization(s, home.uris, "ocean", "Ocean Alliance")
        await coalitions.create(s, home.uris, "blue", "Blue Coalition", founder=ocean,
                                languages=("fr", "de"))
    async with transaction(city.rt.sessions) as s:
        await actors.create_organization(s, city.uris, "basel", "Stadt Basel")
    async with transaction(ngo.rt.sessions) as s:
        await actors.create_organization(s, ngo.uris, "surfrider", "Surfrider")
    await _member(home, city, "basel")
    await _member(home, ngo, "surfrider")
    for person, where in followers:
        node, handle = (city, "basel") if where == "city" else (ngo, "surfrider")
        org = f"{node.base}/actors/{handle}"
        status, body = await remote.post(f"{org}/inbox", make_activity(person, "Follow", 1, org), person)
        assert status == 202, body
    async with transaction(home.rt.sessions) as s:
        blue = await actors.require_local_actor(s, "blue")
        campaign = await campaigns.create(
            s, home.uris, blue, name={"fr": "Océans propres", "de": "Saubere Meere"},
            summary={"fr": "Pour des océans propres"}, content={"fr": "<p>Texte</p>", "de": "<p>Text</p>"},
            kit=KIT)
        campaign_id = campaign.ap_id
    await _step(home, city, ngo)
    city_variant = await _adapt(city, "basel", campaign_id, "de", "Saubere Meere in Basel")
    ngo_variant = await _adapt(ngo, "surfrider", campaign_id, "fr", "Océans propres à Biarritz")
    await _step(home, city, ngo)
    return Scene(home, city, ngo, campaign_id, city_variant, ngo_variant,
                 f"{city.base}/actors/basel", f"{ngo.base}/actors/surfrider")


async def _like(node, remote, person, n: int, target: str, inbox: str) -> dict:
    like = mastodon_like(person, n, target)
    status, body = await remote.post(inbox, like, person)
    assert status == 202, body
    return like


async def _counted(home, campaign_id: str) -> tuple[int, dict, int]:
    """(the campaign's count, {(member ap_id | None, language): supports}, the tallies' sum)."""
    async with home.rt.sessions() as s:
        campaign = await campaigns.by_ap_id(s, campaign_id)
        shares = {(share.member.ap_id if share.member else None, share.language): share.supports
                  for share in await campaigns.breakdown(s, campaign)}
        return campaign.support_count, shares, await campaigns.total(s, campaign)


async def _variant_count(node, ap_id: str) -> int:
    async with node.rt.sessions() as s:
        return (await campaigns.variant_by_ap_id(s, ap_id)).support_count


async def test_campaign__reaches_members_and_variants_reach_followers_and_the_home(node_factory, remote):
    ana, bob = remote.add_actor("ana"), remote.add_actor("bob")
    sc = await scene(node_factory, remote, "127.0.3", followers=[(ana, "city"), (bob, "ngo")])
    for member in (sc.city, sc.ngo):
        async with member.rt.sessions() as s:
            campaign = await campaigns.by_ap_id(s, sc.campaign)
            assert campaign is not None and not campaign.local
            assert campaign.name == {"fr": "Océans propres", "de": "Saubere Meere"}
            assert campaign.content == {"fr": "<p>Texte</p>", "de": "<p>Text</p>"}
            assert [(i["language"], i["kind"]) for i in campaign.kit] == [("fr", "message"), ("de", "visual")]
            assert campaign.kit[1]["url"] == sc.home.base + KIT[1]["url"]
    async with sc.home.rt.sessions() as s:
        home_variants = {v.ap_id: (v.language, v.local, (await s.get(Actor, v.organization_id)).ap_id)
                         for v in await s.scalars(select(CampaignVariant))}
    assert home_variants == {sc.city_variant: ("de", False, sc.basel),
                             sc.ngo_variant: ("fr", False, sc.surfrider)}
    creates = {d["object"]["id"]: d for d in remote.received
               if d["type"] == "Create" and isinstance(d["object"], dict)}
    assert creates[sc.city_variant]["actor"] == sc.basel  # ana follows basel: she got its variant
    assert creates[sc.city_variant]["object"]["civic:variantOf"] == sc.campaign
    assert creates[sc.ngo_variant]["object"]["contentMap"] == {"fr": "<p>Océans propres à Biarritz</p>"}
    assert sc.campaign not in creates  # nobody on the remote host follows the coalition


async def test_supports__counted_once_per_person_per_member_and_language_and_undone_everywhere(
        node_factory, remote):
    ana, bob, carl = remote.add_actor("ana"), remote.add_actor("bob"), remote.add_actor("carl")
    sc = await scene(node_factory, remote, "127.0.4")
    home, city, ngo = sc.home, sc.city, sc.ngo
    ana_like = await _like(city, remote, ana, 1, sc.city_variant, f"{sc.basel}/inbox")  # Fedify-like
    await _like(ngo, remote, bob, 1, sc.ngo_variant, f"{sc.surfrider}/inbox")
    await _like(ngo, remote, ana, 2, sc.ngo_variant, f"{sc.surfrider}/inbox")  # ana again: once
    carl_like = await _like(home, remote, carl, 1, sc.campaign, f"{home.base}/actors/blue/inbox")
    async with transaction(city.rt.sessions) as s:  # a local person of the city
        lena = (await actors.create_user(s, city.uris, "lena", "password-123", "Lena")).actor
        variant = await campaigns.variant_by_ap_id(s, sc.city_variant)
        assert await campaigns.support_variant(s, city.uris, variant, lena)
    await _step(home, city, ngo)

    assert await outcome_of(home, carl_like["id"]) == ("processed", "support recorded")
    count, shares, tallied = await _counted(home, sc.campaign)
    assert count == tallied == 4
    assert shares == {(sc.basel, "de"): 2, (sc.surfrider, "fr"): 1, (None, "fr"): 1}
    assert await _variant_count(city, sc.city_variant) == 2
    assert await _variant_count(ngo, sc.ngo_variant) == 2  # bob and ana, each counted on the variant
    async with home.rt.sessions() as s:
        relayed = {(row.ap_id, (await s.get(Actor, row.relayed_by_id)).ap_id)
                   for row in await s.scalars(select(CampaignSupport).where(
                       CampaignSupport.relayed_by_id.is_not(None)))}
    assert (ana_like["id"], sc.basel) in relayed and len(relayed) == 3

    undo = mastodon_undo_like(ana, 1, sc.city_variant)
    undo["object"]["id"] = ana_like["id"]
    status, body = await remote.post(f"{sc.basel}/inbox", undo, ana)
    assert status == 202, body
    carl_undo = make_activity(carl, "Undo", 1, carl_like)
    status, body = await remote.post(f"{home.base}/actors/blue/inbox", carl_undo, carl)
    assert status == 202, body
    await _step(home, city, ngo)
    assert await _variant_count(city, sc.city_variant) == 1
    count, shares, tallied = await _counted(home, sc.campaign)
    assert count == tallied == 2
    assert shares == {(sc.basel, "de"): 1, (sc.surfrider, "fr"): 1}

    async with transaction(city.rt.sessions) as s:  # lena takes hers back on the city's page
        lena = await actors.require_local_actor(s, "lena")
        variant = await campaigns.variant_by_ap_id(s, sc.city_variant)
        assert await reactions.withdraw(s, campaigns.VARIANT_SUPPORT, lena, target=variant)
    await _step(home, city, ngo)
    count, shares, _ = await _counted(home, sc.campaign)
    assert count == 1 and shares == {(sc.surfrider, "fr"): 1}


async def test_supports__the_supporters_erasure_takes_them_back_at_the_home(node_factory, remote):
    ana, bob = remote.add_actor("ana"), remote.add_actor("bob")
    sc = await scene(node_factory, remote, "127.0.5")
    await _like(sc.city, remote, ana, 1, sc.city_variant, f"{sc.basel}/inbox")
    await _like(sc.city, remote, bob, 1, sc.city_variant, f"{sc.basel}/inbox")
    await _step(sc.home, sc.city, sc.ngo)
    assert (await _counted(sc.home, sc.campaign))[0] == 2

    delete = make_activity(ana, "Delete", 1, ana.ap_id, to=[f"{AS}#Public"])
    status, body = await remote.post(f"{sc.city.base}/inbox", delete, ana)
    assert status == 202, body
    await _step(sc.home, sc.city, sc.ngo)
    assert await outcome_of(sc.city, delete["id"]) == ("processed", "actor deleted")
    assert await _variant_count(sc.city, sc.city_variant) == 1
    count, shares, tallied = await _counted(sc.home, sc.campaign)
    assert count == tallied == 1 and shares == {(sc.basel, "de"): 1}
    async with sc.home.rt.sessions() as s:
        supporters = [a.ap_id for a in await s.scalars(
            select(Actor).join(CampaignSupport, CampaignSupport.actor_id == Actor.id))]
    assert supporters == [bob.ap_id]

    async with transaction(sc.city.rt.sessions) as s:  # a local person of the city, then erased
        user = await actors.create_user(s, sc.city.uris, "lena", "password-123", "Lena")
        variant = await campaigns.variant_by_ap_id(s, sc.city_variant)
        assert await campaigns.support_variant(s, sc.city.uris, variant, user.actor)
    await _step(sc.home, sc.city, sc.ngo)
    assert (await _counted(sc.home, sc.campaign))[0] == 2
    async with transaction(sc.city.rt.sessions) as s:
        await erasure.erase_account(s, await s.get(User, user.id), by=None)
    await _step(sc.home, sc.city, sc.ngo)
    assert await _variant_count(sc.city, sc.city_variant) == 1
    assert await _counted(sc.home, sc.campaign) == (1, {(sc.basel, "de"): 1}, 1)


async def test_supports__a_removed_members_later_supports_count_for_the_campaign_only(
        node_factory, remote):
    ana, bob = remote.add_actor("ana"), remote.add_actor("bob")
    sc = await scene(node_factory, remote, "127.0.6")
    await _like(sc.city, remote, ana, 1, sc.city_variant, f"{sc.basel}/inbox")
    await _step(sc.home, sc.city, sc.ngo)
    async with transaction(sc.home.rt.sessions) as s:
        blue = await actors.require_local_actor(s, "blue")
        basel = await s.scalar(select(Actor).where(Actor.ap_id == sc.basel))
        await coalitions.remove(s, blue, basel)
    await _step(sc.home, sc.city, sc.ngo)
    await _like(sc.city, remote, bob, 1, sc.city_variant, f"{sc.basel}/inbox")  # still circulates
    await _step(sc.home, sc.city, sc.ngo)
    count, shares, tallied = await _counted(sc.home, sc.campaign)
    assert count == tallied == 2
    assert shares == {(sc.basel, "de"): 1, (None, "de"): 1}  # bob's: the campaign's, no member's


# ---- the home's trust rules, with organisations of the remote host ---------------------------------

async def _home_with_member(node, remote) -> tuple[str, object, str]:
    """The node is blue's home with a campaign; acme (a remote organisation) is a member and has
    registered its variant there. Returns (campaign id, acme, acme's variant id)."""
    acme = remote.add_actor("acme", "Organization")
    async with transaction(node.rt.sessions) as s:
        ocean = await actors.create_organization(s, node.uris, "ocean", "Ocean Alliance")
        coalition = await coalitions.create(s, node.uris, "blue", "Blue", founder=ocean, languages=("fr",))
        campaign = await campaigns.create(s, node.uris, coalition.actor, name={"fr": "Océans"}, kit=[])
        campaign_id = campaign.ap_id
    member = await resolve_actor(node.rt, acme.ap_id)
    async with transaction(node.rt.sessions) as s:
        blue = await actors.require_local_actor(s, "blue")
        s.add(CoalitionMember(coalition_id=blue.id, member_id=(await s.merge(member)).id,
                              state=CoalitionStates.accepted, accepted_at=utcnow()))
    variant = f"{acme.ap_id}/variants/1"
    await _post(node, remote, acme, _variant_create(acme, variant, campaign_id))
    return campaign_id, acme, variant


def _variant_create(org, variant: str, campaign_id: str) -> dict:
    page = {"id": variant, "type": "Page", "attributedTo": org.ap_id, "name": "Acme's", "content": "<p>x</p>",
            "contentMap": {"fr": "<p>x</p>"}, "civic:variantOf": campaign_id, "context": campaign_id,
            "to": [f"{AS}#Public"]}
    return make_activity(org, "Create", abs(hash(variant)) % 10_000, page)


def _relay(org, n: int, like_id: str, supporter: str, variant: str, *, undo: bool = False) -> dict:
    like = {"id": like_id, "type": "Like", "actor": supporter, "object": variant}
    inner = {"id": f"{supporter}#undo-{n}", "type": "Undo", "actor": supporter, "object": like} if undo else like
    return make_activity(org, "Announce", n, inner)


async def _post(node, remote, org, doc: dict) -> tuple[str, str]:
    status, body = await remote.post(f"{node.base}/actors/blue/inbox", doc, org)
    assert status == 202, body
    await node.step()
    return await outcome_of(node, doc["id"])


async def _supports(node, campaign_id: str) -> list[tuple[str, str | None]]:
    async with node.rt.sessions() as s:
        campaign = await campaigns.by_ap_id(s, campaign_id)
        rows = await s.execute(select(Actor.ap_id, CampaignSupport.member_id)
                               .join(Actor, Actor.id == CampaignSupport.actor_id)
                               .where(CampaignSupport.campaign_id == campaign.id).order_by(Actor.ap_id))
        return [(ap_id, member) for ap_id, member in rows]


async def test_trust__a_relay_counts_once_from_the_variants_own_organisation(node, remote):
    campaign_id, acme, variant = await _home_with_member(node, remote)
    supporter = "https://people.example/users/zoe"
    assert await _post(node, remote, acme, _relay(acme, 1, f"{supporter}#likes/1", supporter, variant)) \
        == ("processed", "support recorded")
    # the same Like relayed again, and another Like of the same person: still one support
    assert await _post(node, remote, acme, _relay(acme, 2, f"{supporter}#likes/1", supporter, variant)) \
        == ("processed", "ignored: this id is already recorded")
    assert await _post(node, remote, acme, _relay(acme, 3, f"{supporter}#likes/2", supporter, variant)) \
        == ("processed", "ignored: already supported")
    rows = await _supports(node, campaign_id)
    assert [ap_id for ap_id, _ in rows] == [supporter] and rows[0][1] is not None
    async with node.rt.sessions() as s:
        zoe = await s.scalar(select(Actor).where(Actor.ap_id == supporter))
        assert (zoe.type, zoe.inbox, zoe.public_key_pem or None) == ("Person", None, None)  # never fetched
        assert (await campaigns.by_ap_id(s, campaign_id)).support_count == 1


async def test_trust__a_forged_relay_for_another_organisations_variant_is_ignored(node, remote):
    campaign_id, acme, variant = await _home_with_member(node, remote)
    rogue = remote.add_actor("rogue", "Organization")
    resolved = await resolve_actor(node.rt, rogue.ap_id)
    async with transaction(node.rt.sessions) as s:  # rogue is even a member, with no variant
        blue = await actors.require_local_actor(s, "blue")
        member = await s.merge(resolved)
        s.add(CoalitionMember(coalition_id=blue.id, member_id=member.id,
                              state=CoalitionStates.accepted, accepted_at=utcnow()))
    supporter = "https://people.example/users/zoe"
    assert await _post(node, remote, rogue, _relay(rogue, 1, f"{supporter}#likes/1", supporter, variant)) \
        == ("processed", "ignored: only the variant's organisation relays its supports")
    assert await _supports(node, campaign_id) == []


async def test_trust__a_like_id_on_another_host_is_refused(node, remote):
    campaign_id, acme, variant = await _home_with_member(node, remote)
    supporter = "https://people.example/users/zoe"
    state, reason = await _post(node, remote, acme, _relay(acme, 1, f"{acme.ap_id}#likes/1", supporter, variant))
    assert state == "failed" and "not on its actor's host" in reason
    assert await _supports(node, campaign_id) == []


async def test_trust__a_non_member_never_registers_a_variant_and_its_relays_count_nothing(node, remote):
    campaign_id, _acme, _variant = await _home_with_member(node, remote)
    stranger = remote.add_actor("stranger", "Organization")
    own = f"{stranger.ap_id}/variants/1"
    assert await _post(node, remote, stranger, _variant_create(stranger, own, campaign_id)) == (
        "processed", f"ignored: {campaigns.NOT_A_MEMBER}")
    supporter = "https://people.example/users/zoe"
    assert await _post(node, remote, stranger, _relay(stranger, 1, f"{supporter}#likes/1", supporter, own)) \
        == ("processed", "ignored: no variant of this organisation is known here")
    assert await _supports(node, campaign_id) == []


async def test_trust__only_what_an_organisation_relayed_can_it_take_back(node, remote):
    campaign_id, acme, variant = await _home_with_member(node, remote)
    carl = remote.add_actor("carl")
    like = mastodon_like(carl, 1, campaign_id)  # carl's own server, straight to the home
    assert await _post(node, remote, carl, like) == ("processed", "support recorded")
    # acme says carl took back a Like of its variant under the id of carl's Like of the campaign
    assert await _post(node, remote, acme, _relay(acme, 1, like["id"], carl.ap_id, variant, undo=True)) \
        == ("processed", "ignored: no support relayed under this id")
    supporter = "https://people.example/users/zoe"
    await _post(node, remote, acme, _relay(acme, 2, f"{supporter}#likes/1", supporter, variant))
    assert [a for a, _ in await _supports(node, campaign_id)] == [carl.ap_id, supporter]
    assert await _post(node, remote, acme, _relay(acme, 3, f"{supporter}#likes/1", supporter, variant,
                                                  undo=True)) == ("processed", "support withdrawn")
    rows = await _supports(node, campaign_id)
    assert rows == [(carl.ap_id, None)]
    async with node.rt.sessions() as s:
        campaign = await campaigns.by_ap_id(s, campaign_id)
        assert campaign.support_count == await campaigns.total(s, campaign) == 1


async def test_trust__a_relay_naming_one_of_the_homes_people_is_ignored(node, remote):
    campaign_id, acme, variant = await _home_with_member(node, remote)
    async with transaction(node.rt.sessions) as s:
        amel = (await actors.create_user(s, node.uris, "amel", "password-123", "Amel")).actor.ap_id
    state, reason = await _post(node, remote, acme, _relay(acme, 1, f"{amel}#likes/1", amel, variant))
    assert (state, reason) == ("processed", "ignored: a support of this node's people is not relayed")
    assert await _supports(node, campaign_id) == []


async def test_campaign_page__kept_only_from_a_coalition_one_of_our_organisations_is_in(node, remote):
    """On a member's node: a remote coalition's Create{Page} is a campaign when one of our
    organisations is an accepted member, else the Page stays a post (the resolution before)."""
    group = remote.add_actor("green", "Group")
    async with transaction(node.rt.sessions) as s:
        await actors.create_organization(s, node.uris, "basel", "Stadt Basel")

    def page(n: int) -> dict:
        return make_activity(group, "Create", n, {
            "id": f"{group.ap_id}/campaigns/{n}", "type": "Page", "attributedTo": group.ap_id,
            "name": "Grün", "nameMap": {"de": "Grün"}, "content": "<p>x</p>", "to": [f"{AS}#Public"]})

    first = page(1)
    status, _ = await remote.post(f"{node.base}/inbox", first, group)
    await node.step()
    assert status == 202 and (await outcome_of(node, first["id"]))[1] != "campaign stored"
    resolved = await resolve_actor(node.rt, group.ap_id)
    async with transaction(node.rt.sessions) as s:
        basel = await actors.require_local_actor(s, "basel")
        green = await s.merge(resolved)
        s.add(CoalitionMember(coalition_id=green.id, member_id=basel.id,
                              state=CoalitionStates.accepted, accepted_at=utcnow()))
    second = page(2)
    status, _ = await remote.post(f"{node.base}/inbox", second, group)
    await node.step()
    assert await outcome_of(node, second["id"]) == ("processed", "campaign stored")
    async with node.rt.sessions() as s:
        stored = list(await s.scalars(select(Campaign.ap_id)))
    assert stored == [f"{group.ap_id}/campaigns/2"]


# ---- the AS2 documents at their ids ----------------------------------------------------------------

AS2 = {"Accept": "application/activity+json"}


async def _get(url: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=AS2, allow_redirects=False) as response:
            return response.status, await response.json(content_type=None)


async def test_documents__campaign_and_variant_as_as2_404_when_unreadable_410_when_deleted(node):
    async with transaction(node.rt.sessions) as s:
        ocean = await actors.create_organization(s, node.uris, "ocean", "Ocean Alliance")
        blue = await coalitions.create(s, node.uris, "blue", "Blue", founder=ocean, languages=("fr", "de"))
        closed = await coalitions.create(s, node.uris, "inner", "Inner circle", founder=ocean,
                                         visibility_level="members")
        campaign = await campaigns.create(s, node.uris, blue.actor, name={"fr": "Océans", "de": "Meere"},
                                          content={"fr": "<p>Texte</p>"}, kit=KIT)
        variant = await campaigns.adapt(s, node.uris, ocean, campaign, language="de", name="Meere sauber",
                                        content_html="<p>Macht mit</p>")
        hidden = await campaigns.create(s, node.uris, closed.actor, name={"fr": "Interne"})
        campaign_id, variant_id, hidden_id = campaign.ap_id, variant.ap_id, hidden.ap_id
    status, doc = await _get(campaign_id)
    assert status == 200 and (doc["type"], doc["attributedTo"]) == ("Page", f"{node.base}/actors/blue")
    assert doc["nameMap"] == {"fr": "Océans", "de": "Meere"}
    assert doc["attachment"][1]["url"] == node.base + KIT[1]["url"]
    status, doc = await _get(variant_id)
    assert status == 200 and doc["civic:variantOf"] == campaign_id and doc["contentMap"] == {"de": "<p>Macht mit</p>"}
    assert (await _get(hidden_id))[0] == 404  # a members coalition's campaign: the missing 404
    assert (await _get(node.uris.campaign("nothing")))[0] == 404
    assert (await _get(node.uris.variant("nothing")))[0] == 404
    async with transaction(node.rt.sessions) as s:
        (await campaigns.by_ap_id(s, campaign_id)).deleted_at = utcnow()
    for url in (campaign_id, variant_id):
        status, doc = await _get(url)
        assert (status, doc["type"], doc["formerType"]) == (410, "Tombstone", "Page"), url


async def test_supports__a_local_members_variant_at_the_home_is_counted_there(node, remote):
    """The coalition and the member organisation on one node: nothing is delivered to ourselves,
    the support of the variant is counted at once (and taken back with its Undo)."""
    ana = remote.add_actor("ana")
    async with transaction(node.rt.sessions) as s:
        ocean = await actors.create_organization(s, node.uris, "ocean", "Ocean Alliance")
        blue = await coalitions.create(s, node.uris, "blue", "Blue", founder=ocean, languages=("fr", "de"))
        campaign = await campaigns.create(s, node.uris, blue.actor, name={"fr": "Océans"})
        variant = await campaigns.adapt(s, node.uris, ocean, campaign, language="de", name="Meere sauber",
                                        content_html="<p>Macht mit</p>")
        campaign_id, variant_id = campaign.ap_id, variant.ap_id
    like = mastodon_like(ana, 1, variant_id)
    status, body = await remote.post(f"{node.base}/actors/ocean/inbox", like, ana)
    assert status == 202, body
    await node.step()
    count, shares, tallied = await _counted(node, campaign_id)
    assert (count, tallied, shares) == (1, 1, {(f"{node.base}/actors/ocean", "de"): 1})
    undo = mastodon_undo_like(ana, 1, variant_id)
    undo["object"]["id"] = like["id"]
    status, body = await remote.post(f"{node.base}/actors/ocean/inbox", undo, ana)
    assert status == 202, body
    await node.step()
    assert await _counted(node, campaign_id) == (0, {}, 0)
    assert await _variant_count(node, variant_id) == 0


# ---- hostile relays and variants through the real inbox ----------------------------------------------

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=40)
    | st.sampled_from(["Like", "Undo", "Page", "Image", "$variant", "$campaign", "$zoe", "$like",
                       "http://[", "javascript:alert(1)", "https://people.example/users/zoe",
                       "<script>alert(1)</script>", "9999-12-31T23:59:59-01:00"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["type", "id", "actor", "object", "attributedTo", "name", "content", "contentMap",
                         "nameMap", "civic:variantOf", "context", "attachment", "url", "mediaType"]),
        children, max_size=6),
    max_leaves=20)
SKELETONS = st.sampled_from([
    {"type": "Announce", "object": {"type": "Like", "id": "$like", "actor": "$zoe", "object": "$variant"}},
    {"type": "Announce", "object": {"type": "Undo", "actor": "$zoe", "object": {
        "type": "Like", "id": "$like", "actor": "$zoe", "object": "$variant"}}},
    {"type": "Create", "object": {"type": "Page", "id": "$variant", "attributedTo": "$acme",
                                  "civic:variantOf": "$campaign", "name": "x", "content": "<p>x</p>"}},
])


def _fill(value, ids: dict):
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _mutate(skeleton: dict, path: list[str], value) -> dict:
    doc = json.loads(json.dumps(skeleton))
    holder = doc
    for key in path[:-1]:
        holder = holder.setdefault(key, {}) if isinstance(holder.get(key), dict) or key not in holder \
            else holder[key]
        if not isinstance(holder, dict):
            return doc
    holder[path[-1]] = value
    return doc


HOSTILE = settings(max_examples=max(int(os.environ.get("CIVIC_FUZZ_EXAMPLES", "300")) // 5, 12),
                   deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SCENES: dict[int, tuple] = {}


@HOSTILE
@given(skeleton=SKELETONS, path=st.sampled_from([["object"], ["object", "id"], ["object", "actor"],
                                                 ["object", "object"], ["object", "type"],
                                                 ["object", "object", "id"], ["object", "content"],
                                                 ["object", "attachment"], ["object", "civic:variantOf"],
                                                 ["object", "nameMap"]]),
       value=VALUES, n=st.integers(0, 10**9))
async def test_hostile__relays_and_variants_never_5xx_and_counts_stay_true(node, remote, skeleton, path, value, n):
    """Signed by a member organisation with a variant: whatever it sends is a 2xx or 4xx, its
    row is processed or fails with a reason, and the campaign's count equals its tallies and rows."""
    if id(node) not in SCENES:
        SCENES.clear()
        SCENES[id(node)] = await _home_with_member(node, remote)
    campaign_id, acme, variant = SCENES[id(node)]
    ids = {"$variant": variant, "$campaign": campaign_id, "$acme": acme.ap_id,
           "$zoe": f"https://people.example/users/z{n % 5}", "$like": f"https://people.example/users/z{n % 5}#likes/{n}"}
    doc = _fill(_mutate(skeleton, path, value), ids)
    doc.update({"@context": AS, "id": f"{acme.ap_id}/hostile/{n}-{len(SCENES)}-{id(doc)}", "actor": acme.ap_id})
    status, body = await remote.post(f"{node.base}/actors/blue/inbox", doc, acme)
    assert 200 <= status < 300 or 400 <= status < 500, (status, body, doc)
    await node.step()
    async with node.rt.sessions() as s:
        row = await s.scalar(select(InboxActivity).where(InboxActivity.ap_id == doc["id"]))
        if status == 202 and row is not None:
            assert row.state != InboxStates.received, row.error
            assert row.state != InboxStates.failed or row.error
        campaign = await campaigns.by_ap_id(s, campaign_id)
        rows = await s.scalar(select(func.count()).select_from(CampaignSupport)
                              .where(CampaignSupport.campaign_id == campaign.id))
        assert campaign.support_count == await campaigns.total(s, campaign) == rows
