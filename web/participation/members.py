"""An organisation's members on the web: the admins' members page (admit, remove, census import,
one-time codes and their printable list, revocation) and the residents' verification page.

The verified identity (what a member typed, a code's label, an admin's note) appears on the admins'
members page and nowhere else. Admin pages answer everyone else exactly the 404 of a missing page;
none of these pages is shared by the page cache (no ``share_page``), and the list of new codes is
``no-store``: it is the only time they exist in clear.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from node.db import transaction
from node.errors import Conflict, InvalidInput, NotFound
from node.models import Actor, User
from node.services import actors as actor_service
from node.services import membership as service
from node.uris import USERNAME_RE
from web import ratelimit
from web.i18n import _, translate
from web.participation.common import (
    ADMINS,
    has_role,
    not_found,
    organisation,
    page,
    require_user,
    row_id,
    runtime,
)
from web.participation.limits import read_form_keeping
from web.render import read_form

PAGE = 100  # people per page of the members list
CENSUS_FORM = 1024 * 1024  # the node's request size cap; larger censuses: `civic org census`
DONE = {
    "admitted": _("The person is now a member."),
    "removed": _("The person is no longer a member."),
    "revoked": _("The code was revoked."),
}
CODE_PROBLEMS = {
    "count": _("Give a number of codes between 1 and %(max)s."),
    "labels": _("Give at most one label per code (one per line)."),
    "label": _("A label is limited to %(max)s characters, without control characters."),
}


async def _admin_or_404(request: web.Request, session: AsyncSession) -> tuple[User, Actor]:
    """The signed-in admin and the organisation; anyone else gets the 404 of a missing page."""
    user = await require_user(request)
    org = await organisation(session, request)
    if not await has_role(session, user, org, ADMINS):
        raise not_found(request)
    return user, org


async def _context(session: AsyncSession, org: Actor, page_number: int = 1, **extra) -> dict:
    total, used = await service.census_size(session, org)
    people = await service.count_people(session, org)
    return {"org": org, "section": "members", "page_number": page_number,
            "rows": await service.members(session, org, limit=PAGE, offset=(page_number - 1) * PAGE),
            "people": people, "pages": max(1, -(-people // PAGE)),
            "census_total": total, "census_used": used,
            "codes": await service.unused_codes(session, org),
            "salt": await service.salt_of(session, org), **extra}


async def _render(request: web.Request, org: Actor, status: int = 200, **extra) -> web.Response:
    async with transaction(runtime(request).sessions) as session:  # the salt may be made here
        context = await _context(session, org, **extra)
    response = await page(request, "participation/admin/members.html", context, status=status)
    response.headers["Cache-Control"] = "no-store"  # identities: kept by no cache on the way
    return response


async def members_page(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/admin/members."""
    async with runtime(request).sessions() as session:
        _user, org = await _admin_or_404(request, session)
    query = request.query
    done = DONE.get(query.get("done", ""))
    imported = None
    if query.get("done") == "imported" and all(row_id(query.get(k)) is not None for k in ("added", "duplicates")):
        imported = (int(query["added"]), int(query["duplicates"]))
    number = row_id(query.get("page")) or 1
    return await _render(request, org, page_number=number, done=translate(request, done) if done else None,
                         imported=imported)


def _back(request: web.Request, org: Actor, done: str, **query: int) -> web.HTTPSeeOther:
    extra = "".join(f"&{key}={value}" for key, value in query.items())
    return web.HTTPSeeOther(runtime(request).uris.admin(org.username, "members") + f"?done={done}{extra}")


async def admit(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/members/admit: ``handle`` (a local account) and an optional ``note``."""
    form = await read_form(request)
    values = {"handle": (form.get("handle") or "").strip().lstrip("@"), "note": form.get("note") or ""}
    errors = {}
    async with transaction(runtime(request).sessions) as session:
        admin, org = await _admin_or_404(request, session)
        # Checked before any lookup: a NUL or an over-long text never reaches the database.
        known = USERNAME_RE.fullmatch(values["handle"].lower())
        person = await actor_service.user_by_username(session, values["handle"]) if known else None
        if person is None:
            errors["handle"] = translate(request, _("No account with this handle on this node."))
        else:
            try:
                await service.admit(session, org, person, admin, values["note"])
            except service.AlreadyMember:
                errors["handle"] = translate(request, _("This person is already a member."))
            except InvalidInput:
                errors["note"] = translate(request, _("The note is limited to %(max)s characters, without control characters."),
                                           max=service.MAX_NOTE)
    if errors:
        return await _render(request, org, 400, errors=errors, values=values)
    raise _back(request, org, "admitted")


async def remove(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/members/remove: ``user`` (an account id) is no longer a member."""
    form = await read_form(request)
    user_id = row_id(form.get("user"))
    async with transaction(runtime(request).sessions) as session:
        _admin, org = await _admin_or_404(request, session)
        person = await session.get(User, user_id) if user_id is not None else None
        try:
            if person is None:
                raise NotFound("no such account")
            await service.remove(session, org, person)
        except NotFound:
            problem = translate(request, _("This person is not a member."))
        else:
            problem = None
    if problem:
        return await _render(request, org, 400, errors={"remove": problem})
    raise _back(request, org, "removed")


async def import_census(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/members/census: an uploaded file (``census``), one identifier or
    64-hex salted hash per line. All of it is imported, or — on any invalid line — nothing."""
    form, oversize = await read_form_keeping(request, files=("census",), max_size=CENSUS_FORM)
    errors, report, status = {}, None, 400
    async with transaction(runtime(request).sessions) as session:
        admin, org = await _admin_or_404(request, session)  # before anything is read or written
        if oversize is not None:
            status = 413
            errors["census"] = translate(request, _("The file is limited to 1 MB: split it, or import it with the command `civic org census`."))
        elif not form.get("census"):
            errors["census"] = translate(request, _("Choose a census file."))
        else:
            try:
                report = await service.import_census(session, org, service.census_lines(form["census"]), admin)
            except service.CensusRefused as refused:
                errors["census"] = translate(request, _("Nothing was imported: correct these lines and import the file again."))
                report = refused.report
            except InvalidInput:
                errors["census"] = translate(request, _("The file must be UTF-8 text, one identifier or hash per line."))
    if errors:
        return await _render(request, org, status, errors=errors, invalid=report.invalid if report else [])
    raise _back(request, org, "imported", added=report.added, duplicates=report.duplicates)


async def issue_codes(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/members/codes: ``count`` codes, labelled by the lines of ``labels``;
    answered with their printable list, the only time they are shown."""
    form = await read_form(request)
    values = {"count": (form.get("count") or "").strip(), "labels": form.get("labels") or ""}
    labels = [line.strip() for line in values["labels"].splitlines() if line.strip()]
    count = row_id(values["count"]) if values["count"] else len(labels)
    errors = {}
    if not count or count > service.MAX_CODES:
        errors["count"] = translate(request, CODE_PROBLEMS["count"], max=service.MAX_CODES)
    elif len(labels) > count:
        errors["labels"] = translate(request, CODE_PROBLEMS["labels"])
    issued = []
    async with transaction(runtime(request).sessions) as session:
        admin, org = await _admin_or_404(request, session)
        if not errors:
            try:
                issued = await service.issue_codes(session, org, count, labels, admin)
            except InvalidInput:
                errors["labels"] = translate(request, CODE_PROBLEMS["label"], max=service.MAX_LABEL)
    if errors:
        return await _render(request, org, 400, errors=errors, values=values)
    response = await page(request, "participation/admin/codes.html",
                          {"org": org, "section": "members", "codes": [(row.label, code) for row, code in issued]})
    response.headers["Cache-Control"] = "no-store"
    return response


async def revoke_code(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/members/codes/{code}/revoke."""
    await read_form(request)
    code_id = row_id(request.match_info["code"])
    async with transaction(runtime(request).sessions) as session:
        _admin, org = await _admin_or_404(request, session)
        try:
            if code_id is None:
                raise NotFound("no such code")
            await service.revoke_code(session, org, code_id)
            problem = None
        except (NotFound, Conflict):
            problem = translate(request, _("This code cannot be revoked: it was used, or it does not exist."))
    if problem:
        return await _render(request, org, 400, errors={"revoke": problem})
    raise _back(request, org, "revoked")


# -- residents ---------------------------------------------------------------------------------------

async def _verify_page(request: web.Request, org: Actor, user: User, status: int = 200, **extra) -> web.Response:
    async with runtime(request).sessions() as session:
        verified = await service.is_verified(session, org, user)
    return await page(request, "participation/verify.html",
                      {"org": org, "verified": verified, **extra}, status=status)


async def verify_page(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/verify: a signed-in resident becomes a member with an identifier or a code."""
    user = await require_user(request)
    async with runtime(request).sessions() as session:
        org = await organisation(session, request)
    return await _verify_page(request, org, user, done="done" in request.query)


async def verify(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/verify: ``method`` is ``identifier`` or ``code``, the value in the field of
    that name. A wrong one says only "not recognised"; attempts are limited (SECURITY.md rule 17)."""
    form = await read_form(request)
    user = await require_user(request)
    rt = runtime(request)
    async with rt.sessions() as session:
        org = await organisation(session, request)
    method = form.get("method") if form.get("method") in ("identifier", "code") else "identifier"
    typed = (form.get(method) or "").strip()
    if not typed:
        message = _("Type your identifier.") if method == "identifier" else _("Type your code.")
        return await _verify_page(request, org, user, 400, errors={method: translate(request, message)})
    check = service.verify_with_identifier if method == "identifier" else service.verify_with_code
    try:
        await check(rt.sessions, org, user, typed[:4 * service.MAX_IDENTIFIER], address=ratelimit.client_key(request))
    except service.AlreadyMember:
        pass
    except service.TooManyAttempts as refused:
        message = translate(request, _("Too many attempts. Retry in %(minutes)s min."),
                            minutes=ratelimit.minutes(refused.wait))
        response = await _verify_page(request, org, user, 429, errors={method: message})
        return ratelimit.retry_after(response, refused.wait)
    except service.NotRecognised:
        return await _verify_page(request, org, user, 400, errors={method: translate(request, _("Not recognised."))})
    raise web.HTTPSeeOther(rt.uris.organization_action(org.username, "verify") + "?done")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/orgs/{org}/admin/members", members_page)
    app.router.add_post("/orgs/{org}/admin/members/admit", admit)
    app.router.add_post("/orgs/{org}/admin/members/remove", remove)
    app.router.add_post("/orgs/{org}/admin/members/census", import_census)
    app.router.add_post("/orgs/{org}/admin/members/codes", issue_codes)
    app.router.add_post("/orgs/{org}/admin/members/codes/{code}/revoke", revoke_code)
    app.router.add_get("/orgs/{org}/verify", verify_page)
    app.router.add_post("/orgs/{org}/verify", verify)
