"""`civic legal show|set|reset KIND LANG [FILE]`: the node's privacy and legal notices."""

from __future__ import annotations

import sys
from pathlib import Path

from civic.common import open_database, settings_of
from node.db import transaction
from node.errors import InvalidInput
from node.models.participation import LANGUAGES
from node.services import legal


async def cmd_legal(args) -> None:
    settings = settings_of(args)
    legal.check_place(args.kind, args.lang)
    text = _read(args.file) if args.legal_action == "set" else ""
    engine, sessions = await open_database(settings)
    try:
        if args.legal_action == "show":
            async with sessions() as session:
                notice = await legal.notice(session, settings, args.kind, args.lang)
            if notice.is_default:
                print(f"(the default {args.kind} notice: no admin wrote one)", file=sys.stderr)
            elif notice.language != args.lang:
                print(f"(none in {args.lang}: the {notice.language} one is shown)", file=sys.stderr)
            print(notice.text)
            return
        async with transaction(sessions) as session:
            if args.legal_action == "set":
                await legal.set_text(session, args.kind, args.lang, text)
                done = f"Saved the {args.kind} notice in {args.lang} ({len(legal.normalise(text))} characters)."
            else:
                found = await legal.reset(session, args.kind, args.lang)
                done = (f"The {args.kind} notice in {args.lang} is the default text again." if found
                        else f"The {args.kind} notice in {args.lang} was already the default text.")
    finally:
        await engine.dispose()
    print(done)


def _read(name: str | None) -> str:
    """The text of FILE ('-': standard input), as UTF-8; InvalidInput with the reason otherwise."""
    if not name:
        raise InvalidInput("legal set needs a FILE ('-' reads standard input)")
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {name}: {exc.strerror}") from None
    if len(raw) > 4 * legal.MAX_TEXT:
        raise InvalidInput(f"{name} is larger than a notice can be ({legal.MAX_TEXT:,} characters)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name} is not UTF-8 text (byte {exc.start})") from None


def register(sub, groups, common) -> None:
    p = sub.add_parser("legal", parents=[common],
                       help="show, set or reset the privacy and legal notices (/privacy, /legal)")
    p.add_argument("legal_action", choices=["show", "set", "reset"])
    p.add_argument("kind", choices=legal.KINDS)
    p.add_argument("lang", choices=LANGUAGES)
    p.add_argument("file", nargs="?", help="with set: a UTF-8 text file ('-' reads standard input)")
    p.set_defaults(func=cmd_legal)
