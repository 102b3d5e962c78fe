"""The node admins' view of what federation refused or could not process (SECURITY.md rule 21).

GET /admin/federation lists, newest first: POSTs refused before the 202 (with the reason each
sender was given), inbound activities that failed or were ignored after it, fan-out events that
failed, and deliveries that failed for good. Node admins only; anyone else gets the same 404 as
a page that does not exist.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from federation.runtime import RUNTIME
from node.models import (
    Delivery,
    DeliveryStates,
    InboxActivity,
    InboxRefusal,
    InboxStates,
    OutboxEvent,
)
from web.render import current_user, render

SHOWN = 100  # rows of each kind


async def federation_problems(request: web.Request) -> web.Response:
    user = await current_user(request)
    if user is None or not user.is_admin:
        raise web.HTTPNotFound()
    kind = request.query.get("show")
    async with request.app[RUNTIME].sessions() as session:
        refusals = list(await session.scalars(
            select(InboxRefusal).order_by(InboxRefusal.id.desc()).limit(SHOWN)))
        states = [InboxStates.failed] if kind != "ignored" else [InboxStates.ignored]
        activities = list(await session.execute(
            select(InboxActivity.received_at, InboxActivity.type, InboxActivity.actor,
                   InboxActivity.ap_id, InboxActivity.state, InboxActivity.error)
            .where(InboxActivity.state.in_(states))
            .order_by(InboxActivity.id.desc()).limit(SHOWN)))
        events = list(await session.scalars(
            select(OutboxEvent).where(OutboxEvent.error.is_not(None))
            .order_by(OutboxEvent.id.desc()).limit(SHOWN)))
        deliveries = list(await session.scalars(
            select(Delivery).where(Delivery.state == DeliveryStates.failed)
            .order_by(Delivery.id.desc()).limit(SHOWN)))
    context = {"refusals": refusals, "activities": activities, "events": events,
               "deliveries": deliveries, "showing_ignored": kind == "ignored"}
    return await render(request, "admin_federation.html", context)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/federation", federation_problems, name="admin_federation")
