"""Account security state: session epochs, registration approval, and shared rate-limit counters."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from node.models.base import Base


class AccountState(Base):
    """Per-account security state. An account without a row has epoch 0 and is approved
    (accounts created before this table existed, or by code that does not need it)."""

    __tablename__ = "account_states"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # Every session cookie carries the epoch it was issued under; bumping it (logout, password
    # change, account deletion) ends every copy of every earlier cookie at once (SECURITY.md rule 16).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    # False while the account waits for a node admin's approval (registration_approval on).
    approved: Mapped[bool] = mapped_column(Boolean, default=True)


class RateCounter(Base):
    """Hits of one rate-limit key in one fixed window (node.services.limits). Shared by every
    process of the node because it lives in the database (SECURITY.md rule 17)."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    # When the row stops mattering (the end of the window after this one): pruned after that.
    expires_at: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_rate_counters_expires_at", "expires_at"),)
