"""Account security: session epochs (logout everywhere), password change, registration approval."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from node import changes
from node.db import transaction
from node.errors import InvalidInput, NotFound
from node.models import AccountState, User
from node.services import actors


async def session_epoch(session: AsyncSession, user_id: int) -> int | None:
    """The account's current session epoch; None when the account does not exist (any more).

    One indexed query, run for each request that carries a signed-in cookie (SECURITY.md rule 16)."""
    row = (await session.execute(
        select(User.id, AccountState.session_epoch)
        .outerjoin(AccountState, AccountState.user_id == User.id)
        .where(User.id == user_id)
    )).first()
    if row is None:
        return None
    return row[1] or 0


async def _upsert_state(session: AsyncSession, user_id: int, values: dict, on_conflict: dict) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(AccountState).values(user_id=user_id, **values)
        .on_conflict_do_update(index_elements=[AccountState.user_id], set_=on_conflict)
    )


async def end_sessions(session: AsyncSession, user_id: int) -> int:
    """Bump the account's epoch: every session cookie issued before stops working, in every
    process at once (they all read the epoch from the database). Returns the new epoch.

    Used by logout, password change and (later) account deletion."""
    await _upsert_state(session, user_id, {"session_epoch": 1, "approved": True},
                        {"session_epoch": AccountState.session_epoch + 1})
    changes.touch(session, changes.session(user_id))  # the epochs processes keep are dropped
    return await session.scalar(
        select(AccountState.session_epoch).where(AccountState.user_id == user_id))


async def change_password(sessions: async_sessionmaker[AsyncSession], user: User, current: str,
                          new: str) -> int:
    """Set a new password after checking the current one; ends every other session.

    Returns the new epoch (the caller starts the visitor's new session under it). Raises
    InvalidInput when the current password is wrong or the new one too short. The argon2 work is
    done before the write transaction, so other writers never wait for it."""
    if not await actors.verify_password_async(user.password_hash, current):
        raise InvalidInput("the current password is wrong")
    password_hash = await actors.hash_password_async(new)
    async with transaction(sessions) as session:
        await session.execute(
            update(User).where(User.id == user.id).values(password_hash=password_hash))
        return await end_sessions(session, user.id)


async def is_approved(session: AsyncSession, user_id: int) -> bool:
    approved = await session.scalar(
        select(AccountState.approved).where(AccountState.user_id == user_id))
    return approved is None or bool(approved)


async def mark_pending(session: AsyncSession, user_id: int) -> None:
    """The account waits for a node admin's approval (registration_approval on)."""
    await _upsert_state(session, user_id, {"session_epoch": 0, "approved": False}, {"approved": False})


async def pending_accounts(session: AsyncSession) -> list[User]:
    rows = await session.scalars(
        select(User).join(AccountState, AccountState.user_id == User.id)
        .where(AccountState.approved.is_(False)).order_by(User.created_at, User.id)
    )
    return list(rows)


async def approve(session: AsyncSession, handle: str) -> User:
    """Let a waiting account log in. NotFound when no local account has that handle;
    InvalidInput when it was not waiting."""
    user = await actors.user_by_username(session, handle.lstrip("@"))
    if user is None:
        raise NotFound(f"no account with the handle {handle!r}")
    if await is_approved(session, user.id):
        raise InvalidInput(f"@{user.actor.username} is not waiting for approval")
    await session.execute(
        update(AccountState).where(AccountState.user_id == user.id).values(approved=True))
    return user

