"""node/visibility.py: levels, inheritance and who each level admits (SECURITY.md rule 24)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import String, literal, select

from node import visibility as v

STANDINGS = {
    "outsider": v.NOBODY,
    "follower": v.Standing(follower=True),
    "member": v.Standing(member=True),
    "staff": v.Standing(staff=True, member=True),
}
# level -> standings that may read it, and standings it is listed to
READ = {
    "public": {"outsider", "follower", "member", "staff"},
    "unlisted": {"outsider", "follower", "member", "staff"},
    "followers": {"follower", "member", "staff"},
    "members": {"member", "staff"},
}
LISTED = {**READ, "unlisted": {"staff"}}


@pytest.mark.parametrize("level", v.LEVELS)
@pytest.mark.parametrize("who", STANDINGS)
def test_visibility__admits_and_lists_by_level(level, who):
    assert v.admits(level, STANDINGS[who]) == (who in READ[level])
    assert v.lists(level, STANDINGS[who]) == (who in LISTED[level])
    assert (level in v.readable_levels(STANDINGS[who])) == (who in READ[level])
    assert (level in v.listed_levels(STANDINGS[who])) == (who in LISTED[level])


def test_visibility__a_thing_inherits_the_stricter_of_its_containers():
    space, discussion = SimpleNamespace(visibility="followers"), SimpleNamespace(visibility="unlisted")
    assert v.level_of(space, discussion) == "followers"
    assert v.level_of(None, discussion) == "unlisted"
    assert v.level_of() == "public"
    assert v.level_of(SimpleNamespace(visibility="members"), discussion) == "members"


def test_visibility__an_unknown_level_is_the_most_closed():
    assert v.stricter("public", "bogus") == "members"
    assert not v.admits("bogus", v.Standing(follower=True))
    with pytest.raises(v.UnknownLevel):
        v.check_level("everyone")


def test_visibility__only_members_never_federates():
    assert [level for level in v.LEVELS if not v.federates(level)] == ["members"]


def test_visibility__standing_keys_separate_what_each_may_read():
    keys = {who: s.key for who, s in STANDINGS.items()}
    assert len(set(keys.values())) == 4


VALUES = (*v.LEVELS, None, "typo")  # None: no such container (outer join); "typo": unknown


async def test_visibility__level_in_is_level_of_in_sql(sessions):
    """level_in(levels, *columns) selects exactly the rows whose level_of is in levels, on both
    backends: NULL containers are open, unknown values the most closed."""
    async with sessions() as session:
        for who in STANDINGS.values():
            levels = v.listed_levels(who)
            for a in VALUES:
                for b in VALUES:
                    columns = (literal(a, String), literal(b, String))
                    got = await session.scalar(select(v.level_in(levels, *columns)))
                    expected = v.stricter(a, b) in levels
                    assert bool(got) == expected, (who, a, b)
        assert not await session.scalar(select(v.level_in((), literal("public", String))))
