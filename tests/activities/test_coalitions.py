"""Coalition membership as AS2 (activities/coalitions.py): the Group document's extras, Member
items and the members collection, the Join/Invite/Leave/Remove/Accept/Reject shapes we send, and
the parsers of what we accept — hostile shapes raise InvalidDocument with a reason, never more."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activities import coalitions as as2
from activities.errors import InvalidDocument
from activities.jsonld import expand
from activities.vocabulary import CIVIC_NS, CIVIC_TERMS

HOME = "https://home.example"
BLUE = f"{HOME}/actors/blue"
MEMBERS = f"{BLUE}/members"
NICE = "https://nice.example/actors/nice"
JOIN_ID = "https://nice.example/activities/j-1"
INVITE_ID = f"{HOME}/activities/i-1"


def _actor_doc() -> dict:
    return {"@context": [], "id": BLUE, "type": "Group", "preferredUsername": "blue",
            "name": "Blue Coalition", "inbox": f"{BLUE}/inbox", "followers": f"{BLUE}/followers"}


# -- out ----------------------------------------------------------------------------------------

def test_coalition_document__members_flag_and_context():
    doc = as2.coalition_to_as(_actor_doc(), MEMBERS)
    assert doc["members"] == MEMBERS and doc["civic:coalition"] is True
    assert doc["@context"] == as2.COALITION_CONTEXT
    assert as2.is_coalition(doc) and not as2.is_coalition(_actor_doc())
    assert "civic:coalition" in CIVIC_TERMS
    expanded = json.dumps(expand(doc))
    assert "https://joinmobilizon.org/ns#members" in expanded  # Mobilizon reads it as its own
    assert CIVIC_NS + "coalition" in expanded


def test_members_collection__member_items_as_mobilizon_writes_them():
    items = [as2.member_to_as(MEMBERS, BLUE, f"{HOME}/actors/surfrider", "admin"),
             as2.member_to_as(MEMBERS, BLUE, NICE, "member")]
    doc = as2.members_collection(MEMBERS, items)
    assert doc["type"] == "OrderedCollection" and doc["totalItems"] == 2
    assert doc["orderedItems"][1] == {"id": f"{MEMBERS}#{NICE}", "type": "Member", "actor": NICE,
                                      "object": BLUE, "role": "member"}
    expanded = expand(doc)
    text = json.dumps(expanded)
    assert "_:" not in text  # every term defined: Member, role, members
    assert [as2.parse_member(item) for item in doc["orderedItems"]] == [
        as2.Member(f"{HOME}/actors/surfrider", BLUE, "admin"), as2.Member(NICE, BLUE, "member")]


def test_activities__shapes_and_addressing():
    join = as2.join(JOIN_ID, NICE, BLUE)
    assert (join["type"], join["actor"], join["object"], join["to"]) == ("Join", NICE, BLUE, [BLUE])
    invite = as2.invite(INVITE_ID, BLUE, NICE)
    assert (invite["actor"], invite["object"], invite["target"], invite["to"]) == (BLUE, BLUE, NICE, [NICE])
    leave = as2.leave("https://nice.example/activities/l-1", NICE, BLUE)
    assert (leave["type"], leave["object"], leave["to"]) == ("Leave", BLUE, [BLUE])
    remove = as2.remove(f"{HOME}/activities/r-1", BLUE, NICE, MEMBERS)
    assert (remove["object"], remove["target"], remove["to"]) == (NICE, MEMBERS, [NICE])
    accepted = as2.accept(f"{HOME}/activities/a-1", BLUE, join)
    assert accepted["object"]["id"] == JOIN_ID and "@context" not in accepted["object"]
    assert accepted["to"] == [NICE]  # the Join's actor
    declined = as2.reject("https://nice.example/activities/r-2", NICE, invite)
    assert declined["to"] == [BLUE]  # the Invite's actor


def test_activities__round_trip_through_the_parsers():
    join = as2.join(JOIN_ID, NICE, BLUE)
    assert as2.parse_join(join) == as2.Membership(JOIN_ID, "Join", NICE, BLUE)
    invite = as2.invite(INVITE_ID, BLUE, NICE)
    assert as2.parse_invite(invite) == as2.Membership(INVITE_ID, "Invite", BLUE, BLUE, NICE)
    leave = as2.leave("https://nice.example/activities/l-1", NICE, BLUE)
    assert as2.parse_leave(leave).object == BLUE
    remove = as2.remove(f"{HOME}/activities/r-1", BLUE, NICE, MEMBERS)
    assert as2.parse_remove(remove) == as2.Membership(remove["id"], "Remove", BLUE, NICE, MEMBERS)
    answer = as2.parse_answer(as2.accept(f"{HOME}/activities/a-1", BLUE, join))
    assert answer.accepted and answer.actor == BLUE and answer.inner.id == JOIN_ID
    declined = as2.parse_answer(as2.reject("https://nice.example/activities/r-2", NICE, invite))
    assert not declined.accepted and declined.inner.type == "Invite" and declined.inner.target == NICE
    refused = as2.parse_answer(as2.reject(f"{HOME}/activities/r-3", BLUE, leave))
    assert refused.inner.type == "Leave" and refused.inner.actor == NICE


def test_answer__an_embedded_activity_without_id_is_read_by_its_actor_and_object():
    join = {k: v for k, v in as2.join(JOIN_ID, NICE, BLUE).items() if k != "id"}
    answer = as2.parse_answer(as2.accept(f"{HOME}/activities/a-1", BLUE, join))
    assert answer.inner.id == "" and answer.inner.actor == NICE


# -- hostile shapes -----------------------------------------------------------------------------

def _with(doc: dict, path: tuple, value) -> dict:
    doc = copy.deepcopy(doc)
    where = doc
    for key in path[:-1]:
        where = where[key]
    if value is KeyError:
        del where[path[-1]]
    else:
        where[path[-1]] = value
    return doc


JOIN = as2.join(JOIN_ID, NICE, BLUE)
INVITE = as2.invite(INVITE_ID, BLUE, NICE)
REMOVE = as2.remove(f"{HOME}/activities/r-1", BLUE, NICE, MEMBERS)
ACCEPT_JOIN = as2.accept(f"{HOME}/activities/a-1", BLUE, JOIN)
REJECT_INVITE = as2.reject("https://nice.example/activities/r-2", NICE, INVITE)


@pytest.mark.parametrize("parse, doc, reason", [
    (as2.parse_join, "Join", "JSON object"),
    (as2.parse_join, _with(JOIN, ("type",), "Follow"), "expected a Join"),
    (as2.parse_join, _with(JOIN, ("object",), KeyError), "'object'"),
    (as2.parse_join, _with(JOIN, ("object",), "javascript:alert(1)"), "'object'"),
    (as2.parse_join, _with(JOIN, ("actor",), {"id": 7}), "'actor'"),
    (as2.parse_join, _with(JOIN, ("object",), BLUE + "/" + "x" * 3000), "longer than"),
    (as2.parse_leave, _with(JOIN, ("type",), "Leave") | {"object": None}, "'object'"),
    (as2.parse_invite, _with(INVITE, ("object",), "https://elsewhere.example/g"), "coalition that sends it"),
    (as2.parse_invite, _with(INVITE, ("target",), KeyError), "'target'"),
    (as2.parse_invite, _with(INVITE, ("type",), ["Invite", "Offer"]) | {"target": []}, "'target'"),
    (as2.parse_remove, _with(REMOVE, ("target",), "https://elsewhere.example/members"), "own collection"),
    (as2.parse_remove, _with(REMOVE, ("object",), 42), "'object'"),
    (as2.parse_answer, _with(ACCEPT_JOIN, ("object",), JOIN_ID), "embeds"),
    (as2.parse_answer, _with(ACCEPT_JOIN, ("object", "type"), "Follow"), "Join, an Invite or a Leave"),
    (as2.parse_answer, _with(ACCEPT_JOIN, ("actor",), "https://evil.example/actors/x"), "other side"),
    (as2.parse_answer, _with(REJECT_INVITE, ("actor",), BLUE), "other side"),
    (as2.parse_answer, _with(ACCEPT_JOIN, ("object", "id"), "ftp://x"), "http"),
    (as2.parse_answer, _with(ACCEPT_JOIN, ("type",), "Undo"), "Accept or a Reject"),
    (as2.parse_answer, as2.accept(f"{HOME}/activities/a", BLUE, as2.leave(JOIN_ID, NICE, BLUE)),
     "never accepted"),
    (as2.parse_member, {"type": "Member", "actor": NICE, "object": BLUE, "role": "owner"}, "role"),
    (as2.parse_member, {"type": "Member", "actor": NICE, "role": "admin"}, "'object'"),
])
def test_parsers__refuse_hostile_shapes_with_a_reason(parse, doc, reason):
    with pytest.raises(InvalidDocument, match=reason):
        parse(doc)


VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.sampled_from([BLUE, NICE, JOIN_ID, MEMBERS, "Join", "Invite", "Leave", "Remove", "Accept",
                       "Reject", "Member", "admin", "http://[", "https://", "", "\x00"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["id", "type", "actor", "object", "target", "role"]), children, max_size=6),
    max_leaves=15)
PARSERS = [as2.parse_join, as2.parse_leave, as2.parse_invite, as2.parse_remove, as2.parse_answer,
           as2.parse_member]


def _mutations(base: dict):
    keys = st.sampled_from(["id", "type", "actor", "object", "target", "role"])
    return st.dictionaries(keys, VALUES, max_size=3).map(lambda changes: {**base, **changes})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=VALUES | _mutations(JOIN) | _mutations(INVITE) | _mutations(REMOVE)
       | _mutations(ACCEPT_JOIN) | _mutations(REJECT_INVITE)
       | _mutations({**ACCEPT_JOIN, "object": {**INVITE}}),
       parse=st.sampled_from(PARSERS))
def test_parsers__any_shape_parses_or_raises_invalid_document(doc, parse):
    """Whatever arrives, a parser answers a parsed value whose ids are http(s) IRIs of bounded
    length, or InvalidDocument with a reason — never another exception."""
    try:
        parsed = parse(doc)
    except InvalidDocument as exc:
        assert exc.reason
        return
    fields = [parsed.organization, parsed.coalition] if isinstance(parsed, as2.Member) else \
        [parsed.actor, *((parsed.inner.actor, parsed.inner.object) if isinstance(parsed, as2.Answer)
                         else (parsed.object,))]
    for value in fields:
        assert isinstance(value, str) and value.startswith(("https://", "http://"))
        assert len(value) <= as2.MAX_ID
