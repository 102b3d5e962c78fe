"""Participatory budgets served at their ids as AS2 — the budget (a ``Collection`` of its projects),
a project (``Page``), a comment (``Note``) and the published results (``Article``) — converted once
here for both the AS2 GETs and the fan-out (federation/outbound/budgets.py).

The web part serves the budget's, the project's and the results' pages to people and calls these
for AS2 requests at the same URLs (web/participation/budgets.py, with the same reader rules). Each
answers exactly when its reader may read the budget at its level — the stricter of its own and its
space's (node/visibility.py, SECURITY.md rule 24); ``members`` budgets have no AS2 form. Missing and unreadable things get the same 404, a
deleted project or comment 410 with a Tombstone (SECURITY.md rule 9). Only our own projects and
comments are served: a fediverse one answers at its own server. Ballots appear in none of these
documents (SECURITY.md rule 31)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.budgets import Winner, budget_to_as, comment_to_as, project_to_as, results_to_as
from federation.participation_documents import language_of
from federation.participation_objects import Check, Served, _as2, _later, _negotiated, _tombstone
from node import visibility
from node.models import Actor, Budget, BudgetDistrict, BudgetProject, BudgetProjectComment
from node.services import budget_projects, budgets, reports
from node.services.i18n import pick
from node.uris import Uris


async def budget_as(session: AsyncSession, uris: Uris, budget: Budget) -> dict | None:
    """The budget's Collection (None when it does not federate)."""
    level = await budgets.level(session, budget)
    if not visibility.federates(level):
        return None
    organization = await session.get(Actor, budget.organization_id)
    items = list(await session.scalars(select(BudgetProject.ap_id).where(
        BudgetProject.budget_id == budget.id, BudgetProject.deleted_at.is_(None),
        BudgetProject.state != "withdrawn").order_by(BudgetProject.id)))
    return budget_to_as(budget, organization, level=level,
                        language=await language_of(session, organization), projects=items)


async def project_as(session: AsyncSession, uris: Uris, project: BudgetProject) -> dict | None:
    """A project's Page (also what PROJECT_CREATED and PROJECT_UPDATED send); None when its
    budget does not federate."""
    budget = await session.get(Budget, project.budget_id)
    level = await budgets.level(session, budget)
    if not visibility.federates(level):
        return None
    organization = await session.get(Actor, budget.organization_id)
    district = await session.get(BudgetDistrict, project.district_id) if project.district_id else None
    name = pick(district.name, await language_of(session, organization)) if district else None
    return project_to_as(project, project.author, organization, budget, level=level,
                         cost=budgets.cost_of(project), district=name)


async def comment_as(session: AsyncSession, uris: Uris, comment: BudgetProjectComment) -> dict | None:
    """A comment's Note (also what COMMENT_CREATED sends); None when its budget does not federate."""
    project = await session.get(BudgetProject, comment.project_id)
    budget = await session.get(Budget, project.budget_id) if project else None
    level = await budgets.level(session, budget) if budget else visibility.MEMBERS
    if not visibility.federates(level):
        return None
    organization = await session.get(Actor, budget.organization_id)
    return comment_to_as(comment, comment.author, project, organization, budget, level=level,
                         project_author=project.author)


def winners(budget: Budget) -> list[Winner]:
    """The funded projects in the order they were funded, from the published results."""
    by_id = {p.get("id"): p for p in (budget.results or {}).get("projects", []) if isinstance(p, dict)}
    found = [by_id.get(i) for i in (budget.results or {}).get("winners", [])]
    return [Winner(p["ap_id"], p.get("title", ""), int(p.get("cost") or 0), int(p.get("votes") or 0))
            for p in found if p is not None and p.get("ap_id")]


async def results_as(session: AsyncSession, uris: Uris, budget: Budget) -> dict | None:
    """The published results' Article (also what RESULTS_PUBLISHED sends); None before they are
    published or when the budget does not federate."""
    if budget.results_published_at is None or not budget.results_ap_id:
        return None
    level = await budgets.level(session, budget)
    if not visibility.federates(level):
        return None
    organization = await session.get(Actor, budget.organization_id)
    results = budget.results or {}
    return results_to_as(budget, organization, level=level, language=await language_of(session, organization),
                         winners=winners(budget), projects=len(results.get("projects", [])),
                         ballots=int(results.get("ballots") or 0), spent=int(results.get("spent") or 0))


# ---- loaders: the object when its reader may read it (federation/participation_objects.py) -------

async def _readable_budget(session: AsyncSession, check: Check, budget: Budget | None) -> Budget | None:
    if budget is None or not await check(budget.organization_id, await budgets.level(session, budget)):
        return None
    return budget


async def _budget(session: AsyncSession, uris: Uris, check: Check, token: str) -> Served | None:
    budget = await _readable_budget(session, check, await budgets.by_ap_id(session, uris.budget(token)))
    if budget is None:
        return None
    return _later(budget.ap_id, lambda: budget_as(session, uris, budget))


async def _results(session: AsyncSession, uris: Uris, check: Check, token: str) -> Served | None:
    budget = await _readable_budget(session, check, await budgets.by_ap_id(session, uris.budget(token)))
    if budget is None or budget.results_published_at is None:
        return None
    return _later(uris.budget_results(budget.ap_id), lambda: results_as(session, uris, budget))


async def _project(session: AsyncSession, uris: Uris, check: Check, token: str) -> Served | None:
    project = await budget_projects.project_by_ap_id(session, uris.project(token))
    if project is None or await reports.hidden(session, project.ap_id):
        return None  # hidden by the moderators: the 404 of a missing one (SECURITY.md rule 22)
    if await _readable_budget(session, check, await session.get(Budget, project.budget_id)) is None:
        return None
    if project.deleted_at is not None:
        return _tombstone(project.ap_id, "Page", project.deleted_at, project.ap_id)
    return _later(project.ap_id, lambda: project_as(session, uris, project))


async def _comment(session: AsyncSession, uris: Uris, check: Check, token: str) -> Served | None:
    comment = await session.scalar(select(BudgetProjectComment).where(
        BudgetProjectComment.ap_id == uris.project_comment(token)))
    project = await session.get(BudgetProject, comment.project_id) if comment else None
    if project is None or await reports.hidden(session, comment.ap_id):
        return None
    if await _readable_budget(session, check, await session.get(Budget, project.budget_id)) is None:
        return None
    page = f"{project.ap_id}#comment-{token}"  # the project's page shows its comments
    if comment.deleted_at is not None or project.deleted_at is not None:
        return _tombstone(comment.ap_id, "Note", comment.deleted_at or project.deleted_at, page)
    return _later(page, lambda: comment_as(session, uris, comment))


# ---- the web part's AS2 answers at its pages' URLs ------------------------------------------------

async def budget_document(request: web.Request, token: str) -> web.Response:
    """GET /budgets/{token} as AS2: the budget's Collection of projects."""
    return await _as2(request, _budget, token)


async def project_document(request: web.Request, token: str) -> web.Response:
    """GET /projects/{token} as AS2: the project's Page."""
    return await _as2(request, _project, token)


async def results_document(request: web.Request, token: str) -> web.Response:
    """GET /budgets/{token}/results as AS2: the results' Article, once published."""
    return await _as2(request, _results, token)


def add_routes(app: web.Application) -> None:
    """A comment has no page of its own: AS2 at its id, people sent to its project's page."""
    app.router.add_get("/project-comments/{token}", _negotiated(_comment))
