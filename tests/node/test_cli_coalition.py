"""`civic coalition …` membership commands: what each command stores and queues for federation,
what it prints (text, --json), and refusals that are one message and a non-zero exit — never a
traceback — with nothing half-written. Remote organisations and coalitions are real actor documents
served on loopback (tests/remote.py), fetched and stored by the commands that reach out to them.
Campaigns, variants and the report: test_cli_coalition_campaign.py."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from civic.commands.coalition import text_maps
from node.errors import InvalidInput
from node.models import (
    Actor,
    Campaign,
    Coalition,
    CoalitionMember,
    OutboxEvent,
)
from node.services import actors, campaigns, coalitions
from tests.node.cli_run import civic, civic_in_thread, db, with_db
from tests.node.coalition_cli import (  # noqa: F401 (fixtures)
    BASE,
    count,
    node_dir_fixture,
    states,
)
from tests.remote import RemoteHost

CIVIC = str(Path(sys.executable).parent / "civic")


# -- the coalition and its members, on the home ---------------------------------------------------

def test_cli_coalition__create_list_and_members_json(node_dir, database_url, capsys):
    """create stores the Group, its languages and the founder as accepted admin; list and
    members --json say so."""
    code, out, _ = civic(capsys, node_dir, "coalition", "list")
    assert code == 0
    [line] = out.splitlines()
    handle, name, languages, level, members, ap_id = line.split("\t")
    assert (handle, name, languages, level, members) == ("blue", "Blue Coalition", "fr,de", "public", "1 member(s)")
    assert ap_id == f"{BASE}/actors/blue"
    code, out, _ = civic(capsys, node_dir, "coalition", "members", "blue", "--json")
    assert code == 0
    [founder] = json.loads(out)
    assert {k: founder[k] for k in ("address", "id", "role", "state", "local")} == {
        "address": "@surfrider", "id": f"{BASE}/actors/surfrider", "role": "admin", "state": "accepted",
        "local": True}
    assert db(database_url, lambda s: s.scalar(select(Coalition.languages))) == ["fr", "de"]
    code, out, _ = civic(capsys, node_dir, "coalition", "create", "quiet", "--name", "Quiet", "--org", "ngo",
                         "--visibility", "members")
    assert code == 0 and f"{BASE}/actors/quiet" in out
    assert db(database_url, lambda s: s.scalar(select(Coalition.visibility).join(
        Actor, Actor.id == Coalition.actor_id).where(Actor.username == "quiet"))) == "members"


def test_cli_coalition__invite_then_accept_or_decline(node_dir, database_url, capsys):
    """A local organisation invited waits in state invited; it accepts (member) or declines
    (gone); its memberships list the coalition. Nothing federates between local organisations."""
    assert civic(capsys, node_dir, "coalition", "invite", "blue", "lyon")[0] == 0
    assert civic(capsys, node_dir, "coalition", "invite", "blue", "@ngo", "--role", "admin")[0] == 0
    code, out, _ = civic(capsys, node_dir, "coalition", "members", "blue")
    rows = {line.split("\t")[0]: line.split("\t")[2:4] for line in out.splitlines()}
    assert code == 0 and rows == {"@surfrider": ["admin", "accepted"], "@lyon": ["member", "invited"],
                                  "@ngo": ["admin", "invited"]}
    code, out, _ = civic(capsys, node_dir, "coalition", "memberships", "lyon")
    assert code == 0 and out.split("\t")[:4] == ["@blue", "Blue Coalition", "member", "invited"]
    code, out, _ = civic(capsys, node_dir, "coalition", "answer", "lyon", "blue", "accept")
    assert code == 0 and "is a member of @blue" in out
    code, out, _ = civic(capsys, node_dir, "coalition", "answer", "ngo", f"{BASE}/actors/blue", "decline")
    assert code == 0 and "declined" in out
    assert states(database_url) == {"surfrider": ("admin", "accepted"), "lyon": ("member", "accepted")}
    code, out, _ = civic(capsys, node_dir, "coalition", "invite", "blue", "lyon")
    assert code == 0 and "already in @blue (accepted)" in out
    assert count(database_url, OutboxEvent, OutboxEvent.kind.like("coalition.%")) == 0


def test_cli_coalition__join_requests_accepted_or_refused(node_dir, database_url, capsys):
    """join asks (requested); the home's admins accept one request and refuse the other; a
    request answered is not waiting any more."""
    code, out, _ = civic(capsys, node_dir, "coalition", "join", "lyon", "blue")
    assert code == 0 and "asked to join @blue" in out
    assert civic(capsys, node_dir, "coalition", "join", "ngo", "@blue")[0] == 0
    code, out, _ = civic(capsys, node_dir, "coalition", "members", "blue", "--json")
    assert {e["address"]: e["state"] for e in json.loads(out)} == {
        "@surfrider": "accepted", "@lyon": "requested", "@ngo": "requested"}
    code, out, _ = civic(capsys, node_dir, "coalition", "accept", "blue", "lyon")
    assert code == 0 and out.strip() == "@lyon is now a member of @blue."
    code, out, _ = civic(capsys, node_dir, "coalition", "refuse", "blue", "ngo")
    assert code == 0 and "Refused the request of @ngo" in out
    assert states(database_url) == {"surfrider": ("admin", "accepted"), "lyon": ("member", "accepted")}
    code, _, err = civic(capsys, node_dir, "coalition", "accept", "blue", "ngo")
    assert code == 1 and "@ngo has not asked to join @blue" in err
    code, _, err = civic(capsys, node_dir, "coalition", "refuse", "blue", "lyon")
    assert code == 1 and "@lyon has not asked to join @blue" in err
    code, out, _ = civic(capsys, node_dir, "coalition", "invite", "blue", "ngo")
    assert code == 0
    code, out, _ = civic(capsys, node_dir, "coalition", "join", "ngo", "blue")  # invited, then asks: in
    assert code == 0 and "@ngo is a member of @blue" in out


def test_cli_coalition__the_last_admin_cannot_leave_be_removed_or_demoted(node_dir, database_url, capsys):
    """Each refusal is exit 1 with the reason and changes nothing; with a second admin, the first
    can step down and leave; remove takes a member away."""
    assert civic(capsys, node_dir, "coalition", "invite", "blue", "lyon")[0] == 0
    assert civic(capsys, node_dir, "coalition", "answer", "lyon", "blue", "accept")[0] == 0
    for args in (("leave", "surfrider", "blue"), ("remove", "blue", "surfrider"),
                 ("role", "blue", "surfrider", "member")):
        code, out, err = civic(capsys, node_dir, "coalition", *args)
        assert code == 1 and out == "" and err.strip() == f"civic: error: {coalitions.LAST_ADMIN}"
        assert states(database_url)["surfrider"] == ("admin", "accepted")
    code, out, _ = civic(capsys, node_dir, "coalition", "role", "blue", "lyon", "admin")
    assert code == 0 and out.strip() == "@lyon is now admin of @blue."
    assert civic(capsys, node_dir, "coalition", "role", "blue", "surfrider", "member")[0] == 0
    code, out, _ = civic(capsys, node_dir, "coalition", "leave", "surfrider", "blue")
    assert code == 0 and "@surfrider left @blue" in out
    assert civic(capsys, node_dir, "coalition", "invite", "blue", "ngo")[0] == 0
    assert civic(capsys, node_dir, "coalition", "answer", "ngo", "blue", "accept")[0] == 0
    code, out, _ = civic(capsys, node_dir, "coalition", "remove", "blue", "ngo")
    assert code == 0 and "@ngo is no longer in @blue" in out
    assert states(database_url) == {"lyon": ("admin", "accepted")}
    code, _, err = civic(capsys, node_dir, "coalition", "remove", "blue", "lyon")
    assert code == 1 and coalitions.LAST_ADMIN in err


def test_cli_coalition__invite_from_a_previous_coalition(node_dir, database_url, capsys):
    """On Vote after Vote Anyway: the previous coalition's accepted members who are not in the
    new one are invited; one already in is left alone, one only invited there is not invited."""
    assert civic(capsys, node_dir, "coalition", "create", "vote", "--name", "Vote Anyway", "--org", "lyon")[0] == 0
    assert civic(capsys, node_dir, "coalition", "invite", "vote", "ngo")[0] == 0
    assert civic(capsys, node_dir, "coalition", "answer", "ngo", "vote", "accept")[0] == 0
    assert civic(capsys, node_dir, "coalition", "invite", "vote", "surfrider")[0] == 0  # not accepted there
    assert civic(capsys, node_dir, "coalition", "create", "onvote", "--name", "On Vote", "--org", "ngo")[0] == 0
    code, out, _ = civic(capsys, node_dir, "coalition", "invite", "onvote", "--from", "vote")
    assert code == 0
    assert out.splitlines() == ["@lyon\tinvited", "Invited 1 member(s) of @vote to @onvote."]
    assert states(database_url, "onvote") == {"ngo": ("admin", "accepted"), "lyon": ("member", "invited")}
    code, _, err = civic(capsys, node_dir, "coalition", "invite", "onvote", "--from", "onvote")
    assert code == 1 and "choose another coalition" in err
    code, _, err = civic(capsys, node_dir, "coalition", "invite", "onvote", "lyon", "--from", "vote")
    assert code == 1 and "not both" in err
    code, _, err = civic(capsys, node_dir, "coalition", "invite", "onvote", "--from", "lyon")
    assert code == 1 and "no coalition with the handle 'lyon'" in err


@pytest.mark.parametrize("args, message", [
    (("members", "nowhere"), "no coalition with the handle 'nowhere' on this node"),
    (("members", "lyon"), "no coalition with the handle 'lyon' on this node"),
    (("report", "nowhere"), "no coalition with the handle 'nowhere'"),
    (("invite", "nowhere", "lyon"), "no coalition with the handle 'nowhere'"),
    (("invite", "blue", "camille"), coalitions.NOT_AN_ORGANISATION),
    (("invite", "blue", "nobody"), "no organisation known as 'nobody' on this node"),
    (("invite", "blue"), "invite one organisation (ORG_ADDRESS) or a coalition's members (--from)"),
    (("accept", "blue", "https://elsewhere.example/actors/x"), "no organisation known as"),
    (("role", "blue", "ngo", "admin"), "this organisation is not a member of the coalition"),
    (("remove", "blue", "ngo"), "this organisation is not in the coalition"),
    (("join", "camille", "blue"), "no organisation with the handle 'camille'"),
    (("join", "lyon", "ngo"), "@ngo is not a coalition"),
    (("join", "lyon", "nowhere"), "no coalition known as 'nowhere'"),
    (("answer", "lyon", "blue", "accept"), "there is no invitation waiting from this coalition"),
    (("leave", "lyon", "blue"), "this organisation is not in the coalition"),
    (("memberships", "camille"), "no organisation with the handle 'camille'"),
    (("create", "red", "--name", "Red", "--org", "camille"), "no organisation with the handle 'camille'"),
    (("create", "lyon", "--name", "Taken", "--org", "lyon"), "the handle 'lyon' is already taken"),
    (("create", "red", "--name", "Red", "--org", "lyon", "--languages", "fr,xx"), "--languages"),
    (("create", "red", "--name", " ", "--org", "lyon"), "a coalition needs a name"),
    (("campaign", "create", "blue", "--name", "Océans"), "--name takes LANGUAGE=TEXT"),
    (("campaign", "create", "blue", "--name", "xx=Océans"), "--name takes LANGUAGE=TEXT"),
    (("campaign", "create", "blue", "--name", "fr=a", "--name", "fr=b"), "--name gives fr twice"),
    (("campaign", "create", "blue", "--name", "en=Oceans"), "the coalition writes in fr, de"),
    (("campaign", "create", "blue", "--name", "fr=Océans", "--message", "hello"), "--message takes LANGUAGE=TEXT"),
    (("campaign", "create", "blue", "--name", "fr=Océans", "--visual", "fr=/nonexistent/v.png"),
     "cannot read /nonexistent/v.png"),
    (("campaign", "create", "blue", "--name", "fr=Océans", "--visual", "affiche.png"),
     "--visual takes LANGUAGE=PATH"),
    (("campaign", "create", "nowhere", "--name", "fr=Océans"), "no coalition with the handle 'nowhere'"),
    (("campaign", "list", "lyon"), "@lyon is not a coalition"),
    (("campaign", "adapt", "lyon", "https://elsewhere.example/campaigns/x", "--language", "fr", "--name",
      "Titre", "--text", "Texte"), "no campaign with the id"),
])
def test_cli_coalition__refusals_are_a_message_and_exit_1(node_dir, database_url, capsys, args, message):
    """Unknown coalition, organisation or campaign, not an organisation, bad --name syntax,
    unreadable visual: one line on stderr, exit 1, nothing stored."""
    before = states(database_url)
    code, out, err = civic(capsys, node_dir, "coalition", *args)
    assert code == 1 and message in err and "Traceback" not in err, err
    assert err.startswith("civic: error: ") and err.count("\n") == 1
    assert states(database_url) == before
    assert count(database_url, Campaign) == 0 and count(database_url, Coalition) == 1
    assert count(database_url, OutboxEvent, OutboxEvent.kind.like("c%")) == 0


def test_cli_coalition__a_refusal_in_a_separate_process_has_no_traceback(node_dir):
    result = subprocess.run([CIVIC, "coalition", "leave", "surfrider", "blue", "--data-dir", str(node_dir)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip() == f"civic: error: {coalitions.LAST_ADMIN}"
    assert "Traceback" not in result.stdout + result.stderr


# -- organisations and coalitions on other nodes -----------------------------------------------------

class Peer(RemoteHost):
    """A remote host that also answers WebFinger for its actors."""

    async def _object(self, request: web.Request) -> web.Response:
        if request.path == "/.well-known/webfinger":
            name = request.query.get("resource", "").removeprefix("acct:").partition("@")[0]
            actor = self.actors.get(name)
            if actor is None:
                return web.json_response({"error": "not found"}, status=404)
            return web.json_response({"subject": f"acct:{name}@{self.host}:{self.port}", "links": [
                {"rel": "self", "type": "application/activity+json", "href": actor.ap_id}]},
                content_type="application/jrd+json")
        return await super()._object(request)


@pytest.fixture
async def peer():
    host = await Peer(host="127.0.0.1").start()
    host.add_actor("ngo", "Organization").document["name"] = "Les Amis\x1b[2J\x1b[31m du\nlittoral"
    host.add_actor("city", "Organization")
    host.add_actor("green", "Group")
    host.add_actor("alice", "Person")
    yield host
    await host.stop()


async def _db(database_url, work):
    return await with_db(database_url, work)


async def test_cli_coalition__remote_organisations_are_fetched_invited_and_removed(
        node_dir, database_url, capsys, peer):
    """An organisation on another node, named by its URL or by @name@host, is fetched and stored
    and its Invite queued; a person is refused; removal of a remote member queues its Remove."""
    ngo, city = peer.actors["ngo"], peer.actors["city"]
    code, out, err = await civic_in_thread(capsys, node_dir, "coalition", "invite", "blue", ngo.ap_id)
    assert code == 0, err
    address = f"@ngo@127.0.0.1:{peer.port}"
    assert out.startswith(f"Invited {address} to @blue as member")
    code, out, err = await civic_in_thread(capsys, node_dir, "coalition", "invite", "blue",
                                           f"city@127.0.0.1:{peer.port}", "--role", "admin")
    assert code == 0, err
    assert "/users/city" in " ".join(peer.fetches)
    code, out, _ = await civic_in_thread(capsys, node_dir, "coalition", "members", "blue", "--json")
    entries = {e["address"]: e for e in json.loads(out)}
    assert entries[address]["id"] == ngo.ap_id and entries[address]["state"] == "invited"
    assert entries[address]["node"] == f"127.0.0.1:{peer.port}" and entries[address]["local"] is False
    assert entries[f"@city@127.0.0.1:{peer.port}"]["role"] == "admin"
    code, out, _ = await civic_in_thread(capsys, node_dir, "coalition", "members", "blue")
    [line] = [line for line in out.splitlines() if line.startswith(address)]
    assert line.split("\t")[1:4] == ["Les Amis [2J [31m du littoral", "member", "invited"]  # no escapes

    async def invited(s):
        rows = await s.scalars(select(OutboxEvent).where(OutboxEvent.kind == coalitions.MEMBER_INVITED))
        return sorted([(await s.get(CoalitionMember, e.payload["member_row_id"])).member.ap_id for e in rows])
    assert await _db(database_url, invited) == sorted([ngo.ap_id, city.ap_id])

    code, _, err = await civic_in_thread(capsys, node_dir, "coalition", "invite", "blue",
                                         peer.actors["alice"].ap_id)
    assert code == 1 and coalitions.NOT_AN_ORGANISATION in err
    code, _, err = await civic_in_thread(capsys, node_dir, "coalition", "invite", "blue",
                                         f"{peer.base}/users/nobody")
    assert code == 1 and "Traceback" not in err and err.startswith("civic: error: ")

    async def accepted(s):  # as the organisation's Accept{Invite} would
        group = (await coalitions.require(s, "blue")).actor
        org = await s.scalar(select(Actor).where(Actor.ap_id == ngo.ap_id))
        await coalitions.receive_invite_answer(s, group, org, True)
    await _db(database_url, accepted)
    code, out, _ = await civic_in_thread(capsys, node_dir, "coalition", "remove", "blue", address)
    assert code == 0 and f"{address} is no longer in @blue" in out

    async def removed(s):
        return [e.payload for e in await s.scalars(select(OutboxEvent).where(
            OutboxEvent.kind == coalitions.MEMBER_REMOVED))]
    [payload] = await _db(database_url, removed)
    org_id = await _db(database_url, lambda s: s.scalar(select(Actor.id).where(Actor.ap_id == ngo.ap_id)))
    assert payload["member_id"] == org_id


async def test_cli_coalition__joining_a_remote_coalition_and_adapting_its_campaign(
        node_dir, database_url, capsys, peer):
    """On a member's node: join a remote coalition (Join queued, requested), its Accept arrives,
    its campaign is listed and adapted (the variant queued); an Invite from another coalition is
    answered (queued) and the organisation leaves (Leave queued)."""
    green = peer.actors["green"]
    code, out, err = await civic_in_thread(capsys, node_dir, "coalition", "join", "lyon", green.ap_id)
    assert code == 0, err
    address = f"@green@127.0.0.1:{peer.port}"
    assert f"@lyon asked to join {address}: the running node sends the Join" in out
    code, out, _ = await civic_in_thread(capsys, node_dir, "coalition", "memberships", "lyon")
    assert out.split("\t")[:4] == [address, "Green", "member", "requested"]

    async def join_sent(s):
        [event] = await s.scalars(select(OutboxEvent).where(OutboxEvent.kind == coalitions.JOIN_SENT))
        return (await s.get(CoalitionMember, event.payload["member_row_id"])).state
    assert await _db(database_url, join_sent) == "requested"

    campaign_ap_id = f"{peer.base}/campaigns/c1"

    async def accepted_and_sent_a_campaign(s):  # as the coalition's Accept{Join} and Create{Page} would
        group = await s.scalar(select(Actor).where(Actor.ap_id == green.ap_id))
        lyon = await actors.require_local_actor(s, "lyon")
        assert await coalitions.mark_accepted(s, group, lyon)
        await campaigns.store_remote(s, group, ap_id=campaign_ap_id, name={"fr": "Forêts", "de": "Wälder"},
                                     summary={}, content={"fr": "<p>Plantons</p>"}, kit=[],
                                     url=campaign_ap_id, published=None)
    await _db(database_url, accepted_and_sent_a_campaign)
    code, out, _ = await civic_in_thread(capsys, node_dir, "coalition", "campaign", "list", address)
    assert code == 0 and out.splitlines() == [f"{campaign_ap_id}\t0 support(s)\t0 variant(s)\tForêts"]
    code, out, err = await civic_in_thread(capsys, node_dir, "coalition", "campaign", "adapt", "lyon",
                                           campaign_ap_id, "--language", "fr", "--name", "Forêts de Lyon",
                                           "--text", "Plantons à Lyon")
    assert code == 0, err
    variant = await _db(database_url, lambda s: campaigns.variant_by_ap_id(s, out.strip()))
    assert variant.local and variant.name == "Forêts de Lyon"
    assert await _db(database_url, lambda s: s.scalar(select(func.count()).select_from(OutboxEvent).where(
        OutboxEvent.kind == campaigns.VARIANT_PUBLISHED))) == 1

    city_group = peer.add_actor("alliance", "Group")

    async def invited(s):  # as another coalition's Invite would
        group = Actor(ap_id=city_group.ap_id, type="Group", local=False, domain=f"127.0.0.1:{peer.port}",
                      username="alliance", name="Alliance", inbox=city_group.inbox)
        s.add(group)
        await s.flush()
        await coalitions.receive_invite(s, group, await actors.require_local_actor(s, "lyon"),
                                        f"{peer.base}/invites/1")
    await _db(database_url, invited)
    code, out, err = await civic_in_thread(capsys, node_dir, "coalition", "answer", "lyon",
                                           f"alliance@127.0.0.1:{peer.port}", "accept")
    assert code == 0 and "accepted the invitation" in out, err

    async def answered(s):
        return [e.payload for e in await s.scalars(select(OutboxEvent).where(
            OutboxEvent.kind == coalitions.INVITE_ANSWERED))]
    [payload] = await _db(database_url, answered)
    assert payload["accepted"] is True and payload["invite_ap_id"] == f"{peer.base}/invites/1"

    code, out, _ = await civic_in_thread(capsys, node_dir, "coalition", "leave", "lyon", green.ap_id)
    assert code == 0 and "(the running node sends the Leave)" in out
    code, out, _ = await civic_in_thread(capsys, node_dir, "coalition", "memberships", "lyon")
    assert [line.split("\t")[0] for line in out.splitlines()] == [f"@alliance@127.0.0.1:{peer.port}"]
    assert await _db(database_url, lambda s: s.scalar(select(func.count()).select_from(OutboxEvent).where(
        OutboxEvent.kind == coalitions.LEFT))) == 1


async def test_cli_coalition__organisations_and_coalitions_of_blocked_domains_are_refused(
        node_dir, database_url, capsys):
    """A blocked host is neither fetched nor, when already known, invited or joined."""
    blocked = await Peer(host="127.0.0.23").start()
    try:
        org, group = blocked.add_actor("ngo", "Organization"), blocked.add_actor("green", "Group")

        async def known(s):  # stored before the block (it federated with us once)
            s.add(Actor(ap_id=group.ap_id, type="Group", local=False, domain=f"127.0.0.23:{blocked.port}",
                        username="green", name="Green", inbox=group.inbox))
        await _db(database_url, known)
        assert (await civic_in_thread(capsys, node_dir, "domain", "block", "127.0.0.23"))[0] == 0
        code, _, err = await civic_in_thread(capsys, node_dir, "coalition", "invite", "blue", org.ap_id)
        assert code == 1 and "refused by this node's domain policy" in err
        code, _, err = await civic_in_thread(capsys, node_dir, "coalition", "join", "lyon", group.ap_id)
        assert code == 1 and "127.0.0.23" in err and "is blocked on this node" in err
        assert blocked.fetches == []
        assert await _db(database_url, lambda s: s.scalar(select(func.count()).select_from(CoalitionMember))) == 1
    finally:
        await blocked.stop()


# -- hostile input ---------------------------------------------------------------------------------

@given(st.lists(st.text(max_size=30), max_size=5))
def test_cli_coalition__text_maps_take_language_pairs_or_refuse_them(values):
    """Whatever is typed after --name: a map of known languages, or InvalidInput saying the syntax."""
    try:
        out = text_maps(values, "--name")
    except InvalidInput as exc:
        assert "--name" in exc.reason
        return
    assert set(out) <= {"fr", "en", "de"} and len(out) == len(values)
    for value in values:
        language, _, text = value.partition("=")
        assert out[language.strip()] == text.strip()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(address=st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
       .filter(lambda a: "\x00" not in a and not a.startswith("-")  # "-x" is an option to argparse
               and "blue" not in a.lower()))  # the one coalition: listing it is no refusal
def test_cli_coalition__hostile_addresses_are_refused_without_a_traceback(node_dir, database_url, capsys, address):
    """Any address or handle given to the commands that never fetch: a one-line refusal, exit 1;
    the member list keeps its founder as admin."""
    for args in (("accept", "blue", address), ("remove", "blue", address),
                 ("role", "blue", address, "member"), ("answer", "lyon", address, "decline"),
                 ("leave", "lyon", address), ("members", address), ("campaign", "list", address),
                 ("invite", address, "--from", "blue")):
        code, out, err = civic(capsys, node_dir, "coalition", *args)
        assert code == 1 and err.startswith("civic: error: ") and "Traceback" not in err, (args, err)
    assert states(database_url)["surfrider"] == ("admin", "accepted")


# -- a running node sends what the commands queue ------------------------------------------------------

async def _until(predicate, what: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:  # noqa: ASYNC109
    """Wait for ``predicate()`` (what a peer received), at most ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        assert proc.poll() is None, "civic serve exited"
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def _serving(url: str, proc: subprocess.Popen) -> None:
    import aiohttp

    async def answers() -> bool:
        try:
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False

    for _ in range(300):
        assert proc.poll() is None, "civic serve exited"
        if await answers():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered")


async def test_cli_coalition__a_running_node_sends_what_the_commands_queue(tmp_path, database_url, capsys, peer):
    """`civic serve` runs; `civic coalition invite` (a remote organisation) and `campaign create`
    only write to the database, and the serving node delivers the Invite and, once the
    organisation is a member, the campaign's Create{Page} to its inbox (told at commit on
    PostgreSQL, by its fan-out's polling on SQLite)."""
    from tests.remote import free_port

    port = free_port()
    directory = tmp_path / "served"
    for args in (["init", "--base-url", f"http://127.0.0.1:{port}", "--development",
                  "--database-url", database_url],
                 ["org", "create", "surfrider", "--name", "Surfrider"],
                 ["coalition", "create", "blue", "--name", "Blue", "--org", "surfrider", "--languages", "fr,de"]):
        assert (await civic_in_thread(capsys, directory, *args))[0] == 0
    log = (tmp_path / "serve.log").open("w")
    serve = subprocess.Popen([CIVIC, "serve", "--port", str(port), "--data-dir", str(directory)],  # noqa: ASYNC220
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        await _serving(f"http://127.0.0.1:{port}/.well-known/nodeinfo", serve)
        ngo = peer.actors["ngo"]
        code, _, err = await civic_in_thread(capsys, directory, "coalition", "invite", "blue", ngo.ap_id)
        assert code == 0, err
        await _until(lambda: any(d.get("type") == "Invite" for d in peer.received), "the Invite", serve)
        invite = next(d for d in peer.received if d.get("type") == "Invite")
        assert invite["actor"] == f"http://127.0.0.1:{port}/actors/blue"

        async def accepted(s):  # as the organisation's Accept{Invite} would
            group = (await coalitions.require(s, "blue")).actor
            org = await s.scalar(select(Actor).where(Actor.ap_id == ngo.ap_id))
            assert await coalitions.receive_invite_answer(s, group, org, True)
        await _db(database_url, accepted)
        code, out, err = await civic_in_thread(capsys, directory, "coalition", "campaign", "create", "blue",
                                               "--name", "fr=Océans", "--name", "de=Ozeane", "--text", "fr=Agissons")
        assert code == 0, err
        campaign_id = out.strip()

        def created() -> bool:
            return any(d.get("type") == "Create" and isinstance(d.get("object"), dict)
                       and d["object"].get("id") == campaign_id for d in peer.received)
        await _until(created, "the campaign's Create", serve)
    finally:
        if serve.poll() is None:
            serve.terminate()
        try:
            serve.wait(timeout=15)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
        log.close()
