"""Web test helpers: a cookie-keeping browser against the running node, and seeded accounts."""

from __future__ import annotations

import re
from dataclasses import dataclass

import aiohttp
import pytest
from multidict import CIMultiDictProxy
from yarl import URL

from node.db import transaction
from node.services import actors as actor_service

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"


@dataclass
class Page:
    status: int
    headers: CIMultiDictProxy
    text: str
    url: str

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    @property
    def csrf(self) -> str:
        match = CSRF_RE.search(self.text)
        assert match, f"no CSRF token in {self.url}"
        return match.group(1)


class Browser:
    """An aiohttp client that keeps cookies (loopback IPs included) and reads CSRF tokens."""

    def __init__(self, base: str, accept_language: str | None = None):
        self.base = base
        headers = {"Accept": "text/html"}
        if accept_language:
            headers["Accept-Language"] = accept_language
        self.session = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), headers=headers
        )

    def cookie(self, name: str) -> str | None:
        morsel = self.session.cookie_jar.filter_cookies(URL(self.base)).get(name)
        return morsel.value if morsel else None

    def set_cookie(self, name: str, value: str) -> None:
        self.session.cookie_jar.update_cookies({name: value}, URL(self.base))

    async def get(self, path: str, **headers: str) -> Page:
        async with self.session.get(self.base + path, headers=headers, allow_redirects=False) as r:
            return Page(r.status, r.headers, await r.text(), str(r.url))

    async def post(
        self,
        path: str,
        data: dict,
        *,
        form_page: str | None = None,
        csrf: bool = True,
        **headers: str,
    ) -> Page:
        """POST a form; its CSRF token is read from ``form_page`` (default: ``path``) first."""
        data = dict(data)
        if csrf and "csrf_token" not in data:
            data["csrf_token"] = (await self.get(form_page or path)).csrf
        async with self.session.post(
            self.base + path, data=data, headers=headers, allow_redirects=False
        ) as r:
            return Page(r.status, r.headers, await r.text(), str(r.url))

    async def login(self, username: str, password: str = PASSWORD) -> Page:
        return await self.post("/login", {"username": username, "password": password})

    async def close(self) -> None:
        await self.session.close()


@pytest.fixture
async def browser(node):
    """A visitor without language preference (no Accept-Language header)."""
    client = Browser(node.base)
    yield client
    await client.close()


@pytest.fixture
async def make_browser(node):
    """Make more visitors, e.g. ``make_browser("de-DE,de;q=0.9")``."""
    clients = []

    def make(accept_language: str | None = None) -> Browser:
        clients.append(Browser(node.base, accept_language))
        return clients[-1]

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def org(node):
    """An organisation ``lyon`` with an admin ``maire`` (password PASSWORD)."""
    async with transaction(node.rt.sessions) as session:
        lyon = await actor_service.create_organization(session, node.uris, "lyon", "Ville de Lyon")
        admin = await actor_service.create_user(session, node.uris, "maire", PASSWORD, "La maire")
        await actor_service.add_member(session, admin, lyon, "admin")
    return lyon


@pytest.fixture
async def lyon(node):
    """Ville de Lyon with its admin (lyon_admin) and a resident (camille), passwords password-123."""
    async with transaction(node.rt.sessions) as s:
        org = await actor_service.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        admin = await actor_service.create_user(s, node.uris, "lyon_admin", "password-123", "Équipe Lyon")
        await actor_service.add_member(s, admin, org, "admin")
        await actor_service.create_user(s, node.uris, "camille", "password-123", "Camille")
    return org


@pytest.fixture
async def world(node):
    """The participation pages' seeded node (tests/web/participation_helpers.build_world)."""
    from tests.web.participation_helpers import build_world

    return await build_world(node)


@pytest.fixture
async def clients(node):
    """Make page clients (``clients("fr")``) of tests/web/participation_helpers; closed at the end."""
    from tests.web.participation_helpers import Client

    made = []

    def make(lang: str = "en", **kwargs):
        made.append(Client(node.base, lang, **kwargs))
        return made[-1]

    yield make
    for client in made:
        await client.close()
