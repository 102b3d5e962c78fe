"""A coalition's home counts a burst of relayed supports a batch at a time
(federation/inbound/batches.py, federation/inbound/campaign_batches.py): the same supports,
counters, tallies and outcomes as one by one, and every row the batch cannot settle gets its own
handler's outcome."""

from __future__ import annotations

from sqlalchemy import func, select

from federation.inbound import batches
from node.models import CampaignSupport, CampaignTally, InboxActivity
from node.services import campaigns
from tests.federation.participation_scene import outcome_of
from tests.federation.test_campaign_federation import _home_with_member, _relay


async def _post_all(node, remote, org, docs: list[dict]) -> None:
    """POST every relay before processing any, so that they meet in one batch."""
    for doc in docs:
        status, body = await remote.post(f"{node.base}/actors/blue/inbox", doc, org)
        assert status == 202, body
    await node.step()


async def _state(node, campaign_id: str) -> tuple[int, int, dict]:
    async with node.rt.sessions() as s:
        campaign = await campaigns.by_ap_id(s, campaign_id)
        rows = await s.scalar(select(func.count()).select_from(CampaignSupport)
                              .where(CampaignSupport.campaign_id == campaign.id))
        tallies = dict((await s.execute(select(CampaignTally.member_key, CampaignTally.supports)
                                        .where(CampaignTally.campaign_id == campaign.id))).all())
    return campaign.support_count, rows, tallies


async def test_batch__a_burst_of_relays_counts_each_person_once_with_one_by_one_outcomes(node, remote, monkeypatch):
    campaign_id, acme, variant = await _home_with_member(node, remote)
    taken: list[int] = []
    settle = batches.settle

    async def counting(rt, session, offered):
        settled = await settle(rt, session, offered)
        taken.append(len(settled))
        return settled

    monkeypatch.setattr(batches, "settle", counting)
    people = [f"https://people.example/users/p{i}" for i in range(12)]
    docs = [_relay(acme, i + 1, f"{who}#likes/1", who, variant) for i, who in enumerate(people)]
    docs.append(_relay(acme, 50, f"{people[0]}#likes/2", people[0], variant))  # p0 again, another Like
    docs.append(_relay(acme, 51, f"{people[1]}#likes/1", people[1], variant))  # p1's Like relayed twice
    docs.append(_relay(acme, 52, "https://people.example/users/x#likes/1",  # not a variant of acme's
                       "https://people.example/users/x", f"{acme.ap_id}/variants/unknown"))
    docs.append(_relay(acme, 53, f"{acme.ap_id}#likes/9", "https://people.example/users/y", variant))
    await _post_all(node, remote, acme, docs)

    assert sum(taken) >= 2, "the batch path never settled anything"
    outcomes = [await outcome_of(node, doc["id"]) for doc in docs]
    assert outcomes[:12] == [("processed", "support recorded")] * 12
    assert outcomes[12] == ("processed", "ignored: already supported")
    assert outcomes[13] == ("processed", "ignored: this id is already recorded")
    assert outcomes[14] == ("processed", "ignored: no variant of this organisation is known here")
    assert outcomes[15][0] == "failed" and "not on its actor's host" in outcomes[15][1]
    async with node.rt.sessions() as s:
        acme_id = (await s.scalar(select(CampaignSupport.member_id).limit(1)))
        pending = await s.scalar(select(func.count()).select_from(InboxActivity)
                                 .where(InboxActivity.state == "received"))
    assert pending == 0
    assert await _state(node, campaign_id) == (12, 12, {acme_id: 12})


async def test_batch__a_failing_batch_leaves_every_row_to_its_own_handler(node, remote, monkeypatch):
    campaign_id, acme, variant = await _home_with_member(node, remote)

    async def broken(session, items):
        raise RuntimeError("a bug in the batch path")

    from federation.inbound import campaign_batches
    monkeypatch.setattr(campaign_batches, "count_relayed", broken)
    people = [f"https://people.example/users/q{i}" for i in range(5)]
    docs = [_relay(acme, i + 1, f"{who}#likes/1", who, variant) for i, who in enumerate(people)]
    await _post_all(node, remote, acme, docs)
    assert [await outcome_of(node, doc["id"]) for doc in docs] == [("processed", "support recorded")] * 5
    count, rows, tallies = await _state(node, campaign_id)
    assert (count, rows, sum(tallies.values())) == (5, 5, 5)


async def test_batch__supports_counted_already_are_left_to_their_handler(node, remote):
    campaign_id, acme, variant = await _home_with_member(node, remote)
    who = "https://people.example/users/r"
    await _post_all(node, remote, acme, [_relay(acme, 1, f"{who}#likes/1", who, variant)])
    others = [f"https://people.example/users/s{i}" for i in range(3)]
    docs = [_relay(acme, 2, f"{who}#likes/1", who, variant)] + \
        [_relay(acme, 3 + i, f"{o}#likes/1", o, variant) for i, o in enumerate(others)]
    await _post_all(node, remote, acme, docs)
    assert [await outcome_of(node, d["id"]) for d in docs] == \
        [("processed", "ignored: this id is already recorded")] + [("processed", "support recorded")] * 3
    count, rows, tallies = await _state(node, campaign_id)
    assert (count, rows, sum(tallies.values())) == (4, 4, 4)
