"""`civic demo` seeds a believable node: Lyon (Clos Jouve) and Nice, in fr/en/de, every state."""

from __future__ import annotations

from sqlalchemy import func, select

from node.demo import seed_demo
from node.models import (
    Article,
    Ballot,
    Budget,
    BudgetProject,
    Contribution,
    Discussion,
    Initiative,
    Membership,
    Poll,
    Proposal,
    Questionnaire,
    QuestionnaireResponse,
    Stakeholder,
)
from node.models.proposals import ProposalStates


async def _count(s, model, *where):
    return await s.scalar(select(func.count()).select_from(model).where(*where))


async def test_demo__seeds_every_kind_of_content_once(sessions, uris):
    """Two organisations, discussions in three languages, proposals in every state; idempotent."""
    logins = await seed_demo(sessions, uris)
    await seed_demo(sessions, uris)  # a second run adds nothing
    assert ("lyon_admin", "civic-demo-2026", "admin of lyon") in logins
    async with sessions() as s:
        states = set(await s.scalars(select(Proposal.state)))
        assert states == set(ProposalStates.ALL)
        clos = await s.scalar(select(Discussion).where(Discussion.slug == "clos-jouve"))
        assert set(clos.title) == {"fr", "en", "de"}
        assert await _count(s, Discussion) == 5
        assert await _count(s, Discussion, Discussion.kind == "citizen") == 1
        assert await _count(s, Discussion, Discussion.status == "closed") == 1
        assert await _count(s, Stakeholder, Stakeholder.discussion_id == clos.id) == 4
        assert await _count(s, Article, Article.discussion_id == clos.id) == 2
        assert await _count(s, Initiative) == 1
        assert await _count(s, Contribution, Contribution.quality_recognised.is_(True)) >= 2
        assert await _count(s, Contribution, Contribution.depth == 3) >= 1


async def test_demo__official_answers_are_written_by_an_admin_of_the_proposals_organisation(sessions, uris):
    """Each answered demo proposal names as its answerer an admin member of its own organisation."""
    await seed_demo(sessions, uris)
    async with sessions() as s:
        answered = list(await s.scalars(select(Proposal).where(Proposal.answer.is_not(None))))
        assert len(answered) >= 4  # evaluating, accepted, rejected, implemented
        for p in answered:
            assert p.answered_by_id is not None, p.title
            roles = set(await s.scalars(select(Membership.role).where(
                Membership.user_id == p.answered_by_id, Membership.organization_id == p.organization_id)))
            assert "admin" in roles, (p.title, p.answered_by_id, roles)


async def test_demo__a_questionnaire_a_poll_and_a_budget_in_its_voting_phase(sessions, uris):
    """Lyon's questionnaire (with a display condition) and poll in the Clos Jouve discussion, and
    Nice's €50,000 budget open for ballots, each already answered, voted in or cast."""
    await seed_demo(sessions, uris)
    async with sessions() as s:
        q = await s.scalar(select(Questionnaire))
        assert q.state == "published" and q.discussion_id is not None
        assert await _count(s, QuestionnaireResponse) == q.response_count == 3
        poll = await s.scalar(select(Poll))
        assert poll.discussion_id == q.discussion_id and poll.voters_count == 3
        budget = await s.scalar(select(Budget))
        assert (budget.amount, budget.currency, budget.phase) == (50000, "EUR", "voting")
        assert await _count(s, Ballot, Ballot.budget_id == budget.id) == 3
        assert await _count(s, BudgetProject, BudgetProject.feasibility == "unfeasible") == 1
        votes = sum(await s.scalars(select(BudgetProject.votes_count)))
        assert votes == 9
