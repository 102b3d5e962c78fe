"""Full-page screenshots of the participation pages for docs/screenshots/ (an acceptance deliverable):
the Ville de Lyon organisation page, the Clos Jouve discussion and the accepted composting proposal,
in French and English at 1280px, and the discussion in French at 390px (a phone).

CIVIC_E2E_SCREENSHOTS=<dir> writes them elsewhere (their dates change at every run)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ROOT, visit

pytestmark = pytest.mark.e2e

SHOTS = Path(os.environ.get("CIVIC_E2E_SCREENSHOTS") or ROOT / "docs" / "screenshots")
ACCEPTED = "Un composteur collectif au Clos Jouve"


def open_organisation(page) -> None:
    visit(page, "/actors/lyon")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ville de Lyon")


def open_discussion(page) -> None:
    visit(page, "/orgs/lyon/discussions/clos-jouve")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Clos Jouve")


def open_proposal(page) -> None:
    visit(page, "/orgs/lyon/proposals")
    page.get_by_role("link", name=ACCEPTED, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(ACCEPTED)
    expect(page.locator(".official-answer")).to_be_visible()


PAGES = {"organisation": open_organisation, "discussion": open_discussion, "proposal": open_proposal}


def check_rendering(page, width: int) -> None:
    """Every stylesheet applied, fonts loaded, nothing wider than the viewport."""
    sheets = page.evaluate("""async () => {
        await document.fonts.ready;
        const links = [...document.querySelectorAll('link[rel=stylesheet]')].map(l => l.href);
        const loaded = [...document.styleSheets].filter(s => s.href && s.cssRules.length > 0)
            .map(s => s.href);
        return {links, loaded};
    }""")
    assert sheets["links"] and sorted(sheets["links"]) == sorted(sheets["loaded"]), sheets
    overflow = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1
                     && getComputedStyle(e).position !== 'fixed'
                     && !e.closest('.visually-hidden, .skip-link'))
        .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')
                         + ' right=' + Math.round(e.getBoundingClientRect().right))""")
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll <= width and not overflow, f"wider than {width}px: scrollWidth={scroll}, {overflow}"


def shoot(new_context, name: str, lang: str, width: int, file_name: str) -> None:
    page = new_context(lang, width=width, height=900).new_page()
    PAGES[name](page)
    check_rendering(page, width)
    SHOTS.mkdir(parents=True, exist_ok=True)
    target = SHOTS / file_name
    page.screenshot(path=str(target), full_page=True, animations="disabled")
    assert target.stat().st_size > 10_000, f"{target} looks empty"


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("name", list(PAGES))
def test_screenshots__participation_page_at_1280px(new_context, name, lang):
    """Saves docs/screenshots/<page>-<lang>.png (full page, 1280px wide) after checking its styles."""
    shoot(new_context, name, lang, 1280, f"{name}-{lang}.png")


def test_screenshots__discussion_on_a_phone(new_context):
    """Saves docs/screenshots/discussion-mobile-fr.png (390px wide), with nothing wider than the screen."""
    shoot(new_context, "discussion", "fr", 390, "discussion-mobile-fr.png")
