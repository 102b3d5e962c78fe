"""The account page of a signed-in visitor: who they are, and changing the password."""

from __future__ import annotations

from aiohttp import web

from federation.runtime import RUNTIME
from node.errors import InvalidInput
from node.services import accounts as account_service
from web import ratelimit
from web.cache import uncacheable
from web.i18n import translations
from web.render import current_user, read_form, render
from web.sessions import start_session

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
LABELS = ("current_password", "new_password", "new_password_confirm")


async def _signed_in(request: web.Request):
    user = await current_user(request)
    if user is None:
        raise web.HTTPSeeOther("/login?next=/account")
    return user


async def account_form(request: web.Request) -> web.Response:
    uncacheable(request)
    user = await _signed_in(request)
    context = {"account": user, "errors": {}, "changed": request.query.get("password") == "changed"}
    return await render(request, "account.html", context)


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
    response = await render(request, "account.html",
                            {"account": user, "errors": errors, "changed": False}, status=status)
    return ratelimit.retry_after(response, wait) if status == 429 else response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/account", account_form, name="account")
    app.router.add_post("/account/password", change_password)
