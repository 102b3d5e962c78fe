"""Proposals: the filtered index, the proposal page (status, history, supports, official answer),
submitting (draft or published), publishing a draft and withdrawing."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import participation_objects
from node import changes, visibility
from node.db import transaction
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.models import Actor, Proposal, ProposalStates, ProposalSupport, Space, User
from node.services import proposal_access, reactions, reports
from node.services import proposals as proposal_service
from node.services import spaces as space_service
from web.cache import RESIDENT, Viewer, depends, share_page, shows, viewers_from
from web.i18n import _, locale_of, translate
from web.participation.common import (
    MODERATORS,
    OFFICIALS,
    STAFF,
    forbidden,
    has_role,
    not_found,
    now,
    organisation,
    page,
    paragraphs,
    person,
    require_user,
    row_id,
    runtime,
    standing_in,
    viewer_on_organisation_page,
    wants_as2,
)
from web.participation.limits import check_lengths, oversize_errors, read_form_keeping
from web.participation.organisations import profile_of, theme_version
from web.render import add_vary, current_user, read_form

S = ProposalStates
SORT_LABELS = {"supports": _("Most supported"), "recent": _("Most recent"), "oldest": _("Oldest")}
MAX_BODY = 20_000
# What people may type, in characters: refused above, never cut (web/participation/limits.py).
PROPOSAL_LIMITS = {"title": 300, "body": MAX_BODY}


def index_audience(who: visibility.Standing) -> str:
    """The index lists what the visitor's standing lists: one shared rendering per standing
    (web/cache.py), so a member's list never reaches anyone else (SECURITY.md rules 12, 24)."""
    return f"{RESIDENT}+{who.key}"


async def index_viewer(request: web.Request) -> Viewer | None:
    """A signed-in visitor's side of the proposal index: its standing and the proposals they support."""
    async def sides(session: AsyncSession, user: User, org: Actor) -> tuple[str, dict]:
        return index_audience(await standing_in(session, user, org)), {
            "supported": await proposal_service.supported_in(session, await person(session, user), org)}

    return await viewer_on_organisation_page(request, sides)


@viewers_from(index_viewer)
async def index(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/proposals?state=…&sort=…&page=…"""
    user = await current_user(request)
    state = request.query.get("state") or None
    sort = request.query.get("sort") or "supports"
    raw_page = request.query.get("page") or "1"
    error = None
    if (state is not None and state not in S.PUBLIC) or sort not in SORT_LABELS or not row_id(raw_page):
        error = translate(request, _("This filter does not exist: the list below is not filtered."))
        state, sort, raw_page = None, "supports", "1"
    async with runtime(request).sessions() as session:
        org = await organisation(session, request)
        who = await standing_in(session, user, org)
        result = await proposal_service.index(session, org, state=state, sort=sort, page=int(raw_page),
                                              levels=visibility.listed_levels(who))
        profile = await profile_of(session, org)
        supported = await proposal_service.supported_in(
            session, await person(session, user) if user else None, org)
    context = {
        "org": org, "result": result, "state": state, "sort": sort, "error": error,
        "states": list(S.PUBLIC), "sorts": SORT_LABELS,
        "mark": share_page(request, user is not None, index_audience(who), supported=supported),
        "theme_version": theme_version(profile),
    }
    return await page(request, "participation/proposals.html", context, status=400 if error else 200)


async def _proposal(session: AsyncSession, request: web.Request, user: User | None) -> tuple[Proposal, Actor]:
    """The proposal of the URL, when the visitor may read it (its space's and discussion's level,
    SECURITY.md rule 24); drafts only for their author and the organisation's team. Otherwise the
    404 of a missing one."""
    proposal = await proposal_service.by_ap_id(session, runtime(request).uris.proposal(request.match_info["token"]))
    if proposal is None:
        raise not_found(request)
    org = await session.get(Actor, proposal.organization_id)
    is_staff = await has_role(session, user, org, STAFF)
    if not is_staff and not await proposal_access.readable(session, visibility.Reader.of_user(user), proposal):
        raise not_found(request)
    if proposal.state == S.draft and not ((user and user.actor_id == proposal.author_id) or is_staff):
        raise not_found(request)
    if proposal.deleted_at is not None:
        raise web.HTTPGone(text=translate(request, _("This proposal was deleted.")))
    shows(request, await proposal_access.level(session, proposal))  # web/cache.py
    return proposal, org


async def proposal_context(session: AsyncSession, request: web.Request, proposal: Proposal, org: Actor,
                           user: User | None) -> dict:
    space = await session.get(Space, proposal.space_id) if proposal.space_id else None
    me = await person(session, user) if user else None
    history = await proposal_service.history(session, proposal)
    people = {a.id: a for a in await session.scalars(
        select(Actor).where(Actor.id.in_({h.by_actor_id for h in history if h.by_actor_id})))}
    used = None
    if space is not None and space.supports_per_person is not None and me is not None:
        used = await session.scalar(select(func.count()).select_from(ProposalSupport).join(Proposal).where(
            ProposalSupport.actor_id == me.id, Proposal.space_id == space.id)) or 0
    supports_open = await space_service.component_enabled(session, space, "supports", now().date())
    profile = await profile_of(session, org)
    return {
        "org": org, "proposal": proposal, "space": space, "history": history, "people": people,
        "supported": bool(await proposal_service.supported_by(session, me, [proposal.id])),
        "supports_left": None if used is None else max(space.supports_per_person - used, 0),
        "supportable": proposal.state in proposal_service.SUPPORTABLE and supports_open,
        "succeeded": proposal_service.succeeded(proposal, space),
        "is_author": bool(me) and me.id == proposal.author_id,
        "can_answer": await has_role(session, user, org, OFFICIALS),
        "withdrawable": S.withdrawn in proposal_service.AUTHOR_MOVES.get(proposal.state, set()),
        "theme_version": theme_version(profile),
        # Hidden by the moderators (SECURITY.md rule 22): others see the reason instead of the text.
        "hidden_reason": await reports.hidden_reason(session, proposal.ap_id),
        "is_moderator": await has_role(session, user, org, MODERATORS),
    }


async def proposal_page(request: web.Request) -> web.StreamResponse:
    """GET /proposals/{token}."""
    if wants_as2(request):
        return await participation_objects.proposal_document(request, request.match_info["token"])
    user = await current_user(request)
    async with runtime(request).sessions() as session:
        proposal, org = await _proposal(session, request, user)
        context = await proposal_context(session, request, proposal, org, user)
    # Shared by anonymous readers only (no share_page: a reader's supports left are theirs).
    depends(request, changes.proposal(proposal.id), changes.profile(org.id))
    response = await page(request, "participation/proposal.html", context)
    add_vary(response, "Accept")
    return response


async def support(request: web.Request) -> web.StreamResponse:
    """POST /proposals/{token}/support: support, or withdraw the support (a toggle)."""
    await read_form(request)
    rt = runtime(request)
    user = await require_user(request, rt.uris.proposal(request.match_info["token"]))
    error = None
    async with transaction(rt.sessions) as session:
        proposal, org = await _proposal(session, request, user)
        space = await session.get(Space, proposal.space_id) if proposal.space_id else None
        if not await space_service.component_enabled(session, space, "supports", now().date()):
            raise forbidden(_("Supports are not open in this phase."))
        me = await person(session, user)
        try:
            await reactions.toggle(session, rt.uris, proposal_service.SUPPORT, proposal, me)
        except Conflict:
            if proposal.author_id == me.id:  # SECURITY.md rule 23: nothing is written
                error = translate(request, _("You cannot support your own proposal."))
            elif proposal.state not in proposal_service.SUPPORTABLE:
                error = translate(request, _("This proposal cannot be supported any more."))
            else:
                error = translate(request, _("You have already given all your %(count)s supports in this space."),
                                  count=space.supports_per_person if space else 0)
    if error:
        async with rt.sessions() as session:
            proposal, org = await _proposal(session, request, user)
            context = await proposal_context(session, request, proposal, org, user)
        return await page(request, "participation/proposal.html", {**context, "support_error": error},
                          status=409)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(f"{proposal.ap_id}#supports")


async def _author_move(request: web.Request, to_state: str) -> web.StreamResponse:
    await read_form(request)
    rt = runtime(request)
    user = await require_user(request, rt.uris.proposal(request.match_info["token"]))
    async with transaction(rt.sessions) as session:
        proposal, _org = await _proposal(session, request, user)
        if proposal.author_id != user.actor_id:
            raise forbidden(_("Only the author can do this."))
        try:
            await proposal_service.transition(session, proposal, to_state, by=await person(session, user),
                                              as_author=True)
        except (Conflict, Forbidden):
            raise forbidden(_("This proposal cannot change to that state now.")) from None
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(proposal.ap_id)


async def publish(request: web.Request) -> web.StreamResponse:
    """POST /proposals/{token}/publish: the author publishes a draft."""
    return await _author_move(request, S.published)


async def withdraw(request: web.Request) -> web.StreamResponse:
    """POST /proposals/{token}/withdraw: the author withdraws the proposal."""
    return await _author_move(request, S.withdrawn)


async def _form_context(session: AsyncSession, org: Actor, user: User) -> dict:
    """The spaces the user may file a proposal into: open for proposals now, and readable by them."""
    today = now().date()
    who = await standing_in(session, user, org)
    open_spaces = [s for s in await space_service.spaces_of(session, org)
                   if visibility.admits(visibility.level_of(s), who)
                   and await space_service.component_enabled(session, s, "proposals", today)]
    return {"org": org, "spaces": open_spaces}


async def _space(session: AsyncSession, request: web.Request, org: Actor, user: User, raw: str) -> Space:
    """The space chosen in the form: one of the organisation's that the user may read, else the
    404 of a space that does not exist (filing into a ``members`` space would show its members'
    things to others, SECURITY.md rule 24)."""
    space = await session.get(Space, row_id(raw)) if row_id(raw) else None
    if space is None or space.organization_id != org.id or not visibility.admits(
            visibility.level_of(space), await standing_in(session, user, org)):
        raise not_found(request)
    return space


async def proposal_form(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/proposals/new."""
    rt = runtime(request)
    user = await require_user(request, rt.uris.proposal_form(request.match_info["org"]))
    async with rt.sessions() as session:
        org = await organisation(session, request)
        context = await _form_context(session, org, user)
    return await page(request, "participation/proposal_form.html", context)


async def submit(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/proposals/new: save a draft (action=draft) or publish at once."""
    form, oversize = await read_form_keeping(request)
    rt = runtime(request)
    user = await require_user(request, rt.uris.proposal_form(request.match_info["org"]))
    values = {k: (form.get(k) or "").strip() for k in ("title", "body", "space")}
    errors = {}
    check_lengths(request, errors, values, PROPOSAL_LIMITS)
    if len(values["title"]) < 3:
        errors["title"] = translate(request, _("The title needs between 3 and 300 characters."))
    if not values["body"]:
        errors["body"] = translate(request, _("Describe your proposal."))
    status = oversize_errors(request, errors, oversize, PROPOSAL_LIMITS, fallback="body")
    async with transaction(rt.sessions) as session:
        org = await organisation(session, request)
        context = await _form_context(session, org, user)
        space = None
        if values["space"]:
            space = await _space(session, request, org, user, values["space"])
            if space.id not in {s.id for s in context["spaces"]}:
                errors["space"] = translate(request, _("Proposals are not open in this space now."))
        if not errors:
            try:
                proposal = await proposal_service.create(
                    session, rt.uris, org, await person(session, user), values["title"],
                    paragraphs(values["body"]), space=space, publish=form.get("action") != "draft",
                    language=locale_of(request))
            except InvalidInput:
                errors["body"] = translate(request, _("Check the title and the text."))
            except NotFound:
                raise not_found(request) from None
            else:
                target = proposal.ap_id
    if errors:
        return await page(request, "participation/proposal_form.html",
                          {**context, "values": values, "errors": errors}, status=status)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(target)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/orgs/{org}/proposals", index, name="proposals")
    app.router.add_get("/orgs/{org}/proposals/new", proposal_form)
    app.router.add_post("/orgs/{org}/proposals/new", submit)
    app.router.add_get("/proposals/{token}", proposal_page, name="proposal")
    app.router.add_post("/proposals/{token}/support", support)
    app.router.add_post("/proposals/{token}/publish", publish)
    app.router.add_post("/proposals/{token}/withdraw", withdraw)
