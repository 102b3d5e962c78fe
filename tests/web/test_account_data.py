"""The account page's "Download my data" and "Delete my account", and node admins' deletion."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from node.db import transaction
from node.models import Actor, ModerationLogEntry, User
from node.services import actors as actor_service
from node.services import contributions, discussions
from tests.web.conftest import PASSWORD, Browser


@pytest.fixture
async def browser(node):
    """A visitor reading English (the messages asserted below)."""
    client = Browser(node.base, "en")
    yield client
    await client.close()


@pytest.fixture
async def amel(node, org):
    """Resident amel (password PASSWORD) with one contribution in lyon's discussion."""
    async with transaction(node.rt.sessions) as s:
        user = await actor_service.create_user(s, node.uris, "amel", PASSWORD, "Amel Visible-Name",
                                               email="amel@example.org")
        discussion = await discussions.open_discussion(s, node.uris, org, "parc", "Le parc",
                                                       summary="Le parc", body="Vos idées")
        contribution = await contributions.contribute(s, node.uris, discussion, user.actor,
                                                      "<p>Amel's bench idea</p>")
        return {"user_id": user.id, "contribution": contribution.ap_id}


async def test_download__json_attachment_never_cached(node, amel, browser):
    """Signed in: a JSON attachment of her data with no-store; the page links to it."""
    await browser.login("amel")
    assert 'href="/account/export"' in (await browser.get("/account")).text
    page = await browser.get("/account/export")
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("application/json")
    assert page.headers["Content-Disposition"] == 'attachment; filename="civic-data-amel.json"'
    assert page.headers["Cache-Control"] == "no-store"
    data = json.loads(page.text)
    assert data["tables"]["users"][0]["email"] == "amel@example.org"
    assert [c["ap_id"] for c in data["tables"]["contributions"]] == [amel["contribution"]]
    assert data["tables"]["users"][0]["password_hash"] == "[redacted]"


async def test_download__signed_in_only(node, amel, browser, make_browser):
    """Anonymous visitors are sent to log in; another account downloads its own data only."""
    assert (await browser.get("/account/export")).location == "/login?next=/account"
    other = make_browser("en")
    await other.login("maire")
    data = json.loads((await other.get("/account/export")).text)
    assert data["account"]["handle"] == "maire"
    assert "Amel's bench idea" not in json.dumps(data)


async def test_delete__wrong_password_keeps_the_account(node, amel, browser):
    """A wrong password: 400 with the reason next to the field, nothing erased."""
    await browser.login("amel")
    page = await browser.post("/account/delete", {"password": "not the password"}, form_page="/account")
    assert page.status == 400 and "This is not your current password." in page.text
    async with node.rt.sessions() as s:
        assert await s.get(User, amel["user_id"]) is not None


async def test_delete__needs_csrf(node, amel, browser):
    """Without the form's token: 403 and the account stays."""
    await browser.login("amel")
    page = await browser.post("/account/delete", {"password": PASSWORD}, csrf=False)
    assert page.status == 403
    async with node.rt.sessions() as s:
        assert await s.get(User, amel["user_id"]) is not None


async def test_delete__with_password_erases_and_ends_every_session(node, amel, browser):
    """The right password erases the account; this session and every copy of the cookie are
    anonymous afterwards (SECURITY.md rule 16); the handle cannot log in or register again."""
    await browser.login("amel")
    copy = Browser(node.base, "en")
    copy.set_cookie("civic_session", browser.cookie("civic_session"))
    assert 'action="/logout"' in (await copy.get("/account")).text
    page = await browser.post("/account/delete", {"password": PASSWORD}, form_page="/account")
    assert page.status == 200 and "The account @amel was deleted." in page.text
    assert "Amel Visible-Name" not in page.text
    assert (await copy.get("/account")).location == "/login?next=/account"
    assert (await browser.get("/account")).location == "/login?next=/account"
    stranger = Browser(node.base, "en")
    assert (await stranger.login("amel")).status == 400
    await copy.close()
    await stranger.close()
    async with node.rt.sessions() as s:
        assert await s.get(User, amel["user_id"]) is None
        tombstone = await s.scalar(select(Actor).where(Actor.username == "amel"))
        assert tombstone.deleted_at is not None and tombstone.name == ""


async def test_admin_delete__only_node_admins(node, amel, browser):
    """Residents and anonymous visitors get 404 on the admin page and cannot post to it."""
    assert (await browser.get("/admin/accounts")).status == 404
    await browser.login("amel")
    assert (await browser.get("/admin/accounts")).status == 404
    assert 'href="/admin/accounts"' not in (await browser.get("/account")).text
    page = await browser.post("/admin/accounts/delete", {"handle": "maire", "confirm": "maire"},
                              form_page="/account")
    assert page.status == 404


async def test_admin_delete__confirmed_erasure_is_logged(node, amel, browser):
    """A node admin finds amel, must type the handle again, then erases her: logged by name."""
    async with transaction(node.rt.sessions) as s:
        await actor_service.create_user(s, node.uris, "nodeadmin", PASSWORD, "Node Admin", is_admin=True)
    await browser.login("nodeadmin")
    assert 'href="/admin/accounts"' in (await browser.get("/account")).text
    listing = await browser.get("/admin/accounts?q=am")
    assert listing.status == 200 and "@amel" in listing.text and "@maire" not in listing.text
    refused = await browser.post("/admin/accounts/delete", {"handle": "amel", "confirm": "ame"},
                                 form_page="/admin/accounts")
    assert refused.status == 400 and "Type the handle again to confirm." in refused.text
    done = await browser.post("/admin/accounts/delete", {"handle": "amel", "confirm": "@amel"},
                              form_page="/admin/accounts")
    assert done.status == 303 and done.location == "/admin/accounts?deleted=amel"
    assert "The account @amel was deleted." in (await browser.get(done.location)).text
    async with node.rt.sessions() as s:
        assert await s.get(User, amel["user_id"]) is None
        entry = await s.scalar(select(ModerationLogEntry).where(ModerationLogEntry.action == "erase_account"))
        assert entry.moderator_name == "Node Admin" and entry.target_ap_id.endswith("/actors/amel")


async def test_admin_delete__unknown_handle_is_a_400(node, amel, browser):
    """An unknown, organisation, NUL-holding or over-long handle: 400 with the reason, nothing
    erased, never a 500 (SECURITY.md rule 19)."""
    async with transaction(node.rt.sessions) as s:
        await actor_service.create_user(s, node.uris, "nodeadmin", PASSWORD, "Node Admin", is_admin=True)
    await browser.login("nodeadmin")
    for handle in ("lyon", "am\x00el", "x" * 5000):
        page = await browser.post("/admin/accounts/delete", {"handle": handle, "confirm": handle},
                                  form_page="/admin/accounts")
        assert page.status == 400 and "No account has this handle." in page.text, handle[:10]
    async with node.rt.sessions() as s:
        assert await s.get(User, amel["user_id"]) is not None
