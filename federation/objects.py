"""AS2 documents served at our ids: actors, notes, activities and paged collections.

Who reads an AS2 document is a remote actor proven by a signed fetch, or nobody
(:func:`signed_reader`); what it may read is node/visibility.py's answer (SECURITY.md rule 24).
A thing it may not read answers exactly the 404 of a missing one (:func:`not_found`)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.collections import PAGE_SIZE, ordered_collection, ordered_collection_page
from activities.notes import note_to_as, tombstone_to_as
from activities.vocabulary import ACTIVITY_JSON
from federation.participation_documents import local_actor_as
from federation.policy import refused
from federation.runtime import RUNTIME, Runtime
from federation.signatures import SignatureError, key_id_of
from federation.verification import verify_signed
from node import visibility
from node.models import Activity, Actor, HiddenContent, Note
from node.services import actors as actor_service
from node.services import coalitions, discussions, follows
from node.uris import INSTANCE_USERNAME

AS_TYPES = ("application/activity+json", "application/ld+json")
# The key owner of a signature the middleware already verified (authorized fetch), and the reader
# a request turned out to be (verified at most once per request).
SIGNER = web.RequestKey("civic_signer", str)
READER = web.RequestKey("civic_reader", visibility.Reader)


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
        request[SIGNER] = await verify_signed(request, b"")
    except SignatureError as exc:
        return web.json_response({"error": exc.reason}, status=401)
    return await handler(request)


async def signed_reader(request: web.Request) -> visibility.Reader:
    """Who reads this AS2 GET: the remote actor whose HTTP signature verifies, else anonymous.

    Verified only here, when access depends on it (``followers`` things; see ``signed_fetch`` for
    why not always), and once per request. A signature that does not verify, or a signer we have
    never met (it cannot be anyone's follower), reads as anonymous: the 404 of a missing thing."""
    if READER in request:
        return request[READER]
    reader = visibility.ANONYMOUS
    owner = request.get(SIGNER)
    if owner is None and key_id_of({k.lower(): v for k, v in request.headers.items()}) is not None:
        try:
            owner = await verify_signed(request, b"")
        except SignatureError:
            owner = None
    if owner:
        rt: Runtime = request.app[RUNTIME]
        async with rt.sessions() as session:
            actor_id = await session.scalar(select(Actor.id).where(Actor.ap_id == owner, Actor.local.is_(False)))
        reader = visibility.Reader.of_remote(actor_id)
    request[READER] = reader
    return reader


async def readable(request: web.Request, session: AsyncSession, organization_id: int, level: str) -> bool:
    """May the reader of this AS2 GET read a thing of ``organization_id`` at ``level``? ``members``
    never answers as AS2; ``followers`` only to a signed fetch by an approved follower."""
    if not visibility.federates(level):
        return False
    if visibility.admits(level, visibility.NOBODY):
        return True  # no signature to verify
    return await visibility.may_read(session, await signed_reader(request), organization_id, level)


async def actor_document(request: web.Request, username: str) -> web.Response:
    rt: Runtime = request.app[RUNTIME]
    async with rt.sessions() as session:
        actor = await actor_service.local_actor(session, username)
        if actor is None or not await actor_readable(request, session, actor):
            return not_found()
        if actor.deleted_at is not None:  # an erased account: SECURITY.md rule 9
            return as_response(tombstone_to_as(actor.ap_id, actor.type, actor.deleted_at), status=410)
        # A discussion's Group (FEP-1b12) is None while it does not federate.
        doc = await local_actor_as(session, rt.uris, actor)
    return as_response(doc) if doc else not_found()


async def actor_readable(request: web.Request, session: AsyncSession, actor: Actor) -> bool:
    """A discussion's Group, its outbox and its followers exist for a reader exactly when the
    discussion does (approved, and readable as AS2 by this reader); a coalition's when it
    federates; other actors always do."""
    if actor.type != "Group":
        return True
    discussion = await discussions.by_group(session, actor)
    if discussion is None:
        # A coalition's Group, outbox and followers exist wherever it federates: a ``members``
        # coalition never leaves the node (its document must stay fetchable otherwise: its key).
        coalition = await coalitions.of_actor(session, actor)
        return coalition is None or visibility.federates(coalition.visibility)
    if discussion.moderation != "approved":
        return False
    return await readable(request, session, discussion.organization_id,
                          await discussions.level(session, discussion))


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


def _outbox_filter(actor: Actor, owner_id: int, who: visibility.Standing) -> tuple:
    """The actor's activities listed to a reader of this standing in ``owner_id`` (the actor, or
    the organisation of a discussion's Group): not withdrawn; at a level listed to the reader;
    open-level ones still public (hidden content takes them out, SECURITY.md rule 22) and others
    not carrying hidden content. Activities about another organisation list only when public."""
    open_levels = visibility.readable_levels(visibility.NOBODY)
    hidden = select(HiddenContent.target_ap_id)
    return (
        Activity.actor_id == actor.id, Activity.withdrawn_at.is_(None),
        Activity.level.in_(visibility.listed_levels(who)),
        or_(Activity.organization_id.is_(None), Activity.organization_id == owner_id,
            Activity.level.in_(visibility.listed_levels(visibility.NOBODY))),
        or_(and_(Activity.level.in_(open_levels), Activity.public.is_(True)),
            and_(Activity.level.not_in(open_levels), Activity.object_ap_id.is_not(None),
                 Activity.object_ap_id.not_in(hidden))),
    )


async def outbox(request: web.Request) -> web.Response:
    """The actor's outbox: what the (signed) reader may list, counted the same way."""
    rt: Runtime = request.app[RUNTIME]
    page = _page_number(request)
    async with rt.sessions() as session:
        actor = await actor_service.local_actor(session, request.match_info["username"])
        if actor is None or not await actor_readable(request, session, actor):
            return not_found()
        owner_id = actor.id
        if actor.type == "Group" and (discussion := await discussions.by_group(session, actor)) is not None:
            owner_id = discussion.organization_id
        who = await visibility.standing(session, await signed_reader(request), owner_id)
        where = _outbox_filter(actor, owner_id, who)
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
    page = _page_number(request)
    async with rt.sessions() as session:
        actor = await actor_service.local_actor(session, request.match_info["username"])
        if actor is None or not await actor_readable(request, session, actor):
            return not_found()
        collection_id = actor.followers_url if of == "followers" else f"{actor.ap_id}/following"
        lister = follows.followers if of == "followers" else follows.following
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
        if note is None or not await readable(request, session, note.actor_id, note.visibility):
            return not_found()
        if note.deleted_at is not None:
            return as_response(tombstone_to_as(note.ap_id, "Note", note.deleted_at), status=410)
        return as_response(note_to_as(note, note.actor))


def _object_id(document: dict) -> str | None:
    """The id of what an activity carries (the inner object's for an Announce of an activity)."""
    inner = document.get("object")
    if isinstance(inner, str):
        return inner
    if isinstance(inner, dict):
        nested = inner.get("object")
        if inner.get("type") in ("Create", "Update", "Delete", "Like", "Join", "Undo") and nested is not None:
            return nested if isinstance(nested, str) else nested.get("id") if isinstance(nested, dict) else None
        return inner.get("id")
    return None


async def activity_document(request: web.Request) -> web.Response:
    """An activity we sent, at its id: 404 exactly when its object would be (its level and
    organisation, hidden content), 410 with a Tombstone once its object was deleted (it was
    withdrawn, node/services/outbox.withdraw). Rows stored before they recorded their object
    (``object_ap_id`` None) answer by their level and their ``public`` flag."""
    rt: Runtime = request.app[RUNTIME]
    # /activities/<token>, and the ids some activities take after their object's
    # (<note>/activity, <proposal>/answer/activity): the stored id is this URL.
    ap_id = rt.uris.base + request.path
    async with rt.sessions() as session:
        activity = await session.scalar(select(Activity).where(Activity.ap_id == ap_id))
        if activity is None or not await readable(
                request, session, activity.organization_id or activity.actor_id, activity.level):
            return not_found()
        if activity.withdrawn_at is not None:
            return as_response(tombstone_to_as(activity.ap_id, activity.type, activity.withdrawn_at), status=410)
        carried = activity.object_ap_id or _object_id(activity.document)
        if carried and await session.scalar(select(HiddenContent.id).where(HiddenContent.target_ap_id == carried)):
            return not_found()  # hidden by the moderators (SECURITY.md rule 22)
        if activity.object_ap_id is None and not activity.public:
            return not_found()
    return as_response(activity.document)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/actors/{username}/outbox", outbox)
    app.router.add_get("/actors/{username}/followers", followers)
    app.router.add_get("/actors/{username}/following", following)
    app.router.add_get("/activities/{token}", activity_document)
    app.router.add_get("/notes/{token}/activity", activity_document)
    app.router.add_get("/proposals/{token}/answer/activity", activity_document)
