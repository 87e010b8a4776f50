"""The public models and errors behave as the contract (shared/spec/contract.md) says."""

from __future__ import annotations

import datetime as dt
import inspect
import json
import string
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

import referral_engine
from referral_engine import (
    CaseProfile,
    ConditionOutcome,
    Consent,
    NextStep,
    ProfileError,
    Reason,
    Recommendation,
    ReferralEngineError,
    ResultError,
    RuleFileError,
    Ruleset,
    ServiceDecision,
    Status,
    UsageError,
    recommend,
)
from tests.conftest import examples
from tests.strategies import case_profiles

AS_OF = dt.date(2026, 3, 1)
MODELS: tuple[type[BaseModel], ...] = (
    CaseProfile,
    Consent,
    Recommendation,
    ServiceDecision,
    NextStep,
    Reason,
    ConditionOutcome,
)


def problem_fields(error: ProfileError) -> list[str]:
    return [problem.field for problem in error.problems]


# -- CaseProfile fields ------------------------------------------------------------------------


def test_every_profile_field_is_optional_and_unknown_by_default() -> None:
    """An empty CaseProfile is valid and every field is unknown (consents: none given)."""
    profile = CaseProfile()
    assert all(not info.is_required() for info in CaseProfile.model_fields.values())
    for name in CaseProfile.model_fields:
        assert getattr(profile, name) == (() if name == "consents" else None)
    assert profile.known_fields() == ()


def test_profile_has_the_contract_fields() -> None:
    """CaseProfile has exactly the fields the contract lists."""
    assert list(CaseProfile.model_fields) == [
        "age",
        "birth_date",
        "residence_status",
        "entry_date",
        "status_since",
        "language_level",
        "literate_latin",
        "accommodation",
        "accommodation_since",
        "municipality",
        "benefits",
        "employment",
        "registered_jobseeker",
        "foreign_qualification",
        "integration_course",
        "languages",
        "consents",
    ]


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda data: CaseProfile(**data), id="constructor"),
        pytest.param(CaseProfile.model_validate, id="model_validate"),
        pytest.param(
            lambda data: CaseProfile.model_validate_json(json.dumps(data)), id="model_validate_json"
        ),
    ],
)
def test_unknown_field_is_rejected(build: Callable[[dict[str, Any]], CaseProfile]) -> None:
    """A misspelt field name is a ProfileError naming the field and listing the allowed ones."""
    with pytest.raises(ProfileError) as caught:
        build({"agee": 30})
    assert problem_fields(caught.value) == ["agee"]
    assert "residence_status" in caught.value.problems[0].message


def test_each_bad_field_is_named() -> None:
    """Every bad field gets its own problem, with nested consent fields named by their path."""
    data = {
        "age": -1,
        "residence_status": "refugee",
        "language_level": "B3",
        "languages": ["eng"],
        "literate_latin": "maybe",
        "consents": [
            {"partner": "Caritas e.V.", "categories": [], "given_on": "soon"},
            {
                "partner": "drk",
                "purpose": "mbe",
                "categories": ["health"],
                "given_on": "2025-02-01",
                "withdrawn_on": "2025-01-01",
            },
        ],
        "colour": "blue",
    }
    with pytest.raises(ProfileError) as caught:
        CaseProfile.model_validate(data)
    assert sorted(problem_fields(caught.value)) == sorted(
        [
            "age",
            "residence_status",
            "language_level",
            "languages",
            "literate_latin",
            "consents.0.partner",
            "consents.0.purpose",
            "consents.0.categories",
            "consents.0.given_on",
            "consents.1.withdrawn_on",
            "colour",
        ]
    )
    messages = {problem.field: problem.message for problem in caught.value.problems}
    assert "gestattung" in messages["residence_status"]  # says what is allowed
    assert "B1" in messages["language_level"]
    assert "ISO 639-1" in messages["languages"]
    assert "given_on" in messages["consents.1.withdrawn_on"]


# -- error messages never echo the value given -------------------------------------------------

secrets = st.text(alphabet=string.ascii_letters + string.digits, min_size=4, max_size=16).map(
    lambda text: f"SECRET-{text}"
)
SCALAR_FIELDS = (
    "age",
    "birth_date",
    "residence_status",
    "entry_date",
    "status_since",
    "language_level",
    "literate_latin",
    "accommodation",
    "accommodation_since",
    "municipality",
    "benefits",
    "employment",
    "registered_jobseeker",
    "foreign_qualification",
    "integration_course",
    "languages",
)


def _consent(**changes: Any) -> dict[str, Any]:
    return {
        "partner": "caritas",
        "purpose": "mbe",
        "categories": ["health"],
        "given_on": "2025-01-01",
        **changes,
    }


CONSENT_PLACEMENTS: dict[str, Callable[[str], Any]] = {
    "partner": lambda secret: [_consent(partner=secret)],
    "purpose": lambda secret: [_consent(purpose=secret + " ")],
    "category": lambda secret: [_consent(categories=["residence", secret])],
    "given_on": lambda secret: [_consent(given_on=secret)],
    "withdrawn_on": lambda secret: [_consent(withdrawn_on=secret)],
    "whole_consent": lambda secret: [secret],
    "whole_list": lambda secret: secret,
}


def _bad_value(name: str, secret: str) -> Any:
    if name == "municipality":
        return (secret + "-") * 10  # longer than the 100 characters allowed
    if name == "languages":
        return ["de", secret]
    return secret


ENTRY_POINTS: dict[str, Callable[[dict[str, Any], Ruleset], object]] = {
    "constructor": lambda data, _: CaseProfile(**data),
    "model_validate": lambda data, _: CaseProfile.model_validate(data),
    "model_validate_json": lambda data, _: CaseProfile.model_validate_json(json.dumps(data)),
    "recommend": lambda data, ruleset: recommend(data, as_of=AS_OF, ruleset=ruleset),
}


@given(
    secret=secrets,
    fields=st.lists(st.sampled_from(SCALAR_FIELDS), min_size=1, max_size=5, unique=True),
    consent_placement=st.none() | st.sampled_from(sorted(CONSENT_PLACEMENTS)),
    entry_point=st.sampled_from(sorted(ENTRY_POINTS)),
)
@settings(max_examples=examples(300), deadline=None)
def test_errors_never_echo_the_value_given(
    minimal_ruleset: Ruleset,
    secret: str,
    fields: list[str],
    consent_placement: str | None,
    entry_point: str,
) -> None:
    """A ProfileError names each bad field but its str, repr and traceback never contain the value."""
    data: dict[str, Any] = {name: _bad_value(name, secret) for name in fields}
    if consent_placement is not None:
        data["consents"] = CONSENT_PLACEMENTS[consent_placement](secret)
    with pytest.raises(ProfileError) as caught:
        ENTRY_POINTS[entry_point](data, minimal_ruleset)
    error = caught.value
    named = {problem.field.split(".")[0] for problem in error.problems}
    assert named == set(fields) | ({"consents"} if consent_placement else set())
    assert secret not in str(error)
    assert secret not in repr(error)
    assert all(secret not in str(problem) for problem in error.problems)
    assert secret not in "".join(traceback.format_exception(error))


@given(
    number=st.integers(min_value=10**6, max_value=10**18), entry_point=st.sampled_from(sorted(ENTRY_POINTS))
)
@settings(max_examples=examples(100), deadline=None)
def test_out_of_range_age_is_not_echoed(minimal_ruleset: Ruleset, number: int, entry_point: str) -> None:
    """An age far out of range is reported without repeating the number."""
    with pytest.raises(ProfileError) as caught:
        ENTRY_POINTS[entry_point]({"age": number}, minimal_ruleset)
    assert problem_fields(caught.value) == ["age"]
    assert str(number) not in str(caught.value)
    assert str(number) not in repr(caught.value)


@pytest.mark.parametrize("entry_point", sorted(ENTRY_POINTS))
def test_profile_error_is_not_a_pydantic_error(minimal_ruleset: Ruleset, entry_point: str) -> None:
    """Every way of building a profile raises ProfileError, never pydantic's ValidationError."""
    with pytest.raises(ProfileError) as caught:
        ENTRY_POINTS[entry_point]({"age": "old", "residence_status": "x"}, minimal_ruleset)
    assert not isinstance(caught.value, ValidationError)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__  # pydantic's error (with the input) is not shown


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: CaseProfile.model_validate("age=30"), id="model_validate-not-a-mapping"),
        pytest.param(lambda: CaseProfile.model_validate_json("[30]"), id="json-not-an-object"),
        pytest.param(lambda: CaseProfile.model_validate_json('{"age": 3'), id="json-invalid"),
        pytest.param(lambda: recommend(["age", 30]), id="recommend-not-a-mapping"),  # type: ignore[arg-type]
    ],
)
def test_profile_that_is_no_mapping_is_a_profile_error(build: Callable[[], object]) -> None:
    """A profile that is not a mapping (or not JSON) is a ProfileError about the whole profile."""
    with pytest.raises(ProfileError) as caught:
        build()
    assert problem_fields(caught.value) == ["(profile)"]


def test_consent_errors_are_profile_errors() -> None:
    """Building a Consent with bad data raises ProfileError naming the bad fields."""
    with pytest.raises(ProfileError) as caught:
        Consent.model_validate(
            {"partner": "drk", "purpose": "mbe", "categories": ["gossip"], "given_on": "2025-01-01"}
        )
    # pydantic also reports the list as too short once the bad item is dropped.
    assert "categories.0" in problem_fields(caught.value)
    assert all(field.startswith("categories") for field in problem_fields(caught.value))


# -- error classes -----------------------------------------------------------------------------


@pytest.mark.parametrize("error", [ProfileError, RuleFileError, UsageError])
def test_error_hierarchy(error: type[Exception]) -> None:
    """ProfileError, RuleFileError and UsageError are ReferralEngineErrors and ValueErrors."""
    assert issubclass(error, ReferralEngineError)
    assert issubclass(error, ValueError)


# -- frozen, strict models ---------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_models_are_frozen_and_forbid_extra_fields(model: type[BaseModel]) -> None:
    """Every public model is frozen and rejects unknown fields."""
    assert model.model_config.get("frozen") is True
    assert model.model_config.get("extra") == "forbid"


def _recommendation(ruleset: Ruleset) -> Recommendation:
    profile = {"age": 20, "residence_status": "gestattung", "municipality": "Town A"}
    return recommend(profile, as_of=AS_OF, ruleset=ruleset)


def test_assignment_to_output_models_raises(minimal_ruleset: Ruleset) -> None:
    """Assigning to a field of a recommendation, decision, step or reason raises."""
    rec = _recommendation(minimal_ruleset)
    targets: list[tuple[BaseModel, str, Any]] = [
        (rec, "eligible", ()),
        (rec.decisions[0], "status", Status.NOT_ELIGIBLE),
        (rec.next_steps[0], "text", "changed"),
        (rec.decisions[0].reasons[0], "rule", "changed"),
        (rec.decisions[0].reasons[0].conditions[0], "outcome", "failed"),
    ]
    for target, name, value in targets:
        with pytest.raises((ValidationError, ReferralEngineError), match="frozen"):
            setattr(target, name, value)
    assert rec.decisions[0].status == "eligible"


@pytest.mark.parametrize(
    ("model", "name", "secret"),
    [
        pytest.param(CaseProfile(age=3), "residence_status", "SECRET-assigned", id="profile-bad-value"),
        pytest.param(CaseProfile(age=3), "age", 40, id="profile-good-value"),
        pytest.param(CaseProfile(), "colour", "SECRET-colour", id="profile-unknown-field"),
        pytest.param(
            Consent(partner="drk", purpose="mbe", categories=("health",), given_on=dt.date(2025, 1, 1)),
            "partner",
            "SECRET-partner",
            id="consent",
        ),
    ],
)
def test_assignment_to_input_models_raises_without_echo(model: BaseModel, name: str, secret: object) -> None:
    """Assigning to a profile or consent raises a ReferralEngineError that does not repeat the value."""
    before = model.model_dump()
    with pytest.raises(ReferralEngineError, match="frozen") as caught:
        setattr(model, name, secret)
    assert not isinstance(caught.value, ValidationError)
    assert str(secret) not in str(caught.value)
    assert str(secret) not in repr(caught.value)
    assert model.model_dump() == before


def test_output_models_reject_extra_fields(minimal_ruleset: Ruleset) -> None:
    """A recommendation with an unknown key does not validate: a ResultError names the key."""
    data = _recommendation(minimal_ruleset).model_dump(mode="json")
    with pytest.raises(ResultError, match="comment: unknown field"):
        Recommendation.model_validate({**data, "comment": "x"})


# -- repr --------------------------------------------------------------------------------------


def test_profile_repr_shows_only_known_field_names() -> None:
    """repr() and str() of a profile list the known fields and none of their values."""
    profile = CaseProfile(
        age=33,
        municipality="Staufen",
        residence_status="duldung",
        consents=(
            Consent(partner="drk", purpose="mbe", categories=("health",), given_on=dt.date(2025, 1, 1)),
        ),
    )
    expected = "CaseProfile(<personal data; known: age, residence_status, municipality, consents>)"
    assert repr(profile) == expected
    assert str(profile) == expected
    assert f"{profile!r}" == expected
    assert repr(CaseProfile()) == "CaseProfile(<personal data; known: nothing>)"


@given(profile=case_profiles())
@settings(max_examples=examples(200), deadline=None)
def test_profile_repr_never_contains_values(profile: CaseProfile) -> None:
    """No value of any generated profile shows in its repr (which holds no digits at all)."""
    text = repr(profile)
    assert not any(char.isdigit() for char in text)
    for value in (profile.municipality, profile.residence_status, profile.employment, profile.benefits):
        if value is not None:
            assert value not in text
    assert repr([profile]) == f"[{text}]"


# -- Consent -----------------------------------------------------------------------------------

GIVEN = dt.date(2025, 1, 10)
WITHDRAWN = dt.date(2025, 2, 1)


@pytest.mark.parametrize(
    ("on", "covered"),
    [
        (GIVEN - dt.timedelta(days=1), False),
        (GIVEN, True),
        (WITHDRAWN - dt.timedelta(days=1), True),
        (WITHDRAWN, False),  # withdrawn on that day: no longer covered
        (WITHDRAWN + dt.timedelta(days=1), False),
    ],
)
def test_consent_covers_between_given_and_withdrawn(on: dt.date, covered: bool) -> None:
    """A consent covers from the day it is given up to the day before it is withdrawn."""
    consent = Consent(
        partner="drk",
        purpose="mbe",
        categories=("identity", "residence"),
        given_on=GIVEN,
        withdrawn_on=WITHDRAWN,
    )
    assert consent.covers("drk", frozenset({"residence"}), on) is covered


def test_consent_covers_only_its_partner_and_categories() -> None:
    """A consent covers a subset of its categories for its own partner only."""
    consent = Consent(partner="drk", purpose="mbe", categories=("identity", "residence"), given_on=GIVEN)
    assert consent.covers("drk", frozenset(), GIVEN)
    assert consent.covers("drk", frozenset({"identity", "residence"}), dt.date(2030, 1, 1))
    assert not consent.covers("drk", frozenset({"identity", "health"}), GIVEN)
    assert not consent.covers("caritas", frozenset({"identity"}), GIVEN)


def test_consent_withdrawn_on_the_day_it_was_given_is_valid() -> None:
    """A consent withdrawn on the day it was given is valid and never covers anything."""
    consent = Consent(
        partner="drk", purpose="mbe", categories=("health",), given_on=GIVEN, withdrawn_on=GIVEN
    )
    assert not consent.covers("drk", frozenset({"health"}), GIVEN)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        pytest.param(lambda data: Consent(**data), "withdrawn_on", id="constructor"),
        pytest.param(Consent.model_validate, "withdrawn_on", id="model_validate"),
        pytest.param(lambda data: Consent.model_validate_json(json.dumps(data)), "withdrawn_on", id="json"),
        pytest.param(
            lambda data: CaseProfile.model_validate({"consents": [data]}),
            "consents.0.withdrawn_on",
            id="in-profile",
        ),
    ],
)
def test_withdrawn_before_given_is_rejected(build: Callable[[dict[str, Any]], object], field: str) -> None:
    """A consent withdrawn before it was given is a ProfileError located at withdrawn_on."""
    data = {
        "partner": "drk",
        "purpose": "mbe",
        "categories": ["health"],
        "given_on": "2025-02-01",
        "withdrawn_on": "2025-01-31",
    }
    with pytest.raises(ProfileError, match="withdrawn_on: must not be before given_on") as caught:
        build(data)
    assert problem_fields(caught.value) == [field]


# -- languages ---------------------------------------------------------------------------------


def test_languages_are_normalised_to_lower_case() -> None:
    """Language codes are stripped and lower-cased."""
    assert CaseProfile(languages=("UK", " Ar ", "de")).languages == ("uk", "ar", "de")
    assert CaseProfile.model_validate_json('{"languages": ["FA"]}').languages == ("fa",)


@pytest.mark.parametrize("code", ["eng", "deu", "d", "", "u1", "de-DE", "ük", "12", "d e"])
def test_non_iso_language_codes_are_rejected(code: str) -> None:
    """Anything but a two-letter ASCII code is a ProfileError naming the languages field."""
    with pytest.raises(ProfileError) as caught:
        CaseProfile.model_validate({"languages": ["de", code]})
    assert problem_fields(caught.value) == ["languages"]


# -- Status and Recommendation -----------------------------------------------------------------


def test_status_compares_equal_to_its_strings() -> None:
    """Each Status equals its string value and prints as it."""
    for status, text in (
        (Status.ELIGIBLE, "eligible"),
        (Status.NOT_ELIGIBLE, "not_eligible"),
        (Status.UNDETERMINED, "undetermined"),
    ):
        assert status == text
        assert str(status) == text
        assert f"{status}" == text
        assert Status(text) is status
        assert json.dumps(status) == f'"{text}"'


def test_decision_status_compares_equal_to_strings(minimal_ruleset: Ruleset) -> None:
    """A decision's status compares equal to the plain strings of the contract."""
    rec = _recommendation(minimal_ruleset)
    assert rec.decision("youth").status == "eligible"
    assert rec.decision("adult").status == "not_eligible"
    assert rec.decision("adult").status != "eligible"


def test_decision_of_an_unknown_service_raises_key_error(minimal_ruleset: Ruleset) -> None:
    """Recommendation.decision raises KeyError for an id the ruleset does not know."""
    rec = _recommendation(minimal_ruleset)
    with pytest.raises(KeyError):
        rec.decision("nope")
    assert rec.decision("youth").service == "youth"


# -- recommend() arguments ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"lang": "fr"}, id="lang-fr"),
        pytest.param({"lang": "DE"}, id="lang-upper-case"),
        pytest.param({"as_of": "2026-01-01"}, id="as_of-text"),
        pytest.param({"as_of": 20260101}, id="as_of-number"),
        pytest.param({"ruleset": "rules"}, id="ruleset-path"),
    ],
)
def test_bad_arguments_raise_usage_error(minimal_ruleset: Ruleset, options: dict[str, Any]) -> None:
    """An unknown lang, an as_of that is no date or a ruleset that is no Ruleset is a UsageError."""
    arguments: dict[str, Any] = {"as_of": AS_OF, "ruleset": minimal_ruleset, **options}
    with pytest.raises(UsageError) as caught:
        recommend({"age": 20}, **arguments)
    assert isinstance(caught.value, ReferralEngineError)


def test_as_of_datetime_is_taken_as_its_date(minimal_ruleset: Ruleset) -> None:
    """A datetime as_of counts as its calendar date."""
    rec = recommend({"age": 20}, as_of=dt.datetime(2026, 3, 1, 23, 59), ruleset=minimal_ruleset)
    assert rec.as_of == AS_OF
    assert type(rec.as_of) is dt.date


@pytest.mark.parametrize(
    ("profile", "field"),
    [
        pytest.param({"age": 30, "birth_date": "2000-03-02"}, "age", id="age-disagrees"),  # 25 on as_of
        pytest.param({"age": 26, "birth_date": "2000-03-02"}, "age", id="age-one-too-many"),
        pytest.param({"birth_date": "2026-03-02"}, "birth_date", id="born-after-as_of"),
        pytest.param({"age": 0, "birth_date": "2026-03-02"}, "birth_date", id="born-after-as_of-with-age"),
    ],
)
def test_inconsistent_age_is_a_profile_error(
    minimal_ruleset: Ruleset, profile: dict[str, Any], field: str
) -> None:
    """Age and birth date must agree on as_of, and the birth date must not be after it."""
    with pytest.raises(ProfileError) as caught:
        recommend(profile, as_of=AS_OF, ruleset=minimal_ruleset)
    assert problem_fields(caught.value) == [field]


@pytest.mark.parametrize(
    "profile",
    [
        {"age": 25, "birth_date": "2000-03-02"},
        {"age": 26, "birth_date": "2000-03-01"},
        {"age": 0, "birth_date": "2026-03-01"},
    ],
)
def test_consistent_age_and_birth_date_are_accepted(
    minimal_ruleset: Ruleset, profile: dict[str, Any]
) -> None:
    """An age that matches the birth date on as_of is accepted."""
    rec = recommend(profile, as_of=AS_OF, ruleset=minimal_ruleset)
    assert rec.as_of == AS_OF


# -- the package's exports ---------------------------------------------------------------------


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted, names every public non-module attribute of the package, and nothing else."""
    exported = list(referral_engine.__all__)
    public = {
        name
        for name, value in vars(referral_engine).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert exported == sorted(exported)
    assert len(exported) == len(set(exported))
    assert set(exported) == public
    assert all(hasattr(referral_engine, name) for name in exported)


def test_contract_names_are_exported() -> None:
    """Every entry point of the contract is importable from the package."""
    contract = {
        "recommend",
        "load_ruleset",
        "default_ruleset",
        "CaseProfile",
        "Recommendation",
        "ServiceDecision",
        "NextStep",
        "Consent",
        "ReferralEngineError",
        "ProfileError",
        "RuleFileError",
    }
    assert contract <= set(referral_engine.__all__)
