"""The Pabulib format (pabulib.org): a budget's projects and ballots as one ``.pb`` text, and a
reader for such texts (ours and the library's real instances).

A ``.pb`` file has three sections, each a ``;``-separated table: ``META`` (``key;value`` rows),
``PROJECTS`` (``project_id;cost;votes;name;selected`` …) and ``VOTES`` (``voter_id;vote``, the
vote a ``,``-separated list of project ids). One file describes one budget — one district of a
budget with districts, as Pabulib does. Ballots are exported without any account: voters are
numbered 1, 2, … in the order the ballots were first cast (SECURITY.md rule 31).

How our rules are written: ballots are ``approval`` votes; a knapsack ballot adds
``max_sum_cost`` (the limit) and ``min_sum_cost`` (its minimum share), an approval ballot
``min_length``/``max_length``. Greedy results are Pabulib's ``greedy-threshold`` with
``min_project_score_threshold`` 1 (node/services/budget_results.py never funds a project without
votes); the Method of Equal Shares with approval utilities has no Pabulib rule name: ``unknown``,
described in ``comment``; with cost utilities it is ``equalshares/add1``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from node.errors import InvalidInput
from node.models import Actor, Budget, BudgetDistrict, BudgetProject
from node.services import budget_ballots, budgets
from node.services.i18n import pick

SECTIONS = ("META", "PROJECTS", "VOTES")
MAX_TEXT = 50_000_000  # a large city's instance (Warsaw: ~100,000 ballots) is tens of megabytes


@dataclass
class Instance:
    """A parsed ``.pb`` text: every value as the text it was (``meta[key]``, ``projects[id][column]``,
    ``votes[voter][column]``), in file order."""

    meta: dict[str, str] = field(default_factory=dict)
    projects: dict[str, dict[str, str]] = field(default_factory=dict)
    votes: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def budget(self) -> int:
        return _whole(self.meta.get("budget", "0"))

    @property
    def costs(self) -> dict[str, int]:
        return {pid: _whole(p.get("cost", "0")) for pid, p in self.projects.items()}

    @property
    def approvals(self) -> list[set[str]]:
        """One set of approved project ids per voter (approval, and the projects of other votes)."""
        return [set(_items(v.get("vote", ""))) for v in self.votes.values()]

    @property
    def selected(self) -> set[str]:
        return {pid for pid, p in self.projects.items() if p.get("selected", "").strip() == "1"}


def _whole(value: str) -> int:
    """Pabulib writes costs as integers or decimals (sometimes with a decimal comma): floored."""
    try:
        return int(float(str(value).replace(",", ".").strip()))
    except ValueError:
        raise InvalidInput(f"not a number: {value!r}") from None


def _items(value: str) -> list[str]:
    return [item.strip() for item in str(value).split(",") if item.strip()]


def _clean(text: str) -> str:
    """One line of text: the checker reads a file line by line, so no line breaks in a cell."""
    return re.sub(r"\s+", " ", text or "").strip()


def _date(moment: datetime | None) -> str:
    return moment.strftime("%d.%m.%Y") if moment else ""


def _rows(rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerows([[("" if v is None else str(v)) for v in row] for row in rows])
    return out.getvalue()


def write(budget: Budget, projects: list[BudgetProject], ballots: Mapping[int, set[int]], *,
          district: BudgetDistrict | None = None, unit: str = "", country: str = "Worldwide",
          selected: set[int] | None = None, rule: str | None = None, language: str | None = None) -> str:
    """The ``.pb`` text of ``budget`` (or of its ``district``): ``projects`` (on the ballot, each
    with ``budgets.cost_of``), ``ballots`` (ballot id → chosen project ids; empty ballots, and
    projects not in ``projects``, are left out), ``selected`` the winners if results are known.
    ``rule`` overrides the rule written (e.g. ``equalshares/add1`` for MES with cost utilities)."""
    limit = district.amount if district is not None else budget.amount
    ids = {p.id for p in projects}
    votes = [sorted(chosen & ids) for _, chosen in sorted(ballots.items())]
    votes = [v for v in votes if v]
    counts = {pid: sum(pid in v for v in votes) for pid in ids}
    language = language or next(iter(budget.title or {}), "fr")
    if selected is None and budget.results_published_at is not None:
        selected = set(budget.results.get("winners", ()))
    meta: list[tuple[str, object]] = [
        ("description", _clean(pick(budget.title, language))),
        ("country", country), ("unit", _clean(unit) or budget.slug)]
    if district is not None:
        meta.append(("district", _clean(pick(district.name, language)) or district.slug))
    meta += [("instance", str(budget.created_at.year)), ("num_projects", len(projects)),
             ("num_votes", len(votes)), ("budget", limit), ("vote_type", "approval")]
    comment = None
    if rule is None:
        if budget.result_method == "mes":
            rule = "unknown"
            comment = "#1: Method of Equal Shares, approval utilities, add1 completion (Civic Node)"
        else:
            rule = "greedy-threshold"
    meta += [("rule", rule), ("date_begin", _date(budget.created_at)),
             ("date_end", _date(budget.results_published_at or budget.voting_ends_at or budget.created_at))]
    if budget.rule == "approval":
        if budget.min_projects:
            meta.append(("min_length", budget.min_projects))
        if budget.max_projects:
            meta.append(("max_length", budget.max_projects))
    else:
        least = budget.min_share and -(-limit * budget.min_share // 100)
        if least:
            meta.append(("min_sum_cost", least))
        meta.append(("max_sum_cost", limit))
    if rule == "greedy-threshold":
        meta.append(("min_project_score_threshold", 1))
    meta += [("language", language), ("currency", budget.currency)]
    if sum(budgets.cost_of(p) for p in projects) <= limit:
        meta.append(("fully_funded", 1))
    if comment:
        meta.append(("comment", comment))

    header = ["project_id", "cost", "votes", "name"] + (["selected"] if selected is not None else [])
    order = sorted(projects, key=lambda p: (-counts[p.id], budgets.cost_of(p), p.id))
    rows = [[p.id, budgets.cost_of(p), counts[p.id], _clean(p.title)]
            + ([int(p.id in selected)] if selected is not None else []) for p in order]
    return "".join([
        "META\n", _rows([["key", "value"], *meta]),
        "PROJECTS\n", _rows([header, *rows]),
        "VOTES\n", _rows([["voter_id", "vote"], *[[n, ",".join(map(str, v))] for n, v in enumerate(votes, 1)]]),
    ])


def read(text: str) -> Instance:
    """Parse a ``.pb`` text; InvalidInput (with the line) when it is not one."""
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise InvalidInput("a Pabulib file is text of at most 50 MB")
    try:
        return _parse(text.lstrip("\ufeff").splitlines())
    except csv.Error as exc:  # a field over the csv module's size limit, …
        raise InvalidInput(f"not a Pabulib file: {exc}") from None


def _parse(lines: list[str]) -> Instance:
    instance, section, header = Instance(), None, None
    for number, row in enumerate(csv.reader(lines, delimiter=";"), 1):
        if not row or all(not cell.strip() for cell in row):
            continue
        first = row[0].strip()
        if first.upper() in SECTIONS and len([c for c in row if c.strip()]) == 1:
            section, header = first.upper(), None
            continue
        if section is None:
            raise InvalidInput(f"line {number}: data before the META section")
        if header is None:
            header = [cell.strip() for cell in row]
            continue
        values = [cell.strip() for cell in row]
        if section == "META":
            if len(values) < 2:
                raise InvalidInput(f"line {number}: a META row is key;value")
            instance.meta[values[0]] = ";".join(values[1:])
            continue
        if len(values) != len(header):
            raise InvalidInput(f"line {number}: {len(values)} values for {len(header)} columns")
        record = dict(zip(header, values, strict=True))
        key = values[0]
        target = instance.projects if section == "PROJECTS" else instance.votes
        if key in target:
            raise InvalidInput(f"line {number}: {key!r} appears twice in {section}")
        target[key] = record
    for required in ("budget", "num_projects", "num_votes"):
        if required not in instance.meta:
            raise InvalidInput(f"META has no {required}")
    return instance


async def export(session: AsyncSession, budget: Budget, *, district=None) -> str:
    """The ``.pb`` text of a budget as it stands (or of one of its districts: a budget with
    districts is one file per district)."""
    place = await budgets.find_district(session, budget, district)
    if place is None and await budgets.districts(session, budget):
        raise InvalidInput("a budget with districts is exported one district at a time")
    organization = await session.get(Actor, budget.organization_id)
    projects = await budgets.ballot_projects(session, budget, place)
    cast = {ballot_id: chosen for ballot_id, (district_id, chosen) in (await budget_ballots.ballots(session, budget)).items()
            if place is None or district_id == place.id}
    return write(budget, projects, cast, district=place, unit=organization.name or organization.username)
