"""Moderation fan-out: a report a moderator forwards becomes a ``Flag`` from our instance actor to the
reported account's node (as Mastodon does: the reporter stays anonymous); a change of an
organisation's moderators becomes ``Add``/``Remove`` from each of its discussions' Groups (FEP-1b12)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from activities.flags import flag_to_as
from activities.moderators import moderators_change
from federation import participation_documents as documents
from federation.outbound.publisher import Publisher
from node import visibility
from node.models import Actor, Report
from node.services import actors, discussions, follows, reports
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
    await fanout.publish(instance, doc, [account.delivery_inbox], level=visibility.PUBLIC, listed=False)


async def moderators_changed(fanout: Publisher, organization_id: int, person_id: int, added: bool) -> None:
    """guard → load → convert → send: each federating discussion's Group sends Add/Remove{person,
    target: its moderators collection} to its followers. Public, so it answers at its id like the
    group's other activities; a group without remote followers sends nothing (its collection says it)."""
    organization = await fanout.session.get(Actor, organization_id)
    person = await fanout.session.get(Actor, person_id)
    if organization is None or person is None or not person.local:
        return
    kind = "Add" if added else "Remove"
    for discussion in await discussions.list_for(fanout.session, organization, status=None):
        group = discussion.group
        inboxes = await follows.delivery_inboxes(fanout.session, group) if documents.federates(discussion) else []
        if not inboxes:
            continue
        doc = moderators_change(kind, fanout.new_id(), group.ap_id, person.ap_id,
                                fanout.rt.uris.discussion_moderators(group.ap_id), group.followers_url)
        await fanout.publish(group, doc, inboxes, level=visibility.PUBLIC, listed=True)


BUILDERS: dict[str, Callable[..., Awaitable[None]]] = {
    reports.REPORT_FORWARDED: report_forwarded,
    actors.MODERATORS_CHANGED: moderators_changed,
}
