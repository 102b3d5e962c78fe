"""The node's own notices: the privacy notice and the legal notice, one text per language."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from node.models.base import Base, UTCDateTime, utcnow

LEGAL_KINDS = ("privacy", "legal")


class LegalText(Base):
    """A notice written by a node admin (plain text, rendered safely by the web layer). Without a
    row for a kind, the default text of node.services.legal_defaults is shown."""

    __tablename__ = "legal_texts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # privacy | legal
    language: Mapped[str] = mapped_column(String(2))  # fr | en | de
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The node admin who wrote it (NULL when set with `civic legal set`, or once that account is gone).
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                      nullable=True)

    __table_args__ = (UniqueConstraint("kind", "language"),)


__all__ = ["LEGAL_KINDS", "LegalText"]
