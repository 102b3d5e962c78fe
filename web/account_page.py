"""The account page of a signed-in visitor: who they are, changing the password, downloading
their data and deleting their account."""

from __future__ import annotations

import json

from aiohttp import web

from federation.runtime import RUNTIME
from node.db import transaction
from node.errors import InvalidInput
from node.models import User
from node.services import accounts as account_service
from node.services import actors as actor_service
from node.services import erasure, export
from web import account_admin, ratelimit
from web.cache import uncacheable
from web.i18n import translations
from web.render import USER, current_user, read_form, render
from web.sessions import start_session

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
LABELS = ("current_password", "new_password", "new_password_confirm")


async def _signed_in(request: web.Request):
    user = await current_user(request)
    if user is None:
        raise web.HTTPSeeOther("/login?next=/account")
    return user


def _context(user: User, **values) -> dict:
    return {"account": user, "errors": {}, "delete_errors": {}, "changed": False, **values}


async def account_form(request: web.Request) -> web.Response:
    uncacheable(request)
    user = await _signed_in(request)
    return await render(request, "account.html", _context(user, changed=request.query.get("password") == "changed"))


def check_new_password(form: dict, tr) -> dict:
    """{field: translated error} of the new password and its confirmation."""
    new, confirmation = form.get("new_password") or "", form.get("new_password_confirm") or ""
    if len(new) < MIN_PASSWORD:
        return {"new_password": tr.gettext("The password needs at least %(min)d characters.")
                % {"min": MIN_PASSWORD}}
    if len(new) > MAX_PASSWORD:
        return {"new_password": tr.gettext("This password is too long.")}
    if new != confirmation:
        return {"new_password_confirm": tr.gettext("The two passwords differ.")}
    return {}


async def change_password(request: web.Request) -> web.StreamResponse:
    """Check the current password, set the new one, end every other session (SECURITY.md rule 16)
    and start a new one for this visitor. A wrong current password counts as a failed log-in
    (SECURITY.md rule 17): a stolen session cannot be used to guess it."""
    form = await read_form(request)
    user = await _signed_in(request)
    rt, tr = request.app[RUNTIME], translations(request)
    handle = user.actor.username
    errors = check_new_password(form, tr)
    status = 400
    if not errors and (wait := await ratelimit.count_attempt(request, handle)):
        errors = {"current_password": ratelimit.too_many_text(tr, wait)}
        status = 429
    if not errors:
        current = form.get("current_password") or ""
        try:
            if len(current) > MAX_PASSWORD:
                raise InvalidInput("the current password is wrong")
            epoch = await account_service.change_password(rt.sessions, user, current,
                                                          form["new_password"])
        except InvalidInput:
            errors = {"current_password": tr.gettext("This is not your current password.")}
        else:
            await ratelimit.succeeded(request, handle)
            start_session(request, user.id, epoch)
            raise web.HTTPSeeOther("/account?password=changed")
    response = await render(request, "account.html", _context(user, errors=errors), status=status)
    return ratelimit.retry_after(response, wait) if status == 429 else response


async def download(request: web.Request) -> web.StreamResponse:
    """GET /account/export: everything the node stores about the visitor, as a JSON attachment
    that no cache keeps (node/services/export.py)."""
    uncacheable(request)
    user = await _signed_in(request)
    rt = request.app[RUNTIME]
    async with rt.sessions() as session:
        data = await export.export_account(session, rt.uris, user)
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return web.Response(text=body, content_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="civic-data-{data["account"]["handle"]}.json"',
        "Cache-Control": "no-store",
    })


async def delete_account(request: web.Request) -> web.StreamResponse:
    """POST /account/delete: the visitor erases their own account after typing their password
    (counted as a log-in attempt, SECURITY.md rule 17). Every session ends (rule 16)."""
    form = await read_form(request)
    user = await _signed_in(request)
    rt, tr = request.app[RUNTIME], translations(request)
    handle = user.actor.username
    status, wait = 400, None
    password = form.get("password") or ""
    if (wait := await ratelimit.count_attempt(request, handle)):
        errors = {"password": ratelimit.too_many_text(tr, wait)}
        status = 429
    elif len(password) > MAX_PASSWORD or not await actor_service.verify_password_async(user.password_hash, password):
        errors = {"password": tr.gettext("This is not your current password.")}
    else:
        await ratelimit.succeeded(request, handle)
        async with transaction(rt.sessions) as session:
            await erasure.erase_account(session, await session.get(User, user.id), by=user)
        start_session(request, None)
        request[USER] = None  # the page that says so is rendered for a visitor without account
        uncacheable(request)
        return await render(request, "account_deleted.html", {"handle": handle})
    response = await render(request, "account.html", _context(user, delete_errors=errors), status=status)
    return ratelimit.retry_after(response, wait) if status == 429 else response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/account", account_form, name="account")
    app.router.add_post("/account/password", change_password)
    app.router.add_get("/account/export", download, name="account_export")
    app.router.add_post("/account/delete", delete_account)
    account_admin.add_routes(app)
