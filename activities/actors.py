"""Actors: our Organization/Person/Application documents out, remote actor documents in."""

from __future__ import annotations

from dataclasses import dataclass

from activities.errors import InvalidDocument
from activities.html import is_web_url, plain_text, sanitize_html
from activities.normalize import as_list, first_type, host_of, id_of, require_id
from activities.vocabulary import ACTOR_TYPES, CONTEXT
from node.models import Actor


def actor_to_as(actor: Actor, *, icon: tuple[str, str] | None = None) -> dict:
    """The public document of a local actor (what Mastodon's process_account_service reads)."""
    doc = {
        "@context": CONTEXT,
        "id": actor.ap_id,
        "type": actor.type,
        "preferredUsername": actor.username,
        "name": actor.name,
        "summary": actor.summary or "",
        "url": actor.url or actor.ap_id,
        "inbox": actor.inbox,
        "outbox": actor.outbox,
        "followers": actor.followers_url,
        "following": f"{actor.ap_id}/following",
        "endpoints": {"sharedInbox": actor.shared_inbox},
        "manuallyApprovesFollowers": actor.manually_approves_followers,
        "discoverable": actor.discoverable,
        "published": actor.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "publicKey": {
            "id": actor.key_id,
            "owner": actor.ap_id,
            "publicKeyPem": actor.public_key_pem,
        },
    }
    if icon:  # (url, media type): an organisation's logo, shown as its avatar (Mastodon: avatar)
        doc["icon"] = {"type": "Image", "url": icon[0], "mediaType": icon[1]}
    return doc


@dataclass(frozen=True)
class RemoteActor:
    """What we keep of a remote actor's document."""

    ap_id: str
    type: str
    username: str
    domain: str
    name: str
    summary: str
    url: str | None
    inbox: str
    shared_inbox: str | None
    outbox: str | None
    followers: str | None
    key_id: str | None
    public_key_pem: str | None


def _profile_url(value, ap_id: str) -> str | None:
    """The profile page: an http(s) URL on the actor's own host, else none (the pages then link
    to the actor's id). ``javascript://host/%0a…`` has the right host but is never a link
    (SECURITY.md rule 20); a URL on another host is ignored, as Mastodon does. Mastodon and
    PeerTube may send a Link or a list of them."""
    for item in as_list(value):
        url = item.get("href") if isinstance(item, dict) else item
        if is_web_url(url) and host_of(url) == host_of(ap_id):
            return url
    return None


def as_to_actor(doc: dict) -> RemoteActor:
    """Validate a fetched actor document; raises InvalidDocument when it is unusable."""
    ap_id = require_id(doc)
    kind = first_type(doc)
    if kind not in ACTOR_TYPES:
        raise InvalidDocument(f"{ap_id} is a {kind!r}, not an actor")
    inbox = id_of(doc.get("inbox"))
    if not inbox:
        raise InvalidDocument(f"actor {ap_id} has no inbox")
    key = doc.get("publicKey")
    if isinstance(key, list):
        key = next((k for k in key if isinstance(k, dict) and k.get("owner") == ap_id), None)
    key_id = pem = None
    if isinstance(key, dict):
        if id_of(key.get("owner")) not in (None, ap_id):
            raise InvalidDocument(f"the key of {ap_id} is owned by someone else")
        key_id, pem = id_of(key), key.get("publicKeyPem")
    endpoints = doc.get("endpoints") if isinstance(doc.get("endpoints"), dict) else {}
    url = _profile_url(doc.get("url"), ap_id)
    username = plain_text(doc.get("preferredUsername"), 255) or ap_id.rstrip("/").rsplit("/", 1)[-1]
    return RemoteActor(
        ap_id=ap_id,
        type=kind,
        username=username[:255],
        domain=host_of(ap_id),
        name=plain_text(doc.get("name"), 255),
        summary=sanitize_html(doc.get("summary"), 10_000),
        url=url,
        inbox=inbox,
        shared_inbox=id_of(endpoints.get("sharedInbox")),
        outbox=id_of(doc.get("outbox")),
        followers=id_of(doc.get("followers")),
        key_id=key_id,
        public_key_pem=pem if isinstance(pem, str) else None,
    )
