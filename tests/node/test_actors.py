"""Local actors: handles, keys, duplicates."""

import pytest

from node.db import transaction
from node.errors import Conflict, InvalidInput
from node.services import actors


async def test_create_organization__has_rsa_2048_key_and_canonical_handle(sessions, uris):
    """An organisation gets an RSA-2048 key pair and a lower-case handle at creation."""
    async with transaction(sessions) as s:
        org = await actors.create_organization(s, uris, "Lyon", "Ville de Lyon")
    assert org.username == "lyon"
    assert org.ap_id == uris.actor("lyon")
    assert "BEGIN PUBLIC KEY" in org.public_key_pem
    assert "BEGIN PRIVATE KEY" in org.private_key_pem
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    assert load_pem_public_key(org.public_key_pem.encode()).key_size == 2048


async def test_create_organization__duplicate_refused(sessions, uris):
    """A second organisation with the same handle is refused and the first is unchanged."""
    async with transaction(sessions) as s:
        await actors.create_organization(s, uris, "nice", "Métropole Nice")
    with pytest.raises(Conflict):
        async with transaction(sessions) as s:
            await actors.create_organization(s, uris, "NICE", "Other")
    async with transaction(sessions) as s:
        org = await actors.local_actor(s, "nice")
        assert org.name == "Métropole Nice"


@pytest.mark.parametrize("bad", ["", "a b", "-lead", "x" * 31, "é", "admin", "trail."])
async def test_create_user__invalid_handle_refused(sessions, uris, bad):
    """Handles outside Mastodon's rule, or reserved ones, are refused with InvalidInput."""
    with pytest.raises(InvalidInput):
        async with transaction(sessions) as s:
            await actors.create_user(s, uris, bad, "password123")
