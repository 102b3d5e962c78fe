"""Participation objects as AS2: what federates and at which level, loaded from the database and
converted once (the fan-out and the AS2 GETs both read them here)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.actors import actor_to_as
from activities.coalitions import coalition_to_as
from activities.community import article_to_as, initiative_to_as
from activities.contributions import contribution_to_as
from activities.discussions import discussion_group_to_as, discussion_page_to_as
from activities.html import text_to_html
from activities.proposals import official_answer_to_as, proposal_to_as
from node import visibility
from node.models import (
    Actor,
    Article,
    Contribution,
    Discussion,
    Initiative,
    OrganizationProfile,
    Proposal,
    ProposalStates,
    Space,
)
from node.services import coalitions, discussions, media, proposal_access
from node.services.i18n import pick
from node.uris import Uris

APPROVED = "approved"


def federates(discussion: Discussion | None) -> bool:
    """Approved discussions at a level that leaves the node (public, unlisted, followers) federate;
    pending, rejected and members-only ones never do (SECURITY.md rule 24). The discussion's own
    level only: :func:`discussion_level` adds its space's."""
    return (discussion is not None and discussion.moderation == APPROVED
            and visibility.federates(visibility.level_of(discussion)))


async def space_of(session: AsyncSession, space_id: int | None) -> Space | None:
    return await session.get(Space, space_id) if space_id else None


async def discussion_level(session: AsyncSession, discussion: Discussion) -> str:
    """The level of the discussion and of everything in it: the stricter of its space's and its
    own (node/visibility.py level_of); a discussion not approved is ``members`` (never sent)."""
    if discussion.moderation != APPROVED:
        return visibility.MEMBERS
    return await discussions.level(session, discussion)


async def language_of(session: AsyncSession, organization: Actor) -> str:
    """The organisation's default language (its texts are {language: text} maps)."""
    lang = await session.scalar(select(OrganizationProfile.default_language)
                                .where(OrganizationProfile.actor_id == organization.id))
    return lang or "fr"


async def discussion_of(session: AsyncSession, discussion_id: int | None) -> Discussion | None:
    """The discussion when it federates (with its space's level), else None."""
    discussion = await session.get(Discussion, discussion_id) if discussion_id else None
    if discussion is None or not visibility.federates(await discussion_level(session, discussion)):
        return None
    return discussion


async def organization_actor_as(session: AsyncSession, uris: Uris, organization: Actor) -> dict:
    """An organisation's document, with its logo as ``icon`` when it has one."""
    logo = await session.scalar(select(OrganizationProfile.logo_path)
                                .where(OrganizationProfile.actor_id == organization.id))
    media_type = media.media_type_of(logo)
    return actor_to_as(organization, icon=(uris.base + logo, media_type) if media_type else None)


async def local_actor_as(session: AsyncSession, uris: Uris, actor: Actor) -> dict | None:
    """Any local actor's document (None: a Group whose discussion does not federate)."""
    if actor.type == "Group":
        return await group_actor_as(session, uris, actor)
    if actor.type == "Organization":
        return await organization_actor_as(session, uris, actor)
    return actor_to_as(actor)


async def group_actor_as(session: AsyncSession, uris: Uris, group: Actor) -> dict | None:
    """A local Group actor's document: a discussion's (FEP-1b12) or, without one, the plain actor.
    None when its discussion does not federate (the same 404 as a missing actor)."""
    discussion = await discussions.by_group(session, group)
    if discussion is None:
        return await coalition_actor_as(session, uris, group)
    level = await discussion_level(session, discussion)
    if not visibility.federates(level):
        return None
    lang = await language_of(session, discussion.organization)
    return discussion_group_to_as(discussion, group, discussion.organization,
                                  uris.discussion_moderators(group.ap_id),
                                  title=pick(discussion.title, lang),
                                  summary=pick(discussion.summary, lang), level=level)


async def coalition_actor_as(session: AsyncSession, uris: Uris, group: Actor) -> dict | None:
    """A Group with no discussion: a coalition's document (its ``members`` collection and
    ``civic:coalition``; None for a ``members`` coalition, which never leaves the node), else
    the plain actor."""
    coalition = await coalitions.of_actor(session, group)
    if coalition is None:
        return actor_to_as(group)
    if not visibility.federates(coalition.visibility):
        return None
    return coalition_to_as(actor_to_as(group), uris.coalition_members(group.ap_id))


async def discussion_author(session: AsyncSession, discussion: Discussion) -> Actor | None:
    """The resident who started a citizen discussion (None for an official one): its page is
    theirs, sent and attributed in their name (SECURITY.md rule 23)."""
    if discussion.kind != "citizen" or discussion.author_id is None:
        return None
    return await session.get(Actor, discussion.author_id)


def written_in(texts: dict | None, preferred: str) -> str | None:
    """The language a {language: text} map holds its text in: ``preferred`` (the organisation's
    default) when the text was written in it, else the first language it was written in; None
    for no text. A text written only in English is English, whatever the default."""
    written = [lang for lang, text in (texts or {}).items() if text]
    if not written:
        return None
    return preferred if preferred in written else written[0]


async def discussion_page_as(session: AsyncSession, discussion: Discussion) -> dict:
    """The opening Page, each text in the language(s) it was written in (``contentMap``,
    ``nameMap``, ``summaryMap``), at the discussion's level with its space's."""
    default = await language_of(session, discussion.organization)
    lang = written_in(discussion.body, default) or written_in(discussion.title, default) or default
    conclusion = pick(discussion.conclusion, lang)
    return discussion_page_to_as(
        discussion, discussion.group, discussion.organization,
        title=pick(discussion.title, lang), summary=pick(discussion.summary, lang),
        content=text_to_html(pick(discussion.body, lang)),
        language=written_in(discussion.body, lang),
        conclusion=text_to_html(conclusion) if conclusion else None,
        author_actor=await discussion_author(session, discussion),
        level=await discussion_level(session, discussion),
        followers=[discussion.organization.followers_url],
        name_map={k: v for k, v in (discussion.title or {}).items() if v},
        summary_map={k: v for k, v in (discussion.summary or {}).items() if v},
        content_map={k: text_to_html(v) for k, v in (discussion.body or {}).items() if v},
    )


async def in_reply_to_of(session: AsyncSession, contribution: Contribution,
                         discussion: Discussion) -> str:
    """The parent contribution's id, or the discussion page's for a top-level contribution."""
    if contribution.parent_id:
        parent = await session.get(Contribution, contribution.parent_id)
        if parent is not None:
            return parent.ap_id
    return discussion.page_ap_id


async def contribution_as(session: AsyncSession, contribution: Contribution,
                          discussion: Discussion) -> dict:
    return contribution_to_as(contribution, contribution.author, discussion, discussion.group,
                              in_reply_to=await in_reply_to_of(session, contribution, discussion),
                              level=await discussion_level(session, discussion))


async def proposal_context(session: AsyncSession, proposal: Proposal
                           ) -> tuple[bool, Discussion | None, Space | None]:
    """(does it federate, its discussion, its space): a published proposal whose level — the
    stricter of its space's and its discussion's (:func:`proposal_level`) — leaves the node."""
    space = await space_of(session, proposal.space_id)
    discussion = await session.get(Discussion, proposal.discussion_id) if proposal.discussion_id else None
    ok = proposal.state in ProposalStates.PUBLIC and visibility.federates(
        await proposal_access.level_in(session, space, discussion))
    return ok, discussion, space


async def proposal_level(session: AsyncSession, proposal: Proposal) -> str:
    """The level of a proposal and its official answer — a proposal has no level of its own
    (node/services/proposal_access.py)."""
    return await proposal_access.level(session, proposal)


async def proposal_as(session: AsyncSession, proposal: Proposal) -> dict | None:
    ok, discussion, space = await proposal_context(session, proposal)
    if not ok:
        return None
    organization = await session.get(Actor, proposal.organization_id)
    return proposal_to_as(proposal, proposal.author, organization,
                          level=await proposal_access.level_in(session, space, discussion),
                          group_id=discussion.group.ap_id if discussion else None,
                          group_followers=discussion.group.followers_url if discussion else None,
                          support_threshold=space.support_threshold if space else None)


async def answer_as(session: AsyncSession, proposal: Proposal) -> dict | None:
    """The published official answer (a Note by the organisation), None before it is published."""
    ok, discussion, space = await proposal_context(session, proposal)
    if not ok or proposal.answer_published_at is None or not proposal.answer_ap_id:
        return None
    organization = await session.get(Actor, proposal.organization_id)
    return official_answer_to_as(proposal, organization, answer_id=proposal.answer_ap_id,
                                 level=await proposal_access.level_in(session, space, discussion),
                                 group_id=discussion.group.ap_id if discussion else None,
                                 group_followers=discussion.group.followers_url if discussion else None)


async def article_as(session: AsyncSession, article: Article) -> dict | None:
    discussion = await discussion_of(session, article.discussion_id)
    if discussion is None:
        return None
    return article_to_as(article, article.author, discussion.group.ap_id,
                         level=await discussion_level(session, discussion),
                         followers=_discussion_followers(discussion))


async def initiative_as(session: AsyncSession, initiative: Initiative) -> dict | None:
    discussion = await discussion_of(session, initiative.discussion_id)
    if discussion is None:
        return None
    return initiative_to_as(initiative, initiative.author, discussion.group.ap_id,
                            level=await discussion_level(session, discussion),
                            followers=_discussion_followers(discussion))


def _discussion_followers(discussion: Discussion) -> list[str]:
    """The collections the level ``followers`` means in a discussion: its organisation's and its
    group's followers."""
    return [discussion.organization.followers_url, discussion.group.followers_url]
