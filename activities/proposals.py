"""Proposals out: a Page with its status and supports, and the organisation's official answer."""

from __future__ import annotations

from activities.addressing import addressing
from activities.groups import plain_summary
from activities.html import plain_text
from activities.notes import iso
from activities.vocabulary import CONTEXT
from node.models import Actor, Proposal


def _thread(proposal: Proposal, group_id: str | None) -> str:
    """FEP-7888 context: the discussion the proposal belongs to, else the proposal itself."""
    return group_id or proposal.ap_id


def proposal_to_as(
    proposal: Proposal,
    author_actor: Actor,
    organization_actor: Actor,
    *,
    level: str,
    group_id: str | None = None,
    group_followers: str | None = None,
    support_threshold: int | None = None,
) -> dict:
    """A proposal as a Page; supports are Likes, counted in ``likes`` and ``civic:supports``.

    Mastodon shows it as name + summary + url (status_parser.rb); Lemmy as a post in the
    discussion's group when ``group_id`` is given (FEP-1b12 ``audience``). ``level`` is its
    space's and discussion's (node/visibility.py level_of); the text is sent in the language it
    was written in (``proposal.language``), never the organisation's default.
    """
    to, cc = addressing(level, group=group_id,
                        followers=[organization_actor.followers_url, group_followers],
                        open_followers=[author_actor.followers_url])
    doc = {
        "@context": CONTEXT,
        "id": proposal.ap_id,
        "type": "Page",
        "attributedTo": author_actor.ap_id,
        "name": plain_text(proposal.title, 300),
        "summary": plain_summary(proposal.body) or plain_text(proposal.title, 280),
        "content": proposal.body,
        "url": proposal.ap_id,  # ids double as the URLs of the HTML pages (node/uris.py)
        "audience": group_id or organization_actor.ap_id,  # FEP-1b12
        "context": _thread(proposal, group_id),  # FEP-7888
        "published": iso(proposal.published_at or proposal.created_at),
        "to": to,
        "cc": cc,
        "likes": {"type": "Collection", "totalItems": proposal.support_count or 0},
        "civic:status": proposal.state,
        "civic:supports": proposal.support_count or 0,
    }
    if support_threshold is not None:
        doc["civic:supportThreshold"] = support_threshold
    if proposal.language:
        doc["contentMap"] = {proposal.language: proposal.body}
        doc["nameMap"] = {proposal.language: doc["name"]}
    if proposal.updated_at:
        doc["updated"] = iso(proposal.updated_at)
    return doc


def official_answer_to_as(
    proposal: Proposal,
    organization_actor: Actor,
    *,
    answer_id: str,
    level: str,
    group_id: str | None = None,
    group_followers: str | None = None,
) -> dict:
    """The organisation's published answer: a Note replying to the proposal, marked official.

    A Note so that Mastodon shows it in full under the proposal; ``proposal.answer`` is HTML.
    ``level`` is the proposal's.
    """
    to, cc = addressing(level, group=group_id,
                        followers=[organization_actor.followers_url, group_followers])
    answered = proposal.answer_published_at or proposal.updated_at or proposal.created_at
    return {
        "@context": CONTEXT,
        "id": answer_id,
        "type": "Note",
        "attributedTo": organization_actor.ap_id,
        "content": proposal.answer or "",
        "url": proposal.ap_id,  # the answer is shown on the proposal's page
        "inReplyTo": proposal.ap_id,
        "audience": group_id or organization_actor.ap_id,  # FEP-1b12
        "context": _thread(proposal, group_id),  # FEP-7888: the proposal's thread
        "published": iso(answered),
        "to": to,
        "cc": cc,
        "civic:officialAnswer": True,
        "civic:status": proposal.state,
    }
