"""Polls served at their ids as AS2 ``Question``s, and what the fan-out sends of them (the web part
serves the poll's page to people and calls :func:`poll_document` for AS2 requests, as
web/participation/campaigns.py does for campaigns).

A poll answers exactly when its reader may read its organisation's things at the poll's level
(its own, and its discussion's: node/visibility.py, SECURITY.md rule 24). Missing, unreadable and
``members`` polls get the same 404; a deleted one 410 with a Tombstone (SECURITY.md rule 9). Only
our own are served: a remote poll we show answers at its own server. While a poll hides its
results, no count is in its document (SECURITY.md rule 30).
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from activities.polls import poll_to_as
from federation.participation_objects import Check, Served, _as2, _later, _tombstone
from node import visibility
from node.models import Actor, Discussion, Poll, utcnow
from node.services import polls
from node.uris import Uris


async def poll_discussion(session: AsyncSession, poll: Poll) -> Discussion | None:
    return await session.get(Discussion, poll.discussion_id) if poll.discussion_id else None


async def poll_level(session: AsyncSession, poll: Poll) -> str:
    """The poll's level (node/services/polls.py ``level``: the stricter of its own and its
    discussion's; a discussion not approved is ``members``)."""
    return await polls.level(session, poll)


async def poll_as(session: AsyncSession, uris: Uris, poll: Poll) -> dict | None:
    """Our poll's ``Question`` (what POLL_CREATED and POLL_UPDATED send and its id serves); None
    for a remote, deleted or never-federated poll."""
    if poll is None or not poll.local or poll.deleted_at is not None:
        return None
    level = await poll_level(session, poll)
    if not visibility.federates(level):
        return None
    organization = await session.get(Actor, poll.organization_id) if poll.organization_id else None
    discussion = await poll_discussion(session, poll)
    group = discussion.group if discussion is not None else None
    return poll_to_as(poll, poll.author, organization or poll.author, await polls.options(session, poll),
                      level=level, url=poll.ap_id,  # ids double as the URLs of the pages (node/uris.py)
                      counts_shown=polls.results_visible(poll, utcnow()),
                      group_id=group.ap_id if group is not None else None,
                      group_followers=group.followers_url if group is not None else None)


async def _poll(session: AsyncSession, uris: Uris, check: Check, token: str) -> Served | None:
    poll = await polls.by_ap_id(session, uris.poll(token))
    if poll is None or not poll.local or poll.organization_id is None:
        return None
    if not await check(poll.organization_id, await poll_level(session, poll)):
        return None
    if poll.deleted_at is not None:
        return _tombstone(poll.ap_id, "Question", poll.deleted_at, poll.ap_id)
    return _later(poll.ap_id, lambda: poll_as(session, uris, poll))


async def poll_document(request: web.Request, token: str) -> web.Response:
    """GET /polls/{token} as AS2: the poll's Question."""
    return await _as2(request, _poll, token)
