"""Inbound polls: votes in our polls (Mastodon's ``Create{Note{name, inReplyTo}}``), and polls made
elsewhere — addressed to one of our discussions, or by an actor someone here follows — with their
author's ``Update{Question}`` and ``Delete`` (FEDERATION.md "Questionnaires, polls and budgets").

A refused vote or poll raises the service's error (node.errors): the inbox row keeps the reason
(federation/processing.py) and nothing is counted (SECURITY.md rule 30)."""

from __future__ import annotations

from sqlalchemy import select

from activities.errors import InvalidDocument
from activities.normalize import first_type
from activities.polls import QuestionData, as_to_question, as_to_vote
from federation.inbound.context import Inbound, admitted, check_ids
from federation.inbound.registry import handles
from federation.participation_documents import discussion_level
from federation.poll_objects import poll_discussion, poll_level
from node.errors import Forbidden, NotFound
from node.models import Actor, Discussion, Follow, FollowStates, Poll, PollVote
from node.services import discussions, polls


@handles("Create", "vote")
async def on_create_vote(ctx: Inbound) -> str:
    """A fediverse account votes in one of our polls: one Note per option chosen."""
    session = ctx.session
    vote = as_to_vote(ctx.target.row)
    check_ids(vote.ap_id)
    if vote.author != ctx.actor.ap_id:
        raise InvalidDocument("the vote is attributed to someone else")  # SECURITY.md rule 1
    poll = await polls.by_ap_id(session, vote.poll)
    if poll is None or not poll.local or poll.deleted_at is not None or poll.organization_id is None:
        raise NotFound("no such poll")
    if not await admitted(ctx, poll.organization_id, await poll_level(session, poll)):
        raise NotFound("no such poll")  # who may not read it cannot vote in it (SECURITY.md rule 24)
    if await session.scalar(select(PollVote.id).where(PollVote.ap_id == vote.ap_id)) is not None:
        return "ignored: vote already counted"  # the same Note delivered again
    # Closed or late, a second vote, the same option twice, an unknown option: the service refuses.
    await polls.vote(session, ctx.runtime.uris, poll, ctx.actor, [vote.name], ap_ids=[vote.ap_id],
                     delay=ctx.runtime.settings.poll_update_delay)
    return "vote recorded"


async def _addressed_discussion(ctx: Inbound, data: QuestionData) -> Discussion | None:
    """The discussion of ours the poll is addressed to: its Group in to/cc/audience/context, or
    its page as context."""
    uris = ctx.runtime.uris
    for address in data.addressed:
        kind = uris.kind_of(address) if uris.is_local(address) else None
        if kind is None:
            continue
        if kind.kind == "actor":
            found = await discussions.by_group_ap_id(ctx.session, address)
        elif kind.kind == "discussion":
            found = await discussions.by_page(ctx.session, address)
        else:
            found = None
        if found is not None:
            return found
    return None


async def _followed_here(ctx: Inbound) -> bool:
    """Whether one of our actors follows the poll's author (its polls then show here, as its
    posts do: a second node that follows an organisation shows its tallies)."""
    found = await ctx.session.scalar(
        select(Follow.id).join(Actor, Actor.id == Follow.follower_id)
        .where(Follow.followed_id == ctx.actor.id, Follow.state == FollowStates.accepted,
               Actor.local.is_(True)).limit(1))
    return found is not None


async def _store(ctx: Inbound, data: QuestionData, discussion: Discussion | None) -> Poll:
    """Stored with its author's tallies; options without a count mean its author hides the
    results until it closes, and so do we (SECURITY.md rule 30)."""
    return await polls.store_remote(
        ctx.session, data.ap_id, ctx.actor, content_html=data.content,
        options=[(name, count or 0) for name, count in data.options], multiple=data.multiple,
        end_time=data.end_time, closed_at=data.closed_at, voters_count=data.voters_count or 0,
        discussion=discussion, language=data.language,
        hide_results=any(count is None for _, count in data.options))


def _question(ctx: Inbound, obj: object) -> QuestionData:
    data = as_to_question(obj, actor=ctx.actor.ap_id)
    check_ids(data.ap_id, data.url)
    if data.author != ctx.actor.ap_id:
        raise InvalidDocument("the poll is attributed to someone else")  # SECURITY.md rule 1
    if ctx.runtime.uris.is_local(data.ap_id):
        raise InvalidDocument("a remote actor cannot create objects with our ids")  # SECURITY.md rule 11
    return data


async def _receive(ctx: Inbound, obj: object) -> str:
    """A poll made elsewhere: kept for the discussion it is addressed to, or because its author
    is followed here; otherwise refused (it would be shown nowhere)."""
    session = ctx.session
    data = _question(ctx, obj)
    known = await polls.by_ap_id(session, data.ap_id)
    if known is not None:
        return await _update(ctx, known, data)
    discussion = await _addressed_discussion(ctx, data)
    if discussion is not None:
        level = await discussion_level(session, discussion)
        if not await admitted(ctx, discussion.organization_id, level):
            raise Forbidden("this discussion takes no polls from the fediverse")
        if discussion.official_only:
            raise Forbidden("only the organisation posts in this discussion")  # postingRestrictedToMods
        await _store(ctx, data, discussion)
        return "poll stored for the discussion"
    if not await _followed_here(ctx):
        raise Forbidden("the poll is addressed to no discussion here and nobody here follows its author")
    await _store(ctx, data, None)
    return "poll stored"


async def _update(ctx: Inbound, poll: Poll, data: QuestionData) -> str:
    if poll.local or poll.author_id != ctx.actor.id:
        raise Forbidden("only its author may update a poll")  # SECURITY.md rules 1, 30
    if poll.deleted_at is not None:
        return "ignored: the poll was deleted"
    await _store(ctx, data, await poll_discussion(ctx.session, poll))
    return "poll updated"


@handles("Create", "question")
async def on_create_question(ctx: Inbound) -> str:
    return await _receive(ctx, ctx.target.row)


@handles("Update", "question")
async def on_update_question(ctx: Inbound) -> str:
    """An ``Update{Question}`` of a poll we do not hold yet (we followed its author after it was
    made, or its Create was lost) is taken as its Create."""
    return await _receive(ctx, ctx.target.row)


@handles("Update", "poll")
async def on_update_poll(ctx: Inbound) -> str:
    """Its author's new tallies (Mastodon sends ``Update{Question}`` as votes arrive and once it
    closes); nobody else's, and never for a poll of ours."""
    obj = ctx.doc.get("object")
    poll = ctx.target.row if isinstance(ctx.target.row, Poll) else \
        await polls.by_ap_id(ctx.session, ctx.target.ap_id or "")
    if poll is None:
        return "ignored: no such poll"
    if poll.local or poll.author_id != ctx.actor.id:
        raise Forbidden("only its author may update a poll")
    if not isinstance(obj, dict) or first_type(obj) != "Question":
        return "ignored: Update without an embedded Question"
    data = _question(ctx, obj)
    if data.ap_id != poll.ap_id:
        raise InvalidDocument("the Update names another poll")
    return await _update(ctx, poll, data)


@handles("Delete", "poll")
async def on_delete_poll(ctx: Inbound) -> str:
    poll = ctx.target.row if isinstance(ctx.target.row, Poll) else \
        await polls.by_ap_id(ctx.session, ctx.target.ap_id or "")
    if poll is None:
        return "ignored: no such poll"
    if poll.local or poll.author_id != ctx.actor.id:
        raise InvalidDocument("only the author's server may delete an object")  # SECURITY.md rules 1, 9
    if poll.deleted_at is not None:
        return "ignored: already deleted"
    await polls.delete_remote(ctx.session, poll, ctx.actor)
    return "poll deleted"
