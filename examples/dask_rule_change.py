"""A rule change over a synthetic population on Dask: how many cases change status, per service.

Run (after ``pip install "referral-engine[dask]"``)::

    python examples/dask_rule_change.py                    # 10,000,000 cases, one worker per core
    python examples/dask_rule_change.py --cases 100000     # a quick look
    python examples/dask_rule_change.py --after examples/deployment

*Before* is the bundled rule set. *After* is, by default, the same rules with the
Jugendmigrationsdienst for people under 25 instead of under 27 (``rules/eligibility/jmd.yaml``
edited in a temporary copy and loaded by the strict loader, as a reform would be), or any rule
folder given with ``--after``.

The cases are generated inside the partitions (each partition gets only its seed), so nothing but
the rule sets and the counts travel. Each partition is screened by both rule sets with the
columnar engine (:func:`referral_engine.on_dask.screen_dask`), on one ``as_of`` date, by a local
Dask cluster with one single-threaded worker process per core; the rule sets reach each worker once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, get_args

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
from distributed import Client, LocalCluster

from referral_engine import Ruleset, default_ruleset, load_ruleset
from referral_engine.models import Accommodation, Benefits, Employment, LanguageLevel, ResidenceStatus
from referral_engine.on_dask import screen_dask

AS_OF = dt.date(2026, 3, 1)
#: The reform of the default comparison: JMD's upper age limit (age < 27) lowered to 25.
JMD_LIMIT = "{field: age, op: lt, value: 27}"
JMD_REFORM = "{field: age, op: lt, value: 25}"
TOWNS = ("Staufen", "Bad Krozingen", "Hartheim", "Ehrenkirchen")
#: Each field of a synthetic case is unknown with this probability.
UNKNOWN = 0.15


def synthetic_cases(part: tuple[int, int, int]) -> pd.DataFrame:
    """``rows`` synthetic cases for partition ``index`` of a population with ``seed`` (reproducible)."""
    seed, index, rows = part
    rng = np.random.default_rng([seed, index])

    def maybe(values: Any) -> Any:
        """``values`` with each entry unknown (None / NaN / NaT) with probability UNKNOWN."""
        unknown = rng.random(rows) < UNKNOWN
        if isinstance(values, pd.Series):
            return values.where(~unknown)
        if values.dtype.kind == "f":
            return np.where(unknown, np.nan, values)
        return np.where(unknown, None, values.astype(object))

    def days_ago(most: int) -> pd.Series:
        return pd.Series(pd.Timestamp(AS_OF) - pd.to_timedelta(rng.integers(0, most, rows), unit="D"))

    return pd.DataFrame(
        {
            "age": maybe(rng.integers(0, 80, rows).astype(float)),
            "residence_status": maybe(rng.choice(get_args(ResidenceStatus), rows)),
            "entry_date": maybe(days_ago(15 * 365)),
            "status_since": maybe(days_ago(8 * 365)),
            "language_level": maybe(rng.choice(get_args(LanguageLevel), rows)),
            "accommodation": maybe(rng.choice(get_args(Accommodation), rows)),
            "accommodation_since": maybe(days_ago(6 * 365)),
            "municipality": maybe(rng.choice(TOWNS, rows)),
            "benefits": maybe(rng.choice(get_args(Benefits), rows)),
            "employment": maybe(rng.choice(get_args(Employment), rows)),
        },
        index=pd.RangeIndex(index * rows, (index + 1) * rows),
    )


def reformed_rules(folder: Path) -> Ruleset:
    """The bundled rules with JMD for under-25s: the YAML edited in ``folder`` and loaded strictly."""
    target = folder / "rules"
    shutil.copytree(default_ruleset().path, target)
    jmd = target / "eligibility" / "jmd.yaml"
    text = jmd.read_text(encoding="utf-8")
    if JMD_LIMIT not in text:
        raise SystemExit("the bundled JMD rules no longer say 'age < 27': update this example")
    jmd.write_text(text.replace(JMD_LIMIT, JMD_REFORM), encoding="utf-8")
    return load_ruleset(target)


def compare(
    before: Ruleset, after: Ruleset, cases: int, partitions: int, seed: int
) -> tuple[pd.DataFrame, float]:
    """Per service: eligible before and after, and the cases whose status changed; the wall time (s)."""
    rows = -(-cases // partitions)
    frame = dd.from_map(
        synthetic_cases,
        [(seed, index, rows) for index in range(partitions)],
        meta=synthetic_cases((seed, 0, 0)),
        enforce_metadata=False,
    )
    old = screen_dask(frame, as_of=AS_OF, ruleset=before)
    new = screen_dask(frame, as_of=AS_OF, ruleset=after)
    services = [s.id for s in before.services if s.id in {t.id for t in after.services}]
    started = time.perf_counter()
    changed, eligible_before, eligible_after = dask.compute(
        (old[services] != new[services]).sum(),
        (old[services] == "eligible").sum(),
        (new[services] == "eligible").sum(),
    )
    wall = time.perf_counter() - started
    table = pd.DataFrame(
        {"eligible before": eligible_before, "eligible after": eligible_after, "status changed": changed}
    )
    return table, wall


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=10_000_000)
    parser.add_argument("--partitions", type=int, default=None, help="default: one per 250,000 cases")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--in-process", action="store_true", help="threads in this process (for tests)")
    parser.add_argument("--after", type=Path, default=None, help="rule folder to compare with the bundled")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    partitions = args.partitions or max(1, -(-args.cases // 250_000))
    before = default_ruleset()
    with tempfile.TemporaryDirectory() as folder:
        after = load_ruleset(args.after) if args.after else reformed_rules(Path(folder))
        with (
            LocalCluster(
                n_workers=args.workers,
                threads_per_worker=1,
                processes=not args.in_process,
                dashboard_address=":0",
            ) as cluster,
            Client(cluster) as client,
        ):
            cpu = client.run(time.process_time)
            table, wall = compare(before, after, args.cases, partitions, args.seed)
            used = client.run(time.process_time)
    # The workers' CPU time: on a shared machine the wall clock also counts other programs' turns.
    worker_cpu = sum(used[w] - cpu[w] for w in used) if not args.in_process else float("nan")
    reform = f"rules from {args.after}" if args.after else "JMD for under-25s (was under-27s)"
    print(f"{args.cases:,} synthetic cases on {AS_OF}, {partitions} partitions, {args.workers} workers")
    print(f"before: {before.name} {before.version}; after: {reform}\n")
    print(table.to_string())
    print(
        f"\nwall time {wall:.1f} s, {args.cases / wall:,.0f} cases/s with {args.workers} worker processes "
        f"on {os.cpu_count()} cores; worker CPU time {worker_cpu:.1f} s, "
        f"{args.cases / worker_cpu:,.0f} cases per CPU second (both rule sets, generation included)"
    )


if __name__ == "__main__":
    main()
