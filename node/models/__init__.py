"""SQLAlchemy models of the node; Alembic migrations in node/migrations track them."""

from node.models.accounts_security import AccountState, RateCounter
from node.models.actors import Actor, Membership, User
from node.models.base import Base, utcnow
from node.models.budgets import (
    Ballot,
    BallotProject,
    Budget,
    BudgetDistrict,
    BudgetProject,
    BudgetProjectComment,
    BudgetProjectSupport,
)
from node.models.coalitions import (
    COALITION_ROLES,
    Campaign,
    CampaignDay,
    CampaignSupport,
    CampaignTally,
    CampaignVariant,
    Coalition,
    CoalitionMember,
    CoalitionStates,
    VariantSupport,
)
from node.models.community import (
    STAKEHOLDER_ROLES,
    Article,
    DailyVisits,
    Initiative,
    InitiativeAction,
    Stakeholder,
)
from node.models.content import Note
from node.models.federation import (
    Activity,
    Delivery,
    DeliveryStates,
    DomainAllow,
    DomainBlock,
    Follow,
    FollowStates,
    InboxActivity,
    InboxRefusal,
    InboxStates,
    OutboxEvent,
)
from node.models.legal import LEGAL_KINDS, LegalText
from node.models.membership import (
    CensusEntry,
    MemberVerification,
    VerificationCode,
    VerificationSalt,
)
from node.models.moderation import (
    AccountRestriction,
    AccountRestrictions,
    HiddenContent,
    ModerationLogEntry,
    ModerationSetting,
    Report,
    ReportStates,
)
from node.models.participation import (
    Agreement,
    Contribution,
    Discussion,
    OrganizationProfile,
    Phase,
    Space,
)
from node.models.polls import Poll, PollOption, PollVote, PollVoter
from node.models.proposals import Proposal, ProposalStates, ProposalSupport, StateChange
from node.models.questionnaires import (
    Answer,
    Question,
    Questionnaire,
    QuestionnaireParticipant,
    QuestionnaireResponse,
)

__all__ = [
    "Answer", "Question", "Questionnaire", "QuestionnaireParticipant", "QuestionnaireResponse",
    "Poll", "PollOption", "PollVote", "PollVoter",
    "Ballot", "BallotProject", "Budget", "BudgetDistrict", "BudgetProject", "BudgetProjectComment",
    "BudgetProjectSupport",
    "COALITION_ROLES", "Campaign", "CampaignDay", "CampaignSupport", "CampaignTally",
    "CampaignVariant", "Coalition", "CoalitionMember", "CoalitionStates", "VariantSupport",
    "AccountState",
    "RateCounter",
    "AccountRestriction",
    "AccountRestrictions",
    "HiddenContent",
    "ModerationLogEntry",
    "ModerationSetting",
    "Report",
    "ReportStates",
    "Activity",
    "Agreement",
    "Article",
    "Contribution",
    "DailyVisits",
    "Discussion",
    "Initiative",
    "InitiativeAction",
    "OrganizationProfile",
    "Phase",
    "Proposal",
    "ProposalStates",
    "ProposalSupport",
    "STAKEHOLDER_ROLES",
    "Space",
    "Stakeholder",
    "StateChange",
    "Actor",
    "Base",
    "Delivery",
    "DeliveryStates",
    "DomainAllow",
    "DomainBlock",
    "Follow",
    "FollowStates",
    "InboxActivity",
    "InboxRefusal",
    "InboxStates",
    "LEGAL_KINDS",
    "LegalText",
    "CensusEntry", "MemberVerification", "VerificationCode", "VerificationSalt",
    "Membership",
    "Note",
    "OutboxEvent",
    "User",
    "utcnow",
]
