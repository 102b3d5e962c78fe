"""Images uploaded by organisations (their logo): recognised by their first bytes, never by the
name or type the browser sent, and stored under ``<data dir>/media`` by content hash.

Only PNG, JPEG and WebP are accepted: SVG can carry scripts, and anything else is refused. Files
are written atomically (a temporary file renamed into place); the same image uploaded twice is
one file. ``/media/<name>`` serves them (web/media.py)."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from node.errors import InvalidInput

MAX_IMAGE = 512 * 1024
MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
NAME_RE = re.compile(r"^[0-9a-f]{64}\.(png|jpg|webp)$")
URL_PREFIX = "/media/"


def media_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "media"


def sniff(data: bytes) -> str | None:
    """The file extension of an accepted image, from its signature; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


PROBLEMS = {"empty": "choose an image file", "large": f"the image is limited to {MAX_IMAGE // 1024} KB",
            "type": "the image must be a PNG, JPEG or WebP file"}


def problem_with(data: bytes) -> str | None:
    """Why ``data`` is refused (a key of PROBLEMS), or None when it is an accepted image."""
    if not data:
        return "empty"
    if len(data) > MAX_IMAGE:
        return "large"
    return None if sniff(data) else "type"


def check_image(data: bytes) -> str:
    """The extension of ``data``, or InvalidInput saying why it is refused."""
    problem = problem_with(data)
    if problem:
        raise InvalidInput(PROBLEMS[problem])
    return sniff(data)


def save_image(data_dir: Path, data: bytes) -> str:
    """Store an accepted image; returns its path on the node (``/media/<sha256>.<ext>``)."""
    ext = check_image(data)
    name = f"{hashlib.sha256(data).hexdigest()}.{ext}"
    folder = media_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if not target.exists():
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return URL_PREFIX + name


def media_type_of(path: str | None) -> str | None:
    """The media type of a stored image's path (``/media/<name>``), None if it is not one."""
    name = (path or "").removeprefix(URL_PREFIX)
    if not (path or "").startswith(URL_PREFIX) or not NAME_RE.match(name):
        return None
    return MEDIA_TYPES[name.rsplit(".", 1)[1]]
