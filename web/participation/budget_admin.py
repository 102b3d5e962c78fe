"""The admins' screens of an organisation's participatory budgets: create one (amount, currency,
ballot rule and its parameters, districts, result method, who may vote), move its phase, review
the projects (feasible or not, the reason, a cost estimate), publish the results and record the
implementation progress. Everyone else gets the 404 of a missing page, as on the members page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node.db import transaction
from node.errors import CivicError, NotFound
from node.models import Actor, Budget, BudgetProject, User
from node.models.budgets import BALLOT_RULES, BUDGET_PHASES, RESULT_METHODS
from node.services import budget_ballots, budget_projects
from node.services import budgets as budget_service
from node.uris import SLUG_RE
from node.visibility import LEVELS as VISIBILITIES
from web.cache import uncacheable
from web.i18n import _, locale_of, translate
from web.participation.admin import flat, texts
from web.participation.budgets import budget_page_, projects_of, reason
from web.participation.common import (
    ADMINS,
    has_role,
    int_field,
    not_found,
    organisation,
    paragraphs,
    require_user,
    row_id,
    runtime,
)
from web.participation.limits import (
    check_lengths,
    check_translations,
    oversize_errors,
    read_form_keeping,
)

CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_AMOUNT = 2_000_000_000
MAX_DISTRICTS = 50
TEXT_LIMITS = {"title": 200, "description": 20_000, "districts": 10_000, "reason": 5000, "note": 5000}
DISTRICT_LINE = _("One district per line: its short name, its name and its amount, separated by semicolons.")


async def _admin(session: AsyncSession, request: web.Request) -> tuple[User, Actor]:
    """The signed-in admin and the organisation; anyone else gets the 404 of a missing page."""
    user = await require_user(request)
    org = await organisation(session, request)
    if not await has_role(session, user, org, ADMINS):
        raise not_found(request)
    uncacheable(request)
    return user, org


async def _budget(session: AsyncSession, request: web.Request, org: Actor) -> Budget:
    budget = await session.scalar(select(Budget).where(
        Budget.organization_id == org.id, Budget.slug == request.match_info["slug"].lower()[:64]))
    if budget is None:
        raise not_found(request)
    return budget


async def _project(session: AsyncSession, request: web.Request, budget: Budget) -> BudgetProject:
    project = await session.get(BudgetProject, row_id(request.match_info["id"]) or 0)
    if project is None or project.budget_id != budget.id or project.deleted_at is not None:
        raise not_found(request)
    return project


def admin_url(org: Actor, budget: Budget | None = None, *parts: str) -> str:
    return "/".join([f"/orgs/{org.username}/admin/budgets", *([budget.slug] if budget else []), *parts])


# -- the list and the creation form ----------------------------------------------------------------

async def _list_context(session: AsyncSession, org: Actor, **extra) -> dict:
    budgets = list(await session.scalars(select(Budget).where(Budget.organization_id == org.id)
                                         .order_by(Budget.created_at.desc(), Budget.id.desc())))
    return {"org": org, "section": "budgets", "budgets": budgets, "visibilities": VISIBILITIES,
            "rules": BALLOT_RULES, "methods": RESULT_METHODS, "admin_url": admin_url,
            "values": {"currency": "EUR", "rule": "knapsack", "result_method": "greedy",
                       "visibility": "public", "verified_only": "on"}, **extra}


async def budgets_page(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/admin/budgets."""
    async with runtime(request).sessions() as session:
        _user, org = await _admin(session, request)
        context = await _list_context(session, org)
    return await budget_page_(request, "participation/admin/budgets.html", context)


def parse_districts(request: web.Request, text: str, errors: dict) -> list[tuple[str, dict, int]]:
    """``slug; name; amount`` lines as the service takes them; an error names the first bad line."""
    districts = []
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
    if len(lines) > MAX_DISTRICTS:
        errors["districts"] = translate(request, _("At most %(max)s districts."), max=MAX_DISTRICTS)
        return []
    for number, line in enumerate(lines, 1):
        parts = [p.strip() for p in line.split(";")]
        amount = parts[2] if len(parts) == 3 else ""
        if len(parts) != 3 or not SLUG_RE.match(parts[0]) or not parts[1] or not (
                amount.isascii() and amount.isdigit() and 0 < len(amount) <= 10 and 0 < int(amount) <= MAX_AMOUNT):
            errors["districts"] = translate(request, _("Line %(line)s: %(rule)s"), line=number,
                                            rule=translate(request, DISTRICT_LINE))
            return []
        districts.append((parts[0], {locale_of(request): parts[1][:200]}, int(amount)))
    return districts


async def create(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/budgets: a new budget, in the informing phase."""
    form, oversize = await read_form_keeping(request)
    rt = runtime(request)
    names = ("slug", "amount", "currency", "rule", "min_share", "min_projects", "max_projects",
             "result_method", "visibility", "districts", "verified_only")
    values = {k: (form.get(k) or "").strip() for k in names}
    values["currency"] = values["currency"].upper()
    flat(values, "title", form)
    flat(values, "description", form)
    errors: dict[str, str] = {}
    if not SLUG_RE.match(values["slug"]):
        errors["slug"] = translate(request, _("Use 1 to 48 lower-case letters, digits or dashes."))
    if not texts(form, "title"):
        errors["title"] = translate(request, _("Give a title in at least one language."))
    check_translations(request, errors, "title", texts(form, "title"), TEXT_LIMITS["title"])
    check_translations(request, errors, "description", texts(form, "description"), TEXT_LIMITS["description"])
    check_lengths(request, errors, values, {"districts": TEXT_LIMITS["districts"]})
    numbers: dict[str, int | None] = {}
    for name, low, high in (("amount", 1, MAX_AMOUNT), ("min_share", 1, 100), ("min_projects", 1, 1000),
                            ("max_projects", 1, 1000)):
        try:
            numbers[name] = int_field(values, name, minimum=low, maximum=high)
        except ValueError:
            errors[name] = translate(request, _("Give a whole number between %(low)s and %(high)s."),
                                     low=low, high=high)
    if numbers.get("amount") is None and "amount" not in errors:
        errors["amount"] = translate(request, _("Give the amount of the budget."))
    if numbers.get("min_projects") and numbers.get("max_projects") and \
            numbers["min_projects"] > numbers["max_projects"]:
        errors["max_projects"] = translate(request, _("The maximum cannot be below the minimum."))
    if not CURRENCY.match(values["currency"]):
        errors["currency"] = translate(request, _("Give a currency code of three letters, like EUR."))
    for name, allowed in (("rule", BALLOT_RULES), ("result_method", RESULT_METHODS),
                          ("visibility", VISIBILITIES)):
        if values[name] not in allowed:
            errors[name] = translate(request, _("Choose one of the options."))
    districts = parse_districts(request, values["districts"], errors) if "districts" not in errors else []
    status = oversize_errors(request, errors, oversize, TEXT_LIMITS, fallback="description")
    async with transaction(rt.sessions) as session:
        _user, org = await _admin(session, request)
        if not errors:
            try:
                budget = await budget_service.create(
                    session, rt.uris, org, values["slug"], texts(form, "title"), numbers["amount"],
                    currency=values["currency"],
                    description={k: paragraphs(v) for k, v in texts(form, "description").items()},
                    rule=values["rule"], min_share=numbers["min_share"], min_projects=numbers["min_projects"],
                    max_projects=numbers["max_projects"], result_method=values["result_method"],
                    verified_only=values["verified_only"] == "on", districts=districts,
                    visibility=values["visibility"])
            except CivicError as exc:
                errors["slug"] = reason(request, exc)
                status = exc.status if exc.status in (400, 409) else 400
        if errors:
            context = await _list_context(session, org, values=values, errors=errors)
    if errors:
        return await budget_page_(request, "participation/admin/budgets.html", context, status=status)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(admin_url(org, budget))


# -- one budget: phase, review, results, progress --------------------------------------------------

async def _manage_context(session: AsyncSession, request: web.Request, org: Actor, budget: Budget,
                          **extra) -> dict:
    projects = await projects_of(session, budget)
    districts = await budget_service.districts(session, budget)
    return {"org": org, "section": "budgets", "budget": budget, "projects": projects,
            "districts": {d.id: d for d in districts}, "admin_url": admin_url, "phases": BUDGET_PHASES,
            "pending": sum(1 for p in projects if p.feasibility == "pending" and p.state != "withdrawn"),
            **extra}


async def manage_page(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/admin/budgets/{slug}."""
    async with runtime(request).sessions() as session:
        _user, org = await _admin(session, request)
        budget = await _budget(session, request, org)
        context = await _manage_context(session, request, org, budget, done=request.query.get("done"))
    return await budget_page_(request, "participation/admin/budget.html", context)


async def _refused(request: web.Request, errors: dict, status: int) -> web.Response:
    async with runtime(request).sessions() as session:
        _user, org = await _admin(session, request)
        budget = await _budget(session, request, org)
        context = await _manage_context(session, request, org, budget, errors=errors)
    return await budget_page_(request, "participation/admin/budget.html", context, status=status)


def _moment(text: str) -> datetime | None:
    """``YYYY-MM-DDTHH:MM`` (a datetime-local field), in UTC; ValueError when malformed."""
    if not text:
        return None
    if len(text) > 32:
        raise ValueError(text)
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def move_phase(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/budgets/{slug}/phase: ``phase`` and, for voting, ``voting_ends_at``."""
    form, _oversize = await read_form_keeping(request)
    rt = runtime(request)
    phase = form.get("phase") or ""
    errors: dict[str, str] = {}
    if phase not in BUDGET_PHASES:
        errors["phase"] = translate(request, _("Choose one of the options."))
    try:
        ends = _moment((form.get("voting_ends_at") or "").strip())
    except ValueError:
        errors["voting_ends_at"] = translate(request, _("Give a date and a time."))
    async with transaction(rt.sessions) as session:
        _user, org = await _admin(session, request)
        budget = await _budget(session, request, org)
        if not errors:
            try:
                await budget_service.set_phase(session, budget, phase,
                                               voting_ends_at=ends if phase == "voting" else None)
            except CivicError as exc:
                errors["phase"] = reason(request, exc)
    if errors:
        return await _refused(request, errors, 400)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(admin_url(org, budget) + "?done=phase")


async def review(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/budgets/{slug}/projects/{id}/review: feasible or not, the reason and
    the cost estimate."""
    form, oversize = await read_form_keeping(request)
    rt = runtime(request)
    values = {k: (form.get(k) or "").strip() for k in ("feasibility", "reason", "cost_estimate")}
    errors: dict[str, str] = {}
    if values["feasibility"] not in ("feasible", "unfeasible"):
        errors["feasibility"] = translate(request, _("Choose one of the options."))
    if values["feasibility"] == "unfeasible" and not values["reason"]:
        errors["reason"] = translate(request, _("Say why the project is not feasible."))
    check_lengths(request, errors, values, {"reason": TEXT_LIMITS["reason"]})
    try:
        estimate = int_field(values, "cost_estimate", minimum=1, maximum=MAX_AMOUNT)
    except ValueError:
        errors["cost_estimate"] = translate(request, _("Give the cost as a whole number of at least 1, or nothing."))
    status = oversize_errors(request, errors, oversize, {"reason": TEXT_LIMITS["reason"]}, fallback="reason")
    async with transaction(rt.sessions) as session:
        user, org = await _admin(session, request)
        budget = await _budget(session, request, org)
        project = await _project(session, request, budget)
        if not errors:
            try:
                await budget_projects.review(session, project, feasible=values["feasibility"] == "feasible",
                                            reason=values["reason"], cost_estimate=estimate,
                                            by=await session.get(User, user.id))
            except CivicError as exc:
                errors["feasibility"] = reason(request, exc)
                status = 409 if exc.status == 409 else 400
    if errors:
        return await _refused(request, {f"{k}-{project.id}": v for k, v in errors.items()}, status)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(admin_url(org, budget) + f"?done=review#project-{project.id}")


async def progress(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/budgets/{slug}/projects/{id}/progress: percent done and a note."""
    form, oversize = await read_form_keeping(request)
    rt = runtime(request)
    values = {k: (form.get(k) or "").strip() for k in ("progress", "note")}
    errors: dict[str, str] = {}
    try:
        percent = int_field(values, "progress", minimum=0, maximum=100)
    except ValueError:
        percent = None
    if percent is None:
        errors["progress"] = translate(request, _("Give a whole number between %(low)s and %(high)s."),
                                       low=0, high=100)
    check_lengths(request, errors, values, {"note": TEXT_LIMITS["note"]})
    status = oversize_errors(request, errors, oversize, {"note": TEXT_LIMITS["note"]}, fallback="note")
    async with transaction(rt.sessions) as session:
        _user, org = await _admin(session, request)
        budget = await _budget(session, request, org)
        project = await _project(session, request, budget)
        if not errors:
            try:
                await budget_projects.set_progress(session, project, percent, values["note"])
            except CivicError as exc:
                errors["progress"] = reason(request, exc)
    if errors:
        return await _refused(request, {f"{k}-{project.id}": v for k, v in errors.items()}, status)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(admin_url(org, budget) + f"?done=progress#project-{project.id}")


async def publish(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/budgets/{slug}/results: compute and publish the results."""
    await read_form_keeping(request)
    rt = runtime(request)
    errors: dict[str, str] = {}
    async with transaction(rt.sessions) as session:
        user, org = await _admin(session, request)
        budget = await _budget(session, request, org)
        try:
            await budget_ballots.publish_results(session, rt.uris, budget, by=await session.get(User, user.id))
        except NotFound:
            raise not_found(request) from None
        except CivicError as exc:
            errors["results"] = reason(request, exc)
    if errors:
        return await _refused(request, errors, 409)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(f"{budget.ap_id}/results")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/orgs/{org}/admin/budgets", budgets_page)
    app.router.add_post("/orgs/{org}/admin/budgets", create)
    app.router.add_get("/orgs/{org}/admin/budgets/{slug}", manage_page)
    app.router.add_post("/orgs/{org}/admin/budgets/{slug}/phase", move_phase)
    app.router.add_post("/orgs/{org}/admin/budgets/{slug}/results", publish)
    app.router.add_post("/orgs/{org}/admin/budgets/{slug}/projects/{id}/review", review)
    app.router.add_post("/orgs/{org}/admin/budgets/{slug}/projects/{id}/progress", progress)
