"""The visibility matrix (SECURITY.md rule 24, FEDERATION.md "Visibility levels"): every kind of
object we publish × the four levels × every kind of reader × every path (HTML page, AS2 GET,
listings and their counts) answers what node/visibility.py says — and a thing a reader may not
read answers byte for byte what a made-up id of the same kind gets.

One node per backend, built once for the module (the tests only read), holds the whole table:
for each level a space and a discussion at that level, and in them a contribution, an article, an
initiative, a proposal (in the space, and one in the discussion) with its official answer, and an
announcement of the organisation."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import select

from federation.signatures import sign_headers
from node import visibility as v
from node.db import transaction
from node.models import Activity, Discussion, utcnow
from node.services import (
    actors,
    community,
    contributions,
    dashboard,
    discussions,
    follows,
    notes,
    proposals,
    spaces,
)
from tests.conftest import start_node
from tests.dbs import backends, drop_pg_database, migrated_pg_database, migrated_sqlite
from tests.federation.participation_scene import make_activity, post
from tests.remote import RemoteHost
from tests.web.participation_helpers import PASSWORD, Client

pytestmark = pytest.mark.asyncio(loop_scope="module")

AS2 = "application/activity+json"
NOTE_LEVELS = (v.PUBLIC, v.UNLISTED, v.FOLLOWERS)  # an announcement is never members-only
# Local readers (HTML, with a session) and their standing in the organisation.
LOCAL = {"anonymous": v.NOBODY, "resident": v.NOBODY, "follower": v.Standing(follower=True),
         "member": v.Standing(member=True), "admin": v.Standing(staff=True, member=True)}
# Remote readers (AS2): unsigned, and signed fetches by an approved follower and by a stranger.
REMOTE = {"anonymous": v.NOBODY, "remote follower": v.Standing(follower=True), "remote stranger": v.NOBODY}


@dataclass
class World:
    """Where each object is: ``urls[(kind, level)]``; ``minted[level]`` the Create of its contribution."""

    urls: dict[tuple[str, str], str] = field(default_factory=dict)
    minted: dict[str, str] = field(default_factory=dict)
    group_of: dict[str, str] = field(default_factory=dict)
    follower: object = None
    stranger: object = None


def mark(kind: str, level: str) -> str:
    return f"{kind}-{level}-mark"


async def build(node, remote) -> World:
    world = World()
    uris = node.uris
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.create_organization(s, uris, "lyon", "Ville de Lyon")
        users = {}
        for handle, role in (("maire", "admin"), ("marie", "member"), ("camille", None), ("suivi", None)):
            users[handle] = await actors.create_user(s, uris, handle, PASSWORD, handle.title())
            if role:
                await actors.add_member(s, users[handle], lyon, role)
        await follows.request_follow(s, uris, users["suivi"].actor, lyon)
        maire = users["maire"].actor
        for level in v.LEVELS:
            space = await spaces.create_space(s, lyon, f"s-{level}", mark("space", level), visibility=level)
            d = await discussions.open_discussion(s, uris, lyon, f"d-{level}", mark("discussion", level),
                                                  visibility=level)
            c = await contributions.contribute(s, uris, d, maire, f"<p>{mark('contribution', level)}</p>")
            article = await community.add_article(s, uris, d, maire, mark("article", level),
                                                  body_html="<p>Texte</p>")
            initiative = await community.create_initiative(s, uris, d, maire, mark("initiative", level),
                                                           "<p>Texte</p>")
            in_space = await proposals.create(s, uris, lyon, maire, mark("proposal", level), "<p>Texte</p>",
                                              space=space, publish=True)
            in_discussion = await proposals.create(s, uris, lyon, maire, mark("dproposal", level),
                                                   "<p>Texte</p>", discussion_id=d.id, publish=True)
            await proposals.write_answer(s, in_space, f"<p>{mark('answer', level)}</p>",
                                         user_id=users["maire"].id)
            await proposals.publish_answer(s, uris, in_space, by=maire)
            world.urls.update({
                ("discussion", level): d.page_ap_id, ("contribution", level): c.ap_id,
                ("contribution page", level): f"{d.page_ap_id}/contributions/{c.id}",
                ("article", level): article.ap_id,
                ("article page", level): uris.discussion_article("lyon", d.slug, uris.token_of(article.ap_id)),
                ("initiative", level): initiative.ap_id, ("proposal", level): in_space.ap_id,
                ("dproposal", level): in_discussion.ap_id, ("answer", level): in_space.answer_ap_id,
                ("group", level): d.group.ap_id, ("outbox", level): f"{d.group.ap_id}/outbox",
                ("followers", level): f"{d.group.ap_id}/followers",
            })
            world.group_of[level] = d.group.ap_id
            if level in NOTE_LEVELS:
                note = await notes.publish_announcement(s, uris, lyon, f"<p>{mark('note', level)}</p>",
                                                        visibility=level)
                world.urls[("note", level)] = note.ap_id
        lyon_inbox = lyon.inbox
    world.follower, world.stranger = remote.add_actor("fidele"), remote.add_actor("inconnu")
    await post(node, remote, lyon_inbox, make_activity(world.follower, "Follow", 1, lyon.ap_id), world.follower)
    await node.step()
    async with node.rt.sessions() as s:
        for level in v.LEVELS:
            world.minted[level] = await s.scalar(select(Activity.ap_id).where(
                Activity.type == "Create", Activity.object_ap_id == world.urls[("contribution", level)]))
    return world


# What a made-up id of each kind is (the same route, nothing behind it).
def made_up(base: str) -> dict[str, str]:
    page = f"{base}/orgs/lyon/discussions/made-up"
    return {"discussion": page, "contribution": f"{base}/contributions/madeup",
            "contribution page": f"{page}/contributions/999999", "article": f"{base}/articles/madeup",
            "article page": f"{page}/articles/madeup", "initiative": f"{base}/initiatives/madeup",
            "proposal": f"{base}/proposals/madeup", "dproposal": f"{base}/proposals/madeup",
            "answer": f"{base}/proposals/madeup/answer", "note": f"{base}/notes/madeup",
            "group": f"{base}/actors/lyon.made-up", "outbox": f"{base}/actors/lyon.made-up/outbox",
            "followers": f"{base}/actors/lyon.made-up/followers", "activity": f"{base}/activities/madeup"}


async def fetch(client: Client, url: str, **headers: str) -> tuple[int, str, str]:
    """(status, Content-Type, body): the path asked for, which an error page offers as the
    log-in form's ``next``, reads ``{path}`` so that two answers compare byte for byte."""
    reply = await client.get(url, **headers)
    kind = reply.headers.get("Content-Type", "")
    body = reply.text
    if kind.startswith("text/html"):
        path = client.path(url)
        body = body.replace(path, "{path}").replace(path.split("?")[0], "{path}")
    return reply.status, kind, body


async def signed(url: str, actor) -> tuple[int, str, str]:
    """A GET signed by a remote actor (authorized fetch), or unsigned for None."""
    headers = {"Accept": AS2}
    if actor is not None:
        headers = {**sign_headers("GET", url, None, actor.key_id, actor.private_pem), **headers}
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=headers, allow_redirects=False) as response:
            return response.status, response.headers.get("Content-Type", ""), await response.text()


@dataclass
class Scene:
    node: object
    world: World
    readers: dict[str, Client]  # the local readers, signed in


@pytest.fixture(scope="module", params=backends())
def backend(request) -> str:
    return request.param


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scene(backend, tmp_path_factory):
    """The node with the whole table, its remote readers' host, and the local readers signed in."""
    directory = tmp_path_factory.mktemp(f"matrix-{backend}")
    url = await (migrated_pg_database() if backend == "postgresql" else migrated_sqlite(directory))
    node, runner = await start_node(url, directory)
    remote = await RemoteHost().start()
    readers = {}
    try:
        world = await build(node, remote)
        readers["anonymous"] = Client(node.base)
        for name, handle in (("resident", "camille"), ("follower", "suivi"), ("member", "marie"),
                             ("admin", "maire")):
            readers[name] = Client(node.base)
            await readers[name].login(handle)
        yield Scene(node, world, readers)
    finally:
        for client in readers.values():
            await client.close()
        await remote.stop()
        await runner.cleanup()
        if backend == "postgresql":
            await drop_pg_database(url)


HTML_KINDS = {  # kind -> status when readable (negotiated ids redirect people to the page)
    "discussion": 200, "contribution page": 200, "article page": 200, "proposal": 200, "dproposal": 200,
    "note": 200, "contribution": 302, "article": 302, "initiative": 302, "answer": 302, "group": 302,
}


async def test_visibility_matrix__html_pages(scene):
    """Every object's HTML page × level × local reader: shown (200, or 302 to the page showing it)
    exactly when its level admits the reader's standing, else the 404 of a made-up id."""
    node, world, readers = scene.node, scene.world, scene.readers
    absent = made_up(node.base)
    wrong = []
    for name, client in readers.items():
        missing = {kind: await fetch(client, absent[kind]) for kind in HTML_KINDS}
        for (kind, level), url in world.urls.items():
            if kind not in HTML_KINDS:
                continue
            got = await fetch(client, url)
            if v.admits(level, LOCAL[name]):
                ok = got[0] == HTML_KINDS[kind] and (got[0] != 200 or mark(kind.split()[0], level) in got[2])
            else:
                ok = got == missing[kind] and got[0] == 404
            if not ok:
                wrong.append((name, kind, level, got[0]))
    assert not wrong, wrong


AS2_KINDS = ("discussion", "contribution", "article", "initiative", "proposal", "dproposal", "answer",
             "note", "group", "outbox", "followers")


async def test_visibility_matrix__as2_documents(scene):
    """Every object's AS2 document, the Group with its outbox and followers, and the activity
    that carried the contribution × level × remote reader: 200 exactly when the level federates
    and admits the reader (followers: a signed fetch by an approved follower only), else the 404
    of a made-up id, byte for byte. Members-level things leave no activity at all."""
    node, world = scene.node, scene.world
    readers = {"anonymous": None, "remote follower": world.follower, "remote stranger": world.stranger}
    absent = made_up(node.base)
    assert world.minted[v.MEMBERS] is None
    urls = {**{key: url for key, url in world.urls.items() if key[0] in AS2_KINDS},
            **{("activity", level): ap_id for level, ap_id in world.minted.items() if ap_id}}
    wrong = []
    for name, actor in readers.items():
        missing = {kind: await signed(absent[kind], actor) for kind in (*AS2_KINDS, "activity")}
        for (kind, level), url in urls.items():
            got = await signed(url, actor)
            if v.federates(level) and v.admits(level, REMOTE[name]):
                ok = got[0] == 200 and json.loads(got[2]).get("id", "").split("?")[0] == url
            else:
                ok = got == missing[kind] and got[0] == 404
            if not ok:
                wrong.append((name, kind, level, got[0]))
    assert not wrong, wrong


NEW_COMMENTS = re.compile(r'New comments</dt><dd><span class="number">(\d+)')
OPEN_OFFICIAL = re.compile(r'Open official discussions</dt><dd><span class="number">(\d+)')
COUNT = re.compile(r'class="result-count" role="status">(\d+) proposals?')


async def test_visibility_matrix__listings_and_counts(scene):
    """The organisation page (discussions, announcements, dashboard figures), the proposal index
    (and its count) for each local reader, and the organisation's and groups' outboxes (items
    and totalItems) for each remote reader, list and count exactly what the level lists to them:
    unlisted things to staff only."""
    node, world = scene.node, scene.world
    wrong = []
    for name, client in scene.readers.items():
        who = LOCAL[name]
        listed = [level for level in v.LEVELS if v.lists(level, who)]
        org_page = (await client.get("/actors/lyon", **{"Accept-Language": "en"})).text
        index = (await client.get("/orgs/lyon/proposals", **{"Accept-Language": "en"})).text
        for level in v.LEVELS:
            expected = level in listed
            for kind, text in (("discussion", org_page), ("proposal", index), ("dproposal", index)):
                if (mark(kind, level) in text) != expected:
                    wrong.append((name, kind, level, "listed" if not expected else "missing"))
            if level in NOTE_LEVELS and (mark("note", level) in org_page) != expected:
                wrong.append((name, "note", level, "listed" if not expected else "missing"))
        figures = (NEW_COMMENTS.search(org_page), OPEN_OFFICIAL.search(org_page), COUNT.search(index))
        if [int(m.group(1)) if m else None for m in figures] != [len(listed), len(listed), 2 * len(listed)]:
            wrong.append((name, "counts", [m.group(1) if m else None for m in figures], len(listed)))
    for name, actor in (("anonymous", None), ("remote follower", world.follower), ("remote stranger", world.stranger)):
        who = REMOTE[name]
        status, _, body = await signed(f"{node.base}/actors/lyon/outbox?page=1", actor)
        page = json.loads(body)
        items = {item["id"] for item in page["orderedItems"]}
        for level in NOTE_LEVELS:
            if (f"{world.urls[('note', level)]}/activity" in items) != v.lists(level, who):
                wrong.append((name, "organisation outbox", level))
        if page["totalItems"] != len(items):
            wrong.append((name, "organisation outbox count", page["totalItems"], len(items)))
        for level in v.LEVELS:
            status, _, body = await signed(f"{world.group_of[level]}/outbox?page=1", actor)
            if not (v.federates(level) and v.admits(level, who)):
                if status != 404:
                    wrong.append((name, "group outbox", level, status))
                continue
            page = json.loads(body)
            announced = {item["object"]["id"] for item in page["orderedItems"] if isinstance(item["object"], dict)}
            if (world.minted[level] in announced) != v.lists(level, who) or page["totalItems"] != len(page["orderedItems"]):
                wrong.append((name, "group outbox", level, sorted(announced), page["totalItems"]))
    assert not wrong, wrong


async def test_visibility_matrix__dashboard_counts_only_what_is_listed(scene):
    """The dashboard's figures for each standing count the contributions, discussions and
    answers of the levels listed to it, and nothing else."""
    async with scene.node.rt.sessions() as s:
        lyon = await actors.require_local_actor(s, "lyon")
        for name, who in LOCAL.items():
            listed = v.listed_levels(who)
            board = await dashboard.dashboard(s, lyon.id, utcnow().date(), levels=listed)
            got = (board.new_comments.value, board.open_official_discussions, board.official_answers.value)
            assert got == (len(listed), len(listed), len(listed)), (name, got)
        assert await s.scalar(select(Discussion.id).where(Discussion.slug == "d-members")) is not None
