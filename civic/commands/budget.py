"""`civic budget …`: an organisation's participatory budgets from the command line (node.services.budgets,
budget_projects, budget_ballots, pabulib): list them, move one to its next phase, see its results,
export it in the Pabulib format.

A budget is named by its id (``https://node.example/budgets/<token>``), its token, or
``ORG/SLUG`` (an organisation of this node and the budget's slug). ``results`` shows the published
results, or computes those of the ballots cast so far without publishing anything (the
organisation's admins publish them on the budget's admin page, which federates the results
``Article``); ``export`` writes the ballots numbered, without any account (SECURITY.md rule 31).
Every error is a message and exit 1, never a traceback."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

from civic.common import MAX_NAME, in_transaction, one_of, printable, settings_of, typed_name
from node.errors import InvalidInput, NotFound
from node.models.budgets import BUDGET_PHASES, RESULT_METHODS, Budget
from node.services import actors, budget_ballots, budget_projects, budgets, pabulib
from node.services.i18n import LANGUAGES, pick
from node.uris import Uris

FORMATS = ("text", "json")
EXPORT_FORMATS = ("pabulib",)


async def _run(args, work):
    return await in_transaction(settings_of(args), work)


async def _org(session, handle: str):
    return await actors.require_local_actor(session, typed_name(handle, "organisation"), "Organization")


async def find(session, uris: Uris, name: str) -> Budget:
    """The budget ``name`` names: its id, its token, or ORG/SLUG."""
    text = typed_name(name, "budget")
    if "://" in text:
        budget = await budgets.by_ap_id(session, text)
    elif "/" in text:
        handle, _, slug = text.partition("/")
        budget = await budgets.by_slug(session, await _org(session, handle), slug.strip())
    else:
        budget = await budgets.by_ap_id(session, uris.budget(text))
    if budget is None:
        raise NotFound(f"no budget {text!r} on this node")
    return budget


def _money(amount: int, currency: str) -> str:
    return f"{amount:,} {currency}"


# -- the commands ------------------------------------------------------------------------------------

async def cmd_list(args) -> None:
    """The organisation's budgets, newest first: slug, phase, amount, ballots, projects, title, id."""
    one_of(args.language, LANGUAGES, "--language")

    async def work(session, uris):
        org = await _org(session, args.org)
        return [(b, await budget_ballots.ballots_count(session, b), len(await budget_projects.projects(session, b)))
                for b in await budgets.of_organisation(session, org)]

    rows = await _run(args, work)
    for budget, ballots, projects in rows:
        print(f"{budget.slug}\t{budget.phase}\t{_money(budget.amount, budget.currency)}\t{ballots} ballot(s)\t"
              f"{projects} project(s)\t{printable(pick(budget.title, args.language))}\t{budget.ap_id}")
    if not rows:
        print(f"@{printable(args.org.strip().lstrip('@'))} has no budget.")


def _when(text: str | None) -> datetime | None:
    """An ISO 8601 date and time (UTC when no offset is given)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 9999 with a negative offset, say
        raise InvalidInput("--voting-ends-at takes a date and time, e.g. 2026-06-30T18:00 (UTC) "
                           "or 2026-06-30T18:00+02:00") from None


async def cmd_phase(args) -> None:
    """Move a budget to a phase (forward only; the voting phase may be given an end, or a new one)."""
    phase = one_of(args.phase, BUDGET_PHASES, "the phase")
    ends = _when(args.voting_ends_at)
    if ends is not None and ends <= datetime.now(UTC):
        raise InvalidInput("--voting-ends-at must be in the future")

    async def work(session, uris):
        budget = await find(session, uris, args.budget)
        await budgets.set_phase(session, budget, phase, voting_ends_at=ends)
        return budget

    budget = await _run(args, work)
    end = f" until {budget.voting_ends_at:%Y-%m-%d %H:%M} UTC" if phase == "voting" and budget.voting_ends_at else ""
    print(f"Budget {budget.slug} ({budget.ap_id}) is now in the {phase} phase{end}.")


async def _results(session, budget: Budget, method: str | None) -> dict:
    """The published results (by the budget's method), or the outcome of the ballots so far by
    ``method`` (default: the budget's own). Another method is computed on a detached copy of the
    budget: nothing is stored."""
    if budget.results_published_at is not None and method in (None, budget.results.get("method")):
        return budget.results
    if method is not None and method != budget.result_method:
        session.expunge(budget)
        budget.result_method = method
    return await budget_ballots.compute_results(session, budget)


def _text_results(budget: Budget, results: dict, language: str) -> str:
    currency = results["currency"]
    lines = [f"{printable(pick(budget.title, language))} ({budget.ap_id})",
             f"phase {budget.phase}; method {results['method']}; {results['ballots']} ballot(s); "
             f"budget {_money(results['amount'], currency)}, spent {_money(results['spent'], currency)} on "
             f"{len(results['winners'])} project(s)" + (
                 f" (published {budget.results_published_at:%Y-%m-%d %H:%M} UTC)"
                 if budget.results_published_at and results is budget.results else " (not published)")]
    for district in results.get("districts") or ():
        lines.append(f"  district {district['slug']}: {district['ballots']} ballot(s), budget "
                     f"{_money(district['amount'], currency)}, spent {_money(district['spent'], currency)}")
    lines.append("")
    for project in results["projects"]:
        mark = "selected" if project["selected"] else "-"
        where = f"\t{project['district']}" if project.get("district") else ""
        lines.append(f"{mark}\t{project['votes']} vote(s)\t{_money(project['cost'], currency)}{where}\t"
                     f"{printable(project['title'])}")
    if not results["projects"]:
        lines.append("No project on the ballot.")
    return "\n".join(lines) + "\n"


async def cmd_results(args) -> None:
    """The published results, or those of the ballots cast so far (greedy or Method of Equal
    Shares), as text or JSON."""
    output = one_of(args.format, FORMATS, "--format")
    method = one_of(args.method, RESULT_METHODS, "--method") if args.method is not None else None
    one_of(args.language, LANGUAGES, "--language")

    async def work(session, uris):
        budget = await find(session, uris, args.budget)
        return budget, await _results(session, budget, method)

    budget, results = await _run(args, work)
    if output == "json":
        sys.stdout.write(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(_text_results(budget, results, args.language))


async def cmd_export(args) -> None:
    """The budget (or one of its districts), its projects and its ballots (no account) in the
    Pabulib format, on stdout."""
    one_of(args.format, EXPORT_FORMATS, "--format")

    district = args.district.strip() if args.district is not None else None
    if district is not None and (not district.isprintable() or len(district) > MAX_NAME):
        raise InvalidInput("no such district in this budget")  # the service's words for any other

    async def work(session, uris):
        budget = await find(session, uris, args.budget)
        return await pabulib.export(session, budget, district=district)

    sys.stdout.write(await _run(args, work))


def register(sub, groups, common) -> None:
    parser = sub.add_parser("budget", help="participatory budgets: list, phases, results, Pabulib export")
    group = parser.add_subparsers(dest="budget_command", required=True, metavar="ACTION")
    budget_help = "the budget: its id (URL), its token, or ORG/SLUG"
    language = {"default": "fr", "help": f"language of the titles, among {', '.join(LANGUAGES)} (default fr)"}

    p = group.add_parser("list", parents=[common], help="an organisation's budgets")
    p.add_argument("org", help="organisation handle")
    p.add_argument("--language", **language)
    p.set_defaults(func=cmd_list)
    p = group.add_parser("phase", parents=[common], help="move a budget to a phase")
    p.add_argument("budget", metavar="BUDGET", help=budget_help)
    p.add_argument("phase", metavar="PHASE", help=" | ".join(BUDGET_PHASES))
    p.add_argument("--voting-ends-at", metavar="WHEN", help="with the voting phase: when ballots stop "
                   "(ISO 8601, UTC unless an offset is given)")
    p.set_defaults(func=cmd_phase)
    p = group.add_parser("results", parents=[common],
                         help="the published results, or those of the ballots cast so far (nothing is published)")
    p.add_argument("budget", metavar="BUDGET", help=budget_help)
    p.add_argument("--method", metavar="METHOD", help=f"{' | '.join(RESULT_METHODS)} (default: the budget's)")
    p.add_argument("--format", default="text", metavar="FORMAT", help=f"{' | '.join(FORMATS)} (default text)")
    p.add_argument("--language", **language)
    p.set_defaults(func=cmd_results)
    p = group.add_parser("export", parents=[common], help="the budget and its ballots (no account) as a file")
    p.add_argument("budget", metavar="BUDGET", help=budget_help)
    p.add_argument("--format", required=True, metavar="FORMAT", help=" | ".join(EXPORT_FORMATS))
    p.add_argument("--district", metavar="SLUG", help="a budget with districts is exported one district at a time")
    p.set_defaults(func=cmd_export)
