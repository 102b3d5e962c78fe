"""A participatory budget to test with (tests of node/services/budgets.py and its neighbours):
Künzelsau's €50,000 budget, its admin, verified residents, and a fediverse person."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from node.models import Actor, Ballot, BallotProject, Budget, BudgetProject, User
from node.services import actors, budget_projects, budgets, membership
from node.uris import Uris

PASSWORD = "password-123"


@dataclass
class Town:
    org: Actor
    admin: User
    residents: list[User]  # verified members
    stranger: User  # a local account, not a member
    fediverse: Actor  # a remote person
    budget: Budget | None = None
    projects: list[BudgetProject] = field(default_factory=list)


def remote_person(name: str, host: str = "people.example") -> Actor:
    return Actor(ap_id=f"https://{host}/users/{name}", type="Person", local=False, username=name,
                 domain=host, name=name.title(), inbox=f"https://{host}/users/{name}/inbox")


async def make_town(s, uris: Uris, residents: int = 3, prefix: str = "") -> Town:
    org = await actors.create_organization(s, uris, f"{prefix}kunzelsau", "Stadt Künzelsau")
    admin = await actors.create_user(s, uris, f"{prefix}mayor", PASSWORD, "Mayor")
    await actors.add_member(s, admin, org, "admin")
    people = []
    for n in range(residents):
        user = await actors.create_user(s, uris, f"{prefix}r{n}", PASSWORD, f"Resident {n}")
        await membership.admit(s, org, user, admin)
        people.append(user)
    stranger = await actors.create_user(s, uris, f"{prefix}stranger", PASSWORD, "Stranger")
    fediverse = remote_person(f"{prefix}fedi")
    s.add(fediverse)
    await s.flush()
    return Town(org, admin, people, stranger, fediverse)


async def voting_budget(s, uris: Uris, town: Town, costs: list[int], *, amount: int = 50_000,
                        **options) -> Budget:
    """A budget of ``town`` whose projects (one per cost, proposed by residents, reviewed
    feasible) are on the ballot: the budget is in its voting phase."""
    budget = await budgets.create(s, uris, town.org, options.pop("slug", "2026"), {"de": "Bürgerbudget"},
                                  amount, **options)
    await budgets.set_phase(s, budget, "proposing")
    places = await budgets.districts(s, budget)
    for n, cost in enumerate(costs):
        author = town.residents[n % len(town.residents)].actor
        project = await budget_projects.propose(s, uris, budget, author, f"Projekt {n}", "<p>…</p>", cost=cost,
                                        district=places[n % len(places)] if places else None)
        await budget_projects.review(s, project, feasible=True, reason="machbar", cost_estimate=None, by=town.admin)
        town.projects.append(project)
    await budgets.set_phase(s, budget, "voting")
    town.budget = budget
    return budget


async def recount(s, budget_id: int) -> tuple[dict[int, int], dict[int, int], int]:
    """(each project's kept votes_count, its recount from the ballots' rows, the ballots)."""
    kept = dict((await s.execute(select(BudgetProject.id, BudgetProject.votes_count)
                                 .where(BudgetProject.budget_id == budget_id))).all())
    rows = dict((await s.execute(select(BallotProject.project_id, func.count())
                                 .join(Ballot, Ballot.id == BallotProject.ballot_id)
                                 .where(Ballot.budget_id == budget_id).group_by(BallotProject.project_id))).all())
    ballots = await s.scalar(select(func.count()).select_from(Ballot).where(Ballot.budget_id == budget_id))
    return kept, {p: rows.get(p, 0) for p in kept}, ballots
