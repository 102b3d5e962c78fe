"""FEP-1b12 moderators of a discussion: its Group's ``moderators`` collection lists the organisation
and the people holding its admin or moderator role; a change reaches the group's followers as a
signed ``Add``/``Remove`` (as Lemmy does for a community), and `civic org member` makes it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from civic.cli import main
from federation.signatures import verify_request
from node.db import transaction
from node.errors import Conflict, InvalidInput, NotFound
from node.models import Membership, OutboxEvent
from node.services import actors
from tests.federation.participation_scene import PUBLIC, follow_group, open_scene
from tests.node.test_cli import initialised  # noqa: F401 (a fixture)
from tests.remote import RemoteHost

AS = "application/activity+json"


@dataclass
class SigningRemote(RemoteHost):
    """The loopback remote host, also keeping each inbox POST's headers, to check signatures."""

    posts: list[tuple[str, dict, bytes]] = field(default_factory=list)

    async def _inbox(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.posts.append((f"{self.base}{request.path}", dict(request.headers), body))
        self.received.append(json.loads(body))
        return web.Response(status=202)


@pytest.fixture
async def signing_remote():
    host = await SigningRemote(host="127.0.0.1").start()
    yield host
    await host.stop()


async def _people(node, *names_roles: tuple[str, str | None]) -> dict:
    """lyon's users with their role in lyon (None: a resident); returns {name: actor id}."""
    ids = {}
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.require_local_actor(s, "lyon")
        for name, role in names_roles:
            user = await actors.create_user(s, node.uris, name, "password-123", name.title())
            if role:
                await actors.add_member(s, user, lyon, role)
            ids[name] = user.actor.ap_id
    return ids


async def _get_as(url: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.get(url, headers={"Accept": AS}) as response:
        return response.status, (await response.json(content_type=None) if response.status == 200 else {})


async def test_collection__lists_the_organisation_and_its_moderators_only(node):
    """Admins and moderators are listed after the organisation; officials, ambassadors, residents,
    and another organisation's moderator are not."""
    scene = await open_scene(node)
    people = await _people(node, ("alice", "admin"), ("modo", "moderator"), ("olga", "official"),
                           ("ambre", "ambassador"), ("rita", None))
    async with transaction(node.rt.sessions) as s:
        paris = await actors.create_organization(s, node.uris, "paris", "Ville de Paris")
        await actors.add_member(s, await actors.user_by_username(s, "rita"), paris, "moderator")
    status, doc = await _get_as(f"{scene.group}/moderators")
    assert status == 200
    assert doc["id"] == f"{scene.group}/moderators" and doc["type"] == "OrderedCollection"
    assert doc["orderedItems"] == [scene.org, people["alice"], people["modo"]]
    assert doc["totalItems"] == 3


async def test_add_remove__a_follower_receives_signed_add_then_remove(node, signing_remote):
    """Becoming a moderator sends the group's followers a signed, public Add{person, target: the
    moderators collection}, which answers at its id; taking the role away sends Remove. Roles that do
    not moderate, and a second moderating role, send nothing."""
    remote = signing_remote
    scene = await open_scene(node)
    alice = remote.add_actor("alice")
    await follow_group(node, remote, scene, alice)
    people = await _people(node, ("modo", "moderator"), ("olga", "official"))
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.require_local_actor(s, "lyon")
        await actors.add_member(s, await actors.user_by_username(s, "modo"), lyon, "admin")  # still one
        group = await actors.require_local_actor(s, "lyon.clos-jouve")
        group_key = (group.ap_id, group.public_key_pem, group.key_id)
    await node.step()
    changes = [d for d in remote.received if d["type"] in ("Add", "Remove")]
    assert [(d["type"], d["actor"], d["object"], d["target"]) for d in changes] == [
        ("Add", scene.group, people["modo"], f"{scene.group}/moderators")]
    [add] = changes
    assert add["to"] == [PUBLIC] and scene.group in add["cc"] and add["audience"] == scene.group

    async def group_key_of(key_id):
        return group_key[:2] if key_id == group_key[2] else None

    [(url, headers, body)] = [p for p in remote.posts if json.loads(p[2])["id"] == add["id"]]
    signer = await verify_request("POST", url, headers, body, group_key_of)
    assert signer.owner == scene.group
    status, served = await _get_as(add["id"])
    assert status == 200 and served["type"] == "Add" and served["object"] == people["modo"]

    async with transaction(node.rt.sessions) as s:
        lyon = await actors.require_local_actor(s, "lyon")
        modo = await actors.user_by_username(s, "modo")
        await actors.remove_member(s, modo, lyon, "moderator")  # still admin: nothing changes yet
    await node.step()
    assert [d["type"] for d in remote.received if d["type"] in ("Add", "Remove")] == ["Add"]
    async with transaction(node.rt.sessions) as s:
        await actors.add_member(s, await actors.user_by_username(s, "olga"), lyon, "admin")
        await actors.remove_member(s, modo, lyon, "admin")
    await node.step()
    changes = [d for d in remote.received if d["type"] in ("Add", "Remove")]
    assert [(d["type"], d["object"]) for d in changes] == [
        ("Add", people["modo"]), ("Add", people["olga"]), ("Remove", people["modo"])]
    remove = changes[-1]
    assert remove["actor"] == scene.group and remove["target"] == f"{scene.group}/moderators"
    [(url, headers, body)] = [p for p in remote.posts if json.loads(p[2])["id"] == remove["id"]]
    assert (await verify_request("POST", url, headers, body, group_key_of)).owner == scene.group
    status, doc = await _get_as(f"{scene.group}/moderators")
    assert doc["orderedItems"] == [scene.org, people["olga"]]


async def test_remove_member__refuses_the_last_admin_unknown_roles_and_missing_memberships(node):
    await open_scene(node)
    await _people(node, ("alice", "admin"), ("rita", None))
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.require_local_actor(s, "lyon")
        alice, rita = await actors.user_by_username(s, "alice"), await actors.user_by_username(s, "rita")
        events = await s.scalar(select(func.count()).select_from(OutboxEvent))
    for user, role, error in ((alice, "admin", Conflict), (alice, "wizard", InvalidInput),
                              (rita, "moderator", NotFound)):
        with pytest.raises(error):
            async with transaction(node.rt.sessions) as s:
                await actors.remove_member(s, await s.merge(user), await s.merge(lyon), role)
    async with node.rt.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Membership)) == 1
        assert await s.scalar(select(func.count()).select_from(OutboxEvent)) == events


def test_cli__org_member_add_remove_and_clean_refusals(initialised, capsys):  # noqa: F811
    """`civic org member add|remove ORG USER ROLE`; the last admin's removal, an unknown role,
    organisation, user or membership: a message and exit 1, no traceback."""
    data = ["--data-dir", str(initialised)]
    assert main(["org", "create", "lyon", "--name", "Ville de Lyon", *data]) == 0
    for handle in ("alice", "modo"):
        assert main(["user", "create", handle, "--password", "password-123", *data]) == 0
    capsys.readouterr()
    assert main(["org", "member", "add", "lyon", "alice", "admin", *data]) == 0
    assert main(["org", "member", "add", "lyon", "modo", "moderator", *data]) == 0
    assert "@modo is now moderator of @lyon." in capsys.readouterr().out
    assert main(["org", "member", "remove", "lyon", "modo", "moderator", *data]) == 0
    assert "@modo is no longer moderator of @lyon." in capsys.readouterr().out
    for argv, message in (
        (["remove", "lyon", "alice", "admin"], "last admin of @lyon"),
        (["add", "lyon", "modo", "wizard"], "unknown role 'wizard'"),
        (["add", "nowhere", "modo", "admin"], "no organisation with the handle 'nowhere'"),
        (["add", "lyon", "nobody", "admin"], "no user with the handle 'nobody'"),
        (["remove", "lyon", "modo", "moderator"], "@modo is not moderator of @lyon"),
    ):
        assert main(["org", "member", *argv, *data]) == 1
        captured = capsys.readouterr()
        assert message in captured.err and "Traceback" not in captured.err + captured.out
