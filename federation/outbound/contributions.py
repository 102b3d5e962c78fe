"""Contributions out: a local contribution's Create and Delete, and the group's relays of them
and of remote replies accepted into the discussion (FEP-1b12)."""

from __future__ import annotations

from activities import wrappers
from activities.addressing import addressing
from federation import participation_documents as documents
from federation.outbound.audience import inboxes
from federation.outbound.groups import in_group
from federation.outbound.publisher import Publisher
from federation.outbound.registry import builds
from node.models import Actor, Contribution, Discussion
from node.services import contributions


async def live_contribution(p: Publisher, contribution_id: int
                            ) -> tuple[Contribution, Discussion, str] | None:
    """The contribution, its discussion when it federates, and their level."""
    contribution = await p.session.get(Contribution, contribution_id)
    if contribution is None:
        return None
    discussion = await documents.discussion_of(p.session, contribution.discussion_id)
    if discussion is None:
        return None
    return contribution, discussion, await documents.discussion_level(p.session, discussion)


async def _parent_author(p: Publisher, contribution: Contribution) -> Actor | None:
    parent = await p.session.get(Contribution, contribution.parent_id) if contribution.parent_id else None
    return parent.author if parent is not None else None


@builds(contributions.CONTRIBUTION_CREATED)
async def contribution_created(p: Publisher, contribution_id: int) -> None:
    """A local contribution: the author's Create(Note) to the group's followers (and, when anyone
    may read it, the author's followers and the author replied to); then the group's
    Announce(Create) and Announce(<note id>)."""
    found = await live_contribution(p, contribution_id)
    if found is None or found[0].deleted_at is not None or not found[0].local:
        return
    contribution, discussion, level = found
    author = contribution.author
    note = await documents.contribution_as(p.session, contribution, discussion)
    create = wrappers.create(p.new_id(), author.ap_id, note, note["published"])
    targets = await inboxes(p.session, level, organization=discussion.organization,
                            followed=[discussion.group], open_followed=[author],
                            concerned=[await _parent_author(p, contribution)])
    await p.publish(author, create, targets, level=level, organization_id=discussion.organization_id,
                    object_ap_id=contribution.ap_id)
    await in_group(p, discussion, level, create, object_ap_id=contribution.ap_id,
                   announce_object=True, listed=True)


@builds(contributions.CONTRIBUTION_RECEIVED)
async def contribution_received(p: Publisher, contribution_id: int, activity: dict) -> None:
    """A remote reply accepted into the discussion: the group re-announces the original Create."""
    found = await live_contribution(p, contribution_id)
    if found is None or found[0].deleted_at is not None:
        return
    contribution, discussion, level = found
    await in_group(p, discussion, level, activity, object_ap_id=contribution.ap_id,
                   announce_object=True, listed=True)


@builds(contributions.CONTRIBUTION_DELETED)
async def contribution_deleted(p: Publisher, contribution_id: int) -> None:
    """A local contribution deleted: the author's Delete, and the group's Announce(Delete), to
    whoever received its Create."""
    found = await live_contribution(p, contribution_id)
    if found is None:
        return
    contribution, discussion, level = found
    author, group = contribution.author, discussion.group
    to, cc = addressing(level, group=group.ap_id, followers=[group.followers_url],
                        open_followers=[author.followers_url])
    doc = wrappers.delete(p.new_id(), author.ap_id, contribution.ap_id, to=to, cc=cc)
    targets = await inboxes(p.session, level, organization=discussion.organization,
                            followed=[group], open_followed=[author],
                            concerned=[await _parent_author(p, contribution)])
    await p.publish(author, doc, targets, level=level, organization_id=discussion.organization_id,
                    object_ap_id=contribution.ap_id, listed=False)
    await in_group(p, discussion, level, doc, object_ap_id=contribution.ap_id)
