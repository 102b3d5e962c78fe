"""Demo content for `civic demo` / `make run`: a believable node to click through."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from node.db import transaction
from node.services import actors, notes
from node.uris import Uris

DEMO_PASSWORD = "civic-demo-2026"

ORGANISATIONS = [
    ("lyon", "Ville de Lyon",
     "La Ville de Lyon consulte ses habitants sur les projets qui transforment leurs quartiers, "
     "dont le réaménagement du Clos Jouve."),
    ("nice", "Métropole Nice Côte d'Azur",
     "La Métropole associe les habitants de ses 51 communes aux décisions sur la mobilité, "
     "l'environnement et la ville intelligente."),
]
ANNOUNCEMENTS = {
    "lyon": ["<p>La concertation sur le réaménagement du Clos Jouve est ouverte : venez donner "
             "votre avis sur les usages de la place.</p>"],
    "nice": ["<p>Nouvelle discussion officielle : comment améliorer les déplacements doux sur la "
             "Promenade des Anglais ?</p>"],
}
USERS = [
    ("admin", "Node administrator", None, "node admin"),
    ("lyon_admin", "Équipe participation Lyon", "lyon", "admin of lyon"),
    ("nice_admin", "Service démocratie locale Nice", "nice", "admin of nice"),
    ("camille", "Camille (Croix-Rousse)", None, "resident"),
]


async def _seed(session: AsyncSession, uris: Uris) -> None:
    for handle, name, summary in ORGANISATIONS:
        if await actors.local_actor(session, handle) is None:
            org = await actors.create_organization(session, uris, handle, name, summary)
            for content in ANNOUNCEMENTS[handle]:
                await notes.publish_announcement(session, uris, org, content)
    for handle, name, org_handle, _ in USERS:
        if await actors.local_actor(session, handle) is not None:
            continue
        user = await actors.create_user(session, uris, handle, DEMO_PASSWORD, name,
                                        is_admin=handle == "admin")
        if org_handle:
            org = await actors.require_local_actor(session, org_handle, "Organization")
            await actors.add_member(session, user, org, "admin")


async def seed_demo(sessions: async_sessionmaker[AsyncSession], uris: Uris) -> list[tuple[str, str, str]]:
    """Create the demo organisations, users and posts (idempotent); return the demo logins."""
    async with transaction(sessions) as session:
        await _seed(session, uris)
    return [(handle, DEMO_PASSWORD, role) for handle, _, _, role in USERS]
