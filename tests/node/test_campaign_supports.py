"""node/services/campaigns.py: the supports counted at the home — once per person, credited to a
member only while it is one, per language and per day — taken back by an Undo, a relayed
withdrawal or an erasure, relayed from a member's node, and the report's figures from them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from node.db import transaction
from node.errors import Conflict, InvalidInput, NotFound
from node.models import (
    Actor,
    Campaign,
    CampaignSupport,
    CampaignVariant,
    ProposalSupport,
    VariantSupport,
    utcnow,
)
from node.services import actors, campaigns, coalitions, erasure, proposals, reactions
from tests.node.campaign_scene import (
    assert_consistent,
    credited,
    events,
    far_campaign,
    make_scene,
    person,
    remote,
    shares,
)

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
        await credited(s, uris, w, people)  # people[3]: the campaign itself, its first language
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
        _, campaign = await far_campaign(s)
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



# -- the report: figures from the tallies, formula cells neutralised -----------------------------------------------------

async def test_report__figures_per_member_language_and_day_and_a_safe_csv(sessions, uris):
    import csv
    import io

    from node.services import coalition_report

    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        people = [await person(s, n) for n in ("ana", "bo", "cy", "di", "ed")]
        await credited(s, uris, w, people)
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
