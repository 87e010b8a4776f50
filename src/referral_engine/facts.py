"""The facts a rule can test: the case profile's fields plus values derived for ``as_of``.

Rules see a flat mapping from field name to value, where ``None`` means unknown. ``age`` is
derived from ``birth_date`` when that is known, and ``language_level`` becomes its rank on the
CEFR scale so that levels compare in order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal, get_args

from .dates import age_on
from .errors import FieldProblem, ProfileError
from .models import (
    EVENT_DATES,
    LANGUAGE_LEVELS,
    Accommodation,
    Benefits,
    CaseProfile,
    Employment,
    IntegrationCourse,
    LanguageLevel,
    ResidenceStatus,
)

FieldKind = Literal["int", "date", "bool", "enum", "level", "text", "list"]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """How a profile field can be tested: its kind and, for enumerations, the allowed values."""

    name: str
    kind: FieldKind
    values: tuple[str, ...] = ()


def _enum(name: str, literal: Any) -> FieldSpec:
    return FieldSpec(name, "enum", get_args(literal))


#: Every field a condition may name. ``consents`` is not testable: consent gates handovers, not eligibility.
FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec("age", "int"),
        FieldSpec("birth_date", "date"),
        _enum("residence_status", ResidenceStatus),
        FieldSpec("entry_date", "date"),
        FieldSpec("status_since", "date"),
        FieldSpec("language_level", "level", get_args(LanguageLevel)),
        FieldSpec("literate_latin", "bool"),
        _enum("accommodation", Accommodation),
        FieldSpec("accommodation_since", "date"),
        FieldSpec("municipality", "text"),
        _enum("benefits", Benefits),
        _enum("employment", Employment),
        FieldSpec("registered_jobseeker", "bool"),
        FieldSpec("foreign_qualification", "bool"),
        _enum("integration_course", IntegrationCourse),
        FieldSpec("languages", "list"),
    )
}

Facts = dict[str, Any]
_NAMES = tuple(FIELDS)
_RANKS = {level: rank for rank, level in enumerate(LANGUAGE_LEVELS)}
_DATES = ("birth_date", *EVENT_DATES)
# A profile's fields are the facts in the same order, plus its consents: a copy less those is the facts.
_ALL_BUT_CONSENTS = tuple(CaseProfile.model_fields) == (*_NAMES, "consents")


def facts_for(profile: CaseProfile, as_of: dt.date) -> Facts:
    """The facts of ``profile`` on ``as_of``.

    Raises ProfileError if age and birth date disagree, or if the birth date or an event date
    (arrival, status, accommodation) lies after ``as_of``: the rules look at the past, and a
    date still to come is a typo or a plan, which :func:`~referral_engine.what_if` is for.
    """
    values = profile.__dict__  # the validated fields; reading them so runs once per case and date
    if _ALL_BUT_CONSENTS and type(profile) is CaseProfile:
        facts: Facts = values.copy()
        del facts["consents"]
    else:  # a subclass may have more fields
        facts = {name: values[name] for name in _NAMES}
    if any((value := values[name]) is not None and value > as_of for name in _DATES):
        raise ProfileError(
            [
                FieldProblem(name, "must not be after the as_of date")
                for name in _DATES
                if (value := values[name]) is not None and value > as_of
            ]
        )
    if profile.birth_date is not None:
        age = age_on(profile.birth_date, as_of)
        if profile.age is not None and profile.age != age:
            raise ProfileError(
                [FieldProblem("age", "does not match birth_date on the as_of date; give one of them")]
            )
        facts["age"] = age
    level = facts["language_level"]
    if level is not None:
        facts["language_level"] = _RANKS[level]
    if facts["municipality"] is not None:
        facts["municipality"] = facts["municipality"].casefold()
    return facts
