"""Acceptance of the thread pager in Chromium: "Show more contributions" appends the next threads in
place with JavaScript (no navigation, focus on the first new thread, announced), and is a plain link
to the next page of threads without it."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import describe_violations, serious_axe_violations, visit

pytestmark = pytest.mark.e2e

DISCUSSION = "/orgs/lyon/discussions/clos-jouve"
OLD_THREADS = 30


@pytest.fixture(scope="module")
def roots(node) -> int:
    """Thirty older threads written straight into this module's copy of the demo (before any page
    of the discussion is served, so no cached page misses them); the number of threads then."""
    with sqlite3.connect(node.data_dir / "civic.db") as db:
        discussion, = db.execute("SELECT d.id FROM discussions d WHERE d.page_ap_id = ?",
                                 (node.url(DISCUSSION),)).fetchone()
        author, = db.execute("SELECT id FROM actors WHERE type = 'Person' ORDER BY id LIMIT 1").fetchone()
        start = datetime(2020, 1, 1)
        db.executemany(
            "INSERT INTO contributions (ap_id, discussion_id, author_id, parent_id, depth, local, content, url,"
            " agree_count, quality_recognised, impact, official, hidden, sensitive, published)"
            " VALUES (?, ?, ?, NULL, 1, 0, ?, ?, 0, 0, 0, 0, 0, 0, ?)",
            [(f"https://old.example/notes/{i}", discussion, author, f"<p>Old thread {i}</p>",
              f"https://old.example/notes/{i}", (start + timedelta(days=i)).strftime("%Y-%m-%d %H:%M:%S.%f"))
             for i in range(OLD_THREADS)])
        count, = db.execute(
            "SELECT count(*) FROM contributions c WHERE c.discussion_id = ? AND c.deleted_at IS NULL AND"
            " (c.parent_id IS NULL OR NOT EXISTS (SELECT 1 FROM contributions p WHERE p.id = c.parent_id"
            " AND p.deleted_at IS NULL))", (discussion,)).fetchone()
    return count


def test_thread_pager__show_more_appends_the_next_threads_in_place(new_context, roots):
    """With JavaScript: each click appends the next threads to the list, the address stays, the focus
    goes to the first new thread and the live region says so; at the end the link is gone and every
    thread is there once."""
    page = new_context("en").new_page()
    visit(page, DISCUSSION)
    threads = page.locator("#threads > li")
    expect(threads).to_have_count(20)
    address = page.url
    more = page.get_by_role("link", name="Show more contributions")
    expect(more).to_have_attribute("href", re.compile(r"/clos-jouve/threads\?before=\d+-\d+$"))
    more.click()
    expect(threads).to_have_count(min(roots, 40))
    assert page.url == address
    expect(page.locator("#threads-status")).to_have_text("More contributions are shown.")
    assert page.evaluate("document.activeElement.id") == threads.nth(20).get_attribute("id")
    while more.count():
        shown = threads.count()
        more.click()
        expect(threads).not_to_have_count(shown)
    expect(threads).to_have_count(roots)
    expect(more).to_have_count(0)
    ids = threads.evaluate_all("items => items.map(item => item.id)")
    assert len(ids) == len(set(ids)) == roots
    expect(page.get_by_text("Old thread 0", exact=True)).to_be_visible()  # the oldest, last


def test_thread_pager__without_javascript_the_link_opens_the_next_threads(new_context, roots):
    """Without JavaScript "Show more contributions" is a link to a page of the next threads, which has
    its own link to the ones after."""
    page = new_context("en", javascript=False).new_page()
    visit(page, DISCUSSION)
    page.get_by_role("link", name="Show more contributions").click()
    expect(page).to_have_url(re.compile(r"/clos-jouve/threads\?before=\d+-\d+$"))
    expect(page.locator("#threads > li")).to_have_count(min(roots - 20, 20))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Contributions")
    expect(page.get_by_role("link", name="Back to the discussion")).to_be_visible()


def test_thread_pager__a_link_to_an_older_contribution_loads_the_threads_until_it(new_context, node, roots):
    """A link to a contribution past the first page (#contribution-…, as the moderation pages make):
    the script loads the next threads until it is shown."""
    with sqlite3.connect(node.data_dir / "civic.db") as db:
        oldest, = db.execute("SELECT id FROM contributions WHERE ap_id = 'https://old.example/notes/0'").fetchone()
    page = new_context("en").new_page()
    visit(page, f"{DISCUSSION}#contribution-r{oldest}")
    expect(page.locator(f"#contribution-r{oldest}")).to_be_attached()
    expect(page.locator(f"#contribution-r{oldest}")).to_contain_text("Old thread 0")
    expect(page.locator("#threads > li")).to_have_count(roots)


def check_axe(page, what: str) -> None:
    violations = serious_axe_violations(page)
    assert not violations, f"{what}: serious or critical axe violations:\n" + describe_violations(violations)


def test_thread_pager__pages_with_more_threads_have_no_serious_axe_violation(new_context, logged_in_state, roots):
    """The discussion page after the next threads were appended, and the threads page of a resident
    (reply forms, agree buttons), pass axe-core without serious or critical violations."""
    page = new_context("fr", state=logged_in_state("camille")).new_page()
    visit(page, DISCUSSION)
    more = page.get_by_role("link", name="Afficher plus de contributions")
    next_page = more.get_attribute("href")
    more.click()
    expect(page.locator("#threads > li")).to_have_count(roots)
    check_axe(page, "discussion page with appended threads")
    visit(page, next_page)
    expect(page.locator("#threads > li")).to_have_count(roots - 20)
    check_axe(page, "threads page")


def test_thread_pager__appended_reply_forms_count_characters(new_context, logged_in_state, roots):
    """The reply forms of appended threads get their live character counters too (forms.js is run
    on what threads.js adds), as the forms of the first page do."""
    page = new_context("en", state=logged_in_state("camille")).new_page()
    visit(page, DISCUSSION)
    page.get_by_role("link", name="Show more contributions").click()
    appended = page.locator("#threads > li").nth(20)
    expect(appended).to_be_focused()
    appended.locator("details.reply > summary").first.click()
    field = appended.locator("details.reply textarea").first
    field.fill("Des bancs")
    counter = page.locator(f"#{field.get_attribute('id')}-counter")
    expect(counter).to_have_text(re.compile(r"^Characters left: [\d,]+$"))
