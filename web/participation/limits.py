"""Text limits of the participation forms: over-long text is refused with the limit and its length,
never cut, and an over-size form comes back with what was typed (SECURITY.md rules 14 and 19)."""

from __future__ import annotations

from aiohttp import web
from babel.numbers import format_decimal

from web.i18n import _, locale_of, translate
from web.oversize import FormTooLarge
from web.render import read_form

TOO_LONG = _("At most %(max)s characters (you wrote %(count)s).")
CUT = _("This text is too long to be sent: at most %(max)s characters.")
TOO_LARGE = _("What you sent is too large: shorten this text.")


async def read_form_keeping(request: web.Request, **options) -> tuple[dict, FormTooLarge | None]:
    """``read_form``, but an over-size form is returned (with what could be read) instead of raised:
    the handler checks it as usual and must show it again with ``oversize_errors`` (status 413)."""
    try:
        return await read_form(request, **options), None
    except FormTooLarge as exc:
        return exc.form, exc


def number(request: web.Request, value: int) -> str:
    return format_decimal(value, locale=locale_of(request))


def too_long(request: web.Request, text: str, limit: int) -> str | None:
    """The message for a text over ``limit`` characters (None when it fits): the limit and its length.

    A line break counts as one character, as the page's counter counts it (browsers send CR LF)."""
    length = len(text.replace("\r\n", "\n"))
    if length <= limit:
        return None
    return translate(request, TOO_LONG, max=number(request, limit), count=number(request, length))


def check_lengths(request: web.Request, errors: dict, values: dict, limits: dict[str, int]) -> None:
    """Add a "too long" message for each field of ``limits`` over its limit (first error wins)."""
    for name, limit in limits.items():
        if name not in errors and (message := too_long(request, values.get(name) or "", limit)):
            errors[name] = message


def oversize_errors(request: web.Request, errors: dict, oversize: FormTooLarge | None,
                    limits: dict[str, int], *, fallback: str) -> int:
    """Errors for an over-size form, and the status to answer with (413, or 400 without one).

    The field that was cut gets its own message (its length is unknown: it did not arrive whole);
    when no field can be named, ``fallback`` (the form's main text field) carries the message, so an
    over-size form always comes back with at least one error and nothing is written."""
    if oversize is None:
        return 400
    field = oversize.field or ""
    if field not in limits:  # a text in several languages: ``body_fr`` is reported on ``body``
        field = field.rsplit("_", 1)[0] if field.rsplit("_", 1)[0] in limits else None
    if field is not None:
        errors[field] = translate(request, CUT, max=number(request, limits[field]))
    elif not errors:
        errors[fallback] = translate(request, TOO_LARGE)
    return 413


def check_translations(request: web.Request, errors: dict, name: str, texts: dict[str, str], limit: int) -> None:
    """``check_lengths`` for a text written in several languages: the longest one is reported."""
    longest = max(texts.values(), key=len, default="")
    if name not in errors and (message := too_long(request, longest, limit)):
        errors[name] = message
