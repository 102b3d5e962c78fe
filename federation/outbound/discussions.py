"""Discussions out: the opening Page, created then updated (closed with its conclusion)."""

from __future__ import annotations

from activities import wrappers
from federation import participation_documents as documents
from federation.outbound.audience import inboxes
from federation.outbound.publisher import Publisher
from federation.outbound.registry import builds
from node.services import discussions


async def _discussion_page(p: Publisher, discussion_id: int, wrap) -> None:
    """guard → load → convert → wrap → send: the Page to the organisation's and the group's
    followers (and the author's, for a discussion anyone may read)."""
    discussion = await documents.discussion_of(p.session, discussion_id)
    if discussion is None:
        return
    level = await documents.discussion_level(p.session, discussion)
    organization = discussion.organization
    page = await documents.discussion_page_as(p.session, discussion)
    # A citizen discussion's page is sent by the resident it is attributed to (SECURITY.md rule 23).
    author = await documents.discussion_author(p.session, discussion)
    sender = author or organization
    doc = wrap(p.new_id(), sender.ap_id, page)
    targets = await inboxes(p.session, level, organization=organization,
                            followed=[organization, discussion.group],
                            open_followed=[author])
    await p.publish(sender, doc, targets, level=level, organization_id=organization.id,
                    object_ap_id=discussion.page_ap_id)


@builds(discussions.DISCUSSION_OPENED)
async def discussion_opened(p: Publisher, discussion_id: int) -> None:
    await _discussion_page(p, discussion_id, wrappers.create)


@builds(discussions.DISCUSSION_UPDATED)
async def discussion_updated(p: Publisher, discussion_id: int) -> None:
    await _discussion_page(p, discussion_id, wrappers.update)
