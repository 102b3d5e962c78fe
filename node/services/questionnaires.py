"""Questionnaires: their definition, answering them (one response per person, named or
anonymous) and their results. What a question accepts is node/services/questionnaire_forms.py,
the files node/services/questionnaire_files.py; the export questionnaire_export.py.

Responses and answers never leave the node (FEDERATION.md "Questionnaires, polls and budgets");
the anonymous mode stores nothing that links an answer to an account (SECURITY.md rule 29, the
models' docstring). The database key decides who answered first: a second response is refused
with Conflict, also when two arrive at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from node import visibility as visibility_module
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.models import Actor, Discussion, Phase, Space, User, utcnow
from node.models.participation import LANGUAGES
from node.models.questionnaires import (
    Answer,
    Question,
    Questionnaire,
    QuestionnaireParticipant,
    QuestionnaireResponse,
    random_id,
)
from node.services import coalitions, membership, questionnaire_results
from node.services import questionnaire_files as files_service
from node.services import questionnaire_forms as forms
from node.services.i18n import pick
from node.uris import check_slug

# The pure parts and the results, under the names the contract gives them (issue 11 design).
visible = forms.visible
feedback = forms.feedback
Feedback = forms.Feedback
results = questionnaire_results.results
QuestionResult = questionnaire_results.QuestionResult
SAMPLES = questionnaire_results.SAMPLES

ALREADY = "you have already answered this questionnaire"
MAX_FILES_BYTES = 50 * 1024 * 1024  # all the files of one response together


# -- questionnaires -----------------------------------------------------------------------------

def _languages(languages) -> list[str]:
    if isinstance(languages, str):
        languages = [languages]
    languages = list(dict.fromkeys(languages or ()))
    if not languages or any(lang not in LANGUAGES for lang in languages):
        raise InvalidInput("the languages are some of fr, en and de (the first is the default)")
    return languages


def _dates(opens_at: datetime | None, closes_at: datetime | None) -> None:
    for value in (opens_at, closes_at):
        if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
            raise InvalidInput("opening and closing times are aware datetimes")
    if opens_at and closes_at and closes_at <= opens_at:
        raise InvalidInput("a questionnaire closes after it opens")


async def create(session: AsyncSession, organization: Actor, slug: str, title: dict | str, *,
                 description: dict | str | None = None, languages: Iterable[str] = ("fr",),
                 space: Space | None = None, phase: Phase | None = None,
                 discussion: Discussion | None = None, anonymous: bool = False, quiz: bool = False,
                 verified_only: bool = False, opens_at: datetime | None = None,
                 closes_at: datetime | None = None,
                 visibility: str = visibility_module.PUBLIC) -> Questionnaire:
    """A draft questionnaire of a local organisation or coalition (joint questionnaires), maybe
    in a phase of one of its spaces or in one of its discussions."""
    if not await coalitions.hosts_participation(session, organization):
        raise InvalidInput("questionnaires belong to a local organisation or coalition")
    slug = check_slug(slug)
    if visibility not in visibility_module.LEVELS:
        raise InvalidInput(f"visibility must be one of {', '.join(visibility_module.LEVELS)}")
    if phase is not None:
        if space is None:
            space = await session.get(Space, phase.space_id)
        if phase.space_id != space.id:
            raise InvalidInput("the phase is not one of the space's")
    if space is not None and space.organization_id != organization.id:
        raise InvalidInput("the space is not the organisation's")
    if discussion is not None and discussion.organization_id != organization.id:
        raise InvalidInput("the discussion is not the organisation's")
    _dates(opens_at, closes_at)
    if await session.scalar(select(Questionnaire.id).where(
            Questionnaire.organization_id == organization.id, Questionnaire.slug == slug)):
        raise Conflict(f"{organization.username} already has a questionnaire {slug!r}")
    q = Questionnaire(
        organization_id=organization.id, slug=slug, space_id=space.id if space else None,
        phase_id=phase.id if phase else None, discussion_id=discussion.id if discussion else None,
        title=forms.texts(title, required=True, what="title", max_length=forms.MAX_TITLE),
        description=forms.texts(description, what="description"), languages=_languages(languages),
        visibility=visibility, state="draft", anonymous=bool(anonymous), quiz=bool(quiz),
        verified_only=bool(verified_only), opens_at=opens_at, closes_at=closes_at, response_count=0)
    session.add(q)
    await session.flush()
    return q



async def change(session: AsyncSession, q: Questionnaire, *, title=None, description=None,
                 languages=None, opens_at: datetime | None = ..., closes_at: datetime | None = ...,
                 verified_only: bool | None = None) -> Questionnaire:
    """Change texts, languages or dates (the modes and the container are fixed at creation:
    changing ``anonymous`` after answers would break its promise). All checked before any is set."""
    title_map = None if title is None else \
        forms.texts(title, required=True, what="title", max_length=forms.MAX_TITLE)
    description_map = None if description is None else forms.texts(description, what="description")
    language_list = None if languages is None else _languages(languages)
    opens = q.opens_at if opens_at is ... else opens_at
    closes = q.closes_at if closes_at is ... else closes_at
    _dates(opens, closes)
    q.title = q.title if title_map is None else title_map
    q.description = q.description if description_map is None else description_map
    q.languages = q.languages if language_list is None else language_list
    q.opens_at, q.closes_at = opens, closes
    if verified_only is not None:
        q.verified_only = bool(verified_only)
    await session.flush()
    return q


async def by_slug(session: AsyncSession, organization: Actor, slug: str) -> Questionnaire:
    q = await session.scalar(select(Questionnaire).where(
        Questionnaire.organization_id == organization.id, Questionnaire.slug == (slug or "").lower()))
    if q is None:
        raise NotFound("no such questionnaire")
    return q


async def publish(session: AsyncSession, q: Questionnaire) -> None:
    """A draft opens to answers (within its dates); it needs at least one question."""
    if q.state != "draft":
        raise Conflict("only a draft questionnaire can be published")
    if not any(question.kind != "block" for question in await questions(session, q)):
        raise InvalidInput("a questionnaire needs at least one question")
    q.state = "published"
    await session.flush()


async def close(session: AsyncSession, q: Questionnaire) -> None:
    if q.state != "published":
        raise Conflict("only a published questionnaire can be closed")
    q.state = "closed"
    await session.flush()


def _listed(levels: Iterable[str], drafts: bool):
    where = [visibility_module.level_in(levels, Questionnaire.visibility, Space.visibility,
                                 Discussion.visibility)]
    if not drafts:
        where.append(Questionnaire.state != "draft")
    return (select(Questionnaire)
            .outerjoin(Space, Space.id == Questionnaire.space_id)
            .outerjoin(Discussion, Discussion.id == Questionnaire.discussion_id)
            .where(*where).order_by(Questionnaire.created_at.desc(), Questionnaire.id.desc()))


async def of_organisation(session: AsyncSession, org: Actor, *, levels: Iterable[str],
                          drafts: bool = False) -> list[Questionnaire]:
    """The organisation's questionnaires at ``levels`` (visibility.listed_levels(who)), newest
    first; drafts only when asked (its admins)."""
    return list(await session.scalars(_listed(levels, drafts)
                                      .where(Questionnaire.organization_id == org.id)))


async def of_discussion(session: AsyncSession, discussion: Discussion, *, levels: Iterable[str],
                        drafts: bool = False) -> list[Questionnaire]:
    return list(await session.scalars(_listed(levels, drafts)
                                      .where(Questionnaire.discussion_id == discussion.id)))


async def of_space(session: AsyncSession, space: Space, *, levels: Iterable[str],
                   drafts: bool = False, phase: Phase | None = None) -> list[Questionnaire]:
    query = _listed(levels, drafts).where(Questionnaire.space_id == space.id)
    if phase is not None:
        query = query.where(Questionnaire.phase_id == phase.id)
    return list(await session.scalars(query))


async def level_of(session: AsyncSession, q: Questionnaire) -> str:
    """Its visibility: the stricter of its own and its space's and discussion's."""
    space = await session.get(Space, q.space_id) if q.space_id else None
    discussion = await session.get(Discussion, q.discussion_id) if q.discussion_id else None
    return visibility_module.level_of(space, discussion, q)


def is_open(q: Questionnaire, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return q.state == "published" and (q.opens_at is None or q.opens_at <= now) and \
        (q.closes_at is None or now < q.closes_at)


# -- questions ----------------------------------------------------------------------------------

async def questions(session: AsyncSession, q: Questionnaire) -> list[Question]:
    return list(await session.scalars(select(Question).where(Question.questionnaire_id == q.id)
                                      .order_by(Question.position, Question.id)))


async def _has_responses(session: AsyncSession, q: Questionnaire) -> bool:
    return bool(await session.scalar(select(QuestionnaireResponse.id).where(
        QuestionnaireResponse.questionnaire_id == q.id).limit(1)))


def _check_patterns(asked: list[Question]) -> None:
    """At most MAX_PATTERNS "matches" conditions in a questionnaire: each costs a regular
    expression run whenever the form is shown or answered (SECURITY.md rule 29)."""
    count = sum(c.get("op") == "matches" for question in asked for c in question.conditions or ())
    if count > forms.MAX_PATTERNS:
        raise InvalidInput(f"a questionnaire has at most {forms.MAX_PATTERNS} pattern conditions")


def _check_anonymous_files(q: Questionnaire, question: Question) -> None:
    """An anonymous questionnaire takes images only: they are re-encoded without metadata, while
    documents keep theirs (a PDF's or an office file's author) and would name who sent them."""
    if q.anonymous and question.kind == "file" and "documents" in (question.settings or {}).get("types", ()):
        raise InvalidInput("an anonymous questionnaire accepts images only: documents keep their "
                           "author's name in their metadata")


async def add_question(session: AsyncSession, q: Questionnaire, kind: str, title: dict | str, *,
                       description=None, required: bool = False, options=(), rows=(),
                       settings=None, conditions=(), correct=None, explanation=None) -> Question:
    """A question (or a title/description block) at the end of ``q``; every part is checked
    against hostile definitions. Conditions name earlier questions. Not once it has answers."""
    if await _has_responses(session, q):
        raise Conflict("this questionnaire has answers: its questions can no longer be added")
    existing = await questions(session, q)
    if len(existing) >= forms.MAX_QUESTIONS:
        raise InvalidInput(f"a questionnaire has at most {forms.MAX_QUESTIONS} questions")
    question = Question(questionnaire_id=q.id, position=(existing[-1].position + 1) if existing else 0)
    forms.define(question, {e.id: e for e in existing}, kind=kind, title=title, description=description,
            required=required, options=options, rows=rows, settings=settings, conditions=conditions,
            correct=correct, explanation=explanation)
    _check_patterns([*existing, question])
    _check_anonymous_files(q, question)
    session.add(question)
    await session.flush()
    return question


async def update_question(session: AsyncSession, question: Question, **changes) -> Question:
    """Change parts of a question (the names of add_question's arguments). Once the
    questionnaire has answers only texts may change: labels, not the option keys."""
    allowed = {"title", "description", "required", "options", "rows", "settings", "conditions",
               "correct", "explanation"}
    if set(changes) - allowed:
        raise InvalidInput(f"unknown parts of a question: {', '.join(sorted(set(changes) - allowed))}")
    q = await session.get(Questionnaire, question.questionnaire_id)
    existing = await questions(session, q)
    current = {"title": question.title, "description": question.description,
               "required": question.required, "options": question.options, "rows": question.rows,
               "settings": question.settings, "conditions": question.conditions,
               "correct": question.correct, "explanation": question.explanation}
    merged = {**current, **changes}
    draft = Question(questionnaire_id=q.id, position=question.position, id=question.id)
    earlier = {e.id: e for e in existing if e.position < question.position}
    forms.define(draft, earlier, kind=question.kind, **merged)
    if await _has_responses(session, q):
        same = ([o["key"] for o in draft.options] == [o["key"] for o in question.options] and
                [r["key"] for r in draft.rows] == [r["key"] for r in question.rows] and
                draft.settings.keys() == question.settings.keys() and
                all(draft.settings[k] == question.settings[k] for k in draft.settings
                    if not k.endswith("_label")) and
                draft.conditions == question.conditions and draft.required == question.required)
        if not same:
            raise Conflict("this questionnaire has answers: only the texts of its questions may change")
    _check_patterns([draft if e.id == question.id else e for e in existing])
    _check_anonymous_files(q, draft)
    # The conditions of later questions that name this one must still hold (an option they
    # compare with may not go).
    with_draft = {e.id: (draft if e.id == question.id else e) for e in existing}
    for other in existing:
        if other.position > question.position and \
                any(c.get("question") == question.id for c in other.conditions or ()):
            try:
                forms.check_conditions(other.conditions, {i: e for i, e in with_draft.items()
                                                          if e.position < other.position})
            except InvalidInput as refused:
                raise Conflict(f"{forms.name_of(other)} depends on it: {refused.reason}") from None
    for name in allowed:
        setattr(question, name, getattr(draft, name))
    await session.flush()
    return question


async def remove_question(session: AsyncSession, question: Question) -> None:
    """Remove a question nobody answered and no other question's condition names."""
    q = await session.get(Questionnaire, question.questionnaire_id)
    if await _has_responses(session, q):
        raise Conflict("this questionnaire has answers: its questions can no longer be removed")
    for other in await questions(session, q):
        if any(c.get("question") == question.id for c in other.conditions or ()):
            raise Conflict(f"{forms.name_of(other)} is shown depending on this question")
    await session.delete(question)
    await session.flush()


# -- answering ----------------------------------------------------------------------------------

async def has_answered(session: AsyncSession, q: Questionnaire, user: User | None) -> bool:
    if user is None:
        return False
    if q.anonymous:
        return bool(await session.scalar(select(QuestionnaireParticipant.user_id).where(
            QuestionnaireParticipant.questionnaire_id == q.id,
            QuestionnaireParticipant.user_id == user.id)))
    return bool(await session.scalar(select(QuestionnaireResponse.id).where(
        QuestionnaireResponse.questionnaire_id == q.id,
        QuestionnaireResponse.respondent_id == user.actor_id)))


async def may_answer(session: AsyncSession, q: Questionnaire, user: User | None, *,
                     now: datetime | None = None) -> str | None:
    """None when ``user`` may answer ``q`` now, else the reason (the form shows it)."""
    if user is None:
        return "log in to answer this questionnaire"
    if q.state == "draft":
        return "this questionnaire is not published"
    if not is_open(q, now):
        return "this questionnaire is not open for answers"
    if q.verified_only:
        org = await session.get(Actor, q.organization_id)
        if not await membership.is_verified(session, org, user):
            return "only verified members of the organisation may answer this questionnaire"
    return None


async def _reshuffle_participants(session: AsyncSession, q: Questionnaire) -> None:
    """PostgreSQL stamps each row with the transaction that wrote it (the system column ``xmin``)
    and keeps a table's rows in the order they were written: a submission's participant row and
    its response row would share the one and follow each other in the other. So each anonymous
    submission writes all the questionnaire's participant rows anew, in a random order: they all
    carry the latest transaction and their order is not the order of arrival (SECURITY.md rule 29;
    tests/node/test_questionnaires_anonymous.py). Submissions to one questionnaire take turns on
    its row. SQLite has neither: its participant rows are kept in the order of their key."""
    if session.get_bind().dialect.name != "postgresql":
        return
    # One statement: the rows deleted are written back in a random order (PostgreSQL checks the
    # key against its own deletions of the same statement).
    await session.execute(_RESHUFFLE, {"q": q.id})


_RESHUFFLE = text(
    "WITH gone AS (DELETE FROM questionnaire_participants WHERE questionnaire_id = :q RETURNING user_id) "
    "INSERT INTO questionnaire_participants (questionnaire_id, user_id) "
    "SELECT :q, user_id FROM gone ORDER BY random()")


async def _claimed(session: AsyncSession, table, row: dict) -> bool:
    """Insert ``row`` unless a unique key already holds it (INSERT … ON CONFLICT DO NOTHING, on
    PostgreSQL after the concurrent insert commits); whether it was inserted. Only for tables
    no page shows (node/change_rules.py IGNORED): a tracked table's insert statement changes "*"."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    result = await session.execute(insert(table).values(**row).on_conflict_do_nothing())
    return result.rowcount == 1


def _data_dir(settings_or_data_dir) -> Path:
    return Path(getattr(settings_or_data_dir, "data_dir", settings_or_data_dir))


async def submit(session: AsyncSession, settings_or_data_dir, q: Questionnaire, user: User,
                 values: Mapping[int, object], *,
                 files: Mapping[int, tuple[str, bytes]] | None = None, language: str = "fr",
                 now: datetime | None = None) -> QuestionnaireResponse:
    """Store ``user``'s response: answers to shown questions checked and kept, to hidden ones
    dropped; files checked and stored (images re-encoded). One response per person, decided by
    the database key (Conflict). Anonymous: the participant row and a response that names
    nobody, with a random id and no time."""
    reader = visibility_module.Reader.of_user(user)
    if not await visibility_module.may_read(session, reader, q.organization_id, await level_of(session, q)):
        raise NotFound("no such questionnaire")
    reason = await may_answer(session, q, user, now=now)
    if reason:
        raise Forbidden(reason)
    if await has_answered(session, q, user):
        raise Conflict(ALREADY)
    language = language if language in (q.languages or ()) else (q.languages or ["fr"])[0]
    if files is not None and not isinstance(files, Mapping):
        raise InvalidInput("the files are a mapping of question ids to files")
    files = dict(files or {})
    if any(
            not isinstance(f, tuple) or len(f) != 2 for f in files.values()):
        raise InvalidInput("each file question takes one file")
    if sum(len(f[1]) for f in files.values() if isinstance(f[1], (bytes, bytearray))) > MAX_FILES_BYTES:
        raise InvalidInput(f"the files of a response are limited to {MAX_FILES_BYTES // 2**20} MB")
    all_questions = await questions(session, q)
    by_id = {question.id: question for question in all_questions}
    kept = forms.checked(all_questions, values, files, language)
    uploads = {}
    for question_id in [i for i in kept if by_id[i].kind == "file"]:
        name, data = files[question_id]
        uploads[question_id] = await asyncio.to_thread(
            files_service.prepare, by_id[question_id], name, data, anonymous=q.anonymous, lang=language)

    score = sum(forms.is_correct(by_id[i], v) for i, v in kept.items()) if q.quiz else None
    response = QuestionnaireResponse(
        id=random_id(), questionnaire_id=q.id, language=language, score=score,
        respondent_id=None if q.anonymous else user.actor_id,
        submitted_at=None if q.anonymous else (now or utcnow()))
    # The key decides: the participant row (anonymous) or the unique response per person. No
    # savepoint: SQLite's driver commits what came before a released one (it does not BEGIN).
    if q.anonymous:
        if session.get_bind().dialect.name == "postgresql":  # one at a time: _reshuffle_participants
            await session.execute(select(Questionnaire.id).where(Questionnaire.id == q.id).with_for_update())
        if not await _claimed(session, QuestionnaireParticipant.__table__,
                              {"questionnaire_id": q.id, "user_id": user.id}):
            raise Conflict(ALREADY)
        await _reshuffle_participants(session, q)
    else:
        session.add(response)
        try:
            await session.flush()
        except IntegrityError:  # answered meanwhile; the caller's transaction is over
            raise Conflict(ALREADY) from None
    data_dir = _data_dir(settings_or_data_dir)
    stored: list[str] = []
    try:
        for question_id, upload in uploads.items():
            path = await asyncio.to_thread(files_service.store, data_dir, q.id, upload)
            stored.append(path)
            kept[question_id] = upload.value(path)
        if q.anonymous:
            session.add(response)
            await session.flush()
        session.add_all([Answer(id=random_id(), response_id=response.id, question_id=i, value=v,
                                text=forms.as_text(by_id[i], v, (q.languages or ["fr"])[0]))
                         for i, v in kept.items()])
        await session.execute(update(Questionnaire).where(Questionnaire.id == q.id)
                              .values(response_count=Questionnaire.response_count + 1))
        await session.flush()
    except BaseException:
        files_service.remove(data_dir, stored)
        raise
    return response


async def unlink_respondent(session: AsyncSession, actor: Actor) -> int:
    """An erased account's named responses stay in the results linked to nobody: no respondent,
    no time, and their files keep no sent name (``file.<ext>``, as anonymous ones). How many."""
    mine = select(QuestionnaireResponse.id).where(QuestionnaireResponse.respondent_id == actor.id)
    files = await session.execute(select(Answer).join(Question, Question.id == Answer.question_id)
                                  .where(Answer.response_id.in_(mine), Question.kind == "file"))
    for (answer,) in files:
        if isinstance(answer.value, Mapping) and isinstance(answer.value.get("path"), str):
            ext = answer.value["path"].rsplit(".", 1)[-1]
            answer.value = {**answer.value, "name": f"file.{ext}"}
    result = await session.execute(update(QuestionnaireResponse)
                                   .where(QuestionnaireResponse.respondent_id == actor.id)
                                   .values(respondent_id=None, submitted_at=None))
    return result.rowcount or 0


async def answers_of(session: AsyncSession, response: QuestionnaireResponse) -> dict[int, object]:
    """{question id: value} of one response."""
    rows = await session.execute(select(Answer.question_id, Answer.value)
                                 .where(Answer.response_id == response.id))
    return dict(rows.all())


async def response_of(session: AsyncSession, q: Questionnaire, user: User) -> QuestionnaireResponse | None:
    """A named response of ``user`` (an anonymous one is found by nobody)."""
    if q.anonymous:
        return None
    return await session.scalar(select(QuestionnaireResponse).where(
        QuestionnaireResponse.questionnaire_id == q.id,
        QuestionnaireResponse.respondent_id == user.actor_id))


async def response_count(session: AsyncSession, q: Questionnaire) -> int:
    """Counted (the stored ``response_count`` is what pages show)."""
    return await session.scalar(select(func.count()).select_from(QuestionnaireResponse)
                                .where(QuestionnaireResponse.questionnaire_id == q.id))


def title_of(q: Questionnaire, lang: str) -> str:
    return pick(q.title, lang)
