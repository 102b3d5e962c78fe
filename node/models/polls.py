"""Polls: AS2 ``Question``s made here (by an organisation, a discussion's group or a coalition) or
on another server and addressed to a discussion, their options and votes.

A vote is an option chosen by an actor: a local account's, or any fediverse account's, sent in
Mastodon's form (``Create{Note{name, inReplyTo}}``, FEDERATION.md "Questionnaires, polls and budgets"). ``oneOf``: one option per
actor; ``anyOf``: each option at most once per actor. Tallies are denormalised on the options and
the poll (``votes_count``, ``voters_count``) and, for a poll made here, pushed to followers with a
debounced ``Update{Question}`` (``update_due_at``). A remote poll keeps the tallies its server sends.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from node.models.actors import Actor
from node.models.base import Base, UTCDateTime, utcnow


class Poll(Base):
    """A poll; ``local``: made here (this node counts the votes), else a remote author's."""

    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    local: Mapped[bool] = mapped_column(Boolean, default=True)
    # Who asks: an organisation, a discussion's Group, a coalition, or (remote) the author.
    author_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    # The organisation (or coalition) whose visibility and moderators apply; NULL for a remote
    # poll not addressed to a discussion here (it is then not shown anywhere).
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"),
                                                        nullable=True, index=True)
    discussion_id: Mapped[int | None] = mapped_column(ForeignKey("discussions.id", ondelete="CASCADE"),
                                                      nullable=True, index=True)
    content: Mapped[str] = mapped_column(Text, default="")  # sanitised HTML: the question asked
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    multiple: Mapped[bool] = mapped_column(Boolean, default=False)  # anyOf (else oneOf)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Results are shown only once the poll is closed (a voter still sees their own choice).
    hide_results: Mapped[bool] = mapped_column(Boolean, default=False)
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    voters_count: Mapped[int] = mapped_column(Integer, default=0)
    # A poll made here: when the next Update{Question} with its tallies is due (NULL: none due).
    update_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    author: Mapped[Actor] = relationship(foreign_keys=[author_id], lazy="joined")

    __table_args__ = (Index("ix_polls_update_due", "update_due_at"),)


class PollOption(Base):
    """One option (its ``name`` is what a Mastodon vote names); ``votes_count`` denormalised."""

    __tablename__ = "poll_options"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(500))
    votes_count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (UniqueConstraint("poll_id", "name"), Index("ix_poll_options_poll", "poll_id", "position"))


class PollVote(Base):
    """One option chosen by one actor; ``ap_id``: the vote Note's id (a local vote's is ours)."""

    __tablename__ = "poll_votes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    option_id: Mapped[int] = mapped_column(ForeignKey("poll_options.id", ondelete="CASCADE"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("poll_id", "actor_id", "option_id"),)


class PollVoter(Base):
    """That an actor voted in a poll: ``voters_count`` counts these, and for ``oneOf`` the unique
    key is what refuses a second vote, whatever the race."""

    __tablename__ = "poll_voters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("poll_id", "actor_id"),)


__all__ = ["Poll", "PollOption", "PollVote", "PollVoter"]
