"""No third-party requests: every page loads, posts to and styles from this node only; the CSP is strict.

Decision on remote follow: a form's 303 redirect is checked against `form-action` by Chromium (CSP3
§6.3.1.1) but not by every browser, so `form-action` alone is no guarantee either way. Every page
gets `form-action 'self'`; the follow page alone adds `https:` (and `http:` on a development node),
because its POST answers with a 303 to the visitor's own server, which can be any host.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import quote, urljoin, urlsplit

import pytest

from node.db import transaction
from node.services import notes

# Attributes that make a browser fetch something, or send a form, without the visitor clicking a link.
FETCHING = {
    "src",
    "srcset",
    "action",
    "formaction",
    "poster",
    "data",
    "background",
    "manifest",
    "ping",
    "xlink:href",
    "icon",
    "longdesc",
    "cite",
    "lowsrc",
}
VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}
SAFE_SOURCES = {"'self'", "'none'", "data:"}
CSS_URL_RE = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""")


class Resources(HTMLParser):
    """Every URL a page uses, and whether an <a href> sits inside user content (class="content")."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []
        self.fetched: list[tuple[str, str, str]] = []  # (tag, attribute, url)
        self.links: list[tuple[str, bool]] = []  # (<a href>, inside user content)
        self.inline: list[
            str
        ] = []  # inline scripts, styles and handlers (the CSP would block them)
        self.stylesheets: list[str] = []
        self.fields: list[str] = []  # ids of the visible form fields
        self.labels: set[str] = set()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag in ("input", "select", "textarea") and attrs.get("type") not in ("hidden", "submit"):
            self.fields.append(attrs.get("id") or f"<{tag} name={attrs.get('name')} without id>")
        if tag == "label" and attrs.get("for"):
            self.labels.add(attrs["for"])
        in_content = any(self.stack) or "content" in (attrs.get("class") or "").split()
        for name, value in attrs.items():
            if name.startswith("on"):
                self.inline.append(f"<{tag} {name}>")
            if name == "style":
                self.inline.append(f"<{tag} style>")
            if name in FETCHING and value is not None:
                for item in value.split(",") if name == "srcset" else [value]:
                    self.fetched.append((tag, name, item.strip().split(" ")[0]))
        if tag == "a" and attrs.get("href"):
            self.links.append((attrs["href"], in_content))
        if tag in ("link", "base", "area") and attrs.get("href"):
            self.fetched.append((tag, "href", attrs["href"]))
            if "stylesheet" in (attrs.get("rel") or "").split():
                self.stylesheets.append(attrs["href"])
        if tag == "script" and not attrs.get("src"):
            self.inline.append("<script>")
        if tag == "style":
            self.inline.append("<style>")
        if tag not in VOID:
            self.stack.append(in_content)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag not in VOID and self.stack:
            self.stack.pop()


def _same_node(node, page_url: str, url: str) -> bool:
    absolute = urlsplit(urljoin(page_url, url))
    if absolute.scheme == "data":
        return True
    return absolute.scheme in ("http", "https") and absolute.netloc == node.uris.domain


def _csp(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


async def _check_page(node, browser, page, *, form_action_extra: tuple[str, ...] = ()) -> None:
    parser = Resources()
    parser.feed(page.text)
    assert not parser.inline, f"{page.url}: inline code or style {parser.inline}"
    # The layout's accessibility basics: one main landmark, a skip link to it, a label per field.
    assert parser.tags.count("main") == 1 and 'class="skip-link" href="#main"' in page.text
    unlabelled = [field for field in parser.fields if field not in parser.labels]
    assert not unlabelled, f"{page.url}: fields without a <label for>: {unlabelled}"
    for tag, attribute, url in parser.fetched:
        assert _same_node(node, page.url, url), f"{page.url}: <{tag} {attribute}={url!r}>"
    for href, in_content in parser.links:
        assert in_content or _same_node(node, page.url, href), f"{page.url}: <a href={href!r}>"
    for sheet in parser.stylesheets:
        css = await browser.get(urlsplit(urljoin(page.url, sheet)).path)
        assert css.status == 200
        for match in CSS_URL_RE.finditer(css.text):
            url = match.group(1) or match.group(2)
            assert _same_node(node, page.url, url), f"{sheet}: {match.group(0)}"
    csp = _csp(page.headers["Content-Security-Policy"])
    assert csp["default-src"] == ["'self'"] and csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    for name, sources in csp.items():
        allowed = SAFE_SOURCES | (set(form_action_extra) if name == "form-action" else set())
        assert set(sources) <= allowed, f"{page.url}: {name} {sources}"
    assert csp["form-action"] == ["'self'", *form_action_extra]


@pytest.fixture
async def published(node, org):
    async with transaction(node.rt.sessions) as session:
        return await notes.publish_announcement(
            session,
            node.uris,
            org,
            '<p>Ordre du jour : <a href="https://elsewhere.example/agenda">agenda</a></p>',
        )


async def test_pages__load_nothing_from_other_hosts(node, org, published, make_browser):
    """Home, actor, note, login, register, follow and 404 pages, anonymous and logged in."""
    visitor, admin = make_browser("fr"), make_browser("en")
    assert (await admin.login("maire")).status == 303
    note_path = urlsplit(published.ap_id).path
    follow_path = f"/follow?target={quote(org.ap_id, safe='')}"
    pages = ("/", "/actors/lyon", note_path, "/login", "/register", "/no/such/page")
    for browser in (visitor, admin):
        for path in pages if browser is visitor else [p for p in pages if p != "/register"]:
            page = await browser.get(path)
            assert page.status in (200, 404) and "<html" in page.text
            await _check_page(node, browser, page)
        page = await browser.get(follow_path)
        assert page.status == 200
        await _check_page(node, browser, page, form_action_extra=("https:", "http:"))
    actor = await admin.get("/actors/lyon")
    assert 'action="/actors/lyon/announce"' in actor.text  # the admin's form was checked too
    assert "https://elsewhere.example/agenda" in actor.text  # a link in content is allowed


async def test_pages__error_and_rejected_forms_load_nothing_from_other_hosts(node, org, browser):
    """Pages rendered after a bad POST (400) keep the same rules."""
    page = await browser.post("/register", {"username": "", "password": "x"})
    assert page.status == 400
    await _check_page(node, browser, page)
    page = await browser.post("/login", {"username": "maire", "password": "nope"})
    assert page.status == 400
    await _check_page(node, browser, page)
    page = await browser.post(
        "/follow",
        {"target": org.ap_id, "handle": "nope"},
        form_page=f"/follow?target={quote(org.ap_id, safe='')}",
    )
    assert page.status == 400
    await _check_page(node, browser, page, form_action_extra=("https:", "http:"))


def test_checker__catches_third_party_resources():
    """The parser used above finds foreign src/link/action, inline code, and links outside content."""
    parser = Resources()
    parser.feed(
        '<link rel="stylesheet" href="https://cdn.example/x.css">'
        '<img src="https://img.example/a.png" srcset="/a.png 1x, https://x.example/b.png 2x">'
        '<form action="https://post.example/"></form><script>alert(1)</script>'
        '<p style="color:red" onclick="x()"><a href="https://outside.example/">x</a></p>'
        '<div class="content"><p><a href="https://inside.example/">y</a></p></div>'
        '<a href="/after">z</a>'
    )
    assert ("link", "href", "https://cdn.example/x.css") in parser.fetched
    assert ("img", "srcset", "https://x.example/b.png") in parser.fetched
    assert ("form", "action", "https://post.example/") in parser.fetched
    assert parser.inline == ["<script>", "<p style>", "<p onclick>"]
    assert parser.links == [
        ("https://outside.example/", False),
        ("https://inside.example/", True),
        ("/after", False),
    ]
    fields = Resources()
    fields.feed(
        '<label for="a">A</label><input id="a"><input id="b"><select name="c"></select>'
        '<input type="hidden" name="d"><textarea id="e"></textarea><label for="e">E</label>'
    )
    assert [f for f in fields.fields if f not in fields.labels] == [
        "b",
        "<select name=c without id>",
    ]
