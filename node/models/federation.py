"""Federation bookkeeping: follows, inbound activities, the transactional outbox, deliveries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from node.models.base import Base, JSONDoc, UTCDateTime, utcnow


class FollowStates:
    pending = "pending"
    accepted = "accepted"


class Follow(Base):
    """``follower`` follows ``followed``; either side may be local or remote."""

    __tablename__ = "follows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048))
    follower_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    followed_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default=FollowStates.pending)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("follower_id", "followed_id"),)


class InboxStates:
    received = "received"  # verified and stored; 202 sent
    processed = "processed"
    ignored = "ignored"  # unknown type, or nothing to do
    failed = "failed"  # refused, or processing raised (reason in ``error``); never retried


class InboxActivity(Base):
    """A verified inbound activity, stored durably before the 202; processed from this row."""

    __tablename__ = "inbox_activities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(2048))
    # The local actor whose inbox received it (NULL for the shared inbox).
    recipient: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    document: Mapped[dict] = mapped_column(JSONDoc)
    state: Mapped[str] = mapped_column(String(16), default=InboxStates.received)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Tries whose transaction could not be committed (SECURITY.md rule 13): after a few the row is
    # failed with the last error, so no activity can hold the queue.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (Index("ix_inbox_activities_state", "state", "id"),)


class InboxRefusal(Base):
    """An inbound POST refused before the 202 (4xx), kept with its reason for the node's admins
    (SECURITY.md rule 21). Written in batches and pruned to the newest rows."""

    __tablename__ = "inbox_refusals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    # What could be read of the request: the signing key's host, the activity's id, type and actor.
    host: Mapped[str] = mapped_column(String(255), default="")
    ap_id: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor: Mapped[str | None] = mapped_column(String(2048), nullable=True)


class OutboxEvent(Base):
    """'Something happened that federates', written in the same transaction as the change."""

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSONDoc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Why the fan-out of this event failed (it is then processed, with nothing sent: rule 13).
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_outbox_events_pending", "processed_at", "id"),)


class Activity(Base):
    """An activity we published: its JSON as sent, served at its id."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict] = mapped_column(JSONDoc)
    # Shown in the actor's outbox collection (public activities only).
    public: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What the activity carries, so that it answers at its id exactly when its object would
    # (node/visibility.py): the object's id (the inner object's for an Announce of an activity),
    # the visibility level it was sent at, and the organisation whose followers/members that
    # level means (None for an actor's own notes and follows).
    object_ap_id: Mapped[str | None] = mapped_column(String(2048), nullable=True, index=True)
    level: Mapped[str] = mapped_column(String(16), default="public", server_default="public")
    # No foreign key: adding one would make SQLite copy the table on upgrade, and dropping the old
    # copy with foreign keys on deletes every delivery (ON DELETE CASCADE). An id left by a deleted
    # organisation admits nobody beyond its level's open readers.
    organization_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Set when the object is deleted or erased: the activity leaves the outbox and answers 410.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_activities_actor_outbox", "actor_id", "public", "id"),)


class DeliveryStates:
    queued = "queued"  # waiting for its next try (next_try_at)
    delivered = "delivered"
    failed = "failed"  # permanent failure or gave up


class Delivery(Base):
    """One activity to one inbox; the worker signs and POSTs it with retries."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    inbox: Mapped[str] = mapped_column(String(2048))
    host: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default=DeliveryStates.queued)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A worker that claimed the row holds it until this time (a lease; a crashed worker's lease expires).
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("activity_id", "inbox"),
        Index("ix_deliveries_due", "state", "next_try_at"),
    )


class DomainBlock(Base):
    """A remote domain this node refuses (403 on its signed requests, its content dropped)."""

    __tablename__ = "domain_blocks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DomainAllow(Base):
    """A remote domain this node federates with in allow-list mode (``allowlist_mode``): then only
    these domains and their subdomains are heard from, fetched from and delivered to."""

    __tablename__ = "domain_allows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
