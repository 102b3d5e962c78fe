"""Inbound participatory budgets: fediverse supports (``Like``/``Undo``), comments (a reply to a
project) and proposed projects (a post replying to a budget or set in it) — and their author's
Update and Delete (FEDERATION.md "Questionnaires, polls and budgets").

node/services/budgets.py and budget_projects.py decide what a budget accepts (its phase, the
author's own support, districts, bounds); here only who may take part: the signer is the author of
what it sends, and may read the budget at its level (SECURITY.md rules 1, 24). Every refusal raises
with its reason, which the inbox row keeps. A fediverse account never casts a ballot: no activity
does that (SECURITY.md rule 31)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.budgets import RemoteProject, meant_for, parse_comment, parse_project
from activities.errors import InvalidDocument
from activities.normalize import first_type
from federation.inbound import notes as inbound_notes
from federation.inbound.context import Inbound, admitted, check_ids
from federation.inbound.reactions import Reacting, reacts
from federation.inbound.registry import handles
from node import visibility
from node.errors import Conflict, Forbidden, NotFound
from node.models import Actor, Budget, BudgetDistrict, BudgetProject, BudgetProjectComment, utcnow
from node.services import budget_projects, budgets, notes

NOT_OPEN = "this budget is not open to the fediverse"


async def _placed(session: AsyncSession, project: BudgetProject) -> tuple[int, str] | None:
    """The organisation and level of a project (its budget's), None once it is erased."""
    budget = await session.get(Budget, project.budget_id)
    if project.deleted_at is not None or budget is None:
        return None
    return budget.organization_id, await budgets.level(session, budget)


reacts("Like", "project", Reacting(budget_projects.PROJECT_SUPPORT, BudgetProject, _placed,
                                   "project", "support recorded", "already supported"))


async def _open_to(ctx: Inbound, budget: Budget) -> None:
    """Refuse the signer unless it may read the budget (a ``followers`` budget: an approved
    follower of the organisation; ``members``: nobody from elsewhere)."""
    level = await budgets.level(ctx.session, budget)
    if not visibility.federates(level):
        raise Forbidden(NOT_OPEN)
    if not await admitted(ctx, budget.organization_id, level):
        raise Forbidden("only the organisation's approved followers take part in this budget")


async def _meant_for_budget(ctx: Inbound, budget: Budget, addressed: tuple[str, ...]) -> bool:
    """A post is shown with the budget only when its author meant it to be read there
    (activities/budgets.meant_for); a direct message is kept as one (federation/inbound/notes.py)."""
    organization = await ctx.session.get(Actor, budget.organization_id)
    return meant_for(addressed, organization.ap_id, organization.followers_url)


async def _fresh(ctx: Inbound, ap_id: str, author: str) -> bool:
    """The new object is the signer's, under an id of its own server, and no Delete of it came
    first (SECURITY.md rules 1, 9, 11); False for that last case."""
    check_ids(ap_id)
    if author != ctx.actor.ap_id:
        raise InvalidDocument("the object is attributed to someone else")
    if ctx.runtime.uris.is_local(ap_id):
        raise InvalidDocument("a remote actor cannot create objects with our ids")
    tombstone = await notes.note_by_ap_id(ctx.session, ap_id)
    return tombstone is None or tombstone.deleted_at is None


async def _project_of(ctx: Inbound) -> BudgetProject | None:
    """The project a reply is about: the one it replies to, or the one of the comment it replies to."""
    session, target = ctx.session, ctx.target
    if target.kind == "project_comment":
        comment = await session.scalar(select(BudgetProjectComment).where(
            BudgetProjectComment.ap_id == (target.ap_id or "")))
        return await session.get(BudgetProject, comment.project_id) if comment else None
    return await budget_projects.project_by_ap_id(session, target.ap_id or "")


@handles("Create", "project", "project_comment")
async def on_create_comment(ctx: Inbound) -> str:
    """A reply to a project (or to a comment on it) is a comment by its author."""
    data = parse_comment(ctx.doc.get("object"))
    if not await _fresh(ctx, data.ap_id, data.author):
        return "ignored: its Delete arrived first"
    project = await _project_of(ctx)
    if project is None or project.deleted_at is not None:
        raise NotFound("no such project")
    budget = await ctx.session.get(Budget, project.budget_id)
    await _open_to(ctx, budget)
    if not await _meant_for_budget(ctx, budget, data.addressed):
        return await inbound_notes.store(ctx, ctx.doc["object"])  # a private reply: a message to us
    try:
        await budget_projects.comment(ctx.session, ctx.runtime.uris, project, ctx.actor, data.content_html,
                              ap_id=data.ap_id)
    except Conflict:
        return "ignored: comment already known"
    return "comment stored"


async def _district(session: AsyncSession, budget: Budget, named: str | None) -> BudgetDistrict | str | None:
    """The district a proposal names, by its slug or by its name in any language; an unknown one
    is handed on as it is, for the service to refuse with its reason."""
    if named is None:
        return None
    wanted = named.strip().casefold()
    for district in await budgets.districts(session, budget):
        if wanted == district.slug or wanted in {n.strip().casefold() for n in (district.name or {}).values()}:
            return district
    return named


async def _propose(ctx: Inbound, budget: Budget, data: RemoteProject) -> BudgetProject:
    return await budget_projects.propose(ctx.session, ctx.runtime.uris, budget, ctx.actor, data.title, data.body_html,
                                 cost=data.cost, district=await _district(ctx.session, budget, data.district),
                                 language=data.language, ap_id=data.ap_id)


@handles("Create", "budget")
async def on_create_project(ctx: Inbound) -> str:
    """A post replying to a budget, or set in it (``context``), proposes a project; the budget
    refuses it outside its proposing phase (node/services/budget_projects.propose)."""
    data = parse_project(ctx.doc.get("object"))
    if not await _fresh(ctx, data.ap_id, data.author):
        return "ignored: its Delete arrived first"
    budget = await budgets.by_ap_id(ctx.session, ctx.target.ap_id or "")
    if budget is None:
        raise NotFound("no such budget")
    await _open_to(ctx, budget)
    if not await _meant_for_budget(ctx, budget, data.addressed):
        return await inbound_notes.store(ctx, ctx.doc["object"])  # a private post: a message to us
    if await budget_projects.project_by_ap_id(ctx.session, data.ap_id) is not None:
        return "ignored: project already known"
    await _propose(ctx, budget, data)
    return "project stored"


async def _own(ctx: Inbound, row: BudgetProject | BudgetProjectComment | None, what: str):
    """The stored object an Update or Delete names, when the signer wrote it."""
    if row is None:
        model = BudgetProject if what == "project" else BudgetProjectComment
        row = await ctx.session.scalar(select(model).where(model.ap_id == (ctx.target.ap_id or "")))
    if row is None:
        raise NotFound(f"no such {what}")
    if row.author_id != ctx.actor.id or ctx.runtime.uris.is_local(row.ap_id):
        raise InvalidDocument(f"only its author's server may change a {what}")  # SECURITY.md rules 1, 9
    return row


@handles("Update", "project")
async def on_update_project(ctx: Inbound) -> str:
    """Its author's new title, text or cost, while the budget still takes proposals."""
    obj = ctx.doc.get("object")
    if not isinstance(obj, dict) or first_type(obj) not in ("Page", "Note", "Article"):
        return "ignored: Update without an embedded project"
    project = await _own(ctx, ctx.target.row if isinstance(ctx.target.row, BudgetProject) else None, "project")
    if project.deleted_at is not None:
        return "ignored: the project was deleted"
    data = parse_project(obj)
    if data.ap_id != project.ap_id:
        raise InvalidDocument("the Update names another object")
    budget = await ctx.session.get(Budget, project.budget_id)
    if data.budget != budget.ap_id:
        raise InvalidDocument("a project cannot move to another budget")
    if budget.phase != "proposing":
        raise Conflict("projects are changed in the proposing phase only")  # reviewed, maybe voted on
    if project.state == "withdrawn":
        return "ignored: the project was withdrawn"
    # The parser bounded and sanitised every field, as on_update_contribution relies on its own.
    project.title, project.body, project.cost = data.title, data.body_html, data.cost
    project.language, project.updated_at = data.language or project.language, utcnow()
    return "project updated"


@handles("Delete", "project", "project_comment")
async def on_delete(ctx: Inbound) -> str:
    """Its author deletes a project or a comment: it becomes a tombstone."""
    what = ctx.target.kind
    row = ctx.target.row if isinstance(ctx.target.row, (BudgetProject, BudgetProjectComment)) else None
    row = await _own(ctx, row, "project" if what == "project" else "comment")
    if row.deleted_at is not None:
        return "ignored: already deleted"
    # A tombstone, as node/services/budget_projects.erase_author leaves one: off every list and ballot,
    # its text gone; a replayed Create finds the project by its id and is ignored.
    row.deleted_at = utcnow()
    if isinstance(row, BudgetProject):
        row.title, row.body, row.state = "", "", "withdrawn"
        return "project deleted"
    row.content = ""
    return "comment deleted"
