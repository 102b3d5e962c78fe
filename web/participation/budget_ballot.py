"""Taking part in a budget on the web: proposing a project (proposing phase, any signed-in
person) and the ballot (voting phase, eligible people only: node/services/budget_ballots.py
``may_vote``).

The knapsack ballot shows its running total against the budget (or the district's): live with
/static/ballot.js, and without JavaScript through the "recalculate" button, which shows the page
again with the total and the rule's problems, keeping the choices; "cast my ballot" submits it.
The rule is checked by the service (node/services/budget_rules.py), never only here
(SECURITY.md rule 31)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from node.db import transaction
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.models import Budget, BudgetDistrict, BudgetProject, User
from node.services import budget_ballots, budget_projects, budget_rules, membership
from node.services import budgets as budget_service
from web.cache import uncacheable
from web.i18n import _, locale_of, translate
from web.participation.budgets import budget_of, budget_page_, money, project_url, reason
from web.participation.common import (
    int_field,
    not_found,
    paragraphs,
    person,
    require_user,
    row_id,
    runtime,
    wants_as2,
)
from web.participation.limits import check_lengths, oversize_errors, read_form_keeping

PROJECT_LIMITS = {"title": 300, "body": 20_000}
MAX_COST = 2_000_000_000


def _district(districts: list[BudgetDistrict], raw: str | None) -> BudgetDistrict | None:
    """The district named in a form or the query (its slug or id), among the budget's."""
    raw = (raw or "").strip()
    return next((d for d in districts if raw and (d.slug == raw or str(d.id) == raw)), None)


# -- proposing a project ---------------------------------------------------------------------------

async def _propose_context(session: AsyncSession, request: web.Request, user: User) -> dict:
    budget, org = await budget_of(session, request, user)
    return {"org": org, "budget": budget, "districts": await budget_service.districts(session, budget),
            "open": budget.phase == "proposing"}


async def propose_form(request: web.Request) -> web.StreamResponse:
    """GET /budgets/{token}/projects/new."""
    user = await require_user(request)
    async with runtime(request).sessions() as session:
        context = await _propose_context(session, request, user)
    return await budget_page_(request, "participation/project_form.html", context,
                              status=200 if context["open"] else 403)


async def propose(request: web.Request) -> web.StreamResponse:
    """POST /budgets/{token}/projects/new: title, description, the cost the author expects and
    the district (when the budget has districts)."""
    form, oversize = await read_form_keeping(request)
    rt = runtime(request)
    user = await require_user(request)
    values = {k: (form.get(k) or "").strip() for k in ("title", "body", "cost", "district")}
    errors: dict[str, str] = {}
    check_lengths(request, errors, values, PROJECT_LIMITS)
    if len(values["title"]) < 3 and "title" not in errors:
        errors["title"] = translate(request, _("The title needs between 3 and 300 characters."))
    if not values["body"] and "body" not in errors:
        errors["body"] = translate(request, _("Describe your project."))
    try:
        cost = int_field(values, "cost", minimum=1, maximum=MAX_COST)
    except ValueError:
        errors["cost"] = translate(request, _("Give the cost as a whole number of at least 1, or nothing."))
        cost = None
    status = oversize_errors(request, errors, oversize, PROJECT_LIMITS, fallback="body")
    async with transaction(rt.sessions) as session:
        context = await _propose_context(session, request, user)
        district = _district(context["districts"], values["district"])
        if context["districts"] and district is None:
            errors["district"] = translate(request, _("Choose the district of the project."))
        if not context["open"]:
            errors["title"] = translate(request, _("Projects can be proposed only in the proposing phase."))
            status = 403
        if not errors:
            try:
                project = await budget_projects.propose(
                    session, rt.uris, context["budget"], await person(session, user), values["title"],
                    paragraphs(values["body"]), cost=cost, district=district, language=locale_of(request))
            except (Conflict, Forbidden, InvalidInput) as exc:
                errors["title"] = reason(request, exc)
                status = getattr(exc, "status", 400)
            except NotFound:
                raise not_found(request) from None
    if errors:
        return await budget_page_(request, "participation/project_form.html",
                                  {**context, "values": values, "errors": errors}, status=status)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(project.ap_id)


# -- the ballot ------------------------------------------------------------------------------------

def problem_of(request: web.Request, budget: Budget, district: BudgetDistrict | None, costs: dict[int, int],
               chosen: list[int]) -> str | None:
    """What the rule says of these choices, in the reader's language; None when they pass. The
    service checks the same rule again when the ballot is cast (node/services/budget_rules.py)."""
    rule = budget_rules.rule_for(budget, district)
    try:
        budget_rules.check(rule, costs, chosen)
    except InvalidInput as exc:
        lang = locale_of(request)
        spent = budget_rules.total(costs, [c for c in chosen if c in costs])
        if not chosen:
            return translate(request, _("Choose at least one project."))
        if rule.kind == budget_rules.KNAPSACK and spent > rule.limit:
            return translate(request, _("The projects you chose cost %(spent)s: more than the %(limit)s "
                                        "available. Untick some of them."),
                             spent=money(lang, spent, budget.currency), limit=money(lang, rule.limit, budget.currency))
        if rule.kind == budget_rules.KNAPSACK and spent < budget_rules.minimum_spend(rule):
            return translate(request, _("The projects you chose cost %(spent)s: choose projects for at least "
                                        "%(least)s."), spent=money(lang, spent, budget.currency),
                             least=money(lang, budget_rules.minimum_spend(rule), budget.currency))
        if rule.kind == budget_rules.APPROVAL and rule.min_projects and len(chosen) < rule.min_projects:
            return translate(request, _("Choose at least %(count)s projects."), count=rule.min_projects)
        if rule.kind == budget_rules.APPROVAL and rule.max_projects and len(chosen) > rule.max_projects:
            return translate(request, _("Choose at most %(count)s projects."), count=rule.max_projects)
        return reason(request, exc)
    return None


async def _ballot_context(session: AsyncSession, request: web.Request, user: User,
                          chosen_district: str | None = None) -> dict:
    """Everything the ballot page shows; ``refusal`` says why this person cannot vote now."""
    budget, org = await budget_of(session, request, user)
    uncacheable(request)  # the page is this voter's
    districts = await budget_service.districts(session, budget)
    ballot, chosen = await budget_ballots.ballot_of(session, budget, user)
    refusal = await budget_ballots.may_vote(session, budget, user)
    verified = await membership.is_verified(session, org, user)
    district = _district(districts, chosen_district)
    if chosen_district is None and ballot is not None and ballot.district_id:
        district = next((d for d in districts if d.id == ballot.district_id), None)
    projects: list[BudgetProject] = []
    if not districts or district is not None:
        projects = list(await budget_service.ballot_projects(session, budget, district))
    costs = {p.id: budget_service.cost_of(p) for p in projects}
    return {"org": org, "budget": budget, "districts": districts, "district": district, "ballot": ballot,
            "chosen": set(chosen) & set(costs), "projects": projects, "costs": costs, "refusal": reason(request, refusal) if refusal else None,
            "verify_url": runtime(request).uris.organization_action(org.username, "verify"),
            "rule": budget_rules.rule_for(budget, district), "total": sum(costs[p] for p in set(chosen) & set(costs)),
            "project_url": lambda p: project_url(budget, p, runtime(request).uris),
            "needs_verification": budget.verified_only and not verified}


async def ballot_page(request: web.Request) -> web.StreamResponse:
    """GET /budgets/{token}/ballot[?district=…]: the district choice first when there are
    districts, then the projects with their costs; the reason instead when this person cannot vote."""
    if wants_as2(request):
        raise not_found(request)  # a ballot is no object: it never leaves the node
    rt = runtime(request)
    user = await require_user(request)
    async with rt.sessions() as session:
        context = await _ballot_context(session, request, user, request.query.get("district"))
    context["done"] = "done" in request.query and context["ballot"] is not None
    status = 403 if context["refusal"] else 200
    return await budget_page_(request, "participation/budget_ballot.html", context, status=status)


def _chosen(form: dict, costs: dict[int, int]) -> tuple[list[int], bool]:
    """The projects ticked (``project_<id>``), and whether any named project is not on this ballot."""
    chosen, unknown = [], False
    for key in form:
        if key.startswith("project_"):
            project_id = row_id(key.removeprefix("project_"))
            if project_id in costs:
                chosen.append(project_id)
            else:
                unknown = True
    return sorted(set(chosen)), unknown


async def cast(request: web.Request) -> web.StreamResponse:
    """POST /budgets/{token}/ballot: ``action=district`` chooses the district, ``action=recalculate``
    shows the page again with the total and the rule's problems, ``action=cast`` casts (or
    replaces) the ballot. A refusal comes back as a 4xx with its reason, the choices kept."""
    form, _oversize = await read_form_keeping(request)
    rt = runtime(request)
    user = await require_user(request)
    action = form.get("action") or "cast"
    async with rt.sessions() as session:
        context = await _ballot_context(session, request, user, form.get("district"))
    if context["refusal"]:
        return await budget_page_(request, "participation/budget_ballot.html", context, status=403)
    if context["districts"] and context["district"] is None:
        context["problem"] = translate(request, _("Choose your district first."))
        return await budget_page_(request, "participation/budget_ballot.html", context, status=400)
    if action == "district":
        raise web.HTTPSeeOther(f"{context['budget'].ap_id}/ballot?district={context['district'].slug}")
    chosen, unknown = _chosen(form, context["costs"])
    context.update(chosen=set(chosen), total=sum(context["costs"][p] for p in chosen), recalculated=True)
    problem = problem_of(request, context["budget"], context["district"], context["costs"], chosen)
    if unknown:
        problem = translate(request, _("A project you chose is not on this ballot."))
    if action == "recalculate":
        context["problem"] = problem
        return await budget_page_(request, "participation/budget_ballot.html", context,
                                  status=400 if unknown else 200)
    if problem is not None:
        context["problem"] = problem
        return await budget_page_(request, "participation/budget_ballot.html", context, status=400)
    async with transaction(rt.sessions) as session:
        budget = await session.get(Budget, context["budget"].id)
        try:
            await budget_ballots.cast(session, budget, await session.get(User, user.id), chosen,
                                      district_id=context["district"].id if context["district"] else None)
        except (Conflict, Forbidden, InvalidInput, NotFound) as exc:
            context["problem"] = reason(request, exc)
            status = getattr(exc, "status", 400)
            return await budget_page_(request, "participation/budget_ballot.html", context, status=status)
    district = f"&district={context['district'].slug}" if context["district"] else ""
    raise web.HTTPSeeOther(f"{context['budget'].ap_id}/ballot?done{district}#ballot-notice")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/budgets/{token}/projects/new", propose_form)
    app.router.add_post("/budgets/{token}/projects/new", propose)
    app.router.add_get("/budgets/{token}/ballot", ballot_page)
    app.router.add_post("/budgets/{token}/ballot", cast)

