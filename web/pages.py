"""Pages: home, actor and note pages (content-negotiated), announcements."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from activities.html import text_to_html
from federation import objects
from federation.runtime import RUNTIME, Runtime
from node import changes, visibility
from node.errors import CivicError
from node.models import Note
from node.services import actors as actor_service
from node.services import follows, notes
from web.cache import depends, shows
from web.i18n import _
from web.participation.organisations import page_for_actor
from web.render import add_vary, current_user, read_form, render


async def home(request: web.Request) -> web.Response:
    rt: Runtime = request.app[RUNTIME]
    async with rt.sessions() as session:
        organizations = await actor_service.list_local_actors(session, "Organization")
    depends(request, changes.SITE)  # web/cache.py
    return await render(request, "home.html", {"organizations": organizations})


async def actor_page(request: web.Request) -> web.StreamResponse:
    username = request.match_info["username"]
    if objects.wants_activity_json(request):
        return await objects.actor_document(request, username)
    if (participation_page := await page_for_actor(request, username)) is not None:
        return participation_page  # organisations and discussion groups (web/participation)
    user = await current_user(request)
    rt: Runtime = request.app[RUNTIME]
    async with rt.sessions() as session:
        actor = await actor_service.local_actor(session, username)
        if actor is None:
            raise web.HTTPNotFound(text=_("There is no such page on this node."))
        if actor.deleted_at is not None:  # an erased account shows nothing of it
            raise web.HTTPGone(text=_("This account was deleted."))
        depends(request, changes.actor(actor.id))  # its notes and followers (web/cache.py)
        # Followers-only notes are listed to the actor's approved followers only (SECURITY.md rule 24).
        who = await visibility.standing(session, visibility.Reader.of_user(user), actor.id)
        posts = await notes.notes_by(session, actor, levels=visibility.listed_levels(who))
        follower_count = await follows.count(session, actor)
        can_post = (
            bool(user)
            and actor.type == "Organization"
            and await actor_service.has_role(session, user, actor, "admin", "official")
        )
        pending = await follows.pending_requests(session, actor) if can_post else []
        timeline = await notes.timeline_of(session, actor) if can_post else []
    context = {
        "actor": actor,
        "posts": posts,
        "follower_count": follower_count,
        "can_post": can_post,
        "pending": pending,
        "timeline": timeline,
        "handle": f"@{actor.username}@{rt.uris.domain}",
    }
    response = await render(request, "actor.html", context)
    add_vary(response, "Accept")
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
    user = await current_user(request)
    async with rt.sessions() as session:
        note = await session.scalar(select(Note).where(Note.ap_id == ap_id, Note.local.is_(True)))
        readable = note is not None and await visibility.may_read(
            session, visibility.Reader.of_user(user), note.actor_id, note.visibility)
    if not readable:  # the 404 of a missing note (SECURITY.md rule 24)
        raise web.HTTPNotFound(text=_("There is no such page on this node."))
    shows(request, note.visibility)  # web/cache.py
    depends(request, changes.actor(note.actor_id))
    if note.deleted_at is not None:
        raise web.HTTPGone(text=_("This announcement was deleted."))
    response = await render(request, "note.html", {"note": note})
    add_vary(response, "Accept")
    return response


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
        if actor is None or not await actor_service.has_role(
            session, user, actor, "admin", "official"
        ):
            raise web.HTTPForbidden(text=_("Only the organisation's admins can publish here."))
        try:
            await notes.publish_announcement(
                session, rt.uris, actor, text_to_html(form.get("content", ""))
            )
        except CivicError as exc:
            raise web.HTTPBadRequest(text=exc.reason) from None
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(f"/actors/{username}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", home, name="home")
    app.router.add_get("/actor", instance_actor)
    app.router.add_get("/actors/{username}", actor_page, name="actor")
    app.router.add_get("/notes/{token}", note_page, name="note")
    app.router.add_post("/actors/{username}/announce", announce)
