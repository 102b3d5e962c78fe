"""What the participation pages share: roles, loading with 403/404, texts in the reader's language."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.html import text_to_html
from federation import objects
from federation.runtime import RUNTIME, Runtime
from node import changes, visibility
from node.errors import NotFound
from node.models import (
    Actor,
    Contribution,
    Discussion,
    Membership,
    User,
)
from node.services import actors as actor_service
from node.services import coalitions as coalition_service
from node.services import discussions as discussion_service
from node.services.i18n import pick
from web.cache import RESIDENT, Viewer, depends, make_viewer, shows
from web.i18n import LANGUAGES, _, locale_of, translate
from web.render import current_user, render

# Who may do what in an organisation (node.services.actors.ROLES); node admins may do everything.
ADMINS = ("admin",)
MODERATORS = ("admin", "moderator")
OFFICIALS = ("admin", "official")
STAFF = ("admin", "moderator", "official")

STATE_LABELS = {
    "draft": _("Draft"), "published": _("Published"), "evaluating": _("Being evaluated"),
    "accepted": _("Accepted"), "rejected": _("Rejected"), "withdrawn": _("Withdrawn"),
    "implemented": _("Implemented"),
}
ROLE_LABELS = {
    "expert": _("Expert"), "association": _("Association"), "elected": _("Elected representative"),
    "business": _("Business"), "resident": _("Resident"),
}
ALIGNMENT_LABELS = {"favour": _("In favour"), "neutral": _("Neutral"), "against": _("Against")}
VISIBILITY_LABELS = {
    visibility.PUBLIC: _("Public"), visibility.UNLISTED: _("Unlisted"),
    visibility.FOLLOWERS: _("Followers of the organisation"), visibility.MEMBERS: _("Members only"),
}
COMPONENT_LABELS = {
    "discussions": _("Discussions"), "proposals": _("Proposals"), "articles": _("Articles"),
    "initiatives": _("Initiatives"), "supports": _("Supports"),
}

NOT_FOUND = _("There is no such page on this node.")


def now() -> datetime:
    return datetime.now(UTC)


def language_of(texts: dict | None, lang: str, fallback: str = "fr") -> str:
    """The language ``pick`` chooses for ``texts`` (same order: reader's, fallback, any)."""
    if not texts:
        return lang
    if texts.get(lang):
        return lang
    if texts.get(fallback):
        return fallback
    return next(iter(texts), lang)


def contribution_anchor(contribution: Contribution) -> str:
    """The fragment of a contribution on its discussion page (as federation.participation_objects
    redirects to it: the token of a local contribution's id)."""
    if contribution.local:
        return f"contribution-{contribution.ap_id.rstrip('/').rsplit('/', 1)[-1]}"
    return f"contribution-r{contribution.id}"


def token_anchor(kind: str, ap_id: str) -> str:
    """``article-<token>``, ``initiative-<token>``: fragments on the discussion page."""
    return f"{kind}-{ap_id.rstrip('/').rsplit('/', 1)[-1]}"


def days_ago(moment: datetime | None) -> int:
    if moment is None:
        return 0
    return max(0, (now() - moment).days)


def as_text(html_text: str | None) -> str:
    """Our own paragraphs (``paragraphs``) back to the plain text they were typed as, to edit them."""
    text = re.sub(r"</p>\s*<p>", "\n\n", html_text or "")
    text = re.sub(r"<br\s*/?>", "\n", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


def path_of(url: str) -> str:
    """The path (and query) of one of our absolute URLs: what log-in ``next`` parameters accept."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def paragraphs(text: str) -> str:
    """Plain text typed in a form, as safe HTML paragraphs (bare URLs linked)."""
    return text_to_html(text or "")


async def page(request: web.Request, template: str, context: dict, status: int = 200) -> web.Response:
    """Render a participation page with the helpers its templates use."""
    lang = locale_of(request)
    helpers = {
        "pick": lambda texts: pick(texts, lang),
        "pick_lang": lambda texts: language_of(texts, lang),
        "language_name": lambda code: LANGUAGES.get(code, code),
        "days_ago": days_ago,
        "contribution_anchor": contribution_anchor,
        "token_anchor": token_anchor,
        "paragraphs": paragraphs,
        "as_text": as_text,
        "path_of": path_of,
        "state_label": lambda state: translate(request, STATE_LABELS.get(state, state)),
        "role_label": lambda role: translate(request, ROLE_LABELS.get(role, role)),
        "alignment_label": lambda a: translate(request, ALIGNMENT_LABELS.get(a, a)),
        "visibility_label": lambda v: translate(request, VISIBILITY_LABELS.get(v, v)),
        "component_label": lambda c: translate(request, COMPONENT_LABELS.get(c, c)),
        "uris": request.app[RUNTIME].uris,
        "errors": {},
        "values": {},
    }
    response = await render(request, template, {**helpers, **context}, status=status)
    return response


def not_found(request: web.Request) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=NOT_FOUND)


def forbidden(message: str = _("You are not allowed to do this.")) -> web.HTTPForbidden:
    return web.HTTPForbidden(text=message)


def wants_as2(request: web.Request) -> bool:
    return objects.wants_activity_json(request)


async def require_user(request: web.Request, back: str | None = None) -> User:
    """The logged-in user; anonymous visitors are sent to the log-in page (and back)."""
    user = await current_user(request)
    if user is None:
        target = path_of(back) if back else request.path
        raise web.HTTPSeeOther(f"/login?next={quote(target, safe='/')}")
    return user


async def organisation(session: AsyncSession, request: web.Request, username: str | None = None) -> Actor:
    username = username or request.match_info["org"]
    actor = await actor_service.local_actor(session, username)
    # An organisation, or a coalition hosted here: its shared demands and joint discussions use
    # the organisation pages (node/services/coalitions.py ``hosts_participation``).
    if not await coalition_service.hosts_participation(session, actor):
        raise not_found(request)
    await _coalition_readable(session, request, actor)
    depends(request, changes.org(actor.id))  # any change in the organisation (web/cache.py)
    return actor


async def _coalition_readable(session: AsyncSession, request: web.Request, actor: Actor) -> None:
    """A coalition's visibility covers everything under it (its demands, its discussions): a
    reader it does not admit gets the 404 of a missing page (SECURITY.md rule 24)."""
    coalition = await coalition_service.of_actor(session, actor)
    if coalition is None:
        return
    reader = visibility.Reader.of_user(await current_user(request))
    if not await visibility.may_read(session, reader, actor.id, coalition.visibility):
        raise not_found(request)
    shows(request, coalition.visibility)  # web/cache.py


async def has_role(session: AsyncSession, user: User | None, org: Actor, roles: tuple[str, ...]) -> bool:
    return user is not None and await actor_service.has_role(session, user, org, *roles)


async def viewer_on_organisation_page(request: web.Request, sides) -> Viewer | None:
    """The signed-in visitor's side of a page under ``/orgs/{org}`` (web/cache.py ``viewers_from``):
    ``sides(session, user, org)`` returns (audience, marks); None for anonymous visitors."""
    user = await current_user(request)
    if user is None:
        return None
    async with runtime(request).sessions() as session:
        org = await organisation(session, request)
        audience, marks = await sides(session, user, org)
    return make_viewer(user, audience, **marks)


def audience_of(is_official: bool, is_moderator: bool) -> str:
    """Which shared rendering of a page a signed-in visitor gets (web/cache.py): by role."""
    return RESIDENT + ("+official" if is_official else "") + ("+moderator" if is_moderator else "")


async def require_role(session: AsyncSession, user: User, org: Actor, roles: tuple[str, ...]) -> None:
    if not await has_role(session, user, org, roles):
        raise forbidden()


async def person(session: AsyncSession, user: User) -> Actor:
    """The user's actor, attached to ``session`` (services link rows to it)."""
    return await session.get(Actor, user.actor_id)


async def memberships(session: AsyncSession, user: User | None, org: Actor) -> set[str]:
    if user is None:
        return set()
    rows = await session.scalars(select(Membership.role).where(
        Membership.user_id == user.id, Membership.organization_id == org.id))
    roles = set(rows)
    if user.is_admin:
        roles |= {"admin"}
    return roles


async def standing_in(session: AsyncSession, user: User | None, org: Actor) -> visibility.Standing:
    """What the visitor is to the organisation (node/visibility.py): staff, member, follower or outsider."""
    return await visibility.standing(session, visibility.Reader.of_user(user), org.id)


async def page_check(request: web.Request, session: AsyncSession, organization_id: int, level: str) -> bool:
    """federation.participation_objects ``PAGE_CHECK``: may the signed-in visitor (or an anonymous
    one) read a thing of this organisation at ``level``, before being sent to the page showing it?"""
    return await visibility.may_read(session, visibility.Reader.of_user(await current_user(request)),
                                     organization_id, level)


async def can_see(session: AsyncSession, user: User | None, org: Actor, discussion: Discussion) -> bool:
    """Whether the visitor may read the discussion and what is in it (SECURITY.md rule 24)."""
    return await _seen_at(session, user, org, discussion) is not None


async def _seen_at(session: AsyncSession, user: User | None, org: Actor, discussion: Discussion) -> str | None:
    """The discussion's level (the stricter of its own and its space's) when its standing lets
    the visitor read it, else None. Staff read everything; a citizen discussion waiting for
    moderation (or rejected) is for its staff and its author only."""
    at = await discussion_service.level(session, discussion)
    who = await standing_in(session, user, org)
    if who.staff:
        return at
    if discussion.moderation != "approved":
        # The author sees their citizen discussion while it waits.
        return at if user is not None and discussion.author_id == user.actor_id else None
    return at if visibility.admits(at, who) else None


async def discussion_in(session: AsyncSession, request: web.Request, org: Actor, user: User | None,
                        slug: str | None = None) -> Discussion:
    """The discussion of the URL, or 404 when it does not exist or the visitor may not see it."""
    try:
        discussion = await discussion_service.by_slug(session, org, slug or request.match_info["slug"])
    except NotFound:
        raise not_found(request) from None
    at = await _seen_at(session, user, org, discussion)
    if at is None:
        raise not_found(request)
    shows(request, at)  # what the page shows is at this level (web/cache.py)
    # The page of one discussion shows it and its organisation's header, not the organisation's
    # lists: a change in another discussion leaves it in the cache (web/cache.py).
    depends(request, changes.discussion(discussion.id), changes.profile(org.id),
            instead_of=(changes.org(org.id),))
    return discussion


async def discussion_stats(session: AsyncSession, ids: list[int]) -> dict[int, tuple[int, datetime | None]]:
    """{discussion id: (participants, last contribution time)} in one query."""
    if not ids:
        return {}
    rows = await session.execute(
        select(Contribution.discussion_id, func.count(func.distinct(Contribution.author_id)),
               func.max(Contribution.published))
        .where(Contribution.discussion_id.in_(ids), Contribution.deleted_at.is_(None),
               Contribution.hidden.is_(False))  # hidden and held ones leave no trace (rule 22)
        .group_by(Contribution.discussion_id))
    return {discussion_id: (int(n), last) for discussion_id, n, last in rows}


def runtime(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


def row_id(text: str | None) -> int | None:
    """A database id from a URL or a form: ASCII digits within the integer column's range."""
    text = text or ""
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or int(text) > 2_147_483_647:
        return None
    return int(text)


def checked(form: dict, name: str) -> bool:
    return form.get(name) in ("on", "1", "true", "yes")


def int_field(form: dict, name: str, *, minimum: int = 1, maximum: int = 1_000_000) -> int | None:
    """An optional whole number field: None when empty, ValueError when not a number in range."""
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    value = int(raw)
    if not minimum <= value <= maximum:
        raise ValueError(name)
    return value
