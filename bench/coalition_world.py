"""The coalition bench's world (bench/bench_coalition.py): 250 member organisations on 5 member
nodes, the processes that serve them and the home, the home's seeding, and the signed relays."""

from __future__ import annotations

import asyncio
import cProfile
import json
import signal
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from sqlalchemy import event, insert, select, update

from bench.load import HOST, free_port
from civic.app import create_app
from federation.runtime import RUNTIME
from federation.signatures import sign_headers
from node.config import Settings
from node.db import session_factory, transaction
from node.keys import generate_rsa_keypair
from node.migrate import upgrade
from node.models import (
    Actor,
    Campaign,
    CampaignVariant,
    CoalitionMember,
    CoalitionStates,
    OutboxEvent,
    utcnow,
)
from node.services import actors, campaigns, coalitions
from node.uris import Uris

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = f"{AS}#Public"
NODE_HOSTS = tuple(f"127.0.0.{11 + k}" for k in range(5))  # the member organisations' nodes
LANGUAGES = ("fr", "de", "en")
COALITION = "vote-anyway"


# --- the member nodes: their organisations, keys and supporters ------------------------------------

@dataclass
class Member:
    """A member organisation on one of the member nodes, and its variant of the live campaign."""
    ap_id: str
    node: str  # the member node's base URL
    language: str
    private_pem: str
    id: int = 0  # its actor row at the home
    variant: str = ""

    @property
    def key_id(self) -> str:
        return f"{self.ap_id}#main-key"


@dataclass
class World:
    """The 5 member nodes (one key pair each: every organisation has its own key id, and a
    signature costs the same to verify whoever's key it is) and their organisations."""
    nodes: list[str]
    keys: list[tuple[str, str]]  # (public, private) PEM per node
    members: list[Member] = field(default_factory=list)

    @classmethod
    def make(cls, count: int) -> World:
        nodes = [f"http://{host}:{free_port(host)}" for host in NODE_HOSTS]
        world = cls(nodes, [generate_rsa_keypair() for _ in nodes])
        for j in range(count):
            k = j % len(nodes)
            world.members.append(Member(f"{nodes[k]}/actors/org{j}", nodes[k], LANGUAGES[j % len(LANGUAGES)],
                                        world.keys[k][1]))
        return world

    def document(self, member: Member) -> dict:
        """The organisation's actor document, as its node serves it and the home stores it."""
        k = self.nodes.index(member.node)
        handle = member.ap_id.rsplit("/", 1)[1]
        return {"@context": [AS, "https://w3id.org/security/v1"], "id": member.ap_id, "type": "Organization",
                "preferredUsername": handle, "name": f"Company {handle[3:]}",
                "summary": "<p>A company of the alliance.</p>", "url": member.ap_id,
                "inbox": f"{member.ap_id}/inbox", "outbox": f"{member.ap_id}/outbox",
                "followers": f"{member.ap_id}/followers", "endpoints": {"sharedInbox": f"{member.node}/inbox"},
                "publicKey": {"id": member.key_id, "owner": member.ap_id, "publicKeyPem": self.keys[k][0]}}

    def documents(self) -> dict[str, dict]:
        return {member.ap_id: self.document(member) for member in self.members}


def serve_members(sites: list[tuple[str, int]], documents: dict[str, dict], ready) -> None:
    """The member nodes, in one process: GET of an organisation's id answers its document, any POST
    answers 202; GET /_bench/counts tells how many of each came (the home should fetch nothing)."""
    counts = {"GET": 0, "POST": 0}

    async def document(request: web.Request) -> web.Response:
        if request.path == "/_bench/counts":
            return web.json_response(counts)
        counts["GET"] += 1
        doc = documents.get(f"http://{request.host}{request.path}")
        if doc is None:
            raise web.HTTPNotFound()
        return web.json_response(doc, content_type="application/activity+json")

    async def inbox(request: web.Request) -> web.Response:
        await request.read()
        counts["POST"] += 1
        return web.Response(status=202)

    async def run() -> None:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_get("/{tail:.*}", document)
        app.router.add_post("/{tail:.*}", inbox)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for host, port in sites:
            await web.TCPSite(runner, host, port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(run())


# --- the home ----------------------------------------------------------------------------------------

def home_settings(base: str, url: str, data_dir: str) -> Settings:
    # 250 organisations on 5 hosts send thousands of relays in seconds: the per-host inbox limit
    # (3,600 a minute by default) is raised, as bench/bench_inbox.py does, so that the bench
    # measures counting and not the 429 path; the limiter's counting still runs.
    return Settings(base_url=base, database_url=url, data_dir=Path(data_dir), development=True,
                    secret_key="bench", inbox_host_limit=10**9)


def serve_home(port: int, url: str, data_dir: str, profile: str | None, ready) -> None:
    """The home node as `civic serve` runs it: web, inbox and its processing in one process. With
    ``profile`` (a path), SIGUSR1 starts cProfile and a count of the SQL statements run, SIGUSR2
    writes the statistics to that path and the statements to PATH.statements.json."""
    app = create_app(home_settings(f"http://{HOST}:{port}", url, data_dir))
    if profile:
        profiler, statements = cProfile.Profile(), Counter()

        def count(_conn, _cursor, statement, _parameters, _context, _executemany):
            statements[" ".join(statement.split())[:160]] += 1

        def start() -> None:
            statements.clear()
            profiler.enable()

        def stop() -> None:
            profiler.disable()
            profiler.dump_stats(profile)
            Path(f"{profile}.statements.json").write_text(json.dumps(statements.most_common(), indent=1))

        async def on_signals(app: web.Application) -> None:
            event.listen(app[RUNTIME].sessions.kw["bind"].sync_engine, "before_cursor_execute", count)
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGUSR1, start)
            loop.add_signal_handler(signal.SIGUSR2, stop)

        app.on_startup.append(on_signals)
    ready.set()
    web.run_app(app, host=HOST, port=port, print=None, access_log=None)


def serve_web(port: int, url: str, data_dir: str, ready) -> None:
    """The home's web process as `civic serve --no-worker` runs it: HTTP and the inbox's door,
    no background work (PostgreSQL: the worker beside it processes what it stores)."""
    app = create_app(home_settings(f"http://{HOST}:{port}", url, data_dir), background=False)
    ready.set()
    web.run_app(app, host=HOST, port=port, print=None, access_log=None)


def serve_worker(port: int, url: str, data_dir: str, ready) -> None:
    """The home's `civic worker` (civic/cli.py cmd_worker): inbox processing, fan-out and delivery,
    woken by the web process's NOTIFY."""
    from civic.app import build_runtime, close_runtime, run_background
    from federation.policy import keep_blocks
    from node.db import listen

    async def run() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        rt, engine = await build_runtime(home_settings(f"http://{HOST}:{port}", url, data_dir))
        ready.set()
        try:
            await asyncio.gather(run_background(rt, stop), listen(engine, rt.on_change, stop, ready=rt.listening),
                                 keep_blocks(rt, stop))
        finally:
            await close_runtime(rt, engine)

    asyncio.run(run())


@dataclass
class Home:
    """What the seeding made at the home."""
    coalition: str  # the coalition's actor id
    inbox: str
    live_id: int  # the campaign the supports of the timed runs go to
    live_url: str
    seeded_id: int  # the campaign of the breakdown
    variants: dict[tuple[int, str], int]  # (member row id, language) → the seeded campaign's variant


def _texts(name: str) -> dict:
    return {"name": {"fr": f"{name} — votez", "de": f"{name} — wählt", "en": f"{name} — vote"},
            "summary": {lang: "Go and vote, whatever you vote." for lang in LANGUAGES},
            "content": {lang: "<p>" + "Every vote counts. " * 20 + "</p>" for lang in LANGUAGES}}


async def seed_home(engine, base: str, world: World) -> Home:
    """The coalition and its two campaigns through the services (keys, profiles, events), the
    member organisations, their memberships and variants as Core bulk inserts (what the home
    stores from their documents, Joins and Create{Page}s)."""
    await upgrade(engine)
    uris = Uris(base)
    async with transaction(session_factory(engine)) as s:
        founder = await actors.create_organization(s, uris, "founders", "The founding companies")
        coalition = await coalitions.create(s, uris, COALITION, "Vote Anyway", founder=founder,
                                            languages=LANGUAGES)
        group = coalition.actor
        live = await campaigns.create(s, uris, group, **_texts("Vote Anyway"))
        seeded = await campaigns.create(s, uris, group, **_texts("On Vote"))
        home = Home(group.ap_id, f"{group.ap_id}/inbox", live.id, live.ap_id, seeded.id, {})
        group_id = group.id
    now = utcnow()
    async with engine.begin() as conn:
        rows = await conn.execute(insert(Actor).returning(Actor.id, sort_by_parameter_order=True), [
            {"ap_id": m.ap_id, "type": "Organization", "local": False, "username": doc["preferredUsername"],
             "domain": m.node.split("//", 1)[1], "name": doc["name"], "summary": doc["summary"],
             "url": m.ap_id, "inbox": doc["inbox"], "shared_inbox": doc["endpoints"]["sharedInbox"],
             "outbox": doc["outbox"], "followers_url": doc["followers"], "key_id": m.key_id,
             "public_key_pem": doc["publicKey"]["publicKeyPem"], "manually_approves_followers": False,
             "discoverable": True, "document": doc, "fetched_at": now, "created_at": now}
            for m, doc in ((m, world.document(m)) for m in world.members)])
        for member, (row_id,) in zip(world.members, rows.all(), strict=True):
            member.id = row_id
            member.variant = f"{member.node}/variants/org{row_id}-{member.language}"
        await conn.execute(insert(CoalitionMember), [
            {"coalition_id": group_id, "member_id": m.id, "role": "member", "state": CoalitionStates.accepted,
             "activity_ap_id": f"{m.ap_id}/join", "created_at": now, "accepted_at": now} for m in world.members])
        variant = {"local": False, "content": "<p>" + "Our people vote. " * 15 + "</p>", "support_count": 0,
                   "created_at": now}
        await conn.execute(insert(CampaignVariant), [
            {**variant, "ap_id": m.variant, "campaign_id": home.live_id, "organization_id": m.id,
             "language": m.language, "name": f"Vote Anyway at {m.ap_id.rsplit('/', 1)[1]}"}
            for m in world.members])
        rows = await conn.execute(insert(CampaignVariant).returning(
            CampaignVariant.id, CampaignVariant.organization_id, CampaignVariant.language,
            sort_by_parameter_order=True), [
            {**variant, "ap_id": f"{m.node}/variants/onvote-org{m.id}-{lang}", "campaign_id": home.seeded_id,
             "organization_id": m.id, "language": lang, "name": f"On Vote ({lang})"}
            for m in world.members for lang in LANGUAGES])
        home.variants = {(org, lang): vid for vid, org, lang in rows.all()}
        # The campaigns were published before anyone supports them: their Create{Page} to the
        # members is not part of this bench (marked sent, so the fan-out stays quiet).
        await conn.execute(update(OutboxEvent).where(OutboxEvent.processed_at.is_(None)).values(processed_at=now))
    return home


# --- relayed supports ------------------------------------------------------------------------------

class Relays:
    """Signed `Announce{Like}`s: relay number i is from organisation i % members, for a person of
    its node who liked its variant; every relay is a new person."""

    def __init__(self, world: World, home: Home):
        self.world, self.home, self.sent = world, home, 0
        self.per_member: Counter[int] = Counter()  # relays sent per member row id

    def body(self, i: int) -> tuple[Member, bytes]:
        member = self.world.members[i % len(self.world.members)]
        person = f"{member.node}/users/p{i}"
        like = {"id": f"{person}/likes/{i}", "type": "Like", "actor": person, "object": member.variant}
        doc = {"@context": AS, "id": f"{member.ap_id}/relays/{i}", "type": "Announce", "actor": member.ap_id,
               "to": [self.home.coalition], "cc": [PUBLIC], "object": like,
               "published": utcnow().isoformat().replace("+00:00", "Z")}
        return member, json.dumps(doc).encode()

    def signed(self, n: int) -> list[tuple[bytes, dict]]:
        """The next ``n`` relays to the home's coalition inbox, signed now (not measured)."""
        out = []
        for i in range(self.sent, self.sent + n):
            member, body = self.body(i)
            self.per_member[member.id] += 1
            out.append((body, sign_headers("POST", self.home.inbox, body, member.key_id, member.private_pem)))
        self.sent += n
        return out

    def for_raw(self, url: str, start: int, n: int) -> list[tuple[bytes, dict]]:
        """The same bodies for the raw receiver, signed with the key it checks against (the first
        member's: it verifies every request against that one key)."""
        first = self.world.members[0]
        return [(body, sign_headers("POST", url, body, first.key_id, first.private_pem))
                for _, body in (self.body(i) for i in range(start, start + n))]

async def support_count(engine, campaign_id: int) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(Campaign.support_count).where(Campaign.id == campaign_id))).scalar_one()
