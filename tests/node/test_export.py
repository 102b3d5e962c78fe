"""Right of access: the export holds every row that names the person and nothing of others;
secrets are redacted; the tables are found from the schema, so none is forgotten."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from federation.fanout import process_events
from node.db import transaction
from node.models import Actor, Base, User
from node.services import export
from tests.node import privacy_scene


@pytest.fixture
async def exported(node):
    async with transaction(node.rt.sessions) as session:
        scene = await privacy_scene.build(session, node.uris)
    await process_events(node.rt)  # her Creates and Likes are stored activities: the outbox
    async with node.rt.sessions() as session:
        user = await session.get(User, scene.amel_user_id)
        data = await export.export_account(session, node.uris, user)
        secrets = {
            "password_hash": user.password_hash,
            "private_key_pem": await session.scalar(select(Actor.private_key_pem).where(Actor.ap_id == scene.amel)),
        }
    return scene, data, secrets


def _ids(rows: list[dict], key: str = "ap_id") -> set:
    return {row[key] for row in rows}


async def test_export_account__every_row_that_names_the_person(node, exported):
    """Her account, actor, texts, reactions, follows both ways, membership, stakeholder entry
    and account state are all there."""
    scene, data, _ = exported
    tables = data["tables"]
    assert data["account"]["id"] == scene.amel
    assert [row["email"] for row in tables["users"]] == ["amel@example.org"]
    assert _ids(tables["actors"]) == {scene.amel}
    assert _ids(tables["contributions"]) == {scene.contribution}
    assert _ids(tables["proposals"]) == {scene.proposal}
    assert _ids(tables["articles"]) == {scene.article}
    assert _ids(tables["initiatives"]) == {scene.initiative}
    assert len(tables["agreements"]) == len(tables["proposal_supports"]) == 1
    assert len(tables["initiative_actions"]) == 1
    assert len(tables["follows"]) == 2
    assert [row["role"] for row in tables["memberships"]] == ["official"]
    assert [row["description"] for row in tables["stakeholders"]] == ["Lives by the parc"]
    assert len(tables["account_states"]) == 1
    json.dumps(data)  # the download is JSON as it stands


async def test_export_account__nothing_of_others(node, exported):
    """Bob's texts, name and reactions are absent; what others gave her shows only as the counts
    stored on her own rows."""
    scene, data, _ = exported
    text = json.dumps(data)
    for other in ("Bob's private thoughts", "Bob Other-Person", "Bob's fountain", "Bob's picnic", "Zoe Remote"):
        assert other not in text
    tables = data["tables"]
    amel_id = tables["actors"][0]["id"]
    for name in ("agreements", "proposal_supports", "initiative_actions"):
        assert {row["actor_id"] for row in tables[name]} == {amel_id}, name
    assert tables["contributions"][0]["agree_count"] == 1  # bob's agreement, as a count
    assert tables["proposals"][0]["support_count"] == 1


async def test_export_account__secrets_are_redacted(node, exported):
    """Password hash, private key and session epoch are replaced, and never appear anywhere."""
    _, data, secrets = exported
    text = json.dumps(data)
    for value in secrets.values():
        assert value and value not in text
    assert data["tables"]["users"][0]["password_hash"] == export.REDACTED
    assert data["tables"]["actors"][0]["private_key_pem"] == export.REDACTED
    assert data["tables"]["account_states"][0]["session_epoch"] == export.REDACTED
    assert {"users.password_hash", "actors.private_key_pem", "account_states.session_epoch"} <= set(data["redacted"])


def test_redaction__every_secret_looking_column_of_the_schema():
    """Any column named like a secret (hash, private key, salt, digest, epoch, secret) is redacted."""
    looks_secret = re.compile(r"hash|private|secret|salt|digest|epoch")
    columns = [c.name for table in Base.metadata.tables.values() for c in table.columns]
    for name in columns:
        if looks_secret.search(name):
            assert export.is_redacted(name), name
    assert not export.is_redacted("content") and not export.is_redacted("email")


def test_person_columns__every_table_pointing_at_people_is_exported_or_excluded():
    """Each table with a foreign key to users.id or actors.id is in the export, or each of those
    columns is in the commented exclusion list (with its reason)."""
    found = export.person_columns()
    for table in Base.metadata.tables.values():
        for column in table.columns:
            if any(k.column.table.name in ("users", "actors") for k in column.foreign_keys):
                pair = (table.name, column.name)
                assert pair in export.EXCLUDED or any(c is column for c, _ in found.get(table.name, [])), pair
    assert all(reason.strip() for reason in export.EXCLUDED.values())


async def test_export_account__outbox_is_an_ordered_collection_of_her_activities(node, exported):
    """``outbox`` holds the activities her actor sent, as sent (AS2 OrderedCollection)."""
    scene, data, _ = exported
    outbox = data["outbox"]
    assert outbox["type"] == "OrderedCollection"
    assert outbox["totalItems"] == len(outbox["orderedItems"]) > 0
    assert all(item["actor"] == scene.amel for item in outbox["orderedItems"])
    created = [i["object"]["id"] for i in outbox["orderedItems"]
               if i["type"] == "Create" and isinstance(i["object"], dict)]
    assert scene.contribution in created and scene.bob_contribution not in created
