"""Languages of the web pages: catalogs compiled at start, locale negotiation, jinja2 gettext and filters."""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from pathlib import Path

import jinja2
from aiohttp import web
from babel.core import negotiate_locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

# The interface languages, in the order the switcher shows them, with their own names.
LANGUAGES = {"fr": "Français", "en": "English", "de": "Deutsch"}
DEFAULT_LANGUAGE = "fr"
LANG_COOKIE = "lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600
DOMAIN = "messages"
TRANSLATIONS_DIR = Path(__file__).parent / "translations"

CATALOGS = web.AppKey("civic_catalogs", dict)
LOCALE = web.RequestKey("civic_locale", str)

_QUALITY = re.compile(r"^q=([01](?:\.\d{0,3})?)$")


def _(message: str) -> str:
    """Marks a Python string for extraction; it is translated where it is shown (see ``translate``)."""
    return message


def compile_catalog(po_path: Path, locale: str) -> Translations:
    """A .po file compiled in memory (no .mo build step); fuzzy entries are left out, as msgfmt does."""
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def load_catalogs(directory: Path = TRANSLATIONS_DIR) -> dict[str, Translations]:
    """Every interface language's translations, read from ``<lang>/LC_MESSAGES/messages.po``."""
    return {
        lang: compile_catalog(directory / lang / "LC_MESSAGES" / f"{DOMAIN}.po", lang)
        for lang in LANGUAGES
    }


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags of an Accept-Language header, most preferred first (q=0 dropped; RFC 9110 §12.5.4)."""
    ranked = []
    for position, item in enumerate((header or "").split(",")):
        tag, *params = [part.strip() for part in item.split(";")]
        if not tag or tag == "*" or len(tag) > 35:
            continue
        quality = 1.0
        for param in params:
            match = _QUALITY.match(param.replace(" ", ""))
            if match:
                quality = float(match.group(1))
        if quality > 0:
            ranked.append((-quality, position, tag))
    return [tag for _q, _p, tag in sorted(ranked)]


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The switcher's cookie when it names a known language, else the best Accept-Language match."""
    if cookie in LANGUAGES:
        return cookie
    preferred = parse_accept_language(accept_language)
    return negotiate_locale(preferred, list(LANGUAGES), sep="-") or DEFAULT_LANGUAGE


def locale_of(request: web.Request) -> str:
    """The language of this request's page (negotiated once per request)."""
    if LOCALE not in request:
        request[LOCALE] = negotiate(
            request.cookies.get(LANG_COOKIE), request.headers.get("Accept-Language")
        )
    return request[LOCALE]


def translations(request: web.Request) -> Translations:
    """This request's translations: ``translations(request).gettext("…")`` in Python code."""
    return request.app[CATALOGS][locale_of(request)]


def translate(request: web.Request, message: str, **variables: object) -> str:
    """A string marked with ``_`` translated for this request, with %(name)s variables filled in."""
    text = translations(request).gettext(message)
    return text % variables if variables else text


# jinja2: the i18n extension's gettext/ngettext read the translations from the template context,
# which ``web.render.render`` fills per request: no shared mutable state between requests.
_NULL = Translations()


@jinja2.pass_context
def _context_gettext(context: jinja2.runtime.Context, message: str) -> str:
    return (context.get("translations") or _NULL).gettext(message)


@jinja2.pass_context
def _context_ngettext(
    context: jinja2.runtime.Context, singular: str, plural: str, number: int
) -> str:
    return (context.get("translations") or _NULL).ngettext(singular, plural, number)


def _locale(context: jinja2.runtime.Context) -> str:
    return context.get("lang") or DEFAULT_LANGUAGE


@jinja2.pass_context
def format_date_filter(
    context: jinja2.runtime.Context, value: date | None, fmt: str = "long"
) -> str:
    return "" if value is None else babel_format_date(value, fmt, locale=_locale(context))


@jinja2.pass_context
def format_datetime_filter(
    context: jinja2.runtime.Context, value: datetime | None, fmt: str = "medium"
) -> str:
    # Stored times are UTC; without a node time zone setting they are shown in UTC.
    if value is None:
        return ""
    return babel_format_datetime(value, fmt, locale=_locale(context))


@jinja2.pass_context
def format_number_filter(context: jinja2.runtime.Context, value: float | int | None) -> str:
    return "" if value is None else format_decimal(value, locale=_locale(context))


def install(env: jinja2.Environment) -> None:
    """Add the i18n extension (new-style gettext, trimmed {% trans %}) and the babel filters."""
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(_context_gettext, _context_ngettext, newstyle=True)
    env.filters["format_date"] = format_date_filter
    env.filters["format_datetime"] = format_datetime_filter
    env.filters["format_number"] = format_number_filter


def setup(app: web.Application, env: jinja2.Environment) -> None:
    app[CATALOGS] = load_catalogs()
    install(env)
