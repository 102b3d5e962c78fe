"""Inbound erasure: a remote server's ``Delete{actor}`` removes that account from this node —
its follows, its notes and contributions (tombstones), its budget projects before the vote and its
comments on projects (tombstones), its reactions (counts go down) — and each
discussion it took part in passes the Delete on to its followers (FEP-1b12)."""

from __future__ import annotations

from sqlalchemy import delete, or_, select

from activities.errors import InvalidDocument
from federation import participation_documents as documents
from federation.inbound.context import Inbound
from federation.inbound.registry import handles
from node.models import Contribution, Follow, Note, utcnow
from node.services import budget_projects, contributions, notes, outbox, reactions


@handles("Delete", "actor")
async def on_delete_actor(ctx: Inbound) -> str:
    session, actor = ctx.session, ctx.actor
    if ctx.target.ap_id != actor.ap_id:
        raise InvalidDocument("only an actor's own server may delete it")  # SECURITY.md rule 1
    await session.execute(delete(Follow).where(
        or_(Follow.follower_id == actor.id, Follow.followed_id == actor.id)))
    for note in await session.scalars(select(Note).where(Note.actor_id == actor.id)):
        await notes.delete_note(session, note, federate=False)
    discussions: dict[int, None] = {}  # in order, once each
    for contribution in await session.scalars(select(Contribution).where(
            Contribution.author_id == actor.id, Contribution.deleted_at.is_(None))
            .order_by(Contribution.id)):
        # Its Create and the group's Announces are withdrawn too (outbox.withdraw, rule 24).
        await contributions.delete_contribution(session, contribution, federate=False)
        discussions[contribution.discussion_id] = None
    await reactions.withdraw_all(session, actor)
    # Its budget projects not yet voted on, and its comments on projects, become tombstones.
    await budget_projects.erase_author(session, actor, utcnow())
    for discussion_id in discussions:
        # The group passes the account's Delete on, as it does a participant's Delete of one post.
        if await documents.discussion_of(session, discussion_id) is not None:
            await outbox.emit(session, outbox.GROUP_RELAYED, discussion_id=discussion_id,
                              activity=ctx.doc)
    return "actor deleted"
