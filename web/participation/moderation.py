"""Moderation pages: the report form, the moderators' queue, a report's actions (hide/restore, resolve,
dismiss, forward, block/silence accounts, block domains), and the moderation log (SECURITY.md rule 22)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node.db import transaction
from node.errors import CivicError, Conflict, NotFound
from node.models import Actor, Discussion, ProposalStates, Report, User
from node.services import moderation, moderation_log, reports
from web.i18n import _, translate
from web.participation import threads
from web.participation.common import (
    can_see,
    forbidden,
    not_found,
    page,
    person,
    require_user,
    row_id,
    runtime,
)
from web.render import local_path, read_form

CATEGORY_LABELS = {
    "spam": _("Spam or advertising"), "abuse": _("Harassment or hateful content"),
    "illegal": _("Illegal content"), "misinformation": _("Misinformation"), "other": _("Something else"),
}
KIND_LABELS = {"contribution": _("Contribution"), "proposal": _("Proposal"), "account": _("Account"),
               "report": _("Report"), "organisation": _("Organisation")}
ACTION_LABELS = {
    "hide": _("Hidden"), "restore": _("Shown again"), "approve": _("Approved"), "resolve": _("Report resolved"),
    "dismiss": _("Report dismissed"), "forward": _("Report forwarded"), "block": _("Account blocked"),
    "silence": _("Account silenced"), "unblock": _("Account unblocked"), "premoderation": _("Pre-moderation"),
    "block_domain": _("Domain blocked"), "unblock_domain": _("Domain unblocked"),
}


async def _link(session: AsyncSession, request: web.Request, target: reports.Target | None) -> str | None:
    """Where a moderator sees the reported thing on this node (its page, or the account's page)."""
    if target is None:
        return None
    if target.contribution is not None:
        discussion = await session.get(Discussion, target.contribution.discussion_id)
        return await threads.contribution_target(session, request, discussion, target.contribution)
    if target.proposal is not None:
        return target.proposal.ap_id
    return target.actor.url or target.ap_id if target.actor else None


async def _reportable(session: AsyncSession, user: User, ap_id: str) -> reports.Target:
    """What a signed-in visitor may report: a thing they can see (404 otherwise, as if missing)."""
    target = await reports.target_of(session, ap_id)
    if target is None:
        raise NotFound("nothing to report here")
    if target.contribution is not None:
        discussion = await session.get(Discussion, target.contribution.discussion_id)
        if not await can_see(session, user, discussion.organization, discussion):
            raise NotFound("nothing to report here")
    if target.proposal is not None and target.proposal.state not in ProposalStates.PUBLIC:
        raise NotFound("nothing to report here")
    return target


def _labels(request: web.Request) -> dict:
    return {
        "category_label": lambda c: translate(request, CATEGORY_LABELS.get(c, c)),
        "kind_label": lambda k: translate(request, KIND_LABELS.get(k, k)),
        "action_label": lambda a: translate(request, ACTION_LABELS.get(a, a)),
        "categories": reports.CATEGORIES,
    }


async def _report_form(request: web.Request, target_ap_id: str, values: dict, errors: dict,
                       status: int = 200) -> web.Response:
    rt = runtime(request)
    user = await require_user(request, f"/report?target={target_ap_id}")
    async with rt.sessions() as session:
        try:
            target = await _reportable(session, user, target_ap_id)
        except NotFound:
            raise not_found(request) from None
        link = await _link(session, request, target)
    return await page(request, "moderation/report.html", {
        "target": target, "link": link, "values": values, "errors": errors, **_labels(request)},
        status=status)


async def report_form(request: web.Request) -> web.StreamResponse:
    """GET /report?target=<id>: report a contribution, a proposal or an account."""
    return await _report_form(request, request.query.get("target", ""), {}, {})


async def submit_report(request: web.Request) -> web.StreamResponse:
    """POST /report: open the report (one open report per reporter and target)."""
    form = await read_form(request)
    rt = runtime(request)
    target_ap_id = form.get("target") or ""
    user = await require_user(request, f"/report?target={target_ap_id}")
    values = {"category": form.get("category") or "", "reason": (form.get("reason") or "").strip()}
    errors, status = {}, 400
    if values["category"] not in reports.CATEGORIES:
        errors["category"] = translate(request, _("Choose what is wrong."))
    if len(values["reason"]) > reports.MAX_REASON:
        errors["reason"] = translate(request, _("The reason is limited to %(max)s characters."),
                                     max=reports.MAX_REASON)
    if not errors:
        async with transaction(rt.sessions) as session:
            try:
                target = await _reportable(session, user, target_ap_id)
            except NotFound:
                raise not_found(request) from None
            try:
                await reports.report(session, await person(session, user), target,
                                     category=values["category"], reason=values["reason"])
            except Conflict:
                errors["reason"] = translate(request, _("You already reported this: the moderators have it."))
                status = 409
    if errors:
        return await _report_form(request, target_ap_id, values, errors, status=status)
    return await page(request, "moderation/reported.html", {})


# -- the moderators' side -------------------------------------------------------------------------

async def _moderator(request: web.Request, session: AsyncSession) -> tuple[User, list[int] | None]:
    """The signed-in user and the organisations they moderate (None: node admin); 403 for others."""
    user = await require_user(request)
    user = await session.get(User, user.id)
    orgs = await reports.moderated_organisations(session, user)
    if orgs == []:
        raise forbidden()
    return user, orgs


async def queue_page(request: web.Request) -> web.StreamResponse:
    """GET /moderation: open reports and held contributions this user may act on."""
    async with runtime(request).sessions() as session:
        user, _orgs = await _moderator(request, session)
        open_reports = await reports.queue(session, user)
        held = await reports.held_content(session, user)
        held_links = {c.id: await _link(session, request, await reports.target_of(session, c.ap_id))
                      for _h, c in held}
    return await page(request, "moderation/queue.html", {
        "reports": open_reports, "held": held, "held_links": held_links, "is_admin": user.is_admin,
        **_labels(request)})


async def _report_context(session: AsyncSession, request: web.Request, user: User, row: Report) -> dict:
    target = await reports.target_of(session, row.target_ap_id)
    hidden = await reports.hidden(session, row.target_ap_id)
    restriction = None
    if row.target_actor is not None and not row.target_actor.local:
        restriction = await moderation.account_restriction(session, row.target_actor.ap_id)
    return {"report": row, "target": target, "link": await _link(session, request, target), "hidden": hidden,
            "restriction": restriction, "is_admin": user.is_admin,
            "can_forward": row.target_actor is not None and not row.target_actor.local
            and row.forwarded_at is None, **_labels(request)}


async def report_page(request: web.Request) -> web.StreamResponse:
    """GET /moderation/reports/{id}: a report and what can be done about it (404 if not yours)."""
    async with runtime(request).sessions() as session:
        user, _orgs = await _moderator(request, session)
        try:
            row = await reports.require_report(session, user, row_id(request.match_info["id"]) or 0)
        except NotFound:
            raise not_found(request) from None
        context = await _report_context(session, request, user, row)
    return await page(request, "moderation/report_detail.html", context)


async def report_action(request: web.Request) -> web.StreamResponse:
    """POST /moderation/reports/{id}: resolve, dismiss or forward (a Flag to the origin node)."""
    form = await read_form(request)
    rt = runtime(request)
    action = form.get("action") or ""
    if action not in ("resolve", "dismiss", "forward"):
        raise web.HTTPBadRequest(text=translate(request, _("Choose what to do with the report.")))
    async with transaction(rt.sessions) as session:
        user, _orgs = await _moderator(request, session)
        try:
            row = await reports.require_report(session, user, row_id(request.match_info["id"]) or 0)
        except NotFound:
            raise not_found(request) from None
        try:
            if action == "forward":
                await reports.forward(session, user, row, form.get("comment") or "")
            else:
                state = "resolved" if action == "resolve" else "dismissed"
                await reports.close(session, user, row, state, form.get("note") or "")
        except Conflict:
            raise web.HTTPConflict(text=translate(request, _("This was already done."))) from None
        except CivicError:
            raise web.HTTPBadRequest(text=translate(request, _("This report cannot be forwarded."))) from None
    if action == "forward":
        rt.outbox_ready.set()
    raise web.HTTPSeeOther(f"/moderation/reports/{row.id}")


async def content_action(request: web.Request) -> web.StreamResponse:
    """POST /moderation/content: hide (with the reason shown in its place) or show again a
    contribution or proposal; approve a held one. Only its organisation's moderators and node admins."""
    form = await read_form(request)
    rt = runtime(request)
    action = form.get("action") or ""
    reason = (form.get("reason") or "").strip()
    if action not in ("hide", "restore"):
        raise web.HTTPBadRequest(text=translate(request, _("Choose what to do.")))
    if action == "hide" and not reason:
        raise web.HTTPBadRequest(text=translate(request, _("Give the reason shown in place of the content.")))
    if len(reason) > reports.MAX_REASON:
        raise web.HTTPBadRequest(text=translate(request, _("The reason is limited to %(max)s characters."),
                                                max=reports.MAX_REASON))
    async with transaction(rt.sessions) as session:
        user = await require_user(request)
        user = await session.get(User, user.id)
        target = await reports.target_of(session, form.get("target") or "")
        if target is None or target.kind not in ("contribution", "proposal"):
            raise not_found(request)
        if not await reports.may_moderate(session, user, target.organization_id):
            raise forbidden()
        if action == "hide":
            await reports.hide(session, user, target, reason)
        else:
            await reports.restore(session, user, target, reason)
        back = await _link(session, request, target)
    # The pages showing it changed with the commit, here and in the other processes (node/changes.py).
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(local_path(form.get("next"), "") or back or "/moderation")


async def account_action(request: web.Request) -> web.StreamResponse:
    """POST /moderation/accounts: block, silence or unblock a remote account (node admins only)."""
    form = await read_form(request)
    rt = runtime(request)
    action = form.get("action") or ""
    if action not in ("block", "silence", "unblock"):
        raise web.HTTPBadRequest(text=translate(request, _("Choose what to do.")))
    async with transaction(rt.sessions) as session:
        user, _orgs = await _moderator(request, session)
        if not user.is_admin:
            raise forbidden()
        account = (form.get("account") or "").strip()
        remote = await session.scalar(select(Actor).where(Actor.ap_id == account))
        if remote is not None and remote.local:
            raise web.HTTPBadRequest(text=translate(request, _("Only remote accounts can be blocked or silenced.")))
        try:
            if action == "unblock":
                await moderation.lift_restriction(session, account, by=user)
            else:
                await moderation.restrict_account(session, account, action, form.get("reason") or "", by=user)
        except CivicError:
            raise web.HTTPBadRequest(text=translate(request, _("Give the address (https://…) of a remote account."))) from None
    raise web.HTTPSeeOther(local_path(form.get("next"), "/moderation"))


async def domain_action(request: web.Request) -> web.StreamResponse:
    """POST /moderation/domains: block or unblock a domain and its subdomains (node admins only);
    the node's processes apply it without a restart (node.services.moderation)."""
    form = await read_form(request)
    rt = runtime(request)
    action = form.get("action") or ""
    if action not in ("block", "unblock"):
        raise web.HTTPBadRequest(text=translate(request, _("Choose what to do.")))
    async with transaction(rt.sessions) as session:
        user, _orgs = await _moderator(request, session)
        if not user.is_admin:
            raise forbidden()
        domain = (form.get("domain") or "").strip()
        try:
            if domain.lower() in (rt.uris.domain.lower(), rt.uris.domain.split(":")[0].lower()):
                raise CivicError("this node's own domain")
            if action == "block":
                await moderation.block_domain(session, domain, (form.get("reason") or "")[:1000], by=user)
            else:
                await moderation.unblock_domain(session, domain, by=user)
        except CivicError:
            raise web.HTTPBadRequest(text=translate(request, _("Give a domain name other than this node's."))) from None
    raise web.HTTPSeeOther(local_path(form.get("next"), "/moderation"))


async def log_page(request: web.Request) -> web.StreamResponse:
    """GET /moderation/log: who did what, to what, why and when (their organisations', or all)."""
    async with runtime(request).sessions() as session:
        _user, orgs = await _moderator(request, session)
        entries = await moderation_log.entries(session, orgs)
    return await page(request, "moderation/log.html", {"entries": entries, **_labels(request)})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/report", report_form)
    app.router.add_post("/report", submit_report)
    app.router.add_get("/moderation", queue_page)
    app.router.add_get("/moderation/log", log_page)
    app.router.add_get(r"/moderation/reports/{id:\d+}", report_page)
    app.router.add_post(r"/moderation/reports/{id:\d+}", report_action)
    app.router.add_post("/moderation/content", content_action)
    app.router.add_post("/moderation/accounts", account_action)
    app.router.add_post("/moderation/domains", domain_action)


__all__ = ["add_routes"]
