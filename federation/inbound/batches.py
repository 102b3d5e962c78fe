"""Inbound activities processed many at once: a feature may register a *batch handler* for
activities it can settle together (a coalition's home counting a burst of relayed supports), so
that a batch of the inbox costs a few statements instead of a few per activity.

A batch handler is an optimisation, never a second meaning: it takes only the rows it can settle
exactly as their one-by-one handler would, gives each its outcome, and leaves every other row —
one it cannot parse, one whose outcome is not the common one — to ``dispatch``, which answers it
with its own reason. It runs in a savepoint: if it raises, nothing it wrote stays and every row is
processed one by one (SECURITY.md rule 13)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from federation.isolation import describe, transient
from federation.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Signer:
    """The verified signer of a stored activity, as batch handlers see it: its actor row's id and
    its actor id (federation/processing.py reads no more for them)."""

    id: int
    ap_id: str


@dataclass(frozen=True)
class Batched:
    """One stored activity offered to a batch handler, with its verified signer."""

    row_id: int  # its inbox row
    doc: dict
    actor: Signer


# (rows it may take, handler): ``takes(doc)`` is a pure test of the document; the handler answers
# {row id: outcome} for the rows it settled.
Handler = Callable[[Runtime, AsyncSession, list[Batched]], Awaitable[dict[int, str]]]
BATCHES: list[tuple[Callable[[dict], bool], Handler]] = []
_TYPES: set[str] = set()


def batches(takes: Callable[[dict], bool], types: set[str]) -> Callable[[Handler], Handler]:
    """Register the decorated batch handler for the documents ``takes`` accepts, all of them
    activities of ``types`` (the processing reads the documents of those types only)."""

    def register(handler: Handler) -> Handler:
        BATCHES.append((takes, handler))
        _TYPES.update(types)
        return handler

    return register


def batch_types() -> list[str]:
    """The activity types some batch handler may take."""
    return sorted(_TYPES)


async def settle(rt: Runtime, session: AsyncSession, offered: list[Batched]) -> dict[int, str]:
    """Offer each batch handler the rows it takes; {row id: outcome} of the rows settled."""
    settled: dict[int, str] = {}
    for takes, handler in BATCHES:
        mine = [item for item in offered if item.row_id not in settled and takes(item.doc)]
        if len(mine) < 2:
            continue  # one row: its own handler is as quick
        try:
            async with session.begin_nested():
                settled.update(await handler(rt, session, mine))
        except Exception as exc:
            if transient(exc):
                raise
            log.warning("batch handler %s failed (%s): its rows are processed one by one",
                        handler.__qualname__, describe(exc))
    return settled
