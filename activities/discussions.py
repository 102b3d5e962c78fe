"""Discussions out: the followable Group actor (FEP-1b12) and the opening Page."""

from __future__ import annotations

from collections.abc import Sequence

from activities.actors import actor_to_as
from activities.addressing import addressing
from activities.groups import plain_summary
from activities.html import plain_text, text_to_html
from activities.notes import iso
from activities.vocabulary import CONTEXT
from node import visibility
from node.models import Actor, Discussion


def _first_text(texts: dict | None, language: str) -> str:
    """The text of a {language: text} map in ``language``, else in any language given."""
    if not texts:
        return ""
    return texts.get(language) or next(iter(texts.values()), "")


def discussion_group_to_as(
    discussion: Discussion,
    group_actor: Actor,
    organization_actor: Actor,
    moderators_url: str,
    *,
    title: str,
    summary: str,
    level: str | None = None,
) -> dict:
    """The Group actor of a discussion: followable on its own (FEP-1b12, final).

    Lemmy's group document (lemmy/objects/group.json) is the shape group-aware servers read:
    moderators as a collection in ``attributedTo``, ``postingRestrictedToMods``. ``level`` is the
    discussion's with its space's (node/visibility.py level_of), the discussion's own by default.
    """
    level = level or visibility.level_of(discussion)
    doc = actor_to_as(group_actor)
    doc.update(
        {
            "name": plain_text(title, 255),
            # Actor summaries are HTML for Mastodon (process_account_service.rb).
            "summary": text_to_html(plain_text(summary, 2000)),
            "url": group_actor.url or discussion.page_ap_id,
            "attributedTo": moderators_url,  # FEP-1b12: the moderators collection
            "postingRestrictedToMods": bool(discussion.official_only),
            # Discussions anyone may read auto-accept; a followers (or members) one waits for a
            # moderator: following it is what lets a remote actor read it (SECURITY.md rule 24).
            "manuallyApprovesFollowers": not visibility.admits(level, visibility.NOBODY),
            "civic:organization": organization_actor.ap_id,
            "civic:discussionKind": discussion.kind,
            "civic:status": discussion.status,
        }
    )
    return doc


def discussion_page_to_as(
    discussion: Discussion,
    group_actor: Actor,
    organization_actor: Actor,
    *,
    title: str,
    summary: str,
    content: str,
    language: str | None,
    conclusion: str | None = None,
    author_actor: Actor | None = None,
    level: str | None = None,
    followers: Sequence[str] = (),
    name_map: dict[str, str] | None = None,
    summary_map: dict[str, str] | None = None,
    content_map: dict[str, str] | None = None,
) -> dict:
    """The opening Page of a discussion, in the group and attributed to who wrote it: the
    organisation, or for a citizen discussion the resident who started it (``author_actor``),
    never the organisation in their place (SECURITY.md rule 23).

    ``content`` and ``conclusion`` are HTML; when ``conclusion`` is not given the stored
    conclusion (plain text, in ``language`` or any) is used once the discussion is closed.

    ``level`` is the discussion's with its space's (default: its own); ``followers`` the
    organisation's followers collection, addressed with the group's (activities/addressing.py).
    ``name_map``/``summary_map``/``content_map`` are the texts in every language they were written
    in; without them ``content`` is sent as written in ``language``.
    """
    group_id = group_actor.ap_id
    sender = author_actor or organization_actor
    to, cc = addressing(level or visibility.level_of(discussion), group=group_id,
                        followers=[group_actor.followers_url, *followers],
                        open_followers=[sender.followers_url] if author_actor else [])
    doc = {
        "@context": CONTEXT,
        "id": discussion.page_ap_id,
        "type": "Page",
        "attributedTo": sender.ap_id,
        "name": plain_text(title, 500),
        # Mastodon shows a Page as name + summary + url (status_parser.rb): plain and short.
        "summary": plain_summary(summary) or plain_summary(content) or plain_text(title, 280),
        "content": content,
        "url": group_actor.url or discussion.page_ap_id,
        "audience": group_id,  # FEP-1b12
        "context": group_id,  # FEP-7888: the discussion is the conversation
        "published": iso(discussion.created_at),
        "to": to,
        "cc": cc,
        "civic:discussionKind": discussion.kind,
        "civic:status": discussion.status,
    }
    if content_map:
        doc["contentMap"] = content_map
    elif language:
        doc["contentMap"] = {language: content}
    if name_map:
        doc["nameMap"] = {lang: plain_text(text, 500) for lang, text in name_map.items()}
    if summary_map:
        doc["summaryMap"] = {lang: plain_summary(text) for lang, text in summary_map.items()}
    if discussion.status == "closed":
        text = conclusion
        if text is None:
            text = text_to_html(_first_text(discussion.conclusion, language or ""))
        doc["civic:conclusion"] = text
        if discussion.closed_at:
            doc["updated"] = iso(discussion.closed_at)
    return doc
