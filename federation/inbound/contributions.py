"""Inbound contributions: replies that join our discussions (FEP-1b12), their Update and Delete
by their author, each accepted change passed on by the discussion's Group to its followers."""

from __future__ import annotations

from activities.contributions import (
    CONTRIBUTION_TYPES,
    ContributionData,
    as_to_contribution,
    is_poll_vote,
    rendered_content,
    rendered_content_map,
)
from activities.errors import InvalidDocument
from activities.normalize import first_type
from federation import participation_documents as documents
from federation.inbound import moderation
from federation.inbound import notes as inbound_notes
from federation.inbound.context import Inbound, admitted, check_ids
from federation.inbound.registry import handles
from node.errors import Forbidden
from node.models import Contribution, Discussion, utcnow
from node.services import contributions, notes, outbox


def _fields(data: ContributionData) -> dict:
    """What a remote post stores: its HTML (title, text, media links), and apart from it the
    content warning, the sensitive mark, its language and its other languages (SECURITY.md
    rule 21: shown faithfully; the warning and the language are rendered by the templates)."""
    return {
        "content_html": rendered_content(data),
        "content_warning": data.content_warning,
        "sensitive": data.sensitive,
        "language": data.language,
        "content_map": rendered_content_map(data) or None,
    }


@handles("Create", "discussion", "contribution")
async def on_create_contribution(ctx: Inbound) -> str:
    """A reply to a discussion's page or to one of its contributions, or a post addressed to
    its Group, becomes a contribution by its remote author; the group re-announces it."""
    session, obj = ctx.session, ctx.doc["object"]
    if ctx.target.kind == "discussion":
        discussion, parent = ctx.target.row, None
    else:
        parent = ctx.target.row
        discussion = await session.get(Discussion, parent.discussion_id)
    if is_poll_vote(obj):
        return "ignored: a poll vote is not a contribution"  # Mastodon votes this way (is_poll_vote)
    data = as_to_contribution(obj)
    check_ids(data.ap_id, data.url)
    if data.author != ctx.actor.ap_id:
        raise InvalidDocument("the object is attributed to someone else")
    if ctx.runtime.uris.is_local(data.ap_id):
        raise InvalidDocument("a remote actor cannot create objects with our ids")  # SECURITY.md rule 11
    group = discussion.group.ap_id
    if not (data.public or group in data.addressed or data.audience == group):
        # A private reply to the page is a message to the organisation, not a post.
        return await inbound_notes.store(ctx, obj)
    level = await documents.discussion_level(session, discussion)
    if not await admitted(ctx, discussion.organization_id, level):
        return "ignored: this discussion takes no contributions from the fediverse"
    if discussion.official_only:
        raise Forbidden("only the organisation posts in this discussion")  # postingRestrictedToMods
    tombstone = await notes.note_by_ap_id(session, data.ap_id)
    if tombstone is not None and tombstone.deleted_at is not None:
        return "ignored: its Delete arrived first"  # SECURITY.md rule 9
    contribution, created = await contributions.receive_remote(
        session, discussion, ctx.actor, ap_id=data.ap_id, parent=parent,
        published=data.published, url=data.url, activity=ctx.doc, **_fields(data))
    if not created:
        return "ignored: contribution already known"
    held = await moderation.hold_if_needed(ctx, contribution)
    return f"contribution stored; {held}" if held else "contribution stored"


async def _relay(ctx: Inbound, contribution: Contribution) -> None:
    """FEP-1b12: the group passes its participant's accepted Update/Delete on to its followers."""
    if await documents.discussion_of(ctx.session, contribution.discussion_id) is not None:
        await outbox.emit(ctx.session, outbox.GROUP_RELAYED, discussion_id=contribution.discussion_id,
                          activity=ctx.doc)


async def _contribution(ctx: Inbound) -> Contribution | None:
    """The contribution named by the activity: a remote one resolved already, or one of ours."""
    row = ctx.target.row
    return row if isinstance(row, Contribution) else \
        await contributions.by_ap_id(ctx.session, ctx.target.ap_id or "")


@handles("Update", "contribution")
async def on_update_contribution(ctx: Inbound) -> str:
    obj = ctx.doc.get("object")
    if not isinstance(obj, dict) or first_type(obj) not in CONTRIBUTION_TYPES:
        return "ignored: Update without an embedded contribution"
    contribution = await _contribution(ctx)
    if contribution is None:
        return "ignored: no such contribution"
    if contribution.local or contribution.author_id != ctx.actor.id:
        raise InvalidDocument("only its author may update a contribution")  # SECURITY.md rule 1
    if contribution.deleted_at is not None:
        return "ignored: the contribution was deleted"
    data = as_to_contribution(obj)
    fields = _fields(data)
    contribution.content, contribution.updated = fields.pop("content_html"), data.updated or utcnow()
    for name, value in fields.items():
        setattr(contribution, name, value)
    await _relay(ctx, contribution)
    return "contribution updated"


@handles("Delete", "contribution")
async def on_delete_contribution(ctx: Inbound) -> str:
    contribution = await _contribution(ctx)
    if contribution is None:
        return "ignored: no such contribution"
    if contribution.author_id != ctx.actor.id:
        raise InvalidDocument("only the author's server may delete an object")  # SECURITY.md rules 1, 9
    if contribution.deleted_at is not None:
        return "ignored: already deleted"
    await contributions.delete_contribution(ctx.session, contribution, federate=False)
    await _relay(ctx, contribution)
    return "contribution deleted"
