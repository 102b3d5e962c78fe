"""Coalitions as AS2: the coalition's Group document, its ``members`` collection of ``Member``
items, and the membership activities between a coalition and organisations — Join, Invite,
Leave, Remove and the Accept/Reject that answer them (FEDERATION.md "Coalitions and campaigns").

The shapes follow Mobilizon's groups, the closest federated model: a ``members`` collection
(``mz:members``) of ``{"type": "Member", "actor": organisation, "object": group, "role": …}``,
``Join{object: group}`` answered by ``Accept``/``Reject`` embedding the Join, ``Invite{actor:
group, object: group, target: invitee}``, ``Leave{object: group}`` and ``Remove{object: member,
target: members}``. Pure: no I/O; parsers raise InvalidDocument with a reason."""

from __future__ import annotations

from dataclasses import dataclass

from activities import wrappers
from activities.errors import InvalidDocument
from activities.normalize import first_type, id_of, require_id
from activities.vocabulary import CONTEXT

MOBILIZON_NS = "https://joinmobilizon.org/ns#"
# The coalition documents' context: ours plus Mobilizon's terms for group membership, so that a
# Mobilizon instance reads ``members`` as its own (it defines ``members`` as ``mz:members``).
COALITION_CONTEXT: list = [
    *CONTEXT,
    {
        "mz": MOBILIZON_NS,
        "members": {"@id": "mz:members", "@type": "@id"},
        "Member": "mz:Member",
        "role": "mz:role",
    },
]
ROLES = ("admin", "member")
# What an Accept or a Reject may answer, and who sends the answer (the other side).
ANSWERED = ("Join", "Invite", "Leave")
MAX_ID = 2048  # the length of our id columns


# -- out ----------------------------------------------------------------------------------------

def coalition_to_as(actor_doc: dict, members_url: str) -> dict:
    """The coalition's Group document: the actor's own, with its ``members`` collection and the
    ``civic:coalition`` flag that tells a coalition from a discussion's group."""
    return {**actor_doc, "@context": COALITION_CONTEXT, "members": members_url,
            "civic:coalition": True}


def member_item_id(members_url: str, member_ap_id: str) -> str:
    """A Member item's id: a fragment of the collection (Mobilizon gives each membership an
    id; ours are not documents of their own)."""
    return f"{members_url}#{member_ap_id}"


def member_to_as(members_url: str, coalition_ap_id: str, member_ap_id: str, role: str) -> dict:
    return {"id": member_item_id(members_url, member_ap_id), "type": "Member",
            "actor": member_ap_id, "object": coalition_ap_id, "role": role}


def members_collection(members_url: str, items: list[dict]) -> dict:
    """The accepted members, admins first: one unpaged OrderedCollection (a coalition counts its
    members in hundreds, not in millions)."""
    return {"@context": COALITION_CONTEXT, "id": members_url, "type": "OrderedCollection",
            "totalItems": len(items), "orderedItems": items}


def _activity(kind: str, ap_id: str, actor: str, obj: str, to: str, **extra) -> dict:
    """A membership activity between two actors, addressed to the other one only."""
    return {"@context": CONTEXT, "id": ap_id, "type": kind, "actor": actor, "object": obj,
            "to": [to], **extra}


def join(ap_id: str, organization: str, coalition: str) -> dict:
    return _activity("Join", ap_id, organization, coalition, coalition)


def invite(ap_id: str, coalition: str, organization: str) -> dict:
    """The coalition invites an organisation to itself (Mobilizon: ``object`` the group,
    ``target`` the invitee)."""
    return _activity("Invite", ap_id, coalition, coalition, organization, target=organization)


def leave(ap_id: str, organization: str, coalition: str) -> dict:
    return _activity("Leave", ap_id, organization, coalition, coalition)


def remove(ap_id: str, coalition: str, organization: str, members_url: str) -> dict:
    return _activity("Remove", ap_id, coalition, organization, organization, target=members_url)


def accept(ap_id: str, actor: str, inner: dict) -> dict:
    """Accept of a Join (by the coalition) or of an Invite (by the organisation), embedding it,
    addressed to the inner activity's actor."""
    return wrappers.accept(ap_id, actor, inner)


def reject(ap_id: str, actor: str, inner: dict) -> dict:
    """Reject of a Join or an Invite, or of the last admin's Leave (by the coalition)."""
    return wrappers.reject(ap_id, actor, inner)


# -- in -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Membership:
    """A membership activity read: its id, type, actor (who sends it), object and target ids."""

    id: str
    type: str
    actor: str
    object: str
    target: str | None = None


@dataclass(frozen=True)
class Answer:
    """An Accept or a Reject of a membership activity: who answers, and what it answers."""

    id: str
    accepted: bool
    actor: str
    inner: Membership


def _iri(doc: dict, field: str) -> str:
    value = require_id(doc, field)
    if len(value) > MAX_ID:
        raise InvalidDocument(f"'{field}' is longer than {MAX_ID} characters")
    return value


def _shape(doc, expected: str) -> dict:
    if not isinstance(doc, dict):
        raise InvalidDocument(f"a {expected} must be a JSON object")
    kind = first_type(doc)
    if kind != expected:
        raise InvalidDocument(f"expected a {expected}, not {str(kind)[:40]!r}")
    return doc


def parse_join(doc) -> Membership:
    """``Join{actor: organisation, object: coalition}``."""
    doc = _shape(doc, "Join")
    return Membership(_iri(doc, "id"), "Join", _iri(doc, "actor"), _iri(doc, "object"))


def parse_leave(doc) -> Membership:
    """``Leave{actor: organisation, object: coalition}``."""
    doc = _shape(doc, "Leave")
    return Membership(_iri(doc, "id"), "Leave", _iri(doc, "actor"), _iri(doc, "object"))


def parse_invite(doc) -> Membership:
    """``Invite{actor: coalition, object: coalition, target: organisation}``: a coalition invites
    to itself only."""
    doc = _shape(doc, "Invite")
    parsed = Membership(_iri(doc, "id"), "Invite", _iri(doc, "actor"), _iri(doc, "object"),
                        _iri(doc, "target"))
    if parsed.object != parsed.actor:
        raise InvalidDocument("an Invite's object must be the coalition that sends it")
    return parsed


def parse_remove(doc) -> Membership:
    """``Remove{actor: coalition, object: organisation, target: <coalition>/members}`` (a target,
    when given, is the coalition's own collection)."""
    doc = _shape(doc, "Remove")
    parsed = Membership(_iri(doc, "id"), "Remove", _iri(doc, "actor"), _iri(doc, "object"),
                        _iri(doc, "target") if doc.get("target") is not None else None)
    if parsed.target is not None and not parsed.target.startswith(parsed.actor + "/"):
        raise InvalidDocument("a Remove's target must be the coalition's own collection")
    return parsed


def _inner(doc: dict) -> Membership:
    """The embedded activity an answer names. Its id is kept only when given (our Leave's
    refusal may carry it), but its actor and object are required: they say whose membership it is."""
    inner = doc.get("object")
    if not isinstance(inner, dict):
        raise InvalidDocument("an Accept or Reject of a membership embeds the activity it answers")
    kind = first_type(inner)
    if kind not in ANSWERED:
        raise InvalidDocument(f"an answer is about a Join, an Invite or a Leave, not {str(kind)[:40]!r}")
    inner_id = id_of(inner.get("id")) or None
    if inner_id is not None and (not inner_id.startswith(("https://", "http://"))
                                 or len(inner_id) > MAX_ID):
        raise InvalidDocument("the answered activity's id must be an http(s) IRI")
    target = _iri(inner, "target") if kind == "Invite" else None
    return Membership(inner_id or "", kind, _iri(inner, "actor"), _iri(inner, "object"), target)


def parse_answer(doc) -> Answer:
    """``Accept`` or ``Reject`` embedding a Join, an Invite or a Leave. The answer comes from
    the other side: the Join's and the Leave's object (the coalition), the Invite's target (the
    organisation)."""
    if not isinstance(doc, dict) or first_type(doc) not in ("Accept", "Reject"):
        raise InvalidDocument("expected an Accept or a Reject")
    answer = Answer(_iri(doc, "id"), first_type(doc) == "Accept", _iri(doc, "actor"), _inner(doc))
    answered_by = answer.inner.target if answer.inner.type == "Invite" else answer.inner.object
    if answer.actor != answered_by:
        raise InvalidDocument(f"only the other side answers a {answer.inner.type}")
    if answer.inner.type == "Leave" and answer.accepted:
        raise InvalidDocument("a Leave is never accepted: it takes effect when sent")
    return answer


@dataclass(frozen=True)
class Member:
    """One item of a coalition's ``members`` collection."""

    organization: str
    coalition: str
    role: str


def parse_member(item) -> Member:
    """``{"type": "Member", "actor": organisation, "object": coalition, "role": "admin"|"member"}``."""
    item = _shape(item, "Member")
    role = item.get("role")
    if role not in ROLES:
        raise InvalidDocument(f"a member's role is one of {', '.join(ROLES)}")
    return Member(_iri(item, "actor"), _iri(item, "object"), role)


def is_coalition(actor_doc) -> bool:
    """Whether an actor document is a coalition's (a Group that says so)."""
    return (isinstance(actor_doc, dict) and first_type(actor_doc) == "Group"
            and actor_doc.get("civic:coalition") is True)
