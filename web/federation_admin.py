"""The node admins' view of what federation refused or could not process (SECURITY.md rule 21).

GET /admin/federation lists, newest first: POSTs refused before the 202 (with the reason each
sender was given), inbound activities that failed or were ignored after it, fan-out events that
failed, and deliveries that failed for good. Node admins only; anyone else gets the same 404 as
a page that does not exist.
"""

from __future__ import annotations

from aiohttp import web

from federation.runtime import RUNTIME
from node.services import federation_problems
from web.render import current_user, render

SHOWN = 100  # rows of each kind


async def problems_page(request: web.Request) -> web.Response:
    user = await current_user(request)
    if user is None or not user.is_admin:
        raise web.HTTPNotFound()
    ignored = request.query.get("show") == "ignored"
    async with request.app[RUNTIME].sessions() as session:
        problems = await federation_problems.recent(session, ignored=ignored, limit=SHOWN)
    context = {**vars(problems), "showing_ignored": ignored}
    return await render(request, "admin_federation.html", context)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/federation", problems_page, name="admin_federation")
