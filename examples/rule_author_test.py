"""A rule author's tests, kept next to the rules they test (here: the example deployment).

Run them like any pytest file: ``python -m pytest examples/rule_author_test.py`` (needs
``pip install "referral-engine[testing]"``). The strategies come from the rules themselves, so the
same file keeps working when ages, dates or windows change; the checks are the properties a
district wants before a change goes live.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import assume, given, settings

from referral_engine import CaseProfile, load_ruleset
from referral_engine.testing import (
    age_of,
    cases,
    check_deterministic,
    check_monotone,
    check_no_gap,
    check_partner_coverage,
    check_unknown_never_overturns,
)
from referral_engine.verify import check

RULES = load_ruleset(Path(__file__).parent / "deployment")
ADOPTED = dt.date(2026, 1, 1)  # the day this district adopts its rules
Case = tuple[CaseProfile, dt.date]


def test_the_rules_pass_the_check() -> None:
    """No dead rule, contradiction, hole between services or uncovered municipality since adoption."""
    report = check(RULES, since=ADOPTED)
    assert report.ok, report.table()


@given(cases(RULES))
@settings(max_examples=20, deadline=None)
def test_decisions_are_reproducible_and_unknowns_never_overturn(case: Case) -> None:
    """The same case gives the same answer, and learning a fact never reverses a decision."""
    profile, as_of = case
    check_deterministic(RULES, profile, as_of)
    check_unknown_never_overturns(RULES, profile, as_of)


@given(cases(RULES, since=ADOPTED))
@settings(max_examples=30, deadline=None)
def test_every_eligible_service_has_a_partner_here(case: Case) -> None:
    """Whoever is eligible is also told who is responsible in their municipality (since adoption)."""
    profile, as_of = case
    check_partner_coverage(RULES, profile, as_of)


@given(cases(RULES))
@settings(max_examples=30, deadline=None)
def test_better_german_never_removes_the_job_related_course(case: Case) -> None:
    """A higher German level never takes the Berufssprachkurs away."""
    profile, as_of = case
    check_monotone(RULES, profile, as_of, field="language_level", service="berufssprachkurs")


@given(cases(RULES))
@settings(max_examples=100, deadline=None)
def test_young_people_and_adults_always_have_a_migration_service(case: Case) -> None:
    """From 12 on, JMD (until 26) and MBE (from 27) leave nobody out who may stay or is tolerated.

    Not promised: people without papers or obliged to leave, and (MBE only for asylum seekers with
    good prospects to stay) adults from safe countries of origin.
    """
    profile, as_of = case
    age = age_of(profile, as_of)
    assume(age is not None and age >= 12)
    assume(profile.residence_status not in ("undocumented", "ausreisepflichtig"))
    assume(age is not None and (age < 27 or profile.residence_status != "gestattung_safe_country"))
    check_no_gap(RULES, profile, as_of, services=("jmd", "mbe"))
