"""Inbound reactions: a Like of a contribution ("I agree") or of a proposal (a support), a Join
of an initiative ("I acted"), and their Undo — one handler for every kind, each kind one entry
(node/services/reactions.py holds the mechanism; a new kind is one more ``reacts`` call)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.normalize import id_of
from federation import participation_documents as documents
from federation.inbound.context import Inbound, Target, admitted, check_ids
from federation.inbound.registry import handles
from federation.inbound.targets import object_target
from node.errors import Conflict
from node.models import Contribution, Discussion, Initiative, Proposal, ProposalStates
from node.services import community, contributions, proposals, reactions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reacting:
    """How an activity becomes one kind of reaction: the spec, the target's table, where the
    target is (only those who may read it react: SECURITY.md rule 24), the outcomes' words."""

    spec: reactions.Reaction
    model: type  # the target's table, looked up by ap_id
    # the organisation and level of the target (node/visibility.py); None when it is gone
    placed: Callable[[AsyncSession, Any], Awaitable[tuple[int, str] | None]]
    what: str  # "contribution": "ignored: the contribution is not public"
    recorded: str  # "agreement recorded"
    already: str  # "already agreed"


REACTIONS: dict[tuple[str, str], Reacting] = {}  # (activity, kind of target) -> its reaction


async def _load(session: AsyncSession, how: Reacting, target: Target) -> Any:
    if isinstance(target.row, how.model):
        return target.row  # a remote contribution, resolved already
    return await session.scalar(select(how.model).where(how.model.ap_id == (target.ap_id or "")))


async def on_react(ctx: Inbound) -> str:
    """The signer reacts to one of our things (or a remote contribution in our discussions)."""
    session, activity = ctx.session, ctx.type or ""
    how = REACTIONS[(activity, ctx.target.kind)]
    target = await _load(session, how, ctx.target)
    placed = await how.placed(session, target) if target is not None else None
    if placed is None or not await admitted(ctx, *placed):
        return f"ignored: the {how.what} is not public"
    check_ids(ctx.doc["id"])
    try:
        added = await reactions.add(session, ctx.runtime.uris, how.spec, target, ctx.actor,
                                    ap_id=ctx.doc["id"])
    except Conflict as exc:
        # Refused politely (the author's own Like, SECURITY.md rule 23; a limit; a state): a
        # favourite is not an error on the sender's side.
        log.info("%s of %s by %s refused: %s", activity, target.ap_id, ctx.actor.ap_id, exc.reason)
        return f"ignored: {exc.reason}"
    return how.recorded if added else f"ignored: {how.already}"


def reacts(activity: str, kind: str, how: Reacting) -> None:
    """``activity`` of a ``kind`` of ours is the reaction ``how`` (and its Undo takes it back)."""
    REACTIONS[(activity, kind)] = how
    handles(activity, kind)(on_react)


@handles("Undo", "Like", "Join")
async def on_undo_reaction(ctx: Inbound) -> str:
    """Undo(Like) and Undo(Join), by the inner activity's id (embedded or bare), else by its
    object; only the signer's own are found, since every look-up is by the signed actor."""
    session, actor, activity = ctx.session, ctx.actor, ctx.target.kind
    if ctx.target.ap_id:
        spec = await reactions.withdraw_by_id(session, actor, ctx.target.ap_id)
        if spec is not None:
            return f"{spec.name} withdrawn"
    inner = ctx.target.row if isinstance(ctx.target.row, dict) else {}
    object_id = id_of(inner.get("object"))
    if object_id:
        target = await object_target(ctx, object_id)
        how = REACTIONS.get((activity, target.kind))
        row = await _load(session, how, target) if how is not None else None
        if row is not None and await reactions.withdraw(session, how.spec, actor, target=row):
            return f"{activity} withdrawn"
    return f"ignored: no matching {activity}"


async def _in_discussion(session: AsyncSession, row: Contribution | Initiative) -> tuple[int, str] | None:
    discussion = await session.get(Discussion, row.discussion_id)
    if row.deleted_at is not None or discussion is None:
        return None
    return discussion.organization_id, await documents.discussion_level(session, discussion)


async def _proposal_in(session: AsyncSession, proposal: Proposal) -> tuple[int, str] | None:
    if proposal.deleted_at is not None or proposal.state not in ProposalStates.PUBLIC:
        return None
    return proposal.organization_id, await documents.proposal_level(session, proposal)


reacts("Like", "contribution", Reacting(contributions.AGREEMENT, Contribution, _in_discussion,
                                        "contribution", "agreement recorded", "already agreed"))
reacts("Like", "proposal", Reacting(proposals.SUPPORT, Proposal, _proposal_in,
                                    "proposal", "support recorded", "already supported"))
reacts("Join", "initiative", Reacting(community.ACTION, Initiative, _in_discussion,
                                      "initiative", "action recorded", "already acted"))
