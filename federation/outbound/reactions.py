"""Reactions out: agreements and supports (Like), "I acted" (Join), and their Undo.

Each goes to the remote author of what it reacts to, and the discussion's group passes it on
(FEP-1b12); it is sent at the level of what it reacts to and carries that object's id, so that
deleting the object withdraws it (node/services/outbox.withdraw)."""

from __future__ import annotations

from activities import wrappers
from federation import participation_documents as documents
from federation.outbound.audience import concerned_inboxes
from federation.outbound.contributions import live_contribution
from federation.outbound.groups import in_group
from federation.outbound.publisher import Publisher
from federation.outbound.registry import builds
from node.models import (
    Actor,
    Agreement,
    Discussion,
    Initiative,
    InitiativeAction,
    Proposal,
    ProposalSupport,
)
from node.services import community, contributions, proposals


async def _react(p: Publisher, doc: dict, actor: Actor, author: Actor, target_id: str, *,
                 discussion: Discussion | None, level: str, organization_id: int,
                 listed: bool) -> None:
    """send: to the author of the target (at ``followers`` level only if an approved follower of
    the organisation: audience.concerned_inboxes), then the group's relay."""
    organization = await p.session.get(Actor, organization_id)
    targets = await concerned_inboxes(p.session, level, [author], organization)
    await p.publish(actor, doc, targets, level=level, organization_id=organization_id,
                    object_ap_id=target_id, listed=listed)
    if discussion is not None:
        await in_group(p, discussion, level, doc, object_ap_id=target_id)


async def _like(p: Publisher, like_id: str, actor: Actor, target_id: str, author: Actor, *,
                discussion: Discussion | None, level: str, organization_id: int, undo: bool) -> None:
    doc = wrappers.like(like_id, actor.ap_id, target_id, [author.ap_id])
    if undo:
        doc = wrappers.undo(p.new_id(), actor.ap_id, doc, [author.ap_id])
    await _react(p, doc, actor, author, target_id, discussion=discussion, level=level,
                 organization_id=organization_id, listed=not undo)


# ---- agreements: Like of a contribution

@builds(contributions.AGREEMENT_CREATED)
async def agreement_created(p: Publisher, agreement_id: int) -> None:
    agreement = await p.session.get(Agreement, agreement_id)
    found = await live_contribution(p, agreement.contribution_id) if agreement else None
    if found is None or found[0].deleted_at is not None:
        return
    contribution, discussion, level = found
    actor = await p.session.get(Actor, agreement.actor_id)
    await _like(p, agreement.ap_id, actor, contribution.ap_id, contribution.author,
                discussion=discussion, level=level, organization_id=discussion.organization_id,
                undo=False)


@builds(contributions.AGREEMENT_UNDONE)
async def agreement_undone(p: Publisher, agreement_ap_id: str, actor_id: int,
                           contribution_id: int) -> None:
    found = await live_contribution(p, contribution_id)
    actor = await p.session.get(Actor, actor_id)
    if found is None or actor is None:
        return
    contribution, discussion, level = found
    await _like(p, agreement_ap_id, actor, contribution.ap_id, contribution.author,
                discussion=discussion, level=level, organization_id=discussion.organization_id,
                undo=True)


# ---- supports: Like of a proposal

async def _supported(p: Publisher, proposal_id: int) -> tuple[Proposal, Discussion | None, str] | None:
    proposal = await p.session.get(Proposal, proposal_id)
    if proposal is None:
        return None
    ok, discussion, _ = await documents.proposal_context(p.session, proposal)
    return (proposal, discussion, await documents.proposal_level(p.session, proposal)) if ok else None


@builds(proposals.SUPPORT_CREATED)
async def support_created(p: Publisher, support_id: int) -> None:
    support = await p.session.get(ProposalSupport, support_id)
    found = await _supported(p, support.proposal_id) if support else None
    if found is None:
        return
    proposal, discussion, level = found
    actor = await p.session.get(Actor, support.actor_id)
    await _like(p, support.ap_id, actor, proposal.ap_id, proposal.author, discussion=discussion,
                level=level, organization_id=proposal.organization_id, undo=False)


@builds(proposals.SUPPORT_UNDONE)
async def support_undone(p: Publisher, support_ap_id: str, actor_id: int, proposal_id: int) -> None:
    found = await _supported(p, proposal_id)
    actor = await p.session.get(Actor, actor_id)
    if found is None or actor is None:
        return
    proposal, discussion, level = found
    await _like(p, support_ap_id, actor, proposal.ap_id, proposal.author, discussion=discussion,
                level=level, organization_id=proposal.organization_id, undo=True)


# ---- "I acted": Join of an initiative

async def _join(p: Publisher, join_id: str, actor_id: int, initiative_id: int, *, undo: bool) -> None:
    """Join(initiative) (or its Undo) to its author if remote, passed on by the group."""
    initiative = await p.session.get(Initiative, initiative_id)
    discussion = await documents.discussion_of(p.session, initiative.discussion_id) if initiative else None
    actor = await p.session.get(Actor, actor_id)
    if discussion is None or actor is None:
        return
    level = await documents.discussion_level(p.session, discussion)
    author = initiative.author
    doc = wrappers.join(join_id, actor.ap_id, initiative.ap_id, [author.ap_id])
    if undo:
        doc = wrappers.undo(p.new_id(), actor.ap_id, doc, [author.ap_id])
    await _react(p, doc, actor, author, initiative.ap_id, discussion=discussion, level=level,
                 organization_id=discussion.organization_id, listed=not undo)


@builds(community.INITIATIVE_JOINED)
async def initiative_joined(p: Publisher, action_id: int) -> None:
    action = await p.session.get(InitiativeAction, action_id)
    if action is not None:
        await _join(p, action.ap_id, action.actor_id, action.initiative_id, undo=False)


@builds(community.INITIATIVE_LEFT)
async def initiative_left(p: Publisher, join_ap_id: str, actor_id: int, initiative_id: int) -> None:
    await _join(p, join_ap_id, actor_id, initiative_id, undo=True)
