"""Contributions: our comments out as Notes, replies from any fediverse server in."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from activities.errors import InvalidDocument
from activities.groups import group_addressing
from activities.html import plain_text, sanitize_html
from activities.normalize import (
    as_list,
    first_type,
    host_of,
    id_of,
    ids_of,
    parse_time,
    require_id,
    text_of,
)
from activities.notes import iso
from activities.vocabulary import CONTEXT, is_public
from node.models import Actor, Contribution, Discussion

# Note (Mastodon, Pleroma, Friendica, Lemmy comments), Page (Lemmy, lotide posts), Article
# (Friendica, NodeBB, WordPress); "Comment" is not AS2 but is seen in the wild. Question, Event,
# ChatMessage and Video are something else (polls, events, private chats, media).
CONTRIBUTION_TYPES = frozenset({"Note", "Page", "Article", "Comment"})


def contribution_to_as(
    contribution: Contribution,
    author_actor: Actor,
    discussion: Discussion,
    group_actor: Actor,
    *,
    in_reply_to: str,
) -> dict:
    """A contribution as a Note in the discussion's group (FEP-1b12) and thread (FEP-7888).

    ``in_reply_to`` is the discussion Page's id for a top-level contribution, else the parent
    contribution's ``ap_id``.
    """
    group_id = group_actor.ap_id
    to, cc = group_addressing(discussion.visibility, group_id, group_actor.followers_url)
    doc = {
        "@context": CONTEXT,
        "id": contribution.ap_id,
        "type": "Note",
        "attributedTo": author_actor.ap_id,
        "content": contribution.content,
        "url": contribution.url or contribution.ap_id,
        "inReplyTo": in_reply_to,
        "context": group_id,  # FEP-7888: the discussion
        "audience": group_id,  # FEP-1b12
        "published": iso(contribution.published),
        "to": to,
        "cc": cc,
        # Agreements are Likes; Mastodon reads likes.totalItems as the favourites count.
        "likes": {"type": "Collection", "totalItems": contribution.agree_count or 0},
        "civic:qualityRecognised": bool(contribution.quality_recognised),
        "civic:impact": bool(contribution.impact),
        "civic:official": bool(contribution.official),
    }
    if contribution.alignment:
        doc["civic:alignment"] = contribution.alignment
    if contribution.updated:
        doc["updated"] = iso(contribution.updated)
    return doc


@dataclass(frozen=True)
class ContributionData:
    """A remote post that may become a contribution, validated and sanitised."""

    ap_id: str
    type: str
    author: str
    content: str  # sanitised HTML
    name: str | None  # the title of a Lemmy/lotide Page or an Article
    summary: str | None  # a Note's content warning, a Page's excerpt (plain text)
    sensitive: bool
    in_reply_to: str | None
    context: str | None
    audience: str | None
    addressed: tuple[str, ...]  # to + cc, in order, without duplicates
    public: bool
    mentions: tuple[str, ...]
    attachments: tuple[str, ...]  # URLs of images, documents and links
    published: datetime | None
    updated: datetime | None
    language: str | None
    url: str | None


def _language(doc: dict) -> str | None:
    content_map = doc.get("contentMap")
    if isinstance(content_map, dict) and content_map:
        return str(next(iter(content_map)))[:16]
    # Lemmy and PeerTube: "language": {"identifier": "fr", "name": "Français"}
    for lang in as_list(doc.get("language")):
        if isinstance(lang, dict) and isinstance(lang.get("identifier"), str):
            return lang["identifier"][:16]
    return None


def _links(value) -> list[tuple[bool, str]]:
    """``url``/``href`` as a string, a Link or a list of Links: (is it HTML?, http(s) URL)."""
    links = []
    for item in as_list(value):
        if isinstance(item, str):
            links.append((True, item))
        elif isinstance(item, dict) and isinstance(item.get("href"), str):
            links.append((item.get("mediaType") in (None, "text/html"), item["href"]))
    return [(html, href) for html, href in links if href.startswith(("https://", "http://"))]


def _html_url(value) -> str | None:
    """The page URL; PeerTube lists a text/html Link beside its video streams."""
    return next((href for html, href in _links(value) if html), None)


def _mentions(doc: dict) -> tuple[str, ...]:
    tags = (
        t for t in as_list(doc.get("tag")) if isinstance(t, dict) and t.get("type") == "Mention"
    )
    return tuple(h for h in (id_of(t.get("href")) for t in tags) if h)


def _attachments(doc: dict) -> tuple[str, ...]:
    urls = []
    for item in as_list(doc.get("attachment")):
        if isinstance(item, dict):
            links = _links(item.get("url")) + _links(item.get("href"))
            if links:
                urls.append(links[0][1])
    return tuple(dict.fromkeys(urls))


def is_poll_vote(doc: object, question_ids: Collection[str] | None = None) -> bool:
    """A Mastodon poll vote: a Note with ``name`` (the option), ``inReplyTo`` the Question and
    no content (INTEROP "Polls"; app/serializers/activitypub/vote_serializer.rb). It is a vote,
    not a reply. With ``question_ids`` the target must be one of those Questions."""
    if not isinstance(doc, dict) or first_type(doc) != "Note":
        return False
    target = id_of(doc.get("inReplyTo"))
    if not target or not (text_of(doc, "name") or "").strip():
        return False
    if (text_of(doc, "content") or "").strip():
        return False
    return question_ids is None or target in question_ids


def as_to_contribution(doc: dict) -> ContributionData:
    """Validate a Note/Page/Article from any server; HTML is sanitised here, once (rule 7)."""
    if not isinstance(doc, dict):
        raise InvalidDocument("the object must be embedded as a JSON object")
    ap_id = require_id(doc)
    kind = first_type(doc)
    if kind not in CONTRIBUTION_TYPES:
        raise InvalidDocument(f"{kind!r} is not a contribution type")
    if is_poll_vote(doc):
        raise InvalidDocument("a poll vote is not a contribution")
    author = id_of(doc.get("attributedTo"))
    if not author:
        raise InvalidDocument("'attributedTo' is missing")
    if host_of(author) != host_of(ap_id):
        raise InvalidDocument("the object's id is not on its author's host")  # INTEROP rule 1
    content = sanitize_html(text_of(doc, "content"))
    name = plain_text(text_of(doc, "name"), 500) or None
    attachments = _attachments(doc)
    if not plain_text(content) and not name and not attachments:
        raise InvalidDocument("the post has no content, name or attachment")
    addressed = tuple(dict.fromkeys(ids_of(doc.get("to")) + ids_of(doc.get("cc"))))
    return ContributionData(
        ap_id=ap_id,
        type=kind,
        author=author,
        content=content,
        name=name,
        summary=plain_text(text_of(doc, "summary"), 2000) or None,
        sensitive=doc.get("sensitive") is True,
        in_reply_to=id_of(doc.get("inReplyTo")),
        # Pleroma and Mastodon also write "conversation" (Mastodon's is a tag: URI).
        context=id_of(doc.get("context")) or id_of(doc.get("conversation")),
        audience=id_of(doc.get("audience")),  # FEP-1b12 (Lemmy, Mbin, NodeBB, Mitra)
        addressed=addressed,
        public=is_public(list(addressed)),
        mentions=_mentions(doc),
        attachments=attachments,
        published=parse_time(doc.get("published")),
        updated=parse_time(doc.get("updated")),
        language=_language(doc),
        url=_html_url(doc.get("url")),
    )
