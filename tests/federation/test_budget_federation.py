"""Participatory budgets across nodes (issue 11): Künzelsau's budget on one Civic Node, a second
Civic Node whose organisation follows Künzelsau, and fediverse accounts on the test's remote host;
every delivery is really POSTed and signed.

Projects reach the followers as Pages with their cost (Update when reviewed); a remote Like is a
support and its Undo takes it back; a remote reply is a comment; a remote post set in the budget
proposes a project in the proposing phase and is refused with its reason in any other; the results
Article reaches the followers; a ``members`` budget never leaves the node; and ballots and
questionnaire answers never do (FEDERATION.md "Questionnaires, polls and budgets", SECURITY.md
rules 29 and 31)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from federation.inbox import REFUSALS
from federation.resolve import resolve_actor
from federation.signatures import sign_headers
from node.db import transaction
from node.models import (
    Activity,
    Actor,
    Ballot,
    Budget,
    BudgetProject,
    BudgetProjectComment,
    BudgetProjectSupport,
    Delivery,
    InboxActivity,
    InboxRefusal,
    InboxStates,
    OutboxEvent,
    User,
)
from node.services import (
    actors,
    budget_ballots,
    budget_projects,
    budgets,
    erasure,
    follows,
    moderation,
    questionnaires,
    spaces,
)
from tests.federation.participation_scene import (
    AS,
    PUBLIC,
    make_activity,
    mastodon_like,
    mastodon_reply,
    mastodon_undo_like,
    outcome_of,
)
from tests.node.budget_scene import make_town

ACCEPT = {"Accept": "application/activity+json"}


@dataclass
class Scene:
    city: object  # the Civic Node holding the budget
    peer: object  # a second Civic Node, whose organisation "nice" follows Künzelsau
    org: str  # Künzelsau's id
    budget: str  # the budget's id
    bea: object  # a fediverse person (remote host) who follows Künzelsau
    admin_id: int
    residents: list[int]  # user ids of verified residents (voters)


async def _step(*nodes, rounds: int = 3) -> None:
    for _ in range(rounds):
        for n in nodes:
            await n.step()


async def scene(node_factory, remote, prefix: str, *, visibility: str = "public") -> Scene:
    """Künzelsau (admin mayor, verified residents r0–r2) and its €50,000 budget in its proposing
    phase; nice@peer and bea@remote follow Künzelsau."""
    city, peer = await node_factory(f"{prefix}.1"), await node_factory(f"{prefix}.2")
    async with transaction(city.rt.sessions) as s:
        town = await make_town(s, city.uris)
        await spaces.update_profile(s, town.org, default_language="de")  # its texts are German
        budget = await budgets.create(s, city.uris, town.org, "2027", {"de": "Bürgerhaushalt 2027"}, 50_000,
                                      visibility=visibility)
        await budgets.set_phase(s, budget, "proposing")
        ids = Scene(city, peer, town.org.ap_id, budget.ap_id, None, town.admin.id, [u.id for u in town.residents])
    async with transaction(peer.rt.sessions) as s:
        await actors.create_organization(s, peer.uris, "nice", "Métropole Nice")
    target = await resolve_actor(peer.rt, f"kunzelsau@{city.uris.domain}")
    async with transaction(peer.rt.sessions) as s:
        nice = await actors.require_local_actor(s, "nice")
        await follows.request_follow(s, peer.uris, nice, await s.merge(target))
    ids.bea = remote.add_actor("bea")
    status, body = await remote.post(f"{ids.org}/inbox", make_activity(ids.bea, "Follow", 1, ids.org), ids.bea)
    assert status == 202, body
    await _step(city, peer)
    return ids


async def _propose(sc: Scene, resident: int, title: str, cost: int) -> str:
    async with transaction(sc.city.rt.sessions) as s:
        budget = await budgets.by_ap_id(s, sc.budget)
        author = await s.get(User, sc.residents[resident])
        project = await budget_projects.propose(s, sc.city.uris, budget, await s.get(Actor, author.actor_id), title,
                                        f"<p>{title}: Beschreibung.</p>", cost=cost)
        return project.ap_id


async def _review(sc: Scene, project_id: str, cost_estimate: int | None = None) -> None:
    async with transaction(sc.city.rt.sessions) as s:
        project = await budget_projects.project_by_ap_id(s, project_id)
        await budget_projects.review(s, project, feasible=True, reason="machbar", cost_estimate=cost_estimate,
                             by=await s.get(User, sc.admin_id))


async def _phase(sc: Scene, phase: str) -> None:
    async with transaction(sc.city.rt.sessions) as s:
        await budgets.set_phase(s, await budgets.by_ap_id(s, sc.budget), phase)


async def _project(sc: Scene, ap_id: str) -> BudgetProject | None:
    async with sc.city.rt.sessions() as s:
        return await budget_projects.project_by_ap_id(s, ap_id)


def _sent(remote, kind: str, object_type: str | None = None) -> list[dict]:
    return [d for d in remote.received if d.get("type") == kind
            and (object_type is None or isinstance(d.get("object"), dict) and d["object"].get("type") == object_type)]


async def _inbox_rows(node, kind: str) -> list[dict]:
    async with node.rt.sessions() as s:
        return [row.document for row in await s.scalars(select(InboxActivity).where(InboxActivity.type == kind))]


async def _get(url: str, signer=None) -> tuple[int, dict]:
    headers = dict(ACCEPT)
    if signer is not None:
        headers.update(sign_headers("GET", url, None, signer.key_id, signer.private_pem))
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers=headers) as response:
            return response.status, await response.json(content_type=None)


async def _post(sc: Scene, remote, doc: dict, actor) -> tuple[str, str]:
    status, body = await remote.post(f"{sc.org}/inbox", doc, actor)
    assert status == 202, body
    await sc.city.step()
    return await outcome_of(sc.city, doc["id"])


def _page(actor, n: int, budget: str, **extra) -> dict:
    """A fediverse account's project: Create{Page} set in the budget (FEP-7888 context)."""
    page = {"id": f"{actor.ap_id}/pages/{n}", "type": "Page", "attributedTo": actor.ap_id,
            "name": f"Projekt {n} aus dem Fediverse", "content": f"<p>Vorschlag {n}</p>", "context": budget,
            "civic:cost": 12_000, "to": [PUBLIC], "cc": [f"{actor.ap_id}/followers"], **extra}
    return make_activity(actor, "Create", n, page, to=page["to"], cc=page["cc"])


# ---- projects out -------------------------------------------------------------------------------

async def test_budget_federation__a_follower_receives_the_project_page_with_its_cost(node_factory, remote):
    """A resident's project reaches the organisation's followers — a second Civic Node and a
    fediverse account — as Create{Page} by its author with its cost; its review is an Update{Page}
    with the estimate and the feasibility; its AS2 document says the same."""
    sc = await scene(node_factory, remote, "127.0.31")
    project = await _propose(sc, 0, "Ein Trinkbrunnen am Markt", 8_000)
    await _step(sc.city, sc.peer)
    [create] = [d for d in _sent(remote, "Create", "Page") if d["object"]["id"] == project]
    page = create["object"]
    assert create["actor"] == page["attributedTo"] == f"{sc.city.base}/actors/r0"
    assert (page["civic:cost"], page["civic:currency"], page["civic:feasibility"], page["context"]) == \
        (8_000, "EUR", "pending", sc.budget)
    assert page["to"] == [PUBLIC] and f"{sc.org}/followers" in page["cc"]
    at_peer = [d for d in await _inbox_rows(sc.peer, "Create") if d["object"].get("id") == project]
    assert len(at_peer) == 1 and at_peer[0]["object"]["civic:cost"] == 8_000  # signed, verified, kept

    await _review(sc, project, cost_estimate=7_500)
    await _step(sc.city, sc.peer)
    [update] = [d for d in _sent(remote, "Update", "Page") if d["object"]["id"] == project]
    assert (update["object"]["civic:cost"], update["object"]["civic:feasibility"]) == (7_500, "feasible")
    assert [d["object"]["civic:cost"] for d in await _inbox_rows(sc.peer, "Update")] == [7_500]
    status, doc = await _get(project)
    assert status == 200 and (doc["type"], doc["civic:cost"], doc["civic:status"]) == ("Page", 7_500, "proposed")
    status, collection = await _get(sc.budget)
    assert status == 200 and collection["items"] == [project] and collection["civic:phase"] == "proposing"
    assert (collection["civic:amount"], collection["civic:currency"]) == (50_000, "EUR")


async def test_budget_federation__a_members_budget_never_leaves_the_node(node_factory, remote):
    """A members budget: its projects, comments and supports are sent nowhere, its AS2 documents
    are the 404 of missing ones, and a fediverse proposal or reply to it is refused."""
    sc = await scene(node_factory, remote, "127.0.32", visibility="members")
    project = await _propose(sc, 0, "Nur für Mitglieder", 5_000)
    await _review(sc, project)
    async with transaction(sc.city.rt.sessions) as s:
        row = await budget_projects.project_by_ap_id(s, project)
        r1 = await s.get(User, sc.residents[1])
        await budget_projects.comment(s, sc.city.uris, row, await s.get(Actor, r1.actor_id), "<p>Gut</p>")
        await budget_projects.support(s, sc.city.uris, row, await s.get(Actor, r1.actor_id))
    await _step(sc.city, sc.peer)
    assert [d["type"] for d in remote.received if d["type"] != "Accept"] == []
    async with sc.city.rt.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Activity).where(
            Activity.object_ap_id == project)) == 0
    for url in (sc.budget, project, f"{sc.budget}/results"):
        assert (await _get(url))[0] == 404
    state, error = await _post(sc, remote, _page(sc.bea, 1, sc.budget), sc.bea)
    assert (state, error) == (InboxStates.failed, "refused: this budget is not open to the fediverse")
    state, error = await _post(sc, remote, mastodon_reply(sc.bea, 2, project, sc.org), sc.bea)
    assert (state, error) == (InboxStates.failed, "refused: this budget is not open to the fediverse")


async def test_budget_federation__a_followers_budget_reaches_and_answers_approved_followers_only(node_factory,
                                                                                                remote):
    """A followers budget: its project goes to the organisation's approved followers only (never
    to Public), its AS2 documents answer their signed fetches and 404 otherwise, and only they may
    propose or comment from the fediverse."""
    sc = await scene(node_factory, remote, "127.0.40", visibility="followers")
    stranger = remote.add_actor("stranger")
    project = await _propose(sc, 0, "Nur für Abonnenten", 4_000)
    await _step(sc.city, sc.peer)
    [create] = [d for d in _sent(remote, "Create", "Page") if d["object"]["id"] == project]
    assert PUBLIC not in create["to"] + create["cc"] and create["to"] == [f"{sc.org}/followers"]
    assert [d["object"]["id"] for d in await _inbox_rows(sc.peer, "Create")] == [project]
    for url in (project, sc.budget):
        assert (await _get(url))[0] == 404
        assert (await _get(url, stranger))[0] == 404
        status, doc = await _get(url, sc.bea)
        assert status == 200 and doc["id"] == url
    refusal = "only the organisation's approved followers take part in this budget"
    assert await _refusal(sc, remote, _page(stranger, 1, sc.budget), stranger) == f"refused: {refusal}"
    assert await _refusal(sc, remote, mastodon_reply(stranger, 2, project, sc.org), stranger) == f"refused: {refusal}"
    assert await _post(sc, remote, _page(sc.bea, 3, sc.budget), sc.bea) == (InboxStates.processed, "project stored")
    reply = mastodon_reply(sc.bea, 4, project, sc.org)  # followers-only, to the organisation's followers
    for holder in (reply, reply["object"]):
        holder["to"], holder["cc"] = [f"{sc.bea.ap_id}/followers"], [f"{sc.org}/followers"]
    assert await _post(sc, remote, reply, sc.bea) == (InboxStates.processed, "comment stored")


# ---- supports, comments and proposals in --------------------------------------------------------

async def test_budget_federation__a_remote_like_counts_as_a_support_and_undo_takes_it_back(node_factory, remote):
    """Mastodon's Like of a project is a support (once per person); its Undo withdraws it."""
    sc = await scene(node_factory, remote, "127.0.33")
    project = await _propose(sc, 0, "Bänke im Stadtpark", 12_000)
    like = mastodon_like(sc.bea, 1, project)
    assert await _post(sc, remote, like, sc.bea) == (InboxStates.processed, "support recorded")
    assert (await _project(sc, project)).support_count == 1
    again = mastodon_like(sc.bea, 2, project)
    assert await _post(sc, remote, again, sc.bea) == (InboxStates.processed, "ignored: already supported")
    assert (await _project(sc, project)).support_count == 1
    undo = mastodon_undo_like(sc.bea, 1, project)
    undo["object"]["id"] = like["id"]
    state, _ = await _post(sc, remote, undo, sc.bea)
    assert state == InboxStates.processed and (await _project(sc, project)).support_count == 0
    status, doc = await _get(project)
    assert status == 200 and doc["likes"]["totalItems"] == 0


async def test_budget_federation__a_remote_reply_becomes_a_comment(node_factory, remote):
    """Mastodon's reply to a project is a comment by its author, sanitised; a reply to that comment
    comments the same project; a local comment goes out as Create{Note} replying to the project."""
    sc = await scene(node_factory, remote, "127.0.34")
    project = await _propose(sc, 0, "Fahrradständer am Bahnhof", 6_000)
    reply = mastodon_reply(sc.bea, 1, project, sc.org)
    reply["object"]["content"] += '<script>alert(1)</script><a href="javascript:x()">x</a>'
    assert await _post(sc, remote, reply, sc.bea) == (InboxStates.processed, "comment stored")
    async with sc.city.rt.sessions() as s:
        row = await budget_projects.project_by_ap_id(s, project)
        [comment] = await budget_projects.comments(s, row)
        assert comment.author.ap_id == sc.bea.ap_id and comment.ap_id == reply["object"]["id"]
        assert "thinkpad" in comment.content and "<script" not in comment.content
        assert "javascript" not in comment.content
    async with transaction(sc.city.rt.sessions) as s:
        row = await budget_projects.project_by_ap_id(s, project)
        r1 = await s.get(User, sc.residents[1])
        local = await budget_projects.comment(s, sc.city.uris, row, await s.get(Actor, r1.actor_id), "<p>Unbedingt!</p>")
        local_id = local.ap_id
    await _step(sc.city)
    [note] = [d["object"] for d in _sent(remote, "Create", "Note") if d["object"]["id"] == local_id]
    assert note["inReplyTo"] == project and note["context"] == sc.budget
    status, doc = await _get(local_id)
    assert status == 200 and doc["content"] == "<p>Unbedingt!</p>"
    async with aiohttp.ClientSession() as session:  # people are sent to the comment on its project's page
        async with session.get(local_id, allow_redirects=False) as response:
            token = local_id.rsplit("/", 1)[1]
            assert (response.status, response.headers["Location"]) == (302, f"{project}#comment-{token}")
    nested = mastodon_reply(sc.bea, 2, local_id, sc.org)
    assert await _post(sc, remote, nested, sc.bea) == (InboxStates.processed, "comment stored")
    direct = mastodon_reply(sc.bea, 3, project, sc.org)  # a direct message to the project's author
    for holder in (direct, direct["object"]):
        holder["to"], holder["cc"] = [f"{sc.city.base}/actors/r0"], []
    assert await _post(sc, remote, direct, sc.bea) == (InboxStates.processed, "note stored")
    async with sc.city.rt.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(BudgetProjectComment)) == 3


async def test_budget_federation__a_remote_proposal_is_a_project_in_the_proposing_phase_only(node_factory, remote):
    """A Page set in the budget, and a Mastodon Note replying to it, are projects by their authors
    while it takes proposals; in the reviewing phase the same is refused with the reason."""
    sc = await scene(node_factory, remote, "127.0.35")
    assert await _post(sc, remote, _page(sc.bea, 1, sc.budget), sc.bea) == (InboxStates.processed, "project stored")
    project = await _project(sc, f"{sc.bea.ap_id}/pages/1")
    assert (project.title, project.cost, project.author.ap_id, project.body) == \
        ("Projekt 1 aus dem Fediverse", 12_000, sc.bea.ap_id, "<p>Vorschlag 1</p>")
    note = mastodon_reply(sc.bea, 2, sc.budget, sc.org)
    assert await _post(sc, remote, note, sc.bea) == (InboxStates.processed, "project stored")
    assert (await _project(sc, note["object"]["id"])).title.startswith("@retiolus i have never been")
    status, collection = await _get(sc.budget)
    assert status == 200 and collection["items"] == [f"{sc.bea.ap_id}/pages/1", note["object"]["id"]]

    await _phase(sc, "reviewing")
    assert await _post(sc, remote, _page(sc.bea, 3, sc.budget), sc.bea) == \
        (InboxStates.failed, "refused: projects are proposed in the proposing phase only")
    assert await _project(sc, f"{sc.bea.ap_id}/pages/3") is None


async def _refusal(sc: Scene, remote, doc: dict, actor) -> str:
    """Why ``doc`` was refused: at the door (4xx, recorded among the inbox's refusals) or by its
    handler (its inbox row fails with the reason)."""
    status, body = await remote.post(f"{sc.org}/inbox", doc, actor)
    if status != 202:
        assert 400 <= status < 500, body
        return body["error"]
    await sc.city.step()
    state, error = await outcome_of(sc.city, doc["id"])
    assert state == InboxStates.failed, error
    return error


async def test_budget_federation__districts_by_name_both_ways(node_factory, remote):
    """In a budget with districts a project's Page names its district (in the organisation's
    language); a fediverse proposal names one by its name or slug, an unknown one is refused."""
    sc = await scene(node_factory, remote, "127.0.43")
    async with transaction(sc.city.rt.sessions) as s:
        org = await actors.require_local_actor(s, "kunzelsau")
        budget = await budgets.create(s, sc.city.uris, org, "bezirke", {"de": "Bezirke"}, 60_000, districts=[
            ("altstadt", {"de": "Altstadt", "fr": "Vieille ville"}, 30_000), ("nord", {"de": "Nord"}, 30_000)])
        await budgets.set_phase(s, budget, "proposing")
        [altstadt, _] = await budgets.districts(s, budget)
        author = await s.get(User, sc.residents[0])
        project = await budget_projects.propose(s, sc.city.uris, budget, await s.get(Actor, author.actor_id), "Brunnen",
                                        "<p>x</p>", cost=1_000, district=altstadt)
        budget_id, project_id, altstadt_id = budget.ap_id, project.ap_id, altstadt.id
    await _step(sc.city)
    [create] = [d for d in _sent(remote, "Create", "Page") if d["object"]["id"] == project_id]
    assert create["object"]["civic:district"] == "Altstadt"
    named = _page(sc.bea, 1, budget_id, **{"civic:district": "vieille ville"})
    assert await _post(sc, remote, named, sc.bea) == (InboxStates.processed, "project stored")
    assert (await _project(sc, f"{sc.bea.ap_id}/pages/1")).district_id == altstadt_id
    by_slug = _page(sc.bea, 2, budget_id, **{"civic:district": "nord"})
    assert await _post(sc, remote, by_slug, sc.bea) == (InboxStates.processed, "project stored")
    assert await _refusal(sc, remote, _page(sc.bea, 3, budget_id, **{"civic:district": "Mond"}), sc.bea) == \
        "refused: no such district in this budget"
    assert await _refusal(sc, remote, _page(sc.bea, 4, budget_id), sc.bea) == "refused: choose the project's district"


async def test_budget_federation__proposals_refused_with_their_reasons(node_factory, remote):
    """Forged, out-of-range and unknown-budget proposals are refused with their reasons (at the
    door or by the handler, each recorded), and so is anything from a blocked domain."""
    sc = await scene(node_factory, remote, "127.0.36")
    mallory = remote.add_actor("mallory")
    cases = [
        (_page(sc.bea, 1, sc.budget, **{"civic:cost": -5}), "civic:cost must be a whole number"),
        (_page(sc.bea, 2, sc.budget, content="x" * 40_001), "longer than 40000"),
        (_page(sc.bea, 3, sc.budget, attributedTo=mallory.ap_id), "attributed to someone else"),
        (_page(sc.bea, 4, f"{sc.city.base}/budgets/nothing-here"), "no such budget"),
        (_page(sc.bea, 5, sc.budget, id=f"{sc.city.base}/projects/forged"), "not on the actor's host"),
        (_page(sc.bea, 6, sc.budget, **{"civic:cost": 2**40}), "civic:cost must be a whole number"),
    ]
    for doc, reason in cases:
        assert reason in await _refusal(sc, remote, doc, sc.bea), reason
    async with transaction(sc.city.rt.sessions) as s:
        await moderation.block_domain(s, "127.0.0.1")
        sc.city.rt.blocked_domains = await moderation.blocked_domains(s)
    assert "does not federate with your domain" in await _refusal(sc, remote, _page(sc.bea, 7, sc.budget), sc.bea)
    await sc.city.app[REFUSALS].close()
    async with sc.city.rt.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(BudgetProject)) == 0
        recorded = list(await s.scalars(select(InboxRefusal.reason)))
        failed = list(await s.scalars(select(InboxActivity.error).where(InboxActivity.state == InboxStates.failed)))
    assert len(recorded) + len(failed) == len(cases) + 1 and all(recorded + failed)
    assert any("does not federate" in r for r in recorded)


async def test_budget_federation__the_author_updates_and_deletes_its_project_and_comment(node_factory, remote):
    """Only its author's server changes a fediverse project or comment: Update retitles it, Delete
    makes a tombstone; another actor's Delete is refused."""
    sc = await scene(node_factory, remote, "127.0.37")
    mallory = remote.add_actor("mallory")
    await _post(sc, remote, _page(sc.bea, 1, sc.budget), sc.bea)
    page_id = f"{sc.bea.ap_id}/pages/1"
    project = await _propose(sc, 0, "Trinkbrunnen", 3_000)
    changed = dict(_page(sc.bea, 1, sc.budget, name="Neuer Titel", **{"civic:cost": 9_000})["object"])
    update = make_activity(sc.bea, "Update", 1, changed)
    assert await _post(sc, remote, update, sc.bea) == (InboxStates.processed, "project updated")
    assert ((await _project(sc, page_id)).title, (await _project(sc, page_id)).cost) == ("Neuer Titel", 9_000)
    await _phase(sc, "reviewing")
    late = make_activity(sc.bea, "Update", 2, dict(changed, name="Zu spät"))
    assert await _post(sc, remote, late, sc.bea) == \
        (InboxStates.failed, "refused: projects are changed in the proposing phase only")
    assert (await _project(sc, page_id)).title == "Neuer Titel"
    forged = make_activity(mallory, "Delete", 1, page_id)
    state, error = await _post(sc, remote, forged, mallory)
    assert state == InboxStates.failed and "only its author" in error
    assert await _post(sc, remote, make_activity(sc.bea, "Delete", 2, page_id), sc.bea) == \
        (InboxStates.processed, "project deleted")
    assert (await _project(sc, page_id)).deleted_at is not None
    status, collection = await _get(sc.budget)
    assert collection["items"] == [project]

    reply = mastodon_reply(sc.bea, 3, project, sc.org)
    await _post(sc, remote, reply, sc.bea)
    delete = make_activity(sc.bea, "Delete", 3, reply["object"]["id"])
    assert await _post(sc, remote, delete, sc.bea) == (InboxStates.processed, "comment deleted")
    async with sc.city.rt.sessions() as s:
        assert await budget_projects.comments(s, await budget_projects.project_by_ap_id(s, project)) == []


async def test_budget_federation__a_deleted_fediverse_account_leaves_tombstones(node_factory, remote):
    """Delete{actor} from its server: the account's project (not yet voted on) and its comment
    become tombstones, its support is taken back; nothing of it stays listed."""
    sc = await scene(node_factory, remote, "127.0.41")
    await _post(sc, remote, _page(sc.bea, 1, sc.budget), sc.bea)
    project = await _propose(sc, 0, "Trinkbrunnen", 3_000)
    await _post(sc, remote, mastodon_reply(sc.bea, 2, project, sc.org), sc.bea)
    await _post(sc, remote, mastodon_like(sc.bea, 3, project), sc.bea)
    assert (await _project(sc, project)).support_count == 1
    gone = make_activity(sc.bea, "Delete", 4, sc.bea.ap_id)
    assert await _post(sc, remote, gone, sc.bea) == (InboxStates.processed, "actor deleted")
    theirs = await _project(sc, f"{sc.bea.ap_id}/pages/1")
    assert theirs.deleted_at is not None and theirs.title == "" and theirs.body == ""
    assert (await _project(sc, project)).support_count == 0
    async with sc.city.rt.sessions() as s:
        assert await budget_projects.comments(s, await budget_projects.project_by_ap_id(s, project)) == []
    status, collection = await _get(sc.budget)
    assert collection["items"] == [project]


async def test_budget_federation__an_erased_authors_project_is_deleted_where_it_was_sent(node_factory, remote):
    """A resident erases their account before the vote: their project's Page answers 410 with a
    Tombstone, leaves the budget's Collection, and its Delete reaches those who received it."""
    sc = await scene(node_factory, remote, "127.0.42")
    project = await _propose(sc, 0, "Trinkbrunnen", 3_000)
    await _step(sc.city, sc.peer)
    async with transaction(sc.city.rt.sessions) as s:
        await erasure.erase_account(s, await s.get(User, sc.residents[0]), by=None)
    await _step(sc.city, sc.peer)
    status, doc = await _get(project)
    assert status == 410 and (doc["type"], doc["formerType"]) == ("Tombstone", "Page")
    assert (await _get(sc.budget))[1]["items"] == []
    deletes = [d["object"] for d in remote.received if d["type"] == "Delete" and isinstance(d["object"], dict)]
    assert [(o["id"], o["formerType"]) for o in deletes] == [(project, "Page")]


# ---- results and ballots -------------------------------------------------------------------------

async def _traces(sc: Scene, remote) -> tuple[int, ...]:
    """How much the city has queued and sent, and the followers received: outbox events,
    activities, deliveries; documents at the remote host and in the peer's inbox."""
    async with sc.city.rt.sessions() as s:
        counts = [await s.scalar(select(func.count()).select_from(model)) for model in (OutboxEvent, Activity, Delivery)]
    async with sc.peer.rt.sessions() as s:
        counts.append(await s.scalar(select(func.count()).select_from(InboxActivity)))
    return (*counts, len(remote.received))


async def _vote_and_publish(sc: Scene, remote, projects: list[str], ballots: dict[int, list[int]]) -> None:
    """Review every project feasible, open the vote, cast ``ballots`` ({resident: [project index]})
    — which leaves no trace at all: no event, activity or delivery, nothing received — and publish
    the results."""
    for project in projects:
        await _review(sc, project)
    await _phase(sc, "voting")
    await _step(sc.city, sc.peer)
    before = await _traces(sc, remote)
    async with transaction(sc.city.rt.sessions) as s:
        budget = await budgets.by_ap_id(s, sc.budget)
        ids = [(await budget_projects.project_by_ap_id(s, p)).id for p in projects]
        for resident, chosen in ballots.items():
            await budget_ballots.cast(s, budget, await s.get(User, sc.residents[resident]), [ids[i] for i in chosen])
    await _step(sc.city, sc.peer)
    assert await _traces(sc, remote) == before  # a ballot federates nothing (SECURITY.md rule 31)
    assert (await _get(f"{sc.budget}/results"))[0] == 404  # nothing published yet
    async with transaction(sc.city.rt.sessions) as s:
        await budget_ballots.publish_results(s, sc.city.uris, await budgets.by_ap_id(s, sc.budget),
                                      by=await s.get(User, sc.admin_id))
    await _step(sc.city, sc.peer)


async def test_budget_federation__the_results_article_reaches_the_followers(node_factory, remote):
    """Published results are the organisation's Create{Article} (context = the budget) listing the
    funded projects with cost and votes, received by both followers and served at <budget>/results."""
    sc = await scene(node_factory, remote, "127.0.38")
    projects = [await _propose(sc, 0, "Trinkbrunnen", 30_000), await _propose(sc, 1, "Bänke", 25_000)]
    await _vote_and_publish(sc, remote, projects, {0: [0], 1: [0], 2: [1]})
    [create] = _sent(remote, "Create", "Article")
    article = create["object"]
    assert create["actor"] == article["attributedTo"] == sc.org
    assert article["id"] == f"{sc.budget}/results" and article["context"] == sc.budget
    assert f'<a href="{projects[0]}">Trinkbrunnen</a> — 30000 EUR, 2 Stimmen' in article["content"]
    assert projects[1] not in article["content"]  # 25,000 more would exceed the 50,000
    assert [d["object"]["id"] for d in await _inbox_rows(sc.peer, "Create")
            if d["object"].get("type") == "Article"] == [article["id"]]
    status, doc = await _get(f"{sc.budget}/results")
    assert status == 200 and doc["content"] == article["content"]


async def _everything_sent(node) -> str:
    """Every outbox event, activity and delivery row of ``node``, as one text."""
    async with node.rt.sessions() as s:
        rows = [{"kind": e.kind, "payload": e.payload} for e in await s.scalars(select(OutboxEvent))]
        rows += [{"activity": a.document, "type": a.type} for a in await s.scalars(select(Activity))]
        rows += [{"delivery": d.inbox, "activity": d.activity_id} for d in await s.scalars(select(Delivery))]
    return json.dumps(rows, ensure_ascii=False)


async def test_budget_federation__ballots_and_answers_never_leave_the_node(node_factory, remote):
    """After ballots are cast (by voters who do nothing else) and a questionnaire is answered, no
    outbox event, stored activity, delivery, received document or AS2 document of the budget, its
    projects, its results or the voters' outboxes names a voter, a ballot, or an answer."""
    sc = await scene(node_factory, remote, "127.0.39")
    projects = [await _propose(sc, 0, "Trinkbrunnen", 20_000), await _propose(sc, 0, "Bänke", 15_000),
                await _propose(sc, 0, "Spielplatz", 30_000)]
    secret = "zebra-answer-7731"  # a questionnaire answer, to be found nowhere outside the node
    async with transaction(sc.city.rt.sessions) as s:
        org = await actors.require_local_actor(s, "kunzelsau")
        q = await questionnaires.create(s, org, "umfrage", {"de": "Umfrage"}, languages=("de",))
        question = await questionnaires.add_question(s, q, "short_text", {"de": "Ihre Meinung?"})
        await questionnaires.publish(s, q)
    await _step(sc.city, sc.peer)
    before = await _traces(sc, remote)
    async with transaction(sc.city.rt.sessions) as s:
        q = await questionnaires.by_slug(s, await actors.require_local_actor(s, "kunzelsau"), "umfrage")
        await questionnaires.submit(s, sc.city.settings, q, await s.get(User, sc.residents[1]),
                                    {question.id: secret}, language="de")
    await _step(sc.city, sc.peer)
    assert await _traces(sc, remote) == before  # an answer federates nothing (SECURITY.md rule 29)
    # r1 and r2 vote and do nothing else; r0 (the projects' author) votes too.
    await _vote_and_publish(sc, remote, projects, {1: [0, 1], 2: [0, 2], 0: [1]})
    async with sc.city.rt.sessions() as s:
        voters = [await s.get(User, i) for i in sc.residents[1:]]
        voter_ids = [(await s.get(Actor, u.actor_id)).ap_id for u in voters]
        ballot_ids = list(await s.scalars(select(Ballot.id)))
        assert len(ballot_ids) == 3
        kinds = set(await s.scalars(select(OutboxEvent.kind)))
    assert not any("ballot" in k or "answer" in k or "questionnaire" in k or "response" in k for k in kinds)
    sent = await _everything_sent(sc.city)
    received = json.dumps(remote.received) + json.dumps(await _inbox_rows(sc.peer, "Create")) \
        + json.dumps(await _inbox_rows(sc.peer, "Update"))
    documents = []
    for url in [sc.budget, f"{sc.budget}/results", *projects]:
        status, doc = await _get(url)
        assert status == 200, url
        documents.append(doc)
    for voter in voter_ids:
        status, outbox = await _get(f"{voter}/outbox")
        assert status == 200 and outbox["totalItems"] == 0  # a voter published nothing
        status, page = await _get(f"{voter}/outbox?page=1")
        assert page["orderedItems"] == []
    served = json.dumps(documents, ensure_ascii=False)
    for text in (sent, received, served):
        for voter in voter_ids:
            assert voter not in text
        assert secret not in text
        assert "Ballot" not in text and "ballot_id" not in text
    # The results say how many ballots, never whose: the count is there, the voters are not.
    assert "3 Stimmzettel" in served and "3 Stimmzettel" in received
    async with sc.city.rt.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Activity).where(
            Activity.actor_id.in_([u.actor_id for u in voters]))) == 0


# ---- hostile input through the real inbox --------------------------------------------------------

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=30)
    | st.sampled_from(["Page", "Note", "Like", "$budget", "$project", "$bea", "http://[", "javascript:alert(1)",
                       "<script>alert(1)</script>", "9999-12-31T23:59:59-01:00", "x" * 41_000]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["type", "id", "attributedTo", "name", "content", "contentMap", "context", "inReplyTo",
                         "civic:cost", "civic:district", "object", "@value"]), children, max_size=5),
    max_leaves=15)
SKELETONS = st.sampled_from([
    {"type": "Create", "object": {"type": "Page", "id": "$new", "attributedTo": "$bea", "name": "Projekt",
                                  "content": "<p>x</p>", "context": "$budget", "civic:cost": 100}},
    {"type": "Create", "object": {"type": "Note", "id": "$new", "attributedTo": "$bea", "content": "<p>x</p>",
                                  "inReplyTo": "$project"}},
    {"type": "Like", "object": "$project"},
    {"type": "Update", "object": {"type": "Page", "id": "$new", "attributedTo": "$bea", "name": "Projekt",
                                  "content": "<p>y</p>", "context": "$budget"}},
    {"type": "Delete", "object": "$project"},
])
HOSTILE = settings(max_examples=max(int(os.environ.get("CIVIC_FUZZ_EXAMPLES", "300")) // 6, 12),
                   deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SCENES: dict[int, tuple] = {}


def _fill(value, ids: dict):
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@HOSTILE
@given(skeleton=SKELETONS, field=st.sampled_from(["object", "type", "id", "attributedTo", "name", "content",
                                                  "context", "inReplyTo", "civic:cost", "civic:district"]),
       value=VALUES, n=st.integers(0, 10**9))
async def test_budget_federation__hostile_documents_never_5xx_and_counts_stay_true(node, remote, skeleton, field,
                                                                                   value, n):
    """Whatever a fediverse account sends about a budget is a 2xx or 4xx; its row is processed or
    refused with a reason (never an unexpected error); projects stay bounded and counts true."""
    if id(node) not in SCENES:
        SCENES.clear()
        async with transaction(node.rt.sessions) as s:
            town = await make_town(s, node.uris)
            budget = await budgets.create(s, node.uris, town.org, "2027", {"de": "Haushalt"}, 50_000)
            await budgets.set_phase(s, budget, "proposing")
            project = await budget_projects.propose(s, node.uris, budget, town.residents[0].actor, "Trinkbrunnen",
                                            "<p>x</p>", cost=1_000)
            SCENES[id(node)] = (town.org.ap_id, budget.ap_id, project.ap_id, remote.add_actor("bea"))
    org, budget, project, bea = SCENES[id(node)]
    doc = json.loads(json.dumps(skeleton))
    holder = doc["object"] if isinstance(doc["object"], dict) and field != "object" else doc
    holder[field] = value
    doc = _fill(doc, {"$budget": budget, "$project": project, "$bea": bea.ap_id, "$new": f"{bea.ap_id}/p/{n}"})
    doc.update({"@context": AS, "id": f"{bea.ap_id}/hostile/{n}-{id(doc)}", "actor": bea.ap_id})
    status, body = await remote.post(f"{org}/inbox", doc, bea)
    assert 200 <= status < 300 or 400 <= status < 500, (status, body, doc)
    await node.step()
    async with node.rt.sessions() as s:
        row = await s.scalar(select(InboxActivity).where(InboxActivity.ap_id == doc["id"]))
        if status == 202 and row is not None:
            assert row.state != InboxStates.received, row.error
            assert not (row.error or "").startswith("error:"), (row.error, doc)
        for kept in await s.scalars(select(BudgetProject)):
            assert len(kept.title) <= 300 and len(kept.body) <= 40_000 and "<script" not in kept.body
            assert kept.cost is None or 0 < kept.cost <= 2_000_000_000
            supports = await s.scalar(select(func.count()).select_from(BudgetProjectSupport)
                                      .where(BudgetProjectSupport.project_id == kept.id))
            assert kept.support_count == supports
        assert await s.scalar(select(func.count()).select_from(Budget)) == 1
