"""Reports and moderators' actions (node.services.reports): the rules, on every backend."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from node.db import transaction
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.models import Actor, Contribution, ModerationLogEntry, OutboxEvent, ReportStates
from node.services import actors, contributions, discussions, moderation_log, reports

REMOTE = "https://social.example/users/troll"


@pytest.fixture
async def world(sessions, uris):
    """lyon and paris, each with a discussion; camille (resident), modo (lyon's moderator),
    root (node admin), a remote account and its contribution in lyon's discussion."""
    async with transaction(sessions) as s:
        lyon = await actors.create_organization(s, uris, "lyon", "Ville de Lyon")
        paris = await actors.create_organization(s, uris, "paris", "Ville de Paris")
        camille = await actors.create_user(s, uris, "camille", "password-123", "Camille")
        modo = await actors.create_user(s, uris, "modo", "password-123", "Modo")
        await actors.add_member(s, modo, lyon, "moderator")
        root = await actors.create_user(s, uris, "noemie", "password-123", "Noémie", is_admin=True)
        troll = Actor(ap_id=REMOTE, type="Person", local=False, username="troll", domain="social.example",
                      inbox=f"{REMOTE}/inbox", shared_inbox="https://social.example/inbox")
        s.add(troll)
        await s.flush()
        d_lyon = await discussions.open_discussion(s, uris, lyon, "parc", "Le parc")
        d_paris = await discussions.open_discussion(s, uris, paris, "seine", "La Seine")
        remote_c, _ = await contributions.receive_remote(
            s, d_lyon, troll, ap_id=f"{REMOTE}/statuses/1", content_html="<p>spam spam</p>", parent=None,
            published=None, url=None, activity={"id": f"{REMOTE}/statuses/1/activity", "type": "Create"})
        local_c = await contributions.contribute(s, uris, d_paris, camille.actor, "<p>La Seine propre</p>")
    return {"lyon": lyon, "paris": paris, "camille": camille, "modo": modo, "root": root, "troll": troll,
            "remote_c": remote_c, "local_c": local_c}


async def _target(s, ap_id):
    target = await reports.target_of(s, ap_id)
    assert target is not None
    return target


async def test_report__one_open_report_per_reporter_and_target(sessions, world):
    """A resident reports a contribution once while the report is open; after it is closed they
    may report it again; categories and the reason's length are checked."""
    w = world
    async with transaction(sessions) as s:
        first = await reports.report(s, w["camille"].actor, await _target(s, w["remote_c"].ap_id),
                                     category="spam", reason="  publicité  ")
        assert (first.target_kind, first.reason, first.organization_id) == ("contribution", "publicité", w["lyon"].id)
    with pytest.raises(Conflict):
        async with transaction(sessions) as s:
            await reports.report(s, w["camille"].actor, await _target(s, w["remote_c"].ap_id), category="abuse")
    for bad in ({"category": "nonsense"}, {"category": "spam", "reason": "x" * 1001}):
        with pytest.raises(InvalidInput):
            async with transaction(sessions) as s:
                await reports.report(s, w["camille"].actor, await _target(s, w["local_c"].ap_id), **bad)
    async with transaction(sessions) as s:
        row = await reports.require_report(s, w["root"], first.id)
        await reports.close(s, w["root"], row, ReportStates.dismissed, "not spam")
        again = await reports.report(s, w["camille"].actor, await _target(s, w["remote_c"].ap_id), category="spam")
        assert again.id != first.id
    with pytest.raises(Conflict):
        async with transaction(sessions) as s:
            await reports.close(s, w["root"], await reports.require_report(s, w["root"], first.id),
                                ReportStates.resolved)


async def test_queue__moderators_see_their_organisation_admins_see_all(sessions, world):
    """lyon's moderator sees reports about lyon's content only; a resident sees none; the node admin
    sees every report, including those about accounts."""
    w = world
    async with transaction(sessions) as s:
        on_lyon = await reports.report(s, w["camille"].actor, await _target(s, w["remote_c"].ap_id), category="spam")
        on_paris = await reports.report(s, w["modo"].actor, await _target(s, w["local_c"].ap_id), category="abuse")
        on_account = await reports.report(s, w["camille"].actor, await _target(s, REMOTE), category="abuse")
    async with sessions() as s:
        assert [r.id for r in await reports.queue(s, w["modo"])] == [on_lyon.id]
        assert await reports.queue(s, w["camille"]) == []
        assert [r.id for r in await reports.queue(s, w["root"])] == [on_lyon.id, on_paris.id, on_account.id]
        with pytest.raises(NotFound):
            await reports.require_report(s, w["modo"], on_paris.id)
        with pytest.raises(NotFound):
            await reports.require_report(s, w["camille"], on_lyon.id)


async def test_hide_restore__reason_kept_hidden_flag_set_and_logged(sessions, world):
    """Hiding needs a reason, sets the contribution hidden (AS2 404s), is refused to another
    organisation's moderator, and hide and restore both land in the moderation log."""
    w = world
    async with transaction(sessions) as s:
        target = await _target(s, w["local_c"].ap_id)  # paris's content
        with pytest.raises(Forbidden):
            await reports.hide(s, w["modo"], target, "off topic")
    async with transaction(sessions) as s:
        target = await _target(s, w["remote_c"].ap_id)
        with pytest.raises(InvalidInput):
            await reports.hide(s, w["modo"], target, "   ")
    async with transaction(sessions) as s:
        await reports.hide(s, w["modo"], await _target(s, w["remote_c"].ap_id), "advertising")
    async with sessions() as s:
        assert (await s.get(Contribution, w["remote_c"].id)).hidden is True
        assert await reports.hidden_reasons(s, [w["remote_c"].ap_id, w["local_c"].ap_id]) == {
            w["remote_c"].ap_id: "advertising"}
    async with transaction(sessions) as s:
        assert await reports.restore(s, w["modo"], await _target(s, w["remote_c"].ap_id), "reviewed") is True
        assert await reports.restore(s, w["modo"], await _target(s, w["remote_c"].ap_id)) is False
    async with sessions() as s:
        assert (await s.get(Contribution, w["remote_c"].id)).hidden is False
        log = await moderation_log.entries(s, [w["lyon"].id])
        assert [(e.action, e.moderator_name, e.reason) for e in log] == [
            ("restore", "Modo", "reviewed"), ("hide", "Modo", "advertising")]
        assert await moderation_log.entries(s, [w["paris"].id]) == []


async def test_receive_flag__one_report_per_object_of_ours_idempotent(sessions, world):
    """A Flag naming an account and two of our contributions opens two reports by the remote
    reporter, its content as the reason; the same Flag again opens nothing; unknown ids are ignored."""
    w = world
    objects = [w["camille"].actor.ap_id, w["local_c"].ap_id, w["remote_c"].ap_id, "https://elsewhere.example/x"]
    async with transaction(sessions) as s:
        troll = await s.merge(w["troll"])
        opened = await reports.receive_flag(s, troll, objects, "harcèlement", f"{REMOTE}#flags/1")
        assert sorted(r.target_ap_id for r in opened) == sorted([w["local_c"].ap_id, w["remote_c"].ap_id])
        assert {r.reason for r in opened} == {"harcèlement"}
        assert await reports.receive_flag(s, troll, objects, "again", f"{REMOTE}#flags/2") == []
        only_account = await reports.receive_flag(s, troll, [w["camille"].actor.ap_id], "", f"{REMOTE}#flags/3")
        assert [(r.target_kind, r.organization_id) for r in only_account] == [("account", None)]
        assert await reports.receive_flag(s, troll, ["https://elsewhere.example/x"], "", f"{REMOTE}#f4") == []


async def test_forward__only_remote_targets_once_as_an_outbox_event(sessions, world):
    """Forwarding writes one report.forwarded event (the fan-out sends the Flag), once, and only for
    reports about remote content or accounts."""
    w = world
    async with transaction(sessions) as s:
        remote = await reports.report(s, w["camille"].actor, await _target(s, w["remote_c"].ap_id), category="spam")
        local = await reports.report(s, w["modo"].actor, await _target(s, w["local_c"].ap_id), category="spam")
    async with transaction(sessions) as s:
        await reports.forward(s, w["modo"], await reports.require_report(s, w["modo"], remote.id), "spam wave")
    with pytest.raises(Conflict):
        async with transaction(sessions) as s:
            await reports.forward(s, w["modo"], await reports.require_report(s, w["modo"], remote.id))
    with pytest.raises(InvalidInput):
        async with transaction(sessions) as s:
            await reports.forward(s, w["root"], await reports.require_report(s, w["root"], local.id))
    async with sessions() as s:
        events = list(await s.scalars(select(OutboxEvent).where(OutboxEvent.kind == reports.REPORT_FORWARDED)))
        assert [e.payload for e in events] == [{"report_id": remote.id, "comment": "spam wave"}]
        assert await s.scalar(select(func.count()).select_from(ModerationLogEntry)
                              .where(ModerationLogEntry.action == "forward")) == 1


async def test_hold_and_approve__held_content_is_not_relayed_until_approved(sessions, uris, world):
    """A held contribution is hidden and its group relay withdrawn; approving it shows it and
    queues the relay again; pre-moderation holds a remote account's first N contributions."""
    w = world
    async with transaction(sessions) as s:
        c = await s.get(Contribution, w["remote_c"].id)
        await reports.hold(s, c)
        assert not [e for e in await s.scalars(select(OutboxEvent).where(
            OutboxEvent.kind == contributions.CONTRIBUTION_RECEIVED, OutboxEvent.processed_at.is_(None)))
            if e.payload["contribution_id"] == c.id]
    async with sessions() as s:
        held = await reports.held_content(s, w["modo"])
        assert [(h.reason, c.id) for h, c in held] == [(reports.HELD, w["remote_c"].id)]
        assert (await s.get(Contribution, w["remote_c"].id)).hidden is True
    async with transaction(sessions) as s:
        assert await reports.restore(s, w["modo"], await _target(s, w["remote_c"].ap_id)) is True
    async with sessions() as s:
        relays = [e.payload for e in await s.scalars(select(OutboxEvent).where(
            OutboxEvent.kind == contributions.CONTRIBUTION_RECEIVED).order_by(OutboxEvent.id))]
        assert relays[-1] == {"contribution_id": w["remote_c"].id,
                              "activity": {"id": f"{REMOTE}/statuses/1/activity", "type": "Create"}}
        assert [e.action for e in await moderation_log.entries(s, None)] == ["approve"]
    async with transaction(sessions) as s:
        c = await s.get(Contribution, w["remote_c"].id)
        assert await reports.needs_premoderation(s, c) is False
        await reports.set_premoderation(s, w["modo"], w["lyon"].id, 2)
        assert await reports.needs_premoderation(s, c) is True
        with pytest.raises(InvalidInput):
            await reports.set_premoderation(s, w["modo"], w["lyon"].id, -1)


def test_cli__account_block_silence_unblock_and_reports(tmp_path, database_url):
    """`civic account block|silence|unblock URL` and `civic account list`; `civic reports`; a bad
    address or a missing one is a clear error with exit 1, no traceback, nothing written."""
    from tests.node.test_cli import assert_clean_error, civic

    init = civic("init", "--base-url", "http://127.0.0.1:18091", "--development",
                 "--database-url", database_url, data_dir=tmp_path)
    assert init.returncode == 0, init.stderr
    blocked = civic("account", "block", REMOTE, "--reason", "spam", data_dir=tmp_path)
    assert blocked.returncode == 0 and f"Blocked {REMOTE}." in blocked.stdout, blocked.stderr
    quiet = "https://social.example/users/quiet"
    assert civic("account", "silence", quiet, data_dir=tmp_path).returncode == 0
    listed = civic("account", "list", data_dir=tmp_path).stdout.splitlines()
    assert sorted(listed) == sorted([f"block\t{REMOTE}\tspam", f"silence\t{quiet}\t"])
    assert_clean_error(civic("account", "block", "javascript:alert(1)", data_dir=tmp_path),
                       "neither a URL nor a handle")
    assert_clean_error(civic("account", "block", data_dir=tmp_path), "needs an account")
    assert_clean_error(civic("account", "block", "http://127.0.0.1:18091/actors/x", data_dir=tmp_path),
                       "local accounts")
    unblocked = civic("account", "unblock", REMOTE, data_dir=tmp_path)
    assert unblocked.returncode == 0 and "no longer blocked" in unblocked.stdout
    assert civic("account", "list", data_dir=tmp_path).stdout.splitlines() == [f"silence\t{quiet}\t"]
    assert civic("reports", data_dir=tmp_path).stdout.strip() == "No open report."
    assert civic("org", "create", "lyon", "--name", "Lyon", data_dir=tmp_path).returncode == 0
    held = civic("org", "premoderate", "lyon", "2", data_dir=tmp_path)
    assert held.returncode == 0 and "holds the first 2 contribution(s)" in held.stdout
    assert_clean_error(civic("org", "premoderate", "lyon", "-1", data_dir=tmp_path), "between 0 and 100")
