"""Local actors: the instance actor, organisations and people (with their login accounts)."""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from node import visibility
from node.errors import Conflict, InvalidInput, NotFound
from node.keys import generate_rsa_keypair
from node.models import Actor, Membership, User
from node.services import outbox
from node.uris import INSTANCE_USERNAME, Uris, check_username

ROLES = ("admin", "moderator", "official", "ambassador", "member")  # member: verified (node.services.membership)
# The roles that moderate an organisation's discussions: their holders are the FEP-1b12 moderators
# of each discussion's Group; gaining or losing the first of them is federated as Add/Remove.
MODERATOR_ROLES = ("admin", "moderator")
MODERATORS_CHANGED = "moderators.changed"  # the fan-out sends Add/Remove from each discussion's Group
_hasher = PasswordHasher()
# argon2 and RSA key generation take tens of milliseconds of CPU each: they run on these threads,
# never on the event loop, so a flood of registrations does not slow every visitor (SECURITY.md
# rule 18). A few threads only: a flood queues here instead of taking every core.
_CPU = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2), thread_name_prefix="civic-cpu")
# argon2 is memory-hard: each hash or verification takes 64 MiB while it runs. One at a time, so
# that a burst of log-ins adds 64 MiB to a web process, not 64 MiB per thread.
_ARGON2 = ThreadPoolExecutor(max_workers=1, thread_name_prefix="civic-argon2")
# How many argon2 verifications this process ran ("argon2"), and how many of them on the main
# thread, where the event loop runs ("on the main thread") — observable, so tests can show that an
# unknown handle costs the same work as a known one, and that none of it blocks the loop.
VERIFICATIONS: Counter[str] = Counter()
_dummy_hash: str | None = None


async def _off_loop(function, *args):
    return await asyncio.get_running_loop().run_in_executor(_CPU, function, *args)


async def _argon2(function, *args):
    return await asyncio.get_running_loop().run_in_executor(_ARGON2, function, *args)


def hash_password(password: str) -> str:
    if len(password or "") < 8:
        raise InvalidInput("the password must have at least 8 characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    VERIFICATIONS["argon2"] += 1
    if threading.current_thread() is threading.main_thread():
        VERIFICATIONS["on the main thread"] += 1
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password_async(password: str) -> str:
    """hash_password on a worker thread."""
    if len(password or "") < 8:  # refused before spending a thread on it
        raise InvalidInput("the password must have at least 8 characters")
    return await _argon2(hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    """verify_password on a worker thread. Without a hash (unknown account) a dummy hash of the
    same parameters is verified instead, so an unknown handle costs the same time as a known one
    and timing does not reveal which accounts exist (SECURITY.md rule 18)."""
    global _dummy_hash
    if password_hash is None:
        if _dummy_hash is None:
            _dummy_hash = await _argon2(_hasher.hash, secrets.token_urlsafe(16))
        await _argon2(verify_password, _dummy_hash, password)
        return False
    return await _argon2(verify_password, password_hash, password)


@dataclass(frozen=True)
class Credentials:
    """A new account's password hash and key pair, made before its write transaction starts (on
    SQLite the other writers of the process would wait for them otherwise)."""

    password_hash: str
    public_pem: str
    private_pem: str


async def prepare_credentials(password: str) -> Credentials:
    """Hash the password and generate the key pair, in parallel, off the event loop."""
    password_hash, (public_pem, private_pem) = await asyncio.gather(
        hash_password_async(password), _off_loop(generate_rsa_keypair))
    return Credentials(password_hash, public_pem, private_pem)


async def _new_local_actor(uris: Uris, type_: str, username: str, name: str, summary: str = "",
                           keys: tuple[str, str] | None = None) -> Actor:
    public_pem, private_pem = keys or await _off_loop(generate_rsa_keypair)
    ap_id = uris.actor(username) if username != INSTANCE_USERNAME else uris.instance_actor()
    return Actor(
        ap_id=ap_id,
        type=type_,
        local=True,
        username=username,
        domain=uris.domain,
        name=name,
        summary=summary,
        url=ap_id,
        inbox=f"{ap_id}/inbox" if username != INSTANCE_USERNAME else uris.shared_inbox(),
        shared_inbox=uris.shared_inbox(),
        outbox=f"{ap_id}/outbox",
        followers_url=f"{ap_id}/followers",
        key_id=uris.actor_key(ap_id),
        public_key_pem=public_pem,
        private_key_pem=private_pem,
    )


async def local_actor(session: AsyncSession, username: str) -> Actor | None:
    return await session.scalar(
        select(Actor).where(Actor.local.is_(True), Actor.username == username.lower())
    )


async def require_local_actor(session: AsyncSession, username: str, type_: str | None = None) -> Actor:
    actor = await local_actor(session, username)
    if actor is None or (type_ and actor.type != type_):
        what = {"Organization": "organisation", "Person": "user"}.get(type_ or "", "actor")
        raise NotFound(f"no {what} with the handle {username!r}")
    return actor


async def ensure_instance_actor(session: AsyncSession, uris: Uris, name: str) -> Actor:
    """The node's Application actor (signs instance-level fetches; FEP-d556)."""
    actor = await local_actor(session, INSTANCE_USERNAME)
    if actor is None:
        actor = await _new_local_actor(uris, "Application", INSTANCE_USERNAME, name)
        session.add(actor)
        await session.flush()
    return actor


async def _check_free(session: AsyncSession, username: str) -> str:
    username = check_username(username)
    if await local_actor(session, username) is not None:
        raise Conflict(f"the handle {username!r} is already taken on this node")
    return username


async def create_organization(
    session: AsyncSession,
    uris: Uris,
    username: str,
    name: str,
    summary: str = "",
    manually_approves_followers: bool = False,
) -> Actor:
    username = await _check_free(session, username)
    if not (name or "").strip():
        raise InvalidInput("an organisation needs a name")
    actor = await _new_local_actor(uris, "Organization", username, name.strip(), summary)
    actor.manually_approves_followers = manually_approves_followers
    session.add(actor)
    await session.flush()
    return actor


async def create_group(session: AsyncSession, uris: Uris, username: str, name: str, url: str,
                       summary: str = "") -> Actor:
    """The Group actor of a discussion (followable on its own, FEP-1b12)."""
    if await local_actor(session, username) is not None:
        raise Conflict(f"the handle {username!r} is already taken on this node")
    actor = await _new_local_actor(uris, "Group", username, name, summary)
    actor.url = url
    session.add(actor)
    await session.flush()
    return actor


async def create_user(
    session: AsyncSession,
    uris: Uris,
    username: str,
    password: str,
    display_name: str = "",
    email: str | None = None,
    is_admin: bool = False,
    credentials: Credentials | None = None,
) -> User:
    """A local account and its Person actor; ``credentials`` (see :func:`prepare_credentials`)
    when they were made before the transaction, else made here."""
    username = await _check_free(session, username)
    credentials = credentials or await prepare_credentials(password)
    if email is not None:
        email = email.strip().lower()
        if "@" not in email:
            raise InvalidInput(f"{email!r} is not an e-mail address")
        if await session.scalar(select(User).where(User.email == email)):
            raise Conflict(f"an account with the e-mail {email!r} already exists")
    actor = await _new_local_actor(uris, "Person", username, display_name.strip() or username,
                                   keys=(credentials.public_pem, credentials.private_pem))
    session.add(actor)
    await session.flush()
    user = User(actor_id=actor.id, email=email, password_hash=credentials.password_hash,
                is_admin=is_admin)
    user.actor = actor
    session.add(user)
    await session.flush()
    return user


async def user_by_username(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(
        select(User).join(Actor).where(Actor.local.is_(True), Actor.username == username.lower())
    )


async def _membership(session: AsyncSession, user: User, organization: Actor, role: str) -> Membership | None:
    return await session.scalar(
        select(Membership).where(
            Membership.user_id == user.id,
            Membership.organization_id == organization.id,
            Membership.role == role,
        )
    )


async def _moderates(session: AsyncSession, user: User, organization: Actor) -> bool:
    return bool(await session.scalar(select(func.count()).select_from(Membership).where(
        Membership.user_id == user.id, Membership.organization_id == organization.id,
        Membership.role.in_(MODERATOR_ROLES))))


async def _moderators_changed(session: AsyncSession, user: User, organization: Actor, *, added: bool) -> None:
    await outbox.emit(session, MODERATORS_CHANGED, organization_id=organization.id,
                      person_id=user.actor_id, added=added)


async def add_member(session: AsyncSession, user: User, organization: Actor, role: str) -> Membership:
    """Give ``user`` a role in ``organization`` (nothing changes if they have it already). Becoming
    one of its moderators is federated: each discussion's Group sends Add (FEP-1b12)."""
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    existing = await _membership(session, user, organization, role)
    if existing:
        return existing
    newly_moderating = role in MODERATOR_ROLES and not await _moderates(session, user, organization)
    membership = Membership(user_id=user.id, organization_id=organization.id, role=role)
    session.add(membership)
    await session.flush()
    if newly_moderating:
        await _moderators_changed(session, user, organization, added=True)
    return membership


async def remove_member(session: AsyncSession, user: User, organization: Actor, role: str) -> None:
    """Take a role away. The organisation's last admin keeps theirs (nobody could manage it any
    more); no longer moderating is federated: each discussion's Group sends Remove (FEP-1b12)."""
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    membership = await _membership(session, user, organization, role)
    if membership is None:
        raise NotFound(f"@{user.actor.username} is not {role} of @{organization.username}")
    if role == "admin":
        admins = await session.scalar(select(func.count()).select_from(Membership).where(
            Membership.organization_id == organization.id, Membership.role == "admin"))
        if admins <= 1:
            raise Conflict(f"@{user.actor.username} is the last admin of @{organization.username}: "
                           "make someone else admin first")
    await session.delete(membership)
    await session.flush()
    if role in MODERATOR_ROLES and not await _moderates(session, user, organization):
        await _moderators_changed(session, user, organization, added=False)


async def moderators_of(session: AsyncSession, organization: Actor) -> list[Actor]:
    """The local people who moderate the organisation's discussions (admin or moderator role)."""
    people = (select(User.actor_id).join(Membership, Membership.user_id == User.id)
              .where(Membership.organization_id == organization.id, Membership.role.in_(MODERATOR_ROLES)))
    return list(await session.scalars(select(Actor).where(Actor.id.in_(people)).order_by(Actor.id)))


async def has_role(session: AsyncSession, user: User, organization: Actor, *roles: str) -> bool:
    """Whether ``user`` holds one of ``roles`` (any role when none is named) in ``organization``
    — or in a coalition, through its member organisations (node/visibility.py ``roles``)."""
    if user.is_admin:
        return True
    return bool(await visibility.roles(session, user.id, organization.id) & set(roles or ROLES))


async def list_local_actors(session: AsyncSession, type_: str) -> list[Actor]:
    rows = await session.scalars(
        select(Actor).where(Actor.local.is_(True), Actor.type == type_).order_by(Actor.name)
    )
    return list(rows)
