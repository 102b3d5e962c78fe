"""Reports and what moderators do with them: the queue, hide/restore/approve, resolve/dismiss, forward.

A report is about a contribution, a proposal or an account. Residents write them; a remote actor's
``Flag`` becomes one (its reporter is that actor — Mastodon signs Flags with its instance actor).
The moderators of the organisation whose content is reported see it; node admins see every report.
Every action lands in the moderation log (SECURITY.md rule 22).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.models import (
    Actor,
    Contribution,
    Discussion,
    HiddenContent,
    Membership,
    ModerationSetting,
    OutboxEvent,
    Proposal,
    Report,
    ReportStates,
    User,
    utcnow,
)
from node.services import contributions, hidden_activities, moderation_log, outbox
from node.services import proposals as proposal_service
from node.services.actors import MODERATOR_ROLES

CATEGORIES = ("spam", "abuse", "illegal", "misinformation", "other")
MAX_REASON = 1000  # characters of a reason (a resident's or a Flag's content; longer is cut on receipt)
MAX_FLAG_OBJECTS = 20  # objects of one Flag that become reports (Mastodon sends an account + posts)
REPORT_FORWARDED = "report.forwarded"  # the fan-out sends a Flag from our instance actor
HELD = "held for review"


@dataclass(frozen=True)
class Target:
    """What a report or a hide is about."""

    kind: str  # contribution | proposal | account
    ap_id: str
    actor: Actor | None  # the account, or the content's author
    organization_id: int | None  # whose moderators act on it (None: node admins)
    contribution: Contribution | None = None
    proposal: Proposal | None = None


async def target_of(session: AsyncSession, ap_id: str) -> Target | None:
    """The contribution, proposal or account with this id, known on this node; None otherwise."""
    if not ap_id or len(ap_id) > 2048:
        return None
    contribution = await contributions.by_ap_id(session, ap_id)
    if contribution is not None and contribution.deleted_at is None:
        discussion = await session.get(Discussion, contribution.discussion_id)
        return Target("contribution", ap_id, contribution.author, discussion.organization_id,
                      contribution=contribution)
    proposal = await proposal_service.by_ap_id(session, ap_id)
    if proposal is not None:
        return Target("proposal", ap_id, proposal.author, proposal.organization_id, proposal=proposal)
    actor = await session.scalar(select(Actor).where(Actor.ap_id == ap_id))
    if actor is not None:
        return Target("account", ap_id, actor, None)
    return None


def _clean_reason(reason: str | None, *, cut: bool) -> str:
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        if not cut:
            raise InvalidInput(f"the reason is limited to {MAX_REASON} characters")
        reason = reason[:MAX_REASON]
    return reason


async def report(session: AsyncSession, reporter: Actor, target: Target, *, category: str,
                 reason: str = "", flag_ap_id: str | None = None, objects: list[str] | None = None) -> Report:
    """Open a report; Conflict when this reporter already has an open report about this target."""
    if category not in CATEGORIES:
        raise InvalidInput(f"unknown category {category!r}")
    reason = _clean_reason(reason, cut=flag_ap_id is not None)
    existing = await session.scalar(select(Report).where(
        Report.reporter_id == reporter.id, Report.target_ap_id == target.ap_id,
        Report.state == ReportStates.open))
    if existing is not None:
        raise Conflict("you already reported this; the moderators have it")
    row = Report(reporter_id=reporter.id, target_kind=target.kind, target_ap_id=target.ap_id,
                 target_actor_id=target.actor.id if target.actor else None,
                 organization_id=target.organization_id, category=category, reason=reason,
                 objects=objects or [target.ap_id], flag_ap_id=flag_ap_id, state=ReportStates.open)
    session.add(row)
    await session.flush()
    return row


async def receive_flag(session: AsyncSession, reporter: Actor, object_ids: list[str], content: str,
                       flag_ap_id: str) -> list[Report]:
    """An inbound Flag: one report per reported contribution or proposal of ours, or one about the
    account when it names no content (Mastodon: ``object`` is the account, then its posts)."""
    known = [t for t in [await target_of(session, i) for i in dict.fromkeys(object_ids[:MAX_FLAG_OBJECTS])] if t]
    content_targets = [t for t in known if t.kind != "account"]
    opened = []
    for target in content_targets or known[:1]:
        try:
            async with session.begin_nested():
                opened.append(await report(session, reporter, target, category="other", reason=content,
                                           flag_ap_id=flag_ap_id, objects=object_ids[:MAX_FLAG_OBJECTS]))
        except Conflict:
            continue  # the same remote reporter sent it again: one open report is enough
    return opened


# -- who moderates what ----------------------------------------------------------------------------

async def moderated_organisations(session: AsyncSession, user: User) -> list[int] | None:
    """The ids of the organisations this user moderates; None for a node admin (all of them)."""
    if user.is_admin:
        return None
    return list(await session.scalars(select(Membership.organization_id).where(
        Membership.user_id == user.id, Membership.role.in_(MODERATOR_ROLES))))


async def may_moderate(session: AsyncSession, user: User, organization_id: int | None) -> bool:
    """Node admins moderate everything; organisation admins and moderators their organisation's content."""
    orgs = await moderated_organisations(session, user)
    return orgs is None or (organization_id is not None and organization_id in orgs)


async def queue(session: AsyncSession, user: User, *, state: str = ReportStates.open) -> list[Report]:
    """The reports this user may act on (open ones by default), oldest first."""
    orgs = await moderated_organisations(session, user)
    query = select(Report).where(Report.state == state)
    if orgs is not None:
        query = query.where(Report.organization_id.in_(orgs or [-1]))
    return list(await session.scalars(query.order_by(Report.created_at, Report.id).limit(500)))


async def require_report(session: AsyncSession, user: User, report_id: int) -> Report:
    """The report, or NotFound when it does not exist or is not this user's to see."""
    row = await session.get(Report, report_id)
    if row is None or not await may_moderate(session, user, row.organization_id):
        raise NotFound("no such report")
    return row


async def close(session: AsyncSession, user: User, row: Report, state: str, note: str = "") -> None:
    """Resolve (something was done) or dismiss (nothing to do) an open report."""
    if state not in ReportStates.CLOSED:
        raise InvalidInput("resolve or dismiss")
    if row.state != ReportStates.open:
        raise Conflict("this report is already closed")
    row.state, row.closed_at, row.closed_by_id = state, utcnow(), user.id
    await moderation_log.record(session, user, "resolve" if state == ReportStates.resolved else "dismiss",
                                "report", row.target_ap_id, organization_id=row.organization_id,
                                reason=_clean_reason(note, cut=True))


async def forward(session: AsyncSession, user: User, row: Report, comment: str = "") -> None:
    """Send the report to the node the reported content or account comes from, as a ``Flag`` of our
    instance actor (as Mastodon does: the reporter stays anonymous); delivered by the fan-out."""
    account = await session.get(Actor, row.target_actor_id) if row.target_actor_id else None
    if account is None or account.local:
        raise InvalidInput("only reports about remote content or accounts can be forwarded")
    if row.forwarded_at is not None:
        raise Conflict("this report was already forwarded")
    comment = _clean_reason(comment, cut=False)
    row.forwarded_at = utcnow()
    await outbox.emit(session, REPORT_FORWARDED, report_id=row.id, comment=comment)
    await moderation_log.record(session, user, "forward", row.target_kind, row.target_ap_id,
                                organization_id=row.organization_id, reason=comment)


# -- hidden and held content -------------------------------------------------------------------------

async def hidden(session: AsyncSession, ap_id: str) -> HiddenContent | None:
    return await session.scalar(select(HiddenContent).where(HiddenContent.target_ap_id == ap_id))


def _set_hidden(target: Target, value: bool) -> None:
    if target.contribution is not None:
        target.contribution.hidden = value  # the AS2 GET of a hidden contribution answers 404


async def hide(session: AsyncSession, user: User, target: Target, reason: str) -> HiddenContent:
    """Hide a contribution or proposal: others see "Hidden by the moderators: <reason>" in its place."""
    if target.kind not in ("contribution", "proposal"):
        raise InvalidInput("only contributions and proposals can be hidden")
    if not await may_moderate(session, user, target.organization_id):
        raise Forbidden("you do not moderate this organisation")
    reason = _clean_reason(reason, cut=False)
    if not reason:
        raise InvalidInput("give the reason shown in place of the content")
    row = await hidden(session, target.ap_id)
    if row is None:
        row = HiddenContent(target_kind=target.kind, target_ap_id=target.ap_id,
                            organization_id=target.organization_id)
        session.add(row)
    row.reason, row.held, row.hidden_by_id, row.relay = reason, False, user.id, None
    _set_hidden(target, True)
    await hidden_activities.set_served(session, target.ap_id, shown=False)
    await session.flush()
    await moderation_log.record(session, user, "hide", target.kind, target.ap_id,
                                organization_id=target.organization_id, reason=reason)
    return row


async def restore(session: AsyncSession, user: User, target: Target, reason: str = "") -> bool:
    """Show hidden or held content again (approving held content); False when it was not hidden."""
    if not await may_moderate(session, user, target.organization_id):
        raise Forbidden("you do not moderate this organisation")
    row = await hidden(session, target.ap_id)
    if row is None:
        return False
    if row.held and row.relay and target.contribution is not None:
        # Held on arrival: the group passes it on to its followers only now (FEP-1b12).
        await outbox.emit(session, contributions.CONTRIBUTION_RECEIVED,
                          contribution_id=target.contribution.id, activity=row.relay)
    action = "approve" if row.held else "restore"
    await session.delete(row)
    _set_hidden(target, False)
    await hidden_activities.set_served(session, target.ap_id, shown=True)
    await moderation_log.record(session, user, action, target.kind, target.ap_id,
                                organization_id=target.organization_id,
                                reason=_clean_reason(reason, cut=True))
    return True


async def hold(session: AsyncSession, contribution: Contribution, reason: str = HELD) -> HiddenContent:
    """Hold a just-received remote contribution for review (a silenced or pre-moderated account):
    hidden, queued, and not re-announced by the group until a moderator approves it."""
    discussion = await session.get(Discussion, contribution.discussion_id)
    relay = None
    for event in await session.scalars(select(OutboxEvent).where(
            OutboxEvent.kind == contributions.CONTRIBUTION_RECEIVED, OutboxEvent.processed_at.is_(None))):
        if event.payload.get("contribution_id") == contribution.id:
            relay = event.payload.get("activity")
            await session.execute(delete(OutboxEvent).where(OutboxEvent.id == event.id))
    row = HiddenContent(target_kind="contribution", target_ap_id=contribution.ap_id,
                        organization_id=discussion.organization_id, reason=reason, held=True, relay=relay)
    session.add(row)
    contribution.hidden = True
    await session.flush()
    return row


async def held_content(session: AsyncSession, user: User) -> list[tuple[HiddenContent, Contribution]]:
    """Contributions held for review that this user may approve, oldest first."""
    orgs = await moderated_organisations(session, user)
    query = (select(HiddenContent, Contribution)
             .join(Contribution, Contribution.ap_id == HiddenContent.target_ap_id)
             .where(HiddenContent.held.is_(True)))
    if orgs is not None:
        query = query.where(HiddenContent.organization_id.in_(orgs or [-1]))
    return [(h, c) for h, c in await session.execute(query.order_by(HiddenContent.id).limit(500))]


async def hidden_reasons(session: AsyncSession, ap_ids: list[str]) -> dict[str, str]:
    """{ap_id: reason} of those that are hidden or held (what the pages show in their place)."""
    if not ap_ids:
        return {}
    rows = await session.execute(select(HiddenContent.target_ap_id, HiddenContent.reason)
                                 .where(HiddenContent.target_ap_id.in_(ap_ids)))
    return dict(rows.all())


# -- pre-moderation ------------------------------------------------------------------------------------

async def premoderation(session: AsyncSession, organization_id: int) -> int:
    """How many first contributions of each remote account this organisation holds (0: none)."""
    value = await session.scalar(select(ModerationSetting.premoderate_first)
                                 .where(ModerationSetting.organization_id == organization_id))
    return value or 0


async def set_premoderation(session: AsyncSession, user: User | None, organization_id: int, first: int) -> None:
    if not 0 <= first <= 100:
        raise InvalidInput("pre-moderation holds between 0 and 100 first contributions")
    row = await session.scalar(select(ModerationSetting)
                               .where(ModerationSetting.organization_id == organization_id))
    if row is None:
        row = ModerationSetting(organization_id=organization_id)
        session.add(row)
    row.premoderate_first = first
    await session.flush()
    await moderation_log.record(session, user, "premoderation", "organisation", str(organization_id),
                                organization_id=organization_id, reason=str(first))


async def needs_premoderation(session: AsyncSession, contribution: Contribution) -> bool:
    """Whether this remote contribution is among its author's first N in the organisation."""
    discussion = await session.get(Discussion, contribution.discussion_id)
    first = await premoderation(session, discussion.organization_id)
    if not first:
        return False
    earlier = await session.scalars(
        select(Contribution.id).join(Discussion, Discussion.id == Contribution.discussion_id)
        .where(Contribution.author_id == contribution.author_id, Contribution.id != contribution.id,
               Discussion.organization_id == discussion.organization_id).limit(first))
    return len(list(earlier)) < first


async def hidden_in_discussion(session: AsyncSession, discussion_id: int) -> dict[str, str]:
    """{ap_id: reason} of the hidden or held contributions of a discussion (shown in their place)."""
    rows = await session.execute(
        select(HiddenContent.target_ap_id, HiddenContent.reason)
        .join(Contribution, Contribution.ap_id == HiddenContent.target_ap_id)
        .where(Contribution.discussion_id == discussion_id))
    return dict(rows.all())


async def all_reports(session: AsyncSession, *, include_closed: bool = False) -> list[Report]:
    """Every open report (and the closed ones with ``include_closed``), oldest first: `civic reports`."""
    query = select(Report)
    if not include_closed:
        query = query.where(Report.state == ReportStates.open)
    return list(await session.scalars(query.order_by(Report.created_at, Report.id)))


async def hidden_reason(session: AsyncSession, ap_id: str) -> str | None:
    """The reason shown in place of this contribution or proposal, or None when it is not hidden."""
    row = await hidden(session, ap_id)
    return None if row is None else row.reason
