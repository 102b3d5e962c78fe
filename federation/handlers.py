"""Inbound handlers, one per activity type, registered in one dispatch table (HANDLERS)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.actors import as_to_actor
from activities.errors import InvalidDocument
from activities.normalize import first_type, id_of, ids_of
from activities.notes import NOTE_TYPES, as_to_note
from federation.moderation_handlers import moderated
from federation.participation_handlers import HANDLERS as PARTICIPATION_HANDLERS
from federation.participation_handlers import chained
from federation.runtime import Runtime
from node.models import Actor, Follow, Note, utcnow
from node.services import follows, notes
from node.services.actors import local_actor

log = logging.getLogger(__name__)


@dataclass
class Inbound:
    """One stored activity being processed, with the verified remote actor."""

    runtime: Runtime
    session: AsyncSession
    doc: dict
    actor: Actor  # the remote actor that signed it (stored row)

    @property
    def object_id(self) -> str | None:
        return id_of(self.doc.get("object"))


Handler = Callable[[Inbound], Awaitable[str]]


async def _local_target(ctx: Inbound, ap_id: str | None) -> Actor | None:
    uris = ctx.runtime.uris
    if not ap_id:
        return None
    if ap_id == uris.instance_actor():
        return None  # the instance actor is not followable
    username = uris.username_from_actor(ap_id)
    return await local_actor(ctx.session, username) if username else None


async def on_follow(ctx: Inbound) -> str:
    target = await _local_target(ctx, ctx.object_id)
    if target is None:
        return "ignored: the Follow is not for one of our actors"
    follow = await follows.receive_follow(ctx.session, ctx.actor, target, ctx.doc["id"])
    return f"follow {follow.state}"


async def on_undo(ctx: Inbound) -> str:
    inner = ctx.doc.get("object")
    kind = first_type(inner) if isinstance(inner, dict) else None
    if kind == "Follow" or kind is None:
        followed = id_of(inner.get("object")) if isinstance(inner, dict) else None
        removed = await follows.remove_by_follower(ctx.session, ctx.actor, followed, id_of(inner))
        return f"undo follow: {removed} removed"
    return f"ignored: Undo({kind}) has no handler"


async def on_accept(ctx: Inbound) -> str:
    inner = ctx.doc.get("object")
    follower = None
    if isinstance(inner, dict):
        if first_type(inner) not in ("Follow", None):
            return "ignored: Accept of something other than a Follow"
        follower = await _local_target(ctx, id_of(inner.get("actor")))
    ok = await follows.mark_accepted(ctx.session, id_of(inner), follower, ctx.actor)
    return "follow accepted" if ok else "ignored: no matching follow"


async def on_reject(ctx: Inbound) -> str:
    inner = ctx.doc.get("object")
    follow_id = id_of(inner)
    removed = (await ctx.session.execute(
        delete(Follow).where(Follow.followed_id == ctx.actor.id, Follow.ap_id == follow_id)
    )).rowcount
    return f"follow rejected: {removed} removed"


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


async def on_create(ctx: Inbound) -> str:
    obj = ctx.doc.get("object")
    if not isinstance(obj, dict) or first_type(obj) not in NOTE_TYPES:
        return "ignored: Create of an unsupported object"
    data = as_to_note(obj)
    if data.attributed_to != ctx.actor.ap_id:
        raise InvalidDocument("the object is attributed to someone else")
    if ctx.runtime.uris.is_local(data.ap_id):
        raise InvalidDocument("a remote actor cannot create objects with our ids")  # rule 11
    if not await _is_relevant(ctx, data):
        return "ignored: nobody here follows the author"
    _, created = await notes.store_remote_note(ctx.session, ctx.actor, data)
    return "note stored" if created else "note already known"


async def on_update(ctx: Inbound) -> str:
    obj = ctx.doc.get("object")
    if not isinstance(obj, dict):
        return "ignored: Update without an embedded object"
    kind = first_type(obj)
    if kind in NOTE_TYPES:
        changed = await notes.update_remote_note(ctx.session, ctx.actor, as_to_note(obj), utcnow())
        return "note updated" if changed else "ignored: unknown note"
    if id_of(obj) == ctx.actor.ap_id:
        # The signed Update carries the actor's own new document (as Mastodon sends it).
        fresh = as_to_actor(obj)
        for field in ("name", "summary", "url", "inbox", "shared_inbox", "outbox"):
            setattr(ctx.actor, field, getattr(fresh, field))
        ctx.actor.followers_url = fresh.followers
        if fresh.public_key_pem and fresh.key_id == ctx.actor.key_id:
            ctx.actor.public_key_pem = fresh.public_key_pem
            ctx.runtime.keys.forget(fresh.key_id)
        return "actor updated"
    return f"ignored: Update of {kind}"


async def on_delete(ctx: Inbound) -> str:
    target = ctx.object_id
    if target == ctx.actor.ap_id:
        # The account is gone: its follows go, its posts become tombstones.
        await ctx.session.execute(delete(Follow).where(
            or_(Follow.follower_id == ctx.actor.id, Follow.followed_id == ctx.actor.id)))
        for note in await ctx.session.scalars(select(Note).where(Note.actor_id == ctx.actor.id)):
            await notes.delete_note(ctx.session, note, federate=False)
        return "actor deleted"
    note = await notes.note_by_ap_id(ctx.session, target or "")
    if note is None:
        # Remember the tombstone so that a replayed Create cannot resurrect it (rule 9).
        await notes.record_tombstone(ctx.session, ctx.actor, target or "")
        return "tombstone recorded for an unknown object"
    if note.actor_id != ctx.actor.id:
        raise InvalidDocument("only the author's server may delete an object")  # rule 1, 9
    await notes.delete_note(ctx.session, note, federate=False)
    return "note deleted"


# Participation (discussions, proposals, initiatives) tries first; these handle the rest.
HANDLERS: dict[str, Handler] = chained({
    "Follow": on_follow,
    "Undo": on_undo,
    "Accept": on_accept,
    "Reject": on_reject,
    "Create": on_create,
    "Update": on_update,
    "Delete": on_delete,
}, PARTICIPATION_HANDLERS)
# Flag opens reports; contributions of silenced or pre-moderated accounts are held for review.
HANDLERS = moderated(HANDLERS)


def addressed_ids(doc: dict) -> list[str]:
    return ids_of(doc.get("to")) + ids_of(doc.get("cc"))
