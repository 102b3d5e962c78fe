"""Announcements: short public posts by organisations (and remote posts stored on receipt)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from node import visibility
from node.errors import InvalidInput, NotFound
from node.models import Actor, Follow, FollowStates, Note, utcnow
from node.services import outbox
from node.uris import Uris, new_token

MAX_ANNOUNCEMENT = 5000
# A person's notes have no organisation, so no members: the levels that federate.
VISIBILITIES = tuple(level for level in visibility.LEVELS if visibility.federates(level))


async def publish_announcement(
    session: AsyncSession, uris: Uris, actor: Actor, content_html: str, visibility: str = "public"
) -> Note:
    """Store a local Note and, in the same transaction, the event that federates it."""
    if not content_html.strip():
        raise InvalidInput("an announcement cannot be empty")
    if len(content_html) > MAX_ANNOUNCEMENT * 2:
        raise InvalidInput(f"an announcement is limited to {MAX_ANNOUNCEMENT} characters")
    if visibility not in VISIBILITIES:
        raise InvalidInput(f"visibility must be one of {', '.join(VISIBILITIES)}")
    ap_id = uris.note(new_token())
    note = Note(ap_id=ap_id, actor_id=actor.id, local=True, content=content_html, url=ap_id,
                context=ap_id, visibility=visibility, published=utcnow())
    note.actor = actor
    session.add(note)
    await session.flush()
    await outbox.emit(session, outbox.NOTE_CREATED, note_id=note.id)
    return note


async def note_by_ap_id(session: AsyncSession, ap_id: str) -> Note | None:
    return await session.scalar(select(Note).where(Note.ap_id == ap_id))


async def store_remote_note(session: AsyncSession, author: Actor, data) -> tuple[Note, bool]:
    """Insert or update a remote post (``data`` is an activities NoteData); returns (note, created).

    A note that was deleted stays a tombstone: a replayed Create does not resurrect it (rule 9).
    """
    note = await note_by_ap_id(session, data.ap_id)
    if note is not None:
        if note.deleted_at is None and note.actor_id == author.id:
            note.content, note.summary = data.content, data.summary
        return note, False
    note = Note(
        ap_id=data.ap_id, actor_id=author.id, local=False, content=data.content,
        summary=data.summary, url=data.url, in_reply_to=data.in_reply_to, context=data.context,
        visibility="public" if data.public else "followers", language=data.language,
        published=data.published or utcnow(),
    )
    note.actor = author
    session.add(note)
    await session.flush()
    return note, True


async def update_remote_note(session: AsyncSession, author: Actor, data, when: datetime) -> bool:
    note = await note_by_ap_id(session, data.ap_id)
    if note is None or note.deleted_at is not None or note.actor_id != author.id:
        return False
    note.content, note.summary, note.updated = data.content, data.summary, when
    return True


async def delete_note(session: AsyncSession, note: Note, *, federate: bool) -> None:
    """Leave a tombstone; local deletions federate a Delete."""
    if note.deleted_at is not None:
        return
    note.deleted_at = utcnow()
    note.content = ""
    await outbox.withdraw(session, note.ap_id)  # its Create leaves the outbox, 410 at its id (rule 24)
    if federate:
        await outbox.emit(session, outbox.NOTE_DELETED, note_id=note.id)


async def record_tombstone(session: AsyncSession, author: Actor, ap_id: str) -> Note:
    """A Delete for a post we never saw: keep its id as a tombstone so it cannot arrive later."""
    now = utcnow()
    note = Note(ap_id=ap_id, actor_id=author.id, local=False, content="", published=now,
                deleted_at=now)
    session.add(note)
    await session.flush()
    return note


async def require_note(session: AsyncSession, ap_id: str) -> Note:
    note = await note_by_ap_id(session, ap_id)
    if note is None:
        raise NotFound("no such note")
    return note


async def notes_by(session: AsyncSession, actor: Actor, limit: int = 20,
                   levels: tuple[str, ...] | None = None) -> list[Note]:
    """The actor's live notes, newest first; with ``levels`` (``visibility.listed_levels(who)``)
    only those listed to that reader."""
    query = select(Note).where(Note.actor_id == actor.id, Note.deleted_at.is_(None))
    if levels is not None:
        query = query.where(Note.visibility.in_(levels))
    rows = await session.scalars(
        query.order_by(Note.published.desc(), Note.id.desc()).limit(limit)
    )
    return list(rows)


async def timeline_of(session: AsyncSession, actor: Actor, limit: int = 50) -> list[Note]:
    """Posts received from the actors that ``actor`` follows (newest first)."""
    followed = select(Follow.followed_id).where(
        Follow.follower_id == actor.id, Follow.state == FollowStates.accepted
    )
    rows = await session.scalars(
        select(Note).where(Note.actor_id.in_(followed), Note.deleted_at.is_(None))
        .order_by(Note.published.desc(), Note.id.desc()).limit(limit)
    )
    return list(rows)


async def count_local_notes(session: AsyncSession, levels: tuple[str, ...] | None = None) -> int:
    """Local live notes; with ``levels``, only those at one of them (NodeInfo counts public ones)."""
    query = select(func.count()).select_from(Note).where(Note.local.is_(True), Note.deleted_at.is_(None))
    if levels is not None:
        query = query.where(Note.visibility.in_(levels))
    return await session.scalar(query) or 0
