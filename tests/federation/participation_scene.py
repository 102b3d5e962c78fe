"""A discussion on a test node and real Mastodon/Lemmy captures aimed at it (participation tests).

Inbound documents are the captures of tests/fixtures/remote/, their ids moved to the test's remote
host and pointed at our discussion.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from node.db import transaction
from node.models import Contribution, Discussion, InboxActivity
from node.services import actors, contributions, discussions

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = f"{AS}#Public"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "remote"


@dataclass(frozen=True)
class Scene:
    """lyon's discussion clos-jouve, its Group and Page, and a local participant, amel."""

    discussion_id: int
    org: str
    group: str
    group_inbox: str
    page: str
    amel: str


async def open_scene(node, **options) -> Scene:
    """Organisation lyon, resident amel, and lyon's discussion clos-jouve (``options`` for it)."""
    async with transaction(node.rt.sessions) as s:
        org = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        amel = (await actors.create_user(s, node.uris, "amel", "password-123", "Amel")).actor
        d = await discussions.open_discussion(
            s, node.uris, org, "clos-jouve", {"fr": "Clos Jouve", "en": "Clos Jouve square"},
            summary="Un espace public ouvert", body="Que faire du Clos Jouve ?", **options)
        return Scene(d.id, org.ap_id, d.group.ap_id, d.group.inbox, d.page_ap_id, amel.ap_id)


def capture(path: str, moves: dict[str, str]) -> dict:
    """A captured document with its ids moved (``{old: new}``, replaced in order)."""
    text = (FIXTURES / path).read_text(encoding="utf-8")
    for old, new in moves.items():
        text = text.replace(old, new)
    return json.loads(text)


def mastodon_reply(alice, n: int, in_reply_to: str, cc: str) -> dict:
    """Mastodon's Create(Note) replying to a status, from alice, replying to ``in_reply_to``."""
    return capture("mastodon/activities/create_note.json", {
        "https://mamot.fr/users/retiolus/statuses/107224244380204526": in_reply_to,
        "https://mamot.fr/users/retiolus": cc,
        "https://mastodon.madrid/users/felix/statuses/107224289116410645": f"{alice.ap_id}/statuses/{n}",
        "https://mastodon.madrid/users/felix": alice.ap_id,
        "https://mastodon.madrid/@felix/107224289116410645": f"{alice.ap_id}/statuses/{n}",
    })


def lemmy_comment(bob, n: int, in_reply_to: str | None, group: str) -> dict:
    """Lemmy's Create(Note) of a comment in a community (FEP-1b12 ``audience``), from bob."""
    doc = capture("lemmy/activities/create_or_update/create_comment.json", {
        "https://enterprise.lemmy.ml/c/main": group, "http://enterprise.lemmy.ml/c/main": group,
        "http://ds9.lemmy.ml/post/1": in_reply_to or "",
        "http://ds9.lemmy.ml/comment/1": f"{bob.ap_id}/comment/{n}",
        "1e77d67c-44ac-45ed-bf2a-460e21f60236": f"comment-{n}",
        "http://ds9.lemmy.ml/u/lemmy_alpha": bob.ap_id,
        "http://ds9.lemmy.ml": bob.ap_id.rsplit("/users/", 1)[0],
    })
    if in_reply_to is None:
        del doc["object"]["inReplyTo"]
    return doc


def mastodon_like(actor, n: int, target: str) -> dict:
    """Mastodon's Like (a favourite) of ``target``."""
    return capture("mastodon/activities/like_page.json", {
        "https://ds9.lemmy.ml/post/147": target, "#likes/212340": f"#likes/{n}",
        "https://mastodon.madrid/users/felix": actor.ap_id})


def mastodon_undo_like(actor, n: int, target: str) -> dict:
    """Mastodon's Undo(Like), the Like embedded with its id."""
    return capture("mastodon/activities/undo_like_page.json", {
        "https://ds9.lemmy.ml/post/147": target, "#likes/212341": f"#likes/{n}",
        "https://mastodon.madrid/users/felix": actor.ap_id})


def make_activity(actor, kind: str, n: int, obj, **extra) -> dict:
    return {"@context": AS, "id": f"{actor.ap_id}/{kind.lower()}s/{n}", "type": kind,
            "actor": actor.ap_id, "object": obj, **extra}


async def post(node, remote, inbox: str, doc: dict, actor) -> None:
    status, body = await remote.post(inbox, doc, actor)
    assert status == 202, body
    await node.step()


async def outcome_of(node, activity_id: str) -> tuple[str, str]:
    async with node.rt.sessions() as s:
        row = await s.scalar(select(InboxActivity).where(InboxActivity.ap_id == activity_id))
    return row.state, row.error


async def stored_contribution(node, ap_id: str) -> Contribution | None:
    async with node.rt.sessions() as s:
        return await s.scalar(select(Contribution).where(Contribution.ap_id == ap_id))


async def thread_of(node, scene: Scene) -> list[tuple[str, list[str]]]:
    """(author, [reply authors]) of each top-level contribution, newest first."""
    async with node.rt.sessions() as s:
        items = await contributions.thread(s, await s.get(Discussion, scene.discussion_id))
        return [(i.contribution.author.ap_id, [r.contribution.author.ap_id for r in i.replies])
                for i in items]


async def follow_group(node, remote, scene: Scene, actor, n: int = 1) -> None:
    await post(node, remote, scene.group_inbox, make_activity(actor, "Follow", n, scene.group), actor)


async def contribute(node, scene: Scene, text: str = "<p>Un jardin partagé</p>") -> str:
    async with transaction(node.rt.sessions) as s:
        author = await actors.require_local_actor(s, "amel")
        c = await contributions.contribute(s, node.uris, await s.get(Discussion, scene.discussion_id),
                                           author, text)
        return c.ap_id


def received(remote, kind: str, actor: str) -> list[dict]:
    return [d for d in remote.received if d["type"] == kind and d["actor"] == actor]
