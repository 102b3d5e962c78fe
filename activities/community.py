"""Crowdsourced articles, take-action initiatives and stakeholder roles out, in a discussion."""

from __future__ import annotations

from collections.abc import Sequence

from activities.addressing import addressing
from activities.groups import plain_summary
from activities.html import plain_text, text_to_html
from activities.notes import iso
from activities.vocabulary import CONTEXT
from node.models import Actor, Article, Initiative, Stakeholder


def _addressing(level: str, author_actor: Actor, group_id: str, followers: Sequence[str]
                ) -> tuple[list, list]:
    """Addressed to the discussion's group (FEP-1b12), which announces it onwards, at the
    discussion's level: the author's own followers only when anyone may read it."""
    return addressing(level, group=group_id, followers=followers,
                      open_followers=[author_actor.followers_url])


def article_to_as(article: Article, author_actor: Actor, group_id: str, *, level: str,
                  followers: Sequence[str] = ()) -> dict:
    """A crowdsourced article or report: AS2 ``Article``, shown by Mastodon as name + summary +
    url (status_parser.rb), so ``url`` is the linked article when there is one.

    ``level`` is its discussion's (node/visibility.py level_of), ``followers`` the organisation's
    and the group's followers collections (activities/addressing.py)."""
    to, cc = _addressing(level, author_actor, group_id, followers)
    name = plain_text(article.title, 300)
    return {
        "@context": CONTEXT,
        "id": article.ap_id,
        "type": "Article",
        "attributedTo": author_actor.ap_id,
        "name": name,
        "summary": plain_summary(article.summary) or plain_summary(article.body) or name,
        # A link-only report still gets a body: Lemmy and Friendica show content, not url.
        "content": article.body or (text_to_html(article.link) if article.link else ""),
        "url": article.link or article.ap_id,
        "audience": group_id,  # FEP-1b12
        "context": group_id,  # FEP-7888
        "published": iso(article.created_at),
        "to": to,
        "cc": cc,
        "civic:articleKind": article.kind,
    }


def initiative_to_as(initiative: Initiative, author_actor: Actor, group_id: str, *, level: str,
                     followers: Sequence[str] = ()) -> dict:
    """A take-action initiative: a Page; each "I acted" is a ``Join`` of it (``civic:acted``).
    ``level`` and ``followers`` as for :func:`article_to_as`."""
    to, cc = _addressing(level, author_actor, group_id, followers)
    name = plain_text(initiative.title, 300)
    doc = {
        "@context": CONTEXT,
        "id": initiative.ap_id,
        "type": "Page",
        "attributedTo": author_actor.ap_id,
        "name": name,
        "summary": plain_summary(initiative.body) or name,
        "content": initiative.body,
        "url": initiative.ap_id,
        "audience": group_id,  # FEP-1b12
        "context": group_id,  # FEP-7888
        "published": iso(initiative.created_at),
        "to": to,
        "cc": cc,
        "civic:acted": initiative.acted_count or 0,
    }
    if initiative.link:
        # Where to act (a petition, a sign-up form); Lemmy reads a Link attachment as the link.
        doc["attachment"] = [{"type": "Link", "href": initiative.link, "mediaType": "text/html"}]
    return doc


def stakeholder_to_as(
    stakeholder: Stakeholder, actor: Actor, discussion_group_id: str, *, support_received: int = 0
) -> dict:
    """One item of a discussion's key-stakeholders collection: who, in which role.

    An embedded object (no ``@context`` or ``id``): it only exists inside that collection.
    """
    doc = {
        "type": "civic:Stakeholder",
        "actor": actor.ap_id,
        "context": discussion_group_id,
        "civic:role": stakeholder.role,
        "civic:supportReceived": support_received,
    }
    if stakeholder.description:
        doc["summary"] = plain_text(stakeholder.description, 300)
    if stakeholder.created_at:
        doc["published"] = iso(stakeholder.created_at)
    return doc
