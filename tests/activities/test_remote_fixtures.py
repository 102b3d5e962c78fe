"""Parsing real documents captured from 14 fediverse implementations (tests/fixtures/remote)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from activities.actors import as_to_actor
from activities.contributions import CONTRIBUTION_TYPES, as_to_contribution, is_poll_vote
from activities.errors import InvalidDocument
from activities.normalize import id_of, ids_of
from activities.notes import NOTE_TYPES, as_to_note
from activities.vocabulary import ACTOR_TYPES, PUBLIC

REMOTE = Path(__file__).resolve().parents[1] / "fixtures" / "remote"
HOSTILE = (
    '<script>alert("x")</script><img src=x onerror="alert(1)">'
    '<a href="javascript:alert(2)" onclick="steal()">click</a><p style="x">ok</p>'
)


def load(name: str) -> dict:
    return json.loads((REMOTE / name).read_text(encoding="utf-8"))


def documents() -> list[tuple[str, dict]]:
    """Every document in the captures, and each object embedded in an activity (Create{Note},
    Announce{Create{Page}}, Update{Group} …), named ``<file>`` or ``<file>#object…``."""
    found = []
    for path in sorted(REMOTE.rglob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        name = str(path.relative_to(REMOTE))
        while isinstance(doc, dict):
            found.append((name, doc))
            doc, name = doc.get("object"), f"{name}#object"
    return found


DOCUMENTS = documents()
NAMES = [name for name, _ in DOCUMENTS]
# Captures that are rightly refused, and why (asserted in their own tests).
REFUSED_ACTORS = {
    # Its publicKey is owned by actor/2 while the group is actor/21 (SECURITY.md rule 2).
    "gnusocial/objects/group.json": "owned by someone else",
}


def kind(doc: dict) -> str | None:
    types = doc.get("type")
    return types[0] if isinstance(types, list) else types


def of_kind(kinds, skip=()) -> list:
    return [
        pytest.param(doc, id=name)
        for name, doc in DOCUMENTS
        if kind(doc) in kinds and name not in skip
    ]


def not_of_kind(kinds) -> list:
    return [pytest.param(doc, id=name) for name, doc in DOCUMENTS if kind(doc) not in kinds]


def test_fixtures__cover_the_implementations_named_in_the_brief():
    """The captures hold posts and actors from Mastodon, Lemmy, Mobilizon, Pleroma, Friendica."""
    assert len({name.split("/")[0] for name in NAMES}) >= 14
    posts = {n.split("/")[0] for n, d in DOCUMENTS if kind(d) in CONTRIBUTION_TYPES}
    assert {"mastodon", "lemmy", "pleroma", "friendica", "mitra", "lotide"} <= posts
    assert len(of_kind(CONTRIBUTION_TYPES)) >= 40
    assert len(of_kind(ACTOR_TYPES)) >= 20


@pytest.mark.parametrize("doc", of_kind(CONTRIBUTION_TYPES))
def test_as_to_contribution__parses_every_captured_post(doc):
    """Every captured Note/Page/Article keeps its id, author, reply target, audience, context."""
    data = as_to_contribution(doc)
    assert data.ap_id == doc["id"]
    assert data.type == kind(doc)
    assert data.author == id_of(doc["attributedTo"])
    assert data.in_reply_to == id_of(doc.get("inReplyTo"))
    assert data.audience == id_of(doc.get("audience"))
    assert data.context == (id_of(doc.get("context")) or id_of(doc.get("conversation")))
    assert list(data.addressed) == list(
        dict.fromkeys(ids_of(doc.get("to")) + ids_of(doc.get("cc")))
    )
    assert data.public == any(a == PUBLIC for a in data.addressed)
    assert data.content or data.name or data.attachments
    assert "<script" not in data.content and "javascript:" not in data.content


@pytest.mark.parametrize("doc", of_kind(NOTE_TYPES))
def test_as_to_note__parses_every_captured_post(doc):
    """as_to_note reads every captured Note-like object, the Mobilizon Event included."""
    data = as_to_note(doc)
    assert (data.ap_id, data.type) == (doc["id"], kind(doc))
    assert data.attributed_to == id_of(doc["attributedTo"])
    assert data.in_reply_to == id_of(doc.get("inReplyTo"))
    assert "<script" not in data.content


@pytest.mark.parametrize("doc", of_kind(ACTOR_TYPES, skip=REFUSED_ACTORS))
def test_as_to_actor__parses_every_captured_actor(doc):
    """Person, Group, Organization and Application documents of every implementation parse."""
    actor = as_to_actor(doc)
    assert (actor.ap_id, actor.type) == (doc["id"], kind(doc))
    assert actor.inbox == id_of(doc["inbox"])
    assert actor.username and "<" not in actor.name


@pytest.mark.parametrize("name", sorted(REFUSED_ACTORS))
def test_as_to_actor__refuses_a_key_owned_by_another_actor(name):
    """A real capture whose key belongs to another actor is refused, not half-trusted."""
    with pytest.raises(InvalidDocument, match=REFUSED_ACTORS[name]):
        as_to_actor(load(name))


@pytest.mark.parametrize("doc", not_of_kind(CONTRIBUTION_TYPES))
def test_as_to_contribution__refuses_what_is_not_a_post(doc):
    """Activities, actors, collections, tombstones, chats, events and videos: InvalidDocument."""
    with pytest.raises(InvalidDocument):
        as_to_contribution(doc)


@pytest.mark.parametrize("doc", not_of_kind(NOTE_TYPES))
def test_as_to_note__refuses_what_is_not_a_post(doc):
    """Anything but a Note-like object raises InvalidDocument, never another exception."""
    with pytest.raises(InvalidDocument):
        as_to_note(doc)


@pytest.mark.parametrize("doc", not_of_kind(ACTOR_TYPES))
def test_as_to_actor__refuses_what_is_not_an_actor(doc):
    """Posts, activities and collections are not actors: InvalidDocument."""
    with pytest.raises(InvalidDocument):
        as_to_actor(doc)


@pytest.mark.parametrize("doc", of_kind(CONTRIBUTION_TYPES))
def test_as_to_contribution__sanitises_hostile_html_in_every_shape(doc):
    """Scripts, event handlers and javascript: URLs planted in a real post come out neutral
    (SECURITY.md rule 7), whether the text is in content, contentMap, summary or name."""
    hostile = copy.deepcopy(doc)
    hostile["content"] = HOSTILE
    if isinstance(hostile.get("contentMap"), dict):
        hostile["contentMap"] = {lang: HOSTILE for lang in hostile["contentMap"]}
    hostile["summary"], hostile["name"] = HOSTILE, HOSTILE
    data = as_to_contribution(hostile)
    for text in (data.content, data.summary, data.name):
        lowered = text.lower()
        assert "<script" not in lowered and "onerror" not in lowered
        assert "javascript:" not in lowered and "onclick" not in lowered and "style=" not in lowered
    assert "ok" in data.content and "click" in data.content


def test_as_to_contribution__lemmy_comment_keeps_audience_and_language():
    """A Lemmy comment: FEP-1b12 audience, the post it answers, Lemmy's language object."""
    data = as_to_contribution(load("lemmy/objects/comment.json"))
    assert data.audience == "https://enterprise.lemmy.ml/c/tenforward"
    assert data.in_reply_to == "https://enterprise.lemmy.ml/post/55143"
    assert data.context == "https://enterprise.lemmy.ml/comment/38741/context"
    assert data.language == "fr"
    assert data.content == "<p>first comment!</p>\n"
    assert data.public and data.name is None
    assert data.mentions == (
        "https://enterprise.lemmy.ml/u/picard",
        "https://enterprise.lemmy.ml/c/tenforward",
    )


def test_as_to_contribution__lemmy_post_is_a_titled_page_in_its_community():
    """A Lemmy post: a Page with name, audience, its image as a Link attachment."""
    data = as_to_contribution(load("lemmy/objects/page.json"))
    assert (data.type, data.name) == ("Page", "Post title")
    assert data.audience == "https://enterprise.lemmy.ml/c/tenforward"
    assert data.attachments == ("https://enterprise.lemmy.ml/pictrs/image/eOtYb9iEiB.png",)
    announced = load("lemmy/activities/community/announce_create_page.json")["object"]["object"]
    inner = as_to_contribution(announced)
    assert (inner.name, inner.content, inner.audience) == (
        "post 4",
        "",
        "http://enterprise.lemmy.ml/u/main",
    )


def test_as_to_contribution__mastodon_reply_keeps_language_mentions_and_url():
    """A Mastodon reply: contentMap language, Mention tags, its web URL, followers-first addressing."""
    data = as_to_contribution(load("mastodon/objects/note_1.json"))
    assert data.language == "en" and data.public
    assert data.in_reply_to == "https://mamot.fr/users/retiolus/statuses/107224244380204526"
    assert data.mentions == ("https://mamot.fr/users/retiolus",)
    assert data.url == "https://mastodon.madrid/@felix/107224289116410645"
    assert data.summary is None and data.sensitive is False
    assert '<span class="h-card"><a href="https://mamot.fr/@retiolus"' in data.content
    assert data.published.isoformat() == "2021-11-05T11:46:50+00:00"


def test_as_to_contribution__mastodon_post_to_a_group_is_addressed_to_it():
    """Mastodon addresses a group by cc and Mention (no audience): both survive parsing."""
    data = as_to_contribution(load("mastodon/objects/note_2.json"))
    assert "https://lemmy.kde.social/c/kde" in data.addressed
    assert "https://lemmy.kde.social/c/kde" in data.mentions
    assert data.audience is None and len(data.attachments) == 1


def test_as_to_contribution__mastodon_content_warning_is_the_summary():
    """Mastodon's content warning is ``summary`` with ``sensitive: true``; kept as plain text."""
    doc = load("mastodon/objects/note_1.json")
    doc.update(summary="<b>spoiler</b> about laptops", sensitive=True)
    data = as_to_contribution(doc)
    assert (data.summary, data.sensitive) == ("spoiler about laptops", True)


def test_as_to_contribution__direct_messages_are_not_public():
    """Mastodon and Lemmy private messages parse, but are not public (never contributions)."""
    for name in ("mastodon/activities/private_message.json", "lemmy/objects/private_message.json"):
        assert as_to_contribution(load(name)).public is False


def test_as_to_contribution__pleroma_and_friendica_threads_keep_their_context():
    """Pleroma and Friendica replies to Lemmy posts keep their FEP-7888 context."""
    pleroma = as_to_contribution(load("pleroma/objects/note.json"))
    assert (
        pleroma.context
        == "https://queer.hacktivis.me/contexts/34cba3d2-2f35-4169-aeff-56af9bfeb753"
    )
    assert pleroma.in_reply_to == "https://enterprise.lemmy.ml/post/55143"
    friendica = as_to_contribution(load("friendica/objects/note_1.json"))
    assert friendica.context == "https://lemmy.schuerz.at/post/25360#context"
    assert friendica.language == "de"


def test_as_to_contribution__string_addressing_and_external_urls_of_lotide():
    """lotide writes ``to``/``cc`` as single strings and links its Page to another site."""
    data = as_to_contribution(load("lotide/objects/page.json"))
    assert data.addressed == ("https://narwhal.city/communities/4", PUBLIC)
    assert data.url == "https://www.youtube.com/watch?v=ZI4LGTXscR4"
    assert data.content == "" and data.name == "What's Dylan Grillin'? (reupload)"


def test_as_to_contribution__peertube_url_list_and_mitra_audience():
    """PeerTube's comment URL and Mitra's FEP-1b12 audience and contentMap language."""
    peertube = as_to_contribution(load("peertube/objects/note.json"))
    assert peertube.url.startswith("https://video.antopie.org/videos/watch/")
    mitra = as_to_contribution(load("mitra/activities/create_post.json")["object"])
    assert (mitra.audience, mitra.language) == ("https://voyager.lemmy.ml/c/pubtest0906", "da")


def test_as_to_contribution__nodebb_and_wordpress_articles_have_plain_summaries():
    """NodeBB puts HTML in an Article's summary; it comes out as plain text."""
    data = as_to_contribution(load("nodebb/objects/page.json"))
    assert data.type == "Article" and data.audience == "https://bb.devnull.land/category/2"
    assert (
        data.summary.startswith("Welcome to your brand new NodeBB forum!")
        and "<" not in data.summary
    )


def test_as_to_contribution__refuses_objects_on_another_host_than_their_author():
    """SECURITY.md rule 1: an object id on another host than its author is refused."""
    doc = load("lemmy/objects/comment.json")
    doc["attributedTo"] = "https://evil.example/u/picard"
    with pytest.raises(InvalidDocument, match="author's host"):
        as_to_contribution(doc)


def test_as_to_contribution__refuses_posts_without_id_author_or_text():
    """A post without id, author, or any content/name/attachment is an InvalidDocument."""
    base = load("smithereen/objects/note.json")
    for field in ("id", "attributedTo"):
        doc = {k: v for k, v in base.items() if k != field}
        with pytest.raises(InvalidDocument):
            as_to_contribution(doc)
    with pytest.raises(InvalidDocument, match="no content"):
        as_to_contribution({**base, "content": "<p> </p>"})
    with pytest.raises(InvalidDocument):
        as_to_contribution("https://friends.grishka.me/posts/66561")


def mastodon_vote(**changes) -> dict:
    # app/serializers/activitypub/vote_serializer.rb: id, type Note, name, attributedTo, inReplyTo, to
    vote = {
        "id": "https://mastodon.example/users/camille#votes/42",
        "type": "Note",
        "name": "Plus d'arbres",
        "attributedTo": "https://mastodon.example/users/camille",
        "inReplyTo": "https://civic.example/polls/7",
        "to": "https://civic.example/actors/lyon",
    }
    vote.update(changes)
    return vote


def test_is_poll_vote__a_mastodon_vote_is_a_vote_not_a_reply():
    """Mastodon's poll vote: a named Note without content replying to a Question is a vote."""
    assert is_poll_vote(mastodon_vote())
    assert is_poll_vote(mastodon_vote(), question_ids={"https://civic.example/polls/7"})
    assert not is_poll_vote(mastodon_vote(), question_ids={"https://civic.example/polls/8"})
    with pytest.raises(InvalidDocument, match="poll vote"):
        as_to_contribution(mastodon_vote())


def test_is_poll_vote__real_posts_are_not_votes():
    """Replies with content, titled posts without a reply target, non-Notes: not votes."""
    assert not is_poll_vote(mastodon_vote(content="<p>my answer</p>"))
    assert not is_poll_vote(mastodon_vote(name=""))
    assert not is_poll_vote(mastodon_vote(type="Page"))
    assert not is_poll_vote("https://civic.example/polls/7")
    lotide_image = load("lotide/activities/create_page_image.json")["object"]  # name, no content
    assert lotide_image["name"] and not lotide_image.get("content")
    assert not is_poll_vote(lotide_image)
    for _, doc in DOCUMENTS:
        assert not is_poll_vote(doc)
