"""What every ``civic`` command shares: the data directory, its settings, the database, a runtime."""

from __future__ import annotations

import os
from pathlib import Path

from civic.app import build_runtime, close_runtime
from node.config import CONFIG_FILE, DEFAULT_DATA_DIR, Settings, load_settings
from node.db import check_connection, create_engine, session_factory
from node.errors import ConfigError


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
