"""Activity wrappers: Create, Follow, Accept, Reject, Undo, Announce, Delete, Update, Like, Join."""

from __future__ import annotations

from activities.addressing import addressing
from activities.vocabulary import CONTEXT
from node.visibility import PUBLIC


def _activity(kind: str, ap_id: str, actor: str, obj, to=None, cc=None, **extra) -> dict:
    doc = {"@context": CONTEXT, "id": ap_id, "type": kind, "actor": actor, "object": obj}
    if to is not None:
        doc["to"] = to
    if cc is not None:
        doc["cc"] = cc
    doc.update(extra)
    return doc


def strip_context(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "@context"}


def create(ap_id: str, actor: str, obj: dict, published: str | None = None) -> dict:
    """Create with the object's own addressing (AP §6.2)."""
    inner = strip_context(obj)
    extra = {"published": published} if published else {}
    return _activity("Create", ap_id, actor, inner, inner.get("to"), inner.get("cc"), **extra)


def update(ap_id: str, actor: str, obj: dict) -> dict:
    inner = strip_context(obj)
    return _activity("Update", ap_id, actor, inner, inner.get("to"), inner.get("cc"))


def update_actor(ap_id: str, actor_doc: dict) -> dict:
    """A local actor's changed profile (an organisation's logo), public, to its followers."""
    to, cc = addressing(PUBLIC, followers=[actor_doc["followers"]])
    return _activity("Update", ap_id, actor_doc["id"], strip_context(actor_doc), to, cc)


def delete(ap_id: str, actor: str, object_id: str, to: list[str], cc: list[str] | None = None) -> dict:
    return _activity("Delete", ap_id, actor, object_id, to, cc or [])


def follow(ap_id: str, actor: str, target: str) -> dict:
    return _activity("Follow", ap_id, actor, target, [target])


def accept(ap_id: str, actor: str, follow_doc: dict) -> dict:
    """Accept embeds the Follow with its id: Mastodon matches the follow request by that id."""
    return _activity("Accept", ap_id, actor, strip_context(follow_doc), [follow_doc["actor"]])


def reject(ap_id: str, actor: str, follow_doc: dict) -> dict:
    return _activity("Reject", ap_id, actor, strip_context(follow_doc), [follow_doc["actor"]])


def undo(ap_id: str, actor: str, inner: dict, to: list[str]) -> dict:
    return _activity("Undo", ap_id, actor, strip_context(inner), to)


def announce(ap_id: str, actor: str, obj, to: list[str], cc: list[str]) -> dict:
    inner = strip_context(obj) if isinstance(obj, dict) else obj
    return _activity("Announce", ap_id, actor, inner, to, cc)


def like(ap_id: str, actor: str, object_id: str, to: list[str]) -> dict:
    """Agree with a contribution or support a proposal; Mastodon shows it as a favourite."""
    return _activity("Like", ap_id, actor, object_id, to)


def join(ap_id: str, actor: str, object_id: str, to: list[str]) -> dict:
    """The "I acted" of a take-action initiative (FEDERATION.md "What we send"); retracted with Undo."""
    return _activity("Join", ap_id, actor, object_id, to)
