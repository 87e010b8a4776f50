"""Shared fixtures: where the repository's files are, and the small rule set tests build on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from referral_engine import Ruleset, load_ruleset

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture(scope="session")
def minimal_ruleset() -> Ruleset:
    """The small valid rule set in tests/fixtures/minimal."""
    return load_ruleset(FIXTURES / "minimal")


def edited_rules(target: Path, file: str, old: str, new: str, count: int = -1) -> Path:
    """A copy of the bundled rules in ``target/rules`` with ``old`` replaced by ``new`` in ``file``.

    ``count`` replacements (-1: every one); ``old`` must occur in the file, so a seed cannot
    silently stop applying when the bundled rules change.
    """
    folder = target / "rules"
    shutil.copytree(REPO / "rules", folder)
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text, f"edit does not apply: {old!r} not in {file}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return folder
