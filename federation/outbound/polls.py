"""Polls out: our poll's ``Question`` (Create, then the debounced Update with its tallies and the
one that closes it), and a local person's vote in a remote poll (Mastodon's Note, to its author).

FEDERATION.md "Questionnaires, polls and budgets"; the Update is queued by federation/poll_updates.py."""

from __future__ import annotations

from sqlalchemy import select

from activities import wrappers
from activities.polls import poll_activity, vote_to_as
from federation.outbound.audience import inbox_of, inboxes
from federation.outbound.publisher import Publisher
from federation.outbound.registry import builds
from federation.poll_objects import poll_as, poll_discussion, poll_level
from node import visibility
from node.models import Actor, Poll, PollOption, PollVote
from node.services import polls


async def _question(p: Publisher, poll_id: int, created: bool) -> None:
    """guard → load → convert → wrap → send: to the organisation's followers (and the discussion
    Group's), at the poll's level (federation/outbound/audience.py)."""
    poll = await p.session.get(Poll, poll_id)
    doc = await poll_as(p.session, p.rt.uris, poll) if poll is not None else None
    if doc is None:
        return
    level = await poll_level(p.session, poll)
    organization = await p.session.get(Actor, poll.organization_id)
    discussion = await poll_discussion(p.session, poll)
    author = poll.author
    targets = await inboxes(p.session, level, organization=organization,
                            followed=[organization, discussion.group if discussion else None],
                            open_followed=[author] if author.id != organization.id else [])
    wrapped = wrappers.create(p.new_id(), author.ap_id, doc, doc["published"]) if created else \
        wrappers.update(p.new_id(), author.ap_id, doc)
    await p.publish(author, poll_activity(wrapped), targets, level=level, organization_id=organization.id,
                    object_ap_id=poll.ap_id)


@builds(polls.POLL_CREATED)
async def poll_created(p: Publisher, poll_id: int) -> None:
    await _question(p, poll_id, created=True)


@builds(polls.POLL_UPDATED)
async def poll_updated(p: Publisher, poll_id: int) -> None:
    """The tallies (or, while hidden, only the number of voters), or the poll closing."""
    await _question(p, poll_id, created=False)


@builds(polls.POLL_VOTED)
async def poll_voted(p: Publisher, poll_id: int, vote_ids: list[int]) -> None:
    """A local person's choices in a remote poll: one ``Create{Note{name, inReplyTo}}`` per
    option, to the poll's author only (its server counts them). Never listed in an outbox: a
    vote is no post, and at ``followers`` level it answers at its id to nobody else."""
    poll = await p.session.get(Poll, poll_id)
    if poll is None or poll.local or poll.deleted_at is not None:
        return
    author = poll.author
    target = inbox_of(author)
    if not target:
        return
    rows = (await p.session.execute(
        select(PollVote, PollOption.name).join(PollOption, PollOption.id == PollVote.option_id)
        .where(PollVote.id.in_(vote_ids), PollVote.poll_id == poll.id).order_by(PollVote.id))).all()
    for vote, name in rows:
        voter = await p.session.get(Actor, vote.actor_id)
        if voter is None or not voter.local or voter.deleted_at is not None:
            continue
        note = vote_to_as(vote.ap_id, voter.ap_id, poll.ap_id, author.ap_id, name)
        await p.publish(voter, wrappers.create(f"{vote.ap_id}/activity", voter.ap_id, note), target,
                        level=visibility.FOLLOWERS, organization_id=poll.organization_id,
                        object_ap_id=poll.ap_id, listed=False)
