"""Instance policy, checked on every signed request: is the signer's host under a domain block?

Federation only reads the blocks: they are written, listed and loaded by node.services.moderation
(`civic domain block/unblock/list`), and `Runtime.blocked_domains` holds the set loaded at start-up.
"""

from __future__ import annotations

from activities.normalize import host_of
from node.services import moderation


def is_blocked(url_or_host: str, blocked: set[str]) -> bool:
    """True when the URL's host (a key id, an actor id) or the bare host is covered by a block:
    the domain itself or one of its subdomains, whatever the port."""
    host = host_of(url_or_host) if "://" in url_or_host else url_or_host
    return moderation.is_blocked(host, blocked)
