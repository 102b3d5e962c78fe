"""Links to the members pages: "Members" in the organisation's admin menu, and "Become a member"
(the verification page) on the organisation page for signed-in visitors who are not members yet."""

from __future__ import annotations

import pytest

from node.db import transaction
from node.services import actors, membership
from tests.web.conftest import PASSWORD, Browser

ORG_PAGE = "/actors/lyon"
MEMBERS = "/orgs/lyon/admin/members"


@pytest.fixture
async def camille(node, org) -> None:
    """A resident of the node, ``camille``, with no role in Lyon."""
    async with transaction(node.rt.sessions) as s:
        await actors.create_user(s, node.uris, "camille", PASSWORD, "Camille")


async def signed_in(make_browser, handle: str) -> Browser:
    browser = make_browser("en")
    assert (await browser.login(handle)).status == 303
    return browser


async def test_admin_nav__links_the_members_page(node, org, make_browser):
    """Every page of the organisation's administration links to its members page, which the link
    marks as current there, and the link leads to the page."""
    admin = await signed_in(make_browser, "maire")
    link = f'<a href="{node.base}{MEMBERS}">Members</a>'
    for path in ("/orgs/lyon/admin", "/orgs/lyon/admin/discussions", "/orgs/lyon/admin/profile"):
        page = await admin.get(path)
        assert page.status == 200 and link in page.text, path
    members = await admin.get(MEMBERS)
    assert members.status == 200
    assert f'<a href="{node.base}{MEMBERS}" aria-current="page">Members</a>' in members.text


async def test_organisation_page__verify_link_for_signed_in_non_members_only(node, org, camille, make_browser):
    """A signed-in resident gets "Become a member" towards /orgs/lyon/verify; anonymous visitors
    never do, not even from a rendering cached after the resident's visit; a member no longer does."""
    link = f'<a href="{node.base}/orgs/lyon/verify">Become a member</a>'
    anonymous = make_browser("en")
    before = await anonymous.get(ORG_PAGE)
    assert before.status == 200 and "Become a member" not in before.text
    resident = await signed_in(make_browser, "camille")
    page = await resident.get(ORG_PAGE)
    assert page.status == 200 and link in page.text
    assert (await resident.get("/orgs/lyon/verify")).status == 200
    for visitor in (anonymous, make_browser("en")):  # the cached rendering, and a fresh visitor's
        after = await visitor.get(ORG_PAGE)
        assert after.status == 200 and "Become a member" not in after.text
        assert "/orgs/lyon/verify" not in after.text

    async with transaction(node.rt.sessions) as s:
        person = await actors.user_by_username(s, "camille")
        maire = await actors.user_by_username(s, "maire")
        await membership.admit(s, org, person, maire, "")
    page = await resident.get(ORG_PAGE)
    assert page.status == 200 and "Become a member" not in page.text
