"""Coalitions of organisations across nodes, their members, campaigns, variants and supports.

A coalition is a ``Group`` actor hosted on one node (its *home*); its members are organisations on
any node. The home keeps the authoritative member list, the campaigns and every support; a member's
node keeps its own membership, the campaigns it was sent and the variants it made
(FEDERATION.md "Coalitions and campaigns")."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from node.models.actors import Actor
from node.models.base import Base, JSONDoc, UTCDateTime, utcnow


class CoalitionStates:
    requested = "requested"  # an organisation's Join, waiting for the coalition's admins
    invited = "invited"  # the coalition's Invite, waiting for the organisation's admins
    accepted = "accepted"
    ALL = (requested, invited, accepted)


COALITION_ROLES = ("admin", "member")


class Coalition(Base):
    """A coalition hosted on this node: its Group actor and its settings."""

    __tablename__ = "coalitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), unique=True)
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    languages: Mapped[list] = mapped_column(JSONDoc, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[Actor] = relationship(lazy="joined")


class CoalitionMember(Base):
    """One organisation in one coalition: the home's list, or a member node's own membership."""

    __tablename__ = "coalition_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    coalition_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="member")
    state: Mapped[str] = mapped_column(String(16), default=CoalitionStates.requested)
    # The Join's or the Invite's id: the Accept or Reject that answers it names it.
    activity_ap_id: Mapped[str | None] = mapped_column(String(2048), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    member: Mapped[Actor] = relationship(foreign_keys=[member_id], lazy="joined")

    __table_args__ = (UniqueConstraint("coalition_id", "member_id"),)


class Campaign(Base):
    """A campaign of a coalition: texts per language and a kit (messages and visuals per language)."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    coalition_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    local: Mapped[bool] = mapped_column(Boolean, default=True)
    name: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    summary: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    content: Mapped[dict] = mapped_column(JSONDoc, default=dict)  # {language: sanitised HTML}
    kit: Mapped[list] = mapped_column(JSONDoc, default=list)
    url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    support_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    coalition: Mapped[Actor] = relationship(lazy="joined")


class CampaignVariant(Base):
    """A member organisation's adapted version of a campaign, in one language."""

    __tablename__ = "campaign_variants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    local: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(300))
    content: Mapped[str] = mapped_column(Text, default="")  # sanitised HTML
    visual_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    visual_media_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    support_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    organization: Mapped[Actor] = relationship(lazy="joined")

    __table_args__ = (UniqueConstraint("campaign_id", "organization_id", "language"),)


class VariantSupport(Base):
    """A Like of a variant, on the variant's node (relayed to the coalition's home)."""

    __tablename__ = "variant_supports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("campaign_variants.id", ondelete="CASCADE"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("variant_id", "actor_id"),)


class CampaignSupport(Base):
    """One person's support of a campaign, at the coalition's home: once per person, credited to
    the member whose variant it came through (while that organisation is a member) and to a language."""

    __tablename__ = "campaign_supports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_variants.id", ondelete="SET NULL"),
                                                   nullable=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"), nullable=True)
    language: Mapped[str] = mapped_column(String(16), default="")
    relayed_by_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"),
                                                      nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("campaign_id", "actor_id"),)


class CampaignTally(Base):
    """The number of a campaign's supports per (credited member, language): the breakdown reads
    these few rows, never the supports. ``member_key`` is the member's id, 0 for none."""

    __tablename__ = "campaign_tallies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    member_key: Mapped[int] = mapped_column(Integer, default=0)
    language: Mapped[str] = mapped_column(String(16), default="")
    supports: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (UniqueConstraint("campaign_id", "member_key", "language"),)


class CampaignDay(Base):
    """A campaign's supports given per day (taken back ones removed from their day): growth."""

    __tablename__ = "campaign_days"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    supports: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (UniqueConstraint("campaign_id", "day"),)


Index("ix_campaign_variants_campaign", CampaignVariant.campaign_id)
Index("ix_coalition_members_coalition_state", CoalitionMember.coalition_id, CoalitionMember.state)

__all__ = ["COALITION_ROLES", "Campaign", "CampaignDay", "CampaignSupport", "CampaignTally",
           "CampaignVariant", "Coalition", "CoalitionMember", "CoalitionStates", "VariantSupport"]
