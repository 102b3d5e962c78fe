"""A coalition's campaign in Chromium, from founding to the printed report: Lyon's admin founds a
coalition writing in French and German, invites Nice, whose admin accepts; Lyon's admin publishes a
campaign with French and German texts and kit (a message and a visual each); Nice adapts it (its
German variant with its own visual); residents support the campaign and the variant; the report
page shows those figures, and printed to PDF by Chromium (``page.pdf()`` under print media) its
text holds them. Each screen passes axe-core."""

from __future__ import annotations

import re
import time
import zlib

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import describe_violations, serious_axe_violations, visit
from tests.web.coalition_people import png

pytestmark = pytest.mark.e2e

REPORT = "/coalitions/eurobleue/report"
NICE = "Métropole Nice Côte d'Azur"


# -- the text of a PDF Chromium printed (Skia: Type0 fonts with ToUnicode maps, Flate streams) -------

OBJECT = re.compile(rb"(\d+) 0 obj(.*?)endobj", re.S)
REF = rb"(\d+) 0 R"


def _objects(pdf: bytes) -> dict[int, tuple[bytes, bytes]]:
    """{number: (dictionary, decoded stream)} of a PDF without object streams (Skia writes none)."""
    found = {}
    for match in OBJECT.finditer(pdf):
        body, stream = match.group(2), b""
        if b"stream" in body:
            head, _, rest = body.partition(b"stream")
            raw = rest[:rest.rindex(b"endstream")].strip(b"\r\n")
            stream = zlib.decompress(raw) if b"/FlateDecode" in head else raw
            body = head
        found[int(match.group(1))] = (body, stream)
    return found


def _cmap(text: bytes) -> dict[int, str]:
    """A ToUnicode CMap's code → text (bfchar and bfrange, the forms Skia writes)."""
    codes: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", text, re.S):
        for code, uni in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            codes[int(code, 16)] = bytes.fromhex(uni.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", text, re.S):
        for low, high, start in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            first = int.from_bytes(bytes.fromhex(start.decode()), "big")
            for offset, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                codes[code] = chr(first + offset)
    return codes


def pdf_text(pdf: bytes) -> str:
    """The text each page shows, in drawing order, one space between lines."""
    objects = _objects(pdf)
    out = []
    for body, _stream in objects.values():
        if not re.search(rb"/Type\s*/Page\b", body):
            continue
        fonts = {}
        block = re.search(rb"/Font\s*<<(.*?)>>", body, re.S)
        for name, number in re.findall(rb"/(\w+)\s+" + REF, block.group(1) if block else b""):
            unicode_ref = re.search(rb"/ToUnicode\s+" + REF, objects[int(number)][0])
            fonts[name] = _cmap(objects[int(unicode_ref.group(1))][1]) if unicode_ref else {}
        contents = re.search(rb"/Contents\s+(\[.*?\]|\d+ 0 R)", body, re.S)
        for number in re.findall(REF, contents.group(1)):
            font: dict[int, str] = {}
            # Skia places runs of one line with Td (their spaces are glyphs); Tm and ET start another.
            for token in re.finditer(rb"/(\w+)\s+[\d.]+\s+Tf|<([0-9A-Fa-f]*)>|(ET|Tm)\b",
                                     objects[int(number)][1]):
                if token.group(1):
                    font = fonts.get(token.group(1), {})
                elif token.group(2) is not None:
                    hexa = token.group(2).decode()
                    out.append("".join(font.get(int(hexa[i:i + 4], 16), "") for i in range(0, len(hexa), 4)))
                else:
                    out.append(" ")
    return re.sub(r"\s+", " ", "".join(out))


# -- the scenario ---------------------------------------------------------------------------------

def check_axe(page) -> None:
    violations = serious_axe_violations(page)
    assert not violations, describe_violations(violations)


def fill_campaign_language(page, code: str, texts: dict, visual) -> None:
    for name, value in texts.items():
        page.locator(f"#{name}_{code}").fill(value)
    page.locator(f"#visual_{code}").set_input_files(str(visual))


def support(page, path: str) -> None:
    visit(page, path)
    page.locator("#support form button[type=submit]").click()
    expect(page.locator("#support button[aria-pressed=true]")).to_be_visible()


def test_coalition_report__campaign_in_french_and_german_a_members_variant_supports_printed_to_pdf(
        new_context, logged_in_state, tmp_path):
    visual_fr, visual_de, visual_nice = (tmp_path / "fr.png", tmp_path / "de.png", tmp_path / "nice.png")
    visual_fr.write_bytes(png(8, 8))
    visual_de.write_bytes(png(9, 9))
    visual_nice.write_bytes(png(10, 10))

    # Lyon's admin founds the coalition.
    admin = new_context("en", state=logged_in_state("lyon_admin")).new_page()
    visit(admin, "/coalitions/new")
    check_axe(admin)
    admin.locator("#founder").select_option("lyon")
    admin.locator("#handle").fill("eurobleue")
    admin.locator("#name").fill("Coalition bleue européenne")
    admin.locator("#summary").fill("Des villes pour des océans propres.")
    admin.locator("#language_fr").check()
    admin.locator("#language_de").check()
    admin.get_by_role("button", name="Found the coalition").click()
    expect(admin).to_have_url(re.compile(r"/actors/eurobleue$"))
    expect(admin.locator("h1")).to_have_text("Coalition bleue européenne")
    check_axe(admin)

    # It invites Nice; Nice's admin accepts on its own admin side.
    visit(admin, "/coalitions/eurobleue/members")
    check_axe(admin)
    admin.locator("#address").fill("nice")
    admin.get_by_role("button", name="Invite", exact=True).click()
    expect(admin.locator("p.notice[role=status]")).to_have_text("The invitation was sent.")
    nice = new_context("en", state=logged_in_state("nice_admin")).new_page()
    visit(nice, "/orgs/nice/coalitions")
    check_axe(nice)
    nice.get_by_role("button", name="Accept the invitation").click()
    expect(nice.locator("p.notice[role=status]")).to_have_text("The organisation joined the coalition.")

    # The campaign, in French and German, with its kit.
    visit(admin, "/coalitions/eurobleue/campaigns/new")
    check_axe(admin)
    fill_campaign_language(admin, "fr", {"name": "Océans sans plastique", "summary": "Pour des plages propres.",
                                         "content": "Nous demandons la fin du plastique jetable.",
                                         "message": "Signez pour des océans propres !",
                                         "alt": "Une vague bleue"}, visual_fr)
    fill_campaign_language(admin, "de", {"name": "Meere ohne Plastik", "summary": "Für saubere Strände.",
                                         "content": "Wir fordern das Ende von Einwegplastik.",
                                         "message": "Unterschreiben Sie für saubere Meere!",
                                         "alt": "Eine blaue Welle"}, visual_de)
    admin.get_by_role("button", name="Publish the campaign").click()
    expect(admin).to_have_url(re.compile(r"/campaigns/[A-Za-z0-9_-]+$"))
    campaign = admin.url.removeprefix(admin.url.split("/campaigns/")[0])
    expect(admin.locator("#kit-fr")).to_have_text("Français")
    expect(admin.locator("#kit-de")).to_have_text("Deutsch")
    expect(admin.locator("img[alt='Eine blaue Welle']")).to_be_visible()
    check_axe(admin)

    # Nice adapts it: its German variant with its own visual.
    visit(nice, "/orgs/nice/coalitions")
    nice.get_by_role("link", name=re.compile("Make our variant")).click()
    check_axe(nice)
    nice.locator("#language").select_option("de")
    nice.locator("#title").fill("Nizza für Meere ohne Plastik")
    nice.locator("#text").fill("Die Metropole Nizza unterstützt die Kampagne.")
    nice.locator("#visual").set_input_files(str(visual_nice))
    nice.get_by_role("button", name="Publish our variant").click()
    expect(nice).to_have_url(re.compile(r"/variants/[A-Za-z0-9_-]+$"))
    variant = nice.url.removeprefix(nice.url.split("/variants/")[0])
    expect(nice.locator("h1")).to_have_text("Nizza für Meere ohne Plastik")
    check_axe(nice)

    # Supports: Camille on the campaign's French page, Henry and Chloé through Nice's variant.
    support(new_context("fr", state=logged_in_state("camille")).new_page(), campaign)
    support(new_context("de", state=logged_in_state("henry")).new_page(), variant)
    support(new_context("en", state=logged_in_state("chloe")).new_page(), variant)

    # The report: the variant's supports are counted at the home by the worker (the outbox).
    deadline = time.monotonic() + 20
    while True:
        visit(admin, REPORT)
        if admin.locator("#report-supports").inner_text() == "3" or time.monotonic() > deadline:
            break
    expect(admin.locator("#report-supports")).to_have_text("3")
    expect(admin.locator("#report-members")).to_have_text("2")
    expect(admin.locator("#report-campaigns")).to_have_text("1")
    members = admin.locator("#campaign-1-members")
    expect(members.locator("tr", has_text=NICE).locator("td")).to_have_text("2")
    expect(members.locator("tr", has_text="The campaign itself (no member)").locator("td")).to_have_text("1")
    languages = admin.locator("#campaign-1-languages")
    expect(languages.locator("tr", has_text="Deutsch").locator("td")).to_have_text("2")
    expect(languages.locator("tr", has_text="Français").locator("td")).to_have_text("1")
    check_axe(admin)
    visit(admin, "/coalitions/eurobleue/dashboard")
    expect(admin.locator("#total-supports")).to_have_text("3")
    expect(admin.locator("#total-posts")).to_have_text("2")
    expect(admin.locator("svg.chart[role=img]")).to_have_count(2)
    check_axe(admin)
    visit(admin, REPORT)

    # Printed: the site's chrome goes, the figures stay; Chromium's PDF holds them.
    admin.emulate_media(media="print")
    expect(admin.locator(".site-header")).to_be_hidden()
    expect(admin.locator(".report-downloads")).to_be_hidden()
    expect(admin.locator("#report-supports")).to_be_visible()
    pdf = admin.pdf(format="A4", print_background=False)
    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf)
    assert "Report of the coalition Coalition bleue européenne" in text, text[:500]
    assert re.search(r"Supports of the campaigns 3\b", text), text
    assert re.search(r"Member organisations 2\b", text), text
    assert re.search(re.escape(NICE) + r" \([^)]+\) 2\b", text), text
    assert re.search(r"The campaign itself \(no member\) 1\b", text), text
    assert re.search(r"Deutsch 2\b", text) and re.search(r"Français 1\b", text), text
    assert "Download:" not in text and "Skip to content" not in text
