"""Benchmark the change dates of recommend() as rule sets grow: 50, 85, 200 and 500 rules.

Run: python benchmarks/bench_change_dates.py [--cases 2000] [--seed 7] [--repeats 3]

Rule sets of about 50, 200 and 500 rules are built from the bundled ones (85 rules): a prefix of
their services, or copies of every service with their age limits shifted by a year and their
time windows by a month per copy, so that a larger rule set also has more distinct change dates.
For each, the changes after ``as_of`` of generated profiles are computed (the state on ``as_of``
is computed beforehand, not timed) by

- the reference (``timeline.upcoming_changes_reference``): every service decided again on every
  candidate date, with the compiled python engine and with the reference evaluator;
- ``timeline.upcoming_changes``: on each date only the services that date concerns, with their
  own compiled rules.

All three must give the same changes for every case before anything is timed. CPU time
(``time.process_time``) per case, the median of the repeats, in which the contenders take turns.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable

from bench_recommend import AS_OF, random_profile

from referral_engine import CaseProfile, Ruleset, default_ruleset
from referral_engine.conditions import Condition, Leaf, Not, all_of, any_of, leaf, negation
from referral_engine.dates import Duration
from referral_engine.decide import evaluate_rules
from referral_engine.engines import Evaluate, evaluator
from referral_engine.facts import Facts, facts_for
from referral_engine.ruleset import Rule, Service
from referral_engine.timeline import (
    State,
    change_dates,
    probe_profile,
    states,
    upcoming_changes,
    upcoming_changes_reference,
)

SIZES = (50, 85, 200, 500)


def _shift(condition: Condition, copy: int) -> Condition:
    """``condition`` with age limits ``copy`` years and time windows ``copy`` months later."""
    if isinstance(condition, Leaf):
        value = condition.value
        if condition.field == "age" and isinstance(value, int) and not isinstance(value, bool):
            return leaf("age", condition.op, value + copy, value + copy)
        if condition.field == "age" and isinstance(value, frozenset):
            shifted = frozenset(v + copy for v in value)
            return leaf("age", condition.op, shifted, tuple(map(str, sorted(shifted))))
        if isinstance(value, Duration):
            longer = Duration(value.years, value.months + copy, value.days)
            return leaf(condition.field, condition.op, longer, str(longer))
        return condition
    if isinstance(condition, Not):
        return negation(_shift(condition.part, copy))
    parts = tuple(_shift(part, copy) for part in condition.parts)
    return all_of(parts) if type(condition).__name__ == "AllOf" else any_of(parts)


def scaled(base: Ruleset, target: int) -> Ruleset:
    """About ``target`` rules: whole services of ``base`` and of shifted copies, in order."""
    services: list[Service] = []
    rules: list[Rule] = []
    copy = 0
    while len(rules) < target:
        for service in base.services:
            if len(rules) >= target:
                break
            sid = service.id if copy == 0 else f"{service.id}__{copy}"
            services.append(dataclasses.replace(service, id=sid))
            for rule in base.rules_of(service.id):
                rid = rule.id if copy == 0 else f"{rule.id}__{copy}"
                rules.append(dataclasses.replace(rule, id=rid, service=sid, when=_shift(rule.when, copy)))
        copy += 1
    return dataclasses.replace(base, services=tuple(services), rules=tuple(rules))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    profiles = [probe_profile(random_profile(rng)) for _ in range(args.cases)]
    base = default_ruleset()
    print(f"# change dates as rule sets grow, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC\n")
    machine = f"{platform.machine()} ({platform.system()}), {os.cpu_count()} CPUs"
    print(f"Python {sys.version.split()[0]} on {machine}")
    print(
        f"{args.cases:,} generated profiles (seed {args.seed}), as_of {AS_OF}; CPU time per case, "
        f"medians of {args.repeats} repeats"
    )
    print(f"Load average before the run: {' '.join(f'{n:.2f}' for n in os.getloadavg())}\n")

    Job = tuple[Ruleset, Evaluate, CaseProfile, dict[str, State]]
    contenders: dict[str, Callable[[Job], object]] = {
        "reference, compiled python engine": lambda job: upcoming_changes_reference(
            job[0], job[1], job[2], AS_OF, job[3]
        ),
        "reference, reference evaluator": lambda job: upcoming_changes_reference(
            job[0], _closures(job[0]), job[2], AS_OF, job[3]
        ),
        "per service (upcoming_changes)": lambda job: upcoming_changes(job[0], job[2], AS_OF, job[3]),
    }
    rows = []
    for size in SIZES:
        ruleset = scaled(base, size)
        evaluate = evaluator(ruleset, "python")
        jobs: list[Job] = []
        dates = 0.0
        for profile in profiles:
            start = states(ruleset, evaluate, profile, facts_for(profile, AS_OF), AS_OF)
            jobs.append((ruleset, evaluate, profile, start))
            dates += len(change_dates(ruleset, profile, AS_OF))
        for job in jobs:
            results = {name: run(job) for name, run in contenders.items()}
            if len(set(results.values())) != 1:
                sys.exit(f"{size} rules: the contenders disagree on a case's changes")
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.repeats):
            for name, run in contenders.items():
                gc.collect()
                started = time.process_time()
                for job in jobs:
                    run(job)
                times[name].append((time.process_time() - started) / len(jobs) * 1e6)
        rows.append(
            (len(ruleset.rules), dates / len(jobs), {n: statistics.median(t) for n, t in times.items()})
        )
    print(
        "| rules | change dates per case | "
        + " | ".join(f"{name} (µs per case)" for name in contenders)
        + " | per service: µs per 100 rules |"
    )
    print("| ---: | ---: | " + " | ".join("---:" for _ in contenders) + " | ---: |")
    for rules, dates, found in rows:
        per = found["per service (upcoming_changes)"] / rules * 100
        print(
            f"| {rules} | {dates:.1f} | "
            + " | ".join(f"{found[name]:,.0f}" for name in contenders)
            + f" | {per:.1f} |"
        )
    print(f"\nLoad average after the run: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")


_CLOSURES: dict[int, Evaluate] = {}


def _closures(ruleset: Ruleset) -> Evaluate:
    """The reference evaluator (condition closures) for ``ruleset``."""
    found = _CLOSURES.get(id(ruleset))
    if found is None:

        def evaluate(facts: Facts, as_of: dt.date) -> dict[str, bool | None]:
            return evaluate_rules(ruleset, facts, as_of)

        found = _CLOSURES[id(ruleset)] = evaluate
    return found


if __name__ == "__main__":
    main()
