"""What every in-process test node computes the same way at start, computed once per run.

Each test starts its own node, and a node's start used to redo work whose result depends only on
files in the repository: compiling the three message catalogs from their .po files (about a tenth of
a second each) and compiling each Jinja template on its first use (tens of milliseconds each). Both
are kept for the run, keyed by what they are computed from, so a changed file is compiled again.
Nodes started in a subprocess (``civic serve``) compile everything themselves, as in production.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2
from babel.support import Translations

import web.i18n

_compile_catalog = web.i18n.compile_catalog


@functools.lru_cache(maxsize=64)
def _compiled(po_path: Path, locale: str, mtime_ns: int, size: int) -> Translations:
    return _compile_catalog(po_path, locale)


def compile_catalog(po_path: Path, locale: str) -> Translations:
    """web.i18n.compile_catalog, once per .po file and version of it (its time and size)."""
    stat = Path(po_path).stat()
    return _compiled(Path(po_path), locale, stat.st_mtime_ns, stat.st_size)


class TemplateCode(jinja2.BytecodeCache):
    """Compiled templates, shared by the test nodes' Jinja environments (all configured alike by
    web.app.setup). jinja2 keys them by template and checks them against the source's checksum."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self._code:
            bucket.bytecode_from_string(self._code[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CODE = TemplateCode()


def install(monkeypatch) -> None:
    """Catalogs compiled once per run from now on (``monkeypatch`` of session scope)."""
    monkeypatch.setattr(web.i18n, "compile_catalog", compile_catalog)
