"""AS2 documents served at our ids: actors, notes, activities and paged collections."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func, select

from activities.collections import PAGE_SIZE, ordered_collection, ordered_collection_page
from activities.notes import note_to_as, tombstone_to_as
from activities.vocabulary import ACTIVITY_JSON
from federation.participation_documents import local_actor_as
from federation.policy import refused
from federation.runtime import RUNTIME, Runtime
from federation.signatures import SignatureError, key_id_of
from federation.verification import verify_signed
from node.models import Activity, Actor, Note
from node.services import actors as actor_service
from node.services import follows
from node.uris import INSTANCE_USERNAME

AS_TYPES = ("application/activity+json", "application/ld+json")


def wants_activity_json(request: web.Request) -> bool:
    """Content negotiation: AS2 for activity+json / ld+json requests, HTML otherwise."""
    accept = request.headers.get("Accept", "").lower()
    return any(t in accept for t in AS_TYPES)


def as_response(doc: dict, status: int = 200) -> web.Response:
    return web.json_response(doc, status=status, content_type=ACTIVITY_JSON,
                             headers={"Vary": "Accept", "Cache-Control": "max-age=60"})


def not_found() -> web.Response:
    # The same answer for missing and non-public objects (SECURITY.md rule 10).
    return web.json_response({"error": "not found"}, status=404, headers={"Vary": "Accept"})


@web.middleware
async def signed_fetch(request: web.Request, handler):
    """Authorized fetch on AS2 GETs. A signature's key id from a blocked domain gets 403. With
    ``authorized_fetch`` on, every GET but the instance actor's must carry a valid signature.

    Signatures are only verified when access depends on them: verifying means fetching the
    signer's key, and two nodes verifying each other's key fetches would wait on each other.
    The instance actor is always served unsigned, which breaks that cycle (as Mastodon does).
    """
    if request.method != "GET" or not wants_activity_json(request):
        return await handler(request)
    rt: Runtime = request.app[RUNTIME]
    key_id = key_id_of({k.lower(): v for k, v in request.headers.items()})
    if key_id is not None and refused(key_id, rt):
        return web.json_response({"error": "this node does not federate with your domain (blocked, or not on its allow list)"}, status=403)
    if not rt.settings.authorized_fetch or request.path == "/actor":
        return await handler(request)
    if key_id is None:
        return web.json_response({"error": "this node requires signed requests"}, status=401)
    try:
        await verify_signed(request, b"")
    except SignatureError as exc:
        return web.json_response({"error": exc.reason}, status=401)
    return await handler(request)


async def _actor(rt: Runtime, username: str) -> Actor | None:
    async with rt.sessions() as session:
        return await actor_service.local_actor(session, username)


async def actor_document(request: web.Request, username: str) -> web.Response:
    rt: Runtime = request.app[RUNTIME]
    async with rt.sessions() as session:
        actor = await actor_service.local_actor(session, username)
        if actor is None:
            return not_found()
        # A discussion's Group (FEP-1b12) is None while it does not federate.
        doc = await local_actor_as(session, rt.uris, actor)
    return as_response(doc) if doc else not_found()


async def instance_actor_document(request: web.Request) -> web.Response:
    return await actor_document(request, INSTANCE_USERNAME)


def _page_number(request: web.Request) -> int | None:
    raw = request.query.get("page")
    if raw is None:
        return None
    # isdigit() alone accepts '²', which int() refuses: ASCII digits only (SECURITY.md rule 19).
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 100_000:
        raise web.HTTPBadRequest(text='{"error": "page must be a positive number"}',
                                 content_type="application/json")
    return int(raw)


async def outbox(request: web.Request) -> web.Response:
    rt: Runtime = request.app[RUNTIME]
    actor = await _actor(rt, request.match_info["username"])
    if actor is None:
        return not_found()
    page = _page_number(request)
    where = (Activity.actor_id == actor.id, Activity.public.is_(True))
    async with rt.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(Activity).where(*where)) or 0
        if page is None:
            return as_response(ordered_collection(actor.outbox, total))
        rows = await session.scalars(
            select(Activity.document).where(*where).order_by(Activity.id.desc())
            .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        )
        items = [{k: v for k, v in doc.items() if k != "@context"} for doc in rows]
    return as_response(ordered_collection_page(actor.outbox, page, items, total))


async def _relations(request: web.Request, of: str) -> web.Response:
    rt: Runtime = request.app[RUNTIME]
    actor = await _actor(rt, request.match_info["username"])
    if actor is None:
        return not_found()
    page = _page_number(request)
    collection_id = actor.followers_url if of == "followers" else f"{actor.ap_id}/following"
    lister = follows.followers if of == "followers" else follows.following
    async with rt.sessions() as session:
        total = await follows.count(session, actor, of=of)
        if page is None:
            return as_response(ordered_collection(collection_id, total))
        members = await lister(session, actor, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    return as_response(ordered_collection_page(collection_id, page, [a.ap_id for a in members], total))


async def followers(request: web.Request) -> web.Response:
    return await _relations(request, "followers")


async def following(request: web.Request) -> web.Response:
    return await _relations(request, "following")


async def note_document(request: web.Request, ap_id: str) -> web.Response:
    rt: Runtime = request.app[RUNTIME]
    async with rt.sessions() as session:
        note = await session.scalar(select(Note).where(Note.ap_id == ap_id, Note.local.is_(True)))
        if note is None or note.visibility not in ("public", "unlisted"):
            return not_found()
        if note.deleted_at is not None:
            return as_response(tombstone_to_as(note.ap_id, "Note", note.deleted_at), status=410)
        return as_response(note_to_as(note, note.actor))


async def activity_document(request: web.Request) -> web.Response:
    rt: Runtime = request.app[RUNTIME]
    ap_id = rt.uris.activity(request.match_info["token"])
    async with rt.sessions() as session:
        activity = await session.scalar(
            select(Activity).where(Activity.ap_id == ap_id, Activity.public.is_(True))
        )
    if activity is None:
        return not_found()
    return as_response(activity.document)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/actors/{username}/outbox", outbox)
    app.router.add_get("/actors/{username}/followers", followers)
    app.router.add_get("/actors/{username}/following", following)
    app.router.add_get("/activities/{token}", activity_document)
