"""Shared fixtures: the repository's files, the small rule set tests build on, hypothesis profiles.

Hypothesis profiles: ``dev`` (the default: a quarter of each test's examples, at least 10) and
``ci`` (every example each test asks for; ``.ci/run`` sets it), chosen with the environment
variable ``REFERRAL_ENGINE_HYPOTHESIS_PROFILE``. Tests state their example counts with
:func:`examples`, so that one variable scales them all.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

from referral_engine import Ruleset, load_ruleset

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"

#: The environment variable that chooses the hypothesis profile: ``dev`` (default) or ``ci``.
PROFILE_VARIABLE = "REFERRAL_ENGINE_HYPOTHESIS_PROFILE"
_SHARE = {"dev": 0.25, "ci": 1.0}
settings.register_profile("ci", max_examples=200, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=25, deadline=None)
PROFILE = os.environ.get(PROFILE_VARIABLE, "dev")
if PROFILE not in _SHARE:
    raise pytest.UsageError(f"{PROFILE_VARIABLE} must be one of: {', '.join(_SHARE)}")
settings.load_profile(PROFILE)


def examples(count: int) -> int:
    """``count`` hypothesis examples under the ``ci`` profile, a quarter (at least 10) under ``dev``."""
    return max(10, round(count * _SHARE[PROFILE])) if PROFILE == "dev" else count


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
