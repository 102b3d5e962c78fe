"""Addressing by visibility level (activities/addressing.py, SECURITY.md rule 24): every builder
puts ``Public`` exactly where its level says — in ``to`` for public, in ``cc`` only for unlisted,
nowhere for followers — and refuses members."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from activities import wrappers
from activities.addressing import NotFederated, addressing
from activities.budgets import budget_to_as, comment_to_as, project_to_as, results_to_as
from activities.community import article_to_as, initiative_to_as
from activities.contributions import contribution_to_as
from activities.discussions import discussion_group_to_as, discussion_page_to_as
from activities.groups import group_announce, group_announce_id
from activities.moderators import moderators_change
from activities.notes import note_to_as
from activities.proposals import official_answer_to_as, proposal_to_as
from activities.vocabulary import PUBLIC
from federation import participation_documents as documents
from node.db import transaction
from node.models import Article, Budget, BudgetProject, BudgetProjectComment, Discussion
from node.services import actors, community, discussions, spaces
from tests.activities.samples import URIS, World, world

LEVELS = ("public", "unlisted", "followers", "members")


_BUDGET = Budget(ap_id=URIS.budget("b"), title={"fr": "Budget"}, amount=10, currency="EUR", phase="results",
                 results_ap_id=URIS.budget_results(URIS.budget("b")), created_at=datetime(2026, 3, 1, tzinfo=UTC))
_PROJECT = BudgetProject(ap_id=URIS.project("p"), title="Projet", body="<p>x</p>", feasibility="pending",
                         state="proposed", created_at=_BUDGET.created_at)
_COMMENT = BudgetProjectComment(ap_id=URIS.project_comment("c"), content="<p>x</p>", created_at=_BUDGET.created_at)


def _followers(w: World) -> list[str]:
    return [w.org.followers_url, w.group.followers_url]


def _create(w: World) -> dict:
    note = contribution_to_as(w.contribution, w.alice, w.discussion, w.group, in_reply_to="p",
                              level="public")
    return wrappers.create(URIS.activity("c1"), w.alice.ap_id, note)


# Every builder that addresses something, as (world, level) -> the document it sends.
BUILDERS: dict[str, Callable[[World, str], dict]] = {
    "discussion_page": lambda w, level: discussion_page_to_as(
        w.discussion, w.group, w.org, title="T", summary="", content="<p>x</p>", language="fr",
        level=level, followers=[w.org.followers_url]),
    "contribution": lambda w, level: contribution_to_as(
        w.contribution, w.alice, w.discussion, w.group, in_reply_to="p", level=level),
    "proposal": lambda w, level: proposal_to_as(
        w.proposal, w.alice, w.org, level=level, group_id=w.group.ap_id,
        group_followers=w.group.followers_url),
    "official_answer": lambda w, level: official_answer_to_as(
        w.accepted, w.org, answer_id="A", level=level, group_id=w.group.ap_id,
        group_followers=w.group.followers_url),
    "article": lambda w, level: article_to_as(w.article, w.alice, w.group.ap_id, level=level,
                                              followers=_followers(w)),
    "initiative": lambda w, level: initiative_to_as(w.initiative, w.alice, w.group.ap_id,
                                                    level=level, followers=_followers(w)),
    "note": lambda w, level: note_to_as(_at(w.announcement, level), w.org),
    "group_announce_create": lambda w, level: group_announce(
        URIS.activity("a1"), w.group.ap_id, _create(w), w.group.followers_url, level=level),
    "group_announce_id": lambda w, level: group_announce_id(
        URIS.activity("a2"), w.group.ap_id, w.contribution.ap_id, w.group.followers_url,
        level=level),
    "moderators_change": lambda w, level: moderators_change(
        "Add", URIS.activity("m1"), w.group.ap_id, w.marc.ap_id, "M", w.group.followers_url,
        level=level),
    "budget": lambda w, level: budget_to_as(_BUDGET, w.org, level=level, language="fr", projects=[]),
    "budget_project": lambda w, level: project_to_as(_PROJECT, w.alice, w.org, _BUDGET, level=level, cost=1),
    "budget_comment": lambda w, level: comment_to_as(_COMMENT, w.marc, _PROJECT, w.org, _BUDGET,
                                                     level=level, project_author=w.alice),
    "budget_results": lambda w, level: results_to_as(_BUDGET, w.org, level=level, language="fr", winners=[],
                                                     projects=0, ballots=0, spent=0),
}
# Builders of things inside a discussion: their author's own followers are not the organisation's.
IN_DISCUSSION = ("contribution", "proposal", "article", "initiative")


def _at(row, level: str):
    row.visibility = level
    return row


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_addressing__public_is_in_to(name):
    """Public: ``Public`` in ``to`` and not in ``cc``."""
    doc = BUILDERS[name](world(), "public")
    assert doc["to"] == [PUBLIC] and PUBLIC not in doc["cc"]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_addressing__unlisted_has_public_in_cc_only(name):
    """Unlisted: ``Public`` in ``cc`` only (readable by link, on no public timeline)."""
    doc = BUILDERS[name](world(), "unlisted")
    assert PUBLIC not in doc["to"] and doc["cc"] == [PUBLIC] and doc["to"]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_addressing__followers_never_has_public(name):
    """Followers: addressed to followers collections only, never to ``Public``, in any spelling."""
    doc = BUILDERS[name](world(), "followers")
    addressed = doc["to"] + doc["cc"]
    assert not {PUBLIC, "as:Public", "Public"} & set(addressed)
    assert addressed and all(a.endswith("/followers") or a == doc.get("audience")
                             or a == doc.get("actor") for a in addressed)


@pytest.mark.parametrize("name", IN_DISCUSSION)
def test_addressing__followers_leaves_out_the_authors_own_followers(name):
    """A followers thing in a discussion goes to the group's (and organisation's) followers, not to
    its author's: those are not the followers the level means."""
    w = world()
    followers = BUILDERS[name](w, "followers")
    public = BUILDERS[name](w, "public")
    author_followers = f"{public['attributedTo']}/followers"
    assert author_followers in public["cc"]
    assert author_followers not in followers["to"] + followers["cc"]
    assert w.group.followers_url in followers["to"]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_addressing__members_raises(name):
    """Members never leaves the node: building its document is refused."""
    with pytest.raises(NotFederated):
        BUILDERS[name](world(), "members")


@pytest.mark.parametrize("level", ["", "Public", "privé", None])
def test_addressing__unknown_level_raises(level):
    """A level that is not one of the four is never addressed (a typo never opens a thing up)."""
    with pytest.raises(NotFederated):
        addressing(level, followers=["F"])


def test_addressing__create_copies_its_objects_addressing():
    """A Create of a followers contribution carries its object's addressing: no ``Public``."""
    w = world()
    note = BUILDERS["contribution"](w, "followers")
    create = wrappers.create(URIS.activity("c2"), w.alice.ap_id, note)
    assert (create["to"], create["cc"]) == (note["to"], note["cc"])
    assert PUBLIC not in create["to"] + create["cc"]


def test_addressing__group_announce_follows_the_level_not_the_inner_activity():
    """A public Create announced in a followers discussion is announced to followers only."""
    w = world()
    announce = group_announce(URIS.activity("a3"), w.group.ap_id, _create(w), w.group.followers_url,
                              level="followers")
    assert (announce["to"], announce["cc"]) == ([w.group.followers_url], [])


@pytest.mark.parametrize(("level", "manual"), [("public", False), ("unlisted", False),
                                               ("followers", True)])
def test_discussion_group_to_as__followers_discussion_approves_followers_by_hand(level, manual):
    """The Group of a followers discussion says manuallyApprovesFollowers: following it is what
    lets a remote actor read it, so a moderator approves each Follow."""
    w = world()
    doc = discussion_group_to_as(w.discussion, w.group, w.org, w.moderators, title="T", summary="",
                                 level=level)
    assert doc["manuallyApprovesFollowers"] is manual


async def _article_in(sessions, uris, *, discussion: str = "public", space: str | None = None) -> dict:
    async with transaction(sessions) as s:
        org = await actors.create_organization(s, uris, "lyon", "Ville de Lyon")
        amel = (await actors.create_user(s, uris, "amel", "password-123", "Amel")).actor
        where = await spaces.create_space(s, org, "budget", "Budget", visibility=space) if space else None
        d = await discussions.open_discussion(s, uris, org, "parc", "Le parc", body="Texte",
                                              visibility=discussion, space=where)
        article = await community.add_article(s, uris, d, amel, "Un article", body_html="<p>Texte</p>")
        article_id = article.id
    async with sessions() as s:
        return await documents.article_as(s, await s.get(Article, article_id))


async def test_article_as__unlisted_discussion_has_no_public_in_to(sessions, uris):
    """The leak of issue 8: an article in an unlisted discussion was sent with ``Public`` in ``to``
    (on public timelines); it is now unlisted: ``Public`` in ``cc`` only."""
    doc = await _article_in(sessions, uris, discussion="unlisted")
    assert PUBLIC not in doc["to"] and doc["cc"] == [PUBLIC]


async def test_article_as__inherits_the_stricter_level_of_its_space(sessions, uris):
    """A public discussion in a followers space: the article is a followers one (no Public)."""
    doc = await _article_in(sessions, uris, discussion="public", space="followers")
    assert PUBLIC not in doc["to"] + doc["cc"] and doc["cc"] == []
    assert f"{uris.actor('lyon')}/followers" in doc["to"]


async def test_article_as__members_discussion_has_no_document(sessions, uris):
    """A members discussion never leaves the node: its article has no AS2 document to send."""
    assert await _article_in(sessions, uris, discussion="members") is None


async def test_discussion_page_as__text_written_only_in_english_is_sent_as_english(sessions, uris):
    """A discussion written only in the English fields (the organisation's default is French) is
    sent with contentMap/nameMap/summaryMap {"en": …}, never {"fr": …}."""
    async with transaction(sessions) as s:
        org = await actors.create_organization(s, uris, "lyon", "Ville de Lyon")
        d = await discussions.open_discussion(
            s, uris, org, "park", {"en": "The park"}, summary={"en": "What for?"},
            body={"en": "The city renovates the park."})
        discussion_id = d.id
    async with sessions() as s:
        page = await documents.discussion_page_as(s, await s.get(Discussion, discussion_id))
    assert page["contentMap"] == {"en": "<p>The city renovates the park.</p>"}
    assert page["nameMap"] == {"en": "The park"} and page["summaryMap"] == {"en": "What for?"}
    assert page["content"] == page["contentMap"]["en"] and page["name"] == "The park"


async def test_discussion_page_as__every_written_language_is_sent(sessions, uris):
    """Written in French and German: both are in contentMap, each with its own text."""
    async with transaction(sessions) as s:
        org = await actors.create_organization(s, uris, "lyon", "Ville de Lyon")
        d = await discussions.open_discussion(s, uris, org, "park", {"fr": "Le parc", "de": "Der Park"},
                                              body={"fr": "Texte", "de": "Text"})
        discussion_id = d.id
    async with sessions() as s:
        page = await documents.discussion_page_as(s, await s.get(Discussion, discussion_id))
    assert page["contentMap"] == {"fr": "<p>Texte</p>", "de": "<p>Text</p>"}
    assert page["content"] == "<p>Texte</p>" and page["nameMap"]["de"] == "Der Park"


def test_proposal_to_as__is_sent_in_the_language_it_was_written_in():
    """A proposal written in English (its ``language``) is sent as English: contentMap and
    nameMap {"en": …}, whatever the organisation's default."""
    w = world()
    w.proposal.language = "en"
    doc = proposal_to_as(w.proposal, w.alice, w.org, level="public")
    assert doc["contentMap"] == {"en": w.proposal.body} and list(doc["nameMap"]) == ["en"]
