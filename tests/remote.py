"""A small remote ActivityPub host for tests: real actor documents, real keys, real signatures.

It stands in for "some other server" where a test needs to forge or tamper with requests;
interop with independent implementations is tested in tests/interop.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from federation.signatures import sign_headers
from node.keys import generate_rsa_keypair

AS = "application/activity+json"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class RemoteActor:
    ap_id: str
    key_id: str
    public_pem: str
    private_pem: str
    inbox: str
    document: dict


@dataclass
class RemoteHost:
    """Serves actors at /users/<name>, records what arrives in their inboxes."""

    host: str = "127.0.0.1"
    port: int = 0
    actors: dict[str, RemoteActor] = field(default_factory=dict)
    received: list[dict] = field(default_factory=list)
    documents: dict[str, dict] = field(default_factory=dict)
    fetches: list[str] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add_actor(self, name: str, type_: str = "Person") -> RemoteActor:
        public_pem, private_pem = generate_rsa_keypair()
        ap_id = f"{self.base}/users/{name}"
        doc = {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": ap_id, "type": type_, "preferredUsername": name, "name": name.title(),
            "inbox": f"{ap_id}/inbox", "outbox": f"{ap_id}/outbox",
            "followers": f"{ap_id}/followers",
            "endpoints": {"sharedInbox": f"{self.base}/inbox"},
            "publicKey": {"id": f"{ap_id}#main-key", "owner": ap_id, "publicKeyPem": public_pem},
        }
        actor = RemoteActor(ap_id, f"{ap_id}#main-key", public_pem, private_pem, f"{ap_id}/inbox", doc)
        self.actors[name] = actor
        return actor

    def rotate_key(self, name: str) -> None:
        actor = self.actors[name]
        actor.public_pem, actor.private_pem = generate_rsa_keypair()
        actor.document["publicKey"]["publicKeyPem"] = actor.public_pem

    async def _actor(self, request: web.Request) -> web.Response:
        self.fetches.append(request.path)
        actor = self.actors.get(request.match_info["name"])
        if actor is None:
            return web.json_response({"error": "gone"}, status=404)
        return web.json_response(actor.document, content_type=AS)

    async def _object(self, request: web.Request) -> web.Response:
        doc = self.documents.get(f"{self.base}{request.path}")
        if doc is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(doc, content_type=AS)

    async def _inbox(self, request: web.Request) -> web.Response:
        self.received.append(json.loads(await request.read()))
        return web.Response(status=202)

    async def start(self) -> RemoteHost:
        self.port = self.port or free_port(self.host)
        app = web.Application()
        app.router.add_get("/users/{name}", self._actor)
        app.router.add_post("/users/{name}/inbox", self._inbox)
        app.router.add_post("/inbox", self._inbox)
        app.router.add_get("/{tail:.*}", self._object)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def post(self, url: str, doc: dict, actor: RemoteActor, *, body: bytes | None = None,
                   headers: dict | None = None, key: RemoteActor | None = None,
                   sent_body: bytes | None = None) -> tuple[int, dict]:
        """POST ``doc`` signed by ``key`` (default: the actor itself); returns (status, JSON body).

        ``sent_body`` sends other bytes than the signed ones (a tampered body)."""
        raw = json.dumps(doc).encode() if body is None else body
        signer = key or actor
        signed = sign_headers("POST", url, raw, signer.key_id, signer.private_pem)
        signed.update(headers or {})
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=sent_body or raw, headers=signed) as response:
                text = await response.text()
                try:
                    payload = json.loads(text) if text else {}
                except ValueError:
                    payload = {"text": text}
                return response.status, payload
