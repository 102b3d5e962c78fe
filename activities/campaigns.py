"""Campaigns of coalitions on the wire: the coalition's campaign and a member organisation's
variant, both ``Page``s, and the supports an organisation relays to the coalition's home.

FEDERATION.md "Coalitions and campaigns". A campaign is written in several languages
(``nameMap``/``summaryMap``/``contentMap``, the plain fields in its first language, which is what
Mastodon shows) with a kit of messages (``Note``) and visuals (``Image``) per language
(``civic:language``). A variant is one organisation's wording in one language, linked to its
campaign by ``context`` and ``civic:variantOf``. A support of a variant is the supporter's ``Like``
sent to the organisation's node; the organisation relays it, embedded, in an ``Announce`` to the
coalition (and ``Announce{Undo{Like}}`` when it is taken back), since the home is the one place
where supports are counted. The parsers bound and sanitise everything they keep: what passes can
be stored as it is."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime

from activities import wrappers
from activities.addressing import addressing
from activities.errors import InvalidDocument
from activities.groups import plain_summary
from activities.html import is_web_url, plain_text, sanitize_html
from activities.normalize import as_list, first_type, host_of, id_of, parse_time
from activities.notes import iso
from activities.vocabulary import CONTEXT
from node.models import Actor, Campaign, CampaignVariant

MAX_LANGUAGES = 24
MAX_KIT = 40
MAX_NAME = 300
MAX_SUMMARY = 1000
MAX_TEXT = 40_000  # sanitised HTML of a campaign's or variant's text, per language
MAX_URL = 2048
UNKNOWN_LANGUAGE = "und"  # BCP 47 "undetermined": a remote text that says none
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,2}$")
VISUAL_TYPES = ("Image", "Document")


def _absolute(base: str, url: str | None) -> str | None:
    """A stored visual's URL: a local one is its path under /media (node/services/media.py)."""
    if not url:
        return None
    return base + url if url.startswith("/") else url


def _visual(url: str, media_type: str | None, name: str, language: str) -> dict:
    item = {"type": "Image", "url": url, "name": name, "civic:language": language}
    if media_type:
        item["mediaType"] = media_type
    return item


def _kit_to_as(kit: list[dict], base: str) -> list[dict]:
    items = []
    for entry in kit or []:
        language, name = entry.get("language", ""), entry.get("name", "")
        if entry.get("kind") == "visual" and entry.get("url"):
            items.append(_visual(_absolute(base, entry["url"]), entry.get("media_type"), name, language))
        elif entry.get("kind") == "message":
            items.append({"type": "Note", "name": name, "content": entry.get("content", ""),
                          "civic:language": language})
    return items


def _first(texts: dict | None, language: str) -> str:
    texts = texts or {}
    return texts.get(language) or next(iter(texts.values()), "")


def campaign_to_as(campaign: Campaign, coalition: Actor, *, level: str, base: str) -> dict:
    """The coalition's campaign as a Page, at the coalition's level (its followers; the members
    are sent it by inbox, activities/addressing.py says what the level means on the wire)."""
    to, cc = addressing(level, followers=[coalition.followers_url])
    language = next(iter(campaign.name or {}), "")
    content = _first(campaign.content, language)
    summary = _first(campaign.summary, language)
    doc = {
        "@context": CONTEXT,
        "id": campaign.ap_id,
        "type": "Page",
        "attributedTo": coalition.ap_id,
        "name": _first(campaign.name, language),
        "summary": summary or plain_summary(content) or _first(campaign.name, language),
        "content": content,
        "nameMap": dict(campaign.name or {}),
        "url": campaign.url or campaign.ap_id,
        "context": campaign.ap_id,  # FEP-7888: its variants name it as theirs
        "published": iso(campaign.published_at or campaign.created_at),
        "to": to,
        "cc": cc,
        "attachment": _kit_to_as(campaign.kit, base),
        "likes": {"type": "Collection", "totalItems": campaign.support_count or 0},
        "civic:supports": campaign.support_count or 0,
    }
    if campaign.summary:
        doc["summaryMap"] = dict(campaign.summary)
    if campaign.content:
        doc["contentMap"] = dict(campaign.content)
    return doc


def variant_to_as(variant: CampaignVariant, organization: Actor, *, campaign_id: str,
                  coalition_id: str, level: str, base: str) -> dict:
    """A member organisation's variant: a Page by the organisation, in its one language, linked
    to its campaign; public, to the organisation's followers and to the coalition."""
    to, cc = addressing(level, followers=[organization.followers_url, coalition_id])
    doc = {
        "@context": CONTEXT,
        "id": variant.ap_id,
        "type": "Page",
        "attributedTo": organization.ap_id,
        "name": variant.name,
        "summary": plain_summary(variant.content) or variant.name,
        "content": variant.content,
        "nameMap": {variant.language: variant.name},
        "contentMap": {variant.language: variant.content},
        "url": variant.ap_id,
        "context": campaign_id,
        "civic:variantOf": campaign_id,
        "published": iso(variant.created_at),
        "to": to,
        "cc": cc,
        "attachment": [],
        "likes": {"type": "Collection", "totalItems": variant.support_count or 0},
    }
    visual = _absolute(base, variant.visual_url)
    if visual:
        doc["attachment"] = [_visual(visual, variant.visual_media_type, variant.name, variant.language)]
    return doc


def relayed_support(announce_id: str, organization: str, *, like_id: str, supporter: str,
                    variant: str, coalition: str, undo_id: str | None = None) -> dict:
    """An organisation relays a support of its variant to its coalition: ``Announce{Like}``, the
    Like embedded with its id, actor and object; with ``undo_id``, its withdrawal
    ``Announce{Undo{Like}}``. Addressed to the coalition only: nobody else reads it."""
    like = wrappers.like(like_id, supporter, variant, [organization])
    inner = wrappers.undo(undo_id, supporter, like, [organization]) if undo_id else like
    return wrappers.announce(announce_id, organization, inner, [coalition], [])


# ---- parsers ------------------------------------------------------------------------------------

def _id(value, what: str) -> str:
    ident = id_of(value)
    if not isinstance(ident, str) or not is_web_url(ident) or len(ident) > MAX_URL or not _host(ident):
        raise InvalidDocument(f"{what} must be an http(s) id")
    return ident


def _host(url: str) -> str:
    """The host of an id, "" when it has none or is not a URL (``http://[`` makes urlsplit raise)."""
    try:
        return host_of(url)
    except ValueError:
        return ""


def _language(value) -> str | None:
    if isinstance(value, str) and len(value) <= 16 and _LANGUAGE.match(value):
        return value.lower()
    return None


def _text_map(doc: dict, field: str, clean, limit: int) -> dict[str, str]:
    """``<field>Map`` as {language: cleaned text} (languages that are not tags are dropped); the
    plain ``<field>`` under the first language (or "und") when there is no map."""
    raw = doc.get(f"{field}Map")
    texts: dict[str, str] = {}
    if isinstance(raw, dict):
        for key, value in list(raw.items())[:MAX_LANGUAGES]:
            language = _language(key)
            if language and isinstance(value, str) and value.strip():
                texts[language] = clean(value, limit)
    if not texts and isinstance(doc.get(field), str) and doc[field].strip():
        texts[UNKNOWN_LANGUAGE] = clean(doc[field], limit)
    return {k: v for k, v in texts.items() if v}


def _page(doc, what: str) -> tuple[dict, str, str]:
    if not isinstance(doc, dict) or first_type(doc) != "Page":
        raise InvalidDocument(f"a {what} is a Page")
    ap_id = _id(doc.get("id"), f"a {what}'s id")
    author = _id(doc.get("attributedTo"), f"a {what}'s attributedTo")
    if host_of(ap_id) != host_of(author):
        raise InvalidDocument(f"a {what}'s id is not on its author's host")
    return doc, ap_id, author


def _image(item: dict) -> tuple[str, str] | None:
    """(url, media type) of an image attachment we can show, else None."""
    url = item.get("url")
    if isinstance(url, list):
        url = url[0] if url else None
    media_type = item.get("mediaType")
    if isinstance(url, dict):
        media_type = media_type or url.get("mediaType")
        url = url.get("href")
    if not isinstance(url, str) or not is_web_url(url) or len(url) > MAX_URL:
        return None
    if not isinstance(media_type, str) or not media_type.startswith("image/") or len(media_type) > 64:
        return None
    return url, media_type


def _kit_of(doc: dict, default_language: str) -> list[dict]:
    """The kit's items we can use (messages and visuals), bounded; others are left out."""
    kit = []
    for item in as_list(doc.get("attachment")):
        if len(kit) >= MAX_KIT:
            break
        if not isinstance(item, dict):
            continue
        language = _language(item.get("civic:language")) or default_language
        name = plain_text(item.get("name") if isinstance(item.get("name"), str) else "", 200)
        kind = first_type(item)
        if kind in VISUAL_TYPES:
            image = _image(item)
            if image:
                kit.append({"language": language, "kind": "visual", "name": name,
                            "url": image[0], "media_type": image[1]})
        elif kind == "Note" and isinstance(item.get("content"), str):
            content = sanitize_html(item["content"], MAX_TEXT)
            if content.strip():
                kit.append({"language": language, "kind": "message", "name": name, "content": content})
    return kit


@dataclass(frozen=True)
class RemoteCampaign:
    """A remote coalition's campaign, ready for node.services.campaigns.store_remote."""

    coalition: str  # attributedTo
    ap_id: str
    name: dict
    summary: dict
    content: dict
    kit: list
    url: str | None
    published: datetime | None

    def fields(self) -> dict:
        """The keyword arguments of campaigns.store_remote."""
        values = asdict(self)
        del values["coalition"]
        return values


def parse_campaign(doc) -> RemoteCampaign:
    """A campaign Page as sent by its coalition; InvalidDocument (with its reason) when it is
    not one we can keep."""
    doc, ap_id, coalition = _page(doc, "campaign")
    name = _text_map(doc, "name", plain_text, MAX_NAME)
    if not name:
        raise InvalidDocument("a campaign has a name")
    summary = _text_map(doc, "summary", plain_text, MAX_SUMMARY)
    content = _text_map(doc, "content", sanitize_html, MAX_TEXT)
    url = doc.get("url") if isinstance(doc.get("url"), str) and is_web_url(doc["url"]) \
        and len(doc["url"]) <= MAX_URL else None
    published = parse_time(doc.get("published")) if isinstance(doc.get("published"), str) else None
    return RemoteCampaign(coalition, ap_id, name, summary, content,
                          _kit_of(doc, next(iter(name))), url or ap_id, published)


def is_variant(doc) -> bool:
    """A Page that says which campaign it adapts."""
    return isinstance(doc, dict) and first_type(doc) == "Page" and doc.get("civic:variantOf") is not None


@dataclass(frozen=True)
class RemoteVariant:
    """A member organisation's variant, ready for campaigns.store_remote_variant."""

    organization: str  # attributedTo
    campaign: str  # civic:variantOf (else context)
    ap_id: str
    language: str
    name: str
    content: str
    visual_url: str | None
    visual_media_type: str | None

    def fields(self) -> dict:
        """The keyword arguments of campaigns.store_remote_variant."""
        values = asdict(self)
        del values["organization"], values["campaign"]
        return values


def parse_variant(doc) -> RemoteVariant:
    """A variant Page as sent by its organisation: one language, its text and its visual."""
    doc, ap_id, organization = _page(doc, "variant")
    campaign = _id(doc.get("civic:variantOf") or doc.get("context"), "a variant's campaign")
    names = _text_map(doc, "name", plain_text, MAX_NAME)
    contents = _text_map(doc, "content", sanitize_html, MAX_TEXT)
    language = _language(doc.get("civic:language")) or next(iter(contents), None) \
        or next(iter(names), UNKNOWN_LANGUAGE)
    name = names.get(language) or next(iter(names.values()), "")
    content = contents.get(language) or next(iter(contents.values()), "")
    if not name:
        raise InvalidDocument("a variant has a name")
    if not content.strip():
        raise InvalidDocument("a variant has a text")
    visual = next((image for item in as_list(doc.get("attachment"))
                   if isinstance(item, dict) and first_type(item) in VISUAL_TYPES
                   for image in [_image(item)] if image), None)
    return RemoteVariant(organization, campaign, ap_id, language, name, content,
                         visual[0] if visual else None, visual[1] if visual else None)


@dataclass(frozen=True)
class RelayedSupport:
    """What an organisation relayed: the supporter's Like (its id, its actor, what it likes),
    given (``undone`` False) or taken back."""

    relayer: str  # the Announce's actor
    like_id: str
    supporter: str
    object: str
    undone: bool


def parse_relayed(doc) -> RelayedSupport:
    """``Announce{Like}`` or ``Announce{Undo{Like}}``: the Like is embedded whole (its id, actor
    and object), and its id is on its actor's host (an organisation cannot make up supports of
    people of other servers under ids of its own)."""
    if not isinstance(doc, dict) or first_type(doc) != "Announce":
        raise InvalidDocument("a relayed support is an Announce")
    relayer = _id(doc.get("actor"), "the Announce's actor")
    inner = doc.get("object")
    undone = isinstance(inner, dict) and first_type(inner) == "Undo"
    like = inner.get("object") if undone else inner
    if not isinstance(like, dict) or first_type(like) != "Like":
        raise InvalidDocument("a relayed support embeds the Like")
    like_id = _id(like.get("id"), "the Like's id")
    supporter = _id(like.get("actor"), "the Like's actor")
    if host_of(like_id) != host_of(supporter):
        raise InvalidDocument("the Like's id is not on its actor's host")
    if undone and id_of(inner.get("actor")) not in (None, supporter):
        raise InvalidDocument("only the Like's actor undoes it")
    return RelayedSupport(relayer, like_id, supporter, _id(like.get("object"), "the Like's object"), undone)


def relayed_kind(doc) -> str | None:
    """"relayed-like" for an Announce embedding a Like or an Undo of one, else None (targets)."""
    inner = doc.get("object") if isinstance(doc, dict) else None
    if not isinstance(inner, dict):
        return None
    if first_type(inner) == "Undo":
        inner = inner.get("object")
    return "relayed-like" if isinstance(inner, dict) and first_type(inner) == "Like" else None
