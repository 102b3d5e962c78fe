"""Inbound moderation: a remote ``Flag`` becomes reports in the queue; contributions of silenced or
pre-moderated remote accounts are held for review (SECURITY.md rule 22)."""

from __future__ import annotations

from collections.abc import Mapping

from activities.errors import InvalidDocument
from activities.flags import as_to_flag
from activities.normalize import first_type, id_of
from federation.moderation_policy import silenced
from federation.participation_handlers import Context, Generic
from node.services import contributions, reports

STORED = "contribution stored"  # what federation.participation_handlers.on_create answers


async def on_flag(ctx: Context) -> str:
    """A report from a remote actor (Mastodon: its instance actor; Lemmy: the reporting person)."""
    data = as_to_flag(ctx.doc)
    if data.actor != ctx.actor.ap_id:
        raise InvalidDocument("the Flag's actor is not its signer")  # SECURITY.md rule 2
    opened = await reports.receive_flag(ctx.session, ctx.actor, data.objects, data.content, data.ap_id)
    if not opened:
        return "ignored: the Flag names nothing of ours, or is already in the queue"
    return f"report opened: {len(opened)}"


async def _hold_if_needed(ctx: Context, outcome: str) -> str:
    """After a remote contribution is stored: hold it when its author is silenced, or when the
    organisation pre-moderates an account's first contributions."""
    obj = ctx.doc.get("object")
    if outcome != STORED or not isinstance(obj, dict):
        return outcome
    contribution = await contributions.by_ap_id(ctx.session, id_of(obj) or "")
    if contribution is None:
        return outcome
    if await silenced(ctx.session, ctx.actor.ap_id):
        await reports.hold(ctx.session, contribution, f"{reports.HELD}: the account is silenced")
        return f"{outcome}; held for review (the account is silenced)"
    if await reports.needs_premoderation(ctx.session, contribution):
        await reports.hold(ctx.session, contribution, f"{reports.HELD}: pre-moderation")
        return f"{outcome}; held for review (pre-moderation)"
    return outcome


def moderated(handlers: Mapping[str, Generic]) -> dict[str, Generic]:
    """The dispatch table with ``Flag`` added and ``Create`` followed by the hold check."""
    create = handlers.get("Create")

    async def on_create(ctx: Context) -> str:
        outcome = await create(ctx)
        if first_type(ctx.doc.get("object")) is None:
            return outcome
        return await _hold_if_needed(ctx, outcome)

    table = {**handlers, "Flag": on_flag}
    if create is not None:
        table["Create"] = on_create
    return table
