"""Organisation admins publish announcements from the web; others cannot; CSRF is enforced."""

from __future__ import annotations

from sqlalchemy import select

from node.models import Note, OutboxEvent
from tests.web.client import Browser


async def _notes(node) -> list[Note]:
    async with node.rt.sessions() as s:
        return list(await s.scalars(select(Note)))


async def test_announce__admin_publishes_from_the_organisation_page(node, lyon):
    """Logged in as the organisation's admin, the form publishes a Note and its outbox event."""
    browser = Browser(node.base)
    try:
        await browser.login("lyon_admin", "password-123")
        status, _, location = await browser.post("/actors/lyon/announce",
                                                 {"content": "Atelier samedi <10h>"},
                                                 csrf_from="/actors/lyon")
        assert status == 303 and location.endswith("/actors/lyon")
        _, page = await browser.get("/actors/lyon")
        assert "Atelier samedi &lt;10h&gt;" in page
    finally:
        await browser.close()
    notes = await _notes(node)
    assert [n.content for n in notes] == ["<p>Atelier samedi &lt;10h&gt;</p>"]
    async with node.rt.sessions() as s:
        kinds = list(await s.scalars(select(OutboxEvent.kind).order_by(OutboxEvent.id)))
    # The fixture's admin became a moderator first (FEP-1b12 Add); the announcement follows it.
    assert kinds[-1] == "note.created" and kinds.count("note.created") == 1


async def test_announce__resident_gets_403_and_nothing_is_published(node, lyon):
    browser = Browser(node.base)
    try:
        await browser.login("camille", "password-123")
        status, _, _ = await browser.post("/actors/lyon/announce", {"content": "Spam"},
                                          csrf_from="/actors/lyon")
    finally:
        await browser.close()
    assert status == 403
    assert await _notes(node) == []


async def test_announce__without_csrf_token_is_403(node, lyon):
    browser = Browser(node.base)
    try:
        await browser.login("lyon_admin", "password-123")
        async with browser.session.post(f"{node.base}/actors/lyon/announce",
                                        data={"content": "x"}, allow_redirects=False) as response:
            assert response.status == 403
    finally:
        await browser.close()
    assert await _notes(node) == []
