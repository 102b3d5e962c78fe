"""Moderation vocabulary: ``Flag``, a report, in both directions."""

from __future__ import annotations

from dataclasses import dataclass

from activities.errors import InvalidDocument
from activities.html import plain_text
from activities.normalize import id_of, ids_of, require_id
from activities.vocabulary import CONTEXT

MAX_OBJECTS = 20  # reported objects read from one Flag
MAX_CONTENT = 1000  # characters of the reason kept


@dataclass(frozen=True)
class FlagData:
    """An inbound report: who sends it, what it names, and why (plain text)."""

    ap_id: str
    actor: str
    objects: list[str]
    content: str


def as_to_flag(doc: dict) -> FlagData:
    """Read a Flag. Mastodon and GoToSocial: ``object`` is the account then its posts, the reason in
    ``content``; Lemmy: one post or comment, the reason in ``summary``. Markup is dropped."""
    objects = [i for i in ids_of(doc.get("object")) if isinstance(i, str)][:MAX_OBJECTS]
    if not objects:
        raise InvalidDocument("a Flag needs the reported object")
    actor = id_of(doc.get("actor"))
    if not actor:
        raise InvalidDocument("a Flag needs an actor")
    reason = doc.get("content") if isinstance(doc.get("content"), str) else doc.get("summary")
    return FlagData(ap_id=require_id(doc), actor=actor, objects=objects,
                    content=plain_text(reason if isinstance(reason, str) else "", MAX_CONTENT))


def flag_to_as(ap_id: str, actor: str, objects: list[str], content: str, to: str) -> dict:
    """A report forwarded to the node of the reported account (``to``), sent by our instance actor
    so that the reporter stays anonymous, as Mastodon does."""
    return {"@context": CONTEXT, "id": ap_id, "type": "Flag", "actor": actor, "object": objects,
            "content": content, "to": [to]}

