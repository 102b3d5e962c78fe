"""The people, coalition and campaign the coalition page tests share (tests/web/test_coalition_*.py
and others): Lyon and Greenpeace Lyon with their staff, the coalition ``blue`` and its campaign
made on the web (the fixtures ``orgs``, ``blue`` and ``campaign``), and the forms' helpers."""

from __future__ import annotations

import re
import struct
import zlib

import aiohttp
import pytest
from hypothesis import strategies as st
from sqlalchemy import func, select

from node.db import transaction
from node.models import Campaign
from node.services import actors
from node.services import coalitions as coalition_service
from tests.web.conftest import PASSWORD, Browser

AS2 = "application/activity+json"
CAMPAIGN = re.compile(r"/campaigns/([A-Za-z0-9_-]+)")
VARIANT = re.compile(r"/variants/([A-Za-z0-9_-]+)")


def png(width: int = 2, height: int = 2) -> bytes:
    """A real PNG (red pixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


# A test module imports the fixtures as orgs_fixture, blue_fixture and campaign_fixture: pytest
# finds them under their names (orgs, blue, campaign), and no test argument shadows an import.
@pytest.fixture(name="orgs")
async def orgs_fixture(node):
    return await people(node)


async def people(node):
    """Lyon (admin ``maire``) and Greenpeace Lyon (admin ``ngo_admin``, moderator ``ngo_modo``), the
    residents camille and dominique; passwords PASSWORD."""
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        ngo = await actors.create_organization(s, node.uris, "ngo", "Greenpeace Lyon")
        for handle, org, role in (("maire", lyon, "admin"), ("ngo_admin", ngo, "admin"),
                                  ("ngo_modo", ngo, "moderator")):
            user = await actors.create_user(s, node.uris, handle, PASSWORD, handle.title())
            await actors.add_member(s, user, org, role)
        for handle in ("camille", "dominique"):
            await actors.create_user(s, node.uris, handle, PASSWORD, handle.title())
    return lyon, ngo


async def signed_in(make_browser, handle: str, lang: str = "en") -> Browser:
    browser = make_browser(lang)
    assert (await browser.login(handle)).status == 303
    return browser


def path(node, url: str) -> str:
    assert url.startswith(node.base), url
    return url[len(node.base):]


async def found(browser: Browser, handle: str = "blue", *, founder: str = "lyon", languages=("fr", "de"),
                level: str = "public", name: str = "Coalition bleue"):
    data = {"founder": founder, "handle": handle, "name": name, "summary": "Pour les océans.",
            "visibility": level, **{f"language_{code}": "on" for code in languages}}
    return await browser.post("/coalitions/new", data)


@pytest.fixture(name="blue")
async def blue_fixture(node, orgs, make_browser):
    """The public coalition ``blue`` (fr, de) founded by Lyon on the web, with the NGO a member."""
    maire = await signed_in(make_browser, "maire")
    answer = await found(maire)
    assert answer.status == 303, answer.text[:500]
    async with transaction(node.rt.sessions) as s:
        coalition = await coalition_service.require(s, "blue")
        await coalition_service.invite(s, node.uris, coalition.actor, orgs[1])
        await coalition_service.answer_invite(s, node.uris, orgs[1], coalition.actor, True)
    return maire


async def member_rows(node, handle: str = "blue") -> dict[str, tuple[str, str]]:
    """{organisation: (role, state)} of the coalition's list."""
    async with node.rt.sessions() as s:
        coalition = await coalition_service.require(s, handle)
        rows = await coalition_service.members(s, coalition.actor, states=("requested", "invited", "accepted"))
        return {row.member.username: (row.role, row.state) for row in rows}


async def count(node, model, *where) -> int:
    async with node.rt.sessions() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


CAMPAIGN_TEXTS = {
    "name_fr": "Océans propres", "summary_fr": "Des plages sans plastique.",
    "content_fr": "Nous demandons la fin des plastiques jetables.", "message_fr": "Signez pour des océans propres !",
    "alt_fr": "Une vague bleue",
    "name_de": "Saubere Meere", "summary_de": "Strände ohne Plastik.",
    "content_de": "Wir fordern das Ende von Einwegplastik.", "message_de": "Unterschreiben Sie für saubere Meere!",
    "alt_de": "Eine blaue Welle",
}


async def multipart(browser: Browser, node, url: str, fields: dict, files: dict[str, bytes], *,
                    form_page: str) -> tuple[int, str, str]:
    form = aiohttp.FormData()
    form.add_field("csrf_token", (await browser.get(form_page)).csrf)
    for name, value in fields.items():
        form.add_field(name, value)
    for name, data in files.items():
        form.add_field(name, data, filename="visual.png", content_type="image/png")
    async with browser.session.post(node.base + url, data=form, allow_redirects=False) as r:
        return r.status, await r.text(), r.headers.get("Location", "")


NEW_CAMPAIGN = "/coalitions/blue/campaigns/new"


async def create_campaign(browser: Browser, node, fields: dict | None = None,
                          files: dict[str, bytes] | None = None) -> tuple[int, str, str]:
    files = {"visual_fr": png(), "visual_de": png(3, 3)} if files is None else files
    return await multipart(browser, node, NEW_CAMPAIGN, CAMPAIGN_TEXTS if fields is None else fields, files,
                           form_page=NEW_CAMPAIGN)


@pytest.fixture(name="campaign")
async def campaign_fixture(node, blue) -> str:
    """The path of the coalition's campaign ``Océans propres`` (fr, de), made on the web."""
    status, body, location = await create_campaign(blue, node)
    assert status == 303, body[:500]
    return path(node, location)


async def the_campaign(node) -> Campaign:
    async with node.rt.sessions() as s:
        return await s.scalar(select(Campaign))


async def adapt(browser: Browser, node, campaign: str, fields: dict, files: dict | None = None, org: str = "ngo"):
    url = f"/orgs/{org}/campaigns/{campaign.rsplit('/', 1)[1]}/adapt"
    return await multipart(browser, node, url, fields, files or {}, form_page=url)


VARIANT_TEXTS = {"language": "de", "title": "Greenpeace für saubere Meere",
                 "text": "Unsere Mitglieder unterstützen die Kampagne."}


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)
