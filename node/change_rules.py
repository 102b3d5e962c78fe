"""What a written row changes, as the pages see it: the scopes, and the rules mapping each table's rows to them.

A scope names the pages that show one thing:

- ``discussion:<id>`` — the pages of one discussion (its contributions, articles, initiatives…);
- ``org:<id>`` — an organisation's lists and counts (its page, proposals, dashboards);
- ``profile:<id>`` — what every page of an organisation shows (its header and theme, spaces and
  phases) and who its readers are to it (roles, membership, following): the audiences;
- ``proposal:<id>``, ``actor:<id>`` (an actor's page and notes), ``site`` (node-wide lists);
- ``campaign:<id>`` — a coalition's campaign: its page, its variants, its supports' counts;
- ``session:<user id>`` — an account's session epoch (no page: the epochs each process keeps);
- ``reader:<actor id>`` — one reader's marks (their own agreements, supports, follows, actions
  and contributions), so that others writing never drops them;
- ``*`` — everything: a table nobody mapped, a change too wide to follow (an account erased,
  a domain blocked, a remote name changed).

:data:`RULES` gives the scopes of a written row of each table, one place for the whole node; a
table no page shows is in :data:`IGNORED`. The rows come from node/changes.py, which records what
each session writes and applies these rules at commit; a row's scopes are read in the committing
transaction (:class:`Lookup`: a contribution's discussion's organisation), with a small memo of
what never changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

EVERYTHING = "*"
SITE = "site"
MAX_MEMO = 20_000

def org(org_id) -> str:
    return f"org:{org_id}"


def profile(org_id) -> str:
    return f"profile:{org_id}"


def discussion(discussion_id) -> str:
    return f"discussion:{discussion_id}"


def proposal(proposal_id) -> str:
    return f"proposal:{proposal_id}"


def actor(actor_id) -> str:
    return f"actor:{actor_id}"


def campaign(campaign_id) -> str:
    """A campaign's pages: the campaign, its variants, the coalition's dashboard and report."""
    return f"campaign:{campaign_id}"


def questionnaire(questionnaire_id) -> str:
    """A questionnaire's pages: the form, its results and exports."""
    return f"questionnaire:{questionnaire_id}"


def poll(poll_id) -> str:
    """A poll, wherever it shows (its own page, its discussion's, its organisation's)."""
    return f"poll:{poll_id}"


def budget(budget_id) -> str:
    """A participatory budget's pages: the budget, its projects, ballot and results."""
    return f"budget:{budget_id}"


def session(user_id) -> str:
    """An account's sessions: its session epoch changed (logout, password change), so every
    process forgets the epoch it remembered (web/sessions.py)."""
    return f"session:{user_id}"


def reader(actor_id) -> str:
    """One reader's marks on the pages: what they agreed with, support, follow, acted on, wrote.
    Only their own rows change it, so others writing never drops a reader's marks."""
    return f"reader:{actor_id}"


# -- the registry: table → scopes ------------------------------------------------------------------

# What no page shows: queues, logs of federation, counters, secrets and codes.
IGNORED = frozenset({
    "inbox_activities", "inbox_refusals", "outbox_events", "deliveries", "activities",
    "rate_counters", "account_states", "verification_codes", "verification_salts", "census_entries",
    # Written only beside a campaign support, whose own row gives the scopes (node/services/campaigns.py).
    "campaign_tallies", "campaign_days",
    # Written only beside a questionnaire response, whose own row gives the scopes.
    "questionnaire_answers", "questionnaire_participants",
})
# An actor's columns that pages show. Keys, fetch times, inboxes and the cached AS2 document (kept
# for federation, rewritten at each fetch) change all the time and show on no page.
ACTOR_DISPLAY = frozenset({"name", "summary", "url", "username", "domain", "type", "deleted_at",
                           "discoverable", "manually_approves_followers"})


class Lookup:
    """Reads in the committing transaction what a row's scopes need (a contribution's
    discussion, a discussion's organisation…); what never changes is remembered, by the table
    and id of the row read (:func:`forget` when a new row takes an id: SQLite may reuse one)."""

    def __init__(self, session: Session, memo: dict):
        self.session, self.memo = session, memo

    def _value(self, table: str, columns: str, key, where: str = "id", remember: bool = True):
        sql = f"SELECT {columns} FROM {table} WHERE {where} = :key"  # noqa: S608 (names from this module)
        known = self.memo.get((table, key)) if remember else None
        if known is not None and sql in known:
            return known[sql]
        found = self.session.execute(text(sql), {"key": key}).first()
        found = tuple(found) if found is not None else None
        if remember and found is not None:
            if len(self.memo) >= MAX_MEMO:
                self.memo.clear()
            self.memo.setdefault((table, key), {})[sql] = found
        return found

    def organisation_of_discussion(self, discussion_id) -> int | None:
        found = self._value("discussions", "organization_id", discussion_id)
        return found[0] if found else None

    def discussion_of(self, table: str, row_id) -> int | None:
        """The discussion of a contribution or an initiative (it never moves)."""
        found = self._value(table, "discussion_id", row_id)
        return found[0] if found else None

    def discussion_of_group(self, actor_id) -> int | None:
        found = self._value("discussions", "id", actor_id, where="group_id", remember=False)
        return found[0] if found else None

    def proposal(self, proposal_id) -> tuple | None:
        """(organisation, discussion) of a proposal; its discussion may change: read each time."""
        return self._value("proposals", "organization_id, discussion_id", proposal_id, remember=False)

    def organisation_of_space(self, space_id) -> int | None:
        found = self._value("spaces", "organization_id", space_id)
        return found[0] if found else None

    def coalition_of_campaign(self, campaign_id) -> int | None:
        found = self._value("campaigns", "coalition_id", campaign_id)
        return found[0] if found else None

    def variant(self, variant_id) -> tuple | None:
        """(campaign, organisation) of a variant (they never change)."""
        return self._value("campaign_variants", "campaign_id, organization_id", variant_id)

    def coalitions_of(self, organisation_id) -> list[int]:
        """The coalitions hosted here that the organisation is an accepted member of (its
        people's roles there come from it: node/visibility.py ``roles``); read each time."""
        rows = self.session.execute(text(
            "SELECT m.coalition_id FROM coalition_members m JOIN coalitions c ON c.actor_id = m.coalition_id"
            " WHERE m.member_id = :key AND m.state = 'accepted'"), {"key": organisation_id})
        return [row[0] for row in rows]

    def questionnaire(self, questionnaire_id) -> tuple | None:
        """(organisation, discussion) of a questionnaire; its discussion may change: read each time."""
        return self._value("questionnaires", "organization_id, discussion_id", questionnaire_id,
                           remember=False)

    def poll(self, poll_id) -> tuple | None:
        """(organisation, discussion) of a poll (they never change)."""
        return self._value("polls", "organization_id, discussion_id", poll_id)

    def organisation_of_budget(self, budget_id) -> int | None:
        found = self._value("budgets", "organization_id", budget_id)
        return found[0] if found else None

    def budget_of_project(self, project_id) -> int | None:
        found = self._value("budget_projects", "budget_id", project_id)
        return found[0] if found else None

    def budget_of_ballot(self, ballot_id) -> int | None:
        found = self._value("budget_ballots", "budget_id", ballot_id)
        return found[0] if found else None

    def is_local(self, actor_id) -> bool:
        found = self._value("actors", "local", actor_id)
        return bool(found and found[0])

    def know_locality(self, actor_ids: set) -> None:
        """Read, in one query, whether each of ``actor_ids`` is one of ours (what :meth:`is_local`
        answers, then from the memo): a burst of fediverse supports must not cost a query each."""
        sql = "SELECT local FROM actors WHERE id = :key"
        wanted = sorted(i for i in actor_ids if i is not None and sql not in self.memo.get(("actors", i), {}))
        for first in range(0, len(wanted), 500):
            rows = self.session.execute(select(text("id"), text("local")).select_from(text("actors")).where(
                text("id IN :ids").bindparams(bindparam("ids", expanding=True))), {"ids": wanted[first:first + 500]})
            for actor_id, local in rows:
                if len(self.memo) >= MAX_MEMO:
                    self.memo.clear()
                self.memo.setdefault(("actors", actor_id), {})[sql] = (local,)

    def by_ap_id(self, table: str, columns: str, ap_id: str) -> tuple | None:
        return self._value(table, columns, ap_id, where="ap_id", remember=False)


def forget(memo: dict, table: str, row_id) -> None:
    """A row was inserted with ``row_id``: what was remembered of an older row with it goes."""
    memo.pop((table, row_id), None)


Scopes = Callable[[dict, Lookup, str], Iterable[str]]


@dataclass(frozen=True)
class Rule:
    """The scopes of a written row of one table: ``scopes(values, lookup, event)`` with the row's
    ``columns`` and ``event`` "insert", "update" or "delete". An update counts only when it
    writes one of ``watched`` (None: any column); an insert only when ``inserts``."""

    columns: tuple[str, ...]
    scopes: Scopes
    watched: frozenset[str] | None = None
    inserts: bool = True
    actor_column: str | None = None  # the column of the actor whose act the row is (``_by``)


def in_discussion(lookup: Lookup, discussion_id) -> set[str]:
    """A change inside a discussion: its pages, and its organisation's lists and counts."""
    organisation = lookup.organisation_of_discussion(discussion_id) if discussion_id else None
    return {EVERYTHING} if organisation is None else {discussion(discussion_id), org(organisation)}


def in_organisation(organisation) -> set[str]:
    """A change to the organisation itself or to who its readers are: every page of it."""
    return {EVERYTHING} if organisation is None else {profile(organisation), org(organisation)}


def in_proposal(lookup: Lookup, proposal_id, organisation=None, discussion_id=None) -> set[str]:
    if organisation is None:
        found = lookup.proposal(proposal_id)
        if found is None:
            return {EVERYTHING}
        organisation, discussion_id = found
    scopes = {proposal(proposal_id), org(organisation)}
    return scopes | ({discussion(discussion_id)} if discussion_id else set())


def _actor(values: dict, lookup: Lookup, event: str) -> set[str]:
    if event == "insert":  # a remote actor shows nowhere until it acts; a new organisation is listed
        local_organisation = values["local"] and values["type"] == "Organization"
        return {SITE, *in_organisation(values["id"])} if local_organisation else set()
    return {EVERYTHING}  # a name or an icon shows wherever the actor wrote


def _follow(values: dict, lookup: Lookup, event: str) -> set[str]:
    """Follower counts (an organisation's page, a discussion's, an actor's); a local follower's
    standing changes what they may read: every page of the organisation, for their audiences.
    A remote follower never reads our pages signed in (the fediverse follows come in numbers)."""
    followed, follower = values["followed_id"], values["follower_id"]
    scopes = {actor(followed), actor(follower), org(followed), reader(follower)}
    if lookup.is_local(follower):
        scopes.add(profile(followed))
    group_of = lookup.discussion_of_group(followed)
    return scopes | ({discussion(group_of)} if group_of else set())


def _hidden(values: dict, lookup: Lookup, event: str) -> set[str]:
    if values["target_kind"] == "contribution":
        found = lookup.by_ap_id("contributions", "discussion_id", values["target_ap_id"])
        return in_discussion(lookup, found[0]) if found else {EVERYTHING}
    if values["target_kind"] == "proposal":
        found = lookup.by_ap_id("proposals", "id, organization_id, discussion_id", values["target_ap_id"])
        return in_proposal(lookup, *found) if found else {EVERYTHING}
    return {EVERYTHING}


def in_campaign(lookup: Lookup, campaign_id) -> set[str]:
    """A change to a campaign or its supports: its pages and its coalition's lists and counts."""
    coalition = lookup.coalition_of_campaign(campaign_id) if campaign_id else None
    return {EVERYTHING} if coalition is None else {campaign(campaign_id), org(coalition)}


def in_variant(lookup: Lookup, variant_id) -> set[str]:
    found = lookup.variant(variant_id) if variant_id else None
    return {EVERYTHING} if found is None else {*in_campaign(lookup, found[0]), org(found[1])}


def _with_discussion(scope: str, organisation, discussion_id, lookup: Lookup) -> set[str]:
    """A thing of an organisation that may show in one of its discussions."""
    if organisation is None:
        return {EVERYTHING}
    inside = in_discussion(lookup, discussion_id) if discussion_id else set()
    return {scope, org(organisation), *inside}


def in_questionnaire(lookup: Lookup, questionnaire_id) -> set[str]:
    found = lookup.questionnaire(questionnaire_id) if questionnaire_id else None
    return {EVERYTHING} if found is None else _with_discussion(
        questionnaire(questionnaire_id), found[0], found[1], lookup)


def in_poll(lookup: Lookup, poll_id) -> set[str]:
    """A poll's votes and tallies: the poll and the discussion and organisation it shows in (a
    remote poll addressed to no discussion here shows nowhere but its own scope)."""
    found = lookup.poll(poll_id) if poll_id else None
    if found is None:
        return {EVERYTHING}
    organisation, discussion_id = found
    if organisation is None and discussion_id is None:
        return {poll(poll_id)}
    if organisation is None:
        return {poll(poll_id), *in_discussion(lookup, discussion_id)}
    return _with_discussion(poll(poll_id), organisation, discussion_id, lookup)


def in_budget(lookup: Lookup, budget_id) -> set[str]:
    organisation = lookup.organisation_of_budget(budget_id) if budget_id else None
    return {EVERYTHING} if organisation is None else {budget(budget_id), org(organisation)}


def _coalition_member(values: dict, lookup: Lookup, event: str) -> set[str]:
    """Who is in a coalition changes who may administer and read it (its audiences) and the
    member organisation's own page (its coalitions)."""
    return {*in_organisation(values["coalition_id"]), *in_organisation(values["member_id"])}


def _membership(organisation, lookup: Lookup) -> set[str]:
    """A person's role in an organisation: every page of it, and the audiences of each coalition
    it is a member of (its staff are that coalition's members, its admins maybe its admins)."""
    if organisation is None:
        return {EVERYTHING}
    return {*in_organisation(organisation), *(profile(c) for c in lookup.coalitions_of(organisation))}


def _everything(values: dict, lookup: Lookup, event: str) -> set[str]:
    return {EVERYTHING}


def _of(column: str, scopes: Callable) -> Rule:
    return Rule((column,), lambda values, lookup, event: scopes(values[column], lookup))


def _moderation(values: dict, lookup: Lookup, event: str) -> set[str]:
    return {f"moderation:{values['organization_id'] or ''}"}


def _by(column: str, rule: Rule, events: tuple[str, ...] = ("insert", "update", "delete")) -> Rule:
    """``rule``, and the marks of the reader in ``column`` (the actor whose own act the row is)
    when the row is written by one of ``events`` — a local reader: a fediverse account never
    reads our pages signed in, and a burst of its supports would otherwise add a scope each
    (on PostgreSQL more than a NOTIFY carries: every page of every process dropped)."""
    def scopes(values: dict, lookup: Lookup, event: str) -> set[str]:
        actor_id = values[column]
        mine = {reader(actor_id)} if event in events and lookup.is_local(actor_id) else set()
        return {*rule.scopes(values, lookup, event), *mine}
    return Rule((*rule.columns, column), scopes, rule.watched, rule.inserts, actor_column=column)


RULES: dict[str, Rule] = {
    # Its author's marks change when it is written, not when others agree with it (a count).
    "contributions": _by("author_id", _of("discussion_id", lambda d, lookup: in_discussion(lookup, d)),
                         events=("insert",)),
    "articles": _of("discussion_id", lambda d, lookup: in_discussion(lookup, d)),
    "initiatives": _of("discussion_id", lambda d, lookup: in_discussion(lookup, d)),
    "stakeholders": _of("discussion_id", lambda d, lookup: in_discussion(lookup, d)),
    "agreements": _by("actor_id", _of("contribution_id", lambda c, lookup: in_discussion(
        lookup, lookup.discussion_of("contributions", c)))),
    "initiative_actions": _by("actor_id", _of("initiative_id", lambda i, lookup: in_discussion(
        lookup, lookup.discussion_of("initiatives", i)))),
    # A discussion's own row (its level, its moderation, its status) decides who may read it and
    # how: its organisation's profile too, so that readers are looked up again (web/cache.py).
    "discussions": Rule(("id", "organization_id"), lambda values, lookup, event: {
        discussion(values["id"]), org(values["organization_id"]), profile(values["organization_id"])}),
    "proposals": Rule(("id", "organization_id", "discussion_id"), lambda values, lookup, event: in_proposal(
        lookup, values["id"], values["organization_id"], values["discussion_id"])),
    "proposal_supports": _by("actor_id", _of("proposal_id", lambda p, lookup: in_proposal(lookup, p))),
    "proposal_state_changes": _of("proposal_id", lambda p, lookup: in_proposal(lookup, p)),
    "organization_profiles": _of("actor_id", lambda o, lookup: {SITE, *in_organisation(o)}),
    "spaces": _of("organization_id", lambda o, lookup: in_organisation(o)),
    "phases": _of("space_id", lambda s, lookup: in_organisation(lookup.organisation_of_space(s))),
    "memberships": _of("organization_id", _membership),
    "member_verifications": _of("organization_id", lambda o, lookup: in_organisation(o)),
    "moderation_settings": _of("organization_id", lambda o, lookup: in_organisation(o)),
    "follows": Rule(("follower_id", "followed_id"), _follow),
    # An organisation's announcements are on its page; anyone's notes on their own.
    "notes": _of("actor_id", lambda a, lookup: {actor(a), org(a)}),
    "daily_visits": _of("organization_id", lambda o, lookup: {org(o)}),  # the dashboards
    "hidden_content": Rule(("target_kind", "target_ap_id"), _hidden),
    "reports": Rule(("organization_id",), _moderation),
    "moderation_log": Rule(("organization_id",), _moderation),
    "actors": Rule(("id", "type", "local"), _actor, watched=ACTOR_DISPLAY),
    "coalitions": _of("actor_id", lambda c, lookup: {SITE, *in_organisation(c)}),
    "coalition_members": Rule(("coalition_id", "member_id"), _coalition_member),
    "campaigns": Rule(("id", "coalition_id"), lambda values, lookup, event: {
        campaign(values["id"]), org(values["coalition_id"])}),
    "campaign_variants": Rule(("campaign_id", "organization_id"), lambda values, lookup, event: {
        *in_campaign(lookup, values["campaign_id"]), org(values["organization_id"])}),
    "variant_supports": _by("actor_id", _of("variant_id", lambda v, lookup: in_variant(lookup, v))),
    "campaign_supports": _by("actor_id", _of("campaign_id", lambda c, lookup: in_campaign(lookup, c))),
    "questionnaires": Rule(("id", "organization_id", "discussion_id"), lambda values, lookup, event:
                           _with_discussion(questionnaire(values["id"]), values["organization_id"],
                                            values["discussion_id"], lookup)),
    "questions": _of("questionnaire_id", lambda q, lookup: in_questionnaire(lookup, q)),
    "questionnaire_responses": _of("questionnaire_id", lambda q, lookup: in_questionnaire(lookup, q)),
    "polls": Rule(("id", "organization_id", "discussion_id"), lambda values, lookup, event:
                  {poll(values["id"]), *(_with_discussion(poll(values["id"]), values["organization_id"],
                                                          values["discussion_id"], lookup)
                                         if values["organization_id"] is not None else
                                         in_discussion(lookup, values["discussion_id"])
                                         if values["discussion_id"] is not None else set())}),
    "poll_options": _of("poll_id", lambda p, lookup: in_poll(lookup, p)),
    "poll_votes": _by("actor_id", _of("poll_id", lambda p, lookup: in_poll(lookup, p))),
    "poll_voters": _by("actor_id", _of("poll_id", lambda p, lookup: in_poll(lookup, p))),
    "budgets": Rule(("id", "organization_id"), lambda values, lookup, event: {
        budget(values["id"]), org(values["organization_id"])}),
    "budget_districts": _of("budget_id", lambda b, lookup: in_budget(lookup, b)),
    "budget_projects": _by("author_id", _of("budget_id", lambda b, lookup: in_budget(lookup, b)), events=("insert",)),
    "budget_project_supports": _by("actor_id", _of("project_id", lambda p, lookup: in_budget(
        lookup, lookup.budget_of_project(p)))),
    "budget_project_comments": _by("author_id", _of("project_id", lambda p, lookup: in_budget(
        lookup, lookup.budget_of_project(p))), events=("insert",)),
    # A ballot changes its budget's counts (its projects' votes), not any other reader's marks.
    "budget_ballots": _of("budget_id", lambda b, lookup: in_budget(lookup, b)),
    "budget_ballot_projects": _of("ballot_id", lambda b, lookup: in_budget(lookup, lookup.budget_of_ballot(b))),
    # A node admin's right changes every audience; passwords and e-mail addresses show nowhere.
    "users": Rule(("id",), _everything, watched=frozenset({"is_admin", "actor_id"}), inserts=False),
    "domain_blocks": Rule((), _everything),
    "domain_allows": Rule((), _everything),
    "account_restrictions": Rule((), _everything),
    "legal_texts": Rule((), _everything),
}


def scopes_of(table: str, values: dict, lookup: Lookup, event: str,
              written: Iterable[str] | None = None) -> set[str]:
    """The scopes of one written row of ``table`` (``written``: the columns an update wrote,
    None when unknown); ``*`` for a table nobody mapped."""
    if table in IGNORED:
        return set()
    rule = RULES.get(table)
    if rule is None:
        return {EVERYTHING}
    if event == "insert" and not rule.inserts:
        return set()
    if event == "update" and rule.watched is not None and written is not None \
            and not rule.watched.intersection(written):
        return set()
    return set(rule.scopes(values, lookup, event))
