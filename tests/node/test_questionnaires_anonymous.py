"""Anonymous questionnaires (SECURITY.md rule 29): no stored row links an answer to an account,
yet each person responds once."""

from __future__ import annotations

import io
import json
from datetime import date, datetime

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy import text as sql

from node.db import transaction
from node.errors import Conflict, InvalidInput
from node.models import Base, User
from node.models.questionnaires import (
    Answer,
    Questionnaire,
    QuestionnaireParticipant,
    QuestionnaireResponse,
)
from node.services import actors, questionnaire_export
from node.services import questionnaires as service

PASSWORD = "password-123"
PEOPLE = 12  # a sorted arrival order among 12 random ids happens once in 479 million


def _photo(colour: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (colour, 0, 0)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
async def answered(sessions, settings, uris):
    """An anonymous questionnaire answered by PEOPLE residents, in a known order, each with a
    photo whose file name says who they are."""
    async with transaction(sessions) as s:
        org = await actors.create_organization(s, uris, "dijon", "Ville de Dijon")
        people = [await actors.create_user(s, uris, f"habitant{i}", PASSWORD, f"Habitant Numéro{i}")
                  for i in range(PEOPLE)]
        q = await service.create(s, org, "quartier", "Votre quartier", anonymous=True, quiz=True)
        text = await service.add_question(s, q, "short_text", "Votre rue", correct="Rue Longue")
        choice = await service.add_question(s, q, "single", "Satisfait ?", options=["Oui", "Non"])
        photo = await service.add_question(s, q, "file", "Une photo")
        await service.publish(s, q)
    arrivals = []
    for i, person in enumerate(people):
        async with transaction(sessions) as s:
            response = await service.submit(
                s, settings, await s.get(Questionnaire, q.id), await s.get(User, person.id),
                {text.id: f"rue de habitant{i}", choice.id: "1" if i % 2 else "2"},
                files={photo.id: (f"habitant{i} Numéro{i}.png", _photo(i))})
        arrivals.append(response.id)
    return q, people, arrivals


async def _every_row(sessions) -> dict[str, list[dict]]:
    tables = {}
    async with sessions() as s:
        for table in Base.metadata.sorted_tables:
            tables[table.name] = [dict(row._mapping) for row in await s.execute(select(table))]
    return tables


def _points_at_people(table, row: dict, user_ids: set[int], actor_ids: set[int]) -> bool:
    """Whether ``row`` holds a reference to one of the respondents' accounts or actors."""
    for column in table.columns:
        for key in column.foreign_keys:
            target = key.column.table.name
            if (target == "users" and row[column.name] in user_ids) or \
                    (target == "actors" and row[column.name] in actor_ids):
                return True
    return table.name in ("users", "actors") and (row.get("id") in user_ids | actor_ids)


async def test_anonymous__no_stored_row_links_an_answer_to_an_account(sessions, settings, answered):
    """After several people answered anonymously, every row of every table is read: none holds
    both a respondent's account (or actor) and a response or answer (their ids, anywhere in the
    row); response ids do not follow the order of arrival; neither the responses nor the
    participant rows hold a time; on PostgreSQL, neither the rows' transaction stamps (xmin) nor
    their order pair a participant with a response; stored file names and the kept names say
    nothing of the sender."""
    q, people, arrivals = answered
    user_ids = {p.id for p in people}
    actor_ids = {p.actor_id for p in people}
    tables = await _every_row(sessions)
    response_ids = {r["id"] for r in tables["questionnaire_responses"]}
    answer_ids = {a["id"] for a in tables["questionnaire_answers"]}
    assert response_ids == set(arrivals) and len(answer_ids) == 3 * PEOPLE
    needles = {str(i) for i in response_ids | answer_ids}
    linked = []
    for table in Base.metadata.sorted_tables:
        for row in tables[table.name]:
            text = json.dumps(row, default=str)
            if _points_at_people(table, row, user_ids, actor_ids) and any(n in text for n in needles):
                linked.append((table.name, row))
    assert linked == []
    # What does name the people (participants) holds nothing else: no id, no time, no response.
    participants = tables["questionnaire_participants"]
    assert {p["user_id"] for p in participants} == user_ids
    assert all(set(p) == {"questionnaire_id", "user_id"} for p in participants)
    for response in tables["questionnaire_responses"]:
        assert response["respondent_id"] is None and response["submitted_at"] is None
    for name in ("questionnaire_responses", "questionnaire_participants", "questionnaire_answers"):
        for row in tables[name]:
            assert not any(isinstance(v, datetime | date) for v in row.values()), (name, row)
    # Random ids: neither the order of arrival nor its reverse, and far apart.
    assert arrivals != sorted(arrivals) and arrivals != sorted(arrivals, reverse=True)
    assert max(arrivals) - min(arrivals) > 2**32
    # PostgreSQL: what every row carries beside its columns — the transaction that wrote it
    # (xmin) and its place in the table (ctid) — pairs no participant with a response.
    if settings.database_url.startswith("postgresql"):
        async with sessions() as s:
            stamps = dict((await s.execute(sql(
                "SELECT user_id, xmin::text FROM questionnaire_participants"))).all())
            placed = [u for (u,) in await s.execute(sql(
                "SELECT user_id FROM questionnaire_participants ORDER BY ctid"))]
            written = set(await s.scalars(sql("SELECT xmin::text FROM questionnaire_responses")))
        assert len(set(stamps.values())) == 1  # all rewritten by the last submission
        assert len(set(stamps.values()) & written) <= 1
        arrival = [p.id for p in people]
        assert placed != arrival and placed != arrival[::-1]
    # Files: random names, no sent name kept, dated 1970; nothing on disk names the people.
    files = [a["value"] for a in tables["questionnaire_answers"] if isinstance(a["value"], dict)]
    assert len(files) == PEOPLE and {f["name"] for f in files} == {"file.png"}
    on_disk = sorted((settings.data_dir / "questionnaires").rglob("*"))
    stored = [p for p in on_disk if p.is_file()]
    assert len(stored) == PEOPLE
    for path in stored:
        assert "habitant" not in str(path).lower() and "num" not in path.name.lower()
        assert path.stat().st_mtime == 0
    # Nor does any row or the export name them next to an answer.
    async with sessions() as s:
        q = await s.get(Questionnaire, q.id)
        csv_text = (await questionnaire_export.to_csv(s, q)).decode()
        exported = json.dumps(await questionnaire_export.to_json(s, q))
    for i in range(PEOPLE):
        assert f"habitant{i}" not in csv_text.replace("rue de habitant", "")
        assert f"habitant{i}" not in exported.replace("rue de habitant", "")
    assert "Numéro" not in exported and "respondent" not in exported


async def test_anonymous__a_second_response_by_the_same_person_is_refused(sessions, settings, answered):
    """The participant row refuses a second response (also when the first is found by nothing
    else); the counts do not move; another person still answers."""
    q, people, _ = answered
    async with sessions() as s:
        questions = await service.questions(s, await s.get(Questionnaire, q.id))
    text = questions[0]
    for person in people[:3]:
        async with transaction(sessions) as s:
            with pytest.raises(Conflict, match="already answered"):
                await service.submit(s, settings, await s.get(Questionnaire, q.id),
                                     await s.get(User, person.id), {text.id: "encore"})
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(QuestionnaireResponse)) == PEOPLE
        assert await s.scalar(select(func.count()).select_from(QuestionnaireParticipant)) == PEOPLE
        assert await s.scalar(select(func.count()).select_from(Answer)) == 3 * PEOPLE
        assert (await s.get(Questionnaire, q.id)).response_count == PEOPLE
        assert await service.has_answered(s, q, people[0])
        assert await service.response_of(s, q, people[0]) is None  # nobody finds their response


async def test_anonymous__documents_are_refused_images_only(sessions, uris):
    """Documents keep their metadata (a PDF's author): an anonymous questionnaire takes images only."""
    async with transaction(sessions) as s:
        org = await actors.create_organization(s, uris, "metz", "Metz")
        q = await service.create(s, org, "anonyme", "Anonyme", anonymous=True)
        with pytest.raises(InvalidInput, match="images only"):
            await service.add_question(s, q, "file", "Pièce", settings={"types": ["images", "documents"]})
        photo = await service.add_question(s, q, "file", "Photo", settings={"types": ["images"]})
        with pytest.raises(InvalidInput, match="images only"):
            await service.update_question(s, photo, settings={"types": ["documents"]})
