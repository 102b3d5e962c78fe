"""Notes out: an actor's own posts (an organisation's announcements), created and deleted."""

from __future__ import annotations

from activities import wrappers
from activities.notes import iso, note_addressing, note_to_as
from federation.outbound.audience import followers_of
from federation.outbound.publisher import Publisher
from federation.outbound.registry import builds
from node.models import Note
from node.services import outbox


@builds(outbox.NOTE_CREATED)
async def note_created(p: Publisher, note_id: int) -> None:
    """guard → load → convert → wrap → send: to the author's followers, at the note's level
    (activities/addressing.py), carrying the note's id so that deleting it withdraws it."""
    note = await p.session.get(Note, note_id)
    if note is None or note.deleted_at is not None:
        return
    actor = note.actor
    doc = wrappers.create(f"{note.ap_id}/activity", actor.ap_id, note_to_as(note, actor), iso(note.published))
    await p.publish(actor, doc, await followers_of(p.session, actor), level=note.visibility,
                    object_ap_id=note.ap_id)


@builds(outbox.NOTE_DELETED)
async def note_deleted(p: Publisher, note_id: int) -> None:
    """The Delete goes to whoever received the Create, addressed as it was."""
    note = await p.session.get(Note, note_id)
    if note is None:
        return
    actor = note.actor
    to, cc = note_addressing(note, actor)
    doc = wrappers.delete(p.new_id(), actor.ap_id, note.ap_id, to=to, cc=cc)
    await p.publish(actor, doc, await followers_of(p.session, actor), level=note.visibility,
                    object_ap_id=note.ap_id, listed=False)
