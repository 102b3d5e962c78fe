"""Actors (local and remote), local user accounts and organisation memberships."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from node.models.base import Base, JSONDoc, UTCDateTime, utcnow

ACTOR_TYPES = ("Application", "Organization", "Person", "Group", "Service")


class Actor(Base):
    """Anything that can follow or be followed: our organisations, people and instance actor,
    and the remote actors we have met (their public documents cached here)."""

    __tablename__ = "actors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    local: Mapped[bool] = mapped_column(Boolean, default=False)
    # Local handle (unique among local actors); remote actors keep their preferredUsername here.
    username: Mapped[str] = mapped_column(String(255))
    domain: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    inbox: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    shared_inbox: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    outbox: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    followers_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    key_id: Mapped[str | None] = mapped_column(String(2048), nullable=True, index=True)
    public_key_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Only for local actors; never serialised, never sent anywhere.
    private_key_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    manually_approves_followers: Mapped[bool] = mapped_column(Boolean, default=False)
    discoverable: Mapped[bool] = mapped_column(Boolean, default=True)
    document: Mapped[dict | None] = mapped_column(JSONDoc, nullable=True)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A local person whose account was erased (node/services/erasure.py): the row stays as a
    # tombstone (410 at its id) and keeps its handle, so nobody can register it again.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        # Handles are unique among local actors only: remote usernames repeat across hosts.
        Index(
            "uq_actors_local_username",
            "username",
            unique=True,
            sqlite_where=text("local"),
            postgresql_where=text("local"),
        ),
        Index("ix_actors_domain", "domain"),
    )

    @property
    def delivery_inbox(self) -> str | None:
        """Where activities for this actor go: its shared inbox when it has one."""
        return self.shared_inbox or self.inbox


class User(Base):
    """A local account that logs in; its public face is a Person actor."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True, nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[Actor] = relationship(lazy="joined")


class Membership(Base):
    """A user's role in an organisation (admin, moderator, official, ambassador)."""

    __tablename__ = "memberships"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("user_id", "organization_id", "role"),)
