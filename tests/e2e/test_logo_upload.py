"""An organisation admin uploads a logo in chromium: the multipart form of the profile screen
works, the image shows on the organisation page (loaded under the page's CSP), and a refused file
comes back with its reason next to the field. The screen passes axe-core."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import describe_violations, serious_axe_violations, visit
from tests.web.test_logo import png

pytestmark = pytest.mark.e2e

PROFILE = "/orgs/lyon/admin/profile"
MEDIA = re.compile(r"^/media/[0-9a-f]{64}\.png$")


def test_logo__admin_uploads_it_and_the_organisation_page_shows_it(new_context, logged_in_state, tmp_path):
    page = new_context("en", state=logged_in_state("lyon_admin")).new_page()
    visit(page, PROFILE)
    violations = serious_axe_violations(page)
    assert not violations, describe_violations(violations)

    fake = tmp_path / "logo.png"
    fake.write_text("<svg xmlns='http://www.w3.org/2000/svg'></svg>")  # a name that lies
    page.locator("input#logo").set_input_files(str(fake))
    page.get_by_role("button", name="Upload the logo").click()
    expect(page.locator("#logo-error")).to_have_text("The image must be a PNG, JPEG or WebP file.")
    expect(page.locator("input#logo")).to_have_attribute("aria-invalid", "true")

    image = tmp_path / "real.png"
    image.write_bytes(png(16, 16))
    page.locator("input#logo").set_input_files(str(image))
    page.get_by_role("button", name="Upload the logo").click()
    expect(page.locator("p.notice[role=status]")).to_be_visible()
    expect(page.locator("section[aria-labelledby=logo-title] img.org-logo")).to_be_visible()

    visit(page, "/actors/lyon")
    logo = page.locator("img.org-logo").first
    expect(logo).to_have_attribute("src", MEDIA)
    assert page.evaluate("(img) => img.complete && img.naturalWidth === 16", logo.element_handle())

