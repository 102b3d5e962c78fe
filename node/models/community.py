"""Crowdsourced articles, stakeholder profiles, take-action initiatives and daily visit counts."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from node.models.actors import Actor
from node.models.base import Base, UTCDateTime, utcnow

STAKEHOLDER_ROLES = ("expert", "association", "elected", "business", "resident")


class Article(Base):
    """A crowdsourced article or report in a discussion: a link, or a text (AS2 ``Article``)."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    discussion_id: Mapped[int] = mapped_column(ForeignKey("discussions.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")  # plain text
    link: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    body: Mapped[str] = mapped_column(Text, default="")  # sanitised HTML
    kind: Mapped[str] = mapped_column(String(16), default="article")  # article | report
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    author: Mapped[Actor] = relationship(lazy="joined")


class Stakeholder(Base):
    """An actor (local or remote) with a role in one discussion."""

    __tablename__ = "stakeholders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    discussion_id: Mapped[int] = mapped_column(ForeignKey("discussions.id", ondelete="CASCADE"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[Actor] = relationship(lazy="joined")

    __table_args__ = (UniqueConstraint("discussion_id", "actor_id"),)


class Initiative(Base):
    """A take-action initiative promoted by the organisation or a citizen (AS2 ``Page``)."""

    __tablename__ = "initiatives"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    discussion_id: Mapped[int] = mapped_column(ForeignKey("discussions.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    acted_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Erased with its author's account: a tombstone (410 at its id), title and text cleared.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    author: Mapped[Actor] = relationship(lazy="joined")


class InitiativeAction(Base):
    """"I acted" (a ``Join``); ``ap_id`` is the Join's id, for Undo."""

    __tablename__ = "initiative_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    initiative_id: Mapped[int] = mapped_column(ForeignKey("initiatives.id", ondelete="CASCADE"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("initiative_id", "actor_id"),)


class DailyVisits(Base):
    """Page views per day of an organisation (discussion_id NULL) or a discussion.

    Counted without cookies and without storing IP addresses: a plain counter per day.
    """

    __tablename__ = "daily_visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    discussion_id: Mapped[int | None] = mapped_column(ForeignKey("discussions.id", ondelete="CASCADE"),
                                                      nullable=True)
    day: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("organization_id", "discussion_id", "day"),
        Index("ix_daily_visits_org_day", "organization_id", "day"),
    )


__all__ = ["Article", "DailyVisits", "Initiative", "InitiativeAction", "Stakeholder"]
