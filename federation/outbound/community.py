"""Community content out: crowdsourced articles and take-action initiatives in a discussion."""

from __future__ import annotations

from activities import wrappers
from federation import participation_documents as documents
from federation.outbound.audience import inboxes
from federation.outbound.publisher import Publisher
from federation.outbound.registry import builds
from node.models import Article, Discussion, Initiative
from node.services import community


async def _in_discussion(p: Publisher, row: Article | Initiative | None, convert) -> None:
    """guard → load → convert → wrap → send: the author's Create to the organisation's and the
    group's followers (and the author's own when anyone may read it)."""
    doc = await convert(p.session, row) if row else None
    if doc is None:
        return
    discussion = await p.session.get(Discussion, row.discussion_id)
    level = await documents.discussion_level(p.session, discussion)
    author = row.author
    create = wrappers.create(p.new_id(), author.ap_id, doc, doc["published"])
    targets = await inboxes(p.session, level, organization=discussion.organization,
                            followed=[discussion.organization, discussion.group],
                            open_followed=[author])
    await p.publish(author, create, targets, level=level, organization_id=discussion.organization_id,
                    object_ap_id=row.ap_id)


@builds(community.ARTICLE_CREATED)
async def article_created(p: Publisher, article_id: int) -> None:
    await _in_discussion(p, await p.session.get(Article, article_id), documents.article_as)


@builds(community.INITIATIVE_CREATED)
async def initiative_created(p: Publisher, initiative_id: int) -> None:
    await _in_discussion(p, await p.session.get(Initiative, initiative_id), documents.initiative_as)
