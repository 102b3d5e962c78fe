"""Federated moderation: reports (local or from a remote Flag), remote account blocks and silences,
content hidden or held by moderators, the per-organisation pre-moderation setting, the moderation log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from node.models.actors import Actor
from node.models.base import Base, JSONDoc, UTCDateTime, utcnow

TARGET_KINDS = ("contribution", "proposal", "account")


class ReportStates:
    """open → resolved (a moderator acted) | dismissed (nothing to do)."""

    open = "open"
    resolved = "resolved"
    dismissed = "dismissed"

    CLOSED = (resolved, dismissed)


class Report(Base):
    """A report about a contribution, a proposal or an account, by a resident or by a remote
    actor (an inbound ``Flag``; Mastodon signs those with its instance actor)."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    target_kind: Mapped[str] = mapped_column(String(16))
    target_ap_id: Mapped[str] = mapped_column(String(2048))
    # The reported account, or the author of the reported content.
    target_actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"),
                                                        nullable=True)
    # Whose moderators see it: the organisation of the reported content (NULL: node admins only).
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"),
                                                        nullable=True, index=True)
    category: Mapped[str] = mapped_column(String(16), default="other")
    reason: Mapped[str] = mapped_column(Text, default="")  # plain text
    # Every object the report names (a Flag names an account and some of its posts).
    objects: Mapped[list] = mapped_column(JSONDoc, default=list)
    flag_ap_id: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default=ReportStates.open)
    forwarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                     nullable=True)

    reporter: Mapped[Actor] = relationship(foreign_keys=[reporter_id], lazy="joined")
    target_actor: Mapped[Actor | None] = relationship(foreign_keys=[target_actor_id], lazy="joined")

    __table_args__ = (
        # One open report per reporter and target; a closed one may be reported again.
        Index("uq_reports_open_target", "reporter_id", "target_ap_id", unique=True,
              sqlite_where=text("state = 'open'"), postgresql_where=text("state = 'open'")),
        Index("ix_reports_state", "state", "created_at"),
    )


class AccountRestrictions:
    blocked = "block"  # its activities are refused (SECURITY.md rule 22)
    silenced = "silence"  # its contributions are held for review instead of shown

    ALL = (blocked, silenced)


class AccountRestriction(Base):
    """A remote account blocked or silenced on this node by its admins."""

    __tablename__ = "account_restrictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    level: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                      nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HiddenContent(Base):
    """A contribution or proposal that others see as "Hidden by the moderators: <reason>": hidden
    by a moderator, or held for review (a silenced or pre-moderated account) until approved."""

    __tablename__ = "hidden_content"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_kind: Mapped[str] = mapped_column(String(16))
    target_ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"),
                                                        nullable=True, index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    held: Mapped[bool] = mapped_column(Boolean, default=False)  # waiting for approval
    # A held remote contribution: the activity its group passes on to its followers once approved.
    relay: Mapped[dict | None] = mapped_column(JSONDoc, nullable=True)
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                     nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModerationSetting(Base):
    """An organisation's pre-moderation: the first N contributions of each remote account are
    held for review (0: none)."""

    __tablename__ = "moderation_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), unique=True)
    premoderate_first: Mapped[int] = mapped_column(Integer, default=0)


class ModerationLogEntry(Base):
    """One moderation action: who, what, on which target, why, when."""

    __tablename__ = "moderation_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                     nullable=True)
    moderator_name: Mapped[str] = mapped_column(String(255), default="")  # kept if the account goes
    action: Mapped[str] = mapped_column(String(32))
    target_kind: Mapped[str] = mapped_column(String(16))
    target_ap_id: Mapped[str] = mapped_column(String(2048))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"),
                                                        nullable=True, index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


__all__ = [
    "AccountRestriction",
    "AccountRestrictions",
    "HiddenContent",
    "ModerationLogEntry",
    "ModerationSetting",
    "Report",
    "ReportStates",
    "TARGET_KINDS",
]
