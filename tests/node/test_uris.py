"""node/uris.py: every id we mint parses back to its kind and key; nothing else does."""

from __future__ import annotations

import pytest

from node.errors import InvalidInput
from node.uris import Kind, Uris, check_slug, check_username

U = Uris("https://civic.example")
TOKEN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"

# (id built by a builder, the kind it must parse back to)
ROUND_TRIPS = [
    (U.instance_actor(), Kind("instance")),
    (U.actor_key(U.instance_actor()), Kind("key")),
    (U.actor("amel"), Kind("actor", ("amel",))),
    (U.actor("lyon.clos-jouve"), Kind("actor", ("lyon.clos-jouve",))),
    (U.organization_page("lyon"), Kind("actor", ("lyon",))),
    (U.actor_inbox("amel"), Kind("inbox", ("amel",))),
    (U.actor_outbox("amel"), Kind("outbox", ("amel",))),
    (U.actor_followers("amel"), Kind("followers", ("amel",))),
    (U.actor_following("amel"), Kind("following", ("amel",))),
    (U.actor_key(U.actor("amel")), Kind("key", ("amel",))),
    (U.discussion_moderators(U.actor("lyon.clos-jouve")), Kind("moderators", ("lyon.clos-jouve",))),
    (U.note(TOKEN), Kind("note", (TOKEN,))),
    (U.activity(TOKEN), Kind("activity", (TOKEN,))),
    (U.discussion_page("lyon", "clos-jouve"), Kind("discussion", ("lyon", "clos-jouve"))),
    (U.contribution(TOKEN), Kind("contribution", (TOKEN,))),
    (U.proposal(TOKEN), Kind("proposal", (TOKEN,))),
    (U.proposal_answer(U.proposal(TOKEN)), Kind("answer", (TOKEN,))),
    (U.article(TOKEN), Kind("article", (TOKEN,))),
    (U.initiative(TOKEN), Kind("initiative", (TOKEN,))),
]

NOT_OURS = [
    None,
    "",
    f"https://elsewhere.example/contributions/{TOKEN}",  # another host
    f"https://civic.example.evil/contributions/{TOKEN}",
    f"http://civic.example/contributions/{TOKEN}",  # another scheme
    f"https://civic.example:8443/contributions/{TOKEN}",  # another port
    f"https://user@civic.example/contributions/{TOKEN}",
    f"{U.contribution(TOKEN)}/",  # trailing junk
    f"{U.contribution(TOKEN)}/agree",
    f"{U.contribution(TOKEN)}x/../y",
    f"{U.contribution(TOKEN)}?page=2",  # query strings
    f"{U.contribution(TOKEN)}?",
    f"{U.contribution(TOKEN)}#frag",  # fragments other than the actor key's
    f"{U.note(TOKEN)}#main-key",
    f"{U.actor('amel')}#other-key",
    f"{U.contribution('ab%2Fcd')}",  # escapes are never in our tokens
    f"{U.contribution(TOKEN)}\n",
    "https://civic.example/contributions/",
    "https://civic.example/contributions//x",
    "https://civic.example/actors/amel/inbox/x",
    "https://civic.example/actors/-amel",
    "https://civic.example/",
    "https://civic.example",
    "https://civic.example/inbox",  # endpoints and pages are not ids
    U.proposals_index("lyon"),
    U.discussion_section("lyon", "clos-jouve", "initiatives"),
    U.discussion_contribution("lyon", "clos-jouve", 12),
    U.proposal_action(U.proposal(TOKEN), "support"),
    U.admin("lyon"),
    "/contributions/" + TOKEN,
    "urn:uuid:" + TOKEN,
]


@pytest.mark.parametrize(("ap_id", "kind"), ROUND_TRIPS, ids=[k.kind + str(i) for i, (_, k) in enumerate(ROUND_TRIPS)])
def test_kind_of__every_builder_round_trips(ap_id, kind):
    """An id built here parses back to the kind and key it was built from."""
    assert U.kind_of(ap_id) == kind


@pytest.mark.parametrize("ap_id", NOT_OURS)
def test_kind_of__anything_not_exactly_ours_is_none(ap_id):
    """Foreign hosts, trailing segments, query strings, fragments and pages are not our ids."""
    assert U.kind_of(ap_id) is None


def test_kind_of__keys_read_back_as_tokens_and_handles():
    """The key names the thing: a token for objects, the handle for actors."""
    assert U.kind_of(U.contribution(TOKEN)).token == TOKEN
    assert U.kind_of(U.actor("lyon.clos-jouve")).username == "lyon.clos-jouve"


@pytest.mark.parametrize("value", [True, 5, ["a"], {"a": 1}, b"lyon"])
def test_check_slug_and_username__refuse_what_is_not_text(value):
    """A slug or handle from a JSON body or a service call may be anything: InvalidInput, not a crash."""
    with pytest.raises(InvalidInput):
        check_slug(value)
    with pytest.raises(InvalidInput):
        check_username(value)
