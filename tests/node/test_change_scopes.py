"""node/changes.py, node/change_rules.py: what a committed write changed, as scopes of the rows it wrote."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from node import change_rules, changes
from node.changes import EVERYTHING, SITE, Versions, discussion, org, profile, proposal, reader
from node.db import transaction
from node.models import Actor, Base, InboxActivity, OutboxEvent, RateCounter, utcnow
from node.services import actors, contributions, dashboard, discussions, follows, proposals


class Heard:
    """The scopes each commit of ``sessions`` reported to this process."""

    def __init__(self, sessions):
        self.commits: list[frozenset[str]] = []
        changes.subscribe(sessions, self.commits.append)

    def take(self) -> set[str]:
        taken = set().union(*self.commits) if self.commits else set()
        self.commits.clear()
        return taken


@pytest.fixture
async def scene(sessions, uris):
    """Two organisations with a discussion each; Camille wrote in Lyon's; Dominique reads."""
    async with transaction(sessions) as s:
        lyon = await actors.create_organization(s, uris, "lyon", "Ville de Lyon")
        nantes = await actors.create_organization(s, uris, "nantes", "Nantes")
        camille, dominique = [(await actors.create_user(s, uris, n, "password-123", n.title())).actor
                              for n in ("camille", "dominique")]
        here = await discussions.open_discussion(s, uris, lyon, "clos-jouve", "Clos Jouve")
        there = await discussions.open_discussion(s, uris, nantes, "ile", "Île")
        written = await contributions.contribute(s, uris, here, camille, "<p>Des arbres</p>")
    return {"lyon": lyon, "nantes": nantes, "camille": camille, "dominique": dominique,
            "here": here, "there": there, "written": written}


async def test_scopes__a_contribution_changes_its_discussion_and_its_organisations_lists(sessions, uris, scene):
    heard = Heard(sessions)
    async with transaction(sessions) as s:
        here = await s.merge(scene["here"])
        await contributions.contribute(s, uris, here, await s.merge(scene["dominique"]), "<p>Oui</p>")
    # …and the marks of its author alone (her own contributions), not of the discussion's readers.
    assert heard.take() == {discussion(scene["here"].id), org(scene["lyon"].id), reader(scene["dominique"].id)}


async def test_scopes__an_agreement_and_its_withdrawal_counted_by_update_statements(sessions, uris, scene):
    """The count is written by an ``update()`` statement and the withdrawal by a ``delete()``:
    both are read before they run, so their discussion is known."""
    heard = Heard(sessions)
    expected = {discussion(scene["here"].id), org(scene["lyon"].id), reader(scene["dominique"].id)}
    async with transaction(sessions) as s:
        written = await s.merge(scene["written"])
        await contributions.agree(s, uris, written, await s.merge(scene["dominique"]))
    assert heard.take() == expected
    async with transaction(sessions) as s:
        written = await s.merge(scene["written"])
        assert await contributions.withdraw_agreement(s, await s.merge(scene["dominique"]), contribution=written)
    assert heard.take() == expected


async def test_scopes__a_proposal_and_its_support(sessions, uris, scene):
    heard = Heard(sessions)
    async with transaction(sessions) as s:
        idea = await proposals.create(s, uris, await s.merge(scene["nantes"]), await s.merge(scene["camille"]),
                                      "Des bancs", "<p>…</p>", publish=True)
    assert {proposal(idea.id), org(scene["nantes"].id)} <= heard.take()
    async with transaction(sessions) as s:
        await proposals.support(s, uris, await s.merge(idea), await s.merge(scene["dominique"]))
    assert heard.take() == {proposal(idea.id), org(scene["nantes"].id), reader(scene["dominique"].id)}


async def test_scopes__following_a_discussion_changes_it_and_who_its_readers_are(sessions, uris, scene):
    heard = Heard(sessions)
    async with transaction(sessions) as s:
        here = await s.merge(scene["here"])
        await follows.request_follow(s, uris, await s.merge(scene["dominique"]), here.group)
    taken = heard.take()
    assert discussion(scene["here"].id) in taken and EVERYTHING not in taken
    assert not {discussion(scene["there"].id), org(scene["nantes"].id)} & taken


async def test_scopes__a_remote_follower_changes_counts_a_local_one_also_who_reads_what(sessions, uris, scene):
    """A fediverse account following Nantes changes its follower count (its lists), not its
    discussion pages; Dominique following Nantes may now read its followers-only things there."""
    heard = Heard(sessions)
    async with transaction(sessions) as s:
        remote = Actor(ap_id="https://remote.example/users/yan", type="Person", local=False, username="yan",
                       domain="remote.example", inbox="https://remote.example/users/yan/inbox")
        s.add(remote)
        await s.flush()
        await follows.receive_follow(s, remote, await s.merge(scene["nantes"]), "https://remote.example/f/1")
    nantes = scene["nantes"].id
    taken = heard.take()
    assert org(nantes) in taken and profile(nantes) not in taken
    async with transaction(sessions) as s:
        await follows.request_follow(s, uris, await s.merge(scene["dominique"]), await s.merge(scene["nantes"]))
    assert {org(nantes), profile(nantes)} <= heard.take()


async def test_scopes__remote_actors_fetched_and_refreshed_change_nothing_until_their_name_does(sessions, scene):
    """A remote actor is met (inserted) and its key refreshed all the time: no page shows that.
    A new name shows wherever it wrote: everything."""
    heard = Heard(sessions)
    async with transaction(sessions) as s:
        remote = Actor(ap_id="https://remote.example/users/zoe", type="Person", local=False, username="zoe",
                       domain="remote.example", name="Zoé", inbox="https://remote.example/users/zoe/inbox")
        s.add(remote)
    async with transaction(sessions) as s:
        remote = await s.get(Actor, remote.id)
        remote.public_key_pem, remote.fetched_at = "-----BEGIN PUBLIC KEY-----…", utcnow()
        remote.name = "Zoé"  # the same name again
    assert heard.take() == set()
    async with transaction(sessions) as s:
        (await s.get(Actor, remote.id)).name = "Zoé Martin"
    assert heard.take() == {EVERYTHING}


async def test_scopes__page_views_change_the_dashboards_of_their_organisation_only(sessions, scene):
    """Counted by an ``update()`` (then an insert for a new day): the organisation page shows the
    dashboard; the discussion pages show no counts."""
    heard = Heard(sessions)
    day = utcnow().date()
    for _ in range(2):  # a new day's row, then the update of it
        async with transaction(sessions) as s:
            await dashboard.add_visits(s, {(scene["lyon"].id, scene["here"].id, day): 3})
        assert heard.take() == {org(scene["lyon"].id)}


async def test_scopes__a_new_organisation_is_listed_on_the_site(sessions, uris):
    heard = Heard(sessions)
    async with transaction(sessions) as s:
        grenoble = await actors.create_organization(s, uris, "grenoble", "Grenoble")
    assert {SITE, org(grenoble.id), profile(grenoble.id)} <= heard.take()


async def test_scopes__queues_counters_and_logs_change_no_page(sessions, scene):
    """The ignore list: inbox rows, outbox events, rate counters and the like are written on every
    request and every delivery; none of them makes a commit announce anything."""
    heard = Heard(sessions)
    async with transaction(sessions) as s:
        s.add(InboxActivity(ap_id="https://remote.example/a/1", type="Like", actor="https://remote.example/u",
                            document={}))
        s.add(OutboxEvent(kind="note.created", payload={}))
        s.add(RateCounter(key="k", window_start=1, count=1, expires_at=2))
    assert heard.commits == []
    for table in ("inbox_activities", "inbox_refusals", "outbox_events", "deliveries", "rate_counters",
                  "account_states", "verification_codes", "census_entries"):
        assert table in change_rules.IGNORED


async def test_scopes__every_table_is_mapped_or_ignored_and_an_unmapped_one_changes_everything(sessions, engine):
    """A table added without a rule is safe (every page is dropped when it changes); the node's own
    tables all have a decision."""
    for table in Base.metadata.tables:
        assert (table in change_rules.RULES) != (table in change_rules.IGNORED), table
    scratch = Table("scratch_unmapped", MetaData(), Column("id", Integer, primary_key=True), Column("name", String(10)))
    async with engine.begin() as connection:
        await connection.run_sync(scratch.create)
    try:
        heard = Heard(sessions)
        async with transaction(sessions) as s:
            await s.execute(insert(scratch).values(name="x"))
        assert heard.take() == {EVERYTHING}
        assert change_rules.scopes_of("scratch_unmapped", {}, None, "update") == {EVERYTHING}
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(scratch.drop)


async def test_scopes__a_rolled_back_transaction_reports_nothing(sessions, uris, scene):
    heard = Heard(sessions)
    with pytest.raises(RuntimeError):
        async with transaction(sessions) as s:
            here = await s.merge(scene["here"])
            await contributions.contribute(s, uris, here, await s.merge(scene["dominique"]), "<p>Non</p>")
            raise RuntimeError("abandoned")
    assert heard.commits == []


async def test_scopes__committed_scopes_are_announced_to_the_other_processes(sessions, engine, uris, scene):
    """On PostgreSQL the commit carries a NOTIFY with its scopes (and the committing factory's id)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY exists on PostgreSQL only")
    from node.db import listen

    heard, arrived = [], asyncio.Event()

    def on_change(what: str) -> None:
        if (parsed := changes.parse(what)) is not None:
            heard.append(parsed)
            arrived.set()

    stop, ready = asyncio.Event(), asyncio.Event()
    listener = asyncio.create_task(listen(engine, on_change, stop, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        origin = changes.subscribe(sessions, lambda scopes: None)
        async with transaction(sessions) as s:
            here = await s.merge(scene["here"])
            await contributions.contribute(s, uris, here, await s.merge(scene["dominique"]), "<p>Oui</p>")
        await asyncio.wait_for(arrived.wait(), 10)
        assert heard == [(origin, frozenset({discussion(scene["here"].id), org(scene["lyon"].id),
                                             reader(scene["dominique"].id)}))]
    finally:
        stop.set()
        await asyncio.wait_for(listener, 10)


def test_scopes__payloads_fit_a_notify_and_parse_back():
    scopes = {discussion(n) for n in range(3)}
    assert changes.parse(changes.payload("abc", scopes)) == ("abc", frozenset(scopes))
    many = {discussion(n) for n in range(5000)}
    assert changes.payload("abc", many) == "content"  # too long for a NOTIFY: everything
    assert changes.payload("abc", {EVERYTHING, discussion(1)}) == "content"
    assert changes.parse("content") == ("", frozenset({EVERYTHING}))  # as older processes announce
    assert changes.parse("*") == ("", frozenset({EVERYTHING}))
    assert changes.parse("inbox") is None and changes.parse("outbox") is None


def test_scopes__versions_tell_what_changed_since_a_rendering():
    versions = Versions()
    seen = versions.clock
    versions.bump({discussion(1), org(1)})
    assert versions.latest({discussion(2), profile(1)}) <= seen  # untouched: still current
    assert versions.latest({discussion(1)}) > seen
    assert versions.latest(None) > seen  # a page that declared nothing depends on everything
    seen = versions.clock
    versions.bump({EVERYTHING})
    assert versions.latest({discussion(2)}) > seen


async def test_scopes__a_new_row_never_inherits_what_was_remembered_of_an_old_one(sessions, uris, scene):
    """SQLite gives the id of a deleted last row to the next one: a discussion of Nantes taking the
    id of a deleted discussion of Lyon is Nantes's (the memo of lookups forgets inserted ids)."""
    heard = Heard(sessions)
    async with transaction(sessions) as s:
        lyon, camille = await s.merge(scene["lyon"]), await s.merge(scene["camille"])
        gone = await discussions.open_discussion(s, uris, lyon, "ephemere", "Éphémère")
    async with transaction(sessions) as s:
        await contributions.contribute(s, uris, await s.merge(gone), camille, "<p>Vite</p>")
    assert org(scene["lyon"].id) in heard.take()
    async with transaction(sessions) as s:
        await s.delete(await s.merge(gone))
    async with transaction(sessions) as s:
        nantes, camille = await s.merge(scene["nantes"]), await s.merge(scene["camille"])
        taken = await discussions.open_discussion(s, uris, nantes, "nouvelle", "Nouvelle")
    heard.take()
    async with transaction(sessions) as s:
        await contributions.contribute(s, uris, await s.merge(taken), camille, "<p>Ici</p>")
    assert heard.take() == {discussion(taken.id), org(scene["nantes"].id), reader(camille.id)}


async def test_scopes__a_rule_that_fails_never_refuses_the_write(sessions, uris, scene, monkeypatch, caplog):
    """A mistake in a rule is logged and counts as a change of everything; the row is written."""
    def broken(values, lookup, event):
        raise KeyError("no such column")

    monkeypatch.setitem(change_rules.RULES, "contributions", change_rules.Rule(("discussion_id",), broken))
    heard = Heard(sessions)
    async with transaction(sessions) as s:
        written = await contributions.contribute(s, uris, await s.merge(scene["here"]),
                                                 await s.merge(scene["dominique"]), "<p>Quand même</p>")
    assert heard.take() == {EVERYTHING} and "no scopes for a row of contributions" in caplog.text
    async with sessions() as s:
        assert await s.get(type(written), written.id) is not None
