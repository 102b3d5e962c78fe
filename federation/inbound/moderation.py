"""Inbound moderation: a remote ``Flag`` becomes reports in the queue; a contribution of a
silenced or pre-moderated remote account is held for review (SECURITY.md rule 22)."""

from __future__ import annotations

from activities.errors import InvalidDocument
from activities.flags import as_to_flag
from federation.inbound.context import Inbound
from federation.inbound.registry import handles
from federation.moderation_policy import silenced
from node.models import Contribution
from node.services import reports


@handles("Flag", "objects")
async def on_flag(ctx: Inbound) -> str:
    """A report from a remote actor (Mastodon: its instance actor; Lemmy: the reporting person)."""
    data = as_to_flag(ctx.doc)
    if data.actor != ctx.actor.ap_id:
        raise InvalidDocument("the Flag's actor is not its signer")  # SECURITY.md rule 2
    opened = await reports.receive_flag(ctx.session, ctx.actor, data.objects, data.content, data.ap_id)
    if not opened:
        return "ignored: the Flag names nothing of ours, or is already in the queue"
    return f"report opened: {len(opened)}"


async def hold_if_needed(ctx: Inbound, contribution: Contribution) -> str | None:
    """A step of storing a remote contribution (federation/inbound/contributions.py): hold it
    when its author is silenced, or when the organisation pre-moderates an account's first
    contributions. Says why it was held, or None."""
    if await silenced(ctx.session, ctx.actor.ap_id):
        await reports.hold(ctx.session, contribution, f"{reports.HELD}: the account is silenced")
        return "held for review (the account is silenced)"
    if await reports.needs_premoderation(ctx.session, contribution):
        await reports.hold(ctx.session, contribution, f"{reports.HELD}: pre-moderation")
        return "held for review (pre-moderation)"
    return None
