"""Inbound coalition membership (FEDERATION.md "Coalitions and campaigns").

On the coalition's home: an organisation's ``Join`` and ``Leave`` of a coalition hosted here, and
its ``Accept``/``Reject`` of our ``Invite``. On a member organisation's node: the coalition's
``Invite`` of one of our organisations, its ``Accept``/``Reject`` of our ``Join``, its ``Reject``
of our ``Leave`` (the last admin stays) and its ``Remove`` of our organisation.

Who may act is the signer, never what the document claims (SECURITY.md rule 1): the inbox has
checked that the signer is the activity's ``actor``; here each handler checks that the signer is
the side of the membership that may send it, and touches only the signer's own membership."""

from __future__ import annotations

from sqlalchemy import select

from activities import coalitions as as2
from federation.inbound.context import Inbound
from federation.inbound.registry import handles
from node import visibility
from node.errors import Conflict
from node.models import Activity, Actor, Coalition, CoalitionStates
from node.services import coalitions, outbox
from node.services.actors import local_actor

NOT_A_COALITION = "ignored: {} is not for a coalition of this node"
ONLY_ORGANISATIONS = "ignored: only organisations can be members of a coalition"


async def _local(ctx: Inbound, ap_id: str | None) -> Actor | None:
    """The local actor whose id is exactly ``ap_id``."""
    kind = ctx.runtime.uris.kind_of(ap_id)
    if kind is None or kind.kind != "actor":
        return None
    return await local_actor(ctx.session, kind.username)


async def _coalition_here(ctx: Inbound, ap_id: str | None) -> Coalition | None:
    """The coalition hosted here at ``ap_id``, when it federates (a ``members`` coalition never
    leaves the node: nobody elsewhere can join it)."""
    coalition = await coalitions.of_actor(ctx.session, await _local(ctx, ap_id))
    if coalition is None or not visibility.federates(coalition.visibility):
        return None
    return coalition


async def _our_organisation(ctx: Inbound, ap_id: str | None) -> Actor | None:
    org = await _local(ctx, ap_id)
    return org if org is not None and org.type == "Organization" else None


def _remote_coalition(ctx: Inbound) -> bool:
    """A coalition speaking to a member's node is a remote Group (the signer)."""
    return ctx.actor.type == "Group" and not ctx.actor.local


# -- on the home --------------------------------------------------------------------------------

@handles("Join", "actor")
async def on_join(ctx: Inbound) -> str:
    """An organisation asks to join a coalition hosted here: its request waits for the admins."""
    join = as2.parse_join(ctx.doc)
    coalition = await _coalition_here(ctx, join.object)
    if coalition is None:
        return NOT_A_COALITION.format("the Join")
    if ctx.actor.type != "Organization":
        return ONLY_ORGANISATIONS
    row = await coalitions.receive_join(ctx.session, coalition.actor, ctx.actor, join.id)
    return f"join {row.state}"


@handles("Leave", "actor")
async def on_leave(ctx: Inbound) -> str:
    """An organisation leaves (or withdraws its request). The last admin cannot: the home keeps
    it and answers Reject{Leave}, so that the organisation's node keeps its membership too."""
    leave = as2.parse_leave(ctx.doc)
    coalition = await _coalition_here(ctx, leave.object)
    if coalition is None:
        return NOT_A_COALITION.format("the Leave")
    try:
        gone = await coalitions.receive_leave(ctx.session, coalition.actor, ctx.actor)
    except Conflict as exc:  # refused before anything changed
        await outbox.emit(ctx.session, coalitions.LEAVE_REFUSED, coalition_id=coalition.actor_id,
                          member_id=ctx.actor.id, leave_ap_id=leave.id)
        return f"leave refused: {exc.reason}"
    return "left" if gone else "ignored: not in the coalition"


async def _invite_answered(ctx: Inbound, answer: as2.Answer) -> str:
    """The organisation invited answers our Invite (its own invitation only: the signer is the
    Invite's target)."""
    coalition = await _coalition_here(ctx, answer.inner.actor)
    if coalition is None:
        return NOT_A_COALITION.format("the answer")
    row = await coalitions.membership(ctx.session, coalition.actor, ctx.actor)
    if row is None or row.state != CoalitionStates.invited:
        return "ignored: no invitation waiting for this organisation"
    if answer.inner.id and row.activity_ap_id and answer.inner.id != row.activity_ap_id:
        return "ignored: the answer is not about our latest invitation"
    await coalitions.receive_invite_answer(ctx.session, coalition.actor, ctx.actor, answer.accepted)
    return "invitation accepted" if answer.accepted else "invitation declined"


# -- on a member organisation's node ------------------------------------------------------------

@handles("Invite", "actor")
async def on_invite(ctx: Inbound) -> str:
    """A coalition (the signer, inviting to itself) invites one of our organisations: the
    invitation waits for its admins."""
    invite = as2.parse_invite(ctx.doc)
    if not _remote_coalition(ctx):
        return "ignored: only a coalition invites to itself"
    org = await _our_organisation(ctx, invite.target)
    if org is None:
        return "ignored: the Invite is not for one of our organisations"
    row = await coalitions.receive_invite(ctx.session, ctx.actor, org, invite.id)
    if row.state == CoalitionStates.invited:
        return "invitation waiting for the organisation's admins"
    return f"invitation: the membership is {row.state}"


async def _join_answered(ctx: Inbound, answer: as2.Answer) -> str:
    """The coalition (the signer, the Join's object) answers one of our organisations' Join."""
    org = await _our_organisation(ctx, answer.inner.actor)
    if org is None:
        return "ignored: the Join answered is not one of our organisations'"
    row = await coalitions.membership(ctx.session, ctx.actor, org)
    if row is None:
        return "ignored: no Join of ours to this coalition"
    if answer.accepted:
        return "join accepted" if await coalitions.mark_accepted(ctx.session, ctx.actor, org) \
            else f"ignored: the membership is {row.state} already"
    if row.state != CoalitionStates.requested:
        return f"ignored: the membership is {row.state}, not requested"
    await coalitions.mark_gone(ctx.session, ctx.actor, org)
    return "join refused"


async def _sent_leave(ctx: Inbound, org: Actor, leave_id: str) -> bool:
    """Whether ``org`` sent this coalition (the signer) a Leave — the one named, when named."""
    query = select(Activity.id).where(Activity.actor_id == org.id, Activity.type == "Leave",
                                      Activity.object_ap_id == ctx.actor.ap_id)
    if leave_id:
        query = query.where(Activity.ap_id == leave_id)
    return await ctx.session.scalar(query.limit(1)) is not None


async def _leave_refused(ctx: Inbound, answer: as2.Answer) -> str:
    """The coalition kept our organisation (its last admin): so do we — only for a Leave we sent
    it (nobody else makes our organisation a member of anything)."""
    org = await _our_organisation(ctx, answer.inner.actor)
    if org is None:
        return "ignored: the Leave refused is not one of our organisations'"
    if not await _sent_leave(ctx, org, answer.inner.id):
        return "ignored: the organisation sent no such Leave to this coalition"
    await coalitions.mark_kept(ctx.session, ctx.actor, org)
    return "leave refused by the coalition: still a member (its last admin)"


async def _answer(ctx: Inbound) -> str:
    answer = as2.parse_answer(ctx.doc)  # the signer is the answering side (checked there)
    if answer.inner.type == "Invite":
        return await _invite_answered(ctx, answer)
    if not _remote_coalition(ctx):
        return f"ignored: only a coalition answers a {answer.inner.type}"
    if answer.inner.type == "Join":
        return await _join_answered(ctx, answer)
    return await _leave_refused(ctx, answer)


@handles("Accept", "Join", "Invite")
async def on_accept(ctx: Inbound) -> str:
    return await _answer(ctx)


@handles("Reject", "Join", "Invite", "Leave")
async def on_reject(ctx: Inbound) -> str:
    return await _answer(ctx)


@handles("Remove", "actor")
async def on_remove(ctx: Inbound) -> str:
    """A coalition removes one of our organisations from its members."""
    remove = as2.parse_remove(ctx.doc)
    org = await _our_organisation(ctx, remove.object)
    if org is None:
        return "ignored: the Remove is not about one of our organisations"
    if not _remote_coalition(ctx) or await coalitions.membership(ctx.session, ctx.actor, org) is None:
        return "ignored: only a coalition the organisation is in removes it"
    await coalitions.mark_gone(ctx.session, ctx.actor, org)
    return "removed from the coalition"
