"""WebFinger (with FEP-d556 for the instance), host-meta and NodeInfo 2.0/2.1."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func, select

from federation.objects import actor_readable
from federation.runtime import RUNTIME, Runtime
from node import __version__, visibility
from node.models import Actor, User, utcnow
from node.services import actors as actor_service
from node.services.notes import count_local_notes
from node.uris import INSTANCE_USERNAME

JRD = "application/jrd+json"
ACTIVITY_JSON = "application/activity+json"
SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"


def _jrd(subject: str, actor: Actor, aliases: list[str] | None = None) -> dict:
    links = [
        {"rel": "self", "type": ACTIVITY_JSON, "href": actor.ap_id},
        {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": actor.url},
    ]
    return {"subject": subject, "aliases": aliases or [actor.ap_id], "links": links}


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


async def webfinger(request: web.Request) -> web.Response:
    rt: Runtime = request.app[RUNTIME]
    uris = rt.uris
    resource = request.query.get("resource", "").strip()
    if not resource:
        return _error(400, "the 'resource' parameter is required")
    async with rt.sessions() as session:
        # FEP-d556: the instance actor answers for the server's own URL.
        if resource.rstrip("/") == uris.base:
            actor = await actor_service.local_actor(session, INSTANCE_USERNAME)
            if actor is None:
                return _error(404, "no instance actor")
            return web.json_response(_jrd(uris.home(), actor), content_type=JRD)
        username = None
        if resource.startswith("acct:"):
            name, _, host = resource[5:].rpartition("@")
            if host.lower() != uris.domain.lower():
                return _error(404, f"{host!r} is not this node")
            username = name.lower()
        elif resource.startswith(uris.base):
            username = uris.username_from_actor(resource)
        if not username:
            return _error(404, "unknown resource")
        actor = await actor_service.local_actor(session, username)
        # The Group of a discussion the reader may not read answers like a missing handle
        # (SECURITY.md rule 24): its existence is not for them to learn.
        hidden = actor is not None and not await actor_readable(request, session, actor)
    if actor is None or hidden or actor.username == INSTANCE_USERNAME and not resource.startswith("acct:"):
        return _error(404, "no such actor")
    if actor.deleted_at is not None:  # an erased account: its handle is reserved, nobody answers to it
        return _error(410, "this account was deleted")
    subject = f"acct:{actor.username}@{uris.domain}"
    return web.json_response(_jrd(subject, actor), content_type=JRD,
                             headers={"Access-Control-Allow-Origin": "*"})


async def host_meta(request: web.Request) -> web.Response:
    base = request.app[RUNTIME].settings.base_url
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template="{base}/.well-known/webfinger?resource={{uri}}"/>\n'
        "</XRD>\n"
    )
    return web.Response(text=xml, content_type="application/xrd+xml")


async def nodeinfo_links(request: web.Request) -> web.Response:
    rt: Runtime = request.app[RUNTIME]
    base = rt.settings.base_url
    return web.json_response({
        "links": [
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": f"{base}/nodeinfo/2.0"},
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": f"{base}/nodeinfo/2.1"},
            # FEP-2677: where to find the instance's Application actor.
            {"rel": "https://www.w3.org/ns/activitystreams#Application",
             "href": rt.uris.instance_actor()},
        ]
    })


async def _usage(rt: Runtime) -> dict:
    async with rt.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(User)) or 0
        orgs = await session.scalar(
            select(func.count()).select_from(Actor)
            .where(Actor.local.is_(True), Actor.type == "Organization")
        ) or 0
        # Only what anyone may list is counted (SECURITY.md rule 24).
        posts = await count_local_notes(session, visibility.listed_levels(visibility.NOBODY))
        now = utcnow()
        # Activity is approximated by account creation until participation is tracked per user.
        month = await session.scalar(
            select(func.count()).select_from(User).where(User.created_at >= now.replace(day=1))
        ) or 0
    return {"users": {"total": total, "activeMonth": month, "activeHalfyear": total},
            "localPosts": posts, "organizations": orgs}


async def _nodeinfo(request: web.Request, version: str) -> web.Response:
    rt: Runtime = request.app[RUNTIME]
    usage = await _usage(rt)
    organizations = usage.pop("organizations")
    software = {"name": "civic-node", "version": __version__}
    if version == "2.1":
        software["homepage"] = rt.settings.base_url
    doc = {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": rt.settings.open_registrations,
        "usage": usage,
        "metadata": {"nodeName": rt.settings.instance_name, "organizations": organizations},
    }
    return web.json_response(doc)


async def nodeinfo_20(request: web.Request) -> web.Response:
    return await _nodeinfo(request, "2.0")


async def nodeinfo_21(request: web.Request) -> web.Response:
    return await _nodeinfo(request, "2.1")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/.well-known/webfinger", webfinger)
    app.router.add_get("/.well-known/host-meta", host_meta)
    app.router.add_get("/.well-known/nodeinfo", nodeinfo_links)
    app.router.add_get("/nodeinfo/2.0", nodeinfo_20)
    app.router.add_get("/nodeinfo/2.1", nodeinfo_21)
