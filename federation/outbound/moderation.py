"""Moderation out: a report a moderator forwards becomes a ``Flag`` from our instance actor to the
reported account's node (as Mastodon does: the reporter stays anonymous); a change of an
organisation's moderators becomes ``Add``/``Remove`` from each of its discussions' Groups (FEP-1b12)."""

from __future__ import annotations

from activities.flags import flag_to_as
from activities.moderators import moderators_change
from federation import participation_documents as documents
from federation.outbound.audience import inboxes as audience
from federation.outbound.publisher import Publisher
from federation.outbound.registry import builds
from node import visibility
from node.models import Actor, Report
from node.services import actors, discussions, reports
from node.services.actors import local_actor
from node.uris import INSTANCE_USERNAME


@builds(reports.REPORT_FORWARDED)
async def report_forwarded(p: Publisher, report_id: int, comment: str = "") -> None:
    """guard → load → convert → send: Flag{object: [account, reported object], content}, to that
    account's node alone and never listed."""
    row = await p.session.get(Report, report_id)
    account = row.target_actor if row is not None else None
    instance = await local_actor(p.session, INSTANCE_USERNAME)
    if account is None or account.local or not account.delivery_inbox or instance is None:
        return
    objects = [account.ap_id] + ([row.target_ap_id] if row.target_ap_id != account.ap_id else [])
    doc = flag_to_as(p.new_id(), instance.ap_id, objects, comment or row.reason, account.ap_id)
    await p.publish(instance, doc, [account.delivery_inbox], level=visibility.PUBLIC,
                    object_ap_id=row.target_ap_id, listed=False)


@builds(actors.MODERATORS_CHANGED)
async def moderators_changed(p: Publisher, organization_id: int, person_id: int, added: bool) -> None:
    """guard → load → convert → send: each federating discussion's Group sends Add/Remove{person,
    target: its moderators collection} to its followers, at the discussion's level (so it
    answers at its id like the group's other activities); a group without remote followers sends
    nothing (its collection says it)."""
    organization = await p.session.get(Actor, organization_id)
    person = await p.session.get(Actor, person_id)
    if organization is None or person is None or not person.local:
        return
    kind = "Add" if added else "Remove"
    for discussion in await discussions.list_for(p.session, organization, status=None):
        level = await documents.discussion_level(p.session, discussion)
        group = discussion.group
        inboxes = await audience(p.session, level, organization=organization, followed=[group])
        if not inboxes:
            continue
        doc = moderators_change(kind, p.new_id(), group.ap_id, person.ap_id,
                                p.rt.uris.discussion_moderators(group.ap_id), group.followers_url,
                                level=level)
        await p.publish(group, doc, inboxes, level=level, organization_id=organization.id,
                        object_ap_id=person.ap_id)
