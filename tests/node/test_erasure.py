"""Erasure of a local account: tombstones, reactions kept counted without the person, personal
rows gone, sessions ended, Delete events queued, handle reserved."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from federation.fanout import process_events
from node.db import transaction
from node.errors import Conflict
from node.models import (
    AccountState,
    Activity,
    Actor,
    Agreement,
    Article,
    Contribution,
    Follow,
    Initiative,
    InitiativeAction,
    Membership,
    OutboxEvent,
    Proposal,
    ProposalSupport,
    Stakeholder,
    User,
)
from node.services import accounts, actors, erasure
from tests.node import privacy_scene


@pytest.fixture
async def scene(node):
    async with transaction(node.rt.sessions) as session:
        built = await privacy_scene.build(session, node.uris)
    await process_events(node.rt)  # the Creates, Likes and Announces are stored activities
    return built


async def _erase(node, scene):
    async with transaction(node.rt.sessions) as session:
        user = await session.get(User, scene.amel_user_id)
        return await erasure.erase_account(session, user, by=user)


async def _by_ap_id(session, model, ap_id):
    return await session.scalar(select(model).where(model.ap_id == ap_id))


async def test_erase_account__texts_become_tombstones(node, scene):
    """Every contribution, proposal, article and initiative of the person is a tombstone with
    no text; bob's stay as they were."""
    erased = await _erase(node, scene)
    async with node.rt.sessions() as session:
        for model, ap_id, field in ((Contribution, scene.contribution, "content"),
                                    (Proposal, scene.proposal, "body"),
                                    (Article, scene.article, "body"),
                                    (Initiative, scene.initiative, "body")):
            row = await _by_ap_id(session, model, ap_id)
            assert row.deleted_at is not None, model
            assert getattr(row, field) == "", model
        proposal = await _by_ap_id(session, Proposal, scene.proposal)
        assert proposal.title == ""
        theirs = await _by_ap_id(session, Contribution, scene.bob_contribution)
        assert theirs.deleted_at is None and "Bob's private thoughts" in theirs.content
    assert sorted(ap for ap, _ in erased.objects) == sorted(
        [scene.contribution, scene.proposal, scene.article, scene.initiative])


async def test_erase_account__reactions_stay_counted_without_the_person(node, scene):
    """Amel's agreement, support and "I acted" still count (counters and rows alike) but point
    to a nameless placeholder, not to her tombstone."""
    async with node.rt.sessions() as session:
        before = [await session.scalar(select(func.count()).select_from(m))
                  for m in (Agreement, ProposalSupport, InitiativeAction)]
    await _erase(node, scene)
    async with node.rt.sessions() as session:
        after = [await session.scalar(select(func.count()).select_from(m))
                 for m in (Agreement, ProposalSupport, InitiativeAction)]
        assert after == before
        theirs = await _by_ap_id(session, Contribution, scene.bob_contribution)
        assert theirs.agree_count == 1
        assert (await _by_ap_id(session, Proposal, scene.bob_proposal)).support_count == 1
        assert (await _by_ap_id(session, Initiative, scene.bob_initiative)).acted_count == 1
        amel = await session.scalar(select(Actor).where(Actor.ap_id == scene.amel))
        for model in (Agreement, ProposalSupport, InitiativeAction):
            assert await session.scalar(select(func.count()).select_from(model)
                                        .where(model.actor_id == amel.id)) == 0
        agreement = await session.scalar(select(Agreement).where(Agreement.contribution_id == theirs.id))
        holder = await session.get(Actor, agreement.actor_id)
        assert holder.ap_id.startswith(erasure.ANONYMOUS_PREFIX)
        assert (holder.name, holder.username, holder.inbox, holder.local) == ("", "", None, False)


async def test_erase_account__personal_rows_are_removed(node, scene):
    """Follows both ways, stakeholder entry, membership, account state and the user row (e-mail,
    password) are gone; the actor stays as a nameless tombstone keeping the handle."""
    await _erase(node, scene)
    async with node.rt.sessions() as session:
        amel = await session.scalar(select(Actor).where(Actor.ap_id == scene.amel))
        assert amel.deleted_at is not None
        assert (amel.username, amel.name, amel.summary, amel.document) == ("amel", "", "", None)
        assert await session.get(User, scene.amel_user_id) is None
        assert await session.scalar(select(User).where(User.email == "amel@example.org")) is None
        for model, column in ((Follow, Follow.follower_id), (Follow, Follow.followed_id),
                              (Stakeholder, Stakeholder.actor_id)):
            assert await session.scalar(select(func.count()).select_from(model).where(column == amel.id)) == 0
        for model in (Membership, AccountState):
            assert await session.scalar(select(func.count()).select_from(model)
                                        .where(model.user_id == scene.amel_user_id)) == 0


async def test_erase_account__every_session_ends(node, scene):
    """The account's sessions stop at once: the epoch check finds no account (SECURITY.md rule 16)."""
    async with node.rt.sessions() as session:
        assert await accounts.session_epoch(session, scene.amel_user_id) is not None
    await _erase(node, scene)
    async with node.rt.sessions() as session:
        assert await accounts.session_epoch(session, scene.amel_user_id) is None


async def test_erase_account__events_and_withdrawn_activities(node, scene):
    """One event per erased object and one for the actor (with the follower inboxes it had);
    every activity the person sent and every Announce of her texts is withdrawn."""
    await _erase(node, scene)
    async with node.rt.sessions() as session:
        events = list(await session.scalars(select(OutboxEvent).where(
            OutboxEvent.kind.in_([erasure.OBJECT_ERASED, erasure.ACTOR_ERASED])).order_by(OutboxEvent.id)))
        objects = [e.payload["object_ap_id"] for e in events if e.kind == erasure.OBJECT_ERASED]
        assert sorted(objects) == sorted([scene.contribution, scene.proposal, scene.article, scene.initiative])
        (actor_event,) = [e for e in events if e.kind == erasure.ACTOR_ERASED]
        assert actor_event.payload["inboxes"] == [scene.zoe_inbox]
        assert events[-1] is actor_event  # the objects' Deletes are built first
        amel = await session.scalar(select(Actor).where(Actor.ap_id == scene.amel))
        sent = list(await session.scalars(select(Activity).where(Activity.actor_id == amel.id)))
        assert sent and all(a.withdrawn_at is not None and not a.public for a in sent)
        carrying = list(await session.scalars(select(Activity).where(
            Activity.object_ap_id == scene.contribution)))
        assert all(a.withdrawn_at is not None for a in carrying)


async def test_erase_account__handle_cannot_be_registered_again(node, scene):
    """The tombstone keeps the handle: registering it again is refused; erasing twice too."""
    await _erase(node, scene)
    async with transaction(node.rt.sessions) as session:
        with pytest.raises(Conflict):
            await actors.create_user(session, node.uris, "amel", "another-password", "Impostor")
    async with node.rt.sessions() as session:
        assert (await erasure.erased_actor(session, "amel")).ap_id == scene.amel
        assert await erasure.erased_actor(session, "bob") is None
