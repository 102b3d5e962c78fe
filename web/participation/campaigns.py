"""Campaigns on the web: a coalition's admins publish one (texts and a kit per language), its page
with the kit, the members' variants and the support button; a member organisation adapts it (its
variant and the variant's page); the coalition's dashboard and its printable report (HTML, CSV, JSON).

Everything here is under the coalition's visibility (node/visibility.py): a campaign of a coalition
the reader may not read is the 404 of a missing page, and the dashboard and the report of a
coalition that is not public are for its admins only, sent with ``Cache-Control: no-store``."""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from datetime import date, datetime, timedelta

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node import changes, visibility
from node.db import transaction
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.models import Actor, Campaign, CampaignVariant, Coalition, User
from node.services import campaigns as campaign_service
from node.services import coalition_report, media, reactions
from node.services import coalitions as coalition_service
from node.services.i18n import LANGUAGES
from web.cache import depends
from web.i18n import _, locale_of, translate
from web.participation import charts
from web.participation.coalitions import administered, host_of, readable
from web.participation.common import (
    ADMINS,
    as_text,
    forbidden,
    not_found,
    now,
    organisation,
    page,
    paragraphs,
    person,
    require_role,
    require_user,
    runtime,
    wants_as2,
)
from web.participation.limits import (
    check_lengths,
    check_translations,
    oversize_errors,
    read_form_keeping,
)
from web.render import add_vary, current_user

# What people may type, in characters: refused above, never cut (web/participation/limits.py).
CAMPAIGN_LIMITS = {"name": campaign_service.MAX_NAME, "summary": 1000,
                   "content": campaign_service.MAX_TEXT, "message": 5000, "alt": 200}
VARIANT_LIMITS = {"title": campaign_service.MAX_NAME, "text": campaign_service.MAX_TEXT}
# The texts, and one image per language (web/participation/admin.py LOGO_FORM).
CAMPAIGN_FORM = len(LANGUAGES) * media.MAX_IMAGE + 256 * 1024
VARIANT_FORM = media.MAX_IMAGE + 64 * 1024
IMAGE_PROBLEMS = {"empty": _("Choose an image file."), "large": _("The image is limited to 512 KB."),
                  "type": _("The image must be a PNG, JPEG or WebP file.")}
GROWTH_DAYS = 366  # the growth chart's longest span


def _token_ok(token: str) -> bool:
    return 0 < len(token) <= 64 and token.isascii() and all(c.isalnum() or c in "-_" for c in token)


# -- the campaign form (the coalition's admins) ---------------------------------------------------

def _campaign_values(form: dict, languages: list[str]) -> dict:
    values = {}
    for lang in languages:
        for name in ("name", "summary", "content", "message", "alt"):
            values[f"{name}_{lang}"] = (form.get(f"{name}_{lang}") or "").strip()
    return values


def _per_language(values: dict, name: str, languages: list[str]) -> dict[str, str]:
    return {lang: values[f"{name}_{lang}"] for lang in languages if values.get(f"{name}_{lang}")}


async def campaign_form(request: web.Request) -> web.StreamResponse:
    """GET /coalitions/{handle}/campaigns/new."""
    user = await require_user(request)
    async with runtime(request).sessions() as session:
        coalition, actor = await administered(session, request, user)
    return await page(request, "participation/campaign_form.html",
                      {"org": actor, "coalition": coalition, "values": {}})


async def create_campaign(request: web.Request) -> web.StreamResponse:
    """POST /coalitions/{handle}/campaigns/new: the texts per language, and a kit of one message
    and one visual (an image checked by its content, node/services/media.py) per language."""
    rt = runtime(request)
    files = tuple(f"visual_{lang}" for lang in LANGUAGES)
    form, oversize = await read_form_keeping(request, files=files, max_size=CAMPAIGN_FORM)
    user = await require_user(request)
    async with rt.sessions() as session:
        coalition, actor = await administered(session, request, user)
    languages = list(coalition.languages)
    values = _campaign_values(form, languages)
    errors: dict[str, str] = {}
    for name, limit in CAMPAIGN_LIMITS.items():
        check_translations(request, errors, name, _per_language(values, name, languages), limit)
    if not _per_language(values, "name", languages) and "name" not in errors:
        errors["name"] = translate(request, _("Give the campaign a name in at least one language."))
    images: dict[str, bytes] = {}
    for lang in languages:
        data = form.get(f"visual_{lang}") or b""
        if not data or oversize is not None:
            continue
        if problem := media.problem_with(data):
            errors[f"visual_{lang}"] = translate(request, IMAGE_PROBLEMS[problem])
        elif not values[f"alt_{lang}"]:
            errors[f"alt_{lang}"] = translate(request, _("Describe the visual for people who cannot see it."))
        else:
            images[lang] = data
    status = oversize_errors(request, errors, oversize, CAMPAIGN_LIMITS, fallback="content")
    if errors:
        return await page(request, "participation/campaign_form.html",
                          {"org": actor, "coalition": coalition, "values": values, "errors": errors},
                          status=status)
    kit = []
    for lang in languages:
        if values[f"message_{lang}"]:
            kit.append({"language": lang, "kind": "message", "name": "",
                        "content": paragraphs(values[f"message_{lang}"])})
        if lang in images:
            path = await asyncio.to_thread(media.save_image, rt.settings.data_dir, images[lang])
            kit.append({"language": lang, "kind": "visual", "name": values[f"alt_{lang}"], "url": path,
                        "media_type": media.media_type_of(path)})
    async with transaction(rt.sessions) as session:
        _coalition, actor = await administered(session, request, user)
        try:
            campaign = await campaign_service.create(
                session, rt.uris, actor, name=_per_language(values, "name", languages),
                summary=_per_language(values, "summary", languages),
                content={lang: paragraphs(text) for lang, text in
                         _per_language(values, "content", languages).items()},
                kit=kit)
        except InvalidInput:
            errors["content"] = translate(request, _("Check the texts of the campaign."))
    if errors:
        return await page(request, "participation/campaign_form.html",
                          {"org": actor, "coalition": coalition, "values": values, "errors": errors},
                          status=400)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(campaign.ap_id)


# -- the campaign's page ---------------------------------------------------------------------------

async def _campaign(session: AsyncSession, request: web.Request, user: User | None
                    ) -> tuple[Campaign, Coalition, Actor]:
    """The local campaign of the URL when its coalition admits the reader, else the 404 of a
    missing one (a deleted one: 410)."""
    token = request.match_info["token"]
    campaign = await campaign_service.by_ap_id(session, runtime(request).uris.campaign(token)) \
        if _token_ok(token) else None
    if campaign is None or not campaign.local:
        raise not_found(request)
    coalition = await session.scalar(select(Coalition).where(Coalition.actor_id == campaign.coalition_id))
    if coalition is None:
        raise not_found(request)
    coalition, actor = await readable(session, request, user,
                                      (await session.get(Actor, coalition.actor_id)).username)
    if campaign.deleted_at is not None:
        raise web.HTTPGone(text=translate(request, _("This campaign was withdrawn.")))
    depends(request, changes.campaign(campaign.id), changes.profile(actor.id),
            instead_of=(changes.org(actor.id),))
    return campaign, coalition, actor


def page_language(request: web.Request, campaign: Campaign, languages: list[str]) -> str:
    """The language a support from this page is counted in: the page's when the campaign speaks
    it, else the campaign's first."""
    lang = locale_of(request)
    return lang if lang in (campaign.name or {}) or lang in languages else \
        campaign_service.first_language(campaign) or languages[0]


def kit_by_language(campaign: Campaign, first: str) -> OrderedDict:
    """{language: [kit items]}, the page's language first."""
    grouped: OrderedDict[str, list] = OrderedDict()
    for item in sorted(campaign.kit or [], key=lambda i: (i.get("language") != first, i.get("language"))):
        grouped.setdefault(item.get("language", ""), []).append(item)
    return grouped


def safe_media(url: str | None) -> str | None:
    """A visual's address shown in a page: our own /media paths only (SECURITY.md rule 20)."""
    return url if url and media.media_type_of(url) else None


VARIANTS_SHOWN = 30  # the most supported; the page says how many there are in all


async def campaign_context(session: AsyncSession, request: web.Request, campaign: Campaign,
                           coalition: Coalition, actor: Actor, user: User | None) -> dict:
    me = await person(session, user) if user else None
    lang = page_language(request, campaign, coalition.languages)
    variants, variant_count = await campaign_service.most_supported_variants(session, campaign, VARIANTS_SHOWN)
    return {
        "org": actor, "coalition": coalition, "campaign": campaign, "support_language": lang,
        "kit": kit_by_language(campaign, lang), "variants": variants, "variant_count": variant_count,
        "supported": await reactions.has(session, campaign_service.CAMPAIGN_SUPPORT, campaign, me),
        "is_admin": await coalition_service.may_administer(session, user, actor),
        "host_of": host_of, "safe_media": safe_media,
    }


async def campaign_page(request: web.Request) -> web.StreamResponse:
    """GET /campaigns/{token}: the texts, the kit per language, the members' variants, the count
    and the support button (AS2: federation/campaign_objects.py)."""
    if wants_as2(request):
        from federation import campaign_objects  # the federation part's module

        return await campaign_objects.campaign_document(request, request.match_info["token"])
    user = await current_user(request)
    async with runtime(request).sessions() as session:
        campaign, coalition, actor = await _campaign(session, request, user)
        context = await campaign_context(session, request, campaign, coalition, actor, user)
    response = await page(request, "participation/campaign.html", context)
    add_vary(response, "Accept")
    return response


async def support_campaign(request: web.Request) -> web.StreamResponse:
    """POST /campaigns/{token}/support: a signed-in person supports the campaign (counted once, in
    the page's language, through no member), or takes the support back (a toggle)."""
    form, _oversize = await read_form_keeping(request)
    rt = runtime(request)
    back = rt.uris.campaign(request.match_info["token"]) if _token_ok(request.match_info["token"]) else "/"
    user = await require_user(request, back)
    async with transaction(rt.sessions) as session:
        campaign, coalition, _actor = await _campaign(session, request, user)
        me = await person(session, user)
        spec = campaign_service.CAMPAIGN_SUPPORT
        if await reactions.has(session, spec, campaign, me):
            await reactions.withdraw(session, spec, me, target=campaign)
        else:
            language = form.get("language") or ""
            if language not in coalition.languages:
                language = page_language(request, campaign, coalition.languages)
            try:
                await campaign_service.support(session, rt.uris, campaign, me, language=language)
            except (Conflict, NotFound):
                raise web.HTTPConflict(text=translate(request, _("This campaign cannot be supported now."))) \
                    from None
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(f"{campaign.ap_id}#support")


# -- variants: a member organisation adapts a campaign --------------------------------------------

async def _campaign_to_adapt(session: AsyncSession, request: web.Request, org: Actor) -> Campaign:
    """The campaign of the URL for a member organisation: ours (``/campaigns/<token>``), or one a
    coalition elsewhere sent us, named by the last part of its id; 404 otherwise."""
    token = request.match_info["token"]
    if not _token_ok(token):
        raise not_found(request)
    campaign = await campaign_service.by_ap_id(session, runtime(request).uris.campaign(token))
    if campaign is None:
        rows = list(await session.scalars(select(Campaign).where(
            Campaign.ap_id.endswith(f"/{token}", autoescape=True), Campaign.local.is_(False)).limit(20)))
        for row in rows:
            if await coalition_service.is_member(session, row.coalition_id, org.id):
                campaign = row
                break
    if campaign is None or campaign.deleted_at is not None:
        raise not_found(request)
    if not await coalition_service.is_member(session, campaign.coalition_id, org.id):
        raise forbidden(_("Only the coalition's member organisations can adapt its campaigns."))
    return campaign


def _campaign_languages(campaign: Campaign) -> list[str]:
    used = [*campaign.name, *campaign.content, *(i.get("language") for i in campaign.kit or [])]
    return [lang for lang in LANGUAGES if lang in used] or list(LANGUAGES)


async def _variant_form_context(session: AsyncSession, org: Actor, campaign: Campaign) -> dict:
    coalition = await session.get(Actor, campaign.coalition_id)
    return {"org": org, "campaign": campaign, "coalition_actor": coalition,
            "campaign_languages": _campaign_languages(campaign), "host_of": host_of,
            "kit": kit_by_language(campaign, _campaign_languages(campaign)[0]), "safe_media": safe_media,
            "action": request_path(org, campaign)}


def request_path(org: Actor, campaign: Campaign) -> str:
    return f"/orgs/{org.username}/campaigns/{campaign.ap_id.rstrip('/').rsplit('/', 1)[-1]}/adapt"


async def variant_form(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/campaigns/{token}/adapt: the campaign's texts to start from."""
    user = await require_user(request)
    async with runtime(request).sessions() as session:
        org = await organisation(session, request)
        await require_role(session, user, org, ADMINS)
        campaign = await _campaign_to_adapt(session, request, org)
        context = await _variant_form_context(session, org, campaign)
    lang = context["campaign_languages"][0]
    values = {"language": lang, "title": (campaign.name or {}).get(lang, ""),
              "text": as_text((campaign.content or {}).get(lang, ""))}
    return await page(request, "participation/variant_form.html", {**context, "values": values})


async def adapt(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/campaigns/{token}/adapt: publish the organisation's variant (language,
    title, text, an optional visual) to its followers and to the coalition."""
    rt = runtime(request)
    form, oversize = await read_form_keeping(request, files=("visual",), max_size=VARIANT_FORM)
    user = await require_user(request)
    values = {k: (form.get(k) or "").strip() for k in ("language", "title", "text")}
    errors: dict[str, str] = {}
    check_lengths(request, errors, values, VARIANT_LIMITS)
    if len(values["title"]) < 3 and "title" not in errors:
        errors["title"] = translate(request, _("The title needs between 3 and 300 characters."))
    if not values["text"] and "text" not in errors:
        errors["text"] = translate(request, _("Write the text of your variant."))
    if values["language"] not in LANGUAGES:
        errors["language"] = translate(request, _("Choose a language."))
    image = form.get("visual") or b""
    if image and oversize is None and (problem := media.problem_with(image)):
        errors["visual"] = translate(request, IMAGE_PROBLEMS[problem])
    status = oversize_errors(request, errors, oversize, VARIANT_LIMITS, fallback="text")
    async with rt.sessions() as session:
        org = await organisation(session, request)
        await require_role(session, user, org, ADMINS)
        campaign = await _campaign_to_adapt(session, request, org)
        context = await _variant_form_context(session, org, campaign)
    if not errors:
        path = await asyncio.to_thread(media.save_image, rt.settings.data_dir, image) if image else None
        async with transaction(rt.sessions) as session:
            org = await organisation(session, request)
            campaign = await _campaign_to_adapt(session, request, org)
            try:
                variant = await campaign_service.adapt(
                    session, rt.uris, org, campaign, language=values["language"], name=values["title"],
                    content_html=paragraphs(values["text"]), visual_url=path,
                    visual_media_type=media.media_type_of(path) if path else None)
            except Conflict:
                errors["language"] = translate(
                    request, _("Your organisation has a variant in this language already."))
                status = 409
            except Forbidden:
                raise forbidden(_("Only the coalition's member organisations can adapt its campaigns.")) \
                    from None
            except (InvalidInput, NotFound):
                errors["text"] = translate(request, _("Check the title and the text."))
    if errors:
        return await page(request, "participation/variant_form.html",
                          {**context, "values": values, "errors": errors}, status=status)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(variant.ap_id)


async def _variant(session: AsyncSession, request: web.Request, user: User | None
                   ) -> tuple[CampaignVariant, Campaign]:
    """A variant made here, when the reader may read its campaign (a local coalition's
    visibility), else the 404 of a missing one."""
    token = request.match_info["token"]
    variant = await campaign_service.variant_by_ap_id(session, runtime(request).uris.variant(token)) \
        if _token_ok(token) else None
    if variant is None or not variant.local or variant.deleted_at is not None:
        raise not_found(request)
    campaign = await session.get(Campaign, variant.campaign_id)
    if campaign.local:  # under its coalition's visibility
        await readable(session, request, user, (await session.get(Actor, campaign.coalition_id)).username)
    depends(request, changes.campaign(campaign.id), changes.profile(variant.organization_id))
    return variant, campaign


async def variant_page(request: web.Request) -> web.StreamResponse:
    """GET /variants/{token} (AS2: federation/campaign_objects.py)."""
    if wants_as2(request):
        from federation import campaign_objects  # the federation part's module

        return await campaign_objects.variant_document(request, request.match_info["token"])
    user = await current_user(request)
    async with runtime(request).sessions() as session:
        variant, campaign = await _variant(session, request, user)
        me = await person(session, user) if user else None
        context = {
            "org": variant.organization, "variant": variant, "campaign": campaign,
            "coalition_actor": await session.get(Actor, campaign.coalition_id),
            "supported": await reactions.has(session, campaign_service.VARIANT_SUPPORT, variant, me),
            "safe_media": safe_media, "host_of": host_of,
        }
    response = await page(request, "participation/variant.html", context)
    add_vary(response, "Accept")
    return response


async def support_variant(request: web.Request) -> web.StreamResponse:
    """POST /variants/{token}/support: a toggle. The organisation relays each support and its
    withdrawal to the coalition's home; when the home is this node, the outbox counts it here,
    credited to the organisation (federation/outbound/campaigns.py)."""
    await read_form_keeping(request)
    rt = runtime(request)
    back = rt.uris.variant(request.match_info["token"]) if _token_ok(request.match_info["token"]) else "/"
    user = await require_user(request, back)
    async with transaction(rt.sessions) as session:
        variant, _campaign = await _variant(session, request, user)
        try:
            await reactions.toggle(session, rt.uris, campaign_service.VARIANT_SUPPORT, variant,
                                   await person(session, user))
        except (Conflict, NotFound):
            raise web.HTTPConflict(text=translate(request, _("This campaign cannot be supported now."))) \
                from None
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(f"{variant.ap_id}#support")


# -- the dashboard and the report (the coalition's admins; everyone when it is public) -------------

async def _reporting(session: AsyncSession, request: web.Request, user: User | None
                     ) -> tuple[Coalition, Actor]:
    """A public coalition's dashboard and report are everyone's; others' are its admins'."""
    coalition, actor = await readable(session, request, user)
    if coalition.visibility != visibility.PUBLIC:
        if user is None:
            raise not_found(request)
        if not await coalition_service.may_administer(session, user, actor):
            raise forbidden(_("Only the coalition's admins can do this."))
    return coalition, actor


def _private(response: web.StreamResponse, coalition: Coalition) -> web.StreamResponse:
    if coalition.visibility != visibility.PUBLIC:
        response.headers["Cache-Control"] = "no-store"
    return response


def daily_series(days: dict[date, int], today: date) -> list[tuple[date, int]]:
    """Every day from the eve of the first support (at most GROWTH_DAYS ago) to today, zeros
    included: a campaign supported on one day still draws a line from nothing to its count."""
    if not days:
        return []
    start = max(min(days) - timedelta(days=1), today - timedelta(days=GROWTH_DAYS - 1))
    end = max(today, max(days))
    return [(start + timedelta(n), days.get(start + timedelta(n), 0)) for n in range((end - start).days + 1)]


def cumulative(series: list[tuple[date, int]], before: int = 0) -> list[tuple[date, int]]:
    total, out = before, []
    for day, value in series:
        total += value
        out.append((day, total))
    return out


def _figures(request: web.Request, data: dict) -> dict:
    """The dashboard's tables and charts, from the report's data (the same figures)."""
    per_member: dict[str, dict] = {}
    per_language: dict[str, int] = {}
    days: dict[date, int] = {}
    for campaign in data["campaigns"]:
        for entry in campaign["per_member"]:
            key = (entry["member"] or {}).get("id", "")
            row = per_member.setdefault(key, {"member": entry["member"], "supports": 0})
            row["supports"] += entry["supports"]
        for lang, n in campaign["per_language"].items():
            per_language[lang] = per_language.get(lang, 0) + n
        for day in campaign["growth"]:
            moment = date.fromisoformat(day["day"])
            days[moment] = days.get(moment, 0) + day["supports"]
    series = daily_series(days, now().date())
    before = sum(n for d, n in days.items() if series and d < series[0][0])
    growth = cumulative(series, before)
    total, peak, _day = charts.describe(series)
    return {
        "per_member": sorted(per_member.values(), key=lambda e: -e["supports"]),
        "per_language": dict(sorted(per_language.items())),
        "series": series, "growth": growth,
        "growth_chart": charts.sparkline(
            growth, chart_id="chart-growth", title=translate(request, _("Supports over time")),
            description=translate(request, _("%(total)s supports in all, at most %(peak)s in one day."),
                                  total=data["totals"]["supports"], peak=peak)),
        "daily_chart": charts.bar_chart(
            series, chart_id="chart-daily", title=translate(request, _("New supports per day")),
            description=translate(request, _("%(total)s supports in all, at most %(peak)s in one day."),
                                  total=total, peak=peak)),
    }


async def _report_data(request: web.Request) -> tuple[Coalition, Actor, dict]:
    user = await current_user(request)
    async with runtime(request).sessions() as session:
        coalition, actor = await _reporting(session, request, user)
        data = await coalition_report.report(session, actor, locale_of(request))
    # Every campaign's supports change it (node/change_rules.py in_campaign: the coalition's org scope).
    return coalition, actor, data


async def dashboard(request: web.Request) -> web.StreamResponse:
    """GET /coalitions/{handle}/dashboard: members, posts (campaigns and variants), supports per
    member and per language, growth over time (server-rendered SVG)."""
    coalition, actor, data = await _report_data(request)
    context = {"org": actor, "coalition": coalition, "data": data, **_figures(request, data),
               "posts": len(data["campaigns"]) + sum(c["variants"] for c in data["campaigns"])}
    return _private(await page(request, "participation/coalition_dashboard.html", context), coalition)


async def report_page(request: web.Request) -> web.StreamResponse:
    """GET /coalitions/{handle}/report: the printable report (a print stylesheet; CSV and JSON
    beside it), the document handed to decision makers."""
    coalition, actor, data = await _report_data(request)
    context = {"org": actor, "coalition": coalition, "data": data, **_figures(request, data),
               "generated": datetime.fromisoformat(data["generated"])}
    return _private(await page(request, "participation/coalition_report.html", context), coalition)


def _attachment(actor: Actor, kind: str) -> str:
    return f'attachment; filename="{actor.username}-report.{kind}"'


async def report_csv(request: web.Request) -> web.StreamResponse:
    """GET /coalitions/{handle}/report.csv: one row per figure (node/services/coalition_report.py)."""
    coalition, actor, data = await _report_data(request)
    response = web.Response(text=coalition_report.to_csv(data), content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition": _attachment(actor, "csv")})
    return _private(response, coalition)


async def report_json(request: web.Request) -> web.StreamResponse:
    """GET /coalitions/{handle}/report.json: the report's data as it is."""
    coalition, actor, data = await _report_data(request)
    response = web.Response(text=json.dumps(data, ensure_ascii=False, indent=1),
                            content_type="application/json", charset="utf-8",
                            headers={"Content-Disposition": _attachment(actor, "json")})
    return _private(response, coalition)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/coalitions/{handle}/campaigns/new", campaign_form)
    app.router.add_post("/coalitions/{handle}/campaigns/new", create_campaign)
    app.router.add_get("/coalitions/{handle}/dashboard", dashboard)
    app.router.add_get("/coalitions/{handle}/report", report_page)
    app.router.add_get("/coalitions/{handle}/report.csv", report_csv)
    app.router.add_get("/coalitions/{handle}/report.json", report_json)
    app.router.add_get("/campaigns/{token}", campaign_page, name="campaign")
    app.router.add_post("/campaigns/{token}/support", support_campaign)
    app.router.add_get("/orgs/{org}/campaigns/{token}/adapt", variant_form)
    app.router.add_post("/orgs/{org}/campaigns/{token}/adapt", adapt)
    app.router.add_get("/variants/{token}", variant_page, name="variant")
    app.router.add_post("/variants/{token}/support", support_variant)
