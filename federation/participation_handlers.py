"""Inbound participation: replies become contributions, Likes agree or support, Joins act."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.contributions import (
    CONTRIBUTION_TYPES,
    ContributionData,
    as_to_contribution,
    is_poll_vote,
    rendered_content,
    rendered_content_map,
)
from activities.errors import InvalidDocument
from activities.normalize import first_type, id_of, ids_of
from federation import participation_documents as documents
from federation.runtime import Runtime
from node.errors import Conflict, Forbidden
from node.models import (
    Actor,
    Agreement,
    Contribution,
    Discussion,
    Initiative,
    InitiativeAction,
    ProposalSupport,
    utcnow,
)
from node.services import community, contributions, discussions, notes, outbox, proposals
from node.services.actors import local_actor
from node.services.outbox import GROUP_RELAYED

log = logging.getLogger(__name__)
MAX_ID = 2048  # the length of our ap_id and url columns (PostgreSQL enforces it)


class Context(Protocol):
    """What these handlers read of federation.handlers.Inbound (which imports this module)."""

    runtime: Runtime
    session: AsyncSession
    doc: dict
    actor: Actor

    @property
    def object_id(self) -> str | None: ...


# A participation handler returns None when the activity is not about participation: the generic
# handler of the same type (federation.handlers) then runs.
Handler = Callable[[Context], Awaitable[str | None]]
Generic = Callable[[Context], Awaitable[str]]


async def _thread(ctx: Context, obj: dict) -> tuple[Discussion, Contribution | None] | None:
    """The discussion a post belongs to, and the contribution it answers: it replies to a
    contribution or to a discussion page, or it is addressed to a discussion's Group (FEP-1b12)."""
    session, uris = ctx.session, ctx.runtime.uris
    in_reply_to = id_of(obj.get("inReplyTo"))
    if in_reply_to:
        parent = await contributions.by_ap_id(session, in_reply_to)
        if parent is not None:
            return await session.get(Discussion, parent.discussion_id), parent
        discussion = await discussions.by_page(session, in_reply_to)
        if discussion is not None:
            return discussion, None
    addresses = ids_of(obj.get("audience")) + ids_of(obj.get("to")) + ids_of(obj.get("cc"))
    for address in dict.fromkeys(a for a in addresses if uris.is_local(a)):
        discussion = await discussions.by_group_ap_id(session, address)
        if discussion is not None:
            return discussion, None
    return None


def _check_ids(*ids: str | None) -> None:
    """Refuse (a 4xx outcome) an id that no column can hold, rather than fail the whole batch."""
    if any(i and len(i) > MAX_ID for i in ids):
        raise InvalidDocument(f"ids are limited to {MAX_ID} characters")


def _fields(data: ContributionData) -> dict:
    """What a remote post stores: its HTML (title, text, media links), and apart from it the
    content warning, the sensitive mark, its language and its other languages (SECURITY.md
    rule 21: shown faithfully; the warning and the language are rendered by the templates)."""
    return {
        "content_html": rendered_content(data),
        "content_warning": data.content_warning,
        "sensitive": data.sensitive,
        "language": data.language,
        "content_map": rendered_content_map(data) or None,
    }


async def on_create(ctx: Context) -> str | None:
    obj = ctx.doc.get("object")
    if not isinstance(obj, dict) or first_type(obj) not in CONTRIBUTION_TYPES:
        return None
    found = await _thread(ctx, obj)
    if found is None:
        return None
    discussion, parent = found
    if is_poll_vote(obj):
        return "ignored: a poll vote is not a contribution"  # Mastodon votes this way (is_poll_vote)
    data = as_to_contribution(obj)
    _check_ids(data.ap_id, data.url)
    if data.author != ctx.actor.ap_id:
        raise InvalidDocument("the object is attributed to someone else")
    if ctx.runtime.uris.is_local(data.ap_id):
        raise InvalidDocument("a remote actor cannot create objects with our ids")  # rule 11
    group = discussion.group.ap_id
    if not (data.public or group in data.addressed or data.audience == group):
        return None  # a private reply to the page is a message to the organisation, not a post
    if not documents.federates(discussion):
        return "ignored: this discussion takes no contributions from the fediverse"
    if discussion.official_only:
        raise Forbidden("only the organisation posts in this discussion")  # postingRestrictedToMods
    tombstone = await notes.note_by_ap_id(ctx.session, data.ap_id)
    if tombstone is not None and tombstone.deleted_at is not None:
        return "ignored: its Delete arrived first"  # rule 9
    _, created = await contributions.receive_remote(
        ctx.session, discussion, ctx.actor, ap_id=data.ap_id, parent=parent,
        published=data.published, url=data.url, activity=ctx.doc, **_fields(data))
    return "contribution stored" if created else "ignored: contribution already known"


async def _id_taken(session: AsyncSession, ap_id: str) -> bool:
    """A Like/Join id already recorded (for another object or actor of the same host)."""
    for model in (Agreement, ProposalSupport, InitiativeAction):
        if await session.scalar(select(model.id).where(model.ap_id == ap_id)):
            return True
    return False


async def on_like(ctx: Context) -> str | None:
    """Like of a contribution = "I agree"; of a proposal = a support (limits are respected)."""
    session, uris, target = ctx.session, ctx.runtime.uris, ctx.object_id or ""
    contribution = await contributions.by_ap_id(session, target)
    proposal = None if contribution else await proposals.by_ap_id(session, target)
    if contribution is None and proposal is None:
        return None
    _check_ids(ctx.doc["id"])
    if await _id_taken(session, ctx.doc["id"]):
        return "ignored: this Like id is already recorded"
    if contribution is not None:
        if contribution.deleted_at is not None or \
                await documents.discussion_of(session, contribution.discussion_id) is None:
            return "ignored: the contribution is not public"
        try:
            added = await contributions.agree(session, uris, contribution, ctx.actor,
                                              like_ap_id=ctx.doc["id"])
        except Conflict as exc:  # the author's own Like (SECURITY.md rule 23)
            return f"ignored: {exc.reason}"
        return "agreement recorded" if added else "ignored: already agreed"
    if not (await documents.proposal_context(session, proposal))[0]:
        return "ignored: the proposal is not public"
    try:
        added = await proposals.support(session, uris, proposal, ctx.actor, like_ap_id=ctx.doc["id"])
    except Conflict as exc:
        # Refused politely: a favourite is not an error on the sender's side.
        log.info("support of %s by %s refused: %s", proposal.ap_id, ctx.actor.ap_id, exc.reason)
        return f"ignored: {exc.reason}"
    return "support recorded" if added else "ignored: already supported"


async def on_join(ctx: Context) -> str | None:
    """Join of a take-action initiative = "I acted"."""
    initiative = await ctx.session.scalar(select(Initiative).where(
        Initiative.ap_id == (ctx.object_id or "")))
    if initiative is None:
        return None
    if await documents.discussion_of(ctx.session, initiative.discussion_id) is None:
        return "ignored: the initiative is not public"
    _check_ids(ctx.doc["id"])
    if await _id_taken(ctx.session, ctx.doc["id"]):
        return "ignored: this Join id is already recorded"
    added = await community.act(ctx.session, ctx.runtime.uris, initiative, ctx.actor,
                                join_ap_id=ctx.doc["id"])
    return "action recorded" if added else "ignored: already acted"


async def _withdraw_by_object(ctx: Context, kind: str, target: str) -> bool:
    """Undo of a Like/Join whose id we do not know: the signer's own one on that object."""
    session, actor = ctx.session, ctx.actor
    if kind == "Join":
        initiative = await session.scalar(select(Initiative).where(Initiative.ap_id == target))
        return bool(initiative) and await community.unact(session, actor, initiative=initiative)
    contribution = await contributions.by_ap_id(session, target)
    if contribution is not None:
        return await contributions.withdraw_agreement(session, actor, contribution=contribution)
    proposal = await proposals.by_ap_id(session, target)
    return bool(proposal) and await proposals.withdraw_support(session, actor, proposal=proposal)


async def on_undo(ctx: Context) -> str | None:
    """Undo(Like) and Undo(Join), by the Like's/Join's id (embedded or bare); only the signer's
    own are found, since every look-up is by the signed actor."""
    inner = ctx.doc.get("object")
    kind = first_type(inner) if isinstance(inner, dict) else None
    inner_id = id_of(inner)
    if kind not in (None, "Like", "Join") or not inner_id:
        return None
    session, actor = ctx.session, ctx.actor
    if kind in (None, "Like"):
        if await contributions.withdraw_agreement(session, actor, like_ap_id=inner_id):
            return "agreement withdrawn"
        if await proposals.withdraw_support(session, actor, like_ap_id=inner_id):
            return "support withdrawn"
    if kind in (None, "Join") and await community.unact(session, actor, join_ap_id=inner_id):
        return "action withdrawn"
    if kind is None:
        return None  # a bare id: perhaps a Follow's (the generic handler)
    target = id_of(inner.get("object"))
    if target and await _withdraw_by_object(ctx, kind, target):
        return f"{kind} withdrawn"
    return f"ignored: no matching {kind}"


async def _relay(ctx: Context, contribution: Contribution) -> None:
    """FEP-1b12: the group passes its participant's accepted Update/Delete on to its followers."""
    if await documents.discussion_of(ctx.session, contribution.discussion_id) is not None:
        await outbox.emit(ctx.session, GROUP_RELAYED, discussion_id=contribution.discussion_id,
                          activity=ctx.doc)


async def on_update(ctx: Context) -> str | None:
    obj = ctx.doc.get("object")
    if not isinstance(obj, dict) or first_type(obj) not in CONTRIBUTION_TYPES:
        return None
    contribution = await contributions.by_ap_id(ctx.session, id_of(obj) or "")
    if contribution is None:
        return None
    if contribution.local or contribution.author_id != ctx.actor.id:
        raise InvalidDocument("only its author may update a contribution")  # rule 1
    if contribution.deleted_at is not None:
        return "ignored: the contribution was deleted"
    data = as_to_contribution(obj)
    fields = _fields(data)
    contribution.content, contribution.updated = fields.pop("content_html"), data.updated or utcnow()
    for name, value in fields.items():
        setattr(contribution, name, value)
    await _relay(ctx, contribution)
    return "contribution updated"


async def on_delete(ctx: Context) -> str | None:
    session, target = ctx.session, ctx.object_id
    if target == ctx.actor.ap_id:
        # The account is gone: its contributions become tombstones; the generic handler then
        # removes its follows and notes.
        for contribution in await session.scalars(select(Contribution).where(
                Contribution.author_id == ctx.actor.id, Contribution.deleted_at.is_(None))):
            await contributions.delete_contribution(session, contribution, federate=False)
        return None
    contribution = await contributions.by_ap_id(session, target or "")
    if contribution is None:
        return None
    if contribution.author_id != ctx.actor.id:
        raise InvalidDocument("only the author's server may delete an object")  # rule 1, 9
    if contribution.deleted_at is not None:
        return "ignored: already deleted"
    await contributions.delete_contribution(session, contribution, federate=False)
    await _relay(ctx, contribution)
    return "contribution deleted"


async def on_follow(ctx: Context) -> str | None:
    """A discussion's Group is followed like any local actor (auto-accepted: FEP-1b12), unless
    its discussion does not federate; other Follows go to the generic handler."""
    username = ctx.runtime.uris.username_from_actor(ctx.object_id or "")
    group = await local_actor(ctx.session, username) if username else None
    if group is None or group.type != "Group":
        return None
    discussion = await discussions.by_group(ctx.session, group)
    if discussion is not None and not documents.federates(discussion):
        return "ignored: this discussion cannot be followed"
    return None


HANDLERS: dict[str, Handler] = {
    "Create": on_create,
    "Like": on_like,
    "Join": on_join,
    "Undo": on_undo,
    "Update": on_update,
    "Delete": on_delete,
    "Follow": on_follow,
}


def chained(generic: Mapping[str, Generic], first: Mapping[str, Handler]) -> dict[str, Generic]:
    """One dispatch table: ``first`` tries each activity, the generic handler runs on None."""

    def link(kind: str, handler: Handler) -> Generic:
        async def run(ctx: Context) -> str:
            outcome = await handler(ctx)
            if outcome is not None:
                return outcome
            fallback = generic.get(kind)
            return await fallback(ctx) if fallback else f"ignored: {kind} of nothing of ours"
        return run

    return {**generic, **{kind: link(kind, handler) for kind, handler in first.items()}}
