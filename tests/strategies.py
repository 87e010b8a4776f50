"""Hypothesis strategies for case profiles and ``as_of`` dates.

Every field of a generated :class:`CaseProfile` is independently unknown (``None``) or a valid
value. Dates cluster around the thresholds the bundled rules test (validity windows and date
comparisons) and, when an ``as_of`` is given, around the ends of the rules' time windows
(``within`` / ``older_than``) and the age limits, so that boundaries are exercised often.
"""

from __future__ import annotations

import datetime as dt
from calendar import isleap
from collections.abc import Callable
from typing import Any, get_args

from hypothesis import strategies as st

from referral_engine import CaseProfile, Consent, default_ruleset
from referral_engine.dates import add_months, age_on
from referral_engine.models import (
    EARLIEST_DATE,
    Accommodation,
    Benefits,
    DataCategory,
    Employment,
    IntegrationCourse,
    LanguageLevel,
    ResidenceStatus,
)

#: Dates the bundled rules compare against (valid_from / valid_to and date conditions).
THRESHOLDS: tuple[dt.date, ...] = tuple(
    dt.date.fromisoformat(text)
    for text in (
        "2012-04-01",
        "2016-09-23",
        "2016-12-29",
        "2016-12-31",
        "2017-01-01",
        "2022-03-01",
        "2022-03-11",
        "2022-05-31",
        "2022-06-01",
        "2022-12-30",
        "2022-12-31",
        "2023-12-23",
        "2024-02-01",
        "2024-02-27",
        "2025-03-31",
        "2025-04-01",
        "2025-10-31",
        "2025-11-01",
        "2026-02-08",
        "2026-02-09",
        "2026-06-30",
        "2026-07-01",
    )
)
#: Each threshold and the days right next to it.
NEAR_THRESHOLDS: tuple[dt.date, ...] = tuple(
    sorted({day + dt.timedelta(days=shift) for day in THRESHOLDS for shift in (-1, 0, 1)})
)
#: Lengths (in months) of the time windows the bundled rules use: P3M, P6M, P1Y, P18M, P3Y, P4Y, P5Y.
WINDOW_MONTHS: tuple[int, ...] = (3, 6, 12, 18, 36, 48, 60)
#: Age limits the bundled rules use.
AGE_LIMITS: tuple[int, ...] = (12, 15, 18, 27, 67)

EARLIEST_AS_OF = dt.date(2016, 1, 1)
LATEST_AS_OF = dt.date(2027, 12, 31)

MUNICIPALITIES: tuple[str | None, ...] = (
    "Bad Krozingen",
    "Staufen",
    "Staufen im Breisgau",
    "Hartheim",
    None,
)
LANGUAGES: tuple[str, ...] = ("de", "en", "fr", "ar", "uk", "ru", "fa", "tr", "ti", "so", "ps", "ku", "es")
_BUNDLED = default_ruleset()
#: Every partner unit of the bundled rules, the split-up ``landratsamt`` included (old consents name it).
PARTNERS: tuple[str, ...] = tuple(sorted(_BUNDLED.partners.partners))
#: What a consent can be given for: every service and step of the bundled rules.
PURPOSES: tuple[str, ...] = tuple(sorted({s.id for s in _BUNDLED.services} | {t.id for t in _BUNDLED.steps}))
DATE_FIELDS: tuple[str, ...] = ("entry_date", "status_since", "accommodation_since")


def _shift_years(day: dt.date, years: int) -> dt.date:
    """``day`` moved by whole years (29 February becomes 28 February in common years)."""
    return add_months(day, 12 * years)


def as_of_dates() -> st.SearchStrategy[dt.date]:
    """Dates from 2016 to 2027, often on or right next to a rule threshold."""
    near = [day for day in NEAR_THRESHOLDS if EARLIEST_AS_OF <= day <= LATEST_AS_OF]
    return st.one_of(
        st.sampled_from(near),
        st.dates(min_value=EARLIEST_AS_OF, max_value=LATEST_AS_OF),
    )


def event_dates(as_of: dt.date | None = None) -> st.SearchStrategy[dt.date]:
    """Dates from 2010 to 2027 (to ``as_of`` if given): any day, a rule threshold, or a window's edge.

    A window edge is ``as_of`` moved back by one of the rules' window lengths, give or take a day,
    which puts ``as_of`` on, just inside or just outside a ``within`` / ``older_than`` window.
    """
    latest = LATEST_AS_OF if as_of is None else as_of  # an event after as_of is a ProfileError
    options: list[st.SearchStrategy[dt.date]] = [
        st.dates(min_value=min(dt.date(2010, 1, 1), latest), max_value=latest),
    ]
    near = [day for day in NEAR_THRESHOLDS if day <= latest]
    if near:
        options.append(st.sampled_from(near))
    if as_of is not None:
        edges = sorted(
            {
                add_months(as_of, -months) + dt.timedelta(days=shift)
                for months in WINDOW_MONTHS
                for shift in (-1, 0, 1)
            }
        )
        options.append(st.sampled_from([day for day in edges if day <= as_of]))
    return st.one_of(options)


def birth_dates(as_of: dt.date | None = None) -> st.SearchStrategy[dt.date]:
    """Birth dates on or before ``as_of`` (or before the earliest ``as_of`` when none is given).

    Given ``as_of``, birthdays that make the person exactly reach an age limit on ``as_of``
    (give or take a day) are common, and so are 29 February birthdays.
    """
    latest = EARLIEST_AS_OF - dt.timedelta(days=1) if as_of is None else as_of
    earliest = max(_shift_years(latest, -120), EARLIEST_DATE)  # a profile holds no earlier date
    leap_days = [
        day
        for day in (dt.date(year, 2, 29) for year in range(earliest.year, latest.year + 1) if isleap(year))
        if earliest <= day <= latest
    ]
    options: list[st.SearchStrategy[dt.date]] = [
        st.dates(min_value=earliest, max_value=latest),
        st.sampled_from(leap_days),
    ]
    if as_of is not None:
        birthdays = sorted(
            {
                _shift_years(as_of, -age) + dt.timedelta(days=shift)
                for age in AGE_LIMITS
                for shift in (-1, 0, 1)
            }
        )
        options.append(st.sampled_from([day for day in birthdays if day <= as_of]))
    return st.one_of(options)


def consents() -> st.SearchStrategy[Consent]:
    """A valid consent for one partner unit and one purpose, possibly withdrawn or expiring later."""

    @st.composite
    def build(draw: st.DrawFn) -> Consent:
        given_on = draw(event_dates())
        later = st.dates(min_value=given_on, max_value=max(given_on, dt.date(2028, 12, 31)))
        withdrawn_on = draw(st.none() | later)
        expires_on = draw(st.none() | later)
        categories = draw(
            st.lists(st.sampled_from(get_args(DataCategory)), min_size=1, max_size=4, unique=True)
        )
        return Consent(
            partner=draw(st.sampled_from(PARTNERS)),
            purpose=draw(st.sampled_from(PURPOSES)),
            categories=tuple(categories),
            given_on=given_on,
            withdrawn_on=withdrawn_on,
            expires_on=expires_on,
            given_by=draw(st.sampled_from(["person", "guardian"])),
        )

    return build()


def field_values(name: str, as_of: dt.date | None = None) -> st.SearchStrategy[Any]:
    """Valid, known values of one profile field (never ``None``).

    ``birth_date`` values are on or before ``as_of``; callers filling in ``birth_date`` next to a
    known ``age`` must pick a consistent one (see :func:`consistent_birth_dates`).
    """
    values: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
        "age": lambda: st.one_of(st.sampled_from(AGE_LIMITS).flatmap(_around), st.integers(0, 120)),
        "birth_date": lambda: birth_dates(as_of),
        "residence_status": lambda: st.sampled_from(get_args(ResidenceStatus)),
        "entry_date": lambda: event_dates(as_of),
        "status_since": lambda: event_dates(as_of),
        "language_level": lambda: st.sampled_from(get_args(LanguageLevel)),
        "literate_latin": st.booleans,
        "accommodation": lambda: st.sampled_from(get_args(Accommodation)),
        "accommodation_since": lambda: event_dates(as_of),
        "municipality": lambda: st.sampled_from([m for m in MUNICIPALITIES if m is not None]),
        "benefits": lambda: st.sampled_from(get_args(Benefits)),
        "employment": lambda: st.sampled_from(get_args(Employment)),
        "registered_jobseeker": st.booleans,
        "foreign_qualification": st.booleans,
        "integration_course": lambda: st.sampled_from(get_args(IntegrationCourse)),
        "languages": lambda: st.lists(st.sampled_from(LANGUAGES), max_size=3, unique=True).map(tuple),
    }
    return values[name]()


def _around(limit: int) -> st.SearchStrategy[int]:
    return st.sampled_from([age for age in (limit - 1, limit, limit + 1) if 0 <= age <= 120])


def consistent_birth_dates(age: int, as_of: dt.date) -> st.SearchStrategy[dt.date]:
    """Birth dates that give exactly ``age`` on ``as_of``."""
    latest = _shift_years(as_of, -age)
    earliest = _shift_years(as_of, -(age + 1)) + dt.timedelta(days=1)
    return st.dates(min_value=earliest, max_value=latest).filter(lambda day: age_on(day, as_of) == age)


#: Fields drawn independently (``age`` / ``birth_date`` and ``consents`` are handled apart).
INDEPENDENT_FIELDS: tuple[str, ...] = tuple(
    name for name in CaseProfile.model_fields if name not in ("age", "birth_date", "consents")
)


def case_profiles(as_of: dt.date | None = None) -> st.SearchStrategy[CaseProfile]:
    """Valid case profiles whose fields are each independently unknown or a valid value.

    At most one of ``age`` and ``birth_date`` is known, and a birth date lies on or before
    ``as_of`` (before the earliest ``as_of`` of :func:`as_of_dates` when none is given), so
    ``recommend`` never rejects the profile.
    """

    @st.composite
    def build(draw: st.DrawFn) -> CaseProfile:
        data: dict[str, Any] = {}
        for name in INDEPENDENT_FIELDS:
            data[name] = draw(st.none() | field_values(name, as_of))
        which = draw(st.sampled_from(("neither", "age", "birth_date")))
        if which != "neither":
            data[which] = draw(field_values(which, as_of))
        data["consents"] = tuple(draw(st.lists(consents(), max_size=4)))
        if data.get("birth_date") is not None:
            # An event before the birth date is a ProfileError: move such dates to the birth date.
            for name in DATE_FIELDS:
                if data[name] is not None and data[name] < data["birth_date"]:
                    data[name] = data["birth_date"]
        return CaseProfile(**data)

    return build()


@st.composite
def cases(draw: st.DrawFn) -> tuple[CaseProfile, dt.date]:
    """An ``as_of`` date and a profile whose dates cluster around that date's rule windows."""
    as_of = draw(as_of_dates())
    return draw(case_profiles(as_of)), as_of


# -- hostile inputs (tests/test_reliability.py) ----------------------------------------------------

#: Values that have broken parsers and engines before: huge and boundary numbers, sentinel and
#: impossible dates, control characters, lone surrogates, deep nesting, wrong types.
HOSTILE_SCALARS: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    2**31,
    2**63,
    10**4000,
    -(10**30),
    1.5,
    float("nan"),
    float("inf"),
    "",
    " ",
    "9999-12-31",
    "0001-01-01",
    "2026-02-30",
    "1700000000",
    "\x1b[31mred\x1b[0m",
    "\ud800",
    "a" * 10_000,
    "SECRET-marker-4711",
    dt.date(9999, 12, 31),
    dt.date(1, 1, 1),
    dt.datetime(2026, 1, 1, 12, 0),
)


def hostile_values() -> st.SearchStrategy[Any]:
    """Any JSON-like value, biased towards :data:`HOSTILE_SCALARS`, nested a few levels."""
    scalars = st.one_of(
        st.sampled_from(HOSTILE_SCALARS),
        st.integers(),
        st.text(max_size=20),
        st.dates(),
        st.floats(allow_nan=True),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=8,
    )


def hostile_profiles() -> st.SearchStrategy[dict[str, Any]]:
    """Mappings with profile field names (and others) as keys and hostile values."""
    from referral_engine.facts import FIELDS

    keys = st.one_of(st.sampled_from(sorted(FIELDS)), st.text(max_size=12))
    return st.dictionaries(keys, hostile_values(), max_size=6)


def text_mutations() -> st.SearchStrategy[Callable[[str], str]]:
    """Functions that break a YAML text the way editors, merges and attackers do."""

    @st.composite
    def mutation(draw: st.DrawFn) -> Callable[[str], str]:
        kind = draw(st.sampled_from(["cut", "insert", "duplicate", "replace", "truncate"]))
        fraction = draw(st.floats(0, 1))
        width = draw(st.integers(1, 200))
        fragment = draw(
            st.one_of(
                st.sampled_from(
                    [
                        "{",
                        "[",
                        ": ",
                        "- ",
                        "\n  ",
                        "&a ",
                        "*a",
                        "!!python/object:os.system ",
                        "{partner:>999}",
                        "{partner!r}",
                        "extends: /etc\n",
                        "extends: ../../..\n",
                        "0o777",
                        "027",
                        "9999-12-31",
                        "\t",
                        "\x00",
                        "\ud800",
                        "[" * 300,
                        "- " * 200,
                    ]
                ),
                st.text(max_size=30),
            )
        )

        def apply(text: str) -> str:
            at = int(len(text) * fraction)
            if kind == "cut":
                return text[:at] + text[at + width :]
            if kind == "insert":
                return text[:at] + fragment + text[at:]
            if kind == "duplicate":
                return text[:at] + text[at : at + width] * 2 + text[at + width :]
            if kind == "replace":
                return text[:at] + fragment + text[at + len(fragment) :]
            return text[:at]

        return apply

    return mutation()
