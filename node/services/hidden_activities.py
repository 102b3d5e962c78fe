"""Stored activities that carry hidden content stop being served (SECURITY.md rule 22).

The fan-out stores every activity it sends and serves the public ones at their ids and in their
actor's outbox (federation.objects): the author's ``Create``/``Update`` of a contribution or proposal
and the group's ``Announce`` of it carry its full text. When moderators hide the content, those
copies stop being public (their ids answer 404, outboxes leave them out of items and totalItems);
when it is shown again, those addressed to the public are served again."""

from __future__ import annotations

from sqlalchemy import Text, cast, select
from sqlalchemy.ext.asyncio import AsyncSession

from node.models import Activity

_PUBLIC = frozenset({"https://www.w3.org/ns/activitystreams#Public", "as:Public", "Public"})


def _id(value) -> str | None:
    return value.get("id") if isinstance(value, dict) else None


def carries(document: dict, ap_id: str) -> bool:
    """Whether the activity embeds the object ``ap_id`` (Create/Update{object}, Announce{Create{object}})."""
    inner = document.get("object")
    return _id(inner) == ap_id or (isinstance(inner, dict) and _id(inner.get("object")) == ap_id)


def _addressed_publicly(document: dict) -> bool:
    addressed = []
    for key in ("to", "cc"):
        value = document.get(key)
        addressed += value if isinstance(value, list) else [value]
    return any(a in _PUBLIC for a in addressed if isinstance(a, str))


async def set_served(session: AsyncSession, ap_id: str, *, shown: bool) -> int:
    """Stop (or resume) serving the stored activities that carry ``ap_id``; returns how many."""
    # The text search narrows the rows on both backends; `carries` decides (an id quoted as a
    # reply's inReplyTo is not the object).
    candidates = await session.scalars(
        select(Activity).where(cast(Activity.document, Text).contains(ap_id, autoescape=True)))
    changed = 0
    for activity in candidates:
        if isinstance(activity.document, dict) and carries(activity.document, ap_id):
            activity.public = shown and _addressed_publicly(activity.document)
            changed += 1
    return changed
