"""Values out of range, refused at the edge (SECURITY.md rule 14).

An inbound document is checked once, before it is stored: whatever passes here can be stored in
either database and read by every later stage without overflowing. Anything else is an
``InvalidDocument`` (a 400 with its reason), never an exception deep inside processing where it
would stop the queue. The walk is iterative, so the nesting cap holds however deep the document is.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from activities.errors import InvalidDocument

MAX_DEPTH = 32  # real activities nest 5-8 levels (Create → Note → attachment → url → Link)
MAX_NODES = 20_000  # values in one document (a 1 MB body of tiny values would hold ~250,000)
MAX_ID = 2048  # our ap_id columns (PostgreSQL enforces the length)
MAX_INT = 2**63 - 1  # a BIGINT; JSON numbers beyond it cannot be stored or counted with
# Fields holding an xsd:dateTime: each must be representable in UTC when it is present.
DATE_FIELDS = frozenset({"published", "updated", "deleted", "startTime", "endTime", "closed"})
# Fields holding the ids of things we store (activity, actor, object, reply target).
ID_FIELDS = ("id", "actor", "object", "inReplyTo", "attributedTo", "target")


def _reject_constant(name: str) -> float:
    raise InvalidDocument(f"{name} is not a JSON number")


# One decoder, built once (json.loads with a keyword builds a new one per call).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def loads(body: bytes) -> Any:
    """The JSON body, or InvalidDocument: not UTF-8 JSON, NaN/Infinity, or nested beyond Python's
    own recursion limit (check_bounds then applies the real cap)."""
    try:
        return _DECODER.decode(body.decode("utf-8-sig"))
    except RecursionError:
        raise InvalidDocument(f"the document is nested more than {MAX_DEPTH} levels deep") from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidDocument("the body is not JSON") from None


def admit(body: bytes) -> Any:
    """``loads`` then ``check_bounds``. Strict UTF-8 leaves escapes (``\\u0000``, ``\\ud800``) as
    the only way to a NUL or a lone surrogate, so text is only checked when the body has one."""
    return check_bounds(loads(body), text=b"\\u" in body)


def utc_moment(value: str) -> datetime | None:
    """An xsd:dateTime as an aware UTC datetime; None when it is not one; InvalidDocument when it
    is one but lies outside the years 1-9999 once moved to UTC (``0001-01-01T00:00:00+01:00``)."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidDocument(f"the date {value[:40]!r} is out of range") from None


def _check_text(value: str) -> None:
    if "\x00" in value:
        raise InvalidDocument("text may not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800"): PostgreSQL refuses to store it
        raise InvalidDocument("text must be valid Unicode (a lone surrogate was found)") from None


def _check_number(key: str | None, value: int | float) -> None:
    if type(value) is int:
        if not -MAX_INT <= value <= MAX_INT:
            raise InvalidDocument(f"the number in '{key}' is out of range")
    elif not math.isfinite(value):
        raise InvalidDocument(f"the number in '{key}' is out of range")


def _check_ids(doc: dict) -> None:
    """Ids we would store must fit their columns (checked on the activity and its object)."""
    for holder in (doc, doc.get("object")):
        if not isinstance(holder, dict):
            continue
        for field in ID_FIELDS:
            values = holder.get(field)
            for value in values if isinstance(values, list) else [values]:
                ident = value.get("id") if isinstance(value, dict) else value
                if isinstance(ident, str) and len(ident) > MAX_ID:
                    raise InvalidDocument(f"'{field}' ids are limited to {MAX_ID} characters")


def check_bounds(doc: Any, *, text: bool = True) -> Any:
    """Walk the whole document once: depth, size, numbers and dates within range, and (``text``)
    no NUL or lone surrogate in any string. Iterative, and typed by ``type() is`` (the inbox's hot
    path: a few microseconds for a usual activity)."""
    if type(doc) is not dict and type(doc) is not list:
        stack: list[tuple[str | None, Any, int]] = [(None, [doc], 0)]  # a bare value: as a list
    else:
        stack = [(None, doc, 1)]
    seen = 0
    while stack:
        key, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidDocument(f"the document is nested more than {MAX_DEPTH} levels deep")
        items = value.items() if type(value) is dict else ((key, item) for item in value)
        seen += len(value)
        if seen > MAX_NODES:
            raise InvalidDocument(f"the document holds more than {MAX_NODES} values")
        for name, item in items:
            kind = type(item)
            if kind is str:
                if text:
                    _check_text(item)
                if name in DATE_FIELDS:
                    utc_moment(item)
            elif kind is dict or kind is list:
                stack.append((name, item, depth + 1))
            elif kind is int or kind is float:
                _check_number(name, item)
            if text and type(name) is str and name is not key:
                _check_text(name)
    if isinstance(doc, dict):
        _check_ids(doc)
    return doc
