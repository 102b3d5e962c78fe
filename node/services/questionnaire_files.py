"""Files sent with questionnaire answers: recognised by their first bytes (never the name or the
type the browser sent), limited by the question's settings, images re-encoded from their pixels
alone (no EXIF, GPS, XMP, ICC or comment survives), stored under random names in
``<data dir>/questionnaires/<questionnaire id>/``.

Documents (PDF, OpenDocument, Office Open XML) are kept as sent: their own metadata (a PDF's
author) is not removed — the question's description should say so (SECURITY.md rule 29).
Nothing here serves the files: only the organisation's admins may read them (the web layer).
"""

from __future__ import annotations

import io
import os
import re
import secrets
import tempfile
import unicodedata
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from node.errors import InvalidInput
from node.models.questionnaires import Question
from node.services.media import sniff
from node.services.questionnaire_forms import FILE_GROUPS, FILE_SIZE, name_of

MEDIA_TYPES = {
    "jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "pdf": "application/pdf",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MAX_PIXELS = 40_000_000  # larger images are refused before they are decoded (decompression bombs)
MAX_NAME = 100
MAX_ZIP_ENTRIES = 10_000
STORED_RE = re.compile(r"^[0-9]{1,12}/[0-9a-f]{32}\.(jpg|png|webp|pdf|odt|ods|docx|xlsx)$")


@dataclass(frozen=True)
class Upload:
    """A file ready to be stored: its bytes (re-encoded for images), extension and kept name."""

    data: bytes
    ext: str
    name: str
    anonymous: bool = False

    def value(self, path: str) -> dict:
        """The answer's value once stored (the ``Answer`` docstring's file shape)."""
        return {"path": path, "type": MEDIA_TYPES[self.ext], "name": self.name, "size": len(self.data)}


def files_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "questionnaires"


def stored_file(data_dir: Path, path: str) -> Path | None:
    """Where a stored answer's file is (its value's ``path``), None for anything else."""
    if not isinstance(path, str) or not STORED_RE.match(path):
        return None
    return files_dir(data_dir) / path


def _document(data: bytes) -> str | None:
    if data.startswith(b"%PDF-"):
        return "pdf"
    if not data.startswith(b"PK\x03\x04"):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if len(names) > MAX_ZIP_ENTRIES:
                return None
            if names[:1] == ["mimetype"]:
                declared = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
                return {MEDIA_TYPES["odt"]: "odt", MEDIA_TYPES["ods"]: "ods"}.get(declared)
            if "[Content_Types].xml" in names:
                if any(n.startswith("word/") for n in names):
                    return "docx"
                if any(n.startswith("xl/") for n in names):
                    return "xlsx"
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, RuntimeError, NotImplementedError):
        return None
    return None


def kind_of(data: bytes) -> str | None:
    """The extension of an accepted file (MEDIA_TYPES), from its content; None otherwise."""
    return sniff(data) or _document(data)


def reencoded(data: bytes, ext: str) -> bytes:
    """The image's pixels written anew in the same format: no metadata block survives (EXIF and
    its GPS, XMP, ICC profiles, comments); the EXIF orientation is applied first so that the
    picture stays upright. InvalidInput when the image cannot be decoded or is too large."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise InvalidInput("the image has too many pixels")
                image.seek(0)  # an animation keeps its first frame
                upright = ImageOps.exif_transpose(image)
                mode = "RGBA" if upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info \
                    else "RGB"
                if ext == "jpg":
                    mode = "RGB"
                pixels = upright.convert(mode)
                # A new image from the bytes of the pixels: it has no ``info`` to carry over.
                clean = Image.frombytes(mode, pixels.size, pixels.tobytes())
    except InvalidInput:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise InvalidInput(f"the image cannot be read ({type(exc).__name__})") from None
    out = io.BytesIO()
    if ext == "jpg":
        clean.save(out, format="JPEG", quality=88, optimize=True)
    elif ext == "png":
        clean.save(out, format="PNG", optimize=True)
    else:
        clean.save(out, format="WEBP", quality=88)
    return out.getvalue()


def clean_name(filename, ext: str, anonymous: bool) -> str:
    """The name kept with a file: none of an anonymous response's (``file.<ext>``: a name can say
    who sent it), else the sent name without folders or control characters, shortened."""
    if anonymous or not isinstance(filename, str):
        return f"file.{ext}"
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    stem = name.rsplit(".", 1)[0][:MAX_NAME - len(ext) - 1] or "file"
    return f"{stem}.{ext}"


def prepare(question: Question, filename, data, *, anonymous: bool, lang: str = "fr") -> Upload:
    """Check one file against ``question``'s settings (size, types) and re-encode an image."""
    name = name_of(question, lang)
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise InvalidInput(f"{name}: the file is empty")
    settings: Mapping = question.settings or {}
    limit = settings.get("max_bytes", FILE_SIZE[0])
    if len(data) > limit:
        raise InvalidInput(f"{name}: the file is limited to {limit // 1024} KB")
    ext = kind_of(bytes(data))
    allowed = {e for group in settings.get("types", ["images"]) for e in FILE_GROUPS.get(group, ())}
    if ext is None or ext not in allowed:
        raise InvalidInput(f"{name}: accepted files are {', '.join(sorted(allowed))}")
    if ext in FILE_GROUPS["images"]:
        try:
            data = reencoded(bytes(data), ext)
        except InvalidInput as refusal:
            raise InvalidInput(f"{name}: {refusal.reason}") from None
    return Upload(bytes(data), ext, clean_name(filename, ext, anonymous), anonymous)


def store(data_dir: Path, questionnaire_id: int, upload: Upload) -> str:
    """Write ``upload`` atomically under a random name; returns its value's ``path``. An
    anonymous response's file is dated 1970 (its modification time would be the response's)."""
    folder = files_dir(data_dir) / str(questionnaire_id)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # private, as the media (node/files.py)
    name = f"{secrets.token_hex(16)}.{upload.ext}"
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(upload.data)
        if upload.anonymous:  # the file's times would say when the response came
            os.utime(temporary, (0, 0))
        os.replace(temporary, folder / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return f"{questionnaire_id}/{name}"


def remove(data_dir: Path, paths) -> None:
    """Remove stored files (a submission that failed after storing them)."""
    for path in paths:
        target = stored_file(data_dir, path)
        if target is not None:
            target.unlink(missing_ok=True)
