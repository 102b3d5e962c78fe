"""Polls as AS2 ``Question``s: ours out (``poll_to_as``, a local person's vote ``vote_to_as``), and
in, remote polls (``as_to_question``) and the votes sent to ours (``as_to_vote``).

The shapes are Mastodon's (app/serializers/activitypub/note_serializer.rb for the Question,
vote_serializer.rb for the vote), which every server that shows polls reads: FEDERATION.md
"Questionnaires, polls and budgets". Inbound documents are validated here into dataclasses;
anything unusable is one ``InvalidDocument`` with its reason (SECURITY.md rules 14, 30).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from activities.addressing import addressing
from activities.bounds import MAX_INT
from activities.contributions import is_poll_vote
from activities.errors import InvalidDocument
from activities.html import plain_text, sanitize_html
from activities.normalize import (
    as_list,
    first_type,
    host_of,
    id_of,
    ids_of,
    parse_time,
    require_id,
    text_of,
)
from activities.notes import iso
from activities.vocabulary import CONTEXT, is_public
from node.models import Actor, Poll, PollOption

MAX_OPTIONS = 100  # the funfedi suite's largest poll; Mastodon allows 4 by default
MAX_NAME = 500  # PollOption.name
MAX_CONTENT = 20_000  # the question asked (HTML), once sanitised
# Mastodon's term, as written compact, and as a document compacted into our context spells it.
VOTERS_COUNT = ("votersCount", "toot:votersCount", "http://joinmastodon.org/ns#votersCount")
# Our context with Mastodon's term for the number of voters: a JSON-LD reader (Fedify, bovine)
# drops a term its context does not define. Kept here, not in CONTEXT, so that the documents
# without polls stay as they were.
POLL_CONTEXT: list = [*CONTEXT[:-1], {**CONTEXT[-1], "votersCount": "toot:votersCount"}]


@dataclass(frozen=True)
class QuestionData:
    """A remote poll, validated: the question (sanitised HTML), its options with their counts
    (``None`` when the author hides them until the poll closes), and where it is addressed."""

    ap_id: str
    author: str
    content: str
    options: tuple[tuple[str, int | None], ...]
    multiple: bool
    end_time: datetime | None
    closed_at: datetime | None
    voters_count: int | None
    published: datetime | None
    updated: datetime | None
    url: str | None
    language: str | None
    public: bool
    # Every id it names as a recipient or a place: to, cc, audience, context (a discussion's
    # Group of ours among them makes it a poll of that discussion).
    addressed: tuple[str, ...]


@dataclass(frozen=True)
class VoteData:
    """A vote in Mastodon's form: the option's ``name`` chosen by ``author`` in the poll ``poll``."""

    ap_id: str
    author: str
    poll: str
    name: str


def _count(value: object) -> int | None:
    """A non-negative integer count (``totalItems``, ``votersCount``), else None. A JSON-LD
    processor may give it as a typed value (``{"@value": 3, "@type": "xsd:nonNegativeInteger"}``)
    or a string of digits."""
    if isinstance(value, dict):
        value = value.get("@value")
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if type(value) is int and 0 <= value <= MAX_INT:
        return value
    return None


def _option(item: object) -> tuple[str, int | None] | None:
    """One option (a Note with a ``name``): its name and, when the author shows it, its count."""
    if not isinstance(item, dict):
        return None
    name = plain_text(text_of(item, "name"), MAX_NAME).strip()
    if not name:
        return None
    replies = item.get("replies")
    count = _count(replies.get("totalItems")) if isinstance(replies, dict) else None
    return name, count


def _options(doc: dict) -> tuple[tuple[tuple[str, int | None], ...], bool]:
    """(options, multiple): ``anyOf`` (several choices) or ``oneOf`` (one). The same name twice
    is one option (a vote names its option by name); more than MAX_OPTIONS is refused rather
    than cut, since a shortened poll would misstate what was asked."""
    multiple = "anyOf" in doc and doc.get("anyOf") not in (None, [])
    raw = doc.get("anyOf") if multiple else doc.get("oneOf")
    items = raw if isinstance(raw, list) else ([] if raw is None else [raw])
    if len(items) > MAX_OPTIONS:
        raise InvalidDocument(f"a poll has at most {MAX_OPTIONS} options")
    found: dict[str, int | None] = {}
    for item in items:
        option = _option(item)
        if option is not None and option[0] not in found:
            found[option[0]] = option[1]
    if not found:
        raise InvalidDocument("a poll needs at least one named option ('oneOf' or 'anyOf')")
    return tuple(found.items()), multiple


def _closed(value: object, end_time: datetime | None, updated: datetime | None) -> datetime | None:
    """``closed``: a date (Mastodon, Pleroma) or ``true`` (some servers); then it closed at its
    end, else when it was last updated."""
    if value is True:
        return end_time or updated or datetime.now(UTC)
    return parse_time(value)


def _language(doc: dict) -> str | None:
    mapped = doc.get("contentMap")
    if isinstance(mapped, dict) and len(mapped) == 1:
        tag = next(iter(mapped))
        if isinstance(tag, str) and 0 < len(tag) <= 8 and tag.replace("-", "").isalnum():
            return tag
    return None


def as_to_question(doc: object, *, actor: str | None = None) -> QuestionData:
    """A remote ``Question``, validated. ``actor``: the activity's signer, the author when the
    Question names none (Mastodon reads the author from the activity the same way)."""
    if not isinstance(doc, dict):
        raise InvalidDocument("the poll must be embedded as a JSON object")
    if first_type(doc) != "Question":
        raise InvalidDocument("a poll is a 'Question'")
    ap_id = require_id(doc)
    author = id_of(doc.get("attributedTo")) or actor
    if not author:
        raise InvalidDocument("'attributedTo' is missing")
    if host_of(author) != host_of(ap_id):
        raise InvalidDocument("the poll's id is not on its author's host")  # SECURITY.md rule 1
    options, multiple = _options(doc)
    end_time = parse_time(doc.get("endTime"))
    updated = parse_time(doc.get("updated"))
    to, cc = ids_of(doc.get("to")), ids_of(doc.get("cc"))
    addressed = to + cc + ids_of(doc.get("audience")) + ids_of(doc.get("context"))
    url = id_of(as_list(doc.get("url"))[:1] or None)
    return QuestionData(
        ap_id=ap_id,
        author=author,
        content=sanitize_html(text_of(doc, "content") or "", MAX_CONTENT),
        options=options,
        multiple=multiple,
        end_time=end_time,
        closed_at=_closed(doc.get("closed"), end_time, updated),
        voters_count=_count(next((doc[k] for k in VOTERS_COUNT if k in doc), None)),
        published=parse_time(doc.get("published")),
        updated=updated,
        url=url if url and url.startswith(("https://", "http://")) else None,
        language=_language(doc),
        public=is_public(to + cc),
        addressed=tuple(dict.fromkeys(addressed)),
    )


def as_to_vote(doc: object) -> VoteData:
    """A vote sent to one of our polls: a Note with ``name`` and ``inReplyTo``, no ``content``
    (activities.contributions.is_poll_vote; a reply with content is a reply, never a vote)."""
    if not is_poll_vote(doc):
        raise InvalidDocument("a vote is a Note with a 'name', an 'inReplyTo' and no 'content'")
    ap_id = require_id(doc)
    author = id_of(doc.get("attributedTo"))
    if not author:
        raise InvalidDocument("'attributedTo' is missing")
    if host_of(author) != host_of(ap_id):
        raise InvalidDocument("the vote's id is not on its author's host")  # SECURITY.md rule 1
    name = (text_of(doc, "name") or "").strip()
    if len(name) > MAX_NAME:
        raise InvalidDocument(f"an option's name has at most {MAX_NAME} characters")
    return VoteData(ap_id=ap_id, author=author, poll=id_of(doc.get("inReplyTo")) or "", name=name)


def poll_to_as(
    poll: Poll,
    author: Actor,
    organization: Actor,
    options: Sequence[PollOption],
    *,
    level: str,
    url: str,
    counts_shown: bool,
    group_id: str | None = None,
    group_followers: str | None = None,
) -> dict:
    """Our poll as Mastodon's ``Question``. ``counts_shown`` is false while the poll hides its
    results (until it closes): the options then carry no ``replies`` at all, so no count leaves
    the node (SECURITY.md rule 30); ``votersCount`` is always given. In a discussion it is
    addressed to the discussion's Group (FEP-1b12 ``audience``, FEP-7888 ``context``)."""
    to, cc = addressing(level, group=group_id,
                        followers=[organization.followers_url, group_followers],
                        open_followers=[author.followers_url] if author.id != organization.id else [])

    def option(row: PollOption) -> dict:
        doc = {"type": "Note", "name": row.name}
        if counts_shown:
            doc["replies"] = {"type": "Collection", "totalItems": row.votes_count or 0}
        return doc

    doc = {
        "@context": POLL_CONTEXT,
        "id": poll.ap_id,
        "type": "Question",
        "attributedTo": author.ap_id,
        "content": poll.content or "",
        "url": url,
        "published": iso(poll.created_at),
        "to": to,
        "cc": cc,
        "anyOf" if poll.multiple else "oneOf": [option(row) for row in options],
        "votersCount": poll.voters_count or 0,
    }
    if poll.end_time is not None:
        doc["endTime"] = iso(poll.end_time)
    if poll.closed_at is not None:
        doc["closed"] = iso(poll.closed_at)
    if poll.updated_at is not None:
        doc["updated"] = iso(poll.updated_at)
    if poll.language:
        doc["contentMap"] = {poll.language: doc["content"]}
    if group_id:
        doc["audience"] = group_id  # FEP-1b12
        doc["context"] = group_id  # FEP-7888
    return doc


def vote_to_as(ap_id: str, voter: str, poll_id: str, poll_author: str, name: str) -> dict:
    """A local person's vote in a remote poll, as Mastodon sends it: a Note naming the option,
    replying to the Question, without content, to the poll's author only."""
    return {"@context": CONTEXT, "id": ap_id, "type": "Note", "attributedTo": voter, "name": name,
            "inReplyTo": poll_id, "context": poll_id, "to": [poll_author], "cc": []}  # FEP-7888


def poll_activity(wrapped: dict) -> dict:
    """A Create or Update of a Question (activities.wrappers), with the poll's context."""
    return {**wrapped, "@context": POLL_CONTEXT}
