"""Moderation fan-out: a report a moderator forwards becomes a ``Flag`` from our instance actor to the
reported account's node (as Mastodon does: the reporter stays anonymous)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from activities.flags import flag_to_as
from federation.participation_fanout import Publisher
from node.models import Report
from node.services import reports
from node.services.actors import local_actor
from node.uris import INSTANCE_USERNAME


async def report_forwarded(fanout: Publisher, report_id: int, comment: str = "") -> None:
    """guard → load → convert → send: Flag{object: [account, reported object], content}."""
    row = await fanout.session.get(Report, report_id)
    account = row.target_actor if row is not None else None
    instance = await local_actor(fanout.session, INSTANCE_USERNAME)
    if account is None or account.local or not account.delivery_inbox or instance is None:
        return
    objects = [account.ap_id] + ([row.target_ap_id] if row.target_ap_id != account.ap_id else [])
    doc = flag_to_as(fanout.new_id(), instance.ap_id, objects, comment or row.reason, account.ap_id)
    await fanout.publish(instance, doc, [account.delivery_inbox], public=False)


BUILDERS: dict[str, Callable[..., Awaitable[None]]] = {
    reports.REPORT_FORWARDED: report_forwarded,
}
