"""Instance policy: domain blocks and allow-list mode, checked on every signed request."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.normalize import host_of
from node.errors import InvalidInput
from node.models import DomainBlock


def is_blocked(url_or_host: str, blocked: set[str]) -> bool:
    """True when the host, or a domain it belongs to, is blocked (ports are ignored)."""
    host = host_of(url_or_host) if "://" in url_or_host else url_or_host.lower()
    if not host or not blocked:
        return False
    if host in blocked:
        return True
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    parts = name.split(".")
    return any(".".join(parts[i:]) in blocked for i in range(len(parts)))


async def load_blocks(session: AsyncSession) -> set[str]:
    return {d.lower() for d in await session.scalars(select(DomainBlock.domain))}


def check_domain(domain: str) -> str:
    domain = domain.strip().lower()
    if not domain or "/" in domain or " " in domain or "." not in domain and ":" not in domain:
        raise InvalidInput(f"{domain!r} is not a domain name")
    return domain


async def block_domain(session: AsyncSession, domain: str, reason: str = "") -> DomainBlock:
    domain = check_domain(domain)
    block = await session.scalar(select(DomainBlock).where(DomainBlock.domain == domain))
    if block is None:
        block = DomainBlock(domain=domain, reason=reason)
        session.add(block)
        await session.flush()
    return block


async def unblock_domain(session: AsyncSession, domain: str) -> bool:
    block = await session.scalar(select(DomainBlock).where(DomainBlock.domain == check_domain(domain)))
    if block is None:
        return False
    await session.delete(block)
    return True
