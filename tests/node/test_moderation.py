"""Domain blocks: written by the node's moderation service, read by federation's instance policy."""

import pytest

from node.db import transaction
from node.errors import InvalidInput
from node.services import moderation


async def test_block_domain__normalised_idempotent_listed_and_lifted(sessions):
    """A block is stored lower-cased once (the first reason kept), listed in order, and lifted."""
    async with transaction(sessions) as s:
        first = await moderation.block_domain(s, "  Spam.Example ", "spam waves")
        again = await moderation.block_domain(s, "spam.example", "another reason")
        await moderation.block_domain(s, "abuse.example")
    assert again.id == first.id
    async with sessions() as s:
        blocks = await moderation.list_blocks(s)
        assert [(b.domain, b.reason) for b in blocks] == [("abuse.example", ""), ("spam.example", "spam waves")]
        assert await moderation.blocked_domains(s) == {"abuse.example", "spam.example"}
    async with transaction(sessions) as s:
        assert await moderation.unblock_domain(s, "SPAM.example") is True
        assert await moderation.unblock_domain(s, "spam.example") is False
    async with sessions() as s:
        assert await moderation.blocked_domains(s) == {"abuse.example"}


async def test_allow_domain__normalised_idempotent_listed_and_taken_off(sessions):
    """The allow list (allow-list mode) behaves like the blocks, and is kept apart from them."""
    async with transaction(sessions) as s:
        first = await moderation.allow_domain(s, " Partner.Example ")
        assert (await moderation.allow_domain(s, "partner.example")).id == first.id
        await moderation.allow_domain(s, "ally.example")
    async with sessions() as s:
        assert [a.domain for a in await moderation.list_allows(s)] == ["ally.example", "partner.example"]
        assert await moderation.blocked_domains(s) == set()
    async with transaction(sessions) as s:
        assert await moderation.disallow_domain(s, "PARTNER.example") is True
        assert await moderation.disallow_domain(s, "partner.example") is False
    async with sessions() as s:
        assert await moderation.allowed_domains(s) == {"ally.example"}
    with pytest.raises(InvalidInput):
        async with transaction(sessions) as s:
            await moderation.allow_domain(s, "not a domain")


@pytest.mark.parametrize("bad", ["", "   ", "not a domain", "localhost", "https://spam.example/", "spam.example/x"])
async def test_block_domain__refuses_what_is_not_a_domain(sessions, bad):
    """Anything that cannot be a host name is refused and nothing is stored."""
    with pytest.raises(InvalidInput):
        async with transaction(sessions) as s:
            await moderation.block_domain(s, bad)
    async with sessions() as s:
        assert await moderation.list_blocks(s) == []


@pytest.mark.parametrize(("host", "blocked"), [
    ("spam.example", True),
    ("SPAM.example", True),
    ("a.b.spam.example", True),
    ("spam.example:8443", True),
    ("notspam.example", False),
    ("spam.example.org", False),
    ("example", False),
    ("", False),
])
def test_is_blocked__covers_the_domain_its_subdomains_and_any_port(host, blocked):
    assert moderation.is_blocked(host, {"spam.example"}) is blocked


def test_is_blocked__nothing_is_blocked_by_an_empty_set():
    assert moderation.is_blocked("spam.example", set()) is False
