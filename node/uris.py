"""Every public id and URL this node mints is built here, and only here."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from node.errors import InvalidInput

# Mastodon's username rule (letters, digits, underscore; dots and dashes inside), lower-cased here
# so that handles are case-insensitive as WebFinger look-ups expect.
USERNAME_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_.-]{0,28}[a-z0-9_])?$")
# Discussion handles are "<organisation>.<slug>", so they may be longer than people's.
GROUP_HANDLE_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_.-]{0,62}[a-z0-9_])?$")
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$")
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


def check_slug(slug: str) -> str:
    """A discussion or space slug: lower-case letters, digits and inner dashes."""
    canonical = (slug or "").strip().lower()
    if not SLUG_RE.match(canonical):
        raise InvalidInput(f"invalid slug {slug!r}: use 1-48 letters, digits or inner dashes")
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

    # Participation objects (ids double as the URLs of their HTML pages).
    def discussion_handle(self, org_username: str, slug: str) -> str:
        """Discussions are Group actors in the shared handle namespace: ``lyon.clos-jouve``."""
        return f"{org_username}.{slug}"

    def discussion_page(self, org_username: str, slug: str) -> str:
        return f"{self.base}/orgs/{org_username}/discussions/{slug}"

    def discussion_moderators(self, group_ap_id: str) -> str:
        return f"{group_ap_id}/moderators"

    def contribution(self, token: str) -> str:
        return f"{self.base}/contributions/{token}"

    def proposal(self, token: str) -> str:
        return f"{self.base}/proposals/{token}"

    def proposal_answer(self, proposal_ap_id: str) -> str:
        return f"{proposal_ap_id}/answer"

    def article(self, token: str) -> str:
        return f"{self.base}/articles/{token}"

    def initiative(self, token: str) -> str:
        return f"{self.base}/initiatives/{token}"

    def organization_page(self, org_username: str) -> str:
        return f"{self.base}/actors/{org_username}"

    def proposals_index(self, org_username: str) -> str:
        return f"{self.base}/orgs/{org_username}/proposals"

    # Web pages and form targets of the participation spaces (web/participation).
    def organization_theme(self, org_username: str) -> str:
        return f"{self.base}/orgs/{org_username}/theme.css"

    def organization_action(self, org_username: str, *parts: str) -> str:
        """POST targets on an organisation: ``follow``, ``ambassador``, ``follow-requests``, id."""
        return "/".join([f"{self.base}/orgs/{org_username}", *parts])

    def remote_follow(self, target_ap_id: str) -> str:
        """The remote-follow page of a local actor (a path: pages link to it on this node)."""
        return f"/follow?target={quote(target_ap_id, safe='')}"

    def citizen_discussion_form(self, org_username: str) -> str:
        return f"{self.base}/orgs/{org_username}/new-discussion"

    def discussion_section(self, org_username: str, slug: str, section: str) -> str:
        """Sub-pages and POST targets of a discussion: ``stakeholders``, ``initiatives``,
        ``follow``, ``contributions``, ``articles``."""
        return f"{self.discussion_page(org_username, slug)}/{section}"

    def discussion_article(self, org_username: str, slug: str, article_token: str) -> str:
        """The page of a crowdsourced article or report (its id is ``article(token)``)."""
        return f"{self.discussion_page(org_username, slug)}/articles/{article_token}"

    def discussion_contribution(self, org_username: str, slug: str, contribution_id: int,
                                action: str = "") -> str:
        """A contribution (local or remote) in its discussion: the reply page, or with ``action``
        the POST targets ``agree`` and ``moderate``."""
        url = f"{self.discussion_page(org_username, slug)}/contributions/{contribution_id}"
        return f"{url}/{action}" if action else url

    def proposal_form(self, org_username: str) -> str:
        return f"{self.proposals_index(org_username)}/new"

    def proposal_action(self, proposal_ap_id: str, action: str) -> str:
        """POST targets on a proposal: ``support``, ``withdraw``, ``publish``."""
        return f"{proposal_ap_id}/{action}"

    def initiative_action(self, initiative_ap_id: str, action: str) -> str:
        """POST targets on an initiative: ``act``."""
        return f"{initiative_ap_id}/{action}"

    def admin(self, org_username: str, *parts: str) -> str:
        """The organisation's admin screens: ``admin(org)``, ``admin(org, "discussions", slug)``…"""
        return "/".join([f"{self.base}/orgs/{org_username}/admin", *parts])

    def token_of(self, ap_id: str) -> str:
        return ap_id.rstrip("/").rsplit("/", 1)[-1]

    def acct(self, username: str) -> str:
        return f"acct:{username}@{self.domain}"

    def username_from_actor(self, ap_id: str) -> str | None:
        prefix = f"{self.base}/actors/"
        if ap_id.startswith(prefix):
            rest = ap_id[len(prefix):]
            if rest and "/" not in rest:
                return rest
        return None
