"""Every public id and URL this node mints is built here, and only here."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from node.errors import InvalidInput

# Mastodon's username rule (letters, digits, underscore; dots and dashes inside), lower-cased here
# so that handles are case-insensitive as WebFinger look-ups expect.
USERNAME_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_.-]{0,28}[a-z0-9_])?$")
RESERVED = frozenset({"actor", "inbox", "admin", "api", "static", "well-known", "nodeinfo", "login",
                      "logout", "register", "settings", "instance", "root", "system"})
INSTANCE_USERNAME = "instance.actor"


def check_username(name: str) -> str:
    """Return the canonical (lower-case) form of a handle, or raise InvalidInput saying why."""
    canonical = (name or "").strip().lower().lstrip("@")
    if not USERNAME_RE.match(canonical):
        raise InvalidInput(
            f"invalid handle {name!r}: use 1-30 letters, digits or _ (dots and dashes inside)"
        )
    if canonical in RESERVED:
        raise InvalidInput(f"the handle {canonical!r} is reserved")
    return canonical


def new_token() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Uris:
    """The URL scheme of one node, rooted at its base URL."""

    base: str

    @property
    def domain(self) -> str:
        return urlsplit(self.base).netloc

    def is_local(self, url: str | None) -> bool:
        if not url:
            return False
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" == self.base

    # Instance-level endpoints
    def instance_actor(self) -> str:
        return f"{self.base}/actor"

    def shared_inbox(self) -> str:
        return f"{self.base}/inbox"

    def home(self) -> str:
        return f"{self.base}/"

    # Actors (organisations, people, groups) share one namespace of handles.
    def actor(self, username: str) -> str:
        return f"{self.base}/actors/{username}"

    def actor_inbox(self, username: str) -> str:
        return f"{self.actor(username)}/inbox"

    def actor_outbox(self, username: str) -> str:
        return f"{self.actor(username)}/outbox"

    def actor_followers(self, username: str) -> str:
        return f"{self.actor(username)}/followers"

    def actor_following(self, username: str) -> str:
        return f"{self.actor(username)}/following"

    def actor_key(self, actor_ap_id: str) -> str:
        return f"{actor_ap_id}#main-key"

    def note(self, token: str) -> str:
        return f"{self.base}/notes/{token}"

    def activity(self, token: str) -> str:
        return f"{self.base}/activities/{token}"

    def acct(self, username: str) -> str:
        return f"acct:{username}@{self.domain}"

    def username_from_actor(self, ap_id: str) -> str | None:
        prefix = f"{self.base}/actors/"
        if ap_id.startswith(prefix):
            rest = ap_id[len(prefix):]
            if rest and "/" not in rest:
                return rest
        return None
