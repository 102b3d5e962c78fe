"""Demo content for `civic demo` / `make run`: a believable node to click through, in fr/en/de."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from node.db import transaction
from node.demo_consultations import seed_consultations
from node.demo_content import (
    ANNOUNCEMENTS,
    DISCUSSIONS,
    ORGANISATIONS,
    PROPOSALS,
    RESIDENTS,
    STAFF,
)
from node.models import Actor, Membership, User, utcnow
from node.services import (
    actors,
    community,
    contributions,
    dashboard,
    discussions,
    notes,
    proposals,
    spaces,
)
from node.uris import Uris

DEMO_PASSWORD = "civic-demo-2026"


async def _people(session: AsyncSession, uris: Uris) -> dict[str, Actor]:
    people = {}
    for handle, name, org_handle, role in STAFF + RESIDENTS:
        user = await actors.user_by_username(session, handle)
        if user is None:
            user = await actors.create_user(session, uris, handle, DEMO_PASSWORD, name,
                                            is_admin=handle == "node_admin")
        if org_handle:
            org = await actors.require_local_actor(session, org_handle, "Organization")
            await actors.add_member(session, user, org, role)
        people[handle] = user.actor
    return people


async def _organisation(session: AsyncSession, uris: Uris, spec: dict) -> Actor:
    org = await actors.create_organization(session, uris, spec["handle"], spec["name"], spec["summary"])
    await spaces.update_profile(session, org, intro=spec["intro"], territory=spec["territory"],
                                themes=spec["themes"], primary_color=spec["color"])
    for content in ANNOUNCEMENTS.get(spec["handle"], []):
        await notes.publish_announcement(session, uris, org, content)
    return org


async def _discussion(session: AsyncSession, uris: Uris, org: Actor, spec: dict, people: dict) -> None:
    author = people.get(spec.get("author", ""))
    disc = await discussions.open_discussion(
        session, uris, org, spec["slug"], spec["title"], summary=spec["summary"], body=spec["body"],
        kind=spec.get("kind", "official"), author=author, alignment_enabled=spec.get("alignment", False),
        support_threshold=spec.get("threshold", 3))
    if disc.moderation == "pending":
        await discussions.moderate(session, disc, approve=True)
    for handle, role, description in spec.get("stakeholders", []):
        await community.set_stakeholder(session, disc, people[handle], role, description)
    for title, summary, link, by in spec.get("articles", []):
        await community.add_article(session, uris, disc, people[by], title, summary=summary, link=link)
    made = {}
    for key, by, content, parent, agreers, marks in spec.get("contributions", []):
        c = await contributions.contribute(session, uris, disc, people[by], content,
                                           parent=made.get(parent), official=by.endswith("_admin"),
                                           alignment=marks.get("alignment"))
        made[key] = c
        for who in agreers:
            await contributions.agree(session, uris, c, people[who])
        await contributions.set_mark(session, c, quality=marks.get("quality"), impact=marks.get("impact"))
    for title, body, link, by, actors_ in spec.get("initiatives", []):
        init = await community.create_initiative(session, uris, disc, people[by], title, body, link)
        for who in actors_:
            await community.act(session, uris, init, people[who])
    if spec.get("conclusion"):
        await discussions.close(session, disc, spec["conclusion"])


async def _org_admin_user_id(session: AsyncSession, org: Actor) -> int:
    """The organisation's first admin member: official answers are written by that account."""
    user_id = await session.scalar(
        select(Membership.user_id)
        .where(Membership.organization_id == org.id, Membership.role == "admin")
        .order_by(Membership.id).limit(1))
    if user_id is None:
        raise LookupError(f"the demo organisation {org.username!r} has no admin member")
    return user_id


async def _proposals(session: AsyncSession, uris: Uris, org: Actor, people: dict) -> None:
    for title, body, by, state, supporters, answer in PROPOSALS.get(org.username, []):
        p = await proposals.create(session, uris, org, people[by], title, body,
                                   publish=state != "draft")
        for who in supporters:
            await proposals.support(session, uris, p, people[who])
        if state in ("evaluating", "accepted", "rejected", "implemented"):
            first = "accepted" if state == "implemented" else state
            await proposals.write_answer(session, p, answer, user_id=await _org_admin_user_id(session, org),
                                         state=first)
            await proposals.publish_answer(session, uris, p, by=org)
            if state == "implemented":
                await proposals.transition(session, p, "implemented", by=org)
        elif state == "withdrawn":
            await proposals.transition(session, p, "withdrawn", by=people[by], as_author=True)


async def _visits(session: AsyncSession, org: Actor, base: int) -> None:
    """Sixty days of page views, growing, so the dashboard shows trends."""
    today = utcnow().date()
    counts = {(org.id, None, today - timedelta(days=i)): base + (60 - i) * 3 + (i * 7) % 11
              for i in range(60)}
    await dashboard.add_visits(session, counts)


async def _seed(session: AsyncSession, uris: Uris, data_dir: Path) -> None:
    orgs = {}
    for spec in ORGANISATIONS:
        org = await actors.local_actor(session, spec["handle"])
        if org is not None:
            return  # already seeded
        orgs[spec["handle"]] = await _organisation(session, uris, spec)
    people = await _people(session, uris)
    for org_handle, specs in DISCUSSIONS.items():
        for spec in specs:
            await _discussion(session, uris, orgs[org_handle], spec, people)
    for org in orgs.values():
        await _proposals(session, uris, org, people)
    await _visits(session, orgs["lyon"], 40)
    await _visits(session, orgs["nice"], 90)
    admins = {handle: await session.get(User, await _org_admin_user_id(session, org))
              for handle, org in orgs.items()}
    await seed_consultations(session, uris, orgs, people, admins, data_dir)


async def seed_demo(sessions: async_sessionmaker[AsyncSession], uris: Uris,
                    data_dir: Path | None = None) -> list[tuple[str, str, str]]:
    """Create the demo organisations, people, discussions, proposals, questionnaire, poll and
    budget (idempotent). ``data_dir``: where files would be stored (the demo uploads none)."""
    async with transaction(sessions) as session:
        await _seed(session, uris, data_dir or Path("."))
    return [(handle, DEMO_PASSWORD, f"{role} of {org}" if org else role)
            for handle, _, org, role in STAFF + RESIDENTS[:2]]
