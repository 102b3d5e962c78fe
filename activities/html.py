"""Sanitising remote HTML once, on the way in (SECURITY.md rule 7), and rendering our plain text."""

from __future__ import annotations

import html
import re

import nh3

ALLOWED_TAGS = {"p", "br", "a", "span", "strong", "b", "em", "i", "u", "s", "del", "blockquote",
                "code", "pre", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "sup", "sub"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "span": {"class"}, "ol": {"start", "reversed"},
                      "li": {"value"}}
URL_SCHEMES = {"http", "https"}  # SECURITY.md rule 20: a remote link is http(s) or no link
# Classes Mastodon uses for mentions and hashtags; anything else is dropped.
_SPAN_CLASSES = {"h-card", "mention", "hashtag", "invisible", "ellipsis", "u-url"}


def _filter(tag: str, attr: str, value: str) -> str | None:
    if tag == "span" and attr == "class":
        kept = [c for c in value.split() if c in _SPAN_CLASSES]
        return " ".join(kept) or None
    return value


# Remote headings sit below the page's own (its h1 title, h2 sections, h3 items): h1 → h4,
# h2 → h5, h3 to h6 → h6, so that no sender adds a second h1 to our pages (SECURITY.md rule 7).
_HEADING = re.compile(r"<(/?)h([1-6])>")


def _demote(match: re.Match) -> str:
    return f"<{match.group(1)}h{min(int(match.group(2)) + 3, 6)}>"


_MEDIA_TAG = re.compile(r"<(img|audio|video|source)\b([^>]*)>", re.IGNORECASE)
_ATTR = re.compile(r"""\b(src|alt|title|type)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)


def _media_as_link(match: re.Match) -> str:
    """An inline image, audio or video becomes a link to its source (we show media as links,
    never inline: SECURITY.md rule 20); the alt text, else the source, is the link text."""
    attrs = {m.group(1).lower(): html.unescape(m.group(2) or m.group(3) or m.group(4) or "")
             for m in _ATTR.finditer(match.group(2))}
    src = attrs.get("src", "")
    if not src.lower().startswith(("https://", "http://")):
        return ""
    text = attrs.get("alt") or attrs.get("title") or src
    kind = f" ({attrs['type']})" if attrs.get("type") else ""
    return f' <a href="{html.escape(src)}">{html.escape(text)}</a>{html.escape(kind)} '


def sanitize_html(raw: str | None, max_length: int = 100_000) -> str:
    """Allow-listed HTML: no scripts, no event handlers, no javascript: URLs; headings demoted.

    nh3 writes every tag it keeps in lower case and headings without attributes (none are
    allowed on them), so the demotion can match its output exactly."""
    if not raw:
        return ""
    cleaned = nh3.clean(
        _MEDIA_TAG.sub(_media_as_link, raw[:max_length]),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        attribute_filter=_filter,
    )
    return _HEADING.sub(_demote, cleaned)


# A whitespace character (str.isspace's, which is re's \s on text) or a control character below 32.
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f]")


def is_web_url(value: object) -> bool:
    """Only http(s) URLs ever become links from remote data (SECURITY.md rule 20)."""
    return isinstance(value, str) and value[:8].lower().startswith(("https://", "http://")) \
        and len(value) <= 2048 and _SPACE_OR_CONTROL.search(value) is None


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
