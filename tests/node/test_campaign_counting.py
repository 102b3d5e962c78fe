"""node/services/campaigns.py: the kept counts of a campaign's supports equal a recount of the
supports whatever happens — supports arriving at once, and a hypothesis state machine."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from node.db import create_engine, session_factory, transaction
from node.models import Actor, Campaign, CampaignSupport, CampaignVariant, User, utcnow
from node.services import actors, campaigns, coalitions, erasure, reactions
from tests.node.campaign_scene import assert_consistent, make_scene, person, remote, shares

# -- concurrency: supports arriving at once ---------------------------------------------------------------------------

class _Alone:
    async def wait(self) -> None:
        return None


def together(engine, parties: int):
    """Transactions that wait for each other before writing: on PostgreSQL, where they run at
    once; SQLite takes a process's write transactions in turn (node.db.writing), so none waits."""
    return asyncio.Barrier(parties) if engine.dialect.name == "postgresql" else _Alone()


async def test_concurrency__supports_arriving_at_once_all_count(sessions, engine, uris):
    """Several transactions supporting the same campaign through the same variant at the same time
    (the inbox workers): the counter, the tally row and the day row lose none (upserts in SQL)."""
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        people = [await person(s, f"p{n}") for n in range(8)]
    ready = together(engine, len(people))

    async def support(actor: Actor, n: int) -> bool:
        async with transaction(sessions) as s:
            campaign = await s.get(Campaign, w.campaign.id)
            variant = await s.get(CampaignVariant, w.ngo_fr.id)
            await s.get(Actor, actor.id)
            await ready.wait()
            return await campaigns.support(s, uris, campaign, await s.get(Actor, actor.id),
                                           like_ap_id=f"https://people.example/l/{n}", variant=variant,
                                           relayed_by=await s.get(Actor, w.ngo.id))

    assert await asyncio.wait_for(asyncio.gather(*(support(a, n) for n, a in enumerate(people))), 60) == [True] * 8
    async with sessions() as s:
        assert await assert_consistent(s, w.campaign.id) == 8
        assert await shares(s, await s.get(Campaign, w.campaign.id)) == {("ngo", "fr"): 8}


async def test_concurrency__the_same_person_twice_at_once_counts_once(sessions, engine, uris):
    """Two Likes of one person arriving at once (two variants): one counts; the other is refused
    by the unique (campaign, person) or sees the first, and the counts stay equal to the rows."""
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        ana = await person(s, "ana")
    ready = together(engine, 2)

    async def support(n: int, variant_id: int) -> bool | str:
        try:
            async with transaction(sessions) as s:
                campaign = await s.get(Campaign, w.campaign.id)
                variant = await s.get(CampaignVariant, variant_id)
                await ready.wait()
                return await campaigns.support(s, uris, campaign, await s.get(Actor, ana.id),
                                               like_ap_id=f"https://people.example/l/{n}", variant=variant)
        except IntegrityError:
            return "refused"

    outcomes = await asyncio.wait_for(asyncio.gather(support(1, w.lyon_de.id), support(2, w.ngo_fr.id)), 60)
    assert sorted(map(str, outcomes)) in (["False", "True"], ["True", "refused"])
    async with sessions() as s:
        assert await assert_consistent(s, w.campaign.id) == 1


# -- the state machine: whatever happens, the kept counts equal a recount -----------------------------------------------

MEMBERS = ("lyon", "ngo", "city")  # Lyon local; the NGO and the city remote


def test_stateful__counts_tallies_and_days_always_equal_a_recount(database_url, monkeypatch):
    """Random sequences of supports (direct or through a member's variant), Undos, relayed
    withdrawals, removals and re-joins of members, erasures of local supporters and Deletes of
    remote ones, over several days: the campaign's counter, the tallies' total and the number of
    supports agree; each tally row and each day equal their recount; each support is credited to
    the member it came through only if it was a member at that moment."""
    loop = asyncio.new_event_loop()
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    from node.uris import Uris

    uris = Uris("http://127.0.0.1:18080")
    clock = {"now": utcnow()}
    monkeypatch.setattr(campaigns, "utcnow", lambda: clock["now"])
    runs = {"n": 0}

    class Supports(RuleBasedStateMachine):
        """One coalition and campaign per example (a prefix keeps the handles apart)."""

        def run(self, coroutine):
            return loop.run_until_complete(coroutine)

        @initialize()
        def scene(self):
            runs["n"] += 1
            self.prefix = f"r{runs['n']}"

            async def make():
                async with transaction(sessions) as s:
                    w = await make_scene(s, uris, self.prefix)
                    city = remote(f"{self.prefix}city", host="city.example")
                    s.add(city)
                    await s.flush()
                    await coalitions.invite(s, uris, w.group, city)
                    await coalitions.receive_invite_answer(s, w.group, city, True)
                    city_de = await campaigns.store_remote_variant(
                        s, w.campaign, city, ap_id=f"https://city.example/variants/{self.prefix}", language="de",
                        name="Ozeane", content="<p>x</p>", visual_url=None, visual_media_type=None)
                    users = [await actors.create_user(s, uris, f"{self.prefix}u{n}", "password-123", f"U{n}")
                             for n in range(3)]
                    persons = [await person(s, f"{self.prefix}p{n}") for n in range(4)]
                    return w, city, city_de, users, persons

            w, city, city_de, users, persons = self.run(make())
            self.w = w
            self.orgs = {"lyon": w.lyon, "ngo": w.ngo, "city": city}
            self.variants = {"lyon": w.lyon_de, "ngo": w.ngo_fr, "city": city_de}
            self.users = {u.actor_id: u for u in users}
            self.people = [u.actor for u in users] + persons
            self.members = set(MEMBERS)
            self.gone: set[int] = set()  # erased or deleted: they act no more
            self.given: dict[int, dict] = {}  # actor id → the support the model expects
            self.likes = 0

        def _alive(self, index: int) -> Actor | None:
            actor = self.people[index % len(self.people)]
            return None if actor.id in self.gone else actor

        @rule(who=st.integers(0, 6), via=st.sampled_from((None, *MEMBERS)), language=st.sampled_from((None, "de")))
        def support(self, who, via, language):
            actor = self._alive(who)
            if actor is None:
                return
            self.likes += 1
            like = f"https://people.example/likes/{self.prefix}/{self.likes}"
            variant = self.variants[via] if via else None
            org = self.orgs[via] if via else None

            async def go():
                async with transaction(sessions) as s:
                    return await campaigns.support(
                        s, uris, await s.get(Campaign, self.w.campaign.id), await s.get(Actor, actor.id),
                        like_ap_id=like, variant=await s.get(CampaignVariant, variant.id) if variant else None,
                        relayed_by=await s.get(Actor, org.id) if org else None, language=None if via else language)

            counted = self.run(go())
            assert counted == (actor.id not in self.given)
            if counted:
                self.given[actor.id] = {"like": like, "via": via,
                                        "member": self.orgs[via].id if via in self.members else None,
                                        "language": variant.language if variant else (language or "fr")}

        @precondition(lambda self: self.given)
        @rule(pick=st.integers(0, 100))
        def undo(self, pick):
            actor_id = sorted(self.given)[pick % len(self.given)]
            like = self.given[actor_id]["like"]

            async def go():
                async with transaction(sessions) as s:
                    return await reactions.withdraw_by_id(s, await s.get(Actor, actor_id), like)

            assert self.run(go()) is campaigns.CAMPAIGN_SUPPORT
            del self.given[actor_id]

        @precondition(lambda self: self.given)
        @rule(pick=st.integers(0, 100), by=st.sampled_from(MEMBERS))
        def withdraw_relayed(self, pick, by):
            actor_id = sorted(self.given)[pick % len(self.given)]
            expected = self.given[actor_id]["via"] == by

            async def go():
                async with transaction(sessions) as s:
                    return await campaigns.withdraw_relayed(s, self.given[actor_id]["like"],
                                                            await s.get(Actor, self.orgs[by].id))

            assert self.run(go()) == expected
            if expected:
                del self.given[actor_id]

        @rule(which=st.sampled_from(MEMBERS))
        def remove_or_rejoin(self, which):
            org = self.orgs[which]

            async def go():
                async with transaction(sessions) as s:
                    group, member = await s.get(Actor, self.w.group.id), await s.get(Actor, org.id)
                    if which in self.members:
                        await coalitions.remove(s, group, member)
                    else:
                        await coalitions.invite(s, uris, group, member)
                        if member.local:
                            await coalitions.answer_invite(s, uris, member, group, True)
                        else:
                            await coalitions.receive_invite_answer(s, group, member, True)

            self.run(go())
            self.members ^= {which}

        @rule(who=st.integers(0, 6))
        def erase(self, who):
            actor = self._alive(who)
            if actor is None:
                return

            async def go():
                async with transaction(sessions) as s:
                    if actor.id in self.users:
                        await erasure.erase_account(s, await s.get(User, self.users[actor.id].id), by=None)
                    else:
                        await reactions.withdraw_all(s, await s.get(Actor, actor.id))

            self.run(go())
            self.gone.add(actor.id)
            self.given.pop(actor.id, None)

        @rule(days=st.integers(1, 3))
        def next_day(self, days):
            clock["now"] += timedelta(days=days)

        @invariant()
        def counts_equal_their_recount(self):
            if not hasattr(self, "w"):
                return

            async def go():
                async with sessions() as s:
                    supports = await assert_consistent(s, self.w.campaign.id)
                    rows = {r.actor_id: (r.ap_id, r.member_id, r.language) for r in await s.scalars(
                        select(CampaignSupport).where(CampaignSupport.campaign_id == self.w.campaign.id))}
                    return supports, rows

            supports, rows = self.run(go())
            assert supports == len(self.given)
            assert rows == {a: (g["like"], g["member"], g["language"]) for a, g in self.given.items()}

    Supports.TestCase.settings = settings(max_examples=12, stateful_step_count=30, deadline=None,
                                          database=None, derandomize=True,
                                          suppress_health_check=list(HealthCheck))
    try:
        from hypothesis.stateful import run_state_machine_as_test
        run_state_machine_as_test(Supports, settings=Supports.TestCase.settings)
    finally:
        loop.run_until_complete(engine.dispose())
        loop.close()
