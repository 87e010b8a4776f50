"""Change dates decided per service equal the reference that decides every service on every date."""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referral_engine import CaseProfile, Ruleset, default_ruleset
from referral_engine.decide import evaluate_rules
from referral_engine.engines import Evaluate, durable_available, evaluator
from referral_engine.facts import Facts, facts_for
from referral_engine.ruleset import Rule
from referral_engine.timeline import (
    change_dates,
    change_sources,
    probe_profile,
    states,
    upcoming_changes,
    upcoming_changes_reference,
)

from .conftest import examples
from .strategies import case_profiles, cases
from .test_engines import _rules


def _reference(ruleset: Ruleset) -> Evaluate:
    def evaluate(facts: Facts, as_of: dt.date) -> dict[str, bool | None]:
        return evaluate_rules(ruleset, facts, as_of)

    return evaluate


def _both(ruleset: Ruleset, profile: CaseProfile, as_of: dt.date) -> None:
    evaluate = _reference(ruleset)
    start = states(ruleset, evaluate, profile, facts_for(profile, as_of), as_of)
    expected = upcoming_changes_reference(ruleset, evaluate, profile, as_of, start)
    assert upcoming_changes(ruleset, profile, as_of, start) == expected
    # Every engine, deciding every service again on every date, finds the same changes.
    engines = ["python", "durable"] if durable_available() else ["python"]
    for engine in engines:
        assert (
            upcoming_changes_reference(ruleset, evaluator(ruleset, engine), profile, as_of, start) == expected
        )


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_changes_of_the_bundled_rules_equal_the_reference(case: tuple[CaseProfile, dt.date]) -> None:
    """For a generated case the changes decided per service are those of deciding everything per date."""
    profile, as_of = case
    _both(default_ruleset(), profile, as_of)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_rules(), min_size=1, max_size=10, unique_by=lambda rule: rule.id),
    case_profiles(),
    st.dates(min_value=dt.date(2012, 1, 1), max_value=dt.date(2028, 12, 31)),
)
def test_changes_of_generated_rule_sets_equal_the_reference(
    minimal_ruleset: Ruleset, rules: list[Rule], profile: CaseProfile, as_of: dt.date
) -> None:
    """On generated rule sets (windows, age limits, validity) the changes equal the reference's."""
    later = ("birth_date", "entry_date", "status_since", "accommodation_since")
    future = {name: None for name in later if (day := getattr(profile, name)) is not None and day > as_of}
    if future:  # a date after as_of is a ProfileError: what_if is for plans
        profile = profile.replace(**future)
    ruleset = dataclasses.replace(minimal_ruleset, rules=tuple(rules))
    _both(ruleset, profile, as_of)


def test_each_change_date_names_the_services_it_can_change() -> None:
    """A 26-year-old's 27th birthday concerns the JMD (and the MBE), not the Jobcenter."""
    profile = probe_profile(CaseProfile(birth_date=dt.date(1999, 5, 15), residence_status="settlement"))
    sources = dict(change_sources(default_ruleset(), profile, dt.date(2026, 3, 1)))
    birthday = dt.date(2026, 5, 15)
    assert {"jmd", "mbe"} <= sources[birthday]
    assert "jobcenter" not in sources[birthday]
    assert list(sources) == change_dates(default_ruleset(), profile, dt.date(2026, 3, 1))
