"""What an inbound handler is given: the activity being processed, its verified signer, and the
target that dispatch resolved for it (federation/inbound/targets.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from activities.errors import InvalidDocument
from activities.normalize import first_type, id_of
from federation.runtime import Runtime
from node import visibility
from node.models import Actor

MAX_ID = 2048  # the length of our ap_id and url columns (PostgreSQL enforces it)


@dataclass(frozen=True)
class Target:
    """What an activity is about: its ``kind`` (a kind of our ids, "actor" for the signer itself,
    "contribution"/"note" for a stored remote object, "unknown" for one we do not hold, the inner
    activity's type for Undo/Accept/Reject …), the id, and the row when resolving loaded it."""

    kind: str
    ap_id: str | None = None
    row: Any = None


@dataclass
class Inbound:
    """One stored activity being processed, with the verified remote actor."""

    runtime: Runtime
    session: AsyncSession
    doc: dict
    actor: Actor  # the remote actor that signed it (stored row)
    target: Target = field(default_factory=lambda: Target("unresolved"))

    @property
    def type(self) -> str | None:
        return first_type(self.doc)

    @property
    def object_id(self) -> str | None:
        return id_of(self.doc.get("object"))


def check_ids(*ids: str | None) -> None:
    """Refuse (a 4xx outcome) an id that no column can hold, rather than fail the whole batch."""
    if any(i and len(i) > MAX_ID for i in ids):
        raise InvalidDocument(f"ids are limited to {MAX_ID} characters")


async def admitted(ctx: Inbound, organization_id: int, level: str) -> bool:
    """Whether the signer may take part in a thing of this organisation at ``level``: a remote
    actor contributes or reacts only where it may read (node/visibility.py, SECURITY.md rule 24);
    nothing at a level that never leaves the node."""
    return visibility.federates(level) and await visibility.may_read(
        ctx.session, visibility.Reader.of_remote(ctx.actor.id), organization_id, level)
