"""Coalitions on the web: the coalition's page (at its actor id, like an organisation's), founding
one, its member list for its admins (invite, answer Joins, remove, roles), and an organisation's
coalitions on its admin side (join one by its address, answer invitations, leave).

A coalition's visibility covers its page, its member list and everything under it as an
organisation's covers its things (node/visibility.py): a reader it does not admit gets the 404 of
a missing page. The member list is its admins' (node/visibility.py ``roles``: the admins of its
accepted admin member organisations)."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.fetch import FetchError
from federation.resolve import resolve_actor
from node import changes, visibility
from node.db import transaction
from node.errors import CivicError, Conflict, Forbidden, InvalidInput, NotFound
from node.models import Actor, Coalition, CoalitionMember, Membership, User
from node.models import CoalitionStates as S
from node.services import actors as actor_service
from node.services import campaigns as campaign_service
from node.services import coalitions as coalition_service
from node.services import discussions as discussion_service
from node.services import follows
from node.services import proposals as proposal_service
from node.services.i18n import LANGUAGES
from web.cache import depends, shows
from web.i18n import _, translate
from web.participation import polls as poll_pages
from web.participation.common import (
    ADMINS,
    discussion_stats,
    forbidden,
    not_found,
    organisation,
    page,
    require_role,
    require_user,
    row_id,
    runtime,
    standing_in,
)
from web.participation.limits import check_lengths, oversize_errors, read_form_keeping
from web.participation.organisations import profile_of, theme_version
from web.render import add_vary, current_user

# What people may type, in characters: refused above, never cut (web/participation/limits.py).
COALITION_LIMITS = {"handle": 64, "name": 200, "summary": 2000}
ADDRESS_LIMIT = 2048
ROLE_LABELS = {"admin": _("Admin"), "member": _("Member")}
STATE_LABELS = {S.requested: _("Asked to join"), S.invited: _("Invited"), S.accepted: _("Member")}
LAST_ADMIN = _("The last admin of a coalition cannot leave it, be removed or stop being an admin: "
               "make another member an admin first.")
NO_COALITION = _("No coalition was found at this address.")
ADDRESS_HINT = _("A handle here (lyon), @name@host for another node, or the address of its page.")
# What resolving an address elsewhere may raise: a reason to show, never a traceback.
RESOLVE_ERRORS = (CivicError, FetchError, aiohttp.ClientError, asyncio.TimeoutError, ValueError)


# -- loading a coalition -------------------------------------------------------------------------

async def load(session: AsyncSession, request: web.Request, handle: str | None = None
               ) -> tuple[Coalition, Actor]:
    """The coalition hosted here whose handle is in the URL, or the 404 of a missing page."""
    actor = await actor_service.local_actor(session, handle or request.match_info["handle"])
    coalition = await coalition_service.of_actor(session, actor)
    if coalition is None:
        raise not_found(request)
    return coalition, actor


async def readable(session: AsyncSession, request: web.Request, user: User | None,
                   handle: str | None = None) -> tuple[Coalition, Actor]:
    """The coalition when its visibility admits the visitor, else the 404 of a missing page."""
    coalition, actor = await load(session, request, handle)
    if not await visibility.may_read(session, visibility.Reader.of_user(user), actor.id,
                                     coalition.visibility):
        raise not_found(request)
    shows(request, coalition.visibility)  # web/cache.py
    depends(request, changes.org(actor.id), changes.profile(actor.id))
    return coalition, actor


async def administered(session: AsyncSession, request: web.Request, user: User,
                       handle: str | None = None) -> tuple[Coalition, Actor]:
    """The coalition for one of its admins; 403 for its other readers, 404 for everyone else."""
    coalition, actor = await readable(session, request, user, handle)
    if not await coalition_service.may_administer(session, user, actor):
        raise forbidden(_("Only the coalition's admins can do this."))
    return coalition, actor


def host_of(actor: Actor) -> str:
    """The node an organisation lives on (its id's host)."""
    return actor.domain or ""


# -- the coalition's page --------------------------------------------------------------------------

async def coalition_page(request: web.Request, handle: str) -> web.StreamResponse:
    """The HTML face of a coalition's Group actor: its members with their nodes, its campaigns,
    its shared demands and its joint discussions (the AS2 document is served by web.pages)."""
    user = await current_user(request)
    rt = runtime(request)
    async with rt.sessions() as session:
        coalition, actor = await readable(session, request, user, handle)
        listed = visibility.listed_levels(await standing_in(session, user, actor))
        discussions = await discussion_service.list_for(session, actor, status="open", levels=listed)
        profile = await profile_of(session, actor)
        members = await coalition_service.members(session, actor)
        context = {
            "org": actor,
            "coalition": coalition,
            "profile": profile,
            "theme_version": theme_version(profile),
            "handle": f"@{actor.username}@{rt.uris.domain}",
            "members": members,
            "host_of": host_of,
            "campaigns": await campaign_service.of_coalition(session, actor),
            "proposals": await proposal_service.index(session, actor, sort="supports", page_size=5,
                                                      levels=listed),
            "discussions": discussions,
            "stats": await discussion_stats(session, [d.id for d in discussions]),
            "follower_count": await follows.count(session, actor),
            "following": bool(user) and await follows.find(session, user.actor, actor) is not None,
            "is_admin": await coalition_service.may_administer(session, user, actor),
            # The coalition's own polls (web/participation/polls.py).
            **await poll_pages.organisation_polls(session, request, actor, user, listed),
        }
    response = await page(request, "participation/coalition.html", context)
    add_vary(response, "Accept")
    return response


# -- founding a coalition --------------------------------------------------------------------------

async def founders(session: AsyncSession, user: User) -> list[Actor]:
    """The local organisations ``user`` may found a coalition for: those they are an admin of
    (every one for a node admin)."""
    if user.is_admin:
        return await actor_service.list_local_actors(session, "Organization")
    return list(await session.scalars(
        select(Actor).join(Membership, Membership.organization_id == Actor.id)
        .where(Membership.user_id == user.id, Membership.role == "admin", Actor.local.is_(True),
               Actor.type == "Organization").order_by(Actor.name)))


def _form_context(organisations: list[Actor]) -> dict:
    return {"organisations": organisations, "all_languages": LANGUAGES,
            "levels": visibility.LEVELS}


async def coalition_form(request: web.Request) -> web.StreamResponse:
    """GET /coalitions/new: an organisation's admin founds a coalition for it."""
    rt = runtime(request)
    user = await require_user(request)
    async with rt.sessions() as session:
        organisations = await founders(session, user)
    if not organisations:
        raise forbidden(_("Only an organisation's admins can found a coalition for it."))
    values = {"languages": ["fr"], "visibility": visibility.PUBLIC}
    return await page(request, "participation/coalition_form.html",
                      {**_form_context(organisations), "values": values})


async def found(request: web.Request) -> web.StreamResponse:
    """POST /coalitions/new."""
    form, oversize = await read_form_keeping(request)
    rt = runtime(request)
    user = await require_user(request)
    values = {k: (form.get(k) or "").strip() for k in ("founder", "handle", "name", "summary", "visibility")}
    values["languages"] = [code for code in LANGUAGES if form.get(f"language_{code}")]
    errors: dict[str, str] = {}
    check_lengths(request, errors, values, COALITION_LIMITS)
    if not values["name"] and "name" not in errors:
        errors["name"] = translate(request, _("Give the coalition a name."))
    if not values["languages"]:
        errors["languages"] = translate(request, _("Choose at least one language."))
    if values["visibility"] not in visibility.LEVELS:
        errors["visibility"] = translate(request, _("Choose who can see the coalition."))
    status = oversize_errors(request, errors, oversize, COALITION_LIMITS, fallback="summary")
    async with transaction(rt.sessions) as session:
        organisations = await founders(session, user)
        if not organisations:
            raise forbidden(_("Only an organisation's admins can found a coalition for it."))
        founder = next((o for o in organisations if o.username == values["founder"]), None)
        if founder is None:
            errors["founder"] = translate(request, _("Choose one of your organisations."))
        if not errors:
            try:
                coalition = await coalition_service.create(
                    session, rt.uris, values["handle"], values["name"], founder=founder,
                    summary=values["summary"], languages=values["languages"],
                    visibility_level=values["visibility"])
            except Conflict:
                errors["handle"] = translate(request, _("This handle is already taken on this node."))
                status = 409
            except InvalidInput:
                errors["handle"] = translate(
                    request, _("A handle has letters, digits and underscores (up to 64)."))
            else:
                target = coalition.actor.ap_id
    if errors:
        return await page(request, "participation/coalition_form.html",
                          {**_form_context(organisations), "values": values, "errors": errors},
                          status=status)
    raise web.HTTPSeeOther(target)


# -- the member list (the coalition's admins) ------------------------------------------------------

async def _listed_to(session: AsyncSession, user: User, coalition: Coalition) -> bool:
    """Whether ``coalition`` is listed to ``user`` (node/visibility.py ``lists``, SECURITY.md rule
    24): the choice of a previous coalition is a listing, so an ``unlisted`` one shows only to its
    own staff, though anyone with its link may name it (``change_members`` asks ``may_read``)."""
    if visibility.lists(coalition.visibility, visibility.NOBODY):
        return True  # public: no query
    reader = visibility.Reader.of_user(user)
    return visibility.lists(coalition.visibility, await visibility.standing(session, reader, coalition.actor_id))


async def _members_context(session: AsyncSession, user: User, coalition: Coalition, actor: Actor) -> dict:
    rows = await coalition_service.members(session, actor, states=S.ALL)
    others = [c for c in await coalition_service.listed(session) if c.actor_id != actor.id
              and await _listed_to(session, user, c)]
    return {
        "org": actor, "coalition": coalition, "host_of": host_of,
        "accepted": [r for r in rows if r.state == S.accepted],
        "requested": [r for r in rows if r.state == S.requested],
        "invited": [r for r in rows if r.state == S.invited],
        "previous": others, "roles": ROLE_LABELS, "address_hint": ADDRESS_HINT,
    }


async def members_page(request: web.Request) -> web.StreamResponse:
    """GET /coalitions/{handle}/members."""
    rt = runtime(request)
    user = await require_user(request)
    async with rt.sessions() as session:
        coalition, actor = await administered(session, request, user)
        context = await _members_context(session, user, coalition, actor)
    return await page(request, "participation/coalition_members.html",
                      {**context, "done": request.query.get("done", "")})


async def find_actor(request: web.Request, address: str, missing: str) -> Actor:
    """The organisation (or coalition) an address names: a handle here, ``@name@host`` or a URL elsewhere
    (fetched, signed, through federation/resolve.py). InvalidInput with a reason otherwise."""
    address = address.strip()
    if not address:
        raise InvalidInput(translate(request, _("Give an address.")))
    rt = runtime(request)
    try:
        if "@" not in address and "://" not in address:
            async with rt.sessions() as session:
                found_actor = await actor_service.require_local_actor(session, address)
        else:
            found_actor = await resolve_actor(rt, address)
    except RESOLVE_ERRORS:
        raise InvalidInput(translate(request, missing)) from None
    return found_actor


async def _member_row(session: AsyncSession, request: web.Request, actor: Actor, raw: str | None
                      ) -> CoalitionMember:
    """A row of this coalition's list named by its id in the form, or the 404 of a missing one."""
    row = await session.get(CoalitionMember, row_id(raw)) if row_id(raw) else None
    if row is None or row.coalition_id != actor.id:
        raise web.HTTPNotFound(text=translate(request, _("This organisation is no longer in the list.")))
    return row


MEMBER_ACTIONS = ("invite", "invite_from", "accept", "reject", "remove", "role")


async def change_members(request: web.Request) -> web.StreamResponse:
    """POST /coalitions/{handle}/members: ``action`` = invite (``address``, ``role``), invite_from
    (``previous``: a coalition here), accept / reject a Join, remove, role (``member``, ``role``).
    Refusals come back on the page with their reason (the last admin's: 409)."""
    form, oversize = await read_form_keeping(request)
    rt = runtime(request)
    user = await require_user(request)
    action = form.get("action") or ""
    if action not in MEMBER_ACTIONS:
        raise web.HTTPBadRequest(text=translate(request, _("Choose what to do.")))
    errors: dict[str, str] = {}
    status = 400
    values = {"address": (form.get("address") or "").strip(), "role": form.get("role") or "member"}
    check_lengths(request, errors, values, {"address": ADDRESS_LIMIT})
    if oversize is not None:
        status = oversize_errors(request, errors, oversize, {"address": ADDRESS_LIMIT}, fallback="address")
    if values["role"] not in ROLE_LABELS:
        errors["role"] = translate(request, _("Choose a role."))
    invited_org = None
    if action == "invite" and not errors:
        # Resolved before the transaction: fetching a remote actor may take a while.
        async with rt.sessions() as session:
            await administered(session, request, user)
        try:
            invited_org = await find_actor(request, values["address"],
                                           _("No organisation was found at this address."))
        except InvalidInput as exc:
            errors["address"] = str(exc)
    if not errors:
        async with transaction(rt.sessions) as session:
            _coalition, actor = await administered(session, request, user)
            try:
                done = await _apply(session, request, rt, actor, action, form, values, invited_org)
            except (Conflict, InvalidInput, NotFound, Forbidden) as exc:
                addressed = action == "invite" and not isinstance(exc, Conflict)
                errors["address" if addressed else "members"], status = _reason(request, exc), exc.status
    if errors:
        async with rt.sessions() as session:
            coalition, actor = await administered(session, request, user)
            context = await _members_context(session, user, coalition, actor)
        return await page(request, "participation/coalition_members.html",
                          {**context, "values": values, "errors": errors}, status=status)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(f"{rt.uris.coalition_action(actor.username, 'members')}?done={done}")


# The node's refusals, in the page's language (the others are already translated here).
REASONS = {
    coalition_service.NOT_AN_ORGANISATION: _("Only organisations can be members of a coalition."),
    "this organisation is not in the coalition": _("This organisation is no longer in the list."),
    "this organisation is not a member of the coalition": _("This organisation is no longer in the list."),
    "choose another coalition to invite its members": _("Choose a previous coalition."),
    "there is no invitation waiting from this coalition": _("This invitation is no longer waiting."),
    "no such coalition on this node": NO_COALITION,
    coalition_service.LAST_ADMIN: LAST_ADMIN,
}


def _reason(request: web.Request, exc: CivicError) -> str:
    text = str(exc)
    if text in REASONS:
        return translate(request, REASONS[text])
    return text or translate(request, _("This cannot be done now."))


async def _apply(session: AsyncSession, request: web.Request, rt, actor: Actor, action: str, form: dict,
                 values: dict, invited_org: Actor | None) -> str:
    """One change of the member list; returns what the page says was done."""
    if action == "invite":
        org = await session.get(Actor, invited_org.id)
        await coalition_service.invite(session, rt.uris, actor, org, values["role"])
        return "invited"
    if action == "invite_from":
        # Its member list is read: only a coalition the admin may read (SECURITY.md rule 24).
        reader = visibility.Reader.of_user(await current_user(request))
        previous = await coalition_service.of_actor(
            session, await actor_service.local_actor(session, (form.get("previous") or "").strip()))
        if previous is None or not await visibility.may_read(session, reader, previous.actor_id,
                                                             previous.visibility):
            raise NotFound(translate(request, _("Choose a previous coalition.")))
        await coalition_service.invite_from(session, rt.uris, actor, previous.actor)
        return "invited"
    row = await _member_row(session, request, actor, form.get("member"))
    org = await session.get(Actor, row.member_id)
    if action == "accept":
        if row.state != S.requested:
            raise NotFound(translate(request, _("This request is no longer waiting.")))
        await coalition_service.accept(session, row)
        return "accepted"
    if action == "reject":
        if row.state == S.accepted:
            raise InvalidInput(translate(request, _("This organisation is a member already: remove it instead.")))
        await coalition_service.reject(session, row)
        return "refused"
    if action == "remove":
        await coalition_service.remove(session, actor, org)
        return "removed"
    await coalition_service.set_role(session, actor, org, values["role"])
    return "role"


# -- an organisation's coalitions (its admins) -----------------------------------------------------

async def _org_context(session: AsyncSession, org: Actor) -> dict:
    rows = await coalition_service.memberships_of(session, org)
    coalitions = {a.id: a for a in await session.scalars(
        select(Actor).where(Actor.id.in_({r.coalition_id for r in rows})))} if rows else {}
    campaigns = {}
    for row in rows:
        if row.state == S.accepted:
            campaigns[row.coalition_id] = await campaign_service.of_coalition(session, coalitions[row.coalition_id])
    variants = {(v.campaign_id, v.language) for v in await campaign_service.variants_of(session, org)}
    return {"org": org, "rows": rows, "coalitions": coalitions, "campaigns": campaigns,
            "variants": variants, "host_of": host_of, "roles": ROLE_LABELS, "states": STATE_LABELS,
            "address_hint": ADDRESS_HINT}


async def org_coalitions(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/coalitions: the coalitions the organisation is in, asked to join or is
    invited to, and their campaigns to adapt."""
    rt = runtime(request)
    user = await require_user(request)
    async with rt.sessions() as session:
        org = await organisation(session, request)
        if org.type != "Organization":
            raise not_found(request)
        await require_role(session, user, org, ADMINS)
        context = await _org_context(session, org)
    return await page(request, "participation/org_coalitions.html",
                      {**context, "done": request.query.get("done", "")})


ORG_ACTIONS = ("join", "accept", "decline", "leave")


async def change_org_coalitions(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/coalitions: ``action`` = join (``address``), accept / decline an
    invitation, leave (``coalition``: the coalition's row id in the list)."""
    form, oversize = await read_form_keeping(request)
    rt = runtime(request)
    user = await require_user(request)
    action = form.get("action") or ""
    if action not in ORG_ACTIONS:
        raise web.HTTPBadRequest(text=translate(request, _("Choose what to do.")))
    values = {"address": (form.get("address") or "").strip()}
    errors: dict[str, str] = {}
    status = 400
    check_lengths(request, errors, values, {"address": ADDRESS_LIMIT})
    if oversize is not None:
        status = oversize_errors(request, errors, oversize, {"address": ADDRESS_LIMIT}, fallback="address")
    async with rt.sessions() as session:
        org = await organisation(session, request)
        if org.type != "Organization":
            raise not_found(request)
        await require_role(session, user, org, ADMINS)
    target = None
    if action == "join" and not errors:
        try:
            target = await find_actor(request, values["address"], NO_COALITION)
        except InvalidInput as exc:
            errors["address"] = str(exc)
        else:
            if target.type != "Group":
                errors["address"] = translate(request, NO_COALITION)
    if not errors:
        async with transaction(rt.sessions) as session:
            org = await organisation(session, request)
            await require_role(session, user, org, ADMINS)
            try:
                done = await _apply_org(session, request, rt, org, action, form, target)
            except (Conflict, InvalidInput, NotFound, Forbidden) as exc:
                addressed = action == "join" and not isinstance(exc, Conflict)
                errors["address" if addressed else "coalitions"], status = _reason(request, exc), exc.status
    if errors:
        async with rt.sessions() as session:
            org = await organisation(session, request)
            context = await _org_context(session, org)
        return await page(request, "participation/org_coalitions.html",
                          {**context, "values": values, "errors": errors}, status=status)
    rt.outbox_ready.set()
    raise web.HTTPSeeOther(f"{rt.uris.organization_action(org.username, 'coalitions')}?done={done}")


async def _apply_org(session: AsyncSession, request: web.Request, rt, org: Actor, action: str, form: dict,
                     target: Actor | None) -> str:
    if action == "join":
        coalition = await session.get(Actor, target.id)
        if coalition.local and await coalition_service.of_actor(session, coalition) is None:
            raise NotFound(translate(request, NO_COALITION))
        await coalition_service.request_join(session, rt.uris, org, coalition)
        return "asked"
    row = await session.get(CoalitionMember, row_id(form.get("coalition"))) if row_id(form.get("coalition")) else None
    if row is None or row.member_id != org.id:
        raise NotFound(translate(request, _("This coalition is no longer in the list.")))
    coalition = await session.get(Actor, row.coalition_id)
    if action in ("accept", "decline"):
        if row.state != S.invited:
            raise NotFound(translate(request, _("This invitation is no longer waiting.")))
        await coalition_service.answer_invite(session, rt.uris, org, coalition, action == "accept")
        return "joined" if action == "accept" else "declined"
    await coalition_service.leave(session, rt.uris, org, coalition)
    return "left"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/coalitions/new", coalition_form)
    app.router.add_post("/coalitions/new", found)
    app.router.add_get("/coalitions/{handle}/members", members_page)
    app.router.add_post("/coalitions/{handle}/members", change_members)
    app.router.add_get("/orgs/{org}/coalitions", org_coalitions)
    app.router.add_post("/orgs/{org}/coalitions", change_org_coalitions)
