"""Hidden content is not served through the activities that carry it (SECURITY.md rule 22): the
author's Create and the group's Announce of a hidden contribution answer 404 at their ids and leave
the outboxes (items and totalItems); shown again, they are served again. A reply quoting it as
``inReplyTo`` is unaffected."""

from __future__ import annotations

import aiohttp
from sqlalchemy import select

from node.db import transaction
from node.models import Activity, Contribution, Discussion
from node.services import actors, contributions, reports
from node.services.hidden_activities import carries
from tests.federation.participation_scene import open_scene

AS = "application/activity+json"


async def _get(url: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.get(url, headers={"Accept": AS}) as response:
        return response.status, (await response.json(content_type=None) if response.status == 200 else {})


async def _outbox(actor: str) -> tuple[int, list[str]]:
    _, doc = await _get(f"{actor}/outbox")
    _, page = await _get(f"{actor}/outbox?page=1")
    return doc["totalItems"], [item["id"] for item in page["orderedItems"]]


async def test_hidden_contribution__its_activities_are_no_longer_served(node):
    scene = await open_scene(node)
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.require_local_actor(s, "lyon")
        modo = await actors.create_user(s, node.uris, "modo", "password-123", "Modo")
        await actors.add_member(s, modo, lyon, "moderator")
        amel = await actors.require_local_actor(s, "amel")
        d = await s.get(Discussion, scene.discussion_id)
        hidden = await contributions.contribute(s, node.uris, d, amel, "<p>Texte injurieux</p>")
        reply = await contributions.contribute(s, node.uris, d, amel, "<p>Une réponse</p>", parent=hidden)
        hidden_id, reply_id = hidden.ap_id, reply.ap_id
    await node.step()
    async with node.rt.sessions() as s:
        served = {a.document["id"]: a.document for a in await s.scalars(select(Activity).where(Activity.public))}
    carrying = [i for i, doc in served.items() if carries(doc, hidden_id)]
    assert {served[i]["type"] for i in carrying} == {"Create", "Announce"}
    reply_create = next(i for i, doc in served.items() if doc["type"] == "Create" and doc["object"]["id"] == reply_id)
    total_before, _ = await _outbox(scene.amel)

    async with transaction(node.rt.sessions) as s:
        await reports.hide(s, await actors.user_by_username(s, "modo"),
                           await reports.target_of(s, hidden_id), "Propos injurieux")
    for activity_id in carrying:
        assert (await _get(activity_id))[0] == 404
    total, items = await _outbox(scene.amel)
    assert total == total_before - 1 and not set(carrying) & set(items) and reply_create in items
    group_total, group_items = await _outbox(scene.group)
    assert not set(carrying) & set(group_items)
    assert (await _get(reply_create))[0] == 200

    async with transaction(node.rt.sessions) as s:
        modo = await actors.user_by_username(s, "modo")
        assert await reports.restore(s, modo, await reports.target_of(s, hidden_id), "Erreur")
        assert not (await s.scalar(select(Contribution).where(Contribution.ap_id == hidden_id))).hidden
    for activity_id in carrying:
        status, doc = await _get(activity_id)
        assert status == 200 and doc["id"] == activity_id
    assert (await _outbox(scene.amel))[0] == total_before
    assert (await _outbox(scene.group))[0] == group_total + 1
