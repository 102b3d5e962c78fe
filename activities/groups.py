"""FEP-1b12 groups: the group's Announces, and the plain summaries of what is published in a discussion."""

from __future__ import annotations

import re

from activities.addressing import addressing
from activities.html import plain_text
from activities.wrappers import announce, strip_context

SUMMARY_LENGTH = 280
# Block ends become spaces before tags are stripped, so "<p>a</p><p>b</p>" reads "a b".
_BLOCK_END = re.compile(r"<(?:br|hr|/p|/li|/h[1-6]|/blockquote|/pre|/div)\b[^>]*>", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def plain_summary(text: str | None, limit: int = SUMMARY_LENGTH) -> str:
    """A short plain-text summary of HTML or text, cut at a word with an ellipsis.

    Mastodon shows a Page or Article as name + summary + url and ignores its content
    (app/lib/activitypub/parser/status_parser.rb), so every one we publish has this.
    """
    flat = _SPACES.sub(" ", plain_text(_BLOCK_END.sub(" ", text or ""), limit * 8)).strip()
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.") + "…"


def group_announce(ap_id: str, group_actor_id: str, activity: dict, followers_url: str, *,
                   level: str) -> dict:
    """FEP-1b12: the group re-sends a participant's activity, unchanged, to its followers.

    For group-aware servers (Lemmy, Mbin, PieFed, Friendica) — ``Announce{Create{Note}}``,
    ``Announce{Like}``, ``Announce{Delete}`` … as Lemmy's announce_create_page.json shows.
    Addressed by the discussion's ``level`` (activities/addressing.py), whatever the inner
    activity says: a remote reply addressed to ``Public`` in an unlisted discussion is announced
    unlisted.
    """
    to, cc = addressing(level, followers=[followers_url])
    return announce(ap_id, group_actor_id, strip_context(activity), to, cc)


def group_announce_id(ap_id: str, group_actor_id: str, object_id: str, followers_url: str, *,
                      level: str) -> dict:
    """``Announce{<object id>}`` for microblog followers: Mastodon does not implement FEP-1b12,
    fetches an announced Note by its URI, and drops Announce(Like/Delete/Update)
    (app/lib/activitypub/activity/announce.rb). Only Create is worth sending this way."""
    to, cc = addressing(level, followers=[followers_url])
    return announce(ap_id, group_actor_id, object_id, to, cc)
