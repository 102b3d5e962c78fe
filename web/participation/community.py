"""Crowdsourced articles and reports, the stakeholder map and take-action initiatives."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from federation import participation_objects
from node.db import transaction
from node.errors import InvalidInput
from node.models import STAKEHOLDER_ROLES, Article, Discussion, Initiative
from node.services import community, reactions
from web.cache import share_page
from web.i18n import _, translate
from web.participation.common import (
    discussion_in,
    forbidden,
    not_found,
    organisation,
    page,
    paragraphs,
    person,
    require_user,
    runtime,
    token_anchor,
    wants_as2,
)
from web.participation.discussions import CLOSED, discussion_context
from web.participation.limits import check_lengths, oversize_errors, read_form_keeping
from web.participation.organisations import profile_of, theme_version
from web.render import add_vary, current_user, read_form

# What people may type, in characters: refused above, never cut (web/participation/limits.py).
ARTICLE_LIMITS = {"article_title": 300, "article_link": 2048, "article_summary": 1000, "article_body": 20_000}
INITIATIVE_LIMITS = {"title": 300, "body": 10_000, "link": 2048}


def _link_error(request: web.Request, link: str) -> str | None:
    if link and (not link.startswith(("https://", "http://")) or " " in link or len(link) > 2048):
        return translate(request, _("Give a full address starting with https://"))
    return None


# -- articles -------------------------------------------------------------------------------------

async def add_article(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/discussions/{slug}/articles: anyone logged in shares an article or a report."""
    form, oversize = await read_form_keeping(request)
    rt = runtime(request)
    back = rt.uris.discussion_page(request.match_info["org"], request.match_info["slug"])
    user = await require_user(request, back)
    values = {k: (form.get(k) or "").strip()
              for k in ("article_title", "article_link", "article_summary", "article_body", "article_kind")}
    errors = {}
    check_lengths(request, errors, values, ARTICLE_LIMITS)
    if len(values["article_title"]) < 3:
        errors["article_title"] = translate(request, _("The title needs between 3 and 300 characters."))
    if error := _link_error(request, values["article_link"]):
        errors.setdefault("article_link", error)
    elif not values["article_link"] and not values["article_body"]:
        errors["article_link"] = translate(request, _("Give a link or write a text."))
    status = oversize_errors(request, errors, oversize, ARTICLE_LIMITS, fallback="article_body")
    async with transaction(rt.sessions) as session:
        org = await organisation(session, request)
        discussion = await discussion_in(session, request, org, user)
        if discussion.moderation != "approved":
            raise forbidden(CLOSED)
        if not errors:
            try:
                article = await community.add_article(
                    session, rt.uris, discussion, await person(session, user), values["article_title"],
                    summary=values["article_summary"], link=values["article_link"] or None,
                    body_html=paragraphs(values["article_body"]),
                    kind="report" if values["article_kind"] == "report" else "article")
            except InvalidInput:
                errors["article_title"] = translate(request, _("Check the title and the link."))
            else:
                target = rt.uris.discussion_article(org.username, discussion.slug,
                                                    rt.uris.token_of(article.ap_id))
    if errors:
        async with rt.sessions() as session:
            context = await discussion_context(session, request, await session.merge(org),
                                               await session.merge(discussion), user)
        return await page(request, "participation/discussion.html",
                          {**context, "values": values, "errors": errors}, status=status)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(target)


async def article_page(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/discussions/{slug}/articles/{token}: an article or report in full."""
    if wants_as2(request):
        return await participation_objects.article_document(request, request.match_info["token"])
    user = await current_user(request)
    rt = runtime(request)
    async with rt.sessions() as session:
        org = await organisation(session, request)
        discussion = await discussion_in(session, request, org, user)
        article = await session.scalar(select(Article).where(
            Article.ap_id == rt.uris.article(request.match_info["token"]),
            Article.discussion_id == discussion.id, Article.deleted_at.is_(None)))
        if article is None:
            raise not_found(request)
    response = await page(request, "participation/article.html",
                          {"article": article, "discussion": discussion, "org": org})
    add_vary(response, "Accept")
    return response


# -- stakeholders ---------------------------------------------------------------------------------

async def stakeholder_map(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/discussions/{slug}/stakeholders: grouped by role, ranked by support."""
    user = await current_user(request)
    async with runtime(request).sessions() as session:
        org = await organisation(session, request)
        discussion = await discussion_in(session, request, org, user)
        ranked = await community.key_stakeholders(session, discussion, limit=500)
        profile = await profile_of(session, org)
    groups = [(role, [r for r in ranked if r.stakeholder.role == role]) for role in STAKEHOLDER_ROLES]
    return await page(request, "participation/stakeholders.html", {
        "org": org, "discussion": discussion, "groups": [g for g in groups if g[1]],
        "total": len(ranked), "theme_version": theme_version(profile)})


# -- initiatives ----------------------------------------------------------------------------------

async def _initiatives_context(session, request, org, discussion, user) -> dict:
    items = await community.initiatives(session, discussion)
    me = await person(session, user) if user else None
    profile = await profile_of(session, org)
    return {"org": org, "discussion": discussion, "initiatives": items,
            "mark": share_page(request, user is not None,
                               acted=await community.acted_in(session, me, discussion)),
            "open": discussion.status == "open" and discussion.moderation == "approved",
            "theme_version": theme_version(profile)}


async def initiatives_page(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/discussions/{slug}/initiatives: every initiative, and a form to promote one."""
    user = await current_user(request)
    async with runtime(request).sessions() as session:
        org = await organisation(session, request)
        discussion = await discussion_in(session, request, org, user)
        context = await _initiatives_context(session, request, org, discussion, user)
    return await page(request, "participation/initiatives.html", context)


async def create_initiative(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/discussions/{slug}/initiatives."""
    form, oversize = await read_form_keeping(request)
    rt = runtime(request)
    back = rt.uris.discussion_section(request.match_info["org"], request.match_info["slug"], "initiatives")
    user = await require_user(request, back)
    values = {k: (form.get(k) or "").strip() for k in ("title", "body", "link")}
    errors = {}
    check_lengths(request, errors, values, INITIATIVE_LIMITS)
    if len(values["title"]) < 3:
        errors["title"] = translate(request, _("The title needs between 3 and 300 characters."))
    if not values["body"]:
        errors["body"] = translate(request, _("Describe the initiative."))
    if error := _link_error(request, values["link"]):
        errors.setdefault("link", error)
    status = oversize_errors(request, errors, oversize, INITIATIVE_LIMITS, fallback="body")
    async with transaction(rt.sessions) as session:
        org = await organisation(session, request)
        discussion = await discussion_in(session, request, org, user)
        if discussion.status != "open" or discussion.moderation != "approved":
            raise forbidden(CLOSED)
        if not errors:
            initiative = await community.create_initiative(
                session, rt.uris, discussion, await person(session, user), values["title"],
                paragraphs(values["body"]), values["link"] or None)
            target = f"{back}#{token_anchor('initiative', initiative.ap_id)}"
        else:
            context = await _initiatives_context(session, request, org, discussion, user)
    if errors:
        return await page(request, "participation/initiatives.html",
                          {**context, "values": values, "errors": errors}, status=status)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(target)


async def _initiative(session, request: web.Request) -> tuple[Initiative, Discussion]:
    initiative = await session.scalar(select(Initiative).where(
        Initiative.ap_id == runtime(request).uris.initiative(request.match_info["token"])))
    if initiative is None:
        raise not_found(request)
    return initiative, await session.get(Discussion, initiative.discussion_id)


async def act(request: web.Request) -> web.StreamResponse:
    """POST /initiatives/{token}/act: "I acted", or cancel it (a toggle)."""
    form = await read_form(request)
    rt = runtime(request)
    user = await require_user(request)
    async with transaction(rt.sessions) as session:
        initiative, discussion = await _initiative(session, request)
        await discussion_in(session, request, discussion.organization, user, discussion.slug)
        if discussion.status != "open" or discussion.moderation != "approved":
            raise forbidden(CLOSED)
        me = await person(session, user)
        await reactions.toggle(session, rt.uris, community.ACTION, initiative, me)
        target = rt.uris.discussion_section(discussion.organization.username, discussion.slug,
                                            "initiatives")
    rt.outbox_ready.set()
    back = discussion.page_ap_id if form.get("back") == "discussion" else target
    raise web.HTTPSeeOther(f"{back}#{token_anchor('initiative', initiative.ap_id)}")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/orgs/{org}/discussions/{slug}/articles", add_article)
    app.router.add_get("/orgs/{org}/discussions/{slug}/articles/{token}", article_page)
    app.router.add_get("/orgs/{org}/discussions/{slug}/stakeholders", stakeholder_map)
    app.router.add_get("/orgs/{org}/discussions/{slug}/initiatives", initiatives_page)
    app.router.add_post("/orgs/{org}/discussions/{slug}/initiatives", create_initiative)
    app.router.add_post("/initiatives/{token}/act", act)
