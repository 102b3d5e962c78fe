"""Questionnaires: questions with display conditions, responses and answers.

A questionnaire belongs to an organisation or a coalition (``organization_id``, the actor that
publishes it) and optionally to a phase of one of its spaces or to a discussion. Its texts are maps
{language: text}. Responses and answers never leave the node (FEDERATION.md "Questionnaires, polls
and budgets").

**Anonymous mode.** A response then carries no account: ``respondent_id`` is NULL, its id is random
(not the order of arrival), it has no time, and its files are stored under random names. That the
person answered is kept apart in ``questionnaire_participants`` (no id, no time, no response), which
is what refuses a second response. No stored row links an answer to an account
(tests/node/test_questionnaires_anonymous.py).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from node.models.base import Base, JSONDoc, UTCDateTime, utcnow

# What a question asks; "block" is a title/description shown between questions (no answer).
QUESTION_KINDS = ("short_text", "long_text", "single", "multiple", "ranking", "scale",
                  "matrix_single", "matrix_multiple", "file", "block")
# A display condition: {"question": <id>, "op": one of these, "value": …} (value for the last three).
CONDITION_OPS = ("answered", "not_answered", "equals", "not_equals", "matches")
QUESTIONNAIRE_STATES = ("draft", "published", "closed")
# 63-bit response ids, random: the order of ids says nothing about the order of arrival.
BigId = BigInteger().with_variant(Integer, "sqlite")


def random_id() -> int:
    return secrets.randbelow(2**62) + 1


class Questionnaire(Base):
    """A questionnaire of an organisation or coalition; ``quiz``: correct answers and explanations
    are shown after submitting; ``anonymous``: see the module's docstring."""

    __tablename__ = "questionnaires"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    space_id: Mapped[int | None] = mapped_column(ForeignKey("spaces.id", ondelete="SET NULL"), nullable=True)
    phase_id: Mapped[int | None] = mapped_column(ForeignKey("phases.id", ondelete="SET NULL"), nullable=True)
    discussion_id: Mapped[int | None] = mapped_column(ForeignKey("discussions.id", ondelete="SET NULL"),
                                                      nullable=True)
    slug: Mapped[str] = mapped_column(String(64))
    title: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    description: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    languages: Mapped[list] = mapped_column(JSONDoc, default=list)
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    state: Mapped[str] = mapped_column(String(16), default="draft")  # QUESTIONNAIRE_STATES
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    quiz: Mapped[bool] = mapped_column(Boolean, default=False)
    # Only verified members of the organisation may answer (node/services/membership.py).
    verified_only: Mapped[bool] = mapped_column(Boolean, default=False)
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Denormalised count of responses (the results page and lists do not count them).
    response_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("organization_id", "slug"),)


class Question(Base):
    """One question (or a title/description block) of a questionnaire.

    ``options``: [{"key": str, "label": {lang: text}}] (choices, ranking, matrix columns);
    ``rows``: the same for matrix rows; ``settings``: min/max choices, scale min/max and end
    labels, file size and types; ``correct``: the quiz's correct value (as an answer's value) and
    ``explanation`` {lang: text}; ``conditions``: all must hold for it to be shown (CONDITION_OPS).
    """

    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id", ondelete="CASCADE"),
                                                  index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16))  # QUESTION_KINDS
    title: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    description: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    options: Mapped[list] = mapped_column(JSONDoc, default=list)
    rows: Mapped[list] = mapped_column(JSONDoc, default=list)
    settings: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    conditions: Mapped[list] = mapped_column(JSONDoc, default=list)
    correct: Mapped[object | None] = mapped_column(JSONDoc, nullable=True)
    explanation: Mapped[dict] = mapped_column(JSONDoc, default=dict)


class QuestionnaireResponse(Base):
    """One person's response. Named: ``respondent_id`` and ``submitted_at``. Anonymous: neither."""

    __tablename__ = "questionnaire_responses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False, default=random_id)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id", ondelete="CASCADE"),
                                                  index=True)
    respondent_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"),
                                                      nullable=True)
    language: Mapped[str] = mapped_column(String(8), default="fr")
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)  # quiz: correct answers

    __table_args__ = (
        # One named response per person (anonymous ones have NULL, which never collides).
        UniqueConstraint("questionnaire_id", "respondent_id"),
    )


class QuestionnaireParticipant(Base):
    """That an account responded to an anonymous questionnaire — nothing else (no id, no time)."""

    __tablename__ = "questionnaire_participants"

    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id", ondelete="CASCADE"),
                                                  primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)

    __table_args__ = ({"sqlite_with_rowid": False},)


class Answer(Base):
    """One answer: ``value`` is a str (texts, single choice key), a list of keys (multiple choice,
    ranking in order), an int (scale), {row key: [column keys]} (matrices) or, for a file,
    {"path", "type", "name", "size"} (the stored file, node/services/media.py)."""

    __tablename__ = "questionnaire_answers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False, default=random_id)
    response_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_responses.id", ondelete="CASCADE"),
                                             index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    value: Mapped[object] = mapped_column(JSONDoc)
    text: Mapped[str] = mapped_column(Text, default="")  # the value as exported (CSV), searchable

    __table_args__ = (
        UniqueConstraint("response_id", "question_id"),
        Index("ix_questionnaire_answers_question", "question_id"),
    )


__all__ = ["Answer", "CONDITION_OPS", "QUESTIONNAIRE_STATES", "QUESTION_KINDS", "Question",
           "Questionnaire", "QuestionnaireParticipant", "QuestionnaireResponse", "random_id"]
