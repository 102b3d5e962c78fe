"""Membership and verification (node.services.membership): admission, census, codes, limits."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, text

from node import visibility
from node.db import transaction
from node.errors import NotFound
from node.models import (
    Actor,
    CensusEntry,
    Membership,
    MemberVerification,
    User,
    VerificationCode,
)
from node.services import actors, limits
from node.services import membership as service

PASSWORD = "password-123"


@dataclass
class Town:
    org: Actor
    admin: User
    people: dict[str, User]


@pytest.fixture
async def town(sessions, uris) -> Town:
    """Lyon with its admin and three residents (no role yet)."""
    async with transaction(sessions) as s:
        org = await actors.create_organization(s, uris, "lyon", "Ville de Lyon")
        admin = await actors.create_user(s, uris, "maire", PASSWORD, "La maire")
        await actors.add_member(s, admin, org, "admin")
        people = {name: await actors.create_user(s, uris, name, PASSWORD, name.title())
                  for name in ("camille", "dominique", "eva")}
    return Town(org, admin, people)


@pytest.fixture
def clock(monkeypatch):
    """The rate limits' clock, fixed (and moved by the test)."""
    now = [1_800_000_000.0]
    monkeypatch.setattr(limits, "CLOCK", lambda: now[0])
    return now


async def _count(sessions, model, *where) -> int:
    async with sessions() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


async def _import(sessions, town: Town, lines) -> service.CensusReport:
    async with transaction(sessions) as s:
        return await service.import_census(s, town.org, lines, by_admin=town.admin)


async def _salt(sessions, town: Town) -> str:
    async with transaction(sessions) as s:
        return await service.salt_of(s, town.org)


async def _codes(sessions, town: Town, n: int, labels=()) -> list[str]:
    async with transaction(sessions) as s:
        return [code for _, code in await service.issue_codes(s, town.org, n, labels, by_admin=town.admin)]


async def _standing(sessions, town: Town, user: User) -> visibility.Standing:
    async with sessions() as s:
        return await visibility.standing(s, visibility.Reader.of_user(user), town.org.id)


async def test_admit__makes_a_verified_member_and_remove_takes_it_back(sessions, town):
    """An admin admits a resident with a note: a `member` row, a verification shown to admins,
    the visibility model counts them; removal deletes both; doing either twice is refused."""
    camille = town.people["camille"]
    async with transaction(sessions) as s:
        await service.admit(s, town.org, camille, town.admin, "Camille M., 3 rue Mercière")
    assert (await _standing(sessions, town, camille)).member
    async with sessions() as s:
        assert await service.is_member(s, town.org, camille)
        assert await service.is_verified(s, town.org, camille)
        assert not await service.is_verified(s, town.org, camille, methods=("census",))
        rows = {row.actor.username: row for row in await service.members(s, town.org)}
    assert rows["camille"].roles == ("member",)
    assert rows["camille"].verification.method == "admin"
    assert rows["camille"].verification.identity == "Camille M., 3 rue Mercière"
    assert rows["camille"].verification.by_id == town.admin.id
    assert rows["maire"].roles == ("admin",) and rows["maire"].verification is None
    with pytest.raises(service.AlreadyMember):
        async with transaction(sessions) as s:
            await service.admit(s, town.org, camille, town.admin, "again")
    async with transaction(sessions) as s:
        await service.remove(s, town.org, camille)
    assert not (await _standing(sessions, town, camille)).member
    assert await _count(sessions, MemberVerification) == 0
    assert await _count(sessions, Membership, Membership.role == "member") == 0
    with pytest.raises(NotFound):
        async with transaction(sessions) as s:
            await service.remove(s, town.org, camille)


async def test_members__paged_by_handle_with_the_total(sessions, town):
    """A large membership is listed a page at a time, by handle; the total counts everyone once."""
    async with transaction(sessions) as s:
        for name in ("eva", "camille"):
            await service.admit(s, town.org, town.people[name], town.admin, name)
        await actors.add_member(s, town.people["camille"], town.org, "ambassador")
    async with sessions() as s:
        pages = [[row.actor.username for row in await service.members(s, town.org, limit=2, offset=o)]
                 for o in (0, 2, 4)]
        assert await service.count_people(s, town.org) == 3
    assert pages == [["camille", "eva"], ["maire"], []]


async def test_is_verified__a_staff_role_is_membership_but_not_verification(sessions, town):
    """The organisation's admin is a member for the visibility model, not a verified member."""
    async with sessions() as s:
        assert await service.is_member(s, town.org, town.admin)
        assert not await service.is_verified(s, town.org, town.admin)
        assert not await service.is_member(s, town.org, town.people["eva"])
        assert not await service.is_member(s, town.org, None)


async def test_import_census__plain_and_hashed_lines_duplicates_and_comments(sessions, town):
    """Plain identifiers are hashed with the organisation's salt and never stored; 64-hex lines are
    taken as hashes made with that salt; duplicates (in the file or already there) are counted."""
    salt = await _salt(sessions, town)
    hashed = hashlib.sha256((salt + "zz998877").encode()).hexdigest()
    report = await _import(sessions, town, ["# census 2026", "AB 12-34", "", "ab1234", "CD-5678",
                                            hashed.upper(), "  "])
    assert (report.added, report.duplicates, report.invalid) == (3, 1, [])
    again = await _import(sessions, town, ["cd5678", "EF 9012"])
    assert (again.added, again.duplicates) == (1, 1)
    async with sessions() as s:
        digests = set(await s.scalars(select(CensusEntry.digest)))
        dumped = " ".join(str(v) for row in (await s.execute(text("SELECT * FROM census_entries"))).all()
                          for v in row)
    assert digests == {service.identifier_digest(salt, x) for x in ("ab1234", "cd5678", "ef9012")} | {hashed}
    assert not re.search(r"ab1234|AB 12|cd5678|ef9012", dumped, re.IGNORECASE)


async def test_import_census__a_bad_file_imports_nothing_and_names_its_lines(sessions, town):
    """Any invalid line (control character, a cut hash, nothing but dashes, too long) refuses the
    whole file with each line's number and reason; nothing of it is stored."""
    lines = ["ab1234", "x\x00y", "a" * 40 + "0" * 20, "-- -", "z" * 300, "cd5678"]
    with pytest.raises(service.CensusRefused) as refused:
        await _import(sessions, town, lines)
    assert [n for n, _ in refused.value.report.invalid] == [2, 3, 4, 5]
    assert "invalid line(s) 2 (control character), 3 (looks like a hash" in refused.value.reason
    assert await _count(sessions, CensusEntry) == 0


def test_census_lines__a_file_that_is_not_utf8_is_refused_with_where():
    """Latin-1 bytes are not guessed at: the import is refused with the byte's position."""
    assert service.census_lines("\ufeffab1234\r\ncd5678\n".encode()) == ["ab1234", "cd5678"]
    with pytest.raises(service.InvalidInput, match="not UTF-8 text \\(byte 11\\)"):
        service.census_lines("ab1234\nJos\xe9".encode("latin-1"))


async def test_verify_with_identifier__normalised_single_use_and_identity_as_typed(sessions, town, clock):
    """"AB 12-34" in the census verifies someone typing "ab-1234"; the record keeps what they typed
    for the admins; the same identifier then verifies nobody else ("not recognised")."""
    await _import(sessions, town, ["AB 12-34"])
    camille, eva = town.people["camille"], town.people["eva"]
    record = await service.verify_with_identifier(sessions, town.org, camille, " ab-1234 ", address="192.0.2.1")
    assert (record.method, record.identity, record.by_id) == ("census", "ab-1234", town.admin.id)
    assert (await _standing(sessions, town, camille)).member
    async with sessions() as s:
        assert await service.is_verified(s, town.org, camille, methods=("census",))
        entry = await s.scalar(select(CensusEntry))
    assert entry.used_by_id == camille.id and entry.used_at is not None
    with pytest.raises(service.NotRecognised, match="^not recognised$"):
        await service.verify_with_identifier(sessions, town.org, eva, "AB1234", address="192.0.2.2")
    with pytest.raises(service.NotRecognised):
        await service.verify_with_identifier(sessions, town.org, eva, "zz0000", address="192.0.2.2")
    assert not (await _standing(sessions, town, eva)).member


async def test_verify_with_code__single_use_revocable_stored_hashed(sessions, town, clock):
    """Codes are 10 unambiguous characters (≥ 40 bits), stored only as hashes; one verifies one
    account, its label becomes the identity; a used, revoked or wrong code is "not recognised"."""
    codes = await _codes(sessions, town, 3, ["Mme Durand, bureau 2"])
    for code in codes:
        assert re.fullmatch(r"[A-HJKMNP-Z2-9]{5}-[A-HJKMNP-Z2-9]{5}", code), code
    assert len(service.CODE_ALPHABET) ** service.CODE_LENGTH >= 2 ** 40
    async with sessions() as s:
        dumped = " ".join(str(v) for row in (await s.execute(text("SELECT * FROM verification_codes"))).all()
                          for v in row)
        labelled = await s.scalar(select(VerificationCode).where(VerificationCode.label != ""))
    assert not any(code.replace("-", "") in dumped.replace("-", "") for code in codes)
    salt = await _salt(sessions, town)
    first = next(c for c in codes if service.code_digest(salt, c) == labelled.digest)
    camille, dominique, eva = (town.people[n] for n in ("camille", "dominique", "eva"))
    record = await service.verify_with_code(sessions, town.org, camille, first.lower().replace("-", " "))
    assert (record.method, record.identity) == ("code", "Mme Durand, bureau 2")
    with pytest.raises(service.NotRecognised):
        await service.verify_with_code(sessions, town.org, dominique, first)
    second, third = [c for c in codes if c != first]
    async with transaction(sessions) as s:
        row = next(r for r in await service.unused_codes(s, town.org)
                   if r.digest == service.code_digest(salt, second))
        await service.revoke_code(s, town.org, row.id)
    with pytest.raises(service.NotRecognised):
        await service.verify_with_code(sessions, town.org, dominique, second)
    with pytest.raises(service.NotRecognised):
        await service.verify_with_code(sessions, town.org, dominique, "AAAAA-AAAAA")
    await service.verify_with_code(sessions, town.org, eva, third)
    async with sessions() as s:
        assert await service.unused_codes(s, town.org) == []
        assert not await service.is_member(s, town.org, dominique)


async def test_issue_codes__refuses_bad_counts_and_labels(sessions, town):
    """0 codes, too many, more labels than codes or a label with a control character: refused."""
    for n, labels in ((0, ()), (service.MAX_CODES + 1, ()), (1, ("a", "b")), (1, ("a\x07",))):
        with pytest.raises(service.InvalidInput):
            await _codes(sessions, town, n, labels)
    assert await _count(sessions, VerificationCode) == 0


async def test_verify__attempts_are_limited_per_account_then_per_address(sessions, town, clock):
    """Wrong attempts are counted before the check: after ATTEMPTS_PER_ACCOUNT an account is refused
    even with a right code; many accounts from one address stop at ATTEMPTS_PER_ADDRESS; the
    window passing lets them try again (SECURITY.md rule 17)."""
    codes = await _codes(sessions, town, 2)
    camille = town.people["camille"]
    for _ in range(service.ATTEMPTS_PER_ACCOUNT):
        with pytest.raises(service.NotRecognised):
            await service.verify_with_code(sessions, town.org, camille, "AAAAA-AAAAA", address="198.51.100.1")
    with pytest.raises(service.TooManyAttempts) as refused:
        await service.verify_with_code(sessions, town.org, camille, codes[0], address="198.51.100.2")
    assert refused.value.wait > 0 and refused.value.status == 429
    assert await _count(sessions, VerificationCode, VerificationCode.used_at.is_not(None)) == 0
    # One address, the other residents: the address runs out even though each account has tries left.
    others = [town.people["dominique"], town.people["eva"]]
    tried = service.ATTEMPTS_PER_ACCOUNT  # the first address's count so far
    with pytest.raises(service.TooManyAttempts):
        for i in range(service.ATTEMPTS_PER_ADDRESS - tried + 1):
            with pytest.raises(service.NotRecognised):
                await service.verify_with_identifier(sessions, town.org, others[i % 2], f"x{i}",
                                                     address="198.51.100.1")
    clock[0] += 2 * service.ATTEMPT_WINDOW
    await service.verify_with_code(sessions, town.org, camille, codes[0], address="198.51.100.1")
    assert (await _standing(sessions, town, camille)).member


async def test_verify__hashes_are_compared_in_constant_time(sessions, town, clock, monkeypatch):
    """The digest typed is compared with the stored ones by hmac.compare_digest, and only that
    comparison decides: were it to say no, the right identifier would not be recognised."""
    await _import(sessions, town, ["ab1234"])
    salt = await _salt(sessions, town)
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return False

    monkeypatch.setattr(hmac, "compare_digest", spy)
    with pytest.raises(service.NotRecognised):
        await service.verify_with_identifier(sessions, town.org, town.people["camille"], "ab1234")
    digest = service.identifier_digest(salt, "ab1234").encode()
    assert (digest, digest) in calls
    monkeypatch.setattr(hmac, "compare_digest", real)
    await service.verify_with_identifier(sessions, town.org, town.people["camille"], "ab1234")


async def test_verify__two_codes_at_once_for_one_account_use_only_one(sessions, town, clock):
    """One resident sends two codes at the same time: one makes them a member, the other is
    refused as "already a member" and stays unused."""
    codes = await _codes(sessions, town, 2)
    camille = town.people["camille"]
    results = await asyncio.gather(*(service.verify_with_code(sessions, town.org, camille, c) for c in codes),
                                   return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["AlreadyMember", "MemberVerification"]
    assert await _count(sessions, VerificationCode, VerificationCode.used_at.is_not(None)) == 1
    assert await _count(sessions, Membership, Membership.role == "member") == 1


async def test_verify__one_code_for_two_accounts_at_once_verifies_one(sessions, town, clock):
    """Two residents send the same code at the same time: exactly one becomes a member."""
    [code] = await _codes(sessions, town, 1)
    people = [town.people["camille"], town.people["dominique"]]
    results = await asyncio.gather(*(service.verify_with_code(sessions, town.org, p, code) for p in people),
                                   return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["MemberVerification", "NotRecognised"]
    assert await _count(sessions, Membership, Membership.role == "member") == 1


async def test_salt_of__one_random_salt_per_organisation(sessions, town, uris):
    """The salt is made once and kept; another organisation gets another one."""
    first = await _salt(sessions, town)
    assert re.fullmatch(r"[0-9a-f]{64}", first) and await _salt(sessions, town) == first
    async with transaction(sessions) as s:
        other = await actors.create_organization(s, uris, "nice", "Nice")
        assert await service.salt_of(s, other) != first
