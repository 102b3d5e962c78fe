"""Participation pages: organisation, discussion, proposals, articles, stakeholders, initiatives, visits."""

from __future__ import annotations

import html
import re

from sqlalchemy import func, select

from node.models import Contribution, DailyVisits, Follow, Membership, ModerationLogEntry, Proposal
from tests.web.participation_helpers import make_proposals
from tests.web.test_no_third_party import Resources
from web.participation import visits


def text_of(page: str) -> str:
    """The visible text, whitespace collapsed (markup and attributes dropped)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


# -- organisation page -----------------------------------------------------------------------------

async def test_organisation_page__anonymous_sees_intro_community_dashboard_discussions(node, world, clients):
    """The Civocracy organisation page: intro in the reader's language, community, dashboard, discussions."""
    page = await clients("en").get("/actors/lyon")
    assert page.status == 200
    text = text_of(page.text)
    assert "The City of Lyon consults its residents." in text
    assert "Lyon 4e, 30 000 habitants" in text and "Nature en ville" in text
    assert "1 person follows Ville de Lyon" in text
    assert 'href="/follow?target=' in page.text
    assert "Become an ambassador" not in text  # anonymous: a log-in link instead
    # Dashboard: 1 open official discussion (the other one is closed, the citizen one pending).
    assert "Open official discussions 1" in text
    assert re.search(r'<svg [^>]*role="img"', page.text) and "<title id=\"chart-visits-title\">" in page.text
    # Open discussions: the official one, with its badge, participants and activity; not the pending one.
    assert "Transform the Clos Jouve with us!" in text and "Official" in text
    assert "4 participants" in text and "active today" in text
    assert "More compost bins" not in text and "Bicycles on the slopes" not in text
    assert 'rel="stylesheet" href="' + node.base + '/orgs/lyon/theme.css?v=' in page.text
    assert "style=" not in page.text and "<script" not in page.text


async def test_organisation_page__other_language_falls_back_with_a_note(node, world, clients):
    """No German introduction: the French one is shown, marked lang="fr", with a note in German."""
    page = await clients("de").get("/actors/lyon")
    assert page.status == 200
    assert '<div class="prose content" lang="fr">' in page.text
    assert "La Ville de Lyon consulte ses habitants." in page.text
    assert "Français" in text_of(page.text) and "The City of Lyon" not in page.text


async def test_theme_css__colours_as_variables_with_readable_text(node, world, clients):
    """The organisation's colours arrive as a stylesheet (the CSP forbids inline styles)."""
    css = await clients().get("/orgs/lyon/theme.css")
    assert css.status == 200 and css.headers["Content-Type"].startswith("text/css")
    assert "--org-primary: #7a1f3d;" in css.text and "--org-on-primary: #ffffff;" in css.text
    assert "--org-accent: #ffd34d;" in css.text and "--org-on-accent: #000000;" in css.text
    assert (await clients().get("/orgs/nobody/theme.css")).status == 404


async def test_dashboard__figures_with_change_and_text_alternative(node, world, clients):
    """New comments: 3 in the last 30 days against 1 before → ▲ 200%, said in words too."""
    page = await clients("en").get("/actors/lyon")
    text = text_of(page.text)
    assert "New comments 3 ▲ 200% up 200% on the previous 30 days" in text
    # Visits: nothing before, so no arrow, only the sentence.
    assert "nothing to compare with in the previous 30 days" in text
    assert 'class="chart chart-bars"' in page.text and "3 comments in total" in text


async def test_organisation__follow_unfollow_and_become_ambassador(node, world, clients):
    """Logged-in residents follow, unfollow and become ambassadors with CSRF-protected forms."""
    camille = clients()
    await camille.login("camille")
    page = await camille.get("/actors/lyon")
    assert "Become an ambassador" in page.text and ">Follow<" in page.text
    reply = await camille.post("/orgs/lyon/follow", {"action": "follow"}, form="/actors/lyon")
    assert reply.status == 303 and reply.location.endswith("/actors/lyon#community")
    assert "2 people follow Ville de Lyon" in text_of((await camille.get("/actors/lyon")).text)
    reply = await camille.post("/orgs/lyon/ambassador", {}, form="/actors/lyon")
    assert reply.status == 303
    async with node.rt.sessions() as s:
        roles = list(await s.scalars(select(Membership.role)
                                     .where(Membership.organization_id == world.org.id)))
    assert "ambassador" in roles
    assert "You are an ambassador of this organisation" in (await camille.get("/actors/lyon")).text
    await camille.post("/orgs/lyon/follow", {"action": "unfollow"}, form="/actors/lyon")
    assert "1 person follows Ville de Lyon" in text_of((await camille.get("/actors/lyon")).text)
    refused = await camille.post("/orgs/lyon/follow", {"action": "follow"}, csrf=False)
    assert refused.status == 403


# -- discussion page -------------------------------------------------------------------------------

async def test_discussion_page__learn_more_and_get_involved_for_anonymous(node, world, clients):
    """Both parts: introduction, articles, progress, followers, key influencers; thread and actions."""
    page = await clients("en").get("/orgs/lyon/discussions/clos-jouve")
    assert page.status == 200
    text = text_of(page.text)
    for part in ("Learn more", "Get involved", "Articles and reports", "Progress", "Discussion followers",
                 "Key influencers", "Take action"):
        assert part in text
    assert "La fonction actuelle du Clos Jouve" in text  # body only in French: shown with a note
    assert "Le Clos-Jouve : un espace à réinventer" in text and "Article added by Camille" in text
    assert ("The discussion is in progress Participants 4 Widely supported contributions 1 "
            "Contributions recognised for their quality 1 Contributions with an impact 1") in text
    assert "CDQ X-Rousse Ouest" in text and "Association" in text and "1 agreement received" in text
    assert "Supported by the community" in text and "In favour" in text
    assert "Official answer" in text and "Recognised for its quality" in text and "Had an impact" in text
    assert "+ 2 people agree" in text
    assert "Propositions du CDQ" in text and "1 person acted" in text
    assert 'name="content"' not in page.text and "Log in to contribute" in text
    # Three levels: the reply to the reply is nested twice.
    assert page.text.count('<ol class="replies"') == 2


async def test_discussion_page__as2_requests_get_activity_json(node, world, clients):
    """An AS2 request gets the federation layer's document, never the HTML page."""
    reply = await clients().get("/orgs/lyon/discussions/clos-jouve", Accept="application/activity+json")
    assert reply.headers["Content-Type"].startswith("application/activity+json")
    assert "<html" not in reply.text


async def test_discussion__closed_shows_conclusion_and_no_form(node, world, clients):
    camille = clients()
    await camille.login("camille")
    page = await camille.get("/orgs/lyon/discussions/velos")
    text = text_of(page.text)
    assert page.status == 200 and "Conclusion" in text
    assert "Thank you: two new cycle lanes in 2026." in text
    assert 'name="content"' not in page.text and "no longer takes contributions" in text
    refused = await camille.post("/orgs/lyon/discussions/velos/contributions", {"content": "Late"},
                                 form="/orgs/lyon/discussions/velos")
    assert refused.status == 403
    async with node.rt.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Contribution)
                              .where(Contribution.discussion_id == world.ids["closed"])) == 0


async def test_discussion__pending_citizen_discussion_only_for_moderators_and_author(node, world, clients):
    path = "/orgs/lyon/discussions/composteurs"
    assert (await clients().get(path)).status == 404
    dominique, camille, modo = clients(), clients(), clients()
    await dominique.login("dominique")
    await camille.login("camille")
    await modo.login("modo")
    assert (await dominique.get(path)).status == 404
    assert "waits for a moderator" in text_of((await camille.get(path)).text)
    page = await modo.get(path)
    assert page.status == 200 and "Approve and publish" in page.text
    assert "More compost bins" in text_of((await modo.get("/actors/lyon")).text)  # moderation list
    refused = await camille.post("/orgs/lyon/admin/discussions/composteurs/moderate",
                                 {"decision": "approve"}, form=path)
    assert refused.status == 403
    reply = await modo.post("/orgs/lyon/admin/discussions/composteurs/moderate",
                            {"decision": "approve"}, form=path)
    assert reply.status == 303
    assert (await clients().get(path)).status == 200


async def test_contributions__post_reply_and_agree_toggle(node, world, clients):
    """A contribution with an alignment, a reply to it, and "agree" that toggles."""
    camille, dominique = clients(), clients()
    await camille.login("camille")
    await dominique.login("dominique")
    path = "/orgs/lyon/discussions/clos-jouve"
    form = await camille.get(path)
    assert 'name="content"' in form.text and 'name="alignment"' in form.text
    reply = await camille.post(f"{path}/contributions", {"content": "Des bancs à l'ombre", "alignment": "neutral"},
                               form=path)
    assert reply.status == 303 and "#contribution-" in reply.location
    async with node.rt.sessions() as s:
        mine = await s.scalar(select(Contribution).where(Contribution.content.like("%bancs%")))
    assert mine.alignment == "neutral" and mine.content == "<p>Des bancs à l&#x27;ombre</p>"
    answer = await dominique.post(f"{path}/contributions", {"content": "Oui !", "parent": str(mine.id)}, form=path)
    assert answer.status == 303
    async with node.rt.sessions() as s:
        child = await s.scalar(select(Contribution).where(Contribution.parent_id == mine.id))
    assert child.content == "<p>Oui !</p>" and child.depth == 2
    agree = f"{path}/contributions/{mine.id}/agree"
    assert (await dominique.post(agree, {}, form=path)).status == 303
    assert "+ 1 person agrees" in text_of((await clients().get(path)).text)
    assert 'aria-pressed="true"' in (await dominique.get(path)).text
    await dominique.post(agree, {}, form=path)  # the same button withdraws it
    async with node.rt.sessions() as s:
        assert (await s.get(Contribution, mine.id)).agree_count == 0


async def test_contributions__bad_input_is_a_400_with_the_text_kept(node, world, clients):
    camille = clients()
    await camille.login("camille")
    path = "/orgs/lyon/discussions/clos-jouve"
    reply = await camille.post(f"{path}/contributions", {"content": "Mon avis", "alignment": "maybe"}, form=path)
    assert reply.status == 400
    assert "Choose in favour, neutral or against." in reply.text and ">Mon avis</textarea>" in reply.text
    empty = await camille.post(f"{path}/contributions", {"content": "  "}, form=path)
    assert empty.status == 400 and "Write your contribution." in empty.text
    missing = await camille.post(f"{path}/contributions", {"content": "x", "parent": "999999"}, form=path)
    assert missing.status == 404
    french = await clients("fr").get(path)
    assert french.status == 200


async def test_contributions__reply_page_works_without_javascript(node, world, clients):
    camille = clients()
    await camille.login("camille")
    path = f"/orgs/lyon/discussions/clos-jouve/contributions/{world.ids['top']}"
    page = await camille.get(path)
    assert page.status == 200 and "Installation d'un composteur" in page.text
    assert f'name="parent" value="{world.ids["top"]}"' in page.text
    redirect = await clients().get(world.ids["top_ap_id"])
    assert redirect.status == 302
    assert f"/orgs/lyon/discussions/clos-jouve/contributions/{world.ids['top']}#contribution-" in redirect.location


async def test_discussion__follow_and_unfollow_its_group(node, world, clients):
    camille = clients()
    await camille.login("camille")
    path = "/orgs/lyon/discussions/clos-jouve"
    assert (await camille.post(f"{path}/follow", {"action": "follow"}, form=path)).status == 303
    assert "1 person has joined the discussion" in text_of((await clients().get(path)).text)
    async with node.rt.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Follow)
                              .where(Follow.follower_id == world.people["camille"].id)) == 1
    await camille.post(f"{path}/follow", {"action": "unfollow"}, form=path)
    assert "0 people have joined the discussion" in text_of((await clients().get(path)).text)


async def test_citizen_discussion__a_resident_proposes_one_for_moderation(node, world, clients):
    eva = clients()
    await eva.login("eva")
    form = await eva.get("/orgs/lyon/new-discussion")
    assert form.status == 200 and 'for="title"' in form.text
    bad = await eva.post("/orgs/lyon/new-discussion", {"title": "Ok", "body": ""}, form="/orgs/lyon/new-discussion")
    assert bad.status == 400 and "The title needs between 3 and 200 characters." in bad.text
    reply = await eva.post("/orgs/lyon/new-discussion",
                           {"title": "Des arbres rue d'Austerlitz", "body": "Plantons des arbres."},
                           form="/orgs/lyon/new-discussion")
    assert reply.status == 303 and reply.location.endswith("/orgs/lyon/discussions/des-arbres-rue-d-austerlitz")
    assert "waits for a moderator" in (await eva.get(reply.location)).text
    assert (await clients().get(reply.location)).status == 404
    assert (await clients().get("/orgs/lyon/new-discussion")).status == 303  # anonymous: log in first


# -- proposals -------------------------------------------------------------------------------------

async def test_proposals_index__filter_sort_and_pagination(node, world, clients):
    ap_ids = await make_proposals(node, world, 25)
    visitor = clients()
    first = await visitor.get("/orgs/lyon/proposals?sort=supports")
    text = text_of(first.text)
    assert first.status == 200 and "25 proposals" in text
    # Supports are 0-4 by i % 5: the most supported (4) come first, newest first among equals.
    assert text.index("Idea number 24") < text.index("Idea number 19") < text.index("Idea number 23")
    assert 'aria-current="page"' in first.text and "Next page" in text
    second = await visitor.get("/orgs/lyon/proposals?sort=supports&page=2")
    assert len(re.findall(r'class="card proposal-card"', second.text)) == 5
    recent = text_of((await visitor.get("/orgs/lyon/proposals?sort=oldest")).text)
    assert recent.index("Idea number 00") < recent.index("Idea number 01")
    async with node.rt.sessions() as s:
        accepted = await s.scalar(select(Proposal).where(Proposal.ap_id == ap_ids[3]))
        accepted.state = "accepted"
        await s.commit()
    only = await visitor.get("/orgs/lyon/proposals?state=accepted")
    assert "1 proposal" in text_of(only.text) and "Idea number 03" in only.text
    assert "Idea number 04" not in only.text
    bad = await visitor.get("/orgs/lyon/proposals?state=nonsense")
    assert bad.status == 400 and "This filter does not exist" in bad.text


async def test_proposal__submit_draft_publish_and_withdraw(node, world, clients):
    camille = clients()
    await camille.login("camille")
    form = "/orgs/lyon/proposals/new"
    bad = await camille.post(form, {"title": "A", "body": "", "action": "draft"}, form=form)
    assert bad.status == 400 and "Describe your proposal." in bad.text and 'value="A"' in bad.text
    reply = await camille.post(form, {"title": "Un composteur au jardin", "body": "Au jardin des plantes.",
                                      "action": "draft"}, form=form)
    assert reply.status == 303
    proposal = reply.location
    assert "Draft" in (await camille.get(proposal)).text
    assert (await clients().get(proposal)).status == 404  # drafts: the author only
    assert (await camille.post(f"{proposal}/publish", {}, form=proposal)).status == 303
    page = await clients().get(proposal)
    assert page.status == 200 and "Published" in text_of(page.text)
    eva = clients()
    await eva.login("eva")
    assert (await eva.post(f"{proposal}/withdraw", {}, form=proposal)).status == 403
    assert (await camille.post(f"{proposal}/withdraw", {}, form=proposal)).status == 303
    assert "Withdrawn" in text_of((await clients().get(proposal)).text)


async def test_proposal__support_toggles_and_respects_the_limit_of_the_space(node, world, clients):
    maire = clients()
    await maire.login("maire")
    spaces = "/orgs/lyon/admin/spaces"
    assert (await maire.post(spaces, {"slug": "budget", "title_en": "Budget 2026", "visibility": "public",
                                      "supports_per_person": "1"}, form=spaces)).status == 303
    today = __import__("datetime").date.today()
    phase = {"name_en": "Vote", "starts_on": str(today), "ends_on": str(today.replace(year=today.year + 1)),
             "component_proposals": "on", "component_supports": "on"}
    assert (await maire.post(f"{spaces}/budget/phases", phase, form=spaces)).status == 303
    camille = clients()
    await camille.login("camille")
    form = "/orgs/lyon/proposals/new"
    page = await camille.get(form)
    space_id = re.search(r'<option value="(\d+)">Budget 2026', page.text).group(1)
    made = []
    for title in ("Un parc", "Une piste"):
        reply = await camille.post(form, {"title": title, "body": "Texte", "space": space_id}, form=form)
        made.append(reply.location)
    eva = clients()
    await eva.login("eva")
    assert (await eva.post(f"{made[0]}/support", {}, form=made[0])).status == 303
    page = await eva.get(made[0])
    assert "1 support" in text_of(page.text) and 'aria-pressed="true"' in page.text
    assert "You have 0 supports left in this space." in text_of(page.text)
    refused = await eva.post(f"{made[1]}/support", {}, form=made[1])
    assert refused.status == 409 and "You have already given all your 1 supports" in refused.text
    assert (await eva.post(f"{made[0]}/support", {}, form=made[0])).status == 303  # withdraw
    assert "0 supports" in text_of((await eva.get(made[0])).text)


async def test_answer__a_resident_gets_403_and_an_official_answers_then_publishes(node, world, clients):
    [ap_id] = await make_proposals(node, world, 1)
    token = ap_id.rsplit("/", 1)[1]
    admin_page = f"/orgs/lyon/admin/proposals/{token}"
    camille = clients()
    await camille.login("camille")
    assert (await camille.get(admin_page)).status == 403
    refused = await camille.post(f"{admin_page}/answer", {"answer": "Oui", "answer_state": "accepted"},
                                 form=ap_id)
    assert refused.status == 403 and "You are not allowed to do this." in refused.text
    elu = clients()
    await elu.login("elu")
    saved = await elu.post(f"{admin_page}/answer", {"answer": "Nous le ferons.", "answer_state": "accepted",
                                                    "action": "save"}, form=admin_page)
    assert saved.status == 303
    assert "Nous le ferons." not in (await clients().get(ap_id)).text  # written, not published
    assert (await elu.post(f"{admin_page}/publish", {}, form=admin_page)).status == 303
    page = text_of((await clients().get(ap_id)).text)
    assert "Official answer of Ville de Lyon" in page and "Nous le ferons." in page and "Accepted" in page
    assert "Published → Accepted" in page  # the history
    bad = await elu.post(f"{admin_page}/answer", {"answer": "", "answer_state": "bogus"}, form=admin_page)
    assert bad.status == 400 and "Write the answer." in bad.text


# -- articles, stakeholders, initiatives ----------------------------------------------------------

async def test_article_page_and_adding_one(node, world, clients):
    camille = clients()
    await camille.login("camille")
    path = "/orgs/lyon/discussions/clos-jouve"
    bad = await camille.post(f"{path}/articles", {"article_title": "Un rapport", "article_link": "ftp://x"}, form=path)
    assert bad.status == 400 and "Give a full address starting with https://" in bad.text
    reply = await camille.post(f"{path}/articles", {"article_title": "Étude du CAUE", "article_kind": "report",
                                                    "article_link": "https://caue69.fr/etude"}, form=path)
    assert reply.status == 303 and "/articles/" in reply.location
    page = await clients().get(reply.location)
    assert page.status == 200 and "Étude du CAUE" in page.text and "Report" in page.text
    assert 'href="https://caue69.fr/etude"' in page.text


async def test_stakeholder_map__grouped_by_role_and_ranked(node, world, clients):
    maire = clients()
    await maire.login("maire")
    manage = "/orgs/lyon/admin/discussions/clos-jouve"
    assert (await maire.post(f"{manage}/stakeholders", {"target": "eva", "role": "expert",
                                                        "description": "Urbaniste"}, form=manage)).status == 303
    assert (await maire.post(f"{manage}/stakeholders", {"target": "camille", "role": "expert"},
                             form=manage)).status == 303
    unknown = await maire.post(f"{manage}/stakeholders", {"target": "nobody", "role": "expert"}, form=manage)
    assert unknown.status == 400 and "No account was found" in unknown.text
    page = text_of((await clients().get("/orgs/lyon/discussions/clos-jouve/stakeholders")).text)
    assert page.index("Expert") < page.index("Association")
    # Among experts, Camille (2 agreements received) ranks before Eva (0).
    assert page.index("Camille") < page.index("Urbaniste")
    camille = clients()
    await camille.login("camille")
    assert (await camille.post(f"{manage}/stakeholders", {"target": "eva", "role": "expert"},
                               form="/actors/lyon")).status == 403


async def test_initiatives__page_create_and_i_acted(node, world, clients):
    path = "/orgs/lyon/discussions/clos-jouve/initiatives"
    page = await clients().get(path)
    assert page.status == 200 and "Propositions du CDQ" in page.text and "1 person acted" in text_of(page.text)
    camille = clients()
    await camille.login("camille")
    act = world.ids["initiative"] + "/act"
    assert (await camille.post(act, {}, form=path)).status == 303
    assert "2 people acted" in text_of((await clients().get(path)).text)
    assert (await camille.post(act, {}, form=path)).status == 303  # "I acted" again cancels it
    assert "1 person acted" in text_of((await clients().get(path)).text)
    reply = await camille.post(path, {"title": "Grainothèque", "body": "Échangeons des graines."}, form=path)
    assert reply.status == 303 and "Grainothèque" in (await clients().get(path)).text


# -- visits ----------------------------------------------------------------------------------------

async def test_visits__counted_after_a_flush_without_cookies_bots_or_as2(node, world, clients):
    """Human page views are counted per organisation and day; bots and AS2 fetches are not; the count
    sets no cookie and stores no address."""
    visitor = clients()
    first = await visitor.get("/actors/lyon")
    # The only cookie a first page may set is the CSRF session of the layout's forms.
    assert {c.split("=", 1)[0] for c in first.headers.getall("Set-Cookie", [])} <= {"civic_session"}
    again = await visitor.get("/actors/lyon")
    assert "Set-Cookie" not in again.headers
    await visitor.get("/orgs/lyon/discussions/clos-jouve")
    await clients(user_agent="Googlebot/2.1 (+http://www.google.com/bot.html)").get("/actors/lyon")
    await clients().get("/actors/lyon", Accept="application/activity+json")
    await visits.flush(node.app)  # the periodic flush may have written some already: same rows
    assert await _visit_rows(node) == [(False, 1), (True, 2)]
    text = text_of((await clients().get("/actors/lyon")).text)
    assert "Visits 3 nothing to compare with in the previous 30 days" in text
    await visits.flush(node.app)
    assert await _visit_rows(node) == [(False, 1), (True, 3)]  # the view just made


async def _visit_rows(node) -> list[tuple[bool, int]]:
    """(organisation page?, count) of today's rows: discussion rows first."""
    async with node.rt.sessions() as s:
        rows = await s.execute(select(DailyVisits.discussion_id, DailyVisits.count)
                               .order_by(DailyVisits.discussion_id.is_(None)))
        return [(d is None, n) for d, n in rows]


# -- admin screens ---------------------------------------------------------------------------------

async def test_admin__open_and_close_an_official_discussion(node, world, clients):
    camille, elu, modo = clients(), clients(), clients()
    for client, handle in ((camille, "camille"), (elu, "elu"), (modo, "modo")):
        await client.login(handle)
    assert (await camille.get("/orgs/lyon/admin")).status == 403
    assert (await clients().get("/orgs/lyon/admin")).status == 303  # anonymous: log in first
    admin = "/orgs/lyon/admin/discussions"
    bad = await elu.post(admin, {"slug": "Bad Slug!", "title_en": "A park", "visibility": "public"}, form=admin)
    assert bad.status == 400 and "Use 1 to 48 lower-case letters" in bad.text and 'value="A park"' in bad.text
    reply = await elu.post(admin, {"slug": "parc", "title_fr": "Un parc", "title_en": "A park",
                                   "visibility": "public", "alignment_enabled": "on"}, form=admin)
    assert reply.status == 303 and reply.location.endswith("/orgs/lyon/discussions/parc")
    page = await clients("fr").get("/orgs/lyon/discussions/parc")
    assert page.status == 200 and "Un parc" in page.text and "Officielle" in page.text
    close = "/orgs/lyon/admin/discussions/parc/close"
    assert (await modo.post(close, {"conclusion_en": "Done"}, form=admin)).status == 403
    empty = await elu.post(close, {}, form=admin)
    assert empty.status == 400 and "Write the conclusion in at least one language." in empty.text
    assert (await elu.post(close, {"conclusion_en": "The park opens in June."}, form=admin)).status == 303
    closed = await clients().get("/orgs/lyon/discussions/parc")
    assert "The park opens in June." in closed.text and 'name="content"' not in closed.text


async def test_admin__profile_sets_intro_and_colours(node, world, clients):
    maire, modo = clients(), clients()
    await maire.login("maire")
    await modo.login("modo")
    profile = "/orgs/lyon/admin/profile"
    assert (await modo.get(profile)).status == 403
    form = await maire.get(profile)
    assert form.status == 200 and "La Ville de Lyon consulte ses habitants." in form.text
    bad = await maire.post(profile, {"primary_color": "red", "accent_color": "#ffd34d", "default_language": "fr",
                                     "territory": "Lyon 4e"}, form=profile)
    assert bad.status == 400 and "Give a colour like #0b5cad." in bad.text and 'value="Lyon 4e"' in bad.text
    saved = await maire.post(profile, {"intro_de": "Die Stadt Lyon fragt ihre Einwohner.",
                                       "primary_color": "#112233", "accent_color": "#FFD34D",
                                       "default_language": "fr", "themes": "Vélo, Arbres"}, form=profile)
    assert saved.status == 303
    assert "--org-primary: #112233;" in (await clients().get("/orgs/lyon/theme.css")).text
    page = await clients("de").get("/actors/lyon")
    assert "Die Stadt Lyon fragt ihre Einwohner." in page.text and 'class="lang-note"' not in page.text
    assert "Vélo" in page.text and "Nature en ville" not in page.text


async def test_admin__moderators_mark_and_hide_contributions(node, world, clients):
    modo, camille = clients(), clients()
    await modo.login("modo")
    await camille.login("camille")
    path = "/orgs/lyon/discussions/clos-jouve"
    top, reply = world.ids["top"], world.ids["reply"]
    assert (await camille.post(f"{path}/contributions/{top}/moderate", {"mark": "hidden-on"}, form=path)).status == 403
    assert (await modo.post(f"{path}/contributions/{reply}/moderate", {"mark": "quality-off"},
                            form=path)).status == 303
    # Hiding needs the reason shown in its place (a translated 400 without one), and is logged.
    refused = await modo.post(f"{path}/contributions/{top}/moderate", {"mark": "hidden-on"}, form=path)
    assert refused.status == 400 and "Give the reason shown in place of the content." in refused.text
    assert (await modo.post(f"{path}/contributions/{top}/moderate", {"mark": "hidden-on", "reason": "Hors sujet"},
                            form=path)).status == 303
    assert (await modo.post(f"{path}/contributions/{top}/moderate", {"mark": "bogus"}, form=path)).status == 400
    async with node.rt.sessions() as s:
        logged = [(e.action, e.reason) for e in await s.scalars(select(ModerationLogEntry))]
    assert logged == [("hide", "Hors sujet")]
    public = text_of((await clients().get(path)).text)
    assert "Installation d'un composteur" not in public and "Recognised for its quality" not in public
    assert "Hidden by a moderator" in (await modo.get(path)).text
    # It keeps its place and its own page, showing that it is hidden instead of its text (issue 7).
    own = await clients().get(f"{path}/contributions/{top}")
    assert own.status == 200 and "Installation d'un composteur" not in own.text
    assert "Hidden by the moderators: Hors sujet" in own.text
    # Showing it again is logged too, and the text is back.
    assert (await modo.post(f"{path}/contributions/{top}/moderate", {"mark": "hidden-off"}, form=path)).status == 303
    async with node.rt.sessions() as s:
        assert [e.action for e in await s.scalars(select(ModerationLogEntry).order_by(ModerationLogEntry.id))] == [
            "hide", "restore"]
    assert "Installation d'un composteur" in text_of((await clients().get(path)).text)


# -- accessibility and self-containment -----------------------------------------------------------

HEADING_RE = re.compile(r"<h([1-6])[\s>]")


def check_page(node, reply) -> None:
    """No inline code or style, every field labelled, nothing from other hosts, headings in order."""
    parser = Resources()
    parser.feed(reply.text)
    assert not parser.inline, parser.inline
    assert parser.tags.count("main") == 1
    assert [f for f in parser.fields if f not in parser.labels] == []
    for _tag, _attribute, url in parser.fetched:
        assert url.startswith(("/", node.base, "data:")), url
    for href, in_content in parser.links:
        assert in_content or href.startswith(("/", node.base, "#", "?")), href
    levels = [int(level) for level in HEADING_RE.findall(reply.text)]
    assert levels and levels[0] == 1 and levels.count(1) == 1, levels
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), levels
    csp = reply.headers["Content-Security-Policy"]
    assert "form-action 'self'" in csp and "style-src 'self'" in csp


async def test_pages__accessible_and_self_contained_for_visitors_and_admins(node, world, clients):
    [proposal] = await make_proposals(node, world, 1)
    token = proposal.rsplit("/", 1)[1]
    public = ["/actors/lyon", "/orgs/lyon/discussions/clos-jouve", "/orgs/lyon/discussions/velos",
              f"/orgs/lyon/discussions/clos-jouve/contributions/{world.ids['top']}",
              "/orgs/lyon/discussions/clos-jouve/stakeholders", "/orgs/lyon/discussions/clos-jouve/initiatives",
              "/orgs/lyon/proposals", proposal]
    admin = ["/orgs/lyon/admin", "/orgs/lyon/admin/profile", "/orgs/lyon/admin/spaces",
             "/orgs/lyon/admin/discussions", "/orgs/lyon/admin/discussions/clos-jouve",
             "/orgs/lyon/admin/proposals", f"/orgs/lyon/admin/proposals/{token}", "/orgs/lyon/new-discussion",
             "/orgs/lyon/proposals/new", "/orgs/lyon/discussions/composteurs"]
    visitor, maire = clients("fr"), clients("de")
    await maire.login("maire")
    for client, paths in ((visitor, public), (maire, public + admin)):
        for path in paths:
            reply = await client.get(path)
            assert reply.status == 200, (path, reply.status)
            check_page(node, reply)
    article = await maire.post("/orgs/lyon/discussions/clos-jouve/articles",
                               {"article_title": "Plan", "article_body": "Le plan."},
                               form="/orgs/lyon/discussions/clos-jouve")
    check_page(node, await visitor.get(article.location))
    bad = await maire.post("/orgs/lyon/admin/spaces", {"slug": "?"}, form="/orgs/lyon/admin/spaces")
    assert bad.status == 400
    check_page(node, bad)


async def test_pages__odd_ids_and_parameters_are_4xx_never_500(node, world, clients):
    """Ids out of the integer range, non-ASCII digits and unknown filters: 404 or 400, never 500."""
    camille = clients()
    await camille.login("camille")
    path = "/orgs/lyon/discussions/clos-jouve"
    for bad in ("99999999999999999999", "2147483648"):
        assert (await camille.get(f"{path}/contributions/{bad}")).status == 404
        assert (await camille.post(f"{path}/contributions/{bad}/agree", {}, form=path)).status == 404
        assert (await camille.post(f"{path}/contributions", {"content": "x", "parent": bad},
                                   form=path)).status == 404
    assert (await camille.get("/orgs/lyon/proposals?page=%C2%B2")).status == 400
    assert (await camille.get("/orgs/lyon/proposals?sort=nope")).status == 400
    assert (await camille.get("/orgs/nobody/proposals")).status == 404
    assert (await camille.get("/orgs/lyon/discussions/nothing-here")).status == 404
    long_text = "<" * 9000  # 9,000 characters, 36,000 once escaped
    reply = await camille.post(f"{path}/contributions", {"content": long_text}, form=path)
    assert reply.status == 400 and "A contribution is limited to" in reply.text


async def test_log_in_links_and_redirects_bring_people_back(node, world, clients):
    """Log-in links and the log-in redirect of anonymous POSTs carry a local ``next`` path."""
    visitor = clients()
    page = await visitor.get("/orgs/lyon/discussions/clos-jouve")
    assert 'href="/login?next=/orgs/lyon/discussions/clos-jouve"' in page.text
    assert 'href="/register?next=/orgs/lyon/discussions/clos-jouve"' in page.text
    reply = await visitor.post("/orgs/lyon/follow", {"action": "follow"}, form="/actors/lyon")
    assert reply.status == 303 and reply.location == "/login?next=/actors/lyon"
    back = await visitor.post("/login", {"username": "camille", "password": "correct horse battery",
                                         "next": "/orgs/lyon/discussions/clos-jouve"}, form="/login")
    assert back.status == 303 and back.location == "/orgs/lyon/discussions/clos-jouve"
