"""A questionnaire in Chromium, in French: Lyon's admin builds it with the builder (a choice, a question
shown only when the choice is "Oui", a photo), publishes it; Amine answers with JavaScript (the
conditional question appears once "Oui" is chosen, a photo is attached), Paul without JavaScript
(every question shows, the conditional one saying when it applies, and his answer to it is dropped
since he chose "Non"); the admin's results page then shows SVG charts with those figures and the
photo. Each screen passes axe-core."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import describe_violations, serious_axe_violations, visit
from tests.web.coalition_people import png

pytestmark = pytest.mark.e2e

BUILDER = "/orgs/lyon/admin/questionnaires"
FORM = "/orgs/lyon/questionnaires/trajets-velo"
CYCLE = "Venez-vous à vélo ?"
ROUTE = "Par quelle rue arrivez-vous ?"
PHOTO = "Une photo de votre vélo"


def check_axe(page) -> None:
    violations = serious_axe_violations(page)
    assert not violations, describe_violations(violations)


def add_question(admin, kind: str, title: str, **fields) -> None:
    """Fills the builder's "Add a question" form (ids prefixed ``new-``) and submits it."""
    admin.locator("#new-kind").select_option(kind)
    admin.locator("#new-title_fr").fill(title)
    for name, value in fields.items():
        field = admin.locator(f"#new-{name}")
        if value is True:
            field.check()
        elif field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(label=value) if name.endswith("_question") else field.select_option(value)
        else:
            field.fill(value)
    admin.get_by_role("button", name="Ajouter la question").click()
    expect(admin.locator("h3", has_text=title)).to_be_visible()


def test_questionnaire_journey__built_answered_in_french_with_a_condition_and_a_photo_then_charted(
        new_context, logged_in_state, tmp_path):
    photo = tmp_path / "velo.png"
    photo.write_bytes(png(12, 8))

    # Lyon's admin builds the questionnaire in French and publishes it.
    admin = new_context("fr", state=logged_in_state("lyon_admin")).new_page()
    visit(admin, BUILDER)
    check_axe(admin)
    admin.locator("#slug").fill("trajets-velo")
    admin.locator("#title_fr").fill("Vos trajets à vélo")
    admin.locator("#description_fr").fill("Trois questions sur vos trajets vers le Clos Jouve.")
    admin.get_by_role("button", name="Créer le questionnaire").click()
    expect(admin).to_have_url(re.compile(r"/orgs/lyon/admin/questionnaires/trajets-velo$"))
    add_question(admin, "single", CYCLE, options_fr="Oui\nNon", required=True)
    add_question(admin, "short_text", ROUTE, condition_0_question=f"1. {CYCLE}", condition_0_op="equals",
                 condition_0_value="1")
    admin.locator("#new-kind").select_option("file")  # the builder shows the chosen kind's fields only
    expect(admin.locator("#new-types_images")).to_be_visible()
    expect(admin.locator("#new-options_fr")).to_be_hidden()
    add_question(admin, "file", PHOTO, types_images=True)
    check_axe(admin)
    admin.get_by_role("button", name="Publier le questionnaire").click()
    expect(admin.get_by_role("button", name="Clore le questionnaire")).to_be_visible()

    # Amine answers with JavaScript: the route question appears once "Oui" is chosen.
    amine = new_context("fr", state=logged_in_state("amine")).new_page()
    visit(amine, FORM)
    expect(amine.get_by_role("heading", level=1)).to_have_text("Vos trajets à vélo")
    route = amine.get_by_label(ROUTE)
    expect(route).to_be_hidden()
    check_axe(amine)
    amine.get_by_label("Non").check()
    expect(route).to_be_hidden()
    amine.get_by_label("Oui").check()
    expect(route).to_be_visible()
    route.fill("Rue d'Austerlitz")
    amine.get_by_label(PHOTO).set_input_files(str(photo))
    amine.get_by_role("button", name="Envoyer mes réponses").click()
    expect(amine.locator("p.notice[role=status]")).to_have_text("Merci : vos réponses ont été enregistrées.")
    expect(amine.get_by_text("Vous avez déjà répondu à ce questionnaire.")).to_be_visible()
    check_axe(amine)

    # Paul answers without JavaScript: every question shows; the route one says when it applies.
    paul = new_context("fr", javascript=False, state=logged_in_state("paul")).new_page()
    visit(paul, FORM)
    expect(paul.get_by_label(ROUTE)).to_be_visible()
    expect(paul.locator(".condition-note")).to_have_text(
        f"Répondez à cette question seulement si votre réponse à « {CYCLE} » est « Oui ».")
    paul.get_by_label("Non").check()
    paul.get_by_label(ROUTE).fill("Montée de la Grande-Côte")  # does not apply: dropped
    paul.get_by_role("button", name="Envoyer mes réponses").click()
    expect(paul.locator("p.notice[role=status]")).to_have_text("Merci : vos réponses ont été enregistrées.")

    # The admin's results: a chart per question with the figures, the photo among the files.
    visit(admin, FORM + "/results")
    expect(admin.locator("#response-count")).to_have_text("2")
    cycle = admin.locator("section.result", has=admin.get_by_role("heading", name=CYCLE))
    chart = cycle.locator("svg.chart[role=img]")
    expect(chart).to_be_visible()
    texts = chart.locator("text").all_text_contents()
    assert texts == ["Oui", "1", "Non", "1"], texts
    routes = admin.locator("section.result", has=admin.get_by_role("heading", name=ROUTE))
    expect(routes.locator("ul.samples li")).to_have_text(["Rue d'Austerlitz"])  # Paul's was dropped
    photos = admin.locator("section.result", has=admin.get_by_role("heading", name=PHOTO))
    expect(photos.get_by_role("link", name="velo.png")).to_be_visible()
    check_axe(admin)


def test_questionnaire_form__every_kind_of_question_passes_axe_and_is_answered_without_javascript(
        new_context, logged_in_state):
    """A questionnaire with one question of each kind (built in English): its form passes axe-core,
    and a resident without JavaScript ranks, rates and fills a matrix; the results chart them.
    (The builder's page with seven questions is not given to axe: their edit forms make it too
    large for axe to finish in reasonable time on a loaded machine; the first test checks it.)"""
    admin = new_context("en", state=logged_in_state("lyon_admin")).new_page()
    visit(admin, BUILDER)
    admin.locator("#slug").fill("every-kind")
    admin.locator("#title_en").fill("Every kind")
    admin.locator("#language_en").check()
    admin.get_by_role("button", name="Create the questionnaire").click()
    expect(admin).to_have_url(re.compile(r"/every-kind$"))

    def add(kind: str, title: str, **fields) -> None:
        admin.locator("#new-kind").select_option(kind)
        admin.locator("#new-title_en").fill(title)
        for name, value in fields.items():
            admin.locator(f"#new-{name}").fill(value)
        admin.get_by_role("button", name="Add the question").click()
        expect(admin.locator("h3", has_text=title)).to_be_visible()

    add("block", "About you", description_en="A few questions.")
    add("long_text", "Your ideas")
    add("multiple", "Your modes", options_en="Walk\nBus\nCar", max_choices="2")
    add("ranking", "Priorities", options_en="Trees\nLanes\nBenches")
    add("scale", "Satisfaction", scale_min="1", scale_max="5", min_label_en="Unhappy", max_label_en="Happy")
    add("matrix_single", "Quality", options_en="Bad\nGood", rows_en="Buses\nTrams")
    add("matrix_multiple", "Uses", options_en="Weekdays\nWeekends", rows_en="Buses\nTrams")
    admin.get_by_role("button", name="Publish the questionnaire").click()

    lena = new_context("en", state=logged_in_state("lena")).new_page()  # axe runs as a script: JavaScript on
    visit(lena, "/orgs/lyon/questionnaires/every-kind")
    check_axe(lena)
    henry = new_context("en", javascript=False, state=logged_in_state("henry")).new_page()
    visit(henry, "/orgs/lyon/questionnaires/every-kind")
    henry.get_by_label("Your ideas").fill("Shade")
    henry.get_by_role("group", name="Your modes").get_by_label("Bus").check()
    ranking = henry.get_by_role("group", name="Priorities")
    ranking.get_by_label("Lanes").select_option("1")
    ranking.get_by_label("Trees").select_option("2")
    henry.get_by_role("group", name="Satisfaction").get_by_label(re.compile(r"^4")).check()
    henry.get_by_label("Trams — Good").check()
    henry.get_by_label("Buses — Weekends").check()
    henry.get_by_role("button", name="Send my answers").click()
    expect(henry.locator("p.notice[role=status]")).to_have_text("Thank you: your answers were recorded.")

    visit(admin, "/orgs/lyon/questionnaires/every-kind/results")
    ranked = admin.locator("section.result", has=admin.get_by_role("heading", name="Priorities"))
    assert ranked.locator("svg text").all_text_contents()[:2] == ["Lanes", "3"]
    quality = admin.locator("section.result", has=admin.get_by_role("heading", name="Quality"))
    expect(quality.locator("svg.chart-stacked")).to_be_visible()
    check_axe(admin)
