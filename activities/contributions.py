"""Contributions: our comments out as Notes, replies from any fediverse server in."""

from __future__ import annotations

import html
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from activities.addressing import addressing
from activities.attachments import (
    MEDIA_TYPES,
    Media,
    attachments_of,
    media_html,
    own_media,
    sources_of,
)
from activities.errors import InvalidDocument
from activities.html import is_web_url, plain_text, sanitize_html
from activities.normalize import (
    as_list,
    first_type,
    host_of,
    id_of,
    ids_of,
    parse_time,
    require_id,
    text_of,
    types_of,
)
from activities.notes import iso
from activities.tags import Tag, link_tags, tags_of
from activities.vocabulary import CONTEXT, is_public
from node.models import Actor, Contribution, Discussion
from node.visibility import level_of

# Note (Mastodon, Pleroma, Friendica, Lemmy comments), Page (Lemmy, lotide posts), Article
# (Friendica, NodeBB, WordPress); "Comment" is not AS2 but is seen in the wild. An Image, Audio,
# Video or Document addressed to a discussion is a contribution showing its media (Pixelfed,
# Funkwhale, PeerTube). Question, Event and ChatMessage are something else (polls, events,
# private chats).
CONTRIBUTION_TYPES = frozenset({"Note", "Page", "Article", "Comment"}) | MEDIA_TYPES
TITLED_TYPES = frozenset({"Page", "Article"})  # name is a title, summary an excerpt


def contribution_to_as(
    contribution: Contribution,
    author_actor: Actor,
    discussion: Discussion,
    group_actor: Actor,
    *,
    in_reply_to: str,
    level: str | None = None,
) -> dict:
    """A contribution as a Note in the discussion's group (FEP-1b12) and thread (FEP-7888).

    ``in_reply_to`` is the discussion Page's id for a top-level contribution, else the parent
    contribution's ``ap_id``. ``level`` is the discussion's (with its space's: node/visibility.py
    level_of), the discussion's own by default; the author's followers are addressed only when
    anyone may read it (activities/addressing.py).
    """
    group_id = group_actor.ap_id
    to, cc = addressing(level or level_of(discussion), group=group_id,
                        followers=[group_actor.followers_url],
                        open_followers=[author_actor.followers_url])
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
    if contribution.content_warning or contribution.sensitive:
        # Mastodon's content warning: summary is the warning, sensitive hides the text behind it.
        doc["sensitive"] = True
        if contribution.content_warning:
            doc["summary"] = contribution.content_warning
    if contribution.language:
        doc["contentMap"] = {**(contribution.content_map or {}),
                             contribution.language: contribution.content}
    if contribution.updated:
        doc["updated"] = iso(contribution.updated)
    return doc


@dataclass(frozen=True)
class ContributionData:
    """A remote post that may become a contribution, validated and sanitised."""

    ap_id: str
    type: str
    author: str
    content: str  # sanitised HTML, its mentions and hashtags made links
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
    tags: tuple[Tag, ...] = ()
    media: tuple[Media, ...] = ()  # attachments, or the media object's own sources
    content_map: dict[str, str] = field(default_factory=dict)  # {language: sanitised HTML}
    quote: str | None = None  # the quoted post's id

    @property
    def content_warning(self) -> str | None:
        """The text hidden behind a disclosure: a Note's ``summary``, with or without
        ``sensitive`` (Misskey and Pleroma send none). A Page's or an Article's summary is an
        excerpt (Lemmy, WordPress), not a warning (Mastodon converts those types likewise)."""
        return None if self.type in TITLED_TYPES else self.summary

    @property
    def excerpt(self) -> str | None:
        return self.summary if self.type in TITLED_TYPES else None


_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,3}")
MAX_LANGUAGES = 20  # SECURITY.md rule 6


def _language_tag(value) -> str | None:
    """A BCP 47 tag of at most 16 characters, else nothing (SECURITY.md rule 14)."""
    if isinstance(value, str) and len(value) <= 16 and _LANGUAGE_TAG.fullmatch(value):
        return value
    return None


def _content_map(doc: dict) -> dict[str, str]:
    """``contentMap``'s texts by language, sanitised; keys that are no language tag are dropped."""
    mapped = doc.get("contentMap")
    if not isinstance(mapped, dict):
        return {}
    found = {}
    for lang, text in list(mapped.items())[:MAX_LANGUAGES]:
        if _language_tag(lang) and isinstance(text, str) and text.strip():
            found[lang] = sanitize_html(text)
    return found


def _language(doc: dict, content: str | None) -> str | None:
    """The language of ``content``: the ``contentMap`` key whose text it is (Mastodon and Pleroma
    send the same text in both), or the map's only key. With several other languages nothing is
    guessed: the order of a map's keys is not kept by every store (PostgreSQL's JSONB sorts them),
    so Mastodon's "first key" would change with the database."""
    mapped = doc.get("contentMap")
    if isinstance(mapped, dict):
        tags = [k for k in list(mapped)[:MAX_LANGUAGES] if _language_tag(k)]
        same = [k for k in tags if mapped[k] == content]
        if same or len(tags) == 1:
            return (same or tags)[0]
        if tags:
            return None
    # Lemmy and PeerTube: "language": {"identifier": "fr", "name": "Français"}
    for lang in as_list(doc.get("language")):
        if isinstance(lang, dict) and _language_tag(lang.get("identifier")):
            return lang["identifier"]
    return None


def _links(value) -> list[tuple[bool, str]]:
    """``url``/``href`` as a string, a Link or a list of Links: (is it HTML?, http(s) URL)."""
    links = []
    for item in as_list(value):
        if isinstance(item, str):
            links.append((True, item))
        elif isinstance(item, dict) and isinstance(item.get("href"), str):
            links.append((item.get("mediaType") in (None, "text/html"), item["href"]))
    return [(is_html, href) for is_html, href in links if is_web_url(href)]


def _html_url(value) -> str | None:
    """The page URL; PeerTube lists a text/html Link beside its video streams."""
    return next((href for is_html, href in _links(value) if is_html), None)


def _page_url(doc: dict, kind: str) -> str | None:
    """The HTML page of the post; a media object's bare ``url`` is its file, not a page."""
    if kind not in MEDIA_TYPES:
        return _html_url(doc.get("url"))
    return next((s.url for s in sources_of(doc.get("url")) if s.media_type == "text/html"), None)


_QUOTE_FIELDS = ("quote", "quoteUri", "quoteUrl", "_misskey_quote")  # FEP-044f, Fedibird, Misskey
_QUOTE_RELS = ("https://misskey-hub.net/ns#_misskey_quote", "quote")


def _quote(doc: dict) -> str | None:
    """The post this one quotes: Mastodon shows it as a "RE:" link (FEP-e232 Link tags too)."""
    for field_name in _QUOTE_FIELDS:
        if is_web_url(id_of(doc.get(field_name))):
            return id_of(doc.get(field_name))
    for tag in as_list(doc.get("tag")):
        if isinstance(tag, dict) and first_type(tag) == "Link" and is_web_url(tag.get("href")) \
                and any(rel in _QUOTE_RELS for rel in as_list(tag.get("rel"))):
            return tag["href"]
    return None


def _sensitive(doc: dict) -> bool:
    """The post, or one of its media, is marked sensitive: the whole post is then behind a
    warning (Mastodon marks a status, not each file; a sensitive file must not show openly)."""
    attached = (a for a in as_list(doc.get("attachment")) if isinstance(a, dict))
    return doc.get("sensitive") is True or any(a.get("sensitive") is True for a in attached)


def _mentions(tags: tuple[Tag, ...]) -> tuple[str, ...]:
    return tuple(t.href for t in tags if t.kind == "mention" and t.href)


def is_poll_vote(doc: object, question_ids: Collection[str] | None = None) -> bool:
    """A Mastodon poll vote: a Note with ``name`` (the option), ``inReplyTo`` the Question and
    no content (Mastodon: app/serializers/activitypub/vote_serializer.rb). It is a vote,
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
    """Validate a Note/Page/Article or a media object from any server; HTML is sanitised here,
    once (SECURITY.md rules 7 and 21)."""
    if not isinstance(doc, dict):
        raise InvalidDocument("the object must be embedded as a JSON object")
    ap_id = require_id(doc)
    kind = next((t for t in types_of(doc) if t in CONTRIBUTION_TYPES), first_type(doc))
    if kind not in CONTRIBUTION_TYPES:
        raise InvalidDocument(f"{kind!r} is not a contribution type")
    if is_poll_vote(doc):
        raise InvalidDocument("a poll vote is not a contribution")
    author = id_of(doc.get("attributedTo"))
    if not author:
        raise InvalidDocument("'attributedTo' is missing")
    if host_of(author) != host_of(ap_id):
        raise InvalidDocument("the object's id is not on its author's host")  # SECURITY.md rule 1
    tags = tags_of(doc)
    content = link_tags(sanitize_html(text_of(doc, "content")), tags)
    content_map = {lang: link_tags(text, tags) for lang, text in _content_map(doc).items()}
    name = plain_text(text_of(doc, "name"), 500) or None
    media = attachments_of(doc) + own_media(doc, kind)
    if not plain_text(content) and not name and not media:
        raise InvalidDocument("the post has no content, name or attachment")
    addressed = tuple(dict.fromkeys(ids_of(doc.get("to")) + ids_of(doc.get("cc"))))
    return ContributionData(
        ap_id=ap_id,
        type=kind,
        author=author,
        content=content,
        name=name,
        # Plain text; an image in it counts by its alt text (Mastodon shows spoilers as text).
        summary=plain_text(sanitize_html(text_of(doc, "summary"), 8000), 2000) or None,
        sensitive=_sensitive(doc),
        in_reply_to=id_of(doc.get("inReplyTo")),
        # Pleroma and Mastodon also write "conversation" (Mastodon's is a tag: URI).
        context=id_of(doc.get("context")) or id_of(doc.get("conversation")),
        audience=id_of(doc.get("audience")),  # FEP-1b12 (Lemmy, Mbin, NodeBB, Mitra)
        addressed=addressed,
        public=is_public(list(addressed)),
        mentions=_mentions(tags),
        attachments=tuple(dict.fromkeys(s.url for m in media for s in m.sources)),
        published=parse_time(doc.get("published")),
        updated=parse_time(doc.get("updated")),
        language=_language(doc, text_of(doc, "content")),
        url=_page_url(doc, kind),
        tags=tags,
        media=media,
        content_map=content_map,
        quote=_quote(doc),
    )


def _compose(data: ContributionData, body: str) -> str:
    """The stored HTML of one language: a Page's title and excerpt, the text, then the media."""
    parts = [f"<p><strong>{html.escape(data.name)}</strong></p>"] if data.name else []
    if data.excerpt:
        parts.append(f'<p class="excerpt"><em>{html.escape(data.excerpt)}</em></p>')
    parts.append(body)
    if data.quote and f'href="{html.escape(data.quote)}"' not in body:
        parts.append(f'<p class="quote">RE: <a href="{html.escape(data.quote)}" '
                     f'rel="nofollow noopener noreferrer">{html.escape(data.quote)}</a></p>')
    parts.append(media_html(data.media, sensitive=data.sensitive))
    return "".join(parts)


def rendered_content(data: ContributionData) -> str:
    """The contribution's HTML; the content warning and the language are kept apart (columns)."""
    return _compose(data, data.content)


def rendered_content_map(data: ContributionData) -> dict[str, str]:
    """The same for each language of ``contentMap`` (shown to readers of that language)."""
    return {lang: _compose(data, body) for lang, body in data.content_map.items()}
