"""node/services/campaigns.py: a coalition's campaigns (their texts and kit per language) and its
members' variants, and hostile input to both fuzzed. Supports: test_campaign_supports.py;
counts under concurrency and a state machine: test_campaign_counting.py."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.db import transaction
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.models import Actor, utcnow
from node.services import actors, campaigns, coalitions
from tests.node.campaign_scene import events, far_campaign, make_scene, person, remote

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
        far, campaign = await far_campaign(s)
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
