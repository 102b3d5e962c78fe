"""Normalising inbound AS2: single value vs list, IRI vs embedded object, hosts of ids."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from activities.bounds import utc_moment
from activities.errors import InvalidDocument

MAX_LIST = 500  # SECURITY.md rule 6: long lists are truncated, never processed whole


def as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, list):
        return value[:MAX_LIST]
    return [value]


def id_of(value: Any) -> str | None:
    """The IRI of a value that may be a string, an object with ``id``, or a one-item list."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        ident = value.get("id")
        return ident if isinstance(ident, str) else None
    return None


def ids_of(value: Any) -> list[str]:
    return [i for i in (id_of(v) for v in as_list(value)) if i]


@lru_cache(maxsize=8192)
def _netloc(url: str) -> str:
    if url.startswith(("https://", "http://")) and url.isascii() and url.isprintable() \
            and "[" not in url and "]" not in url:
        # What urlsplit answers for a plain printable ASCII http(s) URL, without its parsing
        # (a new activity id or object id comes with every POST): the text after "//" up to the
        # first "/", "?" or "#". Anything else (controls, tabs, brackets, non-ASCII, another case
        # of the scheme) is left to urlsplit; tests/activities/test_web_urls.py compares the two.
        start = url.index("//") + 2
        end = len(url)
        for delimiter in "/?#":
            found = url.find(delimiter, start, end)
            if found != -1:
                end = found
        return url[start:end].lower()
    return urlsplit(url).netloc.lower()


def host_of(url: str | None) -> str:
    """The host (and port) of an id, lower-cased. Remembered for the ids that come again and
    again — actors, key ids, the objects a burst of activities is about (8,192 of them)."""
    if not isinstance(url, str):  # None, or what a caller checks the type of after
        return urlsplit(url or "").netloc.lower()
    return _netloc(url)


def require_id(doc: dict, field: str = "id") -> str:
    ident = id_of(doc.get(field))
    if not ident or not ident.startswith(("https://", "http://")):
        raise InvalidDocument(f"'{field}' must be an http(s) IRI")
    return ident


def types_of(doc: dict) -> list[str]:
    return [t for t in as_list(doc.get("type")) if isinstance(t, str)]


def first_type(doc: Any) -> str | None:
    if not isinstance(doc, dict):
        return None
    types = types_of(doc)
    return types[0] if types else None


def text_of(doc: dict, field: str) -> str | None:
    """A natural-language field, falling back to its ``…Map`` variant (first language given)."""
    value = doc.get(field)
    if isinstance(value, str):
        return value
    mapped = doc.get(f"{field}Map")
    if isinstance(mapped, dict):
        for text in mapped.values():
            if isinstance(text, str):
                return text
    return None


def check_activity(doc: Any) -> dict:
    """The minimal shape every inbound activity must have; raises InvalidDocument otherwise.

    An ``object`` given as a one-element list (seen from several servers) is unwrapped, so every
    later stage reads one object."""
    if not isinstance(doc, dict):
        raise InvalidDocument("the body must be a JSON object")
    require_id(doc)
    if not types_of(doc):
        raise InvalidDocument("'type' is missing")
    require_id(doc, "actor")
    obj = doc.get("object")
    if isinstance(obj, list) and len(obj) == 1:
        doc["object"] = obj[0]
    return doc


def parse_time(value) -> datetime | None:
    """An xsd:dateTime as an aware UTC datetime, or None when it is not one or cannot be moved to
    UTC (inbound activities with such dates are refused at intake: SECURITY.md rule 14)."""
    if not isinstance(value, str):
        return None
    try:
        return utc_moment(value)
    except InvalidDocument:
        return None
