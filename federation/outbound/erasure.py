"""Erasure, outbound: Delete of each erased object to exactly the inboxes that received it, and
Delete{Person} to every inbox that heard from the person (FEDERATION.md, "What we send")."""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from activities import wrappers
from activities.addressing import addressing
from activities.notes import tombstone_to_as
from federation import participation_documents as documents
from federation.outbound.groups import in_group
from federation.outbound.publisher import Publisher
from federation.outbound.registry import builds
from node import visibility
from node.models import (
    Activity,
    Actor,
    Article,
    Contribution,
    Delivery,
    DeliveryStates,
    Discussion,
    Initiative,
    Proposal,
    utcnow,
)
from node.services.erasure import ACTOR_ERASED, OBJECT_ERASED


def _carries(document: dict, object_ap_id: str) -> bool:
    """Whether an activity document carries the object: as its object, or inside the activity an
    Announce re-sends (FEP-1b12), by id or embedded."""
    inner = document.get("object")
    for _ in range(3):
        if inner == object_ap_id or (isinstance(inner, dict) and inner.get("id") == object_ap_id):
            return True
        inner = inner.get("object") if isinstance(inner, dict) else None
    return False


async def _senders(session: AsyncSession, object_ap_id: str, author_id: int) -> set[int]:
    """The actors that may have sent the object: its author, and the group of its discussion."""
    senders = {author_id}
    for model in (Contribution, Article, Initiative, Proposal):
        discussion_id = await session.scalar(select(model.discussion_id).where(model.ap_id == object_ap_id))
        if discussion_id is not None:
            group_id = await session.scalar(select(Discussion.group_id).where(Discussion.id == discussion_id))
            if group_id is not None:
                senders.add(group_id)
            break
    return senders


async def carriers(session: AsyncSession, object_ap_id: str, author_id: int) -> list[Activity]:
    """The activities we published that carried the object. ``Activity.object_ap_id`` says so;
    rows stored before builders filled it are recognised by their document (author's or group's)."""
    rows = await session.scalars(select(Activity).where(or_(
        Activity.object_ap_id == object_ap_id,
        and_(Activity.object_ap_id.is_(None),
             Activity.actor_id.in_(await _senders(session, object_ap_id, author_id))))))
    return [row for row in rows if row.object_ap_id == object_ap_id or _carries(row.document, object_ap_id)]


async def inboxes_of(session: AsyncSession, activity_ids: list[int]) -> set[str]:
    """The inboxes those activities went to (or are still going to), not those that gave up."""
    if not activity_ids:
        return set()
    rows = await session.scalars(select(Delivery.inbox).where(
        Delivery.activity_id.in_(activity_ids), Delivery.state != DeliveryStates.failed))
    return set(rows)


@builds(OBJECT_ERASED)
async def object_erased(publisher: Publisher, actor_id: int, object_ap_id: str, former_type: str) -> None:
    """Delete{Tombstone} by the author to every inbox that received an activity carrying the
    object (its Create, the group's Announces, Updates) and to nobody else."""
    session = publisher.session
    actor = await session.get(Actor, actor_id)
    if actor is None:
        return
    sent = await carriers(session, object_ap_id, actor_id)
    inboxes = await inboxes_of(session, [a.id for a in sent])
    if not inboxes:
        return
    # The Delete is as visible as what it deletes: the strictest level it was sent at.
    level = visibility.stricter(*(a.level for a in sent))
    organization_id = next((a.organization_id for a in sent if a.organization_id), None)
    to, cc = addressing(level, followers=[actor.followers_url])
    doc = wrappers.delete(publisher.new_id(), actor.ap_id, object_ap_id, to=to, cc=cc)
    tombstone = tombstone_to_as(object_ap_id, former_type, utcnow())
    tombstone.pop("@context", None)
    doc["object"] = tombstone
    await publisher.publish(actor, doc, sorted(inboxes), level=level, organization_id=organization_id,
                            object_ap_id=object_ap_id, listed=False)
    await _relay_in_group(publisher, object_ap_id, doc)


async def _relay_in_group(publisher: Publisher, object_ap_id: str, delete: dict) -> None:
    """A contribution's Delete is also announced by its discussion's Group (FEP-1b12), as for any
    deleted contribution: the group's followers got the contribution through the group, and may
    never have fetched the erased person's key, which no longer answers (410)."""
    session = publisher.session
    discussion_id = await session.scalar(select(Contribution.discussion_id)
                                         .where(Contribution.ap_id == object_ap_id))
    discussion = await documents.discussion_of(session, discussion_id)
    if discussion is not None:
        await in_group(publisher, discussion, await documents.discussion_level(session, discussion),
                       delete, object_ap_id=object_ap_id)


@builds(ACTOR_ERASED)
async def actor_erased(publisher: Publisher, actor_id: int, inboxes: list[str]) -> None:
    """Delete{Person} (``object``: the actor's id, as Mastodon reads it) to the inboxes of the
    person's followers (captured when the follows were removed) and to every inbox that received
    anything the person sent or wrote."""
    session = publisher.session
    actor = await session.get(Actor, actor_id)
    if actor is None:
        return
    sent = list(await session.scalars(select(Activity.id).where(Activity.actor_id == actor_id)))
    objects = [ap_id for model, author in ((Contribution, Contribution.author_id),
                                           (Proposal, Proposal.author_id),
                                           (Article, Article.author_id),
                                           (Initiative, Initiative.author_id))
               for ap_id in await session.scalars(select(model.ap_id).where(author == actor_id))]
    for ap_id in objects:
        sent += [a.id for a in await carriers(session, ap_id, actor_id)]
    targets = set(inboxes) | await inboxes_of(session, sent)
    if not targets:
        return
    to, cc = addressing(visibility.PUBLIC, followers=[actor.followers_url])
    doc = wrappers.delete(publisher.new_id(), actor.ap_id, actor.ap_id, to=to, cc=cc)
    await publisher.publish(actor, doc, sorted(targets), level=visibility.PUBLIC,
                            object_ap_id=actor.ap_id, listed=False)
