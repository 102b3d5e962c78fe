"""A questionnaire's results: the figures of each question, computed from one query over its
answers grouped by value (a choice's answers arrive as a few counted rows, not one each) — the
results page must render in 100 ms with 8,300 answers (bench/bench_questionnaire.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from node.models.questionnaires import Answer, Question, Questionnaire, QuestionnaireResponse
from node.services import questionnaire_forms as forms

SAMPLES = 20  # text answers (and files) shown on the results page per question


@dataclass
class QuestionResult:
    """The figures of one question. ``counts``: per option key (choices) or per scale value
    (str keys, every value of the scale present); ``cells``: matrix {row: {column: n}};
    ``points``: ranking (Borda: first of n options gets n points); ``mean``: scale; ``samples``:
    up to SAMPLES texts; ``files``: up to SAMPLES file values; ``answered``: how many answered."""

    question: Question
    answered: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    cells: dict[str, dict[str, int]] = field(default_factory=dict)
    points: dict[str, int] = field(default_factory=dict)
    mean: float | None = None
    samples: list[str] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)

    def label(self, key: str, lang: str = "fr") -> str:
        return forms.labels(self.question.options or (), lang).get(key, key)


def _empty(question: Question) -> QuestionResult:
    result = QuestionResult(question)
    keys = [o["key"] for o in question.options or ()]
    if question.kind in ("single", "multiple", "ranking"):
        result.counts = dict.fromkeys(keys, 0)
    if question.kind == "ranking":
        result.points = dict.fromkeys(keys, 0)
    if question.kind == "scale":
        s = question.settings or {}
        result.counts = {str(v): 0 for v in range(s.get("min", 1), s.get("max", 5) + 1)}
    if question.kind in forms.MATRIX_KINDS:
        result.cells = {r["key"]: dict.fromkeys(keys, 0) for r in question.rows or ()}
    return result


def _add(result: QuestionResult, value, n: int, total: list) -> None:
    """Count ``n`` answers holding ``value`` into ``result``."""
    kind = result.question.kind
    result.answered += n
    if kind == "single":
        if value in result.counts:
            result.counts[value] += n
    elif kind == "multiple":
        for key in value:
            if key in result.counts:
                result.counts[key] += n
    elif kind == "ranking":
        size = len(result.points)
        for place, key in enumerate(value):
            if key in result.points:
                result.points[key] += (size - place) * n
                if place == 0:
                    result.counts[key] += n  # counts: how often ranked first
    elif kind == "scale":
        key = str(value)
        if key in result.counts:
            result.counts[key] += n
            total[0] += value * n
            total[1] += n
    elif kind in forms.MATRIX_KINDS:
        for row, keys in value.items():
            cells = result.cells.get(row)
            if cells is not None:
                for key in keys:
                    if key in cells:
                        cells[key] += n
    elif kind in forms.TEXT_KINDS:
        if len(result.samples) < SAMPLES:
            result.samples.append(value)
    elif kind == "file" and len(result.files) < SAMPLES:
        result.files.append(value)


async def results(session: AsyncSession, q: Questionnaire) -> list[QuestionResult]:
    """The figures of every question (blocks excluded), in order, from one query over the answers."""
    asked = list(await session.scalars(select(Question).where(
        Question.questionnaire_id == q.id, Question.kind != "block").order_by(Question.position, Question.id)))
    found = {question.id: _empty(question) for question in asked}
    totals = {question.id: [0, 0] for question in asked}
    rows = await session.execute(
        select(Answer.question_id, Answer.value, func.count())
        .join(QuestionnaireResponse, QuestionnaireResponse.id == Answer.response_id)
        .where(QuestionnaireResponse.questionnaire_id == q.id)
        .group_by(Answer.question_id, Answer.value))
    for question_id, value, n in rows:
        result = found.get(question_id)
        if result is not None:
            _add(result, value, n, totals[question_id])
    for question_id, (total, n) in totals.items():
        if n:
            found[question_id].mean = total / n
    return [found[question.id] for question in asked]
