"""Erasure of a local account: its texts become tombstones, its reactions stay counted without
it, its personal rows go, and Delete of each object and of the person is queued for federation."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from node.errors import Conflict, InvalidInput
from node.models import (
    AccountState,
    Activity,
    Actor,
    Agreement,
    Article,
    Contribution,
    Discussion,
    Follow,
    Initiative,
    InitiativeAction,
    Membership,
    Note,
    PollVote,
    PollVoter,
    Proposal,
    ProposalSupport,
    Stakeholder,
    User,
    utcnow,
)

# budget_projects, campaigns, community, contributions and proposals define the reaction kinds
# (reactions.KINDS).
from node.services import (
    accounts,
    budget_projects,
    campaigns,  # noqa: F401
    community,  # noqa: F401
    contributions,  # noqa: F401
    follows,
    moderation_log,
    outbox,
    proposals,  # noqa: F401
    questionnaires,
    reactions,
)
from node.uris import new_token

# Outbox events (federation/outbound/erasure.py builds them).
OBJECT_ERASED = "erasure.object_erased"  # Delete{Tombstone} to every inbox that received it
ACTOR_ERASED = "erasure.actor_erased"  # Delete{Person} to every inbox that heard from the person

# What an erased account's reactions point to instead of the person: a placeholder actor of its
# own (one per erased account, so the unique (object, actor) pairs still hold), never local,
# without a name, an inbox or a key. Its id is a URN: nothing ever fetches or delivers to it.
ANONYMOUS_PREFIX = "urn:civic:erased:"


@dataclass
class Erased:
    """What erase_account did: the tombstoned objects (id, former AS2 type) and the row counts."""

    handle: str
    objects: list[tuple[str, str]] = field(default_factory=list)
    reactions: int = 0
    follows: int = 0
    removed: dict[str, int] = field(default_factory=dict)


def is_anonymous(actor: Actor) -> bool:
    return actor.ap_id.startswith(ANONYMOUS_PREFIX)


async def _tombstone(session: AsyncSession, model, author_column, values: dict, former_type: str,
                     actor: Actor, erased: Erased) -> None:
    rows = list(await session.scalars(select(model).where(author_column == actor.id,
                                                            model.deleted_at.is_(None))))
    for row in rows:
        for name, value in values.items():
            setattr(row, name, value)
        erased.objects.append((row.ap_id, former_type))


async def _anonymise_reactions(session: AsyncSession, actor: Actor) -> int:
    """Agreements, proposals' supports and "I acted" stay counted (every count on every page, the
    denormalised counters and the row counts alike) but point to a nameless placeholder."""
    anonymous = Actor(ap_id=f"{ANONYMOUS_PREFIX}{new_token()}", type="Person", local=False,
                      username="", domain="", name="", discoverable=False)
    session.add(anonymous)
    await session.flush()
    moved = 0
    # A campaign's supports are taken back instead, on every node that counted them (relayed and
    # tallied kinds: node/services/campaigns.py): the supporter's erasure withdraws a support.
    taken_back = [kind for kind in reactions.KINDS.values() if kind.relays or kind.tally is not None]
    await reactions.withdraw_all(session, actor, kinds=taken_back)
    # Every other kind of reaction (node/services/reactions.py), so a kind added later is covered.
    # A poll's votes too (SECURITY.md rule 30): still counted, linked to nobody.
    models = {kind.model for kind in reactions.KINDS.values() if kind not in taken_back} | \
        {Agreement, ProposalSupport, InitiativeAction, PollVote, PollVoter}
    for model in sorted(models, key=lambda m: m.__tablename__):
        result = await session.execute(update(model).where(model.actor_id == actor.id)
                                       .values(actor_id=anonymous.id))
        moved += result.rowcount or 0
    return moved


async def erase_account(session: AsyncSession, user: User, *, by: User | None) -> Erased:
    """Erase ``user``'s account in the caller's transaction. ``by``: the account itself, a node
    admin (written to the moderation log), or None for the node's operator (``civic user delete``).

    Every session ends at once (SECURITY.md rule 16); contributions, proposals, articles,
    initiatives and notes become tombstones (content cleared) and the activities that carried
    them are withdrawn (410 at their ids, out of the outboxes); follows both ways, stakeholder
    entries, memberships, account state, e-mail and password go with the user row; reactions
    stay counted without a link to the person; the Person actor stays as a tombstone that keeps
    the handle, so it cannot be registered again. One outbox event per object and one for the
    actor send the Deletes (FEDERATION.md, "What we send")."""
    actor = await session.get(Actor, user.actor_id)
    if actor is None or actor.type != "Person":
        raise InvalidInput("only a person's account can be erased")
    if actor.deleted_at is not None:
        raise Conflict(f"@{actor.username} is already erased")
    now = utcnow()
    erased = Erased(actor.username)
    await accounts.end_sessions(session, user.id)
    # Captured now: the follows are removed below, and the Delete{Person} must still reach them.
    follower_inboxes = await follows.delivery_inboxes(session, actor)

    await _tombstone(session, Contribution, Contribution.author_id,
                     {"deleted_at": now, "content": "", "content_map": None, "content_warning": None,
                      "url": None}, "Note", actor, erased)
    await _tombstone(session, Proposal, Proposal.author_id,
                     {"deleted_at": now, "title": "", "body": ""}, "Page", actor, erased)
    await _tombstone(session, Article, Article.author_id,
                     {"deleted_at": now, "title": "", "summary": "", "body": "", "link": None},
                     "Article", actor, erased)
    await _tombstone(session, Initiative, Initiative.author_id,
                     {"deleted_at": now, "title": "", "body": "", "link": None}, "Page", actor, erased)
    await _tombstone(session, Note, Note.actor_id,
                     {"deleted_at": now, "content": "", "summary": None, "document": None},
                     "Note", actor, erased)
    # A citizen discussion they opened stays (others contributed to it); it is no longer theirs.
    await session.execute(update(Discussion).where(Discussion.author_id == actor.id)
                          .values(author_id=None))
    # Their budget projects not yet voted on, and their comments on projects, become tombstones;
    # their ballots stay counted, linked to nobody: the user row's key is SET NULL on them
    # (SECURITY.md rule 31).
    erased.objects += await budget_projects.erase_author(session, actor, now)
    # Their named questionnaire responses stay in the results, linked to nobody and without a
    # time (SECURITY.md rule 29); the anonymous ones' participant rows go with the user row.
    await questionnaires.unlink_respondent(session, actor)

    erased.reactions = await _anonymise_reactions(session, actor)
    result = await session.execute(delete(Follow).where(
        or_(Follow.follower_id == actor.id, Follow.followed_id == actor.id)))
    erased.follows = result.rowcount or 0
    for model, column in ((Stakeholder, Stakeholder.actor_id), (Membership, Membership.user_id),
                          (AccountState, AccountState.user_id)):
        key = actor.id if column is Stakeholder.actor_id else user.id
        result = await session.execute(delete(model).where(column == key))
        erased.removed[model.__tablename__] = result.rowcount or 0

    # Every activity the person sent leaves the outbox and answers 410 (their Likes included).
    await session.execute(update(Activity).where(Activity.actor_id == actor.id,
                                                 Activity.withdrawn_at.is_(None))
                          .values(withdrawn_at=now, public=False))
    for ap_id, former_type in erased.objects:
        await outbox.withdraw(session, ap_id)  # the group's Announces of it too
        await outbox.emit(session, OBJECT_ERASED, actor_id=actor.id, object_ap_id=ap_id,
                          former_type=former_type)

    if by is not None and by.id != user.id:
        await moderation_log.record(session, by, "erase_account", "account", actor.ap_id)
    # The private key stays until the Deletes are signed and sent (`civic retention apply`
    # clears it once no delivery of the person is queued); nothing else of the person stays.
    actor.name, actor.summary, actor.url, actor.document = "", "", None, None
    actor.discoverable, actor.deleted_at = False, now
    await session.execute(delete(User).where(User.id == user.id))
    erased.removed["users"] = 1
    await outbox.emit(session, ACTOR_ERASED, actor_id=actor.id, inboxes=follower_inboxes)
    return erased


async def erased_actor(session: AsyncSession, username: str) -> Actor | None:
    """The tombstone of an erased local person with this handle, else None."""
    return await session.scalar(select(Actor).where(
        Actor.local.is_(True), Actor.username == username.lower(), Actor.deleted_at.is_not(None)))
