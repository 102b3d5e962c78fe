"""Ballot rules of participatory budgets: what a ballot may choose (SECURITY.md rule 31).

Pure functions: ``check`` is given the rule, the costs of the projects on this ballot (the
feasible, not withdrawn projects of the budget — or of the ballot's district) and the chosen ids,
and raises ``InvalidInput`` with the reason of the first rule broken. The service
(node/services/budget_ballots.py) calls it server-side on every ballot, whatever the form showed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from node.errors import InvalidInput
from node.models import Budget, BudgetDistrict

KNAPSACK, APPROVAL = "knapsack", "approval"
EMPTY = "choose at least one project"


@dataclass(frozen=True)
class BallotRule:
    """``knapsack``: the chosen projects cost at most ``limit`` (the budget's or the district's
    amount) and, with ``min_share`` (percent), at least that share of it. ``approval``: between
    ``min_projects`` and ``max_projects`` projects (each bound optional), whatever they cost."""

    kind: str
    limit: int
    min_share: int | None = None
    min_projects: int | None = None
    max_projects: int | None = None


def rule_for(budget: Budget, district: BudgetDistrict | None = None) -> BallotRule:
    """The rule a ballot of ``budget`` (cast in ``district``, if any) must follow."""
    limit = district.amount if district is not None else budget.amount
    return BallotRule(budget.rule, limit, min_share=budget.min_share, min_projects=budget.min_projects,
                      max_projects=budget.max_projects)


def minimum_spend(rule: BallotRule) -> int:
    """The least a knapsack ballot must spend: ``min_share`` percent of the limit, rounded up."""
    if rule.kind != KNAPSACK or not rule.min_share:
        return 0
    return -(-rule.limit * rule.min_share // 100)


def total(costs: Mapping[int, int], chosen: Sequence[int]) -> int:
    return sum(costs[project_id] for project_id in chosen)


def check(rule: BallotRule, costs: Mapping[int, int], chosen: Sequence[int]) -> None:
    """Refuse (``InvalidInput`` with the reason) a ballot that breaks ``rule``: an empty ballot,
    a project chosen twice, a project that is not on this ballot (unknown, withdrawn, found not
    feasible, of another district), and then the rule's own bounds — all inclusive: a knapsack
    ballot costing exactly the limit, or exactly the minimum share, is valid."""
    if not chosen:
        raise InvalidInput(EMPTY)
    if len(set(chosen)) != len(chosen):
        raise InvalidInput("a project is chosen more than once")
    for project_id in chosen:
        if project_id not in costs:
            raise InvalidInput(f"project {project_id} is not on this ballot")
    if rule.kind == KNAPSACK:
        spent = total(costs, chosen)
        if spent > rule.limit:
            raise InvalidInput(f"the chosen projects cost {spent}, more than the {rule.limit} available")
        least = minimum_spend(rule)
        if spent < least:
            raise InvalidInput(f"the chosen projects cost {spent}; choose projects for at least {least} "
                               f"({rule.min_share} % of {rule.limit})")
    elif rule.kind == APPROVAL:
        if rule.min_projects is not None and len(chosen) < rule.min_projects:
            raise InvalidInput(f"choose at least {rule.min_projects} projects")
        if rule.max_projects is not None and len(chosen) > rule.max_projects:
            raise InvalidInput(f"choose at most {rule.max_projects} projects")
    else:
        raise InvalidInput(f"unknown ballot rule {rule.kind!r}")
