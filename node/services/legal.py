"""The node's privacy and legal notices in fr/en/de: the text a node admin wrote, or the default one,
which says truthfully what this node's code stores (node.services.legal_defaults).

Texts are plain text (``# `` headings, ``- `` list items, blank lines between paragraphs, bare
http(s) addresses), never HTML: the web layer escapes them when it renders them. They are bounded
and refused when a database could not store them faithfully (SECURITY.md rule 14).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from node.config import Settings
from node.errors import InvalidInput
from node.models import LEGAL_KINDS, LegalText, User, utcnow
from node.models.participation import LANGUAGES
from node.services import legal_defaults

KINDS = LEGAL_KINDS
MAX_TEXT = 50_000  # characters: a long privacy notice is about 10,000
# How long a session cookie lives, as the privacy notice says it. It is web.security.SESSION_MAX_AGE
# (this layer cannot import the web one); tests/web/test_legal_pages.py checks that they agree.
SESSION_DAYS = 14

# What is wrong with a text, as ``problem`` names it; the web layer translates these.
EMPTY, TOO_LONG, CHARACTERS = "empty", "too_long", "characters"
_REASONS = {
    EMPTY: "the text is empty",
    TOO_LONG: f"the text is longer than {MAX_TEXT:,} characters",
    CHARACTERS: "the text holds a NUL character or an invalid one (a lone surrogate)",
}


@dataclass(frozen=True)
class Notice:
    """A notice as shown: its text, in ``language`` (the reader's, unless only another language
    was written), and who last changed it (None for the default text)."""

    kind: str
    language: str
    text: str
    updated_at: datetime | None = None
    updated_by: str | None = None

    @property
    def is_default(self) -> bool:
        return self.updated_at is None


def check_place(kind: str, language: str) -> None:
    """InvalidInput unless ``kind`` is privacy|legal and ``language`` fr|en|de."""
    if kind not in KINDS:
        raise InvalidInput(f"the kind of notice must be one of {', '.join(KINDS)}, not {kind!r}")
    if language not in LANGUAGES:
        raise InvalidInput(f"the language must be one of {', '.join(LANGUAGES)}, not {language!r}")


def normalise(text: str) -> str:
    """Line breaks as one character (browsers send CR LF), no blank space around the text."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def problem(text: str) -> str | None:
    """What prevents storing ``text`` (already normalised): EMPTY, TOO_LONG, CHARACTERS, or None."""
    if not text:
        return EMPTY
    if len(text) > MAX_TEXT:
        return TOO_LONG
    # PostgreSQL cannot store NUL; a lone surrogate cannot be encoded (SECURITY.md rule 14).
    if "\x00" in text or any("\ud800" <= char <= "\udfff" for char in text):
        return CHARACTERS
    return None


def _retention(language: str, days: int, kind: str) -> str:
    phrases = legal_defaults.RETENTION[language]
    if days > 0:
        return phrases[f"{kind}_days"].format(days=days)
    return phrases[f"{kind}_kept"]


def default_text(settings: Settings, kind: str, language: str) -> str:
    """The default notice, filled in with this node's name, address and retention settings."""
    check_place(kind, language)
    values = {
        "instance_name": settings.instance_name,
        "base_url": settings.base_url,
        "session_days": SESSION_DAYS,
        "remote_retention": _retention(language, settings.retention_remote_days, "remote"),
        "log_retention": _retention(language, settings.retention_log_days, "log"),
    }
    if kind == "legal":
        template = legal_defaults.LEGAL[language]
    else:
        sections = legal_defaults.PRIVACY[language]
        template = "\n\n".join(sections[name] for name in legal_defaults.SECTIONS)
    return template.format(**values)


async def stored(session: AsyncSession) -> dict[tuple[str, str], LegalText]:
    """Every notice an admin wrote, by (kind, language)."""
    rows = await session.scalars(select(LegalText))
    return {(row.kind, row.language): row for row in rows}


async def _author(session: AsyncSession, row: LegalText) -> str | None:
    if row.updated_by_id is None:
        return None
    user = await session.get(User, row.updated_by_id)
    return user.actor.username if user is not None else None


async def notice(session: AsyncSession, settings: Settings, kind: str, language: str) -> Notice:
    """The notice for a reader of ``language``: the admin's text in that language; else the admin's
    text in another language (the legal notice's publisher and contact matter more than the
    language); else the default text in that language."""
    check_place(kind, language)
    rows = {row.language: row for row in await session.scalars(
        select(LegalText).where(LegalText.kind == kind))}
    for code in (language, *LANGUAGES):
        if (row := rows.get(code)) is not None:
            return Notice(kind, code, row.text, row.updated_at, await _author(session, row))
    return Notice(kind, language, default_text(settings, kind, language))


async def set_text(session: AsyncSession, kind: str, language: str, text: str,
                   by: User | None = None) -> LegalText:
    """Store an admin's notice (replacing the one before); InvalidInput with the reason when the
    text cannot be stored. Every process of the node drops its cached pages at commit (node/changes.py)."""
    check_place(kind, language)
    text = normalise(text)
    if (found := problem(text)) is not None:
        raise InvalidInput(_REASONS[found])
    values = {"kind": kind, "language": language, "text": text, "updated_at": utcnow(),
              "updated_by_id": by.id if by is not None else None}
    # One UPSERT: two admins saving at the same moment cannot make the second a duplicate-key error.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(LegalText).values(**values).on_conflict_do_update(
        index_elements=[LegalText.kind, LegalText.language],
        set_={name: values[name] for name in ("text", "updated_at", "updated_by_id")}))
    row = await session.scalar(select(LegalText).where(
        LegalText.kind == kind, LegalText.language == language).execution_options(populate_existing=True))
    return row


async def reset(session: AsyncSession, kind: str, language: str) -> bool:
    """Go back to the default text; False when there was no admin's text."""
    check_place(kind, language)
    result = await session.execute(delete(LegalText).where(
        LegalText.kind == kind, LegalText.language == language))
    return bool(result.rowcount)
