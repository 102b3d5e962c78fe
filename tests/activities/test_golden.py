"""Golden AS2 documents for every object we publish, and the invariants they all keep."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from activities import wrappers
from activities.actors import actor_to_as
from activities.budgets import Winner, budget_to_as, comment_to_as, project_to_as, results_to_as
from activities.campaigns import campaign_to_as, relayed_support, variant_to_as
from activities.coalitions import coalition_to_as, member_to_as, members_collection
from activities.community import article_to_as, initiative_to_as, stakeholder_to_as
from activities.contributions import contribution_to_as
from activities.discussions import discussion_group_to_as, discussion_page_to_as
from activities.groups import group_announce, group_announce_id
from activities.html import text_to_html
from activities.jsonld import expand
from activities.notes import note_to_as, tombstone_to_as
from activities.polls import poll_activity, poll_to_as, vote_to_as
from activities.proposals import official_answer_to_as, proposal_to_as
from activities.vocabulary import CIVIC_NS, CIVIC_TERMS, CONTEXT, PUBLIC
from node.models import (
    Budget,
    BudgetProject,
    BudgetProjectComment,
    Campaign,
    CampaignVariant,
    Poll,
    PollOption,
)
from tests.activities.samples import REMOTE_FOLLOWER, URIS, World, at, local_actor, world

GOLDEN = Path(__file__).with_name("golden")
FEDERATION_MD = Path(__file__).resolve().parents[2] / "FEDERATION.md"
POST_TYPES = {"Note", "Page", "Article"}
TAG = re.compile(r"<[a-zA-Z/!]")


def _group_page(w: World) -> dict:
    return discussion_page_to_as(
        w.discussion,
        w.group,
        w.org,
        title=w.discussion.title["fr"],
        summary=w.discussion.summary["fr"],
        content=text_to_html(w.discussion.body["fr"]),
        language="fr",
    )


def _closed_page(w: World) -> dict:
    return discussion_page_to_as(
        w.closed,
        w.closed_group,
        w.org,
        title=w.closed.title["fr"],
        summary="",
        content=text_to_html(w.closed.body["fr"]),
        language="fr",
    )


def _contribution(w: World) -> dict:
    return contribution_to_as(
        w.contribution, w.alice, w.discussion, w.group, in_reply_to=w.discussion.page_ap_id
    )


def _reply(w: World) -> dict:
    return contribution_to_as(
        w.reply, w.org, w.discussion, w.group, in_reply_to=w.contribution.ap_id
    )


def _contribution_create(w: World) -> dict:
    return wrappers.create(URIS.activity("c-9a7e01"), w.alice.ap_id, _contribution(w))


def _remote_follow(w: World) -> dict:
    # The shape of Mastodon's Follow (tests/fixtures/remote/mastodon/activities/follow.json).
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://mastodon.example/0b9e7e44-6f0e-4c59-9f6d-1c2b1d0a4e21",
        "type": "Follow",
        "actor": REMOTE_FOLLOWER,
        "object": w.group.ap_id,
    }


def _coalition() -> dict:
    """A coalition's Group (activities/coalitions.py): Mobilizon's ``members``, ``civic:coalition``."""
    blue = local_actor("Group", "blue", "Blue Coalition", "Ocean demands across the EU")
    return coalition_to_as(actor_to_as(blue), URIS.coalition_members(blue.ap_id))


def _campaign() -> dict:
    """A coalition's campaign (activities/campaigns.py): texts per language and its kit."""
    blue = local_actor("Group", "blue", "Blue Coalition", "Ocean demands across the EU")
    campaign = Campaign(
        ap_id=URIS.campaign("c-0cea4"), url=URIS.campaign("c-0cea4"), support_count=12,
        name={"fr": "Océans propres", "de": "Saubere Meere"},
        summary={"fr": "Signez pour des océans sans plastique", "de": "Für Meere ohne Plastik"},
        content={"fr": "<p>Dix demandes au Parlement européen.</p>",
                 "de": "<p>Zehn Forderungen an das Europäische Parlament.</p>"},
        kit=[{"language": "fr", "kind": "visual", "name": "Affiche", "url": "/media/" + "ab" * 32 + ".png",
              "media_type": "image/png"},
             {"language": "de", "kind": "message", "name": "Beitrag", "content": "<p>Macht mit!</p>"}],
        created_at=at(1), published_at=at(2))
    return campaign_to_as(campaign, blue, level="public", base=URIS.base)


def _variant(w: World) -> dict:
    """A member organisation's variant of a campaign on another node (its home)."""
    variant = CampaignVariant(
        ap_id=URIS.variant("v-b4531"), language="fr", name="Océans propres à Lyon",
        content="<p>Lyon soutient les dix demandes.</p>", visual_url="/media/" + "cd" * 32 + ".jpg",
        visual_media_type="image/jpeg", support_count=3, created_at=at(4))
    return variant_to_as(variant, w.org, campaign_id="https://home.example/campaigns/c-0cea4",
                         coalition_id="https://home.example/actors/blue", level="public", base=URIS.base)


def _budget() -> Budget:
    """Lahr's participatory budget (activities/budgets.py), its results published."""
    return Budget(ap_id=URIS.budget("b-1a4r"), slug="2027", title={"de": "Bürgerhaushalt 2027"},
                  description={"de": "50.000 € für Ideen aus Lahr"}, visibility="public", amount=50_000,
                  currency="EUR", phase="results", results_ap_id=URIS.budget_results(URIS.budget("b-1a4r")),
                  results_published_at=at(25), created_at=at(1))


def _project(w: World) -> dict:
    """A resident's project in a district, reviewed feasible with the review's cost."""
    project = BudgetProject(ap_id=URIS.project("p-7b1e"), title="Ein Trinkbrunnen am Marktplatz",
                            body="<p>Ein Trinkbrunnen für heiße Sommertage.</p>", language="de", cost=9_000,
                            cost_estimate=8_000, feasibility="feasible", state="selected", support_count=17,
                            created_at=at(3), updated_at=at(10))
    return project_to_as(project, w.alice, w.org, _budget(), level="public", cost=8_000, district="Altstadt")


def _project_comment(w: World) -> dict:
    comment = BudgetProjectComment(ap_id=URIS.project_comment("pc-31"), content="<p>Sehr gute Idee!</p>",
                                   created_at=at(4))
    project = BudgetProject(ap_id=URIS.project("p-7b1e"))
    return comment_to_as(comment, w.marc, project, w.org, _budget(), level="public", project_author=w.alice)


def _budget_results(w: World) -> dict:
    winners = [Winner(URIS.project("p-7b1e"), "Ein Trinkbrunnen am Marktplatz", 8_000, 212),
               Winner(URIS.project("p-2c9d"), "Bänke im Stadtpark", 12_000, 180)]
    return results_to_as(_budget(), w.org, level="public", language="de", winners=winners, projects=9,
                         ballots=350, spent=20_000)


LOGO = (URIS.base + "/media/" + "3f" * 32 + ".png", "image/png")

def _poll(w: World, *, counts_shown: bool = True) -> dict:
    """Lyon's poll in its discussion (activities/polls.py): Mastodon's Question, with the tallies
    (or, while its results are hidden, without any count)."""
    poll = Poll(ap_id=URIS.poll("q-5d2e"), local=True, content="<p>Quel jour pour le marché ?</p>",
                language="fr", multiple=False, end_time=at(20), closed_at=None, voters_count=3,
                hide_results=not counts_shown, created_at=at(6), updated_at=at(7))
    options = [PollOption(position=0, name="Samedi", votes_count=2),
               PollOption(position=1, name="Dimanche", votes_count=1)]
    return poll_to_as(poll, w.org, w.org, options, level="public", url=poll.ap_id, counts_shown=counts_shown,
                      group_id=w.group.ap_id, group_followers=w.group.followers_url)


CASES: dict[str, Callable[[World], dict]] = {
    "actor_organization": lambda w: actor_to_as(w.org),
    "actor_person": lambda w: actor_to_as(w.alice),
    "actor_instance": lambda w: actor_to_as(w.instance),
    "actor_organization_with_logo": lambda w: actor_to_as(w.org, icon=LOGO),
    "actor_update": lambda w: wrappers.update_actor(URIS.activity("a-1"), actor_to_as(w.org, icon=LOGO)),
    "announcement_note": lambda w: note_to_as(w.announcement, w.org),
    "announcement_create": lambda w: wrappers.create(
        URIS.activity("n-4f1c2b"),
        w.org.ap_id,
        note_to_as(w.announcement, w.org),
        "2026-03-05T10:00:00Z",
    ),
    "discussion_group": lambda w: discussion_group_to_as(
        w.discussion,
        w.group,
        w.org,
        w.moderators,
        title=w.discussion.title["fr"],
        summary=w.discussion.summary["fr"],
    ),
    "discussion_page": _group_page,
    "discussion_page_closed": _closed_page,
    "contribution_note": _contribution,
    "contribution_reply": _reply,
    "proposal_published": lambda w: proposal_to_as(
        w.proposal, w.alice, w.org, level="public", group_id=w.group.ap_id, support_threshold=50
    ),
    "proposal_accepted": lambda w: proposal_to_as(w.accepted, w.marc, w.org, level="public"),
    "official_answer": lambda w: official_answer_to_as(
        w.accepted, w.org, answer_id=f"{w.accepted.ap_id}/answer", level="public"
    ),
    "article": lambda w: article_to_as(w.article, w.alice, w.group.ap_id, level="public"),
    "article_report": lambda w: article_to_as(w.report, w.marc, w.group.ap_id, level="public"),
    "initiative": lambda w: initiative_to_as(w.initiative, w.org, w.group.ap_id, level="public"),
    "stakeholder": lambda w: stakeholder_to_as(
        w.stakeholder, w.marc, w.group.ap_id, support_received=8
    ),
    "like": lambda w: wrappers.like(
        URIS.activity("l-1"), w.marc.ap_id, w.contribution.ap_id, [w.alice.ap_id]
    ),
    "undo_like": lambda w: wrappers.undo(
        URIS.activity("u-1"),
        w.marc.ap_id,
        wrappers.like(URIS.activity("l-1"), w.marc.ap_id, w.contribution.ap_id, [w.alice.ap_id]),
        [w.alice.ap_id],
    ),
    "join": lambda w: wrappers.join(
        URIS.activity("j-1"), w.marc.ap_id, w.initiative.ap_id, [w.org.ap_id]
    ),
    "group_announce_create": lambda w: group_announce(
        URIS.activity("a-1"), w.group.ap_id, _contribution_create(w), w.group.followers_url,
        level="public",
    ),
    "group_announce_id": lambda w: group_announce_id(
        URIS.activity("a-2"), w.group.ap_id, w.contribution.ap_id, w.group.followers_url,
        level="public",
    ),
    "accept_follow": lambda w: wrappers.accept(
        URIS.activity("f-1"), w.group.ap_id, _remote_follow(w)
    ),
    "undo_follow": lambda w: wrappers.undo(
        URIS.activity("u-2"),
        w.org.ap_id,
        wrappers.follow(URIS.activity("f-2"), w.org.ap_id, REMOTE_FOLLOWER),
        [REMOTE_FOLLOWER],
    ),
    "delete": lambda w: wrappers.delete(
        URIS.activity("d-1"),
        w.alice.ap_id,
        w.contribution.ap_id,
        [PUBLIC],
        [w.group.ap_id, w.group.followers_url],
    ),
    "tombstone": lambda w: tombstone_to_as(w.contribution.ap_id, "Note", at(21, 12)),
    "campaign_page": lambda w: _campaign(),
    "variant_page": _variant,
    "relayed_support": lambda w: relayed_support(
        URIS.activity("r-5e1a"), w.org.ap_id, like_id="https://mastodon.example/users/camille#likes/7",
        supporter=REMOTE_FOLLOWER, variant=URIS.variant("v-b4531"), coalition="https://home.example/actors/blue"),
    "budget_collection": lambda w: budget_to_as(
        _budget(), w.org, level="public", language="de",
        projects=[URIS.project("p-7b1e"), URIS.project("p-2c9d"), "https://mastodon.example/statuses/5"]),
    "project_page": _project,
    "project_comment": _project_comment,
    "budget_results": _budget_results,
    "poll_question": _poll,
    "poll_question_hidden": lambda w: _poll(w, counts_shown=False),
    "poll_update": lambda w: poll_activity(wrappers.update(URIS.activity("p-8"), w.org.ap_id, _poll(w))),
    "poll_vote": lambda w: wrappers.create(
        f"{URIS.vote('v-3c1')}/activity", w.marc.ap_id,
        vote_to_as(URIS.vote("v-3c1"), w.marc.ap_id, "https://mastodon.example/users/camille/statuses/9",
                   REMOTE_FOLLOWER, "Oui")),
    "coalition_group": lambda w: _coalition(),
    "coalition_members": lambda w: members_collection(_coalition()["members"], [
        member_to_as(_coalition()["members"], _coalition()["id"], w.org.ap_id, "admin"),
        member_to_as(_coalition()["members"], _coalition()["id"], REMOTE_FOLLOWER, "member")]),
}


def build(name: str) -> dict:
    return CASES[name](world())


def objects_in(doc) -> Iterator[dict]:
    """The document and every object embedded in it (Create{Note}, Announce{Create{Note}} …)."""
    if isinstance(doc, dict):
        yield doc
        yield from objects_in(doc.get("object"))


def keys_in(value) -> Iterator[str]:
    """Every key used in a document, outside its ``@context``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "@context":
                continue
            yield key
            yield from keys_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from keys_in(item)


def types_in(value) -> Iterator[str]:
    if isinstance(value, dict):
        kind = value.get("type")
        if isinstance(kind, str):
            yield kind
        for item in value.values():
            yield from types_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from types_in(item)


def with_context(doc: dict) -> dict:
    return doc if "@context" in doc else {"@context": CONTEXT, **doc}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden__document_matches_the_stored_file(name, update_golden):
    """Each published document equals tests/activities/golden/<name>.json, key for key."""
    doc = build(name)
    path = GOLDEN / f"{name}.json"
    if update_golden:
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert path.exists(), f"{path.name} is missing: run with UPDATE_GOLDEN=1"
    assert json.loads(path.read_text(encoding="utf-8")) == doc


def test_golden__every_stored_file_has_a_case():
    """No stale golden file lingers after its converter case is gone."""
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden__pages_and_articles_have_a_plain_summary_and_a_url(name):
    """Mastodon shows Page/Article as name + summary + url (status_parser.rb): all three set."""
    for obj in objects_in(build(name)):
        if obj.get("type") in ("Page", "Article"):
            assert obj["name"].strip()
            assert obj["summary"].strip() and not TAG.search(obj["summary"])
            assert len(obj["summary"]) <= 280
            assert obj["url"].startswith("https://")


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden__posts_carry_context_and_audience(name):
    """FEP-7888 ``context`` on every post; FEP-1b12 ``audience`` on every post in a discussion."""
    w = world()
    for obj in objects_in(build(name)):
        if obj.get("type") in POST_TYPES:
            assert obj["context"].startswith("https://")
            if obj["context"] == w.group.ap_id:
                assert obj["audience"] == w.group.ap_id


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden__expands_with_every_term_defined(name):
    """JSON-LD expansion drops nothing: no term falls to the AS2 ``_:`` vocabulary, and every
    civic: key and type expands into the civic namespace."""
    doc = with_context(build(name))
    expanded = expand(doc)
    expanded_keys = set(keys_in(expanded))
    undefined = sorted(k for k in expanded_keys if k.startswith("_:"))
    assert undefined == []
    expanded_types = set(types_in(doc))
    civic_keys = {k for k in keys_in(doc) if k.startswith("civic:")}
    assert {CIVIC_NS + k.removeprefix("civic:") for k in civic_keys} <= expanded_keys
    for kind in (t for t in expanded_types if t.startswith("civic:")):
        assert CIVIC_NS + kind.removeprefix("civic:") in json.dumps(expanded)


def test_golden__civic_terms_are_exactly_the_documented_ones():
    """Every civic: term we publish is in CIVIC_TERMS and in FEDERATION.md, and none is stale."""
    used = set()
    for name in CASES:
        doc = build(name)
        used |= {k for k in keys_in(doc) if k.startswith("civic:")}
        used |= {t for t in types_in(doc) if t.startswith("civic:")}
    text = FEDERATION_MD.read_text(encoding="utf-8")
    section = text.split("## Extension namespace", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`(civic:[A-Za-z]+)`", section))
    assert used == set(CIVIC_TERMS)
    assert documented == set(CIVIC_TERMS)
