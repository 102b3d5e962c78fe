"""node/services/campaigns.py ``breakdown``: the dashboard's and the report's per-member figures
read the tallies and five columns of each member's actor — never the supports themselves, never
an actor's ``document`` (a remote actor's whole AS2 document) or keys."""

from __future__ import annotations

import dataclasses

from sqlalchemy import event

from node.db import transaction
from node.models import Actor
from node.services import actors, campaigns, coalitions

DOCUMENT_MARK = "a-large-remote-document"


def remote_member(name: str) -> Actor:
    """A remote organisation with its stored AS2 document and key, as a fetched actor has."""
    ap_id = f"https://ngo.example/actors/{name}"
    return Actor(ap_id=ap_id, type="Organization", local=False, username=name, domain="ngo.example",
                 name=name.title(), inbox=f"{ap_id}/inbox", public_key_pem="-----BEGIN PUBLIC KEY-----",
                 document={"id": ap_id, "type": "Organization", "summary": DOCUMENT_MARK * 20})


async def _campaign_with_supports(s, uris):
    """Coalition blue (founder surfrider) with remote members ngo and wwf, each with a variant
    supported once, and one support through the campaign itself."""
    founder = await actors.create_organization(s, uris, "surfrider", "Surfrider")
    group = (await coalitions.create(s, uris, "blue", "Blue Coalition", founder=founder,
                                     languages=["fr", "de"])).actor
    campaign = await campaigns.create(s, uris, group, name={"fr": "Océans"})
    members = [remote_member("ngo"), remote_member("wwf")]
    s.add_all(members)
    await s.flush()
    for n, (org, language) in enumerate(zip(members, ("fr", "de"), strict=True)):
        await coalitions.invite(s, uris, group, org)
        await coalitions.receive_invite_answer(s, group, org, True)
        variant = await campaigns.store_remote_variant(
            s, campaign, org, ap_id=f"{org.ap_id}/variants/1", language=language, name="Océans",
            content="<p>Agissons</p>", visual_url=None, visual_media_type=None)
        person = Actor(ap_id=f"https://people.example/u/{n}", type="Person", local=False,
                       username=f"p{n}", domain="people.example", name="")
        s.add(person)
        await s.flush()
        await campaigns.support(s, uris, campaign, person, variant=variant, relayed_by=org)
    direct = Actor(ap_id="https://people.example/u/direct", type="Person", local=False,
                   username="direct", domain="people.example", name="")
    s.add(direct)
    await s.flush()
    await campaigns.support(s, uris, campaign, direct)
    return campaign, members


async def test_breakdown__reads_tallies_and_members_columns_never_supports_or_documents(engine, sessions, uris):
    """Captured at the cursor: no statement of ``breakdown`` names ``campaign_supports`` or the
    actors' ``document`` or key columns, and it answers plain members (not ORM actors) with the
    columns its readers show."""
    async with transaction(sessions) as s:
        campaign, members = await _campaign_with_supports(s, uris)
        expected = {(m.ap_id, m.id, m.username, m.name, m.domain) for m in members}
    statements: list[str] = []

    def capture(_conn, _cursor, statement, _parameters, _context, _executemany):
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with sessions() as s:
            shares = await campaigns.breakdown(s, campaign)
            assert not [key for key in s.identity_map.keys() if key[0] is Actor], "actors loaded as ORM rows"
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    assert statements, "breakdown ran no statement"
    for statement in statements:
        assert "campaign_supports" not in statement, statement
        assert "document" not in statement, statement
        assert "public_key_pem" not in statement and "private_key_pem" not in statement, statement
    assert all(DOCUMENT_MARK not in repr(share) for share in shares)
    assert {(sh.member.ap_id, sh.member.id, sh.member.username, sh.member.name, sh.member.domain)
            for sh in shares if sh.member} == expected
    assert {(sh.member.username if sh.member else None, sh.language, sh.supports) for sh in shares} == {
        ("ngo", "fr", 1), ("wwf", "de", 1), (None, "fr", 1)}
    member = next(sh.member for sh in shares if sh.member)
    assert {f.name for f in dataclasses.fields(member)} == {"id", "ap_id", "username", "name", "domain"}
