"""Every public id and URL this node mints is built here, and only here."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
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
    if name is not None and not isinstance(name, str):
        raise InvalidInput("a handle is a text")
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
    if slug is not None and not isinstance(slug, str):
        raise InvalidInput("a slug is a text")
    canonical = (slug or "").strip().lower()
    if not SLUG_RE.match(canonical):
        raise InvalidInput(f"invalid slug {slug!r}: use 1-48 letters, digits or inner dashes")
    return canonical


def new_token() -> str:
    return uuid.uuid4().hex


# What a path segment of one of our ids may be: a token (new_token(), or a word in fixtures) and a
# handle (people's, organisations' and discussions' "<organisation>.<slug>"). Anything else in
# the path (percent-escapes, empty segments, a trailing slash) is not an id we minted.
_TOKEN = r"[A-Za-z0-9_-]{1,128}"
_HANDLE = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?"
_SLUG = r"[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?"
# Each id this module builds, as (kind, path pattern): the inverse of the builders below.
_ID_PATHS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern)) for kind, pattern in (
        ("instance", r"/actor"),
        ("actor", rf"/actors/({_HANDLE})"),
        ("inbox", rf"/actors/({_HANDLE})/inbox"),
        ("outbox", rf"/actors/({_HANDLE})/outbox"),
        ("followers", rf"/actors/({_HANDLE})/followers"),
        ("following", rf"/actors/({_HANDLE})/following"),
        ("moderators", rf"/actors/({_HANDLE})/moderators"),
        ("members", rf"/actors/({_HANDLE})/members"),
        ("note", rf"/notes/({_TOKEN})"),
        ("activity", rf"/activities/({_TOKEN})"),
        ("discussion", rf"/orgs/({_HANDLE})/discussions/({_SLUG})"),
        ("contribution", rf"/contributions/({_TOKEN})"),
        ("proposal", rf"/proposals/({_TOKEN})"),
        ("answer", rf"/proposals/({_TOKEN})/answer"),
        ("article", rf"/articles/({_TOKEN})"),
        ("initiative", rf"/initiatives/({_TOKEN})"),
        ("campaign", rf"/campaigns/({_TOKEN})"),
        ("variant", rf"/variants/({_TOKEN})"),
        ("poll", rf"/polls/({_TOKEN})"),
        ("vote", rf"/votes/({_TOKEN})"),
        ("budget", rf"/budgets/({_TOKEN})"),
        ("project", rf"/projects/({_TOKEN})"),
        ("project_comment", rf"/project-comments/({_TOKEN})"),
        ("budget_results", rf"/budgets/({_TOKEN})/results"),
    ))


@dataclass(frozen=True)
class Kind:
    """What one of our ids names: ``kind`` ("actor", "discussion", "contribution", …) and its
    ``key`` in the id (a token, a handle, or a discussion's (organisation, slug))."""

    kind: str
    key: tuple[str, ...] = ()

    @property
    def token(self) -> str:
        return self.key[0]

    username = token  # the handle, for the actor kinds


@lru_cache(maxsize=64)
def _netloc(base: str) -> str:
    """A base URL's host and port (asked on every inbox POST: read once per base)."""
    return urlsplit(base).netloc


@dataclass(frozen=True)
class Uris:
    """The URL scheme of one node, rooted at its base URL."""

    base: str

    @property
    def domain(self) -> str:
        return _netloc(self.base)

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

    # Coalitions (a Group actor with a members collection), their campaigns and members' variants.
    def coalition_members(self, coalition_ap_id: str) -> str:
        return f"{coalition_ap_id}/members"

    def campaign(self, token: str) -> str:
        return f"{self.base}/campaigns/{token}"

    def variant(self, token: str) -> str:
        return f"{self.base}/variants/{token}"

    def coalition_action(self, handle: str, *parts: str) -> str:
        """A coalition's pages and POST targets: ``members``, ``campaigns/new``, ``dashboard``,
        ``report``, ``report.csv``, ``report.json``."""
        return "/".join([f"{self.base}/coalitions/{handle}", *parts])

    # Polls (AS2 Question), their local votes, budgets, their projects (Page), comments and
    # results (Article).
    def poll(self, token: str) -> str:
        return f"{self.base}/polls/{token}"

    def vote(self, token: str) -> str:
        return f"{self.base}/votes/{token}"

    def budget(self, token: str) -> str:
        return f"{self.base}/budgets/{token}"

    def project(self, token: str) -> str:
        return f"{self.base}/projects/{token}"

    def project_comment(self, token: str) -> str:
        return f"{self.base}/project-comments/{token}"

    def budget_results(self, budget_ap_id: str) -> str:
        return f"{budget_ap_id}/results"

    def questionnaire_page(self, org_username: str, slug: str, *parts: str) -> str:
        """A questionnaire's pages: the form, ``results``, ``export.csv``, ``export.json``, ``edit``."""
        return "/".join([f"{self.base}/orgs/{org_username}/questionnaires/{slug}", *parts])

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

    def kind_of(self, ap_id: str | None) -> Kind | None:
        """What our id ``ap_id`` names, read from the id alone (no database); None for anything
        that is not exactly an id we mint: another host, a query string, a fragment other than
        the actor key's, trailing segments, web pages and form targets."""
        if not ap_id or not self.is_local(ap_id):
            return None
        if any(c in ap_id for c in "\t\r\n"):
            return None  # urlsplit drops them silently; no id of ours has them
        parts = urlsplit(ap_id)
        if parts.query or ap_id.endswith("?"):
            return None
        if parts.fragment or "#" in ap_id:
            if parts.fragment != "main-key":
                return None
            owner = self.kind_of(ap_id[: -len("#main-key")])
            keyed = owner is not None and owner.kind in ("actor", "instance")
            return Kind("key", owner.key) if keyed else None
        for kind, pattern in _ID_PATHS:
            found = pattern.fullmatch(parts.path)
            if found:
                return Kind(kind, found.groups())
        return None

    def username_from_actor(self, ap_id: str) -> str | None:
        prefix = f"{self.base}/actors/"
        if ap_id.startswith(prefix):
            rest = ap_id[len(prefix):]
            if rest and "/" not in rest:
                return rest
        return None
