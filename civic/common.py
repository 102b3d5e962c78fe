"""What every ``civic`` command shares: the data directory, its settings, the database, a runtime."""

from __future__ import annotations

import os
from pathlib import Path

from civic.app import build_runtime, close_runtime
from node.config import CONFIG_FILE, DEFAULT_DATA_DIR, Settings, load_settings
from node.db import check_connection, create_engine, session_factory, transaction
from node.errors import ConfigError, InvalidInput, NotFound
from node.uris import Uris


def data_dir_of(args) -> Path:
    return Path(args.data_dir or os.environ.get("CIVIC_DATA_DIR") or DEFAULT_DATA_DIR)


def settings_of(args) -> Settings:
    """Settings of an initialised data directory (or given wholly by CIVIC_* variables, as in
    containers where a worker shares the database but not the web node's files)."""
    directory = data_dir_of(args)
    if not (directory / CONFIG_FILE).exists() and not os.environ.get("CIVIC_DATABASE_URL"):
        raise ConfigError(f"{directory} is not initialised: run `civic init` first")
    return load_settings(directory)


async def open_database(settings: Settings):
    """(engine, session factory) of the node's database, after checking it answers."""
    engine = create_engine(settings.effective_database_url)
    await check_connection(engine)
    return engine, session_factory(engine)


async def with_runtime(settings: Settings, work):
    """Run ``work(runtime)`` with a full runtime (keys, HTTP client) and close it after."""
    rt, engine = await build_runtime(settings)
    try:
        return await work(rt)
    finally:
        await close_runtime(rt, engine)


async def in_transaction(settings: Settings, work):
    """``work(session, uris)`` in one transaction on the node's database: all of it, or nothing."""
    engine, sessions = await open_database(settings)
    try:
        async with transaction(sessions) as session:
            return await work(session, Uris(settings.base_url))
    finally:
        await engine.dispose()


def printable(text: str | None) -> str:
    """One line of text safe for a terminal: what participants (and fediverse authors) wrote may
    hold escape sequences."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text or "").split())


def one_of(value: str, allowed: tuple[str, ...], what: str) -> str:
    """``value`` when it is one of ``allowed``, else InvalidInput naming them: a refusal with exit 1,
    as every other refusal of a command (argparse's ``choices`` would exit 2)."""
    if value not in allowed:
        raise InvalidInput(f"{what} must be one of {', '.join(allowed)}")
    return value


MAX_NAME = 300  # longer than any handle, slug, token or id a node makes


def typed_name(text: str | None, what: str) -> str:
    """A handle, slug or id as typed (``@`` and spaces around it dropped). One with control
    characters — which PostgreSQL refuses in a query rather than finding nothing — or longer than
    any name names nothing here: NotFound."""
    text = (text or "").strip().lstrip("@")
    if not text or not text.isprintable() or len(text) > MAX_NAME:
        raise NotFound(f"no {what} {printable(text)[:80]!r} on this node")
    return text
