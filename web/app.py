"""Wires the web layer into the application: templates, languages, middlewares, routes, static files."""

from __future__ import annotations

import secrets
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from federation.objects import wants_activity_json
from node.config import Settings
from web import accounts, cache, federation_admin, follow, i18n, legal, media, pages, participation
from web.errors import nul_in_address, unexpected
from web.render import render_error
from web.security import SIGNER, SessionSigner, security_headers
from web.sessions import EPOCHS, Epochs, session_cookies

HERE = Path(__file__).parent


@web.middleware
async def errors(request: web.Request, handler):
    """Turn HTTP errors raised by page handlers into readable pages (never a traceback)."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if (
            exc.status < 400
            or exc.content_type == "application/json"
            or wants_activity_json(request)
        ):
            raise
        return await render_error(request, exc)


def setup(app: web.Application, settings: Settings) -> None:
    app[SIGNER] = SessionSigner(settings.secret_key or secrets.token_hex(32))
    app[EPOCHS] = Epochs()
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    env.globals["instance_name"] = settings.instance_name
    i18n.setup(app, env)
    # session_cookies outside errors: an error page's forms (language switcher) need their session.
    app.middlewares.extend([security_headers, session_cookies, errors, nul_in_address])
    # Outermost, around federation's middlewares too: a bug anywhere is a bare 500 (web/errors.py).
    app.middlewares.insert(0, unexpected)
    pages.add_routes(app)
    accounts.add_routes(app)
    follow.add_routes(app)
    media.add_routes(app)
    federation_admin.add_routes(app)
    legal.add_routes(app)
    participation.setup(app)
    cache.setup(app)  # innermost middleware: serves pages from the micro-cache (web/cache.py)
    app.router.add_static("/static", HERE / "static", name="static", append_version=True)
