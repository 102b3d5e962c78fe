"""FEP-1b12 moderators: a discussion's Group tells its followers who moderates it.

The group's ``moderators`` collection lists the people who moderate its discussion; when that
changes, the group sends ``Add``/``Remove`` of the person with the collection as ``target``, public
and addressed to the group, as Lemmy does for a community's moderators."""

from __future__ import annotations

from activities.addressing import addressing
from activities.vocabulary import CONTEXT

KINDS = ("Add", "Remove")


def moderators_change(kind: str, ap_id: str, group: str, person: str, moderators: str,
                      followers: str | None, *, level: str) -> dict:
    """``Add``/``Remove`` of ``person`` to/from the group's ``moderators`` collection, addressed at
    the discussion's ``level`` (activities/addressing.py)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    to, cc = addressing(level, group=group, followers=[followers])
    return {"@context": CONTEXT, "id": ap_id, "type": kind, "actor": group, "object": person,
            "target": moderators, "to": to, "cc": cc, "audience": group}
