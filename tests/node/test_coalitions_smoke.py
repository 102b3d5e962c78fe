"""The coalitions' node layer, end to end on one node: a coalition, a member, a campaign, a variant,
supports counted once per person and credited per member and language."""

from __future__ import annotations

from node.db import transaction
from node.errors import Conflict
from node.services import actors, campaigns, coalition_report, coalitions


async def test_smoke__a_campaign_counts_each_person_once_per_member_and_language(sessions, uris):
    async with transaction(sessions) as s:
        alliance = await actors.create_organization(s, uris, "surfrider", "Surfrider")
        city = await actors.create_organization(s, uris, "lyon", "Ville de Lyon")
        coalition = await coalitions.create(s, uris, "blue", "Blue Coalition", founder=alliance,
                                            languages=["fr", "de"])
        group = coalition.actor
        await coalitions.invite(s, uris, group, city)
        await coalitions.answer_invite(s, uris, city, group, True)
        campaign = await campaigns.create(s, uris, group, name={"fr": "Océans", "de": "Ozeane"},
                                          content={"fr": "<p>Protégeons</p>"})
        variant = await campaigns.adapt(s, uris, city, campaign, language="de", name="Ozeane in Lyon",
                                        content_html="<p>Schützen</p>")
        people = [(await actors.create_user(s, uris, n, "password-123", n)).actor for n in ("ana", "bo")]
        assert await campaigns.support(s, uris, campaign, people[0], variant=variant)
        assert not await campaigns.support(s, uris, campaign, people[0])
        assert await campaigns.support(s, uris, campaign, people[1])
    async with transaction(sessions) as s:
        campaign = await campaigns.by_ap_id(s, campaign.ap_id)
        assert campaign.support_count == 2 == await campaigns.total(s, campaign)
        shares = {(sh.member.username if sh.member else None, sh.language): sh.supports
                  for sh in await campaigns.breakdown(s, campaign)}
        assert shares == {("lyon", "de"): 1, (None, "fr"): 1}
        data = await coalition_report.report(s, group)
        assert data["totals"] == {"members": 2, "campaigns": 1, "supports": 2, "demand_supports": 0}
        assert "breakdown,Océans,,Ville de Lyon" in coalition_report.to_csv(data)
        try:
            await coalitions.leave(s, uris, alliance, group)
        except Conflict as exc:
            assert exc.reason == coalitions.LAST_ADMIN
        else:
            raise AssertionError("the last admin left")


async def test_members_coalition__takes_no_organisation_of_another_node(sessions, uris):
    from node.errors import InvalidInput
    from node.models import Actor

    async with transaction(sessions) as s:
        founder = await actors.create_organization(s, uris, "asso", "Asso")
        coalition = await coalitions.create(s, uris, "inner", "Inner circle", founder=founder,
                                            visibility_level="members")
        elsewhere = Actor(ap_id="https://ngo.example/actors/ngo", type="Organization", local=False,
                          username="ngo", domain="ngo.example", inbox="https://ngo.example/inbox")
        s.add(elsewhere)
        await s.flush()
        try:
            await coalitions.invite(s, uris, coalition.actor, elsewhere)
        except InvalidInput as exc:
            assert exc.reason == coalitions.STAYS_HERE
        else:
            raise AssertionError("a members coalition invited an organisation of another node")
        here = await actors.create_organization(s, uris, "club", "Club")
        assert (await coalitions.invite(s, uris, coalition.actor, here)).state == "invited"


async def test_variant_support__at_a_home_on_this_node_counts_the_campaign_at_once(sessions, uris):
    """A local member's variant of a local campaign: its support is the campaign's, in the same
    transaction (nothing to relay), and taking it back takes the campaign's back."""
    from node.services import reactions

    async with transaction(sessions) as s:
        alliance = await actors.create_organization(s, uris, "surfrider", "Surfrider")
        city = await actors.create_organization(s, uris, "lyon", "Ville de Lyon")
        group = (await coalitions.create(s, uris, "blue", "Blue", founder=alliance, languages=["fr", "de"])).actor
        await coalitions.invite(s, uris, group, city)
        await coalitions.answer_invite(s, uris, city, group, True)
        campaign = await campaigns.create(s, uris, group, name={"fr": "Océans", "de": "Ozeane"})
        variant = await campaigns.adapt(s, uris, city, campaign, language="de", name="Ozeane in Lyon",
                                        content_html="<p>Schützen</p>")
        ana = (await actors.create_user(s, uris, "ana", "password-123", "Ana")).actor
        assert await campaigns.support_variant(s, uris, variant, ana)
        await s.refresh(campaign)
        assert (variant.support_count, campaign.support_count) == (1, 1)
        assert [(sh.member.username, sh.language, sh.supports)
                for sh in await campaigns.breakdown(s, campaign)] == [("lyon", "de", 1)]
        assert await reactions.withdraw(s, campaigns.VARIANT_SUPPORT, ana, target=variant)
        await s.refresh(campaign)
        assert (variant.support_count, campaign.support_count, await campaigns.total(s, campaign)) == (0, 0, 0)
