"""Instance policy: which hosts this node refuses to federate with (domain blocks, and in allow-list
mode every host not on the allow list).

Federation only reads the blocks: they are written, listed and loaded by node.services.moderation
(`civic domain block/unblock/list`). `Runtime.blocked_domains` holds the set; :func:`keep_blocks`
reloads it when a block changes (announced on PostgreSQL; polled every few seconds on SQLite).
"""

from __future__ import annotations

import asyncio
import logging

from activities.normalize import host_of
from federation.isolation import log_failure
from federation.runtime import Runtime, wait_for_signal
from node.services import moderation

log = logging.getLogger(__name__)
RELOAD_EVERY = 5.0  # seconds, when no announcement can come (SQLite)


def _host(url_or_host: str) -> str:
    return host_of(url_or_host) if "://" in url_or_host else url_or_host


def is_blocked(url_or_host: str, blocked: set[str]) -> bool:
    """True when the URL's host (a key id, an actor id) or the bare host is covered by a block:
    the domain itself or one of its subdomains, whatever the port."""
    return moderation.is_blocked(_host(url_or_host), blocked)


def refused(url_or_host: str, rt: Runtime) -> bool:
    """Whether this node will not federate with that host: it is blocked or, in allow-list mode
    (setting ``allowlist_mode``), not on the allow list. This node's own host is never refused.
    Checked on signed requests (403), on every fetch (each redirect hop) and before delivery."""
    host = _host(url_or_host)
    if not host or host.lower() == rt.uris.domain.lower():
        return False
    if moderation.is_blocked(host, rt.blocked_domains):
        return True
    return bool(rt.settings.allowlist_mode) and not moderation.covered(host, rt.allowed_domains)


async def reload_blocks(rt: Runtime, *, starting: bool = False) -> None:
    """Load the blocks and the allow list into the runtime."""
    before = rt.allowed_domains
    async with rt.sessions() as session:
        rt.blocked_domains = await moderation.blocked_domains(session)
        rt.allowed_domains = await moderation.allowed_domains(session)
    if rt.settings.allowlist_mode and not rt.allowed_domains and (starting or before):
        log.warning("allow-list mode with an empty allow list: this node federates with no one "
                    "(add domains with `civic domain allow`)")
    rt.blocks_reloaded.set()


async def keep_blocks(rt: Runtime, stop: asyncio.Event, every: float = RELOAD_EVERY) -> None:
    """Until ``stop``: reload the blocks when a change is announced, and every ``every`` seconds
    while no announcements are heard (SQLite, or PostgreSQL before the listener is up)."""
    while not stop.is_set():
        await wait_for_signal(rt.blocks_changed, stop, None if rt.listening.is_set() else every)
        rt.blocks_changed.clear()
        if stop.is_set():
            return
        try:
            await reload_blocks(rt)
        except Exception as exc:  # the database is away for a moment: keep the blocks we have
            log_failure(log, exc, "reloading the domain blocks failed")
