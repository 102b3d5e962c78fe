"""Questionnaire pages: the list, the answer form of every kind of question (display conditions
without JavaScript, files bounded in size and checked by content), quiz feedback, the states a
questionnaire can be in, visibility levels, and the results and exports for the organisation's
admins only. Hostile forms are fuzzed: never a 5xx."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from xml.etree import ElementTree

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from node.db import transaction
from node.models import Actor, Answer, QuestionnaireResponse, User, utcnow
from node.services import actors, membership
from node.services import questionnaires as service
from tests.web.participation_helpers import PASSWORD, Client
from tests.web.test_coalition_pages import png

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
