"""Reactions: one person's mark on one thing, counted on it — "I agree" with a contribution, a
proposal's support, "I acted" on an initiative (poll votes and campaign supports are one more
``Reaction`` each). One mechanism adds, withdraws and counts them all; each kind is a spec."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, literal, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from node.errors import Conflict
from node.models import Actor
from node.services import outbox
from node.uris import Uris, new_token

# A refusal of the kind's own (the target's state, a per-person limit): raises Conflict or NotFound.
Rule = Callable[[AsyncSession, Any, Actor], Awaitable[None]]
# What else a row added (+1) or removed (-1) changes, in the same transaction: counts of the kind's
# own beside the target's counter (a campaign's tallies), or a count elsewhere (session, row, ±1).
Tally = Callable[[AsyncSession, Any, int], Awaitable[None]]
ID_TAKEN = "this id is already recorded"

KINDS: dict[str, Reaction] = {}  # every spec, by name: ids are unique across kinds


@dataclass(frozen=True)
class Reaction:
    """One kind of reaction: the table of its rows and the target it counts on.

    ``model`` has ``id``, ``ap_id`` (the Like's or Join's id, ours or the remote one), ``actor_id``
    and the ``target_column`` pointing at ``target``, whose ``counter`` column is kept equal to
    its number of rows. ``created``/``undone`` are the outbox events of a local actor's reaction
    (payloads ``{created_key: row id}`` and ``{undone_keys[0]: ap_id, "actor_id": …,
    undone_keys[1]: target id}``, as the fan-out reads them). ``own`` is the reason the target's
    author is refused (SECURITY.md rule 23), None when authors may react to their own thing."""

    name: str
    model: type
    target: type
    target_column: str
    counter: str
    created: str
    created_key: str
    undone: str
    undone_keys: tuple[str, str]
    own: str | None = None
    # The events are emitted for remote actors' reactions too (and for each one an erasure takes
    # back): a campaign variant's supports, which its organisation relays to the coalition's home.
    relays: bool = False
    tally: Tally | None = None  # kept with each row added or removed
    activity: str = "Like"  # the AS2 activity that carries it (an Undo may name only its id)
    state: Rule | None = None  # may the target be reacted to now? (deleted, closed …)
    limits: tuple[Rule, ...] = field(default=())  # per-person limits, checked before a new row

    def __post_init__(self) -> None:
        if KINDS.get(self.name, self) is not self:
            raise ValueError(f"a reaction named {self.name!r} is already defined")
        KINDS[self.name] = self

    @property
    def column(self):
        return getattr(self.model, self.target_column)

    @property
    def count_column(self):
        return getattr(self.target, self.counter)

    async def _count(self, session: AsyncSession, target_id: int, delta: int) -> None:
        # Counted in SQL, not in Python: concurrent reactions must not overwrite each other.
        await session.execute(update(self.target).where(self.target.id == target_id)
                              .values({self.counter: self.count_column + delta}))


async def find(session: AsyncSession, ap_id: str) -> tuple[Reaction, Any] | None:
    """The reaction of any kind whose id is ``ap_id``: one query over every kind's table (each
    ``ap_id`` is indexed unique), then the row."""
    if not ap_id or not KINDS:
        return None
    query = union_all(*(select(literal(name).label("kind"), spec.model.id.label("id"))
                        .where(spec.model.ap_id == ap_id) for name, spec in KINDS.items()))
    found = (await session.execute(query.limit(1))).first()
    if found is None:
        return None
    spec = KINDS[found.kind]
    return spec, await session.get(spec.model, found.id)


async def taken(session: AsyncSession, ap_ids: list[str]) -> set[str]:
    """Which of ``ap_ids`` are recorded already, for a reaction of any kind (``find`` for many)."""
    if not ap_ids or not KINDS:
        return set()
    query = union_all(*(select(spec.model.ap_id.label("ap_id")).where(spec.model.ap_id.in_(ap_ids))
                        for spec in KINDS.values()))
    return set(await session.scalars(query))


async def has(session: AsyncSession, spec: Reaction, target: Any, actor: Actor | None) -> bool:
    if actor is None:
        return False
    return await session.scalar(select(spec.model.id).where(
        spec.column == target.id, spec.model.actor_id == actor.id).limit(1)) is not None


async def add(session: AsyncSession, uris: Uris, spec: Reaction, target: Any, actor: Actor,
              ap_id: str | None = None, values: dict | None = None) -> bool:
    """``actor`` reacts to ``target``, once; False when it already had. ``ap_id`` is a remote
    reaction's own id (a local one gets ours and its outbox event).

    Raises ``Conflict`` (or what a rule raises) when it is refused: an id already recorded for
    any kind, a target in a state that takes none, the target's author when the kind refuses
    them (SECURITY.md rule 23), a per-person limit of the kind. ``values`` are the row's other
    columns (a campaign support's member and language)."""
    if ap_id is not None and await find(session, ap_id) is not None:
        raise Conflict(ID_TAKEN)
    if spec.state is not None:
        await spec.state(session, target, actor)
    if await has(session, spec, target, actor):
        return False  # checked before the author's refusal: one stored earlier can be withdrawn
    if spec.own is not None and target.author_id == actor.id:
        raise Conflict(spec.own)  # the web form and an inbound activity alike (SECURITY.md rule 23)
    for limit in spec.limits:
        await limit(session, target, actor)
    row = spec.model(ap_id=ap_id or uris.activity(new_token()), actor_id=actor.id,
                     **{spec.target_column: target.id}, **(values or {}))
    session.add(row)
    await spec._count(session, target.id, +1)
    await session.flush()
    await session.refresh(target, [spec.counter])
    if spec.tally is not None:
        await spec.tally(session, row, +1)
    if ap_id is None or spec.relays:
        await outbox.emit(session, spec.created, **{spec.created_key: row.id})
    return True


async def _remove(session: AsyncSession, spec: Reaction, row: Any, actor: Actor) -> None:
    target_id = getattr(row, spec.target_column)
    if actor.local or spec.relays:  # withdrawn here: an Undo for those who received the reaction
        ap_key, target_key = spec.undone_keys
        await outbox.emit(session, spec.undone, **{ap_key: row.ap_id, "actor_id": actor.id,
                                                   target_key: target_id})
    if spec.tally is not None:
        await spec.tally(session, row, -1)
    await session.execute(delete(spec.model).where(spec.model.id == row.id))
    await spec._count(session, target_id, -1)


async def withdraw(session: AsyncSession, spec: Reaction, actor: Actor, *, target: Any = None,
                   ap_id: str | None = None) -> bool:
    """Take back ``actor``'s reaction, by its target (a local click) or by its id (an Undo).
    Only ``actor``'s own is ever found. False when there was none."""
    query = select(spec.model).where(spec.model.actor_id == actor.id)
    if target is not None:
        query = query.where(spec.column == target.id)
    elif ap_id:
        query = query.where(spec.model.ap_id == ap_id)
    else:
        return False
    row = await session.scalar(query)
    if row is None:
        return False
    await _remove(session, spec, row, actor)
    if target is not None:
        await session.refresh(target, [spec.counter])
    return True


async def withdraw_by_id(session: AsyncSession, actor: Actor, ap_id: str) -> Reaction | None:
    """Take back ``actor``'s reaction of whatever kind has the id ``ap_id`` (an Undo naming only
    the id); the kind withdrawn, or None when ``actor`` has none with that id."""
    found = await find(session, ap_id)
    if found is None or found[1].actor_id != actor.id:
        return None
    spec, row = found
    await _remove(session, spec, row, actor)
    return spec


async def toggle(session: AsyncSession, uris: Uris, spec: Reaction, target: Any, actor: Actor) -> bool:
    """A local button: react, or take the reaction back when it was given. True when given."""
    if await add(session, uris, spec, target, actor):
        return True
    await withdraw(session, spec, actor, target=target)
    return False


async def withdraw_all(session: AsyncSession, actor: Actor,
                       kinds: Iterable[Reaction] | None = None) -> dict[str, int]:
    """Every reaction of ``actor``, of every kind (or of ``kinds``), goes (an erased account);
    each target's count goes down by what it loses. No outbox event — the account's own server
    announced its end — except for kinds that relay (a campaign variant's supports: the home
    counted them and hears nothing else). Returns how many of each kind were removed."""
    removed: dict[str, int] = {}
    for spec in list(KINDS.values()) if kinds is None else kinds:
        name = spec.name
        if spec.relays or spec.tally is not None:  # one by one: each is relayed or tallied
            rows = list(await session.scalars(select(spec.model).where(spec.model.actor_id == actor.id)))
            for row in rows:
                await _remove(session, spec, row, actor)
            removed[name] = len(rows)
            continue
        per_target = (await session.execute(
            select(spec.column, func.count()).where(spec.model.actor_id == actor.id)
            .group_by(spec.column))).all()
        for target_id, count in per_target:
            await spec._count(session, target_id, -count)
        if per_target:
            await session.execute(delete(spec.model).where(spec.model.actor_id == actor.id))
        removed[name] = sum(count for _, count in per_target)
    return removed


async def given(session: AsyncSession, spec: Reaction, actor: Actor | None,
                target_ids: list[int] | None = None, *, within=None) -> set[int]:
    """The targets (ids) ``actor`` reacted to: among ``target_ids``, or those matching ``within``
    (a condition on the target, e.g. its discussion), for pages that mark what the reader gave."""
    if actor is None or target_ids == []:
        return set()
    query = select(spec.column).where(spec.model.actor_id == actor.id)
    if target_ids is not None:
        query = query.where(spec.column.in_(target_ids))
    if within is not None:
        query = query.join(spec.target, spec.target.id == spec.column).where(within)
    return set(await session.scalars(query))
