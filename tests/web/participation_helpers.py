"""Participation page tests: a cookie-keeping client and a world of organisation, people and discussions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
from multidict import CIMultiDictProxy
from sqlalchemy import update

from node.db import transaction
from node.models import Actor, Contribution, utcnow
from node.services import actors, community, contributions, discussions, follows, proposals, spaces
from tests.conftest import RunningNode

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"
HTML = "text/html"


@dataclass
class Reply:
    status: int
    headers: CIMultiDictProxy
    text: str

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    @property
    def csrf(self) -> str:
        match = CSRF_RE.search(self.text)
        assert match, "no CSRF token on this page"
        return match.group(1)


class Client:
    """A browser: keeps cookies (loopback included), reads CSRF tokens, never follows redirects."""

    def __init__(self, base: str, lang: str = "en", user_agent: str = "Mozilla/5.0 (X11; Linux) Firefox/128"):
        self.base = base
        self.session = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            headers={"Accept": HTML, "Accept-Language": lang, "User-Agent": user_agent})

    def path(self, url: str) -> str:
        return url[len(self.base):] if url.startswith(self.base) else url

    async def get(self, url: str, **headers: str) -> Reply:
        async with self.session.get(self.base + self.path(url), headers=headers, allow_redirects=False) as r:
            return Reply(r.status, r.headers, await r.text())

    async def post(self, url: str, data: dict, *, form: str | None = None, csrf: bool = True) -> Reply:
        """POST ``data``; the CSRF token is read from the page ``form`` (default: the home page)."""
        data = dict(data)
        if csrf:
            data["csrf_token"] = (await self.get(form or "/")).csrf
        async with self.session.post(self.base + self.path(url), data=data, allow_redirects=False) as r:
            return Reply(r.status, r.headers, await r.text())

    async def login(self, handle: str) -> None:
        reply = await self.post("/login", {"username": handle, "password": PASSWORD}, form="/login")
        assert reply.status == 303, reply.text[:500]

    async def close(self) -> None:
        await self.session.close()


@dataclass
class World:
    """Lyon (admin ``maire``, moderator ``modo``, official ``elu``), residents camille, dominique and
    eva; the official discussion clos-jouve (alignment on, supported at 2 agreements) with a thread,
    an article, a stakeholder and an initiative; a closed discussion; a pending citizen one."""

    org: Actor
    people: dict[str, Actor] = field(default_factory=dict)
    ids: dict[str, object] = field(default_factory=dict)


async def build_world(node: RunningNode) -> World:
    uris = node.uris
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.create_organization(s, uris, "lyon", "Ville de Lyon", "La ville")
        world = World(lyon)
        for handle, name, role in (("maire", "La maire", "admin"), ("modo", "Modération", "moderator"),
                                   ("elu", "Élu du 4e", "official"), ("camille", "Camille", None),
                                   ("dominique", "CDQ X-Rousse Ouest", None), ("eva", "Eva", None)):
            user = await actors.create_user(s, uris, handle, PASSWORD, name)
            if role:
                await actors.add_member(s, user, lyon, role)
            world.people[handle] = user.actor
        await spaces.update_profile(
            s, lyon, intro={"fr": "La Ville de Lyon consulte ses habitants.",
                            "en": "The City of Lyon consults its residents."},
            territory="Lyon 4e, 30 000 habitants", themes=["Nature en ville", "Mobilité"],
            primary_color="#7a1f3d", accent_color="#ffd34d")
        p = world.people
        disc = await discussions.open_discussion(
            s, uris, lyon, "clos-jouve", {"fr": "Transformez avec nous le Clos Jouve !",
                                          "en": "Transform the Clos Jouve with us!"},
            summary={"fr": "Un espace public ouvert à tous", "en": "A public space open to all"},
            body={"fr": "La fonction actuelle du Clos Jouve n'a pas changé depuis le XIXe siècle."},
            alignment_enabled=True, support_threshold=2)
        top = await contributions.contribute(s, uris, disc, p["camille"], "<p>Installation d'un composteur</p>",
                                             alignment="favour")
        reply = await contributions.contribute(s, uris, disc, p["dominique"], "<p>Les contraintes du compostage</p>",
                                               parent=top)
        deeper = await contributions.contribute(s, uris, disc, p["eva"], "<p>Le compostage en ville</p>", parent=reply)
        await contributions.agree(s, uris, top, p["dominique"])
        await contributions.agree(s, uris, top, p["eva"])
        await contributions.agree(s, uris, reply, p["camille"])
        await contributions.set_mark(s, reply, quality=True, impact=True)
        official = await contributions.contribute(s, uris, disc, p["maire"], "<p>Merci pour vos idées.</p>",
                                                  official=True)
        await community.add_article(s, uris, disc, p["camille"], "Le Clos-Jouve : un espace à réinventer",
                                    summary="Ce sera le plus gros projet du mandat.", body_html="<p>Texte</p>")
        await community.set_stakeholder(s, disc, p["dominique"], "association", "Conseil de quartier")
        initiative = await community.create_initiative(s, uris, disc, p["dominique"], "Propositions du CDQ",
                                                       "<p>Venez nous rejoindre.</p>", "https://mairie4.lyon.fr/")
        await community.act(s, uris, initiative, p["eva"])
        closed = await discussions.open_discussion(s, uris, lyon, "velos", {"en": "Bicycles on the slopes"})
        await discussions.close(s, closed, {"en": "Thank you: two new cycle lanes in 2026."})
        pending = await discussions.open_discussion(s, uris, lyon, "composteurs", {"en": "More compost bins"},
                                                    kind="citizen", author=p["camille"])
        await follows.request_follow(s, uris, p["eva"], lyon)
        world.ids.update(discussion=disc.id, top=top.id, reply=reply.id, deeper=deeper.id, official=official.id,
                         initiative=initiative.ap_id, closed=closed.id, pending=pending.id,
                         top_ap_id=top.ap_id)
        # One comment 40 days ago: the dashboard compares the last 30 days with the 30 before.
        await s.execute(update(Contribution).where(Contribution.id == official.id)
                        .values(published=utcnow() - timedelta(days=40)))
    return world


async def make_proposals(node: RunningNode, world: World, count: int) -> list[str]:
    """``count`` published proposals by camille with 0, 1, 2… supports (by residents created here)."""
    ap_ids = []
    async with transaction(node.rt.sessions) as s:
        camille = await s.get(Actor, world.people["camille"].id)
        supporters = [(await actors.create_user(s, node.uris, f"fan{i}", PASSWORD)).actor for i in range(4)]
        for i in range(count):
            proposal = await proposals.create(s, node.uris, world.org, camille, f"Idea number {i:02d}",
                                              f"<p>Body {i}</p>", publish=True)
            for supporter in supporters[: i % 5]:
                await proposals.support(s, node.uris, proposal, supporter)
            ap_ids.append(proposal.ap_id)
    return ap_ids
