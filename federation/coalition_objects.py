"""A coalition's ``members`` collection: ``GET /actors/{username}/members`` (FEDERATION.md
"Coalitions and campaigns").

The accepted member organisations as Mobilizon's ``Member`` items, admins first. It is read as
the coalition's visibility allows (node/visibility.py through federation.objects.readable), and
an accepted member organisation proven by a signed fetch reads it too; anyone else — and
everyone for a ``members`` coalition, which never leaves the node — gets the 404 of a missing
thing (SECURITY.md rules 10, 24)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from activities import coalitions as as2
from federation.objects import as_response, not_found, readable, signed_reader
from federation.runtime import RUNTIME, Runtime
from node import visibility
from node.models import Coalition
from node.services import coalitions
from node.services.actors import local_actor


async def members_readable(request: web.Request, session: AsyncSession, coalition: Coalition) -> bool:
    """The coalition's level for this reader, or the reader is one of its member organisations."""
    level = coalition.visibility
    if await readable(request, session, coalition.actor_id, level):
        return True
    if not visibility.federates(level):
        return False
    reader = await signed_reader(request)
    return await coalitions.is_member(session, coalition.actor_id, reader.actor_id)


async def members(request: web.Request) -> web.Response:
    rt: Runtime = request.app[RUNTIME]
    async with rt.sessions() as session:
        actor = await local_actor(session, request.match_info["username"])
        coalition = await coalitions.of_actor(session, actor)
        if coalition is None or actor.deleted_at is not None \
                or not await members_readable(request, session, coalition):
            return not_found()
        members_url = rt.uris.coalition_members(actor.ap_id)
        items = [as2.member_to_as(members_url, actor.ap_id, row.member.ap_id, row.role)
                 for row in await coalitions.members(session, actor)]
    return as_response(as2.members_collection(members_url, items))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/actors/{username}/members", members)
