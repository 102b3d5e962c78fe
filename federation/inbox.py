"""Inbox intake: size cap, instance policy, signature, shape and origin checks, durable store, 202."""

from __future__ import annotations

import asyncio
import logging
import time
from math import ceil

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from activities.bounds import check_bounds, loads
from activities.errors import InvalidDocument
from activities.normalize import check_activity, first_type, host_of, id_of
from federation.inbox_limits import HOST_LIMITER
from federation.isolation import OUTAGE, log_failure, transient
from federation.policy import refused
from federation.refusals import RefusalLog, refusal_host
from federation.runtime import RUNTIME, Runtime
from federation.signatures import SignatureError, key_id_of
from federation.verification import verify_signed
from node.db import announce, is_sqlite, writing_connection
from node.models import InboxActivity, utcnow

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # SECURITY.md rule 6 (Mastodon's limit)
# Types whose embedded object is created by the actor, so its id must be on the actor's host.
_CREATING = {"Create", "Update", "Delete"}


def problem(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


def unavailable(reason: str) -> web.Response:
    """503 with Retry-After: the database is away; the sender's queue tries again later."""
    response = problem(503, reason)
    response.headers["Retry-After"] = "30"
    return response


async def read_capped(request: web.Request) -> bytes | None:
    """The body, or None when it exceeds MAX_BODY (checked before reading past the cap)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return None
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def check_origin(doc: dict, actor: str) -> None:
    """SECURITY.md rule 1: the actor's host must own the activity id and the objects it creates;
    a created object names its author."""
    actor_host = host_of(actor)
    if host_of(doc["id"]) != actor_host:
        raise InvalidDocument("the activity id is not on the actor's host")
    kind = first_type(doc)
    if kind in _CREATING:
        obj = doc.get("object")
        object_id = id_of(obj)
        if obj is None:
            raise InvalidDocument(f"{kind} needs an object")
        if object_id is None:
            raise InvalidDocument("the object has no id")
        if host_of(object_id) != actor_host:
            raise InvalidDocument("the object id is not on the actor's host")
        if isinstance(obj, dict):
            author = id_of(obj.get("attributedTo")) or id_of(obj.get("actor"))
            if author and author != actor and first_type(obj) not in ("Tombstone",):
                raise InvalidDocument("the object is attributed to someone else")
            if kind == "Create" and not author:
                raise InvalidDocument("the object has no 'attributedTo'")


class InboxWriter:
    """Group commit: concurrent POSTs share one transaction, each waits until its row is durable.

    The 202 is only sent after the commit that holds the row, so nothing acknowledged is lost.
    """

    def __init__(self, runtime: Runtime, max_batch: int = 256):
        self.runtime = runtime
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[dict, asyncio.Future]] = asyncio.Queue()
        self._task: asyncio.Task | None = None

    def _statement(self):
        """One Core INSERT … ON CONFLICT DO NOTHING, compiled once and run as executemany."""
        insert = sqlite_insert if is_sqlite(self.runtime.settings.effective_database_url) else pg_insert
        return insert(InboxActivity.__table__).on_conflict_do_nothing(index_elements=["ap_id"])

    async def store(self, row: dict) -> None:
        """Store one activity row durably; a known id is silently kept once (rule 8)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="inbox-writer")
        future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((row, future))
        await future

    async def _write(self, statement, batch: list[tuple[dict, asyncio.Future]]) -> None:
        async with writing_connection(self.runtime.sessions) as connection:
            await connection.execute(statement, [row for row, _ in batch])
            await announce(connection, "inbox")  # a separate `civic worker` wakes at once

    async def _drain(self) -> None:
        statement = self._statement()
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(statement, batch)
                written = batch
            except Exception as exc:
                # One row the database refuses must not fail the POSTs it shares a batch with
                # (SECURITY.md rule 13): each is written alone, and only the failing ones get 503.
                log_failure(log, exc, "inbox write of %d rows failed; writing them one by one", len(batch))
                written = []
                for item in batch:
                    try:
                        await self._write(statement, [item])
                        written.append(item)
                    except Exception as exc:
                        if not item[1].done():
                            item[1].set_exception(exc)
            for _, future in written:
                if not future.done():
                    future.set_result(None)
            if written:
                self.runtime.last_ingest = time.monotonic()
                self.runtime.inbox_ready.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


INBOX_WRITER = web.AppKey("civic_inbox_writer", InboxWriter)
REFUSALS = web.AppKey("civic_inbox_refusals", RefusalLog)


class Refused(Exception):
    """A 4xx answered before anything is stored, with what could be read of the request."""

    def __init__(self, status: int, reason: str, doc: dict | None = None,
                 retry_after: int | None = None):
        super().__init__(reason)
        self.status, self.reason, self.doc, self.retry_after = status, reason, doc, retry_after


async def _admit(request: web.Request, rt: Runtime, key_id: str | None) -> dict:
    """The checks before the 202, in order (SECURITY.md rules 6, 10, 2-3, 14, 1); the activity
    document, or Refused."""
    body = await read_capped(request)
    if body is None:
        raise Refused(413, f"the body exceeds {MAX_BODY} bytes")
    if not key_id:
        raise Refused(401, "the request is not signed")
    if refused(key_id, rt):
        raise Refused(403, "this node does not federate with your domain "
                           "(blocked, or not on its allow list)")
    try:
        owner = await verify_signed(request, body)
    except SignatureError as exc:
        raise Refused(401, exc.reason) from None
    wait = request.app[HOST_LIMITER].retry_after(host_of(owner))  # SECURITY.md rule 17
    if wait is not None:
        raise Refused(429, f"too many activities from {host_of(owner)}; retry in {ceil(wait)} s",
                      retry_after=ceil(wait))
    try:
        parsed = loads(body)
    except InvalidDocument as exc:
        raise Refused(400, exc.reason) from None
    try:
        doc = check_activity(check_bounds(parsed, text=b"\\u" in body))  # SECURITY.md rule 14
    except InvalidDocument as exc:
        raise Refused(400, exc.reason, parsed if isinstance(parsed, dict) else None) from None
    actor = id_of(doc["actor"])
    if owner != actor:
        # SECURITY.md rule 2 (and rule 4: forwarded activities are not trusted on a relay's word).
        raise Refused(401, "the signing key does not belong to the activity's actor", doc)
    try:
        check_origin(doc, actor)
    except InvalidDocument as exc:
        raise Refused(400, exc.reason, doc) from None
    return doc


async def receive(request: web.Request) -> web.Response:
    """POST /inbox and /actors/{username}/inbox."""
    rt: Runtime = request.app[RUNTIME]
    key_id = key_id_of({k.lower(): v for k, v in request.headers.items()})
    try:
        try:
            doc = await _admit(request, rt, key_id)
        except Exception as exc:  # not one of our refusals: a bug, or the database went away
            if isinstance(exc, Refused):
                raise
            if transient(exc):
                OUTAGE.failed(exc)
                return unavailable("the node cannot check activities right now; retry later")
            log.exception("inbox: admitting a POST from %s raised", key_id or request.remote)
            # Never a 500 (SECURITY.md rule 19): what this request carried set it off.
            raise Refused(400, f"the activity could not be checked ({type(exc).__name__})") from None
    except Refused as exc:
        log.info("inbox: refused a POST from %s: %s", key_id or request.remote, exc.reason)
        request.app[REFUSALS].record(exc.status, exc.reason, doc=exc.doc,
                                     host=refusal_host(key_id, request.remote))
        response = problem(exc.status, exc.reason)
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    username = request.match_info.get("username")
    row = {
        "ap_id": doc["id"],
        "type": (first_type(doc) or "")[:64],
        "actor": id_of(doc["actor"]),
        "recipient": rt.uris.actor(username) if username else None,
        "document": doc,
        "state": "received",
        "received_at": utcnow(),
    }
    try:
        await request.app[INBOX_WRITER].store(row)
    except Exception:
        return unavailable("the node cannot store activities right now; retry later")
    return web.Response(status=202)


async def pending_ids(runtime: Runtime, limit: int = 100) -> list[int]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(InboxActivity.id).where(InboxActivity.state == "received")
            .order_by(InboxActivity.id).limit(limit)
        )
        return list(rows)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/inbox", receive)
    app.router.add_post("/actors/{username}/inbox", receive)
