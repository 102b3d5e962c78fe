"""Questionnaires (node.services.questionnaires): definitions, answers, conditions, quizzes,
files, dates, eligibility, one response per person and the results."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from node.db import transaction
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.models import Actor, User, utcnow
from node.models.questionnaires import (
    Answer,
    Questionnaire,
    QuestionnaireParticipant,
    QuestionnaireResponse,
)
from node.services import actors, discussions, erasure, export, membership, spaces
from node.services import questionnaire_files as qfiles
from node.services import questionnaires as service

PASSWORD = "password-123"


@dataclass
class Town:
    org: Actor
    admin: User
    people: list[User]


@pytest.fixture
async def town(sessions, uris) -> Town:
    """Lahr with its admin and six residents."""
    async with transaction(sessions) as s:
        org = await actors.create_organization(s, uris, "lahr", "Stadt Lahr")
        admin = await actors.create_user(s, uris, "rathaus", PASSWORD, "Rathaus")
        await actors.add_member(s, admin, org, "admin")
        people = [await actors.create_user(s, uris, f"person{i}", PASSWORD, f"Person {i}")
                  for i in range(6)]
    return Town(org, admin, people)


async def _make(sessions, town: Town, slug="umfrage", *, questions=(), publish=True, **options):
    """A questionnaire with ``questions`` [(kind, title, kwargs)]; returns it and their ids."""
    async with transaction(sessions) as s:
        q = await service.create(s, town.org, slug, {"de": "Umfrage", "fr": "Enquête"},
                                 languages=("de", "fr", "en"), **options)
        ids = []
        for kind, title, kwargs in questions:
            kwargs = dict(kwargs)
            kwargs["conditions"] = [{**c, "question": ids[c["question"]]} for c in kwargs.get("conditions", ())]
            ids.append((await service.add_question(s, q, kind, title, **kwargs)).id)
        if publish:
            await service.publish(s, q)
    return q, ids


async def _submit(sessions, settings, q, user, values, **kwargs):
    async with transaction(sessions) as s:
        q = await s.get(Questionnaire, q.id)
        return await service.submit(s, settings, q, await s.get(User, user.id), values, **kwargs)


async def _answers(sessions, response) -> dict:
    async with sessions() as s:
        return await service.answers_of(s, response)


CHOICES = [{"key": "yes", "label": {"fr": "Oui", "de": "Ja"}},
           {"key": "no", "label": {"fr": "Non", "de": "Nein"}}]
PARKS = ["Stadtpark", "Seepark", "Kaiserpark"]


def jpeg_with_gps() -> bytes:
    """A JPEG carrying EXIF with a GPS position, a camera, an author and a comment."""
    image = Image.new("RGB", (32, 24), (200, 30, 40))
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif[0x013B] = "Jean Dupont"  # Artist
    exif[0x0112] = 1  # Orientation
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 20.0, 30.0), "E", (7.0, 52.0, 10.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), comment=b"taken at home")
    return out.getvalue()


# -- a full journey --------------------------------------------------------------------------------

async def test_submit__every_kind_is_stored_in_its_shape(sessions, settings, town):
    """Each kind of answer is checked and stored normalised; the count follows."""
    q, ids = await _make(sessions, town, questions=[
        ("block", {"de": "Teil 1"}, {}),
        ("short_text", "Name des Viertels", {"required": True}),
        ("long_text", "Was fehlt?", {}),
        ("single", "Radwege?", {"options": CHOICES}),
        ("multiple", "Welche Parks?", {"options": PARKS, "settings": {"min_choices": 1, "max_choices": 2}}),
        ("ranking", "Rangfolge", {"options": PARKS}),
        ("scale", "Zufriedenheit", {"settings": {"min": 0, "max": 10}}),
        ("matrix_single", "Bewertung", {"options": ["gut", "schlecht"], "rows": ["Bus", "Bahn"]}),
        ("matrix_multiple", "Nutzung", {"options": ["morgens", "abends"], "rows": ["Bus", "Bahn"]}),
    ])
    values = {ids[1]: "  Altstadt ", ids[2]: "Bänke", ids[3]: "yes", ids[4]: ["3", "1"],
              ids[5]: ["2", "3", "1"], ids[6]: "7", ids[7]: {"1": "2", "2": ["1"]},
              ids[8]: {"1": ["1", "2"]}}
    response = await _submit(sessions, settings, q, town.people[0], values)
    stored = await _answers(sessions, response)
    assert stored == {ids[1]: "Altstadt", ids[2]: "Bänke", ids[3]: "yes", ids[4]: ["1", "3"],
                      ids[5]: ["2", "3", "1"], ids[6]: 7, ids[7]: {"1": ["2"], "2": ["1"]},
                      ids[8]: {"1": ["1", "2"]}}
    async with sessions() as s:
        assert (await s.get(Questionnaire, q.id)).response_count == 1
        texts = dict((await s.execute(select(Answer.question_id, Answer.text))).all())
        assert texts[ids[3]] == "Ja" and texts[ids[5]] == "1. Seepark; 2. Kaiserpark; 3. Stadtpark"
        response = await s.get(QuestionnaireResponse, response.id)
        assert response.respondent_id == town.people[0].actor_id and response.submitted_at is not None


@pytest.mark.parametrize(("kind", "kwargs", "value", "reason"), [
    ("short_text", {}, 12, "is a text"),
    ("short_text", {"settings": {"max_length": 5}}, "abcdef", "limited to 5"),
    ("long_text", {}, "x" * 5_001, "limited to 5000"),
    ("single", {"options": CHOICES}, "maybe", "unknown option"),
    ("single", {"options": CHOICES}, ["yes"], "unknown option"),
    ("multiple", {"options": PARKS, "settings": {"max_choices": 2}}, ["1", "2", "3"], "from 0 to 2"),
    ("multiple", {"options": PARKS, "settings": {"min_choices": 2}}, ["1"], "from 2 to 3"),
    ("multiple", {"options": PARKS}, ["1", "9"], "unknown option"),
    ("multiple", {"options": PARKS}, "1", "choose from the list"),
    ("ranking", {"options": PARKS}, ["1", "1", "2"], "given twice"),
    ("scale", {}, 6, "from 1 to 5"),
    ("scale", {}, True, "from 1 to 5"),
    ("scale", {}, 2.5, "from 1 to 5"),
    ("matrix_single", {"options": ["a", "b"], "rows": ["r"]}, {"9": "1"}, "unknown row"),
    ("matrix_single", {"options": ["a", "b"], "rows": ["r"]}, {"1": ["1", "2"]}, "one column per row"),
    ("matrix_multiple", {"options": ["a", "b"], "rows": ["r"]}, ["1"], "one choice per row"),
])
async def test_submit__hostile_values_are_refused_naming_the_question(sessions, settings, town, kind,
                                                                       kwargs, value, reason):
    """Wrong types, unknown keys, too long texts, duplicates → InvalidInput naming the question."""
    q, ids = await _make(sessions, town, questions=[(kind, {"de": "Die Frage"}, kwargs)])
    with pytest.raises(InvalidInput) as refused:
        await _submit(sessions, settings, q, town.people[0], {ids[0]: value}, language="de")
    assert reason in refused.value.reason and 'question 1 ("Die Frage")' in refused.value.reason
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(QuestionnaireResponse)) == 0


async def test_submit__unknown_questions_and_misplaced_files_are_refused(sessions, settings, town):
    q, ids = await _make(sessions, town, questions=[("short_text", "Nom", {})])
    other, other_ids = await _make(sessions, town, "autre", questions=[("short_text", "Nom", {})])
    for values, files in (({other_ids[0]: "x"}, {}), ({"1": "x"}, {}), ({ids[0]: "x"}, {ids[0]: ("a.png", b"x")}),
                          ({}, {other_ids[0]: ("a.png", b"x")})):
        with pytest.raises(InvalidInput):
            await _submit(sessions, settings, q, town.people[0], values, files=files)


async def test_submit__required_questions_must_be_answered(sessions, settings, town):
    q, ids = await _make(sessions, town, questions=[("short_text", "Nom", {"required": True}),
                                                    ("matrix_single", "M", {"options": ["a"], "rows": ["x", "y"],
                                                                            "required": True})])
    with pytest.raises(InvalidInput, match="is required"):
        await _submit(sessions, settings, q, town.people[0], {ids[0]: "   ", ids[1]: {"1": "1", "2": "1"}})
    with pytest.raises(InvalidInput, match="answer every row"):
        await _submit(sessions, settings, q, town.people[0], {ids[0]: "Anne", ids[1]: {"1": "1"}})


# -- conditions ------------------------------------------------------------------------------------

async def test_conditions__answers_to_hidden_questions_are_dropped(sessions, settings, town):
    """An answer to a question its conditions hide is not stored, and a hidden required question
    is not required; a condition on a hidden question sees it unanswered."""
    q, ids = await _make(sessions, town, questions=[
        ("single", "Radfahren Sie?", {"options": CHOICES, "required": True}),
        ("short_text", "Welche Strecke?", {"required": True,
                                           "conditions": [{"question": 0, "op": "equals", "value": "yes"}]}),
        ("long_text", "Warum nicht?", {"conditions": [{"question": 0, "op": "not_equals", "value": "yes"}]}),
        ("short_text", "Details", {"conditions": [{"question": 1, "op": "matches", "value": r"^B\d+$"}]}),
        ("short_text", "Sonst", {"conditions": [{"question": 1, "op": "not_answered"}]}),
    ])
    no = await _submit(sessions, settings, q, town.people[0], {
        ids[0]: "no", ids[1]: "B3", ids[2]: "zu gefährlich", ids[3]: "hidden too", ids[4]: "shown"})
    assert await _answers(sessions, no) == {ids[0]: "no", ids[2]: "zu gefährlich", ids[4]: "shown"}
    yes = await _submit(sessions, settings, q, town.people[1], {
        ids[0]: "yes", ids[1]: "B3", ids[2]: "dropped", ids[3]: "Ortsmitte", ids[4]: "dropped"})
    assert await _answers(sessions, yes) == {ids[0]: "yes", ids[1]: "B3", ids[3]: "Ortsmitte"}
    with pytest.raises(InvalidInput, match="is required"):  # shown now, so required
        await _submit(sessions, settings, q, town.people[2], {ids[0]: "yes"})


async def test_conditions__definitions_are_checked(sessions, town):
    """Conditions name earlier questions of the same questionnaire, with values they can take;
    patterns are short and cannot backtrack without bound."""
    q, ids = await _make(sessions, town, publish=False, questions=[
        ("single", "A", {"options": CHOICES}), ("short_text", "B", {}), ("block", "C", {})])
    bad = [
        [{"question": ids[0], "op": "equals", "value": "maybe"}],
        [{"question": ids[0], "op": "equals"}],
        [{"question": ids[0], "op": "between", "value": "yes"}],
        [{"question": 999_999, "op": "answered"}],
        [{"question": ids[2], "op": "answered"}],
        [{"question": ids[0], "op": "matches", "value": "y"}],
        [{"question": ids[1], "op": "matches", "value": "(a+)+b"}],
        [{"question": ids[1], "op": "matches", "value": "(a|a)*"}],
        [{"question": ids[1], "op": "matches", "value": r"(a)\1"}],
        [{"question": ids[1], "op": "matches", "value": "a*b*c*"}],
        [{"question": ids[1], "op": "matches", "value": "x" * 101}],
        [{"question": ids[1], "op": "matches", "value": "[unclosed"}],
        [{"question": ids[1], "op": "answered", "value": "x"}],
        [{"question": ids[1], "op": "answered"}] * 6,
        {"question": ids[1], "op": "answered"},
    ]
    for conditions in bad:
        async with transaction(sessions) as s:
            with pytest.raises(InvalidInput):
                await service.add_question(s, await s.get(Questionnaire, q.id), "short_text", "D",
                                           conditions=conditions)
    async with transaction(sessions) as s:
        later = await service.add_question(s, await s.get(Questionnaire, q.id), "short_text", "E",
                                           conditions=[{"question": ids[1], "op": "matches",
                                                        "value": r"^\d{5}$"}])
        with pytest.raises(Conflict):  # E depends on B
            await service.remove_question(s, await s.get(service.Question, ids[1]))
    assert later.conditions == [{"question": ids[1], "op": "matches", "value": r"^\d{5}$"}]


# -- quiz ------------------------------------------------------------------------------------------

async def test_quiz__score_and_feedback_after_submitting(sessions, settings, town):
    q, ids = await _make(sessions, town, quiz=True, questions=[
        ("single", "2+2?", {"options": ["3", "4"], "correct": "2", "explanation": {"fr": "Deux et deux."}}),
        ("multiple", "Pairs?", {"options": ["1", "2", "4"], "correct": ["2", "3"]}),
        ("short_text", "Capitale?", {"correct": "Paris"}),
        ("scale", "Note", {}),
    ])
    values = {ids[0]: "2", ids[1]: ["3", "2"], ids[2]: " paris ", ids[3]: 3}
    response = await _submit(sessions, settings, q, town.people[0], values)
    assert response.score == 3
    async with sessions() as s:
        questions = await service.questions(s, await s.get(Questionnaire, q.id))
    marks = service.feedback(questions, await _answers(sessions, response))
    assert [(m.question.id, m.is_correct) for m in marks] == [(ids[0], True), (ids[1], True), (ids[2], True)]
    assert marks[0].explanation == {"fr": "Deux et deux."} and marks[0].correct == "2"
    wrong = service.feedback(questions, {ids[0]: "1", ids[1]: ["2"]})
    assert [m.is_correct for m in wrong] == [False, False, False]


async def test_quiz__a_correct_value_is_checked_like_an_answer(sessions, town):
    q, _ = await _make(sessions, town, publish=False, quiz=True)
    for kind, kwargs in (("single", {"options": CHOICES, "correct": "maybe"}),
                         ("scale", {"correct": 9}), ("long_text", {"correct": "x"}),
                         ("matrix_single", {"options": ["a"], "rows": ["b"], "correct": {"1": ["1"]}})):
        async with transaction(sessions) as s:
            with pytest.raises(InvalidInput):
                await service.add_question(s, await s.get(Questionnaire, q.id), kind, "Q", **kwargs)


# -- files -----------------------------------------------------------------------------------------

async def test_upload__images_are_reencoded_without_metadata(sessions, settings, town):
    """A JPEG with EXIF (GPS position, author, camera) and a comment is stored re-encoded: the
    stored file has no EXIF, no GPS and no comment, keeps its size in pixels, and lives under a
    random name in the data directory."""
    sent = jpeg_with_gps()
    with Image.open(io.BytesIO(sent)) as original:
        assert original.getexif().get_ifd(0x8825)  # the test image does carry a position
        assert b"Jean Dupont" in sent and b"taken at home" in sent
    q, ids = await _make(sessions, town, questions=[("file", "Photo", {"settings": {"types": ["images"]}})])
    response = await _submit(sessions, settings, q, town.people[0], {},
                             files={ids[0]: ("IMG_2041 jean.jpg", sent)})
    value = (await _answers(sessions, response))[ids[0]]
    assert value["type"] == "image/jpeg" and value["name"] == "IMG_2041 jean.jpg"
    stored = qfiles.stored_file(settings.data_dir, value["path"])
    data = stored.read_bytes()
    assert value["size"] == len(data) and stored.parent.parent == settings.data_dir / "questionnaires"
    assert b"Exif" not in data and b"Jean Dupont" not in data and b"taken at home" not in data
    assert b"CameraMaker" not in data
    with Image.open(stored) as image:
        assert not image.getexif() and "exif" not in image.info and "comment" not in image.info
        assert image.size == (32, 24) and image.format == "JPEG"
    assert "jean" not in value["path"] and "IMG" not in value["path"]


async def test_upload__type_and_size_limits_come_from_the_question(sessions, settings, town):
    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, format="PNG")
    pdf = b"%PDF-1.4\n" + b"0" * 2_000
    q, ids = await _make(sessions, town, questions=[
        ("file", "Photo", {"settings": {"types": ["images"], "max_bytes": 1024}}),
        ("file", "Dokument", {"settings": {"types": ["documents"], "max_bytes": 4096}})])
    for files, reason in (({ids[0]: ("a.pdf", pdf[:1000])}, "accepted files are jpg, png, webp"),
                          ({ids[1]: ("a.png", png.getvalue())}, "accepted files are"),
                          ({ids[1]: ("a.pdf", pdf * 3)}, "limited to 4 KB"),
                          ({ids[0]: ("a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 50)}, "cannot be read"),
                          ({ids[0]: ("a.svg", b"<svg onload=alert(1)>")}, "accepted files"),
                          ({ids[0]: ("a.png", b"")}, "empty")):
        with pytest.raises(InvalidInput, match=reason):
            await _submit(sessions, settings, q, town.people[0], {}, files=files)
    response = await _submit(sessions, settings, q, town.people[0], {},
                             files={ids[0]: ("../../etc/x.png", png.getvalue()), ids[1]: ("r\x07.pdf", pdf)})
    stored = await _answers(sessions, response)
    assert stored[ids[0]]["name"] == "x.png" and stored[ids[1]]["name"] == "r.pdf"
    assert qfiles.stored_file(settings.data_dir, stored[ids[1]]["path"]).read_bytes() == pdf


# -- who may answer, when ------------------------------------------------------------------------

async def test_submit__only_while_published_and_open(sessions, settings, town):
    now = utcnow()
    draft, d_ids = await _make(sessions, town, "draft", publish=False, questions=[("short_text", "A", {})])
    later, l_ids = await _make(sessions, town, "later", opens_at=now + timedelta(days=1),
                               questions=[("short_text", "A", {})])
    over, o_ids = await _make(sessions, town, "over", closes_at=now - timedelta(seconds=1),
                              questions=[("short_text", "A", {})])
    for q, ids in ((draft, d_ids), (later, l_ids), (over, o_ids)):
        with pytest.raises(Forbidden):
            await _submit(sessions, settings, q, town.people[0], {ids[0]: "x"})
    await _submit(sessions, settings, later, town.people[0], {l_ids[0]: "x"}, now=now + timedelta(days=2))
    async with transaction(sessions) as s:
        await service.close(s, await s.get(Questionnaire, later.id))
    with pytest.raises(Forbidden):
        await _submit(sessions, settings, later, town.people[1], {l_ids[0]: "x"}, now=now + timedelta(days=2))


async def test_submit__verified_only_and_visibility(sessions, settings, town):
    q, ids = await _make(sessions, town, verified_only=True, questions=[("short_text", "A", {})])
    with pytest.raises(Forbidden, match="verified members"):
        await _submit(sessions, settings, q, town.people[0], {ids[0]: "x"})
    async with transaction(sessions) as s:
        await membership.admit(s, town.org, await s.get(User, town.people[0].id), town.admin)
    await _submit(sessions, settings, q, town.people[0], {ids[0]: "x"})
    members_only, m_ids = await _make(sessions, town, "intern", visibility="members",
                                      questions=[("short_text", "A", {})])
    with pytest.raises(NotFound):
        await _submit(sessions, settings, members_only, town.people[1], {m_ids[0]: "x"})


async def test_submit__a_second_named_response_is_refused(sessions, settings, town):
    q, ids = await _make(sessions, town, questions=[("short_text", "A", {})])
    await _submit(sessions, settings, q, town.people[0], {ids[0]: "x"})
    with pytest.raises(Conflict, match="already answered"):
        await _submit(sessions, settings, q, town.people[0], {ids[0]: "y"})
    async with sessions() as s:
        assert await service.has_answered(s, q, town.people[0])
        assert not await service.has_answered(s, q, town.people[1])


@pytest.mark.parametrize("anonymous", [False, True])
async def test_concurrency__simultaneous_submissions_of_one_person_store_one(sessions, settings, town,
                                                                              anonymous):
    """Ten submissions of the same person at once: exactly one is stored, nine are Conflict."""
    q, ids = await _make(sessions, town, anonymous=anonymous, questions=[("short_text", "A", {})])
    outcomes = await asyncio.gather(*(_submit(sessions, settings, q, town.people[0], {ids[0]: str(i)})
                                      for i in range(10)), return_exceptions=True)
    assert sum(isinstance(o, QuestionnaireResponse) for o in outcomes) == 1
    assert sum(isinstance(o, Conflict) for o in outcomes) == 9
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(QuestionnaireResponse)) == 1
        assert await s.scalar(select(func.count()).select_from(Answer)) == 1
        assert (await s.get(Questionnaire, q.id)).response_count == 1


# -- containers and lists --------------------------------------------------------------------------

async def test_create__in_a_phase_a_discussion_or_a_coalition(sessions, uris, town):
    async with transaction(sessions) as s:
        org = await s.get(Actor, town.org.id)
        space = await spaces.create_space(s, org, "mobil", "Mobilität")
        phase = await spaces.add_phase(s, space, "Umfrage", utcnow().date(), utcnow().date(), [])
        discussion = await discussions.open_discussion(s, uris, org, "rad", "Radwege")
        in_phase = await service.create(s, org, "phase", "P", phase=phase)
        in_discussion = await service.create(s, org, "disc", "D", discussion=discussion)
        other = await actors.create_organization(s, uris, "offenburg", "Offenburg")
        with pytest.raises(InvalidInput):
            await service.create(s, other, "x", "X", discussion=discussion)
        with pytest.raises(Conflict):
            await service.create(s, org, "phase", "again")
        for bad in ({"languages": ("es",)}, {"languages": ()}, {"visibility": "secret"},
                    {"opens_at": utcnow(), "closes_at": utcnow() - timedelta(days=1)}):
            with pytest.raises(InvalidInput):
                await service.create(s, org, "bad", "B", **bad)
    assert (in_phase.space_id, in_phase.phase_id) == (space.id, phase.id)
    assert in_discussion.discussion_id == discussion.id


# -- the person's rights ---------------------------------------------------------------------------

async def test_erasure__named_responses_stay_counted_linked_to_nobody(sessions, settings, town):
    """An erased account's named response keeps its answers in the results, without its
    respondent or time; its participant row in an anonymous questionnaire goes."""
    named, n_ids = await _make(sessions, town, questions=[("single", "A", {"options": CHOICES})])
    anonymous, a_ids = await _make(sessions, town, "anonym", anonymous=True,
                                   questions=[("short_text", "B", {})])
    person = town.people[0]
    response = await _submit(sessions, settings, named, person, {n_ids[0]: "yes"})
    await _submit(sessions, settings, anonymous, person, {a_ids[0]: "x"})
    async with transaction(sessions) as s:
        await erasure.erase_account(s, await s.get(User, person.id), by=None)
    async with sessions() as s:
        stored = await s.get(QuestionnaireResponse, response.id)
        assert (stored.respondent_id, stored.submitted_at) == (None, None)
        assert await service.answers_of(s, stored) == {n_ids[0]: "yes"}
        assert (await service.results(s, named))[0].counts == {"yes": 1, "no": 0}
        assert await s.scalar(select(func.count()).select_from(QuestionnaireParticipant)) == 0
        assert (await s.get(Questionnaire, anonymous.id)).response_count == 1


async def test_right_of_access__includes_the_answers_of_named_responses(sessions, settings, uris, town):
    """The account export holds the person's named responses and their answers — and no answer
    of their anonymous response (nothing links it to them), nor anybody else's."""
    named, n_ids = await _make(sessions, town, questions=[("short_text", "A", {})])
    anonymous, a_ids = await _make(sessions, town, "anonym", anonymous=True,
                                   questions=[("short_text", "B", {})])
    await _submit(sessions, settings, named, town.people[0], {n_ids[0]: "mine"})
    await _submit(sessions, settings, named, town.people[1], {n_ids[0]: "theirs"})
    await _submit(sessions, settings, anonymous, town.people[0], {a_ids[0]: "secret"})
    async with sessions() as s:
        data = await export.export_account(s, uris, await s.get(User, town.people[0].id))
    tables = data["tables"]
    assert [a["value"] for a in tables["questionnaire_answers"]] == ["mine"]
    assert [r["questionnaire_id"] for r in tables["questionnaire_responses"]] == [named.id]
    assert [p["questionnaire_id"] for p in tables["questionnaire_participants"]] == [anonymous.id]
    assert "secret" not in str(data) and "theirs" not in str(data)
