"""Civic Node's domain and storage: config, models, services, uris."""

__version__ = "0.1.0"
