"""Campaigns of coalitions: the coalition's campaign (texts per language and a kit), the member
organisations' adapted variants, and the supports counted at the coalition's home.

On the home, a support (``CAMPAIGN_SUPPORT``) is counted once per person per campaign and credited
to the member organisation whose variant it came through — only while that organisation is a member
— and to the language of what was liked. ``campaign_tallies`` keep those counts per (member,
language) and ``campaign_days`` per day, in the same transaction as each support, so the dashboard
and the report never count the supports themselves. On a member's node, a variant's supports
(``VARIANT_SUPPORT``) are counted on the variant and relayed, each one and each withdrawal, to the
home (FEDERATION.md "Coalitions and campaigns")."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from node import visibility
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.models import (
    Actor,
    Campaign,
    CampaignDay,
    CampaignSupport,
    CampaignTally,
    CampaignVariant,
    Coalition,
    Proposal,
    ProposalStates,
    VariantSupport,
    utcnow,
)
from node.services import coalitions, outbox, reactions
from node.services.i18n import LANGUAGES, text_map
from node.uris import Uris, new_token

CAMPAIGN_PUBLISHED = "campaign.published"  # the coalition's Create{Page} to followers and members
VARIANT_PUBLISHED = "campaign.variant_published"  # the organisation's Create{Page}
VARIANT_SUPPORT_CREATED = "campaign.variant_support_created"  # relayed to the home (Announce{Like})
VARIANT_SUPPORT_UNDONE = "campaign.variant_support_undone"  # relayed: Announce{Undo{Like}}
SUPPORT_CREATED = "campaign.support_created"  # a support counted at the home (nothing to send)
SUPPORT_UNDONE = "campaign.support_undone"
KIT_KINDS = ("message", "visual")
MAX_KIT = 40
_BLANK_OR_CONTROL = re.compile(r"[\x00-\x20\x7f]")  # what an id may not hold (is_http_id)
MAX_NAME = 300
MAX_TEXT = 20_000
NOT_A_MEMBER = "only the coalition's member organisations can adapt its campaigns"


def _host(ap_id: str) -> str:
    return urlsplit(ap_id).netloc.lower()


def checked_visual(url: str | None) -> str | None:
    """A visual's address: a path on this node (``/media/…``) or an http(s) URL — never a
    ``javascript:`` or ``data:`` one that a page would put in ``src`` or ``href``."""
    if not url:
        return None
    parts = urlsplit(url)
    local = url.startswith("/") and not url.startswith("//") and not parts.scheme
    if len(url) > 2048 or not (local or (parts.scheme in ("http", "https") and parts.netloc)):
        raise InvalidInput("a visual is an image stored here or an http(s) address")
    return url


# -- the campaign --------------------------------------------------------------------------------

def _kit(items, languages: list[str]) -> list[dict]:
    """Kit items: ``{"language", "kind": message|visual, "name", "content" (HTML, a message) or
    "url" + "media_type" (a visual)}``, in the campaign's languages."""
    if not isinstance(items, list) or len(items) > MAX_KIT:
        raise InvalidInput(f"a kit has at most {MAX_KIT} items")
    kit = []
    for item in items:
        if not isinstance(item, dict):
            raise InvalidInput("each kit item is a message or a visual")
        language, kind = item.get("language"), item.get("kind")
        if language not in languages:
            raise InvalidInput(f"a kit item's language is one of the campaign's: {', '.join(languages)}")
        if kind not in KIT_KINDS:
            raise InvalidInput("a kit item is a message or a visual")
        entry = {"language": language, "kind": kind, "name": str(item.get("name") or "")[:200]}
        if kind == "message":
            content = str(item.get("content") or "").strip()
            if not content or len(content) > MAX_TEXT:
                raise InvalidInput(f"a message needs a text of at most {MAX_TEXT} characters")
            entry["content"] = content
        else:
            url, media_type = str(item.get("url") or ""), str(item.get("media_type") or "")
            if not url or not media_type.startswith("image/"):
                raise InvalidInput("a visual needs an image")
            entry.update(url=checked_visual(url), media_type=media_type)
        kit.append(entry)
    return kit


def _texts(value, *, what: str, **kwargs) -> dict[str, str]:
    """``text_map`` of input a form, a CLI file or a script may give: anything but a text or a
    ``{language: text}`` map is refused with a reason."""
    if value is not None and not isinstance(value, str | dict) or isinstance(value, dict) and not all(
            isinstance(language, str) and isinstance(text, str | None) for language, text in value.items()):
        raise InvalidInput(f"{what}: a text, or a text per language")
    return text_map(value, what=what, **kwargs)


async def create(session: AsyncSession, uris: Uris, coalition_actor: Actor, *, name: dict | str,
                 summary: dict | str | None = None, content: dict | str | None = None,
                 kit: list | None = None) -> Campaign:
    """Publish a campaign of a coalition hosted here; its texts are in the coalition's languages
    (``content`` and kit messages are HTML the caller made)."""
    coalition = await coalitions.of_actor(session, coalition_actor)
    if coalition is None:
        raise NotFound("no such coalition on this node")
    names = _texts(name, required=True, what="the campaign's name", max_length=MAX_NAME)
    summaries = _texts(summary, what="the summary", max_length=1000)
    contents = _texts(content, what="the text", max_length=MAX_TEXT)
    used = set(names) | set(summaries) | set(contents)
    if not used <= set(coalition.languages):
        raise InvalidInput(f"the coalition writes in {', '.join(coalition.languages)}")
    now = utcnow()
    campaign = Campaign(ap_id=uris.campaign(new_token()), coalition_id=coalition_actor.id, local=True,
                        name=names, summary=summaries, content=contents,
                        kit=_kit(kit or [], coalition.languages), support_count=0,
                        created_at=now, published_at=now)
    campaign.url = campaign.ap_id
    session.add(campaign)
    await session.flush()
    if visibility.federates(coalition.visibility):
        await outbox.emit(session, CAMPAIGN_PUBLISHED, campaign_id=campaign.id)
    return campaign


async def by_ap_id(session: AsyncSession, ap_id: str | None) -> Campaign | None:
    if not ap_id:
        return None
    return await session.scalar(select(Campaign).where(Campaign.ap_id == ap_id))


async def of_coalition(session: AsyncSession, coalition_actor: Actor) -> list[Campaign]:
    return list(await session.scalars(select(Campaign).where(
        Campaign.coalition_id == coalition_actor.id, Campaign.deleted_at.is_(None))
        .order_by(Campaign.published_at.desc(), Campaign.id.desc())))


async def level(session: AsyncSession, campaign: Campaign) -> str:
    """A campaign's visibility level: its coalition's (a remote one was sent to us: public)."""
    coalition = await session.scalar(select(Coalition).where(Coalition.actor_id == campaign.coalition_id))
    return coalition.visibility if coalition is not None else visibility.PUBLIC


async def store_remote(session: AsyncSession, coalition_actor: Actor, *, ap_id: str, name: dict,
                       summary: dict, content: dict, kit: list, url: str | None,
                       published: datetime | None) -> Campaign:
    """A remote coalition's campaign, as it sent it (texts sanitised by the caller); sent again,
    it is updated. Only the coalition that made it can change it."""
    if coalition_actor.local or _host(ap_id) != _host(coalition_actor.ap_id):
        raise Forbidden("a campaign is published by its own coalition")
    campaign = await by_ap_id(session, ap_id)
    if campaign is not None and campaign.coalition_id != coalition_actor.id:
        raise Forbidden("this campaign belongs to another coalition")
    if campaign is None:
        campaign = Campaign(ap_id=ap_id, coalition_id=coalition_actor.id, local=False, support_count=0)
        session.add(campaign)
    campaign.name, campaign.summary, campaign.content, campaign.kit = name, summary, content, kit
    campaign.url, campaign.published_at = url, published or campaign.published_at or utcnow()
    await session.flush()
    return campaign


# -- variants -------------------------------------------------------------------------------------

async def adapt(session: AsyncSession, uris: Uris, org: Actor, campaign: Campaign, *, language: str,
                name: str, content_html: str, visual_url: str | None = None,
                visual_media_type: str | None = None) -> CampaignVariant:
    """A member organisation of this node adapts a campaign: its wording and its visual, in one
    language, published to its followers and to the coalition."""
    if not org.local or org.type != "Organization":
        raise InvalidInput("a variant is made by an organisation of this node")
    if campaign.deleted_at is not None:
        raise NotFound("no such campaign")
    if not await coalitions.is_member(session, campaign.coalition_id, org.id):
        raise Forbidden(NOT_A_MEMBER)
    if language not in LANGUAGES:
        raise InvalidInput(f"a variant is written in one of {', '.join(LANGUAGES)}")
    if not all(isinstance(text, str | None) for text in (name, content_html, visual_url, visual_media_type)):
        raise InvalidInput("a variant's title, text and visual are texts")
    name = (name or "").strip()
    if not 3 <= len(name) <= MAX_NAME:
        raise InvalidInput(f"the variant's title has 3 to {MAX_NAME} characters")
    if not (content_html or "").strip() or len(content_html) > 2 * MAX_TEXT:
        raise InvalidInput(f"the variant needs a text of at most {MAX_TEXT} characters")
    if visual_url and not (visual_media_type or "").startswith("image/"):
        raise InvalidInput("the visual must be an image")
    visual_url = checked_visual(visual_url)
    taken = await session.scalar(select(CampaignVariant.id).where(
        CampaignVariant.campaign_id == campaign.id, CampaignVariant.organization_id == org.id,
        CampaignVariant.language == language, CampaignVariant.deleted_at.is_(None)))
    if taken is not None:
        raise Conflict(f"{org.username} has a variant in {language} already")
    variant = CampaignVariant(ap_id=uris.variant(new_token()), campaign_id=campaign.id,
                              organization_id=org.id, local=True, language=language, name=name,
                              content=content_html, visual_url=visual_url or None,
                              visual_media_type=visual_media_type if visual_url else None,
                              support_count=0)
    variant.organization = org
    session.add(variant)
    await session.flush()
    await outbox.emit(session, VARIANT_PUBLISHED, variant_id=variant.id)
    return variant


async def variant_by_ap_id(session: AsyncSession, ap_id: str | None) -> CampaignVariant | None:
    if not ap_id:
        return None
    return await session.scalar(select(CampaignVariant).where(CampaignVariant.ap_id == ap_id))


async def variants(session: AsyncSession, campaign: Campaign) -> list[CampaignVariant]:
    return list(await session.scalars(select(CampaignVariant).where(
        CampaignVariant.campaign_id == campaign.id, CampaignVariant.deleted_at.is_(None))
        .order_by(CampaignVariant.language, CampaignVariant.id)))


async def most_supported_variants(session: AsyncSession, campaign: Campaign, limit: int
                                  ) -> tuple[list[CampaignVariant], int]:
    """The ``limit`` most supported variants of a campaign and how many it has in all (a campaign
    of 250 member organisations lists its first ones on its page, not all of them)."""
    live = (CampaignVariant.campaign_id == campaign.id, CampaignVariant.deleted_at.is_(None))
    rows = await session.scalars(select(CampaignVariant).where(*live).order_by(
        CampaignVariant.support_count.desc(), CampaignVariant.id).limit(limit))
    total = await session.scalar(select(func.count()).select_from(CampaignVariant).where(*live)) or 0
    return list(rows), total


async def variants_of(session: AsyncSession, org: Actor) -> list[CampaignVariant]:
    return list(await session.scalars(select(CampaignVariant).where(
        CampaignVariant.organization_id == org.id, CampaignVariant.deleted_at.is_(None))
        .order_by(CampaignVariant.created_at.desc(), CampaignVariant.id.desc())))


async def listed_variants_of(session: AsyncSession, org: Actor, listed_coalitions: Collection[int],
                             limit: int) -> list[tuple[CampaignVariant, Campaign]]:
    """The organisation's own live variants of live campaigns, newest first, at most ``limit``,
    each with its campaign — those a reader may see listed: a campaign of a coalition elsewhere
    (sent to us, so ``public``: :func:`level`) or of one hosted here whose level is listed to
    everyone (node/visibility.py ``listed_levels(NOBODY)``), or a campaign of one of
    ``listed_coalitions`` (the coalitions hosted here the caller found listed to its reader,
    node/visibility.py ``lists``). One query."""
    open_to_all = visibility.level_in(visibility.listed_levels(visibility.NOBODY), Coalition.visibility)
    rows = await session.execute(
        select(CampaignVariant, Campaign)
        .join(Campaign, Campaign.id == CampaignVariant.campaign_id)
        .outerjoin(Coalition, Coalition.actor_id == Campaign.coalition_id)
        .where(CampaignVariant.organization_id == org.id, CampaignVariant.local.is_(True),
               CampaignVariant.deleted_at.is_(None), Campaign.deleted_at.is_(None),
               or_(open_to_all, Campaign.coalition_id.in_(list(listed_coalitions))))
        .order_by(CampaignVariant.created_at.desc(), CampaignVariant.id.desc())
        .limit(limit))
    return [(variant, campaign) for variant, campaign in rows]


async def store_remote_variant(session: AsyncSession, campaign: Campaign, org: Actor, *, ap_id: str,
                               language: str, name: str, content: str, visual_url: str | None,
                               visual_media_type: str | None) -> CampaignVariant:
    """On the home: a member organisation's variant of one of our campaigns (so that supports
    relayed through it are credited to it). Only an accepted member may register one, and only
    its own; sent again, it is updated."""
    if org.local or _host(ap_id) != _host(org.ap_id):
        raise Forbidden("a variant is published by its own organisation")
    if not campaign.local or campaign.deleted_at is not None:
        raise NotFound("no such campaign on this node")
    variant = await variant_by_ap_id(session, ap_id)
    if variant is not None and variant.organization_id != org.id:
        raise Forbidden("this variant belongs to another organisation")
    if variant is None:
        if not await coalitions.is_member(session, campaign.coalition_id, org.id):
            raise Forbidden(NOT_A_MEMBER)
        variant = CampaignVariant(ap_id=ap_id, campaign_id=campaign.id, organization_id=org.id,
                                  local=False, language=language, support_count=0)
        session.add(variant)
    variant.language, variant.name, variant.content = language[:16], name[:MAX_NAME], content
    variant.visual_url, variant.visual_media_type = visual_url, visual_media_type
    await session.flush()
    return variant


# -- supports on a member's node: Likes of a variant, relayed to the home --------------------------

async def _variant_open(session: AsyncSession, variant: CampaignVariant, actor: Actor) -> None:
    if variant.deleted_at is not None or not variant.local:
        raise NotFound("no such variant on this node")


def at_home_id(variant_support_ap_id: str) -> str:
    """The id of the campaign support a variant's support is counted as when the coalition is
    hosted here too (ids are unique across kinds of reactions; this one is never sent)."""
    return f"{variant_support_ap_id}#campaign"


async def _count_at_home(session: AsyncSession, row: VariantSupport, delta: int) -> None:
    """A variant of a campaign of this very node (a local member organisation): its support is
    counted at the home at once, in the same transaction — there is nothing to relay. Elsewhere
    the organisation relays it (federation/outbound/campaigns.py)."""
    variant = await session.get(CampaignVariant, row.variant_id)
    campaign = await session.get(Campaign, variant.campaign_id) if variant else None
    if campaign is None or not campaign.local or campaign.deleted_at is not None:
        return
    supporter = await session.get(Actor, row.actor_id)
    if delta > 0:
        organization = await session.get(Actor, variant.organization_id)
        await support(session, None, campaign, supporter, like_ap_id=at_home_id(row.ap_id),
                      variant=variant, relayed_by=organization)
    else:
        await reactions.withdraw(session, CAMPAIGN_SUPPORT, supporter, ap_id=at_home_id(row.ap_id))


VARIANT_SUPPORT = reactions.Reaction(
    "variant_support", VariantSupport, CampaignVariant, "variant_id", "support_count",
    VARIANT_SUPPORT_CREATED, "variant_support_id", VARIANT_SUPPORT_UNDONE,
    ("like_ap_id", "variant_id"), relays=True, state=_variant_open, tally=_count_at_home)


async def support_variant(session: AsyncSession, uris: Uris, variant: CampaignVariant, actor: Actor,
                          like_ap_id: str | None = None) -> bool:
    return await reactions.add(session, uris, VARIANT_SUPPORT, variant, actor, like_ap_id)


# -- supports at the home ----------------------------------------------------------------------------

def _insert(session: AsyncSession):
    return sqlite_insert if session.bind.dialect.name == "sqlite" else pg_insert


async def _tally(session: AsyncSession, row: CampaignSupport, delta: int) -> None:
    """Keep the per-(member, language) and per-day counts with the support (one upsert each)."""
    day = (row.created_at or utcnow()).date()
    await add_to_tallies(session, {(row.campaign_id, row.member_id or 0, row.language or ""): delta},
                         {(row.campaign_id, day): delta})


async def add_to_tallies(session: AsyncSession, tallies: dict[tuple[int, int, str], int],
                         days: dict[tuple[int, date], int]) -> None:
    """Add ``tallies`` {(campaign, member key, language): delta} and ``days`` {(campaign, day):
    delta}: one upsert statement each (executed for every key), counted in SQL (concurrent supports
    never overwrite each other)."""
    insert = _insert(session)
    if tallies:
        tally = insert(CampaignTally)
        await session.execute(tally.on_conflict_do_update(
            index_elements=["campaign_id", "member_key", "language"],
            set_={"supports": CampaignTally.supports + tally.excluded.supports}),
            [{"campaign_id": c, "member_key": m, "language": lang, "supports": delta}
             for (c, m, lang), delta in tallies.items()])
    if days:
        daily = insert(CampaignDay)
        await session.execute(daily.on_conflict_do_update(
            index_elements=["campaign_id", "day"],
            set_={"supports": CampaignDay.supports + daily.excluded.supports}),
            [{"campaign_id": c, "day": day, "supports": delta} for (c, day), delta in days.items()])


async def _campaign_open(session: AsyncSession, campaign: Campaign, actor: Actor) -> None:
    if campaign.deleted_at is not None:
        raise NotFound("no such campaign")
    if not campaign.local:
        raise Conflict("a campaign's supports are counted at its coalition's home")


CAMPAIGN_SUPPORT = reactions.Reaction(
    "campaign_support", CampaignSupport, Campaign, "campaign_id", "support_count",
    SUPPORT_CREATED, "support_id", SUPPORT_UNDONE, ("support_ap_id", "campaign_id"),
    state=_campaign_open, tally=_tally)


def first_language(campaign: Campaign, languages: list[str] | tuple[str, ...] | None = None) -> str:
    """The campaign's first language: the first of ``languages`` (its coalition's, in their
    order) it is named in, else of the node's. Never the first key of its ``name``: PostgreSQL
    keeps JSON keys in an order of its own (``de`` before ``fr``), SQLite as they were written."""
    named = campaign.name or {}
    for language in (*(languages or ()), *LANGUAGES):
        if language in named:
            return language
    return min(named, default="")


async def coalition_languages(session: AsyncSession, campaign: Campaign) -> list[str]:
    """The languages of the campaign's coalition, in its order ([] for a remote one)."""
    languages = await session.scalar(select(Coalition.languages).where(
        Coalition.actor_id == campaign.coalition_id))
    return list(languages or [])


async def support(session: AsyncSession, uris: Uris, campaign: Campaign, supporter: Actor, *,
                  like_ap_id: str | None = None, variant: CampaignVariant | None = None,
                  relayed_by: Actor | None = None, language: str | None = None) -> bool:
    """Count ``supporter``'s support of a campaign of ours, once; False when it was counted
    already. Through ``variant``: credited to its organisation while it is a member, in its
    language; else to no member, in ``language`` (the page's) or the campaign's first."""
    if variant is not None and variant.campaign_id != campaign.id:
        raise InvalidInput("this variant is of another campaign")
    member_id = None
    if variant is not None and await coalitions.is_member(session, campaign.coalition_id,
                                                          variant.organization_id):
        member_id = variant.organization_id
    if not language:
        language = variant.language if variant else \
            first_language(campaign, await coalition_languages(session, campaign))
    values = {"variant_id": variant.id if variant else None, "member_id": member_id,
              "language": language[:16],
              "relayed_by_id": relayed_by.id if relayed_by else None, "created_at": utcnow()}
    return await reactions.add(session, uris, CAMPAIGN_SUPPORT, campaign, supporter, like_ap_id, values)


async def withdraw_relayed(session: AsyncSession, like_ap_id: str, relayer: Actor) -> bool:
    """A member organisation relays that a support it relayed was taken back (Undo, erasure):
    only what that organisation relayed can go."""
    row = await session.scalar(select(CampaignSupport).where(
        CampaignSupport.ap_id == like_ap_id, CampaignSupport.relayed_by_id == relayer.id))
    if row is None:
        return False
    supporter = await session.get(Actor, row.actor_id)
    return await reactions.withdraw(session, CAMPAIGN_SUPPORT, supporter, ap_id=like_ap_id)


def is_http_id(ap_id) -> bool:
    """An http(s) URL with a host, of at most 2048 characters, without spaces or control characters."""
    if not isinstance(ap_id, str) or len(ap_id) > 2048 or _BLANK_OR_CONTROL.search(ap_id):
        return False
    try:
        parts = urlsplit(ap_id)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # a broken port or IPv6 address
        return False


async def supporter(session: AsyncSession, ap_id: str) -> Actor:
    """The actor a relayed support names: the row we have, else a minimal one (its id, host and
    handle; no inbox, no key — a support carries the supporter's actor and nothing more)."""
    if not is_http_id(ap_id):  # checked first: a NUL or a broken id never reaches SQL
        raise InvalidInput("a supporter is named by an http(s) id")
    actor = await session.scalar(select(Actor).where(Actor.ap_id == ap_id))
    if actor is not None:
        return actor
    actor = stub_actor(ap_id)
    session.add(actor)
    await session.flush()
    return actor


def stub_values(ap_id: str) -> dict:
    """The columns of the minimal row of a supporter we never met (``ap_id`` checked by the
    caller); the table's defaults fill the rest."""
    return {"ap_id": ap_id, "type": "Person", "local": False, "domain": _host(ap_id),
            "username": ap_id.rstrip("/").rsplit("/", 1)[-1][:255] or _host(ap_id), "name": ""}


def stub_actor(ap_id: str) -> Actor:
    """The minimal row of a supporter we never met, as an ORM object."""
    return Actor(**stub_values(ap_id))


# -- what the dashboard and the report read ---------------------------------------------------------

@dataclass(frozen=True)
class Member:
    """What the breakdown's readers show of a member organisation (the report's ``_member``, the
    dashboard through it, the CLI and the tests): five columns of its actor row, never its
    ``document`` or keys."""
    id: int
    ap_id: str
    username: str
    name: str
    domain: str


@dataclass(frozen=True)
class Share:
    member: Member | None  # None: through the campaign itself, or a removed member's variant
    language: str
    supports: int


_MEMBER_COLUMNS = (Actor.id, Actor.ap_id, Actor.username, Actor.name, Actor.domain)


async def breakdown(session: AsyncSession, campaign: Campaign) -> list[Share]:
    """Supports per (member, language), most first: the tallies' rows with their member's
    columns (:class:`Member`, one per member), in one statement — never the supports, never an
    actor's ``document`` or keys, and plain rows (no ORM objects to build). A tally whose key names
    no actor (0: through no member) has no member."""
    connection = await session.connection()
    rows = (await connection.execute(
        select(CampaignTally.language, CampaignTally.supports, *_MEMBER_COLUMNS)
        .outerjoin(Actor, Actor.id == CampaignTally.member_key)
        .where(CampaignTally.campaign_id == campaign.id, CampaignTally.supports > 0))).all()
    members: dict[int, Member] = {}
    shares = []
    for language, supports, key, ap_id, username, name, domain in rows:
        member = None if key is None else members.get(key) or members.setdefault(
            key, Member(key, ap_id, username, name, domain))
        shares.append(Share(member, language, supports))
    return sorted(shares, key=lambda s: (-s.supports, s.member.name if s.member else "", s.language))


async def growth(session: AsyncSession, campaign: Campaign) -> list[tuple[date, int]]:
    """Supports per day, oldest first (the day each was given)."""
    rows = await session.execute(select(CampaignDay.day, CampaignDay.supports)
                                 .where(CampaignDay.campaign_id == campaign.id)
                                 .order_by(CampaignDay.day))
    return [(day, supports) for day, supports in rows]


async def total(session: AsyncSession, campaign: Campaign) -> int:
    """The tallies' sum: equal to ``campaign.support_count`` (tests check that they agree)."""
    return await session.scalar(select(func.coalesce(func.sum(CampaignTally.supports), 0))
                                .where(CampaignTally.campaign_id == campaign.id)) or 0


async def demands(session: AsyncSession, coalition_actor: Actor) -> list[Proposal]:
    """The coalition's shared demands (its published proposals), most supported first."""
    return list(await session.scalars(select(Proposal).where(
        Proposal.organization_id == coalition_actor.id, Proposal.state.in_(ProposalStates.PUBLIC),
        Proposal.deleted_at.is_(None)).order_by(Proposal.support_count.desc(), Proposal.id)))
