"""Finding a remote actor from a handle (acct:name@host, @name@host) or a URL, via WebFinger."""

from __future__ import annotations

from urllib.parse import quote

from activities.coalitions import is_coalition
from activities.normalize import id_of
from federation.runtime import Runtime
from node.errors import InvalidInput, NotFound
from node.models import Actor
from node.services import coalitions
from node.services.actors import require_local_actor

ACTIVITY_TYPES = ("application/activity+json", "application/ld+json")


def split_handle(handle: str) -> tuple[str, str]:
    text = handle.strip()
    text = text[5:] if text.startswith("acct:") else text.lstrip("@")
    name, sep, host = text.rpartition("@")
    if not sep or not name or not host or "/" in host:
        raise InvalidInput(f"{handle!r} is neither a URL nor a handle like name@example.org")
    return name, host


async def webfinger_actor_url(rt: Runtime, handle: str) -> str:
    name, host = split_handle(handle)
    # Plain http only on a development node (loopback peers in tests).
    scheme = "http" if rt.settings.development else "https"
    resource = quote(f"acct:{name}@{host}", safe=":@")
    jrd = await rt.fetcher.get_jrd(f"{scheme}://{host}/.well-known/webfinger?resource={resource}")
    for link in jrd.get("links") or []:
        if (isinstance(link, dict) and link.get("rel") == "self"
                and str(link.get("type", "")).split(";")[0].strip() in ACTIVITY_TYPES):
            href = id_of(link.get("href"))
            if href:
                return href
    raise NotFound(f"{handle} has no ActivityPub actor")


async def resolve_actor(rt: Runtime, target: str) -> Actor:
    """The stored Actor row for a handle or URL, fetched (signed) when needed."""
    url = target if target.startswith(("https://", "http://")) else None
    if url is None and split_handle(target)[1].lower() != rt.uris.domain.lower():
        url = await webfinger_actor_url(rt, target)
    if url is None or rt.uris.is_local(url):
        username = rt.uris.username_from_actor(url) if url else split_handle(target)[0]
        async with rt.sessions() as session:
            return await require_local_actor(session, username or "")
    return await rt.keys.get_actor(url)


async def resolve_organisation(rt: Runtime, target: str) -> Actor:
    """An organisation (here or anywhere) by handle or URL, for a coalition's Invite."""
    actor = await resolve_actor(rt, target)
    if actor.type != "Organization":
        raise InvalidInput(f"{target} is not an organisation")
    return actor


async def resolve_coalition(rt: Runtime, target: str) -> Actor:
    """A coalition (here or anywhere) by handle or URL, for an organisation's Join: a Group whose
    document says ``civic:coalition`` (a remote one is fetched again to read it; a local one is
    looked up)."""
    actor = await resolve_actor(rt, target)
    if actor.type == "Group":
        if actor.local:
            async with rt.sessions() as session:
                if await coalitions.of_actor(session, actor) is not None:
                    return actor
        elif is_coalition(await rt.fetcher.get_json(actor.ap_id)):
            return actor
    raise InvalidInput(f"{target} is not a coalition")
