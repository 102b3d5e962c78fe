"""Federated moderation on the federation side: the block hook, inbound Flag, forwarded Flag."""

import pytest
from sqlalchemy import select

from federation.moderation_policy import refused_actor, silenced
from node.db import transaction
from node.errors import InvalidInput
from node.models import ModerationLogEntry
from node.services import moderation

SPAMMER = "https://spam.example/users/spammer"


async def test_refused_actor__blocked_account_is_refused_with_its_reason(sessions):
    """SECURITY.md rule 22: a blocked account's activities are refused ("the account is blocked");
    a silenced or unknown account is not refused, and unblocking lifts the refusal."""
    async with sessions() as s:
        assert await refused_actor(s, SPAMMER) is None
    async with transaction(sessions) as s:
        await moderation.restrict_account(s, SPAMMER, "block", "spam")
        await moderation.restrict_account(s, "https://spam.example/users/quiet", "silence")
    async with sessions() as s:
        assert await refused_actor(s, SPAMMER) == "the account is blocked"
        assert await refused_actor(s, "https://spam.example/users/quiet") is None
        assert await silenced(s, "https://spam.example/users/quiet") is True
        assert await refused_actor(s, "https://spam.example/users/other") is None
        logged = [(e.action, e.target_ap_id) for e in await s.scalars(
            select(ModerationLogEntry).order_by(ModerationLogEntry.id))]
        assert logged == [("block", SPAMMER), ("silence", "https://spam.example/users/quiet")]
    async with transaction(sessions) as s:
        assert await moderation.lift_restriction(s, SPAMMER) is True
        assert await moderation.lift_restriction(s, SPAMMER) is False
    async with sessions() as s:
        assert await refused_actor(s, SPAMMER) is None


@pytest.mark.parametrize("bad", ["", "spammer@spam.example", "javascript:alert(1)", "https://x/" + "a" * 2100])
async def test_restrict_account__refuses_what_is_not_an_account_address(sessions, bad):
    """Only an http(s) account address can be blocked; nothing is stored otherwise."""
    with pytest.raises(InvalidInput):
        async with transaction(sessions) as s:
            await moderation.restrict_account(s, bad, "block")
    async with sessions() as s:
        assert await moderation.list_restrictions(s) == []
