"""Remote follow: a visitor types their fediverse handle and is sent to their server's follow page."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from aiohttp import web
from sqlalchemy import select
from yarl import URL

from federation.fetch import FetchError
from federation.resolve import split_handle
from federation.runtime import RUNTIME, Runtime
from node.errors import InvalidInput
from node.models import Actor
from web import ratelimit
from web.i18n import translations
from web.render import read_form, render

# OStatus remote follow, still what Mastodon, Pleroma/Akkoma, Misskey and GoToSocial publish in
# their WebFinger JRD: {"rel": SUBSCRIBE_REL, "template": "https://host/authorize_interaction?uri={uri}"}.
SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"
HOST_RE = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::[0-9]{1,5})?$")
MAX_HANDLE = 320


def _schemes(rt: Runtime) -> tuple[str, ...]:
    # Plain http only on a development node (loopback peers in tests).
    return ("https", "http") if rt.settings.development else ("https",)


def form_targets(rt: Runtime) -> tuple[str, ...]:
    """CSP form-action sources of the follow page: its POST answers with a 303 to another server."""
    return tuple(f"{scheme}:" for scheme in _schemes(rt))


async def _local_target(rt: Runtime, target: str) -> Actor:
    """The local, followable actor whose id is ``target`` (404 otherwise: no open redirector)."""
    if not target or not rt.uris.is_local(target):
        raise web.HTTPNotFound()
    async with rt.sessions() as session:
        actor = await session.scalar(
            select(Actor).where(Actor.ap_id == target, Actor.local.is_(True))
        )
    if actor is None or actor.type == "Application":
        raise web.HTTPNotFound()
    return actor


def _page_context(rt: Runtime, actor: Actor, handle: str = "", error: str | None = None) -> dict:
    return {
        "actor": actor,
        "target": actor.ap_id,
        "handle": handle,
        "error": error,
        "actor_handle": f"@{actor.username}@{rt.uris.domain}",
    }


async def follow_form(request: web.Request) -> web.Response:
    rt: Runtime = request.app[RUNTIME]
    actor = await _local_target(rt, request.query.get("target", ""))
    return await render(
        request, "follow.html", _page_context(rt, actor), form_targets=form_targets(rt)
    )


def split_visitor_handle(handle: str) -> tuple[str, str]:
    """(name, host) of ``name@host`` / ``@name@host``; InvalidInput when it is not one."""
    if len(handle) > MAX_HANDLE:
        raise InvalidInput("handle too long")
    name, host = split_handle(handle)
    host = host.lower()
    if not HOST_RE.match(host) or any(char in name for char in "/?#@ "):
        raise InvalidInput(f"{handle!r} is not a handle like name@example.org")
    return name, host


def subscribe_url(jrd: dict, target: str, schemes: tuple[str, ...]) -> str | None:
    """The JRD's subscribe template filled with the percent-encoded ``target`` (http(s) only)."""
    for link in jrd.get("links") or []:
        if not isinstance(link, dict) or link.get("rel") != SUBSCRIBE_REL:
            continue
        template = link.get("template")
        if not isinstance(template, str) or "{uri}" not in template:
            continue
        url = template.replace("{uri}", quote(target, safe=""))
        parts = urlsplit(url)
        # Never send the visitor to javascript:, data: or a host-less URL a remote put there;
        # printable ASCII only, as a Location header must be.
        if parts.scheme in schemes and parts.netloc and all(33 <= ord(c) < 127 for c in url):
            return url
    return None


async def follow(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    rt: Runtime = request.app[RUNTIME]
    tr = translations(request)
    actor = await _local_target(rt, form.get("target", ""))
    handle = (form.get("handle") or "").strip()
    try:
        name, host = split_visitor_handle(handle)
    except InvalidInput:
        error = tr.gettext("This is not a fediverse handle. Write it like name@example.org.")
        return await _again(request, rt, actor, handle, error)
    # Each lookup makes this node fetch from a host the visitor names: limited per client address,
    # for every process of the node together (SECURITY.md rule 17).
    wait = await ratelimit.hit(request, "follow_lookup", ratelimit.client_key(request))
    if wait:
        error = tr.gettext("Too many look-ups from your address. Retry in %(minutes)d min.") % {
            "minutes": ratelimit.minutes(wait)}
        return ratelimit.retry_after(await _again(request, rt, actor, handle, error, status=429), wait)
    scheme = "http" if rt.settings.development else "https"
    resource = quote(f"acct:{name}@{host}", safe=":@")
    try:
        jrd = await rt.fetcher.get_jrd(
            f"{scheme}://{host}/.well-known/webfinger?resource={resource}"
        )
    except FetchError:
        error = tr.gettext(
            "Your server %(host)s did not answer or does not know %(handle)s. Check the handle."
        ) % {"host": host, "handle": f"{name}@{host}"}
        return await _again(request, rt, actor, handle, error)
    url = subscribe_url(jrd, actor.ap_id, _schemes(rt))
    if url is None:
        error = tr.gettext(
            "Your server %(host)s does not offer remote follow. Search for %(account)s in your "
            "fediverse app and follow from there."
        ) % {"host": host, "account": f"@{actor.username}@{rt.uris.domain}"}
        return await _again(request, rt, actor, handle, error)
    raise web.HTTPSeeOther(URL(url, encoded=True))  # as built: yarl would decode %2F and %3A


async def _again(request: web.Request, rt: Runtime, actor: Actor, handle: str, error: str,
                 status: int = 400):
    return await render(
        request,
        "follow.html",
        _page_context(rt, actor, handle, error),
        status=status,
        form_targets=form_targets(rt),
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/follow", follow_form, name="follow")
    app.router.add_post("/follow", follow)
