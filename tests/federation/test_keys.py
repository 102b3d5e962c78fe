"""KeyResolver: cache → database → remote fetch, SECURITY.md rules 2 and 11, rate-limited key rotation."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from sqlalchemy import func, select

from federation.fetch import FetchError, RemoteFetcher, make_client_session
from federation.keys import KeyResolver
from federation.signatures import SignatureError, SignatureMismatch, sign_headers, verify_request
from node.keys import generate_rsa_keypair
from node.models.actors import Actor

HITS = web.AppKey("hits", Counter)
STATE = web.AppKey("state", dict)
INBOX = "http://127.0.0.1:18080/inbox"  # the conftest node's base URL
BODY = b'{"type": "Like"}'


class Clock:
    """A clock the test moves by hand: rate limits are tested without sleeping."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def pairs():
    return {name: generate_rsa_keypair() for name in ("old", "new", "bob", "eve")}


def remote_app(pairs) -> web.Application:
    """A remote server: actors at /users/<name>, separate key documents at /keys/<name>."""

    def base(request):
        return f"http://{request.host}"

    def actor(request):
        name = request.match_info["name"]
        state = request.app[STATE]
        if name not in state["actors"]:
            raise web.HTTPGone()
        me = f"{base(request)}/users/{name}"
        key = state["actors"][name]
        if key == "keydoc":  # the actor lists a separate key document
            public_key = {"id": f"{base(request)}/keys/{name}", "owner": me}
        elif key == "foreign":  # claims a key id on another host
            public_key = {
                "id": "http://other.example/users/x#main-key",
                "owner": me,
                "publicKeyPem": pairs["eve"][0],
            }
        else:
            public_key = {"id": f"{me}#main-key", "owner": me, "publicKeyPem": key}
        doc = {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": me,
            "type": "Person",
            "preferredUsername": name,
            "name": state["names"].get(name, name),
            "summary": "<p>hi</p>",
            "inbox": f"{me}/inbox",
            "outbox": f"{me}/outbox",
            "followers": f"{me}/followers",
            "url": f"{base(request)}/@{name}",
            "endpoints": {"sharedInbox": f"{base(request)}/inbox"},
            "publicKey": public_key,
        }
        return web.json_response(doc, content_type="application/activity+json")

    def key_document(request):
        name = request.match_info["name"]
        owner = {"bob": "bob", "eve": "carol"}[name]
        return web.json_response(
            {
                "id": f"{base(request)}/keys/{name}",
                "type": "CryptographicKey",
                "owner": f"{base(request)}/users/{owner}",
                "publicKeyPem": pairs[name][0],
            },
            content_type="application/activity+json",
        )

    @web.middleware
    async def count(request, handler):
        request.app[HITS][request.path] += 1
        return await handler(request)

    app = web.Application(middlewares=[count])
    app[HITS] = Counter()
    app[STATE] = {
        "actors": {
            "alice": pairs["old"][0],
            "bob": "keydoc",
            "carol": pairs["bob"][0],
            "dave": "foreign",
        },
        "names": {},
    }
    app.router.add_get("/users/{name}", actor)
    app.router.add_get("/keys/{name}", key_document)
    return app


@pytest.fixture
async def remote(aiohttp_server, pairs):
    return await aiohttp_server(remote_app(pairs))


@pytest.fixture
async def http(settings):
    session = make_client_session(settings)
    yield session
    await session.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def resolver(settings, sessions, http, clock) -> KeyResolver:
    return KeyResolver(
        sessions, RemoteFetcher(settings, http, None), refetch_interval=300, clock=clock
    )


def alice(remote) -> str:
    return str(remote.make_url("/users/alice"))


async def stored(sessions, ap_id) -> Actor | None:
    async with sessions() as session:
        return await session.scalar(select(Actor).where(Actor.ap_id == ap_id))


async def test_key_resolver_get__fetches_stores_and_caches(
    remote, resolver, sessions, settings, http, pairs
):
    """A new key is fetched once, stored as a remote Actor row, then served from memory and database."""
    key_id = f"{alice(remote)}#main-key"
    assert await resolver.get(key_id) == (alice(remote), pairs["old"][0])
    row = await stored(sessions, alice(remote))
    assert (row.local, row.type, row.username, row.name, row.summary) == (
        False,
        "Person",
        "alice",
        "alice",
        "<p>hi</p>",
    )
    assert row.domain == f"127.0.0.1:{remote.port}" and row.inbox == f"{alice(remote)}/inbox"
    assert row.shared_inbox == str(remote.make_url("/inbox")) and row.followers_url.endswith(
        "/followers"
    )
    assert (row.key_id, row.public_key_pem) == (key_id, pairs["old"][0])
    assert row.document["id"] == alice(remote) and row.fetched_at is not None
    assert await resolver.get(key_id) == (alice(remote), pairs["old"][0])
    fresh = KeyResolver(sessions, RemoteFetcher(settings, http, None))
    assert await fresh.get(key_id) == (alice(remote), pairs["old"][0])
    assert remote.app[HITS]["/users/alice"] == 1


async def test_key_resolver_get__key_document_listed_by_its_owner(
    remote, resolver, sessions, pairs
):
    """A separate key document counts when its owner lists that key (SECURITY.md rule 2)."""
    key_id = str(remote.make_url("/keys/bob"))
    bob = str(remote.make_url("/users/bob"))
    assert await resolver.get(key_id) == (bob, pairs["bob"][0])
    assert (await stored(sessions, bob)).key_id == key_id


async def test_key_resolver_get__key_whose_owner_does_not_list_it_is_refused(
    remote, resolver, sessions
):
    """Eve's key document names carol as owner, but carol does not list it → unknown, nothing stored."""
    assert await resolver.get(str(remote.make_url("/keys/eve"))) is None
    assert remote.app[HITS]["/users/carol"] == 1
    assert await stored(sessions, str(remote.make_url("/users/carol"))) is None


async def test_key_resolver_get_actor__key_on_another_host_is_not_stored(remote, resolver):
    """An actor listing a key id on another host is stored without that key (no domain spoofing)."""
    row = await resolver.get_actor(str(remote.make_url("/users/dave")))
    assert row.username == "dave" and row.key_id is None and row.public_key_pem is None
    assert await resolver.get("http://other.example/users/x#main-key") is None


async def test_key_resolver__own_host_is_never_fetched(remote, settings, sessions, http):
    """SECURITY.md rule 11: key ids and actor ids on our own host are never fetched or stored."""
    own = dataclasses.replace(settings, base_url=str(remote.make_url("/")).rstrip("/"))
    resolver = KeyResolver(sessions, RemoteFetcher(own, http, None))
    assert await resolver.get(f"{alice(remote)}#main-key") is None
    with pytest.raises(FetchError, match="own host"):
        await resolver.get_actor(alice(remote))
    assert remote.app[HITS]["/users/alice"] == 0
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Actor)) == 0


async def test_key_resolver_refresh__key_rotation_is_fetched_once_per_interval(
    remote, resolver, sessions, clock, pairs
):
    """Rotation: the cached key fails, one refresh fetches the new key, verification then succeeds;
    a second refresh within the interval does not fetch again, one after it does."""
    key_id = f"{alice(remote)}#main-key"
    assert (await resolver.get(key_id))[1] == pairs["old"][0]
    remote.app[STATE]["actors"]["alice"] = pairs["new"][0]  # alice rotates her key
    headers = sign_headers("POST", INBOX, BODY, key_id, pairs["new"][1])
    with pytest.raises(SignatureMismatch):
        await verify_request("POST", INBOX, headers, BODY, resolver.get)
    assert await resolver.refresh(key_id) == (alice(remote), pairs["new"][0])
    assert (await verify_request("POST", INBOX, headers, BODY, resolver.get)).owner == alice(remote)
    assert remote.app[HITS]["/users/alice"] == 2
    assert (await stored(sessions, alice(remote))).public_key_pem == pairs["new"][0]
    clock.now += 299
    assert await resolver.refresh(key_id) is None
    assert remote.app[HITS]["/users/alice"] == 2
    clock.now += 2
    assert await resolver.refresh(key_id) == (alice(remote), pairs["new"][0])
    assert remote.app[HITS]["/users/alice"] == 3


async def test_key_resolver_verify__refreshes_a_rotated_key_once(remote, resolver, pairs):
    """KeyResolver.verify re-fetches on a mismatch; a forged signature still fails after one fetch."""
    key_id = f"{alice(remote)}#main-key"
    await resolver.get(key_id)
    remote.app[STATE]["actors"]["alice"] = pairs["new"][0]
    rotated = sign_headers("POST", INBOX, BODY, key_id, pairs["new"][1])
    assert (await resolver.verify("POST", INBOX, rotated, BODY)).owner == alice(remote)
    forged = sign_headers("POST", INBOX, BODY, key_id, pairs["eve"][1])
    for _ in range(3):
        with pytest.raises(SignatureMismatch):
            await resolver.verify("POST", INBOX, forged, BODY)
    assert remote.app[HITS]["/users/alice"] == 2


async def test_key_resolver_get__failed_fetch_is_not_retried_within_interval(
    remote, resolver, clock
):
    """An unknown key is looked up once per interval, and verification says the key is unknown."""
    key_id = str(remote.make_url("/users/nobody")) + "#main-key"
    headers = sign_headers(
        "POST",
        INBOX,
        BODY,
        key_id,
        generate_rsa_keypair()[1],
        now=datetime.now(UTC) - timedelta(minutes=1),
    )
    for _ in range(2):
        with pytest.raises(SignatureError, match="unknown key"):
            await resolver.verify("POST", INBOX, headers, BODY)
    assert remote.app[HITS]["/users/nobody"] == 1
    clock.now += 301
    assert await resolver.get(key_id) is None
    assert remote.app[HITS]["/users/nobody"] == 2


async def test_key_resolver_get_actor__fetches_when_missing_and_refreshes_on_demand(
    remote, resolver, sessions
):
    """get_actor stores a missing actor, answers from the database after, re-fetches on refresh."""
    first = await resolver.get_actor(alice(remote))
    assert first.inbox == f"{alice(remote)}/inbox" and first.local is False
    remote.app[STATE]["names"]["alice"] = "Alice Renamed"
    assert (await resolver.get_actor(alice(remote))).name == "alice"
    assert remote.app[HITS]["/users/alice"] == 1
    refreshed = await resolver.get_actor(alice(remote), refresh=True)
    assert refreshed.id == first.id and refreshed.name == "Alice Renamed"
    assert (await stored(sessions, alice(remote))).name == "Alice Renamed"
    with pytest.raises(FetchError, match="410"):
        await resolver.get_actor(str(remote.make_url("/users/gone")))
