"""Benchmark recommend() on generated profiles: median / p95 latency and cases per second.

Run: python benchmarks/bench_recommend.py [--cases 5000] [--seed 7] [--engine python|durable]
(default: the library's default engine, durable where it is installed).
The figures go into BENCHMARKS.md together with the machine they were measured on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, get_args

from referral_engine import CaseProfile, default_ruleset, recommend
from referral_engine.decide import decide
from referral_engine.engines import evaluator, resolve
from referral_engine.facts import facts_for
from referral_engine.models import (
    ENGINES,
    Accommodation,
    Benefits,
    Employment,
    IntegrationCourse,
    LanguageLevel,
    ResidenceStatus,
)

T = TypeVar("T")
AS_OF = dt.date(2026, 3, 1)
PLACES = ["Bad Krozingen", "Staufen im Breisgau", "Hartheim am Rhein", None]  # known places only


def _maybe(rng: random.Random, value: Any, known: float = 0.85) -> Any:
    return value if rng.random() < known else None


def _day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange((end - start).days))


def random_profile(rng: random.Random) -> CaseProfile:
    """A plausible profile; each field is unknown with probability 0.15."""
    entry = _day(rng, dt.date(2015, 1, 1), AS_OF)
    return CaseProfile(
        age=_maybe(rng, rng.randint(0, 70)),
        residence_status=_maybe(rng, rng.choice(get_args(ResidenceStatus))),
        entry_date=_maybe(rng, entry),
        status_since=_maybe(rng, _day(rng, entry, AS_OF + dt.timedelta(days=1))),
        language_level=_maybe(rng, rng.choice(get_args(LanguageLevel))),
        literate_latin=_maybe(rng, rng.random() < 0.8),
        accommodation=_maybe(rng, rng.choice(get_args(Accommodation))),
        accommodation_since=_maybe(rng, _day(rng, entry, AS_OF + dt.timedelta(days=1))),
        municipality=_maybe(rng, rng.choice(PLACES)),
        benefits=_maybe(rng, rng.choice(get_args(Benefits))),
        employment=_maybe(rng, rng.choice(get_args(Employment))),
        registered_jobseeker=_maybe(rng, rng.random() < 0.5),
        foreign_qualification=_maybe(rng, rng.random() < 0.4),
        integration_course=_maybe(rng, rng.choice(get_args(IntegrationCourse))),
        languages=_maybe(rng, tuple(rng.sample(["ar", "fa", "uk", "ru", "tr", "en", "fr", "ti"], 2))),
    )


def latencies(function: Callable[[T], object], items: Sequence[T]) -> list[float]:
    """How long ``function`` took for each item, in µs."""
    times = []
    for item in items:
        start = time.perf_counter_ns()
        function(item)
        times.append((time.perf_counter_ns() - start) / 1000)
    return times


def _report(name: str, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    median = statistics.median(ordered)
    p95 = ordered[int(len(ordered) * 0.95)]
    rate = len(ordered) / (sum(ordered) / 1e6)
    print(f"{name:<28} median {median:8.1f} µs   p95 {p95:8.1f} µs   {rate:10,.0f} cases/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--engine", choices=ENGINES, default=None)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    profiles = [random_profile(rng) for _ in range(args.cases)]
    ruleset = default_ruleset().with_engine(args.engine)
    evaluate = evaluator(ruleset)
    print(
        f"referral-engine benchmark: {args.cases} generated profiles, as_of {AS_OF}, seed {args.seed}, "
        f"engine {resolve(None, ruleset)}"
    )
    print(f"Python {sys.version.split()[0]} on {platform.machine()} ({platform.system()}), {ruleset!r}")

    def decisions_only(profile: CaseProfile) -> None:
        facts = facts_for(profile, AS_OF)
        decide(ruleset, facts, AS_OF, evaluate(facts, AS_OF))

    def full(profile: CaseProfile) -> None:
        recommend(profile, as_of=AS_OF, ruleset=ruleset)

    dumped = [profile.model_dump() for profile in profiles]

    def from_mapping(index: int) -> None:
        recommend(dumped[index], as_of=AS_OF, ruleset=ruleset)

    latencies(full, profiles[:200])  # warm-up
    _report("decision step", latencies(decisions_only, profiles))
    _report("recommend(CaseProfile)", latencies(full, profiles))
    _report("recommend(dict)", latencies(from_mapping, list(range(len(dumped)))))


if __name__ == "__main__":
    main()
