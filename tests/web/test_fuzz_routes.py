"""Web fuzzing: every route of the real app × methods × malformed bodies never answers 5xx (SECURITY.md rule 19)."""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from civic.app import create_app
from node.config import Settings
from node.models import Article, Contribution, Initiative, Note, Proposal
from tests.remote import free_port
from tests.web.participation_helpers import PASSWORD, build_world, make_proposals
from web.render import MAX_FORM

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
TEMPLATES = Path(__file__).parents[2] / "web" / "templates"
FORM = "application/x-www-form-urlencoded"
BOUNDARY = "fuzzb0undary"
LONG = "x" * 7000  # under aiohttp's 8190-byte header line limit, so the app sees it
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _field_names() -> list[str]:
    """Every form field name the templates use: a file is sent where each of them expects text."""
    names = set()
    for template in TEMPLATES.rglob("*.html"):
        names.update(re.findall(r'name="([a-z_]+)"', template.read_text(encoding="utf-8")))
    names.discard("csrf_token")
    return sorted(names)


def _multipart(parts: list[tuple[str, str]], csrf: str, *, tail: bool = True) -> bytes:
    """A multipart body from raw (part headers, part body) pairs, the CSRF token as first part."""
    chunks = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{csrf}\r\n']
    chunks += [f"--{BOUNDARY}\r\n{headers}\r\n\r\n{body}\r\n" for headers, body in parts]
    if tail:
        chunks.append(f"--{BOUNDARY}--\r\n")
    return "".join(chunks).encode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class Body:
    """One malformed request: headers and body bytes; ``{csrf}`` stands for the token sent."""

    name: str
    content_type: str | None
    data: object  # bytes or a function of the CSRF token
    headers: tuple[tuple[str, str], ...] = ()

    def build(self, csrf: str) -> tuple[dict, bytes]:
        data = self.data(csrf) if callable(self.data) else self.data
        headers = dict(self.headers)
        if self.content_type:
            headers["Content-Type"] = self.content_type
        return headers, data


def _bodies() -> list[Body]:
    fields = _field_names()
    files = [(f'Content-Disposition: form-data; name="{n}"; filename="x.txt"\r\nContent-Type: text/plain',
              "file content") for n in fields]
    return [
        Body("empty", None, b""),
        Body("form", FORM, lambda t: f"csrf_token={t}&body=hello&title=hello".encode()),
        Body("form-charset-bogus", f"{FORM}; charset=bogus", lambda t: f"csrf_token={t}&body=x".encode()),
        Body("form-invalid-utf8", FORM, lambda t: f"csrf_token={t}&body=".encode() + b"\xff\xfe\xc3("),
        Body("form-percent-garbage", FORM,
             lambda t: f"csrf_token={t}&body=%ZZ%&%%%=%C3%28&title=%ff%fe&%=".encode()),
        Body("form-field-over-limit", FORM, lambda t: f"csrf_token={t}&body={'x' * MAX_FORM}".encode()),
        Body("multipart-field-over-limit", f"multipart/form-data; boundary={BOUNDARY}",
             lambda t: _multipart([('Content-Disposition: form-data; name="body"', "y" * MAX_FORM)], t)),
        Body("multipart-over-limit-malformed", f"multipart/form-data; boundary={BOUNDARY}",
             lambda t: _multipart([("Content-Disposition: form-data", "y" * MAX_FORM)], t, tail=False)),
        Body("form-nul-bytes", FORM, lambda t: f"csrf_token={t}&body=a%00b&title=\x00&name=%00".encode()),
        Body("form-utf16", f"{FORM}; charset=utf-16", lambda t: f"csrf_token={t}&body=x".encode("utf-16")),
        Body("multipart-no-boundary", "multipart/form-data", lambda t: _multipart([], t)),
        Body("multipart-wrong-boundary", "multipart/form-data; boundary=other", lambda t: _multipart([], t)),
        Body("multipart-truncated", f"multipart/form-data; boundary={BOUNDARY}",
             lambda t: _multipart([('Content-Disposition: form-data; name="body"', "x")], t, tail=False)[:-9]),
        Body("multipart-garbage", f"multipart/form-data; boundary={BOUNDARY}", b"\x00\xff garbage \r\n--"),
        Body("multipart-part-without-name", f"multipart/form-data; boundary={BOUNDARY}",
             lambda t: _multipart([("Content-Disposition: form-data", "x")], t)),
        Body("multipart-part-bogus-charset", f"multipart/form-data; boundary={BOUNDARY}",
             lambda t: _multipart([('Content-Disposition: form-data; name="body"\r\n'
                                    "Content-Type: text/plain; charset=bogus", "x")], t)),
        Body("multipart-part-invalid-utf8", f"multipart/form-data; boundary={BOUNDARY}",
             lambda t: _multipart([('Content-Disposition: form-data; name="body"', "\udcff\udcfe")], t)),
        Body("multipart-part-bogus-encoding", f"multipart/form-data; boundary={BOUNDARY}",
             lambda t: _multipart([('Content-Disposition: form-data; name="body"\r\n'
                                    "Content-Transfer-Encoding: bogus", "x"),
                                   ('Content-Disposition: form-data; name="title"\r\n'
                                    "Content-Encoding: bogus", "x")], t)),
        Body("multipart-nested", f"multipart/form-data; boundary={BOUNDARY}",
             lambda t: _multipart([('Content-Disposition: form-data; name="body"\r\n'
                                    "Content-Type: multipart/mixed; boundary=inner", "--inner--")], t)),
        Body("multipart-files-for-text", f"multipart/form-data; boundary={BOUNDARY}",
             lambda t: _multipart(files, t)),
        Body("json", "application/json", b'{"body": "x", "csrf_token": 1}'),
        Body("json-nested", "application/activity+json", b"[" * 5000 + b"]" * 5000),
        Body("json-invalid", "application/ld+json", b'{"a": \xff'),
        Body("long-headers", FORM, lambda t: f"csrf_token={t}&body=x".encode(),
             (("Accept-Language", LONG), ("X-Fuzz", LONG), ("Referer", LONG))),
        Body("bogus-accept-language", FORM, lambda t: f"csrf_token={t}".encode(),
             (("Accept-Language", "*;q=2, ;;;, zz-ZZZZZZZ;q=abc, en;q=-1, fr;q=0.5e3"),)),
        Body("bogus-cookies", FORM, lambda t: f"csrf_token={t}&body=x".encode(),
             (("Cookie", "civic_session=\u00e9t\u00e9.\u00e9; lang=\u00e9\u00e9; x=" + "%" * 100),)),
        Body("activity-accept", FORM, lambda t: f"csrf_token={t}&body=x".encode(),
             (("Accept", "application/activity+json"),)),
    ]


BODIES_BY_NAME = {body.name: body for body in _bodies()}
QUERIES = ("", "?page=%00&state=%ff&sort=%ZZ&next=%2F%2Fevil&target=%00&resource=acct%3A%00",
           "?page=99999999999999999999999&page=-1&state=published&sort=new&saved",
           "?page=%C2%B2&resource=" + "x" * 3000)


@dataclass
class Visitor:
    name: str
    session: aiohttp.ClientSession
    csrf: str = ""


async def _refresh_csrf(base: str, visitor: Visitor) -> None:
    async with visitor.session.get(base + "/login") as response:
        match = CSRF_RE.search(await response.text())
    assert match, "no CSRF token on /login"
    visitor.csrf = match.group(1)


async def _tokens(node) -> dict[str, str]:
    """A real token for each kind of object route (``/proposals/{token}`` …), from the seeded node."""
    found = {}
    async with node.rt.sessions() as s:
        for model in (Contribution, Proposal, Article, Initiative, Note):
            for ap_id in (await s.scalars(select(model.ap_id).limit(1))):
                parts = ap_id.rstrip("/").split("/")
                found[parts[-2]] = parts[-1]
    return found


def _paths(app: web.Application, values: dict[str, str], tokens: dict[str, str]) -> dict[str, set[str]]:
    """Every route's concrete path (placeholders filled from the seeded node) → its methods."""
    paths: dict[str, set[str]] = {}
    for route in app.router.routes():
        info = route.get_info()
        if "prefix" in info:  # static files
            path = info["prefix"] + "/style.css"
        elif "formatter" in info:
            def fill(match: re.Match, formatter: str = info["formatter"]) -> str:
                name = match.group(1)
                if name == "token":
                    kind = formatter[: match.start()].rstrip("/").rsplit("/", 1)[-1]
                    return tokens.get(kind, tokens.get("*", "0123456789abcdef"))
                return values.get(name, values.get("*", "x"))
            path = re.sub(r"\{(\w+)(?::[^}]*)?\}", fill, info["formatter"])
        else:
            path = info["path"]
        paths.setdefault(path, set()).add(route.method)
    return paths


# Placeholders filled with what no link here contains (percent-encoded where a path needs it).
HOSTILE_SEGMENTS = ("%00", "%C3%28", "%ff%fe", "99999999999999999999", "-1", "0", "x" * 300, "%2e%2e",
                    "%C3%A9t%C3%A9", "a%2Fb", "1e5", "%E2%80%AE")


def _hostile_paths(app: web.Application) -> list[tuple[str, str, Body, bool]]:
    """Every dynamic route with each placeholder hostile: GET, and the route's POST with a form."""
    plan = []
    for segment in HOSTILE_SEGMENTS:
        for path, methods in _paths(app, {"*": segment}, {"*": segment}).items():
            if segment in path:
                plan += [(method, path, BODIES_BY_NAME["form"], True)
                         for method in ("GET", "POST") if method in methods]
    return plan


async def _send(visitor: Visitor, base: str, method: str, path: str, body: Body, with_csrf: bool):
    headers, data = body.build(visitor.csrf if with_csrf else "forged-token")
    headers.setdefault("Accept", "text/html")
    if "Cookie" in headers:  # sent alone, so the visitor's own session cookie is kept
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as alone:
            return await _request(alone, method, base + path, data, headers)
    return await _request(visitor.session, method, base + path, data, headers)


async def _request(session: aiohttp.ClientSession, method: str, url: str, data: bytes, headers: dict):
    async with session.request(method, url, data=data or None, headers=headers,
                               allow_redirects=False, skip_auto_headers=("Content-Type",)) as r:
        return r.status, await r.text(errors="replace")


# On PostgreSQL (where out-of-range numbers and NUL characters fail differently than on SQLite)
# only what reaches the database is sent: decoding does not depend on the backend, and the whole
# matrix takes minutes there.
REACHES_DATABASE = ("form", "form-percent-garbage", "form-nul-bytes", "multipart-files-for-text")
# Also sent with a forged CSRF token: the bodies whose reading happens before or after its check.
FORGED = ("form", "form-charset-bogus", "form-field-over-limit", "multipart-field-over-limit",
          "multipart-part-bogus-charset", "multipart-files-for-text")


def _plan(paths: dict[str, set[str]], bodies: list[Body], full: bool) -> list[tuple[str, str, Body, bool]]:
    """(method, path, body, with CSRF) for one visitor: every body on the methods a route has, one
    on the others; session-ending routes last, so the signed-in visitor stays signed in for the rest."""
    plan = []
    if not full:
        bodies = [body for body in bodies if body.name in ("empty", *REACHES_DATABASE)]
    for path in sorted(paths, key=lambda p: (p in ("/logout", "/login", "/register", "/language"), p)):
        for method in METHODS:
            if method in paths[path] and method in ("GET", "HEAD"):
                plan += [(method, path + query, bodies[0], True) for query in QUERIES]
                plan += [(method, path, body, True) for body in bodies if body.headers]
            elif method in paths[path]:
                plan += [(method, path, body, True) for body in bodies]
                plan += [(method, path, body, False) for body in bodies if full and body.name in FORGED]
            elif full:  # the router answers 405 before any handler runs
                plan.append((method, path, bodies[1], True))
    return plan


async def test_fuzz_routes__no_route_answers_5xx_to_any_body(node, caplog):
    """Every route × method × malformed body, signed in (an organisation admin) and anonymous,
    with and without a valid CSRF token: never a 5xx, never a traceback in what is sent back."""
    world = await build_world(node)
    await make_proposals(node, world, 1)
    values = {"org": "lyon", "slug": "clos-jouve", "username": "lyon", "id": str(world.ids["top"]),
              "space": "x", "name": "0" * 64 + ".png"}
    paths = _paths(node.app, values, await _tokens(node))
    bodies = _bodies()
    full = node.settings.database_url.startswith("sqlite")
    outcomes: Counter = Counter()
    failures = []
    caplog.set_level(logging.ERROR)
    for name in ("anonymous", "admin"):
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            visitor = Visitor(name, session)
            await _refresh_csrf(node.base, visitor)
            if name == "admin":
                status, _ = await _send(visitor, node.base, "POST", "/login", Body(
                    "login", FORM, lambda t: f"csrf_token={t}&username=maire&password={PASSWORD}".encode()),
                    True)
                assert status == 303
                await _refresh_csrf(node.base, visitor)
            for method, path, body, with_csrf in _hostile_paths(node.app) + _plan(paths, bodies, full):
                status, text = await _send(visitor, node.base, method, path, body, with_csrf)
                outcomes[(name, method, body.name, status)] += 1
                if status >= 500 or "Traceback" in text:
                    failures.append((name, method, path, body.name, with_csrf, status, text[:120]))
    table = "\n".join(f"{s} {v:9} {m:7} {p[:100]} [{b}{'' if c else ', forged csrf'}] {t!r}"
                      for v, m, p, b, c, s, t in failures)
    summary = Counter(status for (_, _, _, status) in outcomes.elements())
    assert not failures, f"{len(failures)} answers were 5xx or showed a traceback:\n{table}\n{summary}"
    assert sum(outcomes.values()) > (2000 if full else 400)
    assert {200, 303, 400, 403, 404} | ({405} if full else set()) <= set(summary), summary


@pytest.mark.parametrize(("content_type", "body", "reason"), [
    (f"{FORM}; charset=bogus", b"username=x", "unknown character set"),
    (FORM, b"username=\xff\xfe", "not valid in its character set"),
    (f"multipart/form-data; boundary={BOUNDARY}",
     _multipart([('Content-Disposition: form-data; name="username"\r\nContent-Type: text/plain; charset=bogus',
                  "x")], "t"), "unknown character set"),
    (f"multipart/form-data; boundary={BOUNDARY}",
     _multipart([('Content-Disposition: form-data; name="username"\r\nContent-Transfer-Encoding: bogus',
                  "x")], "t"), "its body is malformed"),
    (f"multipart/form-data; boundary={BOUNDARY}", _multipart([("Content-Disposition: form-data", "x")], "t"),
     "its body is malformed"),
])
async def test_fuzz_routes__undecodable_form_is_400_with_its_reason(node, content_type, body, reason):
    """A form aiohttp cannot decode is a 400 error page saying why, in the visitor's language."""
    async with aiohttp.ClientSession() as session:
        async with session.post(node.base + "/login", data=body, headers={
                "Content-Type": content_type, "Accept": "text/html", "Accept-Language": "en"}) as r:
            assert r.status == 400
            text = await r.text()
        async with session.post(node.base + "/login", data=body, headers={
                "Content-Type": content_type, "Accept": "text/html", "Accept-Language": "de"}) as r:
            german = await r.text()
    assert reason in text
    assert "<h1>Error 400</h1>" in text
    assert reason not in german and "Formular" in german


@pytest.fixture
async def buggy_node(database_url, tmp_path):
    """The real application with one extra route whose handler has a bug (a ZeroDivisionError)."""
    port = free_port()
    settings = Settings(base_url=f"http://127.0.0.1:{port}", database_url=database_url, data_dir=tmp_path,
                        development=True, instance_name="Test node", secret_key="test-secret")
    app = create_app(settings, background=False)

    async def bug(request: web.Request) -> web.Response:
        return web.Response(text=str(1 / len(request.query)))

    app.router.add_route("*", "/bug", bug)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield settings.base_url
    await runner.cleanup()


async def test_fuzz_routes__a_bug_is_logged_and_answered_with_a_bare_500(buggy_node, caplog):
    """A handler's exception: its traceback is in the server log, the client gets a short 500 (an HTML
    page for browsers, ``{"error": …}`` for AS2 clients) that shows no traceback or exception."""
    caplog.set_level(logging.ERROR, logger="web.errors")
    async with aiohttp.ClientSession() as session:
        async with session.get(buggy_node + "/bug", headers={"Accept": "text/html",
                                                            "Accept-Language": "en"}) as r:
            assert r.status == 500
            assert r.content_type == "text/html"
            assert "default-src 'self'" in r.headers["Content-Security-Policy"]
            page = await r.text()
        async with session.post(buggy_node + "/bug", data=b"{}",
                                headers={"Content-Type": "application/activity+json"}) as r:
            assert r.status == 500
            assert await r.json() == {"error": "internal error"}
        async with session.get(buggy_node + "/bug?x=1") as r:
            assert r.status == 200  # the same route without the bug
    assert "Something went wrong on this node" in page
    for leak in ("Traceback", "ZeroDivisionError", "division by zero", "test_fuzz_routes"):
        assert leak not in page
    logged = [record for record in caplog.records if record.name == "web.errors"]
    assert len(logged) == 2 and all(record.exc_info[0] is ZeroDivisionError for record in logged)


async def test_fuzz_routes__a_nul_character_in_the_address_is_400(node):
    """A NUL in a path or query is refused before any lookup (PostgreSQL cannot compare text that
    holds one): a 400 page for browsers, ``{"error": …}`` for AS2 clients and inbox POSTs."""
    async with aiohttp.ClientSession() as session:
        async with session.get(node.base + "/contributions/%00",
                               headers={"Accept": "text/html", "Accept-Language": "en"}) as r:
            assert r.status == 400
            assert "This address contains a character that is not allowed." in await r.text()
        async with session.get(node.base + "/actors/lyon/outbox?page=1%00",
                               headers={"Accept": "application/activity+json"}) as r:
            assert r.status == 400
            assert "NUL" in (await r.json())["error"]
        async with session.post(node.base + "/actors/%00/inbox", data=b"{}",
                                headers={"Content-Type": "application/activity+json"}) as r:
            assert r.status == 400
        async with session.get(node.base + "/contributions/0", headers={"Accept": "text/html"}) as r:
            assert r.status == 404  # the same address without the NUL is looked up
