"""A node where resident amel wrote, reacted, followed and held a role, beside resident bob: the
scene of the export, erasure and retention tests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from node.models import Actor, Follow, FollowStates
from node.services import accounts, actors, community, contributions, discussions, proposals
from node.uris import Uris

PASSWORD = "amel-password-1"
REMOTE = "https://remote.example/users/zoe"


@dataclass
class Scene:
    amel_user_id: int
    amel: str  # actor ids
    bob: str
    zoe_inbox: str
    contribution: str  # amel's
    bob_contribution: str
    proposal: str
    bob_proposal: str
    article: str
    initiative: str
    bob_initiative: str
    discussion_id: int


async def build(session: AsyncSession, uris: Uris) -> Scene:
    lyon = await actors.create_organization(session, uris, "lyon", "Ville de Lyon")
    amel = await actors.create_user(session, uris, "amel", PASSWORD, "Amel Secret-Name",
                                    email="amel@example.org")
    bob = await actors.create_user(session, uris, "bob", "bob-password-1", "Bob Other-Person")
    await actors.add_member(session, amel, lyon, "official")
    await accounts.end_sessions(session, amel.id)  # an account_states row, with an epoch
    discussion = await discussions.open_discussion(session, uris, lyon, "parc", "Le parc",
                                                   summary="Le parc", body="Vos idées")
    mine = await contributions.contribute(session, uris, discussion, amel.actor,
                                          "<p>Amel's own words</p>")
    theirs = await contributions.contribute(session, uris, discussion, bob.actor,
                                            "<p>Bob's private thoughts</p>")
    await contributions.agree(session, uris, mine, bob.actor)
    await contributions.agree(session, uris, theirs, amel.actor)
    proposal = await proposals.create(session, uris, lyon, amel.actor, "Des bancs", "<p>Des bancs</p>",
                                      discussion_id=discussion.id, publish=True)
    bob_proposal = await proposals.create(session, uris, lyon, bob.actor, "Bob's fountain",
                                          "<p>Bob's fountain text</p>", discussion_id=discussion.id,
                                          publish=True)
    await proposals.support(session, uris, proposal, bob.actor)
    await proposals.support(session, uris, bob_proposal, amel.actor)
    article = await community.add_article(session, uris, discussion, amel.actor, "Amel's article",
                                          body_html="<p>Amel's article text</p>")
    initiative = await community.create_initiative(session, uris, discussion, amel.actor,
                                                   "Amel's cleanup", "<p>Amel's cleanup day</p>")
    bob_initiative = await community.create_initiative(session, uris, discussion, bob.actor,
                                                       "Bob's picnic", "<p>Bob's picnic day</p>")
    await community.act(session, uris, bob_initiative, amel.actor)
    await community.act(session, uris, initiative, bob.actor)
    await community.set_stakeholder(session, discussion, amel.actor, "resident", "Lives by the parc")
    zoe = Actor(ap_id=REMOTE, type="Person", local=False, username="zoe", domain="remote.example",
                name="Zoe Remote", inbox=f"{REMOTE}/inbox", shared_inbox="https://remote.example/inbox")
    session.add(zoe)
    await session.flush()
    session.add_all([
        Follow(ap_id=f"{REMOTE}#follows/amel", follower_id=zoe.id, followed_id=amel.actor.id,
               state=FollowStates.accepted),
        Follow(ap_id=uris.activity("amel-follows-zoe"), follower_id=amel.actor.id, followed_id=zoe.id,
               state=FollowStates.accepted),
    ])
    await session.flush()
    return Scene(amel.id, amel.actor.ap_id, bob.actor.ap_id, "https://remote.example/inbox",
                 mine.ap_id, theirs.ap_id, proposal.ap_id, bob_proposal.ap_id, article.ap_id,
                 initiative.ap_id, bob_initiative.ap_id, discussion.id)
