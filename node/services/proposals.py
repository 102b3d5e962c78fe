"""Proposals: lifecycle, official answers (written, then published), supports with limits."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.models import Actor, Proposal, ProposalStates, ProposalSupport, Space, StateChange, utcnow
from node.services import outbox, proposal_access, reactions
from node.uris import Uris, new_token

S = ProposalStates
# Who may move a proposal from one state to another (its status lifecycle, FEDERATION.md "Extension namespace").
AUTHOR_MOVES = {S.draft: {S.published, S.withdrawn}, S.published: {S.withdrawn},
                S.evaluating: {S.withdrawn}}
ADMIN_MOVES = {S.published: {S.evaluating, S.accepted, S.rejected},
               S.evaluating: {S.accepted, S.rejected}, S.accepted: {S.implemented}}
SUPPORTABLE = (S.published, S.evaluating)
SORTS = ("supports", "recent", "oldest")
PAGE_SIZE = 20
PROPOSAL_PUBLISHED = "proposal.published"
PROPOSAL_UPDATED = "proposal.updated"
ANSWER_PUBLISHED = "proposal.answer_published"
SUPPORT_CREATED = "support.created"
SUPPORT_UNDONE = "support.undone"
# SECURITY.md rule 23: supporting one's own proposal inflated its count and the index's ranking.
SELF_SUPPORT = "the author cannot support their own proposal"


async def create(session: AsyncSession, uris: Uris, organization: Actor, author: Actor, title: str,
                 body_html: str, *, space: Space | None = None, discussion_id: int | None = None,
                 publish: bool = False, language: str | None = None) -> Proposal:
    await proposal_access.check_filing(session, organization, author, space, discussion_id)
    title = (title or "").strip()
    if not 3 <= len(title) <= 300:
        raise InvalidInput("the title must have between 3 and 300 characters")
    if not body_html.strip() or len(body_html) > 40_000:
        raise InvalidInput("the proposal needs a text of at most 20,000 characters")
    proposal = Proposal(ap_id=uris.proposal(new_token()), organization_id=organization.id,
                        space_id=space.id if space else None, discussion_id=discussion_id,
                        author_id=author.id, title=title, body=body_html, language=language,
                        state=S.draft, support_count=0)
    proposal.author = author
    session.add(proposal)
    await session.flush()
    if publish:
        await transition(session, proposal, S.published, by=author, as_author=True)
    return proposal


async def transition(session: AsyncSession, proposal: Proposal, to_state: str, *, by: Actor,
                     as_author: bool = False, note: dict | None = None) -> None:
    """Move a proposal along its lifecycle; refuses moves the role does not allow."""
    if to_state not in S.ALL:
        raise InvalidInput(f"unknown state {to_state!r}")
    moves = AUTHOR_MOVES if as_author else ADMIN_MOVES
    if as_author and proposal.author_id != by.id:
        raise Forbidden("only the author can do this")
    if to_state not in moves.get(proposal.state, set()):
        raise Conflict(f"a proposal cannot go from {proposal.state} to {to_state}")
    session.add(StateChange(proposal_id=proposal.id, from_state=proposal.state, to_state=to_state,
                            by_actor_id=by.id, note=note or {}))
    first_publication = proposal.state == S.draft and to_state == S.published
    proposal.state = to_state
    now = utcnow()
    if first_publication:
        proposal.published_at = now
        await outbox.emit(session, PROPOSAL_PUBLISHED, proposal_id=proposal.id)
    elif proposal.published_at is not None:
        proposal.updated_at = now
        await outbox.emit(session, PROPOSAL_UPDATED, proposal_id=proposal.id)
    await session.flush()


async def write_answer(session: AsyncSession, proposal: Proposal, text_html: str, *, user_id: int,
                       state: str | None = None) -> None:
    """Store (or revise) the official answer without publishing it yet."""
    if proposal.state in (S.draft, S.withdrawn):
        raise Conflict("only published proposals can be answered")
    if not text_html.strip():
        raise InvalidInput("the answer cannot be empty")
    if state is not None and state not in (S.evaluating, S.accepted, S.rejected):
        raise InvalidInput("an answer sets the state to evaluating, accepted or rejected")
    proposal.answer, proposal.answer_state, proposal.answered_by_id = text_html, state, user_id


async def publish_answer(session: AsyncSession, uris: Uris, proposal: Proposal, *, by: Actor) -> None:
    """Publish the stored answer: the state changes with it and the organisation's Note federates."""
    if not proposal.answer:
        raise Conflict("write the answer before publishing it")
    if proposal.answer_state and proposal.answer_state != proposal.state:
        await transition(session, proposal, proposal.answer_state, by=by)
    proposal.answer_ap_id = proposal.answer_ap_id or uris.proposal_answer(proposal.ap_id)
    proposal.answer_published_at = utcnow()
    await outbox.emit(session, ANSWER_PUBLISHED, proposal_id=proposal.id)


async def _supports_in_space(session: AsyncSession, actor: Actor, space_id: int) -> int:
    return await session.scalar(
        select(func.count()).select_from(ProposalSupport).join(Proposal)
        .where(ProposalSupport.actor_id == actor.id, Proposal.space_id == space_id)) or 0


async def _supportable(session: AsyncSession, proposal: Proposal, actor: Actor) -> None:
    if proposal.deleted_at is not None:
        raise NotFound("no such proposal")
    if proposal.state not in SUPPORTABLE:
        raise Conflict("this proposal cannot be supported in its current state")


async def _within_space_limit(session: AsyncSession, proposal: Proposal, actor: Actor) -> None:
    """The space may cap the supports each person gives in it."""
    space = await session.get(Space, proposal.space_id) if proposal.space_id is not None else None
    if space is not None and space.supports_per_person is not None and \
            await _supports_in_space(session, actor, space.id) >= space.supports_per_person:
        raise Conflict(f"you already gave your {space.supports_per_person} supports here")


# A proposal's support: once per person, never by its author, within the space's limit (a Like).
SUPPORT = reactions.Reaction(
    "support", ProposalSupport, Proposal, "proposal_id", "support_count",
    SUPPORT_CREATED, "support_id", SUPPORT_UNDONE, ("support_ap_id", "proposal_id"),
    own=SELF_SUPPORT, state=_supportable, limits=(_within_space_limit,))


async def support(session: AsyncSession, uris: Uris, proposal: Proposal, actor: Actor,
                  like_ap_id: str | None = None) -> bool:
    """Support a proposal (reactions.add with SUPPORT); False if already given."""
    return await reactions.add(session, uris, SUPPORT, proposal, actor, like_ap_id)


async def withdraw_support(session: AsyncSession, actor: Actor, *, proposal: Proposal | None = None,
                           like_ap_id: str | None = None) -> bool:
    return await reactions.withdraw(session, SUPPORT, actor, target=proposal, ap_id=like_ap_id)


async def by_ap_id(session: AsyncSession, ap_id: str) -> Proposal | None:
    return await session.scalar(select(Proposal).where(Proposal.ap_id == ap_id))


async def require(session: AsyncSession, ap_id: str) -> Proposal:
    proposal = await by_ap_id(session, ap_id)
    if proposal is None:
        raise NotFound("no such proposal")
    return proposal


def succeeded(proposal: Proposal, space: Space | None) -> bool:
    threshold = space.support_threshold if space else None
    return threshold is not None and proposal.support_count >= threshold


@dataclass(frozen=True)
class ProposalPage:
    items: list[Proposal]
    total: int
    page: int
    pages: int


async def index(session: AsyncSession, organization: Actor, *, state: str | None = None,
                sort: str = "supports", page: int = 1, space_id: int | None = None,
                page_size: int = PAGE_SIZE, levels: tuple[str, ...] | None = None) -> ProposalPage:
    """Filtered, sorted, paginated proposals; served by the (organisation, state, …) indexes,
    never by reading supports (the count is denormalised on the proposal). With ``levels``
    (``visibility.listed_levels(who)``), only — and only counting — those listed to that reader."""
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}")
    if state is not None and state not in S.PUBLIC:
        raise InvalidInput(f"unknown state {state!r}")
    states = [state] if state else list(S.PUBLIC)
    where = [Proposal.organization_id == organization.id, Proposal.state.in_(states),
             Proposal.deleted_at.is_(None)]  # erased with its author's account
    if space_id is not None:
        where.append(Proposal.space_id == space_id)
    if levels is not None:
        where.append(Proposal.id.in_(proposal_access.listed_ids(levels)))
    total = await session.scalar(select(func.count()).select_from(Proposal).where(*where)) or 0
    order = {"supports": (Proposal.support_count.desc(), Proposal.id.desc()),
             "recent": (Proposal.published_at.desc(), Proposal.id.desc()),
             "oldest": (Proposal.published_at.asc(), Proposal.id.asc())}[sort]
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    rows = await session.scalars(select(Proposal).where(*where).order_by(*order)
                                 .offset((page - 1) * page_size).limit(page_size))
    return ProposalPage(list(rows), total, page, pages)


async def history(session: AsyncSession, proposal: Proposal) -> list[StateChange]:
    return list(await session.scalars(select(StateChange).where(StateChange.proposal_id == proposal.id)
                                      .order_by(StateChange.id)))


async def supported_in(session: AsyncSession, actor: Actor | None, organization: Actor) -> set[int]:
    """The proposals to ``organization`` that ``actor`` supports (by the supports' actor index)."""
    return await reactions.given(session, SUPPORT, actor,
                                 within=Proposal.organization_id == organization.id)


async def supported_by(session: AsyncSession, actor: Actor | None, proposal_ids: list[int]) -> set[int]:
    return await reactions.given(session, SUPPORT, actor, proposal_ids)
