"""Notes: our announcements out (``note_to_as``), remote posts in (``as_to_note``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from activities.addressing import addressing
from activities.errors import InvalidDocument
from activities.html import plain_text, sanitize_html
from activities.normalize import first_type, host_of, id_of, ids_of, parse_time, require_id, text_of
from activities.vocabulary import CONTEXT, is_public
from node.models import Actor, Note

NOTE_TYPES = frozenset({"Note", "Article", "Page", "Question", "Event"})


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def note_addressing(note: Note, actor: Actor) -> tuple[list[str], list[str]]:
    """An actor's own note, to its followers at the note's level (activities/addressing.py)."""
    return addressing(note.visibility, followers=[actor.followers_url])


def note_to_as(note: Note, actor: Actor, *, with_context: bool = True) -> dict:
    to, cc = note_addressing(note, actor)
    doc = {
        "id": note.ap_id,
        "type": "Note",
        "attributedTo": actor.ap_id,
        "content": note.content,
        "url": note.url or note.ap_id,
        "published": iso(note.published),
        "to": to,
        "cc": cc,
        "inReplyTo": note.in_reply_to,
        "context": note.context or note.ap_id,  # FEP-7888
        "sensitive": False,
    }
    if note.summary:
        doc["summary"] = note.summary
    if note.language:
        doc["contentMap"] = {note.language: note.content}
    if note.updated:
        doc["updated"] = iso(note.updated)
    if with_context:
        doc = {"@context": CONTEXT, **doc}
    return doc


def tombstone_to_as(ap_id: str, former_type: str, deleted: datetime) -> dict:
    return {"@context": CONTEXT, "id": ap_id, "type": "Tombstone", "formerType": former_type,
            "deleted": iso(deleted)}


@dataclass(frozen=True)
class NoteData:
    """A remote post, validated and sanitised."""

    ap_id: str
    type: str
    attributed_to: str
    content: str
    summary: str | None
    url: str | None
    in_reply_to: str | None
    context: str | None
    public: bool
    to: list[str]
    cc: list[str]
    language: str | None
    published: datetime | None
    name: str | None


def as_to_note(doc: dict) -> NoteData:
    """Validate a Note-like object; remote HTML is sanitised here, once (SECURITY.md rule 7)."""
    if not isinstance(doc, dict):
        raise InvalidDocument("the object must be embedded as a JSON object")
    ap_id = require_id(doc)
    kind = first_type(doc)
    if kind not in NOTE_TYPES:
        raise InvalidDocument(f"{kind!r} is not a post type")
    author = id_of(doc.get("attributedTo"))
    if not author:
        raise InvalidDocument("'attributedTo' is missing")
    if host_of(author) != host_of(ap_id):
        raise InvalidDocument("the object's id is not on its author's host")  # SECURITY.md rule 1
    content = text_of(doc, "content") or ""
    language = None
    if isinstance(doc.get("contentMap"), dict) and doc["contentMap"]:
        language = str(next(iter(doc["contentMap"])))[:16]
    to, cc = ids_of(doc.get("to")), ids_of(doc.get("cc"))
    url = id_of(doc.get("url"))
    return NoteData(
        ap_id=ap_id,
        type=kind,
        attributed_to=author,
        content=sanitize_html(content),
        summary=plain_text(text_of(doc, "summary"), 2000) or None,
        url=url if url and url.startswith(("https://", "http://")) else None,
        in_reply_to=id_of(doc.get("inReplyTo")),
        context=id_of(doc.get("context")) or id_of(doc.get("conversation")),
        public=is_public(to + cc),
        to=to,
        cc=cc,
        language=language,
        published=parse_time(doc.get("published")),
        name=plain_text(text_of(doc, "name"), 500) or None,
    )
