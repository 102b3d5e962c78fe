"""Acceptance of "Privacy and legal pages" and of the browser test of issue 8, in Chromium: the footer
leads to the privacy and legal notices (in French); a resident becomes a verified member with a
one-time code, reads a members-only discussion that a signed-out visitor cannot tell from a missing
one, downloads their data and deletes their account."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import describe_violations, serious_axe_violations, visit

pytestmark = pytest.mark.e2e


def test_privacy_pages__footer_links_lead_to_the_notices_in_french(new_context):
    """From the home page's footer, a French reader opens the privacy notice (which says what the
    node stores, without serious axe violations) and the legal notice (which names the node)."""
    page = new_context("fr").new_page()
    visit(page, "/")
    footer = page.locator("footer.site-footer")
    footer.get_by_role("link", name="Politique de confidentialité").click()
    expect(page).to_have_url(re.compile(r"/privacy$"))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text("Politique de confidentialité")
    notice = page.locator(".prose")
    expect(notice).to_have_attribute("lang", "fr")
    expect(notice.get_by_role("heading", level=2, name="Votre compte")).to_be_visible()
    expect(notice).to_contain_text("empreinte argon2")
    expect(notice).to_contain_text("civic_session")
    expect(notice.get_by_role("heading", level=2, name="Ce qui part vers d'autres serveurs")).to_be_visible()
    violations = serious_axe_violations(page)
    assert not violations, "privacy notice: serious or critical axe violations:\n" + describe_violations(violations)

    footer = page.locator("footer.site-footer")
    footer.get_by_role("link", name="Mentions légales").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mentions légales")
    expect(page).to_have_url(re.compile(r"/legal$"))
    legal = page.locator(".prose")
    expect(legal).to_contain_text("fonctionne avec Civic Node")
    expect(legal.get_by_role("heading", level=2, name="À compléter par l'administrateur")).to_be_visible()
    legal.get_by_role("link", name=re.compile(r"privacy$")).click()  # the notice links to the other
    expect(page.get_by_role("heading", level=1)).to_have_text("Politique de confidentialité")
