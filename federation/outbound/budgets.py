"""Participatory budgets out: a local author's project (``Create{Page}``, then ``Update{Page}`` when
it is reviewed, withdrawn or carried out), a local comment (``Create{Note}``), a local support
(``Like``/``Undo{Like}``) and the published results (``Create{Article}`` by the organisation) —
FEDERATION.md "Questionnaires, polls and budgets".

Each goes out exactly as the proposals' do (federation/outbound/proposals.py, reactions.py): to the
organisation's followers at the budget's level (and the author's own followers only when anyone
may read it); a ``members`` budget sends nothing. Ballots have no event and no builder: they never
leave the node (SECURITY.md rule 31)."""

from __future__ import annotations

from activities import wrappers
from federation.budget_objects import comment_as, project_as, results_as
from federation.outbound.audience import concerned_inboxes, inboxes
from federation.outbound.publisher import Publisher
from federation.outbound.registry import builds
from node import visibility
from node.models import Actor, Budget, BudgetProject, BudgetProjectComment, BudgetProjectSupport
from node.services import budget_ballots, budget_projects, budgets


async def _placed(p: Publisher, project: BudgetProject | None) -> tuple[Budget, Actor, str] | None:
    """(budget, organisation, level) of a project whose budget federates."""
    budget = await p.session.get(Budget, project.budget_id) if project is not None else None
    if budget is None:
        return None
    level = await budgets.level(p.session, budget)
    if not visibility.federates(level):
        return None
    return budget, await p.session.get(Actor, budget.organization_id), level


async def _project_page(p: Publisher, project_id: int, wrap) -> None:
    """guard → load → convert → wrap → send: the author's Page to the organisation's followers."""
    project = await p.session.get(BudgetProject, project_id)
    if project is None or project.deleted_at is not None or not project.author.local:
        return
    placed = await _placed(p, project)
    doc = await project_as(p.session, p.rt.uris, project) if placed else None
    if doc is None:
        return
    _budget, organization, level = placed
    author = project.author
    targets = await inboxes(p.session, level, organization=organization, followed=[organization],
                            open_followed=[author])
    await p.publish(author, wrap(p.new_id(), author.ap_id, doc), targets, level=level,
                    organization_id=organization.id, object_ap_id=project.ap_id)


@builds(budget_projects.PROJECT_CREATED)
async def project_created(p: Publisher, project_id: int) -> None:
    await _project_page(p, project_id, wrappers.create)


@builds(budget_projects.PROJECT_UPDATED)
async def project_updated(p: Publisher, project_id: int) -> None:
    """Reviewed (feasibility, cost estimate), withdrawn, or its progress reported."""
    await _project_page(p, project_id, wrappers.update)


@builds(budget_projects.COMMENT_CREATED)
async def comment_created(p: Publisher, comment_id: int) -> None:
    """A local comment: the commenter's Create{Note} replying to the project, to the
    organisation's followers and to the project's author when remote."""
    comment = await p.session.get(BudgetProjectComment, comment_id)
    if comment is None or comment.deleted_at is not None or not comment.author.local:
        return
    project = await p.session.get(BudgetProject, comment.project_id)
    placed = await _placed(p, project) if project is not None and project.deleted_at is None else None
    doc = await comment_as(p.session, p.rt.uris, comment) if placed else None
    if doc is None:
        return
    _budget, organization, level = placed
    author = comment.author
    targets = await inboxes(p.session, level, organization=organization, followed=[organization],
                            open_followed=[author], concerned=[project.author])
    await p.publish(author, wrappers.create(p.new_id(), author.ap_id, doc, doc["published"]), targets,
                    level=level, organization_id=organization.id, object_ap_id=comment.ap_id)


async def _like(p: Publisher, like_id: str, actor_id: int, project_id: int, *, undo: bool) -> None:
    """Like{project} (or its Undo) by a local person, to the project's author when remote (at
    ``followers`` level only an approved follower of the organisation: audience.concerned_inboxes),
    as proposals' supports go."""
    project = await p.session.get(BudgetProject, project_id)
    actor = await p.session.get(Actor, actor_id)
    placed = await _placed(p, project) if actor is not None else None
    if placed is None:
        return
    _budget, organization, level = placed
    author = project.author
    doc = wrappers.like(like_id, actor.ap_id, project.ap_id, [author.ap_id])
    if undo:
        doc = wrappers.undo(p.new_id(), actor.ap_id, doc, [author.ap_id])
    targets = await concerned_inboxes(p.session, level, [author], organization)
    await p.publish(actor, doc, targets, level=level, organization_id=organization.id,
                    object_ap_id=project.ap_id, listed=not undo)


@builds(budget_projects.SUPPORT_CREATED)
async def support_created(p: Publisher, support_id: int) -> None:
    support = await p.session.get(BudgetProjectSupport, support_id)
    if support is not None:
        await _like(p, support.ap_id, support.actor_id, support.project_id, undo=False)


@builds(budget_projects.SUPPORT_UNDONE)
async def support_undone(p: Publisher, support_ap_id: str, actor_id: int, project_id: int) -> None:
    await _like(p, support_ap_id, actor_id, project_id, undo=True)


@builds(budget_ballots.RESULTS_PUBLISHED)
async def results_published(p: Publisher, budget_id: int) -> None:
    """The organisation's Create{Article} of the results, to its followers at the budget's level:
    the funded projects with their cost and vote counts — counts only, never a ballot."""
    budget = await p.session.get(Budget, budget_id)
    doc = await results_as(p.session, p.rt.uris, budget) if budget is not None else None
    if doc is None:
        return
    level = await budgets.level(p.session, budget)
    organization = await p.session.get(Actor, budget.organization_id)
    targets = await inboxes(p.session, level, organization=organization, followed=[organization])
    await p.publish(organization, wrappers.create(p.new_id(), organization.ap_id, doc, doc["published"]),
                    targets, level=level, organization_id=organization.id, object_ap_id=budget.results_ap_id)
