"""Over-size forms: what could be read of them, so the form comes back with what was typed (never lost).

A body above a form's size limit used to be answered with a bare "413 Maximum request body size
exceeded" page and the form was gone. Here the body is read up to ``SALVAGE_LIMIT`` bytes (an upload's
file part up to the form's own limit, the rest of it skipped), the fields that arrived whole are kept,
and a ``FormTooLarge`` carries them to the handler, which shows the form again with a message next to
the field (SECURITY.md rule 6: nothing over the limit is stored; rule 19: never a 500).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote_plus

from aiohttp import BodyPartReader, web

from web.i18n import _
from web.sessions import check_csrf

SALVAGE_LIMIT = 1024 * 1024  # what is read of an over-size form's text (the node's request size cap)
SKIP_LIMIT = 16 * 1024 * 1024  # an over-size upload is read and dropped up to this, then abandoned
MAX_FIELDS = 1000
CHUNK = 64 * 1024
TOO_LARGE = _("What you sent is too large.")


class FormTooLarge(web.HTTPRequestEntityTooLarge):
    """413 with what could be read of the form; a handler that catches it shows the form again.

    ``form`` holds the text fields that arrived (files as ``b""``: they are never kept when over the
    limit), ``field`` names the field that was cut or over its size (None when none can be named).
    Handlers that do not catch it answer with the translated error page."""

    def __init__(self, form: dict, field: str | None, max_size: int, actual_size: int):
        super().__init__(max_size=max_size, actual_size=actual_size, text=TOO_LARGE)
        self.form = form
        self.field = field


async def _read_capped(request: web.Request, limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of the body, and whether more followed (the text was cut)."""
    chunks, size = [], 0
    while size < limit:
        chunk = await request.content.read(min(CHUNK, limit - size))
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), not request.content.at_eof() and bool(await request.content.read(1))


def _urlencoded(body: bytes, cut: bool) -> tuple[dict, str | None]:
    """The fields of a (maybe cut) urlencoded body; the cut one keeps what arrived of its text."""
    text = body.decode("ascii", errors="ignore")  # a urlencoded body is ASCII; escapes carry the rest
    head, _sep, tail = text.rpartition("&") if cut else (text, "", "")
    values: dict[str, str] = {}
    for key, value in parse_qsl(head, keep_blank_values=True, max_num_fields=MAX_FIELDS):
        values.setdefault(key, value)
    field = None
    if cut and tail:
        name, _eq, partial = tail.partition("=")
        field = unquote_plus(name)
        # A trailing, incomplete escape ("%", "%C") is dropped; a cut UTF-8 sequence is ignored below.
        partial = re.sub(r"%[0-9A-Fa-f]?$", "", partial)
        values.setdefault(field, unquote_plus(partial, errors="ignore"))
    return values, field


async def _multipart(request: web.Request, max_size: int, files: tuple[str, ...]) -> tuple[dict, str | None]:
    """The text parts of an over-size multipart body; a file part over ``max_size`` is skipped."""
    values: dict = {name: b"" for name in files}
    field, read = None, 0
    reader = await request.multipart()
    while len(values) < MAX_FIELDS + len(files):
        part = await reader.next()
        if part is None or not isinstance(part, BodyPartReader) or part.name is None:
            break
        if part.filename or part.name in files:
            size = 0
            while chunk := await part.read_chunk(CHUNK):
                size += len(chunk)
                if size > SKIP_LIMIT:
                    return values, part.name  # an enormous upload: stop reading here
            if size > max_size:
                field = field or part.name
            continue
        data = bytearray()
        while chunk := await part.read_chunk(CHUNK):
            data += chunk
            if len(data) + read > SALVAGE_LIMIT:
                values.setdefault(part.name, bytes(data).decode("utf-8", errors="ignore"))
                return values, field or part.name
        read += len(data)
        values.setdefault(part.name, bytes(data).decode("utf-8", errors="ignore"))
    return values, field


async def too_large(request: web.Request, max_size: int, files: tuple[str, ...] = ()) -> web.HTTPException:
    """The exception for a body over ``max_size``: a ``FormTooLarge`` with what could be read, or a
    403 when the form's CSRF token is not good (the same check as every form, rule 19)."""
    actual = request.content_length or 0
    try:
        if request.content_type == "multipart/form-data":
            form, field = await _multipart(request, max_size, files)
        else:
            body, cut = await _read_capped(request, SALVAGE_LIMIT)
            form, field = _urlencoded(body, cut)
    except (ValueError, UnicodeError):  # not a form we can read at all
        return web.HTTPRequestEntityTooLarge(max_size=max_size, actual_size=actual, text=TOO_LARGE)
    if not check_csrf(request, form.get("csrf_token") if isinstance(form.get("csrf_token"), str) else None):
        return web.HTTPForbidden(text=_("The form expired or came from another site. Reload and retry."))
    for name in files:
        form[name] = b""  # an upload of an over-size form is never kept
    return FormTooLarge(form, field, max_size, actual)
