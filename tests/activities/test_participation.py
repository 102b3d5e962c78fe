"""Participation converters: the variants the golden documents do not show."""

from __future__ import annotations

import pytest

from activities import wrappers
from activities.community import article_to_as, stakeholder_to_as
from activities.contributions import as_to_contribution, contribution_to_as
from activities.discussions import discussion_group_to_as, discussion_page_to_as
from activities.groups import group_announce, group_announce_id, plain_summary
from activities.proposals import official_answer_to_as, proposal_to_as
from node.errors import InvalidInput
from node.models import ProposalStates
from tests.activities.samples import URIS, world


def page(w, discussion=None, group=None, **kw) -> dict:
    args = {"title": "Titre", "summary": "", "content": "<p>Texte</p>", "language": None}
    args.update(kw)
    return discussion_page_to_as(discussion or w.discussion, group or w.group, w.org, **args)


def test_plain_summary__strips_markup_and_keeps_paragraphs_apart():
    """Block ends become spaces; tags, scripts and entities never reach the summary."""
    html = "<p>Un <b>parc</b> &amp; des bancs</p><p>Deux</p><script>x()</script><br>Trois"
    assert plain_summary(html) == "Un parc & des bancs Deux Trois"


def test_plain_summary__cuts_long_text_at_a_word_with_an_ellipsis():
    """At most 280 characters, cut between words (Mastodon shows the whole summary)."""
    text = " ".join(["participation"] * 60)
    summary = plain_summary(text)
    assert len(summary) <= 280 and summary.endswith("participation…")
    assert plain_summary("") == "" and plain_summary(None) == ""


def test_contribution_to_as__members_only_never_leaves_the_node():
    """A members-only discussion has no AS2 addressing: converting it is refused."""
    w = world()
    w.discussion.visibility = "members"
    with pytest.raises(InvalidInput):
        contribution_to_as(w.contribution, w.alice, w.discussion, w.group, in_reply_to="x")


def test_discussion_group_to_as__official_only_and_gated_discussions():
    """postingRestrictedToMods for official-only; followers-only groups approve followers."""
    w = world()
    w.discussion.official_only, w.discussion.visibility = True, "followers"
    doc = discussion_group_to_as(w.discussion, w.group, w.org, w.moderators, title="T", summary="")
    assert doc["postingRestrictedToMods"] is True
    assert doc["manuallyApprovesFollowers"] is True
    assert doc["attributedTo"] == f"{w.group.ap_id}/moderators"
    assert doc["summary"] == "" and doc["type"] == "Group"
    assert doc["publicKey"]["owner"] == w.group.ap_id


def test_discussion_group_to_as__names_are_plain_text():
    """A title with markup becomes plain text in the actor's name (Mastodon escapes nothing)."""
    w = world()
    doc = discussion_group_to_as(
        w.discussion, w.group, w.org, w.moderators, title="<b>Parc</b>", summary="<i>x</i> & y"
    )
    assert doc["name"] == "Parc"
    assert doc["summary"] == "<p>x &amp; y</p>"


def test_discussion_page_to_as__summary_falls_back_to_content_then_title():
    """Mastodon shows only name + summary + url of a Page: the summary is never empty."""
    w = world()
    assert page(w, summary="", content="<p>Le <em>contenu</em></p>")["summary"] == "Le contenu"
    assert page(w, summary="", content="")["summary"] == "Titre"
    assert "contentMap" not in page(w)
    assert page(w, language="de")["contentMap"] == {"de": "<p>Texte</p>"}


def test_discussion_page_to_as__closed_discussion_carries_its_conclusion():
    """Closed: civic:status closed, civic:conclusion (given, or the stored one), updated."""
    w = world()
    stored = page(w, w.closed, w.closed_group, language="en")
    assert stored["civic:status"] == "closed"
    assert stored["civic:conclusion"].startswith("<p>La piste sera construite")
    assert stored["updated"] == "2026-03-20T17:00:00Z"
    given = page(w, w.closed, w.closed_group, conclusion="<p>Done.</p>")
    assert given["civic:conclusion"] == "<p>Done.</p>"
    assert "civic:conclusion" not in page(w)


def test_contribution_to_as__alignment_only_when_set():
    """civic:alignment appears only for contributions that took a side."""
    w = world()
    doc = contribution_to_as(w.reply, w.org, w.discussion, w.group, in_reply_to="x")
    assert "civic:alignment" not in doc and doc["civic:official"] is True
    w.reply.alignment = "against"
    doc = contribution_to_as(w.reply, w.org, w.discussion, w.group, in_reply_to="x")
    assert doc["civic:alignment"] == "against"


def test_contribution_to_as__round_trips_through_as_to_contribution():
    """What we publish, a peer reads back with the same thread, group and text."""
    w = world()
    page_id = w.discussion.page_ap_id
    doc = contribution_to_as(w.contribution, w.alice, w.discussion, w.group, in_reply_to=page_id)
    data = as_to_contribution(doc)
    assert (data.ap_id, data.author, data.in_reply_to) == (
        w.contribution.ap_id,
        w.alice.ap_id,
        page_id,
    )
    assert (data.context, data.audience, data.public) == (w.group.ap_id, w.group.ap_id, True)
    assert data.content == w.contribution.content


def test_proposal_to_as__without_a_discussion_lives_with_the_organisation():
    """No group: audience is the organisation, context the proposal itself (FEP-7888)."""
    w = world()
    doc = proposal_to_as(w.accepted, w.marc, w.org, level="public")
    assert doc["audience"] == w.org.ap_id and doc["context"] == w.accepted.ap_id
    assert "civic:supportThreshold" not in doc
    assert doc["civic:supports"] == doc["likes"]["totalItems"] == 57


@pytest.mark.parametrize("state", ProposalStates.PUBLIC)
def test_proposal_to_as__publishes_every_public_state(state):
    """civic:status is the ProposalStates value, whichever public state the proposal is in."""
    w = world()
    w.proposal.state = state
    assert proposal_to_as(w.proposal, w.alice, w.org, level="public")["civic:status"] == state


def test_official_answer_to_as__replies_in_the_proposal_thread():
    """The answer is a Note by the organisation, in reply to and in the thread of the proposal."""
    w = world()
    w.accepted.state = ProposalStates.rejected
    doc = official_answer_to_as(w.accepted, w.org, answer_id="A", level="public", group_id=w.group.ap_id)
    assert (doc["inReplyTo"], doc["context"], doc["audience"]) == (
        w.accepted.ap_id,
        w.group.ap_id,
        w.group.ap_id,
    )
    assert doc["civic:officialAnswer"] is True and doc["civic:status"] == "rejected"


def test_article_to_as__text_article_links_to_its_own_page():
    """Without an external link the url is the article's own page."""
    w = world()
    doc = article_to_as(w.article, w.alice, w.group.ap_id, level="public")
    assert doc["url"] == w.article.ap_id
    assert doc["summary"] == "Une synthèse des trois réunions publiques de février."


def test_stakeholder_to_as__is_an_embedded_item_without_context():
    """Stakeholder items live inside the key-stakeholders collection: no @context, no id."""
    w = world()
    w.stakeholder.description = ""
    doc = stakeholder_to_as(w.stakeholder, w.marc, w.group.ap_id)
    assert "@context" not in doc and "id" not in doc and "summary" not in doc
    assert doc["civic:supportReceived"] == 0


def test_group_announce__wraps_the_activity_unchanged():
    """FEP-1b12: the participant's Create is inside the Announce exactly as it was signed."""
    w = world()
    note = contribution_to_as(w.contribution, w.alice, w.discussion, w.group, in_reply_to="p")
    create = wrappers.create(URIS.activity("c1"), w.alice.ap_id, note)
    announce = group_announce(URIS.activity("a1"), w.group.ap_id, create, w.group.followers_url,
                              level="public")
    assert announce["object"] == wrappers.strip_context(create)
    assert announce["actor"] == w.group.ap_id and "@context" in announce


def test_group_announce__followers_discussion_stays_with_followers():
    """In a followers discussion the group announces to its followers only, never to Public,
    whatever the inner activity says (activities/addressing.py)."""
    like = wrappers.like(
        "https://civic.example/activities/l",
        "https://civic.example/actors/m",
        "https://civic.example/contributions/c",
        ["https://civic.example/actors/a"],
    )
    announce = group_announce("https://civic.example/activities/a", "G", like, "G/followers",
                              level="followers")
    assert (announce["to"], announce["cc"]) == (["G/followers"], [])
    quiet = group_announce_id(
        "https://civic.example/activities/b", "G", "O", "G/followers", level="followers"
    )
    assert (quiet["object"], quiet["to"], quiet["cc"]) == ("O", ["G/followers"], [])
