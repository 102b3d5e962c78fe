"""Which remote addresses the node may connect to: URL checks and a resolver that enforces them."""

# SECURITY.md rule 5 (Fedify CVE-2024-39687, Mastodon GHSA-vwhj-3g83-v276). Two layers: the URL is
# checked before each request (IP literals never reach a resolver in aiohttp), and the connector's
# resolver refuses names that resolve to a blocked address, so aiohttp only ever connects to
# addresses checked here: no second look-up, no DNS-rebinding window.

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# What `development` opens up: the machine itself and private networks (tests run on 127.0.0.x).
# Link-local (cloud metadata at 169.254.169.254), multicast, unspecified and reserved stay shut.
_DEVELOPMENT_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "::1/128",
        "fc00::/7",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215, local use
# inet_aton accepts these per label: 0x-hex, 0-prefixed octal, decimal (WHATWG URL "IPv4 parser").
_NUMERIC_LABEL = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")


class UnsafeURL(Exception):
    """A URL or address the node refuses to fetch; `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class BlockedAddress(UnsafeURL, OSError):
    """Raised by the resolver: an OSError, so aiohttp passes it on inside ClientConnectorError."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_blocked_address(ip: str | IPAddress, *, allow_private: bool = False) -> bool:
    """True for every address a remote fetch must not reach: loopback, private (RFC 1918, ULA),
    CGNAT, link-local (169.254.169.254), unspecified, multicast, reserved, documentation ranges,
    and IPv6 forms that embed such an IPv4 address. `allow_private` (development) lets loopback
    and private networks through, never link-local or the rest."""
    try:
        address = ip if isinstance(ip, IPAddress) else ipaddress.ip_address(ip)
    except ValueError:
        return True
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
        if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d is that IPv4 address on the wire
            return is_blocked_address(address.ipv4_mapped, allow_private=allow_private)
        if int(address) >> 32 == 0 and int(address) > 1:
            return True  # IPv4-compatible ::a.b.c.d, deprecated by RFC 4291 §2.5.5.1
        embedded = _embedded_ipv4(address)
        if embedded is not None:  # 6to4 / NAT64 route to the embedded IPv4 address
            return is_blocked_address(embedded)
        if address in _NAT64_LOCAL or address.teredo is not None:
            return True
    if address.is_multicast or address.is_unspecified or address.is_link_local:
        return True
    if allow_private and any(address in net for net in _DEVELOPMENT_NETWORKS):
        return False  # checked before is_reserved: ::1 lies in the reserved ::/8
    return address.is_reserved or not address.is_global


def _numeric_host(host: str) -> IPAddress | None:
    """Decode a host the way inet_aton and the WHATWG URL parser do (`0x7f.1`, `2130706433`,
    `0177.0.0.1`, `127.1`); None for a host name. Raises UnsafeURL for a malformed number."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise UnsafeURL(f"{host!r} is not a valid IPv6 address") from None
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if not _NUMERIC_LABEL.fullmatch(labels[-1]):
        return None  # WHATWG: a host is an IPv4 address exactly when its last label is a number
    numbers = []
    for label in labels:
        try:
            if label[:2].lower() == "0x":
                numbers.append(int(label[2:] or "0", 16))
            elif len(label) > 1 and label.startswith("0"):
                numbers.append(int(label[1:], 8))
            else:
                numbers.append(int(label, 10))
        except ValueError:
            raise UnsafeURL(f"{host!r} looks numeric but is not an address") from None
    if len(numbers) > 4 or any(n > 255 for n in numbers[:-1]):
        raise UnsafeURL(f"{host!r} looks numeric but is not an address")
    if numbers[-1] >= 256 ** (5 - len(numbers)):
        raise UnsafeURL(f"{host!r} looks numeric but is not an address")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def check_url_syntax(url: str, allow_private: bool) -> str:
    """Return `url` if the node may fetch it, else raise UnsafeURL. Only http(s); https unless
    `allow_private` (development); no user information; numeric hosts decoded and checked,
    and accepted only in canonical dotted-decimal form. Host names are checked by SafeResolver."""
    if any(ch <= " " or ch in "\x7f\\" for ch in url):
        raise UnsafeURL("the URL contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL("the URL is malformed") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeURL(f"only http and https URLs can be fetched, not {scheme or 'this'!r}")
    if scheme != "https" and not allow_private:
        raise UnsafeURL("plain http is refused: remote servers must use https")
    if "@" in parts.netloc:
        raise UnsafeURL("URLs with user information are refused")
    host = parts.hostname or ""
    if not host or "%" in host or port == 0:
        raise UnsafeURL("the URL has no usable host")
    address = _numeric_host(host)
    if address is not None:
        if is_blocked_address(address, allow_private=allow_private):
            raise UnsafeURL(f"the address {address} ({host}) is not allowed")
        if isinstance(address, ipaddress.IPv4Address) and str(address) != host:
            raise UnsafeURL(f"numeric host {host!r} must be written as {address}")
    elif not allow_private and (
        host == "localhost" or host.endswith((".localhost", ".localhost."))
    ):
        raise UnsafeURL("localhost is not allowed")
    return url


class SafeResolver(AbstractResolver):
    """aiohttp resolver that wraps the default ThreadedResolver and refuses a name when any of
    its addresses is blocked; aiohttp connects only to the addresses returned from here."""

    def __init__(self, allow_private: bool = False, resolver: AbstractResolver | None = None):
        self.allow_private = allow_private
        self._resolver = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._resolver is None:
            self._resolver = ThreadedResolver()  # needs the running loop, hence created here
        results = await self._resolver.resolve(host, port, family=family)
        for result in results:
            if is_blocked_address(result["host"], allow_private=self.allow_private):
                # One bad address refuses the name: a host mixing public and internal
                # addresses is either misconfigured or an attack.
                raise BlockedAddress(f"{host} resolves to {result['host']}, which is not allowed")
        if not results:
            raise OSError(f"{host} has no address")
        return results

    async def close(self) -> None:
        if self._resolver is not None:
            await self._resolver.close()
