"""Coalition membership out: the Join, Leave and answers to an Invite that a local organisation
sends to a coalition's home, and the Accept/Reject, Invite and Remove that a coalition hosted
here sends to a member organisation (FEDERATION.md "Coalitions and campaigns").

Between two actors only: each activity goes to the one inbox it concerns and is never listed in
an outbox (as follows are). A coalition whose visibility is ``members`` never leaves the node: it
sends nothing."""

from __future__ import annotations

from sqlalchemy import select

from activities import coalitions as as2
from federation.outbound.publisher import Publisher
from federation.outbound.registry import builds
from node import visibility
from node.models import Activity, Actor, Coalition, CoalitionMember
from node.services import coalitions


async def _send(p: Publisher, actor: Actor, doc: dict, to: Actor, object_ap_id: str) -> None:
    await p.publish(actor, doc, [to.inbox], level=visibility.PUBLIC, object_ap_id=object_ap_id,
                    listed=False)


async def _pair(p: Publisher, coalition_id: int, member_id: int) -> tuple[Actor, Actor] | None:
    coalition = await p.session.get(Actor, coalition_id)
    member = await p.session.get(Actor, member_id)
    if coalition is None or member is None:
        return None
    return coalition, member


async def _row(p: Publisher, member_row_id: int) -> tuple[CoalitionMember, Actor, Actor] | None:
    row = await p.session.get(CoalitionMember, member_row_id)
    if row is None:
        return None
    pair = await _pair(p, row.coalition_id, row.member_id)
    return (row, *pair) if pair else None


async def _home_speaks(p: Publisher, coalition: Actor, member: Actor) -> bool:
    """The home tells a remote organisation: only a coalition of this node that federates."""
    if not coalition.local or member.local or not member.inbox:
        return False
    level = await p.session.scalar(select(Coalition.visibility)
                                   .where(Coalition.actor_id == coalition.id))
    return level is not None and visibility.federates(level)


def _member_speaks(coalition: Actor, member: Actor) -> bool:
    """A local organisation tells a remote coalition's home."""
    return member.local and not coalition.local and bool(coalition.inbox)


async def _fresh_id(p: Publisher, ap_id: str | None) -> str:
    """``ap_id`` when no activity was stored under it yet, else a new one (a Join sent again)."""
    if ap_id and await p.session.scalar(select(Activity.id).where(Activity.ap_id == ap_id)) is None:
        return ap_id
    return p.new_id()


def _named(doc: dict) -> dict:
    """An answered activity whose id we never had (a local organisation's Join, an old row)
    is embedded without one: its actor and object say whose membership it is."""
    return doc if doc["id"] else {k: v for k, v in doc.items() if k != "id"}


def _join_doc(join_ap_id: str | None, member: Actor, coalition: Actor) -> dict:
    return _named(as2.join(join_ap_id or "", member.ap_id, coalition.ap_id))


# -- from a local organisation to a coalition's home --------------------------------------------

@builds(coalitions.JOIN_SENT)
async def join_sent(p: Publisher, member_row_id: int) -> None:
    found = await _row(p, member_row_id)
    if found is None or not _member_speaks(found[1], found[2]):
        return
    row, coalition, member = found
    row.activity_ap_id = await _fresh_id(p, row.activity_ap_id)
    await _send(p, member, as2.join(row.activity_ap_id, member.ap_id, coalition.ap_id), coalition,
                coalition.ap_id)


@builds(coalitions.INVITE_ANSWERED)
async def invite_answered(p: Publisher, coalition_id: int, member_id: int, invite_ap_id: str | None,
                          accepted: bool) -> None:
    pair = await _pair(p, coalition_id, member_id)
    if pair is None or not _member_speaks(*pair):
        return
    coalition, member = pair
    invite = _named(as2.invite(invite_ap_id or "", coalition.ap_id, member.ap_id))
    answer = as2.accept if accepted else as2.reject
    await _send(p, member, answer(p.new_id(), member.ap_id, invite), coalition, coalition.ap_id)


@builds(coalitions.LEFT)
async def left(p: Publisher, coalition_id: int, member_id: int) -> None:
    pair = await _pair(p, coalition_id, member_id)
    if pair is None or not _member_speaks(*pair):
        return
    coalition, member = pair
    await _send(p, member, as2.leave(p.new_id(), member.ap_id, coalition.ap_id), coalition,
                coalition.ap_id)


# -- from a coalition hosted here to a member organisation ---------------------------------------

@builds(coalitions.MEMBER_ACCEPTED)
async def member_accepted(p: Publisher, member_row_id: int) -> None:
    found = await _row(p, member_row_id)
    if found is None or not await _home_speaks(p, found[1], found[2]):
        return
    row, coalition, member = found
    join = _join_doc(row.activity_ap_id, member, coalition)
    await _send(p, coalition, as2.accept(p.new_id(), coalition.ap_id, join), member, member.ap_id)


@builds(coalitions.MEMBER_REJECTED)
async def member_rejected(p: Publisher, coalition_id: int, member_id: int,
                          activity_ap_id: str | None) -> None:
    pair = await _pair(p, coalition_id, member_id)
    if pair is None or not await _home_speaks(p, *pair):
        return
    coalition, member = pair
    join = _join_doc(activity_ap_id, member, coalition)
    await _send(p, coalition, as2.reject(p.new_id(), coalition.ap_id, join), member, member.ap_id)


@builds(coalitions.MEMBER_INVITED)
async def member_invited(p: Publisher, member_row_id: int) -> None:
    found = await _row(p, member_row_id)
    if found is None or not await _home_speaks(p, found[1], found[2]):
        return
    row, coalition, member = found
    row.activity_ap_id = await _fresh_id(p, row.activity_ap_id)
    await _send(p, coalition, as2.invite(row.activity_ap_id, coalition.ap_id, member.ap_id), member,
                member.ap_id)


@builds(coalitions.MEMBER_REMOVED)
async def member_removed(p: Publisher, coalition_id: int, member_id: int) -> None:
    pair = await _pair(p, coalition_id, member_id)
    if pair is None or not await _home_speaks(p, *pair):
        return
    coalition, member = pair
    members_url = p.rt.uris.coalition_members(coalition.ap_id)
    await _send(p, coalition, as2.remove(p.new_id(), coalition.ap_id, member.ap_id, members_url),
                member, member.ap_id)


@builds(coalitions.LEAVE_REFUSED)
async def leave_refused(p: Publisher, coalition_id: int, member_id: int,
                        leave_ap_id: str | None = None) -> None:
    pair = await _pair(p, coalition_id, member_id)
    if pair is None or not await _home_speaks(p, *pair):
        return
    coalition, member = pair
    leave = _named(as2.leave(leave_ap_id or "", member.ap_id, coalition.ap_id))
    await _send(p, coalition, as2.reject(p.new_id(), coalition.ap_id, leave), member, member.ap_id)
