"""node/services/reactions.py: agreements, supports and "I acted" through one mechanism."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from node.db import transaction
from node.errors import Conflict
from node.models import OutboxEvent
from node.services import (
    actors,
    community,
    contributions,
    discussions,
    proposals,
    reactions,
    spaces,
)

KINDS = {
    "agreement": (contributions.AGREEMENT, "contribution"),
    "support": (proposals.SUPPORT, "proposal"),
    "action": (community.ACTION, "initiative"),
}


@pytest.fixture
async def world(sessions, uris):
    """Lyon, a discussion; camille wrote a contribution, a proposal and an initiative in it;
    dominique and eva react; a space limits supports to one per person."""
    async with transaction(sessions) as s:
        lyon = await actors.create_organization(s, uris, "lyon", "Ville de Lyon")
        camille, dominique, eva = [(await actors.create_user(s, uris, n, "password-123", n.title())).actor
                                   for n in ("camille", "dominique", "eva")]
        d = await discussions.open_discussion(s, uris, lyon, "clos-jouve", "Clos Jouve")
        space = await spaces.create_space(s, lyon, "budget", "Budget", supports_per_person=1)
        targets = {
            "contribution": await contributions.contribute(s, uris, d, camille, "<p>Des arbres</p>"),
            "proposal": await proposals.create(s, uris, lyon, camille, "Des bancs", "<p>…</p>",
                                               space=space, publish=True),
            "initiative": await community.create_initiative(s, uris, d, camille, "Plantons", "<p>…</p>"),
        }
        other = await proposals.create(s, uris, lyon, camille, "Des fontaines", "<p>…</p>",
                                       space=space, publish=True)
    return {"camille": camille, "dominique": dominique, "eva": eva, "targets": targets,
            "other": other, "space": space}


async def _state(sessions, spec, target) -> tuple[int, int]:
    """(the target's counter, its rows in the kind's table)."""
    async with sessions() as s:
        counter = await s.scalar(select(spec.count_column).where(spec.target.id == target.id))
        rows = await s.scalar(select(func.count()).select_from(spec.model).where(spec.column == target.id))
    return counter, rows


async def _events(sessions, kind: str) -> list[dict]:
    async with sessions() as s:
        return [e.payload for e in await s.scalars(select(OutboxEvent).where(OutboxEvent.kind == kind)
                                                   .order_by(OutboxEvent.id))]


@pytest.mark.parametrize("name", KINDS)
async def test_add__twice_counts_once(sessions, uris, world, name):
    """Reacting twice is one row, a count of one and one outbox event."""
    spec, target_kind = KINDS[name]
    target = world["targets"][target_kind]
    async with transaction(sessions) as s:
        target = await s.merge(target)
        assert await reactions.add(s, uris, spec, target, world["dominique"]) is True
        assert await reactions.add(s, uris, spec, target, world["dominique"]) is False
        assert getattr(target, spec.counter) == 1
    assert await _state(sessions, spec, target) == (1, 1)
    assert len(await _events(sessions, spec.created)) == 1


@pytest.mark.parametrize("name", KINDS)
async def test_withdraw__by_target_and_by_id_counts_down(sessions, uris, world, name):
    """Withdrawn by its target (a click) or by its id (an Undo): the count follows; a local
    actor's withdrawal queues its Undo with the id and target."""
    spec, target_kind = KINDS[name]
    target = world["targets"][target_kind]
    async with transaction(sessions) as s:
        target = await s.merge(target)
        for who in ("dominique", "eva"):
            await reactions.add(s, uris, spec, target, world[who])
        eva_id = await s.scalar(select(spec.model.ap_id).where(spec.model.actor_id == world["eva"].id))
    async with transaction(sessions) as s:
        target = await s.merge(target)
        assert await reactions.withdraw(s, spec, world["dominique"], target=target)
        assert getattr(target, spec.counter) == 1
        assert await reactions.withdraw_by_id(s, world["eva"], eva_id) is spec
        assert not await reactions.withdraw(s, spec, world["eva"], ap_id=eva_id)
    assert await _state(sessions, spec, target) == (0, 0)
    undone = await _events(sessions, spec.undone)
    ap_key, target_key = spec.undone_keys
    assert [(e[ap_key], e[target_key]) for e in undone][1] == (eva_id, target.id)
    assert len(undone) == 2


@pytest.mark.parametrize("name", KINDS)
async def test_withdraw__only_the_actors_own(sessions, uris, world, name):
    """Another actor naming someone's reaction by its id takes nothing back."""
    spec, target_kind = KINDS[name]
    async with transaction(sessions) as s:
        target = await s.merge(world["targets"][target_kind])
        await reactions.add(s, uris, spec, target, world["dominique"])
        ap_id = await s.scalar(select(spec.model.ap_id))
        assert await reactions.withdraw_by_id(s, world["eva"], ap_id) is None
        assert not await reactions.withdraw(s, spec, world["eva"], ap_id=ap_id)
    assert await _state(sessions, spec, target) == (1, 1)


@pytest.mark.parametrize(("name", "refused"), [("agreement", contributions.SELF_AGREEMENT),
                                                ("support", proposals.SELF_SUPPORT), ("action", None)])
async def test_add__the_own_thing_refusal_is_the_kinds(sessions, uris, world, name, refused):
    """The author cannot agree with or support their own text (SECURITY.md rule 23); an
    initiative's author may say "I acted" on it."""
    spec, target_kind = KINDS[name]
    async with transaction(sessions) as s:
        target = await s.merge(world["targets"][target_kind])
        if refused:
            with pytest.raises(Conflict) as raised:
                await reactions.add(s, uris, spec, target, world["camille"])
            assert raised.value.reason == refused
        else:
            assert await reactions.add(s, uris, spec, target, world["camille"])
    assert await _state(sessions, spec, target) == ((0, 0) if refused else (1, 1))


async def test_add__the_space_limit_is_a_rule_of_supports(sessions, uris, world):
    """One support per person in the space: the second proposal is refused until the first
    support is withdrawn."""
    spec = proposals.SUPPORT
    async with transaction(sessions) as s:
        first, second = await s.merge(world["targets"]["proposal"]), await s.merge(world["other"])
        await reactions.add(s, uris, spec, first, world["eva"])
        with pytest.raises(Conflict, match="you already gave your 1 supports here"):
            await reactions.add(s, uris, spec, second, world["eva"])
        await reactions.withdraw(s, spec, world["eva"], target=first)
        assert await reactions.add(s, uris, spec, second, world["eva"])
    assert await _state(sessions, spec, world["other"]) == (1, 1)
    assert await _state(sessions, spec, world["targets"]["proposal"]) == (0, 0)


async def test_add__an_id_is_unique_across_kinds(sessions, uris, world):
    """A remote Like id recorded as an agreement cannot be recorded again as a support or an
    action; ``find`` names the kind that holds it."""
    like = "https://elsewhere.example/users/zoe#likes/1"
    async with transaction(sessions) as s:
        targets = {k: await s.merge(t) for k, t in world["targets"].items()}
        assert await reactions.add(s, uris, contributions.AGREEMENT, targets["contribution"],
                                   world["eva"], ap_id=like)
        for spec, kind in ((proposals.SUPPORT, "proposal"), (community.ACTION, "initiative")):
            with pytest.raises(Conflict, match=reactions.ID_TAKEN):
                await reactions.add(s, uris, spec, targets[kind], world["dominique"], ap_id=like)
        spec, row = await reactions.find(s, like)
    assert spec is contributions.AGREEMENT and row.actor_id == world["eva"].id
    assert await _events(sessions, contributions.AGREEMENT_CREATED) == []  # a remote id: nothing to send


async def test_withdraw_all__every_kind_goes_and_counts_go_down(sessions, uris, world):
    """An erased account's agreements, supports and actions all go; each count loses exactly
    its own, others' reactions stay."""
    async with transaction(sessions) as s:
        targets = {k: await s.merge(t) for k, t in world["targets"].items()}
        for spec, kind in KINDS.values():
            for who in ("dominique", "eva"):
                await reactions.add(s, uris, spec, targets[kind], world[who])
    async with transaction(sessions) as s:
        removed = await reactions.withdraw_all(s, world["eva"])
    assert {k: removed[k] for k in KINDS} == {"agreement": 1, "support": 1, "action": 1}
    for spec, kind in KINDS.values():
        assert await _state(sessions, spec, world["targets"][kind]) == (1, 1)


async def test_toggle__gives_then_takes_back(sessions, uris, world):
    """A local button: the first press gives, the second takes back."""
    spec = contributions.AGREEMENT
    async with transaction(sessions) as s:
        target = await s.merge(world["targets"]["contribution"])
        assert await reactions.toggle(s, uris, spec, target, world["eva"]) is True
        assert await reactions.toggle(s, uris, spec, target, world["eva"]) is False
    assert await _state(sessions, spec, world["targets"]["contribution"]) == (0, 0)


def test_reaction__a_name_is_defined_once():
    """Two kinds with one name would make ids ambiguous: the second definition is refused."""
    spec = contributions.AGREEMENT
    with pytest.raises(ValueError, match="already defined"):
        reactions.Reaction(spec.name, spec.model, spec.target, spec.target_column, spec.counter,
                           spec.created, spec.created_key, spec.undone, spec.undone_keys)
