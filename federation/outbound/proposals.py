"""Proposals out: the proposal's Page (Create, then Update) and the organisation's official answer."""

from __future__ import annotations

from sqlalchemy import select

from activities import wrappers
from federation import participation_documents as documents
from federation.outbound.audience import inboxes
from federation.outbound.publisher import Publisher
from federation.outbound.registry import builds
from node.models import Activity, Actor, Proposal
from node.services import proposals


async def _audience(p: Publisher, proposal: Proposal) -> tuple[str, Actor, list[str]]:
    """(level, organisation, inboxes) of what a proposal publishes: the organisation's and the
    group's followers (and the author's when anyone may read it), at the level of its space and
    discussion."""
    _, discussion, _ = await documents.proposal_context(p.session, proposal)
    level = await documents.proposal_level(p.session, proposal)
    organization = await p.session.get(Actor, proposal.organization_id)
    targets = await inboxes(p.session, level, organization=organization,
                            followed=[organization, discussion.group if discussion else None],
                            open_followed=[proposal.author])
    return level, organization, targets


async def _proposal_page(p: Publisher, proposal_id: int, wrap) -> None:
    """guard → load → convert → wrap → send."""
    proposal = await p.session.get(Proposal, proposal_id)
    doc = await documents.proposal_as(p.session, proposal) if proposal else None
    if doc is None:
        return
    level, organization, targets = await _audience(p, proposal)
    author = proposal.author
    await p.publish(author, wrap(p.new_id(), author.ap_id, doc), targets, level=level,
                    organization_id=organization.id, object_ap_id=proposal.ap_id)


@builds(proposals.PROPOSAL_PUBLISHED)
async def proposal_published(p: Publisher, proposal_id: int) -> None:
    await _proposal_page(p, proposal_id, wrappers.create)


@builds(proposals.PROPOSAL_UPDATED)
async def proposal_updated(p: Publisher, proposal_id: int) -> None:
    await _proposal_page(p, proposal_id, wrappers.update)


@builds(proposals.ANSWER_PUBLISHED)
async def answer_published(p: Publisher, proposal_id: int) -> None:
    """The official answer: Create(Note) by the organisation, inReplyTo the proposal; a revised
    answer published again is an Update of the same Note."""
    proposal = await p.session.get(Proposal, proposal_id)
    doc = await documents.answer_as(p.session, proposal) if proposal else None
    if doc is None:
        return
    level, organization, targets = await _audience(p, proposal)
    create_id = f"{proposal.answer_ap_id}/activity"
    seen = await p.session.scalar(select(Activity.id).where(Activity.ap_id == create_id))
    activity = wrappers.update(p.new_id(), organization.ap_id, doc) if seen else \
        wrappers.create(create_id, organization.ap_id, doc, doc["published"])
    await p.publish(organization, activity, targets, level=level, organization_id=organization.id,
                    object_ap_id=proposal.answer_ap_id)
