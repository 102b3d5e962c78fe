"""Questionnaire pages: the list, the answer form of every kind of question (display conditions
without JavaScript, files bounded in size and checked by content), quiz feedback, the states a
questionnaire can be in, visibility levels, and the results and exports for the organisation's
admins only. Hostile forms are fuzzed: never a 5xx."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import timedelta
from urllib.parse import urlencode
from xml.etree import ElementTree

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from node.db import transaction
from node.models import Actor, Answer, Discussion, QuestionnaireResponse, utcnow
from node.services import actors, membership, spaces
from node.services import questionnaires as service
from tests.web.coalition_people import png
from tests.web.participation_helpers import PASSWORD, Client
from web.participation import charts

SVG = "{http://www.w3.org/2000/svg}"
FORM = "/orgs/lyon/questionnaires/{slug}"
OPTIONS_YES_NO = [{"key": "yes", "label": {"fr": "Oui", "en": "Yes", "de": "Ja"}},
                  {"key": "no", "label": {"fr": "Non", "en": "No", "de": "Nein"}}]
COLUMNS = [{"key": "bad", "label": {"fr": "Mauvais", "en": "Bad"}},
           {"key": "fair", "label": {"fr": "Moyen", "en": "Fair"}},
           {"key": "good", "label": {"fr": "Bon", "en": "Good"}}]
ROWS = [{"key": "bus", "label": {"fr": "Bus", "en": "Buses"}},
        {"key": "tram", "label": {"fr": "Tram", "en": "Trams"}}]


async def make_questionnaire(node, world, slug: str = "mobilite", *, publish: bool = True, **options) -> dict:
    """A questionnaire of Lyon with one question of each kind; returns {name: question id} and the
    questionnaire's id under "q". ``route`` is shown only when ``cycle`` is answered "yes"."""
    async with transaction(node.rt.sessions) as s:
        org = await s.get(Actor, world.org.id)
        q = await service.create(s, org, slug, {"fr": "Vos déplacements", "en": "Your journeys",
                                                 "de": "Ihre Wege"}, languages=("fr", "en", "de"), **options)
        ids = {"q": q.id}

        async def add(name, kind, title, **parts):
            ids[name] = (await service.add_question(s, q, kind, title, **parts)).id

        await add("intro", "block", {"fr": "Vos habitudes", "en": "Your habits"})
        await add("cycle", "single", {"fr": "Faites-vous du vélo ?", "en": "Do you cycle?", "de": "Radeln Sie?"},
                  required=True, options=OPTIONS_YES_NO, correct="yes" if options.get("quiz") else None,
                  explanation={"fr": "Le vélo, c'est la santé.", "en": "Cycling keeps you fit."})
        await add("route", "short_text", {"fr": "Quel trajet ?", "en": "Which route?"}, required=True,
                  conditions=[{"question": ids["cycle"], "op": "equals", "value": "yes"}])
        await add("ideas", "long_text", {"fr": "Vos idées", "en": "Your ideas"})
        await add("modes", "multiple", {"fr": "Vos modes", "en": "Your modes"},
                  options=[{"key": k, "label": {"en": k.title()}} for k in ("walk", "bus", "car")],
                  settings={"min_choices": 1, "max_choices": 2})
        await add("rank", "ranking", {"fr": "Priorités", "en": "Priorities"},
                  options=[{"key": k, "label": {"en": k.title()}} for k in ("trees", "lanes", "benches")])
        await add("scale", "scale", {"fr": "Satisfaction", "en": "Satisfaction"},
                  settings={"min": 1, "max": 5, "min_label": {"en": "Unhappy"}, "max_label": {"en": "Happy"}})
        await add("grid", "matrix_single", {"fr": "Qualité", "en": "Quality"}, options=COLUMNS, rows=ROWS)
        await add("grid_many", "matrix_multiple", {"fr": "Usages", "en": "Uses"}, options=COLUMNS, rows=ROWS)
        await add("photo", "file", {"fr": "Une photo", "en": "A photo"},
                  settings={"types": ["images"], "max_bytes": 64 * 1024})
        if publish:
            await service.publish(s, q)
    return ids


async def signed_in(clients, handle: str, lang: str = "en") -> Client:
    client = clients(lang)
    await client.login(handle)
    return client


async def post_form(client: Client, url: str, fields: list[tuple[str, object]], *, csrf_page: str | None = None,
                    files: dict[str, tuple[str, bytes]] | None = None):
    """POST ``fields`` (repeated names kept) as the browser does: multipart when there are files."""
    token = (await client.get(csrf_page or url)).csrf if csrf_page != "" else "x"
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("csrf_token", token)
    for name, value in fields:
        form.add_field(name, str(value))
    for name, (filename, data) in (files or {}).items():
        form.add_field(name, data, filename=filename, content_type="application/octet-stream")
    async with client.session.post(client.base + client.path(url), data=form, allow_redirects=False) as r:
        return r.status, await r.text(), r.headers


async def responses(node, q_id: int) -> list[dict[int, object]]:
    async with node.rt.sessions() as s:
        rows = await s.execute(select(Answer.response_id, Answer.question_id, Answer.value)
                               .join(QuestionnaireResponse, QuestionnaireResponse.id == Answer.response_id)
                               .where(QuestionnaireResponse.questionnaire_id == q_id))
        found: dict[int, dict[int, object]] = {}
        for response_id, question_id, value in rows:
            found.setdefault(response_id, {})[question_id] = value
    return list(found.values())


def full_answer(ids: dict) -> list[tuple[str, object]]:
    return [(f"q{ids['cycle']}", "yes"), (f"q{ids['route']}", "Croix-Rousse → Part-Dieu"),
            (f"q{ids['ideas']}", "More trees"), (f"q{ids['modes']}", "walk"), (f"q{ids['modes']}", "bus"),
            (f"q{ids['rank']}.lanes", "1"), (f"q{ids['rank']}.trees", "2"), (f"q{ids['scale']}", "4"),
            (f"q{ids['grid']}.bus", "fair"), (f"q{ids['grid']}.tram", "good"),
            (f"q{ids['grid_many']}.bus", "bad"), (f"q{ids['grid_many']}.bus", "good")]


async def test_answer__every_kind_of_question_is_stored_in_its_shape(node, world, clients):
    """A resident answers one question of each kind (a file among them) through the form: each
    answer is stored in the shape of ``Answer.value``; the page then says they answered."""
    ids = await make_questionnaire(node, world)
    camille = await signed_in(clients, "camille")
    url = FORM.format(slug="mobilite")
    status, text, headers = await post_form(camille, url, full_answer(ids),
                                            files={f"q{ids['photo']}": ("bike.png", png(4, 4))})
    assert status == 303, text[:2000]
    assert headers["Location"].endswith("/orgs/lyon/questionnaires/mobilite?thanks")
    [answers] = await responses(node, ids["q"])
    assert answers[ids["cycle"]] == "yes" and answers[ids["route"]] == "Croix-Rousse → Part-Dieu"
    assert answers[ids["modes"]] == ["walk", "bus"] and answers[ids["rank"]] == ["lanes", "trees"]
    assert answers[ids["scale"]] == 4
    assert answers[ids["grid"]] == {"bus": ["fair"], "tram": ["good"]}
    assert answers[ids["grid_many"]] == {"bus": ["bad", "good"]}
    assert answers[ids["photo"]]["type"] == "image/png" and answers[ids["photo"]]["name"] == "bike.png"
    page = await camille.get(url + "?thanks")
    assert "Thank you: your answers were recorded." in page.text
    assert "You have already answered this questionnaire." in page.text
    assert "Send my answers" not in page.text
    again = await post_form(camille, url, full_answer(ids), csrf_page="/")
    assert again[0] == 409 and "You have already answered this questionnaire." in again[1]


async def test_questionnaire_pages__results_and_exports_only_to_the_organisations_admins(node, world, clients):
    """The results page, the CSV and JSON exports and the files sent answer the organisation's
    admin; a visitor, a resident, a verified member, a moderator and an official get the 404 of a
    missing page (or the log-in page), and never a figure or an answer."""
    ids = await make_questionnaire(node, world)
    eva = await signed_in(clients, "eva")
    status, text, _headers = await post_form(eva, FORM.format(slug="mobilite"), full_answer(ids),
                                             files={f"q{ids['photo']}": ("velo.png", png(3, 3))})
    assert status == 303, text[:1000]
    async with transaction(node.rt.sessions) as s:
        member = await actors.create_user(s, node.uris, "membre", PASSWORD, "Un membre")
        await membership.admit(s, await s.get(Actor, world.org.id), member, None)
    [answers] = await responses(node, ids["q"])
    stored = answers[ids["photo"]]["path"].rsplit("/", 1)[1]
    base = "/orgs/lyon/questionnaires/mobilite"
    paths = [f"{base}/results", f"{base}/export.csv", f"{base}/export.json", f"{base}/files/{stored}"]
    visitors = {"anonymous": clients("en")}
    for handle in ("camille", "membre", "modo", "elu"):
        visitors[handle] = await signed_in(clients, handle)
    for who, client in visitors.items():
        for path in paths:
            reply = await client.get(path)
            assert reply.status in (403, 404), (who, path, reply.status)
            assert "Croix-Rousse" not in reply.text and "More trees" not in reply.text
    admin = await signed_in(clients, "maire")
    results = await admin.get(f"{base}/results")
    assert results.status == 200
    assert "More trees" in results.text  # a sample of the text answers
    csv_reply = await admin.get(f"{base}/export.csv")
    assert csv_reply.status == 200 and csv_reply.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in csv_reply.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(csv_reply.text.lstrip("\ufeff"))))
    assert len(rows) == 2 and any("Croix-Rousse → Part-Dieu" in cell for cell in rows[1])
    assert "eva" not in csv_reply.text
    json_reply = await admin.get(f"{base}/export.json")
    assert json_reply.status == 200
    document = json.loads(json_reply.text)
    assert "Croix-Rousse → Part-Dieu" in json.dumps(document, ensure_ascii=False)
    assert "eva" not in json_reply.text
    async with admin.session.get(admin.base + f"{base}/files/{stored}") as r:
        assert r.status == 200 and r.headers["Content-Type"] == "image/png"
        assert "attachment" in r.headers["Content-Disposition"]
        assert (await r.read()).startswith(b"\x89PNG")


async def test_results__charts_show_the_figures_of_each_question(node, world, clients):
    """Two responses: the SVG chart of each choice, scale, ranking and matrix question names its
    figures (bars with their counts), and the data table under it repeats them."""
    ids = await make_questionnaire(node, world)
    for handle, cycle, scale in (("camille", "yes", "4"), ("eva", "no", "5")):
        client = await signed_in(clients, handle)
        fields = [(f"q{ids['cycle']}", cycle), (f"q{ids['scale']}", scale), (f"q{ids['modes']}", "bus"),
                  (f"q{ids['rank']}.benches", "1"), (f"q{ids['grid']}.bus", "good")]
        if cycle == "yes":
            fields.append((f"q{ids['route']}", "Quai"))
        status, text, _h = await post_form(client, FORM.format(slug="mobilite"), fields)
        assert status == 303, text[:1000]
    admin = await signed_in(clients, "maire")
    page = await admin.get("/orgs/lyon/questionnaires/mobilite/results")
    assert page.status == 200
    assert re.search(r'id="response-count">2<', page.text)
    svgs = {m.group(1): ElementTree.fromstring(m.group(0)) for m in re.finditer(
        r'<svg[^>]*aria-labelledby="chart-q(\d+)-title[^>]*>.*?</svg>', page.text, re.S)}
    cycle = svgs[str(ids["cycle"])]
    assert cycle.get("role") == "img"
    bar_titles = sorted(t.text for t in cycle.iter(f"{SVG}title") if t.text and ":" in t.text)
    assert bar_titles == ["No: 1", "Yes: 1"]
    scale_titles = [t.text for t in svgs[str(ids["scale"])].iter(f"{SVG}title") if t.text and ":" in t.text]
    assert scale_titles == ["1: 0", "2: 0", "3: 0", "4: 1", "5: 1"]
    ranking = [t.text for t in svgs[str(ids["rank"])].iter(f"{SVG}title") if t.text and ":" in t.text]
    assert ranking[0] == "Benches: 6"  # first of three for both: 3 points each
    grid = [t.text for t in svgs[str(ids["grid"])].iter(f"{SVG}title") if t.text and "—" in t.text]
    assert "Buses — Good: 2" in grid and "Trams — Good: 0" in grid
    assert "mean 4.5" in page.text


async def test_conditions__without_javascript_the_page_says_when_a_question_applies_and_drops_hidden_answers(
        node, world, clients):
    """Without JavaScript every question is on the page; the conditional one says under it when
    it applies. Answered "no", its answer is dropped; answered "yes", it is required."""
    ids = await make_questionnaire(node, world)
    camille = await signed_in(clients, "camille")
    url = FORM.format(slug="mobilite")
    page = await camille.get(url)
    assert "Answer this question only if your answer to “Do you cycle?” is “Yes”." in page.text
    found = re.search(rf'id="question-{ids["route"]}"[^>]*data-conditions="([^"]*)"', page.text)
    assert json.loads(html.unescape(found.group(1))) == [{"question": ids["cycle"], "op": "equals", "value": "yes"}]
    assert '<script src="/static/questionnaires.js" defer></script>' in page.text
    required = await post_form(camille, url, [(f"q{ids['cycle']}", "yes"), (f"q{ids['modes']}", "car")])
    assert required[0] == 400 and "This question needs an answer." in required[1]
    assert f'href="#q{ids["route"]}"' in required[1]
    assert 'value="car" checked' in required[1]  # what was chosen comes back
    assert await responses(node, ids["q"]) == []
    dropped = await post_form(camille, url, [(f"q{ids['cycle']}", "no"), (f"q{ids['route']}", "Quai"),
                                             (f"q{ids['modes']}", "car")])
    assert dropped[0] == 303, dropped[1][:1000]
    [answers] = await responses(node, ids["q"])
    assert answers == {ids["cycle"]: "no", ids["modes"]: ["car"]}


async def test_files__too_large_or_of_the_wrong_type_are_refused_with_the_reason(node, world, clients):
    """The question takes images up to 64 KB: a larger one comes back with a 413 and its limit, a
    form larger than its bound is refused before it is read (413), a text file named .png gets a
    400 saying the type is not accepted. Nothing is stored."""
    ids = await make_questionnaire(node, world)
    camille = await signed_in(clients, "camille")
    url = FORM.format(slug="mobilite")
    fields = [(f"q{ids['cycle']}", "no"), (f"q{ids['modes']}", "car")]
    large = png(4, 4) + b"\x00" * (70 * 1024)
    status, text, _h = await post_form(camille, url, fields, files={f"q{ids['photo']}": ("big.png", large)})
    assert status == 413 and "The file is limited to 64 KB." in text
    huge = b"\x89PNG\r\n\x1a\n" + b"\x00" * (2 * 1024 * 1024)
    status, text, _h = await post_form(camille, url, fields, files={f"q{ids['photo']}": ("huge.png", huge)})
    assert status == 413 and "The file is limited to 64 KB." in text
    status, text, _h = await post_form(camille, url, fields,
                                       files={f"q{ids['photo']}": ("note.png", b"just some text, not an image")})
    assert status == 400 and "This type of file is not accepted here." in text
    assert await responses(node, ids["q"]) == []
    assert (node.settings.data_dir / "questionnaires").exists() is False or not any(
        (node.settings.data_dir / "questionnaires").rglob("*.png"))


async def test_quiz__the_feedback_page_shows_the_correct_answers_and_explanations(node, world, clients):
    """A quiz answers the submission with the correct answers and their explanations."""
    ids = await make_questionnaire(node, world, "quiz", quiz=True)
    camille = await signed_in(clients, "camille", "fr")
    status, text, _h = await post_form(camille, FORM.format(slug="quiz"),
                                       [(f"q{ids['cycle']}", "no"), (f"q{ids['modes']}", "car")])
    assert status == 200, text[:1000]
    assert re.search(r'id="quiz-score">[^<]*\b0\b[^<]*\b1\b', text)
    assert re.search(r"Le vélo, c&#(x27|39);est la santé.", text)
    assert re.search(r"The correct answer:\s*Oui", text) or re.search(r"bonne réponse\s*:\s*Oui", text)


async def test_states__draft_not_yet_open_closed_and_verified_only(node, world, clients):
    """A draft is a 404 for all but the admins; a questionnaire not open yet or closed says so and
    shows no form (a POST is refused with the reason); verified-only sends residents to the
    verification page."""
    await make_questionnaire(node, world, "brouillon", publish=False)
    await make_questionnaire(node, world, "bientot", opens_at=utcnow() + timedelta(days=2))
    await make_questionnaire(node, world, "fini")
    closed = await make_questionnaire(node, world, "verifies", verified_only=True)
    async with transaction(node.rt.sessions) as s:
        q = await service.by_slug(s, await s.get(Actor, world.org.id), "fini")
        await service.close(s, q)
    camille = await signed_in(clients, "camille")
    assert (await camille.get(FORM.format(slug="brouillon"))).status == 404
    assert (await clients("en").get(FORM.format(slug="brouillon"))).status == 404
    admin = await signed_in(clients, "maire")
    preview = await admin.get(FORM.format(slug="brouillon"))
    assert preview.status == 200 and "A preview" in preview.text
    soon = await camille.get(FORM.format(slug="bientot"))
    assert "This questionnaire is not open yet." in soon.text and "Send my answers" not in soon.text
    refused = await post_form(camille, FORM.format(slug="bientot"), [("q1", "x")], csrf_page="/")
    assert refused[0] == 403 and "This questionnaire is not open yet." in refused[1]
    done = await camille.get(FORM.format(slug="fini"))
    assert "This questionnaire is closed" in done.text and "Send my answers" not in done.text
    verified = await camille.get(FORM.format(slug="verifies"))
    assert "Only verified members of Ville de Lyon can answer this questionnaire." in verified.text
    assert 'href="http://' in verified.text and "/orgs/lyon/verify" in verified.text
    refused = await post_form(camille, FORM.format(slug="verifies"),
                              [(f"q{closed['cycle']}", "no"), (f"q{closed['modes']}", "car")], csrf_page="/")
    assert refused[0] == 403 and "Only verified members" in refused[1]
    anonymous = await clients("en").get(FORM.format(slug="verifies"))
    assert "Log in to answer" in anonymous.text


async def test_visibility__a_members_only_questionnaire_is_listed_and_readable_by_members_alone(
        node, world, clients):
    """A members-only questionnaire: not in the list nor readable (404) for a visitor or a
    resident; listed and answerable for a verified member."""
    ids = await make_questionnaire(node, world, "membres", visibility="members")
    await make_questionnaire(node, world, "public")
    async with transaction(node.rt.sessions) as s:
        member = await actors.create_user(s, node.uris, "membre", PASSWORD, "Un membre")
        await membership.admit(s, await s.get(Actor, world.org.id), member, None)
    for client in (clients("en"), await signed_in(clients, "camille")):
        listing = await client.get("/orgs/lyon/questionnaires")
        assert listing.status == 200 and "/questionnaires/public" in listing.text
        assert "/questionnaires/membres" not in listing.text
        assert (await client.get(FORM.format(slug="membres"))).status == 404
        assert (await client.get(FORM.format(slug="does-not-exist"))).status == 404
    outsider = await signed_in(clients, "camille")
    refused = await post_form(outsider, FORM.format(slug="membres"), [("q1", "x")], csrf_page="/")
    assert refused[0] == 404
    insider = await signed_in(clients, "membre")
    listing = await insider.get("/orgs/lyon/questionnaires")
    assert "/questionnaires/membres" in listing.text
    status, text, _h = await post_form(insider, FORM.format(slug="membres"),
                                       [(f"q{ids['cycle']}", "no"), (f"q{ids['modes']}", "car")])
    assert status == 303, text[:1000]


async def test_languages__texts_in_the_page_language_with_a_fallback(node, world, clients):
    """A German reader gets the German texts, and the first language's (French) where a text has no
    German version; an English reader the English ones."""
    await make_questionnaire(node, world)
    german = await (await signed_in(clients, "camille", "de")).get(FORM.format(slug="mobilite"))
    assert "Ihre Wege" in german.text and "Radeln Sie?" in german.text
    assert "Quel trajet ?" in german.text  # no German text: French, the questionnaire's first language
    english = await (await signed_in(clients, "eva", "en")).get(FORM.format(slug="mobilite"))
    assert "Your journeys" in english.text and "Which route?" in english.text


@pytest.fixture
async def mobilite(node, world) -> dict:
    return await make_questionnaire(node, world)


@pytest.fixture
async def camille(clients) -> Client:
    return await signed_in(clients, "camille")


@pytest.fixture
async def maire(clients) -> Client:
    return await signed_in(clients, "maire")


FIELD_NAMES = st.one_of(
    st.sampled_from(["q1", "q2", "q3", "q5", "q6", "q7", "q8", "q9", "q10", "q6.trees", "q8.bus", "q9.tram",
                     "q9.nope", "q10.", "q99999999999", "csrf", "q2.\x00", "qé", "q-1", "q0"]),
    st.text(min_size=1, max_size=20))
FIELD_VALUES = st.one_of(st.sampled_from(["yes", "no", "1", "0", "-1", "99999999999999", "", "bus", "fair",
                                          "walk", "\x00", "9" * 50]), st.text(max_size=60))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(fields=st.lists(st.tuples(FIELD_NAMES, FIELD_VALUES), max_size=25))
async def test_fuzz__hostile_answer_forms_never_cause_a_server_error(node, mobilite, camille, fields):
    """Whatever fields a form carries (unknown questions, keys and ranks, huge numbers, NUL and
    control characters), the answer is a redirect or a 4xx with a reason, never a 5xx."""
    token = (await camille.get("/")).csrf
    body = urlencode([("csrf_token", token), *fields])
    async with camille.session.post(camille.base + FORM.format(slug="mobilite"), data=body, allow_redirects=False,
                                    headers={"Content-Type": "application/x-www-form-urlencoded"}) as r:
        status, text = r.status, await r.text()
    assert status in (303, 400, 409, 413), (fields, status, text[:500])
    assert "Traceback" not in text


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"\x00" * 64, b"%PDF-1.4 nothing",
                             b"PK\x03\x04broken", b"\xff\xd8\xff\xe0 truncated jpeg"]),
       name=st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=40))
async def test_fuzz__hostile_files_never_cause_a_server_error(node, mobilite, camille, data, name):
    """Broken images, empty files and odd names: refused with a reason (or stored when valid)."""
    fields = [(f"q{mobilite['cycle']}", "no"), (f"q{mobilite['modes']}", "car")]
    status, text, _h = await post_form(camille, FORM.format(slug="mobilite"), fields, csrf_page="/",
                                       files={f"q{mobilite['photo']}": (name or "x", data)})
    assert status in (303, 400, 409, 413), (data[:10], name, status, text[:500])


BUILDER = "/orgs/lyon/admin/questionnaires"


async def test_builder__an_admin_builds_a_questionnaire_of_every_kind_and_publishes_it(node, world, clients):
    """Through the builder's forms: create a quiz in French and English, add a question of each
    kind (options typed one per line per language, a display condition, a correct answer), edit
    one, remove one, publish. The form then shows them; a moderator gets 404 on every builder path."""
    admin = await signed_in(clients, "maire")
    created = await admin.post(BUILDER, {"slug": "sondage", "title_fr": "Sondage", "title_en": "Survey",
                                         "language_fr": "on", "language_en": "on", "visibility": "public",
                                         "quiz": "on"}, form=BUILDER)
    assert created.status == 303 and created.location.endswith(f"{BUILDER}/sondage")
    duplicate = await admin.post(BUILDER, {"slug": "sondage", "title_fr": "Encore", "language_fr": "on",
                                           "visibility": "public"}, form=BUILDER)
    assert duplicate.status == 400 and "already has a questionnaire with this name" in duplicate.text
    add = f"{BUILDER}/sondage/questions"
    reply = await admin.post(add, {"kind": "single", "title_fr": "Vélo ?", "title_en": "Cycle?",
                                   "options_fr": "Oui\nNon", "options_en": "Yes\nNo", "required": "on",
                                   "correct": "1", "explanation_fr": "Bien sûr."}, form=f"{BUILDER}/sondage")
    assert reply.status == 303, reply.text[:2000]
    async with node.rt.sessions() as s:
        q = await service.by_slug(s, await s.get(Actor, world.org.id), "sondage")
        [cycle] = await service.questions(s, q)
    assert cycle.options == [{"key": "1", "label": {"fr": "Oui", "en": "Yes"}},
                             {"key": "2", "label": {"fr": "Non", "en": "No"}}]
    assert cycle.correct == "1" and cycle.explanation == {"fr": "Bien sûr."}
    kinds = [
        {"kind": "short_text", "title_fr": "Trajet", "condition_0_question": str(cycle.id),
         "condition_0_op": "equals", "condition_0_value": "1", "max_length": "200"},
        {"kind": "long_text", "title_fr": "Idées"},
        {"kind": "multiple", "title_fr": "Modes", "options_fr": "Marche\nBus\nVoiture", "min_choices": "1",
         "max_choices": "2"},
        {"kind": "ranking", "title_fr": "Priorités", "options_fr": "Arbres\nPistes"},
        {"kind": "scale", "title_fr": "Note", "scale_min": "0", "scale_max": "10", "min_label_fr": "Mauvais"},
        {"kind": "matrix_single", "title_fr": "Qualité", "options_fr": "Bon\nMauvais", "rows_fr": "Bus\nTram"},
        {"kind": "matrix_multiple", "title_fr": "Usages", "options_fr": "Semaine\nWeek-end", "rows_fr": "Bus\nTram"},
        {"kind": "file", "title_fr": "Photo", "types_images": "on", "types_documents": "on", "max_mb": "2"},
        {"kind": "block", "title_fr": "Merci", "description_fr": "Dernière partie."},
    ]
    for fields in kinds:
        reply = await admin.post(add, fields, form=f"{BUILDER}/sondage")
        assert reply.status == 303, (fields["kind"], reply.text[:2000])
    refused = await admin.post(add, {"kind": "single", "title_fr": "Sans options"}, form=f"{BUILDER}/sondage")
    assert refused.status == 400 and "Not saved" in refused.text
    async with node.rt.sessions() as s:
        questions = await service.questions(s, q)
    assert [x.kind for x in questions] == ["single", *(f["kind"] for f in kinds)]
    route, scale, upload = questions[1], questions[5], questions[8]
    assert route.conditions == [{"question": cycle.id, "op": "equals", "value": "1"}]
    assert route.settings == {"max_length": 200}
    assert scale.settings["min"] == 0 and scale.settings["max"] == 10
    assert upload.settings == {"types": ["documents", "images"], "max_bytes": 2 * 1024 * 1024}
    edit = f"{BUILDER}/sondage/questions/{questions[2].id}"
    reply = await admin.post(edit, {"action": "save", "title_fr": "Vos idées", "title_de": "Ihre Ideen"},
                             form=f"{BUILDER}/sondage")
    assert reply.status == 303
    reply = await admin.post(f"{BUILDER}/sondage/questions/{cycle.id}", {"action": "remove"},
                             form=f"{BUILDER}/sondage")
    assert reply.status == 400  # the route question's condition names it
    reply = await admin.post(f"{BUILDER}/sondage/questions/{questions[-1].id}", {"action": "remove"},
                             form=f"{BUILDER}/sondage")
    assert reply.status == 303
    reply = await admin.post(f"{BUILDER}/sondage/state", {"action": "publish"}, form=f"{BUILDER}/sondage")
    assert reply.status == 303
    async with node.rt.sessions() as s:
        q = await service.by_slug(s, await s.get(Actor, world.org.id), "sondage")
        questions = await service.questions(s, q)
    assert q.state == "published" and len(questions) == 9
    assert questions[2].title == {"fr": "Vos idées", "de": "Ihre Ideen"}
    builder = await admin.get(f"{BUILDER}/sondage")
    assert builder.status == 200 and "Close the questionnaire" in builder.text
    form = await (await signed_in(clients, "camille", "fr")).get("/orgs/lyon/questionnaires/sondage")
    assert "Vos idées" in form.text and 'type="file"' in form.text and 'enctype="multipart/form-data"' in form.text
    modo = await signed_in(clients, "modo")
    for path in (BUILDER, f"{BUILDER}/sondage"):
        assert (await modo.get(path)).status == 404
    for path, fields in ((BUILDER, {"slug": "x", "title_fr": "X", "language_fr": "on", "visibility": "public"}),
                         (add, {"kind": "short_text", "title_fr": "X"}), (edit, {"action": "remove"}),
                         (f"{BUILDER}/sondage/state", {"action": "close"})):
        assert (await modo.post(path, fields, form="/")).status == 404


def test_charts__a_scale_distribution_and_a_matrix_name_their_figures_and_escape_their_texts():
    """The scale's bars are proportional to their counts (the tallest fills the drawing) and say
    their value and count; a matrix row's parts share its width by count; texts are escaped."""
    scale = ElementTree.fromstring(str(charts.distribution([("1", 0), ("2", 3), ("3", 6)], chart_id="s",
                                                           title="Note <b>", description="9 answers")))
    bars = scale.findall(f"{SVG}rect")
    heights = [float(bar.get("height")) for bar in bars]
    assert heights[0] == 0 and heights[2] == 2 * heights[1] > 0
    assert [bar.find(f"{SVG}title").text for bar in bars] == ["1: 0", "2: 3", "3: 6"]
    assert scale.find(f"{SVG}title").text == "Note <b>" and scale.get("role") == "img"
    matrix = ElementTree.fromstring(str(charts.stacked_rows(
        [("Bus & tram", [1, 3]), ("Vélo", [0, 0])], ["Bon", "Mauvais"], chart_id="m", title="T", description="D")))
    parts = [r for r in matrix.findall(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    widths = {r.find(f"{SVG}title").text: float(r.get("width")) for r in parts}
    assert widths["Bus & tram — Mauvais: 3"] == 3 * widths["Bus & tram — Bon: 1"]
    assert widths["Vélo — Bon: 0"] == widths["Vélo — Mauvais: 0"] == 0
    legend = [t.text for t in matrix.findall(f"{SVG}text")]
    assert "Bon" in legend and "Mauvais" in legend and "Bus &amp; tram" not in legend
    assert "style=" not in str(charts.stacked_rows([("a", [1])], ["b"], chart_id="x", title="t", description="d"))


BUILDER_FIELDS = st.sampled_from([
    "slug", "title_fr", "title_en", "description_de", "language_fr", "language_xx", "visibility", "place",
    "opens_at", "closes_at", "anonymous", "quiz", "kind", "options_fr", "options_en", "rows_fr", "required",
    "max_length", "min_choices", "max_choices", "scale_min", "scale_max", "min_label_fr", "types_images",
    "types_documents", "max_mb", "condition_0_question", "condition_0_op", "condition_0_value",
    "condition_2_question", "correct", "explanation_fr", "action"])
BUILDER_VALUES = st.one_of(
    st.sampled_from(["on", "", "1", "-1", "--5", "0", "99999999", "public", "members", "single", "scale",
                     "matrix_single", "file", "block", "equals", "matches", "(a+)+$", "save", "remove", "up",
                     "publish", "close", "space:1", "phase:99", "discussion:1", "2026-13-40T25:61",
                     "9999-12-31T23:59", "a\nb\n\nc", "\x00", "x" * 600]),
    st.text(max_size=40))


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(fields=st.dictionaries(BUILDER_FIELDS, BUILDER_VALUES, max_size=12))
async def test_fuzz__hostile_builder_forms_never_cause_a_server_error(node, world, mobilite, maire, fields):
    """The builder's forms (create, add, edit, move, remove, publish) answer a redirect or a 4xx
    with a reason to whatever an admin's browser sends, never a 5xx."""
    question = f"{BUILDER}/mobilite/questions/{mobilite['route']}"
    for url in (BUILDER, f"{BUILDER}/mobilite/questions", question, f"{BUILDER}/mobilite/state"):
        reply = await maire.post(url, fields, form=BUILDER)
        assert reply.status in (303, 400, 404, 409, 413), (url, fields, reply.status, reply.text[:500])
        assert "Traceback" not in reply.text


async def test_nul_characters__refused_with_a_reason_in_answers_and_in_the_builder(node, world, mobilite, maire,
                                                                                   camille):
    """PostgreSQL stores no NUL character: a text answer, a title or an option holding one is
    refused with a 400 that says so (never a 500), on both databases."""
    status, text, _h = await post_form(camille, FORM.format(slug="mobilite"),
                                       [(f"q{mobilite['cycle']}", "yes"), (f"q{mobilite['route']}", "a\x00b"),
                                        (f"q{mobilite['modes']}", "car")])
    assert status == 400 and "Remove the NUL character from this answer." in text
    reply = await maire.post(BUILDER, {"slug": "nul", "title_fr": "a\x00b", "language_fr": "on",
                                       "visibility": "public"}, form=BUILDER)
    assert reply.status == 400 and "NUL character" in reply.text
    for url, fields in ((f"{BUILDER}/mobilite/questions", {"kind": "single", "title_fr": "T", "options_fr": "x\x00"}),
                        (f"{BUILDER}/mobilite/questions/{mobilite['ideas']}",
                         {"action": "save", "title_fr": "Idées\x00"})):
        reply = await maire.post(url, fields, form=BUILDER)
        assert reply.status == 400 and "NUL character" in reply.text, (url, reply.status)


async def test_lists__of_a_discussion_and_of_a_space_at_the_visitors_level(node, world, clients):
    """The discussion page links to its questionnaires; the list filtered by a discussion or a
    members-only space shows theirs only, and a space the visitor may not read is a 404."""
    async with transaction(node.rt.sessions) as s:
        org = await s.get(Actor, world.org.id)
        discussion = await s.get(Discussion, world.ids["discussion"])
        space = await spaces.create_space(s, org, "quartier", {"fr": "Quartier"}, visibility="members")
        for slug, place in (("dans-discussion", {"discussion": discussion}), ("dans-espace", {"space": space}),
                            ("ailleurs", {})):
            q = await service.create(s, org, slug, {"fr": slug}, **place)
            await service.add_question(s, q, "short_text", {"fr": "?"})
            await service.publish(s, q)
    visitor = clients("en")
    page = await visitor.get("/orgs/lyon/discussions/clos-jouve")
    assert "/orgs/lyon/questionnaires?discussion=clos-jouve" in page.text
    listing = await visitor.get("/orgs/lyon/questionnaires?discussion=clos-jouve")
    assert "/questionnaires/dans-discussion" in listing.text and "/questionnaires/ailleurs" not in listing.text
    assert (await visitor.get("/orgs/lyon/questionnaires?space=quartier")).status == 404
    assert (await visitor.get("/orgs/lyon/questionnaires?discussion=nope")).status == 404
    admin = await signed_in(clients, "maire")
    listing = await admin.get("/orgs/lyon/questionnaires?space=quartier")
    assert listing.status == 200 and "/questionnaires/dans-espace" in listing.text
    assert "/questionnaires/ailleurs" not in listing.text
    assert "/orgs/lyon/questionnaires?space=quartier" in (await admin.get("/orgs/lyon/admin/spaces")).text
    assert (await admin.get("/orgs/lyon/questionnaires?space=quartier&phase=999")).status == 404
