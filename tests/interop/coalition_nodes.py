"""The coalition scenario's nodes (tests/interop/test_coalition_interop.py): each started per
backend on its own loopback address, waited on, and described when a wait fails; and the small
readers of what the commands print and the peers receive."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.dbs import create_pg_database, drop_pg_database
from tests.interop import coalition_setup as seen
from tests.interop.node_process import CivicNode, serving
from tests.interop.peers import wait_for as poll

WAIT = 30.0  # seconds: a running node's fan-out picks up what a `civic` command wrote within 5 s
NODES: dict[str, CivicNode] = {}  # the running nodes by role, for failure messages


def id_of(value) -> str | None:
    return value.get("id") if isinstance(value, dict) else value


def urls_in(out: str, path: str) -> list[str]:
    """The http(s) URLs containing `path` (e.g. "/campaigns/") that a command printed, in order."""
    return re.findall(rf"https?://[^\s\"'<>(),;]+{re.escape(path)}[A-Za-z0-9_-]+", out)


def variant_of(page: dict) -> str | None:
    """A Page's `civic:variantOf`, however the sender's JSON-LD compaction spelled the key."""
    for key, value in page.items():
        if key == "civic:variantOf" or key.endswith("variantOf") or key.endswith("#variantOf"):
            return id_of(value[0] if isinstance(value, list) and value else value)
    return None


def diagnosis() -> str:
    """What each running node of the scenario last received and has not delivered: the part of
    a failure's message that says where the scenario stopped."""
    lines = []
    for role, node in NODES.items():
        for row in node.inbox()[-8:]:
            lines.append(f"{role} inbox: {row['type']} {row['id']} from {row['actor']}: "
                         f"{row['state']} ({row['error']})")
        for row in node.deliveries():
            if row["state"] != "delivered":
                lines.append(f"{role} delivery: {row['type']} {row['activity']} to {row['inbox']}: "
                             f"{row['state']} after {row['attempts']} ({row['last_status']}, {row['error']})")
    return "\n".join(lines)


def wait_for(check, timeout: float, what: str, interval: float = 0.3):
    """tests.interop.processes.wait_for, failing with the nodes' inbox and delivery states."""
    try:
        return poll(check, timeout, what, interval=interval)
    except TimeoutError as error:
        raise AssertionError(f"{error}\n{diagnosis()}") from None


def wait_state(node: CivicNode, coalition: str, org: str, state: str | None, what: str) -> None:
    seen_states: list = []

    def check() -> bool:
        seen_states[:] = [seen.membership_state(node, coalition, org)]
        return seen_states[0] == state

    try:
        poll(check, WAIT, what, interval=0.3)
    except TimeoutError as error:
        raise AssertionError(f"{error}; last state {seen_states}\n{diagnosis()}") from None


# Loopback addresses per backend: a peer that cached the first pass's actors (their keys) never
# mistakes the second pass's nodes for them.
HOSTS = {"sqlite": {"home": 31, "city": 32, "ngo": 33}, "postgresql": {"home": 34, "city": 35, "ngo": 36}}


def node_for(tmp_path_factory: pytest.TempPathFactory, backend: str, role: str,
             organisations: dict[str, str]):
    """`civic serve` for `role` on 127.0.0.<n> (port 80<n> unless taken), on `backend`."""
    number = HOSTS[backend][role]
    url = asyncio.run(create_pg_database()) if backend == "postgresql" else None
    running = serving(tmp_path_factory.mktemp(f"civic-{role}"), organisations,
                      host=f"127.0.0.{number}", port=8000 + number, database_url=url)
    try:
        NODES[role] = next(running)
        yield NODES[role]
    finally:
        NODES.pop(role, None)
        running.close()  # stops the node (serving's finally)
        if url is not None:
            asyncio.run(drop_pg_database(url))
