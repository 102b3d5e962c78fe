"""Languages: complete catalogs, extraction finds no untranslated string, negotiation, per-request rendering."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import pytest
from babel.dates import format_datetime
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from node.db import transaction
from node.services import notes
from web.i18n import LANGUAGES, TRANSLATIONS_DIR, install, load_catalogs, negotiate

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER_RE = re.compile(r"%\((\w+)\)[sd]")
TAG_RE = re.compile(r"</?[a-z]+[^>]*>")


def _catalog(lang: str):
    with (TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=lang)


def _messages(lang: str) -> dict:
    return {message.id: message for message in _catalog(lang) if message.id}


def _extracted() -> set:
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle, "babel.cfg")
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        found.add(message if isinstance(message, str) else tuple(message[:2]))
    return found


def test_catalogs__every_english_message_is_translated_in_fr_and_de():
    """Every msgid of the English catalog has a non-empty, non-fuzzy translation in fr and de."""
    english = _messages("en")
    assert len(english) > 50
    for lang in ("fr", "de"):
        translated = _messages(lang)
        assert set(translated) == set(english), f"{lang} and en catalogs list other messages"
        for msgid, message in translated.items():
            forms = message.string if isinstance(message.string, tuple) else (message.string,)
            assert all(form.strip() for form in forms), f"{lang}: {msgid!r} is untranslated"
            assert not message.fuzzy, f"{lang}: {msgid!r} is fuzzy"


def test_catalogs__translations_keep_placeholders_and_markup():
    """A translation uses the same %(name)s variables and the same HTML tags as its msgid."""
    for lang in LANGUAGES:
        for msgid, message in _messages(lang).items():
            source = " ".join(msgid) if isinstance(msgid, tuple) else msgid
            forms = message.string if isinstance(message.string, tuple) else (message.string,)
            for form in forms:
                assert set(PLACEHOLDER_RE.findall(form)) == set(PLACEHOLDER_RE.findall(source)), (
                    lang,
                    msgid,
                )
                assert sorted(TAG_RE.findall(form)) == sorted(
                    TAG_RE.findall(msgid[0] if isinstance(msgid, tuple) else msgid)
                ), (lang, msgid)


def test_catalogs__extraction_finds_no_string_missing_from_the_catalogs():
    """Every string marked in templates and Python (as babel.cfg extracts them) is in the catalogs."""
    extracted = _extracted()
    assert "Log in" in extracted and "Skip to content" in extracted
    catalog = set(_messages("en"))
    missing = extracted - catalog
    assert not missing, f"add these to web/translations/*/messages.po: {sorted(map(str, missing))}"


def test_catalogs__compiled_in_memory_with_each_language_plural_rule():
    """The .po files compile at start; French counts 0 as singular, German and English do not."""
    catalogs = load_catalogs()
    assert catalogs["fr"].gettext("Log in") == "Se connecter"
    assert catalogs["de"].gettext("Log in") == "Anmelden"
    assert catalogs["en"].gettext("Log in") == "Log in"
    singular, plural = "%(number)s person follows %(name)s", "%(number)s people follow %(name)s"
    assert catalogs["fr"].ngettext(singular, plural, 0).startswith("%(number)s personne suit")
    assert catalogs["fr"].ngettext(singular, plural, 2).startswith("%(number)s personnes")
    assert catalogs["de"].ngettext(singular, plural, 0).startswith("%(number)s Personen")
    assert catalogs["de"].ngettext(singular, plural, 1).startswith("%(number)s Person folgt")


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        (None, None, "fr"),
        (None, "", "fr"),
        (None, "de-CH,de;q=0.9,en;q=0.5", "de"),
        (None, "es-ES,en-GB;q=0.8,fr;q=0.7", "en"),
        (None, "en;q=0.3, de;q=0.9", "de"),
        (None, "de;q=0, en", "en"),
        (None, "es, it", "fr"),
        (None, ";;,q=,*", "fr"),
        ("en", "de", "en"),
        ("xx", "de", "de"),
    ],
)
def test_negotiate__cookie_then_accept_language_then_french(cookie, header, expected):
    """The switcher's cookie wins; else Accept-Language by quality and region fallback; else fr."""
    assert negotiate(cookie, header) == expected


def test_filters__dates_and_numbers_follow_the_page_language():
    """format_datetime/format_date/format_number use the template's ``lang``."""
    env = jinja2.Environment(autoescape=True)
    install(env)
    template = env.from_string(
        "{{ when|format_datetime }} | {{ when|format_date }} | {{ count|format_number }}"
    )
    when = datetime(2025, 11, 22, 9, 43, tzinfo=UTC)
    catalogs = load_catalogs()
    german = template.render(lang="de", translations=catalogs["de"], when=when, count=12345)
    assert german == "22.11.2025, 09:43:00 | 22. November 2025 | 12.345"
    english = template.render(lang="en", translations=catalogs["en"], when=when, count=12345)
    assert english.startswith("Nov 22, 2025") and english.endswith("12,345")


@pytest.mark.parametrize(
    ("accept_language", "lang", "words"),
    [
        (None, "fr", ("Organisations", "Se connecter", "Aller au contenu")),
        ("fr-FR,fr;q=0.9", "fr", ("Se connecter", "Créer un compte")),
        ("en-US,en;q=0.9", "en", ("Log in", "Create an account", "Skip to content")),
        ("de-AT,de;q=0.9,en;q=0.8", "de", ("Organisationen", "Anmelden", "Zum Inhalt springen")),
    ],
)
async def test_pages__render_in_the_language_of_accept_language(
    make_browser, accept_language, lang, words
):
    """The home page is in the visitor's language, with <html lang> and Content-Language."""
    page = await make_browser(accept_language).get("/")
    assert page.status == 200
    assert f'<html lang="{lang}">' in page.text
    assert page.headers["Content-Language"] == lang
    assert "Accept-Language" in page.headers["Vary"] and "Cookie" in page.headers["Vary"]
    for word in words:
        assert word in page.text


async def test_language_switcher__cookie_overrides_accept_language(make_browser):
    """Choosing English in the switcher sets the lang cookie and brings the visitor back."""
    visitor = make_browser("de")
    page = await visitor.get("/login")
    assert 'lang="de"' in page.text and "Anmelden" in page.text
    assert (
        'action="/language"' in page.text
        and '<select id="language-select" name="lang">' in page.text
    )
    switched = await visitor.post("/language", {"lang": "en", "next": "/login"}, form_page="/login")
    assert switched.status == 303 and switched.location == "/login"
    assert visitor.cookie("lang") == "en"
    page = await visitor.get("/login")
    assert '<html lang="en">' in page.text and "Log in" in page.text and "Anmelden" not in page.text


async def test_language_switcher__refuses_unknown_languages_and_foreign_next(browser):
    """An unknown language is a 400; a ``next`` to another site falls back to the home page."""
    bad = await browser.post("/language", {"lang": "xx", "next": "/"}, form_page="/")
    assert bad.status == 400 and browser.cookie("lang") is None
    for target in ("//elsewhere.example/", "https://elsewhere.example/", "/\\elsewhere.example"):
        page = await browser.post("/language", {"lang": "de", "next": target}, form_page="/")
        assert page.status == 303 and page.location == "/"
    no_csrf = await browser.post("/language", {"lang": "en", "next": "/"}, csrf=False)
    assert no_csrf.status == 403


async def test_pages__translations_do_not_leak_between_concurrent_requests(node, make_browser):
    """Twenty interleaved requests in fr, en and de each get their own language (no shared state)."""
    visitors = [make_browser(lang) for lang in ("fr", "en", "de") * 7][:20]
    pages = await asyncio.gather(*(visitor.get("/login") for visitor in visitors))
    expected = {"fr": "Se connecter", "en": "Log in", "de": "Anmelden"}
    for visitor, page in zip(visitors, pages, strict=True):
        lang = visitor.session.headers["Accept-Language"]
        assert f'<html lang="{lang}">' in page.text
        assert f"<h1>{expected[lang]}</h1>" in page.text


async def test_note_page__date_in_the_visitor_language(node, org, make_browser):
    """A note's publication date is formatted by babel for the page language."""
    async with transaction(node.rt.sessions) as session:
        note = await notes.publish_announcement(session, node.uris, org, "<p>Conseil</p>")
    path = note.ap_id.removeprefix(node.base)
    for lang, words in (("de", "Veröffentlicht am"), ("fr", "Publié le"), ("en", "Published on")):
        page = await make_browser(lang).get(path)
        when = format_datetime(note.published, "medium", locale=lang)
        assert f"{words} {when}" in page.text


async def test_error_page__language_switcher_works_for_a_new_visitor(make_browser):
    """A first visit that lands on a 404 gets a session, so the switcher's CSRF token is valid."""
    visitor = make_browser("fr")
    page = await visitor.get("/no/such/page")
    assert page.status == 404 and visitor.cookie("civic_session")
    switched = await visitor.post(
        "/language", {"lang": "de", "next": "/no/such/page", "csrf_token": page.csrf}
    )
    assert switched.status == 303 and visitor.cookie("lang") == "de"


async def test_error_page__translated(make_browser):
    """A 404 is a page in the visitor's language, not a bare text."""
    page = await make_browser("de").get("/no/such/page")
    assert page.status == 404
    assert "Fehler 404" in page.text and "Diese Seite gibt es auf diesem Knoten nicht." in page.text
    page = await make_browser("fr").get("/actors/nobody")
    assert page.status == 404 and "Cette page n’existe pas sur ce nœud." in page.text
