"""SSRF address policy (SECURITY.md rule 5): URL syntax, encoded IPv4 forms, IPv6 embeddings, resolver."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from aiohttp.abc import AbstractResolver
from hypothesis import given
from hypothesis import strategies as st

from federation.ssrf import (
    BlockedAddress,
    SafeResolver,
    UnsafeURL,
    check_url_syntax,
    is_blocked_address,
)

BLOCKED_V4 = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "100.64.0.0/10",
    "0.0.0.0/8",
    "224.0.0.0/4",
    "240.0.0.0/4",
]


class FixedResolver(AbstractResolver):
    """Answers every name with fixed addresses, like a DNS server under an attacker's control."""

    def __init__(self, *addresses: str):
        self.addresses = addresses
        self.asked: list[str] = []

    async def resolve(self, host, port=0, family=socket.AF_INET):
        self.asked.append(host)
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
            for address in self.addresses
        ]

    async def close(self):
        pass


@pytest.mark.parametrize(
    "url",
    [
        "http://[::127.0.0.1]/",
        "http://0x7f.1/",
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://169.254.169.254/",
        "https://[::ffff:169.254.169.254]/latest/meta-data",
        "https://[2002:a9fe:a9fe::1]/",  # 6to4 around 169.254.169.254
        "https://[64:ff9b::a9fe:a9fe]/",  # NAT64 around 169.254.169.254
        "https://[fd00::1]/",
        "https://[fe80::1]/",
        "https://100.64.0.1/",
        "https://0.0.0.0/",
        "https://localhost/",
    ],
)
def test_check_url_syntax__refuses_internal_addresses(url):
    """Every spelling of loopback, private, link-local or metadata is refused in production."""
    with pytest.raises(UnsafeURL):
        check_url_syntax(url, allow_private=False)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.org/x", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("http://example.org/", "plain http"),
        ("https://user:pw@example.org/", "user information"),
        ("https://example.org@127.0.0.1/", "user information"),
        ("https://exa mple.org/", "spaces"),
        ("https://example.org\\@127.0.0.1/", "backslash"),
        ("https://1.2.3.4.5/", "not an address"),
        ("https://0x08080808/", "must be written as 8.8.8.8"),
        ("https:///path", "no usable host"),
    ],
)
def test_check_url_syntax__refuses_bad_syntax(url, reason):
    """Scheme, user information, odd characters and non-canonical numbers are refused with a reason."""
    with pytest.raises(UnsafeURL) as info:
        check_url_syntax(url, allow_private=False)
    assert reason in info.value.reason


def test_check_url_syntax__accepts_public_https():
    """Public https URLs (by name or canonical address) pass unchanged."""
    for url in (
        "https://mastodon.example/users/alice",
        "https://93.184.216.34:8443/a?b=c",
        "https://[2001:4860:4860::8888]/",
    ):
        assert check_url_syntax(url, allow_private=False) == url


def test_check_url_syntax__development_allows_loopback_and_private_only():
    """Development allows http, loopback and private; link-local, metadata and IPv4-compatible stay refused."""
    for url in (
        "http://127.0.0.2:8001/actor",
        "http://10.1.2.3/",
        "http://[::1]:8080/",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost:8080/",
    ):
        assert check_url_syntax(url, allow_private=True) == url
    for url in (
        "http://169.254.169.254/",
        "http://[fe80::1]/",
        "http://[::127.0.0.1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "gopher://127.0.0.1/",
    ):
        with pytest.raises(UnsafeURL):
            check_url_syntax(url, allow_private=True)


def _encodings(address: ipaddress.IPv4Address) -> list[str]:
    value, octets = int(address), address.packed
    return [
        str(value),
        hex(value),
        ".".join(f"0{octet:o}" for octet in octets),
        ".".join(hex(octet) for octet in octets),
        f"{octets[0]}.{int.from_bytes(octets[1:], 'big')}",
        f"{octets[0]}.{octets[1]}.{int.from_bytes(octets[2:], 'big')}",
        f"{hex(octets[0])}.{int.from_bytes(octets[1:], 'big'):o}",
    ]


@given(
    st.sampled_from(BLOCKED_V4).flatmap(
        lambda net: st.integers(0, ipaddress.ip_network(net).num_addresses - 1).map(
            lambda offset, net=net: ipaddress.ip_network(net)[offset]
        )
    )
)
def test_check_url_syntax__refuses_every_encoding_of_blocked_ipv4(address):
    """Decimal, hex, octal and short forms of any blocked IPv4 address, and its IPv6 wrappings, are refused."""
    hosts = _encodings(address) + [f"[::ffff:{address}]", f"[::{address}]"]
    for host in hosts:
        with pytest.raises(UnsafeURL):
            check_url_syntax(f"https://{host}/", allow_private=False)
    assert is_blocked_address(address)


@given(st.ip_addresses(v=4))
def test_is_blocked_address__agrees_for_mapped_ipv6(address):
    """::ffff:a.b.c.d is judged exactly like a.b.c.d, in both modes."""
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    for allow_private in (False, True):
        assert is_blocked_address(mapped, allow_private=allow_private) == is_blocked_address(
            address, allow_private=allow_private
        )


def test_is_blocked_address__table():
    """Blocked and allowed addresses, as the rule lists them."""
    blocked = [
        "127.0.0.1",
        "10.0.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.100.100.100",
        "0.0.0.0",
        "255.255.255.255",
        "224.0.0.251",
        "::1",
        "::",
        "fc00::1",
        "fdff::1",
        "fe80::1",
        "ff02::1",
        "::ffff:10.0.0.1",
        "::10.0.0.1",
        "2002:7f00:1::",
        "64:ff9b::7f00:1",
        "2001:db8::1",
        "not an address",
    ]
    allowed = [
        "93.184.216.34",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "2002:5db8:d822::",
        "64:ff9b::5db8:d822",
    ]
    assert [ip for ip in blocked if not is_blocked_address(ip)] == []
    assert [ip for ip in allowed if is_blocked_address(ip)] == []
    assert not is_blocked_address("127.0.0.1", allow_private=True)
    assert is_blocked_address("169.254.169.254", allow_private=True)


async def test_safe_resolver__refuses_names_resolving_to_blocked_addresses():
    """A name whose DNS answer includes a blocked address is refused as a whole."""
    resolver = SafeResolver(
        allow_private=False, resolver=FixedResolver("93.184.216.34", "169.254.169.254")
    )
    with pytest.raises(BlockedAddress) as info:
        await resolver.resolve("rebind.example", 443)
    assert "169.254.169.254" in info.value.reason
    assert isinstance(info.value, OSError)
    public = SafeResolver(allow_private=False, resolver=FixedResolver("93.184.216.34"))
    assert [r["host"] for r in await public.resolve("ok.example", 443)] == ["93.184.216.34"]


async def test_safe_resolver__system_localhost_depends_on_development():
    """The real ThreadedResolver's answer for localhost is refused in production, allowed in development."""
    with pytest.raises(BlockedAddress):
        await SafeResolver(allow_private=False).resolve("localhost", 80)
    development = SafeResolver(allow_private=True)
    hosts = {r["host"] for r in await development.resolve("localhost", 80)}
    assert hosts and all(ipaddress.ip_address(h).is_loopback for h in hosts)
    metadata = SafeResolver(allow_private=True, resolver=FixedResolver("169.254.169.254"))
    with pytest.raises(BlockedAddress):
        await metadata.resolve("metadata.example", 80)
