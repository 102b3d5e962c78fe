"""Admin screens of discussions: opening official ones, closing, moderating citizen ones and
contributions (quality, impact, hidden), and the stakeholders of each discussion."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from federation.fetch import FetchError
from federation.resolve import resolve_actor
from federation.ssrf import UnsafeURL
from node.db import transaction
from node.errors import CivicError, Conflict, InvalidInput, NotFound
from node.models import STAKEHOLDER_ROLES, Actor, Contribution, Discussion
from node.services import actors as actor_service
from node.services import community, contributions, reports
from node.services import discussions as discussion_service
from node.services import spaces as space_service
from node.uris import SLUG_RE
from node.visibility import LEVELS as VISIBILITIES
from web.i18n import _, translate
from web.participation import threads
from web.participation.admin import flat, staff_only, texts
from web.participation.common import (
    MODERATORS,
    OFFICIALS,
    STAFF,
    has_role,
    int_field,
    not_found,
    row_id,
    runtime,
)
from web.participation.common import page as render_page
from web.participation.limits import (
    check_lengths,
    check_translations,
    oversize_errors,
    read_form_keeping,
)
from web.render import read_form

MARKS = {"quality-on": {"quality": True}, "quality-off": {"quality": False},
         "impact-on": {"impact": True}, "impact-off": {"impact": False}}
# Hiding goes through the moderators' service (node.services.reports): a reason shown in place of the
# content, and an entry in the moderation log (SECURITY.md rule 22).
HIDE_MARKS = {"hidden-on": True, "hidden-off": False}


async def _list_context(session: AsyncSession, user, org: Actor) -> dict:
    return {
        "org": org,
        "open_discussions": await discussion_service.list_for(session, org, status="open"),
        "closed_discussions": await discussion_service.list_for(session, org, status="closed"),
        "pending": await discussion_service.pending_moderation(session, org),
        "spaces": await space_service.spaces_of(session, org),
        "visibilities": VISIBILITIES,
        "can_open": await has_role(session, user, org, OFFICIALS),
        "can_moderate": await has_role(session, user, org, MODERATORS),
    }


async def discussions_page(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/admin/discussions."""
    async with runtime(request).sessions() as session:
        user, org = await staff_only(request, session, STAFF)
        context = await _list_context(session, user, org)
    return await render_page(request, "participation/admin/discussions.html", context)


async def open_official(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/discussions: open an official discussion."""
    form, oversize = await read_form_keeping(request)
    rt = runtime(request)
    values = {k: (form.get(k) or "").strip() for k in ("slug", "visibility", "support_threshold", "space")}
    values.update({k: form.get(k) == "on" for k in ("alignment_enabled", "official_only")})
    for name in ("title", "summary", "body"):
        flat(values, name, form)
    errors = {}
    if not SLUG_RE.match(values["slug"].lower()):
        errors["slug"] = translate(request, _("Use 1 to 48 lower-case letters, digits or dashes."))
    if not texts(form, "title"):
        errors["title"] = translate(request, _("Give a title in at least one language."))
    for name, limit in (("title", 200), ("summary", 500), ("body", 20_000)):
        check_translations(request, errors, name, texts(form, name), limit)
    if values["visibility"] not in VISIBILITIES:
        errors["visibility"] = translate(request, _("Choose a visibility."))
    try:
        threshold = int_field(form, "support_threshold") or 5
    except ValueError:
        errors["support_threshold"] = translate(request, _("Give a whole number between 1 and 1,000,000, or nothing."))
    status = oversize_errors(request, errors, oversize, {"title": 200, "summary": 500, "body": 20_000},
                             fallback="body")
    async with transaction(rt.sessions) as session:
        user, org = await staff_only(request, session, OFFICIALS)
        space = None
        if values["space"]:
            space = next((s for s in await space_service.spaces_of(session, org)
                          if str(s.id) == values["space"]), None)
            if space is None:
                errors["space"] = translate(request, _("Choose a space of this organisation."))
        if not errors:
            try:
                discussion = await discussion_service.open_discussion(
                    session, rt.uris, org, values["slug"], texts(form, "title"),
                    summary=texts(form, "summary"), body=texts(form, "body"), space=space,
                    visibility=values["visibility"], alignment_enabled=values["alignment_enabled"],
                    support_threshold=threshold, official_only=values["official_only"])
            except Conflict:
                errors["slug"] = translate(request, _("This organisation already has a discussion with this name."))
            except InvalidInput:
                errors["slug"] = translate(request, _("This name is too long for this organisation."))
            else:
                target = discussion.page_ap_id
        if errors:
            context = await _list_context(session, user, org)
    if errors:
        return await render_page(request, "participation/admin/discussions.html",
                                 {**context, "values": values, "errors": errors}, status=status)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(target)


async def _discussion(session: AsyncSession, request: web.Request, org: Actor) -> Discussion:
    try:
        return await discussion_service.by_slug(session, org, request.match_info["slug"])
    except NotFound:
        raise not_found(request) from None


async def _manage_context(session: AsyncSession, user, org: Actor, discussion: Discussion) -> dict:
    return {
        "org": org, "discussion": discussion,
        "can_close": await has_role(session, user, org, OFFICIALS),
        "can_moderate": await has_role(session, user, org, MODERATORS),
        "stakeholders": await community.key_stakeholders(session, discussion, limit=500),
        "roles": STAKEHOLDER_ROLES,
    }


async def manage_page(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/admin/discussions/{slug}."""
    async with runtime(request).sessions() as session:
        user, org = await staff_only(request, session, STAFF)
        discussion = await _discussion(session, request, org)
        context = await _manage_context(session, user, org, discussion)
    return await render_page(request, "participation/admin/discussion.html", context)


async def close(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/discussions/{slug}/close: close with a conclusion."""
    form, oversize = await read_form_keeping(request)
    rt = runtime(request)
    values: dict = {}
    flat(values, "conclusion", form)
    errors = {}
    if not texts(form, "conclusion"):
        errors["conclusion"] = translate(request, _("Write the conclusion in at least one language."))
    check_translations(request, errors, "conclusion", texts(form, "conclusion"), 20_000)
    status = oversize_errors(request, errors, oversize, {"conclusion": 20_000}, fallback="conclusion")
    async with transaction(rt.sessions) as session:
        user, org = await staff_only(request, session, OFFICIALS)
        discussion = await _discussion(session, request, org)
        if not errors:
            try:
                await discussion_service.close(session, discussion, texts(form, "conclusion"))
            except Conflict:
                errors["conclusion"] = translate(request, _("This discussion is already closed."))
            except InvalidInput:
                errors["conclusion"] = translate(request, _("The conclusion is limited to 20,000 characters."))
        if errors:
            context = await _manage_context(session, user, org, discussion)
    if errors:
        return await render_page(request, "participation/admin/discussion.html",
                                 {**context, "values": values, "errors": errors}, status=status)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(discussion.page_ap_id)


async def moderate_discussion(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/discussions/{slug}/moderate: approve or reject a citizen discussion."""
    form = await read_form(request)
    rt = runtime(request)
    if form.get("decision") not in ("approve", "reject"):
        raise web.HTTPBadRequest(text=_("Choose to approve or to reject."))
    async with transaction(rt.sessions) as session:
        _user, org = await staff_only(request, session, MODERATORS)
        discussion = await _discussion(session, request, org)
        try:
            await discussion_service.moderate(session, discussion, form["decision"] == "approve")
        except Conflict:
            raise web.HTTPConflict(text=_("This discussion was already moderated.")) from None
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(rt.uris.admin(org.username, "discussions"))


async def mark_contribution(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/discussions/{slug}/contributions/{id}/moderate: quality, impact, hidden.

    Hiding needs a reason, like the moderation pages' form; both are logged the same way."""
    form = await read_form(request)
    rt = runtime(request)
    mark, hide = MARKS.get(form.get("mark") or ""), HIDE_MARKS.get(form.get("mark") or "")
    if mark is None and hide is None:
        raise web.HTTPBadRequest(text=_("Choose what to change."))
    reason = (form.get("reason") or "").strip()
    async with transaction(rt.sessions) as session:
        user, org = await staff_only(request, session, MODERATORS)
        if hide and not reason:
            raise web.HTTPBadRequest(text=translate(request, _("Give the reason shown in place of the content.")))
        if len(reason) > reports.MAX_REASON:
            raise web.HTTPBadRequest(text=translate(request, _("The reason is limited to %(max)s characters."),
                                                    max=reports.MAX_REASON))
        discussion = await _discussion(session, request, org)
        contribution_id = row_id(request.match_info["id"])
        contribution = await session.get(Contribution, contribution_id) if contribution_id else None
        if contribution is None or contribution.discussion_id != discussion.id:
            raise not_found(request)
        if mark is not None:
            await contributions.set_mark(session, contribution, **mark)
        elif contribution.deleted_at is None:
            target = await reports.target_of(session, contribution.ap_id)
            if hide:
                await reports.hide(session, user, target, reason)
            else:
                await reports.restore(session, user, target, reason)
        back = await threads.contribution_target(session, request, discussion, contribution)
    raise web.HTTPSeeOther(back)


async def _stakeholder_actor(request: web.Request, target: str) -> Actor:
    """A local handle (``camille``), or a fediverse handle / actor URL resolved remotely."""
    rt = runtime(request)
    if "@" not in target.lstrip("@") and "://" not in target:
        async with rt.sessions() as session:
            return await actor_service.require_local_actor(session, target.lstrip("@"))
    return await resolve_actor(rt, target)


async def add_stakeholder(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/discussions/{slug}/stakeholders: add one, or change its role."""
    form = await read_form(request)
    rt = runtime(request)
    values = {k: (form.get(k) or "").strip() for k in ("target", "role", "description")}
    errors = {}
    if values["role"] not in STAKEHOLDER_ROLES:
        errors["role"] = translate(request, _("Choose a role."))
    check_lengths(request, errors, values, {"description": 300})
    async with rt.sessions() as session:
        await staff_only(request, session, MODERATORS)
    actor = None
    if not values["target"]:
        errors["target"] = translate(request, _("Give a handle or the address of an account."))
    elif not errors:
        try:
            actor = await _stakeholder_actor(request, values["target"])
        except (CivicError, FetchError, UnsafeURL, OSError, ValueError):
            errors["target"] = translate(request, _("No account was found with this handle or address."))
    async with transaction(rt.sessions) as session:
        user, org = await staff_only(request, session, MODERATORS)
        discussion = await _discussion(session, request, org)
        if actor is not None and not errors:
            if actor.type == "Application":
                errors["target"] = translate(request, _("No account was found with this handle or address."))
            else:
                await community.set_stakeholder(session, discussion, await session.merge(actor),
                                                values["role"], values["description"])
        if errors:
            context = await _manage_context(session, user, org, discussion)
    if errors:
        return await render_page(request, "participation/admin/discussion.html",
                                 {**context, "values": values, "errors": errors}, status=400)
    raise web.HTTPSeeOther(rt.uris.admin(org.username, "discussions", discussion.slug) + "#stakeholders")


async def remove_stakeholder(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/discussions/{slug}/stakeholders/remove."""
    form = await read_form(request)
    rt = runtime(request)
    async with transaction(rt.sessions) as session:
        _user, org = await staff_only(request, session, MODERATORS)
        discussion = await _discussion(session, request, org)
        actor_id = row_id(form.get("actor"))
        actor = await session.get(Actor, actor_id) if actor_id else None
        if actor is None or not await community.remove_stakeholder(session, discussion, actor):
            raise not_found(request)
    raise web.HTTPSeeOther(rt.uris.admin(org.username, "discussions", discussion.slug) + "#stakeholders")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/orgs/{org}/admin/discussions", discussions_page)
    app.router.add_post("/orgs/{org}/admin/discussions", open_official)
    app.router.add_get("/orgs/{org}/admin/discussions/{slug}", manage_page)
    app.router.add_post("/orgs/{org}/admin/discussions/{slug}/close", close)
    app.router.add_post("/orgs/{org}/admin/discussions/{slug}/moderate", moderate_discussion)
    app.router.add_post("/orgs/{org}/admin/discussions/{slug}/stakeholders", add_stakeholder)
    app.router.add_post("/orgs/{org}/admin/discussions/{slug}/stakeholders/remove", remove_stakeholder)
    app.router.add_post(r"/orgs/{org}/discussions/{slug}/contributions/{id:\d+}/moderate", mark_contribution)
