"""A browser-like HTTP client for page tests: keeps cookies, reads CSRF tokens from forms."""

from __future__ import annotations

import re

import aiohttp

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    def __init__(self, base: str, lang: str = "en"):
        self.base = base
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                             headers={"Accept-Language": lang, "Accept": "text/html"})

    async def close(self) -> None:
        await self.session.close()

    async def get(self, path: str) -> tuple[int, str]:
        async with self.session.get(self.base + path) as response:
            return response.status, await response.text()

    async def csrf(self, path: str = "/login") -> str:
        _, html = await self.get(path)
        match = CSRF.search(html)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    async def post(self, path: str, data: dict, *, csrf_from: str = "/login",
                   follow: bool = False) -> tuple[int, str, str]:
        """POST a form with a fresh CSRF token; returns (status, body, Location)."""
        form = {"csrf_token": await self.csrf(csrf_from), **data}
        async with self.session.post(self.base + path, data=form, allow_redirects=follow) as response:
            return response.status, await response.text(), response.headers.get("Location", "")

    async def login(self, handle: str, password: str) -> None:
        status, body, _ = await self.post("/login", {"username": handle, "password": password})
        assert status == 303, f"login failed ({status}): {body[:300]}"
