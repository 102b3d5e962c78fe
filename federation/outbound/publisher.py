"""The publisher: stores one activity we send and queues one delivery per target inbox, in
batches."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from activities.normalize import host_of
from federation.outbound.audience import Audience
from federation.policy import refused
from federation.runtime import Runtime
from node import visibility
from node.db import is_sqlite
from node.models import Activity, Actor, Delivery, utcnow
from node.uris import new_token


class Publisher:
    """What every builder is handed: the runtime, the event's session, and ``publish``.

    It lives inside the event's transaction (federation/fanout.py), so an activity and its
    deliveries are stored together or not at all (SECURITY.md rule 13)."""

    def __init__(self, rt: Runtime, session: AsyncSession):
        self.rt, self.session = rt, session
        self.deliveries = 0

    def new_id(self) -> str:
        return self.rt.uris.activity(new_token())

    async def publish(self, actor: Actor, doc: dict, inboxes: Audience | Iterable[str], *, level: str,
                      organization_id: int | None = None, object_ap_id: str | None = None,
                      listed: bool = True) -> Activity:
        """Store the activity and queue one delivery per inbox (each inbox once), reading
        ``inboxes`` in batches (federation/outbound/audience.py) so that no fan-out holds all of
        its followers at once.

        ``level`` is the visibility level of what the activity carries (node/visibility.py) and
        ``organization_id`` the organisation that level refers to, so that the activity answers at
        its id exactly when its object would; ``object_ap_id`` is the object's id (the inner
        object's for an Announce of an activity), so that deleting the object withdraws it
        (node/services/outbox.withdraw). ``members`` never leaves the node: publishing at that
        level is a bug and raises. The activity is listed in the actor's outbox when anyone may
        read it (public, unlisted) and ``listed`` is true (a Follow, an Accept, a Delete is not)."""
        if not visibility.federates(visibility.check_level(level)):
            raise ValueError(f"an activity at level {level!r} is never published")
        activity = Activity(ap_id=doc["id"], actor_id=actor.id, type=doc["type"], document=doc,
                            public=listed and visibility.admits(level, visibility.NOBODY),
                            level=level, organization_id=organization_id,
                            object_ap_id=object_ap_id)
        self.session.add(activity)
        await self.session.flush()
        audience = inboxes if isinstance(inboxes, Audience) else Audience(named=tuple(inboxes))
        async for batch in audience.batches(self.session):
            await self._queue(activity, batch)
        return activity

    async def _queue(self, activity: Activity, inboxes: list[str]) -> None:
        """One delivery row per inbox of one batch, in one INSERT; an inbox already queued for the
        activity (a shared inbox met in an earlier batch) is skipped by the database."""
        # Never to this node itself, nor to a host the domain policy refuses (blocked, or not on
        # the allow list in allow-list mode).
        targets = sorted({i for i in inboxes if i and not self.rt.uris.is_local(i) and not refused(i, self.rt)})
        if not targets:
            return
        insert = sqlite_insert if is_sqlite(self.rt.settings.effective_database_url) else pg_insert
        now = utcnow()
        # One statement with a parameter list (compiled once, cached), not a VALUES clause built
        # per batch: compiling 1,000 rows of VALUES cost more than inserting them. RETURNING
        # counts the rows inserted (not those an earlier batch had already queued).
        statement = (insert(Delivery).on_conflict_do_nothing(index_elements=["activity_id", "inbox"])
                     .returning(Delivery.id))
        result = await self.session.execute(statement, [
            {"activity_id": activity.id, "inbox": inbox, "host": host_of(inbox),
             "state": "queued", "attempts": 0, "next_try_at": now, "created_at": now}
            for inbox in targets
        ])
        self.deliveries += len(result.all())
