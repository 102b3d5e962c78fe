"""`civic org members|admit|expel|census|codes|salt`: an organisation's members from the command line
(node.services.membership). Every error is a message and a non-zero exit, never a traceback."""

from __future__ import annotations

import asyncio
from pathlib import Path

from civic.common import open_database, settings_of
from node.db import transaction
from node.errors import CivicError
from node.services import actors
from node.services import membership as service


async def _run(args, work):
    """``work(session)`` in one transaction on the node's database: all of it, or nothing."""
    engine, sessions = await open_database(settings_of(args))
    try:
        async with transaction(sessions) as session:
            return await work(session)
    finally:
        await engine.dispose()


async def _org(session, handle: str):
    return await actors.require_local_actor(session, handle, "Organization")


async def _user(session, handle: str):
    user = await actors.user_by_username(session, handle.lstrip("@"))
    if user is None:
        raise CivicError(f"no user with the handle {handle!r}")
    return user


def _printable(text: str) -> str:
    """One line of text safe for a terminal: what residents typed may hold escape sequences."""
    return "".join(ch if ch.isprintable() else " " for ch in " ".join(text.split()))


async def cmd_members(args) -> None:
    """The people with a role in the organisation, with how they were verified (admins' eyes only)."""
    async def work(session):
        return await service.members(session, await _org(session, args.org))

    rows = await _run(args, work)
    for row in rows:
        v = row.verification
        how = f"{v.method}\t{v.verified_at:%Y-%m-%d}\t{_printable(v.identity)}" if v else "-\t-\t"
        print(f"{row.actor.username}\t{_printable(row.actor.name)}\t{','.join(row.roles)}\t{how}")
    if not rows:
        print("Nobody has a role in this organisation.")


async def cmd_admit(args) -> None:
    async def work(session):
        org = await _org(session, args.org)
        await service.admit(session, org, await _user(session, args.user), None, args.note or "")

    await _run(args, work)
    print(f"@{args.user.lstrip('@')} is now a member of @{args.org}.")


async def cmd_expel(args) -> None:
    async def work(session):
        org = await _org(session, args.org)
        await service.remove(session, org, await _user(session, args.user))

    await _run(args, work)
    print(f"@{args.user.lstrip('@')} is no longer a member of @{args.org}.")


async def cmd_census(args) -> None:
    """Import a census file: all of it, or — when a line is invalid — nothing (with the lines)."""
    try:
        data = await asyncio.to_thread(Path(args.file).read_bytes)
    except OSError as exc:
        raise CivicError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    lines = service.census_lines(data)

    async def work(session):
        return await service.import_census(session, await _org(session, args.org), lines)

    report = await _run(args, work)
    print(f"Imported {report.added} new census entries into @{args.org} "
          f"({report.duplicates} duplicates skipped).")


async def cmd_codes(args) -> None:
    """Issue codes and print them, once: only their hashes are kept."""
    async def work(session):
        return await service.issue_codes(session, await _org(session, args.org), args.n, args.label or [])

    issued = await _run(args, work)
    for row, code in issued:
        print(f"{code}\t{row.label}" if row.label else code)


async def cmd_salt(args) -> None:
    async def work(session):
        return await service.salt_of(session, await _org(session, args.org))

    print(await _run(args, work))


def register(sub, groups, common) -> None:
    org = groups["org"]
    p = org.add_parser("members", parents=[common],
                       help="list the people with a role, with how they were verified and their identity")
    p.add_argument("org", help="organisation handle")
    p.set_defaults(func=cmd_members)
    p = org.add_parser("admit", parents=[common], help="make a local account a member")
    p.add_argument("org", help="organisation handle")
    p.add_argument("user", help="user handle")
    p.add_argument("--note", help="who they are (seen by the organisation's admins only)")
    p.set_defaults(func=cmd_admit)
    p = org.add_parser("expel", parents=[common], help="take a member's membership away")
    p.add_argument("org", help="organisation handle")
    p.add_argument("user", help="user handle")
    p.set_defaults(func=cmd_expel)
    p = org.add_parser("census", parents=[common],
                       help="import a census file (UTF-8, one identifier or salted hash per line)")
    p.add_argument("org", help="organisation handle")
    p.add_argument("file", help="the census file")
    p.set_defaults(func=cmd_census)
    p = org.add_parser("codes", parents=[common], help="issue N one-time codes and print them (once)")
    p.add_argument("org", help="organisation handle")
    p.add_argument("n", type=int, help=f"how many (1 to {service.MAX_CODES})")
    p.add_argument("--label", action="append",
                   help="to whom a code is handed (repeat: one per code, in order)")
    p.set_defaults(func=cmd_codes)
    p = org.add_parser("salt", parents=[common],
                       help="print the organisation's salt (to hash a census yourself)")
    p.add_argument("org", help="organisation handle")
    p.set_defaults(func=cmd_salt)
