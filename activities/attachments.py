"""Media of a remote post (attachments, or the media object itself) shown as links, never inline."""

from __future__ import annotations

import html
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from activities.html import is_web_url, plain_text
from activities.normalize import as_list, first_type

MAX_MEDIA = 20  # SECURITY.md rule 6
MEDIA_TYPES = frozenset({"Image", "Audio", "Video", "Document"})
_LINK_ATTRS = 'rel="nofollow noopener noreferrer"'


@dataclass(frozen=True)
class Source:
    url: str
    media_type: str | None


@dataclass(frozen=True)
class Media:
    """One attachment: its description (``name``, Mastodon's alt text) and its sources (a video
    may come in several formats: PeerTube and the FEP-1311 recommendation list each one)."""

    kind: str  # Image, Audio, Video, Document, Link
    name: str | None
    sources: tuple[Source, ...]


def _media_type(value) -> str | None:
    return plain_text(value, 100) or None if isinstance(value, str) else None


def sources_of(value, default_type: str | None = None, *, skip_html: bool = False) -> list[Source]:
    """``url``/``href`` as a string, a Link or a list of them: the http(s) ones (rule 20)."""
    found = []
    for item in as_list(value)[:MAX_MEDIA]:
        if isinstance(item, str):
            url, media_type = item, default_type
        elif isinstance(item, dict) and not isinstance(item.get("href"), dict):
            url = item.get("href") if "href" in item else item.get("url")
            media_type = _media_type(item.get("mediaType")) or default_type
        else:
            continue
        if not is_web_url(url) or (skip_html and media_type == "text/html"):
            continue
        found.append(Source(url, media_type))
    return found


def _one(item: dict) -> Media | None:
    kind = (first_type(item) or "Document").removeprefix("as:")
    if kind not in MEDIA_TYPES | {"Link"}:
        return None  # an embedded Note or a schema.org object is not a file to link to
    media_type = _media_type(item.get("mediaType"))
    sources = sources_of(item.get("url"), media_type) + sources_of(item.get("href"), media_type)
    if not sources:
        return None  # data: URLs, payto: links and the like never become links
    name = plain_text(item.get("name") if isinstance(item.get("name"), str) else "", 1500)
    return Media(kind, name or None, tuple(dict.fromkeys(sources)))


def attachments_of(doc: dict) -> tuple[Media, ...]:
    """The post's attachments that point to an http(s) file or page."""
    found = [_one(item) for item in as_list(doc.get("attachment"))[:MAX_MEDIA]
             if isinstance(item, dict)]
    return tuple(m for m in found if m is not None)


def own_media(doc: dict, kind: str) -> tuple[Media, ...]:
    """An Image/Audio/Video/Document object is itself the media: its ``url`` list's sources
    (a text/html Link is the page about it, not the file)."""
    if kind not in MEDIA_TYPES:
        return ()
    sources = sources_of(doc.get("url"), _media_type(doc.get("mediaType")), skip_html=True)
    if not sources:
        return ()
    return (Media(kind, None, tuple(dict.fromkeys(sources))),)


def _file_name(url: str) -> str:
    path = unquote(urlsplit(url).path).rstrip("/")
    return path.rsplit("/", 1)[-1] or urlsplit(url).netloc


def media_html(media: tuple[Media, ...], *, sensitive: bool = False) -> str:
    """A list of links: the description is the link text (the file name without one), each
    source followed by its media type."""
    if not media:
        return ""
    items = []
    for m in media:
        links = []
        for source in m.sources:
            text = html.escape(m.name or _file_name(source.url))
            kind = f' <span class="media-type">({html.escape(source.media_type)})</span>' \
                if source.media_type else ""
            links.append(f'<a href="{html.escape(source.url)}" {_LINK_ATTRS}>{text}</a>{kind}')
        items.append(f'<li class="media-{m.kind.lower()}">{" · ".join(links)}</li>')
    marked = " sensitive" if sensitive else ""
    return f'<ul class="attachments{marked}">{"".join(items)}</ul>'
