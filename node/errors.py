"""The project's error types: every bad input raises one of these, never a bare exception."""


class CivicError(Exception):
    """A problem the caller caused or can fix; carries a human-readable reason."""

    status = 400

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class InvalidInput(CivicError):
    """Input that does not have the required shape (bad handle, malformed document)."""


class NotFound(CivicError):
    status = 404


class Conflict(CivicError):
    """The thing already exists (duplicate organisation, handle taken)."""

    status = 409


class Forbidden(CivicError):
    status = 403


class Unauthorized(CivicError):
    status = 401


class ConfigError(CivicError):
    """The configuration or the environment is unusable (unreachable database, bad URL)."""
