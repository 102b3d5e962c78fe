"""Remote follow: WebFinger the visitor's handle, send them to their server's subscribe template."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from aiohttp import web

from tests.remote import free_port
from web.follow import SUBSCRIBE_REL, split_visitor_handle, subscribe_url

TEMPLATE_PATH = "/authorize_interaction?uri={uri}"


@dataclass
class WebFingerHost:
    """A fediverse server on loopback that only answers WebFinger, with a JRD per account."""

    port: int = 0
    jrds: dict[str, dict] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    runner: web.AppRunner | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def account(self, name: str, template: str | None = TEMPLATE_PATH) -> str:
        links = [
            {
                "rel": "self",
                "type": "application/activity+json",
                "href": f"http://{self.host}/users/{name}",
            }
        ]
        if template is not None:
            links.append(
                {
                    "rel": SUBSCRIBE_REL,
                    "template": (
                        f"http://{self.host}{template}" if template.startswith("/") else template
                    ),
                }
            )
        self.jrds[f"acct:{name}@{self.host}"] = {
            "subject": f"acct:{name}@{self.host}",
            "links": links,
        }
        return f"{name}@{self.host}"

    async def _webfinger(self, request: web.Request) -> web.Response:
        resource = request.query.get("resource", "")
        self.queries.append(resource)
        jrd = self.jrds.get(resource)
        if jrd is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(jrd, content_type="application/jrd+json")

    async def start(self) -> WebFingerHost:
        self.port = free_port()
        app = web.Application()
        app.router.add_get("/.well-known/webfinger", self._webfinger)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self


@pytest.fixture
async def fediverse():
    host = await WebFingerHost().start()
    yield host
    await host.runner.cleanup()


def _form(org, handle: str) -> dict:
    return {"target": org.ap_id, "handle": handle}


def _follow_page(org) -> str:
    return f"/follow?target={quote(org.ap_id, safe='')}"


async def test_follow_form__asks_for_the_visitor_handle(node, org, make_browser):
    """The follow page names the organisation, labels the handle field and allows the redirect."""
    page = await make_browser("en").get(_follow_page(org))
    assert page.status == 200
    assert "<h1>Follow Ville de Lyon</h1>" in page.text
    assert '<label for="handle">Your fediverse handle</label>' in page.text
    assert f'name="target" value="{org.ap_id}"' in page.text
    assert f"@lyon@{node.uris.domain}" in page.text
    csp = page.headers["Content-Security-Policy"]
    assert (
        "form-action 'self' https: http:" in csp
    )  # http: only because the test node is in development


async def test_actor_page__links_to_the_follow_page(node, org, browser):
    """Organisation pages offer 'follow from the fediverse'."""
    page = await browser.get("/actors/lyon")
    link = re.search(r'href="(/follow\?target=[^"]+)"', page.text)
    assert link and (await browser.get(html.unescape(link.group(1)))).status == 200
    assert parse_qs(urlsplit(html.unescape(link.group(1))).query)["target"] == [org.ap_id]


@pytest.mark.parametrize(
    "target",
    [
        "",
        "https://elsewhere.example/actors/lyon",
        "/actors/lyon",
        "{base}/actors/nobody",
        "{base}/actor",
    ],
)
async def test_follow_form__only_for_local_actors(node, org, browser, target):
    """Unknown, remote or instance targets are 404: the page is no open redirector."""
    page = await browser.get(f"/follow?target={quote(target.format(base=node.base), safe='')}")
    assert page.status == 404


async def test_follow__redirects_to_the_visitor_server_subscribe_template(
    node, org, browser, fediverse
):
    """handle → WebFinger → 303 to the template with {uri} = the percent-encoded target."""
    handle = fediverse.account("alice")
    page = await browser.post("/follow", _form(org, f"@{handle}"), form_page=_follow_page(org))
    assert page.status == 303
    assert page.location == (
        f"http://{fediverse.host}/authorize_interaction?uri={quote(org.ap_id, safe='')}"
    )
    assert fediverse.queries == [f"acct:{handle}"]


@pytest.mark.parametrize(
    "handle",
    [
        "",
        "alice",
        "alice@",
        "@example.org",
        "alice@host/path",
        "alice@host?x=1",
        "alice@exa mple.org",
        "a@" + "b" * 330,
    ],
)
async def test_follow__invalid_handle_is_a_translated_400(
    node, org, make_browser, fediverse, handle
):
    """Not name@host: 400, the form again with a German error, no request leaves the node."""
    visitor = make_browser("de")
    page = await visitor.post("/follow", _form(org, handle), form_page=_follow_page(org))
    assert page.status == 400
    assert "Das ist keine Fediverse-Adresse." in page.text and 'aria-invalid="true"' in page.text
    assert "form-action 'self' https: http:" in page.headers["Content-Security-Policy"]
    assert fediverse.queries == []


async def test_follow__server_without_subscribe_template_is_explained(
    node, org, browser, fediverse
):
    """No OStatus subscribe link: 400 telling the visitor to search for the handle instead."""
    handle = fediverse.account("bob", template=None)
    page = await browser.post("/follow", _form(org, handle), form_page=_follow_page(org))
    assert page.status == 400
    assert f"Votre serveur {fediverse.host} ne propose pas le suivi à distance." in page.text
    assert f"Recherchez @lyon@{node.uris.domain}" in page.text


async def test_follow__unknown_account_or_unreachable_server(node, org, browser, fediverse):
    """A 404 from WebFinger, or nobody listening: 400 saying the server did not answer."""
    page = await browser.post(
        "/follow", _form(org, f"nobody@{fediverse.host}"), form_page=_follow_page(org)
    )
    assert page.status == 400 and "n’a pas répondu ou ne connaît pas" in page.text
    closed = f"carol@127.0.0.1:{free_port()}"
    page = await browser.post("/follow", _form(org, closed), form_page=_follow_page(org))
    assert page.status == 400 and "n’a pas répondu ou ne connaît pas" in page.text


async def test_follow__a_javascript_template_is_never_followed(node, org, browser, fediverse):
    """A subscribe template that is not an http(s) URL counts as no template."""
    handle = fediverse.account("mallory", template="javascript:alert('{uri}')")
    page = await browser.post("/follow", _form(org, handle), form_page=_follow_page(org))
    assert page.status == 400 and "Location" not in page.headers


async def test_follow__needs_csrf_and_a_local_target(node, org, browser, fediverse):
    """No CSRF token: 403; a target on another host: 404; neither queries WebFinger."""
    handle = fediverse.account("alice")
    assert (await browser.post("/follow", _form(org, handle), csrf=False)).status == 403
    page = await browser.post(
        "/follow",
        {"target": f"http://{fediverse.host}/users/alice", "handle": handle},
        form_page=_follow_page(org),
    )
    assert page.status == 404
    assert fediverse.queries == []


def test_subscribe_url__fills_the_first_usable_template():
    """{uri} is percent-encoded; non-http(s) or host-less templates are skipped; https only in production."""
    target = "https://civic.example/actors/lyon"
    encoded = "https%3A%2F%2Fcivic.example%2Factors%2Flyon"
    jrd = {
        "links": [
            {"rel": "self", "href": "https://social.example/users/a"},
            {"rel": SUBSCRIBE_REL, "template": "data:text/html,{uri}"},
            {"rel": SUBSCRIBE_REL, "template": "https:///x?{uri}"},
            {"rel": SUBSCRIBE_REL, "href": "https://social.example/no-template"},
            {"rel": SUBSCRIBE_REL, "template": "http://social.example/authorize?uri={uri}"},
            {
                "rel": SUBSCRIBE_REL,
                "template": "https://social.example/authorize_interaction?uri={uri}",
            },
        ]
    }
    assert subscribe_url(jrd, target, ("https",)) == (
        f"https://social.example/authorize_interaction?uri={encoded}"
    )
    assert subscribe_url(jrd, target, ("https", "http")) == (
        f"http://social.example/authorize?uri={encoded}"
    )
    assert subscribe_url({"links": "nope"}, target, ("https",)) is None
    assert subscribe_url({}, target, ("https",)) is None


@pytest.mark.parametrize(
    ("handle", "expected"),
    [
        ("alice@Social.Example", ("alice", "social.example")),
        ("@bob@host:8443", ("bob", "host:8443")),
        ("acct:carol@x.org", ("carol", "x.org")),
    ],
)
def test_split_visitor_handle__accepts_the_usual_spellings(handle, expected):
    """name@host, @name@host and acct:name@host (host lower-cased, port allowed)."""
    assert split_visitor_handle(handle) == expected
