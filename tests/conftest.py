"""Shared fixtures: where the repository's files are, and the small rule set tests build on."""

from __future__ import annotations

from pathlib import Path

import pytest

from referral_engine import Ruleset, load_ruleset

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture(scope="session")
def minimal_ruleset() -> Ruleset:
    """The small valid rule set in tests/fixtures/minimal."""
    return load_ruleset(FIXTURES / "minimal")
