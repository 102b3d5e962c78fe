"""Participation objects served at their ids: discussion pages, contributions, proposals, answers…

Each answers exactly when its reader may read it (node/visibility.py, SECURITY.md rule 24): as
AS2, the signed reader of federation.objects; as a redirect to its page, the signed-in visitor
the web layer checks (``PAGE_CHECK``). Otherwise the 404 of a missing object."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.collections import ordered_collection
from activities.notes import tombstone_to_as
from federation import participation_documents as documents
from federation.objects import actor_readable, as_response, not_found, readable, wants_activity_json
from federation.runtime import RUNTIME, Runtime
from node.models import Article, Contribution, Discussion, Initiative, ProposalStates
from node.services import actors as actor_service
from node.services import discussions, proposal_access, proposals, reports
from node.uris import Uris

# May this reader read a thing of an organisation at a level? (organisation id, level) -> bool
Check = Callable[[int, str], Awaitable[bool]]
# The web layer's check for people (the signed-in visitor), used before redirecting them to the
# page that shows an object; without it, people are checked as an unsigned AS2 reader.
PAGE_CHECK = web.AppKey("civic_page_check", object)


@dataclass(frozen=True)
class Served:
    """An object found for its reader: the page that shows it to people, and its AS2 document
    (``doc``, or ``make`` to build it only for AS2 requests: people's redirects never convert,
    and ``members`` things have no AS2 form)."""

    doc: dict | None
    page: str
    status: int = 200
    make: Callable[[], Awaitable[dict | None]] | None = None


def _later(page: str, make: Callable[[], Awaitable[dict | None]]) -> Served:
    return Served(None, page, make=make)


Loader = Callable[..., Awaitable[Served | None]]


def _tombstone(ap_id: str, former_type: str, deleted, page: str) -> Served:
    # SECURITY.md rule 9: a deleted object answers 410 with a Tombstone.
    return Served(tombstone_to_as(ap_id, former_type, deleted), page, status=410)


async def _readable_discussion(session: AsyncSession, check: Check, discussion_id: int | None
                               ) -> Discussion | None:
    """The discussion when it is approved and the reader may read it (and what is inside it)."""
    discussion = await session.get(Discussion, discussion_id) if discussion_id else None
    if discussion is None or discussion.moderation != "approved":
        return None
    if not await check(discussion.organization_id, await discussions.level(session, discussion)):
        return None
    return discussion


async def _discussion(session: AsyncSession, uris: Uris, check: Check, org: str, slug: str) -> Served | None:
    found = await discussions.by_page(session, uris.discussion_page(org.lower(), slug.lower()))
    discussion = await _readable_discussion(session, check, found.id if found else None)
    if discussion is None:
        return None
    return _later(discussion.page_ap_id, lambda: documents.discussion_page_as(session, discussion))


async def _contribution(session: AsyncSession, uris: Uris, check: Check, token: str) -> Served | None:
    contribution = await session.scalar(select(Contribution).where(
        Contribution.ap_id == uris.contribution(token), Contribution.local.is_(True)))
    if contribution is None or contribution.hidden:
        return None
    discussion = await _readable_discussion(session, check, contribution.discussion_id)
    if discussion is None:
        return None
    if contribution.deleted_at is not None:
        return _tombstone(contribution.ap_id, "Note", contribution.deleted_at, discussion.page_ap_id)
    # Its own page (with its replies and the reply form): the discussion page shows its newest
    # threads first, so an anchor there may point past what it shows.
    page = uris.discussion_contribution(discussion.organization.username, discussion.slug,
                                        contribution.id) + f"#contribution-{token}"
    return _later(page, lambda: documents.contribution_as(session, contribution, discussion))


async def _readable_proposal(session: AsyncSession, uris: Uris, check: Check, token: str):
    """The published proposal when the reader may read it (its space's and discussion's level)."""
    proposal = await proposals.by_ap_id(session, uris.proposal(token))
    if proposal is None or proposal.state not in ProposalStates.PUBLIC:
        return None
    if await reports.hidden(session, proposal.ap_id):
        return None  # hidden by the moderators: the same 404 as a missing one (SECURITY.md rule 22)
    _space, discussion = await proposal_access.containers(session, proposal)
    if discussion is not None and discussion.moderation != "approved":
        return None
    if not await check(proposal.organization_id, await proposal_access.level(session, proposal)):
        return None
    return proposal


async def _proposal(session: AsyncSession, uris: Uris, check: Check, token: str) -> Served | None:
    proposal = await _readable_proposal(session, uris, check, token)
    if proposal is not None and proposal.deleted_at is not None:
        return _tombstone(proposal.ap_id, "Page", proposal.deleted_at, proposal.ap_id)
    return _later(proposal.ap_id, lambda: documents.proposal_as(session, proposal)) if proposal else None


async def _answer(session: AsyncSession, uris: Uris, check: Check, token: str) -> Served | None:
    proposal = await _readable_proposal(session, uris, check, token)
    if proposal is not None and proposal.deleted_at is not None:
        return None  # erased with its proposal (which answers 410)
    if proposal is None or proposal.answer_published_at is None or not proposal.answer_ap_id:
        return None  # not answered, or the answer is not published yet
    return _later(f"{proposal.ap_id}#answer", lambda: documents.answer_as(session, proposal))


async def _article(session: AsyncSession, uris: Uris, check: Check, token: str) -> Served | None:
    article = await session.scalar(select(Article).where(Article.ap_id == uris.article(token)))
    discussion = await _readable_discussion(session, check, article.discussion_id) if article else None
    if discussion is None:
        return None
    if article.deleted_at is not None:
        return _tombstone(article.ap_id, "Article", article.deleted_at,
                          f"{discussion.page_ap_id}#article-{token}")
    # People go to the article's own page (the discussion lists only its latest articles).
    page = uris.discussion_article(discussion.organization.username, discussion.slug, token)
    return _later(page, lambda: documents.article_as(session, article))


async def _initiative(session: AsyncSession, uris: Uris, check: Check, token: str) -> Served | None:
    initiative = await session.scalar(select(Initiative).where(
        Initiative.ap_id == uris.initiative(token)))
    discussion = await _readable_discussion(session, check, initiative.discussion_id) if initiative else None
    if discussion is None:
        return None
    page = f"{discussion.page_ap_id}#initiative-{token}"
    if initiative.deleted_at is not None:
        return _tombstone(initiative.ap_id, "Page", initiative.deleted_at, page)
    return _later(page, lambda: documents.initiative_as(session, initiative))


async def _load(request: web.Request, load: Loader, *args: str, as2: bool = True) -> Served | None:
    rt: Runtime = request.app[RUNTIME]
    page_check = None if as2 else request.app.get(PAGE_CHECK)
    async with rt.sessions() as session:
        async def check(organization_id: int, level: str) -> bool:
            if page_check is not None:
                return await page_check(request, session, organization_id, level)
            return await readable(request, session, organization_id, level)

        found = await load(session, rt.uris, check, *args)
        if as2 and found is not None and found.make is not None:
            doc = await found.make()
            found = Served(doc, found.page, found.status) if doc else None
        return found


async def _as2(request: web.Request, load: Loader, *args: str) -> web.Response:
    """The AS2 document; missing objects and those the reader may not read get the same 404
    (SECURITY.md rules 10, 24)."""
    found = await _load(request, load, *args)
    return as_response(found.doc, found.status) if found else not_found()


def _negotiated(load: Loader) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """AS2 to AS2 requests; people are sent to the page that shows the object."""

    async def handler(request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        if wants_activity_json(request):
            return await _as2(request, load, token)
        found = await _load(request, load, token, as2=False)
        if found is None:
            raise web.HTTPNotFound()
        if found.status == 410:
            raise web.HTTPGone()
        raise web.HTTPFound(found.page, headers={"Vary": "Accept"})

    return handler


# ---- negotiated pages: the web handlers call these for AS2 requests (like objects.note_document)

async def discussion_document(request: web.Request, org: str, slug: str) -> web.Response:
    """GET /orgs/{org}/discussions/{slug} as AS2: the discussion's opening Page."""
    return await _as2(request, _discussion, org, slug)


async def proposal_document(request: web.Request, token: str) -> web.Response:
    """GET /proposals/{token} as AS2: the proposal's Page."""
    return await _as2(request, _proposal, token)


async def contribution_document(request: web.Request, token: str) -> web.Response:
    return await _as2(request, _contribution, token)


async def article_document(request: web.Request, token: str) -> web.Response:
    return await _as2(request, _article, token)


async def initiative_document(request: web.Request, token: str) -> web.Response:
    return await _as2(request, _initiative, token)


async def answer_document(request: web.Request, token: str) -> web.Response:
    return await _as2(request, _answer, token)


# ---- routes of objects that have no page of their own

async def moderators(request: web.Request) -> web.Response:
    """FEP-1b12: the moderators collection of a discussion's Group, as Lemmy shows a community's:
    the organisation (its ``attributedTo``) and the local people holding its admin or moderator
    role. Changes reach the group's followers as Add/Remove (federation.moderation_fanout)."""
    rt: Runtime = request.app[RUNTIME]
    async with rt.sessions() as session:
        group = await actor_service.local_actor(session, request.match_info["username"])
        discussion = await discussions.by_group(session, group) if group else None
        if discussion is None or not await actor_readable(request, session, group):
            return not_found()
        people = await actor_service.moderators_of(session, discussion.organization)
        items = [discussion.organization.ap_id] + [person.ap_id for person in people]
        doc = ordered_collection(rt.uris.discussion_moderators(group.ap_id), len(items), paged=False)
        doc["orderedItems"] = items
    return as_response(doc)


def add_routes(app: web.Application) -> None:
    """AS2 routes of objects shown inside another page (people are redirected there)."""
    app.router.add_get("/actors/{username}/moderators", moderators)
    app.router.add_get("/contributions/{token}", _negotiated(_contribution))
    app.router.add_get("/articles/{token}", _negotiated(_article))
    app.router.add_get("/initiatives/{token}", _negotiated(_initiative))
    app.router.add_get("/proposals/{token}/answer", _negotiated(_answer))
