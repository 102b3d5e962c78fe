"""Participation content on a running `civic serve`, written with the node's own services.

No `civic` command opens discussions yet, so the interop tests do what an administrator's script
would: open the node's database (`node.db`) and call the services. The running node's fan-out
loop picks the outbox events up within its idle period (5 s) and delivers them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node.db import create_engine, session_factory, transaction
from node.models import Contribution, Discussion, Proposal
from node.services import actors, contributions, discussions, proposals
from node.uris import Uris
from tests.interop.node_process import CivicNode

T = TypeVar("T")


def write(node: CivicNode, work: Callable[[AsyncSession, Uris], Awaitable[T]]) -> T:
    """Runs `work(session, uris)` in one transaction on the node's SQLite database."""

    async def run() -> T:
        engine = create_engine(f"sqlite+aiosqlite:///{node.data_dir / 'civic.db'}")
        try:
            async with transaction(session_factory(engine)) as session:
                return await work(session, Uris(node.base_url))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def create_user(node: CivicNode, handle: str, name: str) -> str:
    """A local account; returns its Person actor's id."""

    async def work(session: AsyncSession, uris: Uris) -> str:
        user = await actors.create_user(session, uris, handle, "interop-password", name)
        return user.actor.ap_id

    return write(node, work)


def open_discussion(node: CivicNode, org: str, slug: str, title: str) -> dict:
    """An official public discussion: {"id", "group", "page"}."""

    async def work(session: AsyncSession, uris: Uris) -> dict:
        organization = await actors.require_local_actor(session, org, "Organization")
        d = await discussions.open_discussion(session, uris, organization, slug, title,
                                              summary=f"{title}: à vous la parole",
                                              body="Que proposez-vous ?")
        return {"id": d.id, "group": d.group.ap_id, "page": d.page_ap_id}

    return write(node, work)


def contribute(node: CivicNode, discussion_id: int, handle: str, html: str) -> str:
    """A local contribution by `handle`; returns its id."""

    async def work(session: AsyncSession, uris: Uris) -> str:
        author = await actors.require_local_actor(session, handle)
        discussion = await session.get(Discussion, discussion_id)
        return (await contributions.contribute(session, uris, discussion, author, html)).ap_id

    return write(node, work)


def publish_proposal(node: CivicNode, org: str, handle: str, title: str, discussion_id: int) -> str:
    """A published proposal by `handle` in the discussion; returns its id."""

    async def work(session: AsyncSession, uris: Uris) -> str:
        organization = await actors.require_local_actor(session, org, "Organization")
        author = await actors.require_local_actor(session, handle)
        proposal = await proposals.create(session, uris, organization, author, title,
                                          f"<p>{title}</p>", discussion_id=discussion_id,
                                          publish=True)
        return proposal.ap_id

    return write(node, work)


def contribution(node: CivicNode, ap_id: str) -> dict | None:
    """The stored contribution: {"author", "content", "deleted", "parent", "discussion"}."""

    async def work(session: AsyncSession) -> dict | None:
        row = await session.scalar(select(Contribution).where(Contribution.ap_id == ap_id))
        if row is None:
            return None
        return {"author": row.author.ap_id, "content": row.content, "discussion": row.discussion_id,
                "deleted": row.deleted_at is not None, "parent": row.parent_id}

    return node.query(work)


def support_count(node: CivicNode, proposal_id: str) -> int:

    async def work(session: AsyncSession) -> int:
        return await session.scalar(select(Proposal.support_count).where(Proposal.ap_id == proposal_id))

    return node.query(work)
