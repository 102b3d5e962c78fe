"""Polls on running `civic serve` nodes, written and read with the node's own services.

No `civic` command makes polls, so the poll scenario does what an administrator's script would:
open the node's database (SQLite or PostgreSQL, whichever `civic init` was given) and call the
services; the running node's fan-out picks the outbox events up and delivers them. What each node
stored — a poll's options, tallies, voters, whether it is closed, where it shows — is read back the
same way, so a check fails on what was stored, not on how a page prints it. The votes the peers
send are Mastodon's (``Create{Note{name, inReplyTo}}``), built here for each peer to sign.
"""

from __future__ import annotations

import asyncio
import html
import http.cookiejar
import re
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from node.db import create_engine, session_factory, transaction
from node.models import Discussion, InboxActivity, Poll, utcnow
from node.services import actors, discussions, polls
from node.uris import Uris
from tests.interop.node_process import CivicNode

T = TypeVar("T")
AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = f"{AS}#Public"
# Mastodon's context for polls: the number of voters is its term.
POLL_CONTEXT = [AS, {"toot": "http://joinmastodon.org/ns#", "votersCount": "toot:votersCount"}]


def write(node: CivicNode, work: Callable[[AsyncSession, Uris], Awaitable[T]]) -> T:
    """Runs `work(session, uris)` in one transaction on the node's database."""

    async def run() -> T:
        engine = create_engine(node.db_url())
        try:
            async with transaction(session_factory(engine)) as session:
                return await work(session, Uris(node.base_url))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def open_discussion(node: CivicNode, org: str, slug: str, title: str) -> dict:
    """An official public discussion of `org`: {"id", "group", "group_inbox", "page"}."""

    async def work(session: AsyncSession, uris: Uris) -> dict:
        organization = await actors.require_local_actor(session, org, "Organization")
        d = await discussions.open_discussion(session, uris, organization, slug, title,
                                              summary=f"{title}: à vous la parole", body="Votre avis ?")
        return {"id": d.id, "group": d.group.ap_id, "group_inbox": d.group.inbox, "page": d.page_ap_id}

    return write(node, work)


def create_poll(node: CivicNode, org: str, question: str, options: list[str], *, days: int = 1) -> str:
    """`org` asks `question` (one choice among `options`, ending in `days`); returns its id."""

    async def work(session: AsyncSession, uris: Uris) -> str:
        organization = await actors.require_local_actor(session, org, "Organization")
        poll = await polls.create(session, uris, organization, organization, f"<p>{question}</p>", options,
                                  end_time=utcnow() + timedelta(days=days))
        return poll.ap_id

    return write(node, work)


def end_now(node: CivicNode, poll_id: str) -> None:
    """The poll's end time passes (set a second ago, as the clock would): the node then refuses
    votes, and its debounced pass closes it and sends the final Update{Question}."""

    async def work(session: AsyncSession, uris: Uris) -> None:
        await session.execute(update(Poll).where(Poll.ap_id == poll_id)
                              .values(end_time=utcnow() - timedelta(seconds=1)))

    write(node, work)


def poll(node: CivicNode, ap_id: str) -> dict | None:
    """The poll as `node` stores it: {"local", "options": {name: votes}, "voters", "closed",
    "discussion" (its slug, or None), "deleted"}; None when it holds none."""

    async def work(session: AsyncSession) -> dict | None:
        row = await polls.by_ap_id(session, ap_id)
        if row is None:
            return None
        options = {o.name: o.votes_count for o in await polls.options(session, row)}
        # Read again after the options: SQLite runs each SELECT in its own snapshot here, and a
        # caller waiting for new counts must not see them beside the poll's older row.
        await session.refresh(row)
        discussion = await session.get(Discussion, row.discussion_id) if row.discussion_id else None
        return {"local": row.local, "options": options,
                "voters": row.voters_count, "closed": row.closed_at is not None,
                "discussion": discussion.slug if discussion else None, "deleted": row.deleted_at is not None}

    return node.query(work)


def outcomes(node: CivicNode, activity_ids: list[str]) -> dict[str, tuple[str, str]]:
    """{activity id: (state, outcome)} of the inbox rows `node` holds for these activities."""

    async def work(session: AsyncSession) -> dict[str, tuple[str, str]]:
        rows = await session.scalars(select(InboxActivity).where(InboxActivity.ap_id.in_(activity_ids)))
        return {row.ap_id: (row.state, row.error or "") for row in rows}

    return node.query(work)


def vote_note(actor: str, note_id: str, poll_id: str, name: str, to: str) -> dict:
    """A vote as Mastodon sends it: a Note naming the option, replying to the poll, no content."""
    return {"id": note_id, "type": "Note", "attributedTo": actor, "name": name, "inReplyTo": poll_id,
            "to": [to]}


def question(actor: str, ap_id: str, text: str, counts: dict[str, int], *, cc: list[str]) -> dict:
    """A Question as Mastodon writes one, with its tallies."""
    return {"id": ap_id, "type": "Question", "attributedTo": actor, "content": f"<p>{text}</p>",
            "published": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "endTime": (utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "to": [PUBLIC], "cc": cc, "votersCount": sum(counts.values()),
            "oneOf": [{"type": "Note", "name": name, "replies": {"type": "Collection", "totalItems": n}}
                      for name, n in counts.items()]}


HTML = {"Accept": "text/html", "Accept-Language": "en"}


def _text(body: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", body)).split())


def page_text(url: str) -> str:
    """The HTML page at `url` as a person reads it in English: its text, tags and spacing
    collapsed (what a check may look for: "Oui 67% · 2 votes")."""
    with urllib.request.urlopen(urllib.request.Request(url, headers=HTML), timeout=30) as response:  # noqa: S310
        return _text(response.read().decode("utf-8"))


def add_staff(node: CivicNode, org: str, handle: str, password: str) -> None:
    """An account `handle` that is an admin of `org` on `node`."""

    async def work(session: AsyncSession, uris: Uris) -> None:
        user = await actors.create_user(session, uris, handle, password, handle.title())
        await actors.add_member(session, user, await actors.require_local_actor(session, org), "admin")

    write(node, work)


def signed_in_page_text(node: CivicNode, handle: str, password: str, path: str) -> str:
    """The page at `path` as `handle` reads it once logged in through the /login form."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(urllib.request.Request(f"{node.base_url}/login", headers=HTML), timeout=30) as response:
        token = re.search(r'name="csrf_token" value="([^"]+)"', response.read().decode("utf-8")).group(1)
    form = urllib.parse.urlencode({"username": handle, "password": password, "csrf_token": token}).encode()
    with opener.open(urllib.request.Request(f"{node.base_url}/login", data=form, headers=HTML), timeout=30):
        pass
    with opener.open(urllib.request.Request(f"{node.base_url}{path}", headers=HTML), timeout=30) as response:
        return _text(response.read().decode("utf-8"))


def vote_here(node: CivicNode, handle: str, poll_id: str, name: str) -> None:
    """A person of `node` (made on first use) votes in a poll made elsewhere that the node shows:
    the node keeps her choice and sends Mastodon's vote Note to the poll's author."""

    async def work(session: AsyncSession, uris: Uris) -> None:
        person = await actors.local_actor(session, handle)
        if person is None:
            person = (await actors.create_user(session, uris, handle, "interop-password", handle.title())).actor
        await polls.vote(session, uris, await polls.by_ap_id(session, poll_id), person, [name])

    write(node, work)
