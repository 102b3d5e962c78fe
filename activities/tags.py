"""Mentions and hashtags of a remote post (its ``tag`` list) shown as links in its sanitised HTML."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from activities.html import is_web_url, plain_text
from activities.normalize import as_list, first_type

MAX_TAGS = 50  # SECURITY.md rule 6: a post with thousands of tags is not worth more than fifty
_LINK_ATTRS = 'rel="nofollow noopener noreferrer"'
_MARKUP = re.compile(r"(<[^>]*>)")


@dataclass(frozen=True)
class Tag:
    """A Mention (``href`` is the account) or a Hashtag (``href`` its page, when http(s))."""

    kind: str  # "mention" | "hashtag"
    name: str  # "@alice@example.org", "#velo"
    href: str | None


def _kind(tag: dict) -> str | None:
    # Compact AS2 says "Hashtag"; senders that expand their context write "as:Hashtag".
    kind = (first_type(tag) or "").removeprefix("as:")
    return {"Mention": "mention", "Hashtag": "hashtag"}.get(kind)


def tags_of(doc: dict) -> tuple[Tag, ...]:
    """The mentions and hashtags of ``tag``, de-duplicated; a tag without a usable name is left
    out, and only an http(s) ``href`` is kept (SECURITY.md rule 20). Mastodon ignores a hashtag's
    ``url`` (only ``href`` counts): so do we."""
    found: dict[tuple[str, str], Tag] = {}
    for item in as_list(doc.get("tag"))[:MAX_TAGS]:
        if not isinstance(item, dict):
            continue
        kind = _kind(item)
        href = item.get("href") if is_web_url(item.get("href")) else None
        name = plain_text(item.get("name") if isinstance(item.get("name"), str) else "", 200)
        if kind == "hashtag" and name:
            name = name if name.startswith("#") else f"#{name}"
        elif kind == "mention" and not name and href:
            name = href  # Mastodon shows an unnamed mention by its account
        if kind and name:
            found.setdefault((kind, name.lower()), Tag(kind, name, href))
    return tuple(found.values())


def _anchor(tag: Tag, text: str) -> str:
    classes = "mention hashtag" if tag.kind == "hashtag" else "u-url mention"
    if tag.href is None:
        return f'<span class="{tag.kind}">{text}</span>'
    link = f'<a href="{html.escape(tag.href)}" class="{classes}" {_LINK_ATTRS}>{text}</a>'
    return f'<span class="h-card">{link}</span>' if tag.kind == "mention" else link


def _link_in_text(body: str, tag: Tag) -> tuple[str, bool]:
    """The first occurrence of the tag's name in a text node outside a link made a link."""
    needle = html.escape(tag.name, quote=False)
    pattern = re.compile(re.escape(needle) + r"(?![\w-])", re.IGNORECASE)
    parts, depth = _MARKUP.split(body), 0
    for i, part in enumerate(parts):
        if part.startswith("<"):
            lowered = part.lower()
            if lowered.startswith("<a ") or lowered == "<a>":
                depth += 1
            elif lowered.startswith("</a"):
                depth = max(depth - 1, 0)
            continue
        match = None if depth else pattern.search(part)
        if match:
            parts[i] = part[:match.start()] + _anchor(tag, match.group(0)) + part[match.end():]
            return "".join(parts), True
    return body, False


def _names(tag: Tag) -> list[str]:
    """How the text may name the tag: its ``name``, or for a mention the handle its ``href``
    spells (``@actor@host`` for ``https://host/actor``), as a sender that names the account by
    another handle in ``tag`` (or none) still writes it in the text."""
    names = [tag.name]
    if tag.kind == "mention" and tag.href:
        parts = urlsplit(tag.href)
        user = parts.path.rstrip("/").rsplit("/", 1)[-1].lstrip("@")
        if user and parts.hostname:
            names.append(f"@{user}@{parts.hostname}")
    return names


def link_tags(body: str, tags: tuple[Tag, ...]) -> str:
    """Mentions and hashtags named in the text become links (to their ``href``); hashtags the
    text does not name are listed after it, as Mastodon lists a post's other hashtags. A mention
    the text does not name is an addressing detail (Lemmy mentions the parent's author and the
    community): like Mastodon, it is not shown."""
    text = plain_text(body, 200_000).lower()
    absent = []
    for tag in tags:
        named = next((n for n in _names(tag) if n.lower() in text), None)
        if named is None:
            if tag.kind == "hashtag":
                absent.append(tag)
            continue
        # already a link (Mastodon's own markup) when no plain occurrence is found
        body, _ = _link_in_text(body, Tag(tag.kind, named, tag.href))
    if absent:
        listed = " ".join(_anchor(t, html.escape(t.name)) for t in absent)
        body += f'<p class="tags">{listed}</p>'
    return body
