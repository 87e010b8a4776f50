"""referral_engine.testing: strategies derived from a rule set, and the property checks rule authors call."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import Phase, given, seed, settings

from referral_engine import CaseProfile, Ruleset, default_ruleset, load_ruleset, recommend
from referral_engine.dates import add_months, age_on
from referral_engine.testing import (
    as_of_dates,
    case_profiles,
    cases,
    check_deterministic,
    check_monotone,
    check_no_gap,
    check_partner_coverage,
    check_unknown_never_overturns,
)
from referral_engine.thresholds import thresholds

from .conftest import edited_rules, examples

RULES = default_ruleset()
Case = tuple[CaseProfile, dt.date]
#: The day JMD ends (the 27th birthday): MBE written as "older than 27 years" starts a day later.
PLANT = ("{field: age, op: ge, value: 27}", "{field: birth_date, op: older_than, value: P27Y}")


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Ruleset:
    """The bundled rules with MBE's age limit written as a period on the birth date: a one-day gap."""
    folder = edited_rules(tmp_path_factory.mktemp("planted"), "eligibility/mbe.yaml", *PLANT)
    assert (folder / "eligibility" / "mbe.yaml").read_text(encoding="utf-8").count(PLANT[1]) == 8
    return load_ruleset(folder)


def jmd_or_mbe_promised(profile: CaseProfile, as_of: dt.date) -> bool:
    """JMD until 26 and MBE from 27 promise counselling to everyone from 12 (here: with a birth date)."""
    if profile.birth_date is None or profile.residence_status in ("undocumented", "ausreisepflichtig"):
        return False
    return age_on(profile.birth_date, as_of) >= 12


def test_default_strategies_find_a_planted_one_day_gap(planted: Ruleset) -> None:
    """Within hypothesis' default budget of 100 examples, cases() finds the 27th birthday nobody serves."""
    failures: list[str] = []

    @seed(20260701)
    @settings(database=None, deadline=None, phases=(Phase.generate,), max_examples=100)  # hypothesis default
    @given(cases(planted))
    def jmd_then_mbe(case: Case) -> None:
        profile, as_of = case
        if jmd_or_mbe_promised(profile, as_of):
            try:
                check_no_gap(planted, profile, as_of, services=("jmd", "mbe"))
            except AssertionError:
                assert profile.birth_date is not None
                failures.append(f"{profile.birth_date} / {as_of}")
                raise

    with pytest.raises(AssertionError, match="gap: every one of jmd, mbe is not_eligible"):
        jmd_then_mbe()
    birth, as_of = (dt.date.fromisoformat(part) for part in failures[0].split(" / "))
    assert add_months(as_of, -12 * 27) == birth  # exactly the 27th birthday


def test_the_bundled_rules_have_no_such_gap(planted: Ruleset) -> None:
    """On the bundled rules the same property holds on the 27th birthday (and the plant breaks it)."""
    as_of = dt.date(2026, 3, 1)
    profile = CaseProfile(birth_date=add_months(as_of, -12 * 27), residence_status="ae_25_1")
    check_no_gap(RULES, profile, as_of, services=("jmd", "mbe"))
    with pytest.raises(AssertionError):
        check_no_gap(planted, profile, as_of, services=("jmd", "mbe"))


def test_strategies_follow_the_rule_set(planted: Ruleset) -> None:
    """Thresholds come from the rules: the plant adds a 27-year window on birth_date."""
    assert 27 in thresholds(RULES).ages
    assert "birth_date" not in thresholds(RULES).durations
    assert "birth_date" in thresholds(planted).durations
    assert thresholds(planted).age_uses[0] == 27  # the limit most conditions meet at comes first


@given(as_of_dates())
@settings(max_examples=examples(50), deadline=None)
def test_as_of_dates_lie_around_the_rules(as_of: dt.date) -> None:
    """as_of dates lie between a year before the first rule change and two years after the last."""
    changes = thresholds(RULES).changes
    assert add_months(changes[0], -12) <= as_of <= add_months(changes[-1], 24)


@given(case_profiles(), as_of_dates())
@settings(max_examples=examples(40), deadline=None)
def test_independent_profiles_are_accepted_on_any_as_of(profile: CaseProfile, as_of: dt.date) -> None:
    """Profiles drawn without an as_of have birth dates before every as_of, so recommend accepts them."""
    assert recommend(profile, as_of=as_of).as_of == as_of


@given(cases())
@settings(max_examples=examples(40), deadline=None)
def test_ready_made_checks_hold_for_the_bundled_rules(case: Case) -> None:
    """Determinism, unknown-never-overturns, partner coverage and declared monotonicity hold."""
    profile, as_of = case
    check_deterministic(RULES, profile, as_of)
    check_unknown_never_overturns(RULES, profile, as_of)
    check_partner_coverage(RULES, profile, as_of)
    check_monotone(RULES, profile, as_of, field="language_level", service="berufssprachkurs")
    check_monotone(
        RULES, profile, as_of, field="language_level", service="integrationskurs", increasing=False
    )


def test_monotone_check_names_the_violation() -> None:
    """The integration course ends at B1: 'a higher level never removes it' is false and says where."""
    profile = CaseProfile(
        residence_status="spaetaussiedler", language_level="A2", employment="unemployed", age=40
    )
    with pytest.raises(
        AssertionError, match="integrationskurs is eligible at language_level=A2 but not_eligible"
    ):
        check_monotone(
            RULES, profile, dt.date(2026, 3, 1), field="language_level", service="integrationskurs"
        )


def test_partner_coverage_check_finds_a_missing_partner(tmp_path: Path) -> None:
    """Without the not_offered entry for Hartheim, an eligible Helferkreis case there has no partner."""
    rules = load_ruleset(
        edited_rules(tmp_path, "partners.yaml", "[hartheim]\n    source", "[staufen]\n    source")
    )
    profile = CaseProfile(residence_status="gestattung", municipality="Hartheim")
    check_partner_coverage(RULES, profile, dt.date(2026, 3, 1))
    with pytest.raises(
        AssertionError, match="helferkreis is eligible but has no responsible partner in hartheim"
    ):
        check_partner_coverage(rules, profile, dt.date(2026, 3, 1))


def test_library_never_imports_hypothesis() -> None:
    """Importing referral_engine (and recommending) leaves hypothesis unimported."""
    code = (
        "import sys, referral_engine, referral_engine.verify, referral_engine.impact\n"
        "referral_engine.recommend({'age': 20})\n"
        "assert 'hypothesis' not in sys.modules, 'hypothesis was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_testing_without_hypothesis_names_the_extra() -> None:
    """Without hypothesis, importing referral_engine.testing fails with a message naming the extra."""
    code = "import sys; sys.modules['hypothesis'] = None; import referral_engine.testing"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "pip install 'referral-engine[testing]'" in result.stderr
