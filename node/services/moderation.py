"""Moderation of remote servers and accounts: the domain blocks an administrator writes (`civic domain
...`), the allow list that replaces open federation in allow-list mode (setting ``allowlist_mode``),
and the remote accounts blocked or silenced (`civic account block|silence|unblock`).

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
from node.models import AccountRestriction, AccountRestrictions, DomainAllow, DomainBlock, User
from node.services import moderation_log

BLOCKS_CHANGED = "blocks"  # what changes to blocks and allows announce to the node's processes


def check_domain(domain: str) -> str:
    """The domain, trimmed and lower-cased; InvalidInput when it cannot be a host name."""
    domain = domain.strip().lower()
    if not domain or "/" in domain or " " in domain or "." not in domain and ":" not in domain:
        raise InvalidInput(f"{domain!r} is not a domain name")
    return domain


async def _add(session: AsyncSession, model, domain: str, **fields):
    """The row of ``domain`` in ``model``'s table, created (and announced) when missing."""
    domain = check_domain(domain)
    row = await session.scalar(select(model).where(model.domain == domain))
    if row is None:
        row = model(domain=domain, **fields)
        session.add(row)
        await session.flush()
        await announce(session, BLOCKS_CHANGED)
    return row


async def _remove(session: AsyncSession, model, domain: str) -> bool:
    """Delete the row of ``domain`` (and announce it); False when there was none."""
    row = await session.scalar(select(model).where(model.domain == check_domain(domain)))
    if row is None:
        return False
    await session.delete(row)
    await announce(session, BLOCKS_CHANGED)
    return True


async def _domains(session: AsyncSession, model) -> set[str]:
    return {d.lower() for d in await session.scalars(select(model.domain))}


async def block_domain(session: AsyncSession, domain: str, reason: str = "", *,
                       by: User | None = None) -> DomainBlock:
    """Block a domain (and its subdomains); blocking it again keeps the first block and its reason.
    A new block lands in the moderation log (SECURITY.md rule 22)."""
    before = await session.scalar(select(DomainBlock.id).where(DomainBlock.domain == check_domain(domain)))
    row = await _add(session, DomainBlock, domain, reason=reason)
    if before is None:
        await moderation_log.record(session, by, "block_domain", "domain", row.domain, reason=reason)
    return row


async def unblock_domain(session: AsyncSession, domain: str, *, by: User | None = None) -> bool:
    """Lift a block (logged); False when the domain was not blocked."""
    removed = await _remove(session, DomainBlock, domain)
    if removed:
        await moderation_log.record(session, by, "unblock_domain", "domain", check_domain(domain))
    return removed


async def list_blocks(session: AsyncSession) -> list[DomainBlock]:
    """Every block, in domain order."""
    return list(await session.scalars(select(DomainBlock).order_by(DomainBlock.domain)))


async def blocked_domains(session: AsyncSession) -> set[str]:
    """The blocked domains, lower-cased: the set `is_blocked` checks hosts against."""
    return await _domains(session, DomainBlock)


def covered(host: str, domains: set[str]) -> bool:
    """True when the host (``name`` or ``name:port``), or a domain it belongs to, is in ``domains``.

    Ports are ignored: ``spam.example`` covers ``spam.example:8443`` and ``a.b.spam.example``,
    never ``notspam.example``.
    """
    host = host.lower()
    if not host or not domains:
        return False
    if host in domains:
        return True
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    parts = name.split(".")
    return any(".".join(parts[i:]) in domains for i in range(len(parts)))


def is_blocked(host: str, blocked: set[str]) -> bool:
    """True when the host, or a domain it belongs to, is blocked (see :func:`covered`)."""
    return covered(host, blocked)


# -- the allow list (allow-list mode) -------------------------------------------------------------

async def allow_domain(session: AsyncSession, domain: str) -> DomainAllow:
    """Allow a domain (and its subdomains) in allow-list mode; allowing it again changes nothing."""
    return await _add(session, DomainAllow, domain)


async def disallow_domain(session: AsyncSession, domain: str) -> bool:
    """Take a domain off the allow list; False when it was not on it."""
    return await _remove(session, DomainAllow, domain)


async def list_allows(session: AsyncSession) -> list[DomainAllow]:
    """Every allowed domain, in domain order."""
    return list(await session.scalars(select(DomainAllow).order_by(DomainAllow.domain)))


async def allowed_domains(session: AsyncSession) -> set[str]:
    """The allowed domains, lower-cased (see :func:`covered`)."""
    return await _domains(session, DomainAllow)


# -- remote accounts: blocked (activities refused) or silenced (contributions held) ---------------

async def account_restriction(session: AsyncSession, actor_ap_id: str) -> AccountRestriction | None:
    """The block or silence of that remote account, if any."""
    return await session.scalar(select(AccountRestriction)
                                .where(AccountRestriction.actor_ap_id == actor_ap_id))


async def restrict_account(session: AsyncSession, actor_ap_id: str, level: str, reason: str = "", *,
                           by: User | None = None) -> AccountRestriction:
    """Block or silence a remote account (changing an existing restriction's level and reason);
    logged in the moderation log (SECURITY.md rule 22)."""
    if level not in AccountRestrictions.ALL:
        raise InvalidInput(f"unknown restriction {level!r}: use block or silence")
    actor_ap_id = (actor_ap_id or "").strip()
    if not actor_ap_id.startswith(("https://", "http://")) or len(actor_ap_id) > 2048:
        raise InvalidInput("give the address (https://…) of a remote account")
    row = await account_restriction(session, actor_ap_id)
    if row is None:
        row = AccountRestriction(actor_ap_id=actor_ap_id, level=level)
        session.add(row)
    row.level, row.reason = level, (reason or "")[:moderation_log.MAX_REASON]
    row.created_by_id = by.id if by else None
    await session.flush()
    await moderation_log.record(session, by, level, "account", actor_ap_id, reason=reason)
    return row


async def lift_restriction(session: AsyncSession, actor_ap_id: str, *, by: User | None = None) -> bool:
    """Unblock or unsilence; False when the account was neither."""
    row = await account_restriction(session, (actor_ap_id or "").strip())
    if row is None:
        return False
    await session.delete(row)
    await moderation_log.record(session, by, "unblock", "account", row.actor_ap_id)
    return True


async def list_restrictions(session: AsyncSession) -> list[AccountRestriction]:
    return list(await session.scalars(select(AccountRestriction).order_by(AccountRestriction.actor_ap_id)))
