"""Acceptance of "Participation spaces", through the browser only (links, buttons, forms): a new
resident joins the Clos Jouve discussion and submits a proposal; the city answers it officially."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DEMO_PASSWORD, visit

pytestmark = pytest.mark.e2e

HANDLE = "margaux_e2e"
NAME = "Margaux (Croix-Rousse)"
PASSWORD = "un-mot-de-passe-assez-long"
CONTRIBUTION = ("Des bacs à fleurs et des bancs à l'ombre des platanes, côté rue Hénon, "
                "pour que les anciens puissent s'asseoir près des boulistes.")
PROPOSAL = "Des bancs ombragés autour du Clos Jouve"
PROPOSAL_BODY = "Six bancs sous les platanes, côté rue Hénon.\n\nAvec une fontaine à proximité."
ANSWER = "Accepted: the benches will be installed with the first phase of works, in spring 2027."


def number(locator) -> int:
    """The first integer in a locator's text (counts are shown as "12", "12 personnes…")."""
    expect(locator).to_have_text(re.compile(r"\d"))
    return int(re.search(r"\d+", locator.inner_text().replace("\u202f", "").replace("\xa0", "")).group())


def figure(page, label: str):
    """The value of a figure of the progress box, by its label."""
    return page.locator(".progress .figure").filter(has=page.get_by_text(label, exact=True)).locator("dd")


def leaf_contribution(page, text: str):
    """The contribution showing ``text`` itself (not one of its ancestors in the thread)."""
    return page.locator("li.contribution:not(:has(li.contribution))").filter(has_text=text)


def test_resident_journey__register_follow_contribute_agree_propose_then_official_answer(new_context):
    """A resident registers, follows, contributes, agrees and proposes; the admin's answer shows up."""
    resident = new_context("fr").new_page()
    visitor = new_context("en").new_page()  # an anonymous reader, in English, watching the same pages

    # -- a visitor finds the Clos Jouve discussion from the home page ------------------------------
    visit(resident, "/")
    resident.get_by_role("link", name="Ville de Lyon", exact=True).click()
    expect(resident.get_by_role("heading", level=1)).to_have_text("Ville de Lyon")
    resident.get_by_role("link", name=re.compile(r"^Découvrir\W+Transformez avec nous le Clos Jouve")).click()
    expect(resident.get_by_role("heading", level=1)).to_have_text("Transformez avec nous le Clos Jouve !")
    discussion_url = resident.url
    expect(resident.locator("textarea#content")).to_have_count(0)  # no form before logging in

    visit(visitor, discussion_url)
    seen_followers = number(visitor.locator("#followers .big"))
    seen_contributions = number(visitor.locator("#contribute-title .count"))
    expect(leaf_contribution(visitor, "lombricomposteurs").locator("header .meta")).to_contain_text(
        "+ 2 people agree")

    # -- registers from the discussion's link ------------------------------------------------------
    resident.locator("#contribute-title").locator("xpath=..").get_by_role("link", name="Créer un compte").click()
    expect(resident.get_by_role("heading", level=1)).to_have_text("Créer un compte")
    resident.locator("#username").fill(HANDLE)
    resident.locator("#display_name").fill(NAME)
    resident.locator("#password").fill(PASSWORD)
    resident.locator("#password_confirm").fill(PASSWORD)
    resident.get_by_role("button", name="Créer mon compte").click()
    expect(resident.locator(".account-menu")).to_contain_text(f"Connecté·e en tant que {NAME}")
    expect(resident).to_have_url(discussion_url)  # registration brings the resident back

    # -- follows the discussion: one more follower ------------------------------------------------
    followers = resident.locator("#followers .big")
    before = number(followers)
    resident.locator("#followers").get_by_role("button", name="Suivre la discussion").click()
    expect(followers).to_have_text(re.compile(rf"^{before + 1} personnes? (a|ont) rejoint la discussion$"))
    expect(resident.locator("#followers").get_by_role("button", name="Se désabonner de la discussion")).to_be_visible()

    # -- posts a contribution "in favour": one more contribution and one more participant ---------
    count = resident.locator("#contribute-title .count")
    contributions, participants = number(count), number(figure(resident, "Participants"))
    resident.locator("textarea#content").fill(CONTRIBUTION)
    resident.get_by_role("radio", name="Pour", exact=True).check()
    resident.get_by_role("button", name="Publier ma contribution").click()
    expect(count).to_have_text(str(contributions + 1))
    expect(figure(resident, "Participants")).to_have_text(str(participants + 1))
    mine = leaf_contribution(resident, CONTRIBUTION[:40])
    expect(mine).to_have_count(1)
    expect(mine.locator(".author")).to_contain_text(NAME)
    expect(mine.locator(".badge-alignment")).to_have_text("Pour")

    # -- agrees with Henry's reply (2 agreements, threshold 3): it becomes widely supported ------
    lombri = leaf_contribution(resident, "lombricomposteurs")
    widely = number(figure(resident, "Contributions largement soutenues"))
    expect(lombri.locator("header .meta")).to_contain_text("+ 2 personnes d'accord")
    expect(lombri.locator(".badge-supported")).to_have_count(0)
    agree = lombri.locator(".contribution-actions > form button")
    expect(agree).to_have_attribute("aria-pressed", "false")
    agree.click()
    expect(lombri.locator("header .meta")).to_contain_text("+ 3 personnes d'accord")
    expect(agree).to_have_attribute("aria-pressed", "true")
    expect(lombri.locator(".badge-supported")).to_have_text("Soutenu par la communauté")
    expect(figure(resident, "Contributions largement soutenues")).to_have_text(str(widely + 1))

    # -- the anonymous visitor, reloading, sees all of it at once ----------------------------------
    visitor.reload()
    expect(visitor.locator("#followers .big")).to_have_text(f"{seen_followers + 1} "
                                                           f"{'person has' if seen_followers == 0 else 'people have'}"
                                                           " joined the discussion")
    expect(visitor.locator("#contribute-title .count")).to_have_text(str(seen_contributions + 1))
    expect(leaf_contribution(visitor, CONTRIBUTION[:40]).locator(".badge-alignment")).to_have_text("In favour")
    expect(leaf_contribution(visitor, "lombricomposteurs").locator("header .meta")).to_contain_text(
        "+ 3 people agree")

    # -- submits a proposal from the organisation page: published at once --------------------------
    resident.locator(".org-line").get_by_role("link", name="Ville de Lyon").click()
    expect(resident.get_by_role("heading", level=1)).to_have_text("Ville de Lyon")
    ideas = resident.locator("#ideas")
    proposals_before = number(ideas.get_by_role("link", name=re.compile(r"^Voir (les \d+ propositions|la proposition)")))
    ideas.get_by_role("link", name="Soumettre une proposition").click()
    resident.locator("#title").fill(PROPOSAL)
    resident.locator("#body").fill(PROPOSAL_BODY)
    resident.get_by_role("button", name="Publier", exact=True).click()
    expect(resident.get_by_role("heading", level=1)).to_have_text(PROPOSAL)
    proposal_url = resident.url
    assert re.search(r"/proposals/[^/]+$", proposal_url), proposal_url
    expect(resident.locator(".proposal .badge-state")).to_have_text("Publiée")
    expect(resident.locator(".proposal .meta")).to_contain_text(f"Proposée par {NAME}")
    expect(resident.locator(".proposal .content p")).to_have_count(2)
    expect(resident.locator(".official-answer")).to_have_count(0)
    resident.locator(".breadcrumb").get_by_role("link", name="Propositions").click()
    expect(resident.locator(".result-count")).to_have_text(f"{proposals_before + 1} propositions")
    expect(resident.get_by_role("link", name=PROPOSAL, exact=True)).to_be_visible()

    # -- the visitor finds it in the index: published, no answer yet --------------------------------
    visitor.locator(".org-line").get_by_role("link", name="Ville de Lyon").click()
    visitor.locator("#ideas").get_by_role("link", name=re.compile(r"^See ")).click()
    visitor.get_by_role("link", name=PROPOSAL, exact=True).click()
    expect(visitor.locator(".proposal .badge-state")).to_have_text("Published")
    expect(visitor.locator(".official-answer")).to_have_count(0)

    # -- the city's admin logs in (another browser, in English) and publishes an official answer ---
    admin = new_context("en").new_page()
    visit(admin, "/")
    admin.locator(".account-menu").get_by_role("link", name="Log in").click()
    admin.locator("#username").fill("lyon_admin")
    admin.locator("#password").fill(DEMO_PASSWORD)
    admin.get_by_role("main").get_by_role("button", name="Log in").click()
    expect(admin.locator(".account-menu")).to_contain_text("Signed in as Équipe participation Lyon")
    admin.get_by_role("link", name="Ville de Lyon", exact=True).click()
    admin.locator(".page-nav").get_by_role("link", name="Manage").click()
    admin.locator(".admin-nav").get_by_role("link", name="Proposals").click()
    row = admin.get_by_role("row").filter(has=admin.get_by_role("link", name=PROPOSAL, exact=True))
    expect(row).to_contain_text("To write")
    row.get_by_role("link", name=PROPOSAL, exact=True).click()
    expect(admin.get_by_role("heading", level=1)).to_contain_text(PROPOSAL)
    admin.get_by_label("Answer", exact=True).fill(ANSWER)
    admin.get_by_label("Status given with the answer").select_option(label="Accepted")
    admin.get_by_role("button", name="Save and publish").click()
    expect(admin.get_by_role("status")).to_contain_text("Published on")
    expect(admin.get_by_role("main").locator(".badge-state").first).to_have_text("Accepted")

    # -- the resident sees the answer and the new status on the proposal page ----------------------
    resident.get_by_role("link", name=PROPOSAL, exact=True).click()
    expect(resident).to_have_url(proposal_url)
    answer = resident.locator(".official-answer")
    expect(answer.get_by_role("heading")).to_have_text("Réponse officielle de Ville de Lyon")
    expect(answer.locator(".content")).to_have_text(ANSWER)
    expect(resident.locator(".proposal .badge-state")).to_have_text("Acceptée")
    expect(resident.locator(".history li").last).to_contain_text("Publiée → Acceptée")

    # -- and so does the visitor, reloading, and in the index filtered on "Accepted" ---------------
    visitor.reload()
    expect(visitor.locator(".proposal .badge-state")).to_have_text("Accepted")
    expect(visitor.locator(".official-answer .content")).to_have_text(ANSWER)
    visitor.locator(".breadcrumb").get_by_role("link", name="Proposals").click()
    visitor.get_by_label("Status").select_option(label="Accepted")
    visitor.get_by_role("button", name="Show").click()
    expect(visitor.locator(".proposal-card").filter(has_text=PROPOSAL).locator(".badge-state")).to_have_text(
        "Accepted")




@pytest.mark.parametrize("link", ["Log in to contribute", "Create an account"])
def test_discussion_page__log_in_or_register_link_brings_the_resident_back(new_context, link):
    """After logging in (or registering) from a discussion's link, the resident is back on it."""
    page = new_context("en").new_page()
    visit(page, "/orgs/lyon/discussions/clos-jouve")
    discussion_url = page.url
    page.locator("#contribute-title").locator("xpath=..").get_by_role("link", name=link, exact=True).click()
    if link == "Create an account":
        page.locator("#username").fill("next_e2e")
        page.locator("#password").fill(PASSWORD)
        page.locator("#password_confirm").fill(PASSWORD)
        page.get_by_role("main").get_by_role("button", name="Create my account").click()
    else:
        page.locator("#username").fill("camille")
        page.locator("#password").fill(DEMO_PASSWORD)
        page.get_by_role("main").get_by_role("button", name="Log in").click()
    expect(page.locator(".account-menu")).to_contain_text("Signed in as")
    expect(page).to_have_url(discussion_url, timeout=1_000)  # the redirect is over: no need to wait
    expect(page.locator("textarea#content")).to_be_visible()
