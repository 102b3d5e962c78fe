"""Members of an organisation: admitted by its admins, or verified with its census or a one-time
code. A member is a ``Membership`` row with the role ``member`` (node/visibility.py reads it); the
``MemberVerification`` beside it says how, and the identity it shows is for the admins alone.

Census entries and codes are salted hashes (the organisation's salt): the plain identifiers are
never stored. Verification attempts are counted per account and per client address in the database
before they are checked (SECURITY.md rule 17), a wrong one says only "not recognised", and hashes
are compared in constant time (candidates are found by a short prefix, then compared whole with
:func:`hmac.compare_digest`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from node.db import transaction
from node.errors import CivicError, Conflict, InvalidInput, NotFound
from node.models import (
    Actor,
    CensusEntry,
    Membership,
    MemberVerification,
    User,
    VerificationCode,
    VerificationSalt,
    utcnow,
)
from node.services import actors, limits

MEMBER = "member"
# Verification attempts, counted before each check: per client address (a town hall's kiosk may
# verify many residents) and per account (anyone guessing codes from many addresses still stops).
ATTEMPTS_PER_ADDRESS = 50
ATTEMPTS_PER_ACCOUNT = 10
ATTEMPT_WINDOW = 3600
# Codes: 10 characters of an alphabet without 0/O, 1/I/L (31 symbols: 49.5 bits), shown XXXXX-XXXXX.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
MAX_CODES = 500  # per request
MAX_LABEL = 200
MAX_NOTE = 1000
MAX_IDENTIFIER = 256  # normalised characters
MAX_CENSUS_LINES = 1_000_000
_CHUNK = 500
NOT_RECOGNISED = "not recognised"


class NotRecognised(InvalidInput):
    """A wrong identifier or code, a used or revoked one: the same words for all of them."""

    def __init__(self) -> None:
        super().__init__(NOT_RECOGNISED)


class TooManyAttempts(CivicError):
    status = 429

    def __init__(self, wait: float) -> None:
        super().__init__("too many verification attempts: retry later")
        self.wait = wait


class AlreadyMember(Conflict):
    def __init__(self, who: str, org: str) -> None:
        super().__init__(f"@{who} is already a member of @{org}")


@dataclass
class CensusReport:
    """What an import did: entries added, duplicates skipped (in the file or already imported),
    and the invalid lines (number, reason) — any of which refuses the whole file."""

    added: int = 0
    duplicates: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)


class CensusRefused(InvalidInput):
    """A census file with invalid lines: nothing of it was imported."""

    def __init__(self, report: CensusReport) -> None:
        shown = ", ".join(f"{number} ({reason})" for number, reason in report.invalid[:10])
        more = f" and {len(report.invalid) - 10} more" if len(report.invalid) > 10 else ""
        super().__init__(f"the census was not imported: invalid line(s) {shown}{more}")
        self.report = report


@dataclass(frozen=True)
class MemberRow:
    """One person with a role in the organisation, for its admins: roles and verification."""

    user: User
    actor: Actor
    roles: tuple[str, ...]
    verification: MemberVerification | None


# -- hashing ----------------------------------------------------------------------------------------

def normalise(identifier: str) -> str:
    """An identifier as it is hashed: case-folded, without any white space or dash (Unicode
    category Pd), so "AB 12-34" and "ab1234" are the same person."""
    return "".join(ch for ch in identifier.casefold()
                   if not ch.isspace() and unicodedata.category(ch) != "Pd")


def identifier_digest(salt: str, identifier: str) -> str:
    """Hex SHA-256 of the salt (its 64 hex digits) followed by the normalised identifier, UTF-8:
    what a municipality computes itself to give the node only hashes."""
    return hashlib.sha256((salt + normalise(identifier)).encode("utf-8")).hexdigest()


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if not ch.isspace() and unicodedata.category(ch) != "Pd")


def code_digest(salt: str, code: str) -> str:
    # "code:" keeps codes and census identifiers apart even if one were typed as the other.
    return hashlib.sha256((salt + "code:" + normalise_code(code)).encode("utf-8")).hexdigest()


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def same_digest(a: str, b: str) -> bool:
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(a.encode("ascii"), b.encode("ascii"))


async def salt_of(session: AsyncSession, org: Actor) -> str:
    """The organisation's salt, made on first use (two first uses at once make one)."""
    salt = await session.scalar(select(VerificationSalt.salt).where(
        VerificationSalt.organization_id == org.id))
    if salt is not None:
        return salt
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(VerificationSalt).values(
        organization_id=org.id, salt=secrets.token_hex(32), created_at=utcnow()
    ).on_conflict_do_nothing(index_elements=[VerificationSalt.organization_id]))
    return await session.scalar(select(VerificationSalt.salt).where(
        VerificationSalt.organization_id == org.id))


# -- members ----------------------------------------------------------------------------------------

async def _verification(session: AsyncSession, org: Actor, user: User) -> MemberVerification | None:
    return await session.scalar(select(MemberVerification).where(
        MemberVerification.organization_id == org.id, MemberVerification.user_id == user.id))


async def is_member(session: AsyncSession, org: Actor, user: User | None) -> bool:
    """Whether ``user`` holds any role in ``org`` (``member`` included), as node/visibility.py counts."""
    if user is None:
        return False
    return bool(await session.scalar(select(Membership.id).where(
        Membership.user_id == user.id, Membership.organization_id == org.id).limit(1)))


async def is_verified(session: AsyncSession, org: Actor, user: User | None,
                      methods: Iterable[str] = ("admin", "census", "code")) -> bool:
    """Whether ``user`` is a verified member of ``org`` (by one of ``methods``): eligibility."""
    if user is None:
        return False
    return bool(await session.scalar(
        select(MemberVerification.id).join(Membership, (Membership.user_id == MemberVerification.user_id)
                                           & (Membership.organization_id == MemberVerification.organization_id)
                                           & (Membership.role == MEMBER))
        .where(MemberVerification.organization_id == org.id, MemberVerification.user_id == user.id,
               MemberVerification.method.in_(tuple(methods))).limit(1)))


def _clean_text(text: str | None, limit: int, what: str) -> str:
    text = (text or "").strip()
    if len(text) > limit:
        raise InvalidInput(f"the {what} is limited to {limit} characters")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        raise InvalidInput(f"the {what} contains control characters")
    return text


async def _make_member(session: AsyncSession, org: Actor, user: User, **record) -> MemberVerification:
    if await _verification(session, org, user) is not None:
        raise AlreadyMember(user.actor.username, org.username)
    await actors.add_member(session, user, org, MEMBER)
    verification = MemberVerification(organization_id=org.id, user_id=user.id, **record)
    session.add(verification)
    await session.flush()
    return verification


async def admit(session: AsyncSession, org: Actor, user: User, by_admin: User | None,
                note: str = "") -> MemberVerification:
    """An admin makes ``user`` a member; ``note`` (who they are) is shown to admins only."""
    note = _clean_text(note, MAX_NOTE, "note")
    return await _make_member(session, org, user, method="admin", identity=note,
                              by_id=by_admin.id if by_admin else None)


async def remove(session: AsyncSession, org: Actor, user: User) -> None:
    """No longer a member: the role and its verification go (the census entry or code stays used)."""
    verification = await _verification(session, org, user)
    has_role = await session.scalar(select(Membership.id).where(
        Membership.user_id == user.id, Membership.organization_id == org.id, Membership.role == MEMBER))
    if verification is None and has_role is None:
        raise NotFound(f"@{user.actor.username} is not a member of @{org.username}")
    if has_role is not None:
        await actors.remove_member(session, user, org, MEMBER)
    if verification is not None:
        await session.delete(verification)
    await session.flush()


def _people(org: Actor):
    """The ids of everyone with a role in ``org`` or a verification record there."""
    return select(Membership.user_id.label("user_id")).where(Membership.organization_id == org.id).union(
        select(MemberVerification.user_id).where(MemberVerification.organization_id == org.id)).subquery()


async def members(session: AsyncSession, org: Actor, *, limit: int | None = None,
                  offset: int = 0) -> list[MemberRow]:
    """Everyone with a role in ``org``, by handle, with how they were verified: for its admins only.
    ``limit``/``offset`` page through a large membership."""
    people = _people(org)
    users = list(await session.scalars(
        select(User).join(Actor, Actor.id == User.actor_id).where(User.id.in_(select(people.c.user_id)))
        .order_by(Actor.username).offset(offset).limit(limit)))
    ids = [u.id for u in users]
    if not ids:
        return []
    roles: dict[int, list[str]] = {}
    for user_id, role in (await session.execute(select(Membership.user_id, Membership.role).where(
            Membership.organization_id == org.id, Membership.user_id.in_(ids)))).all():
        roles.setdefault(user_id, []).append(role)
    verifications = {v.user_id: v for v in await session.scalars(select(MemberVerification).where(
        MemberVerification.organization_id == org.id, MemberVerification.user_id.in_(ids)))}
    return [MemberRow(u, u.actor, tuple(sorted(roles.get(u.id, ()))), verifications.get(u.id)) for u in users]


async def count_people(session: AsyncSession, org: Actor) -> int:
    """How many people :func:`members` lists in all."""
    people = _people(org)
    return await session.scalar(select(func.count()).select_from(people)) or 0


async def count_members(session: AsyncSession, org: Actor) -> int:
    return await session.scalar(select(func.count()).select_from(Membership).where(
        Membership.organization_id == org.id, Membership.role == MEMBER)) or 0


# -- census -----------------------------------------------------------------------------------------

def census_lines(data: bytes) -> list[str]:
    """The lines of an uploaded census file (UTF-8, with or without a byte order mark)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the census file is not UTF-8 text (byte {exc.start + 1})") from None
    return text.splitlines()


_HEX = frozenset("0123456789abcdef")


def _census_digest(salt: str, line: str) -> str | None | tuple[str]:
    """The digest of one census line; None to skip it (blank, or a ``#`` comment); a 1-tuple
    holding the reason when it is invalid."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text):
        return ("control character",)
    lowered = text.lower()
    if len(lowered) == 64 and set(lowered) <= _HEX:
        return lowered  # hashed by the organisation itself with our salt
    if len(lowered) >= 40 and set(lowered) <= _HEX:
        return ("looks like a hash but is not 64 hexadecimal digits",)
    normalised = normalise(text)
    if not normalised:
        return ("no identifier",)
    if len(normalised) > MAX_IDENTIFIER:
        return (f"over {MAX_IDENTIFIER} characters",)
    return identifier_digest(salt, text)


async def import_census(session: AsyncSession, org: Actor, lines: Iterable[str],
                        by_admin: User | None = None) -> CensusReport:
    """Add the census ``lines`` (64-hex salted hashes, or plain identifiers hashed here and never
    stored): all of them, or — when any line is invalid — none (:class:`CensusRefused`)."""
    salt = await salt_of(session, org)
    report = CensusReport()
    digests: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if number > MAX_CENSUS_LINES:
            report.invalid.append((number, f"more than {MAX_CENSUS_LINES} lines: split the file"))
            break
        digest = _census_digest(salt, line)
        if isinstance(digest, tuple):
            report.invalid.append((number, digest[0]))
        elif digest is not None:
            if digest in seen:
                report.duplicates += 1
            else:
                seen.add(digest)
                digests.append(digest)
    if report.invalid:
        raise CensusRefused(report)
    existing: set[str] = set()
    for start in range(0, len(digests), _CHUNK):
        existing.update(await session.scalars(select(CensusEntry.digest).where(
            CensusEntry.organization_id == org.id, CensusEntry.digest.in_(digests[start:start + _CHUNK]))))
    new = [d for d in digests if d not in existing]
    report.duplicates += len(digests) - len(new)
    now = utcnow()
    by = by_admin.id if by_admin else None
    for start in range(0, len(new), _CHUNK):
        await session.execute(CensusEntry.__table__.insert(), [
            {"organization_id": org.id, "digest": d, "lookup": d[:8], "imported_at": now,
             "imported_by_id": by} for d in new[start:start + _CHUNK]])
    report.added = len(new)
    return report


async def census_size(session: AsyncSession, org: Actor) -> tuple[int, int]:
    """(entries, entries used) of the organisation's census."""
    total, used = (await session.execute(select(func.count(), func.count(CensusEntry.used_at)).where(
        CensusEntry.organization_id == org.id))).one()
    return int(total), int(used)


# -- codes ------------------------------------------------------------------------------------------

async def issue_codes(session: AsyncSession, org: Actor, n: int, labels: Iterable[str] = (),
                      by_admin: User | None = None) -> list[tuple[VerificationCode, str]]:
    """``n`` new codes (the first ones labelled with ``labels``), each with its plain text: the
    only time it exists, since only its hash is stored."""
    labels = [_clean_text(label, MAX_LABEL, "label") for label in labels]
    if not 1 <= n <= MAX_CODES:
        raise InvalidInput(f"issue between 1 and {MAX_CODES} codes at a time")
    if len(labels) > n:
        raise InvalidInput(f"{len(labels)} labels for {n} code(s): give at most one label per code")
    salt = await salt_of(session, org)
    plain: set[str] = set()
    while len(plain) < n:
        plain.add(new_code())
    issued = []
    for i, code in enumerate(sorted(plain)):
        digest = code_digest(salt, code)
        row = VerificationCode(organization_id=org.id, digest=digest, lookup=digest[:8],
                               label=labels[i] if i < len(labels) else "",
                               issued_by_id=by_admin.id if by_admin else None)
        session.add(row)
        issued.append((row, code))
    await session.flush()
    return issued


async def unused_codes(session: AsyncSession, org: Actor) -> list[VerificationCode]:
    return list(await session.scalars(select(VerificationCode).where(
        VerificationCode.organization_id == org.id, VerificationCode.used_at.is_(None),
        VerificationCode.revoked_at.is_(None)).order_by(VerificationCode.id)))


async def revoke_code(session: AsyncSession, org: Actor, code_id: int) -> VerificationCode:
    code = await session.scalar(select(VerificationCode).where(
        VerificationCode.id == code_id, VerificationCode.organization_id == org.id))
    if code is None:
        raise NotFound("no such code")
    if code.used_at is not None:
        raise Conflict("this code was already used")
    if code.revoked_at is None:
        code.revoked_at = utcnow()
        await session.flush()
    return code


# -- verification by a resident ---------------------------------------------------------------------

async def count_attempt(sessions: async_sessionmaker[AsyncSession], user: User,
                        address: str | None) -> None:
    """Count one verification attempt before it is checked (so parallel guesses all count), in its
    own transaction (a refused attempt stays counted): per address, then per account (an address
    already refused does not count against the account). SECURITY.md rule 17."""
    wait = None
    if address:
        wait = await limits.hit(sessions, f"verify-ip:{address}", ATTEMPTS_PER_ADDRESS, ATTEMPT_WINDOW)
    if wait is None:
        wait = await limits.hit(sessions, f"verify-account:{user.id}", ATTEMPTS_PER_ACCOUNT,
                                ATTEMPT_WINDOW)
    if wait is not None:
        raise TooManyAttempts(wait)


async def _candidates(session: AsyncSession, model, org: Actor, digest: str) -> list:
    return list(await session.scalars(select(model).where(
        model.organization_id == org.id, model.lookup == digest[:8])))


async def _use(session: AsyncSession, model, row_id: int, user: User, *extra) -> bool:
    """Mark a census entry or code used by ``user``, unless someone used it first (one wins)."""
    result = await session.execute(update(model).where(
        model.id == row_id, model.used_at.is_(None), *extra).values(used_at=utcnow(), used_by_id=user.id))
    return result.rowcount == 1


async def _verify(sessions: async_sessionmaker[AsyncSession], org: Actor, user: User,
                  address: str | None, check) -> MemberVerification:
    already = AlreadyMember(user.actor.username, org.username)
    async with sessions() as session:
        if await _verification(session, org, user) is not None:
            raise already
    await count_attempt(sessions, user, address)
    try:
        async with transaction(sessions) as session:
            return await check(session, await session.get(Actor, org.id), await session.get(User, user.id))
    except IntegrityError:  # the same account verified twice at once: the other one won
        raise already from None


async def verify_with_identifier(sessions: async_sessionmaker[AsyncSession], org: Actor, user: User,
                                 identifier: str, *, address: str | None = None) -> MemberVerification:
    """The resident types their identifier; an unused census entry makes them a member."""
    typed = (identifier or "").strip()

    async def check(session: AsyncSession, org: Actor, user: User) -> MemberVerification:
        digest = identifier_digest(await salt_of(session, org), typed)
        valid = 0 < len(normalise(typed)) <= MAX_IDENTIFIER and \
            not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in typed)  # as the import refuses
        match = None
        for entry in await _candidates(session, CensusEntry, org, digest):
            if same_digest(entry.digest, digest) and valid:
                match = entry
        if match is None or match.used_at is not None or not await _use(session, CensusEntry, match.id, user):
            raise NotRecognised()
        return await _make_member(session, org, user, method="census", identity=typed[:MAX_NOTE],
                                  by_id=match.imported_by_id, census_entry_id=match.id)

    return await _verify(sessions, org, user, address, check)


async def verify_with_code(sessions: async_sessionmaker[AsyncSession], org: Actor, user: User,
                           code: str, *, address: str | None = None) -> MemberVerification:
    """The resident types a code they were handed; an unused, unrevoked one makes them a member."""
    typed = code or ""

    async def check(session: AsyncSession, org: Actor, user: User) -> MemberVerification:
        digest = code_digest(await salt_of(session, org), typed)
        match = None
        for row in await _candidates(session, VerificationCode, org, digest):
            if same_digest(row.digest, digest):
                match = row
        if match is None or match.used_at is not None or match.revoked_at is not None or \
                not await _use(session, VerificationCode, match.id, user, VerificationCode.revoked_at.is_(None)):
            raise NotRecognised()
        return await _make_member(session, org, user, method="code", identity=match.label,
                                  by_id=match.issued_by_id, code_id=match.id)

    return await _verify(sessions, org, user, address, check)

