"""Our node as users run it, for the interop tests: `civic init`, `civic org create`, `civic serve`.

The node is a real `civic serve` subprocess (inbox processing, fan-out and delivery in-process, on
SQLite) in its own process group on a 127.0.0.x address; other `civic` commands run against the
same data directory, as an administrator would run them. What the node stored is read back from
its SQLite database with the node's own services.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node.db import create_engine, session_factory
from node.models import Activity, Actor, Delivery, Follow, InboxActivity
from node.services import actors, notes
from tests.interop.processes import (
    PeerError,
    PeerProcess,
    free_port,
    http_json,
    port_lock,
    wait_for,
)

T = TypeVar("T")

CIVIC_TIMEOUT = 60.0  # seconds for one short `civic` command (init, org create, announce, follow)


def civic_executable() -> str:
    """The `civic` script of the interpreter running the tests (the project's venv)."""
    beside = Path(sys.executable).with_name("civic")
    if beside.is_file():
        return str(beside)
    found = shutil.which("civic")
    if found is None:
        raise PeerError("the `civic` command is not installed (pip install -e . in the venv)")
    return found


def clean_env() -> dict[str, str]:
    """The test environment without CIVIC_* variables: they would override the node's civic.toml."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class CivicNode:
    """One Civic Node: a data directory, organisations, and a running `civic serve`."""

    name = "civic"

    def __init__(self, workdir: Path, host: str = "127.0.0.5", port: int = 8005,
                 database_url: str | None = None):
        self.workdir, self.host, self.wanted_port = workdir, host, port
        self.data_dir = workdir / "data"
        # None: SQLite in the data directory, as `civic init` sets a node up by default; else an
        # empty database (e.g. PostgreSQL, postgresql+asyncpg://…) that `civic init` migrates.
        self.database_url = database_url
        self.port = 0
        self.base_url = ""
        self.process: PeerProcess | None = None
        self.env = clean_env()
        self.civic_bin = civic_executable()

    # ---- life cycle ----

    def start(self, organisations: dict[str, str]) -> CivicNode:
        """`civic init`, one `civic org create` per {handle: name}, then `civic -v serve`."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Under the harness's lock: no parallel session takes the port between our pick and bind.
        with port_lock():
            self.port = free_port(self.host, self.wanted_port)
            self.base_url = f"http://{self.host}:{self.port}"
            database = ["--database-url", self.database_url] if self.database_url else []
            self.civic("init", "--base-url", self.base_url, "--development", *database)
            for handle, display_name in organisations.items():
                self.civic("org", "create", handle, "--name", display_name)
            argv = [self.civic_bin, "-v", "serve", "--data-dir", str(self.data_dir)]
            argv += ["--host", self.host, "--port", str(self.port)]
            self.process = PeerProcess(self.name, argv, self.workdir)
            self.process.env = self.env
            self.process.start()
            self.process.wait_until_answers(f"{self.base_url}/.well-known/nodeinfo")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def __enter__(self) -> CivicNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 60) -> str:
        return self.process.log_tail(lines) if self.process else ""

    # ---- the `civic` command ----

    def civic(self, *args: str) -> str:
        """Runs `civic <args> --data-dir D`; returns its standard output, raises on failure."""
        argv = [self.civic_bin, *args, "--data-dir", str(self.data_dir)]
        result = subprocess.run(
            argv,
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CIVIC_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise PeerError(
                f"`civic {' '.join(args)}` exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result.stdout

    def announce(self, handle: str, text: str) -> str:
        """`civic org announce`: publishes a Note; returns its id (the running node delivers it)."""
        out = self.civic("org", "announce", handle, text)
        found = re.search(r"Published (\S+?);", out)
        if not found:
            raise PeerError(f"`civic org announce` printed no note id: {out!r}")
        return found.group(1)

    def follow(self, handle: str, target: str) -> str:
        """`civic org follow`: resolves `target` (handle or URL) and sends a Follow; returns the
        followed actor's id as the command printed it."""
        out = self.civic("org", "follow", handle, target)
        found = re.search(r" follows (\S+) \(", out)
        if not found:
            raise PeerError(f"`civic org follow` printed no actor id: {out!r}")
        return found.group(1)

    # ---- ids ----

    def actor_url(self, handle: str) -> str:
        return f"{self.base_url}/actors/{handle}"

    def acct(self, handle: str) -> str:
        return f"acct:{handle}@{self.host}:{self.port}"

    def webfinger(self, resource: str) -> tuple[int, Any]:
        url = f"{self.base_url}/.well-known/webfinger"
        return http_json("GET", f"{url}?resource={resource}")

    # ---- what the node stored (its SQLite database, read with the node's own code) ----

    def db_url(self) -> str:
        """The node's database: the one given to `civic init`, else its SQLite file."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'civic.db'}"

    def query(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Runs `work(session)` on a fresh engine over the node's database (WAL: beside the writer)."""

        async def run() -> T:
            engine = create_engine(self.db_url())
            try:
                async with session_factory(engine)() as session:
                    return await work(session)
            finally:
                await engine.dispose()

        return asyncio.run(run())

    def timeline(self, handle: str) -> list[dict]:
        """notes.timeline_of(handle): posts from the actors it follows, newest first."""

        async def work(session: AsyncSession) -> list[dict]:
            actor = await actors.require_local_actor(session, handle)
            return [
                {"id": n.ap_id, "actor": n.actor.ap_id, "content": n.content, "local": n.local}
                for n in await notes.timeline_of(session, actor)
            ]

        return self.query(work)

    def follow_state(self, follower: str, followed: str) -> str | None:
        """State of the follow `follower` -> `followed` (actor ids), None when there is none."""

        async def work(session: AsyncSession) -> str | None:
            ids = dict(
                (
                    await session.execute(
                        select(Actor.ap_id, Actor.id).where(Actor.ap_id.in_([follower, followed]))
                    )
                ).all()
            )
            if follower not in ids or followed not in ids:
                return None
            return await session.scalar(
                select(Follow.state).where(
                    Follow.follower_id == ids[follower], Follow.followed_id == ids[followed]
                )
            )

        return self.query(work)

    def inbox(self, actor: str | None = None) -> list[dict]:
        """Inbound activities the node stored (verified), oldest first, optionally by one actor."""

        async def work(session: AsyncSession) -> list[dict]:
            query = select(InboxActivity).order_by(InboxActivity.id)
            if actor is not None:
                query = query.where(InboxActivity.actor == actor)
            return [
                {
                    "id": r.ap_id,
                    "type": r.type,
                    "actor": r.actor,
                    "state": r.state,
                    "error": r.error,
                    "recipient": r.recipient,
                    "document": r.document,
                }
                for r in await session.scalars(query)
            ]

        return self.query(work)

    def deliveries(self, inbox: str | None = None) -> list[dict]:
        """Our outgoing deliveries with the activity each carries, oldest first."""

        async def work(session: AsyncSession) -> list[dict]:
            query = (
                select(Delivery, Activity)
                .join(Activity, Activity.id == Delivery.activity_id)
                .order_by(Delivery.id)
            )
            if inbox is not None:
                query = query.where(Delivery.inbox == inbox)
            return [
                {
                    "activity": a.ap_id,
                    "type": a.type,
                    "document": a.document,
                    "inbox": d.inbox,
                    "state": d.state,
                    "attempts": d.attempts,
                    "last_status": d.last_status,
                    "error": d.error,
                }
                for d, a in (await session.execute(query)).all()
            ]

        return self.query(work)

    def wait_delivered(
        self, activity_id: str, inbox: str | None = None, timeout: float = 30
    ) -> dict:
        """The delivery of `activity_id` (to `inbox`, or its one inbox) once it was accepted (2xx).

        A delivery the node gave up on fails at once; a refused one that waits for a retry fails
        at the timeout; both with the recorded status and error."""
        seen: list[dict] = []

        def check() -> dict | None:
            rows = [r for r in self.deliveries(inbox) if r["activity"] == activity_id]
            seen[:] = rows
            for row in rows:
                if row["state"] == "failed":
                    raise AssertionError(f"the node gave up delivering {activity_id}: {row}")
                if row["state"] == "delivered":
                    return row
            return None

        try:
            return wait_for(check, timeout, f"delivery of {activity_id}", interval=0.2)
        except TimeoutError as error:
            raise AssertionError(f"{error}; delivery rows: {seen}") from None


def serving(workdir: Path, organisations: dict[str, str], **where) -> Iterator[CivicNode]:
    """A started CivicNode for a module fixture (``yield from serving(...)``), stopped after."""
    civic = CivicNode(workdir, **where)
    try:
        civic.start(organisations)
        yield civic
    finally:
        civic.stop()


