"""JSON-LD: unusual contexts go through pyld after the 202, with bundled contexts only."""

from __future__ import annotations

from sqlalchemy import select

from activities.jsonld import needs_jsonld
from node.db import transaction
from node.models import InboxActivity, Note
from node.services import actors

AS = "https://www.w3.org/ns/activitystreams"


def test_jsonld__usual_contexts_skip_pyld():
    """Mastodon's and Fedify's contexts are read as compact AS2 (the hot path never runs pyld)."""
    assert not needs_jsonld({"@context": [AS, "https://w3id.org/security/v1",
                                          {"toot": "http://joinmastodon.org/ns#"}]})
    assert not needs_jsonld({"@context": [AS, "https://w3id.org/security/data-integrity/v1"]})
    assert needs_jsonld({"@context": [AS, "https://example.org/custom-context"]})


async def _create(remote, org, alice, context, n):
    note = {"id": f"{alice.ap_id}/notes/{n}", "type": "Note", "attributedTo": alice.ap_id,
            "content": f"<p>n{n}</p>", "to": [org.ap_id]}
    return {"@context": context, "id": f"{alice.ap_id}/create/{n}", "type": "Create",
            "actor": alice.ap_id, "object": note}


async def test_jsonld__aliased_terms_are_compacted_before_handling(node, remote):
    """A document that renames AS2 terms through an inline context is understood after compaction."""
    async with transaction(node.rt.sessions) as s:
        org = await actors.create_organization(s, node.uris, "lyon", "Lyon")
    alice = remote.add_actor("alice")
    doc = {
        "@context": [AS, "https://w3id.org/identity/v1",
                     {"texte": "https://www.w3.org/ns/activitystreams#content"}],
        "id": f"{alice.ap_id}/create/1", "type": "Create", "actor": alice.ap_id,
        "object": {"id": f"{alice.ap_id}/notes/1", "type": "Note", "attributedTo": alice.ap_id,
                   "texte": "<p>Bonjour</p>", "to": [org.ap_id]},
    }
    assert (await remote.post(org.inbox, doc, alice))[0] == 202
    await node.step()
    async with node.rt.sessions() as s:
        stored = await s.scalar(select(Note).where(Note.ap_id == f"{alice.ap_id}/notes/1"))
    assert stored is not None and stored.content == "<p>Bonjour</p>"


async def test_jsonld__unbundled_context_is_read_as_compact_as2_without_network(node, remote):
    """A context we do not bundle is never fetched, and the post is not dropped for it: it is read
    as compact AS2, as Mastodon reads every document (SECURITY.md rule 21)."""
    async with transaction(node.rt.sessions) as s:
        org = await actors.create_organization(s, node.uris, "lyon", "Lyon")
    alice = remote.add_actor("alice")
    remote.documents[f"{remote.base}/ctx"] = {"@context": {"x": "https://x.example/"}}
    doc = await _create(remote, org, alice, [AS, f"{remote.base}/ctx"], 2)
    assert (await remote.post(org.inbox, doc, alice))[0] == 202
    fetched_before = list(remote.fetches)
    await node.step()
    async with node.rt.sessions() as s:
        row = await s.scalar(select(InboxActivity))
        assert await s.scalar(select(Note)) is not None
    assert row.state == "processed"
    assert remote.fetches == fetched_before  # the context URL was not requested
