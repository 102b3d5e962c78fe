"""node/services/campaigns.py: a coalition's campaigns, its members' variants, and the supports
counted at the home — once per person, credited to a member only while it is one, per language and
per day — kept equal to a recount of the supports whatever happens (a hypothesis state machine)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from node.db import create_engine, session_factory, transaction
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.models import (
    Actor,
    Campaign,
    CampaignDay,
    CampaignSupport,
    CampaignTally,
    CampaignVariant,
    OutboxEvent,
    ProposalSupport,
    User,
    VariantSupport,
    utcnow,
)
from node.services import actors, campaigns, coalitions, erasure, proposals, reactions


def remote(name: str, type_: str = "Organization", host: str = "ngo.example") -> Actor:
    return Actor(ap_id=f"https://{host}/actors/{name}", type=type_, local=False, username=name,
                 domain=host, name=name.title(), inbox=f"https://{host}/actors/{name}/inbox")


@dataclass
class Scene:
    founder: Actor  # local, admin member
    lyon: Actor  # local member
    ngo: Actor  # remote member
    group: Actor
    campaign: Campaign
    lyon_de: CampaignVariant  # Lyon's local variant, in German
    ngo_fr: CampaignVariant  # the NGO's variant, learned from its Create{Page}, in French


async def make_scene(s, uris, prefix: str = "") -> Scene:
    founder = await actors.create_organization(s, uris, f"{prefix}surfrider", "Surfrider")
    lyon = await actors.create_organization(s, uris, f"{prefix}lyon", "Ville de Lyon")
    ngo = remote(f"{prefix}ngo")
    s.add(ngo)
    await s.flush()
    group = (await coalitions.create(s, uris, f"{prefix}blue", "Blue Coalition", founder=founder,
                                     languages=["fr", "de"])).actor
    for org in (lyon, ngo):
        await coalitions.invite(s, uris, group, org)
    await coalitions.answer_invite(s, uris, lyon, group, True)
    await coalitions.receive_invite_answer(s, group, ngo, True)
    campaign = await campaigns.create(s, uris, group, name={"fr": "Océans", "de": "Ozeane"},
                                      summary={"fr": "Protégeons-les"}, content={"de": "<p>Schützen</p>"})
    lyon_de = await campaigns.adapt(s, uris, lyon, campaign, language="de", name="Ozeane in Lyon",
                                    content_html="<p>Schützen wir sie</p>")
    ngo_fr = await campaigns.store_remote_variant(
        s, campaign, ngo, ap_id=f"https://ngo.example/variants/{prefix}1", language="fr",
        name="Océans, version ONG", content="<p>Agissons</p>", visual_url=None, visual_media_type=None)
    return Scene(founder, lyon, ngo, group, campaign, lyon_de, ngo_fr)


async def person(s, name: str) -> Actor:
    actor = remote(name, type_="Person", host="people.example")
    s.add(actor)
    await s.flush()
    return actor


async def events(s, kind: str) -> list[dict]:
    return [e.payload for e in await s.scalars(select(OutboxEvent).where(OutboxEvent.kind == kind)
                                               .order_by(OutboxEvent.id))]


async def shares(s, campaign: Campaign) -> dict[tuple[str | None, str], int]:
    return {(sh.member.username if sh.member else None, sh.language): sh.supports
            for sh in await campaigns.breakdown(s, campaign)}


async def recount(s, campaign_id: int) -> tuple[int, dict, dict]:
    """(supports, per (member, language), per day) counted from the supports themselves."""
    rows = (await s.execute(select(CampaignSupport.member_id, CampaignSupport.language,
                                   CampaignSupport.created_at)
                            .where(CampaignSupport.campaign_id == campaign_id))).all()
    tallies: dict = {}
    days: dict = {}
    for member, language, created in rows:
        tallies[(member or 0, language)] = tallies.get((member or 0, language), 0) + 1
        days[created.date()] = days.get(created.date(), 0) + 1
    return len(rows), tallies, days


async def kept(s, campaign_id: int) -> tuple[int, int, dict, dict]:
    """(campaign.support_count, campaigns.total, tally rows, day rows) as kept, zeros left out."""
    counter = await s.scalar(select(Campaign.support_count).where(Campaign.id == campaign_id))
    total = await campaigns.total(s, await s.get(Campaign, campaign_id))
    tallies = {(m, lang): n for m, lang, n in (await s.execute(
        select(CampaignTally.member_key, CampaignTally.language, CampaignTally.supports)
        .where(CampaignTally.campaign_id == campaign_id))).all() if n}
    days = {day: n for day, n in (await s.execute(
        select(CampaignDay.day, CampaignDay.supports).where(CampaignDay.campaign_id == campaign_id))).all() if n}
    return counter, total, tallies, days


async def assert_consistent(s, campaign_id: int) -> int:
    counter, total, tallies, days = await kept(s, campaign_id)
    supports, counted_tallies, counted_days = await recount(s, campaign_id)
    assert counter == total == supports
    assert tallies == counted_tallies
    assert days == counted_days
    return supports


# -- creating a campaign -------------------------------------------------------------------------------

async def test_create__texts_only_in_the_coalitions_languages(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        assert w.campaign.name == {"fr": "Océans", "de": "Ozeane"} and w.campaign.local
        assert w.campaign.url == w.campaign.ap_id and w.campaign.ap_id.startswith(uris.base + "/campaigns/")
        assert await events(s, campaigns.CAMPAIGN_PUBLISHED) == [{"campaign_id": w.campaign.id}]
        for texts in ({"name": {"en": "Oceans"}}, {"name": {"fr": "x"}, "summary": {"en": "Save"}},
                      {"name": {"fr": "x"}, "content": {"en": "<p>x</p>"}}, {"name": {}}, {"name": "  "},
                      {"name": {"it": "Oceani"}}):
            with pytest.raises(InvalidInput):
                await campaigns.create(s, uris, w.group, **texts)
        plain = await campaigns.create(s, uris, w.group, name="Plages")  # a plain string is French
        assert plain.name == {"fr": "Plages"} and campaigns.first_language(plain) == "fr"
        with pytest.raises(NotFound):  # an organisation is no coalition
            await campaigns.create(s, uris, w.lyon, name="Lyon")
        assert [c.id for c in await campaigns.of_coalition(s, w.group)] == [plain.id, w.campaign.id]


async def test_create__a_members_only_coalitions_campaign_does_not_federate(sessions, uris):
    async with transaction(sessions) as s:
        founder = await actors.create_organization(s, uris, "club", "Club")
        group = (await coalitions.create(s, uris, "inner", "Inner", founder=founder,
                                         visibility_level="members")).actor
        campaign = await campaigns.create(s, uris, group, name="Entre nous")
        assert await campaigns.level(s, campaign) == "members"
        assert await events(s, campaigns.CAMPAIGN_PUBLISHED) == []


KIT_REFUSED = [
    "not a list",
    [{"language": "fr", "kind": "message", "content": "x"}] * (campaigns.MAX_KIT + 1),
    ["a string item"],
    [{"language": "en", "kind": "message", "content": "<p>x</p>"}],  # not a coalition language
    [{"kind": "message", "content": "<p>x</p>"}],
    [{"language": "fr", "kind": "video", "url": "/media/a.mp4", "media_type": "video/mp4"}],
    [{"language": "fr", "kind": "message"}],
    [{"language": "fr", "kind": "message", "content": "   "}],
    [{"language": "fr", "kind": "message", "content": "x" * (campaigns.MAX_TEXT + 1)}],
    [{"language": "fr", "kind": "visual", "url": "/media/a.png"}],
    [{"language": "fr", "kind": "visual", "media_type": "image/png"}],
    [{"language": "fr", "kind": "visual", "url": "/media/a.pdf", "media_type": "application/pdf"}],
    [{"language": "fr", "kind": "visual", "url": "javascript:alert(1)", "media_type": "image/png"}],
    [{"language": "fr", "kind": "visual", "url": "data:image/png;base64,AAAA", "media_type": "image/png"}],
    [{"language": "fr", "kind": "visual", "url": "//evil.example/a.png", "media_type": "image/png"}],
    [{"language": "fr", "kind": "visual", "url": "https://x.example/" + "a" * 2048, "media_type": "image/png"}],
]


@pytest.mark.parametrize("kit", KIT_REFUSED, ids=range(len(KIT_REFUSED)))
async def test_create__a_kit_of_the_wrong_shape_is_refused(sessions, uris, kit):
    async with transaction(sessions) as s:
        founder = await actors.create_organization(s, uris, "club", "Club")
        group = (await coalitions.create(s, uris, "blue", "Blue", founder=founder, languages=["fr"])).actor
        with pytest.raises(InvalidInput):
            await campaigns.create(s, uris, group, name="Océans", kit=kit)
        assert await campaigns.of_coalition(s, group) == []


async def test_create__a_kit_keeps_messages_and_visuals_per_language(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        kit = [{"language": "fr", "kind": "message", "name": "Tweet", "content": " <p>Signez</p> ", "extra": 1},
               {"language": "de", "kind": "visual", "name": "N" * 500, "url": "/media/abc.png",
                "media_type": "image/png"},
               {"language": "fr", "kind": "visual", "url": "https://cdn.example/a.webp", "media_type": "image/webp"}]
        campaign = await campaigns.create(s, uris, w.group, name="Kit", kit=kit)
        assert campaign.kit == [
            {"language": "fr", "kind": "message", "name": "Tweet", "content": "<p>Signez</p>"},
            {"language": "de", "kind": "visual", "name": "N" * 200, "url": "/media/abc.png",
             "media_type": "image/png"},
            {"language": "fr", "kind": "visual", "name": "", "url": "https://cdn.example/a.webp",
             "media_type": "image/webp"}]


# -- adapting it: variants -------------------------------------------------------------------------------

async def test_adapt__only_accepted_members_of_this_node_one_variant_per_language(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        assert (w.lyon_de.language, w.lyon_de.organization_id, w.lyon_de.local) == ("de", w.lyon.id, True)
        assert await events(s, campaigns.VARIANT_PUBLISHED) == [{"variant_id": w.lyon_de.id}]
        with pytest.raises(Conflict):
            await campaigns.adapt(s, uris, w.lyon, w.campaign, language="de", name="Encore", content_html="<p>x</p>")
        fr = await campaigns.adapt(s, uris, w.lyon, w.campaign, language="fr", name="Océans à Lyon",
                                   content_html="<p>x</p>", visual_url="/media/x.png", visual_media_type="image/png")
        assert fr.visual_url == "/media/x.png"
        # The founder (an admin member) may too; an invited, a requesting or an outside one may not.
        await campaigns.adapt(s, uris, w.founder, w.campaign, language="fr", name="Surfrider", content_html="<p>x</p>")
        invited, asked, outside = [await actors.create_organization(s, uris, n, n.title())
                                   for n in ("paris", "nantes", "lille")]
        await coalitions.invite(s, uris, w.group, invited)
        await coalitions.request_join(s, uris, asked, w.group)
        for org in (invited, asked, outside):
            with pytest.raises(Forbidden):
                await campaigns.adapt(s, uris, org, w.campaign, language="fr", name="Nous", content_html="<p>x</p>")
        with pytest.raises(InvalidInput):  # a remote organisation adapts on its own node
            await campaigns.adapt(s, uris, w.ngo, w.campaign, language="de", name="NGO", content_html="<p>x</p>")
        # A removed member adapts no more.
        await coalitions.remove(s, w.group, w.lyon)
        with pytest.raises(Forbidden):
            await campaigns.adapt(s, uris, w.lyon, w.campaign, language="en", name="Oceans", content_html="<p>x</p>")
        assert {(v.organization.username, v.language) for v in await campaigns.variants(s, w.campaign)} == {
            ("lyon", "de"), ("lyon", "fr"), ("surfrider", "fr"), ("ngo", "fr")}
        assert [v.language for v in await campaigns.variants_of(s, w.lyon)] == ["fr", "de"]


async def test_adapt__on_a_member_node_a_remote_coalitions_campaign_once_its_join_is_accepted(sessions, uris):
    async with transaction(sessions) as s:
        lyon = await actors.create_organization(s, uris, "lyon", "Ville de Lyon")
        far = remote("green", type_="Group", host="home.example")
        s.add(far)
        await s.flush()
        campaign = await campaigns.store_remote(s, far, ap_id="https://home.example/campaigns/1",
                                                name={"fr": "Vert"}, summary={}, content={}, kit=[],
                                                url=None, published=None)
        with pytest.raises(Forbidden):
            await campaigns.adapt(s, uris, lyon, campaign, language="fr", name="Vert à Lyon", content_html="<p>x</p>")
        await coalitions.request_join(s, uris, lyon, far)
        with pytest.raises(Forbidden):  # asked, not accepted yet
            await campaigns.adapt(s, uris, lyon, campaign, language="fr", name="Vert à Lyon", content_html="<p>x</p>")
        await coalitions.mark_accepted(s, far, lyon)
        variant = await campaigns.adapt(s, uris, lyon, campaign, language="fr", name="Vert à Lyon",
                                        content_html="<p>x</p>")
        assert variant.local and variant.campaign_id == campaign.id
        ana = await person(s, "ana")
        assert await campaigns.support_variant(s, uris, variant, ana, "https://people.example/l/1")
        assert len(await events(s, campaigns.VARIANT_SUPPORT_CREATED)) == 1  # to relay to the home
        # Another coalition cannot overwrite a campaign it did not publish.
        other = remote("other", type_="Group", host="other.example")
        s.add(other)
        await s.flush()
        with pytest.raises(Forbidden):
            await campaigns.store_remote(s, other, ap_id="https://home.example/campaigns/1", name={"fr": "X"},
                                         summary={}, content={}, kit=[], url=None, published=None)
        with pytest.raises(Forbidden):
            await campaigns.store_remote(s, far, ap_id="https://other.example/campaigns/1", name={"fr": "X"},
                                         summary={}, content={}, kit=[], url=None, published=None)


@pytest.mark.parametrize("change, reason", [
    ({"language": "xx"}, InvalidInput),
    ({"name": "ab"}, InvalidInput),
    ({"name": "x" * (campaigns.MAX_NAME + 1)}, InvalidInput),
    ({"content_html": "  "}, InvalidInput),
    ({"content_html": "x" * (2 * campaigns.MAX_TEXT + 1)}, InvalidInput),
    ({"visual_url": "/media/a.png"}, InvalidInput),
    ({"visual_url": "/media/a.png", "visual_media_type": "text/html"}, InvalidInput),
    ({"visual_url": "javascript:alert(1)", "visual_media_type": "image/png"}, InvalidInput),
    ({"visual_url": "data:image/png;base64,AA", "visual_media_type": "image/png"}, InvalidInput),
])
async def test_adapt__refuses_bad_input(sessions, uris, change, reason):
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        given = {"language": "fr", "name": "Océans à Lyon", "content_html": "<p>x</p>"} | change
        with pytest.raises(reason):
            await campaigns.adapt(s, uris, w.lyon, w.campaign, **given)


async def test_adapt__a_deleted_campaign_takes_no_variant_and_no_support(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        w.campaign.deleted_at = utcnow()
        await s.flush()
        with pytest.raises(NotFound):
            await campaigns.adapt(s, uris, w.lyon, w.campaign, language="fr", name="Tard", content_html="<p>x</p>")
        with pytest.raises(NotFound):
            await campaigns.support(s, uris, w.campaign, await person(s, "ana"))


async def test_store_remote_variant__only_a_members_own_and_only_of_our_campaigns(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        kwargs = {"language": "de", "name": "Ozeane", "content": "<p>x</p>", "visual_url": None,
                  "visual_media_type": None}
        # Sent again: updated, the same row.
        again = await campaigns.store_remote_variant(s, w.campaign, w.ngo, ap_id=w.ngo_fr.ap_id,
                                                     **kwargs | {"language": "fr", "name": "Neu"})
        assert again.id == w.ngo_fr.id and again.name == "Neu" and not again.local
        outsider = remote("other", host="other.example")
        s.add(outsider)
        await s.flush()
        with pytest.raises(Forbidden):  # not a member
            await campaigns.store_remote_variant(s, w.campaign, outsider, ap_id="https://other.example/v/1", **kwargs)
        with pytest.raises(Forbidden):  # an id on another host than the organisation's
            await campaigns.store_remote_variant(s, w.campaign, w.ngo, ap_id="https://other.example/v/2", **kwargs)
        with pytest.raises(Forbidden):  # a local organisation's variants are made here
            await campaigns.store_remote_variant(s, w.campaign, w.lyon, ap_id=uris.variant("x"), **kwargs)
        outsider.ap_id = "https://ngo.example/actors/impostor"  # same host, another organisation
        await s.flush()
        with pytest.raises(Forbidden):
            await campaigns.store_remote_variant(s, w.campaign, outsider, ap_id=w.ngo_fr.ap_id, **kwargs)


# -- supports: once per person, credited while a member, per language -----------------------------------------

async def test_support__once_per_person_whatever_it_came_through(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        ana = await person(s, "ana")
        assert await campaigns.support(s, uris, w.campaign, ana, like_ap_id="https://people.example/l/1",
                                       variant=w.ngo_fr, relayed_by=w.ngo)
        assert not await campaigns.support(s, uris, w.campaign, ana, like_ap_id="https://people.example/l/2",
                                           variant=w.lyon_de, relayed_by=w.lyon)
        assert not await campaigns.support(s, uris, w.campaign, ana, like_ap_id="https://people.example/l/3")
        with pytest.raises(Conflict):  # the same Like relayed again by anyone: already recorded
            await campaigns.support(s, uris, w.campaign, await person(s, "bo"),
                                    like_ap_id="https://people.example/l/1")
        assert w.campaign.support_count == 1
        assert await shares(s, w.campaign) == {("ngo", "fr"): 1}
        assert await assert_consistent(s, w.campaign.id) == 1


async def test_support__credited_per_member_and_language(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        people = [await person(s, n) for n in ("ana", "bo", "cy", "di", "ed")]
        await campaigns.support(s, uris, w.campaign, people[0], variant=w.lyon_de)
        await campaigns.support(s, uris, w.campaign, people[1], variant=w.lyon_de)
        await campaigns.support(s, uris, w.campaign, people[2], variant=w.ngo_fr, relayed_by=w.ngo)
        await campaigns.support(s, uris, w.campaign, people[3])  # the campaign itself: its first language
        await campaigns.support(s, uris, w.campaign, people[4], language="de")  # read in German
        assert await shares(s, w.campaign) == {("lyon", "de"): 2, ("ngo", "fr"): 1, (None, "fr"): 1,
                                               (None, "de"): 1}
        shares_in_order = [(sh.member.username if sh.member else None, sh.supports)
                           for sh in await campaigns.breakdown(s, w.campaign)]
        assert shares_in_order[0] == ("lyon", 2)  # most first
        assert await campaigns.growth(s, w.campaign) == [(utcnow().date(), 5)]
        assert await assert_consistent(s, w.campaign.id) == 5


async def test_support__a_direct_support_counts_in_the_coalitions_first_language_on_every_backend(sessions, uris):
    """PostgreSQL keeps a JSON object's keys in an order of its own (``de`` before ``fr``): the
    first language is the coalition's first, never the first key of the campaign's name."""
    async with transaction(sessions) as s:
        founder = await actors.create_organization(s, uris, "bund", "Bund")
        group = (await coalitions.create(s, uris, "rhein", "Rhein", founder=founder, languages=["de", "fr"])).actor
        w = await make_scene(s, uris)
        german_first = await campaigns.create(s, uris, group, name={"fr": "Rhin", "de": "Rhein"})
        french_first = await campaigns.create(s, uris, w.group, name={"de": "Ozeane", "fr": "Océans"})
    async with transaction(sessions) as s:  # read back from the database
        german_first = await s.get(Campaign, german_first.id)
        french_first = await s.get(Campaign, french_first.id)
        assert campaigns.first_language(german_first, ["de", "fr"]) == "de"
        assert campaigns.first_language(german_first) == "fr"  # without its coalition: the node's order
        assert campaigns.first_language(Campaign(name={})) == ""
        assert campaigns.first_language(Campaign(name={"xx": "?"})) == "xx"
        ana = await person(s, "ana")
        await campaigns.support(s, uris, german_first, ana)
        await campaigns.support(s, uris, french_first, ana)
        assert await shares(s, german_first) == {(None, "de"): 1}
        assert await shares(s, french_first) == {(None, "fr"): 1}


async def test_support__through_a_variant_of_another_campaign_is_refused(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        other = await campaigns.create(s, uris, w.group, name="Plages")
        with pytest.raises(InvalidInput):
            await campaigns.support(s, uris, other, await person(s, "ana"), variant=w.lyon_de)
        assert other.support_count == 0 and await campaigns.breakdown(s, other) == []


async def test_support__a_remote_campaign_is_counted_at_its_home_not_here(sessions, uris):
    async with transaction(sessions) as s:
        far = remote("green", type_="Group", host="home.example")
        s.add(far)
        await s.flush()
        campaign = await campaigns.store_remote(s, far, ap_id="https://home.example/campaigns/1",
                                                name={"fr": "Vert"}, summary={}, content={}, kit=[],
                                                url=None, published=None)
        with pytest.raises(Conflict):
            await campaigns.support(s, uris, campaign, await person(s, "ana"))


async def test_support__a_member_removed_while_its_variant_circulates(sessions, uris):
    """Its later supports count for the campaign, not for it; its earlier ones stay credited.
    Back in the coalition, it is credited again."""
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        people = [await person(s, n) for n in ("ana", "bo", "cy", "di")]
        await campaigns.support(s, uris, w.campaign, people[0], like_ap_id="https://people.example/l/0",
                                variant=w.ngo_fr, relayed_by=w.ngo)
        await coalitions.remove(s, w.group, w.ngo)
        assert await campaigns.support(s, uris, w.campaign, people[1], like_ap_id="https://people.example/l/1",
                                       variant=w.ngo_fr, relayed_by=w.ngo)
        assert w.campaign.support_count == 2
        assert await shares(s, w.campaign) == {("ngo", "fr"): 1, (None, "fr"): 1}
        # Both can still be taken back by the organisation that relayed them.
        assert await campaigns.withdraw_relayed(s, "https://people.example/l/1", w.ngo)
        assert await shares(s, w.campaign) == {("ngo", "fr"): 1}
        # Back in: credited again.
        await coalitions.invite(s, uris, w.group, w.ngo)
        await coalitions.receive_invite_answer(s, w.group, w.ngo, True)
        await campaigns.support(s, uris, w.campaign, people[2], variant=w.ngo_fr, relayed_by=w.ngo)
        assert await shares(s, w.campaign) == {("ngo", "fr"): 2}
        # A local member removed: the same.
        await coalitions.remove(s, w.group, w.lyon)
        await campaigns.support(s, uris, w.campaign, people[3], variant=w.lyon_de)
        assert await shares(s, w.campaign) == {("ngo", "fr"): 2, (None, "de"): 1}
        assert await assert_consistent(s, w.campaign.id) == 3


# -- taking a support back ---------------------------------------------------------------------------------------

async def test_withdraw__an_undo_by_the_supporter_takes_it_from_its_tally_and_its_day(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        ana, bo = await person(s, "ana"), await person(s, "bo")
        await campaigns.support(s, uris, w.campaign, ana, like_ap_id="https://people.example/l/a", variant=w.lyon_de)
        await campaigns.support(s, uris, w.campaign, bo, like_ap_id="https://people.example/l/b")
        assert not await reactions.withdraw(s, campaigns.CAMPAIGN_SUPPORT, bo, ap_id="https://people.example/l/a")
        assert await reactions.withdraw(s, campaigns.CAMPAIGN_SUPPORT, ana, ap_id="https://people.example/l/a")
        assert await reactions.withdraw_by_id(s, bo, "https://people.example/l/b") is campaigns.CAMPAIGN_SUPPORT
        assert w.campaign.support_count == 0 or (await s.get(Campaign, w.campaign.id)).support_count == 0
        assert await shares(s, w.campaign) == {}
        assert await campaigns.growth(s, w.campaign) == [(utcnow().date(), 0)]
        assert await assert_consistent(s, w.campaign.id) == 0
        # Given again later: counted again.
        assert await campaigns.support(s, uris, w.campaign, ana, like_ap_id="https://people.example/l/a2")
        assert await assert_consistent(s, w.campaign.id) == 1


async def test_withdraw__a_support_given_on_an_earlier_day_leaves_that_day(sessions, uris, monkeypatch):
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        ana, bo = await person(s, "ana"), await person(s, "bo")
        today = utcnow()
        monkeypatch.setattr(campaigns, "utcnow", lambda: today - timedelta(days=3))
        await campaigns.support(s, uris, w.campaign, ana, like_ap_id="https://people.example/l/a")
        monkeypatch.setattr(campaigns, "utcnow", lambda: today)
        await campaigns.support(s, uris, w.campaign, bo, like_ap_id="https://people.example/l/b")
        assert await campaigns.growth(s, w.campaign) == [((today - timedelta(days=3)).date(), 1), (today.date(), 1)]
        await reactions.withdraw(s, campaigns.CAMPAIGN_SUPPORT, ana, ap_id="https://people.example/l/a")
        assert await campaigns.growth(s, w.campaign) == [((today - timedelta(days=3)).date(), 0), (today.date(), 1)]
        assert await assert_consistent(s, w.campaign.id) == 1


async def test_withdraw_relayed__only_what_that_organisation_relayed(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        other = remote("other", host="other.example")
        s.add(other)
        await s.flush()
        ana, bo = await person(s, "ana"), await person(s, "bo")
        await campaigns.support(s, uris, w.campaign, ana, like_ap_id="https://people.example/l/a",
                                variant=w.ngo_fr, relayed_by=w.ngo)
        await campaigns.support(s, uris, w.campaign, bo, like_ap_id="https://people.example/l/b")  # direct
        assert not await campaigns.withdraw_relayed(s, "https://people.example/l/a", other)
        assert not await campaigns.withdraw_relayed(s, "https://people.example/l/a", w.lyon)
        assert not await campaigns.withdraw_relayed(s, "https://people.example/l/b", w.ngo)  # not relayed
        assert not await campaigns.withdraw_relayed(s, "https://people.example/l/none", w.ngo)
        assert (await s.get(Campaign, w.campaign.id)).support_count == 2
        assert await campaigns.withdraw_relayed(s, "https://people.example/l/a", w.ngo)
        assert not await campaigns.withdraw_relayed(s, "https://people.example/l/a", w.ngo)  # once
        assert await shares(s, w.campaign) == {(None, "fr"): 1}
        assert await assert_consistent(s, w.campaign.id) == 1


async def test_supporter__a_relayed_supporter_we_never_met_gets_a_minimal_actor(sessions, uris):
    async with transaction(sessions) as s:
        ana = await campaigns.supporter(s, "https://people.example/users/ana")
        assert (ana.type, ana.local, ana.domain, ana.username) == ("Person", False, "people.example", "ana")
        assert ana.inbox is None and ana.public_key_pem is None
        assert (await campaigns.supporter(s, "https://people.example/users/ana")).id == ana.id
        bare = await campaigns.supporter(s, "https://people.example/")
        assert bare.username == "people.example"
        for bad in ("ftp://people.example/ana", "javascript:alert(1)", "/users/ana", "https://",
                    "https://people.example/" + "a" * 2100):
            with pytest.raises(InvalidInput):
                await campaigns.supporter(s, bad)


# -- variant supports on a member's node: every one relayed ------------------------------------------------------

async def test_variant_support__local_and_remote_likes_are_relayed_and_so_are_their_withdrawals(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        ana = await person(s, "ana")
        local = (await actors.create_user(s, uris, "camille", "password-123", "Camille")).actor
        assert await campaigns.support_variant(s, uris, w.lyon_de, ana, "https://people.example/l/1")
        assert await campaigns.support_variant(s, uris, w.lyon_de, local)
        assert not await campaigns.support_variant(s, uris, w.lyon_de, ana, "https://people.example/l/2")
        created = await events(s, campaigns.VARIANT_SUPPORT_CREATED)
        assert len(created) == 2  # the remote one too: its organisation relays it to the home
        assert w.lyon_de.support_count == 2
        assert await reactions.withdraw_by_id(s, ana, "https://people.example/l/1") is campaigns.VARIANT_SUPPORT
        assert await events(s, campaigns.VARIANT_SUPPORT_UNDONE) == [
            {"like_ap_id": "https://people.example/l/1", "actor_id": ana.id, "variant_id": w.lyon_de.id}]
        with pytest.raises(NotFound):  # a remote variant is supported on its own node
            await campaigns.support_variant(s, uris, w.ngo_fr, ana)


# -- erasure of a local supporter ------------------------------------------------------------------------------------

async def test_erasure__takes_back_campaign_and_variant_supports_but_keeps_proposal_supports(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        user = await actors.create_user(s, uris, "camille", "password-123", "Camille")
        author = (await actors.create_user(s, uris, "dominique", "password-123", "Dominique")).actor
        camille = user.actor
        demand = await proposals.create(s, uris, w.group, author, "Des plages propres", "<p>…</p>", publish=True)
        await proposals.support(s, uris, demand, camille)
        await campaigns.support(s, uris, w.campaign, camille, variant=w.lyon_de)
        await campaigns.support_variant(s, uris, w.lyon_de, camille)
        other = await person(s, "ana")
        await campaigns.support(s, uris, w.campaign, other)
        await erasure.erase_account(s, user, by=None)
        # The campaign's support and the variant's are gone, each one announced.
        assert (await s.get(Campaign, w.campaign.id)).support_count == 1
        assert await shares(s, w.campaign) == {(None, "fr"): 1}
        assert await s.scalar(select(func.count()).select_from(CampaignSupport)
                              .where(CampaignSupport.actor_id == camille.id)) == 0
        assert (await s.get(CampaignVariant, w.lyon_de.id)).support_count == 0
        assert await s.scalar(select(func.count()).select_from(VariantSupport)) == 0
        undone = await events(s, campaigns.VARIANT_SUPPORT_UNDONE)
        assert [(e["actor_id"], e["variant_id"]) for e in undone] == [(camille.id, w.lyon_de.id)]
        assert [e["campaign_id"] for e in await events(s, campaigns.SUPPORT_UNDONE)] == [w.campaign.id]
        # The demand's support stays counted, by nobody nameable.
        assert (await s.get(type(demand), demand.id)).support_count == 1
        supporter_id = await s.scalar(select(ProposalSupport.actor_id).where(ProposalSupport.proposal_id == demand.id))
        assert supporter_id != camille.id
        assert erasure.is_anonymous(await s.get(Actor, supporter_id))
        assert await assert_consistent(s, w.campaign.id) == 1


async def test_erasure__a_remote_supporters_delete_takes_back_its_supports(sessions, uris):
    """The inbound Delete{Person} withdraws every reaction (federation/inbound/erasure.py): the
    home's campaign supports go from their tallies, a variant's are relayed as withdrawn."""
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        ana = await person(s, "ana")
        await campaigns.support(s, uris, w.campaign, ana, variant=w.ngo_fr, relayed_by=w.ngo,
                                like_ap_id="https://people.example/l/1")
        await campaigns.support_variant(s, uris, w.lyon_de, ana, "https://people.example/l/2")
        removed = await reactions.withdraw_all(s, ana)
        assert removed["campaign_support"] == 1 and removed["variant_support"] == 1
        assert len(await events(s, campaigns.VARIANT_SUPPORT_UNDONE)) == 1
        assert await events(s, campaigns.SUPPORT_UNDONE) == []  # a remote supporter's: nothing to send
        assert await assert_consistent(s, w.campaign.id) == 0


# -- concurrency: supports arriving at once ---------------------------------------------------------------------------

class _Alone:
    async def wait(self) -> None:
        return None


def together(engine, parties: int):
    """Transactions that wait for each other before writing: on PostgreSQL, where they run at
    once; SQLite takes a process's write transactions in turn (node.db.writing), so none waits."""
    return asyncio.Barrier(parties) if engine.dialect.name == "postgresql" else _Alone()


async def test_concurrency__supports_arriving_at_once_all_count(sessions, engine, uris):
    """Several transactions supporting the same campaign through the same variant at the same time
    (the inbox workers): the counter, the tally row and the day row lose none (upserts in SQL)."""
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        people = [await person(s, f"p{n}") for n in range(8)]
    ready = together(engine, len(people))

    async def support(actor: Actor, n: int) -> bool:
        async with transaction(sessions) as s:
            campaign = await s.get(Campaign, w.campaign.id)
            variant = await s.get(CampaignVariant, w.ngo_fr.id)
            await s.get(Actor, actor.id)
            await ready.wait()
            return await campaigns.support(s, uris, campaign, await s.get(Actor, actor.id),
                                           like_ap_id=f"https://people.example/l/{n}", variant=variant,
                                           relayed_by=await s.get(Actor, w.ngo.id))

    assert await asyncio.wait_for(asyncio.gather(*(support(a, n) for n, a in enumerate(people))), 60) == [True] * 8
    async with sessions() as s:
        assert await assert_consistent(s, w.campaign.id) == 8
        assert await shares(s, await s.get(Campaign, w.campaign.id)) == {("ngo", "fr"): 8}


async def test_concurrency__the_same_person_twice_at_once_counts_once(sessions, engine, uris):
    """Two Likes of one person arriving at once (two variants): one counts; the other is refused
    by the unique (campaign, person) or sees the first, and the counts stay equal to the rows."""
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        ana = await person(s, "ana")
    ready = together(engine, 2)

    async def support(n: int, variant_id: int) -> bool | str:
        try:
            async with transaction(sessions) as s:
                campaign = await s.get(Campaign, w.campaign.id)
                variant = await s.get(CampaignVariant, variant_id)
                await ready.wait()
                return await campaigns.support(s, uris, campaign, await s.get(Actor, ana.id),
                                               like_ap_id=f"https://people.example/l/{n}", variant=variant)
        except IntegrityError:
            return "refused"

    outcomes = await asyncio.wait_for(asyncio.gather(support(1, w.lyon_de.id), support(2, w.ngo_fr.id)), 60)
    assert sorted(map(str, outcomes)) in (["False", "True"], ["True", "refused"])
    async with sessions() as s:
        assert await assert_consistent(s, w.campaign.id) == 1


# -- the state machine: whatever happens, the kept counts equal a recount -----------------------------------------------

MEMBERS = ("lyon", "ngo", "city")  # Lyon local; the NGO and the city remote


def test_stateful__counts_tallies_and_days_always_equal_a_recount(database_url, monkeypatch):
    """Random sequences of supports (direct or through a member's variant), Undos, relayed
    withdrawals, removals and re-joins of members, erasures of local supporters and Deletes of
    remote ones, over several days: the campaign's counter, the tallies' total and the number of
    supports agree; each tally row and each day equal their recount; each support is credited to
    the member it came through only if it was a member at that moment."""
    loop = asyncio.new_event_loop()
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    from node.uris import Uris

    uris = Uris("http://127.0.0.1:18080")
    clock = {"now": utcnow()}
    monkeypatch.setattr(campaigns, "utcnow", lambda: clock["now"])
    runs = {"n": 0}

    class Supports(RuleBasedStateMachine):
        """One coalition and campaign per example (a prefix keeps the handles apart)."""

        def run(self, coroutine):
            return loop.run_until_complete(coroutine)

        @initialize()
        def scene(self):
            runs["n"] += 1
            self.prefix = f"r{runs['n']}"

            async def make():
                async with transaction(sessions) as s:
                    w = await make_scene(s, uris, self.prefix)
                    city = remote(f"{self.prefix}city", host="city.example")
                    s.add(city)
                    await s.flush()
                    await coalitions.invite(s, uris, w.group, city)
                    await coalitions.receive_invite_answer(s, w.group, city, True)
                    city_de = await campaigns.store_remote_variant(
                        s, w.campaign, city, ap_id=f"https://city.example/variants/{self.prefix}", language="de",
                        name="Ozeane", content="<p>x</p>", visual_url=None, visual_media_type=None)
                    users = [await actors.create_user(s, uris, f"{self.prefix}u{n}", "password-123", f"U{n}")
                             for n in range(3)]
                    persons = [await person(s, f"{self.prefix}p{n}") for n in range(4)]
                    return w, city, city_de, users, persons

            w, city, city_de, users, persons = self.run(make())
            self.w = w
            self.orgs = {"lyon": w.lyon, "ngo": w.ngo, "city": city}
            self.variants = {"lyon": w.lyon_de, "ngo": w.ngo_fr, "city": city_de}
            self.users = {u.actor_id: u for u in users}
            self.people = [u.actor for u in users] + persons
            self.members = set(MEMBERS)
            self.gone: set[int] = set()  # erased or deleted: they act no more
            self.given: dict[int, dict] = {}  # actor id → the support the model expects
            self.likes = 0

        def _alive(self, index: int) -> Actor | None:
            actor = self.people[index % len(self.people)]
            return None if actor.id in self.gone else actor

        @rule(who=st.integers(0, 6), via=st.sampled_from((None, *MEMBERS)), language=st.sampled_from((None, "de")))
        def support(self, who, via, language):
            actor = self._alive(who)
            if actor is None:
                return
            self.likes += 1
            like = f"https://people.example/likes/{self.prefix}/{self.likes}"
            variant = self.variants[via] if via else None
            org = self.orgs[via] if via else None

            async def go():
                async with transaction(sessions) as s:
                    return await campaigns.support(
                        s, uris, await s.get(Campaign, self.w.campaign.id), await s.get(Actor, actor.id),
                        like_ap_id=like, variant=await s.get(CampaignVariant, variant.id) if variant else None,
                        relayed_by=await s.get(Actor, org.id) if org else None, language=None if via else language)

            counted = self.run(go())
            assert counted == (actor.id not in self.given)
            if counted:
                self.given[actor.id] = {"like": like, "via": via,
                                        "member": self.orgs[via].id if via in self.members else None,
                                        "language": variant.language if variant else (language or "fr")}

        @precondition(lambda self: self.given)
        @rule(pick=st.integers(0, 100))
        def undo(self, pick):
            actor_id = sorted(self.given)[pick % len(self.given)]
            like = self.given[actor_id]["like"]

            async def go():
                async with transaction(sessions) as s:
                    return await reactions.withdraw_by_id(s, await s.get(Actor, actor_id), like)

            assert self.run(go()) is campaigns.CAMPAIGN_SUPPORT
            del self.given[actor_id]

        @precondition(lambda self: self.given)
        @rule(pick=st.integers(0, 100), by=st.sampled_from(MEMBERS))
        def withdraw_relayed(self, pick, by):
            actor_id = sorted(self.given)[pick % len(self.given)]
            expected = self.given[actor_id]["via"] == by

            async def go():
                async with transaction(sessions) as s:
                    return await campaigns.withdraw_relayed(s, self.given[actor_id]["like"],
                                                            await s.get(Actor, self.orgs[by].id))

            assert self.run(go()) == expected
            if expected:
                del self.given[actor_id]

        @rule(which=st.sampled_from(MEMBERS))
        def remove_or_rejoin(self, which):
            org = self.orgs[which]

            async def go():
                async with transaction(sessions) as s:
                    group, member = await s.get(Actor, self.w.group.id), await s.get(Actor, org.id)
                    if which in self.members:
                        await coalitions.remove(s, group, member)
                    else:
                        await coalitions.invite(s, uris, group, member)
                        if member.local:
                            await coalitions.answer_invite(s, uris, member, group, True)
                        else:
                            await coalitions.receive_invite_answer(s, group, member, True)

            self.run(go())
            self.members ^= {which}

        @rule(who=st.integers(0, 6))
        def erase(self, who):
            actor = self._alive(who)
            if actor is None:
                return

            async def go():
                async with transaction(sessions) as s:
                    if actor.id in self.users:
                        await erasure.erase_account(s, await s.get(User, self.users[actor.id].id), by=None)
                    else:
                        await reactions.withdraw_all(s, await s.get(Actor, actor.id))

            self.run(go())
            self.gone.add(actor.id)
            self.given.pop(actor.id, None)

        @rule(days=st.integers(1, 3))
        def next_day(self, days):
            clock["now"] += timedelta(days=days)

        @invariant()
        def counts_equal_their_recount(self):
            if not hasattr(self, "w"):
                return

            async def go():
                async with sessions() as s:
                    supports = await assert_consistent(s, self.w.campaign.id)
                    rows = {r.actor_id: (r.ap_id, r.member_id, r.language) for r in await s.scalars(
                        select(CampaignSupport).where(CampaignSupport.campaign_id == self.w.campaign.id))}
                    return supports, rows

            supports, rows = self.run(go())
            assert supports == len(self.given)
            assert rows == {a: (g["like"], g["member"], g["language"]) for a, g in self.given.items()}

    Supports.TestCase.settings = settings(max_examples=12, stateful_step_count=30, deadline=None,
                                          database=None, derandomize=True,
                                          suppress_health_check=list(HealthCheck))
    try:
        from hypothesis.stateful import run_state_machine_as_test
        run_state_machine_as_test(Supports, settings=Supports.TestCase.settings)
    finally:
        loop.run_until_complete(engine.dispose())
        loop.close()


# -- hostile input: what a form, a CLI file or a relayed Like may carry ------------------------------------------------

TEXTS = st.one_of(st.text(max_size=40), st.none(), st.integers(), st.lists(st.text(max_size=3), max_size=2))
LANGS = st.one_of(st.sampled_from(["fr", "de", "en", "", "FR"]), st.text(max_size=5), st.none(), st.integers())
KIT_ITEMS = st.one_of(
    st.fixed_dictionaries({"language": LANGS, "kind": st.sampled_from(["message", "visual", "video", None])},
                          optional={"name": TEXTS, "content": TEXTS, "url": st.one_of(TEXTS, st.sampled_from(
                              ["/media/a.png", "https://cdn.example/a.png", "javascript:x", "//x/a.png",
                               "data:image/png,x", "http://"])),
                                    "media_type": st.sampled_from(["image/png", "text/html", "", None])}),
    st.text(max_size=5), st.integers(), st.none())
FUZZ = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
async def coalition_id(sessions, uris):
    async with transaction(sessions) as s:
        founder = await actors.create_organization(s, uris, "club", "Club")
        return (await coalitions.create(s, uris, "blue", "Blue", founder=founder, languages=["fr", "de"])).actor.id


@FUZZ
@given(name=st.one_of(TEXTS, st.dictionaries(LANGS.filter(lambda x: isinstance(x, str)), st.text(max_size=20),
                                             max_size=3)),
       kit=st.one_of(st.lists(KIT_ITEMS, max_size=4), TEXTS), summary=TEXTS,
       content=st.one_of(TEXTS, st.dictionaries(LANGS, TEXTS, max_size=2)))
async def test_fuzz__a_campaign_is_created_well_formed_or_refused_with_a_reason(sessions, uris, coalition_id,
                                                                                name, kit, summary, content):
    async with sessions() as s, s.begin():
        group = await s.get(Actor, coalition_id)
        try:
            campaign = await campaigns.create(s, uris, group, name=name, kit=kit, summary=summary,
                                              content=content)
        except InvalidInput as refused:
            assert refused.reason
        else:
            assert campaign.name and set(campaign.name) | set(campaign.summary) | set(campaign.content) <= {"fr", "de"}
            for item in campaign.kit:
                assert item["language"] in ("fr", "de") and item["kind"] in campaigns.KIT_KINDS
                if item["kind"] == "visual":
                    assert item["media_type"].startswith("image/")
                    assert item["url"].startswith(("/media/", "https://", "http://")) and "//" not in item["url"][:2]
                else:
                    assert isinstance(item["content"], str) and item["content"].strip()
        await s.rollback()


@FUZZ
@given(ap_id=st.one_of(st.text(max_size=60), st.sampled_from(["https://a.example/u/x", "http://b.example/",
                                                              "https://a.example/" + "x" * 3000, "mailto:x@y",
                                                              "https://a.example/\x00", "http://[::1", "https://:80/",
                                                              "https://a.example:99999999/u"])))
async def test_fuzz__a_relayed_supporter_is_an_http_actor_or_refused(sessions, ap_id):
    async with sessions() as s, s.begin():
        try:
            actor = await campaigns.supporter(s, ap_id)
        except InvalidInput as refused:
            assert refused.reason
        else:
            assert actor.ap_id == ap_id and not actor.local and actor.inbox is None
            assert actor.domain and len(actor.username) <= 255
        await s.rollback()


@FUZZ
@given(language=LANGS, name=TEXTS, content=TEXTS,
       visual=st.one_of(st.none(), st.sampled_from(["/media/a.png", "javascript:x", "https://x.example/a.png"]),
                        st.text(max_size=20)),
       media_type=st.sampled_from([None, "image/png", "text/html", ""]))
async def test_fuzz__a_variant_is_made_well_formed_or_refused_with_a_reason(sessions, uris, language, name,
                                                                           content, visual, media_type):
    async with sessions() as s, s.begin():
        w = await make_scene(s, uris)
        try:
            variant = await campaigns.adapt(s, uris, w.lyon, w.campaign, language=language, name=name,
                                            content_html=content, visual_url=visual, visual_media_type=media_type)
        except (InvalidInput, Conflict) as refused:
            assert refused.reason
        else:
            assert variant.language in ("fr", "en") and 3 <= len(variant.name) <= campaigns.MAX_NAME
            assert variant.visual_url is None or variant.visual_media_type.startswith("image/")
        await s.rollback()


# -- the report: figures from the tallies, formula cells neutralised -----------------------------------------------------

async def test_report__figures_per_member_language_and_day_and_a_safe_csv(sessions, uris):
    import csv
    import io

    from node.services import coalition_report

    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        people = [await person(s, n) for n in ("ana", "bo", "cy", "di", "ed")]
        await campaigns.support(s, uris, w.campaign, people[0], variant=w.lyon_de)
        await campaigns.support(s, uris, w.campaign, people[1], variant=w.lyon_de)
        await campaigns.support(s, uris, w.campaign, people[2], variant=w.ngo_fr, relayed_by=w.ngo)
        await campaigns.support(s, uris, w.campaign, people[3])
        await coalitions.remove(s, w.group, w.ngo)
        await campaigns.support(s, uris, w.campaign, people[4], variant=w.ngo_fr, relayed_by=w.ngo)
        author = (await actors.create_user(s, uris, "camille", "password-123", "Camille")).actor
        demand = await proposals.create(s, uris, w.group, author, "=1+2 des plages", "<p>…</p>", publish=True)
        await proposals.support(s, uris, demand, people[0])
        w.ngo.name = "\t=HYPERLINK(\"https://evil.example\")"
        w.lyon.name = "-Lyon, \"la ville\"\nnouvelle ligne"
        await s.flush()
        data = await coalition_report.report(s, w.group)
    assert data["totals"] == {"members": 2, "campaigns": 1, "supports": 5, "demand_supports": 1}
    [figures] = data["campaigns"]
    per_member = {(e["member"] or {}).get("name"): e["supports"] for e in figures["per_member"]}
    assert per_member == {"-Lyon, \"la ville\"\nnouvelle ligne": 2, "\t=HYPERLINK(\"https://evil.example\")": 1,
                          None: 2}  # the removed member keeps what came before its removal
    assert figures["per_language"] == {"de": 2, "fr": 3}
    assert [g["supports"] for g in figures["growth"]] == [5]
    assert figures["variants"] == 2
    rows = list(csv.DictReader(io.StringIO(coalition_report.to_csv(data), newline="")))
    cells = [cell for row in rows for cell in row.values() if cell]
    assert not [cell for cell in cells if cell[:1] in "=+-@\t\r" and not cell.lstrip("-").isdigit()]
    assert "'\t=HYPERLINK(\"https://evil.example\")" in cells
    assert "'-Lyon, \"la ville\"\nnouvelle ligne" in cells and "'=1+2 des plages" in cells
    assert sum(int(r["supports"]) for r in rows if r["section"] == "breakdown") == 5
