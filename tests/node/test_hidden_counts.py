"""Hidden and held content is counted nowhere the public sees figures (SECURITY.md rule 22).

Each test puts a visible contribution next to a hidden one (by a moderator, with a reason) and a held
one (awaiting review), each by a different person, and checks one count: without the exclusion the
hidden and held rows would show in it."""

from __future__ import annotations

import pytest

from node.db import transaction
from node.models import utcnow
from node.services import (
    actors,
    community,
    contributions,
    dashboard,
    discussions,
    proposals,
    reports,
)
from web.participation.common import discussion_stats


@pytest.fixture
async def world(sessions, uris):
    """lyon's discussion: Camille's visible contribution, Dominique's hidden one, Eva's held one;
    Dominique and Eva are stakeholders; Camille agrees with both hidden and held contributions."""
    async with transaction(sessions) as s:
        lyon = await actors.create_organization(s, uris, "lyon", "Ville de Lyon")
        modo = await actors.create_user(s, uris, "modo", "password-123", "Modo")
        await actors.add_member(s, modo, lyon, "moderator")
        camille, dominique, eva = [(await actors.create_user(s, uris, n, "password-123", n.title())).actor
                                   for n in ("camille", "dominique", "eva")]
        d = await discussions.open_discussion(s, uris, lyon, "parc", "Le parc", support_threshold=1)
        shown = await contributions.contribute(s, uris, d, camille, "<p>Des bancs</p>")
        hidden = await contributions.contribute(s, uris, d, dominique, "<p>Insulte</p>")
        held = await contributions.contribute(s, uris, d, eva, "<p>Premier message</p>")
        for c in (hidden, held):
            await contributions.agree(s, uris, c, camille)
            await contributions.set_mark(s, c, quality=True, impact=True)
        await community.set_stakeholder(s, d, dominique, "resident")
        await community.set_stakeholder(s, d, eva, "resident")
        await reports.hide(s, modo, await reports.target_of(s, hidden.ap_id), "Propos injurieux")
        await reports.hold(s, held)
    return {"lyon": lyon, "modo": modo, "discussion": d, "camille": camille, "dominique": dominique,
            "eva": eva, "shown": shown}


async def test_progress__hidden_and_held_contributions_are_not_counted(sessions, world):
    """The progress box: participants, contributions, widely supported, quality, impact."""
    async with sessions() as s:
        progress = await contributions.progress(s, await s.merge(world["discussion"]))
    assert (progress.participants, progress.contributions) == (1, 1)
    assert (progress.widely_supported, progress.quality_recognised, progress.impact) == (0, 0, 0)


async def test_participant_count__hidden_and_held_authors_are_not_participants(sessions, world):
    async with sessions() as s:
        assert await discussions.participant_count(s, await s.merge(world["discussion"])) == 1


async def test_discussion_lists__participants_exclude_hidden_and_held(sessions, world):
    """The participants figure of the discussion lists (organisation page, index)."""
    async with sessions() as s:
        stats = await discussion_stats(s, [world["discussion"].id])
    assert stats[world["discussion"].id][0] == 1


async def test_stakeholder_ranking__hidden_contributions_bring_no_support(sessions, world):
    async with sessions() as s:
        ranked = await community.key_stakeholders(s, await s.merge(world["discussion"]))
    assert {(r.stakeholder.actor_id, r.support, r.contributions) for r in ranked} == {
        (world["dominique"].id, 0, 0), (world["eva"].id, 0, 0)}
    assert all(r.latest is None for r in ranked)


async def test_dashboard__hidden_and_held_content_is_not_counted(sessions, uris, world):
    """New comments, their daily series, quality, active people (Camille only: agreeing with hidden
    content is no activity either), and official answers to a hidden proposal."""
    today = utcnow().date()
    async with transaction(sessions) as s:
        lyon, modo = world["lyon"], world["modo"]
        p = await proposals.create(s, uris, lyon, world["eva"], "Un composteur", "<p>x</p>", publish=True)
        await proposals.support(s, uris, p, world["dominique"])
        await proposals.write_answer(s, p, "<p>Non</p>", user_id=modo.id, state="rejected")
        await proposals.publish_answer(s, uris, p, by=lyon)
        await reports.hide(s, modo, await reports.target_of(s, p.ap_id), "Hors sujet")
        board = await dashboard.dashboard(s, lyon.id, today, days=30)
    assert board.new_comments.value == 1 and board.comments_series[-1] == (today, 1)
    assert board.quality_recognised.value == 0
    assert board.active_people.value == 1
    assert board.official_answers.value == 0
