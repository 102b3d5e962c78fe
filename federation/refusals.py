"""Refused inbound POSTs, kept with their reasons for the node's admins (SECURITY.md rule 21).

A refusal is a 4xx answered before anything is stored: unsigned, bad signature, blocked domain,
malformed or out-of-range document, wrong origin. The request handler only appends to a bounded
buffer; one task writes the buffer in batches, so a flood of junk costs one insert per batch, not
one per request, and beyond ``max_pending`` unwritten refusals the extra ones are only counted
(and that count is written as a refusal of its own). The table keeps the newest ``keep`` rows.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import delete, func, insert, select

from activities.normalize import first_type, host_of, id_of
from federation.isolation import log_failure
from federation.runtime import Runtime
from node.db import writing
from node.models import InboxRefusal, utcnow

log = logging.getLogger(__name__)


class RefusalLog:
    def __init__(self, runtime: Runtime, max_pending: int = 1000, keep: int = 10_000):
        self.runtime, self.max_pending, self.keep = runtime, max_pending, keep
        self._pending: list[dict] = []
        self._dropped = 0
        self._task: asyncio.Task | None = None
        self._written = 0

    def record(self, status: int, reason: str, *, host: str = "", doc: object = None) -> None:
        """Note one refusal; never waits, never raises."""
        if len(self._pending) >= self.max_pending:
            self._dropped += 1
            return
        row = {"received_at": utcnow(), "status": status, "reason": _clean(reason, 1000) or "",
               "host": _clean(host, 255) or "", "ap_id": None, "type": None, "actor": None}
        if isinstance(doc, dict):
            row["ap_id"] = _clean(id_of(doc.get("id")), 2048)
            row["type"] = _clean(first_type(doc), 64)
            row["actor"] = _clean(id_of(doc.get("actor")), 2048)
        self._pending.append(row)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush(), name="inbox-refusals")

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the requests of this burst add their rows first
        while self._pending or self._dropped:
            batch, self._pending = self._pending, []
            if self._dropped:
                batch.append({"received_at": utcnow(), "status": 429, "host": "", "ap_id": None,
                              "type": None, "actor": None,
                              "reason": f"{self._dropped} more refusals arrived too fast to record"})
                self._dropped = 0
            try:
                async with writing(self.runtime.sessions) as session:
                    await session.execute(insert(InboxRefusal), batch)
                    self._written += len(batch)
                    if self._written >= self.keep // 10:  # prune now and then, not every batch
                        self._written = 0
                        newest = await session.scalar(select(func.max(InboxRefusal.id)))
                        await session.execute(delete(InboxRefusal).where(
                            InboxRefusal.id <= (newest or 0) - self.keep))
            except Exception as exc:  # the database is away: these refusals are only logged
                log_failure(log, exc, "could not record %d inbox refusals", len(batch))

    async def close(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


def _clean(text: object, limit: int) -> str | None:
    """What a refused document said, made storable: a string, no NUL, within the column."""
    if not isinstance(text, str):
        return None
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")  # lone surrogates
    return text[:limit] or None


def refusal_host(key_id: str | None, remote: str | None) -> str:
    """Who was refused: the signing key's host when there is one, else the client's address."""
    return host_of(key_id) if key_id else (remote or "")
