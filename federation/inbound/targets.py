"""What an inbound activity is about: the kind of its target, found once, for dispatch.

Our own ids are read by ``Uris.kind_of`` (no table probed); a remote object is looked up once
among what we store of other servers (contributions and notes, one query); ``Undo``/``Accept``/
``Reject`` are about their inner activity; a ``Create`` is about what its new object joins."""

from __future__ import annotations

from sqlalchemy import literal, select, union_all

from activities.campaigns import is_variant, relayed_kind
from activities.contributions import CONTRIBUTION_TYPES, is_poll_vote
from activities.normalize import first_type, id_of, ids_of
from federation.inbound.context import Inbound, Target
from node.models import Actor, BudgetProject, BudgetProjectComment, Contribution, Note, Poll
from node.services import coalitions, contributions, discussions, reactions

WRAPPING = ("Undo", "Accept", "Reject")
# The remote objects we store, by kind: a Delete or an Update of one names it by its id.
STORED = {"contribution": Contribution, "note": Note, "actor": Actor, "poll": Poll,
          "project": BudgetProject, "project_comment": BudgetProjectComment}


async def resolve(ctx: Inbound) -> Target:
    activity = ctx.type
    if activity in WRAPPING:
        return await _inner(ctx)
    if activity == "Create":
        return await _created(ctx)
    if activity == "Flag":
        return Target("objects")  # a Flag names several things (accounts, posts): its handler reads each
    if activity == "Announce" and relayed_kind(ctx.doc):
        return Target("relayed-like", ctx.object_id, ctx.doc.get("object"))  # a member relays a support
    target = await object_target(ctx, ctx.object_id)
    if activity == "Update" and target.kind == "unknown" and first_type(ctx.doc.get("object")) == "Question":
        return Target("question", target.ap_id, ctx.doc.get("object"))  # a poll we do not hold yet
    return target


async def object_target(ctx: Inbound, ap_id: str | None) -> Target:
    """The kind of the object ``ap_id``: the signer itself ("actor"), one of our ids (its kind),
    a remote object we store ("contribution", "note", another "actor"), else "unknown"."""
    if not ap_id:
        return Target("nothing")
    if ap_id == ctx.actor.ap_id:
        return Target("actor", ap_id, ctx.actor)
    uris = ctx.runtime.uris
    if uris.is_local(ap_id):
        kind = uris.kind_of(ap_id)
        return Target(kind.kind if kind else "unknown", ap_id)
    return await stored(ctx, ap_id)


async def stored(ctx: Inbound, ap_id: str) -> Target:
    """A remote object we hold, found by one query over the tables that hold them (each ``ap_id``
    column is indexed unique), then loaded. Handlers check who may act on it (SECURITY.md rule 1)."""
    query = union_all(*(select(literal(kind).label("kind"), model.id.label("id"))
                        .where(model.ap_id == ap_id) for kind, model in STORED.items()))
    found = (await ctx.session.execute(query.limit(1))).first()
    if found is None:
        return Target("unknown", ap_id)
    return Target(found.kind, ap_id, await ctx.session.get(STORED[found.kind], found.id))


async def _inner(ctx: Inbound) -> Target:
    """Undo, Accept and Reject are about the activity they wrap: its type, embedded or, for a
    bare id, the kind of reaction stored under it (we only send Follows to be accepted)."""
    inner = ctx.doc.get("object")
    inner_id = id_of(inner)
    if isinstance(inner, dict) and first_type(inner):
        return Target(first_type(inner), inner_id, inner)
    if ctx.type == "Undo":
        found = await reactions.find(ctx.session, inner_id or "")
        if found is not None:
            return Target(found[0].activity, inner_id, found)
    return Target("Follow", inner_id)


async def _created(ctx: Inbound) -> Target:
    """A new post joins a discussion ("discussion": it replies to its page or is addressed to
    its Group, FEP-1b12) or answers a contribution ("contribution", the parent); else "note"."""
    obj = ctx.doc.get("object")
    if not isinstance(obj, dict):
        return Target("nothing", id_of(obj))
    poll = poll_target(ctx, obj)
    if poll is not None:
        return poll
    if first_type(obj) in CONTRIBUTION_TYPES:
        found = await _thread(ctx, obj)
        if found is not None:
            return found
        found = await budget_post(ctx, obj)
        if found is not None:
            return found
    campaign = await campaign_page(ctx, obj)
    if campaign is not None:
        return campaign
    return Target("note", id_of(obj), obj)


def poll_target(ctx: Inbound, obj: dict) -> Target | None:
    """A poll made elsewhere ("question"), or a vote in one of our polls ("vote": Mastodon's
    named Note without content replying to it; a reply with content stays a post)."""
    if first_type(obj) == "Question":
        return Target("question", id_of(obj), obj)
    if is_poll_vote(obj):
        kind = ctx.runtime.uris.kind_of(id_of(obj.get("inReplyTo")))
        if kind is not None and kind.kind == "poll":
            return Target("vote", id_of(obj), obj)
    return None


async def budget_post(ctx: Inbound, obj: dict) -> Target | None:
    """A post about a participatory budget: a reply to one of its projects (ours, or a fediverse
    one it holds) or to a comment on one ("project", "project_comment": a comment), or a post
    replying to a budget or set in one (FEP-7888 ``context``) ("budget": a proposed project).
    A reply to anything else is not one, whatever its ``context`` says."""
    uris = ctx.runtime.uris
    in_reply_to = id_of(obj.get("inReplyTo"))
    if in_reply_to and not uris.is_local(in_reply_to):
        held = await ctx.session.scalar(select(BudgetProject.id).where(BudgetProject.ap_id == in_reply_to))
        return Target("project", in_reply_to, obj) if held is not None else None
    named = in_reply_to or id_of(obj.get("context"))
    kind = uris.kind_of(named) if uris.is_local(named) else None
    if kind is None or kind.kind not in ("project", "project_comment", "budget"):
        return None
    if kind.kind != "budget" and not in_reply_to:
        return None  # a project's id as a thread's context: not a reply to it
    return Target(kind.kind, named, obj)


async def campaign_page(ctx: Inbound, obj: dict) -> Target | None:
    """A Page of a coalition's campaign: a variant of one of our campaigns ("variant-page", at
    the home), or a campaign by a coalition one of our organisations belongs to ("campaign-page");
    any other Page is a post as before."""
    if first_type(obj) != "Page":
        return None
    if is_variant(obj):
        kind = ctx.runtime.uris.kind_of(id_of(obj.get("civic:variantOf")))
        return Target("variant-page", id_of(obj), obj) if kind is not None and kind.kind == "campaign" else None
    if ctx.actor.type == "Group" and await coalitions.has_local_member(ctx.session, ctx.actor):
        return Target("campaign-page", id_of(obj), obj)
    return None


async def _thread(ctx: Inbound, obj: dict) -> Target | None:
    session, uris = ctx.session, ctx.runtime.uris
    in_reply_to = id_of(obj.get("inReplyTo"))
    kind = uris.kind_of(in_reply_to)
    if kind is not None and kind.kind == "discussion":
        discussion = await discussions.by_page(session, in_reply_to)
        if discussion is not None:
            return Target("discussion", in_reply_to, discussion)
    ours = kind is not None and kind.kind == "contribution"
    if ours or (in_reply_to and not uris.is_local(in_reply_to)):
        # Ours, or a remote contribution that one of our discussions holds.
        parent = await contributions.by_ap_id(session, in_reply_to)
        if parent is not None:
            return Target("contribution", in_reply_to, parent)
    addresses = ids_of(obj.get("audience")) + ids_of(obj.get("to")) + ids_of(obj.get("cc"))
    for address in dict.fromkeys(a for a in addresses if uris.is_local(a)):
        group = uris.kind_of(address)
        discussion = await discussions.by_group_ap_id(session, address) \
            if group is not None and group.kind == "actor" else None
        if discussion is not None:
            return Target("discussion", address, discussion)
    return None
