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
from referral_engine.facts import FIELDS, Facts
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


def test_a_column_twice_is_a_usage_error_naming_it_only_if_it_is_a_field() -> None:
    pandas_table = pd.DataFrame([[30, 31, 1, 2]], columns=["age", "age", SECRET, SECRET])
    arrow_table = pa.table([[30], [31], [1], [2]], names=["age", "age", SECRET, SECRET])
    for table in (pandas_table, arrow_table):
        with pytest.raises(
            UsageError, match=r"each column once; more than once here: 'age', \(an unknown column\)"
        ) as caught:
            screen_table(table, as_of=DAY)
        assert SECRET not in str(caught.value)


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


# -- typed tables: the fast path through Arrow and numpy -------------------------------------------


def _cells(profiles: Sequence[CaseProfile], name: str) -> list[Any]:
    """One field of the profiles as a table's cells (languages as lists)."""
    return [list(v) if isinstance(v, tuple) else v for v in profile_columns(profiles)[name]]


def _typed_pyarrow(profiles: Sequence[CaseProfile]) -> pa.Table:
    """date32, dictionary<string> enumerations, plain text municipality, bool, int16, list<string>."""
    arrays = {}
    for name, spec in FIELDS.items():
        cells = _cells(profiles, name)
        if spec.kind == "int":
            arrays[name] = pa.array(cells, pa.int16())
        elif spec.kind == "date":
            arrays[name] = pa.array(cells, pa.date32())
        elif spec.kind == "bool":
            arrays[name] = pa.array(cells, pa.bool_())
        elif spec.kind in ("enum", "level"):
            arrays[name] = pa.array(cells, pa.string()).dictionary_encode()
        elif spec.kind == "text":
            arrays[name] = pa.array(cells, pa.string())
        else:
            arrays[name] = pa.array(cells, pa.list_(pa.string()))
    return pa.table(arrays)


def _typed_polars(profiles: Sequence[CaseProfile]) -> pl.DataFrame:
    """Date, Enum (levels as Categorical), String, Boolean, UInt8, List(String)."""
    kinds: dict[str, Any] = {
        "int": pl.UInt8,
        "date": pl.Date,
        "bool": pl.Boolean,
        "text": pl.String,
        "list": pl.List(pl.String),
        "level": pl.Categorical,
    }
    return pl.DataFrame(
        [
            pl.Series(name, _cells(profiles, name), dtype=kinds.get(spec.kind) or pl.Enum(spec.values))
            for name, spec in FIELDS.items()
        ]
    )


def _typed_pandas(profiles: Sequence[CaseProfile]) -> pd.DataFrame:
    """datetime64 (s and ns), category, nullable Int64 and boolean, string, Arrow lists."""
    data: dict[str, Any] = {}
    for index, (name, spec) in enumerate(FIELDS.items()):
        cells = _cells(profiles, name)
        if spec.kind == "int":
            data[name] = pd.array(cells, dtype="Int64")
        elif spec.kind == "date":
            unit = "datetime64[s]" if index % 2 else "datetime64[ns]"
            data[name] = pd.Series(pd.to_datetime(pd.Series(cells, dtype=object)), dtype=unit)
        elif spec.kind == "bool":
            data[name] = pd.array(cells, dtype="boolean")
        elif spec.kind in ("enum", "level"):
            data[name] = pd.Categorical(cells, categories=spec.values)
        elif spec.kind == "text":
            data[name] = pd.array(cells, dtype="string")
        else:
            data[name] = pd.array(cells, dtype=pd.ArrowDtype(pa.list_(pa.string())))
    return pd.DataFrame(data)


def _typed_pandas_by_categories(profiles: Sequence[CaseProfile]) -> pd.DataFrame:
    """Categories out of order (one no row uses, not valid), municipality too; UInt8, ms and us dates.

    Booleans nullable, languages Arrow lists.
    """
    data: dict[str, Any] = {}
    for index, (name, spec) in enumerate(FIELDS.items()):
        cells = _cells(profiles, name)
        if spec.kind == "int":
            data[name] = pd.array(cells, dtype="UInt8")
        elif spec.kind == "date":
            unit = "datetime64[ms]" if index % 2 else "datetime64[us]"
            data[name] = pd.Series(pd.to_datetime(pd.Series(cells, dtype=object)), dtype=unit)
        elif spec.kind == "bool":
            data[name] = pd.array(cells, dtype="boolean")
        elif spec.kind in ("enum", "level"):
            data[name] = pd.Categorical(cells, categories=[*reversed(spec.values), SECRET])
        elif spec.kind == "text":
            data[name] = pd.Categorical(cells)
        else:
            data[name] = pd.array(cells, dtype=pd.ArrowDtype(pa.list_(pa.string())))
    return pd.DataFrame(data)


TYPED: dict[str, Callable[[Sequence[CaseProfile]], Any]] = {
    "pandas": _typed_pandas,
    "pandas-categories": _typed_pandas_by_categories,
    "polars": _typed_polars,
    "pyarrow": _typed_pyarrow,
}


@pytest.mark.parametrize("kind", sorted(TYPED))
@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(case_profiles(DAY), min_size=1, max_size=30))
def test_screen_table_on_typed_tables_equals_recommend_many(kind: str, profiles: list[CaseProfile]) -> None:
    """Typed columns of each library, a null in every column: the case-by-case statuses and counts."""
    ruleset = default_ruleset()
    profiles = [profile.replace(consents=()) for profile in profiles] + [CaseProfile()]
    table = TYPED[kind](profiles)
    result = screen_table(table, as_of=DAY)
    assert type(result) is type(table)
    assert _rows(result) == [_expected(ruleset, profile, DAY) for profile in profiles]


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_rules(), min_size=1, max_size=10, unique_by=lambda rule: rule.id),
    st.lists(case_profiles(DAY), min_size=1, max_size=20),
)
def test_typed_tables_equal_case_by_case_on_generated_rule_sets(
    minimal_ruleset: Ruleset, rules: list[Rule], profiles: list[CaseProfile]
) -> None:
    """Generated rules (languages, levels, windows) over a typed pyarrow table: statuses and counts agree."""
    ruleset = dataclasses.replace(minimal_ruleset, rules=tuple(rules))
    profiles = [profile.replace(consents=()) for profile in profiles] + [CaseProfile()]
    result = screen_table(_typed_pyarrow(profiles), as_of=DAY, ruleset=ruleset)
    assert _rows(result) == [_expected(ruleset, profile, DAY) for profile in profiles]


def _profiles_of_every_kind() -> list[CaseProfile]:
    return [
        CaseProfile(
            age=age,
            residence_status=status,
            entry_date=entry,
            status_since=entry,
            municipality=town,
            registered_jobseeker=age % 2 == 0 if age is not None else None,
            languages=("ar", "en") if town else None,
            employment="unemployed" if status else None,
        )
        for age in (None, 17, 19, 26, 30)
        for status in (None, "gestattung", "ae_25_1", "undocumented")
        for entry in (None, dt.date(2024, 6, 1), dt.date(2015, 1, 1))
        for town in (None, "Staufen im Breisgau", "Bad Krozingen")
    ]


@pytest.mark.parametrize("kind", sorted(TYPED))
def test_typed_tables_in_several_slices_keep_their_order(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columnar_module, "ROWS_PER_CHUNK", 7)
    profiles = _profiles_of_every_kind()
    ruleset = default_ruleset()
    assert _rows(screen_table(TYPED[kind](profiles), as_of=DAY)) == [
        _expected(ruleset, profile, DAY) for profile in profiles
    ]


def test_dictionaries_that_differ_between_chunks_are_read_chunk_by_chunk() -> None:
    """A pyarrow column of several chunks, each with its own dictionary (other values, other order)."""
    profiles = _profiles_of_every_kind()
    table = _typed_pyarrow(profiles)
    half = len(profiles) // 2
    columns = {}
    for name in table.column_names:
        column = table[name]
        if pa.types.is_dictionary(column.type):
            first = pa.array(column[:half].to_pylist(), pa.string()).dictionary_encode()
            # the second chunk's dictionary is in reverse order and holds a value no row uses
            values = column[half:].to_pylist()
            order = [*sorted({v for v in values if v is not None}, reverse=True), "not-a-value"]
            indices = pa.array([None if v is None else order.index(v) for v in values], pa.int32())
            second = pa.DictionaryArray.from_arrays(indices, pa.array(order))
            column = pa.chunked_array([first, second], type=pa.dictionary(pa.int32(), pa.string()))
        columns[name] = column
    chunked = pa.table(columns)
    assert chunked["residence_status"].num_chunks == 2
    ruleset = default_ruleset()
    assert _rows(screen_table(chunked, as_of=DAY)) == [_expected(ruleset, p, DAY) for p in profiles]


@pytest.mark.parametrize("kind", sorted(TYPED))
def test_an_empty_typed_table_gives_an_empty_table_of_its_kind(kind: str) -> None:
    result = screen_table(TYPED[kind]([]), as_of=DAY)
    assert type(result) is type(TYPED[kind]([CaseProfile()]))
    assert _rows(result) == []
    assert list(result.columns if kind != "pyarrow" else result.column_names) == [
        *(s.id for s in default_ruleset().services),
        OPEN_FIELDS,
    ]


def test_statuses_come_back_as_categorical_columns_and_counts_as_integers() -> None:
    profiles = _profiles_of_every_kind()[:5]
    arrow = screen_table(_typed_pyarrow(profiles), as_of=DAY)
    assert pa.types.is_dictionary(arrow["jmd"].type)
    assert pa.types.is_integer(arrow[OPEN_FIELDS].type)
    frame = screen_table(_typed_polars(profiles), as_of=DAY)
    assert frame["jmd"].dtype == pl.Enum(["eligible", "not_eligible", "undetermined"])
    assert frame[OPEN_FIELDS].dtype.is_integer()
    panda = screen_table(_typed_pandas(profiles), as_of=DAY)
    assert isinstance(panda["jmd"].dtype, pd.CategoricalDtype)
    assert pd.api.types.is_integer_dtype(panda[OPEN_FIELDS])


@pytest.mark.parametrize(
    ("column", "field", "message"),
    [
        # a category that is no residence status, used by row 1
        (pa.array(["gestattung", SECRET]).dictionary_encode(), "residence_status", "expected one of"),
        (pa.array(["Staufen", ""], pa.large_string()), "municipality", "1 to 100 characters"),
        (pa.array([20, 130], pa.uint8()), "age", "from 0 to 120"),
        (pa.array([20, -3], pa.int16()), "age", "from 0 to 120"),
        (pa.array([20.0, 3.5]), "age", "whole number"),
        (
            pa.array([dt.date(2020, 1, 1), dt.date(1850, 1, 1)], pa.date32()),
            "entry_date",
            "between 1900-01-01",
        ),
        (pa.array([dt.date(2020, 1, 1), dt.date(2027, 1, 1)], pa.date32()), "entry_date", "after the as_of"),
        (
            pa.array([dt.datetime(2020, 1, 1), dt.datetime(2020, 1, 1, 12)], pa.timestamp("ms")),
            "entry_date",
            "not a date and time",
        ),
        (
            pa.array([dt.datetime(2020, 1, 1), dt.datetime(2020, 1, 1)], pa.timestamp("us", tz="UTC")),
            "entry_date",
            "not a date and time",
        ),
        (pa.array(["2020-01-01", "2020-02-30"]), "entry_date", "no such date"),
        (  # 2**32 + 18,262 days: a 32-bit day number would wrap round to 2020-01-01
            pa.array([0, (2**32 + 18_262) * 86_400], pa.int64()).cast(pa.timestamp("s")),
            "entry_date",
            "between 1900-01-01",
        ),
        (pa.array([["ar"], ["ar", SECRET]], pa.list_(pa.string())), "languages", "two-letter"),
        (pa.array([["ar"], ["ar", None]], pa.list_(pa.string())), "languages", "two-letter"),
        (pa.array([["ar"], ["äb"]], pa.large_list(pa.large_string())), "languages", "two-letter"),
    ],
)
def test_bad_cells_of_typed_columns_name_the_column_and_row_never_the_value(
    column: Any, field: str, message: str
) -> None:
    if field == "entry_date" and pa.types.is_timestamp(column.type) and column.type.tz:
        expected_index = 0  # every cell of a zoned timestamp column is a date and time
    else:
        expected_index = 1
    with pytest.raises(ProfileError) as caught:
        screen_table(pa.table({field: column}), as_of=DAY)
    error = caught.value
    assert error.index == expected_index
    assert [problem.field for problem in error.problems] == [field]
    assert message in str(error)
    for secret in (SECRET, "1850", "2027", "äb", "130", "3.5", "02-30"):
        assert secret not in str(error)


def test_a_category_no_row_uses_is_no_error() -> None:
    """A pandas category or an Arrow dictionary value that no row uses: not checked, no error."""
    table = pd.DataFrame(
        {"residence_status": pd.Categorical(["gestattung", None], categories=["gestattung", SECRET])}
    )
    expected = screen_table(pd.DataFrame({"residence_status": ["gestattung", None]}), as_of=DAY)
    assert _rows(screen_table(table, as_of=DAY)) == _rows(expected)


@pytest.mark.parametrize("kind", sorted(TYPED))
def test_typed_columns_are_not_read_value_by_value(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every column of a typed table takes the Arrow path: the per-value readers are never called."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a typed column was read value by value")

    monkeypatch.setattr(columnar_module, "_each", refuse)
    monkeypatch.setattr(columnar_module, "_read_distinct", refuse)
    profiles = _profiles_of_every_kind()
    ruleset = default_ruleset()
    assert _rows(screen_table(TYPED[kind](profiles), as_of=DAY)) == [
        _expected(ruleset, profile, DAY) for profile in profiles
    ]


def test_a_null_value_of_a_dictionary_is_unknown() -> None:
    """An Arrow dictionary may hold a null value: the rows that point to it are unknown, not bad."""
    indices = pa.array([0, 1, 1, None], pa.int8())
    dictionary = pa.array(["gestattung", None])
    table = pa.table({"residence_status": pa.DictionaryArray.from_arrays(indices, dictionary)})
    expected = screen_table(pa.table({"residence_status": ["gestattung", None, None, None]}), as_of=DAY)
    assert _rows(screen_table(table, as_of=DAY)) == _rows(expected)


def test_typed_columns_of_other_arrow_types_are_read_like_profile_fields() -> None:
    """date64, midnight timestamps, int8, floats with NaN, text enumerations, large text, text dates."""
    table = pa.table(
        {
            "age": pa.array([30.0, float("nan"), None, 19.0]),
            "entry_date": pa.array([dt.date(2024, 6, 1), None, dt.date(2015, 1, 1), None], pa.date64()),
            "status_since": pa.array(
                [dt.datetime(2024, 7, 1), None, None, dt.datetime(2025, 1, 1)], pa.timestamp("ns")
            ),
            "accommodation_since": pa.array(["2024-06-01", None, "2020-02-29", None]),
            "residence_status": pa.array(["ae_25_1", "gestattung", None, "duldung"]),
            "municipality": pa.array(
                ["  Staufen   im Breisgau", None, "Bad Krozingen", "Elsewhere"], pa.large_string()
            ),
            "registered_jobseeker": pa.array([True, None, False, None]),
            "language_level": pa.array(["B1", None, "none", "A2"]).dictionary_encode(),
        }
    )
    profiles = [
        CaseProfile(
            age=30,
            entry_date=dt.date(2024, 6, 1),
            status_since=dt.date(2024, 7, 1),
            accommodation_since=dt.date(2024, 6, 1),
            residence_status="ae_25_1",
            municipality="Staufen im Breisgau",
            registered_jobseeker=True,
            language_level="B1",
        ),
        CaseProfile(residence_status="gestattung"),
        CaseProfile(
            entry_date=dt.date(2015, 1, 1),
            accommodation_since=dt.date(2020, 2, 29),
            municipality="Bad Krozingen",
            registered_jobseeker=False,
            language_level="none",
        ),
        CaseProfile(
            age=19,
            status_since=dt.date(2025, 1, 1),
            residence_status="duldung",
            municipality="Elsewhere",
            language_level="A2",
        ),
    ]
    ruleset = default_ruleset()
    assert _rows(screen_table(table, as_of=DAY)) == [_expected(ruleset, p, DAY) for p in profiles]


# -- typed pandas columns: read straight into numpy, without Arrow ------------------------------------


@pytest.mark.parametrize(
    ("kind", "through_arrow"),
    [("pandas", {"municipality", "languages"}), ("pandas-categories", {"languages"})],
)
def test_typed_pandas_columns_are_read_without_arrow(
    kind: str, through_arrow: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Categories, datetime64, nullable Int and boolean skip Arrow; text and lists still take it."""
    seen: list[str] = []
    original = columnar_module._arrow_column

    def arrow_column(native: Any) -> Any:
        seen.append(native.name)
        return original(native)

    monkeypatch.setattr(columnar_module, "_arrow_column", arrow_column)
    profiles = _profiles_of_every_kind()
    ruleset = default_ruleset()
    assert _rows(screen_table(TYPED[kind](profiles), as_of=DAY)) == [
        _expected(ruleset, profile, DAY) for profile in profiles
    ]
    assert set(seen) == through_arrow


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_datetime64_columns_of_every_unit_are_dates(unit: str) -> None:
    """Naive datetime64 in each unit, NaT, days before 1970 and leap days: as the profiles' dates."""
    profiles = [
        CaseProfile(birth_date=birth, entry_date=entry, status_since=entry, residence_status="ae_25_1")
        for birth in (
            None,
            dt.date(1950, 3, 1),
            dt.date(1969, 12, 31),
            dt.date(1970, 1, 1),
            dt.date(2008, 2, 29),
        )
        for entry in (None, dt.date(2024, 2, 29), dt.date(2025, 12, 31), dt.date(2026, 3, 1))
        if birth is None or entry is None or birth <= entry
    ]
    table = pd.DataFrame(
        {
            name: pd.Series(
                pd.to_datetime(pd.Series(_cells(profiles, name), dtype=object)), dtype=f"datetime64[{unit}]"
            )
            for name in ("birth_date", "entry_date", "status_since")
        }
        | {"residence_status": pd.Categorical(_cells(profiles, "residence_status"))}
    )
    assert table["entry_date"].isna().any()
    assert table["birth_date"].dtype == np.dtype(f"datetime64[{unit}]")
    ruleset = default_ruleset()
    found = _rows(screen_table(table, as_of=DAY))
    assert found == [_expected(ruleset, profile, DAY) for profile in profiles]
    assert found == _rows(screen_table(_typed_pyarrow(profiles).select(table.columns.tolist()), as_of=DAY))


def test_categories_of_other_fields_and_orders_are_read_like_profile_fields() -> None:
    """Categories no row uses (valid or not), in any order, of text, numbers, booleans and dates."""
    towns = ["  staufen IM   Breisgau", "Elsewhere", None, "Bad Krozingen"]
    table = pd.DataFrame(
        {
            "residence_status": pd.Categorical(
                ["duldung", "gestattung", None, "ae_25_1"],
                categories=["settlement", SECRET, "ae_25_1", "gestattung", "duldung", "undocumented"],
            ),
            "municipality": pd.Categorical(
                towns, categories=[*reversed([t for t in towns if t]), "", SECRET]
            ),
            "age": pd.Categorical([19, None, 30, 5], categories=[5, 30, 19, 200]),
            "registered_jobseeker": pd.Categorical([True, False, None, True]),
            "entry_date": pd.Categorical(["2024-06-01", None, "2015-01-01", "2024-06-01"]),
            "status_since": pd.Categorical(pd.to_datetime(["2025-01-01", None, None, "2024-07-01"])),
            "language_level": pd.Categorical(
                ["B1", None, "none", "A2"], categories=["none", "B1", "A2", "C2"]
            ),
        }
    )
    profiles = [
        CaseProfile(
            residence_status="duldung",
            municipality="staufen IM Breisgau",
            age=19,
            registered_jobseeker=True,
            entry_date=dt.date(2024, 6, 1),
            status_since=dt.date(2025, 1, 1),
            language_level="B1",
        ),
        CaseProfile(residence_status="gestattung", municipality="Elsewhere", registered_jobseeker=False),
        CaseProfile(age=30, entry_date=dt.date(2015, 1, 1), language_level="none"),
        CaseProfile(
            residence_status="ae_25_1",
            municipality="Bad Krozingen",
            age=5,
            registered_jobseeker=True,
            entry_date=dt.date(2024, 6, 1),
            status_since=dt.date(2024, 7, 1),
            language_level="A2",
        ),
    ]
    ruleset = default_ruleset()
    assert _rows(screen_table(table, as_of=DAY)) == [_expected(ruleset, p, DAY) for p in profiles]


def test_nullable_and_plain_numpy_numbers_and_booleans() -> None:
    """Int64 and boolean with NA, numpy int64, uint8 and bool (no NA): as the profiles' values."""
    ages = [19, None, 30, 0, 120, 26]
    jobseeker = [True, None, False, True, None, False]
    literate = [True, False, True, False, True, True]
    profiles = [
        CaseProfile(
            age=a,
            registered_jobseeker=j,
            literate_latin=lit,
            foreign_qualification=lit,
            residence_status="ae_25_1",
        )
        for a, j, lit in zip(ages, jobseeker, literate, strict=True)
    ]
    expected = [_expected(default_ruleset(), p, DAY) for p in profiles]
    nullable = pd.DataFrame(
        {
            "age": pd.array(ages, dtype="Int64"),
            "registered_jobseeker": pd.array(jobseeker, dtype="boolean"),
            "literate_latin": np.array(literate),
            "foreign_qualification": pd.array(literate, dtype="boolean"),
            "residence_status": pd.Categorical(["ae_25_1"] * 6),
        }
    )
    assert _rows(screen_table(nullable, as_of=DAY)) == expected
    known = [i for i, a in enumerate(ages) if a is not None]
    for dtype in (np.int64, np.uint8, np.int16):
        plain = pd.DataFrame(
            {
                "age": np.array([ages[i] for i in known], dtype=dtype),
                "literate_latin": np.array([literate[i] for i in known]),
                "residence_status": ["ae_25_1"] * len(known),
            }
        )
        assert _rows(screen_table(plain, as_of=DAY)) == [
            _expected(
                default_ruleset(),
                CaseProfile(age=ages[i], literate_latin=literate[i], residence_status="ae_25_1"),
                DAY,
            )
            for i in known
        ]


def _stamps(*texts: str | None, unit: str = "ns", tz: str | None = None) -> pd.Series:
    stamps = pd.to_datetime(pd.Series(texts, dtype=object), format="ISO8601")
    if tz is not None:
        return stamps.dt.tz_localize(tz)
    return stamps.astype(f"datetime64[{unit}]")


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("residence_status", pd.Categorical(["gestattung", SECRET]), "expected one of"),
        (
            "residence_status",
            pd.Categorical(["gestattung", SECRET], categories=[SECRET, "gestattung"]),
            "expected one of",
        ),
        ("municipality", pd.Categorical(["Staufen", ""]), "1 to 100 characters"),
        ("age", pd.Categorical([20, 130]), "from 0 to 120"),
        ("age", pd.array([20, 130], dtype="Int64"), "from 0 to 120"),
        ("age", pd.array([None, 200], dtype="UInt8"), "from 0 to 120"),
        ("age", np.array([20, -3]), "from 0 to 120"),
        ("literate_latin", pd.Categorical([True, SECRET]), "true or false"),
        ("entry_date", _stamps("2020-01-01", "2020-01-01 12:00"), "not a date and time"),
        ("entry_date", _stamps("2020-01-01", "1850-01-01", unit="s"), "between 1900-01-01"),
        ("entry_date", _stamps(None, "2027-01-01", unit="ms"), "after the as_of"),
        ("entry_date", _stamps(None, "2020-01-01 00:00:00.000001", unit="us"), "not a date and time"),
        ("entry_date", pd.Categorical(["2020-01-01", "2020-02-30"]), "no such date"),
    ],
)
def test_bad_cells_of_typed_pandas_columns_name_the_column_and_row_never_the_value(
    column: str, values: Any, message: str
) -> None:
    with pytest.raises(ProfileError) as caught:
        screen_table(pd.DataFrame({column: values}), as_of=DAY)
    error = caught.value
    assert error.index == 1
    assert [problem.field for problem in error.problems] == [column]
    assert message in str(error)
    for secret in (SECRET, "1850", "2027", "130", "200", "12:00", "00.000001", "02-30"):
        assert secret not in str(error)


def test_a_zoned_datetime64_pandas_column_is_no_date() -> None:
    with pytest.raises(ProfileError, match="not a date and time") as caught:
        screen_table(pd.DataFrame({"entry_date": _stamps("2020-01-01", None, tz="UTC")}), as_of=DAY)
    assert caught.value.index == 0


def test_bad_typed_pandas_cells_are_found_by_their_row_in_later_slices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The row of a bad cell counts from the table's start, whichever slice it is in."""
    monkeypatch.setattr(columnar_module, "ROWS_PER_CHUNK", 7)
    statuses_ = ["gestattung"] * 20
    statuses_[17] = SECRET
    entries: list[str | None] = ["2024-06-01"] * 20
    entries[10] = "2024-06-01 08:30"
    table = pd.DataFrame(
        {"residence_status": pd.Categorical(statuses_), "entry_date": _stamps(*entries, unit="s")}
    )
    with pytest.raises(ProfileError) as caught:
        screen_table(table, as_of=DAY)
    assert (caught.value.index, [p.field for p in caught.value.problems]) == (10, ["entry_date"])
    table.loc[10, "entry_date"] = pd.Timestamp("2024-06-01")
    with pytest.raises(ProfileError) as caught:
        screen_table(table, as_of=DAY)
    assert (caught.value.index, [p.field for p in caught.value.problems]) == (17, ["residence_status"])
    assert SECRET not in str(caught.value)
