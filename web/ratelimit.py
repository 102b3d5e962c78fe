"""Rate limits of the web forms: who the client is, and the node-wide counters (SECURITY.md rule 17)."""

from __future__ import annotations

import ipaddress
import math
from functools import lru_cache

from aiohttp import web

from federation.runtime import RUNTIME
from node.config import Settings
from node.services import limits

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _trusted(settings: Settings) -> tuple[Network, ...]:
    return settings.proxy_networks


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def client_address(request: web.Request) -> str:
    """The client's address: the socket peer, or — only when the peer is one of the
    ``trusted_proxies`` — the last address in X-Forwarded-For that is not a trusted proxy (the
    proxies append, so what is left of it was written by the client and is not believed)."""
    peer = request.remote or ""
    trusted = _trusted(request.app[RUNTIME].settings)
    current = _address(peer)
    if current is None or not trusted:
        return str(current or peer)
    forwarded = ",".join(request.headers.getall("X-Forwarded-For", []))
    hops = [hop for hop in forwarded.split(",") if hop.strip()]
    while any(current in network for network in trusted) and hops:
        previous = _address(hops.pop())
        if previous is None:  # garbage where a proxy should have written an address: stop here
            break
        current = previous
    return str(current)


def client_key(request: web.Request) -> str:
    """The client address as a rate-limit key: an IPv6 client is counted by its /64, which one
    household or server usually gets whole (it could otherwise change address at every request)."""
    text = client_address(request)
    address = _address(text)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return text


def _setting(request: web.Request, name: str) -> tuple[int, int]:
    settings = request.app[RUNTIME].settings
    return getattr(settings, f"{name}_limit"), getattr(settings, f"{name}_window")


async def hit(request: web.Request, name: str, key: str) -> float | None:
    """Count one hit of the ``name`` limit (``login_ip``, ``registration`` …) for ``key``."""
    limit, window = _setting(request, name)
    return await limits.hit(request.app[RUNTIME].sessions, f"{name}:{key}", limit, window)


async def check(request: web.Request, name: str, key: str) -> float | None:
    """Would one more hit of the ``name`` limit for ``key`` be allowed? (Nothing recorded.)"""
    limit, window = _setting(request, name)
    return await limits.check(request.app[RUNTIME].sessions, f"{name}:{key}", limit, window)


async def refund(request: web.Request, name: str, key: str) -> None:
    """Give back the hit just counted (a log-in that succeeded)."""
    _, window = _setting(request, name)
    await limits.refund(request.app[RUNTIME].sessions, f"{name}:{key}", window)


def retry_after(response: web.StreamResponse, wait: float) -> web.StreamResponse:
    response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


def minutes(wait: float) -> int:
    """A wait in whole minutes, for the visitor."""
    return max(1, math.ceil(wait / 60))


# -- log-in attempts (the log-in form and the password change) --------------------------------------


async def count_attempt(request: web.Request, handle: str | None) -> float | None:
    """Count a password attempt before checking it (parallel guesses are all counted); None when
    it may go ahead, else the seconds to wait. A successful one is given back (:func:`succeeded`),
    so what the limits count is failures.

    Per client address (tight: one stranger gets few guesses), then per account (high, from
    anywhere: a stranger alone cannot lock someone out, a brute force spread over many addresses
    still stops; an address already refused does not count against the account). SECURITY.md
    rule 17."""
    wait = await hit(request, "login_ip", client_key(request))
    if wait is None and handle is not None:
        wait = await hit(request, "login_account", handle)
    return wait


async def succeeded(request: web.Request, handle: str) -> None:
    """The password was right: the address gets its attempt back, the account's failures end."""
    await refund(request, "login_ip", client_key(request))
    await limits.clear(request.app[RUNTIME].sessions, f"login_account:{handle}")


def too_many_text(tr, wait: float) -> str:
    return tr.gettext("Too many failed attempts. Retry in %(minutes)d min.") % {
        "minutes": minutes(wait)
    }
