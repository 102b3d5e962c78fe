"""Proposals with their status lifecycle, official answers and supports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from node.models.actors import Actor
from node.models.base import Base, JSONDoc, UTCDateTime, utcnow


class ProposalStates:
    """draft → published → evaluating → accepted | rejected; accepted → implemented;
    the author may withdraw a draft, published or evaluating proposal."""

    draft = "draft"
    published = "published"  # public, not answered yet
    evaluating = "evaluating"
    accepted = "accepted"
    rejected = "rejected"
    withdrawn = "withdrawn"
    implemented = "implemented"

    ALL = (draft, published, evaluating, accepted, rejected, withdrawn, implemented)
    PUBLIC = (published, evaluating, accepted, rejected, withdrawn, implemented)


class Proposal(Base):
    """An idea or proposal; published as a Page with a status; supported with Likes."""

    __tablename__ = "proposals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    space_id: Mapped[int | None] = mapped_column(ForeignKey("spaces.id", ondelete="SET NULL"), nullable=True)
    discussion_id: Mapped[int | None] = mapped_column(ForeignKey("discussions.id", ondelete="SET NULL"),
                                                      nullable=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")  # sanitised HTML
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default=ProposalStates.draft)
    # Denormalised count of proposal_supports rows: sorting 1,000 proposals by supports must
    # not count 1,000,000 supports on every page view.
    support_count: Mapped[int] = mapped_column(Integer, default=0)
    # The official answer is written (and may be revised) before it is published.
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    answer_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                      nullable=True)
    answer_ap_id: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    answer_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Erased with its author's account: a tombstone (410 at its id), title and text cleared.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    author: Mapped[Actor] = relationship(foreign_keys=[author_id], lazy="joined")

    __table_args__ = (
        Index("ix_proposals_org_state_supports", "organization_id", "state", "support_count", "id"),
        Index("ix_proposals_org_state_published", "organization_id", "state", "published_at", "id"),
    )


class ProposalSupport(Base):
    """One person's support of one proposal (a Like; ``ap_id`` is the Like's id, for Undo)."""

    __tablename__ = "proposal_supports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("proposal_id", "actor_id"),)


class StateChange(Base):
    """The history of a proposal's states (who, when, from → to)."""

    __tablename__ = "proposal_state_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    by_actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"),
                                                    nullable=True)
    note: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


__all__ = ["Proposal", "ProposalStates", "ProposalSupport", "StateChange"]
