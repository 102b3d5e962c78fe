"""Rendering a page with what every page needs (user, CSRF token)."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from federation.runtime import RUNTIME
from node.models import User
from web.sessions import csrf_token, get_session

USER = web.RequestKey("civic_user", object)


async def current_user(request: web.Request) -> User | None:
    """The logged-in user, or None (loaded once per request)."""
    if USER not in request:
        uid = get_session(request).get("uid")
        user = None
        if uid:
            async with request.app[RUNTIME].sessions() as session:
                user = await session.get(User, uid)
        request[USER] = user
    return request[USER]


async def render(request: web.Request, template: str, context: dict, status: int = 200) -> web.Response:
    base = {"user": await current_user(request), "csrf_token": csrf_token(request)}
    return aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status)
