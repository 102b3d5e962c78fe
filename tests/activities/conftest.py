"""Options of the activities tests: ``--update-golden`` (or UPDATE_GOLDEN=1) rewrites golden files."""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/activities/golden/*.json from the converters instead of comparing",
    )


@pytest.fixture
def update_golden(request) -> bool:
    """True when golden documents are to be rewritten rather than compared."""
    option = request.config.getoption("--update-golden", default=False)
    return bool(option) or os.environ.get("UPDATE_GOLDEN") == "1"
