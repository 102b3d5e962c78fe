"""Participatory budgets on the web: an organisation's budgets, the budget's page (phases, districts,
projects), a project's page (review, comments, supports, progress), the results (an SVG chart) and
the admins' Pabulib export. Proposing a project and the ballot are in budget_ballot.py, the admins'
screens in budget_admin.py; AS2 at the same ids is federation/budget_objects.py.

Everything here is under the budget's visibility (node/visibility.py, SECURITY.md rule 24): a budget
the reader may not read is the 404 of a missing page, and so are its projects and results."""

from __future__ import annotations

from aiohttp import web
from babel import Locale
from babel.numbers import format_currency
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import budget_objects
from node import changes, visibility
from node.db import transaction
from node.errors import CivicError, Conflict, InvalidInput, NotFound
from node.models import (
    Actor,
    Budget,
    BudgetDistrict,
    BudgetProject,
    BudgetProjectComment,
    User,
)
from node.models.budgets import BUDGET_PHASES
from node.services import budget_ballots, budget_projects, pabulib, reactions
from node.services import budgets as budget_service
from web.cache import depends, shows
from web.i18n import _, locale_of, translate
from web.participation import charts
from web.participation.common import (
    ADMINS,
    forbidden,
    has_role,
    not_found,
    organisation,
    page,
    paragraphs,
    person,
    require_user,
    row_id,
    runtime,
    standing_in,
    wants_as2,
)
from web.participation.limits import check_lengths, oversize_errors, read_form_keeping
from web.render import add_vary, current_user

PHASE_LABELS = {
    "informing": _("Information"), "proposing": _("Proposing projects"), "reviewing": _("Review of the projects"),
    "voting": _("Voting"), "results": _("Results"), "implementation": _("Implementation"),
}
FEASIBILITY_LABELS = {"pending": _("Not reviewed yet"), "feasible": _("Feasible"), "unfeasible": _("Not feasible")}
STATE_LABELS = {"proposed": _("Proposed"), "withdrawn": _("Withdrawn"), "selected": _("Selected"),
                "not_selected": _("Not selected")}
RULE_LABELS = {"knapsack": _("Choose projects within the budget"),
               "approval": _("Approve the projects you want")}
METHOD_LABELS = {"greedy": _("Most votes within the budget"), "mes": _("Method of Equal Shares")}
COMMENT_LIMITS = {"comment": 5000}


def token_ok(token: str) -> bool:
    return 0 < len(token) <= 64 and token.isascii() and all(c.isalnum() or c in "-_" for c in token)


def money(lang: str, amount: int | None, currency: str) -> str:
    """A whole amount in the reader's language: ``€50,000``, ``50 000 €``, ``50.000 €``."""
    if amount is None:
        return ""
    pattern = Locale.parse(lang).currency_formats["standard"].pattern.replace(".00", "")
    try:
        return format_currency(amount, currency, format=pattern, locale=lang, currency_digits=False)
    except (ValueError, KeyError):
        return f"{amount} {currency}"


# The refusals of node/services/budgets.py, budget_projects.py and budget_ballots.py, in the
# reader's language (by their start: some name figures or the organisation); a reason not listed
# here is shown as the service wrote it.
REASONS = (
    (budget_ballots.BALLOT_CLOSED, _("Voting is not open: ballots are accepted only in the voting phase.")),
    (budget_ballots.FEDIVERSE_BALLOT, _("Fediverse accounts cannot cast ballots: sign in with an account of this node.")),
    ("sign in to vote", _("Sign in to vote.")),
    ("only verified members of", _("Only verified members of the organisation can vote.")),
    ("only members of the organisation can vote", _("Only members of the organisation can vote.")),
    ("projects are proposed in the proposing phase only", _("Projects can be proposed only in the proposing phase.")),
    ("choose the project's district", _("Choose the district of the project.")),
    ("choose your district", _("Choose your district first.")),
    ("no feasible project to vote on yet", _("No project has been found feasible yet: review the projects before the vote.")),
    ("a budget cannot go back", _("A budget cannot go back to an earlier phase.")),
    ("only the voting phase has an end", _("Only the voting phase has an end.")),
    ("the results are already published", _("The results are already published.")),
    ("results are published after the voting phase", _("The results are published after the voting phase.")),
    ("progress is reported", _("Progress is recorded for selected projects in the implementation phase.")),
    ("projects are reviewed in the", _("Projects are reviewed in the proposing and reviewing phases.")),
    ("a feasible project needs a cost estimate", _("A feasible project needs a cost: give an estimate.")),
    ("a project costing", _("The project costs more than the budget (or its district) holds.")),
    ("this project was withdrawn", _("This project was withdrawn.")),
    (budget_projects.SELF_SUPPORT, _("You cannot support your own project.")),
    ("already has a budget", _("This organisation already has a budget with this short name.")),
    ("the district", _("Each district needs its own short name.")),
)


def reason(request: web.Request, exc: CivicError | str) -> str:
    """A service's refusal in the reader's language, else as the service wrote it."""
    text = str(exc)
    for start, message in REASONS:
        if text.startswith(start):
            return translate(request, message)
    return text or translate(request, _("This cannot be done now."))


def labels(request: web.Request) -> dict:
    """The helpers the budget templates use, in the reader's language."""
    lang = locale_of(request)
    return {
        "money": lambda amount, currency: money(lang, amount, currency),
        "phase_label": lambda p: translate(request, PHASE_LABELS.get(p, p)),
        "feasibility_label": lambda f: translate(request, FEASIBILITY_LABELS.get(f, f)),
        "project_state_label": lambda s: translate(request, STATE_LABELS.get(s, s)),
        "rule_label": lambda r: translate(request, RULE_LABELS.get(r, r)),
        "method_label": lambda m: translate(request, METHOD_LABELS.get(m, m)),
        "phases": BUDGET_PHASES, "cost_of": budget_service.cost_of,
        "options": lambda keys, label: [(key, label(key)) for key in keys],
    }


async def budget_page_(request: web.Request, template: str, context: dict, status: int = 200) -> web.Response:
    return await page(request, template, {**labels(request), **context}, status=status)


# -- loading, with the budget's visibility ---------------------------------------------------------

async def readable(session: AsyncSession, request: web.Request, user: User | None, budget: Budget | None
                   ) -> tuple[Budget, Actor]:
    """The budget and its organisation when the visitor may read it (its admins always), else the
    404 of a missing page. The page then depends on the budget and its organisation (web/cache.py)."""
    if budget is None:
        raise not_found(request)
    org = await session.get(Actor, budget.organization_id)
    org = await organisation(session, request, org.username)  # a coalition's own visibility too
    level = await budget_service.level(session, budget)
    if not await has_role(session, user, org, ADMINS) and not await visibility.may_read(
            session, visibility.Reader.of_user(user), org.id, level):
        raise not_found(request)
    shows(request, level)
    depends(request, changes.budget(budget.id), changes.org(org.id))
    return budget, org


async def budget_of(session: AsyncSession, request: web.Request, user: User | None) -> tuple[Budget, Actor]:
    """The budget of ``/budgets/{token}/…``."""
    token = request.match_info["token"]
    budget = await budget_service.by_ap_id(session, runtime(request).uris.budget(token)) \
        if token_ok(token) else None
    return await readable(session, request, user, budget)


async def project_of(session: AsyncSession, request: web.Request, user: User | None
                     ) -> tuple[BudgetProject, Budget, Actor]:
    """The project of ``/projects/{token}`` (ours) or ``/budgets/{token}/projects/{id}`` (any,
    a fediverse proposal included), under its budget's visibility; a deleted one is 410."""
    if "id" in request.match_info:
        budget, org = await budget_of(session, request, user)
        project = await session.get(BudgetProject, row_id(request.match_info["id"]) or 0)
        if project is None or project.budget_id != budget.id:
            raise not_found(request)
    else:
        token = request.match_info["token"]
        project = await session.scalar(select(BudgetProject).where(
            BudgetProject.ap_id == runtime(request).uris.project(token))) if token_ok(token) else None
        if project is None:
            raise not_found(request)
        budget, org = await readable(session, request, user, await session.get(Budget, project.budget_id))
    if project.deleted_at is not None:
        raise web.HTTPGone(text=translate(request, _("This project was deleted.")))
    return project, budget, org


def project_url(budget: Budget, project: BudgetProject, uris) -> str:
    """Where people read a project: its id when it is ours, else its page under the budget."""
    return project.ap_id if project.ap_id.startswith(uris.base + "/") else f"{budget.ap_id}/projects/{project.id}"


async def projects_of(session: AsyncSession, budget: Budget) -> list[BudgetProject]:
    """The budget's projects (not deleted), the most voted and supported first."""
    return list(await session.scalars(select(BudgetProject).where(
        BudgetProject.budget_id == budget.id, BudgetProject.deleted_at.is_(None))
        .order_by(BudgetProject.votes_count.desc(), BudgetProject.support_count.desc(), BudgetProject.id)))


# -- the organisation's budgets and the budget's page ----------------------------------------------

async def index(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/budgets: the budgets the visitor's standing lists."""
    user = await current_user(request)
    async with runtime(request).sessions() as session:
        org = await organisation(session, request)
        who = await standing_in(session, user, org)
        budgets = await budget_service.of_organisation(session, org, levels=visibility.listed_levels(who))
        is_admin = await has_role(session, user, org, ADMINS)
        for budget in budgets:
            shows(request, await budget_service.level(session, budget))
    return await budget_page_(request, "participation/budgets.html",
                              {"org": org, "budgets": budgets, "is_admin": is_admin})


async def budget_context(session: AsyncSession, request: web.Request, budget: Budget, org: Actor,
                         user: User | None) -> dict:
    districts = await budget_service.districts(session, budget)
    projects = await projects_of(session, budget)
    me = await person(session, user) if user else None
    supported = set()
    if me is not None and projects:
        supported = await reactions.given(session, budget_projects.PROJECT_SUPPORT, me, [p.id for p in projects])
    reason = await budget_ballots.may_vote(session, budget, user) if user else None
    return {
        "org": org, "budget": budget, "districts": districts, "district_names": {d.id: d.name for d in districts},
        "projects": [p for p in projects if p.state != "withdrawn"],
        "withdrawn": [p for p in projects if p.state == "withdrawn"],
        "supported": supported, "vote_refusal": reason,
        "is_admin": await has_role(session, user, org, ADMINS),
        "project_url": lambda p: project_url(budget, p, runtime(request).uris),
    }


async def budget_page(request: web.Request) -> web.StreamResponse:
    """GET /budgets/{token}: description, amount, districts, the phase timeline, the projects with
    their cost, feasibility and supports (AS2: federation/budget_objects.py)."""
    if wants_as2(request):
        return await budget_objects.budget_document(request, request.match_info["token"])
    user = await current_user(request)
    async with runtime(request).sessions() as session:
        budget, org = await budget_of(session, request, user)
        context = await budget_context(session, request, budget, org, user)
    response = await budget_page_(request, "participation/budget.html", context)
    add_vary(response, "Accept")
    return response


# -- a project's page, its supports and comments --------------------------------------------------

async def project_context(session: AsyncSession, request: web.Request, project: BudgetProject, budget: Budget,
                          org: Actor, user: User | None, **extra) -> dict:
    me = await person(session, user) if user else None
    comments = list(await session.scalars(select(BudgetProjectComment).where(
        BudgetProjectComment.project_id == project.id, BudgetProjectComment.deleted_at.is_(None))
        .order_by(BudgetProjectComment.created_at, BudgetProjectComment.id)))
    district = await session.get(BudgetDistrict, project.district_id) if project.district_id else None
    return {
        "org": org, "budget": budget, "project": project, "district": district, "comments": comments,
        "supported": await reactions.has(session, budget_projects.PROJECT_SUPPORT, project, me),
        "is_author": me is not None and me.id == project.author_id,
        "is_admin": await has_role(session, user, org, ADMINS),
        "url": project_url(budget, project, runtime(request).uris),
        "comment_anchor": lambda c: f"comment-{c.ap_id.rstrip('/').rsplit('/', 1)[-1]}"
        if c.ap_id.startswith(runtime(request).uris.base + "/") else f"comment-r{c.id}",
        **extra,
    }


async def project_page(request: web.Request) -> web.StreamResponse:
    """GET /projects/{token} (AS2: federation/budget_objects.py) and /budgets/{token}/projects/{id}."""
    if wants_as2(request) and "id" not in request.match_info:
        return await budget_objects.project_document(request, request.match_info["token"])
    user = await current_user(request)
    async with runtime(request).sessions() as session:
        project, budget, org = await project_of(session, request, user)
        context = await project_context(session, request, project, budget, org, user)
    response = await budget_page_(request, "participation/project.html", context)
    add_vary(response, "Accept")
    return response


async def support(request: web.Request) -> web.StreamResponse:
    """POST …/support: support the project, or take the support back (a toggle)."""
    await read_form_keeping(request)
    rt = runtime(request)
    user = await require_user(request, request.path.removesuffix("/support"))
    error = None
    async with transaction(rt.sessions) as session:
        project, budget, org = await project_of(session, request, user)
        try:
            await reactions.toggle(session, rt.uris, budget_projects.PROJECT_SUPPORT, project,
                                   await person(session, user))
        except (Conflict, InvalidInput, NotFound):
            error = translate(request, _("You cannot support this project (your own, or withdrawn)."))
    if error:
        async with rt.sessions() as session:
            project, budget, org = await project_of(session, request, user)
            context = await project_context(session, request, project, budget, org, user, support_error=error)
        return await budget_page_(request, "participation/project.html", context, status=409)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(project_url(budget, project, rt.uris) + "#supports")


async def comment(request: web.Request) -> web.StreamResponse:
    """POST …/comments: a signed-in person comments the project."""
    form, oversize = await read_form_keeping(request)
    rt = runtime(request)
    user = await require_user(request, request.path.removesuffix("/comments"))
    values = {"comment": (form.get("comment") or "").strip()}
    errors: dict[str, str] = {}
    check_lengths(request, errors, values, COMMENT_LIMITS)
    if not values["comment"] and "comment" not in errors:
        errors["comment"] = translate(request, _("Write your comment."))
    status = oversize_errors(request, errors, oversize, COMMENT_LIMITS, fallback="comment")
    async with transaction(rt.sessions) as session:
        project, budget, org = await project_of(session, request, user)
        if not errors:
            try:
                made = await budget_projects.comment(session, rt.uris, project, await person(session, user),
                                                    paragraphs(values["comment"]))
            except (Conflict, InvalidInput):
                errors["comment"] = translate(request, _("This project cannot be commented now."))
                status = 409
    if errors:
        async with rt.sessions() as session:
            project, budget, org = await project_of(session, request, user)
            context = await project_context(session, request, project, budget, org, user,
                                            values=values, errors=errors)
        return await budget_page_(request, "participation/project.html", context, status=status)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(project_url(budget, project, rt.uris)
                           + f"#comment-{made.ap_id.rstrip('/').rsplit('/', 1)[-1]}")


# -- results ---------------------------------------------------------------------------------------

def results_figures(request: web.Request, budget: Budget, results: dict, titles: dict[int, str]) -> dict:
    """The results' chart (votes per project, winners marked) and its figures."""
    rows = results.get("projects") or []
    items = [(titles.get(r.get("id"), r.get("title", "")), int(r.get("votes") or 0), bool(r.get("selected")))
             for r in rows]
    winners = [r for r in rows if r.get("selected")]
    return {
        "chart": charts.ranked_bars(
            items, chart_id="chart-results", title=translate(request, _("Votes per project")),
            description=translate(request, _("%(count)s projects selected of %(total)s."),
                                  count=len(winners), total=len(rows))),
        "winners": winners,
    }


async def results_page(request: web.Request) -> web.StreamResponse:
    """GET /budgets/{token}/results: the winners within the budget (costs and votes), the method,
    what is spent and left, per district, and a chart (AS2: the results ``Article``). Before they
    are published, the organisation's admins see them as a preview; others the 404."""
    if wants_as2(request):
        return await budget_objects.results_document(request, request.match_info["token"])
    user = await current_user(request)
    async with runtime(request).sessions() as session:
        budget, org = await budget_of(session, request, user)
        is_admin = await has_role(session, user, org, ADMINS)
        if budget.results_published_at is not None:
            results, preview = budget.results, False
        elif is_admin:
            results, preview = await budget_ballots.compute_results(session, budget), True
        else:
            raise web.HTTPNotFound(text=translate(request, _("The results are not published yet.")))
        projects = {p.id: p for p in await projects_of(session, budget)}
        districts = await budget_service.districts(session, budget)
    titles = {pid: p.title for pid, p in projects.items()}
    context = {"org": org, "budget": budget, "results": results, "preview": preview, "is_admin": is_admin,
               "projects": projects, "districts": districts, "district_names": {d.slug: d.name for d in districts},
               "project_url": lambda p: project_url(budget, p, runtime(request).uris),
               **results_figures(request, budget, results, titles)}
    response = await budget_page_(request, "participation/budget_results.html", context)
    if preview:
        response.headers["Cache-Control"] = "no-store"
    add_vary(response, "Accept")
    return response


async def pabulib_export(request: web.Request) -> web.StreamResponse:
    """GET /budgets/{token}/pabulib.pb[?district=…]: the Pabulib file of the budget (projects,
    votes, ballots under numbers that name no one; one district at a time), for the organisation's
    admins only; no-store."""
    user = await require_user(request)
    async with runtime(request).sessions() as session:
        budget, org = await budget_of(session, request, user)
        if not await has_role(session, user, org, ADMINS):
            raise forbidden(_("Only the organisation's admins can do this."))
        district = request.query.get("district") or None
        try:
            text = await pabulib.export(session, budget, district=district)
        except InvalidInput:
            raise web.HTTPBadRequest(text=translate(
                request, _("A budget with districts is exported one district at a time: choose one."))) from None
    name = f"{org.username}-{budget.slug}" + (f"-{district}" if district else "")
    return web.Response(text=text, content_type="text/plain", charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="{name}.pb"', "Cache-Control": "no-store"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/orgs/{org}/budgets", index)
    app.router.add_get("/budgets/{token}", budget_page, name="budget")
    app.router.add_get("/budgets/{token}/results", results_page)
    app.router.add_get("/budgets/{token}/pabulib.pb", pabulib_export)
    app.router.add_get("/projects/{token}", project_page, name="project")
    app.router.add_post("/projects/{token}/support", support)
    app.router.add_post("/projects/{token}/comments", comment)
    app.router.add_get("/budgets/{token}/projects/{id:[0-9]+}", project_page)
    app.router.add_post("/budgets/{token}/projects/{id:[0-9]+}/support", support)
    app.router.add_post("/budgets/{token}/projects/{id:[0-9]+}/comments", comment)
