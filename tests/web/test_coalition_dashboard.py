"""A coalition's dashboard (SVG) and report (HTML with a print stylesheet, CSV and JSON whose
figures are the tallies') with the real app, and visibility on every path: a ``members`` coalition
shows nothing to outsiders, a public one's report is everyone's."""

from __future__ import annotations

import csv
import io
import json
import re

from sqlalchemy import select

from node.db import transaction
from node.models import Campaign, CampaignSupport
from node.services import actors
from node.services import campaigns as campaign_service
from node.services import coalitions as coalition_service
from node.services import proposals as proposal_service
from tests.web.coalition_people import (  # noqa: F401 (fixtures)
    AS2,
    VARIANT_TEXTS,
    adapt,
    blue_fixture,
    campaign_fixture,
    count,
    found,
    multipart,
    orgs_fixture,
    path,
    signed_in,
)

# -- the dashboard and the report ------------------------------------------------------------------

async def supported_scenario(node, orgs, blue, campaign, make_browser) -> str:
    """The NGO's German variant supported by dominique; camille supports the campaign itself in
    French; a shared demand of the coalition with one support. Returns the variant's path."""
    ngo = await signed_in(make_browser, "ngo_admin")
    _status, _body, location = await adapt(ngo, node, campaign, VARIANT_TEXTS)
    variant_path = path(node, location)
    dominique = await signed_in(make_browser, "dominique")
    await dominique.post(variant_path + "/support", {}, form_page=variant_path)
    camille = await signed_in(make_browser, "camille", "fr")
    await camille.post(campaign + "/support", {"language": "fr"}, form_page=campaign)
    await node.step()
    async with transaction(node.rt.sessions) as s:
        coalition = await coalition_service.require(s, "blue")
        author = await actors.require_local_actor(s, "camille")
        demand = await proposal_service.create(s, node.uris, coalition.actor, author, "Interdire le plastique",
                                               "<p>Partout en Europe.</p>", publish=True)
        supporter = await actors.require_local_actor(s, "dominique")
        await proposal_service.support(s, node.uris, demand, supporter)
    return variant_path


async def test_report__csv_and_json_figures_equal_the_tallies_and_the_page_prints(
        node, orgs, blue, campaign, make_browser):
    await supported_scenario(node, orgs, blue, campaign, make_browser)
    async with node.rt.sessions() as s:
        stored = await s.scalar(select(Campaign))
        shares = await campaign_service.breakdown(s, stored)
        total = await campaign_service.total(s, stored)
    expected = {((share.member.ap_id if share.member else ""), share.language): share.supports for share in shares}
    assert expected == {(orgs[1].ap_id, "de"): 1, ("", "fr"): 1} and total == stored.support_count == 2
    visitor = make_browser("en")
    answer = await visitor.get("/coalitions/blue/report.json")
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("application/json")
    assert answer.headers["Content-Disposition"] == 'attachment; filename="blue-report.json"'
    assert "no-store" not in answer.headers.get("Cache-Control", "")  # a public coalition
    data = json.loads(answer.text)
    [reported] = data["campaigns"]
    assert reported["supports"] == 2 and data["totals"]["supports"] == 2
    assert {((b["member"] or {}).get("id", ""), b["language"]): b["supports"] for b in reported["breakdown"]} == expected
    assert reported["per_language"] == {"de": 1, "fr": 1} and reported["variants"] == 1
    assert data["demands"][0]["title"] == "Interdire le plastique" and data["demands"][0]["supports"] == 1
    answer = await visitor.get("/coalitions/blue/report.csv")
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/csv")
    assert answer.headers["Content-Disposition"] == 'attachment; filename="blue-report.csv"'
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    breakdown = {(r["member_id"], r["language"]): int(r["supports"]) for r in rows if r["section"] == "breakdown"}
    assert breakdown == expected
    assert [int(r["supports"]) for r in rows if r["section"] == "campaign"] == [2]
    assert [(r["demand"], r["supports"]) for r in rows if r["section"] == "demand"] == [("Interdire le plastique", "1")]
    # The printable page: the same figures, a print stylesheet, links to both files.
    page = await visitor.get("/coalitions/blue/report")
    assert page.status == 200
    assert '<link rel="stylesheet" href="/static/coalitions.css">' in page.text
    assert '<dd id="report-supports">2</dd>' in page.text and '<dd id="report-members">2</dd>' in page.text
    assert "Greenpeace Lyon" in page.text and "Interdire le plastique" in page.text
    assert "/coalitions/blue/report.csv" in page.text and "/coalitions/blue/report.json" in page.text
    css = await visitor.get("/static/coalitions.css")
    assert css.status == 200 and "@media print" in css.text


async def test_dashboard__members_posts_breakdown_and_growth_as_svg(node, orgs, blue, campaign, make_browser):
    await supported_scenario(node, orgs, blue, campaign, make_browser)
    page = await blue.get("/coalitions/blue/dashboard")
    assert page.status == 200
    assert '<span class="number" id="total-members">2</span>' in page.text
    assert '<span class="number" id="total-posts">2</span>' in page.text  # the campaign and one variant
    assert '<span class="number" id="total-supports">2</span>' in page.text
    assert page.text.count('<svg xmlns="http://www.w3.org/2000/svg"') == 2
    assert 'role="img"' in page.text and "Supports over time" in page.text
    per_member = re.search(r'<table class="figures-table" id="per-member">(.*?)</table>', page.text, re.S).group(1)
    assert "Greenpeace Lyon" in per_member and "The campaign itself (no member)" in per_member
    per_language = re.search(r'<table class="figures-table" id="per-language">(.*?)</table>', page.text, re.S).group(1)
    assert "Deutsch" in per_language or "German" in per_language


# -- visibility: a ``members`` coalition leaks on no path ------------------------------------------

async def test_visibility__a_members_coalition_shows_nothing_to_outsiders_on_any_path(
        node, orgs, make_browser):
    maire = await signed_in(make_browser, "maire")
    assert (await found(maire, "secret", name="Coalition secrète", level="members")).status == 303
    status, body, location = await multipart(
        maire, node, "/coalitions/secret/campaigns/new",
        {"name_fr": "Campagne cachée", "content_fr": "Texte caché", "message_fr": "Message caché"}, {},
        form_page="/coalitions/secret/campaigns/new")
    assert status == 303, body[:300]
    campaign_path = path(node, location)
    async with transaction(node.rt.sessions) as s:
        coalition = await coalition_service.require(s, "secret")
        author = await actors.require_local_actor(s, "maire")
        await proposal_service.create(s, node.uris, coalition.actor, author, "Demande cachée", "<p>Cachée.</p>",
                                      publish=True)
    paths = ("/actors/secret", campaign_path, "/coalitions/secret/report", "/coalitions/secret/report.csv",
             "/coalitions/secret/report.json", "/coalitions/secret/dashboard", "/orgs/secret/proposals",
             "/orgs/secret/theme.css")
    anonymous = make_browser("en")
    camille = await signed_in(make_browser, "camille")
    for visitor in (anonymous, camille):
        for url in paths:
            answer = await visitor.get(url)
            assert answer.status == 404, (url, answer.status)
            for secret in ("Coalition secrète", "Campagne cachée", "Demande cachée", "Message caché"):
                assert secret not in answer.text, (url, secret)
        assert (await visitor.get(campaign_path, Accept=AS2)).status == 404
        assert "Coalition secrète" not in (await visitor.get("/")).text
    # The founder's admin reads everything; the report files are not to be kept by caches.
    for url in paths:
        assert (await maire.get(url)).status == 200, url
    for url in ("/coalitions/secret/report.csv", "/coalitions/secret/report.json", "/coalitions/secret/report"):
        assert (await maire.get(url)).headers["Cache-Control"] == "no-store"
    # The staff of a member organisation read it; the report and dashboard stay its admins'.
    async with transaction(node.rt.sessions) as s:
        coalition = await coalition_service.require(s, "secret")
        await coalition_service.invite(s, node.uris, coalition.actor, orgs[1])
        await coalition_service.answer_invite(s, node.uris, orgs[1], coalition.actor, True)
    modo = await signed_in(make_browser, "ngo_modo")
    assert (await modo.get("/actors/secret")).status == 200
    assert (await modo.get(campaign_path)).status == 200
    assert (await modo.get("/coalitions/secret/report.csv")).status == 403
    assert (await modo.get("/coalitions/secret/dashboard")).status == 403
    # A Like-free visitor cannot support what it cannot read.
    answer = await camille.post(campaign_path + "/support", {}, form_page="/actors/lyon")
    assert answer.status == 404
    assert await count(node, CampaignSupport) == 0


async def test_visibility__a_public_coalitions_report_is_everyones_its_member_list_its_admins(
        node, orgs, blue, make_browser):
    anonymous = make_browser("en")
    assert (await anonymous.get("/coalitions/blue/report")).status == 200
    assert (await anonymous.get("/coalitions/blue/dashboard")).status == 200
    assert (await anonymous.get("/coalitions/blue/members")).status == 303  # to log in
    camille = await signed_in(make_browser, "camille")
    assert (await camille.get("/coalitions/blue/members")).status == 403


def test_growth_series__from_the_eve_of_the_first_support_to_today_zeros_included_and_bounded():
    from datetime import date, timedelta

    from web.participation.campaigns import GROWTH_DAYS, cumulative, daily_series

    today = date(2026, 12, 6)
    assert daily_series({}, today) == []
    series = daily_series({today - timedelta(days=2): 3, today: 1}, today)
    assert series == [(today - timedelta(days=3), 0), (today - timedelta(days=2), 3),
                      (today - timedelta(days=1), 0), (today, 1)]
    assert cumulative(series) == [(today - timedelta(days=3), 0), (today - timedelta(days=2), 3),
                                  (today - timedelta(days=1), 3), (today, 4)]
    old = daily_series({today - timedelta(days=1000): 5, today: 1}, today)
    assert len(old) == GROWTH_DAYS and old[-1] == (today, 1)
