"""The delivery column of the visibility matrix (SECURITY.md rule 24): for every kind of object we
publish in a discussion, at each level, which remote inboxes get a delivery row.

The remote people, each on its own inbox (no shared inbox, so every row names one person):
``orgf`` follows the organisation, ``grpf`` follows it and the discussion's group (as a followers
discussion requires), ``lapsed`` follows the group but no longer the organisation, ``pending``
asked to follow both and was not approved, ``author`` follows nothing and wrote the contribution
that a local resident replies to and agrees with."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from activities.vocabulary import PUBLIC_SPELLINGS
from federation.fanout import process_events
from federation.resolve import resolve_actor
from node.db import transaction
from node.models import Activity, Actor, Contribution, Delivery, Follow, FollowStates
from node.services import actors, community, contributions, discussions, proposals, spaces

PEOPLE = ("orgf", "grpf", "lapsed", "pending", "author")


@dataclass
class Published:
    """What the scene published: the ids of its objects, by kind."""

    org_id: int
    inboxes: dict[str, str]  # person -> inbox
    objects: dict[str, str]  # kind -> object id


async def _remote_people(node, remote) -> dict[str, object]:
    people = {}
    for name in PEOPLE:
        person = remote.add_actor(name)
        person.document.pop("endpoints")  # no shared inbox: a delivery row names one person
        people[name] = person
    return people


async def _follow(s, follower, followed, state: str, n: int) -> None:
    s.add(Follow(follower_id=follower.id, followed_id=followed.id, state=state,
                 ap_id=f"{follower.ap_id}/follows/{n}"))


async def publish_everything(node, remote, *, discussion_level: str = "public",
                             space_level: str | None = None) -> Published:
    """lyon's discussion at ``discussion_level`` (in a space at ``space_level``), the four remote
    people, and one of each thing published in it; then the fan-out runs (no delivery is sent)."""
    people = await _remote_people(node, remote)
    known = {name: await resolve_actor(node.rt, p.ap_id) for name, p in people.items()}
    uris = node.uris
    async with transaction(node.rt.sessions) as s:
        remote_actors = {name: await s.get(Actor, a.id) for name, a in known.items()}
        org = await actors.create_organization(s, uris, "lyon", "Ville de Lyon")
        user = await actors.create_user(s, uris, "amel", "password-123", "Amel")
        official = await actors.create_user(s, uris, "olga", "password-123", "Olga")
        await actors.add_member(s, user, org, "member")
        await actors.add_member(s, official, org, "official")
        amel = user.actor
        space = await spaces.create_space(s, org, "budget", "Budget", visibility=space_level) \
            if space_level else None
        d = await discussions.open_discussion(s, uris, org, "parc", {"fr": "Le parc"}, body="Texte",
                                              visibility=discussion_level, space=space)
        group = d.group
        await _follow(s, remote_actors["orgf"], org, FollowStates.accepted, 1)
        await _follow(s, remote_actors["grpf"], group, FollowStates.accepted, 2)
        await _follow(s, remote_actors["grpf"], org, FollowStates.accepted, 5)
        await _follow(s, remote_actors["lapsed"], group, FollowStates.accepted, 6)
        await _follow(s, remote_actors["pending"], org, FollowStates.pending, 3)
        await _follow(s, remote_actors["pending"], group, FollowStates.pending, 4)
        author = remote_actors["author"]
        theirs, _ = await contributions.receive_remote(
            s, d, author, ap_id=f"{author.ap_id}/statuses/1", content_html="<p>Un banc</p>",
            parent=None, published=None, url=None,
            activity={"id": f"{author.ap_id}/statuses/1/activity", "type": "Create",
                      "actor": author.ap_id, "object": f"{author.ap_id}/statuses/1",
                      "to": [group.ap_id]})
        reply = await contributions.contribute(s, uris, d, amel, "<p>Oui, à l’ombre</p>", parent=theirs)
        await contributions.agree(s, uris, theirs, amel)
        proposal = await proposals.create(s, uris, org, amel, "Des bancs", "<p>Plus de bancs</p>",
                                          discussion_id=d.id, publish=True, space=space)
        await proposals.write_answer(s, proposal, "<p>Oui</p>", user_id=official.id, state="accepted")
        await proposals.publish_answer(s, uris, proposal, by=org)
        article = await community.add_article(s, uris, d, amel, "Un article", body_html="<p>Texte</p>")
        initiative = await community.create_initiative(s, uris, d, amel, "Planter", "<p>Ensemble</p>")
        objects = {"discussion_page": d.page_ap_id, "contribution": reply.ap_id,
                   "remote_contribution": theirs.ap_id, "proposal": proposal.ap_id,
                   "official_answer": proposal.answer_ap_id, "article": article.ap_id,
                   "initiative": initiative.ap_id}
        inboxes = {name: a.inbox for name, a in remote_actors.items()}
        org_id = org.id
    while (await process_events(node.rt))[0]:
        pass
    return Published(org_id, inboxes, objects)


async def delivered(node, published: Published) -> dict[str, set[str]]:
    """kind -> the people with a delivery row of an activity carrying that kind's object."""
    who = {inbox: name for name, inbox in published.inboxes.items()}
    kinds = {ap_id: kind for kind, ap_id in published.objects.items()}
    found: dict[str, set[str]] = {kind: set() for kind in published.objects}
    async with node.rt.sessions() as s:
        rows = await s.execute(select(Activity.object_ap_id, Delivery.inbox)
                               .join(Delivery, Delivery.activity_id == Activity.id))
        for object_ap_id, inbox in rows:
            found[kinds[object_ap_id]].add(who[inbox])
    return found


async def activities(node) -> list[Activity]:
    async with node.rt.sessions() as s:
        return list(await s.scalars(select(Activity)))


def addressed_publicly(doc) -> bool:
    """Public anywhere in the document, its embedded activities and objects included."""
    if isinstance(doc, dict):
        return any(addressed_publicly(v) for v in doc.values())
    if isinstance(doc, list):
        return any(addressed_publicly(v) for v in doc)
    return doc in PUBLIC_SPELLINGS


# What reaches whom when anyone may read it: the organisation's followers hear of what the
# organisation and its residents publish in the discussion, the group's followers of everything
# in it, and the author of a contribution of the replies to it and the agreements with it.
OPEN = {
    "discussion_page": {"orgf", "grpf", "lapsed"},
    "contribution": {"grpf", "lapsed", "author"},
    "remote_contribution": {"grpf", "lapsed", "author"},
    "proposal": {"orgf", "grpf", "lapsed"},
    "official_answer": {"orgf", "grpf", "lapsed"},
    "article": {"orgf", "grpf", "lapsed"},
    "initiative": {"orgf", "grpf", "lapsed"},
}
# At followers level the same, less everyone who is not an approved follower of the organisation.
FOLLOWERS = {kind: people - {"author", "lapsed"} for kind, people in OPEN.items()}


@pytest.mark.parametrize(("level", "expected"), [("public", OPEN), ("unlisted", OPEN),
                                                  ("followers", FOLLOWERS)])
async def test_visibility_delivery__who_gets_a_delivery_row_per_kind(node, remote, level, expected):
    """The delivery column: per kind and level, exactly the expected people get a row; the
    pending follower never does; at followers level neither the non-follower author nor the group
    follower who no longer follows the organisation."""
    published = await publish_everything(node, remote, discussion_level=level)
    assert await delivered(node, published) == expected


async def test_visibility_delivery__members_produces_no_activity_and_no_delivery(node, remote):
    """A members discussion: nothing of it becomes an activity, nothing is delivered."""
    await publish_everything(node, remote, discussion_level="members")
    assert await activities(node) == []
    async with node.rt.sessions() as s:
        assert list(await s.scalars(select(Delivery.id))) == []


async def test_visibility_delivery__followers_level_is_never_public(node, remote):
    """At followers level no stored activity names Public anywhere (inner activities included),
    none is listed in an outbox, and each records its level, organisation and object."""
    published = await publish_everything(node, remote, discussion_level="followers")
    stored = await activities(node)
    assert stored and not [a.document["id"] for a in stored if addressed_publicly(a.document)]
    assert {(a.level, a.organization_id, a.public) for a in stored} == {
        ("followers", published.org_id, False)}
    assert all(a.object_ap_id in published.objects.values() for a in stored)


@pytest.mark.parametrize("level", ["public", "unlisted"])
async def test_visibility_delivery__open_levels_record_their_level(node, remote, level):
    """Public and unlisted activities record their level and organisation; Public is in ``to``
    only for public ones."""
    published = await publish_everything(node, remote, discussion_level=level)
    stored = await activities(node)
    assert {(a.level, a.organization_id) for a in stored} == {(level, published.org_id)}
    creates = [a.document for a in stored if a.type == "Create"]
    assert creates and all(("https://www.w3.org/ns/activitystreams#Public" in c["to"])
                           == (level == "public") for c in creates)


async def test_visibility_delivery__a_followers_space_makes_its_discussion_followers(node, remote):
    """A public discussion in a followers space is delivered as a followers one (it inherits)."""
    published = await publish_everything(node, remote, discussion_level="public",
                                         space_level="followers")
    assert await delivered(node, published) == FOLLOWERS
    assert not [a for a in await activities(node) if addressed_publicly(a.document)]


async def test_visibility_delivery__deleting_a_contribution_withdraws_its_create_and_announces(
        node, remote):
    """Item 5 of issue 8: the Create, the group's Announce{Create} and Announce{<id>} of a deleted
    contribution are withdrawn (out of the outbox); its Delete and Announce{Delete} go out."""
    published = await publish_everything(node, remote)
    note_id = published.objects["contribution"]
    async with transaction(node.rt.sessions) as s:
        c = await s.scalar(select(Contribution).where(Contribution.ap_id == note_id))
        await contributions.delete_contribution(s, c, federate=True)
    while (await process_events(node.rt))[0]:
        pass
    async with node.rt.sessions() as s:
        rows = list(await s.scalars(select(Activity).where(Activity.object_ap_id == note_id)
                                    .order_by(Activity.id)))
    before = [(a.type, a.withdrawn_at is not None, a.public) for a in rows if a.type != "Delete"
              and not (a.type == "Announce" and isinstance(a.document["object"], dict)
                       and a.document["object"]["type"] == "Delete")]
    assert sorted(before) == [("Announce", True, False), ("Announce", True, False),
                              ("Create", True, False)]
    after = [a for a in rows if a.withdrawn_at is None]
    assert sorted(a.type for a in after) == ["Announce", "Delete"]
