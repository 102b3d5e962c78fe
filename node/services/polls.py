"""Polls: made here by an organisation (in itself or in one of its discussions) or on another
server and addressed to a discussion here; the votes of local and fediverse actors, and the tallies.

The rules (SECURITY.md rule 30, FEDERATION.md "Questionnaires, polls and budgets"): ``oneOf`` takes
one option per actor, ``anyOf`` each option at most once per actor (a fediverse ``anyOf`` vote
arrives as one Note per option, so several calls may add options); the database's unique keys
decide every race (``poll_voters`` (poll, actor), ``poll_votes`` (poll, actor, option)); a poll
refuses votes once its ``end_time`` has passed or it was closed; an unknown option is refused.
A local poll's counts move in SQL with each vote and its ``Update{Question}`` is debounced
(``update_due_at``); a remote poll's tallies change only by its own author's updates
(:func:`store_remote`) — local votes in it are kept (to show "you voted") and sent to its author.
With ``hide_results`` the counts are shown nowhere until the poll closes (:func:`results_visible`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from node import visibility
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.models import (
    Actor,
    Coalition,
    Discussion,
    Follow,
    FollowStates,
    Poll,
    PollOption,
    PollVote,
    PollVoter,
    User,
    utcnow,
)
from node.services import discussions, outbox
from node.uris import Uris, new_token

# Outbox events (federation/outbound/polls.py builds them).
POLL_CREATED = "poll.created"  # payload poll_id: Create{Question}
POLL_VOTED = "poll.voted"  # payload poll_id, vote_ids: a local actor's vote Notes to a remote poll's author
POLL_UPDATED = "poll.updated"  # payload poll_id: Update{Question} (emitted by the debounced pass)

MIN_OPTIONS, MAX_OPTIONS = 2, 20  # a poll made here
MAX_REMOTE_OPTIONS = 100  # a remote poll's, as its server sends them
MAX_OPTION = 200  # characters of an option made here (the column holds 500: a remote one's)
MAX_REMOTE_OPTION = 500
MAX_CONTENT = 20_000
MAX_COUNT = 2**31 - 1  # the integer columns' range: a remote tally above it is clipped
DEFAULT_UPDATE_DELAY = 5  # seconds between a vote and the Update{Question} (node/config.py)

CLOSED = "this poll is closed"
ALREADY_VOTED = "you have already voted in this poll"
SAME_OPTION = "you have already chosen this option"
ID_TAKEN = "this vote's id is already recorded"


def _aware(moment: datetime | None) -> datetime | None:
    """A stored time back as an aware UTC datetime (SQLite's columns may come back naive)."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _host(ap_id: str) -> str:
    try:
        return urlsplit(ap_id).netloc.lower()
    except ValueError:  # a broken port or IPv6 address: no host of anyone's
        return ""


def _insert(session: AsyncSession):
    return sqlite_insert if session.bind.dialect.name == "sqlite" else pg_insert


# -- state ------------------------------------------------------------------------------------------

def is_closed(poll: Poll, now: datetime | None = None) -> bool:
    """Closed by its staff (or its server), or past its end time: it takes no vote."""
    now = now or utcnow()
    closed_at, end_time = _aware(poll.closed_at), _aware(poll.end_time)
    return (closed_at is not None and closed_at <= now) or (end_time is not None and end_time <= now)


def results_visible(poll: Poll, now: datetime | None = None) -> bool:
    """Whether the counts may be shown (pages, AS2, JSON): always, unless ``hide_results`` holds
    them back until the poll closes. ``votersCount`` is shown either way."""
    return not poll.hide_results or is_closed(poll, now)


async def level(session: AsyncSession, poll: Poll) -> str:
    """The poll's visibility level: the stricter of the one it was made at and its discussion's
    now (with its space's) — a discussion closed to members later closes its polls too; one
    waiting for moderation (or rejected) is its staff's only, as ``members``."""
    if poll.discussion_id is None:
        return visibility.stricter(poll.visibility)
    discussion = await session.get(Discussion, poll.discussion_id)
    if discussion is None or discussion.moderation != "approved":
        return visibility.MEMBERS
    return visibility.stricter(poll.visibility, await discussions.level(session, discussion))


async def _reader_of(session: AsyncSession, actor: Actor) -> visibility.Reader:
    """The actor as a reader: a local person with their account, a remote actor as such."""
    if actor.local:
        user = await session.scalar(select(User).where(User.actor_id == actor.id))
        return visibility.Reader.of_user(user) if user is not None else visibility.Reader(actor_id=actor.id)
    return visibility.Reader.of_remote(actor.id)


async def may_read(session: AsyncSession, poll: Poll, reader: visibility.Reader) -> bool:
    """May ``reader`` read (and so vote in) ``poll``? A remote poll addressed to no discussion
    here is shown nowhere but may be read where it is linked (its own server decides)."""
    if poll.deleted_at is not None:
        return False
    if poll.organization_id is None:
        return True
    at = await level(session, poll)
    if await visibility.may_read(session, reader, poll.organization_id, at):
        return True
    return (await visibility.standing(session, reader, poll.organization_id)).staff


async def may_create(session: AsyncSession, user: User | None, organization: Actor) -> bool:
    """Who may make a poll for an organisation (or a coalition hosted here): its admins,
    moderators and officials, and node admins."""
    if user is None:
        return False
    return (await visibility.standing(session, visibility.Reader.of_user(user), organization.id)).staff


# -- making a poll ----------------------------------------------------------------------------------

def checked_options(options: Sequence[str], *, maximum: int = MAX_OPTIONS, length: int = MAX_OPTION,
                    minimum: int = MIN_OPTIONS) -> list[str]:
    """Options as given, stripped: texts, ``minimum`` to ``maximum`` of them, each at most
    ``length`` characters, no two the same (a vote names its option)."""
    if isinstance(options, str) or not isinstance(options, Sequence) or \
            not all(isinstance(o, str) for o in options):
        raise InvalidInput("a poll's options are texts")
    names = [" ".join(o.split()) for o in options]
    names = [o for o in names if o]
    if not minimum <= len(names) <= maximum:
        raise InvalidInput(f"a poll has {minimum} to {maximum} options")
    if any(len(o) > length for o in names):
        raise InvalidInput(f"an option has at most {length} characters")
    if any("\x00" in o for o in names):
        raise InvalidInput("an option may not hold a NUL character")
    if len({o.casefold() for o in names}) != len(names):
        raise InvalidInput("two options have the same name")
    return names


async def _organisation_level(session: AsyncSession, organization: Actor) -> str:
    coalition = await session.scalar(select(Coalition).where(Coalition.actor_id == organization.id))
    return coalition.visibility if coalition is not None else visibility.PUBLIC


async def create(session: AsyncSession, uris: Uris, author: Actor, organization: Actor, content_html: str,
                 options: list[str], *, multiple: bool = False, end_time: datetime | None = None,
                 hide_results: bool = False, discussion: Discussion | None = None,
                 language: str | None = None, now: datetime | None = None) -> Poll:
    """A poll of ``organization`` (a local organisation, or a coalition hosted here), asked by
    ``author`` — the organisation itself, or the discussion's Group — in the organisation or in
    one of its ``discussion``s; ``content_html`` is the question as HTML the caller made safe.
    Its level is its discussion's (or the coalition's); it federates unless that is ``members``."""
    now = now or utcnow()
    if not organization.local or organization.type not in ("Organization", "Group"):
        raise InvalidInput("a poll is asked by an organisation of this node")
    if discussion is not None and discussion.organization_id != organization.id:
        raise InvalidInput("this discussion belongs to another organisation")
    allowed = {organization.id} | ({discussion.group_id} if discussion is not None else set())
    if author.id not in allowed:
        raise InvalidInput("a poll is asked by its organisation or its discussion's group")
    if not isinstance(content_html, str) or not content_html.strip() or len(content_html) > 2 * MAX_CONTENT:
        raise InvalidInput(f"a poll needs a question of at most {MAX_CONTENT} characters")
    if "\x00" in content_html:  # PostgreSQL stores no NUL in text
        raise InvalidInput("a question may not hold a NUL character")
    names = checked_options(options)
    end_time = _aware(end_time)
    if end_time is not None and end_time <= now:
        raise InvalidInput("a poll's end time is in the future")
    if language is not None and (not isinstance(language, str) or len(language) > 8 or "\x00" in language):
        raise InvalidInput("a language is a short code")
    if discussion is not None:
        at = visibility.stricter(await _organisation_level(session, organization),
                                 await discussions.level(session, discussion))
    else:
        at = await _organisation_level(session, organization)
    poll = Poll(ap_id=uris.poll(new_token()), local=True, author_id=author.id,
                organization_id=organization.id, discussion_id=discussion.id if discussion else None,
                content=content_html, language=language, multiple=bool(multiple), end_time=end_time,
                hide_results=bool(hide_results), visibility=at, voters_count=0, created_at=now)
    session.add(poll)
    await session.flush()
    session.add_all(PollOption(poll_id=poll.id, position=i, name=name, votes_count=0)
                    for i, name in enumerate(names))
    await session.flush()
    # Not while its discussion waits for moderation (level: members); a poll of a discussion that
    # opens later is not sent then either (the discussion's own Create does not carry it).
    if visibility.federates(await level(session, poll)):
        await outbox.emit(session, POLL_CREATED, poll_id=poll.id)
    return poll


async def close(session: AsyncSession, poll: Poll, now: datetime | None = None) -> None:
    """Close a poll made here (its staff): it takes no more votes, its results show, and one
    ``Update{Question}`` with ``closed`` is due at once."""
    if not poll.local:
        raise Forbidden("a poll is closed by its own server")
    if poll.deleted_at is not None:
        raise NotFound("no such poll")
    now = now or utcnow()
    if _aware(poll.closed_at) is not None:
        return
    if _aware(poll.end_time) is not None and _aware(poll.end_time) <= now:
        poll.closed_at = _aware(poll.end_time)
    else:
        poll.closed_at = now
    poll.update_due_at, poll.updated_at = now, now
    await session.flush()


async def delete_remote(session: AsyncSession, poll: Poll, author: Actor) -> None:
    """A remote poll deleted by its author: shown nowhere any more (its local votes go with it)."""
    if poll.local or poll.author_id != author.id:
        raise Forbidden("a poll is deleted by its own author")
    if poll.deleted_at is None:
        poll.deleted_at = utcnow()
        await session.flush()


# -- reading ----------------------------------------------------------------------------------------

async def by_ap_id(session: AsyncSession, ap_id: str | None) -> Poll | None:
    if not ap_id or not isinstance(ap_id, str) or "\x00" in ap_id:  # PostgreSQL compares no NUL
        return None
    return await session.scalar(select(Poll).where(Poll.ap_id == ap_id))


async def options(session: AsyncSession, poll: Poll) -> list[PollOption]:
    return list(await session.scalars(select(PollOption).where(PollOption.poll_id == poll.id)
                                      .order_by(PollOption.position, PollOption.id)))


async def choices_of(session: AsyncSession, poll: Poll, actor: Actor | None) -> set[int]:
    """The ids of the options ``actor`` chose in ``poll`` (empty when none, or nobody)."""
    if actor is None:
        return set()
    return set(await session.scalars(select(PollVote.option_id).where(
        PollVote.poll_id == poll.id, PollVote.actor_id == actor.id)))


async def of_discussion(session: AsyncSession, discussion: Discussion) -> list[Poll]:
    """The polls of a discussion, made here or addressed to it from elsewhere; newest first."""
    return list(await session.scalars(select(Poll).where(
        Poll.discussion_id == discussion.id, Poll.deleted_at.is_(None))
        .order_by(Poll.created_at.desc(), Poll.id.desc())))


async def of_organisation(session: AsyncSession, organization: Actor, *,
                          levels: Sequence[str] | None = None) -> list[Poll]:
    """The organisation's own polls (not those of its discussions), newest first; with
    ``levels`` (``visibility.listed_levels(who)``) only those listed to the reader."""
    query = select(Poll).where(Poll.organization_id == organization.id, Poll.discussion_id.is_(None),
                               Poll.deleted_at.is_(None))
    if levels is not None:
        query = query.where(visibility.level_in(levels, Poll.visibility))
    return list(await session.scalars(query.order_by(Poll.created_at.desc(), Poll.id.desc())))


async def followed_polls(session: AsyncSession, follower: Actor, *, limit: int = 20) -> list[Poll]:
    """Polls made elsewhere by the actors ``follower`` follows and addressed to no discussion here
    (a followed organisation's Question), newest first: their tallies as their servers last sent."""
    followed = select(Follow.followed_id).where(Follow.follower_id == follower.id,
                                                Follow.state == FollowStates.accepted)
    return list(await session.scalars(select(Poll).where(
        Poll.local.is_(False), Poll.author_id.in_(followed), Poll.discussion_id.is_(None),
        Poll.deleted_at.is_(None)).order_by(Poll.created_at.desc(), Poll.id.desc()).limit(limit)))


# -- voting -----------------------------------------------------------------------------------------

async def vote(session: AsyncSession, uris: Uris, poll: Poll, actor: Actor, choices: list[str], *,
               ap_ids: list[str] | None = None, now: datetime | None = None,
               delay: float = DEFAULT_UPDATE_DELAY) -> list[PollVote]:
    """``actor`` chooses ``choices`` (option names) in ``poll``; ``ap_ids`` are the ids of a remote
    actor's vote Notes, one per choice (a local vote's are ours). Refused — nothing kept once the
    caller's transaction or savepoint rolls back, as the web and the inbox do — with
    ``Conflict`` (closed, a second ``oneOf`` vote, an option chosen twice, an id recorded), or
    ``InvalidInput`` (an unknown option, the wrong number of choices), ``NotFound`` (a poll the
    actor may not read), ``Forbidden`` (a vote for a remote poll from another server).

    A poll made here: its counts move in SQL and its ``Update{Question}`` is due ``delay`` seconds
    after the first unpushed vote. A remote poll: only a local actor may vote; the rows show "you
    voted" here and the Notes go to its author (``POLL_VOTED``); its tallies stay its server's."""
    now = now or utcnow()
    if poll.deleted_at is not None:
        raise NotFound("no such poll")
    if not poll.local and not actor.local:
        raise Forbidden("votes in this poll are counted by its own server")
    if actor.deleted_at is not None:
        raise Forbidden("this account is erased")
    if not await may_read(session, poll, await _reader_of(session, actor)):
        raise NotFound("no such poll")
    if is_closed(poll, now):
        raise Conflict(CLOSED)
    if isinstance(choices, str) or not isinstance(choices, Sequence) or \
            not all(isinstance(c, str) for c in choices) or not choices:
        raise InvalidInput("a vote names the options chosen")
    if len(set(choices)) != len(choices):
        raise InvalidInput("an option is chosen once")
    if not poll.multiple and len(choices) != 1:
        raise InvalidInput("choose one option")
    if ap_ids is not None and (len(ap_ids) != len(choices) or not all(
            isinstance(a, str) and 0 < len(a) <= 2048 and "\x00" not in a for a in ap_ids)):
        raise InvalidInput("one vote id per option chosen")
    by_name = {o.name: o for o in await options(session, poll)}
    unknown = [c for c in choices if c not in by_name]
    if unknown:
        raise InvalidInput(f"this poll has no option {unknown[0][:100]!r}")
    if ap_ids is not None and await session.scalar(select(PollVote.id).where(PollVote.ap_id.in_(ap_ids)).limit(1)):
        raise Conflict(ID_TAKEN)

    insert = _insert(session)
    # The unique keys decide: a second oneOf vote, an option chosen twice, whatever the race.
    new_voter = (await session.execute(insert(PollVoter).values(
        poll_id=poll.id, actor_id=actor.id, created_at=now).on_conflict_do_nothing())).rowcount == 1
    if not new_voter and not poll.multiple:
        raise Conflict(ALREADY_VOTED)
    votes = []
    for i, name in enumerate(choices):
        ap_id = ap_ids[i] if ap_ids is not None else uris.vote(new_token())
        added = (await session.execute(insert(PollVote).values(
            ap_id=ap_id, poll_id=poll.id, option_id=by_name[name].id, actor_id=actor.id,
            created_at=now).on_conflict_do_nothing())).rowcount == 1
        if not added:
            taken = await session.scalar(select(PollVote.id).where(PollVote.ap_id == ap_id))
            raise Conflict(ID_TAKEN if taken is not None and ap_ids is not None else SAME_OPTION)
        votes.append(ap_id)
    rows = list(await session.scalars(select(PollVote).where(PollVote.ap_id.in_(votes))))
    rows.sort(key=lambda row: votes.index(row.ap_id))
    if poll.local:
        # Counted in SQL, not in Python: concurrent votes never overwrite each other.
        await session.execute(update(PollOption).where(PollOption.id.in_([by_name[c].id for c in choices]))
                              .values(votes_count=PollOption.votes_count + 1))
        due = now + timedelta(seconds=max(0.0, delay))
        await session.execute(update(Poll).where(Poll.id == poll.id).values(
            voters_count=Poll.voters_count + (1 if new_voter else 0),
            update_due_at=func.coalesce(Poll.update_due_at, due)))
        await session.refresh(poll, ["voters_count", "update_due_at"])
    else:
        await outbox.emit(session, POLL_VOTED, poll_id=poll.id, vote_ids=[row.id for row in rows])
    return rows


# -- remote polls -----------------------------------------------------------------------------------

async def store_remote(session: AsyncSession, ap_id: str, author: Actor, *, content_html: str,
                       options: list[tuple[str, int]], multiple: bool, end_time: datetime | None,
                       closed_at: datetime | None, voters_count: int | None,
                       discussion: Discussion | None, language: str | None = None,
                       hide_results: bool | None = None) -> Poll:
    """A remote poll as its author's server sent it (content sanitised by the caller): stored,
    or updated when sent again — its tallies replaced, new options added. Only its author (of
    the same host) can change it. ``discussion``: the discussion here it is addressed to (shown
    there, under its level); None: kept (a followed actor's poll) but listed nowhere.
    ``hide_results``: its server sends no counts (options without ``replies``) until it closes."""
    if not isinstance(ap_id, str) or len(ap_id) > 2048 or "\x00" in ap_id:
        raise InvalidInput("a poll's id is a text of at most 2048 characters")
    if author.local or _host(ap_id) != _host(author.ap_id):
        raise Forbidden("a poll is published by its own author")
    if not isinstance(content_html, str) or len(content_html) > 4 * MAX_CONTENT or "\x00" in content_html:
        raise InvalidInput(f"a poll's question has at most {MAX_CONTENT} characters, and no NUL")
    if not isinstance(options, Sequence) or not all(
            isinstance(o, tuple | list) and len(o) == 2 and isinstance(o[1], int) for o in options):
        raise InvalidInput("a poll's options are names with counts")
    pairs = [(" ".join(o[0].split()) if isinstance(o[0], str) else o[0], o[1]) for o in options]
    if any(isinstance(name, str) and not name for name, _count in pairs):
        raise InvalidInput("each option of a poll has a name")
    names = checked_options([name for name, _count in pairs], maximum=MAX_REMOTE_OPTIONS,
                            length=MAX_REMOTE_OPTION, minimum=1)
    counts = {name: min(MAX_COUNT, max(0, count)) for name, count in pairs}
    if language is not None and (not isinstance(language, str) or len(language) > 8 or "\x00" in language):
        language = None
    poll = await by_ap_id(session, ap_id)
    if poll is not None and (poll.local or poll.author_id != author.id):
        raise Forbidden("this poll belongs to another actor")
    if poll is not None and poll.deleted_at is not None:
        raise Conflict("this poll was deleted")
    now = utcnow()
    if poll is None:
        poll = Poll(ap_id=ap_id, local=False, author_id=author.id, created_at=now, voters_count=0,
                    visibility=visibility.PUBLIC)
        session.add(poll)
    if discussion is not None and poll.discussion_id is None:
        poll.discussion_id, poll.organization_id = discussion.id, discussion.organization_id
        poll.visibility = await discussions.level(session, discussion)
    poll.content, poll.language, poll.multiple = content_html, language, bool(multiple)
    poll.end_time, poll.closed_at = _aware(end_time), _aware(closed_at)
    poll.voters_count = min(MAX_COUNT, max(0, voters_count or 0))
    if hide_results is not None:
        poll.hide_results = bool(hide_results)
    poll.updated_at = now
    await session.flush()
    known = {o.name: o for o in await _options_of(session, poll.id)}
    for position, name in enumerate(names):
        option = known.get(name)
        if option is None:
            session.add(PollOption(poll_id=poll.id, position=position, name=name, votes_count=counts[name]))
        else:
            option.position, option.votes_count = position, counts[name]
    await session.flush()
    return poll


async def _options_of(session: AsyncSession, poll_id: int) -> list[PollOption]:
    return list(await session.scalars(select(PollOption).where(PollOption.poll_id == poll_id)))


# -- the debounced Update{Question} ----------------------------------------------------------------

async def due_updates(session: AsyncSession, now: datetime | None = None, limit: int = 100) -> list[Poll]:
    """Polls made here whose ``Update{Question}`` is due: tallies changed ``delay`` seconds ago,
    or closed. A poll whose end time has passed is closed here first (``closed_at`` = its end
    time) and so is due once."""
    now = now or utcnow()
    await session.execute(update(Poll).where(
        Poll.local.is_(True), Poll.closed_at.is_(None), Poll.end_time.is_not(None), Poll.end_time <= now,
        Poll.deleted_at.is_(None)).values(closed_at=Poll.end_time, update_due_at=now, updated_at=now)
        .execution_options(synchronize_session=False))
    query = select(Poll).where(
        Poll.local.is_(True), Poll.update_due_at.is_not(None), Poll.update_due_at <= now,
        Poll.deleted_at.is_(None)).order_by(Poll.update_due_at, Poll.id).limit(limit)
    if session.bind.dialect.name == "postgresql":
        # Several processes may run the pass (civic serve --processes, civic worker): each takes
        # the rows no other holds, so one Update{Question} is queued per poll and change.
        query = query.with_for_update(skip_locked=True, of=Poll)
    return list(await session.scalars(query.execution_options(populate_existing=True)))


async def pushed(session: AsyncSession, poll: Poll, now: datetime | None = None) -> None:
    """The poll's ``Update{Question}`` is queued: nothing is due until the next vote (a vote that
    set a later time after ``now`` keeps it)."""
    now = now or utcnow()
    await session.execute(update(Poll).where(Poll.id == poll.id, Poll.update_due_at <= now)
                          .values(update_due_at=None).execution_options(synchronize_session=False))
    await session.refresh(poll, ["update_due_at"])
