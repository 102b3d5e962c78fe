"""node/services/polls.py: the rules of a vote (oneOf, anyOf, closed, unknown option, who may
read), the counts moved in SQL and always equal to the rows (races on every backend, a
hypothesis state machine), erasure keeping votes counted but unlinked, remote polls' tallies, and
the debounced Update{Question}."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import func, select

from node.db import create_engine, session_factory, transaction
from node.errors import CivicError, Conflict, Forbidden, InvalidInput, NotFound
from node.models import (
    Actor,
    Discussion,
    OutboxEvent,
    Poll,
    PollOption,
    PollVote,
    PollVoter,
    User,
    utcnow,
)
from node.services import actors, discussions, erasure, export, polls
from node.uris import Uris


def remote(name: str, type_: str = "Person", host: str = "people.example") -> Actor:
    return Actor(ap_id=f"https://{host}/actors/{name}", type=type_, local=False, username=name,
                 domain=host, name=name.title(), inbox=f"https://{host}/actors/{name}/inbox")


@dataclass
class Scene:
    org: Actor
    discussion: Discussion
    staff: User
    users: list[User]
    people: list[Actor]  # remote


async def make_scene(s, uris, prefix: str = "", *, visibility: str = "public") -> Scene:
    org = await actors.create_organization(s, uris, f"{prefix}lyon", "Ville de Lyon")
    discussion = await discussions.open_discussion(s, uris, org, "velo", {"fr": "Vélo"}, visibility=visibility)
    staff = await actors.create_user(s, uris, f"{prefix}staff", "password-123", "Staff")
    await actors.add_member(s, staff, org, "moderator")
    users = [await actors.create_user(s, uris, f"{prefix}u{n}", "password-123", f"U{n}") for n in range(3)]
    people = []
    for n in range(3):
        people.append(remote(f"{prefix}p{n}"))
        s.add(people[-1])
    await s.flush()
    return Scene(org, discussion, staff, users, people)


async def make_poll(s, uris, w: Scene, *, multiple=False, in_discussion=True, **kwargs) -> Poll:
    return await polls.create(s, uris, w.org, w.org, "<p>Which day?</p>", ["Monday", "Tuesday", "Friday"],
                              multiple=multiple, discussion=w.discussion if in_discussion else None, **kwargs)


async def counts(s, poll_id: int) -> tuple[dict[str, int], int]:
    """({option: votes_count}, voters_count) as kept."""
    kept = {o.name: o.votes_count for o in await s.scalars(select(PollOption).where(PollOption.poll_id == poll_id))}
    return kept, await s.scalar(select(Poll.voters_count).where(Poll.id == poll_id))


async def recount(s, poll_id: int) -> tuple[dict[str, int], int]:
    """The same, counted from the rows."""
    rows = (await s.execute(select(PollOption.name, func.count(PollVote.id))
                            .outerjoin(PollVote, PollVote.option_id == PollOption.id)
                            .where(PollOption.poll_id == poll_id).group_by(PollOption.name))).all()
    voters = await s.scalar(select(func.count()).select_from(PollVoter).where(PollVoter.poll_id == poll_id))
    return dict(rows), voters


async def assert_consistent(s, poll_id: int) -> tuple[dict[str, int], int]:
    kept = await counts(s, poll_id)
    assert kept == await recount(s, poll_id)
    return kept


async def events(s, kind: str) -> list[dict]:
    return [e.payload for e in await s.scalars(select(OutboxEvent).where(OutboxEvent.kind == kind)
                                               .order_by(OutboxEvent.id))]


# -- making a poll ---------------------------------------------------------------------------------

async def test_create__options_checked_and_created_event(sessions, uris):
    """A poll keeps its options in order, is Created for federation; bad options are refused."""
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        poll = await make_poll(s, uris, w)
        assert [o.name for o in await polls.options(s, poll)] == ["Monday", "Tuesday", "Friday"]
        assert poll.ap_id.startswith(f"{uris.base}/polls/") and poll.discussion_id == w.discussion.id
        assert await events(s, polls.POLL_CREATED) == [{"poll_id": poll.id}]
        for bad in ([], ["one"], ["a", "A"], ["x" * 201, "b"], [str(n) for n in range(21)], "ab", [1, 2]):
            with pytest.raises(InvalidInput):
                await polls.create(s, uris, w.org, w.org, "<p>Q</p>", bad)
        with pytest.raises(InvalidInput):
            await polls.create(s, uris, w.org, w.org, "<p>Q</p>", ["a", "b"], end_time=utcnow() - timedelta(1))
        with pytest.raises(InvalidInput):
            await polls.create(s, uris, w.org, w.people[0], "<p>Q</p>", ["a", "b"])


async def test_create__a_members_poll_does_not_federate_and_is_read_by_members_only(sessions, uris):
    """A poll in a members-only discussion is at that level: no Create, and a reader outside
    the organisation may neither read nor vote in it."""
    async with transaction(sessions) as s:
        w = await make_scene(s, uris, visibility="members")
        poll = await make_poll(s, uris, w)
        assert poll.visibility == "members" and await events(s, polls.POLL_CREATED) == []
        with pytest.raises(NotFound):
            await polls.vote(s, uris, poll, w.people[0], ["Monday"], ap_ids=["https://people.example/v/1"])
        with pytest.raises(NotFound):
            await polls.vote(s, uris, poll, w.users[0].actor, ["Monday"])
        assert len(await polls.vote(s, uris, poll, await s.get(Actor, w.staff.actor_id), ["Monday"])) == 1


async def test_create__a_poll_in_a_discussion_waiting_for_moderation_is_not_sent(sessions, uris):
    """A citizen discussion not yet approved is its staff's: a poll asked in it is at ``members``
    and emits no Create{Question}."""
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        citizen = await discussions.open_discussion(s, uris, w.org, "idee", {"fr": "Idée"}, kind="citizen",
                                                    author=w.users[0].actor)
        poll = await polls.create(s, uris, w.org, w.org, "<p>Q?</p>", ["a", "b"], discussion=citizen)
        assert await polls.level(s, poll) == "members" and await events(s, polls.POLL_CREATED) == []


# -- the rules of a vote, table-driven ---------------------------------------------------------------

RULES = [
    # (multiple, first choices, second choices (same actor), the second's refusal or None)
    (False, ["Monday"], ["Tuesday"], Conflict),  # oneOf: a second vote
    (False, ["Monday"], ["Monday"], Conflict),
    (False, ["Monday", "Tuesday"], None, InvalidInput),  # oneOf: two options at once
    (True, ["Monday"], ["Tuesday"], None),  # anyOf: one Note per option, Mastodon's way
    (True, ["Monday", "Friday"], ["Tuesday"], None),
    (True, ["Monday"], ["Monday"], Conflict),  # anyOf: the same option twice
    (True, ["Monday", "Tuesday"], ["Tuesday", "Friday"], Conflict),
    (True, ["Monday", "Monday"], None, InvalidInput),
    (False, ["Sunday"], None, InvalidInput),  # unknown option
    (True, ["Monday", "Sunday"], None, InvalidInput),
    (False, [], None, InvalidInput),
]


@pytest.mark.parametrize(("multiple", "first", "second", "refused"), RULES)
@pytest.mark.parametrize("local", [True, False], ids=["local", "remote"])
async def test_vote__rules(sessions, uris, multiple, first, second, refused, local):
    """Each case leaves the counts equal to the rows, and a refused call changes nothing."""
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        poll = await make_poll(s, uris, w, multiple=multiple)
    calls = [first] if second is None else [first, second]
    outcomes = []
    for n, choices in enumerate(calls):
        try:
            async with transaction(sessions) as s:
                actor = await s.get(Actor, w.users[0].actor_id if local else w.people[0].id)
                ap_ids = None if local else [f"https://people.example/v/{n}/{i}" for i in range(len(choices))]
                await polls.vote(s, uris, await s.get(Poll, poll.id), actor, choices, ap_ids=ap_ids)
            outcomes.append(None)
        except CivicError as error:
            outcomes.append(type(error))
    assert outcomes[-1] is refused
    assert all(o is None for o in outcomes[:-1])
    accepted = [c for c, o in zip(calls, outcomes, strict=True) if o is None]
    async with sessions() as s:
        kept, voters = await assert_consistent(s, poll.id)
        chosen = [name for c in accepted for name in c]
        assert kept == {name: chosen.count(name) for name in ("Monday", "Tuesday", "Friday")}
        assert voters == (1 if accepted else 0)


@pytest.mark.parametrize("how", ["end_time", "closed"])
async def test_vote__a_late_vote_is_refused(sessions, uris, how):
    """After its end time, or once closed, a poll takes no vote."""
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        poll = await make_poll(s, uris, w, end_time=utcnow() + timedelta(hours=1))
        await polls.vote(s, uris, poll, w.users[0].actor, ["Monday"])
        if how == "closed":
            await polls.close(s, poll)
        later = utcnow() + timedelta(hours=2)
        with pytest.raises(Conflict, match="closed"):
            await polls.vote(s, uris, poll, w.users[1].actor, ["Monday"], now=later)
        assert polls.is_closed(poll, later)
        assert await assert_consistent(s, poll.id) == ({"Monday": 1, "Tuesday": 0, "Friday": 0}, 1)


async def test_vote__an_id_recorded_already_is_refused(sessions, uris):
    """A remote Note id counts once, even from another actor."""
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        poll = await make_poll(s, uris, w, multiple=True)
        await polls.vote(s, uris, poll, w.people[0], ["Monday"], ap_ids=["https://people.example/v/1"])
        with pytest.raises(Conflict):
            await polls.vote(s, uris, poll, w.people[1], ["Tuesday"], ap_ids=["https://people.example/v/1"])
        with pytest.raises(InvalidInput):
            await polls.vote(s, uris, poll, w.people[1], ["Tuesday"], ap_ids=[])


async def test_results_visible__hidden_until_closed(sessions, uris):
    """Hidden results show once the end time passed or the staff closed the poll; others always."""
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        poll = await make_poll(s, uris, w, hide_results=True, end_time=utcnow() + timedelta(days=1))
        assert not polls.results_visible(poll)
        assert polls.results_visible(poll, utcnow() + timedelta(days=2))
        await polls.close(s, poll)
        assert polls.results_visible(poll)
        open_poll = await make_poll(s, uris, w)
        assert polls.results_visible(open_poll)


# -- remote polls ------------------------------------------------------------------------------------

async def test_remote_poll__local_votes_kept_tallies_the_authors(sessions, uris):
    """A remote poll addressed to a discussion: stored with its tallies; a local vote is kept
    (and sent, POLL_VOTED) without touching them; only its author updates it; a remote actor's
    vote in it is not ours to count."""
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        author = remote("asker", host="fedify.example")
        s.add(author)
        await s.flush()
        ap_id = "https://fedify.example/questions/1"
        poll = await polls.store_remote(s, ap_id, author, content_html="<p>Q?</p>",
                                        options=[("Yes", 3), ("No", 1)], multiple=False, end_time=None,
                                        closed_at=None, voters_count=4, discussion=w.discussion)
        assert not poll.local and poll.discussion_id == w.discussion.id and poll.organization_id == w.org.id
        assert await polls.of_discussion(s, w.discussion) == [poll]
        votes = await polls.vote(s, uris, poll, w.users[0].actor, ["Yes"])
        assert await events(s, polls.POLL_VOTED) == [{"poll_id": poll.id, "vote_ids": [votes[0].id]}]
        assert await counts(s, poll.id) == ({"Yes": 3, "No": 1}, 4)
        assert await polls.choices_of(s, poll, w.users[0].actor) == {votes[0].option_id}
        with pytest.raises(Forbidden):
            await polls.vote(s, uris, poll, w.people[0], ["Yes"], ap_ids=["https://people.example/v/9"])
        await polls.store_remote(s, ap_id, author, content_html="<p>Q?</p>",
                                 options=[("Yes", 4), ("No", 1), ("Maybe", 2)], multiple=False, end_time=None,
                                 closed_at=None, voters_count=7, discussion=None)
        assert await counts(s, poll.id) == ({"Yes": 4, "No": 1, "Maybe": 2}, 7)
        with pytest.raises(Forbidden):
            await polls.store_remote(s, ap_id, w.people[0], content_html="", options=[("Yes", 99)],
                                     multiple=False, end_time=None, closed_at=None, voters_count=99,
                                     discussion=None)
        await polls.delete_remote(s, poll, author)
        assert await polls.of_discussion(s, w.discussion) == []


NAMES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(ap_id=st.one_of(st.just("https://fedify.example/questions/{n}"), NAMES,
                       st.sampled_from(["https://fedify.example/q/\x00", "http://[::1/q", "https://other.example/q"])),
       options=st.lists(st.tuples(st.one_of(NAMES, st.sampled_from(["  ", "Oui", " Oui ", "x" * 501])),
                                  st.one_of(st.integers(), st.just(2**70))), max_size=6),
       content=st.one_of(NAMES, st.just("<p>a\x00</p>")), voters=st.one_of(st.none(), st.integers()),
       choices=st.lists(NAMES, max_size=3), note=st.one_of(NAMES, st.just("https://fedify.example/v/\x00")))
async def test_fuzz__hostile_remote_polls_and_votes_raise_only_reasons(sessions, uris, ap_id, options, content,
                                                                      voters, choices, note):
    """Whatever a remote server sends (ids, option names and counts, texts, votes): stored with
    counts in range, or refused with one of the project's errors and a reason — never another
    exception (the inbox records it as the refusal's reason)."""
    async with transaction(sessions) as s:
        author = await s.scalar(select(Actor).where(Actor.ap_id == "https://fedify.example/actors/asker"))
        if author is None:
            author = remote("asker", host="fedify.example")
            s.add(author)
            await s.flush()
        n = await s.scalar(select(func.count()).select_from(Poll))
        try:
            poll = await polls.store_remote(
                s, ap_id.format(n=n) if ap_id.startswith("https://fedify") else ap_id, author, content_html=content,
                options=options, multiple=True, end_time=None, closed_at=None, voters_count=voters, discussion=None)
        except CivicError as error:
            assert error.reason
            return
        kept = await polls.options(s, poll)
        assert 1 <= len(kept) <= polls.MAX_REMOTE_OPTIONS
        assert all(0 <= o.votes_count <= polls.MAX_COUNT for o in kept) and 0 <= poll.voters_count <= polls.MAX_COUNT
        local = await s.scalar(select(Actor).where(Actor.local.is_(True), Actor.type == "Person").limit(1))
        if local is None:
            local = (await actors.create_user(s, uris, "voter", "password-123", "Voter")).actor
        for who, ids in ((local, None), (remote(f"v{n}"), [note] * len(choices))):
            if not who.id:
                s.add(who)
                await s.flush()
            try:
                await polls.vote(s, uris, poll, who, choices, ap_ids=ids)
            except CivicError as error:
                assert error.reason


# -- erasure: votes stay counted, unlinked -----------------------------------------------------------

async def test_erasure__votes_stay_counted_but_unlinked(sessions, uris):
    """An erased account's votes stay counted (options and voters) but no row names it any more."""
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        poll = await make_poll(s, uris, w, multiple=True)
        ana = w.users[0]
        await polls.vote(s, uris, poll, ana.actor, ["Monday", "Friday"])
        await polls.vote(s, uris, poll, w.users[1].actor, ["Monday"])
        await erasure.erase_account(s, await s.get(User, ana.id), by=None)
        assert await assert_consistent(s, poll.id) == ({"Monday": 2, "Tuesday": 0, "Friday": 1}, 2)
        assert await s.scalar(select(func.count()).select_from(PollVote).where(
            PollVote.actor_id == ana.actor_id)) == 0
        assert await s.scalar(select(func.count()).select_from(PollVoter).where(
            PollVoter.actor_id == ana.actor_id)) == 0


async def test_export__a_persons_votes_are_in_their_right_of_access_export(sessions, uris):
    """Their vote rows (which poll, which option, when) are theirs: node/services/export.py finds
    them by their actor, as every row that names the person."""
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        poll = await make_poll(s, uris, w, multiple=True)
        votes = await polls.vote(s, uris, poll, w.users[0].actor, ["Monday", "Friday"])
        await polls.vote(s, uris, poll, w.users[1].actor, ["Monday"])
        exported = await export.export_account(s, uris, await s.get(User, w.users[0].id))
        assert sorted(row["ap_id"] for row in exported["tables"]["poll_votes"]) == sorted(v.ap_id for v in votes)
        assert [row["poll_id"] for row in exported["tables"]["poll_voters"]] == [poll.id]


# -- the debounced Update{Question} ------------------------------------------------------------------

async def test_due_updates__debounced_and_once_when_it_ends(sessions, uris):
    """Votes set the update due ``delay`` seconds after the first one (later ones keep it);
    pushed clears it; an ended poll is closed and due once."""
    start = utcnow()
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        poll = await make_poll(s, uris, w, end_time=start + timedelta(minutes=10))
        await polls.vote(s, uris, poll, w.users[0].actor, ["Monday"], now=start, delay=5)
        await polls.vote(s, uris, poll, w.users[1].actor, ["Friday"], now=start + timedelta(seconds=3), delay=5)
        assert await polls.due_updates(s, start + timedelta(seconds=4)) == []
        assert await polls.due_updates(s, start + timedelta(seconds=5)) == [poll]
        await polls.pushed(s, poll, start + timedelta(seconds=5))
        assert await polls.due_updates(s, start + timedelta(seconds=60)) == []
        after = start + timedelta(minutes=11)
        assert await polls.due_updates(s, after) == [poll]
        assert poll.closed_at is not None and polls.is_closed(poll, after)
        await polls.pushed(s, poll, after)
        assert await polls.due_updates(s, after + timedelta(minutes=1)) == []


# -- races: two votes of one actor at once -----------------------------------------------------------

class _Alone:
    async def wait(self) -> None:
        return None


def together(engine, parties: int):
    """Transactions that wait for each other before writing, on PostgreSQL; SQLite takes a
    process's write transactions in turn (node.db.writing)."""
    return asyncio.Barrier(parties) if engine.dialect.name == "postgresql" else _Alone()


@pytest.mark.parametrize("multiple", [False, True])
async def test_concurrency__the_same_actor_twice_at_once_counts_once(sessions, engine, uris, multiple):
    """Six votes of one actor for the same option at once (and, oneOf, for other options):
    exactly one is stored, the others refused with Conflict; the counts equal the rows."""
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        poll = await make_poll(s, uris, w, multiple=multiple)
    ready = together(engine, 6)
    names = ["Monday"] * 6 if multiple else ["Monday", "Tuesday", "Friday"] * 2

    async def one(n: int) -> str:
        try:
            async with transaction(sessions) as s:
                actor = await s.get(Actor, w.people[0].id)
                target = await s.get(Poll, poll.id)
                await ready.wait()
                await polls.vote(s, uris, target, actor, [names[n]], ap_ids=[f"https://people.example/v/{n}"])
            return "stored"
        except Conflict:
            return "refused"

    outcomes = await asyncio.wait_for(asyncio.gather(*(one(n) for n in range(6))), 60)
    assert sorted(outcomes) == ["refused"] * 5 + ["stored"]
    async with sessions() as s:
        kept, voters = await assert_consistent(s, poll.id)
        assert sum(kept.values()) == 1 and voters == 1


async def test_concurrency__many_actors_at_once_all_count(sessions, engine, uris):
    """Eight actors voting at once in an anyOf poll: every vote counts, the counts equal the rows."""
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        poll = await make_poll(s, uris, w, multiple=True)
        people = []
        for n in range(8):
            people.append(remote(f"crowd{n}"))
            s.add(people[-1])
        await s.flush()
    ready = together(engine, len(people))

    async def one(n: int, actor: Actor) -> None:
        async with transaction(sessions) as s:
            target = await s.get(Poll, poll.id)
            await ready.wait()
            await polls.vote(s, uris, target, await s.get(Actor, actor.id), ["Monday", "Friday"],
                             ap_ids=[f"https://people.example/c/{n}/a", f"https://people.example/c/{n}/b"])

    await asyncio.wait_for(asyncio.gather(*(one(n, a) for n, a in enumerate(people))), 60)
    async with sessions() as s:
        assert await assert_consistent(s, poll.id) == ({"Monday": 8, "Tuesday": 0, "Friday": 8}, 8)


# -- the state machine: the counts always equal the rows ---------------------------------------------

def test_stateful__counts_always_equal_the_rows(database_url):
    """Random votes (local and remote, oneOf and anyOf, valid or not), closings and erasures:
    every option's count and the voters' count equal a recount of the rows, and each actor's
    stored choices are what the model expects."""
    loop = asyncio.new_event_loop()
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    uris = Uris("http://127.0.0.1:18080")
    runs = {"n": 0}
    names = ("Monday", "Tuesday", "Friday")

    class Votes(RuleBasedStateMachine):
        def run(self, coroutine):
            return loop.run_until_complete(coroutine)

        @initialize(multiple=st.booleans())
        def scene(self, multiple):
            runs["n"] += 1
            self.prefix = f"r{runs['n']}"

            async def make():
                async with transaction(sessions) as s:
                    w = await make_scene(s, uris, self.prefix)
                    return w, await make_poll(s, uris, w, multiple=multiple)

            self.w, self.poll = self.run(make())
            self.multiple = multiple
            self.actors = [u.actor_id for u in self.w.users] + [p.id for p in self.w.people]
            self.users = {u.actor_id: u for u in self.w.users}
            self.chosen: dict[int, set[str]] = {}
            self.gone: set[int] = set()
            self.closed = False
            self.notes = 0

        @rule(who=st.integers(0, 5), choices=st.lists(st.sampled_from((*names, "Sunday")), max_size=3))
        def vote(self, who, choices):
            actor_id = self.actors[who]
            if actor_id in self.gone:
                return
            self.notes += 1
            ap_ids = None if actor_id in self.users else \
                [f"https://people.example/{self.prefix}/{self.notes}/{i}" for i in range(len(choices))]

            async def go():
                try:
                    async with transaction(sessions) as s:
                        await polls.vote(s, uris, await s.get(Poll, self.poll.id), await s.get(Actor, actor_id),
                                         choices, ap_ids=ap_ids)
                    return True
                except (Conflict, InvalidInput):
                    return False

            stored = self.run(go())
            mine = self.chosen.get(actor_id, set())
            expected = (not self.closed and bool(choices) and len(set(choices)) == len(choices)
                        and "Sunday" not in choices and not (mine & set(choices))
                        and (self.multiple or (len(choices) == 1 and not mine)))
            assert stored == expected
            if stored:
                self.chosen[actor_id] = mine | set(choices)

        @rule()
        def close(self):
            async def go():
                async with transaction(sessions) as s:
                    await polls.close(s, await s.get(Poll, self.poll.id))

            self.run(go())
            self.closed = True

        @rule(who=st.integers(0, 2))
        def erase(self, who):
            actor_id = self.actors[who]
            if actor_id in self.gone:
                return

            async def go():
                async with transaction(sessions) as s:
                    await erasure.erase_account(s, await s.get(User, self.users[actor_id].id), by=None)

            self.run(go())
            self.gone.add(actor_id)
            # Their votes stay counted, under a nameless placeholder.
            if actor_id in self.chosen:
                self.chosen[-actor_id] = self.chosen.pop(actor_id)

        @invariant()
        def counts_equal_the_rows(self):
            if not hasattr(self, "poll"):
                return

            async def go():
                async with sessions() as s:
                    return await assert_consistent(s, self.poll.id)

            kept, voters = self.run(go())
            assert voters == len(self.chosen)
            assert kept == {name: sum(name in c for c in self.chosen.values()) for name in names}

    try:
        Votes.TestCase.settings = settings(max_examples=12, stateful_step_count=12, deadline=None,
                                           suppress_health_check=list(HealthCheck))
        Votes.TestCase().runTest()
    finally:
        loop.run_until_complete(engine.dispose())
        loop.close()


async def test_due_updates__two_passes_at_once_take_each_poll_once(sessions, engine, uris):
    """Two transactions running the pass at once (two processes): on PostgreSQL the second skips
    the rows the first holds; on SQLite the passes run in turn and the first clears what it took."""
    start = utcnow()
    async with transaction(sessions) as s:
        w = await make_scene(s, uris)
        made = [await make_poll(s, uris, w) for _ in range(3)]
        for poll in made:
            await polls.vote(s, uris, poll, w.users[0].actor, ["Monday"], now=start, delay=0)
    ready = together(engine, 2)
    taken: list[list[int]] = []

    async def one_pass() -> None:
        async with transaction(sessions) as s:
            await ready.wait()
            due = await polls.due_updates(s, start + timedelta(seconds=1))
            taken.append([p.id for p in due])
            await ready.wait()
            for poll in due:
                await polls.pushed(s, poll, start + timedelta(seconds=1))

    await asyncio.wait_for(asyncio.gather(one_pass(), one_pass()), 60)
    assert sorted(i for ids in taken for i in ids) == sorted(p.id for p in made)
