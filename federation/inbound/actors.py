"""Inbound actor documents: the signed ``Update`` of an actor by itself refreshes what we store."""

from __future__ import annotations

from activities.actors import as_to_actor
from activities.errors import InvalidDocument
from federation.inbound.context import Inbound
from federation.inbound.registry import handles


@handles("Update", "actor")
async def on_update_actor(ctx: Inbound) -> str:
    """The signed Update carries the actor's own new document (as Mastodon sends it)."""
    if ctx.target.ap_id != ctx.actor.ap_id:
        raise InvalidDocument("only an actor's own server may update it")  # SECURITY.md rule 1
    obj = ctx.doc.get("object")
    if not isinstance(obj, dict):
        return "ignored: Update without an embedded object"
    fresh = as_to_actor(obj)
    for field in ("name", "summary", "url", "inbox", "shared_inbox", "outbox"):
        setattr(ctx.actor, field, getattr(fresh, field))
    ctx.actor.followers_url = fresh.followers
    if fresh.public_key_pem and fresh.key_id == ctx.actor.key_id:
        ctx.actor.public_key_pem = fresh.public_key_pem
        ctx.runtime.keys.forget(fresh.key_id)
    return "actor updated"
