"""A refused form in chromium, on a phone: the page opens on the error summary (focused, in view),
its links move the focus to the fields, and the counters say how many characters are left or too many
as people type (no maxlength cutting a pasted text)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import describe_violations, serious_axe_violations, visit

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
DISCUSSION = "/orgs/lyon/discussions/clos-jouve"


def in_view(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and 0 <= box["y"] < PHONE["height"]


@pytest.mark.parametrize("javascript", [True, False])
def test_form_errors__a_refused_contribution_opens_on_the_focused_error_summary(new_context, logged_in_state,
                                                                                javascript):
    """The contribution form sits far down the discussion page; a text over its limit comes back
    with the summary at the top of the form, focused and in view (with JavaScript, and without it
    through autofocus), and the text kept whole."""
    page = new_context("en", javascript=javascript, state=logged_in_state("camille"), **PHONE).new_page()
    visit(page, DISCUSSION)
    field = page.locator("textarea#content")
    field.scroll_into_view_if_needed()
    text = "Un jardin partagé. " * 527 + "x"  # 10,014 characters: over the 10,000 limit
    field.fill(text)
    if javascript:
        expect(page.locator("#content-counter")).to_have_text("Too many characters: 14")
    page.locator("form.contribution-form button[type=submit]").first.click()
    page.wait_for_load_state()
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    assert in_view(page, "#error-summary")
    expect(page.locator("#content-error")).to_have_text("At most 10,000 characters (you wrote 10,014).")
    assert page.locator("textarea#content").input_value() == text


def test_form_errors__summary_links_focus_their_fields_and_counters_count(new_context, logged_in_state):
    """On the proposal form the counter follows the typing (left, then too many); a refused submit
    focuses the summary (the page passes axe-core), and its first link moves the focus to the title."""
    page = new_context("en", state=logged_in_state("camille"), **PHONE).new_page()
    visit(page, "/orgs/lyon/proposals/new")
    title, counter = page.locator("#title"), page.locator("#title-counter")
    assert title.get_attribute("maxlength") is None
    title.fill("Des bancs")
    expect(counter).to_have_text("Characters left: 291")
    title.fill("t" * 305)  # pasted: kept whole, not cut at the limit
    expect(counter).to_have_text("Too many characters: 5")
    assert title.input_value() == "t" * 305
    page.locator("#body").fill("Des bancs à l'ombre sur la place.")
    page.get_by_role("button", name="Publish").click()
    page.wait_for_load_state()
    expect(page.locator("#error-summary")).to_be_focused()
    violations = serious_axe_violations(page)  # the refused form, its summary and its counters
    assert not violations, describe_violations(violations)
    link = page.locator("#error-summary a").first
    expect(link).to_have_text("At most 300 characters (you wrote 305).")
    link.click()
    expect(page.locator("#title")).to_be_focused()
    assert page.locator("#title").input_value() == "t" * 305
