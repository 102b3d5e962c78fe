"""Files written whole or not at all, readable by their owner only (SECURITY.md rule 15)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_private(path: Path, text: str, *, prefix: str = ".civic-", suffix: str = "") -> Path:
    """Write ``text`` to a 0600 temporary file beside ``path`` (mkstemp), then rename it over
    ``path``: never readable by others, not even for a moment, and never half-written."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
