"""One row fails alone (SECURITY.md rule 13): what is worth retrying, and the reason kept.

Inbox processing, fan-out and delivery each work through rows (inbound activities, outbox events,
deliveries). Whatever one row raises is recorded on that row with its reason and the queue moves on;
only an error that is not the row's fault — the database or the network went away — is retried.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

ERROR_LIMIT = 1000  # characters of a reason kept in a row


def transient(exc: BaseException) -> bool:
    """An error worth retrying: the database or the network went away, not the row's fault."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | ConnectionError | TimeoutError)


def describe(exc: BaseException) -> str:
    """The reason kept in a failed row: the exception's type and the first line of its message."""
    lines = str(exc).splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")[:ERROR_LIMIT]
