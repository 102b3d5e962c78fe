"""Ballots under concurrency (node/services/budget_ballots.py ``cast``): one ballot per person and
counts equal to the rows, whatever the interleaving — on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import random

from sqlalchemy import func, select

from node.db import create_engine, session_factory, transaction
from node.models import Ballot, BallotProject, Budget, User
from node.services import actors, budget_ballots, membership
from tests.node.budget_scene import PASSWORD, make_town, recount, voting_budget

PARTICIPANTS = 500
SUBMISSIONS = 1_000
COSTS = [10, 20, 30, 40, 50, 60, 70, 80]  # of a budget of 150: many valid ballots, many over it


def _ballot(rng: random.Random, ids: list[int]) -> list[int]:
    """A valid knapsack ballot (at most 150) of one to four projects, in a random order."""
    while True:
        chosen = rng.sample(range(len(ids)), rng.randint(1, 4))
        if sum(COSTS[n] for n in chosen) <= 150:
            return [ids[n] for n in chosen]


async def test_concurrency__1000_submissions_from_500_participants_one_ballot_each(database_url, uris):
    """1,000 ballots submitted at once (asyncio.gather, each in its own session and transaction)
    by 500 verified participants, two each with different choices: every submission is accepted
    (the second replaces the first whichever commits last), exactly 500 ballots remain, each
    equal to one of its voter's two submissions with its total, and each project's votes_count
    equals its rows. (Its own engine: 1,000 transactions queue for PostgreSQL's 20 pooled
    connections longer than the pool's default 30 s wait on a loaded machine.)"""
    engine = create_engine(database_url, pool_timeout=600)
    try:
        await _run(session_factory(engine), uris)
    finally:
        await engine.dispose()


async def _run(sessions, uris) -> None:
    async with transaction(sessions) as s:
        town = await make_town(s, uris, residents=1)
        budget = await voting_budget(s, uris, town, COSTS, amount=150)
        ids = [p.id for p in town.projects]
        credentials = await actors.prepare_credentials(PASSWORD)  # one hash and key pair for all
        for n in range(PARTICIPANTS - 1):
            user = await actors.create_user(s, uris, f"p{n}", PASSWORD, f"P{n}", credentials=credentials)
            await membership.admit(s, town.org, user, town.admin)
        users = list(await s.scalars(select(User.id).where(User.id != town.admin.id, User.id != town.stranger.id)))
    assert len(users) == PARTICIPANTS
    rng = random.Random(11)
    submissions = [(user, _ballot(rng, ids)) for user in users for _ in range(SUBMISSIONS // PARTICIPANTS)]
    rng.shuffle(submissions)

    async def submit(user_id: int, chosen: list[int]) -> int:
        async with transaction(sessions) as s:
            ballot = await budget_ballots.cast(s, await s.get(Budget, budget.id), await s.get(User, user_id), chosen)
            return ballot.id

    ballot_ids = await asyncio.wait_for(asyncio.gather(*(submit(u, c) for u, c in submissions)), 600)
    assert len(ballot_ids) == SUBMISSIONS and len(set(ballot_ids)) == PARTICIPANTS

    async with sessions() as s:
        kept, counted, ballots = await recount(s, budget.id)
        assert ballots == PARTICIPANTS
        assert kept == counted and sum(kept.values()) == await s.scalar(
            select(func.count()).select_from(BallotProject))
        per_user = await s.scalar(select(func.count(func.distinct(Ballot.user_id))).where(Ballot.budget_id == budget.id))
        assert per_user == PARTICIPANTS
        stored = await budget_ballots.ballots(s, await s.get(Budget, budget.id))
        owners = dict((await s.execute(select(Ballot.id, Ballot.user_id))).all())
        totals = dict((await s.execute(select(Ballot.id, Ballot.total))).all())
    sent = {}
    for user, chosen in submissions:
        sent.setdefault(user, []).append(set(chosen))
    cost = dict(zip(ids, COSTS, strict=True))
    for ballot_id, (_, chosen) in stored.items():
        assert chosen in sent[owners[ballot_id]]
        assert totals[ballot_id] == sum(cost[p] for p in chosen)
