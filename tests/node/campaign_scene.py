"""A coalition with a campaign and two members' variants to test node/services/campaigns.py with,
and the recount its kept supports, tallies and days must equal (tests/node/test_campaign*.py)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from node.models import (
    Actor,
    Campaign,
    CampaignDay,
    CampaignSupport,
    CampaignTally,
    CampaignVariant,
    OutboxEvent,
)
from node.services import actors, campaigns, coalitions


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


async def credited(s, uris, w: Scene, people: list[Actor]) -> None:
    """Four supports of the scene's campaign: two through Lyon's German variant, one relayed by
    the NGO through its French variant, one of the campaign itself (``people[:4]``)."""
    await campaigns.support(s, uris, w.campaign, people[0], variant=w.lyon_de)
    await campaigns.support(s, uris, w.campaign, people[1], variant=w.lyon_de)
    await campaigns.support(s, uris, w.campaign, people[2], variant=w.ngo_fr, relayed_by=w.ngo)
    await campaigns.support(s, uris, w.campaign, people[3])


async def far_campaign(s) -> tuple[Actor, Campaign]:
    """A coalition hosted elsewhere (home.example), and its campaign as this node stores it."""
    far = remote("green", type_="Group", host="home.example")
    s.add(far)
    await s.flush()
    campaign = await campaigns.store_remote(s, far, ap_id="https://home.example/campaigns/1",
                                            name={"fr": "Vert"}, summary={}, content={}, kit=[],
                                            url=None, published=None)
    return far, campaign


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
