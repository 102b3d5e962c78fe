"""Participation fan-out: outbox events of discussions, proposals and initiatives become activities."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select

from activities import wrappers
from activities.groups import group_announce, group_announce_id
from activities.normalize import ids_of
from activities.vocabulary import PUBLIC, is_public
from federation import participation_documents as documents
from federation.outbound.publisher import Publisher
from node import visibility
from node.models import (
    Activity,
    Actor,
    Agreement,
    Article,
    Contribution,
    Discussion,
    Initiative,
    InitiativeAction,
    Proposal,
    ProposalSupport,
)
from node.services import community, contributions, discussions, follows, proposals

# Inbound handlers emit this when a remote participant's Update or Delete of a contribution was
# accepted: the group passes it on to its followers (FEP-1b12).
GROUP_RELAYED = "participation.group_relayed"


async def _followers(fanout: Publisher, *actors: Actor | None) -> list[str]:
    """The (shared) inboxes of the actors' remote followers."""
    inboxes: list[str] = []
    for actor in actors:
        if actor is not None:
            inboxes += await follows.delivery_inboxes(fanout.session, actor)
    return inboxes


def _inbox_of(actor: Actor | None) -> list[str]:
    """A remote actor's inbox (the author of what a local user replies to, likes or joins)."""
    return [actor.delivery_inbox] if actor is not None and not actor.local and actor.delivery_inbox else []


async def _in_group(fanout: Publisher, discussion: Discussion, activity: dict, *,
                    object_id: str | None = None, public: bool = False) -> None:
    """FEP-1b12: the group re-sends a participant's activity, unchanged, to its followers.

    For a Create it also sends Announce(<object id>), which Mastodon shows as a boost (it drops
    Announce(Create)). Both forms go to every follower, as Lemmy does: a follower's software is
    not known for sure, and each side ignores the form it does not read (FEDERATION.md)."""
    group = discussion.group
    inboxes = await _followers(fanout, group)
    addressed = is_public(ids_of(activity.get("to")) + ids_of(activity.get("cc")))
    await fanout.publish(group, group_announce(fanout.new_id(), group.ap_id, activity,
                                               group.followers_url), inboxes,
                         level=visibility.PUBLIC, listed=public and addressed)
    if object_id is not None:
        await fanout.publish(group, group_announce_id(fanout.new_id(), group.ap_id, object_id,
                                                      group.followers_url, public=addressed),
                             inboxes, level=visibility.PUBLIC, listed=False)


# ---- discussions and contributions

async def _discussion_page(fanout: Publisher, discussion_id: int, wrap) -> None:
    discussion = await documents.discussion_of(fanout.session, discussion_id)
    if discussion is None:
        return
    organization = discussion.organization
    page = await documents.discussion_page_as(fanout.session, discussion)
    # A citizen discussion's page is sent by the resident it is attributed to (SECURITY.md rule 23).
    author = await documents.discussion_author(fanout.session, discussion)
    sender = author or organization
    doc = wrap(fanout.new_id(), sender.ap_id, page)
    inboxes = await _followers(fanout, organization, discussion.group, author)
    await fanout.publish(sender, doc, inboxes, level=visibility.PUBLIC, listed=True)


async def discussion_opened(fanout: Publisher, discussion_id: int) -> None:
    await _discussion_page(fanout, discussion_id, wrappers.create)


async def discussion_updated(fanout: Publisher, discussion_id: int) -> None:
    await _discussion_page(fanout, discussion_id, wrappers.update)


async def _live_contribution(fanout: Publisher, contribution_id: int
                             ) -> tuple[Contribution, Discussion] | None:
    contribution = await fanout.session.get(Contribution, contribution_id)
    if contribution is None:
        return None
    discussion = await documents.discussion_of(fanout.session, contribution.discussion_id)
    return (contribution, discussion) if discussion is not None else None


async def _parent_author(fanout: Publisher, contribution: Contribution) -> Actor | None:
    parent = await fanout.session.get(Contribution, contribution.parent_id) if contribution.parent_id else None
    return parent.author if parent is not None else None


async def contribution_created(fanout: Publisher, contribution_id: int) -> None:
    """A local contribution: the author's Create(Note) to their followers, the group's followers
    and the author replied to; then the group's Announce(Create) and Announce(<note id>)."""
    found = await _live_contribution(fanout, contribution_id)
    if found is None or found[0].deleted_at is not None or not found[0].local:
        return
    contribution, discussion = found
    author = contribution.author
    note = await documents.contribution_as(fanout.session, contribution, discussion)
    create = wrappers.create(fanout.new_id(), author.ap_id, note, note["published"])
    inboxes = await _followers(fanout, author, discussion.group)
    inboxes += _inbox_of(await _parent_author(fanout, contribution))
    await fanout.publish(author, create, inboxes, level=visibility.PUBLIC, listed=True)
    await _in_group(fanout, discussion, create, object_id=contribution.ap_id, public=True)


async def contribution_received(fanout: Publisher, contribution_id: int, activity: dict) -> None:
    """A remote reply accepted into the discussion: the group re-announces the original Create."""
    found = await _live_contribution(fanout, contribution_id)
    if found is None or found[0].deleted_at is not None:
        return
    contribution, discussion = found
    await _in_group(fanout, discussion, activity, object_id=contribution.ap_id, public=True)


async def contribution_deleted(fanout: Publisher, contribution_id: int) -> None:
    """A local contribution deleted: the author's Delete, and the group's Announce(Delete)."""
    found = await _live_contribution(fanout, contribution_id)
    if found is None:
        return
    contribution, discussion = found
    author, group = contribution.author, discussion.group
    doc = wrappers.delete(fanout.new_id(), author.ap_id, contribution.ap_id, to=[PUBLIC],
                          cc=[group.ap_id, group.followers_url, author.followers_url])
    inboxes = await _followers(fanout, author, group)
    inboxes += _inbox_of(await _parent_author(fanout, contribution))
    await fanout.publish(author, doc, inboxes, level=visibility.PUBLIC, listed=False)
    await _in_group(fanout, discussion, doc)


async def group_relayed(fanout: Publisher, discussion_id: int, activity: dict) -> None:
    discussion = await documents.discussion_of(fanout.session, discussion_id)
    if discussion is not None:
        await _in_group(fanout, discussion, activity)


# ---- agreements and supports (Like), "I acted" (Join)

async def _like(fanout: Publisher, like_id: str, actor: Actor, target_id: str, author: Actor,
                discussion: Discussion | None, *, undo: bool) -> None:
    """A local Like (or its Undo) to the liked object's remote author; the group passes it on."""
    doc = wrappers.like(like_id, actor.ap_id, target_id, [author.ap_id])
    if undo:
        doc = wrappers.undo(fanout.new_id(), actor.ap_id, doc, [author.ap_id])
    await fanout.publish(actor, doc, _inbox_of(author), level=visibility.PUBLIC, listed=not undo)
    if discussion is not None:
        await _in_group(fanout, discussion, doc)


async def agreement_created(fanout: Publisher, agreement_id: int) -> None:
    agreement = await fanout.session.get(Agreement, agreement_id)
    found = await _live_contribution(fanout, agreement.contribution_id) if agreement else None
    if found is None or found[0].deleted_at is not None:
        return
    contribution, discussion = found
    actor = await fanout.session.get(Actor, agreement.actor_id)
    await _like(fanout, agreement.ap_id, actor, contribution.ap_id, contribution.author,
                discussion, undo=False)


async def agreement_undone(fanout: Publisher, agreement_ap_id: str, actor_id: int,
                           contribution_id: int) -> None:
    found = await _live_contribution(fanout, contribution_id)
    actor = await fanout.session.get(Actor, actor_id)
    if found is None or actor is None:
        return
    contribution, discussion = found
    await _like(fanout, agreement_ap_id, actor, contribution.ap_id, contribution.author,
                discussion, undo=True)


async def _supported(fanout: Publisher, proposal_id: int) -> tuple[Proposal, Discussion | None] | None:
    proposal = await fanout.session.get(Proposal, proposal_id)
    if proposal is None:
        return None
    ok, discussion, _ = await documents.proposal_context(fanout.session, proposal)
    return (proposal, discussion) if ok else None


async def support_created(fanout: Publisher, support_id: int) -> None:
    support = await fanout.session.get(ProposalSupport, support_id)
    found = await _supported(fanout, support.proposal_id) if support else None
    if found is None:
        return
    proposal, discussion = found
    actor = await fanout.session.get(Actor, support.actor_id)
    await _like(fanout, support.ap_id, actor, proposal.ap_id, proposal.author, discussion,
                undo=False)


async def support_undone(fanout: Publisher, support_ap_id: str, actor_id: int,
                         proposal_id: int) -> None:
    found = await _supported(fanout, proposal_id)
    actor = await fanout.session.get(Actor, actor_id)
    if found is None or actor is None:
        return
    proposal, discussion = found
    await _like(fanout, support_ap_id, actor, proposal.ap_id, proposal.author, discussion,
                undo=True)


async def _join(fanout: Publisher, join_id: str, actor_id: int, initiative_id: int, *, undo: bool) -> None:
    """"I acted": Join(initiative) (or its Undo) to its author if remote, passed on by the group."""
    initiative = await fanout.session.get(Initiative, initiative_id)
    discussion = await documents.discussion_of(fanout.session, initiative.discussion_id) \
        if initiative else None
    actor = await fanout.session.get(Actor, actor_id)
    if discussion is None or actor is None:
        return
    author = initiative.author
    doc = wrappers.join(join_id, actor.ap_id, initiative.ap_id, [author.ap_id])
    if undo:
        doc = wrappers.undo(fanout.new_id(), actor.ap_id, doc, [author.ap_id])
    await fanout.publish(actor, doc, _inbox_of(author), level=visibility.PUBLIC, listed=True)
    await _in_group(fanout, discussion, doc)


async def initiative_joined(fanout: Publisher, action_id: int) -> None:
    action = await fanout.session.get(InitiativeAction, action_id)
    if action is not None:
        await _join(fanout, action.ap_id, action.actor_id, action.initiative_id, undo=False)


async def initiative_left(fanout: Publisher, join_ap_id: str, actor_id: int, initiative_id: int) -> None:
    await _join(fanout, join_ap_id, actor_id, initiative_id, undo=True)


# ---- proposals, official answers, articles, initiatives (Create/Update of Page, Note, Article)

async def _proposal_page(fanout: Publisher, proposal_id: int, wrap) -> None:
    proposal = await fanout.session.get(Proposal, proposal_id)
    doc = await documents.proposal_as(fanout.session, proposal) if proposal else None
    if doc is None:
        return
    _, discussion, _ = await documents.proposal_context(fanout.session, proposal)
    organization = await fanout.session.get(Actor, proposal.organization_id)
    author = proposal.author
    inboxes = await _followers(fanout, author, organization, discussion.group if discussion else None)
    await fanout.publish(author, wrap(fanout.new_id(), author.ap_id, doc), inboxes, level=visibility.PUBLIC, listed=True)


async def proposal_published(fanout: Publisher, proposal_id: int) -> None:
    await _proposal_page(fanout, proposal_id, wrappers.create)


async def proposal_updated(fanout: Publisher, proposal_id: int) -> None:
    await _proposal_page(fanout, proposal_id, wrappers.update)


async def answer_published(fanout: Publisher, proposal_id: int) -> None:
    """The official answer: Create(Note) by the organisation, inReplyTo the proposal; a revised
    answer published again is an Update of the same Note."""
    proposal = await fanout.session.get(Proposal, proposal_id)
    doc = await documents.answer_as(fanout.session, proposal) if proposal else None
    if doc is None:
        return
    _, discussion, _ = await documents.proposal_context(fanout.session, proposal)
    organization = await fanout.session.get(Actor, proposal.organization_id)
    create_id = f"{proposal.answer_ap_id}/activity"
    seen = await fanout.session.scalar(select(Activity.id).where(Activity.ap_id == create_id))
    activity = wrappers.update(fanout.new_id(), organization.ap_id, doc) if seen else \
        wrappers.create(create_id, organization.ap_id, doc, doc["published"])
    inboxes = await _followers(fanout, organization, proposal.author,
                               discussion.group if discussion else None)
    await fanout.publish(organization, activity, inboxes, level=visibility.PUBLIC, listed=True)


async def _in_discussion(fanout: Publisher, row: Article | Initiative | None, convert) -> None:
    doc = await convert(fanout.session, row) if row else None
    if doc is None:
        return
    discussion = await fanout.session.get(Discussion, row.discussion_id)
    author = row.author
    create = wrappers.create(fanout.new_id(), author.ap_id, doc, doc["published"])
    inboxes = await _followers(fanout, author, discussion.organization, discussion.group)
    await fanout.publish(author, create, inboxes, level=visibility.PUBLIC, listed=True)


async def article_created(fanout: Publisher, article_id: int) -> None:
    article = await fanout.session.get(Article, article_id)
    await _in_discussion(fanout, article, documents.article_as)


async def initiative_created(fanout: Publisher, initiative_id: int) -> None:
    initiative = await fanout.session.get(Initiative, initiative_id)
    await _in_discussion(fanout, initiative, documents.initiative_as)


BUILDERS: dict[str, Callable[..., Awaitable[None]]] = {
    discussions.DISCUSSION_OPENED: discussion_opened,
    discussions.DISCUSSION_UPDATED: discussion_updated,
    contributions.CONTRIBUTION_CREATED: contribution_created,
    contributions.CONTRIBUTION_RECEIVED: contribution_received,
    contributions.CONTRIBUTION_DELETED: contribution_deleted,
    contributions.AGREEMENT_CREATED: agreement_created,
    contributions.AGREEMENT_UNDONE: agreement_undone,
    proposals.PROPOSAL_PUBLISHED: proposal_published,
    proposals.PROPOSAL_UPDATED: proposal_updated,
    proposals.ANSWER_PUBLISHED: answer_published,
    proposals.SUPPORT_CREATED: support_created,
    proposals.SUPPORT_UNDONE: support_undone,
    community.ARTICLE_CREATED: article_created,
    community.INITIATIVE_CREATED: initiative_created,
    community.INITIATIVE_JOINED: initiative_joined,
    community.INITIATIVE_LEFT: initiative_left,
    GROUP_RELAYED: group_relayed,
}
