"""A coalition's visibility at every level of node/visibility.py (Gap B of the coalition audit: the
``members`` level had a test of its own, tests/web/test_coalition_dashboard.py
``test_visibility__a_members_coalition_shows_nothing_to_outsiders_on_any_path``): for a coalition at
``public``, ``unlisted``, ``followers`` and ``members``, every path that test checks answers each
reader as the level says (SECURITY.md rules 24 and 28):

- the HTML pages (the coalition's, its campaign's, a member's variant's, its shared demands, its
  theme) and the support buttons: readers the level admits (``visibility.admits``: anyone for
  ``public`` and ``unlisted``; the coalition's followers and members for ``followers``; its
  members for ``members``) get the page, others the 404 of a missing one;
- the AS2 documents of the campaign and the variant: ``public`` and ``unlisted`` to everyone;
  ``followers`` only to a signed fetch by an approved follower (a browser's session is not one);
  ``members`` never (federation/objects.py ``readable``);
- the dashboard and the report (HTML, CSV, JSON): a public coalition's are everyone's; another's
  are its admins' (403 to its other readers, the 404 to those it does not admit, and to anyone
  anonymous), sent with ``Cache-Control: no-store``.

Readers: an anonymous stranger, a signed-in stranger (dominique), a local account following the
coalition (camille), the staff of a member organisation (ngo_modo: a ``member`` of the coalition)
and an admin of its admin member (maire: its admin)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from node import visibility
from node.db import transaction
from node.models import CampaignSupport, VariantSupport
from node.services import actors
from node.services import coalitions as coalition_service
from node.services import proposals as proposal_service
from tests.web.coalition_people import AS2, signed_in
from tests.web.test_org_variants import coalition_campaign, people, variant_of

READERS = ("anonymous", "dominique", "camille", "ngo_modo", "maire")
# Who reads a coalition's things at each level, as node/visibility.py's docstring defines the levels.
READS = {
    visibility.PUBLIC: set(READERS),
    visibility.UNLISTED: set(READERS),
    visibility.FOLLOWERS: {"camille", "ngo_modo", "maire"},
    visibility.MEMBERS: {"ngo_modo", "maire"},
}
STANDINGS = {"anonymous": visibility.NOBODY, "dominique": visibility.NOBODY,
             "camille": visibility.Standing(follower=True), "ngo_modo": visibility.Standing(member=True),
             "maire": visibility.Standing(staff=True, member=True)}
AS2_READABLE = {visibility.PUBLIC, visibility.UNLISTED}  # to unsigned GETs
SECRETS = ("Coalition closed", "Campagne de la coalition", "Variante du membre", "Demande commune")
REPORTS = ("/coalitions/closed/report", "/coalitions/closed/report.csv", "/coalitions/closed/report.json",
           "/coalitions/closed/dashboard")


def test_the_expected_readers_are_node_visibility_admits():
    """The table the tests below check is the visibility module's rule, not a second one."""
    for level, readers in READS.items():
        assert {r for r in READERS if visibility.admits(level, STANDINGS[r])} == readers, level


async def coalition_at(node, level: str) -> tuple[str, str]:
    """The coalition ``closed`` at ``level`` (Lyon its admin, the NGO a member, camille a
    follower) with a campaign, the NGO's variant of it and a published shared demand."""
    await people(node)
    campaign = await coalition_campaign(node, "closed", level, "Campagne de la coalition")
    variant = await variant_of(node, campaign, "Variante du membre")
    async with transaction(node.rt.sessions) as s:
        coalition = await coalition_service.require(s, "closed")
        author = await actors.require_local_actor(s, "maire")
        await proposal_service.create(s, node.uris, coalition.actor, author, "Demande commune",
                                      "<p>Pour toutes les villes.</p>", publish=True)
    return campaign, variant


async def reader_browser(make_browser, reader: str):
    return make_browser("en") if reader == "anonymous" else await signed_in(make_browser, reader)


def report_status(level: str, reader: str) -> int:
    if reader not in READS[level]:
        return 404
    if level == visibility.PUBLIC:
        return 200
    if reader == "anonymous":
        return 404
    return 200 if reader == "maire" else 403


@pytest.mark.parametrize("level", visibility.LEVELS)
async def test_levels__every_coalition_path_answers_each_reader_as_its_level_says(node, make_browser, level):
    campaign, variant = await coalition_at(node, level)
    pages = ("/actors/closed", campaign, variant, "/orgs/closed/proposals", "/orgs/closed/theme.css")
    for reader in READERS:
        browser = await reader_browser(make_browser, reader)
        reads = reader in READS[level]
        for url in pages:
            answer = await browser.get(url)
            assert answer.status == (200 if reads else 404), (level, reader, url, answer.status)
            if not reads:
                assert not any(secret in answer.text for secret in SECRETS), (level, reader, url)
        for url in (campaign, variant):
            answer = await browser.get(url, Accept=AS2)
            assert answer.status == (200 if level in AS2_READABLE else 404), (level, reader, url, "AS2")
            if answer.status == 404:
                assert not any(secret in answer.text for secret in SECRETS), (level, reader, url, "AS2")
        for url in REPORTS:
            answer = await browser.get(url)
            assert answer.status == report_status(level, reader), (level, reader, url, answer.status)
            if answer.status == 200 and level != visibility.PUBLIC:
                assert answer.headers["Cache-Control"] == "no-store", (level, reader, url)
            if answer.status == 404:
                assert not any(secret in answer.text for secret in SECRETS), (level, reader, url)


@pytest.mark.parametrize("level", visibility.LEVELS)
async def test_levels__only_readers_the_level_admits_support_the_campaign_and_the_variant(
        node, make_browser, level):
    campaign, variant = await coalition_at(node, level)
    supporters = 0
    for reader in READERS:
        browser = await reader_browser(make_browser, reader)
        reads = reader in READS[level]
        for url in (campaign, variant):
            answer = await browser.post(url + "/support", {}, form_page="/actors/lyon")
            if reader == "anonymous":
                assert answer.status == 303 and answer.location.startswith("/login"), (level, url)
            elif reads:
                assert answer.status == 303 and answer.location.endswith("#support"), (level, reader, url)
            else:
                assert answer.status == 404, (level, reader, url, answer.status)
        supporters += reads and reader != "anonymous"
    await node.step()
    async with node.rt.sessions() as s:
        variant_supports = await s.scalar(select(func.count()).select_from(VariantSupport))
        # Each supporter's own support, and its variant support counted at the home (this node)
        # for the member: once per person per campaign, so the campaign count is the supporters'.
        campaign_supporters = await s.scalar(select(func.count(func.distinct(CampaignSupport.actor_id))))
    assert variant_supports == supporters and campaign_supporters == supporters, level


async def test_levels__the_member_page_lists_other_coalitions_as_their_level_lists_them(node, make_browser):
    """The member page's choice of a previous coalition (to invite its members) is a listing: an
    ``unlisted`` coalition is listed only to its own staff, a ``followers`` or ``members`` one only
    to whom it admits (node/visibility.py ``lists``), not to every coalition's admin."""
    await people(node)
    await coalition_campaign(node, "blue", visibility.PUBLIC, "Océans")  # Lyon's: maire administers it
    async with transaction(node.rt.sessions) as s:
        ngo = await actors.require_local_actor(s, "ngo")
        for handle, level in (("ngo_open", visibility.PUBLIC), ("ngo_unlisted", visibility.UNLISTED),
                              ("ngo_followers", visibility.FOLLOWERS), ("ngo_members", visibility.MEMBERS)):
            await coalition_service.create(s, node.uris, handle, f"Coalition {handle}", founder=ngo,
                                           languages=("fr",), visibility_level=level)
    maire = await signed_in(make_browser, "maire")
    page = await maire.get("/coalitions/blue/members")
    assert page.status == 200
    assert 'value="ngo_open"' in page.text
    for hidden in ("ngo_unlisted", "ngo_followers", "ngo_members"):
        assert hidden not in page.text, hidden
    # The NGO's admin is the staff of all four: its own coalitions are listed to it.
    async with transaction(node.rt.sessions) as s:
        blue = await coalition_service.require(s, "blue")
        await coalition_service.set_role(s, blue.actor, await actors.require_local_actor(s, "ngo"), "admin")
    ngo_admin = await signed_in(make_browser, "ngo_admin")
    page = await ngo_admin.get("/coalitions/blue/members")
    assert page.status == 200
    for handle in ("ngo_open", "ngo_unlisted", "ngo_followers", "ngo_members"):
        assert f'value="{handle}"' in page.text, handle
