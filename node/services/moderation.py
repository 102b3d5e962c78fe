"""Moderation of remote servers: the domain blocks an administrator writes (`civic domain ...`).

A block covers the domain and all its subdomains. This module owns the blocks and the rule for which
hosts they cover; federation/policy.py only reads them, to answer 403 to signed requests (inbox POSTs
and signed GETs) whose key belongs to a blocked host. Running processes reload them when a block
changes: at once on PostgreSQL (announced with node.db.announce), within seconds on SQLite.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node.db import announce
from node.errors import InvalidInput
from node.models import DomainBlock

BLOCKS_CHANGED = "blocks"  # what block_domain and unblock_domain announce to the node's processes


def check_domain(domain: str) -> str:
    """The domain, trimmed and lower-cased; InvalidInput when it cannot be a host name."""
    domain = domain.strip().lower()
    if not domain or "/" in domain or " " in domain or "." not in domain and ":" not in domain:
        raise InvalidInput(f"{domain!r} is not a domain name")
    return domain


async def block_domain(session: AsyncSession, domain: str, reason: str = "") -> DomainBlock:
    """Block a domain (and its subdomains); blocking it again keeps the first block and its reason."""
    domain = check_domain(domain)
    block = await session.scalar(select(DomainBlock).where(DomainBlock.domain == domain))
    if block is None:
        block = DomainBlock(domain=domain, reason=reason)
        session.add(block)
        await session.flush()
        await announce(session, BLOCKS_CHANGED)
    return block


async def unblock_domain(session: AsyncSession, domain: str) -> bool:
    """Lift a block; False when the domain was not blocked."""
    block = await session.scalar(select(DomainBlock).where(DomainBlock.domain == check_domain(domain)))
    if block is None:
        return False
    await session.delete(block)
    await announce(session, BLOCKS_CHANGED)
    return True


async def list_blocks(session: AsyncSession) -> list[DomainBlock]:
    """Every block, in domain order."""
    return list(await session.scalars(select(DomainBlock).order_by(DomainBlock.domain)))


async def blocked_domains(session: AsyncSession) -> set[str]:
    """The blocked domains, lower-cased: the set `is_blocked` checks hosts against."""
    return {d.lower() for d in await session.scalars(select(DomainBlock.domain))}


def is_blocked(host: str, blocked: set[str]) -> bool:
    """True when the host (``name`` or ``name:port``), or a domain it belongs to, is blocked.

    Ports are ignored: blocking ``spam.example`` also covers ``spam.example:8443`` and
    ``a.b.spam.example``, never ``notspam.example``.
    """
    host = host.lower()
    if not host or not blocked:
        return False
    if host in blocked:
        return True
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    parts = name.split(".")
    return any(".".join(parts[i:]) in blocked for i in range(len(parts)))
