"""The privacy and legal notices on the web: linked from every page, shown in the reader's language,
edited by node admins only (others get 404), hostile input refused with its reason, never raw HTML."""

from __future__ import annotations

import re

import pytest

from node.db import transaction
from node.services import actors as actor_service
from node.services import legal
from tests.web.conftest import PASSWORD
from web.cache import PAGE_CACHE
from web.security import SESSION_MAX_AGE

PRIVACY_LINK = re.compile(r'<footer.*<a href="/privacy">[^<]+</a>.*<a href="/legal">[^<]+</a>.*</footer>', re.S)
TITLES = {"fr": ("Politique de confidentialité", "Mentions légales"),
          "en": ("Privacy notice", "Legal notice"),
          "de": ("Datenschutzerklärung", "Impressum")}


async def _node_admin(node) -> None:
    async with transaction(node.rt.sessions) as s:
        await actor_service.create_user(s, node.uris, "nadia", PASSWORD, "Nadia", is_admin=True)


def _fixed_pages(node) -> list[str]:
    """Every GET route of the application without a variable part (new pages are checked too)."""
    paths = set()
    for route in node.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        if route.method == "GET" and "path" in info and not info["path"].startswith(("/static", "/.well-known")):
            paths.add(info["path"])
    return sorted(paths)


async def test_footer__every_page_links_to_the_privacy_and_legal_notices(node, world, make_browser):
    """Every HTML page, signed out and signed in (an organisation admin), error pages included, has
    both links in its footer."""
    pages = _fixed_pages(node) + ["/actors/lyon", "/actors/camille", "/orgs/lyon/discussions/clos-jouve",
                                  "/orgs/lyon/proposals", "/orgs/lyon/admin", "/no/such/page"]
    assert "/privacy" in pages and "/legal" in pages and "/login" in pages
    anonymous, admin = make_browser("fr"), make_browser("de")
    await admin.login("maire")
    checked = 0
    for browser in (anonymous, admin):
        for path in pages:
            page = await browser.get(path)
            if not page.headers.get("Content-Type", "").startswith("text/html"):
                continue
            assert PRIVACY_LINK.search(page.text), f"{path} ({page.status}) has no link to the notices"
            checked += 1
    assert checked >= 2 * 8


@pytest.mark.parametrize("lang", ["fr", "en", "de"])
async def test_notice_pages__defaults_in_the_readers_language(node, make_browser, lang):
    """/privacy and /legal show the default notices in the reader's language, with its title, the
    instance's name and address, and the language said to the browser."""
    reader = make_browser(lang)
    privacy, notice = await reader.get("/privacy"), await reader.get("/legal")
    for page, title in zip((privacy, notice), TITLES[lang], strict=True):
        assert page.status == 200 and page.headers["Content-Language"] == lang
        assert f"<h1>{title}</h1>" in page.text and f'<div class="prose" lang="{lang}">' in page.text
        assert f'<a href="{node.base}/' in page.text  # the addresses in the text are links
    assert "argon2" in privacy.text and "civic_session" in privacy.text
    assert "Test node" in notice.text and f'<a href="{node.base}/privacy">' in notice.text
    assert {"fr": "doit compléter", "en": "must complete", "de": "muss dieses Impressum"}[lang] in notice.text


async def test_admin_legal__a_node_admin_edits_and_readers_see_it_at_once(node, make_browser):
    """The node admin sees the six notices, edits one from its default text; readers see the new
    text at once (the cached page is dropped), escaped, with its addresses linked, and in the
    other languages while they have none of their own; restoring the default brings it back."""
    await _node_admin(node)
    reader, german, admin = make_browser("fr"), make_browser("de"), make_browser("en")
    before = await reader.get("/legal")
    assert "doit compléter" in before.text
    hits = node.app[PAGE_CACHE].hits
    assert "doit compléter" in (await reader.get("/legal")).text
    assert node.app[PAGE_CACHE].hits == hits + 1  # anonymous readers share one cached rendering

    await admin.login("nadia")
    overview = await admin.get("/admin/legal")
    assert overview.status == 200 and overview.text.count("Default text") == 6
    form = await admin.get("/admin/legal/legal/fr")
    assert form.status == 200 and "doit compléter" in form.text  # the default, filled in, to adapt
    text = ("# Éditeur\r\n\r\nVille de Lyon <script>alert(1)</script>\r\n"
            "- Contact : https://www.lyon.fr/contact.\r\n- javascript:alert(2)")
    saved = await admin.post("/admin/legal/legal/fr", {"text": text, "action": "save"})
    assert (saved.status, saved.location) == (303, "/admin/legal?saved=legal-fr")
    assert (await admin.get("/admin/legal")).text.count("Default text") == 5

    after = await reader.get("/legal")
    assert "doit compléter" not in after.text and "<h2>Éditeur</h2>" in after.text
    assert "Ville de Lyon &lt;script&gt;alert(1)&lt;/script&gt;" in after.text and "<script>alert" not in after.text
    assert '<li>Contact : <a href="https://www.lyon.fr/contact">https://www.lyon.fr/contact</a>.</li>' in after.text
    assert "<li>javascript:alert(2)</li>" in after.text  # plain text, never a link
    assert "Dernière mise à jour le" in after.text
    other = await german.get("/legal")
    assert '<div class="prose" lang="fr">' in other.text and "In Ihrer Sprache nicht verfügbar: angezeigt auf Français." in other.text

    reset = await admin.post("/admin/legal/legal/fr", {"text": "", "action": "reset"},
                             form_page="/admin/legal/legal/fr")
    assert reset.status == 303
    assert "doit compléter" in (await reader.get("/legal")).text


async def test_admin_legal__the_edit_link_is_for_node_admins_only(node, world, make_browser):
    """A node admin reading a notice gets an edit link; residents and anonymous readers do not."""
    await _node_admin(node)
    anonymous, resident, admin = make_browser("en"), make_browser("en"), make_browser("en")
    await resident.login("camille")
    await admin.login("nadia")
    assert 'href="/admin/legal/privacy/en"' not in (await anonymous.get("/privacy")).text
    assert 'href="/admin/legal/privacy/en"' not in (await resident.get("/privacy")).text
    assert 'href="/admin/legal/privacy/en"' in (await admin.get("/privacy")).text
    assert 'href="/admin/legal/privacy/en"' not in (await resident.get("/privacy")).text  # after the admin's


@pytest.mark.parametrize("who", ["anonymous", "resident", "organisation admin"])
async def test_admin_legal__anyone_but_a_node_admin_gets_404(node, world, make_browser, who):
    """The admin pages and their form answer 404, as a page that does not exist, to everyone but
    node admins, and nothing is written."""
    browser = make_browser("en")
    if who != "anonymous":
        await browser.login("camille" if who == "resident" else "maire")
    token = (await browser.get("/login")).csrf
    for path in ("/admin/legal", "/admin/legal/privacy/en"):
        assert (await browser.get(path)).status == 404
    posted = await browser.post("/admin/legal/privacy/en", {"text": "Mine", "csrf_token": token})
    assert posted.status == 404
    async with node.rt.sessions() as s:
        assert (await legal.notice(s, node.settings, "privacy", "en")).is_default


@pytest.mark.parametrize(("text", "status", "message"), [
    ("  \r\n  ", 400, "Write the text, or restore the default one."),
    ("x" * (legal.MAX_TEXT + 1), 400, "At most 50,000 characters (you wrote 50,001)."),
    ("before\x00after", 400, "The text holds a character that cannot be stored"),
])
async def test_admin_legal__a_text_that_cannot_be_stored_comes_back_with_the_reason(node, make_browser, text,
                                                                                   status, message):
    """Empty, over-long or NUL-holding texts are refused (400) with the reason next to the field
    and what was typed, and nothing is written."""
    await _node_admin(node)
    admin = make_browser("en")
    await admin.login("nadia")
    page = await admin.post("/admin/legal/privacy/en", {"text": text, "action": "save"})
    assert page.status == status and message in page.text
    assert 'id="text-error"' in page.text and 'aria-invalid="true"' in page.text
    assert "\x00" not in page.text
    async with node.rt.sessions() as s:
        assert (await legal.notice(s, node.settings, "privacy", "en")).is_default


async def test_admin_legal__unknown_notice_bad_token_and_oversize_are_refused(node, make_browser):
    """An unknown kind or language is 404; a form without its token 403; a form larger than the
    node reads comes back with the limit (413); nothing is written."""
    await _node_admin(node)
    admin = make_browser("en")
    await admin.login("nadia")
    assert (await admin.get("/admin/legal/cookies/en")).status == 404
    assert (await admin.get("/admin/legal/privacy/es")).status == 404
    token = (await admin.get("/admin/legal")).csrf
    assert (await admin.post("/admin/legal/privacy/es", {"text": "x", "csrf_token": token})).status == 404
    assert (await admin.post("/admin/legal/privacy/en", {"text": "x", "csrf_token": "forged"})).status == 403
    huge = await admin.post("/admin/legal/privacy/en", {"text": "x" * (4 * legal.MAX_TEXT + 128 * 1024),
                                                        "csrf_token": token})
    assert huge.status == 413 and "At most 50,000 characters (you wrote 331,072)" in huge.text
    async with node.rt.sessions() as s:
        assert (await legal.notice(s, node.settings, "privacy", "en")).is_default


def test_session_days__the_notice_says_what_the_cookie_lives():
    """The privacy notice's session cookie lifetime is web.security's."""
    assert legal.SESSION_DAYS * 24 * 3600 == SESSION_MAX_AGE


def _hostile_bodies(token: str) -> list[tuple[str, dict, bytes]]:
    """(name, headers, body): what a script may post to the edit form instead of a text."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    boundary = "legalb0undary"
    multipart = {"Content-Type": f"multipart/form-data; boundary={boundary}"}

    def parts(*items: tuple[str, bytes]) -> bytes:
        out = b"".join(f"--{boundary}\r\n{headers}\r\n\r\n".encode() + data + b"\r\n" for headers, data in items)
        return out + f"--{boundary}--\r\n".encode()

    csrf = ('Content-Disposition: form-data; name="csrf_token"', token.encode())
    return [
        ("percent garbage", form, f"csrf_token={token}&text=%ff%fe%C3%28".encode()),
        ("lone surrogate", form, f"csrf_token={token}&text=a%ED%A0%80b".encode()),
        ("nul", form, f"csrf_token={token}&text=a%00b".encode()),
        ("text twice", form, f"csrf_token={token}&text=one&text=two&action=save".encode()),
        ("unknown action", form, f"csrf_token={token}&text=ok&action=%00drop".encode()),
        ("bogus charset", {"Content-Type": "application/x-www-form-urlencoded; charset=bogus"},
         f"csrf_token={token}&text=x".encode()),
        ("file for the text", multipart, parts(csrf, (
            'Content-Disposition: form-data; name="text"; filename="a.txt"\r\nContent-Type: text/plain',
            b"\x89PNG\r\n\x1a\n"))),
        ("cut multipart", multipart, parts(csrf)[:-12]),
    ]


async def test_admin_legal__hostile_bodies_get_4xx_or_a_stored_text_never_5xx(node, make_browser):
    """Undecodable, duplicated or file-shaped bodies posted by a node admin give a 4xx with a page,
    or store a text the database holds faithfully (invalid percent-encoded bytes arrive as U+FFFD),
    never a 5xx, a traceback, a NUL or a lone surrogate."""
    await _node_admin(node)
    admin = make_browser("en")
    await admin.login("nadia")
    token = (await admin.get("/admin/legal")).csrf
    outcomes = {}
    for name, headers, body in _hostile_bodies(token):
        async with admin.session.post(node.base + "/admin/legal/privacy/en", data=body, headers=headers,
                                      allow_redirects=False) as response:
            text = await response.text(errors="replace")
            outcomes[name] = response.status
            assert response.status < 500 and "Traceback" not in text, (name, response.status, text[:300])
        async with node.rt.sessions() as s:
            stored = (await legal.notice(s, node.settings, "privacy", "en")).text
        assert legal.problem(stored) is None, (name, stored)
    assert outcomes["nul"] == outcomes["bogus charset"] == outcomes["file for the text"] == 400, outcomes
    assert outcomes["cut multipart"] == 400 and outcomes["text twice"] == 303, outcomes
