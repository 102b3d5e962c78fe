"""node/services/coalitions.py and the coalition roles of node/visibility.py: who is in a coalition,
how they got in and out (Join, Invite, Leave, removal, on the home and in a member node's mirror),
the last admin, and what the people of the member organisations may do and read in it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from node import visibility
from node.db import transaction
from node.errors import Conflict, InvalidInput, NotFound
from node.models import Actor, CoalitionStates, Follow, FollowStates, OutboxEvent, User
from node.services import actors, coalitions
from node.visibility import FOLLOWERS, MEMBERS, Reader

S = CoalitionStates


def remote_actor(name: str, type_: str = "Organization", host: str = "ngo.example") -> Actor:
    return Actor(ap_id=f"https://{host}/actors/{name}", type=type_, local=False, username=name,
                 domain=host, name=name.title(), inbox=f"https://{host}/actors/{name}/inbox")


@dataclass
class World:
    surfrider: Actor  # local, the founder (admin member)
    lyon: Actor  # local organisation
    nantes: Actor  # local organisation
    ngo: Actor  # a remote organisation
    group: Actor  # the coalition's Group actor, hosted here


async def make_world(s, uris) -> World:
    surfrider = await actors.create_organization(s, uris, "surfrider", "Surfrider")
    lyon = await actors.create_organization(s, uris, "lyon", "Ville de Lyon")
    nantes = await actors.create_organization(s, uris, "nantes", "Nantes")
    ngo = remote_actor("ngo")
    s.add(ngo)
    await s.flush()
    coalition = await coalitions.create(s, uris, "blue", "Blue Coalition", founder=surfrider,
                                        languages=["fr", "de"])
    return World(surfrider, lyon, nantes, ngo, coalition.actor)


async def events(s, kind: str) -> list[dict]:
    return [e.payload for e in await s.scalars(select(OutboxEvent).where(OutboxEvent.kind == kind)
                                               .order_by(OutboxEvent.id))]


async def state(s, coalition: Actor, org: Actor) -> tuple[str, str] | None:
    row = await coalitions.membership(s, coalition, org)
    return None if row is None else (row.state, row.role)


async def names(s, coalition: Actor, states=(S.accepted,)) -> list[str]:
    return [row.member.username for row in await coalitions.members(s, coalition, states=states)]


# -- creation ---------------------------------------------------------------------------------------

async def test_create__the_founder_is_the_first_admin_and_the_coalition_hosts_participation(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        assert await state(s, w.group, w.surfrider) == (S.accepted, "admin")
        assert w.group.type == "Group" and w.group.local
        coalition = await coalitions.require(s, "blue")
        assert coalition.languages == ["fr", "de"] and coalition.visibility == "public"
        assert await coalitions.hosts_participation(s, w.group)
        assert await coalitions.hosts_participation(s, w.lyon)
        assert not await coalitions.hosts_participation(s, w.ngo)
        with pytest.raises(NotFound):
            await coalitions.require(s, "lyon")  # an organisation is not a coalition


async def test_create__refuses_a_remote_or_non_organisation_founder_bad_languages_and_taken_handles(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        person = (await actors.create_user(s, uris, "ana", "password-123", "Ana")).actor
        for founder in (w.ngo, person):
            with pytest.raises(InvalidInput):
                await coalitions.create(s, uris, "red", "Red", founder=founder)
        for languages in ([], ["xx"], ["fr", "klingon"]):
            with pytest.raises(InvalidInput):
                await coalitions.create(s, uris, "red", "Red", founder=w.lyon, languages=languages)
        with pytest.raises(InvalidInput):
            await coalitions.create(s, uris, "red", "   ", founder=w.lyon)
        with pytest.raises((Conflict, InvalidInput)):
            await coalitions.create(s, uris, "lyon", "Taken", founder=w.lyon)
        with pytest.raises(visibility.UnknownLevel):
            await coalitions.create(s, uris, "red", "Red", founder=w.lyon, visibility_level="secret")
        # Duplicate languages are kept once, in order.
        red = await coalitions.create(s, uris, "red", "Red", founder=w.lyon, languages=["de", "fr", "de"])
        assert red.languages == ["de", "fr"]


# -- Join: accepted, refused ----------------------------------------------------------------------------

async def test_join__waits_for_the_admins_then_accept_tells_the_remote_organisation(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        row = await coalitions.receive_join(s, w.group, w.ngo, "https://ngo.example/join/1")
        assert (row.state, row.role, row.activity_ap_id) == (S.requested, "member", "https://ngo.example/join/1")
        assert await names(s, w.group) == ["surfrider"]
        assert await names(s, w.group, states=(S.requested,)) == ["ngo"]
        assert not await coalitions.is_member(s, w.group.id, w.ngo.id)
        # The same Join again (a retry) or a new one keeps one row, with the latest id.
        again = await coalitions.receive_join(s, w.group, w.ngo, "https://ngo.example/join/2")
        assert again.id == row.id and again.activity_ap_id == "https://ngo.example/join/2"
        assert await events(s, coalitions.MEMBER_ACCEPTED) == []
        await coalitions.accept(s, row)
        assert await state(s, w.group, w.ngo) == (S.accepted, "member")
        assert row.accepted_at is not None
        assert await coalitions.is_member(s, w.group.id, w.ngo.id)
        assert await events(s, coalitions.MEMBER_ACCEPTED) == [{"member_row_id": row.id}]
        await coalitions.accept(s, row)  # accepting again sends nothing more
        assert len(await events(s, coalitions.MEMBER_ACCEPTED)) == 1
        # A member that missed our Accept and asks again hears it again; its row is unchanged.
        await coalitions.receive_join(s, w.group, w.ngo, "https://ngo.example/join/3")
        assert await state(s, w.group, w.ngo) == (S.accepted, "member")
        assert len(await events(s, coalitions.MEMBER_ACCEPTED)) == 2
        assert await coalitions.count(s, w.group) == 2


async def test_join__refused_tells_the_remote_organisation_which_join_and_forgets_it(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        row = await coalitions.receive_join(s, w.group, w.ngo, "https://ngo.example/join/1")
        await coalitions.reject(s, row)
        assert await state(s, w.group, w.ngo) is None
        assert await events(s, coalitions.MEMBER_REJECTED) == [
            {"coalition_id": w.group.id, "member_id": w.ngo.id, "activity_ap_id": "https://ngo.example/join/1"}]
        # It may ask again later: a new request.
        row = await coalitions.receive_join(s, w.group, w.ngo, "https://ngo.example/join/2")
        assert row.state == S.requested


async def test_join__a_local_organisation_asks_here_and_is_refused_or_accepted_without_federation(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        row = await coalitions.request_join(s, uris, w.lyon, w.group)
        assert row.state == S.requested
        await coalitions.reject(s, row)
        assert await state(s, w.group, w.lyon) is None
        row = await coalitions.request_join(s, uris, w.nantes, w.group)
        await coalitions.accept(s, row)
        assert await state(s, w.group, w.nantes) == (S.accepted, "member")
        for kind in (coalitions.MEMBER_ACCEPTED, coalitions.MEMBER_REJECTED, coalitions.JOIN_SENT):
            assert await events(s, kind) == []


async def test_join__an_accepted_member_cannot_be_rejected_only_removed(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        row = await coalitions.receive_join(s, w.group, w.ngo, "https://ngo.example/join/1")
        await coalitions.accept(s, row)
        with pytest.raises(Conflict):
            await coalitions.reject(s, row)
        assert await state(s, w.group, w.ngo) == (S.accepted, "member")


async def test_join__only_organisations_and_only_to_a_coalition(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        person = remote_actor("yan", type_="Person")
        s.add(person)
        await s.flush()
        for call in (coalitions.receive_join(s, w.group, person, "https://ngo.example/join/9"),
                     coalitions.invite(s, uris, w.group, person),
                     coalitions.receive_invite(s, w.group, person, "https://ngo.example/i/1")):
            with pytest.raises(InvalidInput):
                await call
        with pytest.raises(InvalidInput):
            await coalitions.invite(s, uris, w.group, w.lyon, role="owner")
        with pytest.raises(NotFound):  # a local organisation is not a coalition one can join
            await coalitions.request_join(s, uris, w.lyon, w.nantes)
        assert await names(s, w.group, states=S.ALL) == ["surfrider"]


# -- Invite: accepted, declined ------------------------------------------------------------------------

async def test_invite__a_remote_organisation_hears_the_invite_and_its_answer_decides(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        other = remote_actor("city", host="city.example")
        s.add(other)
        await s.flush()
        row = await coalitions.invite(s, uris, w.group, w.ngo)
        assert (row.state, row.role) == (S.invited, "member")
        assert row.activity_ap_id.startswith(uris.base + "/activities/")
        await coalitions.invite(s, uris, w.group, other, role="admin")
        assert await events(s, coalitions.MEMBER_INVITED) == [
            {"member_row_id": row.id}, {"member_row_id": (await coalitions.membership(s, w.group, other)).id}]
        assert not await coalitions.is_member(s, w.group.id, w.ngo.id)
        # Accept{Invite}: a member; Reject{Invite}: forgotten.
        accepted = await coalitions.receive_invite_answer(s, w.group, w.ngo, True)
        assert accepted is row and await state(s, w.group, w.ngo) == (S.accepted, "member")
        assert await coalitions.receive_invite_answer(s, w.group, other, False) is None
        assert await state(s, w.group, other) is None
        # An answer to no invitation changes nothing (a replay, a made-up Accept).
        assert await coalitions.receive_invite_answer(s, w.group, other, True) is None
        assert await state(s, w.group, other) is None
        assert await coalitions.receive_invite_answer(s, w.group, w.ngo, False) is None
        assert await state(s, w.group, w.ngo) == (S.accepted, "member")
        # Inviting a member again changes nothing and sends nothing.
        await coalitions.invite(s, uris, w.group, w.ngo, role="admin")
        assert await state(s, w.group, w.ngo) == (S.accepted, "member")
        assert len(await events(s, coalitions.MEMBER_INVITED)) == 2


async def test_invite__a_local_organisation_answers_here_accepting_or_declining(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        await coalitions.invite(s, uris, w.group, w.lyon, role="admin")
        await coalitions.invite(s, uris, w.group, w.nantes)
        assert await events(s, coalitions.MEMBER_INVITED) == []  # its admins answer on its own page
        assert await coalitions.answer_invite(s, uris, w.lyon, w.group, True) is not None
        assert await state(s, w.group, w.lyon) == (S.accepted, "admin")
        assert await coalitions.answer_invite(s, uris, w.nantes, w.group, False) is None
        assert await state(s, w.group, w.nantes) is None
        with pytest.raises(NotFound):  # nothing waits any more
            await coalitions.answer_invite(s, uris, w.nantes, w.group, True)
        with pytest.raises(NotFound):
            await coalitions.answer_invite(s, uris, w.lyon, w.group, True)
        assert await events(s, coalitions.INVITE_ANSWERED) == []


async def test_join_after_invite_and_invite_after_join_accept_at_once(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        other = remote_actor("city", host="city.example")
        s.add(other)
        await s.flush()
        # Invited, then it asks: both want it.
        invited = await coalitions.invite(s, uris, w.group, w.ngo)
        await coalitions.receive_join(s, w.group, w.ngo, "https://ngo.example/join/1")
        assert await state(s, w.group, w.ngo) == (S.accepted, "member")
        assert {"member_row_id": invited.id} in await events(s, coalitions.MEMBER_ACCEPTED)
        # It asked, then it is invited (as an admin): accepted with that role, and told so.
        asked = await coalitions.receive_join(s, w.group, other, "https://city.example/join/1")
        await coalitions.invite(s, uris, w.group, other, role="admin")
        assert await state(s, w.group, other) == (S.accepted, "admin")
        assert {"member_row_id": asked.id} in await events(s, coalitions.MEMBER_ACCEPTED)
        assert len(await events(s, coalitions.MEMBER_INVITED)) == 1  # only the first
        # The same for local organisations: no federation.
        await coalitions.invite(s, uris, w.group, w.lyon)
        await coalitions.request_join(s, uris, w.lyon, w.group)
        assert await state(s, w.group, w.lyon) == (S.accepted, "member")
        await coalitions.request_join(s, uris, w.nantes, w.group)
        await coalitions.invite(s, uris, w.group, w.nantes)
        assert await state(s, w.group, w.nantes) == (S.accepted, "member")


# -- the member node's mirror of a remote coalition ----------------------------------------------------

async def test_mirror__an_invite_from_a_remote_coalition_accepted_or_declined(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        far = remote_actor("green", type_="Group", host="home.example")
        s.add(far)
        await s.flush()
        row = await coalitions.receive_invite(s, far, w.lyon, "https://home.example/i/1", role="admin")
        assert (row.state, row.role) == (S.invited, "admin")
        again = await coalitions.receive_invite(s, far, w.lyon, "https://home.example/i/2")
        assert again.id == row.id and row.activity_ap_id == "https://home.example/i/2"
        await coalitions.answer_invite(s, uris, w.lyon, far, True)
        assert await state(s, far, w.lyon) == (S.accepted, "admin")
        assert await events(s, coalitions.INVITE_ANSWERED) == [
            {"coalition_id": far.id, "member_id": w.lyon.id, "invite_ap_id": "https://home.example/i/2",
             "accepted": True}]
        # A role the home may not give falls back to member.
        declined = await coalitions.receive_invite(s, far, w.nantes, "https://home.example/i/3", role="owner")
        assert declined.role == "member"
        assert await coalitions.answer_invite(s, uris, w.nantes, far, False) is None
        assert await state(s, far, w.nantes) is None
        assert (await events(s, coalitions.INVITE_ANSWERED))[-1]["accepted"] is False
        assert [r.coalition_id for r in await coalitions.memberships_of(s, w.lyon)] == [far.id]
        assert await coalitions.memberships_of(s, w.nantes) == []


async def test_mirror__a_join_sent_then_accepted_rejected_or_removed(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        far = remote_actor("green", type_="Group", host="home.example")
        s.add(far)
        await s.flush()
        row = await coalitions.request_join(s, uris, w.lyon, far)
        assert row.state == S.requested and row.activity_ap_id.startswith(uris.base + "/activities/")
        assert await events(s, coalitions.JOIN_SENT) == [{"member_row_id": row.id}]
        # Asking again sends the Join again (the first may be lost), one row still.
        assert (await coalitions.request_join(s, uris, w.lyon, far)).id == row.id
        assert len(await events(s, coalitions.JOIN_SENT)) == 2
        assert await coalitions.mark_accepted(s, far, w.lyon)
        assert await state(s, far, w.lyon) == (S.accepted, "member")
        assert not await coalitions.mark_accepted(s, far, w.lyon)  # only a waiting Join
        assert not await coalitions.mark_accepted(s, far, w.nantes)  # never asked: nothing
        assert await state(s, far, w.nantes) is None
        # Removed by the home.
        assert await coalitions.mark_gone(s, far, w.lyon)
        assert await state(s, far, w.lyon) is None
        assert not await coalitions.mark_gone(s, far, w.lyon)
        # Rejected.
        await coalitions.request_join(s, uris, w.nantes, far)
        assert await coalitions.mark_gone(s, far, w.nantes)
        assert await state(s, far, w.nantes) is None


async def test_mirror__join_after_invite_and_invite_after_join_accept_at_once(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        far = remote_actor("green", type_="Group", host="home.example")
        s.add(far)
        await s.flush()
        # Invited, then its admins ask to join: that answers the Invite (Accept{Invite}).
        await coalitions.receive_invite(s, far, w.lyon, "https://home.example/i/1")
        await coalitions.request_join(s, uris, w.lyon, far)
        assert await state(s, far, w.lyon) == (S.accepted, "member")
        assert await events(s, coalitions.JOIN_SENT) == []
        assert [e["accepted"] for e in await events(s, coalitions.INVITE_ANSWERED)] == [True]
        # It asked, then the coalition invites it: accepted.
        await coalitions.request_join(s, uris, w.nantes, far)
        await coalitions.receive_invite(s, far, w.nantes, "https://home.example/i/2")
        assert await state(s, far, w.nantes) == (S.accepted, "member")
        # An Invite to a member changes nothing.
        await coalitions.receive_invite(s, far, w.nantes, "https://home.example/i/3", role="admin")
        assert await state(s, far, w.nantes) == (S.accepted, "member")


async def test_mirror__leaving_a_remote_coalition_sends_leave(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        far = remote_actor("green", type_="Group", host="home.example")
        s.add(far)
        await s.flush()
        await coalitions.receive_invite(s, far, w.lyon, "https://home.example/i/1")
        await coalitions.answer_invite(s, uris, w.lyon, far, True)
        await coalitions.leave(s, uris, w.lyon, far)
        assert await state(s, far, w.lyon) is None
        assert await events(s, coalitions.LEFT) == [{"coalition_id": far.id, "member_id": w.lyon.id}]
        with pytest.raises(NotFound):
            await coalitions.leave(s, uris, w.lyon, far)


# -- the last admin ------------------------------------------------------------------------------------

async def test_last_admin__cannot_leave_be_removed_or_demoted_until_another_admin_exists(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        await coalitions.invite(s, uris, w.group, w.lyon)
        await coalitions.answer_invite(s, uris, w.lyon, w.group, True)
        attempts = (lambda: coalitions.leave(s, uris, w.surfrider, w.group),
                    lambda: coalitions.receive_leave(s, w.group, w.surfrider),
                    lambda: coalitions.remove(s, w.group, w.surfrider),
                    lambda: coalitions.set_role(s, w.group, w.surfrider, "member"))
        for attempt in attempts:
            with pytest.raises(Conflict) as refused:
                await attempt()
            assert refused.value.reason == coalitions.LAST_ADMIN
        assert await state(s, w.group, w.surfrider) == (S.accepted, "admin")
        # An invited admin is not an admin yet.
        await coalitions.invite(s, uris, w.group, w.nantes, role="admin")
        with pytest.raises(Conflict):
            await coalitions.set_role(s, w.group, w.surfrider, "member")
        # Lyon becomes an admin: Surfrider may step down, and then Lyon is the last one.
        await coalitions.set_role(s, w.group, w.lyon, "admin")
        await coalitions.set_role(s, w.group, w.surfrider, "member")
        assert await state(s, w.group, w.surfrider) == (S.accepted, "member")
        with pytest.raises(Conflict):
            await coalitions.set_role(s, w.group, w.lyon, "member")
        await coalitions.set_role(s, w.group, w.surfrider, "admin")
        await coalitions.leave(s, uris, w.surfrider, w.group)
        assert await state(s, w.group, w.surfrider) is None
        with pytest.raises(Conflict):
            await coalitions.leave(s, uris, w.lyon, w.group)
        assert await coalitions.members(s, w.group) != []


async def test_last_admin__a_remote_admin_member_counts_and_its_leave_is_refused_when_last(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        await coalitions.invite(s, uris, w.group, w.ngo, role="admin")
        await coalitions.receive_invite_answer(s, w.group, w.ngo, True)
        await coalitions.leave(s, uris, w.surfrider, w.group)  # the remote one is an admin too
        with pytest.raises(Conflict):
            await coalitions.receive_leave(s, w.group, w.ngo)
        with pytest.raises(Conflict):
            await coalitions.remove(s, w.group, w.ngo)
        assert await names(s, w.group) == ["ngo"]


async def test_set_role__only_of_an_accepted_member_and_to_a_known_role(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        await coalitions.invite(s, uris, w.group, w.lyon)
        with pytest.raises(NotFound):
            await coalitions.set_role(s, w.group, w.lyon, "admin")
        with pytest.raises(InvalidInput):
            await coalitions.set_role(s, w.group, w.surfrider, "owner")
        with pytest.raises(NotFound):
            await coalitions.set_role(s, w.group, w.nantes, "admin")


# -- leave and remove ---------------------------------------------------------------------------------

async def test_remove__a_remote_member_hears_remove_a_local_one_nothing_and_both_are_gone(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        for org in (w.ngo, w.lyon):
            await coalitions.invite(s, uris, w.group, org)
        await coalitions.receive_invite_answer(s, w.group, w.ngo, True)
        await coalitions.answer_invite(s, uris, w.lyon, w.group, True)
        await coalitions.remove(s, w.group, w.ngo)
        await coalitions.remove(s, w.group, w.lyon)
        assert await names(s, w.group, states=S.ALL) == ["surfrider"]
        assert await events(s, coalitions.MEMBER_REMOVED) == [{"coalition_id": w.group.id, "member_id": w.ngo.id}]
        with pytest.raises(NotFound):
            await coalitions.remove(s, w.group, w.lyon)


async def test_leave__a_member_a_pending_request_and_an_unknown_organisation(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        await coalitions.receive_join(s, w.group, w.ngo, "https://ngo.example/join/1")
        assert await coalitions.receive_leave(s, w.group, w.ngo)  # withdraws its request
        assert await state(s, w.group, w.ngo) is None
        assert not await coalitions.receive_leave(s, w.group, w.ngo)
        await coalitions.request_join(s, uris, w.lyon, w.group)
        await coalitions.accept(s, await coalitions.membership(s, w.group, w.lyon))
        await coalitions.leave(s, uris, w.lyon, w.group)
        assert await state(s, w.group, w.lyon) is None
        assert await events(s, coalitions.LEFT) == []  # here: nothing to send
        with pytest.raises(NotFound):
            await coalitions.leave(s, uris, w.nantes, w.group)


# -- a returning member: invited from a previous coalition ------------------------------------------------

async def test_invite_from__the_previous_coalitions_accepted_members_not_already_in(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        waiting = remote_actor("late", host="late.example")
        s.add(waiting)
        await s.flush()
        for org in (w.lyon, w.nantes, w.ngo):
            await coalitions.invite(s, uris, w.group, org)
        await coalitions.answer_invite(s, uris, w.lyon, w.group, True)
        await coalitions.answer_invite(s, uris, w.nantes, w.group, True)
        await coalitions.receive_invite_answer(s, w.group, w.ngo, True)
        await coalitions.receive_join(s, w.group, waiting, "https://late.example/join/1")  # never accepted
        # On Vote, founded by Lyon after Vote Anyway; Nantes asked to join it already.
        on_vote = (await coalitions.create(s, uris, "onvote", "On Vote", founder=w.lyon)).actor
        await coalitions.request_join(s, uris, w.nantes, on_vote)
        invited_before = len(await events(s, coalitions.MEMBER_INVITED))
        rows = await coalitions.invite_from(s, uris, on_vote, w.group)
        # Surfrider and the NGO are invited; Lyon (in it) and Nantes (asked) are not; the
        # organisation whose request was never accepted is not.
        assert sorted(row.member.username for row in rows) == ["ngo", "surfrider"]
        assert all(row.state == S.invited for row in rows)
        assert await state(s, on_vote, w.nantes) == (S.requested, "member")
        assert len(await events(s, coalitions.MEMBER_INVITED)) == invited_before + 1  # the remote one
        assert await state(s, on_vote, waiting) is None
        # Again: nobody new.
        assert await coalitions.invite_from(s, uris, on_vote, w.group) == []
        with pytest.raises(InvalidInput):
            await coalitions.invite_from(s, uris, on_vote, on_vote)


# -- roles derived from the member organisations (node/visibility.py) ------------------------------------

@dataclass
class People:
    boss: User  # admin of Surfrider (an admin member)
    mod: User  # moderator of Surfrider
    mayor: User  # admin of Lyon (a plain member)
    clerk: User  # official of Lyon
    resident: User  # a verified member and ambassador of Lyon, no staff role
    asker: User  # admin of Nantes, which only asked to join
    guest: User  # admin of Paris, a local organisation invited (as an admin) that has not answered
    fan: User  # follows the coalition, nothing else
    outsider: User


async def make_people(s, uris, w: World) -> People:
    def user(name):
        return actors.create_user(s, uris, name, "password-123", name.title())

    people = People(*[await user(n) for n in ("boss", "mod", "mayor", "clerk", "resident", "asker",
                                             "guest", "fan", "outsider")])
    invited_org = await actors.create_organization(s, uris, "paris", "Paris")
    await coalitions.invite(s, uris, w.group, w.lyon)
    await coalitions.answer_invite(s, uris, w.lyon, w.group, True)
    await coalitions.request_join(s, uris, w.nantes, w.group)
    await coalitions.invite(s, uris, w.group, invited_org, role="admin")
    for person, org, role in ((people.boss, w.surfrider, "admin"), (people.mod, w.surfrider, "moderator"),
                              (people.mayor, w.lyon, "admin"), (people.clerk, w.lyon, "official"),
                              (people.resident, w.lyon, "member"), (people.resident, w.lyon, "ambassador"),
                              (people.asker, w.nantes, "admin"), (people.guest, invited_org, "admin")):
        await actors.add_member(s, person, org, role)
    s.add(Follow(follower_id=people.fan.actor_id, followed_id=w.group.id, state=FollowStates.accepted,
                 ap_id="http://127.0.0.1:18080/activities/follow-fan"))
    await s.flush()
    return people


async def test_roles__admins_of_admin_members_are_admins_staff_of_members_are_members(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        p = await make_people(s, uris, w)
        expected = {p.boss: {"admin"}, p.mod: {"member"}, p.mayor: {"member"}, p.clerk: {"member"},
                    p.resident: set(), p.asker: set(), p.guest: set(), p.fan: set(), p.outsider: set()}
        assert {u.actor.username: await visibility.roles(s, u.id, w.group.id) for u in expected} == \
            {u.actor.username: roles for u, roles in expected.items()}
        # Their own organisations' roles are untouched.
        assert await visibility.roles(s, p.resident.id, w.lyon.id) == {"member", "ambassador"}
        assert await visibility.roles(s, p.boss.id, w.surfrider.id) == {"admin"}
        # A role held on the coalition's own actor counts too.
        await actors.add_member(s, p.outsider, w.group, "moderator")
        assert await visibility.roles(s, p.outsider.id, w.group.id) == {"moderator"}


async def test_roles__has_role_and_may_administer_read_the_derived_roles(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        p = await make_people(s, uris, w)
        assert await actors.has_role(s, p.boss, w.group, "admin")
        assert not await actors.has_role(s, p.mayor, w.group, "admin")
        assert await actors.has_role(s, p.mayor, w.group)
        assert await actors.has_role(s, p.clerk, w.group, "member")
        for user in (p.resident, p.asker, p.guest, p.fan, p.outsider):
            assert not await actors.has_role(s, user, w.group)
        assert await coalitions.may_administer(s, p.boss, w.group)
        assert not await coalitions.may_administer(s, p.mayor, w.group)
        assert not await coalitions.may_administer(s, None, w.group)
        with pytest.raises(Exception) as refused:
            await coalitions.require_admin(s, p.mod, w.group)
        assert "admins" in str(refused.value)
        admin = await actors.create_user(s, uris, "noderunner", "password-123", "Node", is_admin=True)
        assert await coalitions.may_administer(s, admin, w.group)


async def test_roles__follow_the_membership_promotion_and_removal(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        p = await make_people(s, uris, w)
        await coalitions.set_role(s, w.group, w.lyon, "admin")
        assert await visibility.roles(s, p.mayor.id, w.group.id) == {"admin"}
        assert await visibility.roles(s, p.clerk.id, w.group.id) == {"member"}
        await coalitions.accept(s, await coalitions.membership(s, w.group, w.nantes))
        assert await visibility.roles(s, p.asker.id, w.group.id) == {"member"}
        await coalitions.remove(s, w.group, w.lyon)
        assert await visibility.roles(s, p.mayor.id, w.group.id) == set()
        assert await visibility.roles(s, p.clerk.id, w.group.id) == set()


async def test_roles__a_member_nodes_mirror_of_a_remote_coalition_gives_no_roles_in_it(sessions, uris):
    """On a member's node, the mirror row of a local organisation's membership of a remote
    coalition says nothing about who administers that coalition: the home decides."""
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        p = await make_people(s, uris, w)
        far = remote_actor("green", type_="Group", host="home.example")
        s.add(far)
        await s.flush()
        await coalitions.receive_invite(s, far, w.lyon, "https://home.example/i/1", role="admin")
        await coalitions.answer_invite(s, uris, w.lyon, far, True)
        assert await visibility.roles(s, p.mayor.id, far.id) == set()
        assert not await actors.has_role(s, p.mayor, far, "admin")
        assert not await coalitions.may_administer(s, p.mayor, far)


async def test_standing__a_coalitions_members_and_followers_levels(sessions, uris):
    async with transaction(sessions) as s:
        w = await make_world(s, uris)
        p = await make_people(s, uris, w)

        async def reads(user: User | None, level: str) -> bool:
            return await visibility.may_read(s, Reader.of_user(user), w.group.id, level)

        for level in (MEMBERS, FOLLOWERS):
            for user in (p.boss, p.mod, p.mayor, p.clerk):
                assert await reads(user, level), (user.actor.username, level)
            for user in (p.resident, p.asker, p.guest, p.outsider, None):
                assert not await reads(user, level), (getattr(user, "actor", None), level)
        assert await reads(p.fan, FOLLOWERS) and not await reads(p.fan, MEMBERS)
        boss = await visibility.standing(s, Reader.of_user(p.boss), w.group.id)
        mayor = await visibility.standing(s, Reader.of_user(p.mayor), w.group.id)
        resident = await visibility.standing(s, Reader.of_user(p.resident), w.group.id)
        assert (boss.staff, boss.member) == (True, True)
        assert (mayor.staff, mayor.member) == (False, True)
        assert resident == visibility.NOBODY
        # A remote reader's signed fetch: only following counts.
        assert not await visibility.may_read(s, Reader.of_remote(w.ngo.id), w.group.id, FOLLOWERS)
