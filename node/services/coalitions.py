"""Coalitions: a Group actor hosted on this node (its *home*) whose members are organisations on
any node, and this node's organisations' memberships of coalitions anywhere.

On the home, ``coalition_members`` is the authoritative list: Joins wait for the admins, Invites
for the organisation, and the last admin can never leave, be removed or be demoted. On a member's
node, the same table keeps the local organisation's own membership of a remote coalition, as the
coalition's Accept, Reject, Invite and Remove tell it (FEDERATION.md "Coalitions and campaigns")."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from node import visibility
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.models import (
    COALITION_ROLES,
    Actor,
    Coalition,
    CoalitionMember,
    CoalitionStates,
    OrganizationProfile,
    utcnow,
)
from node.services import outbox
from node.services.actors import create_group, local_actor
from node.services.i18n import LANGUAGES, text_map
from node.uris import Uris, check_username, new_token

S = CoalitionStates
ADMIN, MEMBER = "admin", "member"
LAST_ADMIN = "the last admin of a coalition cannot leave it, be removed or stop being an admin"
NOT_AN_ORGANISATION = "only organisations can be members of a coalition"
STAYS_HERE = "a coalition visible to its members only never leaves this node: only its organisations can join"
# Outbox events (federation/outbound/coalitions.py turns each into its activity).
JOIN_SENT = "coalition.join_sent"  # a local organisation asks a remote coalition: Join
MEMBER_ACCEPTED = "coalition.member_accepted"  # the home accepts a Join: Accept{Join}
MEMBER_REJECTED = "coalition.member_rejected"  # the home refuses a Join: Reject{Join}
MEMBER_INVITED = "coalition.member_invited"  # the home invites a remote organisation: Invite
INVITE_ANSWERED = "coalition.invite_answered"  # a local organisation answers an Invite
LEFT = "coalition.left"  # a local organisation leaves a remote coalition: Leave
MEMBER_REMOVED = "coalition.member_removed"  # the home removes a member: Remove
LEAVE_REFUSED = "coalition.leave_refused"  # the home refuses the last admin's Leave: Reject{Leave}


# -- the coalition itself ----------------------------------------------------------------------

async def create(session: AsyncSession, uris: Uris, handle: str, name: str, *, founder: Actor,
                 summary: str = "", languages: tuple[str, ...] | list[str] = ("fr",),
                 visibility_level: str = visibility.PUBLIC) -> Coalition:
    """A new coalition on this node: its Group actor, its settings and profile, and ``founder`` (a
    local organisation) as its first admin."""
    if founder.type != "Organization" or not founder.local:
        raise InvalidInput("a coalition is founded by an organisation of this node")
    handle = check_username(handle)
    if not (name or "").strip():
        raise InvalidInput("a coalition needs a name")
    languages = list(dict.fromkeys(languages or ()))
    if not languages or any(lang not in LANGUAGES for lang in languages):
        raise InvalidInput(f"a coalition's languages are among {', '.join(LANGUAGES)}")
    visibility.check_level(visibility_level)
    actor = await create_group(session, uris, handle, name.strip(), uris.actor(handle), summary)
    coalition = Coalition(actor_id=actor.id, visibility=visibility_level, languages=languages)
    coalition.actor = actor
    session.add(coalition)
    session.add(OrganizationProfile(actor_id=actor.id, intro=text_map(summary, what="summary"),
                                    themes=[], default_language=languages[0]))
    session.add(CoalitionMember(coalition_id=actor.id, member_id=founder.id, role=ADMIN,
                                state=S.accepted, accepted_at=utcnow()))
    await session.flush()
    return coalition


async def of_actor(session: AsyncSession, actor: Actor | None) -> Coalition | None:
    """The coalition hosted here whose Group ``actor`` is (None for anything else)."""
    if actor is None or actor.type != "Group" or not actor.local:
        return None
    return await session.scalar(select(Coalition).where(Coalition.actor_id == actor.id))


async def hosts_participation(session: AsyncSession, actor: Actor | None) -> bool:
    """Whether ``actor`` holds discussions and proposals: a local organisation, or a coalition
    hosted here (its joint discussions and shared demands)."""
    if actor is None or not actor.local:
        return False
    return actor.type == "Organization" or await of_actor(session, actor) is not None


async def require(session: AsyncSession, handle: str) -> Coalition:
    actor = await local_actor(session, handle)
    coalition = await of_actor(session, actor)
    if coalition is None:
        raise NotFound(f"no coalition with the handle {handle!r} on this node")
    return coalition


async def listed(session: AsyncSession) -> list[Coalition]:
    return list(await session.scalars(select(Coalition).join(Actor, Actor.id == Coalition.actor_id)
                                      .order_by(Actor.name)))


async def federates(session: AsyncSession, coalition: Actor) -> bool:
    """Whether the coalition hosted here leaves the node (not ``members``): only then may
    organisations of other nodes be in it."""
    found = await of_actor(session, coalition)
    return found is not None and visibility.federates(found.visibility)


def _is_organisation(actor: Actor) -> None:
    if actor.type != "Organization":
        raise InvalidInput(NOT_AN_ORGANISATION)


# -- the member list -----------------------------------------------------------------------------

async def membership(session: AsyncSession, coalition: Actor, org: Actor) -> CoalitionMember | None:
    return await session.scalar(select(CoalitionMember).where(
        CoalitionMember.coalition_id == coalition.id, CoalitionMember.member_id == org.id))


async def members(session: AsyncSession, coalition: Actor, *,
                  states: tuple[str, ...] = (S.accepted,)) -> list[CoalitionMember]:
    """The coalition's members in ``states``, admins first, then by name (``row.member`` is the
    organisation)."""
    rows = await session.scalars(
        select(CoalitionMember).join(Actor, Actor.id == CoalitionMember.member_id)
        .where(CoalitionMember.coalition_id == coalition.id, CoalitionMember.state.in_(states))
        .order_by((CoalitionMember.role == ADMIN).desc(), Actor.name, CoalitionMember.id))
    return list(rows)


async def count(session: AsyncSession, coalition: Actor) -> int:
    return await session.scalar(select(func.count()).select_from(CoalitionMember).where(
        CoalitionMember.coalition_id == coalition.id, CoalitionMember.state == S.accepted)) or 0


async def is_member(session: AsyncSession, coalition_id: int, org_id: int | None) -> bool:
    """Whether ``org_id`` is an accepted member of the coalition now."""
    if org_id is None:
        return False
    return await session.scalar(select(CoalitionMember.id).where(
        CoalitionMember.coalition_id == coalition_id, CoalitionMember.member_id == org_id,
        CoalitionMember.state == S.accepted)) is not None


async def has_local_member(session: AsyncSession, coalition: Actor) -> bool:
    """Whether one of this node's organisations is an accepted member of ``coalition`` (a remote
    coalition's campaigns are kept only then)."""
    return await session.scalar(select(CoalitionMember.id).join(
        Actor, Actor.id == CoalitionMember.member_id).where(
        CoalitionMember.coalition_id == coalition.id, CoalitionMember.state == S.accepted,
        Actor.local.is_(True)).limit(1)) is not None


async def _admins(session: AsyncSession, coalition: Actor) -> int:
    return await session.scalar(select(func.count()).select_from(CoalitionMember).where(
        CoalitionMember.coalition_id == coalition.id, CoalitionMember.state == S.accepted,
        CoalitionMember.role == ADMIN)) or 0


async def _not_last_admin(session: AsyncSession, coalition: Actor, row: CoalitionMember) -> None:
    if row.state == S.accepted and row.role == ADMIN and await _admins(session, coalition) <= 1:
        raise Conflict(LAST_ADMIN)


async def memberships_of(session: AsyncSession, org: Actor, *,
                         states: tuple[str, ...] = S.ALL) -> list[CoalitionMember]:
    """The coalitions ``org`` is in, asked to join or invited to (``row.coalition_id``)."""
    return list(await session.scalars(select(CoalitionMember).where(
        CoalitionMember.member_id == org.id, CoalitionMember.state.in_(states))
        .order_by(CoalitionMember.id)))


# -- on the home: Joins, Invites, Leaves, removals and roles --------------------------------------

async def receive_join(session: AsyncSession, coalition: Actor, org: Actor, join_ap_id: str | None
                       ) -> CoalitionMember:
    """An organisation asks to join: it waits for the admins (an accepted member stays as it is;
    an organisation that was invited is accepted at once: it asked)."""
    _is_organisation(org)
    row = await membership(session, coalition, org)
    if row is None:
        row = CoalitionMember(coalition_id=coalition.id, member_id=org.id, role=MEMBER,
                              state=S.requested, activity_ap_id=join_ap_id)
        session.add(row)
        await session.flush()
        return row
    if row.state == S.invited:
        row.activity_ap_id = join_ap_id or row.activity_ap_id
        await accept(session, row)
    elif row.state == S.requested:
        row.activity_ap_id = join_ap_id or row.activity_ap_id
    elif org.local is False and join_ap_id:  # a member that missed our Accept asks again
        row.activity_ap_id = join_ap_id
        await outbox.emit(session, MEMBER_ACCEPTED, member_row_id=row.id)
    return row


async def accept(session: AsyncSession, row: CoalitionMember) -> None:
    """The admins accept a Join (the remote organisation hears Accept{Join})."""
    if row.state == S.accepted:
        return
    row.state, row.accepted_at = S.accepted, utcnow()
    await session.flush()
    member = await session.get(Actor, row.member_id)
    if not member.local:
        await outbox.emit(session, MEMBER_ACCEPTED, member_row_id=row.id)


async def reject(session: AsyncSession, row: CoalitionMember) -> None:
    """The admins refuse a Join: the remote organisation hears Reject{Join}; the row goes."""
    if row.state == S.accepted:
        raise Conflict("this organisation is a member already: remove it instead")
    member = await session.get(Actor, row.member_id)
    if not member.local:
        await outbox.emit(session, MEMBER_REJECTED, coalition_id=row.coalition_id,
                          member_id=row.member_id, activity_ap_id=row.activity_ap_id)
    await session.delete(row)
    await session.flush()


async def invite(session: AsyncSession, uris: Uris, coalition: Actor, org: Actor,
                 role: str = MEMBER) -> CoalitionMember:
    """Invite an organisation (here or anywhere): it becomes a member when its admins accept.
    Inviting one that asked to join accepts it."""
    _is_organisation(org)
    if role not in COALITION_ROLES:
        raise InvalidInput(f"a member's role is one of {', '.join(COALITION_ROLES)}")
    if not org.local and not await federates(session, coalition):
        raise InvalidInput(STAYS_HERE)
    row = await membership(session, coalition, org)
    if row is not None:
        if row.state == S.requested:
            row.role = role
            await accept(session, row)
        return row
    row = CoalitionMember(coalition_id=coalition.id, member_id=org.id, role=role, state=S.invited,
                          activity_ap_id=uris.activity(new_token()))
    row.member = org  # callers list the invited organisations
    session.add(row)
    await session.flush()
    if not org.local:
        await outbox.emit(session, MEMBER_INVITED, member_row_id=row.id)
    return row


async def invite_from(session: AsyncSession, uris: Uris, coalition: Actor, previous: Actor
                      ) -> list[CoalitionMember]:
    """Invite the members of a previous coalition (On Vote after Vote Anyway) who are not in this
    one yet; the rows of the new invitations."""
    if previous.id == coalition.id:
        raise InvalidInput("choose another coalition to invite its members")
    invited = []
    for row in await members(session, previous):
        if await membership(session, coalition, row.member) is None:
            invited.append(await invite(session, uris, coalition, row.member))
    return invited


async def receive_invite_answer(session: AsyncSession, coalition: Actor, org: Actor, accepted: bool
                                ) -> CoalitionMember | None:
    """The invited organisation answered (Accept or Reject of our Invite, or its admins here)."""
    row = await membership(session, coalition, org)
    if row is None or row.state != S.invited:
        return None
    return await _settle_invitation(session, row, accepted)


async def _settle_invitation(session: AsyncSession, row: CoalitionMember, accepted: bool
                             ) -> CoalitionMember | None:
    """An invitation answered: the organisation is in (the row), or the row goes (None)."""
    if accepted:
        row.state, row.accepted_at = S.accepted, utcnow()
        await session.flush()
        return row
    await session.delete(row)
    await session.flush()
    return None


async def receive_leave(session: AsyncSession, coalition: Actor, org: Actor) -> bool:
    """An organisation leaves (or withdraws its request, or declines): False when it was not in
    the list. The last admin cannot leave: Conflict(LAST_ADMIN)."""
    row = await membership(session, coalition, org)
    if row is None:
        return False
    await _not_last_admin(session, coalition, row)
    await session.delete(row)
    await session.flush()
    return True


async def remove(session: AsyncSession, coalition: Actor, org: Actor) -> None:
    """An admin removes a member (a remote one hears Remove). Its variants stay where they are;
    supports that come through them later count for the campaign, not for it."""
    row = await membership(session, coalition, org)
    if row is None:
        raise NotFound("this organisation is not in the coalition")
    await _not_last_admin(session, coalition, row)
    if not org.local:
        await outbox.emit(session, MEMBER_REMOVED, coalition_id=coalition.id, member_id=org.id)
    await session.delete(row)
    await session.flush()


async def set_role(session: AsyncSession, coalition: Actor, org: Actor, role: str) -> CoalitionMember:
    if role not in COALITION_ROLES:
        raise InvalidInput(f"a member's role is one of {', '.join(COALITION_ROLES)}")
    row = await membership(session, coalition, org)
    if row is None or row.state != S.accepted:
        raise NotFound("this organisation is not a member of the coalition")
    if role != ADMIN:
        await _not_last_admin(session, coalition, row)
    row.role = role
    await session.flush()
    return row


async def may_administer(session: AsyncSession, user, coalition: Actor) -> bool:
    """A node admin, or a local user who is an admin of the coalition (node/visibility.py roles)."""
    if user is None:
        return False
    if user.is_admin:
        return True
    return ADMIN in await visibility.roles(session, user.id, coalition.id)


async def require_admin(session: AsyncSession, user, coalition: Actor) -> None:
    if not await may_administer(session, user, coalition):
        raise Forbidden("only the coalition's admins can do this")


# -- on a member's node: a local organisation and a coalition (here or anywhere) -------------------

async def request_join(session: AsyncSession, uris: Uris, org: Actor, coalition: Actor) -> CoalitionMember:
    """A local organisation asks to join. Here: the home's list at once; elsewhere: a Join is
    sent and the row waits for the coalition's answer."""
    _is_organisation(org)
    if coalition.local:
        if await of_actor(session, coalition) is None:
            raise NotFound("no such coalition on this node")
        return await receive_join(session, coalition, org, None)
    row = await membership(session, coalition, org)
    if row is not None and row.state == S.invited:
        return await answer_invite(session, uris, org, coalition, True)
    if row is None:
        row = CoalitionMember(coalition_id=coalition.id, member_id=org.id, role=MEMBER,
                              state=S.requested, activity_ap_id=uris.activity(new_token()))
        session.add(row)
        await session.flush()
    if row.state == S.requested:
        await outbox.emit(session, JOIN_SENT, member_row_id=row.id)
    return row


async def answer_invite(session: AsyncSession, uris: Uris, org: Actor, coalition: Actor,
                        accept_it: bool) -> CoalitionMember | None:
    """A local organisation's admins accept or decline an Invite (to a coalition here or anywhere)."""
    row = await membership(session, coalition, org)
    if row is None or row.state != S.invited:
        raise NotFound("there is no invitation waiting from this coalition")
    if coalition.local:
        return await receive_invite_answer(session, coalition, org, accept_it)
    await outbox.emit(session, INVITE_ANSWERED, coalition_id=coalition.id, member_id=org.id,
                      invite_ap_id=row.activity_ap_id, accepted=accept_it)
    return await _settle_invitation(session, row, accept_it)


async def leave(session: AsyncSession, uris: Uris, org: Actor, coalition: Actor) -> None:
    """A local organisation leaves a coalition (or withdraws its request). Here: at once (not the
    last admin); elsewhere: a Leave is sent, and the home refuses it for its last admin."""
    row = await membership(session, coalition, org)
    if row is None:
        raise NotFound("this organisation is not in the coalition")
    if coalition.local:
        await receive_leave(session, coalition, org)
        return
    await outbox.emit(session, LEFT, coalition_id=coalition.id, member_id=org.id)
    await session.delete(row)
    await session.flush()


async def receive_invite(session: AsyncSession, coalition: Actor, org: Actor, invite_ap_id: str,
                         role: str = MEMBER) -> CoalitionMember:
    """A remote coalition invites a local organisation: the invitation waits for its admins."""
    _is_organisation(org)
    row = await membership(session, coalition, org)
    if row is None:
        row = CoalitionMember(coalition_id=coalition.id, member_id=org.id,
                              role=role if role in COALITION_ROLES else MEMBER, state=S.invited,
                              activity_ap_id=invite_ap_id)
        session.add(row)
    elif row.state == S.invited:
        row.activity_ap_id = invite_ap_id
    elif row.state == S.requested:  # we asked, they invite: both want it
        row.state, row.accepted_at = S.accepted, utcnow()
    await session.flush()
    return row


async def mark_accepted(session: AsyncSession, coalition: Actor, org: Actor) -> bool:
    """The remote coalition accepted our Join."""
    row = await membership(session, coalition, org)
    if row is None or row.state != S.requested:
        return False
    row.state, row.accepted_at = S.accepted, utcnow()
    await session.flush()
    return True


async def mark_gone(session: AsyncSession, coalition: Actor, org: Actor) -> bool:
    """The remote coalition rejected our Join or removed us."""
    row = await membership(session, coalition, org)
    if row is None:
        return False
    await session.delete(row)
    await session.flush()
    return True


async def mark_kept(session: AsyncSession, coalition: Actor, org: Actor, role: str = ADMIN
                    ) -> CoalitionMember:
    """The remote coalition refused our Leave (its last admin cannot leave): the membership we
    dropped when the Leave was sent is kept, as the home keeps it."""
    _is_organisation(org)
    row = await membership(session, coalition, org)
    if row is None:
        row = CoalitionMember(coalition_id=coalition.id, member_id=org.id, role=role,
                              state=S.accepted, accepted_at=utcnow())
        session.add(row)
    else:
        row.state, row.role = S.accepted, role
        row.accepted_at = row.accepted_at or utcnow()
    await session.flush()
    return row
