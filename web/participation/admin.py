"""Admin screens of an organisation: overview, profile, spaces and phases, answering proposals."""

from __future__ import annotations

import asyncio
from datetime import date

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from node.db import transaction
from node.errors import Conflict, InvalidInput, NotFound
from node.models import Actor, Proposal, ProposalStates, User
from node.models.participation import COMPONENTS, LANGUAGES
from node.services import discussions as discussion_service
from node.services import media
from node.services import proposals as proposal_service
from node.services import spaces as space_service
from node.uris import SLUG_RE
from node.visibility import LEVELS as VISIBILITIES
from web.i18n import _, translate
from web.participation.common import (
    ADMINS,
    MODERATORS,
    OFFICIALS,
    STAFF,
    forbidden,
    has_role,
    int_field,
    not_found,
    organisation,
    page,
    paragraphs,
    person,
    require_role,
    require_user,
    runtime,
)
from web.participation.limits import (
    check_lengths,
    check_translations,
    oversize_errors,
    read_form_keeping,
)
from web.participation.organisations import COLOR, profile_of
from web.render import read_form

S = ProposalStates
ANSWER_STATES = (S.evaluating, S.accepted, S.rejected)


async def staff_only(request: web.Request, session: AsyncSession, roles: tuple[str, ...]) -> tuple[User, Actor]:
    """The logged-in user and the organisation, or 403 when the user lacks every role in ``roles``."""
    user = await require_user(request)
    org = await organisation(session, request)
    await require_role(session, user, org, roles)
    return user, org


def texts(form: dict, name: str) -> dict[str, str]:
    """The {language: text} map of a translatable field (``<name>_fr``, ``<name>_en``, ``<name>_de``)."""
    return {lang: (form.get(f"{name}_{lang}") or "").strip() for lang in LANGUAGES
            if (form.get(f"{name}_{lang}") or "").strip()}


def flat(values: dict, name: str, form: dict) -> None:
    """Keep a translatable field as typed, to show the form again."""
    for lang in LANGUAGES:
        values[f"{name}_{lang}"] = form.get(f"{name}_{lang}") or ""


async def overview(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/admin."""
    async with runtime(request).sessions() as session:
        user, org = await staff_only(request, session, STAFF)
        unanswered = await session.scalar(select(func.count()).select_from(Proposal).where(
            Proposal.organization_id == org.id, Proposal.state.in_((S.published, S.evaluating)),
            Proposal.answer_published_at.is_(None))) or 0
        context = {
            "org": org,
            "is_admin": await has_role(session, user, org, ADMINS),
            "is_moderator": await has_role(session, user, org, MODERATORS),
            "is_official": await has_role(session, user, org, OFFICIALS),
            "pending": await discussion_service.pending_moderation(session, org),
            "unanswered": unanswered,
            "spaces": len(await space_service.spaces_of(session, org)),
        }
    return await page(request, "participation/admin/overview.html", context)


# -- profile --------------------------------------------------------------------------------------

def _profile_values(profile) -> dict:
    values = {"territory": profile.territory, "themes": ", ".join(profile.themes or []),
              "primary_color": profile.primary_color, "accent_color": profile.accent_color,
              "default_language": profile.default_language}
    for lang in LANGUAGES:
        values[f"intro_{lang}"] = (profile.intro or {}).get(lang, "")
    return values


async def profile_form(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/admin/profile."""
    async with runtime(request).sessions() as session:
        _user, org = await staff_only(request, session, ADMINS)
        profile = await profile_of(session, org)
    return await page(request, "participation/admin/profile.html",
                      {"org": org, "values": _profile_values(profile), "logo": profile.logo_path,
                       "saved": "saved" in request.query})


async def save_profile(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/profile."""
    form, oversize = await read_form_keeping(request)
    rt = runtime(request)
    values = {k: (form.get(k) or "").strip() for k in
              ("territory", "themes", "primary_color", "accent_color", "default_language")}
    flat(values, "intro", form)
    errors = {}
    for name in ("primary_color", "accent_color"):
        values[name] = values[name].lower()
        if not COLOR.match(values[name]):
            errors[name] = translate(request, _("Give a colour like #0b5cad."))
    if values["default_language"] not in LANGUAGES:
        errors["default_language"] = translate(request, _("Choose a language."))
    check_lengths(request, errors, values, {"territory": 255})
    check_translations(request, errors, "intro", texts(form, "intro"), 20_000)
    themes = [t.strip() for t in values["themes"].split(",") if t.strip()]
    if len(themes) > space_service.MAX_THEMES:
        errors["themes"] = translate(request, _("At most %(max)s themes (you wrote %(count)s)."),
                                     max=space_service.MAX_THEMES, count=len(themes))
    else:
        check_translations(request, errors, "themes", dict(enumerate(themes)), space_service.MAX_THEME)
    status = oversize_errors(request, errors, oversize, {"intro": 20_000, "territory": 255}, fallback="intro")
    async with transaction(rt.sessions) as session:
        _user, org = await staff_only(request, session, ADMINS)
        if not errors:
            await space_service.update_profile(
                session, org, intro=texts(form, "intro"), territory=values["territory"],
                themes=values["themes"].split(","), primary_color=values["primary_color"],
                accent_color=values["accent_color"], default_language=values["default_language"])
    if errors:
        return await page(request, "participation/admin/profile.html",
                          {"org": org, "values": values, "errors": errors,
                           "logo": (await _profile_logo(rt, org))}, status=status)
    raise web.HTTPSeeOther(rt.uris.admin(org.username, "profile") + "?saved")


async def _profile_logo(rt, org: Actor) -> str | None:
    async with rt.sessions() as session:
        return (await profile_of(session, org)).logo_path


LOGO_FORM = media.MAX_IMAGE + 64 * 1024  # the image, its token and a few small fields
LOGO_PROBLEMS = {"empty": _("Choose an image file."), "large": _("The image is limited to 512 KB."),
                 "type": _("The image must be a PNG, JPEG or WebP file.")}


async def save_logo(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/logo: upload the logo (a file in ``logo``), or remove it
    (``action=remove``). The image is checked by its content; its followers get an Update."""
    form, oversize = await read_form_keeping(request, files=("logo",), max_size=LOGO_FORM)
    rt = runtime(request)
    removing = form.get("action") == "remove" and oversize is None
    # An over-size upload comes back to the form with the reason next to the field (413), not as a
    # bare error page: nothing of it was kept (SECURITY.md rules 11 and 19).
    problem = "large" if oversize else None if removing else media.problem_with(form["logo"])
    async with transaction(rt.sessions) as session:
        _user, org = await staff_only(request, session, ADMINS)  # before anything is written
        profile = await profile_of(session, org)
        if problem is None:
            path = "" if removing else await asyncio.to_thread(media.save_image, rt.settings.data_dir,
                                                               form["logo"])
            await space_service.update_profile(session, org, logo_path=path)
    if problem:
        return await page(request, "participation/admin/profile.html",
                          {"org": org, "values": _profile_values(profile), "logo": profile.logo_path,
                           "errors": {"logo": translate(request, LOGO_PROBLEMS[problem])}},
                          status=413 if oversize else 400)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(rt.uris.admin(org.username, "profile") + "?saved")


# -- spaces and phases ----------------------------------------------------------------------------

async def _spaces_context(session: AsyncSession, org: Actor) -> dict:
    rows = await space_service.spaces_of(session, org)
    return {"org": org, "spaces": [(s, await space_service.phases(session, s)) for s in rows],
            "visibilities": VISIBILITIES, "components": COMPONENTS}


async def spaces_page(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/admin/spaces."""
    async with runtime(request).sessions() as session:
        _user, org = await staff_only(request, session, ADMINS)
        context = await _spaces_context(session, org)
    return await page(request, "participation/admin/spaces.html", context)


async def create_space(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/spaces."""
    form = await read_form(request)
    rt = runtime(request)
    values = {k: (form.get(k) or "").strip() for k in
              ("slug", "visibility", "supports_per_person", "support_threshold")}
    flat(values, "title", form)
    flat(values, "description", form)
    errors = {}
    if not SLUG_RE.match(values["slug"].lower()):
        errors["slug"] = translate(request, _("Use 1 to 48 lower-case letters, digits or dashes."))
    if not texts(form, "title"):
        errors["title"] = translate(request, _("Give a title in at least one language."))
    check_translations(request, errors, "title", texts(form, "title"), 200)
    check_translations(request, errors, "description", texts(form, "description"), 20_000)
    if values["visibility"] not in VISIBILITIES:
        errors["visibility"] = translate(request, _("Choose a visibility."))
    numbers = {}
    for name in ("supports_per_person", "support_threshold"):
        try:
            numbers[name] = int_field(form, name)
        except ValueError:
            errors[name] = translate(request, _("Give a whole number between 1 and 1,000,000, or nothing."))
    async with transaction(rt.sessions) as session:
        _user, org = await staff_only(request, session, ADMINS)
        if not errors:
            try:
                await space_service.create_space(
                    session, org, values["slug"], texts(form, "title"),
                    description=texts(form, "description"), visibility=values["visibility"], **numbers)
            except Conflict:
                errors["slug"] = translate(request, _("This organisation already has a space with this name."))
            except InvalidInput:
                errors["slug"] = translate(request, _("Check the fields of the space."))
        if errors:
            context = await _spaces_context(session, org)
    if errors:
        return await page(request, "participation/admin/spaces.html",
                          {**context, "values": values, "errors": errors}, status=400)
    raise web.HTTPSeeOther(rt.uris.admin(org.username, "spaces"))


async def add_phase(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/spaces/{space}/phases."""
    form = await read_form(request)
    rt = runtime(request)
    values = {k: (form.get(k) or "").strip() for k in ("starts_on", "ends_on")}
    flat(values, "name", form)
    chosen = [c for c in COMPONENTS if form.get(f"component_{c}") == "on"]
    errors = {}
    if not texts(form, "name"):
        errors["name"] = translate(request, _("Give a name in at least one language."))
    check_translations(request, errors, "name", texts(form, "name"), 200)
    dates = {}
    for name in ("starts_on", "ends_on"):
        try:
            dates[name] = date.fromisoformat(values[name])
        except ValueError:
            errors[name] = translate(request, _("Give a date (year-month-day)."))
    if len(dates) == 2 and dates["ends_on"] < dates["starts_on"]:
        errors["ends_on"] = translate(request, _("A phase cannot end before it starts."))
    async with transaction(rt.sessions) as session:
        _user, org = await staff_only(request, session, ADMINS)
        try:
            space = await space_service.space_by_slug(session, org, request.match_info["space"])
        except NotFound:
            raise not_found(request) from None
        if not errors:
            try:
                await space_service.add_phase(session, space, texts(form, "name"), dates["starts_on"],
                                              dates["ends_on"], chosen)
            except Conflict:
                errors["starts_on"] = translate(request, _("This phase overlaps another phase of the space."))
        if errors:
            context = await _spaces_context(session, org)
    if errors:
        return await page(request, "participation/admin/spaces.html",
                          {**context, "phase_space": space.id, "values": {**values, **{
                              f"component_{c}": "on" for c in chosen}}, "errors": errors}, status=400)
    raise web.HTTPSeeOther(rt.uris.admin(org.username, "spaces") + f"#space-{space.slug}")


# -- answering proposals --------------------------------------------------------------------------

async def proposals_page(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/admin/proposals: what waits for an answer first."""
    async with runtime(request).sessions() as session:
        _user, org = await staff_only(request, session, OFFICIALS)
        rows = list(await session.scalars(select(Proposal).where(
            Proposal.organization_id == org.id, Proposal.state.in_(S.PUBLIC))
            .order_by(Proposal.answer_published_at.is_not(None), Proposal.support_count.desc(),
                      Proposal.id.desc()).limit(200)))
    return await page(request, "participation/admin/proposals.html", {"org": org, "proposals": rows})


async def _admin_proposal(session: AsyncSession, request: web.Request, org: Actor) -> Proposal:
    proposal = await proposal_service.by_ap_id(session, runtime(request).uris.proposal(request.match_info["token"]))
    if proposal is None or proposal.organization_id != org.id or proposal.state == S.draft:
        raise not_found(request)
    return proposal


def _answer_context(org: Actor, proposal: Proposal, **extra) -> dict:
    return {"org": org, "proposal": proposal, "answer_states": ANSWER_STATES,
            "moves": sorted(proposal_service.ADMIN_MOVES.get(proposal.state, set())), **extra}


async def answer_page(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/admin/proposals/{token}: write, revise and publish the official answer."""
    async with runtime(request).sessions() as session:
        _user, org = await staff_only(request, session, OFFICIALS)
        proposal = await _admin_proposal(session, request, org)
    return await page(request, "participation/admin/answer.html", _answer_context(org, proposal))


async def write_answer(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/proposals/{token}/answer: store the answer (not published yet),
    or with action=publish store and publish it."""
    form, oversize = await read_form_keeping(request)
    rt = runtime(request)
    values = {"answer": (form.get("answer") or "").strip(), "answer_state": form.get("answer_state") or ""}
    errors = {}
    if not values["answer"]:
        errors["answer"] = translate(request, _("Write the answer."))
    check_lengths(request, errors, values, {"answer": 20_000})
    if values["answer_state"] and values["answer_state"] not in ANSWER_STATES:
        errors["answer_state"] = translate(request, _("Choose a status."))
    status = oversize_errors(request, errors, oversize, {"answer": 20_000}, fallback="answer")
    async with transaction(rt.sessions) as session:
        user, org = await staff_only(request, session, OFFICIALS)
        proposal = await _admin_proposal(session, request, org)
        if not errors:
            try:
                await proposal_service.write_answer(session, proposal, paragraphs(values["answer"]),
                                                    user_id=user.id, state=values["answer_state"] or None)
                if form.get("action") == "publish":
                    await proposal_service.publish_answer(session, rt.uris, proposal,
                                                          by=await person(session, user))
            except (Conflict, InvalidInput):
                errors["answer_state"] = translate(
                    request, _("The proposal cannot take this status from its current one."))
    if errors:
        return await page(request, "participation/admin/answer.html",
                          _answer_context(org, proposal, values=values, errors=errors), status=status)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(rt.uris.admin(org.username, "proposals", request.match_info["token"]))


async def publish_answer(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/proposals/{token}/publish: publish the stored answer."""
    await read_form(request)
    rt = runtime(request)
    async with transaction(rt.sessions) as session:
        user, org = await staff_only(request, session, OFFICIALS)
        proposal = await _admin_proposal(session, request, org)
        try:
            await proposal_service.publish_answer(session, rt.uris, proposal, by=await person(session, user))
        except Conflict:
            raise forbidden(_("Write the answer before publishing it.")) from None
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(proposal.ap_id)


async def move_proposal(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/proposals/{token}/state: e.g. accepted → implemented."""
    form = await read_form(request)
    rt = runtime(request)
    async with transaction(rt.sessions) as session:
        user, org = await staff_only(request, session, OFFICIALS)
        proposal = await _admin_proposal(session, request, org)
        try:
            await proposal_service.transition(session, proposal, form.get("state") or "",
                                              by=await person(session, user))
        except (Conflict, InvalidInput):
            raise web.HTTPBadRequest(text=_("The proposal cannot take this status from its current one.")) from None
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(rt.uris.admin(org.username, "proposals", request.match_info["token"]))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/orgs/{org}/admin", overview, name="admin")
    app.router.add_get("/orgs/{org}/admin/profile", profile_form)
    app.router.add_post("/orgs/{org}/admin/profile", save_profile)
    app.router.add_post("/orgs/{org}/admin/logo", save_logo)
    app.router.add_get("/orgs/{org}/admin/spaces", spaces_page)
    app.router.add_post("/orgs/{org}/admin/spaces", create_space)
    app.router.add_post("/orgs/{org}/admin/spaces/{space}/phases", add_phase)
    app.router.add_get("/orgs/{org}/admin/proposals", proposals_page)
    app.router.add_get("/orgs/{org}/admin/proposals/{token}", answer_page)
    app.router.add_post("/orgs/{org}/admin/proposals/{token}/answer", write_answer)
    app.router.add_post("/orgs/{org}/admin/proposals/{token}/publish", publish_answer)
    app.router.add_post("/orgs/{org}/admin/proposals/{token}/state", move_proposal)
