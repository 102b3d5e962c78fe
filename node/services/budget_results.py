"""Which projects a participatory budget funds: greedy by votes, or the Method of Equal Shares.

Pure functions over ids, costs and ballots; node/services/budgets.py feeds them one budget (or one
district) at a time. Exact arithmetic (``Fraction``): ties are ties, never rounding noise.

**Greedy** (``greedy``, Pabulib's "greedy" with a threshold of one vote): projects by votes,
most first; each is funded if it still fits in what is left, else skipped (a cheaper one further
down may still fit). A project nobody voted for is never funded. Ties: the cheaper project first,
then the one proposed first (lower id) — the same order for the same ballots, every time.

**Method of Equal Shares** (``equal_shares``; Peters & Skowron, "Proportionality and the Limits of
Welfarism", EC 2020; Peters, Pierczyński & Skowron, "Proportional Participatory Budgeting with
Additive Utilities", NeurIPS 2021): the budget is split equally among the voters; a project is
bought by its approvers, each paying the same amount per unit of utility (``rho``) or all they
have left if that is less; the project needing the smallest ``rho`` is bought first, until none
is affordable by its approvers. Utilities are *approval* (1 for each approved project: ``rho`` is
what each approver pays) by default, or *cost* (the project's cost: ``rho`` is paid per unit of
cost — equalshares.net's and Pabulib's "equalshares"). Ties: the cheaper project, then the one
with more approvals, then the lower id (the first two as Pabulib's checker breaks them).

Completion: fixed-budget MES usually leaves money unspent. ``completion="add1"`` (the default,
Pabulib's "equalshares/add1", as used by equalshares.net): the per-voter budget is raised by one
unit (the whole artificial budget by the number of voters) and MES rerun, as long as the outcome
still costs at most the real budget; the last such outcome is the result. No greedy pass follows,
so some money may stay unspent. ``completion=None``: fixed-budget MES only.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from fractions import Fraction

UTILITIES = ("approval", "cost")
COMPLETIONS = (None, "add1")


def greedy_order(costs: Mapping[int, int], votes: Mapping[int, int]) -> list[int]:
    """Projects in the order greedy considers them: votes (most first), then cost (cheapest
    first), then id (first proposed first)."""
    return sorted(costs, key=lambda p: (-votes.get(p, 0), costs[p], p))


def greedy(limit: int, costs: Mapping[int, int], votes: Mapping[int, int]) -> list[int]:
    """The funded projects, in the order they were taken: by votes within ``limit``, skipping
    what no longer fits; projects without a vote are never funded."""
    left, winners = limit, []
    for project in greedy_order(costs, votes):
        if votes.get(project, 0) <= 0:
            break  # the rest have no vote either
        if costs[project] <= left:
            winners.append(project)
            left -= costs[project]
    return winners


def _approvers(costs: Mapping[int, int], approvals: Sequence[Collection[int]]) -> dict[int, list[int]]:
    approvers: dict[int, list[int]] = {p: [] for p in costs}
    for voter, ballot in enumerate(approvals):
        for project in set(ballot):
            if project in approvers:
                approvers[project].append(voter)
    return approvers


def _fixed_budget(total: Fraction | int, costs: Mapping[int, int], approvers: Mapping[int, list[int]],
                  voters: int, utilities: str) -> list[int]:
    """MES with the budget ``total`` shared by ``voters``: the projects bought, in order."""
    budget = [Fraction(total, voters)] * voters
    candidates = {p for p, who in approvers.items() if who and costs[p] > 0}
    winners: list[int] = []
    while True:
        best: tuple | None = None
        for project in sorted(candidates):
            cost, who = costs[project], approvers[project]
            if sum(budget[i] for i in who) < cost:
                candidates.discard(project)  # its approvers can no longer afford it
                continue
            paid, payers, payment = Fraction(0), len(who), None
            for i in sorted(who, key=lambda i: budget[i]):
                share = (cost - paid) / payers
                if share > budget[i]:
                    paid += budget[i]
                    payers -= 1
                else:
                    payment = share
                    break
            rho = payment if utilities == "approval" else payment / cost
            key = (rho, cost, -len(who), project)
            if best is None or key < best[0]:
                best = (key, project, payment)
        if best is None:
            return winners
        _, project, payment = best
        winners.append(project)
        candidates.discard(project)
        for i in approvers[project]:
            budget[i] = max(Fraction(0), budget[i] - payment)


def equal_shares(limit: int, costs: Mapping[int, int], approvals: Sequence[Collection[int]], *,
                 utilities: str = "approval", completion: str | None = "add1") -> list[int]:
    """The projects the Method of Equal Shares funds with ``limit``, in the order they were
    bought; ``approvals`` holds one ballot (the approved project ids) per voter."""
    if utilities not in UTILITIES:
        raise ValueError(f"utilities must be one of {UTILITIES}")
    if completion not in COMPLETIONS:
        raise ValueError(f"completion must be one of {COMPLETIONS}")
    voters = len(approvals)
    if voters == 0 or limit <= 0:
        return []
    approvers = _approvers(costs, approvals)
    winners = _fixed_budget(limit, costs, approvers, voters, utilities)
    if completion is None:
        return winners
    # add1: one more unit per voter, while the outcome still fits the real budget.
    approved = {p for p, who in approvers.items() if who and costs[p] > 0}
    artificial = (limit // voters) * voters
    while set(winners) != approved:
        artificial += voters
        outcome = _fixed_budget(artificial, costs, approvers, voters, utilities)
        if sum(costs[p] for p in outcome) > limit:
            break
        winners = outcome
    return winners
