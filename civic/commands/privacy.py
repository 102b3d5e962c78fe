"""Privacy commands: `civic user export`, `civic user delete` (erasure) and `civic retention apply`."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from civic.common import open_database, settings_of
from node.db import transaction
from node.errors import CivicError, NotFound
from node.private_file import write_private
from node.services import actors, erasure, export, retention
from node.uris import Uris


async def _user(session, handle: str):
    user = await actors.user_by_username(session, handle.lstrip("@"))
    if user is None:
        raise NotFound(f"no account with the handle {handle!r}")
    return user


def _write_private(path: Path, text: str) -> None:
    """Written whole or not at all: a temporary file beside it, renamed over (the command runs
    under umask 077, so the export is readable by its owner only: SECURITY.md rule 15)."""
    if path.is_dir():
        raise CivicError(f"{path} is a directory: give a file name")
    write_private(path, text, prefix=".civic-export-", suffix=".json")


async def cmd_user_export(args) -> None:
    """`civic user export HANDLE [--output FILE]`: the account's data as JSON (standard output
    without --output)."""
    settings = settings_of(args)
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session:
            data = await export.export_account(session, Uris(settings.base_url), await _user(session, args.handle))
    finally:
        await engine.dispose()
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if not args.output:
        sys.stdout.write(text)
        return
    path = Path(args.output)
    try:
        await asyncio.to_thread(_write_private, path, text)
    except OSError as exc:
        raise CivicError(f"cannot write {path}: {exc.strerror or exc}") from None
    print(f"Wrote the data of @{data['account']['handle']} to {path} "
          f"({sum(len(rows) for rows in data['tables'].values())} rows, {data['outbox']['totalItems']} activities).")


def _confirm(handle: str) -> None:
    if not sys.stdin.isatty():
        raise CivicError("erasing an account cannot be undone: add --yes to confirm")
    typed = input(f"Erasing @{handle} cannot be undone. Type the handle again to confirm: ")
    if typed.strip().lstrip("@") != handle:
        raise CivicError("the handle typed differs: nothing was erased")


async def cmd_user_delete(args) -> None:
    """`civic user delete HANDLE [--yes]`: erase the account (asks to type the handle again
    unless --yes). A running node sends the Deletes."""
    handle = args.handle.lstrip("@")
    if not args.yes:
        await asyncio.to_thread(_confirm, handle)
    engine, sessions = await open_database(settings_of(args))
    try:
        async with transaction(sessions) as session:
            done = await erasure.erase_account(session, await _user(session, handle), by=None)
    finally:
        await engine.dispose()
    print(f"Erased @{done.handle}: {len(done.objects)} text(s) now tombstones, {done.reactions} reaction(s) "
          f"still counted without the person, {done.follows} follow(s) removed; the handle stays reserved. "
          "The running node sends the Deletes.")


async def cmd_retention_apply(args) -> None:
    """`civic retention apply [--dry-run]`: what the retention settings let go, per table."""
    settings = settings_of(args)
    engine, sessions = await open_database(settings)
    try:
        async with transaction(sessions) as session:
            counts = await retention.apply(session, settings, dry_run=args.dry_run)
    finally:
        await engine.dispose()
    verb = "would remove" if args.dry_run else "removed"
    print(f"Retention: remote copies after {settings.retention_remote_days or 'no'} day(s), "
          f"logs after {settings.retention_log_days or 'no'} day(s).")
    for name, count in counts.items():
        print(f"{name}\t{verb} {count}" if name != "erased_keys"
              else f"{name}\t{'would clear' if args.dry_run else 'cleared'} {count}")


def register(sub, groups, common) -> None:
    user = groups["user"]
    p = user.add_parser("export", parents=[common], help="download everything stored about an account (JSON)")
    p.add_argument("handle")
    p.add_argument("--output", "-o", help="write to this file (default: standard output)")
    p.set_defaults(func=cmd_user_export)
    p = user.add_parser("delete", parents=[common],
                        help="erase an account: its texts become tombstones and Deletes federate")
    p.add_argument("handle")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_user_delete)
    retention_parser = sub.add_parser("retention", help="apply the retention settings")
    actions = retention_parser.add_subparsers(dest="retention_command", required=True, metavar="ACTION")
    p = actions.add_parser("apply", parents=[common], help="remove old remote copies and log rows")
    p.add_argument("--dry-run", action="store_true", help="only count what would be removed")
    p.set_defaults(func=cmd_retention_apply)
