"""Property-based testing for rule authors: hypothesis strategies and ready-made property checks.

Needs hypothesis (``pip install "referral-engine[testing]"``); the library itself never imports it.
The strategies are derived from a rule set — its age limits, dates, time windows, levels, values,
municipalities and the days rules and offers change — so they follow the rules you test::

    from hypothesis import given
    from referral_engine import load_ruleset
    from referral_engine.testing import cases, check_unknown_never_overturns

    RULES = load_ruleset("my-rules")

    @given(cases(RULES))
    def test_unknown_never_overturns(case):
        profile, as_of = case
        check_unknown_never_overturns(RULES, profile, as_of)

``case_profiles(ruleset)`` and ``as_of_dates(ruleset)`` draw independently; :func:`cases` draws an
``as_of`` first and then a profile whose birth and event dates sit on the edges of the rules' age
limits and time windows *for that day* (the day before, on, and after a birthday that reaches an
age limit), which is what finds off-by-one-day mistakes. Every check raises ``AssertionError``
naming the services and fields concerned and showing the profile's known values: the checks are
meant for generated, made-up profiles (a profile's ``repr`` hides its values, so hypothesis'
"falsifying example" alone would not tell you which case broke the rule).
"""

from __future__ import annotations

import datetime as dt
from calendar import isleap
from collections.abc import Mapping, Sequence
from typing import Any, get_args

try:
    from hypothesis import strategies as st
except ImportError as error:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "referral_engine.testing needs hypothesis: pip install 'referral-engine[testing]'"
    ) from error

from .dates import add_days, add_months, age_on
from .errors import ProfileError
from .facts import FIELDS
from .loader import default_ruleset
from .models import (
    EARLIEST_DATE,
    EVENT_DATES,
    LANGUAGE_LEVELS,
    CaseProfile,
    Consent,
    DataCategory,
    Recommendation,
    Status,
)
from .recommend import recommend
from .ruleset import Ruleset
from .thresholds import EVENT_FIELDS, MAX_AGE, Thresholds, representatives, thresholds

__all__ = [
    "age_of",
    "as_of_dates",
    "case_profiles",
    "cases",
    "check_deterministic",
    "check_monotone",
    "check_no_gap",
    "check_partner_coverage",
    "check_unknown_never_overturns",
]

_FIELDS_DRAWN = tuple(
    name for name in CaseProfile.model_fields if name not in ("age", "birth_date", "consents")
)
_CATEGORIES: tuple[str, ...] = get_args(DataCategory)


def _rules(ruleset: Ruleset | None) -> Ruleset:
    return default_ruleset() if ruleset is None else ruleset


def _span(th: Thresholds) -> tuple[dt.date, dt.date]:
    """The ``as_of`` dates worth testing: a year before the first change to two years after the last."""
    if not th.changes:
        return dt.date(2024, 1, 1), dt.date(2027, 12, 31)
    return add_months(th.changes[0], -12), add_months(th.changes[-1], 24)


def as_of_dates(
    ruleset: Ruleset | None = None, *, since: dt.date | None = None
) -> st.SearchStrategy[dt.date]:
    """Dates to apply the rules on: often the day a rule or offer changes, or the day before or after.

    They range from a year before the rule set's first change to two years after its last; ``since``
    moves the start (for a deployment that only cares about dates from its adoption on).
    """
    th = thresholds(_rules(ruleset))
    earliest, latest = _span(th)
    if since is not None:
        earliest, latest = since, max(latest, add_months(since, 24))
    near = sorted(_days(earliest, latest, th))
    uniform = st.dates(min_value=earliest, max_value=latest)
    return st.one_of(st.sampled_from(near), uniform) if near else uniform


def _days(earliest: dt.date, latest: dt.date, th: Thresholds) -> set[dt.date]:
    """The days next to a change that lie between ``earliest`` and ``latest``."""
    near = {add_days(d, s) for d in th.changes for s in (-1, 0, 1)}
    return {day for day in near if earliest <= day <= latest}


def _birthdays(th: Thresholds, as_of: dt.date) -> list[dt.date]:
    """Birth dates that reach an age limit on ``as_of``: on the birthday (most often) or a day off.

    Limits are weighted by how many conditions use them: where several rules meet (JMD up to 26,
    MBE from 27) an off-by-one hurts most.
    """
    limits = [age for age in th.age_uses if 0 < age <= MAX_AGE] or [18]
    days = [add_days(add_months(as_of, -12 * age), shift) for age in limits for shift in (0, 0, -1, 1)]
    return [day for day in days if day <= as_of]


def _birth_dates(th: Thresholds, as_of: dt.date | None) -> st.SearchStrategy[dt.date]:
    latest = add_days(_span(th)[0], -1) if as_of is None else as_of
    earliest = max(add_months(latest, -12 * MAX_AGE), EARLIEST_DATE)  # no profile date is earlier
    leap_days = [dt.date(y, 2, 29) for y in range(earliest.year + 1, latest.year) if isleap(y)]
    anyday = st.one_of(st.dates(min_value=earliest, max_value=latest), st.sampled_from(leap_days))
    if as_of is None:
        return anyday
    boundary = st.sampled_from(_birthdays(th, as_of))
    # Three in four birth dates sit on an age limit: a single draw, so that they are not rare.
    return st.sampled_from((boundary, boundary, boundary, anyday)).flatmap(lambda chosen: chosen)


def _event_dates(th: Thresholds, name: str, as_of: dt.date | None) -> st.SearchStrategy[dt.date]:
    """Dates of an event: on the edges of the field's windows for ``as_of``, near compared dates, any day."""
    # Without an as_of, every event lies before the first as_of_dates() can draw (like birth dates):
    # a date after as_of is an error.
    latest = add_days(_span(th)[0], -1) if as_of is None else as_of
    options: list[st.SearchStrategy[dt.date]] = [
        st.dates(min_value=add_months(latest, -240), max_value=latest)
    ]
    near = {add_days(d, s) for d in th.dates.get(name, ()) for s in (-1, 0, 1)}
    compared = sorted(day for day in near if day <= latest)
    if compared:
        options.append(st.sampled_from(compared))
    if as_of is not None:
        edges = [day for day in th.event_edges(name, as_of) if day <= as_of]
        if edges:
            options += [st.sampled_from(edges)] * 2
    return st.one_of(options)


def _values(th: Thresholds, name: str, as_of: dt.date | None) -> st.SearchStrategy[Any]:
    """Known values of one profile field, near the rule set's thresholds."""
    spec = FIELDS.get(name)
    if name in EVENT_FIELDS:
        return _event_dates(th, name, as_of)
    if name == "municipality":
        return st.sampled_from(th.places)
    if name == "languages":
        codes = (*th.languages, "tr", "ti", "so") if th.languages else ("de", "en", "ar", "uk")
        return st.lists(st.sampled_from(codes), max_size=3, unique=True).map(tuple)
    if spec is not None and spec.kind == "bool":
        return st.booleans()
    if spec is not None and spec.values:
        return st.sampled_from(spec.values)
    raise KeyError(name)  # pragma: no cover - every profile field is handled above


def _ages(th: Thresholds) -> st.SearchStrategy[int]:
    near = sorted({a + s for a in th.ages for s in (-1, 0, 1) if 0 <= a + s <= MAX_AGE})
    return st.one_of(st.sampled_from(near), st.integers(0, MAX_AGE)) if near else st.integers(0, MAX_AGE)


def _consents(ruleset: Ruleset) -> st.SearchStrategy[Consent]:
    @st.composite
    def build(draw: st.DrawFn) -> Consent:
        given_on = draw(st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2028, 12, 31)))
        withdrawn = draw(st.none() | st.dates(min_value=given_on, max_value=dt.date(2029, 12, 31)))
        categories = draw(st.lists(st.sampled_from(_CATEGORIES), min_size=1, max_size=4, unique=True))
        partner = draw(st.sampled_from(sorted(ruleset.partners.partners)))
        purposes = sorted({s.id for s in ruleset.services} | {t.id for t in ruleset.steps})
        return Consent(
            partner=partner,
            purpose=draw(st.sampled_from(purposes)),
            categories=tuple(categories),
            given_on=given_on,
            withdrawn_on=withdrawn,
            given_by=draw(st.sampled_from(("person", "guardian"))),
        )

    return build()


def case_profiles(
    ruleset: Ruleset | None = None, *, as_of: dt.date | None = None
) -> st.SearchStrategy[CaseProfile]:
    """Valid case profiles for ``ruleset`` (default: the bundled rules); each field may be unknown.

    Values cluster around what the rules test: ages next to each age limit, each enumeration
    value, every German level, dates next to the dates rules compare with. Given ``as_of``, birth
    dates fall on, just before or just after the birthday that reaches an age limit on that day,
    and event dates on the edges of the rules' time windows; without it, birth dates lie before
    every ``as_of`` of :func:`as_of_dates`. At most one of ``age`` and ``birth_date`` is known.
    """
    rules = _rules(ruleset)
    th = thresholds(rules)

    @st.composite
    def build(draw: st.DrawFn) -> CaseProfile:
        data: dict[str, Any] = {name: draw(st.none() | _values(th, name, as_of)) for name in _FIELDS_DRAWN}
        which = draw(st.sampled_from(("neither", "age", "birth_date", "birth_date")))
        if which == "age":
            data["age"] = draw(_ages(th))
        elif which == "birth_date":
            data["birth_date"] = draw(_birth_dates(th, as_of))
        data["consents"] = tuple(draw(st.lists(_consents(rules), max_size=2)))
        if data.get("birth_date") is not None:
            # No event of a life before its start (a ProfileError): such dates move to the birth date.
            for name in EVENT_DATES:
                if data[name] is not None and data[name] < data["birth_date"]:
                    data[name] = data["birth_date"]
        return CaseProfile(**data)

    return build()


def cases(
    ruleset: Ruleset | None = None, *, since: dt.date | None = None
) -> st.SearchStrategy[tuple[CaseProfile, dt.date]]:
    """``(profile, as_of)`` pairs: an ``as_of`` from :func:`as_of_dates`, then a profile for that day."""
    rules = _rules(ruleset)
    return as_of_dates(rules, since=since).flatmap(
        lambda day: st.tuples(case_profiles(rules, as_of=day), st.just(day))
    )


# -- property checks ---------------------------------------------------------------------------------


def age_of(profile: CaseProfile, as_of: dt.date) -> int | None:
    """The age the rules see on ``as_of``: the given age, or the one the birth date gives; None if unknown."""
    if profile.birth_date is not None:
        return age_on(profile.birth_date, as_of)
    return profile.age


def _shown(profile: CaseProfile) -> str:
    """The known values of a (generated) profile, as JSON, for assertion messages."""
    return profile.model_dump_json(exclude_none=True, exclude_defaults=True)


def _statuses(rec: Recommendation) -> dict[str, Status]:
    return {d.service: d.status for d in rec.decisions}


def _known(profile: CaseProfile, name: str) -> bool:
    if name == "age":
        return profile.age is not None or profile.birth_date is not None
    return getattr(profile, name) is not None


def check_deterministic(
    ruleset: Ruleset, profile: CaseProfile, as_of: dt.date, *, engine: str | None = None
) -> None:
    """The same profile on the same day gives an equal recommendation, also from a re-validated copy."""
    first = recommend(profile, as_of=as_of, ruleset=ruleset, engine=engine)
    again = recommend(
        CaseProfile.model_validate(profile.model_dump()), as_of=as_of, ruleset=ruleset, engine=engine
    )
    assert first == again, f"two runs gave different recommendations on {as_of} for {_shown(profile)}"


def _fills(ruleset: Ruleset, profile: CaseProfile, as_of: dt.date) -> list[tuple[str, Any]]:
    """One value per class of every unknown field the rules test (see :mod:`referral_engine.thresholds`)."""
    th = thresholds(ruleset)
    leaves = [leaf for rule in ruleset.rules for leaf in rule.leaves]
    fills: list[tuple[str, Any]] = []
    for name in th.fields:
        if _known(profile, name) or (name == "birth_date" and profile.age is not None):
            continue
        own = [leaf for leaf in leaves if leaf.field == name]
        seen: set[tuple[object, ...]] = set()
        for value in representatives(th, name, as_of):
            signature = tuple(leaf.test({name: value}, as_of) for leaf in own)
            if signature in seen:
                continue
            seen.add(signature)
            fills.append((name, LANGUAGE_LEVELS[value] if name == "language_level" else value))
        if name == "age" and profile.birth_date is None:
            fills += [("birth_date", day) for day in th.event_edges("birth_date", as_of) if day <= as_of]
    return fills


def check_unknown_never_overturns(
    ruleset: Ruleset, profile: CaseProfile, as_of: dt.date, *, engine: str | None = None
) -> None:
    """Filling in an unknown field never changes an eligible or not_eligible decision.

    Each unknown field the rules test is filled with one value of each class the rules tell
    apart; a decision may go from undetermined to settled, never from one settled status to another.
    """
    before = _statuses(recommend(profile, as_of=as_of, ruleset=ruleset, engine=engine))
    for name, value in _fills(ruleset, profile, as_of):
        if name == "birth_date" and age_on(value, as_of) < 0:
            continue
        try:
            filled = profile.replace(**{name: value})
            after = _statuses(recommend(filled, as_of=as_of, ruleset=ruleset, engine=engine))
        except ProfileError:
            continue  # an event before the birth date or after as_of: no person has that profile
        for service, status in before.items():
            if status is not Status.UNDETERMINED and after[service] is not status:
                raise AssertionError(
                    f"{service} was {status.value} with {name} unknown and is {after[service].value} "
                    f"once {name} is {value!r}: an unknown fact overturned a decision ({_shown(profile)})"
                )


def check_partner_coverage(
    ruleset: Ruleset, profile: CaseProfile, as_of: dt.date, *, engine: str | None = None
) -> None:
    """Every eligible service has a responsible partner in the person's municipality.

    Services ``partners.yaml`` declares ``not_offered`` there are accepted; profiles from unknown
    municipalities are skipped.
    """
    graph = ruleset.partners
    place = graph.municipality_id(profile.municipality)
    if place is None:
        return
    rec = recommend(profile, as_of=as_of, ruleset=ruleset, engine=engine)
    for decision in rec.decisions:
        if decision.status is not Status.ELIGIBLE or decision.partners:
            continue
        declared = any(
            n.service == decision.service
            and n.in_force(as_of)
            and (n.municipalities is None or place in n.municipalities)
            for n in graph.not_offered
        )
        assert declared, (
            f"{decision.service} is eligible but has no responsible partner in {place} on {as_of} "
            f"({_shown(profile)})"
        )


def check_monotone(
    ruleset: Ruleset,
    profile: CaseProfile,
    as_of: dt.date,
    *,
    field: str,
    service: str,
    increasing: bool = True,
    engine: str | None = None,
) -> None:
    """A declared monotonicity: raising ``field`` never takes away an eligible ``service``.

    With ``increasing=False``, lowering it never does. For example: a higher German level never
    removes the Berufssprachkurs. ``field`` is ``language_level`` or ``age``; an unknown field
    is skipped.
    """
    if field not in ("language_level", "age"):
        raise ValueError("check_monotone compares language_level or age")
    current = getattr(profile, field)
    if current is None or (field == "age" and profile.birth_date is not None):
        return
    if (
        recommend(profile, as_of=as_of, ruleset=ruleset, engine=engine).decision(service).status
        is not Status.ELIGIBLE
    ):
        return
    if field == "language_level":
        rank = LANGUAGE_LEVELS.index(current)
        others: Sequence[Any] = LANGUAGE_LEVELS[rank + 1 :] if increasing else LANGUAGE_LEVELS[:rank]
    else:
        ages = {a + s for a in thresholds(ruleset).ages for s in (-1, 0, 1)} | {MAX_AGE, 0}
        above = [a for a in ages if a > current and a <= MAX_AGE]
        others = sorted(above if increasing else [a for a in ages if 0 <= a < current])
    for value in others:
        changed = profile.replace(**{field: value})
        status = recommend(changed, as_of=as_of, ruleset=ruleset, engine=engine).decision(service).status
        direction = "higher" if increasing else "lower"
        assert status is Status.ELIGIBLE, (
            f"{service} is eligible at {field}={current} but {status.value} at the {direction} value {value} "
            f"on {as_of} ({_shown(profile)})"
        )


def check_no_gap(
    ruleset: Ruleset,
    profile: CaseProfile,
    as_of: dt.date,
    *,
    kind: str = "counselling",
    services: Sequence[str] | None = None,
    engine: str | None = None,
) -> None:
    """Not every service of ``kind`` (or of the given ``services``) is not_eligible for the profile.

    Use it on the profiles your rules promise to serve, e.g. with ``assume(...)`` on age and status.
    """
    chosen = (
        tuple(services) if services is not None else tuple(s.id for s in ruleset.services if s.kind == kind)
    )
    rec = recommend(profile, as_of=as_of, ruleset=ruleset, engine=engine)
    statuses: Mapping[str, Status] = _statuses(rec)
    if all(statuses[s] is Status.NOT_ELIGIBLE for s in chosen):
        raise AssertionError(
            f"gap: every one of {', '.join(chosen)} is not_eligible on {as_of} "
            f"(age {age_of(profile, as_of)}; {_shown(profile)})"
        )
