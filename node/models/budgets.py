"""Participatory budgets: their districts, projects (with feasibility review and implementation
progress), fediverse supports and comments of projects, and ballots.

A budget moves through ``BUDGET_PHASES`` by its organisation's admins. Participants (local or
fediverse) propose projects in the proposing phase; reviewers mark them feasible or not, with a
reason and a cost estimate; eligible people (verified members of the organisation) cast one ballot
each in the voting phase and may change it until the phase ends; results are computed (greedy by
votes within the budget, or the Method of Equal Shares) and published as an ``Article``. Projects
federate as ``Page`` with their cost; ballots never leave the node (FEDERATION.md "Questionnaires,
polls and budgets").
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from node.models.actors import Actor
from node.models.base import Base, JSONDoc, UTCDateTime, utcnow

BUDGET_PHASES = ("informing", "proposing", "reviewing", "voting", "results", "implementation")
BALLOT_RULES = ("knapsack", "approval")
RESULT_METHODS = ("greedy", "mes")
FEASIBILITY = ("pending", "feasible", "unfeasible")
PROJECT_STATES = ("proposed", "withdrawn", "selected", "not_selected")


class Budget(Base):
    """A participatory budget of an organisation: ``amount`` in whole units of ``currency``.

    Ballot rules: ``knapsack`` (the chosen projects cost at most the budget — or the district's —
    and at least ``min_share`` percent of it when set) or ``approval`` (between ``min_projects``
    and ``max_projects`` projects). With districts, each ballot is cast in one district, for that
    district's projects, within that district's amount.
    """

    __tablename__ = "budgets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    space_id: Mapped[int | None] = mapped_column(ForeignKey("spaces.id", ondelete="SET NULL"), nullable=True)
    slug: Mapped[str] = mapped_column(String(64))
    title: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    description: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    phase: Mapped[str] = mapped_column(String(16), default="informing")  # BUDGET_PHASES
    # Ballots are accepted (and may be changed) in the voting phase until this time, if set.
    voting_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    rule: Mapped[str] = mapped_column(String(16), default="knapsack")  # BALLOT_RULES
    min_share: Mapped[int | None] = mapped_column(Integer, nullable=True)  # percent, knapsack
    min_projects: Mapped[int | None] = mapped_column(Integer, nullable=True)  # approval
    max_projects: Mapped[int | None] = mapped_column(Integer, nullable=True)  # approval
    result_method: Mapped[str] = mapped_column(String(8), default="greedy")  # RESULT_METHODS
    # Ballots need a verified membership of the organisation (node/services/membership.py).
    verified_only: Mapped[bool] = mapped_column(Boolean, default=True)
    # The published results: the Article's id, and what it says (winners, method, figures).
    results_ap_id: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    results: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    results_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("organization_id", "slug"),)


class BudgetDistrict(Base):
    """A district with its own share of the budget."""

    __tablename__ = "budget_districts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("budgets.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    amount: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("budget_id", "slug"),)


class BudgetProject(Base):
    """A project proposed for a budget (a ``Page`` with its cost); ``votes_count`` denormalised
    from ballots, ``support_count`` from supports (Likes)."""

    __tablename__ = "budget_projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("budgets.id", ondelete="CASCADE"))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("budget_districts.id", ondelete="SET NULL"),
                                                    nullable=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")  # sanitised HTML
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    cost: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the author's figure
    cost_estimate: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the review's
    feasibility: Mapped[str] = mapped_column(String(16), default="pending")  # FEASIBILITY
    review_reason: Mapped[str] = mapped_column(Text, default="")
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                       nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="proposed")  # PROJECT_STATES
    votes_count: Mapped[int] = mapped_column(Integer, default=0)
    support_count: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent, implementation phase
    progress_note: Mapped[str] = mapped_column(Text, default="")
    progress_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    author: Mapped[Actor] = relationship(foreign_keys=[author_id], lazy="joined")

    __table_args__ = (Index("ix_budget_projects_budget", "budget_id", "state", "votes_count"),)


class BudgetProjectSupport(Base):
    """One actor's support (``Like``) of a project; ``ap_id`` is the Like's id, for Undo."""

    __tablename__ = "budget_project_supports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("budget_projects.id", ondelete="CASCADE"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("project_id", "actor_id"),)


class BudgetProjectComment(Base):
    """A comment on a project, local or a fediverse reply (``Note`` in reply to its ``Page``)."""

    __tablename__ = "budget_project_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("budget_projects.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    content: Mapped[str] = mapped_column(Text, default="")  # sanitised HTML
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    author: Mapped[Actor] = relationship(foreign_keys=[author_id], lazy="joined")


class Ballot(Base):
    """One eligible person's ballot in a budget (one per person: the unique key decides races)."""

    __tablename__ = "budget_ballots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("budgets.id", ondelete="CASCADE"))
    # NULL once its voter's account is erased: the ballot stays counted, linked to no one.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                nullable=True, index=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("budget_districts.id", ondelete="SET NULL"),
                                                    nullable=True)
    total: Mapped[int] = mapped_column(Integer, default=0)  # the cost of its projects
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (UniqueConstraint("budget_id", "user_id"),)


class BallotProject(Base):
    """A project chosen on a ballot."""

    __tablename__ = "budget_ballot_projects"

    ballot_id: Mapped[int] = mapped_column(ForeignKey("budget_ballots.id", ondelete="CASCADE"),
                                           primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("budget_projects.id", ondelete="CASCADE"),
                                            primary_key=True, index=True)


__all__ = ["BALLOT_RULES", "BUDGET_PHASES", "Ballot", "BallotProject", "Budget", "BudgetDistrict",
           "BudgetProject", "BudgetProjectComment", "BudgetProjectSupport", "FEASIBILITY",
           "PROJECT_STATES", "RESULT_METHODS"]
