"""Right of access: every stored row that names a local account, and its activities as an outbox.

The rows are found from the schema itself (every foreign key to ``users.id`` or ``actors.id``),
so a table added later is exported without an edit here, unless it is listed in ``EXCLUDED``
with the reason. Secrets never leave (``is_redacted``)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Table, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from node.models import Activity, Actor, Base, User, utcnow
from node.models.questionnaires import Answer, QuestionnaireResponse
from node.uris import Uris

FORMAT = "civic-node-export/1"
REDACTED = "[redacted]"

# (table, column) pairs whose rows name the person but hold other people's data, or that are
# exported in another form. Each one says why.
EXCLUDED: dict[tuple[str, str], str] = {
    ("activities", "actor_id"): "exported as `outbox`: the documents as they were sent",
    ("reports", "target_actor_id"): "reports about the person were filed by others: the reporter "
                                    "and their words are the reporter's (SECURITY.md rule 22)",
    ("reports", "closed_by_id"): "a report closed by a moderator is the reporter's; the action "
                                 "itself is in moderation_log",
    ("hidden_content", "hidden_by_id"): "the hidden text is another person's; the action itself "
                                        "is in moderation_log",
    ("account_restrictions", "created_by_id"): "names another account; the action itself is in "
                                               "moderation_log",
    ("proposals", "answered_by_id"): "the proposal is its author's and the answer the "
                                     "organisation's",
    ("census_entries", "imported_by_id"): "census entries an admin imported identify other residents",
    ("verification_codes", "issued_by_id"): "codes an admin handed out are other residents'",
    ("member_verifications", "by_id"): "verifications an admin made are of other members",
    ("budget_projects", "reviewed_by_id"): "the project is its author's and the review the "
                                           "organisation's",
}

# Secrets: never in an export, whatever the table (password and code hashes, private keys,
# session epochs, salts and census digests).
_SECRET_NAMES = frozenset({"password_hash", "private_key_pem", "session_epoch", "salt", "digest",
                           "lookup"})


def is_redacted(column: str) -> bool:
    return column in _SECRET_NAMES or column.endswith("_hash") or "secret" in column


def person_columns() -> dict[str, list[tuple[Column, str]]]:
    """{table: [(foreign-key column, "users" | "actors")]} for every column of the schema that
    points at a user or an actor, less ``EXCLUDED``."""
    found: dict[str, list[tuple[Column, str]]] = {}
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            for key in column.foreign_keys:
                target = key.column.table.name
                if target in ("users", "actors") and key.column.name == "id" and \
                        (table.name, column.name) not in EXCLUDED:
                    found.setdefault(table.name, []).append((column, target))
    return found


def _value(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _row(table: Table, row) -> dict:
    return {column.name: REDACTED if is_redacted(column.name) else _value(row._mapping[column])
            for column in table.columns}


async def _rows(session: AsyncSession, table: Table, where) -> list[dict]:
    primary = list(table.primary_key.columns)
    result = await session.execute(select(table).where(where).order_by(*primary))
    return [_row(table, row) for row in result]


async def export_account(session: AsyncSession, uris: Uris, user: User) -> dict:
    """Everything stored about ``user``: ``tables`` ({table: rows}) holds every row that names
    them (their account, their actor, what they wrote, gave, followed, filed, moderated), with
    secrets redacted; what others gave them appears only as the counts stored on their own rows.
    ``outbox`` is every activity their actor sent, as an AS2 ``OrderedCollection``."""
    actor = await session.get(Actor, user.actor_id)
    keys = {"users": user.id, "actors": actor.id}
    tables: dict[str, list[dict]] = {
        "users": await _rows(session, User.__table__, User.__table__.c.id == user.id),
        "actors": await _rows(session, Actor.__table__, Actor.__table__.c.id == actor.id),
    }
    metadata = Base.metadata.tables
    for name, columns in person_columns().items():
        where = or_(*(column == keys[target] for column, target in columns))
        rows = await _rows(session, metadata[name], where)
        tables[name] = tables.get(name, []) + [r for r in rows if r not in tables.get(name, [])]
    # The answers of their named questionnaire responses (the rows name the response, not them).
    answers = Answer.__table__
    tables["questionnaire_answers"] = await _rows(session, answers, answers.c.response_id.in_(
        select(QuestionnaireResponse.id).where(QuestionnaireResponse.respondent_id == actor.id)))
    documents = list(await session.scalars(
        select(Activity.document).where(Activity.actor_id == actor.id).order_by(Activity.id)))
    outbox = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": actor.outbox or uris.actor_outbox(actor.username),
        "type": "OrderedCollection",
        "totalItems": len(documents),
        "orderedItems": documents,
    }
    return {
        "format": FORMAT,
        "exported_at": utcnow().isoformat(),
        "account": {"handle": actor.username, "id": actor.ap_id, "acct": uris.acct(actor.username)},
        "redacted": sorted(f"{t}.{c.name}" for t, table in metadata.items()
                           for c in table.columns if is_redacted(c.name) and t in tables),
        "tables": tables,
        "outbox": outbox,
    }
