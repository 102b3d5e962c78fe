"""A questionnaire's responses as CSV (one row per response, one column per question or matrix
row, formulas neutralised) and as JSON (the questions and the stored values). Neither names an
account, a pseudonym or a respondent's id: a row is numbered, nothing more (SECURITY.md rule 29).
Anonymous responses come in the order of their random ids and without a time."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node.models.questionnaires import Answer, Question, Questionnaire, QuestionnaireResponse
from node.services import questionnaire_forms as forms
from node.services import questionnaires
from node.services.i18n import pick
from node.services.spreadsheet import neutralised_cell

FORMAT = "civic-node-questionnaire/1"


def _columns(asked: list[Question], lang: str) -> list[tuple[str, Question, str | None]]:
    """(header, question, matrix row key or None) for every column after the response's own."""
    columns = []
    for question in asked:
        title = f"{question.position + 1}. {pick(question.title, lang)}"
        if question.kind in forms.MATRIX_KINDS:
            columns += [(f"{title} [{pick(row['label'], lang)}]", question, row["key"])
                        for row in question.rows]
        else:
            columns.append((title, question, None))
    return columns


async def _responses(session: AsyncSession, q: Questionnaire) -> list[QuestionnaireResponse]:
    order = (QuestionnaireResponse.id,) if q.anonymous else \
        (QuestionnaireResponse.submitted_at, QuestionnaireResponse.id)
    return list(await session.scalars(select(QuestionnaireResponse).where(
        QuestionnaireResponse.questionnaire_id == q.id).order_by(*order)))


async def _answers(session: AsyncSession, q: Questionnaire) -> dict[int, dict[int, object]]:
    """{response id: {question id: value}}, in one query."""
    found: dict[int, dict[int, object]] = {}
    rows = await session.execute(
        select(Answer.response_id, Answer.question_id, Answer.value)
        .join(QuestionnaireResponse, QuestionnaireResponse.id == Answer.response_id)
        .where(QuestionnaireResponse.questionnaire_id == q.id))
    for response_id, question_id, value in rows:
        found.setdefault(response_id, {})[question_id] = value
    return found


def _cell(question: Question, row: str | None, value, lang: str) -> str:
    if row is None:
        return forms.as_text(question, value, lang)
    if not isinstance(value, dict) or not value.get(row):
        return ""
    options = forms.labels(question.options, lang)
    return "; ".join(options.get(k, str(k)) for k in value[row])


async def to_csv(session: AsyncSession, q: Questionnaire, lang: str | None = None) -> bytes:
    """UTF-8 CSV: ``response`` (a row number), ``language``, ``submitted`` (named responses
    only), ``score`` (quizzes), then one column per question (per row of a matrix); option
    labels in ``lang`` (the questionnaire's first language by default)."""
    lang = lang or (q.languages or ["fr"])[0]
    asked = [question for question in await questionnaires.questions(session, q) if question.kind != "block"]
    columns = _columns(asked, lang)
    answers = await _answers(session, q)
    head = ["response", "language"] + ([] if q.anonymous else ["submitted"]) + (["score"] if q.quiz else [])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([neutralised_cell(h) for h in head + [c[0] for c in columns]])
    for number, response in enumerate(await _responses(session, q), 1):
        values = answers.get(response.id, {})
        row = [str(number), response.language]
        if not q.anonymous:
            row.append(response.submitted_at.isoformat(timespec="minutes") if response.submitted_at else "")
        if q.quiz:
            row.append("" if response.score is None else str(response.score))
        row += [_cell(question, key, values.get(question.id), lang) for _, question, key in columns]
        writer.writerow([neutralised_cell(cell) for cell in row])
    return out.getvalue().encode("utf-8")


def _question(question: Question) -> dict:
    return {"id": question.id, "position": question.position, "kind": question.kind,
            "title": question.title, "description": question.description,
            "required": question.required, "options": question.options, "rows": question.rows,
            "settings": question.settings, "conditions": question.conditions,
            "correct": question.correct, "explanation": question.explanation}


async def to_json(session: AsyncSession, q: Questionnaire) -> dict:
    """The questionnaire, its questions and every response's stored values (JSON-ready)."""
    asked = await questionnaires.questions(session, q)
    answers = await _answers(session, q)
    responses = []
    for number, response in enumerate(await _responses(session, q), 1):
        entry = {"response": number, "language": response.language}
        if not q.anonymous:
            entry["submitted"] = response.submitted_at.isoformat() if response.submitted_at else None
        if q.quiz:
            entry["score"] = response.score
        entry["answers"] = {str(k): v for k, v in sorted(answers.get(response.id, {}).items())}
        responses.append(entry)
    return {
        "format": FORMAT,
        "questionnaire": {"slug": q.slug, "title": q.title, "description": q.description,
                          "languages": q.languages, "anonymous": q.anonymous, "quiz": q.quiz,
                          "state": q.state, "responses": len(responses)},
        "questions": [_question(question) for question in asked],
        "responses": responses,
    }
