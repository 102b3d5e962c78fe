"""The organisation page (introduction, community, dashboard, discussions, ideas), its colours, follows."""

from __future__ import annotations

import hashlib
import re

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node import changes, visibility
from node.db import transaction
from node.errors import CivicError
from node.models import Actor, OrganizationProfile
from node.services import actors as actor_service
from node.services import campaigns as campaign_service
from node.services import coalitions as coalition_service
from node.services import dashboard as dashboard_service
from node.services import discussions as discussion_service
from node.services import follows, notes
from node.services import proposals as proposal_service
from web.cache import depends, shows
from web.i18n import _, translate
from web.participation import charts, visits
from web.participation import polls as poll_pages
from web.participation.common import (
    ADMINS,
    MODERATORS,
    OFFICIALS,
    STAFF,
    can_see,
    discussion_stats,
    forbidden,
    has_role,
    memberships,
    not_found,
    now,
    organisation,
    page,
    person,
    require_role,
    require_user,
    row_id,
    runtime,
    standing_in,
)
from web.render import add_vary, current_user, read_form

COLOR = re.compile(r"^#[0-9a-f]{6}$")
DEFAULT_PRIMARY, DEFAULT_ACCENT = "#0b5cad", "#f0a500"
DASHBOARD_DAYS = 30
VARIANTS_SHOWN = 10  # the organisation's newest campaign variants on its page


async def profile_of(session: AsyncSession, org: Actor) -> OrganizationProfile:
    """The stored profile, or an unsaved one with the defaults (reading never writes)."""
    row = await session.scalar(select(OrganizationProfile).where(OrganizationProfile.actor_id == org.id))
    if row is None:
        row = OrganizationProfile(actor_id=org.id, intro={}, territory="", themes=[], logo_path=None,
                                  primary_color=DEFAULT_PRIMARY, accent_color=DEFAULT_ACCENT,
                                  default_language="fr")
    return row


def theme_version(profile: OrganizationProfile) -> str:
    """Changes with the colours, so browsers fetch the new stylesheet at once."""
    return hashlib.sha256(f"{profile.primary_color}{profile.accent_color}".encode()).hexdigest()[:10]


def _luminance(color: str) -> float:
    """Relative luminance (WCAG 2.1 §1.4.3 definition)."""
    channels = []
    for i in (1, 3, 5):
        c = int(color[i:i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_on(color: str) -> str:
    """Black or white, whichever contrasts more with ``color``."""
    lum = _luminance(color)
    return "#000000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#ffffff"


def theme_css_text(primary: str, accent: str) -> str:
    primary = primary if COLOR.match(primary or "") else DEFAULT_PRIMARY
    accent = accent if COLOR.match(accent or "") else DEFAULT_ACCENT
    return (":root {\n"
            f"  --org-primary: {primary};\n  --org-on-primary: {text_on(primary)};\n"
            f"  --org-accent: {accent};\n  --org-on-accent: {text_on(accent)};\n"
            "}\n")


async def theme_css(request: web.Request) -> web.Response:
    """GET /orgs/{org}/theme.css: the organisation's colours as CSS variables (no inline styles)."""
    async with runtime(request).sessions() as session:
        org = await organisation(session, request)
        profile = await profile_of(session, org)
    return web.Response(text=theme_css_text(profile.primary_color, profile.accent_color),
                        content_type="text/css", headers={"Cache-Control": "public, max-age=300"})


def _change(request: web.Request, figure: dashboard_service.Figure) -> dict:
    """The arrow and the sentence a screen reader reads instead of it."""
    change = figure.change
    if change is None:
        return {"arrow": "", "percent": None, "text": translate(
            request, _("nothing to compare with in the previous %(days)s days"), days=DASHBOARD_DAYS)}
    if change > 0:
        return {"arrow": "▲", "percent": change, "direction": "up", "text": translate(
            request, _("up %(percent)s%% on the previous %(days)s days"), percent=change, days=DASHBOARD_DAYS)}
    if change < 0:
        return {"arrow": "▼", "percent": -change, "direction": "down", "text": translate(
            request, _("down %(percent)s%% on the previous %(days)s days"), percent=-change,
            days=DASHBOARD_DAYS)}
    return {"arrow": "=", "percent": 0, "direction": "same", "text": translate(
        request, _("unchanged from the previous %(days)s days"), days=DASHBOARD_DAYS)}


def dashboard_view(request: web.Request, board: dashboard_service.Dashboard) -> dict:
    """Figures, their changes and the two charts, ready for the template."""
    figures = {name: {"value": getattr(board, name).value, "previous": getattr(board, name).previous,
                      **_change(request, getattr(board, name))}
               for name in ("official_answers", "quality_recognised", "visits", "active_people",
                            "new_comments")}
    visits_total, visits_peak, _day = charts.describe(board.visits_series)
    comments_total, comments_peak, _day = charts.describe(board.comments_series)
    return {
        "open_official_discussions": board.open_official_discussions,
        "figures": figures,
        "days": board.days,
        "visits_chart": charts.sparkline(
            board.visits_series, chart_id="chart-visits",
            title=translate(request, _("Visits per day, last %(days)s days"), days=board.days),
            description=translate(request, _("%(total)s visits in total, at most %(peak)s in one day."),
                                  total=visits_total, peak=visits_peak)),
        "comments_chart": charts.bar_chart(
            board.comments_series, chart_id="chart-comments",
            title=translate(request, _("New comments per day, last %(days)s days"), days=board.days),
            description=translate(request, _("%(total)s comments in total, at most %(peak)s in one day."),
                                  total=comments_total, peak=comments_peak)),
        "visits_series": board.visits_series,
        "comments_series": board.comments_series,
    }


async def coalitions_listed(session: AsyncSession, request: web.Request, user, org: Actor) -> list[Actor]:
    """The coalitions the organisation is a member of, as its page lists them: one hosted here
    only when its visibility lists it to the visitor (SECURITY.md rule 24); one elsewhere as the
    organisation's own membership (a ``members`` coalition never leaves its node)."""
    listed = []
    reader = visibility.Reader.of_user(user)
    for row in await coalition_service.memberships_of(session, org, states=("accepted",)):
        actor = await session.get(Actor, row.coalition_id)
        coalition = await coalition_service.of_actor(session, actor)
        if coalition is not None:
            who = await visibility.standing(session, reader, actor.id)
            if not visibility.lists(coalition.visibility, who):
                continue
            shows(request, coalition.visibility)  # web/cache.py
        listed.append(actor)
    return listed


async def variants_listed(session: AsyncSession, request: web.Request, org: Actor,
                          coalitions: list[Actor]) -> list[tuple]:
    """The organisation's newest campaign variants, as its page lists them to this visitor
    (SECURITY.md rule 24): one of a coalition's campaign only when the coalition is listed to
    everyone, is elsewhere, or is one of ``coalitions`` — those :func:`coalitions_listed` found
    listed to the visitor by node/visibility.py ``lists`` (it told the page cache their levels).
    One query. The page is rendered again when one of them or its campaign changes: a variant
    published here changes ``org:<id>`` (node/change_rules.py), a campaign withdrawn its own scope,
    a coalition's visibility its profile's."""
    hosted = [actor.id for actor in coalitions if actor.local]
    found = await campaign_service.listed_variants_of(session, org, hosted, VARIANTS_SHOWN)
    depends(request, *(changes.campaign(campaign.id) for _variant, campaign in found),
            *(changes.profile(campaign.coalition_id) for _variant, campaign in found))
    return found


async def organisation_page(request: web.Request, org_username: str) -> web.StreamResponse:
    """The HTML face of an Organization actor (the AS2 document is served by web.pages)."""
    user = await current_user(request)
    rt = runtime(request)
    async with rt.sessions() as session:
        org = await organisation(session, request, org_username)
        profile = await profile_of(session, org)
        roles = await memberships(session, user, org)
        is_staff = await has_role(session, user, org, STAFF)
        # Listings, their counts and the dashboard show only what this visitor may list
        # (SECURITY.md rule 24): staff everything, others no unlisted thing nor one above them.
        listed = visibility.listed_levels(await standing_in(session, user, org))
        open_discussions = await discussion_service.list_for(session, org, status="open", levels=listed)
        coalitions = await coalitions_listed(session, request, user, org)
        stats = await discussion_stats(session, [d.id for d in open_discussions])
        context = {
            "org": org,
            "profile": profile,
            "theme_version": theme_version(profile),
            "handle": f"@{org.username}@{rt.uris.domain}",
            "follower_count": await follows.count(session, org),
            "following": bool(user) and await follows.find(session, user.actor, org) is not None,
            "roles": roles,
            "is_staff": is_staff,
            "can_announce": await has_role(session, user, org, OFFICIALS),
            "can_moderate": await has_role(session, user, org, MODERATORS),
            "dashboard": dashboard_view(request, await dashboard_service.dashboard(
                session, org.id, now().date(), DASHBOARD_DAYS, levels=listed)),
            "discussions": open_discussions,
            "stats": stats,
            "proposals": await proposal_service.index(session, org, sort="supports", page_size=5,
                                                      levels=listed),
            "announcements": await notes.notes_by(session, org, limit=5, levels=listed),
            "pending_follows": await follows.pending_requests(session, org) if is_staff else [],
            "can_answer_follows": await has_role(session, user, org, ADMINS),
            "pending_discussions": await discussion_service.pending_moderation(session, org)
            if await has_role(session, user, org, MODERATORS) else [],
            "coalitions": coalitions,
            "variants": await variants_listed(session, request, org, coalitions),
            **await poll_pages.organisation_polls(session, request, org, user, listed, is_staff),
        }
    visits.count(request, org.id)
    response = await page(request, "participation/organisation.html", context)
    add_vary(response, "Accept")
    return response


async def page_for_actor(request: web.Request, username: str) -> web.StreamResponse | None:
    """web.pages.actor_page hands over organisations (their page) and discussion groups (redirect);
    None (web.pages renders the actor) while web.participation.setup has not run on this app."""
    if visits.VISITS not in request.app:
        return None
    async with runtime(request).sessions() as session:
        actor = await actor_service.local_actor(session, username)
        if actor is None:
            return None
        if actor.type == "Group":
            discussion = await discussion_service.by_group(session, actor)
            if discussion is not None:
                # A discussion the visitor may not read has no group either: the 404 of a missing
                # handle, not a redirect that tells it exists (SECURITY.md rule 24).
                if not await can_see(session, await current_user(request), discussion.organization, discussion):
                    raise not_found(request)
                raise web.HTTPFound(discussion.page_ap_id)
            if await coalition_service.of_actor(session, actor) is None:
                return None
    if actor.type == "Group":  # a coalition hosted here: its page (web/participation/coalitions.py)
        from web.participation.coalitions import coalition_page  # it imports this module

        return await coalition_page(request, username)
    if actor.type != "Organization":
        return None
    return await organisation_page(request, username)


async def follow_organisation(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/follow: a logged-in person follows (or, with action=unfollow, leaves) it."""
    form = await read_form(request)
    rt = runtime(request)
    back = rt.uris.organization_page(request.match_info["org"])
    user = await require_user(request, back)
    async with transaction(rt.sessions) as session:
        org = await organisation(session, request)
        me = await person(session, user)
        if form.get("action") == "unfollow":
            if await follows.find(session, me, org) is not None:
                await follows.unfollow(session, me, org)
        else:
            try:
                await follows.request_follow(session, rt.uris, me, org)
            except CivicError:
                raise forbidden() from None
    raise web.HTTPSeeOther(f"{back}#community")


async def answer_follow_request(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/follow-requests/{id}: an admin accepts (``action=accept``: Accept sent) or
    rejects (``action=reject``: Reject sent) a request to follow a gated organisation."""
    form = await read_form(request)
    rt = runtime(request)
    back = rt.uris.organization_page(request.match_info["org"])
    user = await require_user(request, back)
    if form.get("action") not in ("accept", "reject"):
        raise web.HTTPBadRequest(text=translate(request, _("Choose to accept or to reject the request.")))
    async with transaction(rt.sessions) as session:
        org = await organisation(session, request)
        await require_role(session, user, org, ADMINS)
        pending = {f.id: f for f, _ in await follows.pending_requests(session, org)}
        follow = pending.get(row_id(request.match_info["id"]))
        if follow is None:  # answered meanwhile, withdrawn by the follower, or never there
            raise web.HTTPNotFound(text=translate(request, _("This follow request is no longer waiting.")))
        await (follows.accept if form["action"] == "accept" else follows.reject)(session, follow)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(f"{back}#follow-requests")


async def become_ambassador(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/ambassador: a logged-in person becomes an ambassador (and a follower)."""
    await read_form(request)
    rt = runtime(request)
    back = rt.uris.organization_page(request.match_info["org"])
    user = await require_user(request, back)
    async with transaction(rt.sessions) as session:
        org = await organisation(session, request)
        await actor_service.add_member(session, user, org, "ambassador")
        me = await person(session, user)
        await follows.request_follow(session, rt.uris, me, org)
    raise web.HTTPSeeOther(f"{back}#community")


async def organisation_alias(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}: the organisation's page lives at its actor id."""
    raise web.HTTPMovedPermanently(runtime(request).uris.organization_page(request.match_info["org"]))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/orgs/{org}", organisation_alias)
    app.router.add_get("/orgs/{org}/theme.css", theme_css, name="organisation-theme")
    app.router.add_post("/orgs/{org}/follow", follow_organisation)
    app.router.add_post("/orgs/{org}/ambassador", become_ambassador)
    app.router.add_post(r"/orgs/{org}/follow-requests/{id:\d+}", answer_follow_request)
