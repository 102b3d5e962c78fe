"""FEP-1b12 relays: a discussion's Group passes on what is posted in it, at the discussion's level."""

from __future__ import annotations

from activities.groups import group_announce, group_announce_id
from activities.normalize import id_of
from federation import participation_documents as documents
from federation.outbound.audience import inboxes as audience
from federation.outbound.publisher import Publisher
from federation.outbound.registry import builds
from node import visibility
from node.models import Discussion
from node.services.outbox import GROUP_RELAYED


async def in_group(p: Publisher, discussion: Discussion, level: str, activity: dict, *,
                   object_ap_id: str | None, announce_object: bool = False, listed: bool = False) -> None:
    """The group re-sends a participant's activity, unchanged, to its followers (FEP-1b12) — at
    ``followers`` level only those who are approved followers of the organisation (audience.py).

    For a Create it also sends Announce(<object id>), which Mastodon shows as a boost (it drops
    Announce(Create)); both forms go to every follower, as Lemmy does: a follower's software is not
    known for sure, and each side ignores the form it does not read (FEDERATION.md). Not for a
    ``followers`` discussion: Mastodon refuses to boost what is not public, and fetching the
    object takes a signed fetch by an approved follower anyway. Both carry ``object_ap_id`` so
    that deleting the object withdraws them (node/services/outbox.withdraw)."""
    group = discussion.group
    inboxes = await audience(p.session, level, organization=discussion.organization, followed=[group])
    org = discussion.organization_id
    await p.publish(group, group_announce(p.new_id(), group.ap_id, activity, group.followers_url,
                                          level=level),
                    inboxes, level=level, organization_id=org, object_ap_id=object_ap_id,
                    listed=listed)
    if announce_object and object_ap_id and visibility.admits(level, visibility.NOBODY):
        await p.publish(group, group_announce_id(p.new_id(), group.ap_id, object_ap_id,
                                                 group.followers_url, level=level),
                        inboxes, level=level, organization_id=org, object_ap_id=object_ap_id,
                        listed=False)


@builds(GROUP_RELAYED)
async def group_relayed(p: Publisher, discussion_id: int, activity: dict) -> None:
    """A remote participant's accepted Update or Delete of a contribution, passed on."""
    discussion = await documents.discussion_of(p.session, discussion_id)
    if discussion is None:
        return
    level = await documents.discussion_level(p.session, discussion)
    await in_group(p, discussion, level, activity, object_ap_id=id_of(activity.get("object")))
