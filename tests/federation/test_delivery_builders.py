"""The outbound registry and publisher (federation/outbound/): every event kind has exactly one
builder, found by the package itself; the publisher stores what an activity carries and never
publishes at ``members`` level."""

from __future__ import annotations

import pkgutil
import sys

import pytest
from sqlalchemy import func, select

import federation.outbound as outbound
from federation.fanout import process_events
from federation.outbound import BUILDERS, Publisher, builds
from federation.outbound.registry import DuplicateBuilder
from node.db import transaction, writing
from node.models import Activity, Delivery, Note, OutboxEvent
from node.services import (
    actors,
    community,
    contributions,
    discussions,
    notes,
    outbox,
    proposals,
    reports,
)

KINDS = (
    outbox.NOTE_CREATED, outbox.NOTE_DELETED, outbox.FOLLOW_ACCEPTED, outbox.FOLLOW_REJECTED,
    outbox.FOLLOW_REQUESTED, outbox.FOLLOW_UNDONE, outbox.ACTOR_UPDATED, outbox.GROUP_RELAYED,
    discussions.DISCUSSION_OPENED, discussions.DISCUSSION_UPDATED,
    contributions.CONTRIBUTION_CREATED, contributions.CONTRIBUTION_RECEIVED,
    contributions.CONTRIBUTION_DELETED, contributions.AGREEMENT_CREATED,
    contributions.AGREEMENT_UNDONE, proposals.PROPOSAL_PUBLISHED, proposals.PROPOSAL_UPDATED,
    proposals.ANSWER_PUBLISHED, proposals.SUPPORT_CREATED, proposals.SUPPORT_UNDONE,
    community.ARTICLE_CREATED, community.INITIATIVE_CREATED, community.INITIATIVE_JOINED,
    community.INITIATIVE_LEFT, reports.REPORT_FORWARDED, actors.MODERATORS_CHANGED,
)


@pytest.mark.parametrize("kind", KINDS)
def test_registry__every_event_kind_has_a_builder(kind):
    """Each kind the services emit is built by a coroutine of a federation/outbound/ module."""
    builder = BUILDERS[kind]
    assert builder.__module__.startswith("federation.outbound.")


def test_registry__the_package_imports_each_of_its_modules():
    """Adding a feature is adding a module: the package imports every module it holds."""
    names = [m.name for m in pkgutil.iter_modules(outbound.__path__)]
    assert {"publisher", "registry", "notes", "groups"} <= set(names)
    assert all(f"federation.outbound.{name}" in sys.modules for name in names)


def test_registry__a_second_builder_for_a_kind_is_refused():
    """Two modules claiming one kind would leave one of them silently unused: refused at import."""
    kind = outbox.NOTE_CREATED
    with pytest.raises(DuplicateBuilder):
        builds(kind)(lambda p, **payload: None)
    assert builds(kind)(BUILDERS[kind]) is BUILDERS[kind]  # the same builder again is harmless


async def test_publisher__members_level_is_never_published(node):
    """publish() at ``members`` (or an unknown level) raises and stores no activity."""
    async with transaction(node.rt.sessions) as s:
        org = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
    for level in ("members", "secret"):
        async with writing(node.rt.sessions) as s:
            p = Publisher(node.rt, s)
            doc = {"id": p.new_id(), "type": "Create", "actor": org.ap_id, "object": "x"}
            with pytest.raises(ValueError):
                await p.publish(org, doc, ["https://elsewhere.example/inbox"], level=level)
    async with node.rt.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Activity)) == 0
        assert await s.scalar(select(func.count()).select_from(Delivery)) == 0


async def test_publisher__records_level_organisation_object_and_listing(node):
    """publish() stores the level, organisation and object; ``public`` (listed in the outbox) is
    true for public and unlisted only, and false whenever ``listed`` is false."""
    async with transaction(node.rt.sessions) as s:
        org = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
    cases = [("public", True, True), ("unlisted", True, True), ("followers", True, False),
             ("public", False, False)]
    async with writing(node.rt.sessions) as s:
        p = Publisher(node.rt, s)
        for n, (level, listed, _) in enumerate(cases):
            doc = {"id": p.new_id(), "type": "Create", "actor": org.ap_id, "object": f"o{n}"}
            await p.publish(org, doc, [], level=level, organization_id=org.id,
                            object_ap_id=f"o{n}", listed=listed)
    async with node.rt.sessions() as s:
        rows = list(await s.scalars(select(Activity).order_by(Activity.id)))
    assert [(a.level, a.organization_id, a.object_ap_id, a.public) for a in rows] == [
        (level, org.id, f"o{n}", public) for n, (level, _, public) in enumerate(cases)]


async def test_fanout__deleting_an_announcement_withdraws_its_create(node):
    """An organisation's announcement deleted: its Create leaves the outbox (withdrawn, no longer
    public), and its Delete is published carrying the same object."""
    async with transaction(node.rt.sessions) as s:
        org = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        note = await notes.publish_announcement(s, node.uris, org, "<p>Conseil jeudi</p>", "unlisted")
        note_id, ap_id = note.id, note.ap_id
    await process_events(node.rt)
    async with transaction(node.rt.sessions) as s:
        await notes.delete_note(s, await s.get(Note, note_id), federate=True)
    await process_events(node.rt)
    async with node.rt.sessions() as s:
        rows = list(await s.scalars(select(Activity).where(Activity.object_ap_id == ap_id)
                                    .order_by(Activity.id)))
        errors = list(await s.scalars(select(OutboxEvent.error).where(OutboxEvent.error.is_not(None))))
    assert [(a.type, a.level, a.withdrawn_at is not None, a.public) for a in rows] == [
        ("Create", "unlisted", True, False), ("Delete", "unlisted", False, False)]
    assert rows[1].document["cc"] == ["https://www.w3.org/ns/activitystreams#Public"]
    assert errors == []
