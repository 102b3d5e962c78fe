"""Verified membership of an organisation: its salt, census entries, one-time codes, and how each
member was verified (node.services.membership). The member itself is a ``Membership`` row with the
role ``member``; what is here only explains it, to the organisation's admins alone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from node.models.base import Base, UTCDateTime, utcnow

VERIFICATION_METHODS = ("admin", "census", "code")


class VerificationSalt(Base):
    """The organisation's random salt (made on first use): census hashes and code hashes are made
    with it, so they are worthless to another organisation, and a municipality can hash its own
    census with it without ever giving the node a plain identifier."""

    __tablename__ = "verification_salts"

    organization_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"),
                                                 primary_key=True)
    salt: Mapped[str] = mapped_column(String(64))  # 32 random bytes, hex
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CensusEntry(Base):
    """One identifier of the census, as a salted hash only (the plain value is never stored); it
    verifies at most one account."""

    __tablename__ = "census_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(64))  # hex SHA-256 of salt + normalised identifier
    # The digest's first 8 hex digits: verification finds its candidates by them and compares the
    # whole digest in constant time (hmac.compare_digest), never with the database's "=".
    lookup: Mapped[str] = mapped_column(String(8))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                       nullable=True)
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                   nullable=True)
    # Set once and never cleared: an entry stays used even if its member leaves or is removed.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("organization_id", "digest"),
        Index("ix_census_entries_lookup", "organization_id", "lookup"),
    )


class VerificationCode(Base):
    """A one-time code handed out by the organisation's admins, stored as a salted hash; used at
    most once, or revoked."""

    __tablename__ = "verification_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(64))
    lookup: Mapped[str] = mapped_column(String(8))  # as CensusEntry.lookup
    label: Mapped[str] = mapped_column(String(200), default="")  # to whom it was handed
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                     nullable=True)
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                   nullable=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("organization_id", "digest"),
        Index("ix_verification_codes_lookup", "organization_id", "lookup"),
    )


class MemberVerification(Base):
    """How a member was verified: by an admin, the census or a code; when, by whom, and the
    identity it shows — to the organisation's admins only, never on any other path."""

    __tablename__ = "member_verifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(16))  # one of VERIFICATION_METHODS
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The admin who admitted them, imported the census entry or issued the code (NULL: the CLI).
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                              nullable=True)
    # The identifier as typed (census), the code's label (code) or the admin's note (admin).
    identity: Mapped[str] = mapped_column(Text, default="")
    census_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("census_entries.id", ondelete="SET NULL"), nullable=True)
    code_id: Mapped[int | None] = mapped_column(
        ForeignKey("verification_codes.id", ondelete="SET NULL"), nullable=True)

    __table_args__ = (UniqueConstraint("organization_id", "user_id"),)
