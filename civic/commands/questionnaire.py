"""`civic questionnaire …`: an organisation's questionnaires from the command line
(node.services.questionnaires, node.services.questionnaire_export): list them, drafts included, and
export one's responses as CSV or JSON — the same files as its results page gives its admins, with
no pseudonym and no account in them (SECURITY.md rule 29). Every error is a message and exit 1,
never a traceback."""

from __future__ import annotations

import json
import sys

from civic.common import in_transaction, one_of, printable, settings_of, typed_name
from node import visibility
from node.services import actors, questionnaire_export, questionnaires
from node.services.i18n import LANGUAGES, pick

FORMATS = ("csv", "json")


async def _run(args, work):
    return await in_transaction(settings_of(args), work)


async def _org(session, handle: str):
    return await actors.require_local_actor(session, typed_name(handle, "organisation"), "Organization")


async def cmd_list(args) -> None:
    """Every questionnaire of the organisation, drafts and closed ones included: slug, state,
    responses, languages, visibility, title, address."""
    one_of(args.language, LANGUAGES, "--language")

    async def work(session, uris):
        org = await _org(session, args.org)
        found = await questionnaires.of_organisation(session, org, levels=visibility.LEVELS, drafts=True)
        return [(q, uris.questionnaire_page(org.username, q.slug)) for q in found]

    rows = await _run(args, work)
    for q, address in rows:
        mode = "anonymous" if q.anonymous else "named"
        print(f"{q.slug}\t{q.state}\t{q.response_count} response(s)\t{','.join(q.languages or ())}\t"
              f"{q.visibility}\t{mode}\t{printable(pick(q.title, args.language))}\t{address}")
    if not rows:
        print(f"@{printable(args.org.strip().lstrip('@'))} has no questionnaire.")


async def cmd_export(args) -> None:
    """The responses of one questionnaire, on stdout: CSV (one row per response, one column per
    question or matrix row) or JSON."""
    output = one_of(args.format, FORMATS, "--format")

    async def work(session, uris):
        org = await _org(session, args.org)
        q = await questionnaires.by_slug(session, org, typed_name(args.slug, "questionnaire"))
        if output == "csv":
            return await questionnaire_export.to_csv(session, q)
        return await questionnaire_export.to_json(session, q)

    data = await _run(args, work)
    if output == "csv":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def register(sub, groups, common) -> None:
    parser = sub.add_parser("questionnaire", help="questionnaires: list them, export their responses")
    group = parser.add_subparsers(dest="questionnaire_command", required=True, metavar="ACTION")
    p = group.add_parser("list", parents=[common], help="an organisation's questionnaires, drafts included")
    p.add_argument("org", help="organisation handle")
    p.add_argument("--language", default="fr", help=f"language of the titles, among {', '.join(LANGUAGES)} "
                   "(default fr)")
    p.set_defaults(func=cmd_list)
    p = group.add_parser("export", parents=[common], help="a questionnaire's responses as CSV or JSON, on stdout")
    p.add_argument("org", help="organisation handle")
    p.add_argument("slug", help="the questionnaire's slug")
    p.add_argument("--format", required=True, metavar="FORMAT", help=" | ".join(FORMATS))
    p.set_defaults(func=cmd_export)
