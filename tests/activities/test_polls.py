"""Polls as AS2 Questions (activities/polls.py): the funfedi parsing suite's poll cases, Mastodon's
shapes, our own Question read back, votes, and hostile documents."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activities.errors import InvalidDocument
from activities.normalize import first_type
from activities.polls import (
    MAX_OPTIONS,
    as_to_question,
    as_to_vote,
    poll_to_as,
    vote_to_as,
)
from node.models import Poll, PollOption
from tests.activities.samples import BASE, at, local_actor

FIXTURES = Path(__file__).parents[1] / "fixtures" / "remote"
FUNFEDI = json.loads((FIXTURES / "funfedi" / "poll_cases.json").read_text(encoding="utf-8"))["cases"]
# The two cases of the suite that are no poll once the property is gone: a document without a
# type is no Question, and a Question without options asks nothing one could vote on (Mastodon
# shows both as plain posts). Each is refused with its reason.
NOT_POLLS = {("necessary_properties_polls", "without type"): "'Question'",
             ("necessary_properties_polls", "without oneOf"): "at least one named option"}


def _case_id(case: dict) -> str:
    return f"{case['suite']}/{case['name']}"


def _expected_options(obj: dict) -> list[str]:
    return [o["name"] for o in obj.get("anyOf") or obj.get("oneOf") or []]


@pytest.mark.parametrize("case", FUNFEDI, ids=_case_id)
def test_funfedi__the_poll_cases_are_parsed_as_polls(case):
    """Every poll case of funfedi-parsing-test-cases (poll_suite) is parsed as a poll with its
    options, or (the two that carry no poll) refused with the reason."""
    activity = case["activity"]
    obj = activity["object"]
    reason = NOT_POLLS.get((case["suite"], case["name"]))
    if reason is not None:
        with pytest.raises(InvalidDocument, match=reason):
            as_to_question(obj, actor=activity["actor"])
        return
    poll = as_to_question(obj, actor=activity["actor"])
    assert poll.ap_id == obj["id"]
    assert poll.author == activity["actor"]
    assert [name for name, _ in poll.options] == _expected_options(obj)
    assert all(count == 0 for _, count in poll.options)
    assert poll.multiple is ("anyOf" in obj)
    assert poll.content == obj.get("content", "")
    if "endTime" in obj:
        assert poll.end_time is not None and poll.end_time.tzinfo is not None
    assert poll.closed_at is None
    assert "http://other.test/some/actor" in poll.addressed


def test_funfedi__the_suite_as_installed_matches_the_stored_cases():
    """When funfedi-parsing-test-cases is installed, its poll suite is the one stored (same cases,
    same options) and each of its freshly made documents parses as the stored one does."""
    funfedi = pytest.importorskip("funfedi_parsing_test_cases")
    from funfedi_parsing_test_cases.testing import default_env

    live = {(sub.short_name, case.name): case for sub in funfedi.poll_suite.sub_suites for case in sub.tests}
    assert set(live) == {(c["suite"], c["name"]) for c in FUNFEDI}
    for key, case in live.items():
        activity = case.maker.to_send(default_env).activity
        if key in NOT_POLLS:
            with pytest.raises(InvalidDocument):
                as_to_question(activity["object"], actor=activity["actor"])
        else:
            parsed = as_to_question(activity["object"], actor=activity["actor"])
            assert [n for n, _ in parsed.options] == _expected_options(activity["object"])


def _questions_in(value) -> list[dict]:
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if first_type(item) == "Question":
                found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def test_fixtures__every_question_stored_or_in_the_pasture_inputs_is_parsed_as_a_poll():
    """Every Question in tests/fixtures/remote (the funfedi cases and the captures of 14 servers)
    and in fediverse-pasture-inputs' samples parses as a poll, unless it lacks options."""
    documents = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(FIXTURES.rglob("*.json"))]
    pasture = pytest.importorskip("fediverse_pasture_inputs")
    for input_set in pasture.available.values():
        documents.extend(input_set.examples)
    questions = [q for doc in documents for q in _questions_in(doc)]
    assert len(questions) >= len(FUNFEDI) - 1  # the case "without type" is no Question
    parsed = 0
    for question in questions:
        try:
            poll = as_to_question(question, actor=question.get("attributedTo") or "http://host.test/some/actor")
        except InvalidDocument as exc:
            assert "option" in exc.reason
            continue
        assert poll.options
        parsed += 1
    assert parsed >= len(FUNFEDI) - len(NOT_POLLS)


# ---- Mastodon's shapes ------------------------------------------------------------------------

def mastodon_question(**changes) -> dict:
    """A Question as Mastodon's NoteSerializer writes one (poll with hidden totals when asked)."""
    doc = {
        "id": "https://mastodon.example/users/camille/statuses/1",
        "type": "Question",
        "attributedTo": "https://mastodon.example/users/camille",
        "content": "<p>Que faire du square&nbsp;?</p><script>x()</script>",
        "contentMap": {"fr": "<p>Que faire du square&nbsp;?</p>"},
        "published": "2026-03-01T09:00:00Z",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": ["https://mastodon.example/users/camille/followers", "https://civic.example/actors/g1"],
        "endTime": "2026-03-08T09:00:00Z",
        "votersCount": 7,
        "oneOf": [
            {"type": "Note", "name": "Des arbres", "replies": {"type": "Collection", "totalItems": 5}},
            {"type": "Note", "name": "Des bancs", "replies": {"type": "Collection", "totalItems": 2}},
        ],
    }
    doc.update(changes)
    return doc


def test_as_to_question__mastodon_poll_with_tallies():
    poll = as_to_question(mastodon_question())
    assert poll.options == (("Des arbres", 5), ("Des bancs", 2))
    assert not poll.multiple and poll.voters_count == 7 and poll.language == "fr"
    assert poll.end_time == datetime(2026, 3, 8, 9, tzinfo=UTC)
    assert "<script" not in poll.content and "square" in poll.content
    assert poll.public and "https://civic.example/actors/g1" in poll.addressed


def test_as_to_question__hidden_counts_closed_and_duplicates():
    """Options without replies have no count (hidden results); ``closed`` as a date or as true;
    one name given twice is one option."""
    hidden = as_to_question(mastodon_question(oneOf=[{"type": "Note", "name": "A"}, {"name": "B"},
                                                     {"type": "Note", "name": "A"}, {"type": "Note"}]))
    assert hidden.options == (("A", None), ("B", None))
    closed = as_to_question(mastodon_question(closed="2026-03-08T09:00:00Z"))
    assert closed.closed_at == datetime(2026, 3, 8, 9, tzinfo=UTC)
    assert as_to_question(mastodon_question(closed=True)).closed_at == closed.end_time
    many = as_to_question(mastodon_question(oneOf=None, anyOf=[{"name": "x"}, {"name": "y"}]))
    assert many.multiple and [n for n, _ in many.options] == ["x", "y"]


@pytest.mark.parametrize(("changes", "reason"), [
    ({"attributedTo": "https://elsewhere.example/users/eve"}, "author's host"),
    ({"oneOf": [{"name": f"o{i}"} for i in range(MAX_OPTIONS + 1)]}, "at most"),
    ({"oneOf": []}, "at least one"),
    ({"type": "Note"}, "'Question'"),
    ({"id": "urn:x"}, "'id'"),
])
def test_as_to_question__refused_with_a_reason(changes, reason):
    with pytest.raises(InvalidDocument, match=reason):
        as_to_question(mastodon_question(**changes))


# ---- our Question out, read back ---------------------------------------------------------------

def _poll(**fields) -> tuple[Poll, list[PollOption]]:
    values = {"id": 1, "ap_id": f"{BASE}/polls/p1", "local": True, "content": "<p>Quel jour ?</p>",
              "multiple": False, "end_time": at(20), "closed_at": None, "hide_results": False,
              "voters_count": 3, "created_at": at(1), "updated_at": at(2), "language": "fr"}
    values.update(fields)
    poll = Poll(**values)
    options = [PollOption(id=1, poll_id=1, position=0, name="Lundi", votes_count=2),
               PollOption(id=2, poll_id=1, position=1, name="Mardi", votes_count=1)]
    return poll, options


def test_poll_to_as__read_back_as_the_same_poll():
    """Our Question, as a remote server would read it: same options, counts, dates, addressing."""
    org = local_actor("Organization", "lyon", "Ville de Lyon")
    poll, options = _poll()
    doc = poll_to_as(poll, org, org, options, level="public", url=f"{BASE}/polls/p1", counts_shown=True,
                     group_id=f"{BASE}/actors/g1", group_followers=f"{BASE}/actors/g1/followers")
    back = as_to_question(doc)
    assert back.options == (("Lundi", 2), ("Mardi", 1)) and back.voters_count == 3
    assert back.end_time == at(20) and back.closed_at is None and not back.multiple
    assert doc["context"] == doc["audience"] == f"{BASE}/actors/g1"
    assert f"{BASE}/actors/g1" in back.addressed and back.public
    assert "votersCount" in json.dumps(doc["@context"])


def test_poll_to_as__hidden_results_carry_no_count():
    """SECURITY.md rule 30: while results are hidden no option carries ``replies``; the number of
    voters is still given; once closed, ``closed`` and the counts are there."""
    org = local_actor("Organization", "lyon", "Ville de Lyon")
    poll, options = _poll(hide_results=True, multiple=True)
    doc = poll_to_as(poll, org, org, options, level="public", url=poll.ap_id, counts_shown=False)
    assert "replies" not in json.dumps(doc) and "totalItems" not in json.dumps(doc)
    assert doc["votersCount"] == 3 and [o["name"] for o in doc["anyOf"]] == ["Lundi", "Mardi"]
    assert all(count is None for _, count in as_to_question(doc).options)
    poll.closed_at = at(21)
    closed = poll_to_as(poll, org, org, options, level="public", url=poll.ap_id, counts_shown=True)
    assert closed["closed"] == "2026-03-21T09:00:00Z"
    assert as_to_question(closed).options == (("Lundi", 2), ("Mardi", 1))


def test_poll_to_as__followers_level_is_not_public():
    org = local_actor("Organization", "lyon", "Ville de Lyon")
    poll, options = _poll()
    doc = poll_to_as(poll, org, org, options, level="followers", url=poll.ap_id, counts_shown=True)
    assert not as_to_question(doc).public and doc["to"] == [org.followers_url]


# ---- votes ------------------------------------------------------------------------------------

def mastodon_vote(**changes) -> dict:
    vote = {"id": "https://mastodon.example/users/camille#votes/42", "type": "Note",
            "name": "Lundi", "attributedTo": "https://mastodon.example/users/camille",
            "inReplyTo": f"{BASE}/polls/p1", "to": f"{BASE}/actors/lyon"}
    vote.update(changes)
    return vote


def test_as_to_vote__mastodon_vote_and_our_own_read_the_same():
    vote = as_to_vote(mastodon_vote())
    assert (vote.author, vote.poll, vote.name) == ("https://mastodon.example/users/camille",
                                                   f"{BASE}/polls/p1", "Lundi")
    ours = vote_to_as(f"{BASE}/votes/v1", f"{BASE}/actors/amel", "https://m.example/q/1",
                      "https://m.example/users/c", "Oui")
    assert as_to_vote(ours) == type(vote)(f"{BASE}/votes/v1", f"{BASE}/actors/amel",
                                          "https://m.example/q/1", "Oui")
    assert "content" not in ours and ours["to"] == ["https://m.example/users/c"]


@pytest.mark.parametrize(("changes", "reason"), [
    ({"content": "<p>Lundi, évidemment</p>"}, "no 'content'"),  # a reply to a poll is not a vote
    ({"name": ""}, "'name'"),
    ({"inReplyTo": None}, "'inReplyTo'"),
    ({"attributedTo": "https://elsewhere.example/users/eve"}, "author's host"),
    ({"attributedTo": None}, "'attributedTo'"),
    ({"name": "x" * 501}, "at most"),
])
def test_as_to_vote__refused_with_a_reason(changes, reason):
    with pytest.raises(InvalidDocument, match=reason):
        as_to_vote(mastodon_vote(**changes))


# ---- hostile input ----------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
    | st.sampled_from(["Question", "Note", "Collection", "https://h.example/q", "http://[",
                       "https://h.example/actors/a", "2026-03-01T09:00:00Z", "9999-12-31T23:59:59-23:59"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "id", "attributedTo", "name", "nameMap", "content", "contentMap",
                         "oneOf", "anyOf", "replies", "totalItems", "endTime", "closed", "votersCount",
                         "to", "cc", "audience", "context", "url", "inReplyTo", "updated"]),
        children, max_size=8),
    max_leaves=30)


def _question_like():
    option = st.fixed_dictionaries({"name": JSON}, optional={"type": JSON, "replies": JSON})
    return st.fixed_dictionaries(
        {"type": st.just("Question"), "id": st.just("https://h.example/q"),
         "attributedTo": st.just("https://h.example/actors/a")},
        optional={"oneOf": st.lists(option, max_size=5) | JSON, "anyOf": st.lists(option, max_size=5) | JSON,
                  "endTime": JSON, "closed": JSON, "votersCount": JSON, "content": JSON, "contentMap": JSON,
                  "to": JSON, "cc": JSON, "context": JSON, "url": JSON})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=JSON | _question_like())
def test_as_to_question__hostile_documents_give_a_poll_or_a_reason(doc):
    try:
        poll = as_to_question(doc)
    except InvalidDocument as exc:
        assert exc.reason
        return
    assert 1 <= len(poll.options) <= MAX_OPTIONS
    assert len({name for name, _ in poll.options}) == len(poll.options)
    for name, count in poll.options:
        assert isinstance(name, str) and 0 < len(name) <= 500
        assert count is None or (isinstance(count, int) and not isinstance(count, bool) and count >= 0)
    assert poll.voters_count is None or poll.voters_count >= 0
    assert "<script" not in poll.content.lower()


@settings(max_examples=200, deadline=None)
@given(doc=JSON | st.fixed_dictionaries(
    {"type": st.just("Note"), "id": st.just("https://h.example/v"),
     "attributedTo": st.just("https://h.example/actors/a")},
    optional={"name": JSON, "inReplyTo": JSON, "content": JSON, "nameMap": JSON}))
def test_as_to_vote__hostile_documents_give_a_vote_or_a_reason(doc):
    try:
        vote = as_to_vote(doc)
    except InvalidDocument as exc:
        assert exc.reason
        return
    assert vote.name and len(vote.name) <= 500 and vote.poll


def test_as_to_question__read_after_json_ld_compaction():
    """A Question in an unusual context (Fedify's) is compacted into ours before it is read
    (activities/jsonld.py): its one option, its voters and its dates survive."""
    from activities.jsonld import compact

    doc = mastodon_question(oneOf=[{"type": "Note", "name": "Seul", "replies": {"type": "Collection",
                                                                                 "totalItems": 4}}])
    doc["@context"] = ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/data-integrity/v1",
                       {"toot": "http://joinmastodon.org/ns#", "votersCount": "toot:votersCount",
                        "texte": "as:content"}]
    doc["texte"] = doc.pop("content")
    poll = as_to_question(compact(doc))
    assert poll.options == (("Seul", 4),) and poll.voters_count == 7
    assert "square" in poll.content and poll.end_time == datetime(2026, 3, 8, 9, tzinfo=UTC)


def test_as_to_question__counts_as_typed_json_ld_values():
    """Counts a JSON-LD processor wrote as typed values or digit strings are still counts."""
    poll = as_to_question(mastodon_question(
        votersCount={"@value": 3, "@type": "http://www.w3.org/2001/XMLSchema#nonNegativeInteger"},
        oneOf=[{"type": "Note", "name": "A", "replies": {"type": "Collection", "totalItems": "2"}},
               {"type": "Note", "name": "B", "replies": {"type": "Collection", "totalItems": {"@value": 1}}},
               {"type": "Note", "name": "C", "replies": {"type": "Collection", "totalItems": "-1"}}]))
    assert poll.voters_count == 3 and poll.options == (("A", 2), ("B", 1), ("C", None))
