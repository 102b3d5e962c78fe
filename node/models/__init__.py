"""SQLAlchemy models of the node; Alembic migrations in node/migrations track them."""

from node.models.actors import Actor, Membership, User
from node.models.base import Base, utcnow
from node.models.content import Note
from node.models.federation import (
    Activity,
    Delivery,
    DeliveryStates,
    DomainBlock,
    Follow,
    FollowStates,
    InboxActivity,
    InboxStates,
    OutboxEvent,
)

__all__ = [
    "Activity",
    "Actor",
    "Base",
    "Delivery",
    "DeliveryStates",
    "DomainBlock",
    "Follow",
    "FollowStates",
    "InboxActivity",
    "InboxStates",
    "Membership",
    "Note",
    "OutboxEvent",
    "User",
    "utcnow",
]
