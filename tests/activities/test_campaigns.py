"""activities/campaigns.py: campaign and variant Pages out and in, relayed supports, hostile input."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activities.addressing import NotFederated
from activities.campaigns import (
    MAX_KIT,
    campaign_to_as,
    is_variant,
    parse_campaign,
    parse_relayed,
    parse_variant,
    relayed_kind,
    relayed_support,
    variant_to_as,
)
from activities.errors import InvalidDocument
from activities.vocabulary import PUBLIC
from node.models import Campaign, CampaignVariant
from tests.activities.samples import BASE, URIS, at, local_actor

HOME = BASE
COALITION = local_actor("Group", "blue", "Blue Coalition")
CITY = "https://city.example"


def _campaign(**extra) -> Campaign:
    fields = dict(
        ap_id=URIS.campaign("c1"), coalition_id=1, local=True,
        name={"fr": "Océans propres", "de": "Saubere Meere"},
        summary={"fr": "Signez pour des océans propres", "de": "Unterschreiben Sie"},
        content={"fr": "<p>Le texte</p>", "de": "<p>Der Text</p>"},
        kit=[{"language": "fr", "kind": "visual", "name": "Affiche", "url": "/media/ab.png",
              "media_type": "image/png"},
             {"language": "de", "kind": "message", "name": "Post", "content": "<p>Macht mit!</p>"}],
        url=URIS.campaign("c1"), support_count=7, created_at=at(1), published_at=at(2))
    fields.update(extra)
    return Campaign(**fields)


def _variant(**extra) -> CampaignVariant:
    fields = dict(ap_id=URIS.variant("v1"), campaign_id=1, organization_id=2, local=True,
                  language="de", name="Saubere Meere in Basel", content="<p>Basel macht mit</p>",
                  visual_url="/media/cd.jpg", visual_media_type="image/jpeg", support_count=3,
                  created_at=at(3))
    fields.update(extra)
    return CampaignVariant(**fields)


def test_campaign_to_as__texts_in_every_language_and_the_kit():
    doc = campaign_to_as(_campaign(), COALITION, level="public", base=BASE)
    assert doc["type"] == "Page" and doc["attributedTo"] == COALITION.ap_id
    assert doc["name"] == "Océans propres" and doc["content"] == "<p>Le texte</p>"
    assert doc["nameMap"] == {"fr": "Océans propres", "de": "Saubere Meere"}
    assert doc["contentMap"]["de"] == "<p>Der Text</p>"
    assert doc["summaryMap"]["de"] == "Unterschreiben Sie"
    assert doc["summary"] == "Signez pour des océans propres"
    assert doc["to"] == [PUBLIC] and doc["cc"] == [COALITION.followers_url]
    assert doc["attachment"] == [
        {"type": "Image", "url": BASE + "/media/ab.png", "mediaType": "image/png", "name": "Affiche",
         "civic:language": "fr"},
        {"type": "Note", "name": "Post", "content": "<p>Macht mit!</p>", "civic:language": "de"}]
    assert doc["published"] == "2026-03-02T09:00:00Z" and doc["url"] == URIS.campaign("c1")


def test_campaign_to_as__levels():
    followers = campaign_to_as(_campaign(), COALITION, level="followers", base=BASE)
    assert followers["to"] == [COALITION.followers_url] and followers["cc"] == []
    with pytest.raises(NotFederated):
        campaign_to_as(_campaign(), COALITION, level="members", base=BASE)


def test_variant_to_as__one_language_linked_to_its_campaign():
    org = local_actor("Organization", "basel", "Stadt Basel")
    doc = variant_to_as(_variant(), org, campaign_id="https://home.example/campaigns/c1",
                        coalition_id="https://home.example/actors/blue", level="public", base=BASE)
    assert doc["attributedTo"] == org.ap_id
    assert doc["context"] == doc["civic:variantOf"] == "https://home.example/campaigns/c1"
    assert doc["contentMap"] == {"de": "<p>Basel macht mit</p>"}
    assert doc["nameMap"] == {"de": "Saubere Meere in Basel"}
    assert doc["summary"] == "Basel macht mit"
    assert doc["to"] == [PUBLIC]
    assert doc["cc"] == [org.followers_url, "https://home.example/actors/blue"]
    assert doc["attachment"] == [{"type": "Image", "url": BASE + "/media/cd.jpg", "mediaType": "image/jpeg",
                                  "name": "Saubere Meere in Basel", "civic:language": "de"}]
    # round trip: what we send is what a home parses
    parsed = parse_variant(doc)
    assert parsed.fields() == {"ap_id": _variant().ap_id, "language": "de",
                               "name": "Saubere Meere in Basel", "content": "<p>Basel macht mit</p>",
                               "visual_url": BASE + "/media/cd.jpg", "visual_media_type": "image/jpeg"}
    assert parsed.campaign == "https://home.example/campaigns/c1" and is_variant(doc)


def test_parse_campaign__round_trip_of_what_we_send():
    doc = campaign_to_as(_campaign(), COALITION, level="public", base=BASE)
    parsed = parse_campaign(doc)
    assert parsed.coalition == COALITION.ap_id and not is_variant(doc)
    fields = parsed.fields()
    assert fields["name"] == {"fr": "Océans propres", "de": "Saubere Meere"}
    assert fields["content"] == {"fr": "<p>Le texte</p>", "de": "<p>Der Text</p>"}
    assert fields["kit"] == [
        {"language": "fr", "kind": "visual", "name": "Affiche", "url": BASE + "/media/ab.png",
         "media_type": "image/png"},
        {"language": "de", "kind": "message", "name": "Post", "content": "<p>Macht mit!</p>"}]
    assert fields["published"] == at(2) and fields["url"] == URIS.campaign("c1")


def test_parse_campaign__sanitises_and_bounds():
    doc = {"type": "Page", "id": f"{CITY}/campaigns/x", "attributedTo": f"{CITY}/actors/c",
           "name": "<b>Clean</b> seas", "content": '<p onclick="x()">Hi<script>alert(1)</script></p>',
           "url": "javascript:alert(1)",
           "attachment": [{"type": "Image", "url": "javascript:x", "mediaType": "image/png"},
                          {"type": "Image", "url": f"{CITY}/a.svg", "mediaType": "text/html"},
                          {"type": "Note", "content": "<img src=x onerror=y>", "civic:language": "<x>"},
                          "https://not-an-object.example"]
           + [{"type": "Note", "content": f"<p>{i}</p>"} for i in range(MAX_KIT + 10)]}
    parsed = parse_campaign(doc)
    assert parsed.name == {"und": "Clean seas"}
    assert "script" not in parsed.content["und"] and "onclick" not in parsed.content["und"]
    assert parsed.url == f"{CITY}/campaigns/x"  # not a web URL: its id instead
    assert len(parsed.kit) == MAX_KIT and all(i["kind"] == "message" for i in parsed.kit)
    assert all("onerror" not in i["content"] for i in parsed.kit)
    assert {i["language"] for i in parsed.kit} == {"und"}


@pytest.mark.parametrize("doc, reason", [
    ({"type": "Note", "id": f"{CITY}/c", "attributedTo": f"{CITY}/a", "name": "x"}, "is a Page"),
    ({"type": "Page", "attributedTo": f"{CITY}/a", "name": "x"}, "id must be"),
    ({"type": "Page", "id": f"{CITY}/c", "name": "x"}, "attributedTo must be"),
    ({"type": "Page", "id": "https://elsewhere.example/c", "attributedTo": f"{CITY}/a", "name": "x"},
     "not on its author's host"),
    ({"type": "Page", "id": f"{CITY}/c", "attributedTo": f"{CITY}/a"}, "has a name"),
    ({"type": "Page", "id": "http://[", "attributedTo": f"{CITY}/a", "name": "x"}, "id must be"),
    ("a string", "is a Page"),
])
def test_parse_campaign__wrong_shapes_refused_with_a_reason(doc, reason):
    with pytest.raises(InvalidDocument, match=reason):
        parse_campaign(doc)


@pytest.mark.parametrize("change, reason", [
    ({"civic:variantOf": None, "context": None}, "campaign must be"),
    ({"civic:variantOf": "javascript:x"}, "campaign must be"),
    ({"content": "", "contentMap": {}}, "has a text"),
    ({"name": "", "nameMap": {}}, "has a name"),
])
def test_parse_variant__wrong_shapes_refused(change, reason):
    doc = {"type": "Page", "id": f"{CITY}/variants/v", "attributedTo": f"{CITY}/actors/basel",
           "civic:variantOf": f"{HOME}/campaigns/c1", "name": "Basel", "content": "<p>x</p>",
           "contentMap": {"de": "<p>x</p>"}, "nameMap": {"de": "Basel"}}
    doc.update(change)
    with pytest.raises(InvalidDocument, match=reason):
        parse_variant(doc)


def test_relayed_support__announce_of_the_like_and_of_its_undo():
    like_id = "https://fedify.example/likes/1"
    doc = relayed_support(f"{CITY}/activities/a1", f"{CITY}/actors/basel", like_id=like_id,
                          supporter="https://fedify.example/users/ana", variant=f"{CITY}/variants/v",
                          coalition=f"{HOME}/actors/blue")
    assert doc["type"] == "Announce" and doc["to"] == [f"{HOME}/actors/blue"] and doc["cc"] == []
    assert doc["object"]["type"] == "Like" and "@context" not in doc["object"]
    assert relayed_kind(doc) == "relayed-like"
    parsed = parse_relayed(doc)
    assert (parsed.relayer, parsed.like_id, parsed.supporter, parsed.object, parsed.undone) == (
        f"{CITY}/actors/basel", like_id, "https://fedify.example/users/ana", f"{CITY}/variants/v", False)
    undo = relayed_support(f"{CITY}/activities/a2", f"{CITY}/actors/basel", like_id=like_id,
                           supporter="https://fedify.example/users/ana", variant=f"{CITY}/variants/v",
                           coalition=f"{HOME}/actors/blue", undo_id=f"{CITY}/activities/u1")
    assert undo["object"]["type"] == "Undo" and undo["object"]["object"]["id"] == like_id
    assert relayed_kind(undo) == "relayed-like" and parse_relayed(undo).undone


@pytest.mark.parametrize("inner, reason", [
    ("https://fedify.example/likes/1", "embeds the Like"),
    ({"type": "Like", "actor": "https://fedify.example/users/ana", "object": "https://c.example/v"},
     "Like's id"),
    ({"type": "Like", "id": "https://city.example/likes/1", "actor": "https://fedify.example/users/ana",
      "object": "https://c.example/v"}, "not on its actor's host"),
    ({"type": "Undo", "actor": "https://fedify.example/users/bob", "object": {
        "type": "Like", "id": "https://fedify.example/likes/1", "actor": "https://fedify.example/users/ana",
        "object": "https://c.example/v"}}, "only the Like's actor"),
    ({"type": "Follow", "id": "https://fedify.example/f/1"}, "embeds the Like"),
])
def test_parse_relayed__forged_or_wrong_shapes_refused(inner, reason):
    doc = {"type": "Announce", "id": f"{CITY}/a/1", "actor": f"{CITY}/actors/basel", "object": inner}
    with pytest.raises(InvalidDocument, match=reason):
        parse_relayed(doc)


# ---- hostile input: every parser either answers a bounded value or InvalidDocument --------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30)
    | st.sampled_from(["Page", "Like", "Undo", "Image", "Note", "https://h.example/x", "http://[",
                       "https://h.example/actors/a", "javascript:alert(1)", "fr", "image/png"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "id", "actor", "object", "attributedTo", "name", "nameMap", "content",
                         "contentMap", "summary", "summaryMap", "attachment", "url", "mediaType",
                         "civic:language", "civic:variantOf", "context", "published", "href"]),
        children, max_size=8),
    max_leaves=30)


def _page_like(base: dict):
    return st.fixed_dictionaries({k: st.just(v) for k, v in base.items()}).flatmap(
        lambda fixed: st.dictionaries(
            st.sampled_from(["name", "nameMap", "content", "contentMap", "summaryMap", "attachment",
                             "url", "published", "civic:variantOf", "context", "civic:language"]),
            JSON, max_size=8).map(lambda extra: {**extra, **fixed} if "id" in fixed else extra))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=JSON | _page_like({"type": "Page", "id": "https://h.example/p",
                              "attributedTo": "https://h.example/actors/a"}))
def test_parsers__hostile_documents_never_raise_anything_else(doc):
    for parse in (parse_campaign, parse_variant, parse_relayed):
        try:
            parsed = parse(doc)
        except InvalidDocument:
            continue
        values = parsed.fields() if hasattr(parsed, "fields") else vars(parsed)
        for value in values.values():
            if isinstance(value, str):
                assert len(value) <= 40_000 and "<script" not in value.lower()
    relayed_kind(doc)
    is_variant(doc)


@settings(max_examples=200, deadline=None)
@given(inner=JSON, like=JSON)
def test_parse_relayed__hostile_embedded_likes(inner, like):
    doc = {"type": "Announce", "id": "https://h.example/a", "actor": "https://h.example/actors/o",
           "object": {"type": "Undo", "object": like} if isinstance(inner, bool) else
           (like if isinstance(like, dict) else inner)}
    try:
        parsed = parse_relayed(doc)
    except InvalidDocument:
        return
    assert parsed.like_id.startswith(("http://", "https://"))
    assert parsed.like_id.split("/")[2].lower() == parsed.supporter.split("/")[2].lower()
