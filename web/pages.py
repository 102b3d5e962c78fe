"""Pages: home, actor and note pages (content-negotiated), log in/out, announcements."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select

from activities.html import text_to_html
from federation import objects
from federation.runtime import RUNTIME, Runtime
from node.errors import CivicError
from node.models import Note, User
from node.services import actors as actor_service
from node.services import follows, notes
from web.security import SIGNER

MAX_FORM = 64 * 1024


async def base_context(request: web.Request) -> dict:
    session = request.get("session") or {}
    signer = request.app.get(SIGNER)
    return {
        "user": request.get("user"),
        "csrf_token": signer.csrf_token(session) if signer and session else "",
        "base_url": request.app[RUNTIME].settings.base_url,
    }


async def current_user(request: web.Request) -> User | None:
    uid = (request.get("session") or {}).get("uid")
    if not uid:
        return None
    rt: Runtime = request.app[RUNTIME]
    async with rt.sessions() as session:
        user = await session.get(User, uid)
    request["user"] = user
    return user


async def read_form(request: web.Request) -> dict:
    """A posted form with its CSRF token checked (403 otherwise)."""
    if request.content_length and request.content_length > MAX_FORM:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_FORM, actual_size=request.content_length)
    form = await request.post()
    signer = request.app[SIGNER]
    if not signer.check_csrf(request.get("session"), form.get("csrf_token")):
        raise web.HTTPForbidden(text="The form expired or came from another site. Reload and retry.")
    return dict(form)


@aiohttp_jinja2.template("home.html")
async def home(request: web.Request) -> dict:
    await current_user(request)
    rt: Runtime = request.app[RUNTIME]
    async with rt.sessions() as session:
        organizations = await actor_service.list_local_actors(session, "Organization")
    return {"organizations": organizations}


async def actor_page(request: web.Request) -> web.StreamResponse:
    username = request.match_info["username"]
    if objects.wants_activity_json(request):
        return await objects.actor_document(request, username)
    user = await current_user(request)
    rt: Runtime = request.app[RUNTIME]
    async with rt.sessions() as session:
        actor = await actor_service.local_actor(session, username)
        if actor is None:
            raise web.HTTPNotFound(text="There is no such page on this node.")
        posts = await notes.notes_by(session, actor)
        follower_count = await follows.count(session, actor)
        can_post = bool(user) and actor.type == "Organization" and await actor_service.has_role(
            session, user, actor, "admin", "official")
        pending = await follows.pending_requests(session, actor) if can_post else []
        timeline = await notes.timeline_of(session, actor) if can_post else []
    context = {"actor": actor, "posts": posts, "follower_count": follower_count,
               "can_post": can_post, "pending": pending, "timeline": timeline,
               "handle": f"@{actor.username}@{rt.uris.domain}"}
    response = aiohttp_jinja2.render_template("actor.html", request, context)
    response.headers["Vary"] = "Accept"
    return response


async def instance_actor(request: web.Request) -> web.StreamResponse:
    if objects.wants_activity_json(request):
        return await objects.instance_actor_document(request)
    raise web.HTTPFound("/")


async def note_page(request: web.Request) -> web.StreamResponse:
    rt: Runtime = request.app[RUNTIME]
    ap_id = rt.uris.note(request.match_info["token"])
    if objects.wants_activity_json(request):
        return await objects.note_document(request, ap_id)
    await current_user(request)
    async with rt.sessions() as session:
        note = await session.scalar(select(Note).where(Note.ap_id == ap_id, Note.local.is_(True)))
    if note is None or note.visibility not in ("public", "unlisted"):
        raise web.HTTPNotFound(text="There is no such page on this node.")
    if note.deleted_at is not None:
        raise web.HTTPGone(text="This announcement was deleted.")
    response = aiohttp_jinja2.render_template("note.html", request, {"note": note})
    response.headers["Vary"] = "Accept"
    return response


@aiohttp_jinja2.template("login.html")
async def login_form(request: web.Request) -> dict:
    await current_user(request)
    return {"error": None, "username": ""}


async def login(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    rt: Runtime = request.app[RUNTIME]
    username = (form.get("username") or "").strip()
    async with rt.sessions() as session:
        user = await actor_service.user_by_username(session, username) if username else None
    if user is None or not actor_service.verify_password(user.password_hash, form.get("password", "")):
        context = {"error": "Unknown handle or wrong password.", "username": username}
        return aiohttp_jinja2.render_template("login.html", request, context, status=400)
    # Session rotation: a new nonce (and so a new CSRF token) at every login.
    request["session"] = request.app[SIGNER].new_session(user.id)
    request["session_changed"] = True
    raise web.HTTPSeeOther(form.get("next") if str(form.get("next", "")).startswith("/") else "/")


async def logout(request: web.Request) -> web.StreamResponse:
    await read_form(request)
    request["session"] = request.app[SIGNER].new_session(None)
    request["session_changed"] = True
    raise web.HTTPSeeOther("/")


async def announce(request: web.Request) -> web.StreamResponse:
    """An organisation's admin or official publishes an announcement (federated as a Note)."""
    form = await read_form(request)
    user = await current_user(request)
    rt: Runtime = request.app[RUNTIME]
    username = request.match_info["username"]
    if user is None:
        raise web.HTTPSeeOther(f"/login?next=/actors/{username}")
    async with rt.sessions() as session, session.begin():
        actor = await actor_service.local_actor(session, username)
        if actor is None or not await actor_service.has_role(session, user, actor, "admin", "official"):
            raise web.HTTPForbidden(text="Only the organisation's admins can publish here.")
        try:
            await notes.publish_announcement(session, rt.uris, actor,
                                             text_to_html(form.get("content", "")))
        except CivicError as exc:
            raise web.HTTPBadRequest(text=exc.reason) from None
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(f"/actors/{username}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", home, name="home")
    app.router.add_get("/actor", instance_actor)
    app.router.add_get("/actors/{username}", actor_page, name="actor")
    app.router.add_get("/notes/{token}", note_page, name="note")
    app.router.add_get("/login", login_form, name="login")
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_post("/actors/{username}/announce", announce)
