"""The node's files on disk are private: data directory 0700, config, database and media 0600.

`civic.toml` holds ``secret_key`` (whoever reads it can sign an admin's session cookie) and the
SQLite database holds private keys and password hashes (SECURITY.md rule 15). Every `civic` command
runs under a 077 umask, so what it creates is private from the first byte; :func:`make_private`
corrects a node made before that (``civic migrate``, ``civic init`` on an existing directory).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from node.config import CONFIG_FILE, Settings

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600
MEDIA = "media"


@contextmanager
def private_umask() -> Iterator[None]:
    """Files and directories created meanwhile are readable by their owner only."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite database file of the node, None on PostgreSQL (or an in-memory database)."""
    url = make_url(settings.effective_database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def private_paths(settings: Settings) -> Iterator[tuple[Path, int]]:
    """(path, wanted mode) of every existing file and directory the node keeps private."""
    data_dir = settings.data_dir
    if data_dir.is_dir():
        yield data_dir, DIR_MODE
    config = data_dir / CONFIG_FILE
    if config.is_file():
        yield config, FILE_MODE
    database = sqlite_path(settings)
    if database is not None:
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm"),
                     Path(f"{database}-journal")):
            if path.is_file():
                yield path, FILE_MODE
    media = data_dir / MEDIA
    if media.is_dir():
        yield media, DIR_MODE
        for child in sorted(media.iterdir()):
            if child.is_file() and not child.is_symlink():
                yield child, FILE_MODE


def make_private(settings: Settings) -> list[str]:
    """Take group and other permissions off the node's files; one message per corrected path.

    Only permissions are removed (never added), and symbolic links are left alone."""
    messages = []
    for path, wanted in private_paths(settings):
        if path.is_symlink():
            continue
        current = stat.S_IMODE(path.stat().st_mode)
        if current & 0o077 == 0:
            continue
        corrected = current & ~0o077 | (wanted & 0o700)
        try:
            path.chmod(corrected)
        except OSError as exc:
            messages.append(f"Could not make {path} private ({exc.strerror}): do it with "
                            f"chmod {corrected:o} {path}")
            continue
        messages.append(f"Made {path} private: mode {current:o} -> {corrected:o}.")
    return messages
