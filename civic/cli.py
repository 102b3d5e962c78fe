"""Composition root for the `civic` command: init, serve, worker, org, user, domain, demo."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import logging
import os
import secrets
import signal
import socket
import sys
from urllib.parse import urlsplit

from aiohttp import web

from activities.html import text_to_html
from civic import commands
from civic.app import build_runtime, close_runtime, create_app, run_background
from civic.common import data_dir_of, open_database, settings_of, with_runtime
from civic.processes import stop_when_closed, supervisor_command
from federation.fetch import FetchError
from federation.policy import keep_blocks
from federation.resolve import resolve_actor
from node import __version__
from node.config import CONFIG_FILE, MAX_PROCESSES, Settings, load_settings, write_settings
from node.db import is_sqlite, listen, transaction
from node.demo import seed_demo
from node.errors import CivicError, ConfigError
from node.files import make_private, private_umask
from node.migrate import upgrade
from node.services import accounts, actors, follows, moderation, notes, reports
from node.uris import Uris

log = logging.getLogger("civic")


async def cmd_init(args) -> None:
    data_dir = data_dir_of(args)
    existing = (data_dir / CONFIG_FILE).exists()
    settings = load_settings(
        data_dir,
        base_url=args.base_url,
        database_url=args.database_url,
        development=True if args.development else None,
        instance_name=args.instance_name,
    )
    if not settings.secret_key:
        settings = dataclasses.replace(settings, secret_key=secrets.token_hex(32))
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Reach and migrate the database before writing anything, so a failure leaves no config behind.
    engine, sessions = await open_database(settings)
    try:
        await upgrade(engine)
        async with transaction(sessions) as session:
            await actors.ensure_instance_actor(session, Uris(settings.base_url), settings.instance_name)
    finally:
        await engine.dispose()
    path = write_settings(settings)
    _report_private(settings)
    print(f"{'Updated' if existing else 'Initialised'} {path} (base URL {settings.base_url}).")


def _report_private(settings: Settings) -> None:
    """Correct the modes of a node's files made before they were private (SECURITY.md rule 15)."""
    for message in make_private(settings):
        print(message, flush=True)


async def cmd_migrate(args) -> None:
    settings = settings_of(args)
    engine, _ = await open_database(settings)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    _report_private(settings)
    print("The database schema is up to date.")


async def _serve(settings: Settings, host: str, port: int, deliver: bool, announce=None, *,
                 background: bool = True, sock: socket.socket | None = None) -> None:
    """Serve until SIGTERM or SIGINT; on ``sock`` when a supervisor gave one (civic/processes.py)."""
    app = create_app(settings, background=background, deliver=deliver)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port) if sock is None else web.SockSite(runner, sock)
    await site.start()
    process = "" if sock is None else f" (web process, pid {os.getpid()})"
    print(f"Civic Node {__version__} serving {settings.base_url} on http://{host}:{port}/{process}",
          flush=True)
    if announce:
        announce()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if sock is not None:
        stop_when_closed(sys.stdin.fileno(), stop)
    await stop.wait()
    await runner.cleanup()


# Why `--processes` above 1 is refused on SQLite (exit status 2).
SQLITE_REFUSAL = (
    "--processes {count} needs PostgreSQL. On SQLite the node's writers take turns inside one "
    "process (a lock per process), and its processes cannot tell each other about changes: a "
    "second process would wait on the database's lock and show pages up to a few seconds old. "
    "Serve SQLite with one process, or move the node to PostgreSQL.")


async def cmd_serve(args) -> None:
    settings = settings_of(args)
    host, port = args.host or settings.host, args.port or settings.port
    if args.listen_fd is not None:  # one of the web processes of `civic serve --processes N`
        await _serve(settings, host, port, deliver=not args.no_worker, background=not args.web_only,
                     sock=socket.socket(fileno=args.listen_fd))
        return
    count = settings.processes if args.processes is None else args.processes
    if not 1 <= count <= MAX_PROCESSES:
        raise ConfigError(f"--processes must be between 1 and {MAX_PROCESSES}")
    if count > 1 and is_sqlite(settings.effective_database_url):
        print(f"civic: error: {SQLITE_REFUSAL.format(count=count)}", file=sys.stderr)
        raise SystemExit(2)
    engine, sessions = await open_database(settings)
    try:
        await upgrade(engine)
        if count > 1:  # made once here, not by every web process at the same moment
            async with transaction(sessions) as session:
                await actors.ensure_instance_actor(session, Uris(settings.base_url),
                                                   settings.instance_name)
    finally:
        await engine.dispose()
    _report_private(settings)
    if count == 1:
        await _serve(settings, host, port, deliver=not args.no_worker)
        return
    print(f"Civic Node {__version__} serving {settings.base_url} on http://{host}:{port}/ with "
          f"{count} web processes (supervisor pid {os.getpid()})", flush=True)
    # This process becomes the supervisor, which loads none of the node (a few MB, not a hundred).
    os.execv(sys.executable, supervisor_command(host, port, count, _web_process(args, host, port)))


def _web_process(args, host: str, port: int) -> list[str]:
    """`civic serve` as each web process of `civic serve --processes N` runs it (the supervisor
    adds the socket it serves on, and which process does the background work)."""
    argv = [sys.executable, "-m", "civic", *(["-v"] if args.verbose else []), "serve",
            "--data-dir", str(data_dir_of(args).resolve()), "--host", host, "--port", str(port)]
    return argv + (["--no-worker"] if args.no_worker else [])


async def cmd_worker(args) -> None:
    settings = settings_of(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    rt, engine = await build_runtime(settings)
    print("Civic Node worker running (inbox processing, fan-out, delivery).", flush=True)
    try:  # on PostgreSQL, what the web processes queue wakes it at once (node.db.listen)
        await asyncio.gather(run_background(rt, stop), listen(engine, rt.on_change, stop, ready=rt.listening),
                             keep_blocks(rt, stop))
    finally:
        await close_runtime(rt, engine)


async def cmd_org_create(args) -> None:
    settings = settings_of(args)
    engine, sessions = await open_database(settings)
    try:
        async with transaction(sessions) as session:
            org = await actors.create_organization(
                session, Uris(settings.base_url), args.handle, args.name, args.summary or "",
                manually_approves_followers=args.approve_followers)
    finally:
        await engine.dispose()
    print(f"Created organisation @{org.username}@{Uris(settings.base_url).domain} ({org.ap_id}).")


async def cmd_org_list(args) -> None:
    settings = settings_of(args)
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session:
            for org in await actors.list_local_actors(session, "Organization"):
                print(f"{org.username}\t{org.name}\t{org.ap_id}")
    finally:
        await engine.dispose()


async def cmd_org_announce(args) -> None:
    settings = settings_of(args)
    text = sys.stdin.read() if args.text == "-" else args.text
    engine, sessions = await open_database(settings)
    try:
        async with transaction(sessions) as session:
            org = await actors.require_local_actor(session, args.handle, "Organization")
            note = await notes.publish_announcement(session, Uris(settings.base_url), org,
                                                    text_to_html(text))
    finally:
        await engine.dispose()
    print(f"Published {note.ap_id}; the running node delivers it to the followers.")


async def cmd_org_follow(args) -> None:
    settings = settings_of(args)

    async def work(rt):
        target = await resolve_actor(rt, args.target)
        async with transaction(rt.sessions) as session:
            org = await actors.require_local_actor(session, args.handle, "Organization")
            if args.undo:
                await follows.unfollow(session, org, target)
                return f"@{org.username} no longer follows {target.ap_id}."
            follow = await follows.request_follow(session, rt.uris, org, target)
            return f"@{org.username} follows {target.ap_id} ({follow.state})."

    print(await with_runtime(settings, work))


async def cmd_org_requests(args) -> None:
    settings = settings_of(args)
    engine, sessions = await open_database(settings)
    try:
        async with transaction(sessions) as session:
            org = await actors.require_local_actor(session, args.handle, "Organization")
            pending = await follows.pending_requests(session, org)
            if args.accept or args.reject:
                wanted = args.accept or args.reject
                match = [f for f, who in pending if who.ap_id == wanted]
                if not match:
                    raise CivicError(f"no pending follow request from {wanted}")
                await (follows.accept if args.accept else follows.reject)(session, match[0])
                print(f"{'Accepted' if args.accept else 'Rejected'} {wanted}.")
                return
            for _, who in pending:
                print(who.ap_id)
            if not pending:
                print("No pending follow request.")
    finally:
        await engine.dispose()


async def cmd_user_create(args) -> None:
    settings = settings_of(args)
    password = args.password
    if password is None:
        password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass()
    engine, sessions = await open_database(settings)
    try:
        async with transaction(sessions) as session:
            user = await actors.create_user(session, Uris(settings.base_url), args.handle, password,
                                            args.name or "", args.email, is_admin=args.admin)
            if args.org:
                org = await actors.require_local_actor(session, args.org, "Organization")
                await actors.add_member(session, user, org, args.role)
    finally:
        await engine.dispose()
    print(f"Created user @{user.actor.username} ({user.actor.ap_id}).")


async def cmd_user_pending(args) -> None:
    settings = settings_of(args)
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session:
            waiting = await accounts.pending_accounts(session)
            for user in waiting:
                print(f"{user.actor.username}\t{user.email or ''}\t{user.created_at:%Y-%m-%d %H:%M}")
    finally:
        await engine.dispose()
    if not waiting:
        print("No account waits for approval.")


async def cmd_user_approve(args) -> None:
    settings = settings_of(args)
    engine, sessions = await open_database(settings)
    try:
        async with transaction(sessions) as session:
            user = await accounts.approve(session, args.handle)
    finally:
        await engine.dispose()
    print(f"Approved @{user.actor.username}: the account can log in.")


async def cmd_domain(args) -> None:
    settings = settings_of(args)
    engine, sessions = await open_database(settings)
    try:
        async with transaction(sessions) as session:
            if args.action == "block":
                await moderation.block_domain(session, args.domain, args.reason or "")
                print(f"Blocked {args.domain} and its subdomains (a running node applies it within seconds).")
            elif args.action == "unblock":
                found = await moderation.unblock_domain(session, args.domain)
                print(f"Unblocked {args.domain}." if found else f"{args.domain} was not blocked.")
            elif args.action == "allow":
                await moderation.allow_domain(session, args.domain)
                note = "" if settings.allowlist_mode else " (it matters once allowlist_mode is on)"
                print(f"Allowed {args.domain} and its subdomains{note}.")
            elif args.action == "disallow":
                found = await moderation.disallow_domain(session, args.domain)
                print(f"{args.domain} is off the allow list." if found else f"{args.domain} was not allowed.")
            elif args.action == "allowed":
                for allow in await moderation.list_allows(session):
                    print(allow.domain)
            else:
                for block in await moderation.list_blocks(session):
                    print(block.domain)
    finally:
        await engine.dispose()


async def cmd_org_premoderate(args) -> None:
    """`civic org premoderate HANDLE N`: the organisation's pre-moderation of remote accounts."""
    engine, sessions = await open_database(settings_of(args))
    try:
        async with transaction(sessions) as session:
            org = await actors.require_local_actor(session, args.handle, "Organization")
            await reports.set_premoderation(session, None, org.id, args.first)
    finally:
        await engine.dispose()
    if args.first:
        print(f"@{args.handle} holds the first {args.first} contribution(s) of each remote account for review.")
    else:
        print(f"@{args.handle} no longer holds remote contributions for review.")


async def cmd_org_member(args) -> None:
    """`civic org member add|remove ORG USER ROLE`: a person's role in an organisation. Admins and
    moderators are its discussions' FEP-1b12 moderators: the change federates as Add/Remove."""
    engine, sessions = await open_database(settings_of(args))
    try:
        async with transaction(sessions) as session:
            org = await actors.require_local_actor(session, args.org, "Organization")
            user = await actors.user_by_username(session, args.user)
            if user is None:
                raise CivicError(f"no user with the handle {args.user!r}")
            if args.member_action == "add":
                await actors.add_member(session, user, org, args.role)
            else:
                await actors.remove_member(session, user, org, args.role)
    finally:
        await engine.dispose()
    done = "is now" if args.member_action == "add" else "is no longer"
    print(f"@{args.user} {done} {args.role} of @{args.org}.")


async def cmd_account(args) -> None:
    """`civic account block|silence|unblock ACCT_OR_URL`, `civic account list` (remote accounts)."""
    settings = settings_of(args)
    if args.account_action == "list":
        engine, sessions = await open_database(settings)
        try:
            async with sessions() as session:
                for row in await moderation.list_restrictions(session):
                    print(f"{row.level}\t{row.actor_ap_id}\t{row.reason}")
        finally:
            await engine.dispose()
        return
    if not args.account:
        raise CivicError(f"account {args.account_action} needs an account (user@host or https://…)")

    async def work(rt):
        target = args.account.strip()
        if "://" not in target:  # a handle: its actor's id, found with WebFinger
            target = (await resolve_actor(rt, target)).ap_id
        if rt.uris.is_local(target):
            raise CivicError("local accounts cannot be blocked or silenced")
        async with transaction(rt.sessions) as session:
            if args.account_action == "unblock":
                found = await moderation.lift_restriction(session, target)
                return f"{target} is no longer blocked or silenced." if found else f"{target} was not blocked."
            await moderation.restrict_account(session, target, args.account_action, args.reason or "")
            done = "Blocked" if args.account_action == "block" else "Silenced"
            return f"{done} {target}."

    print(await with_runtime(settings, work))


async def cmd_reports(args) -> None:
    """`civic reports`: the open reports (or every report with --all), oldest first."""
    engine, sessions = await open_database(settings_of(args))
    try:
        async with sessions() as session:
            rows = await reports.all_reports(session, include_closed=args.all)
            for r in rows:
                who = r.reporter.ap_id if r.reporter else "?"
                reason = " ".join(r.reason.split())
                print(f"#{r.id}\t{r.state}\t{r.target_kind}\t{r.target_ap_id}\t{r.category}\tby {who}\t{reason}")
            if not rows:
                print("No open report." if not args.all else "No report.")
    finally:
        await engine.dispose()


async def cmd_demo(args) -> None:
    data_dir = data_dir_of(args)
    if not (data_dir / CONFIG_FILE).exists():
        init_args = argparse.Namespace(data_dir=str(data_dir), base_url=args.base_url,
                                       database_url=None, development=True, instance_name=None)
        await cmd_init(init_args)
    settings = load_settings(data_dir)
    engine, sessions = await open_database(settings)
    try:
        await upgrade(engine)
        logins = await seed_demo(sessions, Uris(settings.base_url), settings.data_dir)
    finally:
        await engine.dispose()
    print("Demo content is ready. Logins (handle / password):")
    for handle, password, role in logins:
        print(f"  {handle:<12} {password:<16} {role}")
    if args.serve:
        # The demo serves where its base URL points (http://127.0.0.1:8080 unless told otherwise).
        parts = urlsplit(settings.base_url)
        host, port = parts.hostname or settings.host, parts.port or settings.port
        await _serve(settings, host, port, deliver=True,
                     announce=lambda: print(f"Open {settings.base_url}/ in your browser.", flush=True))


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="data directory (default ./civic-data or $CIVIC_DATA_DIR)")
    parser = argparse.ArgumentParser(prog="civic", description="Civic Node: federated participation.")
    parser.add_argument("--version", action="version", version=f"civic-node {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", parents=[common], help="create the data directory, config and database")
    p.add_argument("--base-url", help="public URL of the node, e.g. https://participez.example.org")
    p.add_argument("--database-url", help="postgresql+asyncpg://… (default: SQLite in the data dir)")
    p.add_argument("--development", action="store_true",
                   help="allow plain http and loopback addresses (local tests only)")
    p.add_argument("--instance-name", help="name shown on pages and in NodeInfo")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("migrate", parents=[common], help="apply database migrations")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("serve", parents=[common], help="serve the node over HTTP")
    p.add_argument("--host", help="address to bind (default from config, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to bind (default 8080)")
    p.add_argument("--no-worker", action="store_true",
                   help="do not deliver in this process (PostgreSQL with separate `civic worker`s)")
    p.add_argument("--processes", type=int, metavar="N",
                   help="web processes sharing the address and port (PostgreSQL; default from config, 1)")
    # Internal: how a supervisor (civic/processes.py) starts each of its web processes.
    p.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)
    p.add_argument("--web-only", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", parents=[common], help="process the inbox and deliver activities")
    p.set_defaults(func=cmd_worker)

    org = sub.add_parser("org", help="organisations").add_subparsers(dest="org_command", required=True,
                                                                      metavar="ACTION")
    p = org.add_parser("create", parents=[common], help="create an organisation")
    p.add_argument("handle", help="handle, e.g. lyon (letters, digits, _)")
    p.add_argument("--name", required=True, help="display name, e.g. 'Ville de Lyon'")
    p.add_argument("--summary", help="short introduction")
    p.add_argument("--approve-followers", action="store_true",
                   help="follow requests wait for an admin's approval")
    p.set_defaults(func=cmd_org_create)
    p = org.add_parser("list", parents=[common], help="list organisations")
    p.set_defaults(func=cmd_org_list)
    p = org.add_parser("announce", parents=[common], help="publish an announcement to followers")
    p.add_argument("handle")
    p.add_argument("text", help="the announcement text ('-' reads standard input)")
    p.set_defaults(func=cmd_org_announce)
    p = org.add_parser("follow", parents=[common], help="follow a remote actor (handle or URL)")
    p.add_argument("handle")
    p.add_argument("target", help="name@host, acct:name@host or an actor URL")
    p.add_argument("--undo", action="store_true", help="stop following")
    p.set_defaults(func=cmd_org_follow)
    p = org.add_parser("requests", parents=[common], help="list, accept or reject follow requests")
    p.add_argument("handle")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--accept", metavar="ACTOR_URL")
    group.add_argument("--reject", metavar="ACTOR_URL")
    p.set_defaults(func=cmd_org_requests)
    p = org.add_parser("premoderate", parents=[common],
                       help="hold the first N contributions of each remote account for review (0: off)")
    p.add_argument("handle")
    p.add_argument("first", type=int)
    p.set_defaults(func=cmd_org_premoderate)
    p = org.add_parser("member", parents=[common],
                       help="give or take away a role (admins and moderators moderate its discussions)")
    p.add_argument("member_action", choices=["add", "remove"])
    p.add_argument("org", help="organisation handle")
    p.add_argument("user", help="user handle")
    p.add_argument("role", help=f"one of {', '.join(actors.ROLES)}")
    p.set_defaults(func=cmd_org_member)

    user = sub.add_parser("user", help="local accounts").add_subparsers(dest="user_command",
                                                                         required=True, metavar="ACTION")
    p = user.add_parser("create", parents=[common], help="create a local account")
    p.add_argument("handle")
    p.add_argument("--password", help="password (read from standard input when omitted)")
    p.add_argument("--name", help="display name (pseudonyms welcome)")
    p.add_argument("--email")
    p.add_argument("--admin", action="store_true", help="node administrator")
    p.add_argument("--org", help="make the user a member of this organisation")
    p.add_argument("--role", default="admin", choices=actors.ROLES, help="role in --org")
    p.set_defaults(func=cmd_user_create)
    p = user.add_parser("pending", parents=[common],
                        help="list the accounts waiting for approval (registration_approval)")
    p.set_defaults(func=cmd_user_pending)
    p = user.add_parser("approve", parents=[common], help="let a waiting account log in")
    p.add_argument("handle")
    p.set_defaults(func=cmd_user_approve)

    p = sub.add_parser("domain", parents=[common],
                       help="block, unblock or list remote domains; allow, disallow or list allowed ones "
                            "(allow-list mode)")
    p.add_argument("action", choices=["block", "unblock", "list", "allow", "disallow", "allowed"])
    p.add_argument("domain", nargs="?", default="")
    p.add_argument("--reason")
    p.set_defaults(func=cmd_domain)

    p = sub.add_parser("account", parents=[common],
                       help="block, silence or unblock a remote account; list those restricted")
    p.add_argument("account_action", choices=["block", "silence", "unblock", "list"])
    p.add_argument("account", nargs="?", default="", metavar="ACCT_OR_URL")
    p.add_argument("--reason")
    p.set_defaults(func=cmd_account)

    p = sub.add_parser("reports", parents=[common], help="list the open reports (--all: every report)")
    p.add_argument("--all", action="store_true")
    p.set_defaults(func=cmd_reports)

    p = sub.add_parser("demo", parents=[common], help="initialise (if needed) and seed demo content")
    p.add_argument("--base-url", default="http://127.0.0.1:8080")
    p.add_argument("--serve", action="store_true", help="then serve it")
    p.set_defaults(func=cmd_demo)

    # Each feature's own commands (civic/commands/*.py) add themselves to these groups.
    commands.register_all(sub, {"org": org, "user": user}, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if getattr(args, "action", None) in ("block", "unblock", "allow", "disallow") and not args.domain:
        parser.error(f"domain {args.action} needs a DOMAIN")
    try:
        with private_umask():  # whatever a command creates is private (SECURITY.md rule 15)
            asyncio.run(args.func(args))
    except (CivicError, FetchError) as exc:
        print(f"civic: error: {exc.reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
