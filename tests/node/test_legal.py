"""The privacy and legal notices: defaults that say what the node stores, the admin's texts, the CLI."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import sys

import pytest
from sqlalchemy import func, select

from civic.cli import main
from node.db import create_engine, is_sqlite, listen, session_factory, transaction
from node.errors import InvalidInput
from node.models import Base, LegalText, User
from node.services import actors, legal
from node.services import legal_defaults as defaults

LANGS = ("fr", "en", "de")


def test_personal_tables__every_table_is_said_in_the_privacy_notice_or_is_not_personal():
    """Each table of the models is in a section of the default privacy notice or in NOT_PERSONAL
    with its reason: a table added without being classified fails here."""
    tables = set(Base.metadata.tables)
    said = {table for group in defaults.PERSONAL_TABLES.values() for table in group}
    unclassified = tables - said - set(defaults.NOT_PERSONAL)
    assert not unclassified, (
        f"say in node/services/legal_defaults.py what these tables hold about people (a section of "
        f"PERSONAL_TABLES) or why they hold nothing (NOT_PERSONAL): {sorted(unclassified)}")
    assert not said & set(defaults.NOT_PERSONAL), "a table cannot be personal and not personal"
    stale = (said | set(defaults.NOT_PERSONAL)) - tables
    assert not stale, f"these tables are gone from the models: {sorted(stale)}"


def test_personal_tables__tables_that_point_at_a_person_are_said_personal():
    """Every table with a foreign key to users or actors is in a section of the privacy notice."""
    said = {table for group in defaults.PERSONAL_TABLES.values() for table in group}
    # Organisations are actors too: a column organization_id (and an organisation's profile) names
    # an organisation, never a person.
    pointing = {table.name for table in Base.metadata.tables.values()
                if any(fk.column.table.name in ("users", "actors") and fk.parent.name != "organization_id"
                       for fk in table.foreign_keys)} - {"organization_profiles"}
    assert pointing <= said, sorted(pointing - said)


@pytest.mark.parametrize("lang", LANGS)
def test_default_privacy__every_section_is_written_and_shown(settings, lang):
    """Each language has every section, every section of PERSONAL_TABLES exists, and the default
    text shows each of them (filled in, no placeholder left)."""
    assert set(defaults.PRIVACY[lang]) == set(defaults.SECTIONS)
    assert set(defaults.PERSONAL_TABLES) <= set(defaults.SECTIONS)
    text = legal.default_text(settings, "privacy", lang)
    for name in defaults.SECTIONS:
        first_line = defaults.PRIVACY[lang][name].split("\n")[0]
        assert first_line.split("{")[0] in text, (lang, name)
    assert "{" not in text and "}" not in text


@pytest.mark.parametrize(("lang", "words"), [
    ("en", ("argon2", "e-mail address, only if you gave one", "civic_session", "14 days", '"lang" cookie',
            "Nothing from other sites", "members only never leaves", "Delete", "Download my data",
            "/account", "civic user export", "civic user delete", "IP address", "/64")),
    ("fr", ("argon2", "adresse e-mail, seulement si vous l'avez donnée", "civic_session", "14 jours",
            "cookie « lang »", "Rien d'autres sites", "réservés aux membres ne quittent jamais",
            "Delete", "Télécharger mes données", "/account", "civic user export", "civic user delete",
            "adresse IP", "/64")),
    ("de", ("argon2", "E-Mail-Adresse, nur wenn Sie eine angegeben haben", "civic_session", "14 Tage",
            "Cookie „lang“", "Nichts von anderen Websites", "nur für Mitglieder verlassen",
            "Delete", "Meine Daten herunterladen", "/account", "civic user export", "civic user delete",
            "IP-Adresse", "/64")),
])
def test_default_privacy__says_what_the_code_does(settings, lang, words):
    """The default privacy notice names the password hash, the cookies, the federation rules, the
    rights and where to use them, in each language."""
    text = legal.default_text(settings, "privacy", lang)
    for word in words:
        assert word in text, (lang, word)


@pytest.mark.parametrize(("lang", "complete"), [("en", "must complete"), ("fr", "doit compléter"),
                                                ("de", "muss dieses Impressum ergänzen")])
def test_default_legal__names_the_instance_and_asks_the_admin_to_complete_it(settings, lang, complete):
    """The legal notice names the instance and its address and says what the admin must add."""
    custom = dataclasses.replace(settings, instance_name="Participez à Lyon")
    text = legal.default_text(custom, "legal", lang)
    assert "Participez à Lyon" in text and settings.base_url in text and complete in text
    assert f"{settings.base_url}/privacy" in text


def test_default_privacy__retention_follows_the_settings(settings):
    """With retention settings, the notice gives their days; without (0), it says what is kept."""
    kept = dataclasses.replace(settings, retention_remote_days=0, retention_log_days=0)
    timed = dataclasses.replace(settings, retention_remote_days=45, retention_log_days=120)
    assert "after 45 days" in legal.default_text(timed, "privacy", "en")
    assert "after 120 days" in legal.default_text(timed, "privacy", "en")
    assert "au bout de 120 jours" in legal.default_text(timed, "privacy", "fr")
    assert "nach 45 Tagen" in legal.default_text(timed, "privacy", "de")
    assert "civic retention apply" in legal.default_text(timed, "privacy", "en")
    kept_text = legal.default_text(kept, "privacy", "en")
    assert "Copies of content from other servers are kept" in kept_text and "removed after" not in kept_text


async def test_notice__admin_text_then_another_language_then_default(sessions, settings, uris):
    """A reader gets the admin's text in their language, else the admin's text in another
    language, else the default text in their language."""
    async with sessions() as s:
        first = await legal.notice(s, settings, "legal", "de")
    assert first.is_default and first.language == "de" and "Impressum" in first.text
    async with transaction(sessions) as s:
        admin = await actors.create_user(s, uris, "nadia", "password-123", "Nadia", is_admin=True)
        await legal.set_text(s, "legal", "fr", "Éditeur : Ville de Lyon", by=admin)
    async with sessions() as s:
        german = await legal.notice(s, settings, "legal", "de")
        french = await legal.notice(s, settings, "legal", "fr")
        privacy = await legal.notice(s, settings, "privacy", "fr")
    assert (german.language, german.text, german.updated_by) == ("fr", "Éditeur : Ville de Lyon", "nadia")
    assert french.text == german.text and not french.is_default
    assert privacy.is_default  # the other kind is untouched


async def test_set_text__replaces_the_text_and_keeps_it_when_the_author_goes(sessions, settings, uris):
    """Saving twice keeps one row (the newer text); normalised line breaks; the author's account
    removed leaves the text without an author."""
    async with transaction(sessions) as s:
        admin = await actors.create_user(s, uris, "nadia", "password-123", "Nadia", is_admin=True)
        await legal.set_text(s, "privacy", "en", "First", by=admin)
    async with transaction(sessions) as s:
        await legal.set_text(s, "privacy", "en", "  Second\r\n\r\nparagraph  ", by=admin)
    async with transaction(sessions) as s:
        await s.delete(await s.get(User, admin.id))
    async with sessions() as s:
        rows = list(await s.scalars(select(LegalText)))
        shown = await legal.notice(s, settings, "privacy", "en")
    assert [(r.kind, r.language, r.text, r.updated_by_id) for r in rows] == [
        ("privacy", "en", "Second\n\nparagraph", None)]
    assert shown.text == "Second\n\nparagraph" and shown.updated_by is None


@pytest.mark.parametrize(("kind", "lang", "text", "reason"), [
    ("privacy", "en", "   \r\n ", "empty"),
    ("privacy", "en", "x" * (legal.MAX_TEXT + 1), "longer than 50,000"),
    ("privacy", "en", "a\x00b", "NUL"),
    ("privacy", "en", "a\ud800b", "surrogate"),
    ("cookies", "en", "text", "kind of notice"),
    ("privacy", "es", "text", "language"),
])
async def test_set_text__refuses_what_cannot_be_stored_and_writes_nothing(sessions, kind, lang, text, reason):
    """Hostile or empty texts and unknown kinds or languages raise InvalidInput with the reason."""
    with pytest.raises(InvalidInput) as refused:
        async with transaction(sessions) as s:
            await legal.set_text(s, kind, lang, text)
    assert reason in refused.value.reason
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(LegalText)) == 0


async def test_set_text__the_longest_text_allowed_is_stored_whole(sessions):
    """A text of exactly MAX_TEXT characters (multi-byte ones) is stored and read back unchanged."""
    text = "é€" * (legal.MAX_TEXT // 2)
    async with transaction(sessions) as s:
        await legal.set_text(s, "legal", "de", text)
    async with sessions() as s:
        assert (await s.scalar(select(LegalText.text))) == text


async def test_reset__goes_back_to_the_default(sessions, settings):
    """Reset removes the admin's text (True), and says False when there was none."""
    async with transaction(sessions) as s:
        await legal.set_text(s, "privacy", "de", "Eigener Text")
    async with transaction(sessions) as s:
        assert await legal.reset(s, "privacy", "de") is True
        assert await legal.reset(s, "privacy", "de") is False
    async with sessions() as s:
        assert (await legal.notice(s, settings, "privacy", "de")).is_default


async def test_set_text__other_processes_of_the_node_are_told(engine, sessions):
    """On PostgreSQL, saving or resetting a notice (from the web or `civic legal`) announces a
    change, so every `civic serve` drops its cached pages at once (node.db.listen)."""
    if is_sqlite(engine):
        pytest.skip("SQLite has no LISTEN/NOTIFY: other processes' cached pages expire (web/cache.py TTL)")
    heard: list[str] = []
    told, ready, stop = asyncio.Event(), asyncio.Event(), asyncio.Event()

    def on_change(what: str) -> None:
        heard.append(what)
        told.set()

    listening = asyncio.create_task(listen(engine, on_change, stop, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        async with transaction(sessions) as s:
            await legal.set_text(s, "legal", "en", "Publisher: the City of Lyon")
        await asyncio.wait_for(told.wait(), 10)
        assert heard == ["content"]
        told.clear()
        async with transaction(sessions) as s:
            await legal.reset(s, "legal", "en")
        await asyncio.wait_for(told.wait(), 10)
        assert heard == ["content", "content"]
    finally:
        stop.set()
        await listening


# -- the command (run in this process: the same code as the `civic` script, without its start-up) ----

class _Stdin:
    """Standard input holding ``data`` (the command reads bytes from ``sys.stdin.buffer``)."""

    def __init__(self, data: bytes):
        self.buffer = io.BytesIO(data)


def _civic(capsys, monkeypatch, *args: str, data_dir, stdin: bytes = b"") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", _Stdin(stdin))
    try:
        code = main([*args, "--data-dir", str(data_dir)])
    except SystemExit as exited:  # argparse refusing an argument
        code = exited.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def initialised(tmp_path, database_url, capsys, monkeypatch):
    code, _out, err = _civic(capsys, monkeypatch, "init", "--base-url", "http://127.0.0.1:18091",
                             "--development", "--database-url", database_url, "--instance-name",
                             "Lyon participe", data_dir=tmp_path)
    assert code == 0, err
    return tmp_path


async def _texts(database_url) -> list[tuple[str, str, str]]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as s:
            return [(r.kind, r.language, r.text) for r in await s.scalars(select(LegalText))]
    finally:
        await engine.dispose()


def test_cli_legal__show_set_from_file_and_stdin_then_reset(initialised, database_url, tmp_path, capsys,
                                                            monkeypatch):
    """`civic legal show` prints the default (named on stderr), `set` stores a file or standard
    input, `show` prints it, `reset` goes back to the default."""
    def civic(*args, stdin=b""):
        return _civic(capsys, monkeypatch, "legal", *args, data_dir=initialised, stdin=stdin)

    code, out, err = civic("show", "legal", "fr")
    assert code == 0 and "Lyon participe" in out and "default" in err
    notice = tmp_path / "mentions.txt"
    notice.write_text("# Éditeur\n\nVille de Lyon, 1 place de la Comédie\n", encoding="utf-8")
    code, out, err = civic("set", "legal", "fr", str(notice))
    assert code == 0 and "Saved" in out, err
    code, out, err = civic("set", "privacy", "en", "-", stdin=b"Our own notice")
    assert code == 0, err
    assert sorted(asyncio.run(_texts(database_url))) == [
        ("legal", "fr", "# Éditeur\n\nVille de Lyon, 1 place de la Comédie"), ("privacy", "en", "Our own notice")]
    code, out, err = civic("show", "legal", "fr")
    assert (out.strip(), err) == ("# Éditeur\n\nVille de Lyon, 1 place de la Comédie", "")
    code, out, err = civic("reset", "legal", "fr")
    assert code == 0 and "default text again" in out
    assert asyncio.run(_texts(database_url)) == [("privacy", "en", "Our own notice")]


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (("set", "legal", "fr"), b"", "needs a FILE"),
    (("set", "legal", "fr", "/nonexistent/notice.txt"), b"", "cannot read /nonexistent/notice.txt"),
    (("set", "legal", "fr", "-"), b"caf\xe9", "not UTF-8"),
    (("set", "legal", "fr", "-"), b"a\x00b", "NUL"),
    (("set", "legal", "fr", "-"), b"  \n", "empty"),
    (("set", "legal", "fr", "-"), b"x" * (4 * legal.MAX_TEXT + 1), "larger than a notice"),
    (("set", "cookies", "fr", "-"), b"x", "invalid choice"),
    (("show", "legal", "es"), b"", "invalid choice"),
])
def test_cli_legal__bad_input_is_one_message_and_nothing_is_written(initialised, database_url, capsys,
                                                                   monkeypatch, args, stdin, message):
    """Each mistake gives one message on stderr, a non-zero exit, no traceback and no row."""
    code, out, err = _civic(capsys, monkeypatch, "legal", *args, data_dir=initialised, stdin=stdin)
    assert code != 0
    assert message in err and "Traceback" not in err + out, err
    assert asyncio.run(_texts(database_url)) == []


def test_cli_legal__has_help(capsys):
    """`civic legal --help` exits 0 and names its actions, kinds and languages."""
    with pytest.raises(SystemExit) as exited:
        main(["legal", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "usage: civic legal" in out and "{show,set,reset}" in out and "{privacy,legal}" in out
