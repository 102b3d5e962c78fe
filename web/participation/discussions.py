"""The discussion page (Learn more / Get involved), contributions, replies, agreements, follows,
and citizen discussions proposed by residents."""

from __future__ import annotations

import re
import unicodedata

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from federation import participation_objects
from node.db import transaction
from node.errors import Conflict, InvalidInput, NotFound
from node.models import Actor, Contribution, Discussion, User
from node.services import community, contributions, follows, reactions, reports
from node.services import discussions as discussion_service
from node.services.contributions import ALIGNMENTS, MAX_CONTENT
from node.uris import GROUP_HANDLE_RE
from web.cache import share_page, viewers_from
from web.i18n import _, locale_of, translate
from web.participation import polls as poll_pages
from web.participation import threads, visits
from web.participation.common import (
    MODERATORS,
    OFFICIALS,
    audience_of,
    discussion_in,
    forbidden,
    has_role,
    not_found,
    organisation,
    page,
    paragraphs,
    person,
    require_user,
    row_id,
    runtime,
    wants_as2,
)
from web.participation.limits import check_lengths, oversize_errors, read_form_keeping
from web.participation.organisations import profile_of, theme_version
from web.participation.threads import (
    contribution_target,
    discussion_viewer,
    found_discussion,
    reader_state,
    threads_context,
)
from web.render import add_vary, current_user, read_form

CLOSED = _("This discussion is closed.")
# What people may type, in characters: refused above, never cut (web/participation/limits.py).
CONTRIBUTION_LIMITS = {"content": MAX_CONTENT // 2}
CITIZEN_DISCUSSION_LIMITS = {"title": 200, "summary": 500, "body": 20_000}
PENDING = _("This discussion is waiting for moderation.")
OFFICIAL_ONLY = _("Only the organisation posts in this discussion.")
SELF_AGREEMENT = _("You cannot agree with your own contribution.")


async def discussion_context(session: AsyncSession, request: web.Request, org: Actor,
                             discussion: Discussion, user: User | None) -> dict:
    """Everything both parts of the discussion page show (the first page of threads)."""
    is_official, is_moderator, marks = await reader_state(request, session, org, discussion, user)
    profile = await profile_of(session, org)
    articles = await community.articles(session, discussion)
    ranked = await community.key_stakeholders(session, discussion, limit=5)
    initiatives = await community.initiatives(session, discussion)
    progress = await contributions.progress(session, discussion)
    mark = share_page(request, user is not None, audience_of(is_official, is_moderator), **marks)
    return {
        **await threads_context(session, request, discussion, is_official, is_moderator, user),
        "org": org,
        # A citizen discussion shows the resident who started it, never the organisation as its author.
        "author": await session.get(Actor, discussion.author_id)
        if discussion.kind == "citizen" and discussion.author_id else None,
        "profile": profile,
        "mark": mark,
        "theme_version": theme_version(profile),
        "progress": progress,
        "follower_count": await discussion_service.follower_count(session, discussion),
        "articles": articles,
        "article_count": len(articles),
        "stakeholders": ranked,
        "initiatives": initiatives[:3],
        "initiative_count": len(initiatives),
        "last_active": progress.last_published or discussion.created_at,
        "handle": f"@{discussion.group.username}@{runtime(request).uris.domain}",
        "polls": await poll_pages.discussion_polls(session, request, discussion, is_official or is_moderator),
        "new_poll": f"{runtime(request).uris.organization_action(org.username, 'polls', 'new')}"
                    f"?discussion={discussion.slug}" if is_official or is_moderator else None,
    }


@viewers_from(discussion_viewer)
async def discussion_page(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/discussions/{slug}."""
    if wants_as2(request):
        return await participation_objects.discussion_document(
            request, request.match_info["org"], request.match_info["slug"])
    user = await current_user(request)
    async with runtime(request).sessions() as session:
        org, discussion = await found_discussion(request, session, user)
        context = await discussion_context(session, request, org, discussion, user)
    visits.count(request, org.id, discussion.id)
    response = await page(request, "participation/discussion.html", context)
    add_vary(response, "Accept")
    return response


def _check_contribution(request: web.Request, form: dict, discussion: Discussion) -> tuple[dict, dict]:
    values = {"content": (form.get("content") or "").strip(), "alignment": form.get("alignment") or "",
              "parent": form.get("parent") or "", "official": form.get("official") == "on"}
    errors = {}
    if not values["content"]:
        errors["content"] = translate(request, _("Write your contribution."))
    check_lengths(request, errors, values, CONTRIBUTION_LIMITS)
    if values["alignment"] and (not discussion.alignment_enabled or values["alignment"] not in ALIGNMENTS):
        errors["alignment"] = translate(request, _("Choose in favour, neutral or against."))
    return values, errors


def _refuse_closed(discussion: Discussion) -> None:
    if discussion.status != "open":
        raise forbidden(CLOSED)
    if discussion.moderation != "approved":
        raise forbidden(PENDING)


async def contribute(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/discussions/{slug}/contributions: a contribution or a reply (``parent``)."""
    form, oversize = await read_form_keeping(request)
    rt = runtime(request)
    user = await require_user(request, rt.uris.discussion_page(request.match_info["org"],
                                                               request.match_info["slug"]))
    async with transaction(rt.sessions) as session:
        org = await organisation(session, request)
        discussion = await discussion_in(session, request, org, user)
        _refuse_closed(discussion)
        is_official = await has_role(session, user, org, OFFICIALS)
        if discussion.official_only and not is_official:
            raise forbidden(OFFICIAL_ONLY)
        parent = None
        if form.get("parent"):
            parent = await _in_discussion(session, request, discussion, form["parent"])
        values, errors = _check_contribution(request, form, discussion)
        status = oversize_errors(request, errors, oversize, CONTRIBUTION_LIMITS, fallback="content")
        if not errors:
            me = await person(session, user)
            try:
                created = await contributions.contribute(
                    session, rt.uris, discussion, me, paragraphs(values["content"]), parent=parent,
                    alignment=values["alignment"] or None, official=is_official and values["official"])
            except InvalidInput:  # the text grew past the limit once its markup was escaped
                errors["content"] = translate(request, _("A contribution is limited to %(max)s characters."),
                                              max=MAX_CONTENT // 2)
            else:
                target = await contribution_target(session, request, discussion, created)
    if errors:
        return await _contribution_errors(request, org, discussion, parent, user, values, errors, status)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(target)


async def _contribution_errors(request, org, discussion, parent, user, values, errors,
                               status: int = 400) -> web.Response:
    """The form again, with what was typed and the errors next to the fields (400, 413 over-size)."""
    async with runtime(request).sessions() as session:
        org = await session.merge(org)
        discussion = await session.merge(discussion)
        if parent is not None:
            parent = await session.merge(parent)
            context = await contribution_context(session, request, org, discussion, parent, user)
            template = "participation/contribution.html"
        else:
            context = await discussion_context(session, request, org, discussion, user)
            template = "participation/discussion.html"
    return await page(request, template, {**context, "values": values, "errors": errors}, status=status)


async def _in_discussion(session: AsyncSession, request: web.Request, discussion: Discussion,
                         contribution_id: str) -> Contribution:
    """A live contribution of ``discussion`` by its id (404 otherwise)."""
    found = await session.get(Contribution, row_id(contribution_id)) if row_id(contribution_id) else None
    if found is None or found.discussion_id != discussion.id or found.deleted_at is not None:
        raise not_found(request)
    return found


async def contribution_context(session: AsyncSession, request: web.Request, org: Actor,
                               discussion: Discussion, contribution: Contribution,
                               user: User | None) -> dict:
    """The reply page: one contribution with its replies (hidden ones show their reason to others)."""
    is_moderator = await has_role(session, user, org, MODERATORS)
    me = await person(session, user) if user else None
    is_official = await has_role(session, user, org, OFFICIALS)
    open_for_contributions = discussion.status == "open" and discussion.moderation == "approved"
    return {
        "org": org, "discussion": discussion, "contribution": contribution,
        "item": await contributions.subthread(session, contribution, include_hidden=True),
        "hidden_reasons": await reports.hidden_in_discussion(session, discussion.id),
        "is_moderator": is_moderator, "is_official": is_official, "open": open_for_contributions,
        "can_contribute": bool(user) and open_for_contributions
        and (is_official or not discussion.official_only),
        "mark": share_page(request, user is not None, audience_of(is_official, is_moderator),
                           agreed=await contributions.agreed_ids(session, me, discussion),
                           own=await contributions.own_unagreed_ids(session, me, discussion)),
        "supported": lambda c: contributions.supported_by_community(c, discussion),
        "alignments": ALIGNMENTS,
    }


async def contribution_page(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/discussions/{slug}/contributions/{id}: a contribution, its replies, the reply form."""
    user = await current_user(request)
    async with runtime(request).sessions() as session:
        org = await organisation(session, request)
        discussion = await discussion_in(session, request, org, user)
        contribution = await _in_discussion(session, request, discussion, request.match_info["id"])
        context = await contribution_context(session, request, org, discussion, contribution, user)
    return await page(request, "participation/contribution.html", context)


async def agree(request: web.Request) -> web.StreamResponse:
    """POST …/contributions/{id}/agree: "I agree", or withdraw it when already given (a toggle)."""
    await read_form(request)
    rt = runtime(request)
    user = await require_user(request, rt.uris.discussion_page(request.match_info["org"],
                                                               request.match_info["slug"]))
    async with transaction(rt.sessions) as session:
        org = await organisation(session, request)
        discussion = await discussion_in(session, request, org, user)
        contribution = await _in_discussion(session, request, discussion, request.match_info["id"])
        _refuse_closed(discussion)
        me = await person(session, user)
        try:
            await reactions.toggle(session, rt.uris, contributions.AGREEMENT, contribution, me)
        except Conflict:  # their own contribution (SECURITY.md rule 23): nothing is written
            raise web.HTTPConflict(text=SELF_AGREEMENT) from None
        target = await contribution_target(session, request, discussion, contribution)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(target)


async def follow_discussion(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/discussions/{slug}/follow: follow its Group actor (action=unfollow leaves)."""
    form = await read_form(request)
    rt = runtime(request)
    back = rt.uris.discussion_page(request.match_info["org"], request.match_info["slug"])
    user = await require_user(request, back)
    async with transaction(rt.sessions) as session:
        org = await organisation(session, request)
        discussion = await discussion_in(session, request, org, user)
        me = await person(session, user)
        group = await session.get(Actor, discussion.group_id)
        if form.get("action") == "unfollow":
            if await follows.find(session, me, group) is not None:
                await follows.unfollow(session, me, group)
        else:
            await follows.request_follow(session, rt.uris, me, group)
    raise web.HTTPSeeOther(f"{back}#followers")


# -- citizen discussions --------------------------------------------------------------------------

def slugify(title: str, max_length: int) -> str:
    """An ASCII slug from a title: "Vélos à Nice !" → "velos-a-nice"."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:max_length].strip("-")
    return slug or "discussion"


async def free_slug(session: AsyncSession, request: web.Request, org: Actor, title: str) -> str:
    uris = runtime(request).uris
    room = 64 - len(uris.discussion_handle(org.username, "")) - 3
    base = slugify(title, min(40, room))
    for n in range(1, 100):
        slug = base if n == 1 else f"{base}-{n}"
        if not GROUP_HANDLE_RE.match(uris.discussion_handle(org.username, slug)):
            break
        try:
            await discussion_service.by_slug(session, org, slug)
        except NotFound:
            return slug
    raise Conflict("no free slug")


async def citizen_form(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/new-discussion."""
    rt = runtime(request)
    await require_user(request, rt.uris.citizen_discussion_form(request.match_info["org"]))
    async with rt.sessions() as session:
        org = await organisation(session, request)
    return await page(request, "participation/citizen_discussion.html", {"org": org})


async def open_citizen_discussion(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/new-discussion: a resident proposes a discussion; moderators approve it."""
    form, oversize = await read_form_keeping(request)
    rt = runtime(request)
    user = await require_user(request, rt.uris.citizen_discussion_form(request.match_info["org"]))
    lang = locale_of(request)
    values = {k: (form.get(k) or "").strip() for k in ("title", "summary", "body")}
    errors = {}
    check_lengths(request, errors, values, CITIZEN_DISCUSSION_LIMITS)
    if len(values["title"]) < 3:
        errors["title"] = translate(request, _("The title needs between 3 and 200 characters."))
    if not values["body"]:
        errors["body"] = translate(request, _("Explain what the discussion is about."))
    status = oversize_errors(request, errors, oversize, CITIZEN_DISCUSSION_LIMITS, fallback="body")
    async with transaction(rt.sessions) as session:
        org = await organisation(session, request)
        if not errors:
            me = await person(session, user)
            try:
                discussion = await discussion_service.open_discussion(
                    session, rt.uris, org, await free_slug(session, request, org, values["title"]),
                    {lang: values["title"]}, summary={lang: values["summary"]},
                    body={lang: values["body"]}, kind="citizen", author=me)
            except (InvalidInput, Conflict):
                errors["title"] = translate(request, _("Choose another title."))
            else:
                target = discussion.page_ap_id
    if errors:
        return await page(request, "participation/citizen_discussion.html",
                          {"org": org, "values": values, "errors": errors}, status=status)
    raise web.HTTPSeeOther(target)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/orgs/{org}/discussions/{slug}", discussion_page, name="discussion")
    app.router.add_post("/orgs/{org}/discussions/{slug}/contributions", contribute)
    app.router.add_post("/orgs/{org}/discussions/{slug}/follow", follow_discussion)
    app.router.add_get("/orgs/{org}/new-discussion", citizen_form)
    app.router.add_post("/orgs/{org}/new-discussion", open_citizen_discussion)
    app.router.add_get(r"/orgs/{org}/discussions/{slug}/contributions/{id:\d+}", contribution_page)
    app.router.add_post(r"/orgs/{org}/discussions/{slug}/contributions/{id:\d+}/agree", agree)
    threads.add_routes(app)
