"""The breakdown part of the coalition bench (bench/bench_coalition.py): 100,000 supports of a
campaign seeded in bulk, then `campaigns.breakdown` timed and the plans of its statements read."""

from __future__ import annotations

import gc
import random
import re
import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import event, func, insert, select, update

from bench.coalition_world import LANGUAGES, Home, World, support_count
from node.db import is_sqlite, session_factory
from node.models import Actor, Campaign, CampaignDay, CampaignSupport, CampaignTally, utcnow
from node.services import campaigns

DIRECT_EVERY = 50  # 1 seeded support in 50 is a Like of the campaign itself (no member)
LONG_LIST = re.compile(r"'\{[0-9,]{40,}\}'")  # PostgreSQL's plans spell out ``IN (…)`` lists


def _upsert(engine):
    if is_sqlite(engine):
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    return dialect_insert


async def seed_supports(engine, home: Home, world: World, n: int) -> tuple[Counter, list[str]]:
    """``n`` supports of the seeded campaign by bulk INSERT (n new people on the member nodes),
    with the tallies, days and count upserted from what was inserted (as the reaction's tally hook
    keeps them one by one); then a recount of campaign_supports checked against them."""
    tallies: Counter[tuple[int, str]] = Counter()
    days: Counter = Counter()
    start, chunk = utcnow() - timedelta(days=30), 5_000
    rng = random.Random(10)
    async with engine.begin() as conn:
        for first in range(0, n, chunk):
            people = range(first, min(n, first + chunk))
            rows = await conn.execute(insert(Actor).returning(Actor.id, sort_by_parameter_order=True), [
                {"ap_id": f"{world.nodes[i % 5]}/users/s{i}", "type": "Person", "local": False,
                 "username": f"s{i}", "domain": world.nodes[i % 5].split("//", 1)[1], "name": "",
                 "summary": "", "manually_approves_followers": False, "discoverable": True,
                 "created_at": start} for i in people])
            supports = []
            for i, (actor_id,) in zip(people, rows.all(), strict=True):
                language = LANGUAGES[(i // len(world.members)) % len(LANGUAGES)]
                member = None if i % DIRECT_EVERY == 0 else world.members[i % len(world.members)].id
                when = start + timedelta(seconds=rng.randrange(30 * 86_400))
                supports.append({"ap_id": f"{world.nodes[i % 5]}/users/s{i}/likes/onvote",
                                 "campaign_id": home.seeded_id, "actor_id": actor_id,
                                 "variant_id": home.variants[(member, language)] if member else None,
                                 "member_id": member, "language": language,
                                 "relayed_by_id": member, "created_at": when})
                tallies[(member or 0, language)] += 1
                days[when.date()] += 1
            await conn.execute(insert(CampaignSupport), supports)
        upsert = _upsert(engine)
        statement = upsert(CampaignTally)
        await conn.execute(statement.on_conflict_do_update(
            index_elements=["campaign_id", "member_key", "language"],
            set_={"supports": CampaignTally.supports + statement.excluded.supports}),
            [{"campaign_id": home.seeded_id, "member_key": key, "language": lang, "supports": count}
             for (key, lang), count in tallies.items()])
        statement = upsert(CampaignDay)
        await conn.execute(statement.on_conflict_do_update(
            index_elements=["campaign_id", "day"], set_={"supports": CampaignDay.supports + statement.excluded.supports}),
            [{"campaign_id": home.seeded_id, "day": day, "supports": count} for day, count in days.items()])
        await conn.execute(update(Campaign).where(Campaign.id == home.seeded_id)
                           .values(support_count=Campaign.support_count + n))
    async with engine.connect() as conn:
        recount = dict(((key, lang), count) for key, lang, count in (await conn.execute(
            select(func.coalesce(CampaignSupport.member_id, 0), CampaignSupport.language, func.count())
            .where(CampaignSupport.campaign_id == home.seeded_id)
            .group_by(CampaignSupport.member_id, CampaignSupport.language))).all())
        stored = dict(((key, lang), count) for key, lang, count in (await conn.execute(
            select(CampaignTally.member_key, CampaignTally.language, CampaignTally.supports)
            .where(CampaignTally.campaign_id == home.seeded_id))).all())
        count = await support_count(engine, home.seeded_id)
        if not is_sqlite(engine):
            await conn.exec_driver_sql("ANALYZE")  # what autovacuum does after such an insert
            await conn.commit()  # statistics are kept only when their transaction commits
    problems = []
    if recount != stored:
        problems.append(f"tallies differ from a recount of campaign_supports in "
                        f"{sum(1 for k in recount.keys() | stored.keys() if recount.get(k) != stored.get(k))} rows")
    if not count == n == sum(recount.values()):
        problems.append(f"count {count}, recount {sum(recount.values())}, inserted {n}")
    return tallies, problems


async def time_breakdown(engine, home: Home, calls: int, expected: Counter) -> tuple[list[float], list[str], list[str]]:
    """Milliseconds of each ``campaigns.breakdown`` call (a new session each, as a page has), the
    plan of each statement it runs, and what its answer got wrong against ``expected``."""
    sessions = session_factory(engine)
    async with sessions() as s:
        campaign = await s.get(Campaign, home.seeded_id)
    statements: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _executemany):
        statements.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    async with sessions() as s:
        shares = await campaigns.breakdown(s, campaign)
    event.remove(engine.sync_engine, "before_cursor_execute", capture)
    got = Counter({(share.member.id if share.member else 0, share.language): share.supports for share in shares})
    problems = [] if got == expected else [f"breakdown answered {len(got)} shares, {sum(got.values())} supports; "
                                           f"expected {len(expected)}, {sum(expected.values())}"]
    if any("campaign_supports" in statement for statement, _ in statements):
        problems.append("a statement of the breakdown reads campaign_supports")
    explain = "EXPLAIN QUERY PLAN" if is_sqlite(engine) else "EXPLAIN"
    async with engine.connect() as conn:
        held = (await conn.execute(select(func.count()).select_from(CampaignTally))).scalar_one()
        plans = [f"(campaign_tallies holds {held:,} rows, {len(expected):,} of them this campaign's; "
                 "a planner may read so small a table whole)"]
        for statement, parameters in statements:
            plan = (await conn.exec_driver_sql(f"{explain} {statement}", parameters)).all()
            details = LONG_LIST.sub(lambda m: f"'{{…{m.group(0).count(',') + 1} ids}}'",
                                    " | ".join(str(row[-1]).strip() for row in plan))
            head = " ".join(statement.split())[:90]
            plans.append(f"`{head}…` → {details}")
    gc.collect()  # what this process made before (signed requests, seeding) is not a web process's
    for _ in range(5):  # warm-up (connections, statement caches)
        async with sessions() as s:
            await campaigns.breakdown(s, campaign)
    times = []
    for _ in range(calls):
        began = time.perf_counter()
        async with sessions() as s:
            await campaigns.breakdown(s, campaign)
        times.append((time.perf_counter() - began) * 1000)
    return times, plans, problems
