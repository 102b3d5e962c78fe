"""Participation services: discussions, contributions, proposals, community, dashboard."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from node.db import transaction
from node.errors import Conflict, Forbidden, InvalidInput
from node.models import OutboxEvent, ProposalStates, utcnow
from node.services import (
    actors,
    community,
    contributions,
    dashboard,
    discussions,
    proposals,
    spaces,
)
from node.services.i18n import text_map


@pytest.fixture
async def world(sessions, uris):
    """Lyon with an official discussion and three residents."""
    async with transaction(sessions) as s:
        lyon = await actors.create_organization(s, uris, "lyon", "Ville de Lyon")
        people = [(await actors.create_user(s, uris, n, "password-123", n.title())).actor
                  for n in ("camille", "dominique", "eva")]
        disc = await discussions.open_discussion(
            s, uris, lyon, "clos-jouve", {"fr": "Transformez le Clos Jouve", "en": "Transform Clos Jouve"},
            summary="Un espace public ouvert", alignment_enabled=True, support_threshold=2)
    return {"lyon": lyon, "people": people, "discussion": disc}


async def _events(sessions, kind):
    async with sessions() as s:
        return await s.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.kind == kind))


async def test_discussion__opening_makes_a_group_actor_and_federates(sessions, uris, world):
    """An official discussion gets a followable Group actor and a discussion.opened event."""
    disc = world["discussion"]
    assert disc.group.type == "Group" and disc.group.username == "lyon.clos-jouve"
    assert disc.page_ap_id == uris.discussion_page("lyon", "clos-jouve")
    assert await _events(sessions, "discussion.opened") == 1


async def test_discussion__citizen_one_waits_for_moderation(sessions, uris, world):
    """A citizen discussion is pending (nobody can contribute, nothing federates) until approved."""
    async with transaction(sessions) as s:
        d = await discussions.open_discussion(s, uris, world["lyon"], "composteurs", "Des composteurs",
                                              kind="citizen", author=world["people"][0])
        with pytest.raises(Forbidden):
            await contributions.contribute(s, uris, d, world["people"][1], "<p>Oui</p>")
    assert await _events(sessions, "discussion.opened") == 1
    async with transaction(sessions) as s:
        d = await s.merge(d)
        await discussions.moderate(s, d, approve=True)
    assert await _events(sessions, "discussion.opened") == 2


async def test_contribution__threads_stop_at_three_levels(sessions, uris, world):
    """A reply to a third-level reply stays at the third level."""
    async with transaction(sessions) as s:
        d, (a, b, c) = await s.merge(world["discussion"]), world["people"]
        top = await contributions.contribute(s, uris, d, a, "<p>1</p>", alignment="favour")
        r2 = await contributions.contribute(s, uris, d, b, "<p>2</p>", parent=top)
        r3 = await contributions.contribute(s, uris, d, c, "<p>3</p>", parent=r2)
        r4 = await contributions.contribute(s, uris, d, a, "<p>4</p>", parent=r3)
        assert [top.depth, r2.depth, r3.depth, r4.depth] == [1, 2, 3, 3]
        tree = await contributions.thread(s, d)
    assert len(tree) == 1 and tree[0].replies[0].replies[0].contribution.id == r3.id


async def test_contribution__agree_once_and_supported_badge(sessions, uris, world):
    """Agreeing twice counts once; at the threshold (2) the contribution is supported."""
    async with transaction(sessions) as s:
        d, (a, b, c) = await s.merge(world["discussion"]), world["people"]
        top = await contributions.contribute(s, uris, d, a, "<p>Composteur</p>")
        assert await contributions.agree(s, uris, top, b) is True
        assert await contributions.agree(s, uris, top, b) is False
        assert not contributions.supported_by_community(top, d)
        await contributions.agree(s, uris, top, c)
        assert top.agree_count == 2 and contributions.supported_by_community(top, d)
        assert await contributions.withdraw_agreement(s, c, contribution=top)
        await s.refresh(top)
        assert top.agree_count == 1


async def test_contribution__bad_alignment_and_closed_discussion_refused(sessions, uris, world):
    async with transaction(sessions) as s:
        d, a = await s.merge(world["discussion"]), world["people"][0]
        with pytest.raises(InvalidInput):
            await contributions.contribute(s, uris, d, a, "<p>x</p>", alignment="maybe")
        await discussions.close(s, d, {"fr": "Merci à tous"})
        with pytest.raises(Forbidden):
            await contributions.contribute(s, uris, d, a, "<p>x</p>")


async def test_progress__counts_participants_support_quality_impact(sessions, uris, world):
    async with transaction(sessions) as s:
        d, (a, b, c) = await s.merge(world["discussion"]), world["people"]
        one = await contributions.contribute(s, uris, d, a, "<p>1</p>")
        two = await contributions.contribute(s, uris, d, b, "<p>2</p>")
        await contributions.contribute(s, uris, d, a, "<p>3</p>")
        await contributions.agree(s, uris, one, b)
        await contributions.agree(s, uris, one, c)
        await contributions.set_mark(s, two, quality=True, impact=True)
        progress = await contributions.progress(s, d)
    assert (progress.participants, progress.widely_supported, progress.quality_recognised,
            progress.impact, progress.contributions) == (2, 1, 1, 1, 3)


async def test_proposal__lifecycle_and_roles(sessions, uris, world):
    """draft → published → evaluating → accepted → implemented; illegal moves refused."""
    async with transaction(sessions) as s:
        lyon, (a, b, _) = world["lyon"], world["people"]
        p = await proposals.create(s, uris, lyon, a, "Un composteur", "<p>Au jardin</p>")
        assert p.state == ProposalStates.draft
        with pytest.raises(Forbidden):
            await proposals.transition(s, p, "published", by=b, as_author=True)
        await proposals.transition(s, p, "published", by=a, as_author=True)
        with pytest.raises(Conflict):
            await proposals.transition(s, p, "implemented", by=lyon)
        await proposals.write_answer(s, p, "<p>Nous étudions</p>", user_id=1, state="accepted")
        assert p.state == "published" and p.answer_published_at is None  # stored, not published
        await proposals.publish_answer(s, uris, p, by=lyon)
        assert p.state == "accepted" and p.answer_ap_id == f"{p.ap_id}/answer"
        await proposals.transition(s, p, "implemented", by=lyon)
        history = [(h.from_state, h.to_state) for h in await proposals.history(s, p)]
    assert history == [("draft", "published"), ("published", "accepted"), ("accepted", "implemented")]
    assert await _events(sessions, "proposal.answer_published") == 1


async def test_proposal__supports_limited_per_person_in_a_space(sessions, uris, world):
    """A space allowing 2 supports per person refuses the third; threshold marks success."""
    async with transaction(sessions) as s:
        lyon, (a, b, _) = world["lyon"], world["people"]
        space = await spaces.create_space(s, lyon, "budget-2026", "Budget participatif",
                                          supports_per_person=2, support_threshold=1)
        ps = [await proposals.create(s, uris, lyon, a, f"Projet {i}", "<p>x</p>", space=space, publish=True)
              for i in range(3)]
        assert await proposals.support(s, uris, ps[0], b)
        assert await proposals.support(s, uris, ps[1], b)
        with pytest.raises(Conflict):
            await proposals.support(s, uris, ps[2], b)
        assert proposals.succeeded(ps[0], space) and not proposals.succeeded(ps[2], space)
        page = await proposals.index(s, lyon, sort="supports")
    assert [p.title for p in page.items][:2] in (["Projet 1", "Projet 0"], ["Projet 0", "Projet 1"])
    assert page.total == 3 and page.items[-1].title == "Projet 2"


async def test_proposal__index_filters_and_paginates(sessions, uris, world):
    async with transaction(sessions) as s:
        lyon, a = world["lyon"], world["people"][0]
        for i in range(25):
            p = await proposals.create(s, uris, lyon, a, f"Idée {i:02d}", "<p>x</p>", publish=True)
            if i % 5 == 0:
                await proposals.transition(s, p, "evaluating", by=lyon)
        await proposals.create(s, uris, lyon, a, "Brouillon", "<p>x</p>")  # drafts are never listed
        first = await proposals.index(s, lyon, sort="recent", page=1)
        second = await proposals.index(s, lyon, sort="recent", page=2)
        evaluating = await proposals.index(s, lyon, state="evaluating")
    assert first.total == 25 and first.pages == 2 and len(first.items) == 20 and len(second.items) == 5
    assert evaluating.total == 5
    assert "Brouillon" not in [p.title for p in first.items + second.items]


async def test_community__key_stakeholders_ranked_by_support(sessions, uris, world):
    async with transaction(sessions) as s:
        d, (a, b, c) = await s.merge(world["discussion"]), world["people"]
        await community.set_stakeholder(s, d, a, "association", "CDQ Croix-Rousse Ouest")
        await community.set_stakeholder(s, d, b, "expert", "Urbaniste")
        ca = await contributions.contribute(s, uris, d, a, "<p>a</p>")
        cb = await contributions.contribute(s, uris, d, b, "<p>b</p>")
        for who in (a, c):
            await contributions.agree(s, uris, cb, who)
        await contributions.agree(s, uris, ca, c)
        ranked = await community.key_stakeholders(s, d)
        with pytest.raises(InvalidInput):
            await community.set_stakeholder(s, d, c, "wizard")
    assert [(r.stakeholder.actor_id, r.support) for r in ranked] == [(b.id, 2), (a.id, 1)]
    assert ranked[0].latest.id == cb.id


async def test_community__initiative_acted_once_per_person(sessions, uris, world):
    async with transaction(sessions) as s:
        d, (a, b, _) = await s.merge(world["discussion"]), world["people"]
        init = await community.create_initiative(s, uris, d, a, "Propositions du CDQ", "<p>Venez</p>")
        assert await community.act(s, uris, init, b)
        assert not await community.act(s, uris, init, b)
        assert init.acted_count == 1
        with pytest.raises(InvalidInput):
            await community.add_article(s, uris, d, a, "Sans contenu")
        art = await community.add_article(s, uris, d, a, "Le Clos-Jouve", link="https://example.org/a")
    assert art.link == "https://example.org/a"


async def test_spaces__phases_switch_components(sessions, uris, world):
    today = date(2026, 11, 22)
    async with transaction(sessions) as s:
        space = await spaces.create_space(s, world["lyon"], "clos-jouve", "Concertation Clos Jouve")
        await spaces.add_phase(s, space, "Idées", today - timedelta(days=10), today, ["discussions", "proposals"])
        await spaces.add_phase(s, space, "Vote", today + timedelta(days=1), today + timedelta(days=20), ["supports"])
        with pytest.raises(Conflict):
            await spaces.add_phase(s, space, "Chevauche", today, today + timedelta(days=2), [])
        assert await spaces.component_enabled(s, space, "proposals", today)
        assert not await spaces.component_enabled(s, space, "supports", today)
        assert await spaces.component_enabled(s, space, "supports", today + timedelta(days=2))


async def test_dashboard__figures_and_change_over_previous_period(sessions, uris, world):
    today = utcnow().date()
    async with transaction(sessions) as s:
        lyon, d, (a, b, _) = world["lyon"], await s.merge(world["discussion"]), world["people"]
        c = await contributions.contribute(s, uris, d, a, "<p>1</p>")
        await contributions.contribute(s, uris, d, b, "<p>2</p>")
        await contributions.set_mark(s, c, quality=True)
        await dashboard.add_visits(s, {(lyon.id, None, today): 30, (lyon.id, None, today - timedelta(days=40)): 10})
        await dashboard.add_visits(s, {(lyon.id, None, today): 5})
        board = await dashboard.dashboard(s, lyon.id, today, days=30)
    assert board.open_official_discussions == 1
    assert board.visits.value == 35 and board.visits.previous == 10 and board.visits.change == 250
    assert board.new_comments.value == 2 and board.new_comments.change is None
    assert board.active_people.value == 2 and board.quality_recognised.value == 1
    assert board.visits_series[-1] == (today, 35) and len(board.visits_series) == 30
    assert board.comments_series[-1] == (today, 2)


async def test_dashboard__active_people_counts_only_this_organisations_activity(sessions, uris, world):
    """Someone who acted on another organisation's initiative is not active here."""
    today = utcnow().date()
    async with transaction(sessions) as s:
        nice = await actors.create_organization(s, uris, "nice", "Nice")
        other = await discussions.open_discussion(s, uris, nice, "tram", "Tramway")
        init = await community.create_initiative(s, uris, other, nice, "Pétition", "<p>x</p>")
        await community.act(s, uris, init, world["people"][2])
        board = await dashboard.dashboard(s, world["lyon"].id, today)
        nice_board = await dashboard.dashboard(s, nice.id, today)
    assert board.active_people.value == 0 and nice_board.active_people.value == 1


@pytest.mark.parametrize("value", [{"fr": "a\x00b"}, "a\x00b", {"fr": 5}, ["fr"], {"de": ["x"]}])
def test_text_map__refuses_what_is_not_text_and_nul_characters(value):
    """Titles and descriptions of spaces, questionnaires, budgets… go through text_map: a NUL
    (which PostgreSQL's JSONB refuses) or a value that is not text is an InvalidInput, never a 500."""
    with pytest.raises(InvalidInput):
        text_map(value, what="title")
