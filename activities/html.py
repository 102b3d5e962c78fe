"""Sanitising remote HTML once, on the way in (INTEROP rule 7), and rendering our plain text."""

from __future__ import annotations

import html
import re

import nh3

ALLOWED_TAGS = {"p", "br", "a", "span", "strong", "b", "em", "i", "u", "s", "del", "blockquote",
                "code", "pre", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "sup", "sub"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "span": {"class"}, "ol": {"start", "reversed"},
                      "li": {"value"}}
URL_SCHEMES = {"http", "https", "mailto"}
# Classes Mastodon uses for mentions and hashtags; anything else is dropped.
_SPAN_CLASSES = {"h-card", "mention", "hashtag", "invisible", "ellipsis", "u-url"}


def _filter(tag: str, attr: str, value: str) -> str | None:
    if tag == "span" and attr == "class":
        kept = [c for c in value.split() if c in _SPAN_CLASSES]
        return " ".join(kept) or None
    return value


def sanitize_html(raw: str | None, max_length: int = 100_000) -> str:
    """Allow-listed HTML: no scripts, no event handlers, no javascript: URLs."""
    if not raw:
        return ""
    return nh3.clean(
        raw[:max_length],
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        attribute_filter=_filter,
    )


def plain_text(raw: str | None, max_length: int = 1000) -> str:
    """A field that must hold no markup at all (names, display names): tags stripped."""
    if not raw:
        return ""
    return html.unescape(nh3.clean(raw[:max_length * 4], tags=set())).strip()[:max_length]


_URL = re.compile(r"https?://[^\s<]+")


def text_to_html(text: str) -> str:
    """Our users write plain text: escape it, link bare URLs, keep paragraphs and line breaks."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    out = []
    for para in paragraphs:
        escaped = html.escape(para.strip())
        linked = _URL.sub(lambda m: f'<a href="{m.group(0)}" rel="nofollow noopener noreferrer">'
                                    f"{m.group(0)}</a>", escaped)
        out.append("<p>" + linked.replace("\n", "<br>") + "</p>")
    return "".join(out)
