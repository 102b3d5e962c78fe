"""Inbound personal posts (notes): Create, Update and Delete of posts that are not contributions,
and the tombstone of a Delete that arrives for a post we never saw."""

from __future__ import annotations

from sqlalchemy import select

from activities.errors import InvalidDocument
from activities.normalize import first_type
from activities.notes import NOTE_TYPES, as_to_note
from federation.inbound.context import Inbound, check_ids
from federation.inbound.registry import handles
from node.models import Actor, Follow, Note, utcnow
from node.services import notes


async def _is_relevant(ctx: Inbound, data) -> bool:
    """Store a post only when one of our actors follows its author, or it is addressed to us."""
    uris = ctx.runtime.uris
    if any(uris.is_local(a) for a in data.to + data.cc):
        return True
    if data.in_reply_to and uris.is_local(data.in_reply_to):
        return True
    followed = await ctx.session.scalar(
        select(Follow.id).join(Actor, Actor.id == Follow.follower_id)
        .where(Follow.followed_id == ctx.actor.id, Actor.local.is_(True)).limit(1)
    )
    return followed is not None


async def store(ctx: Inbound, obj: dict) -> str:
    """Keep a remote post as a note (contributions.py hands over a private reply this way)."""
    if first_type(obj) not in NOTE_TYPES:
        return "ignored: Create of an unsupported object"
    data = as_to_note(obj)
    if data.attributed_to != ctx.actor.ap_id:
        raise InvalidDocument("the object is attributed to someone else")
    if ctx.runtime.uris.is_local(data.ap_id):
        raise InvalidDocument("a remote actor cannot create objects with our ids")  # SECURITY.md rule 11
    if not await _is_relevant(ctx, data):
        return "ignored: nobody here follows the author"
    _, created = await notes.store_remote_note(ctx.session, ctx.actor, data)
    return "note stored" if created else "note already known"


@handles("Create", "note")
async def on_create_note(ctx: Inbound) -> str:
    return await store(ctx, ctx.target.row)


@handles("Update", "note")
async def on_update_note(ctx: Inbound) -> str:
    obj = ctx.doc.get("object")
    if not isinstance(obj, dict) or first_type(obj) not in NOTE_TYPES:
        return "ignored: Update without an embedded post"
    changed = await notes.update_remote_note(ctx.session, ctx.actor, as_to_note(obj), utcnow())
    return "note updated" if changed else "ignored: unknown note"


@handles("Delete", "note")
async def on_delete_note(ctx: Inbound) -> str:
    note: Note | None = ctx.target.row
    if note is None:  # one of our own notes, named by its id
        note = await notes.note_by_ap_id(ctx.session, ctx.target.ap_id or "")
    if note is None:
        return "ignored: no such note"
    if note.actor_id != ctx.actor.id:
        raise InvalidDocument("only the author's server may delete an object")  # SECURITY.md rules 1, 9
    await notes.delete_note(ctx.session, note, federate=False)
    return "note deleted"


@handles("Delete", "unknown")
async def on_delete_unknown(ctx: Inbound) -> str:
    """Remember the tombstone so that a replayed Create cannot resurrect it (SECURITY.md rule 9)."""
    if ctx.runtime.uris.is_local(ctx.target.ap_id):
        raise InvalidDocument("only the author's server may delete an object")  # one of our ids
    check_ids(ctx.target.ap_id)
    await notes.record_tombstone(ctx.session, ctx.actor, ctx.target.ap_id or "")
    return "tombstone recorded for an unknown object"
