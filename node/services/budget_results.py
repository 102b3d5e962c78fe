"""Which projects a participatory budget funds: greedy by votes, or the Method of Equal Shares.

Pure functions over ids, costs and ballots; node/services/budget_ballots.py feeds them one budget
(or one district) at a time.

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

Completion: fixed-budget MES usually leaves money unspent. ``completion="add1"`` (the default;
the authors' definition at equalshares.net, pabutools' ``voter_budget_increment=1``): while the
outcome is not exhaustive (some other project would still fit in what is left), the per-voter
budget is raised by one unit — the whole artificial budget, from the real one rounded down to a
multiple of the number of voters, by the number of voters — and MES rerun; an outcome that costs
more than the real budget is discarded and ends the search. No greedy pass follows, so money may
stay unspent. (Pabulib's checker omits the exhaustiveness stop: where an exhaustive outcome would
still change before overspending, its "equalshares/add1" differs from the authors'.)
``completion=None``: fixed-budget MES only.

MES computes in floating point (as equalshares.net's own implementation does): the add1
completion reruns it once per unit of money per voter — 845 runs for Assen 2024 — and exact
fractions made that seconds long. Two amounts within a relative ``EPSILON`` are equal, so an exact
tie stays a tie (and goes to the tie-break) whatever the rounding; voters with the same ballot are
one weighted group (they always hold the same money).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

UTILITIES = ("approval", "cost")
COMPLETIONS = (None, "add1")
EPSILON = 1e-9


def _below(a: float, b: float) -> bool:
    """``a < b`` beyond rounding noise."""
    return a < b - EPSILON * max(1.0, abs(b))


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


def _groups(costs: Mapping[int, int], approvals: Sequence[Collection[int]]) -> tuple[list[int], dict[int, list[int]]]:
    """Voters with the same ballot always hold the same money: one group each, with its size
    (the weight), and the groups approving each project."""
    sizes: dict[frozenset, int] = {}
    for ballot in approvals:
        key = frozenset(p for p in ballot if p in costs)
        sizes[key] = sizes.get(key, 0) + 1
    weights, approvers = [], {p: [] for p in costs}
    for index, (ballot, size) in enumerate(sizes.items()):
        weights.append(size)
        for project in ballot:
            approvers[project].append(index)
    return weights, approvers


def _fixed_budget(total: int, costs: Mapping[int, int], weights: list[int], approvers: Mapping[int, list[int]],
                  voters: int, utilities: str) -> list[int]:
    """MES with the budget ``total`` shared by ``voters``: the projects bought, in order."""
    money = [total / voters] * len(weights)
    # Each candidate with a lower bound of its rho: rho never decreases as money is spent, so
    # candidates are tried from the lowest bound and the search stops past the best rho found.
    bound = {p: 0.0 for p, who in approvers.items() if who and costs[p] > 0}
    supporters = {p: sum(weights[g] for g in who) for p, who in approvers.items()}
    winners: list[int] = []
    while True:
        best = None
        for project in sorted(bound, key=lambda p: (bound[p], p)):
            if best is not None and _below(best[0], bound[project]):
                break
            cost, who = costs[project], approvers[project]
            if _below(sum(money[g] * weights[g] for g in who), cost):
                del bound[project]  # its approvers can no longer afford it
                continue
            paid, payers, payment = 0.0, supporters[project], None
            for g in sorted(who, key=lambda g: money[g]):
                share = (cost - paid) / payers
                if _below(money[g], share) and payers > weights[g]:
                    paid += money[g] * weights[g]
                    payers -= weights[g]
                else:
                    payment = share
                    break
            rho = payment if utilities == "approval" else payment / cost
            bound[project] = rho
            if best is None or _below(rho, best[0]) or (
                    not _below(best[0], rho) and (cost, -supporters[project], project) < best[1]):
                best = (rho, (cost, -supporters[project], project), project, payment)
        if best is None:
            return winners
        project, payment = best[2], best[3]
        winners.append(project)
        del bound[project]
        for g in approvers[project]:
            money[g] = max(0.0, money[g] - payment)


def exhaustive(limit: int, costs: Mapping[int, int], winners: Collection[int]) -> bool:
    """No other project fits in what ``winners`` leave of ``limit``."""
    left = limit - sum(costs[p] for p in winners)
    return all(costs[p] > left for p in costs if p not in winners)


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
    weights, approvers = _groups(costs, approvals)
    winners = _fixed_budget(limit, costs, weights, approvers, voters, utilities)
    if completion is None:
        return winners
    # add1: one more unit per voter, while the outcome is not exhaustive and still fits.
    approved = {p for p, who in approvers.items() if who and costs[p] > 0}
    artificial = (limit // voters) * voters
    while set(winners) != approved and not exhaustive(limit, costs, winners):
        artificial += voters
        outcome = _fixed_budget(artificial, costs, weights, approvers, voters, utilities)
        if sum(costs[p] for p in outcome) > limit:
            break
        winners = outcome
    return winners
