"""Participation spaces on the web: organisation pages, discussions, proposals, community, admin."""

from __future__ import annotations

from aiohttp import web

from federation.participation_objects import PAGE_CHECK
from web.participation import (
    admin,
    admin_discussions,
    budget_admin,
    budget_ballot,
    budgets,
    campaigns,
    coalitions,
    community,
    discussions,
    members,
    moderation,
    organisations,
    polls,
    proposals,
    questionnaire_admin,
    questionnaire_results,
    questionnaires,
    visits,
)
from web.participation.common import page_check


def setup(app: web.Application) -> None:
    """Register the participation routes and the visit counter (with its periodic flush)."""
    organisations.add_routes(app)
    discussions.add_routes(app)
    community.add_routes(app)
    proposals.add_routes(app)
    admin.add_routes(app)
    admin_discussions.add_routes(app)
    moderation.add_routes(app)
    members.add_routes(app)
    coalitions.add_routes(app)
    campaigns.add_routes(app)
    polls.add_routes(app)
    questionnaires.add_routes(app)
    questionnaire_results.add_routes(app)
    questionnaire_admin.add_routes(app)
    budgets.add_routes(app)
    budget_ballot.add_routes(app)
    budget_admin.add_routes(app)
    visits.setup(app)
    app[PAGE_CHECK] = page_check  # who may be sent to an object's page (SECURITY.md rule 24)


__all__ = ["setup"]
