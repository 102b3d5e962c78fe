"""The outbound registry: which builder turns an outbox event kind into activities.

Each feature module of ``federation.outbound`` registers its builders with ``@builds(kind)``;
the package imports every one of its modules (``federation/outbound/__init__.py``), so a new
feature is one new module and no edit to an existing one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

Builder = Callable[..., Awaitable[None]]

# Event kind (node/services/outbox.py and the services' constants) -> its builder.
BUILDERS: dict[str, Builder] = {}


class DuplicateBuilder(RuntimeError):
    """Two modules claim the same event kind: one of them would silently never run."""


def builds(kind: str) -> Callable[[Builder], Builder]:
    """Register the decorated coroutine ``builder(publisher, **payload)`` for ``kind``."""

    def register(builder: Builder) -> Builder:
        if kind in BUILDERS and BUILDERS[kind] is not builder:
            raise DuplicateBuilder(f"{kind!r} is built by {BUILDERS[kind].__module__} already")
        BUILDERS[kind] = builder
        return builder

    return register
