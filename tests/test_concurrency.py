"""recommend() and default_ruleset() are safe to call from many threads at once."""

from __future__ import annotations

import datetime as dt
import random
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, get_args

import pytest

from referral_engine import CaseProfile, Consent, Recommendation, Ruleset, default_ruleset, loader, recommend
from referral_engine.models import (
    Accommodation,
    Benefits,
    DataCategory,
    Employment,
    IntegrationCourse,
    LanguageLevel,
    ResidenceStatus,
)
from tests.strategies import LANGUAGES, MUNICIPALITIES, NEAR_THRESHOLDS, PARTNERS, PURPOSES

T = TypeVar("T")
THREADS = 4
CASES = 200


def _maybe(rng: random.Random, make: Callable[[], T]) -> T | None:
    return make() if rng.random() < 0.6 else None


def _day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    if rng.random() < 0.3:
        return rng.choice([day for day in NEAR_THRESHOLDS if start <= day <= end])
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def random_case(rng: random.Random) -> tuple[CaseProfile, dt.date]:
    """A valid profile and as_of date drawn from ``rng`` (at most one of age and birth date)."""
    as_of = _day(rng, dt.date(2016, 1, 1), dt.date(2027, 12, 31))
    early, late = min(dt.date(2010, 1, 1), as_of), as_of  # an event after as_of is a ProfileError
    data: dict[str, Any] = {
        "residence_status": _maybe(rng, lambda: rng.choice(get_args(ResidenceStatus))),
        "entry_date": _maybe(rng, lambda: _day(rng, early, late)),
        "status_since": _maybe(rng, lambda: _day(rng, early, late)),
        "language_level": _maybe(rng, lambda: rng.choice(get_args(LanguageLevel))),
        "literate_latin": _maybe(rng, lambda: rng.random() < 0.5),
        "accommodation": _maybe(rng, lambda: rng.choice(get_args(Accommodation))),
        "accommodation_since": _maybe(rng, lambda: _day(rng, early, late)),
        "municipality": rng.choice(MUNICIPALITIES),
        "benefits": _maybe(rng, lambda: rng.choice(get_args(Benefits))),
        "employment": _maybe(rng, lambda: rng.choice(get_args(Employment))),
        "registered_jobseeker": _maybe(rng, lambda: rng.random() < 0.5),
        "foreign_qualification": _maybe(rng, lambda: rng.random() < 0.5),
        "integration_course": _maybe(rng, lambda: rng.choice(get_args(IntegrationCourse))),
        "languages": _maybe(rng, lambda: rng.sample(LANGUAGES, rng.randrange(3))),
    }
    which = rng.choice(("age", "birth_date", None))
    if which == "age":
        data["age"] = rng.randrange(121)
    elif which == "birth_date":
        data["birth_date"] = _day(rng, dt.date(1920, 1, 1), as_of)
    for name in ("entry_date", "status_since", "accommodation_since"):
        if data.get("birth_date") and data[name] and data[name] < data["birth_date"]:
            data[name] = data["birth_date"]  # no event before the birth (a ProfileError)
    data["consents"] = [
        Consent(
            partner=rng.choice(PARTNERS),
            purpose=rng.choice(PURPOSES),
            categories=tuple(rng.sample(get_args(DataCategory), rng.randrange(1, 4))),
            given_on=_day(rng, early, late),
        )
        for _ in range(rng.randrange(3))
    ]
    return CaseProfile(**data), as_of


@pytest.fixture(scope="module")
def cases() -> list[tuple[CaseProfile, dt.date]]:
    """The same 200 cases on every run."""
    rng = random.Random(1234)
    return [random_case(rng) for _ in range(CASES)]


@pytest.fixture
def frequent_switches() -> Iterator[None]:
    """Make the interpreter switch threads very often, to mix the threads' work finely."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("frequent_switches")
def test_concurrent_recommend_matches_sequential(cases: list[tuple[CaseProfile, dt.date]]) -> None:
    """Four threads working through the same cases at once get exactly the sequential results."""
    rules = default_ruleset()
    expected = [recommend(profile, as_of=as_of, ruleset=rules) for profile, as_of in cases]
    start = threading.Barrier(THREADS)

    def work(offset: int) -> list[Recommendation]:
        start.wait()
        # Each thread starts at a different case, so that different cases run side by side.
        order = [(index + offset * CASES // THREADS) % CASES for index in range(CASES)]
        results: dict[int, Recommendation] = {}
        for index in order:
            profile, as_of = cases[index]
            results[index] = recommend(profile, as_of=as_of, ruleset=rules)
        return [results[index] for index in range(CASES)]

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(work, range(THREADS)))
    assert len(outcomes) == THREADS
    for outcome in outcomes:
        assert outcome == expected


@pytest.mark.usefixtures("frequent_switches")
def test_concurrent_default_recommend_matches_sequential(cases: list[tuple[CaseProfile, dt.date]]) -> None:
    """Threads using the default rule set (no ruleset argument) also match the sequential results."""
    subset = cases[:50]
    expected = [recommend(profile.model_dump(), as_of=as_of) for profile, as_of in subset]
    start = threading.Barrier(THREADS)

    def work(_: int) -> list[Recommendation]:
        start.wait()
        return [recommend(profile.model_dump(), as_of=as_of) for profile, as_of in subset]

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        assert list(pool.map(work, range(THREADS))) == [expected] * THREADS


@pytest.mark.usefixtures("frequent_switches")
def test_default_ruleset_is_loaded_once_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight threads asking for the default rules at once all get the very same Ruleset, loaded once."""
    monkeypatch.setattr(loader, "_default", None)
    calls: list[object] = []
    real_load = loader.load_ruleset

    def counting_load(path: Any) -> Ruleset:
        calls.append(path)
        return real_load(path)

    monkeypatch.setattr(loader, "load_ruleset", counting_load)
    start = threading.Barrier(8)

    def work(_: int) -> Ruleset:
        start.wait()
        return default_ruleset()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(8)))
    assert len(calls) == 1
    assert all(result is results[0] for result in results)
    assert default_ruleset() is results[0]
