"""Polls on the web: the poll card (on a discussion's page, the organisation's page and the poll's
own page ``/polls/<token>``), voting through a form that works without JavaScript, closing, and the
staff's form to ask a new one (``/orgs/<org>/polls/new``).

Every path asks node/services/polls.py: a poll the reader may not read is the 404 of a missing one
(SECURITY.md rule 24); hidden results show no count anywhere until the poll closes (rule 30); a
refused vote answers 4xx with its reason, never 500."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node import changes, visibility
from node.db import transaction
from node.errors import CivicError, Conflict, InvalidInput, NotFound
from node.models import Actor, Discussion, Poll, PollOption, PollVote, User
from node.services import discussions as discussion_service
from node.services import polls as poll_service
from node.uris import check_slug
from web.cache import depends, share_page, shows, uncacheable
from web.i18n import _, translate
from web.participation.common import (
    audience_of,
    not_found,
    now,
    organisation,
    page,
    paragraphs,
    person,
    require_user,
    row_id,
    runtime,
    standing_in,
    wants_as2,
)
from web.participation.limits import check_lengths, oversize_errors, read_form_keeping
from web.render import add_vary, current_user

QUESTION_LIMIT = 2000
OPTIONS_LIMIT = poll_service.MAX_OPTIONS * (poll_service.MAX_OPTION + 2)
POLL_LIMITS = {"question": QUESTION_LIMIT, "options": OPTIONS_LIMIT}
# The reasons of the service, as people read them (anything else: the generic one).
REASONS = {
    poll_service.CLOSED: _("This poll is closed."),
    poll_service.ALREADY_VOTED: _("You have already voted in this poll."),
    poll_service.SAME_OPTION: _("You have already chosen this option."),
}
CHOOSE = _("Choose one of the poll's options.")
BACKS = ("discussion", "organisation", "poll")


def _token_ok(token: str) -> bool:
    return 0 < len(token) <= 64 and token.isascii() and all(c.isalnum() or c in "-_" for c in token)


# -- the card: what the templates show of a poll -----------------------------------------------------

@dataclass
class Choice:
    option: PollOption
    percent: int  # of the voters (anyOf) or of the votes (oneOf), rounded


@dataclass
class Card:
    """One poll as its card shows it. ``shown``: its counts may be shown (not hidden, or closed)."""

    poll: Poll
    choices: list[Choice]
    shown: bool
    closed: bool
    vote_url: str
    page_url: str | None  # our poll's page; a remote poll's own page is on its server
    anchor: str
    author: Actor | None = None
    can_close: bool = False
    votable: bool = True  # a followed actor's poll shown to the staff: read only, votes on its server


def anchor_of(poll: Poll) -> str:
    """The poll's fragment on the pages that show it."""
    return f"poll-{poll.ap_id.rstrip('/').rsplit('/', 1)[-1]}" if poll.local else f"poll-r{poll.id}"


def vote_url(uris, poll: Poll) -> str:
    """Where its form posts: ``/polls/<token>/vote``, or ``/polls/remote/<id>/vote`` for a poll made
    elsewhere (its id is on another server)."""
    if poll.local:
        return f"{poll.ap_id}/vote"
    return f"{uris.base}/polls/remote/{poll.id}/vote"


async def cards(session: AsyncSession, request: web.Request, polls: list[Poll], *,
                can_close: bool = False, votable: bool = True) -> list[Card]:
    """Cards of ``polls``, their options in one query (the reader's choices are marks:
    :func:`reader_marks`)."""
    if not polls:
        return []
    uris = runtime(request).uris
    moment = now()
    rows = await session.scalars(select(PollOption).where(PollOption.poll_id.in_([p.id for p in polls]))
                                 .order_by(PollOption.poll_id, PollOption.position, PollOption.id))
    by_poll: dict[int, list[PollOption]] = {}
    for option in rows:
        by_poll.setdefault(option.poll_id, []).append(option)
    made = []
    for poll in polls:
        options = by_poll.get(poll.id, [])
        base = (poll.voters_count if poll.multiple else sum(o.votes_count for o in options)) or 0
        shown = poll_service.results_visible(poll, moment)
        made.append(Card(
            poll=poll, shown=shown, closed=poll_service.is_closed(poll, moment),
            choices=[Choice(o, round(100 * o.votes_count / base) if base and shown else 0) for o in options],
            vote_url=vote_url(uris, poll), page_url=poll.ap_id if poll.local else None,
            anchor=anchor_of(poll), author=None if poll.local else poll.author,
            can_close=can_close and poll.local, votable=votable))
    return made


async def reader_marks(session: AsyncSession, me: Actor | None, polls_of) -> dict[str, set]:
    """The reader's marks on a shared page: the polls they voted in and the options they chose
    (``polls_of``: the condition on ``Poll`` of the page's polls). One query."""
    if me is None:
        return {"poll_voted": set(), "poll_choice": set()}
    rows = (await session.execute(select(PollVote.poll_id, PollVote.option_id)
                                  .join(Poll, Poll.id == PollVote.poll_id)
                                  .where(PollVote.actor_id == me.id, polls_of))).all()
    return {"poll_voted": {p for p, _o in rows}, "poll_choice": {o for _p, o in rows}}


async def discussion_polls(session: AsyncSession, request: web.Request, discussion: Discussion,
                           is_staff: bool) -> list[Card]:
    """The polls a discussion page shows: made here in it, or addressed to it from elsewhere. Each
    is at the discussion's level (the page checked it); one made stricter than the discussion (a
    coalition's) shows only to readers it admits and makes the page rendered for each of them."""
    found = await poll_service.of_discussion(session, discussion)
    if not found:
        return []
    at = await discussion_service.level(session, discussion)
    user = await current_user(request)
    stricter = [p for p in found if visibility.stricter(p.visibility, at) != visibility.stricter(at)]
    if stricter:
        uncacheable(request)
        who = await standing_in(session, user, discussion.organization)
        found = [p for p in found if p not in stricter or visibility.admits(p.visibility, who)]
    depends(request, *(changes.poll(p.id) for p in found))
    return await cards(session, request, found, can_close=is_staff)


async def organisation_polls(session: AsyncSession, request: web.Request, org: Actor, user: User | None,
                             listed: tuple[str, ...], is_staff: bool | None = None) -> dict:
    """What the page of an organisation (or of a coalition) shows of its own polls (those listed
    to the reader): their cards, the ``mark`` helper with the reader's choices (those pages are
    rendered for each signed-in visitor), and the staff's link to ask one."""
    if is_staff is None:
        is_staff = await poll_service.may_create(session, user, org)
    found = await poll_service.of_organisation(session, org, levels=listed)
    depends(request, *(changes.poll(p.id) for p in found))
    me = await person(session, user) if user is not None else None
    marks = await reader_marks(session, me, Poll.organization_id == org.id)
    # The staff also see the polls of the actors the organisation follows (another server's
    # organisation, say), with the tallies their servers last sent (FEDERATION.md).
    followed = await poll_service.followed_polls(session, org) if is_staff else []
    depends(request, *(changes.poll(p.id) for p in followed))
    return {"polls": await cards(session, request, found, can_close=is_staff),
            "followed_polls": await cards(session, request, followed, votable=False),
            "mark": share_page(request, False, **marks),
            "new_poll": runtime(request).uris.organization_action(org.username, "polls", "new")
            if is_staff else None}


# -- the poll's page -----------------------------------------------------------------------------------

async def _readable(session: AsyncSession, request: web.Request, poll: Poll | None, user: User | None
                    ) -> tuple[Actor, Discussion | None]:
    """The poll's organisation and discussion when the reader may read it, else the 404 of a
    missing page (a deleted one: 410)."""
    if poll is None or poll.organization_id is None:
        raise not_found(request)
    org = await organisation(session, request, (await session.get(Actor, poll.organization_id)).username)
    discussion = await session.get(Discussion, poll.discussion_id) if poll.discussion_id else None
    reader = visibility.Reader.of_user(user)
    if poll.deleted_at is None and not await poll_service.may_read(session, poll, reader):
        raise not_found(request)
    if discussion is not None and discussion.moderation != "approved" and \
            not (await standing_in(session, user, org)).staff:
        raise not_found(request)
    if poll.deleted_at is not None:
        raise web.HTTPGone(text=translate(request, _("This poll was deleted.")))
    shows(request, await poll_service.level(session, poll))
    depends(request, changes.poll(poll.id), changes.profile(org.id), instead_of=(changes.org(org.id),))
    return org, discussion


async def _local_poll(session: AsyncSession, request: web.Request) -> Poll | None:
    token = request.match_info["token"]
    if not _token_ok(token):
        return None
    poll = await poll_service.by_ap_id(session, runtime(request).uris.poll(token))
    return poll if poll is not None and poll.local else None


async def _remote_poll(session: AsyncSession, request: web.Request) -> Poll | None:
    poll_id = row_id(request.match_info["id"])
    poll = await session.get(Poll, poll_id) if poll_id else None
    return poll if poll is not None and not poll.local else None


async def _poll_context(session: AsyncSession, request: web.Request, poll: Poll, org: Actor,
                        discussion: Discussion | None, user: User | None) -> dict:
    is_staff = await poll_service.may_create(session, user, org)
    me = await person(session, user) if user is not None else None
    marks = await reader_marks(session, me, Poll.id == poll.id)
    return {"org": org, "discussion": discussion, "card": (await cards(session, request, [poll],
                                                                       can_close=is_staff))[0],
            "mark": share_page(request, user is not None, audience_of(False, is_staff), **marks)}


async def poll_page(request: web.Request) -> web.StreamResponse:
    """GET /polls/{token}: the question, the options (a form while it is open), the results when
    they may be shown (AS2: federation/poll_objects.py, at the same id)."""
    if wants_as2(request):
        from federation import poll_objects  # the federation part's module, as campaigns.py does

        return await poll_objects.poll_document(request, request.match_info["token"])
    user = await current_user(request)
    async with runtime(request).sessions() as session:
        poll = await _local_poll(session, request)
        org, discussion = await _readable(session, request, poll, user)
        context = await _poll_context(session, request, poll, org, discussion, user)
    response = await page(request, "participation/poll.html", context)
    add_vary(response, "Accept")
    return response


# -- voting and closing --------------------------------------------------------------------------------

def _chosen(form: dict, poll: Poll, options: list[PollOption]) -> list[str]:
    """The option names the form chose: ``choice`` = an option id (oneOf, radio buttons), or
    ``choice_<id>`` fields (anyOf, check boxes). Anything else is refused with a reason."""
    by_id = {o.id: o for o in options}
    if poll.multiple:
        ids = [row_id(name[len("choice_"):]) for name in form if name.startswith("choice_")]
    else:
        ids = [row_id(form.get("choice"))] if form.get("choice") else []
    if not ids or any(i not in by_id for i in ids):
        raise InvalidInput(CHOOSE)
    return [by_id[i].name for i in ids]


def _reason(request: web.Request, error: CivicError) -> str:
    if error.reason in REASONS:
        return translate(request, REASONS[error.reason])
    if isinstance(error, NotFound):
        return translate(request, _("There is no such page on this node."))
    return translate(request, CHOOSE if isinstance(error, InvalidInput) else _("Your vote was not recorded."))


async def _back(session: AsyncSession, request: web.Request, poll: Poll, back: str) -> str:
    """Where the voter goes back to: the page the form was on (named, never a URL)."""
    if back == "discussion" and poll.discussion_id:
        discussion = await session.get(Discussion, poll.discussion_id)
        return f"{discussion.page_ap_id}#{anchor_of(poll)}"
    if back == "organisation" or not poll.local:
        org = await session.get(Actor, poll.organization_id)
        return f"{runtime(request).uris.organization_page(org.username)}#{anchor_of(poll)}"
    return f"{poll.ap_id}#{anchor_of(poll)}"


async def _refused(request: web.Request, poll_id: int, user: User, reason: str, status: int) -> web.Response:
    """The poll's page again, the reason of the refusal at its top (4xx)."""
    async with runtime(request).sessions() as session:
        poll = await session.get(Poll, poll_id)
        org, discussion = await _readable(session, request, poll, user)
        context = await _poll_context(session, request, poll, org, discussion, user)
    return await page(request, "participation/poll.html", {**context, "refusal": reason}, status=status)


async def _vote(request: web.Request, find) -> web.StreamResponse:
    form, _oversize = await read_form_keeping(request)
    rt = runtime(request)
    user = await require_user(request, request.path.rsplit("/", 1)[0])
    back = form.get("back") if form.get("back") in BACKS else "poll"
    poll_id = None
    try:
        async with transaction(rt.sessions) as session:
            poll = await find(session, request)
            await _readable(session, request, poll, user)
            poll_id = poll.id
            names = _chosen(form, poll, await poll_service.options(session, poll))
            await poll_service.vote(session, rt.uris, poll, await person(session, user), names,
                                    delay=rt.settings.poll_update_delay)
            target = await _back(session, request, poll, back)
    except CivicError as error:
        status = 409 if isinstance(error, Conflict) else error.status
        return await _refused(request, poll_id, user, _reason(request, error), status)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(target)


async def vote(request: web.Request) -> web.StreamResponse:
    """POST /polls/{token}/vote: a signed-in person votes in one of our polls."""
    return await _vote(request, _local_poll)


async def vote_remote(request: web.Request) -> web.StreamResponse:
    """POST /polls/remote/{id}/vote: a signed-in person votes in a poll made elsewhere and shown
    here; the vote goes to its author (its tallies stay its server's)."""
    return await _vote(request, _remote_poll)


async def close(request: web.Request) -> web.StreamResponse:
    """POST /polls/{token}/close: the organisation's staff close the poll (its results show)."""
    await read_form_keeping(request)
    rt = runtime(request)
    user = await require_user(request, request.path.rsplit("/", 1)[0])
    async with transaction(rt.sessions) as session:
        poll = await _local_poll(session, request)
        org, _discussion = await _readable(session, request, poll, user)
        if not await poll_service.may_create(session, user, org):
            raise web.HTTPForbidden(text=translate(request, _("Only the organisation's staff can close a poll.")))
        await poll_service.close(session, poll)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(f"{poll.ap_id}#{anchor_of(poll)}")


# -- the staff's form ------------------------------------------------------------------------------------

async def _staff_org(session: AsyncSession, request: web.Request, user: User) -> Actor:
    org = await organisation(session, request)
    if not await poll_service.may_create(session, user, org):
        raise web.HTTPForbidden(text=translate(request, _("Only the organisation's staff can ask a poll.")))
    return org


async def _form_context(session: AsyncSession, org: Actor) -> dict:
    open_discussions = await discussion_service.list_for(session, org, status="open")
    return {"org": org, "discussions": [(d.slug, d) for d in open_discussions]}


def _end_time(text: str) -> datetime | None:
    """``datetime-local`` input, read as UTC; ValueError when it is not a date and time."""
    text = (text or "").strip()
    if not text:
        return None
    if len(text) > 32:
        raise ValueError(text)
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def poll_form(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/polls/new (``?discussion=<slug>`` preselects one of its discussions)."""
    user = await require_user(request)
    async with runtime(request).sessions() as session:
        org = await _staff_org(session, request, user)
        context = await _form_context(session, org)
    values = {"discussion": request.query.get("discussion", ""), "kind": "one"}
    return await page(request, "participation/poll_form.html", {**context, "values": values})


async def create_poll(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/polls/new: the question, one option per line, one or several choices, an
    end time (UTC), results hidden until it closes, in the organisation or one of its discussions."""
    rt = runtime(request)
    form, oversize = await read_form_keeping(request)
    user = await require_user(request)
    values = {name: (form.get(name) or "").strip() for name in ("question", "options", "end_time", "discussion",
                                                                 "kind")}
    values["hide_results"] = form.get("hide_results") == "on"
    errors: dict[str, str] = {}
    check_lengths(request, errors, values, POLL_LIMITS)
    if not values["question"] and "question" not in errors:
        errors["question"] = translate(request, _("Write the question."))
    options = [line for line in values["options"].splitlines() if line.strip()]
    if "options" not in errors:
        try:
            options = poll_service.checked_options(options)
        except InvalidInput:
            errors["options"] = translate(
                request, _("Write %(min)s to %(max)s different options, one per line, of at most %(length)s characters."),
                min=poll_service.MIN_OPTIONS, max=poll_service.MAX_OPTIONS, length=poll_service.MAX_OPTION)
    end_time = None
    try:
        end_time = _end_time(values["end_time"])
        if end_time is not None and end_time <= now():
            errors["end_time"] = translate(request, _("The end time must be in the future."))
    except (ValueError, OverflowError):  # not a date, or out of range once in UTC
        errors["end_time"] = translate(request, _("Give the end time as a date and a time."))
    if values["kind"] not in ("one", "any"):
        values["kind"] = "one"
    status = oversize_errors(request, errors, oversize, POLL_LIMITS, fallback="question")
    async with transaction(rt.sessions) as session:
        org = await _staff_org(session, request, user)
        discussion = None
        if values["discussion"]:
            try:
                # Checked first: a NUL or any odd character never reaches SQL.
                discussion = await discussion_service.by_slug(session, org, check_slug(values["discussion"]))
            except (NotFound, InvalidInput):
                errors["discussion"] = translate(request, _("Choose one of the organisation's discussions."))
        if not errors:
            try:
                poll = await poll_service.create(
                    session, rt.uris, org, org, paragraphs(values["question"]), options,
                    multiple=values["kind"] == "any", end_time=end_time, hide_results=values["hide_results"],
                    discussion=discussion)
            except InvalidInput:
                errors["question"] = translate(request, _("Check the question and the options."))
        context = await _form_context(session, org)
    if errors:
        return await page(request, "participation/poll_form.html",
                          {**context, "values": values, "errors": errors}, status=status)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(poll.ap_id)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/polls/{token}", poll_page, name="poll")
    app.router.add_post("/polls/{token}/vote", vote)
    app.router.add_post("/polls/{token}/close", close)
    app.router.add_post(r"/polls/remote/{id}/vote", vote_remote)
    app.router.add_get("/orgs/{org}/polls/new", poll_form)
    app.router.add_post("/orgs/{org}/polls/new", create_poll)
