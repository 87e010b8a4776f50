"""The benchmarks' hand-written yardstick decides exactly what the engine decides.

``benchmarks/handwritten.py`` is the bundled rule set copied into plain Python by hand: issue 10
measures the engines against it. A yardstick that decides something else would make every ratio
meaningless, so these tests compare it with the python engine (compiled) and with the reference
evaluator (condition closures, ``period_end``) on generated cases and on both sides of every
limit the rules hold — ages, fixed dates, ``within`` / ``older_than`` windows and rule validity.
The limits are read from the loaded rules, so a new limit is tested without editing this file;
a changed rule makes these tests fail until ``handwritten.py`` follows it (intended).
"""

from __future__ import annotations

import datetime as dt
import random
import sys
from collections.abc import Callable, Iterator
from typing import get_args

import pytest

from referral_engine import CaseProfile, Ruleset, default_ruleset
from referral_engine.compiled import compiled
from referral_engine.conditions import Leaf
from referral_engine.dates import Duration, period_end, window_start
from referral_engine.decide import evaluate_rules, statuses
from referral_engine.facts import FIELDS, Facts, facts_for
from referral_engine.models import EVENT_DATES, LANGUAGE_LEVELS, ResidenceStatus, Status
from referral_engine.ruleset import Rule

from .conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
# benchmarks/ is a folder of scripts, not a package
from bench_engines import STATUS_VALUE, SUBSET, hand_written, random_case
from bench_recommend import AS_OF, random_profile
from handwritten import SERVICES, decide_all

STATUSES: tuple[str, ...] = get_args(ResidenceStatus)
DAY = dt.timedelta(days=1)
#: The fields random_profile fills (it gives an age, never a birth date).
GENERATED = tuple(name for name in FIELDS if name != "birth_date")
#: Days whose month ends clamp windows (§ 188 Abs. 3 BGB): leap day, 28 Feb, the 31st.
CLAMPING_DAYS = (dt.date(2024, 2, 29), dt.date(2026, 2, 28), dt.date(2026, 3, 31), dt.date(2025, 5, 31))


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    return default_ruleset()


Decider = Callable[[Facts, dt.date], dict[str, Status]]


def _mismatches(
    ruleset: Ruleset, cases: Iterator[tuple[CaseProfile, dt.date]], decider: Decider = decide_all
) -> tuple[int, list[str]]:
    """How many cases were compared, and a description (no case values) of each disagreement."""
    run = compiled(ruleset).run
    found: list[str] = []
    count = 0
    for profile, as_of in cases:
        facts = facts_for(profile, as_of)
        mine = decider(facts, as_of)
        engine = dict(zip(SERVICES, run(facts, as_of)[1], strict=True))
        reference = statuses(ruleset, evaluate_rules(ruleset, facts, as_of))
        count += 1
        for service in SERVICES:
            if not mine[service] == engine[service] == reference[service]:
                found.append(
                    f"{service} on {as_of}: hand-written {mine[service].value}, engine "
                    f"{engine[service].value}, reference {reference[service].value}"
                )
    return count, found


def _leaves(ruleset: Ruleset) -> Iterator[Leaf]:
    for rule in ruleset.rules:
        yield from rule.leaves


def test_services_are_the_rule_sets_in_its_order(ruleset: Ruleset) -> None:
    assert tuple(service.id for service in ruleset.services) == SERVICES


def test_generated_cases_of_the_benchmark(ruleset: Ruleset) -> None:
    """3,000 cases as the benchmarks generate them (one in ten on another day, 2016-2026)."""
    rng = random.Random(2026)
    count, found = _mismatches(ruleset, (random_case(rng) for _ in range(3000)))
    assert count == 3000
    assert not found, found[:20]


def _profiles(rng: random.Random, n: int) -> Iterator[CaseProfile]:
    """``n`` generated profiles: every other one with every field known, so that no unknown hides a limit."""
    for index in range(n):
        profile = random_profile(rng)
        while index % 2 and (unknown := [name for name in GENERATED if getattr(profile, name) is None]):
            other = random_profile(rng)
            profile = profile.replace(**{name: getattr(other, name) for name in unknown})
        yield profile


def _validity_days(ruleset: Ruleset) -> set[dt.date]:
    """The first and last day of every rule's window, the days just outside, and AS_OF."""
    days = {AS_OF}
    for rule in ruleset.rules:
        if rule.valid_from is not None:
            days |= {rule.valid_from - DAY, rule.valid_from}
        if rule.valid_to is not None and rule.valid_to < dt.date.max:
            days |= {rule.valid_to, rule.valid_to + DAY}
    return days


def _on(profile: CaseProfile, as_of: dt.date, **changes: object) -> tuple[CaseProfile, dt.date]:
    """``profile`` with ``changes``, decided on ``as_of``; event dates after ``as_of`` become unknown."""
    changed = profile.replace(**changes)
    later = {name: None for name in EVENT_DATES if (day := getattr(changed, name)) and day > as_of}
    return (changed.replace(**later) if later else changed), as_of


def test_every_rule_validity_limit(ruleset: Ruleset) -> None:
    """On the first and last day of every rule's window and the day outside, for every status."""
    days = _validity_days(ruleset)
    rng = random.Random(1)

    def cases() -> Iterator[tuple[CaseProfile, dt.date]]:
        for as_of in sorted(days):
            for status in STATUSES:
                for profile in _profiles(rng, 4):
                    yield _on(profile, as_of, residence_status=status)

    count, found = _mismatches(ruleset, cases())
    assert count == len(days) * len(STATUSES) * 4
    assert not found, found[:20]


def _holding(rule: Rule, rng: random.Random) -> dict[str, object]:
    """Profile values under which the rule's comparisons on statuses, ages and levels hold.

    (Time windows and negations are left to the generated profile.)
    """
    changes: dict[str, object] = {}
    for leaf in rule.leaves:
        value = leaf.value
        if leaf.op == "eq":
            changes[leaf.field] = LANGUAGE_LEVELS[value] if leaf.field == "language_level" else value
        elif leaf.op == "in":
            changes[leaf.field] = rng.choice(sorted(value))
        elif leaf.field in ("age", "language_level") and leaf.op in ("ge", "gt", "le", "lt"):
            shift = {"ge": 0, "gt": 1, "le": 0, "lt": -1}[leaf.op]
            changes[leaf.field] = value + shift if leaf.field == "age" else LANGUAGE_LEVELS[value + shift]
    return changes


def test_every_rule_at_its_validity_limits_where_it_holds(ruleset: Ruleset) -> None:
    """Each rule with a window, on the days at and outside its limits, with profiles where it holds."""
    rng = random.Random(6)

    def cases() -> Iterator[tuple[CaseProfile, dt.date]]:
        for rule in ruleset.rules:
            limits = [
                day for day in (rule.valid_from, rule.valid_to) if day is not None and day < dt.date.max
            ]
            for limit in limits:
                for as_of in (limit - DAY, limit, limit + DAY):
                    for profile in _profiles(rng, 8):
                        yield _on(profile, as_of, **_holding(rule, rng))

    count, found = _mismatches(ruleset, cases())
    assert count > 500
    assert not found, found[:20]


def test_every_age_limit(ruleset: Ruleset) -> None:
    """One year below, at and above every age a rule names, for every status."""
    limits = {leaf.value for leaf in _leaves(ruleset) if leaf.field == "age"}
    assert limits  # the rules do test ages
    rng = random.Random(2)
    ages = sorted({age for limit in limits for age in (limit - 1, limit, limit + 1)})

    def cases() -> Iterator[tuple[CaseProfile, dt.date]]:
        for age in ages:
            for status in STATUSES:
                for profile in _profiles(rng, 4):
                    yield _on(profile, AS_OF, age=age, residence_status=status)

    count, found = _mismatches(ruleset, cases())
    assert count == len(ages) * len(STATUSES) * 4
    assert not found, found[:20]


def test_every_time_window_limit(ruleset: Ruleset) -> None:
    """Event dates on the last day of every ``within`` window, the day before and the day after.

    Also on days whose month ends clamp the window, for every date field a window is tested on.
    """
    windows: dict[str, set[Duration]] = {}
    for leaf in _leaves(ruleset):
        if leaf.op in ("within", "older_than"):
            windows.setdefault(leaf.field, set()).add(leaf.value)
    assert windows
    rng = random.Random(3)

    def cases() -> Iterator[tuple[CaseProfile, dt.date]]:
        for field, durations in sorted(windows.items()):
            for duration in sorted(durations, key=str):
                for as_of in (AS_OF, *CLAMPING_DAYS):
                    first = window_start(as_of, duration)
                    assert period_end(first, duration) >= as_of > period_end(first - DAY, duration)
                    for day in (first - DAY, first, first + DAY):
                        for status in STATUSES:
                            for profile in _profiles(rng, 2):
                                yield _on(profile, as_of, **{field: day, "residence_status": status})

    count, found = _mismatches(ruleset, cases())
    assert count > 1000
    assert not found, found[:20]


def test_every_fixed_date_limit(ruleset: Ruleset) -> None:
    """Date facts on both sides of every date a rule compares them with, on every validity limit after it."""
    limits = [
        (leaf.field, leaf.value)
        for leaf in _leaves(ruleset)
        if isinstance(leaf.value, dt.date) and leaf.op in ("lt", "le", "gt", "ge")
    ]
    assert limits
    days = _validity_days(ruleset)
    rng = random.Random(4)

    def cases() -> Iterator[tuple[CaseProfile, dt.date]]:
        for field, limit in sorted(set(limits)):
            for as_of in sorted(day for day in days if day > limit):
                for day in (limit - DAY, limit, limit + DAY):
                    for status in STATUSES:
                        for profile in _profiles(rng, 2):
                            yield _on(profile, as_of, **{field: day, "residence_status": status})

    count, found = _mismatches(ruleset, cases())
    assert count > 0
    assert not found, found[:20]


def test_the_four_service_function_of_bench_engines_agrees_too(ruleset: Ruleset) -> None:
    """``bench_engines.hand_written`` (four services, dates by ``add_months``) follows the rules as well."""
    rng = random.Random(7)
    days = sorted(_validity_days(ruleset))
    cases = [random_case(rng) for _ in range(3000)]
    cases += [_on(p, day, residence_status=s) for day in days for s in STATUSES for p in _profiles(rng, 2)]
    run = compiled(ruleset).run
    wrong = 0
    for profile, as_of in cases:
        facts = facts_for(profile, as_of)
        engine = dict(zip(SERVICES, run(facts, as_of)[1], strict=True))
        wrong += hand_written(facts, as_of) != tuple(STATUS_VALUE[engine[service]] for service in SUBSET)
    assert wrong == 0


def test_a_wrong_yardstick_is_caught(ruleset: Ruleset) -> None:
    """The comparison finds a hand-written function that forgets one limit (JMD up to 27, not 28)."""

    def off_by_one(facts: Facts, as_of: dt.date) -> dict[str, Status]:
        decided = decide_all(facts, as_of)
        if facts["age"] == 27 and facts["residence_status"] == "gestattung":
            decided["jmd"] = Status.ELIGIBLE
        return decided

    rng = random.Random(5)
    cases = (_on(random_profile(rng), AS_OF, age=27, residence_status="gestattung") for _ in range(3))
    count, found = _mismatches(ruleset, cases, off_by_one)
    assert count == 3
    assert (
        found == ["jmd on 2026-03-01: hand-written eligible, engine not_eligible, reference not_eligible"] * 3
    )
