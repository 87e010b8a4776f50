"""Memory of the columnar batch path: RSS while recommend_many(detail="statuses") streams 1,000,000 cases.

Run: python benchmarks/memory_columnar.py [--cases 1000000] [--seed 7]

The profiles are generated one by one as the batch reads them (a generator, as a file reader
would give them) and the results are only counted, so anything that grows is the library's.
Prints the resident set size (``/proc/self/statm``) after the first chunk and every 100,000
cases, and the growth from the first chunk to the end.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Iterator

from bench_recommend import AS_OF, random_profile

from referral_engine import CaseProfile, recommend_many
from referral_engine.batch import COLUMNAR_CHUNK
from referral_engine.models import EVENT_DATES

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


def profiles(count: int, seed: int) -> Iterator[CaseProfile]:
    rng = random.Random(seed)
    for _ in range(count):
        profile = random_profile(rng)
        later = {name: None for name in EVENT_DATES if (day := getattr(profile, name)) and day > AS_OF}
        yield profile.replace(**later) if later else profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    eligible = 0
    samples: list[tuple[int, float]] = []
    started = time.process_time()
    for index, result in enumerate(
        recommend_many(profiles(args.cases, args.seed), as_of=AS_OF, detail="statuses")
    ):
        eligible += len(result.eligible)
        done = index + 1
        if done == COLUMNAR_CHUNK or done % 100_000 == 0:
            samples.append((done, rss_mib()))
    cpu = time.process_time() - started
    print(
        f"{args.cases:,} generated profiles, recommend_many(detail='statuses') on {AS_OF}, "
        f"chunks of {COLUMNAR_CHUNK:,}"
    )
    print("| cases read | RSS |")
    print("| ---: | ---: |")
    for done, rss in samples:
        print(f"| {done:,} | {rss:,.1f} MiB |")
    print(
        f"\nRSS growth from the first chunk to the end: {samples[-1][1] - samples[0][1]:+.1f} MiB; "
        f"{eligible:,} eligible decisions; {cpu:.0f} s CPU including generating the profiles"
    )


if __name__ == "__main__":
    main()
