"""Remote fetch against a real aiohttp server on loopback: signing, redirects, caps, id check."""

from __future__ import annotations

import json
import socket
from collections import Counter

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from federation.fetch import MAX_BODY, FetchError, RemoteFetcher, make_client_session
from federation.signatures import verify_request
from federation.ssrf import SafeResolver
from node import __version__
from node.config import Settings
from node.keys import generate_rsa_keypair

BASE = "http://127.0.0.1:18080"
INSTANCE_KEY = f"{BASE}/actor#main-key"
HITS = web.AppKey("hits", Counter)
SEEN = web.AppKey("seen", list)


@pytest.fixture(scope="module")
def instance_keys():
    return generate_rsa_keypair()


def here(request: web.Request) -> str:
    return f"http://{request.host}{request.path}"


def actor_doc(request: web.Request, **extra) -> dict:
    me = here(request)
    return {
        "@context": ["https://www.w3.org/ns/activitystreams"],
        "id": me,
        "type": "Person",
        "inbox": f"{me}/inbox",
        "preferredUsername": "alice",
        "publicKey": {"id": f"{me}#main-key", "owner": me, "publicKeyPem": "PEM"},
        **extra,
    }


def remote_app(instance_keys) -> web.Application:
    async def get_key(key_id):
        return (f"{BASE}/actor", instance_keys[0]) if key_id == INSTANCE_KEY else None

    async def count(request, handler):
        request.app[HITS][request.path] += 1
        request.app[SEEN].append(request)
        return await handler(request)

    async def actor(request):
        return web.json_response(actor_doc(request), content_type="application/activity+json")

    async def signed(request):
        signer = await verify_request(
            request.method, str(request.url), request.headers, b"", get_key
        )
        return web.json_response(
            {"id": here(request), "type": "Note", "signer": signer.owner},
            content_type="application/activity+json",
        )

    async def hop(request):
        left = int(request.match_info["n"])
        return web.HTTPFound(f"/hop/{left - 1}" if left > 1 else "/actor")

    async def to_metadata(request):
        return web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    async def big(request):
        body = json.dumps({"id": here(request), "padding": "x" * (2 * MAX_BODY)})
        return web.Response(text=body, content_type="application/activity+json")

    async def big_chunked(request):
        response = web.StreamResponse(headers={"Content-Type": "application/activity+json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b'{"id": "' + here(request).encode() + b'", "padding": "')
        for _ in range(40):  # 2.5 MB, never announced by a Content-Length
            await response.write(b"x" * 65536)
        await response.write(b'"}')
        return response

    routes = {
        "/actor": actor,
        "/signed": signed,
        "/hop/{n}": hop,
        "/to-metadata": to_metadata,
        "/big": big,
        "/big-chunked": big_chunked,
        "/wrong-id": lambda r: web.json_response(
            {"id": here(r).replace("wrong-id", "other")}, content_type="application/activity+json"
        ),
        "/moved": lambda r: web.HTTPFound("/claims-moved"),
        "/claims-moved": lambda r: web.json_response(
            {"id": here(r).replace("claims-moved", "moved")},
            content_type="application/activity+json",
        ),
        "/html": lambda r: web.Response(text="<html></html>", content_type="text/html"),
        "/list": lambda r: web.json_response([here(r)], content_type="application/activity+json"),
        "/missing": lambda r: web.json_response({"error": "gone"}, status=410),
        "/note": lambda r: web.json_response(
            {"id": here(r), "type": "Note"}, content_type="application/activity+json"
        ),
        "/bad-owner": lambda r: web.json_response(
            actor_doc(
                r,
                publicKey={
                    "id": f"{here(r)}#k",
                    "owner": "http://127.0.0.1:1/x",
                    "publicKeyPem": "PEM",
                },
            ),
            content_type="application/activity+json",
        ),
        "/.well-known/webfinger": lambda r: web.json_response(
            {"subject": r.query["resource"], "links": []}, content_type="application/jrd+json"
        ),
    }

    async def wrap(handler, request):
        result = handler(request)
        return await result if hasattr(result, "__await__") else result

    app = web.Application(middlewares=[web.middleware(count)])
    app[HITS], app[SEEN] = Counter(), []
    for path, handler in routes.items():
        app.router.add_get(path, lambda request, handler=handler: wrap(handler, request))
    return app


@pytest.fixture
async def remote(aiohttp_server, instance_keys):
    return await aiohttp_server(remote_app(instance_keys))


def make_fetcher(session, instance_keys, development=True) -> RemoteFetcher:
    settings = Settings(base_url=BASE, development=development)
    return RemoteFetcher(settings, session, (INSTANCE_KEY, instance_keys[1]))


@pytest.fixture
async def fetcher(instance_keys):
    session = make_client_session(Settings(base_url=BASE, development=True))
    yield make_fetcher(session, instance_keys)
    await session.close()


async def test_get_json__fetches_a_document_whose_id_is_the_url(remote, fetcher):
    """A loopback actor is fetched in development, with our User-Agent."""
    url = str(remote.make_url("/actor"))
    doc = await fetcher.fetch_actor(url)
    assert doc["id"] == url and doc["type"] == "Person"
    request = remote.app[SEEN][-1]
    assert request.headers["User-Agent"] == f"civic-node/{__version__} (+{BASE})"
    assert request.headers["Accept"].startswith("application/activity+json")


async def test_get_json__sends_a_signed_get_the_remote_can_verify(remote, fetcher):
    """Authorized fetch: the remote verifies our signature and sees the instance actor."""
    doc = await fetcher.get_json(str(remote.make_url("/signed")))
    assert doc["signer"] == f"{BASE}/actor"


async def test_get_json__production_refuses_loopback(remote, instance_keys):
    """Without development, the same loopback server is refused before any request is made."""
    session = make_client_session(Settings(base_url=BASE, development=False))
    try:
        fetcher = make_fetcher(session, instance_keys, development=False)
        with pytest.raises(FetchError, match="plain http"):
            await fetcher.get_json(str(remote.make_url("/actor")))
        https = str(remote.make_url("/actor")).replace("http://", "https://")
        with pytest.raises(FetchError, match="not allowed"):
            await fetcher.get_json(https)
        with pytest.raises(FetchError, match="localhost"):
            await fetcher.get_json(f"https://localhost:{remote.port}/actor")
    finally:
        await session.close()
    assert remote.app[HITS]["/actor"] == 0


async def test_get_json__redirect_to_metadata_is_refused_in_development(remote, fetcher):
    """A loopback server redirecting to 169.254.169.254 is refused even in development."""
    with pytest.raises(FetchError, match="169.254.169.254"):
        await fetcher.get_json(str(remote.make_url("/to-metadata")))
    assert remote.app[HITS]["/to-metadata"] == 1


async def test_get_json__follows_three_redirects_and_checks_the_final_id(remote, fetcher):
    """Three redirects are followed; the document's id is the final URL."""
    doc = await fetcher.get_json(str(remote.make_url("/hop/3")))
    assert doc["id"] == str(remote.make_url("/actor"))


async def test_get_json__fourth_redirect_is_refused(remote, fetcher):
    """A fourth redirect is refused and its target never requested."""
    with pytest.raises(FetchError, match="more than 3 redirects"):
        await fetcher.get_json(str(remote.make_url("/hop/4")))
    assert remote.app[HITS]["/hop/1"] == 1 and remote.app[HITS]["/actor"] == 0


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
async def test_get_json__body_over_1_mb_is_refused(remote, fetcher, path):
    """A body over 1 MB is refused, announced or not."""
    with pytest.raises(FetchError, match="more than 1 MB"):
        await fetcher.get_json(str(remote.make_url(path)))


async def test_get_json__id_other_than_url_is_refused(remote, fetcher):
    """SECURITY.md rule 1: a document whose id is not the URL requested is refused."""
    with pytest.raises(FetchError, match="has the id"):
        await fetcher.get_json(str(remote.make_url("/wrong-id")))


async def test_get_json__id_of_redirect_source_is_refused(remote, fetcher):
    """After a redirect, the id must be the final URL, not the one first asked for."""
    with pytest.raises(FetchError, match="has the id"):
        await fetcher.get_json(str(remote.make_url("/moved")))
    assert remote.app[HITS]["/claims-moved"] == 1


@pytest.mark.parametrize(
    ("path", "reason", "status"),
    [("/html", "not JSON", 200), ("/list", "JSON object", None), ("/missing", "HTTP 410", 410)],
)
async def test_get_json__refuses_wrong_content(remote, fetcher, path, reason, status):
    """HTML, a JSON array and an error status each raise FetchError with the status kept."""
    with pytest.raises(FetchError, match=reason) as info:
        await fetcher.get_json(str(remote.make_url(path)))
    assert info.value.status == status


async def test_fetch_actor__refuses_non_actors_and_foreign_key_owners(remote, fetcher):
    """fetch_actor wants an actor type, and publicKey.owner must be the actor itself."""
    with pytest.raises(FetchError, match="not an actor"):
        await fetcher.fetch_actor(str(remote.make_url("/note")))
    with pytest.raises(FetchError, match="another owner"):
        await fetcher.fetch_actor(str(remote.make_url("/bad-owner")))


async def test_get_jrd__reads_webfinger_without_id_check(remote, fetcher):
    """A JRD is returned as is (no id), unsigned."""
    url = str(remote.make_url("/.well-known/webfinger").with_query(resource="acct:alice@remote"))
    assert (await fetcher.get_jrd(url))["subject"] == "acct:alice@remote"
    assert "Signature" not in remote.app[SEEN][-1].headers


class FixedResolver(AbstractResolver):
    def __init__(self, address: str):
        self.address = address

    async def resolve(self, host, port=0, family=socket.AF_INET):
        return [
            {
                "hostname": host,
                "host": self.address,
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
        ]

    async def close(self):
        pass


async def test_get_json__connects_only_through_the_safe_resolver(remote, instance_keys):
    """A name resolving to loopback reaches the server in development; to 169.254.169.254 never."""
    for address, reachable in (("127.0.0.1", True), ("169.254.169.254", False)):
        connector = aiohttp.TCPConnector(resolver=SafeResolver(True, FixedResolver(address)))
        async with aiohttp.ClientSession(connector=connector) as session:
            fetcher = make_fetcher(session, instance_keys)
            url = f"http://remote.test:{remote.port}/actor"
            if reachable:
                assert (await fetcher.get_json(url))["id"] == url
            else:
                with pytest.raises(FetchError, match="169.254.169.254"):
                    await fetcher.get_json(url)
    assert remote.app[HITS]["/actor"] == 1


async def test_make_client_session__sets_timeouts_and_user_agent():
    """5 s connect, 10 s read, 30 s overall; our User-Agent; the SSRF resolver."""
    settings = Settings(base_url="https://civic.example")
    session = make_client_session(settings, limit_per_host=3)
    try:
        assert (session.timeout.sock_connect, session.timeout.sock_read, session.timeout.total) == (
            5,
            10,
            30,
        )
        assert session.headers["User-Agent"] == f"civic-node/{__version__} (+https://civic.example)"
        assert session.connector.limit_per_host == 3
        assert isinstance(session.connector._resolver, SafeResolver)
        assert session.connector._resolver.allow_private is False
    finally:
        await session.close()
