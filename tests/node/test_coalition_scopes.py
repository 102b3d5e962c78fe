"""node/change_rules.py for coalitions: what a commit about a coalition, its members, its campaigns,
variants and supports tells the page caches — enough to drop what changed, never another
coalition's pages (modelled on tests/node/test_change_scopes.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from node.changes import EVERYTHING, SITE, campaign, org, profile, reader
from node.db import transaction
from node.models import Actor
from node.services import actors, campaigns, coalitions, reactions
from tests.node.test_change_scopes import Heard


def remote(name: str, type_: str = "Organization", host: str = "ngo.example") -> Actor:
    return Actor(ap_id=f"https://{host}/actors/{name}", type=type_, local=False, username=name,
                 domain=host, name=name.title(), inbox=f"https://{host}/actors/{name}/inbox")


@pytest.fixture
async def scene(sessions, uris):
    """Two coalitions (blue, founded by Surfrider with Lyon; green, founded by Nantes), a campaign
    in each, Lyon's variant of blue's; a remote NGO; readers Ana (remote) and Camille (local)."""
    async with transaction(sessions) as s:
        surfrider, lyon, nantes = [await actors.create_organization(s, uris, n, n.title())
                                   for n in ("surfrider", "lyon", "nantes")]
        ngo, ana = remote("ngo"), remote("ana", type_="Person", host="people.example")
        s.add_all([ngo, ana])
        await s.flush()
        blue = (await coalitions.create(s, uris, "blue", "Blue", founder=surfrider, languages=["fr", "de"])).actor
        green = (await coalitions.create(s, uris, "green", "Green", founder=nantes)).actor
        await coalitions.invite(s, uris, blue, lyon)
        await coalitions.answer_invite(s, uris, lyon, blue, True)
        oceans = await campaigns.create(s, uris, blue, name={"fr": "Océans"})
        forests = await campaigns.create(s, uris, green, name={"fr": "Forêts"})
        variant = await campaigns.adapt(s, uris, lyon, oceans, language="de", name="Ozeane",
                                        content_html="<p>x</p>")
        camille = await actors.create_user(s, uris, "camille", "password-123", "Camille")
    return {"surfrider": surfrider, "lyon": lyon, "nantes": nantes, "ngo": ngo, "ana": ana, "blue": blue,
            "green": green, "oceans": oceans, "forests": forests, "variant": variant, "camille": camille}


def ids(scene, *names):
    return [scene[n].id for n in names]


async def test_scopes__a_support_changes_its_campaign_and_coalition_not_another_coalitions(sessions, uris, scene):
    heard = Heard(sessions)
    blue, green, oceans, forests, ana = ids(scene, "blue", "green", "oceans", "forests", "ana")
    async with transaction(sessions) as s:
        await campaigns.support(s, uris, await s.get(type(scene["oceans"]), oceans), await s.get(Actor, ana),
                                like_ap_id="https://people.example/l/1",
                                variant=await s.merge(scene["variant"]), relayed_by=None)
    # The tallies and days written beside it add nothing (node/change_rules.py IGNORED); ana is a
    # fediverse account: she has no marks to drop (test_scopes__a_fediverse_accounts_acts_…).
    expected = {campaign(oceans), org(blue)}
    assert heard.take() == expected
    assert not {campaign(forests), org(green), profile(blue), EVERYTHING} & expected
    # Taken back (a delete and an update() of the counter): the same.
    async with transaction(sessions) as s:
        assert await reactions.withdraw_by_id(s, await s.get(Actor, ana), "https://people.example/l/1")
    assert heard.take() == expected
    # Through the relaying organisation: the same.
    async with transaction(sessions) as s:
        await campaigns.support(s, uris, await s.get(type(scene["oceans"]), oceans), await s.get(Actor, ana),
                                like_ap_id="https://people.example/l/2", relayed_by=await s.merge(scene["lyon"]))
        assert await campaigns.withdraw_relayed(s, "https://people.example/l/2", await s.merge(scene["lyon"]))
    assert heard.take() == expected


async def test_scopes__a_variant_support_changes_the_variant_its_campaign_and_both_organisations(sessions, uris, scene):
    heard = Heard(sessions)
    blue, lyon, oceans, ana = ids(scene, "blue", "lyon", "oceans", "ana")
    async with transaction(sessions) as s:
        await campaigns.support_variant(s, uris, await s.merge(scene["variant"]), await s.get(Actor, ana),
                                        "https://people.example/l/1")
    assert heard.take() == {campaign(oceans), org(blue), org(lyon)}


async def test_scopes__a_membership_change_drops_both_organisations_audiences(sessions, uris, scene):
    heard = Heard(sessions)
    blue, green, ngo, nantes, surfrider = ids(scene, "blue", "green", "ngo", "nantes", "surfrider")
    both = {profile(blue), org(blue), profile(ngo), org(ngo)}
    async with transaction(sessions) as s:
        await coalitions.receive_join(s, await s.get(Actor, blue), await s.get(Actor, ngo), "https://ngo.example/j/1")
    assert heard.take() == both
    async with transaction(sessions) as s:
        await coalitions.accept(s, await coalitions.membership(s, await s.get(Actor, blue), await s.get(Actor, ngo)))
    assert heard.take() == both
    async with transaction(sessions) as s:
        await coalitions.set_role(s, await s.get(Actor, blue), await s.get(Actor, ngo), "admin")
    assert heard.take() == both
    async with transaction(sessions) as s:
        await coalitions.remove(s, await s.get(Actor, blue), await s.get(Actor, surfrider))
    taken = heard.take()
    assert taken == {profile(blue), org(blue), profile(surfrider), org(surfrider)}
    assert not {profile(green), org(green), org(nantes), EVERYTHING} & taken


async def test_scopes__a_role_in_a_member_organisation_changes_the_coalitions_audiences(sessions, uris, scene):
    """Lyon's staff are members of the Blue coalition (node/visibility.py roles): a new admin of
    Lyon may read Blue's members-only pages, so Blue's audiences change; Green's do not."""
    heard = Heard(sessions)
    blue, green, lyon = ids(scene, "blue", "green", "lyon")
    async with transaction(sessions) as s:
        await actors.add_member(s, await s.merge(scene["camille"]), await s.get(Actor, lyon), "admin")
    taken = heard.take()
    assert {profile(lyon), org(lyon), profile(blue)} <= taken
    assert not {profile(green), org(green), EVERYTHING} & taken
    # Once Lyon has left, its roles change nothing of Blue's.
    async with transaction(sessions) as s:
        await coalitions.leave(s, uris, await s.get(Actor, lyon), await s.get(Actor, blue))
    heard.take()
    async with transaction(sessions) as s:
        await actors.add_member(s, await s.merge(scene["camille"]), await s.get(Actor, lyon), "official")
    assert profile(blue) not in heard.take()


async def test_scopes__campaigns_and_variants_change_their_coalition_and_organisation(sessions, uris, scene):
    heard = Heard(sessions)
    blue, lyon, surfrider = ids(scene, "blue", "lyon", "surfrider")
    async with transaction(sessions) as s:
        created = await campaigns.create(s, uris, await s.get(Actor, blue), name={"de": "Strände"})
    assert heard.take() == {campaign(created.id), org(blue)}
    async with transaction(sessions) as s:
        variant = await campaigns.adapt(s, uris, await s.get(Actor, surfrider), await s.merge(created),
                                        language="fr", name="Plages", content_html="<p>x</p>")
    assert heard.take() == {campaign(created.id), org(blue), org(surfrider)}
    assert variant.organization_id == surfrider and lyon != surfrider


async def test_scopes__a_new_coalition_is_listed_on_the_site(sessions, uris, scene):
    heard = Heard(sessions)
    async with transaction(sessions) as s:
        red = (await coalitions.create(s, uris, "red", "Red", founder=await s.merge(scene["lyon"]))).actor
    taken = heard.take()
    assert {SITE, profile(red.id), org(red.id), profile(scene["lyon"].id)} <= taken
    assert EVERYTHING not in taken and profile(scene["blue"].id) not in taken


async def test_scopes__a_member_nodes_mirror_of_a_remote_coalition(sessions, uris, scene):
    """On a member's node: the mirror row changes the local organisation's pages (its coalitions)."""
    heard = Heard(sessions)
    far = remote("far", type_="Group", host="home.example")
    async with transaction(sessions) as s:
        s.add(far)
        await s.flush()
        heard.take()
        await coalitions.receive_invite(s, far, await s.merge(scene["nantes"]), "https://home.example/i/1")
    taken = heard.take()
    assert {profile(scene["nantes"].id), org(scene["nantes"].id)} <= taken and EVERYTHING not in taken


async def test_scopes__a_fediverse_accounts_acts_drop_no_reader_marks_a_local_persons_do(sessions, uris, scene):
    """``reader:`` scopes are a local reader's marks: a burst of fediverse supports must not add a
    scope each (on PostgreSQL more than a NOTIFY carries: every page of every process dropped),
    and their locality is read for the whole commit in one query."""
    heard = Heard(sessions)
    oceans, ana, camille = ids(scene, "oceans", "ana", "camille")
    async with transaction(sessions) as s:
        await campaigns.support(s, uris, await s.get(type(scene["oceans"]), oceans), await s.get(Actor, ana),
                                like_ap_id="https://people.example/l/9", relayed_by=None)
        await campaigns.support(s, uris, await s.get(type(scene["oceans"]), oceans), await s.get(Actor, camille))
    assert reader(camille) in (scopes := heard.take()) and reader(ana) not in scopes

    statements = []
    sync_engine = sessions.kw["bind"].sync_engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(sync_engine, "before_cursor_execute", listener)
    try:
        async with transaction(sessions) as s:
            people = [remote(f"p{i}", type_="Person", host="people.example") for i in range(30)]
            s.add_all(people)
            await s.flush()
            campaign_row = await s.get(type(scene["oceans"]), oceans)
            for i, person in enumerate(people):
                await campaigns.support(s, uris, campaign_row, person, like_ap_id=f"https://people.example/l/p{i}",
                                        relayed_by=None)
    finally:
        event.remove(sync_engine, "before_cursor_execute", listener)
    assert not {scope for scope in heard.take() if scope.startswith("reader:")}
    assert sum("FROM actors WHERE id" in " ".join(q.split()) for q in statements) <= 1
