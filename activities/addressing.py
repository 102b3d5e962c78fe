"""Addressing: the one place where a visibility level becomes an activity's ``to`` and ``cc``.

SECURITY.md rule 24 and FEDERATION.md "Visibility levels": what a level means for readers is
node/visibility.py; what it means on the wire is this module, and every builder in activities/
asks it (a Create copies its object's addressing, an Announce gets its own here).

=============  ==========================================  ======================
level          ``to``                                      ``cc``
=============  ==========================================  ======================
``public``     ``Public``                                  followers, the group
``unlisted``   followers, the group                        ``Public``
``followers``  the organisation's and group's followers,   (nothing)
               the group
``members``    never federated: :class:`NotFederated`
=============  ==========================================  ======================
"""

from __future__ import annotations

from collections.abc import Iterable

from activities.vocabulary import PUBLIC
from node import visibility
from node.errors import InvalidInput


class NotFederated(InvalidInput):
    """Something at ``members`` level (or an unknown level) was about to be addressed: it never
    leaves the node, so building its activity is a bug, not a choice."""


def _present(ids: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(i for i in ids if i))


def addressing(level: str, *, followers: Iterable[str | None] = (), group: str | None = None,
               open_followers: Iterable[str | None] = ()) -> tuple[list[str], list[str]]:
    """``(to, cc)`` of something at ``level``.

    ``followers`` are the collections the level ``followers`` means — the organisation's and the
    discussion group's followers; ``group`` is the discussion's Group (FEP-1b12: what is published
    in a discussion is addressed to it); ``open_followers`` are collections that may hear of it
    only when anyone may read it (``public``, ``unlisted``): an author's own followers are not the
    organisation's, so a ``followers`` thing is never addressed to them.
    """
    if level not in visibility.LEVELS or not visibility.federates(level):
        raise NotFederated(f"something at level {level!r} is not federated")
    audience = _present([group, *followers])
    if not visibility.admits(level, visibility.NOBODY):
        return audience, []  # followers: the followers collections and the group, never Public
    widened = _present([group, *followers, *open_followers])
    if visibility.lists(level, visibility.NOBODY):
        return [PUBLIC], widened  # public
    return widened, [PUBLIC]  # unlisted: readable by anyone, on no public timeline

