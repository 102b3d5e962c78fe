"""Translated text maps {language: text}: validation and choosing the text for a reader."""

from __future__ import annotations

from node.errors import InvalidInput
from node.models.participation import LANGUAGES


def text_map(value: dict | str | None, *, required: bool = False, what: str = "text",
             max_length: int = 20_000) -> dict[str, str]:
    """Normalise a translatable field: a plain string counts as French (the default language).
    Anything but texts, and a NUL character, is refused (InvalidInput)."""
    if value is None:
        value = {}
    if isinstance(value, str):
        value = {"fr": value}
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a text or a map of languages to texts")
    cleaned = {}
    for lang, text in value.items():
        if lang not in LANGUAGES:
            raise InvalidInput(f"{what}: unsupported language {lang!r} (use fr, en or de)")
        if text is not None and not isinstance(text, str):
            raise InvalidInput(f"{what} in {lang} must be a text")
        text = (text or "").strip()
        if "\x00" in text:  # PostgreSQL stores no NUL character (SECURITY.md rule 14)
            raise InvalidInput(f"{what} contains a NUL character")
        if len(text) > max_length:
            raise InvalidInput(f"{what} is limited to {max_length} characters")
        if text:
            cleaned[lang] = text
    if required and not cleaned:
        raise InvalidInput(f"{what} is required")
    return cleaned


def pick(value: dict | None, lang: str, fallback: str = "fr") -> str:
    """The text in the reader's language, else the fallback language, else any language."""
    if not value:
        return ""
    return value.get(lang) or value.get(fallback) or next(iter(value.values()), "")
