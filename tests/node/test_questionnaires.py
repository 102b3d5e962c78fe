"""Questionnaires (node.services.questionnaires): definitions, answers, conditions, quizzes,
files, dates, eligibility, one response per person and the results."""

from __future__ import annotations

import asyncio
import copy
import io
from dataclasses import dataclass
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as fuzzing
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import func, select

from node import changes
from node.db import transaction
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.models import Actor, User, utcnow
from node.models.questionnaires import (
    CONDITION_OPS,
    QUESTION_KINDS,
    Answer,
    Question,
    Questionnaire,
    QuestionnaireParticipant,
    QuestionnaireResponse,
)
from node.services import actors, coalitions, discussions, erasure, export, membership, spaces
from node.services import questionnaire_files as qfiles
from node.services import questionnaire_forms as forms
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
                          ({}, {other_ids[0]: ("a.png", b"x")}), ({}, {ids[0]: [("a.png", b"x"), ("b.png", b"y")]}),
                          ({}, [("a.png", b"x")])):
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
    five = [{"question": ids[1], "op": "matches", "value": f"^{i}"} for i in range(5)]
    async with transaction(sessions) as s:
        for _ in range(3):  # 1 + 3 × 5 = 16 patterns
            await service.add_question(s, await s.get(Questionnaire, q.id), "short_text", "F", conditions=five)
        await service.add_question(s, await s.get(Questionnaire, q.id), "short_text", "G", conditions=five[:4])
        with pytest.raises(InvalidInput, match="at most 20 pattern conditions"):
            await service.add_question(s, await s.get(Questionnaire, q.id), "short_text", "H", conditions=five[:1])


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
async def test_submit__a_rolled_back_submission_leaves_nothing(sessions, settings, town, anonymous):
    """The caller's rollback takes the whole response back (no savepoint committed part of it on
    SQLite): no row, and the person may answer again."""
    q, ids = await _make(sessions, town, anonymous=anonymous, questions=[("short_text", "A", {})])
    async with sessions() as s, s.begin():
        await service.submit(s, settings, await s.get(Questionnaire, q.id), await s.get(User, town.people[0].id),
                             {ids[0]: "x"})
        await s.rollback()
    async with sessions() as s:
        for model in (QuestionnaireResponse, QuestionnaireParticipant, Answer):
            assert await s.scalar(select(func.count()).select_from(model)) == 0
        assert (await s.get(Questionnaire, q.id)).response_count == 0
    await _submit(sessions, settings, q, town.people[0], {ids[0]: "y"})


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
        blue = await coalitions.create(s, uris, "blue", "Blue Coalition", founder=org, languages=["fr", "de", "en"])
        joint = await service.create(s, blue.actor, "joint", {"fr": "Commun", "de": "Gemeinsam"},
                                     languages=("fr", "de", "en"))
        remote = Actor(ap_id="https://far.example/u/x", type="Organization", local=False, username="x",
                       domain="far.example", name="X")
        s.add(remote)
        await s.flush()
        with pytest.raises(InvalidInput, match="local organisation or coalition"):
            await service.create(s, remote, "r", "R")
        with pytest.raises(Conflict):
            await service.create(s, org, "phase", "again")
        for bad in ({"languages": ("es",)}, {"languages": ()}, {"visibility": "secret"},
                    {"opens_at": utcnow(), "closes_at": utcnow() - timedelta(days=1)}):
            with pytest.raises(InvalidInput):
                await service.create(s, org, "bad", "B", **bad)
    assert (in_phase.space_id, in_phase.phase_id) == (space.id, phase.id)
    assert in_discussion.discussion_id == discussion.id
    assert joint.organization_id == blue.actor.id  # a coalition's joint questionnaire


# -- the person's rights ---------------------------------------------------------------------------

async def test_erasure__named_responses_stay_counted_linked_to_nobody(sessions, settings, town):
    """An erased account's named response keeps its answers in the results, without its
    respondent, its time or the names of its files; its participant row in an anonymous
    questionnaire goes."""
    named, n_ids = await _make(sessions, town, questions=[("single", "A", {"options": CHOICES}),
                                                          ("file", "Photo", {})])
    anonymous, a_ids = await _make(sessions, town, "anonym", anonymous=True,
                                   questions=[("short_text", "B", {})])
    person = town.people[0]
    response = await _submit(sessions, settings, named, person, {n_ids[0]: "yes"},
                             files={n_ids[1]: ("Person 0 at home.jpg", jpeg_with_gps())})
    await _submit(sessions, settings, anonymous, person, {a_ids[0]: "x"})
    async with transaction(sessions) as s:
        await erasure.erase_account(s, await s.get(User, person.id), by=None)
    async with sessions() as s:
        stored = await s.get(QuestionnaireResponse, response.id)
        assert (stored.respondent_id, stored.submitted_at) == (None, None)
        answers = await service.answers_of(s, stored)
        assert answers[n_ids[0]] == "yes" and answers[n_ids[1]]["name"] == "file.jpg"
        assert qfiles.stored_file(settings.data_dir, answers[n_ids[1]]["path"]).exists()
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


# -- hostile input, at random (hypothesis) ---------------------------------------------------------

FUZZ = fuzzing(max_examples=80, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
JSON = st.recursive(st.none() | st.booleans() | st.integers(-20, 20) | st.floats(allow_nan=False)
                    | st.text(max_size=6), lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)
KEYS = st.sampled_from(["1", "2", "3", "a", "", "x" * 40])
PLAUSIBLE = st.one_of(KEYS, st.lists(KEYS, max_size=4), st.integers(-3, 12),
                      st.dictionaries(KEYS, st.one_of(KEYS, st.lists(KEYS, max_size=3)), max_size=3),
                      st.text(max_size=30), JSON)
SETTING_NAMES = st.sampled_from(["max_length", "min_choices", "max_choices", "min", "max", "min_label",
                                 "max_label", "types", "max_bytes", "colour"])
PATTERNS = st.sampled_from([r"^\d+$", "(a+)+", "a*b*c*", "[", r"(x)\1", "abc", "x" * 120, ".*"])
DEFINITIONS = st.fixed_dictionaries({
    "kind": st.one_of(st.sampled_from(QUESTION_KINDS), st.text(max_size=5)),
    "title": st.one_of(st.text(max_size=20), st.dictionaries(st.sampled_from(["fr", "de", "es"]),
                                                             st.text(max_size=10), max_size=2), JSON),
    "options": st.one_of(st.lists(st.text(min_size=1, max_size=8), max_size=4), JSON,
                         st.lists(st.fixed_dictionaries({"key": KEYS, "label": st.text(max_size=5)}), max_size=4)),
    "rows": st.one_of(st.just(()), st.lists(st.text(min_size=1, max_size=8), max_size=3), JSON),
    "settings": st.one_of(st.none(), st.dictionaries(SETTING_NAMES, st.one_of(st.integers(-5, 30), JSON,
                                                                              st.just(["images", "documents"])),
                                                     max_size=3)),
    "conditions": st.one_of(st.just(()), JSON, st.lists(st.fixed_dictionaries(
        {"question": st.sampled_from([1, 2, 3, 99, "1"]),
         "op": st.one_of(st.sampled_from(CONDITION_OPS), st.text(max_size=4))},
        optional={"value": st.one_of(KEYS, st.integers(0, 6), PATTERNS, JSON)}), max_size=3)),
    "correct": st.one_of(st.none(), PLAUSIBLE),
    "required": st.booleans(), "description": st.one_of(st.none(), st.text(max_size=10)),
    "explanation": st.one_of(st.none(), st.text(max_size=10)),
})


def _earlier() -> dict[int, Question]:
    """Three well-formed questions a fuzzed one may name in its conditions."""
    made = {}
    for i, (kind, extra) in enumerate((("single", {"options": ["a", "b", "c"]}), ("short_text", {}),
                                       ("scale", {"settings": {"min": 0, "max": 5}})), 1):
        question = Question(id=i, position=i - 1)
        forms.define(question, dict(made), kind=kind, title=f"Q{i}", description=None, required=False,
                     options=extra.get("options", ()), rows=(), settings=extra.get("settings"),
                     conditions=(), correct=None, explanation=None)
        made[i] = question
    return made


def _questionnaire(definitions: list[dict]) -> list[Question]:
    """The fuzzed definitions that were accepted, one after the other (later ones may name earlier)."""
    made = _earlier()
    for i, definition in enumerate(definitions, len(made) + 1):
        question = Question(id=i, position=i - 1)
        try:
            forms.define(question, dict(made), **definition)
        except InvalidInput:
            continue
        made[i] = question
    return list(made.values())


@FUZZ
@given(definition=DEFINITIONS)
def test_fuzz__a_definition_is_kept_well_formed_or_refused_with_a_reason(definition):
    """Any definition is either refused with InvalidInput or stored well formed: checking it again
    changes nothing; its conditions name earlier questions; its correct value is a valid answer."""
    earlier = _earlier()
    question = Question(id=10, position=10)
    try:
        forms.define(question, earlier, **definition)
    except InvalidInput as refused:
        assert refused.reason
        return
    assert question.kind in QUESTION_KINDS and len({o["key"] for o in question.options}) == len(question.options)
    assert forms.check_settings(question.kind, question.settings, question.options, question.rows) == question.settings
    assert all(c["question"] in earlier for c in question.conditions)
    if question.correct is not None:
        assert forms.check_value(question, question.correct) == question.correct
    again = Question(id=10, position=10)
    forms.define(again, earlier, kind=question.kind, title=question.title, description=question.description,
                 required=question.required, options=question.options, rows=question.rows,
                 settings=question.settings, conditions=question.conditions, correct=question.correct,
                 explanation=question.explanation)
    assert (again.options, again.settings, again.conditions, again.correct) == \
        (question.options, question.settings, question.conditions, question.correct)


def _answer(question: Question) -> st.SearchStrategy:
    """Mostly well-formed answers to ``question`` (by its kind and settings), some hostile."""
    keys = [o["key"] for o in question.options] or ["1"]
    rows = [r["key"] for r in question.rows] or ["1"]
    settings = question.settings or {}
    valid = {
        "single": st.sampled_from(keys),
        "multiple": st.lists(st.sampled_from(keys), unique=True, max_size=len(keys)),
        "ranking": st.lists(st.sampled_from(keys), unique=True, max_size=len(keys)),
        "scale": st.integers(settings.get("min", 1) - 1, settings.get("max", 5) + 1),
        "matrix_single": st.dictionaries(st.sampled_from(rows), st.sampled_from(keys)),
        "matrix_multiple": st.dictionaries(st.sampled_from(rows), st.lists(st.sampled_from(keys), unique=True)),
        "short_text": st.text(max_size=40), "long_text": st.text(max_size=40),
    }.get(question.kind, st.none())
    return st.one_of(valid, valid, valid, PLAUSIBLE)


@FUZZ
@given(definitions=st.lists(DEFINITIONS, max_size=6), data=st.data())
def test_fuzz__answers_are_kept_checked_or_refused_and_conditions_are_pure(definitions, data):
    """Random values for a random questionnaire: checked() keeps well-formed answers of shown
    questions or raises InvalidInput; what it keeps passes again unchanged; visible() neither
    changes its input nor gives two answers for the same input."""
    questions = _questionnaire(definitions)
    values = {}
    for question in questions:
        if data.draw(st.booleans()):
            values[question.id] = data.draw(_answer(question))
    values.update(data.draw(st.dictionaries(st.one_of(st.integers(0, 10), st.text(max_size=2)), PLAUSIBLE,
                                            max_size=1)))
    files = data.draw(st.sets(st.sampled_from([q.id for q in questions] + [99]), max_size=1))
    before = copy.deepcopy(values)
    shown = [q.id for q in forms.visible(questions, values)]
    assert shown == [q.id for q in forms.visible(questions, values)] and values == before
    try:
        kept = forms.checked(questions, values, files)
    except InvalidInput as refused:
        assert refused.reason
        event("refused")
        return
    event("kept" if kept else "kept nothing")
    assert values == before
    ids_shown = {q.id for q in forms.visible(questions, kept)}
    assert set(kept) <= ids_shown
    typed = {i: v for i, v in kept.items() if v is not True}
    assert forms.checked(questions, typed, [i for i, v in kept.items() if v is True]) == kept
    for question in questions:  # a quiz mark never raises
        forms.is_correct(question, kept.get(question.id))


@pytest.fixture
async def fuzzed(sessions, town):
    """A published questionnaire of every kind, some shown on conditions."""
    return await _make(sessions, town, "fuzz", questions=[
        ("single", "A", {"options": ["a", "b", "c"], "required": True}),
        ("multiple", "B", {"options": ["a", "b", "c"], "settings": {"min_choices": 1, "max_choices": 2},
                           "conditions": [{"question": 0, "op": "equals", "value": "1"}]}),
        ("ranking", "C", {"options": ["a", "b", "c"]}),
        ("scale", "D", {"settings": {"min": 0, "max": 10}}),
        ("matrix_multiple", "E", {"options": ["a", "b"], "rows": ["r", "s"]}),
        ("short_text", "F", {"conditions": [{"question": 3, "op": "answered"}]}),
        ("file", "G", {"settings": {"types": ["images", "documents"], "max_bytes": 2048}}),
        ("block", "H", {}),
    ])


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" \
      b"\x00\x00\x00\rIDATx\x9cc\x00\x01\x00\x00\x05\x00\x01\xa5\xf6E@\x00\x00\x00\x00IEND\xaeB`\x82"
ABC = st.sampled_from(["1", "2", "3"])


@FUZZ
@given(picks=st.fixed_dictionaries({0: st.one_of(ABC, ABC, ABC, PLAUSIBLE)}, optional={
    1: st.one_of(st.lists(ABC, unique=True), PLAUSIBLE),
    2: st.one_of(st.lists(ABC, unique=True), st.lists(ABC), PLAUSIBLE), 3: st.one_of(st.integers(-1, 11), PLAUSIBLE),
    4: st.one_of(st.dictionaries(st.sampled_from(["1", "2", "3"]), st.lists(st.sampled_from(["1", "2", "3"]))),
                 PLAUSIBLE),
    5: st.one_of(st.text(max_size=50), PLAUSIBLE)}),
       extra=st.one_of(st.just({}), st.just({}), st.just({}), st.dictionaries(st.sampled_from([7, 9]), PLAUSIBLE)),
       upload=st.one_of(st.none(), st.tuples(st.one_of(st.text(max_size=20), st.none(), st.integers()),
                                             st.one_of(st.just(PNG), st.just(b"%PDF-1.4 x"), st.binary(max_size=64),
                                                       st.text(max_size=5)))))
async def test_fuzz__a_submission_is_stored_or_refused_with_a_reason(sessions, settings, town, fuzzed,
                                                                     picks, extra, upload):
    """Random values (and a random file) against a real database: stored exactly as checked, or
    refused with InvalidInput / Conflict — never another exception."""
    q, ids = fuzzed
    values = {(ids[i] if i < len(ids) else 10_000 + i): v for i, v in {**picks, **extra}.items()}
    files = {ids[6]: upload} if upload is not None else {}
    async with sessions() as s, s.begin():
        questionnaire = await s.get(Questionnaire, q.id)
        try:
            response = await service.submit(s, settings, questionnaire, await s.get(User, town.people[0].id),
                                            values, files=files)
        except (InvalidInput, Conflict) as refused:
            assert refused.reason
            event(f"refused: {refused.reason[:25]}")
        else:
            event("stored")
            stored = await service.answers_of(s, response)
            questions = await service.questions(s, questionnaire)
            expected = forms.checked(questions, values, files)
            assert set(stored) == set(expected)
            assert all(stored[i] == v for i, v in expected.items() if v is not True)
        await s.rollback()


# -- results ---------------------------------------------------------------------------------------

async def test_results__counts_cells_means_points_and_samples(sessions, settings, town):
    """Every kind's figures, from the stored answers (blocks have none; a hidden question's
    dropped answers count nowhere)."""
    q, ids = await _make(sessions, town, questions=[
        ("block", "Intro", {}),
        ("single", "Rad?", {"options": CHOICES}),
        ("multiple", "Parks", {"options": PARKS}),
        ("ranking", "Rang", {"options": PARKS}),
        ("scale", "Note", {"settings": {"min": 1, "max": 4}}),
        ("matrix_multiple", "Bus", {"options": ["am", "pm"], "rows": ["mo", "di"]}),
        ("short_text", "Warum?", {"conditions": [{"question": 1, "op": "equals", "value": "no"}]}),
    ])
    given_values = [
        {ids[1]: "yes", ids[2]: ["1", "2"], ids[3]: ["1", "2", "3"], ids[4]: 4,
         ids[5]: {"1": ["1", "2"]}, ids[6]: "hidden"},
        {ids[1]: "no", ids[2]: ["2"], ids[3]: ["2", "1"], ids[4]: 1, ids[5]: {"1": ["1"], "2": ["2"]},
         ids[6]: "zu steil"},
        {ids[1]: "no", ids[4]: 2, ids[6]: "zu weit"},
    ]
    for person, values in zip(town.people, given_values, strict=False):
        await _submit(sessions, settings, q, person, values)
    async with sessions() as s:
        found = {r.question.id: r for r in await service.results(s, await s.get(Questionnaire, q.id))}
    assert ids[0] not in found
    assert (found[ids[1]].answered, found[ids[1]].counts) == (3, {"yes": 1, "no": 2})
    assert found[ids[2]].counts == {"1": 1, "2": 2, "3": 0} and found[ids[2]].answered == 2
    assert found[ids[3]].points == {"1": 3 + 2, "2": 2 + 3, "3": 1} and found[ids[3]].counts == {"1": 1, "2": 1, "3": 0}
    assert found[ids[4]].counts == {"1": 1, "2": 1, "3": 0, "4": 1} and found[ids[4]].mean == pytest.approx(7 / 3)
    assert found[ids[5]].cells == {"1": {"1": 2, "2": 1}, "2": {"1": 0, "2": 1}}
    assert sorted(found[ids[6]].samples) == ["zu steil", "zu weit"] and found[ids[6]].answered == 2
    assert found[ids[1]].label("no", "de") == "Nein"


async def test_lists__levels_drafts_and_containers(sessions, uris, town):
    """of_organisation / of_discussion / of_space list what the levels allow; drafts when asked."""
    async with transaction(sessions) as s:
        org = await s.get(Actor, town.org.id)
        closed_space = await spaces.create_space(s, org, "intern", "Intern", visibility="members")
        discussion = await discussions.open_discussion(s, uris, org, "rad", "Radwege")
        public = await service.create(s, org, "offen", "Offen", discussion=discussion)
        await service.add_question(s, public, "short_text", "A")
        await service.publish(s, public)
        inside = await service.create(s, org, "drinnen", "Drinnen", space=closed_space)
        await service.add_question(s, inside, "short_text", "A")
        await service.publish(s, inside)
        draft = await service.create(s, org, "entwurf", "Entwurf")
    async with sessions() as s:
        everyone = ("public",)
        assert [x.slug for x in await service.of_organisation(s, org, levels=everyone)] == ["offen"]
        staff = ("public", "unlisted", "followers", "members")
        assert {x.slug for x in await service.of_organisation(s, org, levels=staff)} == {"offen", "drinnen"}
        assert {x.slug for x in await service.of_organisation(s, org, levels=staff, drafts=True)} == \
            {"offen", "drinnen", "entwurf"}
        assert [x.slug for x in await service.of_discussion(s, discussion, levels=everyone)] == ["offen"]
        assert await service.of_space(s, closed_space, levels=everyone) == []
        assert await service.level_of(s, inside) == "members"
        assert (await service.by_slug(s, org, "ENTWURF")).id == draft.id
        with pytest.raises(NotFound):
            await service.by_slug(s, org, "nichts")


# -- editing ---------------------------------------------------------------------------------------

async def test_update_question__only_texts_once_answered(sessions, settings, town):
    """Before answers anything may change (checked as when added); after, only texts: labels,
    titles, explanations — never option keys, settings or conditions."""
    q, ids = await _make(sessions, town, questions=[
        ("single", "A", {"options": CHOICES}),
        ("short_text", "B", {"conditions": [{"question": 0, "op": "equals", "value": "no"}]})])
    async with transaction(sessions) as s:
        question = await s.get(Question, ids[0])
        with pytest.raises(Conflict, match="depends on it"):  # B compares with "no"
            await service.update_question(s, question, options=CHOICES[:1])
        await service.update_question(s, question, options=CHOICES + [{"key": "maybe", "label": "Peut-être"}])
        with pytest.raises(InvalidInput):
            await service.update_question(s, question, options="yes,no")
        with pytest.raises(InvalidInput):
            await service.update_question(s, question, kind="scale")
    await _submit(sessions, settings, q, town.people[0], {ids[0]: "maybe"})
    async with transaction(sessions) as s:
        question = await s.get(Question, ids[0])
        relabelled = [{**o, "label": {"fr": o["label"]["fr"].upper()}} for o in question.options]
        await service.update_question(s, question, title={"fr": "A ?", "de": "A?"}, options=relabelled,
                                      explanation="Parce que.")
        for change in ({"options": CHOICES}, {"required": True}, {"settings": {"max_length": 5}}):
            with pytest.raises((Conflict, InvalidInput)):
                await service.update_question(s, question, **change)
        with pytest.raises(Conflict):
            await service.remove_question(s, await s.get(Question, ids[1]))
        with pytest.raises(Conflict):
            await service.add_question(s, await s.get(Questionnaire, q.id), "short_text", "C")
    async with sessions() as s:
        stored = await s.get(Question, ids[0])
        assert stored.title == {"fr": "A ?", "de": "A?"} and stored.options[2]["label"] == {"fr": "PEUT-ÊTRE"}


async def test_visible__a_form_value_compares_like_the_stored_one():
    """visible() takes the values as a form sends them (a scale's "4") as it takes stored ones."""
    scale = Question(id=1, position=0)
    forms.define(scale, {}, kind="scale", title="Note", description=None, required=False, options=(), rows=(),
                 settings=None, conditions=(), correct=None, explanation=None)
    then = Question(id=2, position=1)
    forms.define(then, {1: scale}, kind="short_text", title="Pourquoi ?", description=None, required=False,
                 options=(), rows=(), settings=None, conditions=[{"question": 1, "op": "equals", "value": 4}],
                 correct=None, explanation=None)
    assert [q.id for q in service.visible([scale, then], {1: "4"})] == [1, 2]
    assert [q.id for q in service.visible([scale, then], {1: 4})] == [1, 2]
    assert [q.id for q in service.visible([scale, then], {1: "3"})] == [1]


async def test_change__texts_languages_and_dates_checked(sessions, town):
    q, _ = await _make(sessions, town, publish=False)
    now = utcnow()
    async with transaction(sessions) as s:
        q = await s.get(Questionnaire, q.id)
        await service.change(s, q, title={"en": "Survey"}, languages=["en", "fr"], opens_at=now,
                             closes_at=now + timedelta(days=7), verified_only=True)
        for bad in ({"title": ""}, {"title": ["x"]}, {"languages": ["it"]}, {"closes_at": now - timedelta(days=1)},
                    {"opens_at": now.replace(tzinfo=None)}):
            with pytest.raises(InvalidInput):
                await service.change(s, q, **bad)
    async with sessions() as s:
        stored = await s.get(Questionnaire, q.id)
        assert (stored.title, stored.languages, stored.verified_only) == ({"en": "Survey"}, ["en", "fr"], True)
        assert stored.closes_at - stored.opens_at == timedelta(days=7)


@pytest.mark.parametrize("anonymous", [False, True])
async def test_scopes__a_response_changes_its_questionnaire_and_organisation_only(sessions, settings, town,
                                                                                   anonymous):
    """A submission invalidates the questionnaire's pages and its organisation's lists, not
    everything (the page cache of the rest of the node stays)."""
    q, ids = await _make(sessions, town, anonymous=anonymous, questions=[("short_text", "A", {})])
    commits: list = []
    changes.subscribe(sessions, commits.append)
    await _submit(sessions, settings, q, town.people[0], {ids[0]: "x"})
    scopes = set().union(*commits)
    assert changes.questionnaire(q.id) in scopes and changes.org(town.org.id) in scopes
    assert changes.EVERYTHING not in scopes
