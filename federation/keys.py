"""Public keys and remote actors for the inbox: memory cache, `actors` table, remote fetch."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from urllib.parse import urldefrag, urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.actors import as_to_actor
from activities.errors import InvalidDocument
from federation.fetch import FetchError, RemoteFetcher, check_actor_document, public_keys
from federation.signatures import SignatureMismatch, Signer, key_id_of, verify_request
from node.db import transaction
from node.models.actors import ACTOR_TYPES, Actor
from node.models.base import utcnow

log = logging.getLogger(__name__)

KeyInfo = tuple[str, str]  # (owner actor id, public key PEM)


def _netloc(url: str | None) -> str:
    return urlsplit(url or "").netloc.lower()


def _is_actor(doc: dict) -> bool:
    kinds = doc.get("type")
    return any(kind in ACTOR_TYPES for kind in (kinds if isinstance(kinds, list) else [kinds]))


def _listed_key(actor_doc: dict, key_id: str) -> dict | None:
    """SECURITY.md rule 2: the key counts only if the actor lists it, and only a key on the actor's
    own host (else any actor could list another server's key id and pose as its owner)."""
    if _netloc(key_id) != _netloc(actor_doc["id"]):
        return None
    return next((key for key in public_keys(actor_doc) if key.get("id") == key_id), None)


class KeyResolver:
    """Finds the (owner, PEM) of a key id for signature checks, and remote actors for delivery.

    Lookups go memory → database → remote. `refresh` re-fetches a key that failed to verify
    (rotation), at most once per `refetch_interval` seconds per key id; a failed remote fetch is
    likewise not retried within the interval. `clock` is injectable so tests need no sleeps.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        fetcher: RemoteFetcher,
        refetch_interval: float = 300,
        *,
        clock: Callable[[], float] = time.monotonic,
        cache_size: int = 10_000,
    ):
        self.sessions = sessions
        self.fetcher = fetcher
        self.refetch_interval = refetch_interval
        self.clock = clock
        self.cache_size = cache_size
        self._own = _netloc(fetcher.settings.base_url)
        self._cache: OrderedDict[str, KeyInfo] = OrderedDict()
        # key id -> clock() of its last refresh, and of its last failed remote fetch
        self._refreshed_at: dict[str, float] = {}
        self._failed_at: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _is_own(self, url: str | None) -> bool:
        return _netloc(url) == self._own

    def _remember(self, key_id: str, info: KeyInfo) -> KeyInfo:
        self._cache[key_id] = info
        self._cache.move_to_end(key_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return info

    def forget(self, key_id: str) -> None:
        """Drop a cached key (e.g. after an actor's Update changed it)."""
        self._cache.pop(key_id, None)

    def _recent(self, times: dict[str, float], key_id: str) -> bool:
        last = times.get(key_id)
        return last is not None and self.clock() - last < self.refetch_interval

    def _lock(self, key_id: str) -> asyncio.Lock:
        if len(self._locks) > self.cache_size:  # keep the bookkeeping bounded
            now = self.clock()
            for times in (self._refreshed_at, self._failed_at):
                for old in [k for k, t in times.items() if now - t >= self.refetch_interval]:
                    del times[old]
            for idle in [k for k, lock in self._locks.items() if not lock.locked()]:
                del self._locks[idle]
        return self._locks.setdefault(key_id, asyncio.Lock())

    async def get(self, key_id: str) -> KeyInfo | None:
        """(owner actor id, public key PEM) of `key_id`, or None when it cannot be found."""
        if key_id in self._cache:
            self._cache.move_to_end(key_id)
            return self._cache[key_id]
        async with self.sessions() as session:
            row = await session.scalar(
                select(Actor)
                .where(Actor.key_id == key_id, Actor.public_key_pem.is_not(None))
                .order_by(Actor.local.desc(), Actor.id)
                .limit(1)
            )
        if row is not None and (row.local or _netloc(row.ap_id) == _netloc(key_id)):
            return self._remember(key_id, (row.ap_id, row.public_key_pem))
        async with self._lock(key_id):  # concurrent requests with one new key share one fetch
            if key_id in self._cache:
                return self._cache[key_id]
            if self._recent(self._failed_at, key_id):
                return None
            return await self._fetch_key(key_id)

    async def refresh(self, key_id: str) -> KeyInfo | None:
        """Re-fetch a key that did not verify (it may have rotated). Returns the fresh
        (owner, PEM), or None when the key is gone or was already fetched within the interval."""
        async with self._lock(key_id):
            if self._recent(self._refreshed_at, key_id):
                return None
            self._refreshed_at[key_id] = self.clock()
            self.forget(key_id)
            return await self._fetch_key(key_id)

    async def verify(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        now: datetime | None = None,
    ) -> Signer:
        """verify_request with this resolver, re-fetching the key once when it does not verify."""
        try:
            return await verify_request(method, url, headers, body, self.get, now=now)
        except SignatureMismatch:
            key_id = key_id_of(headers)
            if key_id is None or await self.refresh(key_id) is None:
                raise
            return await verify_request(method, url, headers, body, self.get, now=now)

    async def get_actor(self, ap_id: str, refresh: bool = False) -> Actor:
        """The stored Actor row for `ap_id`, fetched (and stored) when missing or when `refresh`.
        Raises FetchError when it cannot be had (SECURITY.md rule 11: never an id on our own host)."""
        async with self.sessions() as session:
            row = await session.scalar(select(Actor).where(Actor.ap_id == ap_id))
        if row is not None and (row.local or not refresh):
            return row
        if self._is_own(ap_id):
            raise FetchError(f"{ap_id} is on this node's own host")
        doc = await self.fetcher.fetch_actor(ap_id)
        actor = await self._store(doc)
        if actor.key_id:
            self.forget(actor.key_id)
        return actor

    async def _fetch_key(self, key_id: str) -> KeyInfo | None:
        info = await self._fetch_remote_key(key_id)
        if info is None:
            self._failed_at[key_id] = self.clock()
            return None
        self._failed_at.pop(key_id, None)
        return self._remember(key_id, info)

    async def _fetch_remote_key(self, key_id: str) -> KeyInfo | None:
        if self._is_own(key_id):  # our own keys are in the database or do not exist (rule 11)
            return None
        try:
            doc = await self.fetcher.get_json(urldefrag(key_id).url)
            if _is_actor(doc):
                actor_doc, key_doc = check_actor_document(doc), None
            else:  # a key document (`owner`): the owner must list the key (SECURITY.md rule 2)
                key_doc = doc
                owner = doc.get("owner") or doc.get("controller")
                if not isinstance(owner, str) or self._is_own(owner):
                    log.info("key %s names no usable owner", key_id)
                    return None
                actor_doc = await self.fetcher.fetch_actor(owner)
        except FetchError as exc:
            log.info("cannot fetch key %s: %s", key_id, exc.reason)
            return None
        listed = _listed_key(actor_doc, key_id)
        if listed is None:
            log.info("%s does not list the key %s", actor_doc["id"], key_id)
            return None
        pem = listed.get("publicKeyPem")
        if key_doc is not None:
            if pem is not None and pem != key_doc.get("publicKeyPem"):
                log.info("key %s differs from the one %s lists", key_id, actor_doc["id"])
                return None
            pem = key_doc.get("publicKeyPem")
        if not isinstance(pem, str) or not pem:
            return None
        try:
            await self._store(actor_doc, key_id, pem)
        except FetchError as exc:
            log.info("refusing key %s: %s", key_id, exc.reason)
            return None
        return actor_doc["id"], pem

    async def _store(self, doc: dict, key_id: str | None = None, pem: str | None = None) -> Actor:
        """Insert or update the remote actor's row from its (already checked) document."""
        if self._is_own(doc["id"]):
            raise FetchError(f"{doc['id']} is on this node's own host")  # SECURITY.md rule 11
        if key_id is None:
            first = next((k for k in public_keys(doc) if _listed_key(doc, k.get("id", ""))), None)
            if first is not None and isinstance(first.get("publicKeyPem"), str):
                key_id, pem = first["id"], first["publicKeyPem"]
        for attempt in (1, 2):
            try:
                async with transaction(self.sessions) as session:
                    row = await session.scalar(select(Actor).where(Actor.ap_id == doc["id"]))
                    if row is not None and row.local:
                        raise FetchError(f"{doc['id']} is a local actor")
                    if row is None:
                        row = Actor(ap_id=doc["id"], local=False)
                        session.add(row)
                    _fill(row, doc, key_id, pem)
                return row
            except IntegrityError:  # a concurrent fetch inserted the same actor: update it
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _fill(row: Actor, doc: dict, key_id: str | None, pem: str | None) -> None:
    try:
        actor = as_to_actor(doc)  # sanitised here, once, on the way in (SECURITY.md rule 7)
    except InvalidDocument as exc:
        raise FetchError(exc.reason) from None
    row.type, row.username, row.domain = actor.type, actor.username, actor.domain
    row.name, row.summary, row.url = actor.name, actor.summary, actor.url
    row.inbox, row.shared_inbox, row.outbox = actor.inbox, actor.shared_inbox, actor.outbox
    row.followers_url = actor.followers
    row.manually_approves_followers = doc.get("manuallyApprovesFollowers") is True
    row.discoverable = doc.get("discoverable") is True
    if key_id is not None and pem is not None:
        row.key_id, row.public_key_pem = key_id[:2048], pem
    row.document = doc
    row.fetched_at = utcnow()
