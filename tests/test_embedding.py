"""A profile embedded in an application's models, printers and tracebacks never shows its values.

Every test plants marker values (a municipality, a date, a key) and checks that no error, repr,
pretty-printer or traceback repeats them, while errors still name each bad field.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import json
import traceback
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from referral_engine import (
    CaseProfile,
    Consent,
    ProfileError,
    Recommendation,
    ResultError,
    StatusChange,
    default_ruleset,
    recommend,
)
from referral_engine.models import HIDDEN_INPUT, Status

MARK = "Xq7Marker"
MARK_DATE = dt.date(1987, 6, 5)  # a date that appears nowhere in the rules or fixtures
BAD_PROFILE: dict[str, Any] = {
    "age": f"{MARK}-age",
    "birth_date": f"{MARK}-birth",
    "literate_latin": f"{MARK}-yes",
    "municipality": 7,
    "consents": [{"partner": "drk", "categories": [f"{MARK}-cat"], "given_on": "2025-01-01"}],
    f"{MARK}-key with spaces": 1,
}


class HostRequest(BaseModel):
    """An application's request model (as FastAPI would declare it) that holds a profile."""

    model_config = ConfigDict(hide_input_in_errors=True)

    case_id: str
    profile: CaseProfile


class PlainHost(BaseModel):
    """A host model that sets nothing: the library still hides the profile's values."""

    profile: CaseProfile


def _everything(error: ValidationError) -> str:
    """Every way an application may render a ValidationError: str, repr, errors(), json()."""
    return "\n".join([str(error), repr(error), repr(error.errors()), error.json()])


@pytest.mark.parametrize("host", [HostRequest, PlainHost], ids=["hide_input_in_errors", "plain"])
def test_host_model_error_names_each_field_and_no_value(host: type[BaseModel]) -> None:
    """A host model's ValidationError locates each bad profile field and never holds a planted value."""
    with pytest.raises(ValidationError) as caught:
        host.model_validate({"case_id": "c1", "profile": BAD_PROFILE})
    locations = {item["loc"] for item in caught.value.errors()}
    assert {
        ("profile", "age"),
        ("profile", "birth_date"),
        ("profile", "literate_latin"),
        ("profile", "municipality"),
        ("profile", "consents", 0, "categories", 0),
        ("profile", "(an unknown key)"),
    } <= locations
    assert MARK not in _everything(caught.value)
    assert all(item["input"] == HIDDEN_INPUT for item in caught.value.errors())


def test_host_model_json_error_names_each_field_and_no_value() -> None:
    """A host model validating JSON (a web request body) locates the field and hides the value."""
    body = json.dumps({"case_id": "c1", "profile": {"age": True, "entry_date": f"{MARK}"}})
    with pytest.raises(ValidationError) as caught:
        HostRequest.model_validate_json(body)
    assert {item["loc"] for item in caught.value.errors()} == {("profile", "age"), ("profile", "entry_date")}
    assert MARK not in _everything(caught.value)


def test_host_model_with_a_valid_profile_keeps_it() -> None:
    """A valid nested profile validates into a CaseProfile whose values are intact."""
    request = HostRequest.model_validate({"case_id": "c1", "profile": {"age": 30, "municipality": "Staufen"}})
    assert request.profile.age == 30
    assert MARK not in repr(request)


def _profile() -> CaseProfile:
    return CaseProfile(
        birth_date=MARK_DATE,
        municipality=f"Staufen {MARK}",
        consents=(
            Consent(partner="drk", purpose="mbe", categories=("health",), given_on=dt.date(2011, 3, 4)),
        ),
    )


def test_repr_and_str_hide_values() -> None:
    """repr() and str() of a profile, a consent and a host model hold none of the values."""
    profile = _profile()
    texts = [repr(profile), str(profile), repr(profile.consents[0]), repr(PlainHost(profile=profile))]
    for text in texts:
        assert MARK not in text
        assert MARK_DATE.isoformat() not in text
        assert "2011" not in text


def test_rich_pretty_hides_values() -> None:
    """rich.pretty prints field names of a profile, consent and host model, never their values."""
    pretty = pytest.importorskip("rich.pretty")
    profile = _profile()
    for value in (profile, profile.consents[0], PlainHost(profile=profile)):
        text = pretty.pretty_repr(value)
        assert MARK not in text
        assert "1987" not in text
        assert "2011" not in text
    assert "municipality" in pretty.pretty_repr(profile)


def test_devtools_hides_values() -> None:
    """Devtools' pformat (debug()) prints no value of a profile or a consent."""
    devtools = pytest.importorskip("devtools")
    profile = _profile()
    for value in (profile, profile.consents[0], PlainHost(profile=profile)):
        text = devtools.pformat(value)
        assert MARK not in text
        assert "1987" not in text


def test_status_change_shows_no_date_anywhere() -> None:
    """A StatusChange's date is in no repr, str, rich or devtools rendering (it can reveal a birthday)."""
    change = StatusChange(
        on=MARK_DATE, service="jmd", kind="counselling", before=Status.ELIGIBLE, after=Status.NOT_ELIGIBLE
    )
    texts = [repr(change), str(change), repr(list(change.__repr_args__()))]
    if importlib.util.find_spec("rich") is not None:
        from rich.pretty import pretty_repr

        texts.append(pretty_repr(change))
    if importlib.util.find_spec("devtools") is not None:
        from devtools import pformat

        texts.append(pformat(change))
    for text in texts:
        assert "1987" not in text
        assert "jmd" in text


def test_recommendation_printers_hide_dates_of_the_person() -> None:
    """rich.pretty of a recommendation shows neither the change dates nor valid_until."""
    pretty = pytest.importorskip("rich.pretty")
    profile = {"birth_date": dt.date(1999, 5, 15), "residence_status": "ae_25_2_refugee"}
    rec = recommend(profile, as_of=dt.date(2026, 3, 1))
    assert rec.changes, "the 27th birthday is a change"
    text = pretty.pretty_repr(rec)
    assert "1999" not in text
    assert "2026, 5, 15" not in text
    assert "2026-05-15" not in text


def test_tracebacks_hold_no_value() -> None:
    """The formatted traceback of a ProfileError shows no value and no chained pydantic error."""
    with pytest.raises(ProfileError) as caught:
        CaseProfile(**BAD_PROFILE)
    error = caught.value
    assert error.__cause__ is None
    assert error.__context__ is None
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    assert MARK not in text
    assert "age: expected a whole number" in text


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: CaseProfile.model_validate(BAD_PROFILE), id="model_validate"),
        pytest.param(lambda: CaseProfile.model_validate_json(json.dumps(BAD_PROFILE)), id="json"),
        pytest.param(lambda: CaseProfile().replace(age=f"{MARK}"), id="replace"),
        pytest.param(lambda: recommend(BAD_PROFILE, as_of=dt.date(2026, 3, 1)), id="recommend"),
    ],
)
def test_every_entry_raises_profile_error_without_context(build: Any) -> None:
    """Each way of validating a profile raises ProfileError with no exception chain and no value."""
    with pytest.raises(ProfileError) as caught:
        build()
    assert caught.value.__context__ is None
    assert caught.value.__cause__ is None
    assert MARK not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("{not json " + MARK, id="invalid-json"),
        pytest.param(json.dumps({"as_of": MARK}), id="bad-fields"),
        pytest.param(json.dumps([MARK]), id="not-an-object"),
    ],
)
def test_output_models_raise_result_error_without_input(text: str) -> None:
    """Recommendation.model_validate_json of bad JSON raises ResultError holding no input."""
    with pytest.raises(ResultError) as caught:
        Recommendation.model_validate_json(text)
    assert MARK not in str(caught.value)
    assert caught.value.__context__ is None
    assert "input_value" not in str(caught.value)


def test_output_model_round_trip_still_works() -> None:
    """A recommendation's JSON reads back into an equal Recommendation."""
    rec = recommend({"age": 30, "municipality": "Staufen"}, as_of=dt.date(2026, 3, 1))
    assert Recommendation.model_validate_json(rec.model_dump_json()) == rec
    assert default_ruleset().ruleset_version == rec.ruleset_version


def test_rich_traceback_with_locals_hides_values() -> None:
    """A rich traceback that shows local variables shows a profile's field names, never its values."""
    pytest.importorskip("rich")
    from rich.console import Console
    from rich.traceback import Traceback

    def handle(profile: CaseProfile) -> None:
        raise RuntimeError("the application failed while holding a profile")

    try:
        handle(_profile())
    except RuntimeError as error:
        trace = Traceback.from_exception(type(error), error, error.__traceback__, show_locals=True)
    console = Console(record=True, width=200, file=io.StringIO())
    console.print(trace)
    text = console.export_text()
    assert "profile" in text
    assert MARK not in text
    assert "1987" not in text
