"""Acceptance of "Privacy and legal pages" and of the browser test of issue 8, in Chromium: the footer
leads to the privacy and legal notices (in French); a resident becomes a verified member with a
one-time code, reads a members-only discussion that a signed-out visitor cannot tell from a missing
one, downloads their data and deletes their account."""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import describe_violations, log_in, serious_axe_violations, visit

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


HANDLE = "ines_e2e"
NAME = "Inès (Pentes)"
PASSWORD = "un-mot-de-passe-assez-long"
SLUG = "conseil-des-membres"
TITLE = "Members' council: the 2027 budget"
CONTRIBUTION = "Members only: I would fund the roof of the covered market before the new car park."


def test_member_journey__code_members_only_discussion_download_then_delete(new_context):
    """An organisation admin opens a members-only discussion and issues a one-time code; a new
    resident enters it and becomes a member; the discussion is visible to them and answers a
    signed-out visitor the same 404 as a missing one; the resident contributes, downloads their
    data (JSON with their contribution) and deletes their account: they cannot log in again, and
    their contribution is gone from the discussion and answers "deleted" at its address."""
    admin = new_context("en").new_page()
    log_in(admin, "lyon_admin")

    # -- the organisation's admin opens a members-only discussion ----------------------------------
    visit(admin, "/orgs/lyon/admin/discussions")
    admin.locator("#slug").fill(SLUG)
    admin.locator("#title_en").fill(TITLE)
    admin.locator("#summary_en").fill("What should the participatory budget fund first?")
    admin.get_by_label("Visibility").select_option(label="Members only")
    admin.get_by_role("button", name="Open the discussion").click()
    expect(admin.get_by_role("heading", level=1)).to_contain_text(TITLE)
    discussion_url = admin.url
    assert discussion_url.endswith(f"/orgs/lyon/discussions/{SLUG}"), discussion_url

    # -- and issues a one-time code for the resident (the printable list shows it once) ------------
    visit(admin, "/actors/lyon")
    admin.locator(".page-nav").get_by_role("link", name="Manage").click()
    admin.locator(".admin-nav").get_by_role("link", name="Members").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("Members")
    admin.get_by_label("Labels (optional, one per line: to whom each code is handed)").fill("Inès, Pentes")
    admin.get_by_role("button", name="Issue and print the codes").click()
    card = admin.locator(".printable-codes .code-card")
    expect(card).to_have_count(1)
    expect(card.locator(".code-label")).to_have_text("Inès, Pentes")
    code = card.locator(".code-value code").inner_text().strip()
    assert len(code) >= 8, code

    # -- a new resident registers: the members-only discussion does not exist for them yet --------
    resident = new_context("en").new_page()
    visit(resident, "/register")
    resident.locator("#username").fill(HANDLE)
    resident.locator("#display_name").fill(NAME)
    resident.locator("#password").fill(PASSWORD)
    resident.locator("#password_confirm").fill(PASSWORD)
    resident.get_by_role("main").get_by_role("button", name="Create my account").click()
    expect(resident.locator(".account-menu")).to_contain_text(f"Signed in as {NAME}")
    visit(resident, discussion_url, status=404)

    # -- enters the code (from the organisation page's link) and becomes a member -----------------
    visit(resident, "/actors/lyon")
    resident.get_by_role("link", name="Become a member").click()
    expect(resident.get_by_role("heading", level=1)).to_have_text("Become a member of Ville de Lyon")
    by_code = resident.locator("section").filter(has=resident.get_by_role("heading", name="With a code"))
    by_code.get_by_label("Code").fill(code)
    by_code.get_by_role("button", name="Verify").click()
    expect(resident.get_by_role("status")).to_have_text("You are now a member of Ville de Lyon.")

    # -- the members-only discussion is visible to them; they contribute ----------------------------
    visit(resident, discussion_url)
    expect(resident.get_by_role("heading", level=1)).to_contain_text(TITLE)
    resident.locator("textarea#content").fill(CONTRIBUTION)
    resident.get_by_role("button", name="Publish my contribution").click()
    mine = resident.locator("li.contribution").filter(has_text=CONTRIBUTION[:40])
    expect(mine).to_have_count(1)
    contribution_id = mine.locator("a.report-link").get_attribute("href").split("target=", 1)[1]
    contribution_url = urllib.parse.unquote(contribution_id)

    # -- a signed-out visitor gets exactly the page of a discussion that does not exist -------------
    visitor = new_context("en").new_page()
    visit(visitor, f"/orgs/lyon/discussions/{SLUG}-does-not-exist", status=404)
    missing = visitor.locator("main").inner_text()
    visit(visitor, discussion_url, status=404)
    assert visitor.locator("main").inner_text() == missing
    expect(visitor.get_by_text(CONTRIBUTION[:40])).to_have_count(0)

    # -- the resident downloads their data: JSON holding their contribution --------------------------
    visit(resident, "/account")
    with resident.expect_download() as downloading:
        resident.get_by_role("link", name="Download my data").click()
    data = json.loads(Path(downloading.value.path()).read_text(encoding="utf-8"))
    dumped = json.dumps(data, ensure_ascii=False)
    assert CONTRIBUTION in dumped and HANDLE in dumped
    assert "un-mot-de-passe-assez-long" not in dumped and "$argon2" not in dumped

    # -- and deletes their account ------------------------------------------------------------------
    delete_form = resident.locator("form[action='/account/delete']")
    delete_form.get_by_label("Current password").fill(PASSWORD)
    delete_form.get_by_role("button", name="Delete my account").click()
    expect(resident.get_by_role("heading", level=1)).to_have_text("Account deleted")
    expect(resident.locator(".account-menu")).to_contain_text("Log in")

    # -- they cannot log in any more ------------------------------------------------------------------
    log_in(resident, HANDLE, PASSWORD)
    expect(resident.get_by_role("main")).to_contain_text("Unknown handle or wrong password.")
    expect(resident.locator(".account-menu")).not_to_contain_text("Signed in as")

    # -- their contribution is gone from the discussion and its address says it was deleted -----------
    visit(admin, discussion_url)
    expect(admin.get_by_role("heading", level=1)).to_contain_text(TITLE)
    expect(admin.get_by_text(CONTRIBUTION[:40])).to_have_count(0)
    visit(admin, contribution_url, status=410)
    expect(admin.get_by_role("main")).to_contain_text("This page was deleted.")


def test_legal_edit__a_node_admin_completes_the_legal_notice_then_restores_the_default(new_context):
    """The node admin follows "Edit this notice" from the German legal notice, completes it (the
    form passes axe-core), and a signed-out German reader sees it at once; restoring the default
    text brings the default back."""
    admin = new_context("de").new_page()
    log_in(admin, "node_admin")
    visit(admin, "/legal")
    admin.get_by_role("link", name="Diesen Text bearbeiten").click()
    text = admin.get_by_label("Text", exact=True)
    expect(text).to_have_value(re.compile(r"muss dieses Impressum ergänzen"))  # the default, to adapt
    violations = serious_axe_violations(admin)
    assert not violations, "legal notice form: serious or critical axe violations:\n" + describe_violations(violations)
    text.fill("# Anbieter\n\nStadt Lyon, 1 place de la Comédie, 69001 Lyon\n\n- Kontakt: https://www.lyon.fr/kontakt")
    admin.get_by_role("button", name="Speichern").click()
    expect(admin.get_by_role("status")).to_have_text("Der Text wurde gespeichert.")

    reader = new_context("de").new_page()
    visit(reader, "/legal")
    notice = reader.locator(".prose")
    expect(notice.get_by_role("heading", level=2)).to_have_text("Anbieter")
    expect(notice.get_by_role("link", name="https://www.lyon.fr/kontakt")).to_have_attribute(
        "href", "https://www.lyon.fr/kontakt")
    expect(reader.locator(".legal-notice .meta")).to_contain_text("Zuletzt geändert am")
    expect(reader.get_by_role("link", name="Diesen Text bearbeiten")).to_have_count(0)

    visit(admin, "/admin/legal/legal/de")
    admin.get_by_role("button", name="Standardtext wiederherstellen").click()
    reader.reload()
    expect(reader.locator(".prose")).to_contain_text("muss dieses Impressum ergänzen")
