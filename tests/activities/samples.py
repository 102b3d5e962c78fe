"""In-memory model instances for converter tests: one organisation, its discussion and content."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from node.models import (
    Actor,
    Article,
    Contribution,
    Discussion,
    Initiative,
    Note,
    Proposal,
    ProposalStates,
    Stakeholder,
)
from node.uris import Uris

BASE = "https://civic.example"
URIS = Uris(BASE)
# One real RSA-2048 public key for every sample actor (golden documents only; no private key).
PEM = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqvNCbu/MvqBI2acLZnwq\n"
    "f+AiPSpbIJsT8R/4ZiKHDiVkNJtLSVkhE5is8wVOaUlzLWZUl7/pBHkFSxKwlmnm\n"
    "M4QmVF7m//I+sS35s8ahB8xFJCqjyLQ7ikxvicxJMLQbb3QwcCSVEqhRMzj0R/wR\n"
    "xoBXhTOESBAR3EGLug3PKtkP8UPwtMOS0wNshDp8TnVGrrdZhlN9SCJ8jHBJ4H3A\n"
    "NT1sl0E/XXQBoUE69aCwJ51F88Zb6f3ouTybOtqx8SFGQJbLy1M3QF94FIeu57Y8\n"
    "rbfn6d4f9lb6adCqNWN0BDZHpvRne5t+yzBEualmml49k9+bx8EtdVMmL5AAIXu+\n"
    "XwIDAQAB\n"
    "-----END PUBLIC KEY-----\n"
)
# Participation URLs as node/uris.py builds them (ids double as the URLs of the HTML pages).
PAGE = f"{BASE}/orgs/lyon/discussions/clos-jouve"
REMOTE_FOLLOWER = "https://mastodon.example/users/camille"


def at(day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def local_actor(type_: str, username: str, name: str, summary: str = "", **extra) -> Actor:
    ap_id = URIS.actor(username) if username != "instance.actor" else URIS.instance_actor()
    fields = {
        "ap_id": ap_id,
        "type": type_,
        "local": True,
        "username": username,
        "domain": URIS.domain,
        "name": name,
        "summary": summary,
        "url": ap_id,
        "inbox": f"{ap_id}/inbox",
        "shared_inbox": URIS.shared_inbox(),
        "outbox": f"{ap_id}/outbox",
        "followers_url": f"{ap_id}/followers",
        "key_id": URIS.actor_key(ap_id),
        "public_key_pem": PEM,
        "manually_approves_followers": False,
        "discoverable": True,
        "created_at": at(1),
    }
    fields.update(extra)
    return Actor(**fields)


@dataclass
class World:
    """Everything the golden documents are built from; a fresh copy per call (tests mutate)."""

    instance: Actor
    org: Actor
    alice: Actor
    marc: Actor
    group: Actor
    discussion: Discussion
    closed: Discussion
    closed_group: Actor
    announcement: Note
    contribution: Contribution
    reply: Contribution
    proposal: Proposal
    accepted: Proposal
    article: Article
    report: Article
    initiative: Initiative
    stakeholder: Stakeholder

    @property
    def moderators(self) -> str:
        return f"{self.group.ap_id}/moderators"


def world() -> World:
    instance = local_actor(
        "Application", "instance.actor", "Civic Node", url=URIS.home(), discoverable=False
    )
    org = local_actor(
        "Organization",
        "lyon",
        "Ville de Lyon",
        "<p>La participation citoyenne de la Ville de Lyon.</p>",
    )
    alice = local_actor("Person", "alice", "Alice Martin")
    marc = local_actor("Person", "marc", "Marc Dubois", created_at=at(2))
    group = local_actor(
        "Group", "lyon.clos-jouve", "Réaménager le parc du Clos Jouve", url=PAGE, created_at=at(3)
    )
    discussion = Discussion(
        id=1,
        page_ap_id=PAGE,
        slug="clos-jouve",
        kind="official",
        moderation="approved",
        status="open",
        title={"fr": "Réaménager le parc du Clos Jouve", "en": "Redesigning Clos Jouve park"},
        summary={"fr": "Quels usages pour le parc rénové ?"},
        body={"fr": "La Ville rénove le parc en 2027.\n\nDites-nous ce qui compte pour vous."},
        conclusion={},
        visibility="public",
        alignment_enabled=True,
        support_threshold=5,
        official_only=False,
        created_at=at(3),
        closed_at=None,
    )
    closed_page = f"{BASE}/orgs/lyon/discussions/pistes-cyclables"
    closed_group = local_actor(
        "Group", "lyon.pistes-cyclables", "Pistes cyclables", url=closed_page, created_at=at(4)
    )
    closed = Discussion(
        id=2,
        page_ap_id=closed_page,
        slug="pistes-cyclables",
        kind="citizen",
        moderation="approved",
        status="closed",
        title={"fr": "Des pistes cyclables rue Garibaldi"},
        summary={},
        body={"fr": "Je propose une piste cyclable protégée."},
        conclusion={"fr": "La piste sera construite en 2027.\n\nMerci à tous."},
        visibility="unlisted",
        alignment_enabled=False,
        support_threshold=5,
        official_only=False,
        created_at=at(4),
        closed_at=at(20, 17),
    )
    announcement = Note(
        ap_id=URIS.note("4f1c2b"),
        content="<p>Le conseil municipal se réunit jeudi à 18 h.</p>",
        summary=None,
        url=None,
        in_reply_to=None,
        context=None,
        visibility="public",
        language="fr",
        published=at(5, 10),
        updated=None,
    )
    contribution = Contribution(
        ap_id=f"{BASE}/contributions/9a7e01",
        depth=1,
        local=True,
        content="<p>Plus d’ombre et des bancs, s’il vous plaît.</p>",
        url=None,
        alignment="favour",
        agree_count=3,
        quality_recognised=True,
        impact=False,
        official=False,
        hidden=False,
        published=at(6, 8, 30),
        updated=None,
    )
    reply = Contribution(
        ap_id=f"{BASE}/contributions/9a7e02",
        depth=2,
        local=True,
        content="<p>Nous prévoyons 40 arbres supplémentaires.</p>",
        url=None,
        alignment=None,
        agree_count=0,
        quality_recognised=False,
        impact=True,
        official=True,
        hidden=False,
        published=at(7, 14),
        updated=at(7, 15),
    )
    proposal = Proposal(
        ap_id=f"{BASE}/proposals/p1c3",
        title="Un jardin partagé au Clos Jouve",
        body="<p>Créer un <strong>jardin partagé</strong> de 300 m² près de l’aire de jeux.</p>"
        "<p>Les écoles du quartier pourraient y tenir des ateliers.</p>",
        language="fr",
        state=ProposalStates.published,
        support_count=12,
        answer=None,
        created_at=at(8),
        published_at=at(8, 9, 5),
        updated_at=None,
    )
    accepted = Proposal(
        ap_id=f"{BASE}/proposals/p2d4",
        title="Des fontaines à eau potable",
        body="<p>Installer deux fontaines à eau potable près des terrains de sport.</p>",
        language="fr",
        state=ProposalStates.accepted,
        support_count=57,
        answer="<p>Accepté : deux fontaines seront installées au printemps.</p>",
        answer_state="published",
        answer_published_at=at(15, 11),
        created_at=at(9),
        published_at=at(9, 10),
        updated_at=at(15, 11),
    )
    article = Article(
        ap_id=f"{BASE}/articles/a1",
        title="Ce que disent les riverains",
        summary="",
        link=None,
        body="<p>Une synthèse des <em>trois réunions</em> publiques de février.</p>",
        kind="article",
        created_at=at(10),
    )
    report = Article(
        ap_id=f"{BASE}/articles/a2",
        title="Rapport sur les îlots de chaleur",
        summary="L’étude 2025 de la Métropole sur les îlots de chaleur urbains.",
        link="https://data.example.org/ilots-de-chaleur-2025.pdf",
        body="",
        kind="report",
        created_at=at(11),
    )
    initiative = Initiative(
        ap_id=f"{BASE}/initiatives/i1",
        title="Plantons des arbres samedi",
        body="<p>Rendez-vous samedi à 10 h à l’entrée du parc, gants fournis.</p>",
        link="https://asso.example.org/plantation",
        acted_count=23,
        created_at=at(12),
    )
    stakeholder = Stakeholder(
        role="association", description="Association des riverains du 8e", created_at=at(13)
    )
    return World(
        instance=instance,
        org=org,
        alice=alice,
        marc=marc,
        group=group,
        discussion=discussion,
        closed=closed,
        closed_group=closed_group,
        announcement=announcement,
        contribution=contribution,
        reply=reply,
        proposal=proposal,
        accepted=accepted,
        article=article,
        report=report,
        initiative=initiative,
        stakeholder=stakeholder,
    )
