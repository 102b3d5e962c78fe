"""Participation: organisation profiles, spaces and phases, discussions, contributions, agreements."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from node.models.actors import Actor
from node.models.base import Base, JSONDoc, UTCDateTime, utcnow

LANGUAGES = ("fr", "en", "de")
COMPONENTS = ("discussions", "proposals", "articles", "initiatives", "supports")


class OrganizationProfile(Base):
    """What an organisation shows on its page; texts are maps {language: text} (fr/en/de)."""

    __tablename__ = "organization_profiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), unique=True)
    intro: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    territory: Mapped[str] = mapped_column(String(255), default="")
    themes: Mapped[list] = mapped_column(JSONDoc, default=list)
    logo_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    primary_color: Mapped[str] = mapped_column(String(7), default="#0b5cad")
    accent_color: Mapped[str] = mapped_column(String(7), default="#f0a500")
    default_language: Mapped[str] = mapped_column(String(2), default="fr")

    actor: Mapped[Actor] = relationship(lazy="joined")


class Space(Base):
    """A participatory process of one organisation, with dated phases."""

    __tablename__ = "spaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(64))
    title: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    description: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    # Proposal supports: how many each person may give in this space (None = unlimited), and how
    # many a proposal needs to succeed (None = no threshold).
    supports_per_person: Mapped[int | None] = mapped_column(Integer, nullable=True)
    support_threshold: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("organization_id", "slug"),)


class Phase(Base):
    """A dated step of a space; it switches components on (listed) and off (absent)."""

    __tablename__ = "phases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    components: Mapped[list] = mapped_column(JSONDoc, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Discussion(Base):
    """An official (opened by the organisation) or citizen (opened by a resident) discussion.

    Its public face is a Group actor (followable on its own) and an opening Page (``page_ap_id``).
    """

    __tablename__ = "discussions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), unique=True)
    space_id: Mapped[int | None] = mapped_column(ForeignKey("spaces.id", ondelete="SET NULL"), nullable=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"), nullable=True)
    page_ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    slug: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="official")  # official | citizen
    # citizen discussions wait for a moderator: pending → approved | rejected
    moderation: Mapped[str] = mapped_column(String(16), default="approved")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    title: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    summary: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    body: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    conclusion: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    alignment_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    support_threshold: Mapped[int] = mapped_column(Integer, default=5)
    official_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    group: Mapped[Actor] = relationship(foreign_keys=[group_id], lazy="joined")
    organization: Mapped[Actor] = relationship(foreign_keys=[organization_id], lazy="joined")

    __table_args__ = (
        UniqueConstraint("organization_id", "slug"),
        Index("ix_discussions_org_status", "organization_id", "status", "created_at"),
    )


class Contribution(Base):
    """A comment in a discussion, local or from any fediverse account; threads up to 3 levels."""

    __tablename__ = "contributions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    discussion_id: Mapped[int] = mapped_column(ForeignKey("discussions.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("contributions.id", ondelete="CASCADE"),
                                                  nullable=True, index=True)
    depth: Mapped[int] = mapped_column(Integer, default=1)
    local: Mapped[bool] = mapped_column(Boolean, default=True)
    content: Mapped[str] = mapped_column(Text, default="")  # sanitised HTML
    url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    alignment: Mapped[str | None] = mapped_column(String(8), nullable=True)  # favour|neutral|against
    agree_count: Mapped[int] = mapped_column(Integer, default=0)
    quality_recognised: Mapped[bool] = mapped_column(Boolean, default=False)
    impact: Mapped[bool] = mapped_column(Boolean, default=False)  # integrated into policy
    official: Mapped[bool] = mapped_column(Boolean, default=False)  # by the organisation
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)  # hidden by a moderator
    published: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Remote fidelity: a content warning (plain text) hides the content behind a disclosure;
    # ``sensitive`` without one gets a generic warning; ``language`` is the HTML lang of the body;
    # ``content_map`` holds the other languages' HTML ({language: sanitised HTML}).
    content_warning: Mapped[str | None] = mapped_column(Text, nullable=True)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    content_map: Mapped[dict | None] = mapped_column(JSONDoc, nullable=True)

    author: Mapped[Actor] = relationship(lazy="joined")

    __table_args__ = (Index("ix_contributions_discussion", "discussion_id", "published"),)


class Agreement(Base):
    """"I agree" with a contribution (a Like); ``ap_id`` is the Like's id, for Undo."""

    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    contribution_id: Mapped[int] = mapped_column(ForeignKey("contributions.id", ondelete="CASCADE"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("contribution_id", "actor_id"),)
