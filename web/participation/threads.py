"""Threads of a discussion by pages: the discussion page shows the newest ``THREADS_PER_PAGE``
threads, then "Show more contributions" links to the next ones (a keyset cursor: the last root
shown), as a page of its own or, with ``?partial=1``, as the list items alone (/static/threads.js
appends them in place)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from node.models import Actor, Contribution, Discussion, Poll, User
from node.services import community, contributions, follows, reports
from node.services.contributions import ALIGNMENTS, Cursor
from web.cache import Viewer, share_page, viewers_from
from web.i18n import _
from web.participation import fragments, polls
from web.participation.common import (
    MODERATORS,
    OFFICIALS,
    audience_of,
    contribution_anchor,
    discussion_in,
    memberships,
    organisation,
    page,
    runtime,
    viewer_on_organisation_page,
)
from web.participation.fragments import FRAGMENTS
from web.participation.organisations import profile_of, theme_version
from web.render import current_user

THREADS_PER_PAGE = 20
# ``before``: microseconds since 1970 (UTC) and the id of the last root shown, "1765000000000000-42".
_CURSOR = re.compile(r"([0-9]{1,16})-([0-9]{1,10})")  # ASCII digits only (\d takes any script's)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_ID = 2**31 - 1  # an INTEGER column on PostgreSQL: a larger id in a query would be an error
BAD_CURSOR = _("This list of contributions does not exist: go back to the discussion.")


def cursor_text(cursor: Cursor) -> str:
    return f"{(cursor.published - _EPOCH) // timedelta(microseconds=1)}-{cursor.id}"


def parse_cursor(text: str | None) -> Cursor | None:
    """The ``before`` parameter: None (the first page) when absent, 400 when it is not a cursor."""
    if text is None or text == "":
        return None
    found = _CURSOR.fullmatch(text)
    if found is None or int(found[2]) > _MAX_ID:
        raise web.HTTPBadRequest(text=BAD_CURSOR)
    try:
        published = _EPOCH + timedelta(microseconds=int(found[1]))
    except OverflowError:
        raise web.HTTPBadRequest(text=BAD_CURSOR) from None
    return Cursor(published, int(found[2]))


def next_url(discussion: Discussion, cursor: Cursor | None) -> str | None:
    return f"{discussion.page_ap_id}/threads?before={cursor_text(cursor)}" if cursor else None


async def threads_context(session: AsyncSession, request: web.Request, discussion: Discussion,
                          is_official: bool, is_moderator: bool, user: User | None,
                          before: Cursor | None = None) -> dict:
    """What a list of threads needs (the discussion page and the threads pages): the page of threads
    and the link to the next, and what each contribution's HTML depends on."""
    found = await contributions.thread_page(session, discussion, before=before, limit=THREADS_PER_PAGE,
                                            include_hidden=True)
    open_for_contributions = discussion.status == "open" and discussion.moderation == "approved"
    return {
        "discussion": discussion,
        "is_moderator": is_moderator,
        "is_official": is_official,
        "open": open_for_contributions,
        "can_contribute": bool(user) and open_for_contributions
        and (is_official or not discussion.official_only),
        # A hidden contribution keeps its place (its replies stay): the reason is shown instead.
        "thread": found.items,
        "next_threads": next_url(discussion, found.next),
        "threads": fragments.threads(request.app.get(FRAGMENTS)),
        "hidden_reasons": await reports.hidden_in_discussion(session, discussion.id)
        if any(_hidden(item) for item in found.items) else {},
        "supported": lambda c: contributions.supported_by_community(c, discussion),
        "alignments": ALIGNMENTS,
    }


def _hidden(item: contributions.ThreadItem) -> bool:
    return item.contribution.hidden or any(_hidden(reply) for reply in item.replies)


async def contribution_target(session: AsyncSession, request: web.Request, discussion: Discussion,
                              contribution: Contribution) -> str:
    """Where to send someone back to a contribution: its place on the discussion page when its
    thread is on the first page, else its own page (which shows it with its replies)."""
    anchor = contribution_anchor(contribution)
    root = await contributions.root_of(session, contribution, include_hidden=True)
    if await contributions.threads_before(session, discussion, root, include_hidden=True) < THREADS_PER_PAGE:
        return f"{discussion.page_ap_id}#{anchor}"
    return f"{discussion.page_ap_id}/contributions/{contribution.id}#{anchor}"


async def viewer_state(session: AsyncSession, org: Actor, discussion: Discussion,
                       user: User | None) -> tuple[bool, bool, dict[str, set]]:
    """Who the visitor is on this discussion: official?, moderator?, and their marks (what they
    agreed with, whether they follow it, the initiatives where they acted): four small queries,
    run twice for a reader new to the page (web/cache.py, then the handler)."""
    if user is None:
        return False, False, {"agreed": set(), "own": set(), "following": set(), "acted": set(),
                              **await polls.reader_marks(session, None, None)}
    me = user.actor  # loaded with the user: its id is all the queries below need
    roles = await memberships(session, user, org)
    following = await follows.find(session, me, discussion.group) is not None
    agreed, own = await contributions.reader_marks(session, me, discussion)
    return (bool(roles & set(OFFICIALS)), bool(roles & set(MODERATORS)),
            {"agreed": agreed, "own": own, "following": {discussion.id} if following else set(),
             "acted": await community.acted_in(session, me, discussion),
             # Their votes in the discussion's polls (web/participation/polls.py).
             **await polls.reader_marks(session, me, Poll.discussion_id == discussion.id)})


# The organisation and discussion of the URL, once the visitor's access is checked, and what
# viewer_state found, for this request (web/cache.py asks for the reader's side before the handler
# runs, for a reader new to the page): the handler uses them instead of asking again.
_FOUND = web.RequestKey("civic_discussion_found", tuple)


async def found_discussion(request: web.Request, session: AsyncSession,
                           user: User | None) -> tuple[Actor, Discussion]:
    """``organisation`` and ``discussion_in`` (404 when missing or not for this visitor), once per
    request and visitor. The rows are only read afterwards (their relationships are joined)."""
    known = request.get(_FOUND)
    if known is not None and known[0] == (user.id if user else None):
        return known[1], known[2]
    org = await organisation(session, request)
    discussion = await discussion_in(session, request, org, user)
    request[_FOUND] = (user.id if user else None, org, discussion)
    return org, discussion


# What viewer_state found for this request (web/cache.py asks for the reader's side before the
# handler runs, for a reader new to the page): the handler uses it instead of asking again.
_READER_STATE = web.RequestKey("civic_discussion_reader_state", tuple)


async def reader_state(request: web.Request, session: AsyncSession, org: Actor, discussion: Discussion,
                       user: User | None) -> tuple[bool, bool, dict[str, set]]:
    """:func:`viewer_state`, once per request."""
    known = request.get(_READER_STATE)
    if known is not None and known[0] == (discussion.id, user.id if user else None):
        return known[1]
    state = await viewer_state(session, org, discussion, user)
    request[_READER_STATE] = ((discussion.id, user.id if user else None), state)
    return state


async def discussion_viewer(request: web.Request) -> Viewer | None:
    """The signed-in visitor's side of the discussion page (and of its threads pages), without
    rendering it (web/cache.py)."""
    async def sides(session: AsyncSession, user: User, org: Actor) -> tuple[str, dict]:
        discussion = await discussion_in(session, request, org, user)
        request[_FOUND] = (user.id, org, discussion)
        is_official, is_moderator, marks = await reader_state(request, session, org, discussion, user)
        return audience_of(is_official, is_moderator), marks

    return await viewer_on_organisation_page(request, sides)


@viewers_from(discussion_viewer)
async def threads_page(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/discussions/{slug}/threads?before=<cursor>: the next threads, as a page, or
    with ``partial=1`` the list items and the next link alone. Readable by whoever may read the
    discussion (the same 404 otherwise)."""
    before = parse_cursor(request.query.get("before"))
    user = await current_user(request)
    async with runtime(request).sessions() as session:
        org, discussion = await found_discussion(request, session, user)
        is_official, is_moderator, marks = await reader_state(request, session, org, discussion, user)
        context = await threads_context(session, request, discussion, is_official, is_moderator, user, before)
        progress = await contributions.progress(session, discussion)
        profile = await profile_of(session, org) if request.query.get("partial") != "1" else None
    context.update(org=org, progress=progress, theme_version=theme_version(profile) if profile else "",
                   mark=share_page(request, user is not None, audience_of(is_official, is_moderator), **marks))
    partial = request.query.get("partial") == "1"
    return await page(request, "participation/_threads.html" if partial else "participation/threads.html",
                      context)


def add_routes(app: web.Application) -> None:
    fragments.setup(app)
    app.router.add_get("/orgs/{org}/discussions/{slug}/threads", threads_page)
