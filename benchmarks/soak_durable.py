"""Soak test of the durable engine: threads, a million cases, and a colliding pair of session ids.

Run: python benchmarks/soak_durable.py [--cases 1000000] [--threads 8] [--per-thread 5000]
     [--rounds 2000] [--seed 11] [--checks memory,threads,collision]

(a) threads: ``--threads`` threads share one rule set and each decides ``--per-thread`` cases with
    ``recommend(..., engine="durable")``; every Recommendation must equal the one computed
    sequentially beforehand.
(b) memory: one thread decides ``--cases`` cases with the durable evaluator (the rule values
    ``evaluator(ruleset, "durable")(facts, as_of)``, not recommend(), which would take half an hour at
    this scale), each checked against the python engine; resident memory (VmRSS) may grow by at
    most ``--max-growth-mib`` between the end of a warm-up of ``--warmup`` cases and the end.
(c) collision: ``case-478212`` and ``case-1221200`` share one 32-bit hash, so durable would mix
    two sessions with these ids. The adapter never passes a caller's id on (it uses one fixed
    session), so two different profiles labelled with them, decided interleaved from one thread
    and from two threads, must each get exactly the python engine's recommendation.

(b) runs first, so that memory the other checks free cannot hide growth. Exits with status 1 if
any check fails. The test suite runs the same checks at small scale
(``tests/test_soak.py``, marked slow).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench_engines import random_case

import referral_engine
from referral_engine import CaseProfile, Ruleset, default_ruleset, recommend
from referral_engine.engines import evaluator
from referral_engine.facts import facts_for

COLLIDING_IDS = ("case-478212", "case-1221200")
#: Two profiles the engines decide differently (JMD for the first, MBE for the second).
COLLIDING_PROFILES = (
    CaseProfile(
        age=19,
        residence_status="gestattung",
        municipality="Staufen",
        accommodation="vorlaeufige_unterbringung",
    ),
    CaseProfile(
        age=41,
        residence_status="ae_25_2_refugee",
        entry_date=dt.date(2024, 5, 10),
        municipality="Bad Krozingen",
        accommodation="anschlussunterbringung",
        accommodation_since=dt.date(2024, 9, 1),
        languages=("ar",),
    ),
)
COLLIDING_DAY = dt.date(2026, 3, 1)
MIB = 1024 * 1024

Report = Callable[[str], None]


def rss_bytes() -> int:
    """The resident set size of this process (VmRSS from /proc/self/status), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS line in /proc/self/status")


@dataclass
class Outcome:
    """What one check found: ``failures`` lists what went wrong (empty when it passed)."""

    name: str
    failures: list[str] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the check passed."""
        return not self.failures


def _quiet(_: str) -> None:
    return None


def _with_short_switch_interval(run: Callable[[], None]) -> None:
    """Run ``run`` with the GIL handed between threads as often as possible (more interleaving)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        run()
    finally:
        sys.setswitchinterval(before)


def check_threads(
    ruleset: Ruleset, threads: int, per_thread: int, seed: int, report: Report = _quiet
) -> Outcome:
    """(a) ``threads`` threads deciding ``per_thread`` cases each give exactly the sequential results."""
    outcome = Outcome("threads")
    rng = random.Random(seed)
    cases = [random_case(rng) for _ in range(threads * per_thread)]
    start = time.perf_counter()
    expected = [
        recommend(profile, as_of=as_of, ruleset=ruleset, engine="durable") for profile, as_of in cases
    ]
    sequential = time.perf_counter() - start
    differing: list[int] = []  # case numbers, appended by the threads
    errors: list[str] = []
    barrier = threading.Barrier(threads)

    def work(first: int) -> None:
        try:
            barrier.wait()
            for index in range(first, first + per_thread):
                profile, as_of = cases[index]
                if recommend(profile, as_of=as_of, ruleset=ruleset, engine="durable") != expected[index]:
                    differing.append(index)
        except Exception as error:  # any exception is a finding, reported with its type
            errors.append(f"thread starting at case {first}: {type(error).__name__}: {error}")

    workers = [threading.Thread(target=work, args=(n * per_thread,)) for n in range(threads)]

    def run() -> None:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    start = time.perf_counter()
    _with_short_switch_interval(run)
    parallel = time.perf_counter() - start
    outcome.failures += errors
    if differing:
        outcome.failures.append(
            f"{len(differing)} of {len(cases)} recommendations differ from the sequential run "
            f"(first: case {min(differing)})"
        )
    outcome.figures = {
        "cases": len(cases),
        "differing": len(differing),
        "sequential_s": sequential,
        "threads_s": parallel,
    }
    report(
        f"(a) {threads} threads x {per_thread} cases, recommend(engine='durable'): "
        f"{len(differing)} of {len(cases)} differ from sequential; sequential {sequential:.1f} s, "
        f"threaded {parallel:.1f} s, {len(errors)} thread errors"
    )
    return outcome


def check_memory(
    ruleset: Ruleset,
    cases: int,
    warmup: int,
    seed: int,
    max_growth_mib: float,
    points: int = 10,
    report: Report = _quiet,
) -> Outcome:
    """(b) ``cases`` cases on the durable evaluator: RSS growth after ``warmup`` below ``max_growth_mib``."""
    outcome = Outcome("memory")
    durable = evaluator(ruleset, "durable")
    python = evaluator(ruleset, "python")
    rng = random.Random(seed)
    every = max(1, (cases - warmup) // points)
    differing = 0
    warm = rss_bytes()
    start = time.perf_counter()
    for done in range(1, cases + 1):
        profile, as_of = random_case(rng)
        facts = facts_for(profile, as_of)
        if durable(facts, as_of) != python(facts, as_of):
            differing += 1
        if done == warmup:
            warm = rss_bytes()
            start = time.perf_counter()
            report(f"(b) after warm-up of {warmup:,} cases: RSS {warm / MIB:.1f} MiB")
        elif done > warmup and ((done - warmup) % every == 0 or done == cases):
            report(
                f"(b) {done:>9,} cases: RSS {rss_bytes() / MIB:.1f} MiB "
                f"({(done - warmup) / (time.perf_counter() - start):,.0f} cases/s since warm-up)"
            )
    end = rss_bytes()
    growth = (end - warm) / MIB
    if growth >= max_growth_mib:
        outcome.failures.append(f"RSS grew by {growth:.1f} MiB (limit {max_growth_mib} MiB)")
    if differing:
        outcome.failures.append(f"{differing} of {cases} cases: durable rule values differ from python")
    outcome.figures = {
        "warm_mib": warm / MIB,
        "end_mib": end / MIB,
        "growth_mib": growth,
        "differing": differing,
    }
    report(
        f"(b) {cases:,} cases, evaluator(ruleset, 'durable'): RSS {warm / MIB:.1f} MiB after warm-up, "
        f"{end / MIB:.1f} MiB at the end, growth {growth:+.1f} MiB (limit {max_growth_mib}); "
        f"{differing} differ from the python engine"
    )
    return outcome


def durable_mixes_colliding_ids() -> bool:
    """Whether raw durable-rules, given the two colliding ids as session ids, mixes the two sessions.

    A control for check (c): it shows that the pair does collide, so a check that passes is
    meaningful. It uses durable's engine core with a rule set of its own, no host (so no timer
    threads and no Python actions) and deletes nothing (deleting a session is what crashes durable).
    """
    import json

    import durable_rules_engine as core  # type: ignore[import-not-found]

    handle = core.create_ruleset("probe", json.dumps({"r": {"all": [{"m": {"$gte": {"x": 0}}}]}}))
    first, _ = core.assert_fact(handle, json.dumps({"sid": COLLIDING_IDS[0], "id": "f", "x": 1}))
    second, _ = core.assert_fact(handle, json.dumps({"sid": COLLIDING_IDS[1], "id": "f", "x": 2}))
    observed = 2  # durable's ERR_EVENT_OBSERVED: "this session already holds that fact"
    # The second session's fact was taken for the one the first session holds.
    return bool(first == 0 and second == observed)


def check_collision(ruleset: Ruleset, rounds: int, report: Report = _quiet) -> Outcome:
    """(c) Two profiles labelled with colliding session ids, interleaved, never mix."""
    outcome = Outcome("collision")
    labelled = dict(zip(COLLIDING_IDS, COLLIDING_PROFILES, strict=True))
    expected = {
        label: recommend(profile, as_of=COLLIDING_DAY, ruleset=ruleset, engine="python")
        for label, profile in labelled.items()
    }
    if expected[COLLIDING_IDS[0]].eligible == expected[COLLIDING_IDS[1]].eligible:
        outcome.failures.append("the two profiles must be decided differently for the check to mean anything")
    wrong: dict[str, int] = dict.fromkeys(COLLIDING_IDS, 0)
    errors: list[str] = []

    def decide(label: str) -> None:
        result = recommend(labelled[label], as_of=COLLIDING_DAY, ruleset=ruleset, engine="durable")
        if result != expected[label]:
            wrong[label] += 1

    for _ in range(rounds):  # one thread, strictly alternating
        for label in COLLIDING_IDS:
            decide(label)

    def work(label: str) -> None:
        try:
            for _ in range(rounds):
                decide(label)
        except Exception as error:  # any exception is a finding
            errors.append(f"{label}: {type(error).__name__}: {error}")

    workers = [threading.Thread(target=work, args=(label,)) for label in COLLIDING_IDS]

    def run() -> None:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    _with_short_switch_interval(run)
    outcome.failures += errors
    for label, count in wrong.items():
        if count:
            outcome.failures.append(f"{count} recommendations for the profile labelled {label} were wrong")
    mixes = durable_mixes_colliding_ids()
    outcome.figures = {"decisions": 4 * rounds, "wrong": sum(wrong.values()), "raw_durable_mixes": mixes}
    report(
        f"(c) {COLLIDING_IDS[0]} / {COLLIDING_IDS[1]}: {2 * rounds:,} decisions alternating in one "
        f"thread and {2 * rounds:,} from two threads, {sum(wrong.values())} differ from the python engine; "
        f"control: raw durable with these ids as session ids mixes them: {mixes}"
    )
    return outcome


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--per-thread", type=int, default=5000)
    parser.add_argument("--cases", type=int, default=1_000_000, help="cases for the memory check")
    parser.add_argument("--warmup", type=int, default=10_000)
    parser.add_argument("--max-growth-mib", type=float, default=50.0)
    parser.add_argument("--rounds", type=int, default=2000, help="alternations for the collision check")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--checks", default="memory,threads,collision")
    args = parser.parse_args(argv)
    checks = set(args.checks.split(","))
    if not checks <= {"memory", "threads", "collision"}:
        parser.error("--checks takes a comma-separated list of: memory, threads, collision")
    ruleset = default_ruleset()
    machine = f"{platform.machine()} ({platform.system()})"
    print(f"durable soak: Python {sys.version.split()[0]} on {machine}, {os.cpu_count()} CPUs")
    print(f"{ruleset!r} from {Path(referral_engine.__file__).parent}")
    print(f"started {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, seed {args.seed}", flush=True)

    def report(text: str) -> None:
        print(text, flush=True)

    # The memory check runs first: memory the other checks free again would otherwise be reused
    # and hide growth.
    outcomes = []
    if "memory" in checks:
        outcomes.append(
            check_memory(ruleset, args.cases, args.warmup, args.seed + 1, args.max_growth_mib, report=report)
        )
    if "threads" in checks:
        outcomes.append(check_threads(ruleset, args.threads, args.per_thread, args.seed, report))
    if "collision" in checks:
        outcomes.append(check_collision(ruleset, args.rounds, report))
    for outcome in outcomes:
        print(
            f"{outcome.name:<10} {'PASS' if outcome.ok else 'FAIL'}"
            + "".join(f"\n  {f}" for f in outcome.failures)
        )
    return 0 if outcomes and all(outcome.ok for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
