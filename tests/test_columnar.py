"""The columnar engine equals the reference: statuses and open fields, on every row, for every table kind.

Three levels, each against what is already proven: facts on generated rule sets against the
reference evaluator (``decide.evaluate_rules``, ``decide.statuses``, ``compiled.open_fields``);
profiles against ``recommend_many(detail="statuses")`` case by case (the compiled engine and the
routing ``recommend`` uses to ask for the municipality), on the bundled rules and on generated
rule sets; and pandas, polars and pyarrow tables through :func:`screen_table`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referral_engine import (
    CaseProfile,
    CaseStatuses,
    ProfileError,
    Ruleset,
    UsageError,
    default_ruleset,
    recommend_many,
)
from referral_engine import batch as batch_module
from referral_engine import columnar as columnar_module
from referral_engine.batch import _Screen
from referral_engine.columnar import (
    OPEN_FIELDS,
    STATUSES,
    columnar,
    fact_columns,
    profile_columns,
    screen_table,
)
from referral_engine.compiled import open_fields
from referral_engine.decide import evaluate_rules, statuses
from referral_engine.facts import Facts
from referral_engine.ruleset import Rule

from .conftest import examples
from .strategies import as_of_dates, case_profiles
from .test_engines import _DATES, _facts, _rules

DAY = dt.date(2026, 3, 1)
Table = Callable[[dict[str, list[Any]]], Any]
TABLES: dict[str, Table] = {
    "pandas": pd.DataFrame,
    "polars": lambda data: pl.DataFrame(data, strict=False),
    "pyarrow": pa.table,
}


def _rows(table: Any) -> list[dict[str, Any]]:
    """A result table of any kind as one dict per row."""
    if isinstance(table, pd.DataFrame):
        records: list[dict[str, Any]] = table.to_dict("records")
        return records
    if isinstance(table, pl.DataFrame):
        return table.to_dicts()
    assert isinstance(table, pa.Table)
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def _expected(ruleset: Ruleset, profile: CaseProfile, as_of: dt.date) -> dict[str, Any] | ProfileError:
    """What recommend_many(detail="statuses") gives case by case, as a row of the result table."""
    try:
        found = _Screen(ruleset, "python", as_of)(profile)
    except ProfileError as error:
        return error
    return {**{s: status.value for s, status in found.statuses.items()}, OPEN_FIELDS: found.open_fields}


# -- facts: generated rule sets against the reference evaluator -------------------------------------


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_rules(), min_size=1, max_size=12, unique_by=lambda rule: rule.id),
    st.lists(_facts(), min_size=1, max_size=25),
    _DATES,
)
def test_columnar_equals_the_reference_on_generated_rule_sets(
    minimal_ruleset: Ruleset, rules: list[Rule], facts: list[Facts], as_of: dt.date
) -> None:
    """Every row's statuses and open fields equal the reference evaluator's, on generated rules and facts."""
    ruleset = dataclasses.replace(minimal_ruleset, rules=tuple(rules))
    engine = columnar(ruleset)
    screened = engine.screen(fact_columns(ruleset, facts), as_of, len(facts), route=False)
    for row, case in enumerate(facts):
        values = evaluate_rules(ruleset, case, as_of)
        by_service = statuses(ruleset, values)
        codes = tuple(by_service.values())
        assert tuple(STATUSES[code] for code in screened.codes[row]) == codes
        assert screened.open_fields[row] == len(open_fields(ruleset, case, values, codes))


# -- profiles: recommend_many case by case ---------------------------------------------------------


def _case_by_case(ruleset: Ruleset, profiles: Sequence[CaseProfile], as_of: dt.date) -> list[Any]:
    screen = _Screen(ruleset, "python", as_of)
    return [screen(profile) for profile in profiles]


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    as_of_dates().flatmap(
        lambda day: st.tuples(st.just(day), st.lists(case_profiles(day), min_size=48, max_size=80))
    )
)
def test_recommend_many_statuses_equal_case_by_case_on_the_bundled_rules(
    case: tuple[dt.date, list[CaseProfile]],
) -> None:
    """recommend_many(detail="statuses") on the columnar engine equals the case-by-case path, row by row."""
    as_of, profiles = case
    profiles = [profile.replace(consents=()) for profile in profiles]
    ruleset = default_ruleset()
    assert len(profiles) >= batch_module.COLUMNAR_MIN  # the columnar path, not the short-batch one
    found = list(recommend_many(profiles, as_of=as_of, detail="statuses"))
    assert found == _case_by_case(ruleset, profiles, as_of)
    assert all(isinstance(result, CaseStatuses) for result in found)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_rules(), min_size=1, max_size=10, unique_by=lambda rule: rule.id),
    st.lists(case_profiles(DAY), min_size=1, max_size=20),
)
def test_columnar_equals_case_by_case_on_generated_rule_sets(
    minimal_ruleset: Ruleset, rules: list[Rule], profiles: list[CaseProfile]
) -> None:
    """Generated rules with the minimal rule set's steps and partners: statuses and open fields agree."""
    ruleset = dataclasses.replace(minimal_ruleset, rules=tuple(rules))
    profiles = [profile.replace(consents=()) for profile in profiles]
    screened, rejected = columnar_module.screen_profiles(ruleset, profiles, DAY)
    assert rejected == []
    for row, expected in enumerate(_case_by_case(ruleset, profiles, DAY)):
        assert dict(zip(expected.statuses, (STATUSES[c] for c in screened.codes[row]), strict=True)) == dict(
            expected.statuses
        )
        assert screened.open_fields[row] == expected.open_fields


# -- tables ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(TABLES))
@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(case_profiles(DAY), min_size=1, max_size=30))
def test_screen_table_equals_recommend_many_for_each_table_kind(
    kind: str, profiles: list[CaseProfile]
) -> None:
    """pandas, polars and pyarrow tables of generated profiles give the case-by-case statuses and counts."""
    ruleset = default_ruleset()
    profiles = [profile.replace(consents=()) for profile in profiles]
    table = TABLES[kind](profile_columns(profiles))
    result = screen_table(table, as_of=DAY)
    assert type(result) is type(table)
    assert _rows(result) == [_expected(ruleset, profile, DAY) for profile in profiles]


@pytest.mark.parametrize("kind", sorted(TABLES))
def test_tables_in_several_slices_keep_their_order(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A table longer than one slice is screened slice by slice, rows in order."""
    monkeypatch.setattr(columnar_module, "ROWS_PER_CHUNK", 7)
    ages = [None, 5, 12, 19, 26, 27, 40, 70, None, 18] * 3
    statuses_ = ["gestattung", "duldung", None, "ae_25_1", "undocumented", "settlement"] * 5
    data: dict[str, list[Any]] = {
        "age": ages,
        "residence_status": statuses_,
        "municipality": ["Staufen"] * 30,
    }
    result = _rows(screen_table(TABLES[kind](data), as_of=DAY))
    profiles = [
        CaseProfile(age=a, residence_status=s, municipality="Staufen")
        for a, s in zip(ages, statuses_, strict=True)
    ]
    ruleset = default_ruleset()
    assert result == [_expected(ruleset, profile, DAY) for profile in profiles]


def test_columns_of_other_types_are_read_like_profile_fields() -> None:
    """Text dates, midnight timestamps, NaN, whole floats, text booleans: read as a profile reads them."""
    table = pd.DataFrame(
        {
            "age": [np.nan, 30.0, None],
            "entry_date": ["2025-01-10", None, "2024-06-01"],
            "status_since": pd.to_datetime(["2025-02-01", None, "2024-07-01"]),
            "residence_status": ["ae_25_2_refugee", "gestattung", None],
            "registered_jobseeker": ["true", None, "false"],
            "languages": [["AR", "en"], None, ("uk",)],
            "municipality": ["  bad   Krozingen ", "Staufen", None],
        }
    )
    profiles = [
        CaseProfile(
            entry_date="2025-01-10",
            status_since="2025-02-01",
            residence_status="ae_25_2_refugee",
            registered_jobseeker=True,
            languages=("ar", "en"),
            municipality="bad Krozingen",
        ),
        CaseProfile(age=30, residence_status="gestattung", municipality="Staufen"),
        CaseProfile(
            entry_date="2024-06-01", status_since="2024-07-01", registered_jobseeker=False, languages=("uk",)
        ),
    ]
    ruleset = default_ruleset()
    assert _rows(screen_table(table, as_of=DAY)) == [_expected(ruleset, p, DAY) for p in profiles]


def test_an_empty_table_gives_an_empty_table_with_every_column() -> None:
    result = screen_table(pl.DataFrame({"age": []}, schema={"age": pl.Int64}), as_of=DAY)
    assert result.columns == [*(s.id for s in default_ruleset().services), OPEN_FIELDS]
    assert result.height == 0


SECRET = "SECRET-marker-4711"


@pytest.mark.parametrize(
    ("column", "values", "field", "message"),
    [
        ("age", [20, -3], "age", "from 0 to 120"),
        ("age", [20, 30.5], "age", "whole number"),
        ("age", [20, SECRET], "age", "whole number"),
        ("residence_status", ["gestattung", SECRET], "residence_status", "expected one of"),
        ("entry_date", [dt.date(2020, 1, 1), dt.date(1850, 1, 1)], "entry_date", "between 1900-01-01"),
        ("entry_date", ["2020-01-01", SECRET], "entry_date", "YYYY-MM-DD"),
        ("entry_date", [dt.date(2020, 1, 1), dt.date(2027, 1, 1)], "entry_date", "after the as_of date"),
        ("municipality", ["Staufen", ""], "municipality", "1 to 100 characters"),
        ("languages", [["ar"], [SECRET]], "languages", "two-letter"),
        ("literate_latin", [True, SECRET], "literate_latin", "true or false"),
    ],
)
def test_bad_cells_name_the_column_and_row_never_the_value(
    column: str, values: list[Any], field: str, message: str
) -> None:
    with pytest.raises(ProfileError) as caught:
        screen_table(pd.DataFrame({column: values}), as_of=DAY)
    error = caught.value
    assert error.index == 1
    assert [problem.field for problem in error.problems] == [field]
    assert message in str(error)
    for secret in (SECRET, "1850", "2027"):
        assert secret not in str(error)


def test_profile_checks_across_columns_are_made_per_row() -> None:
    """An event before the birth date, an age that disagrees with it: as CaseProfile and facts_for say."""
    table = pl.DataFrame(
        {
            "birth_date": [dt.date(2000, 5, 1), dt.date(2000, 5, 1), dt.date(2000, 5, 1)],
            "entry_date": [dt.date(2015, 1, 1), dt.date(2015, 1, 1), dt.date(1999, 1, 1)],
            "age": [25, 40, None],
        }
    )
    with pytest.raises(ProfileError, match=r"index 1 .*age: does not match birth_date") as caught:
        screen_table(table, as_of=DAY)
    assert "40" not in str(caught.value)
    with pytest.raises(ProfileError, match=r"index 0 .*entry_date: must not be before birth_date"):
        screen_table(table[2:], as_of=DAY)


def test_columns_that_are_no_profile_fields_are_usage_errors() -> None:
    with pytest.raises(UsageError, match=r"unknown column 'agee'; .*age, birth_date"):
        screen_table(pd.DataFrame({"agee": [1]}), as_of=DAY)
    with pytest.raises(UsageError, match=r"\(an unknown column\)"):
        screen_table(pd.DataFrame({SECRET + " x": [1]}), as_of=DAY)
    with pytest.raises(UsageError, match="consents"):
        screen_table(pd.DataFrame({"consents": [[]]}), as_of=DAY)
    with pytest.raises(UsageError, match="pandas, polars or pyarrow"):
        screen_table([{"age": 3}], as_of=DAY)


# -- recommend_many on the columnar engine ------------------------------------------------------------


def _batch(day: dt.date) -> list[Any]:
    """Profiles and mappings, with bad rows of each kind recommend_many knows, for both paths."""
    good = [
        CaseProfile(age=age, residence_status=status, municipality=town)
        for age in (10, 19, 30, None)
        for status in ("gestattung", "ae_25_1", "undocumented", None)
        for town in ("Staufen", None)
    ]
    bad: list[Any] = [
        {"age": SECRET},  # invalid mapping
        CaseProfile(entry_date=day + dt.timedelta(days=3)),  # after as_of: facts_for rejects it
        CaseProfile(age=3, birth_date=dt.date(2000, 1, 1)),  # disagrees with the birth date
        {
            "age": 30,
            "consents": [
                {"partner": "nobody", "purpose": "jmd", "categories": ["identity"], "given_on": "2025-01-01"}
            ],
        },
    ]
    rows: list[Any] = [*good, *good]
    for position, row in zip((5, 17, 40, 63), bad, strict=True):
        rows.insert(position, row)
    rows.append({"age": 33, "residence_status": "settlement"})
    return rows


@pytest.mark.parametrize("errors", ["collect", "skip"])
def test_recommend_many_on_the_columnar_engine_keeps_order_and_errors(
    errors: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of the columnar engine give what the case-by-case path gives, bad rows included."""
    rows = _batch(DAY)
    monkeypatch.setattr(batch_module, "COLUMNAR_CHUNK", 50)  # chunks of 50 and a short tail
    columnar_results = list(recommend_many(rows, as_of=DAY, detail="statuses", errors=errors))  # type: ignore[call-overload]
    monkeypatch.setattr(batch_module, "columnar_available", lambda: False)
    reference = list(recommend_many(rows, as_of=DAY, detail="statuses", errors=errors))  # type: ignore[call-overload]
    assert [_comparable(r) for r in columnar_results] == [_comparable(r) for r in reference]
    if errors == "collect":
        assert [r.index for r in columnar_results if isinstance(r, ProfileError)] == [5, 17, 40, 63]
    else:
        assert len(columnar_results) == len(rows) - 4


def _comparable(result: object) -> object:
    if isinstance(result, ProfileError):
        return ("error", result.index, result.problems)
    return result


def test_recommend_many_on_the_columnar_engine_raises_at_the_first_bad_row() -> None:
    results = recommend_many(_batch(DAY), as_of=DAY, detail="statuses")
    taken: list[CaseStatuses] = []
    with pytest.raises(ProfileError) as caught:
        taken.extend(results)
    assert caught.value.index == 5
    assert len(taken) == 5
    assert SECRET not in str(caught.value)


def test_recommend_many_uses_the_columnar_engine_for_a_large_statuses_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The columnar engine runs for a big enough chunk on the python engine, not for durable or full."""
    calls: list[int] = []
    original = columnar_module.screen_profiles

    def counting(ruleset: Ruleset, profiles: Sequence[CaseProfile], as_of: dt.date) -> Any:
        calls.append(len(profiles))
        return original(ruleset, profiles, as_of)

    monkeypatch.setattr(columnar_module, "screen_profiles", counting)
    profiles = [CaseProfile(age=age % 90) for age in range(200)]
    list(recommend_many(profiles, as_of=DAY, detail="statuses"))
    assert calls == [200]
    list(recommend_many(profiles[:10], as_of=DAY, detail="statuses"))
    list(recommend_many(profiles[:60], as_of=DAY, detail="full"))
    assert calls == [200]


@pytest.mark.slow  # a fresh interpreter loading the bundled rules
def test_without_numpy_the_library_works_and_names_the_extra() -> None:
    """``import referral_engine`` loads no numpy; without it batches go case by case, the module says why."""
    code = """
import sys
import referral_engine
assert "numpy" not in sys.modules and "narwhals" not in sys.modules
sys.modules["numpy"] = None  # as if not installed
from referral_engine import CaseStatuses, recommend_many
import datetime as dt
rows = [{"age": n % 90} for n in range(100)]
found = list(recommend_many(rows, as_of=dt.date(2026, 3, 1), detail="statuses"))
assert len(found) == 100 and all(isinstance(f, CaseStatuses) for f in found)
try:
    import referral_engine.columnar
except ImportError as error:
    assert "referral-engine[frame]" in str(error), error
else:
    raise AssertionError("imported without numpy")
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.stdout.strip() == "ok", result.stderr


def test_a_chunk_of_profiles_only_reports_the_rows_facts_for_rejects(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only validated profiles (the fast path): a date after as_of and a wrong age are errors in place."""
    rows: list[Any] = [CaseProfile(age=age % 90, residence_status="gestattung") for age in range(60)]
    rows[7] = CaseProfile(entry_date=DAY + dt.timedelta(days=1))
    rows[33] = CaseProfile(age=50, birth_date=dt.date(2000, 1, 1))
    found = list(recommend_many(rows, as_of=DAY, detail="statuses", errors="collect"))
    monkeypatch.setattr(batch_module, "columnar_available", lambda: False)
    expected = list(recommend_many(rows, as_of=DAY, detail="statuses", errors="collect"))
    assert [_comparable(r) for r in found] == [_comparable(r) for r in expected]
    assert [r.index for r in found if isinstance(r, ProfileError)] == [7, 33]
