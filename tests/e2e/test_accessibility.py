"""Accessibility of the participation and account pages (axe-core in chromium, fr and en), and the
pages without JavaScript: contributing, replying and agreeing are plain HTML forms."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import describe_violations, log_in, serious_axe_violations, visit

pytestmark = pytest.mark.e2e

DISCUSSION = "/orgs/lyon/discussions/clos-jouve"
PROPOSALS = "/orgs/lyon/proposals"
ACCEPTED = "Un composteur collectif au Clos Jouve"
LANGS = ["fr", "en"]


def open_accepted_proposal(page) -> None:
    """The accepted demo proposal, reached from the proposals index (its URL has a random token)."""
    visit(page, PROPOSALS)
    page.get_by_role("link", name=ACCEPTED, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(ACCEPTED)


def check_axe(page, what: str) -> None:
    violations = serious_axe_violations(page)
    assert not violations, f"{what} ({page.url}): serious or critical axe violations:\n" + \
        describe_violations(violations)


@pytest.mark.parametrize("lang", LANGS)
def test_organisation_page__has_no_serious_axe_violation(new_context, lang):
    """The Ville de Lyon page (/actors/lyon) passes axe-core without serious or critical violations."""
    page = new_context(lang).new_page()
    visit(page, "/actors/lyon")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ville de Lyon")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    check_axe(page, "organisation page")


@pytest.mark.parametrize("who", ["anonymous", "camille"])
@pytest.mark.parametrize("lang", LANGS)
def test_discussion_page__has_no_serious_axe_violation(new_context, logged_in_state, lang, who):
    """The Clos Jouve discussion passes axe-core, read anonymously and with the forms of a resident."""
    state = logged_in_state(who) if who != "anonymous" else None
    page = new_context(lang, state=state).new_page()
    visit(page, DISCUSSION)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Clos Jouve")
    if state:
        expect(page.locator("form.contribution-form textarea#content")).to_be_visible()
    check_axe(page, "discussion page")


@pytest.mark.parametrize("lang", LANGS)
def test_proposals_index__has_no_serious_axe_violation(new_context, lang):
    """The Ville de Lyon proposals index passes axe-core."""
    page = new_context(lang).new_page()
    visit(page, PROPOSALS)
    expect(page.get_by_role("link", name=ACCEPTED, exact=True)).to_be_visible()
    check_axe(page, "proposals index")


@pytest.mark.parametrize("who", ["anonymous", "camille"])
@pytest.mark.parametrize("lang", LANGS)
def test_proposal_page__has_no_serious_axe_violation(new_context, logged_in_state, lang, who):
    """The accepted proposal's page (with its official answer) passes axe-core, anonymous or author."""
    state = logged_in_state(who) if who != "anonymous" else None
    page = new_context(lang, state=state).new_page()
    open_accepted_proposal(page)
    expect(page.locator(".official-answer")).to_be_visible()
    check_axe(page, "proposal page")


@pytest.mark.parametrize("lang", LANGS)
def test_answer_screen__has_no_serious_axe_violation(new_context, logged_in_state, lang):
    """The admin's official-answer screen of a proposal passes axe-core."""
    page = new_context(lang, state=logged_in_state("lyon_admin")).new_page()
    open_accepted_proposal(page)
    page.locator("a[href*='/orgs/lyon/admin/proposals/']").click()
    expect(page.locator("textarea#answer")).to_be_visible()
    check_axe(page, "answer screen")


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("path", ["/login", "/register"])
def test_account_pages__have_no_serious_axe_violation(new_context, lang, path):
    """The log-in and registration pages pass axe-core."""
    page = new_context(lang).new_page()
    visit(page, path)
    expect(page.locator(f"main form[action='{path}'] button[type=submit]")).to_be_visible()
    check_axe(page, f"{path} page")


@pytest.mark.parametrize("lang", LANGS)
def test_register_page__errors_have_no_serious_axe_violation(new_context, lang):
    """The registration form shown again with its errors passes axe-core."""
    page = new_context(lang).new_page()
    visit(page, "/register")
    page.locator("#username").fill("x")
    page.locator("#password").fill("short")
    page.locator("form[action='/register'] button[type=submit]").click()
    expect(page.locator("#password")).to_have_attribute("aria-invalid", "true")
    check_axe(page, "/register with errors")


# -- without JavaScript ---------------------------------------------------------------------------

def own(item, css: str):
    """``css`` inside a contribution itself, not inside its replies."""
    return item.locator(f":scope > article > {css}")


def contribution_count(page) -> int:
    return int(page.locator("#contribute-title .count").inner_text())


def test_no_javascript__resident_logs_in_and_posts_a_contribution(new_context):
    """With JavaScript off, the log-in form and the contribution form work; the count goes up by one."""
    page = new_context("en", javascript=False).new_page()
    log_in(page, "camille")
    expect(page.locator(".account-menu")).to_contain_text("Signed in as")
    visit(page, DISCUSSION)
    before = contribution_count(page)
    text = "Sans JavaScript : des bancs à l'ombre des platanes, côté rue d'Austerlitz."
    page.locator("textarea#content").fill(text)
    page.get_by_role("radio", name="Neutral").check()
    page.get_by_role("button", name="Publish my contribution").click()
    expect(page).to_have_url(re.compile(r"/orgs/lyon/discussions/clos-jouve#contribution-"))
    mine = page.locator("li.contribution", has_text=text)
    expect(mine).to_have_count(1)
    expect(own(mine, ".badges .badge-neutral")).to_have_text("Neutral")
    assert contribution_count(page) == before + 1


def test_no_javascript__agree_button_toggles_the_agreement(new_context, logged_in_state):
    """With JavaScript off, "Agree" adds one agreement (button pressed), pressing again withdraws it."""
    page = new_context("en", javascript=False, state=logged_in_state("amine")).new_page()
    visit(page, DISCUSSION)
    boules = page.locator("li.contribution", has_text="Gardons quelques jeux de boules")
    meta, button = own(boules, "header .meta"), own(boules, ".contribution-actions > form button")
    expect(meta).to_contain_text("+ 1 person agrees")
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(button).to_have_accessible_name("Agree")
    button.click()
    expect(meta).to_contain_text("+ 2 people agree")
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button).to_have_accessible_name(re.compile(r"Agreed — withdraw my agreement$"))
    button.click()
    expect(meta).to_contain_text("+ 1 person agrees")
    expect(button).to_have_attribute("aria-pressed", "false")


def test_no_javascript__reply_form_opens_and_posts_a_reply(new_context, logged_in_state):
    """With JavaScript off, "Reply" (a details element) opens a form whose reply lands under its parent."""
    page = new_context("fr", javascript=False, state=logged_in_state("chloe")).new_page()
    visit(page, DISCUSSION)
    boules = page.locator("li.contribution", has_text="Gardons quelques jeux de boules")
    reply = own(boules, ".contribution-actions > details.reply")
    expect(reply.locator("textarea")).to_be_hidden()
    reply.locator("summary").click()
    text = "Réponse sans JavaScript : deux jeux de boules suffiraient."
    reply.locator("textarea").fill(text)
    reply.locator("button[type=submit]").click()
    expect(own(boules, "ol.replies > li.contribution").filter(has_text=text)).to_have_count(1)
