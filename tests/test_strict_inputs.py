"""Case data is taken only in the types the contract names, within plausible dates, or not at all."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Any

import pytest

from referral_engine import CaseProfile, ProfileError, UsageError, recommend
from referral_engine.errors import FieldProblem
from referral_engine.models import EARLIEST_DATE, LATEST_DATE

AS_OF = dt.date(2026, 3, 1)
MARK = "Zp4Marker"


def problems(error: ProfileError) -> dict[str, str]:
    return {problem.field: problem.message for problem in error.problems}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param({"age": True}, "age", id="age-true"),
        pytest.param({"age": False}, "age", id="age-false"),
        pytest.param({"age": 19.5}, "age", id="age-fraction"),
        pytest.param({"literate_latin": "yes"}, "literate_latin", id="bool-yes"),
        pytest.param({"registered_jobseeker": "no"}, "registered_jobseeker", id="bool-no"),
        pytest.param({"foreign_qualification": 1}, "foreign_qualification", id="bool-one"),
        pytest.param({"literate_latin": 0}, "literate_latin", id="bool-zero"),
        pytest.param({"birth_date": 946_684_800}, "birth_date", id="date-unix-timestamp"),
        pytest.param({"entry_date": "1700000000"}, "entry_date", id="date-timestamp-text"),
        pytest.param({"entry_date": 20240101.0}, "entry_date", id="date-float"),
        pytest.param({"status_since": "9999-12-31"}, "status_since", id="date-sentinel-9999"),
        pytest.param({"birth_date": "1899-12-31"}, "birth_date", id="date-before-1900"),
        pytest.param({"accommodation_since": "2101-01-01"}, "accommodation_since", id="date-after-2100"),
        pytest.param({"entry_date": "2024-02-30"}, "entry_date", id="date-no-such-day"),
        pytest.param({"entry_date": dt.datetime(2024, 1, 1, 13, 5)}, "entry_date", id="datetime-with-time"),
        pytest.param(
            {"consents": [{"partner": "drk", "categories": ["health"], "given_on": 1_700_000_000}]},
            "consents.0.given_on",
            id="consent-timestamp",
        ),
    ],
)
def test_lax_values_are_rejected_with_their_field(data: dict[str, Any], field: str) -> None:
    """Booleans, numbers standing for dates and out-of-range dates are ProfileErrors at their field."""
    with pytest.raises(ProfileError) as caught:
        CaseProfile.model_validate(data)
    assert field in problems(caught.value)
    assert all(name == field or name.startswith("consents.") for name in problems(caught.value))


def test_date_bounds_are_inclusive() -> None:
    """1900-01-01 and 2100-12-31 are valid profile dates; the bounds are named in the error."""
    profile = CaseProfile(birth_date=EARLIEST_DATE, status_since=LATEST_DATE)
    assert profile.birth_date == dt.date(1900, 1, 1)
    with pytest.raises(ProfileError, match="between 1900-01-01 and 2100-12-31"):
        CaseProfile(entry_date=dt.date(9999, 12, 31))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("true", True, id="csv-true"),
        pytest.param("False", False, id="csv-false"),
        pytest.param(True, True, id="bool"),
    ],
)
def test_booleans_and_their_documented_strings_are_accepted(value: object, expected: bool) -> None:
    """A boolean field takes a bool or the text true / false (a CSV cell), nothing else."""
    assert CaseProfile.model_validate({"literate_latin": value}).literate_latin is expected


def test_whole_numbers_from_tables_and_text_are_ages() -> None:
    """Age takes an int, a whole float from a table, or digits from a CSV cell."""
    assert CaseProfile.model_validate({"age": 19.0}).age == 19
    assert CaseProfile.model_validate({"age": "19"}).age == 19


@pytest.mark.parametrize(
    "unknown",
    [
        pytest.param(float("nan"), id="nan"),
        pytest.param(decimal.Decimal("NaN"), id="decimal-nan"),
        pytest.param(None, id="none"),
    ],
)
def test_table_gaps_are_unknown(unknown: object) -> None:
    """NaN and None from a table (pandas' gaps) mean unknown, also for consents."""
    profile = CaseProfile.model_validate(
        {"age": unknown, "birth_date": unknown, "literate_latin": unknown, "consents": unknown}
    )
    assert profile.known_fields() == ()
    assert profile.consents == ()


def test_datetime_at_midnight_is_a_date() -> None:
    """A table's timestamp at midnight (pandas.Timestamp is a datetime) is taken as its date."""
    assert CaseProfile(entry_date=dt.datetime(2024, 1, 1)).entry_date == dt.date(2024, 1, 1)


@pytest.mark.parametrize("field", ["entry_date", "status_since", "accommodation_since"])
def test_events_before_the_birth_are_located_errors(field: str) -> None:
    """An arrival, status or accommodation before the birth date is a ProfileError at that field."""
    with pytest.raises(ProfileError) as caught:
        CaseProfile.model_validate({"birth_date": "2000-05-01", field: "2000-04-30"})
    assert problems(caught.value) == {field: "must not be before birth_date"}
    assert CaseProfile.model_validate({"birth_date": "2000-05-01", field: "2000-05-01"})


@pytest.mark.parametrize("field", ["birth_date", "entry_date", "status_since", "accommodation_since"])
def test_dates_after_as_of_are_all_rejected_alike(field: str) -> None:
    """A birth, arrival, status or accommodation date after as_of is a ProfileError at recommend time."""
    profile = CaseProfile.model_validate({field: AS_OF + dt.timedelta(days=1)})
    with pytest.raises(ProfileError) as caught:
        recommend(profile, as_of=AS_OF)
    assert problems(caught.value) == {field: "must not be after the as_of date"}
    assert recommend(CaseProfile.model_validate({field: AS_OF}), as_of=AS_OF)


@pytest.mark.parametrize("as_of", [dt.date(1899, 12, 31), dt.date(2101, 1, 1), dt.date(9999, 12, 31)])
def test_as_of_outside_the_plausible_range_is_a_usage_error(as_of: dt.date) -> None:
    """An as_of outside 1900-01-01 .. 2100-12-31 is a UsageError, not a crash deep in the rules."""
    with pytest.raises(UsageError, match="between 1900-01-01 and 2100-12-31"):
        recommend({"age": 30}, as_of=as_of)


def test_unknown_municipality_names_the_rule_sets_municipalities() -> None:
    """A municipality the rule set does not know is a ProfileError listing those it knows, not the name."""
    with pytest.raises(ProfileError) as caught:
        recommend({"age": 30, "municipality": f"Frei{MARK}"}, as_of=AS_OF)
    message = problems(caught.value)["municipality"]
    assert "Bad Krozingen" in message
    assert "Staufen im Breisgau" in message
    assert MARK not in str(caught.value)


def test_known_municipality_aliases_are_accepted() -> None:
    """A municipality's alias and other case are accepted as before."""
    assert recommend({"age": 30, "municipality": "staufen"}, as_of=AS_OF).eligible is not None


@pytest.mark.parametrize(
    ("text", "where"),
    [
        pytest.param('{"age": 30, "age": 31}', "age", id="top-level"),
        pytest.param(
            '{"consents": [{"partner": "drk", "partner": "jobcenter", "categories": ["health"],'
            ' "given_on": "2025-01-01"}]}',
            "consents.0.partner",
            id="nested",
        ),
        pytest.param('{"Zp4Marker x": 1, "Zp4Marker x": 2}', "(an unknown key)", id="not-a-field-name"),
    ],
)
def test_duplicate_json_keys_are_rejected_with_their_location(text: str, where: str) -> None:
    """A key given twice in JSON is a ProfileError naming its path (not a key that may be a value)."""
    with pytest.raises(ProfileError) as caught:
        CaseProfile.model_validate_json(text)
    assert caught.value.problems == (FieldProblem(where, "duplicate key"),)
    assert MARK not in str(caught.value)


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        pytest.param("agee", "agee", id="field-like"),
        pytest.param(f"{MARK} Müller, 1987-06-05", "(an unknown key)", id="a-value-as-key"),
        pytest.param("x" * 80, "(an unknown key)", id="too-long"),
    ],
)
def test_unknown_keys_are_named_only_when_field_like(key: str, shown: str) -> None:
    """An unknown key is named if it looks like a field name, else called an unknown key."""
    with pytest.raises(ProfileError) as caught:
        CaseProfile.model_validate({key: 1})
    assert list(problems(caught.value)) == [shown]
    assert MARK not in str(caught.value)


def test_replace_validates_the_changes() -> None:
    """profile.replace() returns a validated copy and rejects bad values like the constructor."""
    profile = CaseProfile(age=30, municipality="Staufen")
    changed = profile.replace(age=31)
    assert (changed.age, changed.municipality, profile.age) == (31, "Staufen", 30)
    with pytest.raises(ProfileError, match="age"):
        profile.replace(age=True)
    with pytest.raises(ProfileError, match="agee"):
        profile.replace(agee=3)


def test_model_copy_with_update_validates_too() -> None:
    """model_copy(update=...) cannot smuggle an invalid value past validation."""
    with pytest.raises(ProfileError, match="residence_status"):
        CaseProfile().model_copy(update={"residence_status": "refugee"})
    assert CaseProfile(age=3).model_copy().age == 3


def test_frozen_error_points_to_replace() -> None:
    """Assigning to a profile field says to use replace(), not model_copy(update=...)."""
    profile = CaseProfile(age=3)
    with pytest.raises(UsageError) as caught:
        setattr(profile, "age", 4)  # noqa: B010 - mypy knows the model is frozen
    assert ".replace(age=...)" in str(caught.value)
    assert "model_copy" not in str(caught.value)


def test_json_round_trip_of_a_valid_profile() -> None:
    """A valid profile's JSON validates back into an equal profile."""
    profile = CaseProfile(age=30, literate_latin=True, entry_date=dt.date(2020, 1, 2), municipality="Staufen")
    assert CaseProfile.model_validate_json(json.dumps(profile.model_dump(mode="json"))) == profile
