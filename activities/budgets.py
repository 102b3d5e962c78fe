"""Participatory budgets on the wire: a budget (a ``Collection`` of its projects), a project
(``Page`` with its cost), a comment (``Note`` replying to the project) and the published results
(``Article`` by the organisation); and the parsers of what fediverse accounts send to a budget.

FEDERATION.md "Questionnaires, polls and budgets". A project Page says what it costs
(``civic:cost``, whole units of ``civic:currency``), how its review ended (``civic:feasibility``),
its district (``civic:district``, a name) and its state (``civic:status``); its ``context`` is its
budget. Ballots never appear in any of these documents: the results Article gives each winner's
vote count, nothing about who voted (SECURITY.md rule 31). The parsers bound and sanitise
everything they keep: what passes can be handed to node/services/budget_projects.py as it is."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from activities.addressing import addressing
from activities.contributions import is_poll_vote
from activities.errors import InvalidDocument
from activities.groups import plain_summary
from activities.html import is_web_url, plain_text, sanitize_html
from activities.normalize import first_type, host_of, id_of, ids_of, text_of
from activities.notes import iso
from activities.vocabulary import CIVIC_NS, CONTEXT, is_public
from node.models import Actor, Budget, BudgetProject, BudgetProjectComment

MAX_NAME = 300  # a project's title (node/services/budgets.MAX_TITLE)
MAX_TEXT = 40_000  # a project's sanitised HTML (budgets.MAX_BODY)
MAX_COMMENT = 20_000  # a comment's sanitised HTML (budgets.MAX_COMMENT)
MAX_DISTRICT = 200
MAX_COST = 2_000_000_000  # budgets.MAX_AMOUNT: fits the integer columns
TITLE_FROM_TEXT = 80  # a Note has no name: its title is the start of its text
MAX_ITEMS = 1000  # projects listed in a budget's Collection
PROPOSAL_TYPES = ("Page", "Note", "Article")
COMMENT_TYPES = ("Note", "Article", "Page")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,2}$")

# The results Article is written by the organisation, in its language (fr, en, de).
_RESULTS = {
    "fr": ("Résultats", "{n} projets financés sur {m}", "{spent} {currency} sur {amount} {currency}",
           "{cost} {currency}, {votes} voix", "{ballots} bulletins"),
    "en": ("Results", "{n} of {m} projects funded", "{spent} {currency} of {amount} {currency}",
           "{cost} {currency}, {votes} votes", "{ballots} ballots"),
    "de": ("Ergebnisse", "{n} von {m} Projekten gefördert", "{spent} {currency} von {amount} {currency}",
           "{cost} {currency}, {votes} Stimmen", "{ballots} Stimmzettel"),
}


# ---- out -----------------------------------------------------------------------------------------

def _texts(texts: dict | None, language: str) -> tuple[str, dict[str, str]]:
    """The text in ``language`` (else the first written) and the map of every written one."""
    written = {k: v for k, v in (texts or {}).items() if isinstance(v, str) and v.strip()}
    return written.get(language) or next(iter(written.values()), ""), written


def budget_to_as(budget: Budget, organization: Actor, *, level: str, language: str,
                 projects: Sequence[str]) -> dict:
    """The budget served at its id: a ``Collection`` of its projects' ids (``items``, the first
    ``MAX_ITEMS``), by the organisation, with its amount, currency and phase. ``level`` is the
    budget's (its own and its space's); ``projects`` are ids, local and remote alike."""
    to, cc = addressing(level, followers=[organization.followers_url])
    name, names = _texts(budget.title, language)
    description, descriptions = _texts(budget.description, language)
    doc = {
        "@context": CONTEXT,
        "id": budget.ap_id,
        "type": "Collection",
        "attributedTo": organization.ap_id,
        "name": plain_text(name, MAX_NAME),
        "nameMap": {k: plain_text(v, MAX_NAME) for k, v in names.items()},
        "summary": plain_summary(description) or plain_text(name, 280),
        "url": budget.ap_id,  # ids double as the URLs of the HTML pages (node/uris.py)
        "published": iso(budget.created_at),
        "to": to,
        "cc": cc,
        "totalItems": len(projects),
        "items": list(projects[:MAX_ITEMS]),
        "civic:amount": budget.amount,
        "civic:currency": budget.currency,
        "civic:phase": budget.phase,
    }
    if descriptions:
        doc["summaryMap"] = {k: plain_summary(v) for k, v in descriptions.items()}
    return doc


def project_to_as(project: BudgetProject, author: Actor, organization: Actor, budget: Budget, *,
                  level: str, cost: int, district: str | None = None) -> dict:
    """A project as a ``Page`` by its author, in its budget (``context``), addressed like a
    proposal: the organisation's followers (and the author's when anyone may read it).
    ``cost`` is what it costs on ballots (node/services/budgets.cost_of: the review's estimate,
    else the author's figure); ``district`` the district's name in the organisation's language."""
    to, cc = addressing(level, followers=[organization.followers_url],
                        open_followers=[author.followers_url])
    name = plain_text(project.title, MAX_NAME)
    doc = {
        "@context": CONTEXT,
        "id": project.ap_id,
        "type": "Page",
        "attributedTo": author.ap_id,
        "name": name,
        "summary": plain_summary(project.body) or plain_text(name, 280),
        "content": project.body,
        "url": project.ap_id,
        "audience": organization.ap_id,  # FEP-1b12, as proposals
        "context": budget.ap_id,  # FEP-7888: the budget the project is for
        "published": iso(project.created_at),
        "to": to,
        "cc": cc,
        "likes": {"type": "Collection", "totalItems": project.support_count or 0},
        "civic:cost": cost,
        "civic:currency": budget.currency,
        "civic:feasibility": project.feasibility,
        "civic:status": project.state,
    }
    if district:
        doc["civic:district"] = district
    if project.language:
        doc["contentMap"] = {project.language: project.body}
        doc["nameMap"] = {project.language: name}
    if project.updated_at:
        doc["updated"] = iso(project.updated_at)
    return doc


def comment_to_as(comment: BudgetProjectComment, author: Actor, project: BudgetProject,
                  organization: Actor, budget: Budget, *, level: str,
                  project_author: Actor | None = None) -> dict:
    """A comment as a ``Note`` replying to its project (``context`` the budget, as the project's),
    to the organisation's followers; the commenter's followers and the project's author only when
    anyone may read it."""
    to, cc = addressing(level, followers=[organization.followers_url],
                        open_followers=[author.followers_url,
                                        project_author.ap_id if project_author else None])
    return {
        "@context": CONTEXT,
        "id": comment.ap_id,
        "type": "Note",
        "attributedTo": author.ap_id,
        "content": comment.content,
        "url": comment.ap_id,
        "inReplyTo": project.ap_id,
        "audience": organization.ap_id,
        "context": budget.ap_id,
        "published": iso(comment.created_at),
        "to": to,
        "cc": cc,
    }


@dataclass(frozen=True)
class Winner:
    """A funded project as the results Article lists it (its vote count, never its voters)."""

    ap_id: str
    title: str
    cost: int
    votes: int


def results_to_as(budget: Budget, organization: Actor, *, level: str, language: str,
                  winners: Sequence[Winner], projects: int, ballots: int, spent: int) -> dict:
    """The published results: an ``Article`` by the organisation at ``<budget>/results``
    (``context`` the budget), listing the funded projects with their cost and votes, in the
    organisation's language. Totals only: how many ballots, never whose."""
    heading, funded, money, line, counted = _RESULTS.get(language, _RESULTS["en"])
    to, cc = addressing(level, followers=[organization.followers_url])
    title, _ = _texts(budget.title, language)
    title = plain_text(title, MAX_NAME - 20)
    currency = html.escape(budget.currency)
    summary = (f"{funded.format(n=len(winners), m=projects)}; "
               f"{money.format(spent=spent, amount=budget.amount, currency=budget.currency)}; "
               f"{counted.format(ballots=ballots)}")
    items = "".join(
        f'<li><a href="{html.escape(w.ap_id)}">{html.escape(plain_text(w.title, MAX_NAME))}</a> — '
        f"{line.format(cost=w.cost, currency=currency, votes=w.votes)}</li>" for w in winners)
    content = f"<p>{html.escape(summary)}</p>" + (f"<ol>{items}</ol>" if items else "")
    published = budget.results_published_at or budget.created_at
    return {
        "@context": CONTEXT,
        "id": budget.results_ap_id,
        "type": "Article",
        "attributedTo": organization.ap_id,
        "name": f"{heading}: {title}",
        "summary": plain_summary(summary),
        "content": content,
        "contentMap": {language: content},
        "url": budget.results_ap_id,
        "audience": organization.ap_id,
        "context": budget.ap_id,
        "published": iso(published),
        "to": to,
        "cc": cc,
    }


# ---- in ------------------------------------------------------------------------------------------

def _id(value, what: str) -> str:
    ident = id_of(value)
    if not isinstance(ident, str) or not is_web_url(ident) or not _host(ident):
        raise InvalidDocument(f"{what} must be an http(s) id")
    return ident


def _host(url: str) -> str:
    """The host of an id, "" when it has none (``http://[`` makes urlsplit raise)."""
    try:
        return host_of(url)
    except ValueError:
        return ""


def civic(doc: dict, term: str):
    """A civic: term however the sender compacted it: ``civic:cost``, the full IRI, or a JSON-LD
    value object (``{"@value": 5000}``)."""
    value = doc.get(f"civic:{term}", doc.get(f"{CIVIC_NS}{term}"))
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict) and "@value" in value:
        value = value["@value"]
    return value


def _cost(doc: dict) -> int | None:
    """``civic:cost``: absent, or a whole number between 0 and MAX_COST (a digit string too:
    some JSON-LD processors write xsd:integer values as strings)."""
    value = civic(doc, "cost")
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COST:
        raise InvalidDocument(f"civic:cost must be a whole number between 0 and {MAX_COST}")
    return value or None  # 0: no figure given


def _language(doc: dict) -> str | None:
    mapped = doc.get("contentMap")
    if isinstance(mapped, dict):
        for key in mapped:
            if isinstance(key, str) and len(key) <= 8 and _LANGUAGE.match(key):
                return key.lower()
    return None


def _text(doc: dict, limit: int, what: str) -> str:
    """The object's sanitised HTML; refused when empty or longer than ``limit`` (before or after
    sanitising: nothing is cut silently)."""
    raw = text_of(doc, "content")
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidDocument(f"{what} has no text")
    if len(raw) > limit:
        raise InvalidDocument(f"{what} is longer than {limit} characters")
    cleaned = sanitize_html(raw, limit)
    if not plain_summary(cleaned):
        raise InvalidDocument(f"{what} has no text")
    if len(cleaned) > limit:
        raise InvalidDocument(f"{what} is longer than {limit} characters")
    return cleaned


def _authored(doc, types: tuple[str, ...], what: str) -> tuple[str, str]:
    if not isinstance(doc, dict) or first_type(doc) not in types:
        raise InvalidDocument(f"a {what} is one of {', '.join(types)}")
    ap_id = _id(doc.get("id"), f"a {what}'s id")
    author = _id(doc.get("attributedTo"), f"a {what}'s attributedTo")
    if _host(ap_id) != _host(author):
        raise InvalidDocument(f"a {what}'s id is not on its author's host")
    return ap_id, author


def _addressed(doc: dict) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ids_of(doc.get("to")) + ids_of(doc.get("cc"))))


def meant_for(addressed: tuple[str, ...], organization: str, followers: str | None) -> bool:
    """Whether a post may be shown with a budget: addressed to ``Public`` (public or unlisted), or
    to the organisation or its followers (as a reply to a followers-only project is). A direct
    message to someone else, or a post to its author's own followers only, is not."""
    return is_public(list(addressed)) or organization in addressed or (followers or "") in addressed


def addressed_budget(doc) -> str | None:
    """The id a proposal names as its budget: its ``inReplyTo``, else its ``context``."""
    if not isinstance(doc, dict):
        return None
    for field in ("inReplyTo", "context"):
        ident = id_of(doc.get(field))
        if isinstance(ident, str):
            return ident
    return None


@dataclass(frozen=True)
class RemoteProject:
    """A fediverse account's proposal for one of our budgets, ready for budget_projects.propose."""

    author: str  # attributedTo
    budget: str  # inReplyTo or context
    ap_id: str
    title: str
    body_html: str
    cost: int | None
    district: str | None  # a name or slug, matched by the caller among the budget's districts
    language: str | None
    addressed: tuple[str, ...]  # to and cc: who the author meant it for


def parse_project(doc) -> RemoteProject:
    """A ``Page`` (``name`` its title), a ``Note`` (its first words the title: Mastodon posts
    have no name) or an ``Article`` proposing a project; InvalidDocument with the reason when it
    is not one we can keep (no text, too long, a cost that is not a whole number …)."""
    ap_id, author = _authored(doc, PROPOSAL_TYPES, "project")
    if is_poll_vote(doc):
        raise InvalidDocument("a poll vote is not a project")
    budget = addressed_budget(doc)
    if budget is None:
        raise InvalidDocument("a project names its budget in context or inReplyTo")
    budget = _id(budget, "a project's budget")
    body = _text(doc, MAX_TEXT, "the project")
    raw_name = text_of(doc, "name")
    title = plain_text(raw_name, MAX_NAME) if isinstance(raw_name, str) else ""
    if not title:
        title = plain_summary(body, TITLE_FROM_TEXT)
    if len(title) < 3:
        raise InvalidDocument("a project's title has at least 3 characters")
    district = civic(doc, "district")
    district = plain_text(district, MAX_DISTRICT) or None if isinstance(district, str) else None
    return RemoteProject(author, budget, ap_id, title, body, _cost(doc), district, _language(doc), _addressed(doc))


@dataclass(frozen=True)
class RemoteComment:
    """A fediverse reply to one of our projects, ready for budgets.comment."""

    author: str
    project: str  # inReplyTo
    ap_id: str
    content_html: str
    addressed: tuple[str, ...]


def parse_comment(doc) -> RemoteComment:
    """A reply (``Note``, or an ``Article``/``Page``) whose ``inReplyTo`` is a project."""
    ap_id, author = _authored(doc, COMMENT_TYPES, "comment")
    if is_poll_vote(doc):
        raise InvalidDocument("a poll vote is not a comment")
    project = _id(doc.get("inReplyTo"), "a comment's inReplyTo")
    return RemoteComment(author, project, ap_id, _text(doc, MAX_COMMENT, "the comment"), _addressed(doc))
