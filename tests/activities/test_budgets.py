"""activities/budgets.py: the budget Collection, project Page, comment Note and results Article
out; fediverse proposals and comments in, hostile input included (hypothesis)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activities.addressing import NotFederated
from activities.budgets import (
    MAX_COMMENT,
    MAX_COST,
    MAX_TEXT,
    Winner,
    addressed_budget,
    budget_to_as,
    comment_to_as,
    meant_for,
    parse_comment,
    parse_project,
    project_to_as,
    results_to_as,
)
from activities.errors import InvalidDocument
from activities.vocabulary import CIVIC_NS, PUBLIC
from node.models import Budget, BudgetProject, BudgetProjectComment
from tests.activities.samples import URIS, at, local_actor

ORG = local_actor("Organization", "lahr", "Stadt Lahr")
ALICE = local_actor("Person", "alice", "Alice Martin")
REMOTE = "https://social.example/users/bea"
BUDGET_ID = URIS.budget("b1")


def _budget(**extra) -> Budget:
    fields = dict(ap_id=BUDGET_ID, organization_id=1, slug="2027", title={"de": "Bürgerhaushalt 2027",
                  "fr": "Budget participatif 2027"}, description={"de": "50.000 € für Ihre Ideen"},
                  visibility="public", amount=50_000, currency="EUR", phase="proposing", results={},
                  created_at=at(1))
    fields.update(extra)
    return Budget(**fields)


def _project(**extra) -> BudgetProject:
    fields = dict(ap_id=URIS.project("p1"), budget_id=1, author_id=2, title="Ein Trinkbrunnen am Markt",
                  body="<p>Ein Trinkbrunnen für heiße Tage.</p>", language="de", cost=8_000,
                  cost_estimate=None, feasibility="pending", state="proposed", support_count=4,
                  created_at=at(2), updated_at=None)
    fields.update(extra)
    return BudgetProject(**fields)


def _proposal(**extra) -> dict:
    doc = {"id": f"{REMOTE}/statuses/1", "type": "Page", "attributedTo": REMOTE, "name": "Bänke im Park",
           "content": "<p>Zehn neue Bänke.</p>", "context": BUDGET_ID, "civic:cost": 12_000}
    doc.update(extra)
    return doc


# ---- out

def test_project_to_as__a_page_with_its_cost_in_its_budget():
    """The Page says its cost, currency, feasibility, district and state; context = the budget."""
    doc = project_to_as(_project(), ALICE, ORG, _budget(), level="public", cost=8_000, district="Altstadt")
    assert doc["type"] == "Page" and doc["attributedTo"] == ALICE.ap_id
    assert doc["context"] == BUDGET_ID and doc["url"] == doc["id"] == URIS.project("p1")
    assert (doc["civic:cost"], doc["civic:currency"], doc["civic:feasibility"], doc["civic:district"],
            doc["civic:status"]) == (8_000, "EUR", "pending", "Altstadt", "proposed")
    assert doc["to"] == [PUBLIC] and ORG.followers_url in doc["cc"] and ALICE.followers_url in doc["cc"]
    assert doc["name"] == "Ein Trinkbrunnen am Markt" and doc["summary"] == "Ein Trinkbrunnen für heiße Tage."
    assert doc["contentMap"] == {"de": doc["content"]} and doc["likes"]["totalItems"] == 4


def test_project_to_as__followers_level_reaches_the_organisations_followers_only():
    """At ``followers`` the author's own followers are not addressed, and Public nowhere."""
    doc = project_to_as(_project(), ALICE, ORG, _budget(), level="followers", cost=1)
    assert doc["to"] == [ORG.followers_url] and doc["cc"] == []
    assert "civic:district" not in doc


def test_builders__a_members_budget_is_never_addressed():
    """Building any of its documents at ``members`` is a bug: NotFederated."""
    with pytest.raises(NotFederated):
        project_to_as(_project(), ALICE, ORG, _budget(), level="members", cost=1)
    with pytest.raises(NotFederated):
        budget_to_as(_budget(), ORG, level="members", language="de", projects=[])
    with pytest.raises(NotFederated):
        results_to_as(_budget(results_ap_id=f"{BUDGET_ID}/results"), ORG, level="members", language="de",
                      winners=[], projects=0, ballots=0, spent=0)


def test_budget_to_as__a_collection_of_its_projects_with_amount_currency_and_phase():
    doc = budget_to_as(_budget(), ORG, level="public", language="de",
                       projects=[URIS.project("p1"), "https://social.example/statuses/9"])
    assert doc["type"] == "Collection" and doc["id"] == doc["url"] == BUDGET_ID
    assert doc["totalItems"] == 2 and doc["items"][1] == "https://social.example/statuses/9"
    assert (doc["civic:amount"], doc["civic:currency"], doc["civic:phase"]) == (50_000, "EUR", "proposing")
    assert doc["name"] == "Bürgerhaushalt 2027" and doc["nameMap"]["fr"] == "Budget participatif 2027"
    assert doc["summary"] == "50.000 € für Ihre Ideen"


def test_comment_to_as__a_note_replying_to_the_project():
    comment = BudgetProjectComment(ap_id=URIS.project_comment("c1"), content="<p>Gute Idee!</p>",
                                   created_at=at(3))
    remote_author = local_actor("Person", "bea", "Bea", local=False, ap_id=REMOTE)
    doc = comment_to_as(comment, ALICE, _project(), ORG, _budget(), level="public", project_author=remote_author)
    assert doc["type"] == "Note" and doc["inReplyTo"] == URIS.project("p1") and doc["context"] == BUDGET_ID
    assert REMOTE in doc["cc"]
    followers_only = comment_to_as(comment, ALICE, _project(), ORG, _budget(), level="followers",
                                   project_author=remote_author)
    assert REMOTE not in followers_only["to"] + followers_only["cc"]


def test_results_to_as__the_winners_with_cost_and_votes_and_nothing_about_voters():
    """The Article lists the funded projects (cost, votes) and the number of ballots only."""
    budget = _budget(phase="results", results_ap_id=f"{BUDGET_ID}/results", results_published_at=at(20))
    winners = [Winner(URIS.project("p1"), "Trinkbrunnen <b>am</b> Markt", 8_000, 212),
               Winner(URIS.project("p2"), "Bänke", 12_000, 180)]
    doc = results_to_as(budget, ORG, level="public", language="de", winners=winners, projects=5,
                        ballots=350, spent=20_000)
    assert doc["type"] == "Article" and doc["id"] == doc["url"] == f"{BUDGET_ID}/results"
    assert doc["attributedTo"] == ORG.ap_id and doc["context"] == BUDGET_ID
    assert doc["name"] == "Ergebnisse: Bürgerhaushalt 2027"
    assert "2 von 5 Projekten gefördert" in doc["summary"] and "350 Stimmzettel" in doc["summary"]
    assert f'<a href="{URIS.project("p1")}">Trinkbrunnen am Markt</a> — 8000 EUR, 212 Stimmen' in doc["content"]
    assert "<b>" not in doc["content"]
    english = results_to_as(budget, ORG, level="public", language="en", winners=winners[:1], projects=5,
                            ballots=350, spent=8_000)
    assert "1 of 5 projects funded" in english["summary"]


# ---- in

def test_parse_project__a_page_with_name_cost_and_district():
    project = parse_project(_proposal(**{"civic:district": "Altstadt", "contentMap": {"de": "<p>x y</p>"}}))
    assert (project.author, project.budget, project.title, project.cost, project.district, project.language) \
        == (REMOTE, BUDGET_ID, "Bänke im Park", 12_000, "Altstadt", "de")
    assert project.body_html == "<p>Zehn neue Bänke.</p>"


def test_parse_project__a_mastodon_note_replying_to_the_budget_takes_its_first_words_as_title():
    """Mastodon posts have no name: the title is the start of the text; inReplyTo names the budget."""
    note = {"id": f"{REMOTE}/statuses/2", "type": "Note", "attributedTo": REMOTE, "inReplyTo": BUDGET_ID,
            "content": '<p><span class="h-card"><a href="x">@lahr</a></span> Mehr Fahrradständer am '
                       "Bahnhof, bitte — mindestens fünfzig, überdacht, mit Licht und Ladestation für "
                       "E-Bikes, damit Pendler umsteigen.</p>"}
    project = parse_project(note)
    assert project.budget == BUDGET_ID and project.cost is None
    assert project.title.startswith("@lahr Mehr Fahrradständer") and len(project.title) <= 80
    assert project.title.endswith("…")


@pytest.mark.parametrize("cost, expected", [(None, None), (0, None), (1, 1), ("2500", 2500), (2500.0, 2500),
                                            ({"@value": 70}, 70), ([9], 9), (MAX_COST, MAX_COST)])
def test_parse_project__cost_forms(cost, expected):
    """civic:cost as a number, a digit string, a JSON-LD value object or a one-item list."""
    doc = _proposal()
    del doc["civic:cost"]
    if cost is not None:
        doc["civic:cost"] = cost
    assert parse_project(doc).cost == expected


def test_parse_project__the_full_iri_of_cost_is_read_too():
    doc = _proposal()
    del doc["civic:cost"]
    doc[f"{CIVIC_NS}cost"] = 300
    assert parse_project(doc).cost == 300


@pytest.mark.parametrize("cost", [-1, MAX_COST + 1, 2.5, "12k", True, "99999999999", [1, 2], {"a": 1}])
def test_parse_project__a_cost_that_is_not_a_whole_number_in_range_is_refused(cost):
    with pytest.raises(InvalidDocument, match="civic:cost"):
        parse_project(_proposal(**{"civic:cost": cost}))


@pytest.mark.parametrize("change, reason", [
    ({"type": "Question"}, "one of"),
    ({"attributedTo": "https://elsewhere.example/users/x"}, "not on its author's host"),
    ({"id": "javascript:alert(1)"}, "http"),
    ({"context": None}, "names its budget"),
    ({"content": ""}, "no text"),
    ({"content": "<script>alert(1)</script>"}, "no text"),
    ({"content": "x" * (MAX_TEXT + 1)}, "longer than"),
    ({"name": None, "content": "<p>ab</p>"}, "at least 3"),
    ({"type": "Note", "name": "Yes", "content": "", "inReplyTo": BUDGET_ID}, "poll vote"),
])
def test_parse_project__refused_with_its_reason(change, reason):
    with pytest.raises(InvalidDocument, match=reason):
        parse_project(_proposal(**change))


def test_parse_project__html_is_sanitised_and_the_name_is_plain():
    project = parse_project(_proposal(name="<b>Bänke</b> <script>x</script>",
                                      content='<p onclick="x()">Hi <img src="javascript:1"> there</p>'))
    assert project.title == "Bänke" and "onclick" not in project.body_html and "javascript" not in project.body_html


def test_parse_comment__a_reply_to_the_project():
    comment = parse_comment({"id": f"{REMOTE}/statuses/3", "type": "Note", "attributedTo": REMOTE,
                             "inReplyTo": URIS.project("p1"), "content": "<p>Dafür!</p>"})
    assert (comment.author, comment.project, comment.content_html) == (REMOTE, URIS.project("p1"), "<p>Dafür!</p>")
    with pytest.raises(InvalidDocument, match="longer than"):
        parse_comment({"id": f"{REMOTE}/statuses/4", "type": "Note", "attributedTo": REMOTE,
                       "inReplyTo": URIS.project("p1"), "content": "a" * (MAX_COMMENT + 1)})
    with pytest.raises(InvalidDocument, match="inReplyTo"):
        parse_comment({"id": f"{REMOTE}/statuses/5", "type": "Note", "attributedTo": REMOTE,
                       "content": "<p>Dafür!</p>"})


def test_meant_for__public_unlisted_or_the_organisation_not_a_direct_message():
    """A post is shown with a budget when addressed to Public (to or cc) or to the organisation or
    its followers; not a direct message to someone else or a post to its author's followers."""
    org, followers = ORG.ap_id, ORG.followers_url
    assert meant_for((PUBLIC,), org, followers) and meant_for(("x", "as:Public"), org, followers)
    assert meant_for((org,), org, followers) and meant_for((f"{REMOTE}/followers", followers), org, followers)
    assert not meant_for((ALICE.ap_id,), org, followers)
    assert not meant_for((f"{REMOTE}/followers",), org, followers) and not meant_for((), org, None)
    doc = _proposal(to=[ALICE.ap_id], cc=[PUBLIC])
    assert parse_project(doc).addressed == (ALICE.ap_id, PUBLIC)


def test_addressed_budget__in_reply_to_first_then_context():
    assert addressed_budget({"inReplyTo": "https://a.example/x", "context": BUDGET_ID}) == "https://a.example/x"
    assert addressed_budget({"context": {"id": BUDGET_ID}}) == BUDGET_ID
    assert addressed_budget({"context": 5}) is None and addressed_budget("x") is None


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                  max_size=4), max_leaves=20)
_fields = st.sampled_from(["id", "type", "attributedTo", "name", "content", "contentMap", "context", "inReplyTo",
                           "civic:cost", "civic:district", f"{CIVIC_NS}cost"])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_fields, _json | st.sampled_from([REMOTE, BUDGET_ID, "Page", "Note", f"{REMOTE}/s/1"]),
                       max_size=10))
def test_parsers__hostile_documents_are_refused_with_a_reason_or_kept_bounded(doc):
    """Whatever arrives, the parsers answer a bounded, storable value or InvalidDocument — no
    other exception — and what they keep is sanitised."""
    for parse in (parse_project, parse_comment):
        try:
            found = parse(doc)
        except InvalidDocument as exc:
            assert exc.reason
            continue
        json.dumps(found.__dict__)
        text = getattr(found, "body_html", None) or found.content_html
        assert "<script" not in text and len(text) <= MAX_TEXT
        if parse is parse_project:
            assert 3 <= len(found.title) <= 300 and (found.cost is None or 0 < found.cost <= MAX_COST)
