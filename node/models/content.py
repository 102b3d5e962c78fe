"""Notes: announcements by local actors and posts received from remote ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from node.models.actors import Actor
from node.models.base import Base, JSONDoc, UTCDateTime, utcnow


class Note(Base):
    """A short post (AS2 ``Note``); a deleted note stays as a tombstone (``deleted_at``)."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    local: Mapped[bool] = mapped_column(Boolean, default=False)
    # Sanitised HTML (remote content is cleaned once, on the way in).
    content: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(2048), nullable=True, index=True)
    context: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    published: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    document: Mapped[dict | None] = mapped_column(JSONDoc, nullable=True)

    actor: Mapped[Actor] = relationship(lazy="joined")
