"""Resident memory while a million cases stream through ``recommend_many``, and over ``recommend()``.

Run: python benchmarks/bench_memory.py [--cases 1000000] [--recommend-cases 100000] [--seed 7]
     [--only many|recommend]   # one of the two in a fresh process (caches not warmed by the other)

Profiles are generated one at a time by a generator (never a list), so what grows is the
library's, not the input's. Two checks, in this order in one process:

1. ``recommend_many(profiles, as_of=..., detail="statuses")`` on the bundled rules over
   ``--cases`` profiles, consumed as they come (each result dropped);
2. ``recommend()`` over ``--recommend-cases`` profiles, one call each (result dropped).

Each reports VmRSS (``/proc/self/status``, Linux) after a warm-up of ``--warmup`` cases, every
``--every`` cases, and at the end, plus cases per second (CPU time and wall clock, including
generating the profiles). The figures go into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench_recommend import AS_OF, random_profile

from referral_engine import CaseProfile, default_ruleset, recommend, recommend_many
from referral_engine.models import EVENT_DATES

STATUS_FILE = Path("/proc/self/status")


def rss_mib() -> float:
    """This process's resident set size (VmRSS) in MiB."""
    for line in STATUS_FILE.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def profiles(count: int, seed: int) -> Iterator[CaseProfile]:
    """``count`` generated profiles valid on AS_OF (event dates after it unknown), one at a time."""
    rng = random.Random(seed)
    for _ in range(count):
        profile = random_profile(rng)
        later = {name: None for name in EVENT_DATES if (day := getattr(profile, name)) and day > AS_OF}
        yield profile.replace(**later) if later else profile


@dataclass
class Run:
    """RSS samples (cases done, MiB) and rates of one streamed run."""

    cases: int = 0
    samples: list[tuple[int, float]] = field(default_factory=list)
    cpu: float = 0.0
    wall: float = 0.0

    @property
    def after_warmup(self) -> float:
        return self.samples[0][1]

    @property
    def end(self) -> float:
        return self.samples[-1][1]

    @property
    def peak(self) -> float:
        return max(mib for _, mib in self.samples)


def stream(results: Iterable[object], warmup: int, every: int) -> Run:
    """Consume ``results``, sampling RSS after ``warmup`` results, every ``every``, and at the end."""
    run = Run()
    cpu, wall = time.process_time(), time.perf_counter()
    for run.cases, _ in enumerate(results, start=1):
        if run.cases == warmup or (run.cases > warmup and run.cases % every == 0):
            run.samples.append((run.cases, rss_mib()))
    run.cpu, run.wall = time.process_time() - cpu, time.perf_counter() - wall
    if not run.samples or run.samples[-1][0] != run.cases:
        run.samples.append((run.cases, rss_mib()))
    return run


def recommendations(
    items: Iterable[CaseProfile], decide: Callable[[CaseProfile], object]
) -> Iterator[object]:
    for profile in items:
        yield decide(profile)


def _report(title: str, run: Run) -> None:
    print(
        f"| {title} | {run.cases:,} | {run.after_warmup:.1f} MiB | {run.end:.1f} MiB | "
        f"{run.end - run.after_warmup:+.1f} MiB | {run.peak:.1f} MiB | {run.cases / run.cpu:,.0f} | "
        f"{run.cases / run.wall:,.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--recommend-cases", type=int, default=100_000)
    parser.add_argument("--warmup", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=("many", "recommend"), help="run one of the two checks")
    args = parser.parse_args()
    if not STATUS_FILE.exists():
        sys.exit("this benchmark reads VmRSS from /proc/self/status (Linux)")
    ruleset = default_ruleset()
    print(f"# referral-engine memory benchmark, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC\n")
    print(f"Python {sys.version.split()[0]} on {platform.machine()} ({platform.system()}), {ruleset!r}")
    print(f"as_of {AS_OF}, seed {args.seed}, warm-up {args.warmup:,} cases, RSS every {args.every:,} cases")
    print(f"Load average before the run: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    print(f"VmRSS with the rule set loaded: {rss_mib():.1f} MiB\n")

    runs: dict[str, Run] = {}
    if args.only in (None, "many"):
        runs[f'`recommend_many(..., detail="statuses")`, {len(ruleset.rules)} rules'] = stream(
            recommend_many(profiles(args.cases, args.seed), as_of=AS_OF, ruleset=ruleset, detail="statuses"),
            args.warmup,
            args.every,
        )
    if args.only in (None, "recommend"):
        runs["`recommend()`, one call per case"] = stream(
            recommendations(
                profiles(args.recommend_cases, args.seed + 1),
                lambda profile: recommend(profile, as_of=AS_OF, ruleset=ruleset),
            ),
            args.warmup,
            args.every // 10,
        )
    print(
        "| run | cases | VmRSS after warm-up | VmRSS at the end | growth | peak | "
        "cases/s (CPU time) | cases/s (wall clock) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for title, run in runs.items():
        _report(title, run)
    for title, run in runs.items():
        print(f"\n{title}, VmRSS samples (MiB): " + ", ".join(f"{n:,}: {mib:.1f}" for n, mib in run.samples))
    print(f"\nLoad average after the run: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")


if __name__ == "__main__":
    main()
