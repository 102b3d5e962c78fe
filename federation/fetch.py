"""Remote fetch: the HTTP client session and signed, size-capped, origin-checked GETs."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urldefrag, urljoin, urlsplit

import aiohttp

from activities.bounds import admit
from activities.errors import InvalidDocument
from federation.signatures import AS_ACCEPT, sign_headers
from federation.ssrf import SafeResolver, UnsafeURL, check_url_syntax
from node import __version__
from node.config import Settings
from node.models.actors import ACTOR_TYPES

# Mastodon `app/lib/request.rb` and `app/helpers/jsonld_helper.rb`: 1 MB bodies, 3 redirects,
# 5 s connect and 10 s read timeouts.
MAX_BODY = 1024 * 1024
MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_AP_TYPES = frozenset({"application/activity+json", "application/ld+json", "application/json"})
_JRD_TYPES = frozenset({"application/jrd+json", "application/json"})
_JRD_ACCEPT = "application/jrd+json, application/json"


class FetchError(Exception):
    """A remote document could not be fetched or was refused; `status` is the HTTP status when
    the remote answered with one."""

    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status


def make_client_session(settings: Settings, *, limit_per_host: int = 8) -> aiohttp.ClientSession:
    """The node's one outgoing HTTP session: SSRF-checking resolver, pooled connections, timeouts.
    Call it from a running event loop; close it at shutdown."""
    connector = aiohttp.TCPConnector(
        resolver=SafeResolver(allow_private=settings.development),
        limit=100,
        limit_per_host=limit_per_host,
        ttl_dns_cache=60,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=30, sock_connect=5, sock_read=10),
        headers={"User-Agent": f"civic-node/{__version__} (+{settings.base_url})"},
        cookie_jar=aiohttp.DummyCookieJar(),  # no state carried between remote servers
        trust_env=False,
    )


def _types(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def public_keys(doc: dict) -> list[dict]:
    """The actor's `publicKey` entries (one object or a list; bare id strings are skipped)."""
    value = doc.get("publicKey")
    entries = value if isinstance(value, list) else [value]
    return [entry for entry in entries if isinstance(entry, dict)]


def check_actor_document(doc: dict) -> dict:
    """Refuse a document that is not an actor, or whose key claims another owner."""
    if not any(kind in ACTOR_TYPES for kind in _types(doc.get("type"))):
        raise FetchError(f"{doc.get('id')} is a {doc.get('type')!r}, not an actor")
    for key in public_keys(doc):
        if "owner" in key and key["owner"] != doc["id"]:
            raise FetchError(f"the key {key.get('id')} of {doc['id']} names another owner")
    return doc


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    if response.content_length is not None and response.content_length > MAX_BODY:
        raise FetchError(f"{response.url} sent more than 1 MB", response.status)
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:  # SECURITY.md rule 6: stop reading, never buffer the rest
            raise FetchError(f"{response.url} sent more than 1 MB", response.status)
        chunks.append(chunk)
    return b"".join(chunks)


class RemoteFetcher:
    """GETs remote JSON documents for the node; signs them with `signer` = (key_id, private PEM),
    normally the instance actor's (servers in authorized-fetch mode refuse unsigned GETs)."""

    def __init__(
        self,
        settings: Settings,
        session: aiohttp.ClientSession,
        signer: tuple[str, str] | None,
        refuse: Callable[[str], bool] | None = None,
    ):
        self.settings = settings
        self.session = session
        self.signer = signer
        self.refuse = refuse  # the instance policy (federation.policy.refused), checked on every hop

    def _headers(self, url: str, accept: str, signed: bool) -> dict[str, str]:
        if signed and self.signer is not None:
            key_id, private_key_pem = self.signer
            return sign_headers("GET", url, None, key_id, private_key_pem)
        return {"Accept": accept}

    async def _get(
        self, url: str, accept: str, types: frozenset[str], signed: bool
    ) -> tuple[str, dict]:
        """(final URL, JSON object) after at most MAX_REDIRECTS redirects, each hop re-checked."""
        current = urldefrag(url).url  # a fragment is never sent; ids are compared without it
        for hop in range(MAX_REDIRECTS + 1):
            try:
                check_url_syntax(current, allow_private=self.settings.development)  # SECURITY.md rule 5
            except UnsafeURL as exc:
                raise FetchError(exc.reason) from None
            if self.refuse is not None and self.refuse(current):
                raise FetchError(f"{urlsplit(current).netloc} is refused by this node's domain policy")
            headers = self._headers(current, accept, signed)
            try:
                async with self.session.get(
                    current, headers=headers, allow_redirects=False
                ) as response:
                    if response.status in _REDIRECTS:
                        location = response.headers.get("Location")
                        if not location:
                            raise FetchError(f"{current} redirects nowhere", response.status)
                        if hop == MAX_REDIRECTS:
                            raise FetchError(
                                f"more than {MAX_REDIRECTS} redirects", response.status
                            )
                        current = urldefrag(urljoin(current, location)).url
                        continue
                    if not 200 <= response.status < 300:
                        raise FetchError(
                            f"{current} answered HTTP {response.status}", response.status
                        )
                    if response.content_type.lower() not in types:
                        raise FetchError(
                            f"{current} answered {response.content_type!r}, not JSON",
                            response.status,
                        )
                    body = await _read_capped(response)
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc.os_error, UnsafeURL):
                    raise FetchError(exc.os_error.reason) from None
                raise FetchError(f"cannot connect to {current}: {exc.os_error}") from None
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise FetchError(
                    f"cannot fetch {current}: {exc.__class__.__name__} {exc}"
                ) from None
            try:
                document = admit(body)  # SECURITY.md rule 14, as for the inbox
            except InvalidDocument as exc:
                raise FetchError(f"{current} did not send a usable document: {exc.reason}") from None
            if not isinstance(document, dict):
                raise FetchError(f"{current} did not send a JSON object")
            return current, document
        raise AssertionError("unreachable: the loop returns or raises")

    async def get_json(self, url: str) -> dict:
        """A signed GET of an ActivityPub document whose `id` must be the URL finally fetched
        (SECURITY.md rule 1: a document only speaks for its own URL; Mastodon CVE-2024-23832)."""
        final, document = await self._get(url, AS_ACCEPT, _AP_TYPES, signed=True)
        if document.get("id") != final:
            raise FetchError(f"the document at {final} has the id {document.get('id')!r}")
        return document

    async def get_jrd(self, url: str) -> dict:
        """An unsigned GET of a WebFinger/host-meta JRD (same SSRF, size and redirect rules)."""
        _, document = await self._get(url, _JRD_ACCEPT, _JRD_TYPES, signed=False)
        return document

    async def fetch_actor(self, url: str) -> dict:
        """get_json, then check it is an actor whose public key names it as the owner."""
        return check_actor_document(await self.get_json(url))
