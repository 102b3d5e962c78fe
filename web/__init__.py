"""HTTP surface for people: pages, forms, sessions, CSRF and static files."""

from web.app import setup

__all__ = ["setup"]
