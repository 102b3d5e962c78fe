"""Node admins find local accounts and delete (erase) one: GET /admin/accounts, POST
/admin/accounts/delete. Anyone else gets the same 404 as a page that does not exist."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from federation.runtime import RUNTIME
from node.db import transaction
from node.models import Actor, User
from node.services import actors as actor_service
from node.services import erasure
from web.cache import uncacheable
from web.i18n import translations
from web.render import current_user, read_form, render

SHOWN = 50
MAX_QUERY = 255


async def _admin(request: web.Request) -> User:
    uncacheable(request)
    user = await current_user(request)
    if user is None or not user.is_admin:
        raise web.HTTPNotFound()
    return user


async def _accounts(request: web.Request, query: str) -> list[tuple[User, Actor]]:
    """Local accounts whose handle starts with ``query`` (all of them, first ones, without)."""
    statement = select(User, Actor).join(Actor, Actor.id == User.actor_id).order_by(Actor.username).limit(SHOWN)
    if query:
        escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(Actor.username.like(f"{escaped}%", escape="\\"))
    async with request.app[RUNTIME].sessions() as session:
        return [(user, actor) for user, actor in (await session.execute(statement)).all()]


async def _page(request: web.Request, query: str, *, errors: dict | None = None, done: str = "",
                status: int = 200) -> web.Response:
    """The listing; an error is shown next to its account's row, or above the list when that
    account is not in it."""
    accounts = await _accounts(request, query)
    errors = errors or {}
    listed = {actor.username for _, actor in accounts}
    general = [message for handle, message in errors.items() if handle not in listed]
    return await render(request, "admin_accounts.html", {
        "query": query, "accounts": accounts, "errors": errors, "general_errors": general,
        "deleted": done}, status=status)


async def accounts_page(request: web.Request) -> web.Response:
    await _admin(request)
    query = (request.query.get("q") or "").strip().lstrip("@")[:MAX_QUERY]
    return await _page(request, query, done=(request.query.get("deleted") or "")[:MAX_QUERY])


async def delete_account(request: web.Request) -> web.StreamResponse:
    """Erase the account named in ``handle`` once ``confirm`` repeats it (written to the
    moderation log with the admin's name)."""
    form = await read_form(request)
    admin = await _admin(request)
    tr = translations(request)
    handle = (form.get("handle") or "").strip().lstrip("@").lower()[:MAX_QUERY]
    confirm = (form.get("confirm") or "").strip().lstrip("@").lower()
    async with transaction(request.app[RUNTIME].sessions) as session:
        # A handle is printable; anything else (a NUL, which PostgreSQL refuses) names no account
        # and is never looked up (SECURITY.md rule 19).
        user = await actor_service.user_by_username(session, handle) if handle.isprintable() and handle else None
        if user is None:
            error = tr.gettext("No account has this handle.")
        elif confirm != handle:
            error = tr.gettext("Type the handle again to confirm.")
        else:
            await erasure.erase_account(session, user, by=await session.get(User, admin.id))
            error = ""
    if error:
        shown = handle if handle.isprintable() else ""
        return await _page(request, shown, errors={shown: error}, status=400)
    raise web.HTTPSeeOther(f"/admin/accounts?deleted={handle}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/accounts", accounts_page, name="admin_accounts")
    app.router.add_post("/admin/accounts/delete", delete_account)
