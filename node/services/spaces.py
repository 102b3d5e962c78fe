"""Organisation profiles, participatory spaces and their dated phases."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node import visibility as levels
from node.errors import Conflict, InvalidInput, NotFound
from node.models import Actor, OrganizationProfile, Phase, Space
from node.models.participation import COMPONENTS, LANGUAGES
from node.services import outbox
from node.services.i18n import text_map
from node.uris import check_slug

COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_THEMES, MAX_THEME = 20, 60


async def profile(session: AsyncSession, organization: Actor) -> OrganizationProfile:
    """The organisation's profile, created empty on first use."""
    row = await session.scalar(select(OrganizationProfile).where(OrganizationProfile.actor_id == organization.id))
    if row is None:
        row = OrganizationProfile(actor_id=organization.id, intro={}, themes=[])
        row.actor = organization
        session.add(row)
        await session.flush()
    return row


async def update_profile(session: AsyncSession, organization: Actor, *, intro: dict | None = None,
                         territory: str | None = None, themes: list[str] | None = None,
                         primary_color: str | None = None, accent_color: str | None = None,
                         default_language: str | None = None, logo_path: str | None = None) -> OrganizationProfile:
    row = await profile(session, organization)
    if intro is not None:
        row.intro = text_map(intro, what="introduction")
    # Refused, never cut: what people type is kept whole or not at all.
    if territory is not None:
        if len(territory.strip()) > 255:
            raise InvalidInput("the territory is limited to 255 characters")
        row.territory = territory.strip()
    if themes is not None:
        themes = [t.strip() for t in themes if t.strip()]
        if len(themes) > MAX_THEMES or any(len(t) > MAX_THEME for t in themes):
            raise InvalidInput(f"at most {MAX_THEMES} themes of at most {MAX_THEME} characters each")
        row.themes = themes
    for name, value in (("primary_color", primary_color), ("accent_color", accent_color)):
        if value is not None:
            if not COLOR.match(value):
                raise InvalidInput(f"{name.replace('_', ' ')} must look like #0b5cad")
            setattr(row, name, value.lower())
    if default_language is not None:
        if default_language not in LANGUAGES:
            raise InvalidInput("the default language must be fr, en or de")
        row.default_language = default_language
    if logo_path is not None and logo_path != (row.logo_path or ""):
        row.logo_path = logo_path  # "" removes it
        await session.flush()
        await outbox.emit(session, outbox.ACTOR_UPDATED, actor_id=organization.id)  # the new avatar
    return row


async def create_space(session: AsyncSession, organization: Actor, slug: str, title: dict | str, *,
                       description: dict | str | None = None, visibility: str = levels.PUBLIC,
                       supports_per_person: int | None = None,
                       support_threshold: int | None = None) -> Space:
    slug = check_slug(slug)
    if visibility not in levels.LEVELS:
        raise InvalidInput(f"visibility must be one of {', '.join(levels.LEVELS)}")
    for name, value in (("supports per person", supports_per_person), ("support threshold", support_threshold)):
        if value is not None and not 1 <= value <= 1_000_000:
            raise InvalidInput(f"the {name} must be between 1 and 1,000,000")
    if await session.scalar(select(Space.id).where(Space.organization_id == organization.id, Space.slug == slug)):
        raise Conflict(f"{organization.username} already has a space {slug!r}")
    space = Space(organization_id=organization.id, slug=slug, title=text_map(title, required=True, what="title"),
                  description=text_map(description, what="description"), visibility=visibility,
                  supports_per_person=supports_per_person, support_threshold=support_threshold)
    session.add(space)
    await session.flush()
    return space


async def add_phase(session: AsyncSession, space: Space, name: dict | str, starts_on: date, ends_on: date,
                    components: list[str]) -> Phase:
    if ends_on < starts_on:
        raise InvalidInput("a phase cannot end before it starts")
    unknown = set(components) - set(COMPONENTS)
    if unknown:
        raise InvalidInput(f"unknown components: {', '.join(sorted(unknown))}")
    for other in await phases(session, space):
        if starts_on <= other.ends_on and other.starts_on <= ends_on:
            raise Conflict("phases of a space cannot overlap")
    phase = Phase(space_id=space.id, name=text_map(name, required=True, what="name"), starts_on=starts_on,
                  ends_on=ends_on, components=sorted(set(components)))
    session.add(phase)
    await session.flush()
    return phase


async def phases(session: AsyncSession, space: Space) -> list[Phase]:
    return list(await session.scalars(select(Phase).where(Phase.space_id == space.id).order_by(Phase.starts_on)))


async def active_phase(session: AsyncSession, space: Space, today: date) -> Phase | None:
    return await session.scalar(select(Phase).where(Phase.space_id == space.id, Phase.starts_on <= today,
                                                    Phase.ends_on >= today))


async def component_enabled(session: AsyncSession, space: Space | None, component: str, today: date) -> bool:
    """Outside any space everything is on; inside one, only what the current phase switches on."""
    if space is None:
        return True
    phase = await active_phase(session, space, today)
    return phase is not None and component in phase.components


async def spaces_of(session: AsyncSession, organization: Actor) -> list[Space]:
    return list(await session.scalars(select(Space).where(Space.organization_id == organization.id)
                                      .order_by(Space.created_at.desc())))


async def space_by_slug(session: AsyncSession, organization: Actor, slug: str) -> Space:
    space = await session.scalar(select(Space).where(Space.organization_id == organization.id,
                                                     Space.slug == slug.lower()))
    if space is None:
        raise NotFound("no such space")
    return space
