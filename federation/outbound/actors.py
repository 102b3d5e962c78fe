"""Actors out: a local actor's changed document (an organisation's name, summary or logo)."""

from __future__ import annotations

from activities import wrappers
from federation.outbound.audience import followers_of
from federation.outbound.publisher import Publisher
from federation.outbound.registry import builds
from federation.participation_documents import local_actor_as
from node import visibility
from node.models import Actor
from node.services import outbox


@builds(outbox.ACTOR_UPDATED)
async def actor_updated(p: Publisher, actor_id: int) -> None:
    """Update{actor} to its followers: Mastodon refreshes the name, summary and avatar. An actor's
    document is public (a Group whose discussion does not federate has none: nothing is sent)."""
    actor = await p.session.get(Actor, actor_id)
    doc = await local_actor_as(p.session, p.rt.uris, actor) if actor else None
    if doc is None:
        return
    await p.publish(actor, wrappers.update_actor(p.new_id(), doc),
                    await followers_of(p.session, actor), level=visibility.PUBLIC,
                    object_ap_id=actor.ap_id)
