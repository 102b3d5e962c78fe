"""`civic coalition …`: coalitions and their members from the command line, so that a coalition
can be scripted (node.services.coalitions, node.services.coalition_report); its campaigns, `civic
coalition campaign …`, are civic/commands/coalition_campaign.py.

On the coalition's home: create, list, members, invite (one organisation, or a previous coalition's
members), accept and refuse Joins, remove, role, report. On a member's node: join, answer an
invitation, leave, memberships. An organisation or a coalition is named by a local handle
(``lyon``), a handle on another node (``@ngo@example.org``) or an actor URL; one not yet known here
is fetched (and stored) where the command reaches out to it (invite, join). What must federate is
queued in the same transaction as the change: the running ``civic serve`` (or ``civic worker``)
sends it — told at commit on PostgreSQL, within seconds on SQLite (its fan-out polls). Every error
is a message and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import sys

from sqlalchemy import func, select

from civic.common import in_transaction, printable, settings_of, with_runtime
from federation.resolve import resolve_actor
from node import visibility
from node.config import Settings
from node.errors import Forbidden, InvalidInput, NotFound
from node.models import Actor, CoalitionStates
from node.services import actors, coalition_report, coalitions, moderation
from node.services.i18n import LANGUAGES
from node.uris import Uris

S = CoalitionStates
SYNTAX = "{option} takes LANGUAGE={what}, e.g. {option} fr={example} (LANGUAGE: {languages})"
EXAMPLES = {"TEXT": "Océans propres", "PATH": "affiche.png"}
ORG_HELP = "an organisation: a local handle, @name@host or an actor URL"
COALITION_HELP = "a coalition: a local handle, @name@host or an actor URL"


def address_of(actor: Actor) -> str:
    """How to name an actor to these commands: ``@handle`` here, ``@handle@host`` elsewhere."""
    return f"@{actor.username}" if actor.local else f"@{actor.username}@{actor.domain}"


# -- naming organisations and coalitions --------------------------------------------------------

def _split(address: str, uris: Uris) -> tuple[str, str | None]:
    """(kind, value): ("url", url), ("local", handle) or ("remote", "name@host") — the address as
    typed, without looking anything up."""
    text = address.strip()
    if "://" in text:
        if uris.is_local(text):
            return "local", uris.username_from_actor(text) or ""
        return "url", text
    text = text[5:] if text.startswith("acct:") else text.lstrip("@")
    name, sep, host = text.rpartition("@")
    if not sep:
        return "local", text
    if host.lower() == uris.domain.lower():
        return "local", name
    return "remote", text


async def _stored(session, uris: Uris, address: str) -> Actor | None:
    """The actor an address names, among those this node knows (no network)."""
    kind, value = _split(address, uris)
    if kind == "local":
        return await actors.local_actor(session, value) if value else None
    if kind == "url":
        return await session.scalar(select(Actor).where(Actor.ap_id == value))
    name, _, host = value.rpartition("@")
    return await session.scalar(select(Actor).where(
        Actor.local.is_(False), func.lower(Actor.username) == name.lower(),
        func.lower(Actor.domain) == host.lower()).order_by(Actor.id).limit(1))


async def actor_id_of(settings: Settings, address: str, what: str, *, fetch: bool = False) -> int:
    """The id of the actor ``address`` names. One this node does not know yet is fetched (and
    stored) from its node when ``fetch``; otherwise it is unknown."""
    async def stored(session, uris):
        actor = await _stored(session, uris, address)
        return actor.id if actor is not None else None

    found = await in_transaction(settings, stored)
    if found is not None:
        return found
    if not fetch or _split(address, Uris(settings.base_url))[0] == "local":
        raise NotFound(f"no {what} known as {address!r} on this node")

    async def fetched(rt):
        return (await resolve_actor(rt, address.strip())).id

    return await with_runtime(settings, fetched)


async def _reachable(session, settings: Settings, actor: Actor) -> None:
    """A remote actor whose host this node refuses (blocked, or off the allow list) is refused."""
    if actor.local:
        return
    if moderation.is_blocked(actor.domain, await moderation.blocked_domains(session)):
        raise Forbidden(f"{actor.domain} is blocked on this node")
    if settings.allowlist_mode and not moderation.covered(actor.domain,
                                                          await moderation.allowed_domains(session)):
        raise Forbidden(f"{actor.domain} is not on this node's allow list")


async def hosted_coalition(session, handle: str):
    """A coalition hosted here, by its handle."""
    return await coalitions.require(session, handle.strip().lstrip("@"))


async def local_org(session, handle: str) -> Actor:
    """An organisation of this node, by its handle."""
    return await actors.require_local_actor(session, handle.strip().lstrip("@"), "Organization")


async def any_coalition(session, actor_id: int, address: str) -> Actor:
    """A coalition here or anywhere (a Group actor; one of this node must be a coalition)."""
    actor = await session.get(Actor, actor_id)
    if actor is None:
        raise NotFound(f"no coalition known as {address!r} on this node")
    if actor.type != "Group" or (actor.local and await coalitions.of_actor(session, actor) is None):
        raise NotFound(f"{address_of(actor)} is not a coalition")
    return actor


def _languages(text: str | None) -> list[str]:
    languages = [lang.strip() for lang in (text or "fr").split(",") if lang.strip()]
    unknown = [lang for lang in languages if lang not in LANGUAGES]
    if unknown or not languages:
        raise InvalidInput(f"--languages is a comma-separated list among {', '.join(LANGUAGES)}")
    return languages


def text_maps(values: list[str] | None, option: str, what: str = "TEXT") -> dict[str, str]:
    """``["fr=Océans", "de=Ozeane"]`` → ``{"fr": "Océans", "de": "Ozeane"}``; a value without a
    known ``LANGUAGE=`` or a language given twice is refused."""
    out: dict[str, str] = {}
    for value in values or ():
        language, sep, text = value.partition("=")
        language = language.strip()
        if not sep or language not in LANGUAGES:
            raise InvalidInput(SYNTAX.format(option=option, what=what, example=EXAMPLES[what],
                                             languages=", ".join(LANGUAGES)))
        if language in out:
            raise InvalidInput(f"{option} gives {language} twice")
        out[language] = text.strip()
    return out


# -- on the home: the coalition and its members ---------------------------------------------------

async def cmd_create(args) -> None:
    settings = settings_of(args)
    languages = _languages(args.languages)

    async def work(session, uris):
        founder = await local_org(session, args.org)
        return await coalitions.create(session, uris, args.handle, args.name, founder=founder,
                                       summary=args.summary or "", languages=languages,
                                       visibility_level=args.visibility)

    coalition = await in_transaction(settings, work)
    print(f"Created coalition @{coalition.actor.username}@{Uris(settings.base_url).domain} "
          f"({coalition.actor.ap_id}), founded by @{args.org.lstrip('@')} as its admin.")


async def cmd_list(args) -> None:
    async def work(session, uris):
        return [(c, await coalitions.count(session, c.actor)) for c in await coalitions.listed(session)]

    rows = await in_transaction(settings_of(args), work)
    for coalition, count in rows:
        actor = coalition.actor
        print(f"{actor.username}\t{printable(actor.name)}\t{','.join(coalition.languages)}\t"
              f"{coalition.visibility}\t{count} member(s)\t{actor.ap_id}")
    if not rows:
        print("No coalition on this node.")


def _member_entry(row) -> dict:
    member = row.member
    return {"address": address_of(member), "id": member.ap_id, "name": member.name or member.username,
            "node": member.domain, "local": bool(member.local), "role": row.role, "state": row.state,
            "since": (row.accepted_at or row.created_at).isoformat() if (row.accepted_at or row.created_at)
            else None}


async def cmd_members(args) -> None:
    """Every organisation in the coalition, asked to join or invited, with its role and state."""
    async def work(session, uris):
        coalition = await hosted_coalition(session, args.handle)
        return [_member_entry(row) for row in await coalitions.members(session, coalition.actor, states=S.ALL)]

    entries = await in_transaction(settings_of(args), work)
    if args.json:
        sys.stdout.write(json.dumps(entries, ensure_ascii=False, indent=2) + "\n")
        return
    for e in entries:
        print(f"{printable(e['address'])}\t{printable(e['name'])}\t{e['role']}\t{e['state']}\t{e['id']}")
    if not entries:
        print("The coalition has no member.")


async def cmd_invite(args) -> None:
    """Invite an organisation here or anywhere, or (--from) a previous coalition's members."""
    settings = settings_of(args)
    if bool(args.org_address) == bool(args.previous):
        raise InvalidInput("invite one organisation (ORG_ADDRESS) or a coalition's members (--from), not both")
    if args.previous:
        async def invite_from(session, uris):
            coalition = await hosted_coalition(session, args.handle)
            previous = await hosted_coalition(session, args.previous)
            rows = await coalitions.invite_from(session, uris, coalition.actor, previous.actor)
            # New rows have no ``member`` loaded (and no lazy loading in async): read each actor.
            return [(address_of(await session.get(Actor, row.member_id)), row.state) for row in rows]

        done = await in_transaction(settings, invite_from)
        for address, state in done:
            print(f"{printable(address)}\t{state}")
        print(f"Invited {len(done)} member(s) of @{args.previous.lstrip('@')} to @{args.handle.lstrip('@')}.")
        return
    org_id = await actor_id_of(settings, args.org_address, "organisation", fetch=True)

    async def invite(session, uris):
        coalition = await hosted_coalition(session, args.handle)
        org = await session.get(Actor, org_id)
        await _reachable(session, settings, org)
        before = await coalitions.membership(session, coalition.actor, org)
        was = before.state if before is not None else None
        row = await coalitions.invite(session, uris, coalition.actor, org, args.role)
        return address_of(org), was, row.state, row.role

    address, was, state, role = await in_transaction(settings, invite)
    where = f"@{args.handle.lstrip('@')}"
    if was == S.requested:
        print(f"{printable(address)} had asked to join {where}: it is now a member ({role}).")
    elif was is not None:
        print(f"{printable(address)} is already in {where} ({state}); nothing changed.")
    else:
        print(f"Invited {printable(address)} to {where} as {role}: it becomes a member when its admins "
              "accept (the running node sends the invitation).")


def _home_change(change):
    """A command on the home that changes an organisation's place in the list (accept, refuse,
    remove, role): the organisation must be known here already."""
    async def command(args) -> None:
        settings = settings_of(args)
        org_id = await actor_id_of(settings, args.org_address, "organisation")

        async def work(session, uris):
            coalition = await hosted_coalition(session, args.handle)
            org = await session.get(Actor, org_id)
            return await change(args, session, coalition.actor, org)

        print(await in_transaction(settings, work))
    command.__doc__ = change.__doc__
    return command


async def _waiting_join(session, coalition: Actor, org: Actor):
    row = await coalitions.membership(session, coalition, org)
    if row is None or row.state != S.requested:
        raise NotFound(f"{address_of(org)} has not asked to join @{coalition.username}")
    return row


async def _accept(args, session, coalition: Actor, org: Actor) -> str:
    """Accept an organisation's Join (a remote one hears Accept)."""
    await coalitions.accept(session, await _waiting_join(session, coalition, org))
    return f"{printable(address_of(org))} is now a member of @{coalition.username}."


async def _refuse(args, session, coalition: Actor, org: Actor) -> str:
    """Refuse an organisation's Join (a remote one hears Reject)."""
    await coalitions.reject(session, await _waiting_join(session, coalition, org))
    return f"Refused the request of {printable(address_of(org))} to join @{coalition.username}."


async def _remove(args, session, coalition: Actor, org: Actor) -> str:
    """Remove a member (or withdraw an invitation); a remote one hears Remove."""
    await coalitions.remove(session, coalition, org)
    return f"{printable(address_of(org))} is no longer in @{coalition.username}."


async def _role(args, session, coalition: Actor, org: Actor) -> str:
    """Make a member an admin of the coalition, or a member only."""
    row = await coalitions.set_role(session, coalition, org, args.role)
    return f"{printable(address_of(org))} is now {row.role} of @{coalition.username}."


# -- on a member's node: a local organisation and a coalition here or anywhere ---------------------

async def cmd_join(args) -> None:
    settings = settings_of(args)
    coalition_id = await actor_id_of(settings, args.coalition, "coalition", fetch=True)

    async def work(session, uris):
        org = await local_org(session, args.org)
        coalition = await any_coalition(session, coalition_id, args.coalition)
        await _reachable(session, settings, coalition)
        row = await coalitions.request_join(session, uris, org, coalition)
        return address_of(coalition), coalition.local, row.state

    address, local, state = await in_transaction(settings, work)
    org = f"@{args.org.lstrip('@')}"
    if state == S.accepted:
        print(f"{org} is a member of {printable(address)}.")
    elif local:
        print(f"{org} asked to join {printable(address)}: its admins accept or refuse.")
    else:
        print(f"{org} asked to join {printable(address)}: the running node sends the Join; "
              "the coalition's admins accept or refuse.")


async def cmd_answer(args) -> None:
    settings = settings_of(args)
    coalition_id = await actor_id_of(settings, args.coalition, "coalition")

    async def work(session, uris):
        org = await local_org(session, args.org)
        coalition = await any_coalition(session, coalition_id, args.coalition)
        await coalitions.answer_invite(session, uris, org, coalition, args.answer == "accept")
        return address_of(coalition)

    address = await in_transaction(settings, work)
    org = f"@{args.org.lstrip('@')}"
    if args.answer == "accept":
        print(f"{org} accepted the invitation: it is a member of {printable(address)}.")
    else:
        print(f"{org} declined the invitation of {printable(address)}.")


async def cmd_leave(args) -> None:
    settings = settings_of(args)
    coalition_id = await actor_id_of(settings, args.coalition, "coalition")

    async def work(session, uris):
        org = await local_org(session, args.org)
        coalition = await any_coalition(session, coalition_id, args.coalition)
        await coalitions.leave(session, uris, org, coalition)
        return address_of(coalition), coalition.local

    address, local = await in_transaction(settings, work)
    sent = "" if local else " (the running node sends the Leave)"
    print(f"@{args.org.lstrip('@')} left {printable(address)}{sent}.")


async def cmd_memberships(args) -> None:
    """The coalitions an organisation of this node is in, has asked to join or is invited to."""
    async def work(session, uris):
        org = await local_org(session, args.org)
        out = []
        for row in await coalitions.memberships_of(session, org):
            coalition = await session.get(Actor, row.coalition_id)
            out.append((address_of(coalition), coalition.name, row.role, row.state, coalition.ap_id))
        return out

    rows = await in_transaction(settings_of(args), work)
    for address, name, role, state, ap_id in rows:
        print(f"{printable(address)}\t{printable(name)}\t{role}\t{state}\t{ap_id}")
    if not rows:
        print(f"@{args.org.lstrip('@')} is in no coalition.")


# -- the report ------------------------------------------------------------------------------------

def _text_report(data: dict) -> str:
    """The report for a terminal: totals, members, each campaign's supports per member, language
    and day, and the shared demands."""
    c, t = data["coalition"], data["totals"]
    lines = [f"{printable(c['name'])} ({c['id']})",
             f"{t['members']} member(s), {t['campaigns']} campaign(s), {t['supports']} support(s) of campaigns, "
             f"{t['demand_supports']} support(s) of demands. Generated {data['generated']}.",
             "", "Members:"]
    lines += [f"  {m['role']}\t{printable(m['name'])}\t{m['node']}\t{m['id']}" for m in data["members"]]
    for campaign in data["campaigns"]:
        lines += ["", f"Campaign {printable(campaign['name'])} ({campaign['id']}): "
                      f"{campaign['supports']} support(s), {campaign['variants']} variant(s)"]
        for share in campaign["breakdown"]:
            who = printable(share["member"]["name"]) if share["member"] else "(no member)"
            lines.append(f"  {who}\t{share['language'] or '-'}\t{share['supports']}")
        languages = ", ".join(f"{lang or '-'} {n}" for lang, n in campaign["per_language"].items())
        lines.append(f"  per language: {languages or 'none'}")
        days = ", ".join(f"{d['day']} {d['supports']:+d}" for d in campaign["growth"])
        lines.append(f"  per day: {days or 'none'}")
    lines += ["", "Demands:" if data["demands"] else "No demand."]
    lines += [f"  {d['supports']}\t{d['state']}\t{printable(d['title'])}" for d in data["demands"]]
    return "\n".join(lines) + "\n"


async def cmd_report(args) -> None:
    async def work(session, uris):
        coalition = await hosted_coalition(session, args.handle)
        language = args.language or (coalition.languages or ["fr"])[0]
        return await coalition_report.report(session, coalition.actor, language)

    data = await in_transaction(settings_of(args), work)
    if args.format == "json":
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    elif args.format == "csv":
        sys.stdout.write(coalition_report.to_csv(data))
    else:
        sys.stdout.write(_text_report(data))


def register(sub, groups, common) -> None:
    parser = sub.add_parser("coalition", help="coalitions of organisations across nodes, and their campaigns")
    group = parser.add_subparsers(dest="coalition_command", required=True, metavar="ACTION")
    groups["coalition"] = group  # civic/commands/coalition_campaign.py adds `campaign` to it

    p = group.add_parser("create", parents=[common], help="create a coalition hosted on this node")
    p.add_argument("handle", help="handle, e.g. blue (letters, digits, _)")
    p.add_argument("--name", required=True, help="display name, e.g. 'Blue Coalition'")
    p.add_argument("--org", required=True, help="the founding organisation of this node (its first admin)")
    p.add_argument("--summary", help="short introduction")
    p.add_argument("--languages", default="fr", help=f"comma-separated, among {','.join(LANGUAGES)} (default fr)")
    p.add_argument("--visibility", default=visibility.PUBLIC, choices=visibility.LEVELS)
    p.set_defaults(func=cmd_create)
    p = group.add_parser("list", parents=[common], help="list the coalitions hosted on this node")
    p.set_defaults(func=cmd_list)
    p = group.add_parser("members", parents=[common],
                         help="list a coalition's organisations: accepted, requested (Join) and invited")
    p.add_argument("handle", help="coalition handle")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_members)
    p = group.add_parser("invite", parents=[common],
                         help="invite an organisation (here or anywhere), or --from a previous coalition's members")
    p.add_argument("handle", help="coalition handle")
    p.add_argument("org_address", nargs="?", metavar="ORG_ADDRESS", help=ORG_HELP)
    p.add_argument("--role", default=coalitions.MEMBER, choices=(coalitions.MEMBER, coalitions.ADMIN))
    p.add_argument("--from", dest="previous", metavar="PREVIOUS_HANDLE",
                   help="invite every member of this coalition of the node who is not in HANDLE yet")
    p.set_defaults(func=cmd_invite)
    for name, change, text in (("accept", _accept, "accept an organisation's request to join"),
                               ("refuse", _refuse, "refuse an organisation's request to join"),
                               ("remove", _remove, "remove a member (or withdraw an invitation)"),
                               ("role", _role, "make a member an admin, or a member only")):
        p = group.add_parser(name, parents=[common], help=text)
        p.add_argument("handle", help="coalition handle")
        p.add_argument("org_address", metavar="ORG_ADDRESS", help=ORG_HELP)
        if name == "role":
            p.add_argument("role", choices=(coalitions.ADMIN, coalitions.MEMBER))
        p.set_defaults(func=_home_change(change))
    p = group.add_parser("join", parents=[common], help="ask for an organisation of this node to join a coalition")
    p.add_argument("org", help="organisation handle")
    p.add_argument("coalition", metavar="COALITION_ADDRESS", help=COALITION_HELP)
    p.set_defaults(func=cmd_join)
    p = group.add_parser("answer", parents=[common], help="accept or decline a coalition's invitation")
    p.add_argument("org", help="organisation handle")
    p.add_argument("coalition", metavar="COALITION_ADDRESS", help=COALITION_HELP)
    p.add_argument("answer", choices=("accept", "decline"))
    p.set_defaults(func=cmd_answer)
    p = group.add_parser("leave", parents=[common], help="take an organisation of this node out of a coalition")
    p.add_argument("org", help="organisation handle")
    p.add_argument("coalition", metavar="COALITION_ADDRESS", help=COALITION_HELP)
    p.set_defaults(func=cmd_leave)
    p = group.add_parser("memberships", parents=[common],
                         help="the coalitions an organisation of this node is in, asked to join or invited to")
    p.add_argument("org", help="organisation handle")
    p.set_defaults(func=cmd_memberships)
    p = group.add_parser("report", parents=[common],
                         help="the coalition's report: members, supports per member, language and day, demands")
    p.add_argument("handle", help="coalition handle")
    p.add_argument("--format", default="text", choices=("text", "csv", "json"))
    p.add_argument("--language", choices=LANGUAGES, help="language of the names (default: the coalition's first)")
    p.set_defaults(func=cmd_report)
