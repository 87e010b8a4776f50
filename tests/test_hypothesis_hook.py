"""st.from_type(CaseProfile) draws rule-aware profiles, through hypothesis' entry point."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from referral_engine import CaseProfile
from tests.conftest import examples


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return result.stdout.strip()


@given(st.from_type(CaseProfile))
@settings(max_examples=examples(30), deadline=None)
def test_from_type_draws_valid_profiles(profile: CaseProfile) -> None:
    """st.from_type(CaseProfile) gives validated profiles (not a crash, not only empty ones)."""
    assert isinstance(profile, CaseProfile)
    assert CaseProfile.model_validate(profile.model_dump()) == profile


def test_from_type_draws_profiles_with_known_fields() -> None:
    """Among the drawn profiles some know a residence status, some a municipality of the rule set."""
    seen: list[CaseProfile] = []

    @given(st.from_type(CaseProfile))
    @settings(max_examples=50, deadline=None, database=None)  # not scaled: the assertion needs them
    def collect(profile: CaseProfile) -> None:
        seen.append(profile)

    collect()
    assert any(p.residence_status is not None for p in seen)
    assert any(p.municipality is not None for p in seen)


@pytest.mark.parametrize(
    "first",
    [pytest.param("hypothesis", id="hypothesis-first"), pytest.param("referral_engine", id="library-first")],
)
def test_registration_works_in_either_import_order(first: str) -> None:
    """Whichever of hypothesis and referral_engine is imported first, from_type(CaseProfile) works."""
    code = (
        f"import {first}\n"
        "import referral_engine, hypothesis\n"
        "from hypothesis import strategies as st\n"
        "print(type(st.from_type(referral_engine.CaseProfile).example()).__name__)\n"
    )
    assert _run(code) == "CaseProfile"


def test_neither_package_imports_the_other() -> None:
    """Importing referral_engine does not import hypothesis, nor the other way round."""
    assert _run("import referral_engine, sys; print('hypothesis' in sys.modules)") == "False"
    assert _run("import hypothesis, sys; print('referral_engine' in sys.modules)") == "False"
