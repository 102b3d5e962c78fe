"""Remote content kept and shown faithfully (SECURITY.md rules 7, 20, 21): contexts, content
warnings, languages, mentions, hashtags, media and headings, as Mastodon and Lemmy show them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activities.actors import as_to_actor
from activities.contributions import (
    as_to_contribution,
    contribution_to_as,
    rendered_content,
    rendered_content_map,
)
from activities.errors import InvalidDocument
from activities.html import sanitize_html
from activities.jsonld import compact, needs_jsonld, readable
from activities.tags import link_tags, tags_of
from tests.activities.samples import world

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = f"{AS}#Public"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "remote"
ALICE = "https://social.example/users/alice"


def note(**fields) -> dict:
    return {"id": f"{ALICE}/statuses/1", "type": "Note", "attributedTo": ALICE,
            "to": [PUBLIC], "content": "<p>Un jardin partagé</p>", **fields}


# ---- @context: what pyld cannot load is read as compact AS2 (Mastodon runs no JSON-LD)

def test_compact__pleroma_litepub_context_is_read_as_compact_as2():
    """Pleroma's litepub-0.1.jsonld is not bundled: the document is kept as it is, not dropped."""
    doc = json.loads((FIXTURES / "pleroma/activities/create_note.json").read_text())
    assert needs_jsonld(doc)
    assert readable(doc) == doc
    assert as_to_contribution(readable(doc)["object"]).content.endswith(" test")


def test_compact__unknown_context_keeps_inline_aliases_of_as2_terms():
    """An inline alias still applies beside a context we cannot load (it is compacted without it)."""
    doc = {"@context": [AS, "https://w3id.org/fep/5711", {"texte": f"{AS}#content"}],
           "id": f"{ALICE}/notes/1", "type": "Note", "attributedTo": ALICE, "texte": "<p>Salut</p>"}
    assert compact(doc)["content"] == "<p>Salut</p>"


def test_readable__usual_contexts_are_untouched():
    """The hot path: the usual AS2 contexts are read as they are, without pyld."""
    doc = {"@context": [AS, "https://w3id.org/security/v1"], **note()}
    assert readable(doc) is doc


# ---- content warnings, excerpts, sensitive media

def test_as_to_contribution__summary_without_sensitive_is_a_content_warning():
    """Misskey and Pleroma send a warning as summary alone; Mastodon adds sensitive: both hide."""
    assert as_to_contribution(note(summary="Politique")).content_warning == "Politique"
    data = as_to_contribution(note(summary="Politique", sensitive=True))
    assert (data.content_warning, data.sensitive) == ("Politique", True)
    assert "Politique" not in rendered_content(data)  # a column, not baked into the HTML


def test_as_to_contribution__page_summary_is_an_excerpt_and_name_a_title():
    """A Lemmy/lotide Page or an Article: name is its title, summary an excerpt, no warning."""
    data = as_to_contribution(note(type="Page", name="Vélos", summary="En bref"))
    assert data.content_warning is None
    html = rendered_content(data)
    assert html.startswith("<p><strong>Vélos</strong></p><p class=\"excerpt\"><em>En bref</em></p>")


def test_as_to_contribution__a_sensitive_attachment_marks_the_post():
    """A file marked sensitive is never shown openly: the post gets the generic warning."""
    doc = note(attachment=[{"type": "Image", "url": "https://social.example/a.png",
                            "sensitive": True}])
    data = as_to_contribution(doc)
    assert data.sensitive and data.content_warning is None
    assert '<ul class="attachments sensitive">' in rendered_content(data)


# ---- media: links only, with their description, http(s) only

def test_as_to_contribution__image_only_post_and_media_objects_become_contributions():
    """A post with only an image, and an Image/Audio/Video/Document object, show their media."""
    image_only = note(content="", attachment={"type": "Image", "name": "Un chat",
                                              "url": "https://social.example/chat.jpg",
                                              "mediaType": "image/jpeg"})
    html = rendered_content(as_to_contribution(image_only))
    assert '<a href="https://social.example/chat.jpg" rel="nofollow noopener noreferrer">Un chat</a>' in html
    assert "(image/jpeg)" in html
    video = note(type="Video", name="Conseil municipal", content="", url=[
        {"type": "Link", "mediaType": "text/html", "href": "https://tube.example/w/1"},
        {"type": "Link", "mediaType": "video/mp4", "href": "https://tube.example/1.mp4"},
        {"type": "Link", "mediaType": "video/webm", "href": "https://tube.example/1.webm"}])
    data = as_to_contribution(video)
    html = rendered_content(data)
    assert data.url == "https://tube.example/w/1"  # the page, not a stream
    assert "1.mp4" in html and "(video/mp4)" in html and "1.webm" in html and "(video/webm)" in html


def test_as_to_contribution__only_http_urls_become_links():
    """payto:, data: and javascript: attachments are not links (rule 20)."""
    doc = note(attachment=[{"type": "Link", "name": "Donate", "href": "payto://iban/DE75"},
                           {"type": "Image", "url": "data:image/png;base64,AAAA"},
                           {"type": "Document", "url": "javascript:alert(1)"}])
    html = rendered_content(as_to_contribution(doc))
    assert "<ul" not in html and "payto" not in html and "javascript" not in html


def test_sanitize_html__inline_media_become_links_and_headings_are_demoted():
    """img/audio/video become links (alt text as link text); h1-h5 sit below the page's own."""
    html = sanitize_html('<h1>Titre</h1><h2>Sous</h2><h5>Bas</h5>'
                         '<img src="https://social.example/a.png" alt="Un plan">'
                         '<img src="javascript:alert(1)" onerror="alert(2)">'
                         '<a href="mailto:x@example.org">m</a><a href="ftp://x.example">f</a>')
    assert "<h4>Titre</h4><h5>Sous</h5><h6>Bas</h6>" in html
    assert '<a href="https://social.example/a.png" rel="nofollow noopener noreferrer">Un plan</a>' in html
    assert "<img" not in html and "javascript" not in html and "onerror" not in html
    assert "mailto:" not in html and "ftp:" not in html  # rule 20: http(s) links only


# ---- mentions and hashtags

def test_link_tags__mentions_and_hashtags_become_links():
    """A mention named in the text links to its href; a hashtag in the text links to its href;
    hashtags absent from the text are listed after it; absent mentions are not shown."""
    doc = note(tag=[
        {"type": "Mention", "name": "@bob@other.example", "href": "https://other.example/users/bob"},
        {"type": "Mention", "name": "@carol@third.example", "href": "https://third.example/carol"},
        {"type": "Hashtag", "name": "#velo", "href": "https://social.example/tags/velo"},
        {"type": "Hashtag", "name": "#Lyon"},
        {"type": "Hashtag", "name": "#evil", "href": "javascript:alert(1)"}])
    body = link_tags("<p>Merci @bob@other.example pour le #velo</p>", tags_of(doc))
    assert ('<span class="h-card"><a href="https://other.example/users/bob" class="u-url mention" '
            'rel="nofollow noopener noreferrer">@bob@other.example</a></span>') in body
    assert '<a href="https://social.example/tags/velo" class="mention hashtag"' in body
    assert '<p class="tags"><span class="hashtag">#Lyon</span> <span class="hashtag">#evil</span></p>' in body
    assert "carol" not in body and "javascript" not in body


def test_link_tags__an_existing_link_is_not_linked_twice():
    """Mastodon's own mention markup is already a link: it stays as it is."""
    html = ('<p><span class="h-card"><a href="https://other.example/@bob" class="u-url mention">'
            '@<span>bob</span></a></span> salut</p>')
    tags = tags_of(note(tag={"type": "Mention", "name": "@bob", "href": "https://other.example/users/bob"}))
    assert link_tags(sanitize_html(html), tags) == sanitize_html(html)


# ---- languages

def test_as_to_contribution__content_map_gives_languages_and_content_its_lang():
    """contentMap: each language's HTML is kept; content's language is the key holding it."""
    doc = note(content="<p>Bonjour</p>", contentMap={"de": "<p>Hallo</p>", "fr": "<p>Bonjour</p>"})
    data = as_to_contribution(doc)
    assert data.language == "fr"
    assert rendered_content_map(data) == {"de": "<p>Hallo</p>", "fr": "<p>Bonjour</p>"}
    assert as_to_contribution(note(contentMap={"x y": "<p>?</p>"})).language is None
    assert as_to_contribution(note(contentMap={"de\n": "<p>?</p>"})).language is None


# ---- out again: our AS2 carries the warning and the language

def test_contribution_to_as__sends_summary_sensitive_and_content_map():
    """A stored warning and language go back out as Mastodon reads them."""
    w = world()
    w.contribution.content_warning, w.contribution.language = "Travaux", "fr"
    w.contribution.content_map = {"de": "<p>Bauarbeiten</p>"}
    doc = contribution_to_as(w.contribution, w.alice, w.discussion, w.group, in_reply_to="x")
    assert (doc["summary"], doc["sensitive"]) == ("Travaux", True)
    assert doc["contentMap"] == {"de": "<p>Bauarbeiten</p>", "fr": w.contribution.content}
    data = as_to_contribution(doc)
    assert (data.content_warning, data.language) == ("Travaux", "fr")


# ---- actors: the profile url is a link only when http(s)

def test_as_to_actor__non_http_profile_url_is_dropped():
    """``javascript://host/%0a…`` passes a same-host check: only http(s) is kept (rule 20)."""
    doc = {"id": ALICE, "type": "Person", "inbox": f"{ALICE}/inbox",
           "url": "javascript://social.example/%0aalert(1)"}
    assert as_to_actor(doc).url is None
    doc["url"] = {"type": "Link", "href": "https://social.example/@alice"}
    assert as_to_actor(doc).url == "https://social.example/@alice"


# ---- hostile shapes: a value of any JSON type in any field is refused or read, never a crash

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    | st.sampled_from(["https://social.example/x", "javascript:alert(1)", "data:,x", "#tag",
                       "@bob@other.example", "<h1>t</h1><img src=x>", "Note", "Image", "Mention",
                       "Hashtag", "Link", "text/html", "de", "x y"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "href", "url", "name", "mediaType", "id", "sensitive", "rel",
                         "de", "en", "x y"]), inner, max_size=4),
    max_leaves=12)
_FIELDS = ["content", "contentMap", "summary", "name", "sensitive", "tag", "attachment", "url",
           "type", "quote", "language", "mediaType"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(_FIELDS), _json, max_size=6))
def test_as_to_contribution__any_shape_is_read_or_refused(fields):
    """Hostile values in the fields this part reads: InvalidDocument or a post whose HTML holds
    no script and no link but http(s) ones (rules 7, 19, 20)."""
    try:
        data = as_to_contribution(note(**fields))
    except InvalidDocument:
        return
    for html in (rendered_content(data), *rendered_content_map(data).values()):
        lowered = html.lower()
        assert "<script" not in lowered and "<img" not in lowered and "<h1" not in lowered
        assert all(href.startswith(("http://", "https://"))
                   for href in re.findall(r'href="([^"]*)"', html))
    assert data.language is None or len(data.language) <= 16
