"""The one exception type for a document that does not have the shape we need."""

from node.errors import InvalidInput


class InvalidDocument(InvalidInput):
    """An inbound AS2 document is malformed or lacks a required field (becomes a 400)."""
