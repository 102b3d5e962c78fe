"""The inbound dispatch table: (activity type, kind of target) -> the one handler for it.

Feature modules register with ``@handles("Like", "contribution")``; ``dispatch`` resolves the
kind once (federation/inbound/targets.py) and runs the handler registered for the pair. A
handler always answers its outcome: nothing falls through to another handler, and a pair with
no handler is ignored with that reason."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from federation.inbound.context import Inbound
from federation.inbound.targets import resolve

Handler = Callable[[Inbound], Awaitable[str]]
HANDLERS: dict[tuple[str, str], Handler] = {}


class HandlerConflict(RuntimeError):
    """Two handlers for one pair (one would silently never run), or one that may answer None."""


def handles(activity: str, *kinds: str) -> Callable[[Handler], Handler]:
    """Register the decorated ``async def on_…(ctx: Inbound) -> str`` for ``activity`` of each
    of ``kinds``."""

    def register(handler: Handler) -> Handler:
        if inspect.signature(handler).return_annotation not in ("str", str):
            raise HandlerConflict(f"{handler.__qualname__} must answer an outcome (-> str)")
        for kind in kinds:
            taken = HANDLERS.get((activity, kind))
            if taken is not None and taken is not handler:
                raise HandlerConflict(f"{activity} of {kind} is handled by {taken.__module__} already")
            HANDLERS[(activity, kind)] = handler
        return handler

    if not kinds:
        raise HandlerConflict("name at least one kind of target")
    return register


def knows(activity: str | None) -> bool:
    """Whether any handler takes this activity type (others are stored and ignored)."""
    return any(registered == activity for registered, _ in HANDLERS)


async def dispatch(ctx: Inbound) -> str:
    """Run the handler of the activity's (type, kind of target) and answer its outcome."""
    ctx.target = await resolve(ctx)
    handler = HANDLERS.get((ctx.type or "", ctx.target.kind))
    if handler is None:
        return f"ignored: {ctx.type} of {ctx.target.kind} has no handler"
    outcome = await handler(ctx)
    if not isinstance(outcome, str):  # a bug, not the sender's fault: the row fails with it
        raise HandlerConflict(f"{handler.__qualname__} answered {outcome!r}, not an outcome")
    return outcome
