"""Acceptance of the participatory budget's browser test (issue 11), in Chromium: Lyon's admin
verifies two residents, creates a knapsack budget of €50,000 and opens it for proposals; a resident
proposes three projects; the admin finds them feasible and opens the vote. A verified resident
fills the ballot with JavaScript — the running total follows the boxes as they are ticked, and
says when the choice goes over the budget — and casts it; another does the same with JavaScript
disabled: the "recalculate" button shows the total (and the problem), keeping the choices, and the
ballot is cast. The published results show their chart. Each screen passes axe-core."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import describe_violations, serious_axe_violations, visit

pytestmark = pytest.mark.e2e

MANAGE = "/orgs/lyon/admin/budgets/parcs-2027"
PROJECTS = (("Un verger partagé", "30000"), ("Des bancs au Gros Caillou", "15000"),
            ("Une fontaine à eau potable", "12000"))


def check_axe(page) -> None:
    violations = serious_axe_violations(page)
    assert not violations, describe_violations(violations)


def amount(text: str) -> int:
    """The whole amount a formatted price shows (``€45,000`` → 45000)."""
    return int(re.sub(r"[^0-9]", "", text) or 0)


def project_box(page, title: str):
    return page.locator("li.ballot-project", has_text=title).locator("input[type=checkbox]")


def admit(admin, handle: str) -> None:
    visit(admin, "/orgs/lyon/admin/members")
    admin.locator("#handle").fill(handle)
    admin.get_by_role("button", name="Admit", exact=True).click()
    expect(admin.locator("p.notice[role=status]")).to_have_text("The person is now a member.")


def change_phase(admin, phase: str) -> None:
    visit(admin, MANAGE)
    admin.locator("#phase").select_option(phase)
    admin.get_by_role("button", name="Change the phase").click()
    expect(admin.locator("p.notice[role=status]")).to_have_text("Saved.")


def test_budget_ballot__knapsack_with_a_running_total_with_and_without_javascript(new_context, logged_in_state):
    # The admin verifies two residents and creates the budget.
    admin = new_context("en", state=logged_in_state("lyon_admin")).new_page()
    admit(admin, "amine")
    admit(admin, "paul")
    visit(admin, "/orgs/lyon/admin/budgets")
    check_axe(admin)
    admin.locator("#slug").fill("parcs-2027")
    admin.locator("#title_fr").fill("Budget participatif des parcs 2027")
    admin.locator("#title_en").fill("Parks participatory budget 2027")
    admin.locator("#amount").fill("50000")
    admin.locator("#currency").fill("EUR")
    admin.locator("#rule").select_option("knapsack")
    admin.get_by_role("button", name="Create the budget").click()
    expect(admin).to_have_url(re.compile(MANAGE + "$"))
    check_axe(admin)
    change_phase(admin, "proposing")
    budget = admin.locator("a", has_text="Public page").get_attribute("href")
    budget = budget[budget.index("/budgets/"):]

    # A resident proposes three projects.
    camille = new_context("en", state=logged_in_state("camille")).new_page()
    for title, cost in PROJECTS:
        visit(camille, budget)
        camille.get_by_role("link", name="Propose a project").click()
        camille.locator("#title").fill(title)
        camille.locator("#body").fill(f"{title} : pour tout le quartier.")
        camille.locator("#cost").fill(cost)
        camille.get_by_role("button", name="Propose the project").click()
        expect(camille).to_have_url(re.compile(r"/projects/[A-Za-z0-9_-]+$"))
        expect(camille.locator("h1")).to_have_text(title)
    check_axe(camille)

    # The admin finds them feasible and opens the vote.
    visit(admin, MANAGE)
    for title, _cost in PROJECTS:
        card = admin.locator("article.review-card", has_text=title)
        card.locator("input[value=feasible]").check()
        card.locator("textarea[name=reason]").fill("Vérifié par les services techniques.")
        card.get_by_role("button", name=re.compile("Save the review")).click()
        expect(admin.locator("p.notice[role=status]")).to_have_text("Saved.")
    change_phase(admin, "voting")

    # With JavaScript: the total follows the boxes.
    amine = new_context("en", state=logged_in_state("amine")).new_page()
    visit(amine, budget)
    check_axe(amine)
    amine.get_by_role("link", name="Vote", exact=True).click()
    expect(amine).to_have_url(re.compile(r"/ballot$"))
    total = amine.locator("#ballot-total")
    problem = amine.locator("#ballot-problem")
    expect(total).to_have_text(re.compile(r"\b0\b"))
    check_axe(amine)
    project_box(amine, PROJECTS[0][0]).check()
    expect(total).to_have_text(re.compile(r"30,000"))
    project_box(amine, PROJECTS[1][0]).check()
    expect(total).to_have_text(re.compile(r"45,000"))
    assert amount(amine.locator("#ballot-left").inner_text()) == 5000
    project_box(amine, PROJECTS[2][0]).check()
    expect(total).to_have_text(re.compile(r"57,000"))
    expect(problem).to_be_visible()
    expect(problem).to_contain_text("Over the budget by")
    check_axe(amine)
    project_box(amine, PROJECTS[2][0]).uncheck()
    expect(total).to_have_text(re.compile(r"45,000"))
    expect(problem).to_be_hidden()
    amine.get_by_role("button", name="Cast my ballot").click()
    expect(amine.locator("#ballot-notice")).to_contain_text("Your ballot is recorded; you can change it until")
    expect(project_box(amine, PROJECTS[0][0])).to_be_checked()
    expect(project_box(amine, PROJECTS[2][0])).not_to_be_checked()
    check_axe(amine)

    # Without JavaScript: the recalculate button shows the total and the problem, keeping the choices.
    paul = new_context("en", javascript=False, state=logged_in_state("paul")).new_page()
    visit(paul, budget + "/ballot")
    project_box(paul, PROJECTS[0][0]).check()
    project_box(paul, PROJECTS[2][0]).check()
    expect(paul.locator("#ballot-total")).to_have_text(re.compile(r"\b0\b"))  # no script: nothing moves
    paul.get_by_role("button", name="Recalculate the total").click()
    expect(paul.locator("#ballot-total")).to_have_text(re.compile(r"42,000"))
    assert amount(paul.locator("#ballot-left").inner_text()) == 8000
    expect(project_box(paul, PROJECTS[0][0])).to_be_checked()
    expect(project_box(paul, PROJECTS[2][0])).to_be_checked()
    project_box(paul, PROJECTS[1][0]).check()
    paul.get_by_role("button", name="Recalculate the total").click()
    expect(paul.locator("#ballot-total")).to_have_text(re.compile(r"57,000"))
    expect(paul.locator("#ballot-problem")).to_contain_text("more than the €50,000 available")
    # No axe here: it runs as a script, which this context refuses (the same page passed it above).
    paul.get_by_role("button", name="Cast my ballot").click()  # refused: over the budget
    expect(paul.locator("#ballot-problem")).to_contain_text("more than the €50,000 available")
    project_box(paul, PROJECTS[0][0]).uncheck()
    paul.get_by_role("button", name="Cast my ballot").click()
    expect(paul.locator("#ballot-notice")).to_contain_text("Your ballot is recorded")
    expect(project_box(paul, PROJECTS[1][0])).to_be_checked()

    # The results, with their chart.
    visit(admin, MANAGE)
    admin.get_by_role("button", name="Publish the results").click()
    expect(admin).to_have_url(re.compile(r"/results$"))
    expect(admin.locator("svg.chart[role=img]")).to_have_count(1)
    selected = admin.locator("table.results-table tr.selected")
    expect(selected).to_have_count(2)
    check_axe(admin)
