"""Benchmark the rule engines against a hand-written function, and recommend() per engine.

Run: python benchmarks/bench_engines.py [--cases 10000] [--seed 7] [--repeats 5] [--profile]

Decision step: from a case's facts (built beforehand, not timed) to the status of each of four
services (JMD, MBE, Flüchtlingssozialarbeit, Integrationsmanagement and their rules), by
(a) a hand-written Python function implementing exactly those rules, and by (b) the python and
(c) the durable engine on a rule set restricted to those services, each followed by the
three-valued status combination of ``decide.decide`` (grant and not exclusion; a ``check`` rule
grants at most "unknown"), written once here without the reasons ``decide`` also builds. All
three must agree on every case before anything is timed. Then the whole ``recommend()`` per
engine on the bundled rules; both engines must give equal recommendations.

Issue 10 adds: the compiled python engine (``referral_engine.compiled``: rule values and statuses
in one pass, the implementation behind ``engine="python"``) next to the reference evaluator
(``decide.evaluate_rules``, the condition closures), and batches — ``recommend_many(...,
detail="statuses")`` from validated profiles to statuses and open fields, on the columnar engine
(``referral_engine.columnar``, chunks of 4,096 cases) and case by case as without numpy — against
the hand-written function per case; and the columnar engine over a table built beforehand
(``screen_table`` on typed pandas, polars and pyarrow tables of the same profiles: see
``typed_table``). CPU time
(``time.process_time``), medians of the repeats, in which the contenders take turns.

The figures go into BENCHMARKS.md together with the machine they were measured on.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import datetime as dt
import gc
import os
import pickle
import platform
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import polars as pl
from bench_recommend import AS_OF, _day, latencies, random_profile

import referral_engine
from referral_engine import (
    CaseProfile,
    Ruleset,
    _pickling,
    default_ruleset,
    load_ruleset,
    recommend,
    recommend_many,
)
from referral_engine import batch as batch_module
from referral_engine.columnar import profile_columns, screen_table
from referral_engine.compiled import compiled
from referral_engine.conditions import Tri
from referral_engine.dates import add_months
from referral_engine.decide import decide, evaluate_rules
from referral_engine.engines import evaluator
from referral_engine.facts import FIELDS, Facts, facts_for
from referral_engine.models import EVENT_DATES, Status

T = TypeVar("T")

#: One case in ten is decided on another day, so the rules' validity windows take part.
OTHER_DAYS = (dt.date(2016, 1, 1), dt.date(2026, 12, 31))
SUBSET = ("jmd", "mbe", "fluechtlingssozialarbeit", "integrationsmanagement")
#: Targets of issue 3.
PYTHON_WITHIN = 5.0
DURABLE_AT_LEAST = 5_000.0
#: Targets of issue 10: rule values + statuses within 2x of hand-written; a batch's statuses at least
#: as fast per case as hand-written (ratio <= 1).
COMPILED_WITHIN = 2.0
BATCH_WITHIN = 1.0
#: Target of issue 10: the columnar engine over a table at least 10x faster per case than hand-written.
TABLE_WITHIN = 0.1

Statuses = tuple[Tri, ...]  # per service of SUBSET: True eligible, False not eligible, None undetermined
Case = tuple[Facts, dt.date]
STATUS_VALUE: dict[Status, Tri] = {
    Status.ELIGIBLE: True,
    Status.NOT_ELIGIBLE: False,
    Status.UNDETERMINED: None,
}


def typed_table(profiles: Sequence[CaseProfile], kind: str) -> Any:
    """The profiles as a typed table, as an analyst's table holds them (built beforehand, not timed).

    pyarrow: ``date32`` dates, ``dictionary<string>`` enumerations and municipality, ``bool``,
    ``int16`` age, ``list<string>`` languages; polars: ``Date``, ``Enum``, ``Categorical``,
    ``Boolean``, ``Int16``, ``List(String)``; pandas: ``datetime64[s]``, ``category``, nullable
    ``Int16`` and ``boolean``, Arrow lists of strings.
    """
    import pyarrow as pa

    columns = profile_columns(profiles)
    cells = {name: [list(v) if isinstance(v, tuple) else v for v in items] for name, items in columns.items()}
    if kind == "pyarrow":
        arrays = {}
        for name, items in cells.items():
            field = FIELDS[name].kind
            if field == "int":
                arrays[name] = pa.array(items, pa.int16())
            elif field == "date":
                arrays[name] = pa.array(items, pa.date32())
            elif field == "bool":
                arrays[name] = pa.array(items, pa.bool_())
            elif field == "list":
                arrays[name] = pa.array(items, pa.list_(pa.string()))
            else:
                arrays[name] = pa.array(items, pa.string()).dictionary_encode()
        return pa.table(arrays)
    if kind == "polars":
        kinds: dict[str, Any] = {
            "int": pl.Int16,
            "date": pl.Date,
            "bool": pl.Boolean,
            "text": pl.Categorical,
            "list": pl.List(pl.String),
        }
        return pl.DataFrame(
            [
                pl.Series(name, items, dtype=kinds.get(FIELDS[name].kind) or pl.Enum(FIELDS[name].values))
                for name, items in cells.items()
            ]
        )
    assert kind == "pandas", kind
    data: dict[str, Any] = {}
    for name, items in cells.items():
        field = FIELDS[name].kind
        if field == "int":
            data[name] = pd.array(items, dtype="Int16")
        elif field == "date":
            data[name] = pd.Series(pd.to_datetime(pd.Series(items, dtype=object)), dtype="datetime64[s]")
        elif field == "bool":
            data[name] = pd.array(items, dtype="boolean")
        elif field == "list":
            data[name] = pd.array(items, dtype=pd.ArrowDtype(pa.list_(pa.string())))
        else:
            data[name] = pd.Categorical(items, categories=FIELDS[name].values or None)
    return pd.DataFrame(data)


def random_case(rng: random.Random) -> tuple[CaseProfile, dt.date]:
    """A generated profile (each field unknown with probability 0.15) and the day it is decided on."""
    profile = random_profile(rng)
    as_of = AS_OF if rng.random() < 0.9 else _day(rng, *OTHER_DAYS)
    # A date after as_of is a ProfileError: on an earlier day, such events are not known yet.
    later = {name: None for name in EVENT_DATES if (day := getattr(profile, name)) and day > as_of}
    return (profile.replace(**later) if later else profile), as_of


# --- (a) the hand-written decision ----------------------------------------------------------------
# rules/eligibility/{jmd,mbe,fluechtlingssozialarbeit,integrationsmanagement}.yaml, written out.

JMD_OPENED = dt.date(2017, 1, 1)  # jmd-lawful-or-tolerated / -arrival-certificate-unclear from here
JMD_NOT_LAWFUL = frozenset({"undocumented", "ausreisepflichtig"})
JMD_ASYLUM_OR_DULDUNG = frozenset(
    {
        "arrival_certificate",
        "gestattung",
        "gestattung_safe_country",
        "duldung",
        "duldung_ermessen",
        "duldung_light",
        "ausbildungsduldung",
        "beschaeftigungsduldung",
    }
)
MBE_LONG_RESIDENT = frozenset(  # mbe-long-resident-need (a check); with spaetaussiedler: ...-of-arrival
    {
        "ae_25_1",
        "ae_25_2_refugee",
        "ae_25_2_subsidiary",
        "ae_25_3",
        "ae_25_4",
        "ae_25_5",
        "ae_25a_25b",
        "ae_104c",
        "ae_24",
        "ae_22_23",
        "ae_16g",
        "ae_employment",
        "ae_family",
        "settlement",
        "eu_citizen",
    }
)
MBE_PERMANENT = frozenset(
    {
        "settlement",
        "ae_25_1",
        "ae_25_2_refugee",
        "ae_25_2_subsidiary",
        "ae_25a_25b",
        "ae_22_23",
        "ae_employment",
        "ae_family",
    }
)
MBE_ASK = frozenset(  # the other mbe checks: asylum, Duldung, other titles
    {
        "gestattung",
        "arrival_certificate",
        "duldung",
        "duldung_ermessen",
        "duldung_light",
        "ausbildungsduldung",
        "beschaeftigungsduldung",
        "ae_other",
        "german_migration_background",
        "gestattung_safe_country",
        "ausreisepflichtig",
    }
)
IM_UKRAINE_FROM = dt.date(2022, 3, 11)
IM_PRIVATE = frozenset(  # integrationsmanagement-private-after-follow-up-accommodation
    {
        *JMD_ASYLUM_OR_DULDUNG - {"arrival_certificate"},
        *("ae_25_1", "ae_25_2_refugee", "ae_25_2_subsidiary", "ae_25_3", "ae_25_4", "ae_25_5"),
        *("ae_22_23", "ae_25a_25b", "ae_104c", "ae_16g", "ae_family"),
    }
)


def _within(start: dt.date | None, months: int, as_of: dt.date) -> Tri:
    """``start`` lies at most ``months`` months before ``as_of`` (the rules' ``within``), Kleene."""
    if start is None:
        return None
    return start <= as_of <= add_months(start, months)


def hand_written(facts: Facts, as_of: dt.date) -> Statuses:
    """The four statuses, decided directly from the facts (unknown facts give undetermined)."""
    age = facts["age"]
    status = facts["residence_status"]

    # JMD: 12 to 26; from 2017 anyone but the undocumented (arrival certificate and
    # ausreisepflichtig: ask), before 2017 only checks, for every status but the restricted ones.
    if age is not None and not 12 <= age < 27:
        jmd: Tri = False
    elif status is None:
        jmd = None
    elif as_of >= JMD_OPENED:
        if status == "undocumented":
            jmd = False
        else:
            jmd = None if age is None or status in ("arrival_certificate", "ausreisepflichtig") else True
    else:
        jmd = False if status in JMD_NOT_LAWFUL else None

    # MBE: 27 and over; granted within three years of arrival or of a lasting status, or for
    # Spätaussiedler; every other status except unlawful stay is a check.
    if age is not None and age < 27:
        mbe: Tri = False
    elif status is None:
        mbe = None
    elif status == "spaetaussiedler":
        mbe = None if age is None else True
    elif status in MBE_LONG_RESIDENT:
        recent = _within(facts["entry_date"], 36, as_of) or (
            status in MBE_PERMANENT and _within(facts["status_since"], 36, as_of)
        )
        mbe = True if age is not None and recent else None
    else:
        mbe = None if status in MBE_ASK else False

    # Flüchtlingssozialarbeit: anyone in the district's provisional accommodation; with a restricted
    # status (undocumented, ausreisepflichtig: § 87 AufenthG) only a check (confidential counselling).
    accommodation = facts["accommodation"]
    if accommodation is not None and accommodation != "vorlaeufige_unterbringung":
        fsa: Tri = False
    elif accommodation is not None and status is not None and status not in JMD_NOT_LAWFUL:
        fsa = True
    else:
        fsa = None

    # Integrationsmanagement: three years from the start of follow-up accommodation (the fourth
    # year and a restricted status: ask); in private housing, people from Ukraine (from 2022-03-11)
    # and those who arrived within five years with a protection, asylum or Duldung status: ask.
    # (facts_for refuses event dates after as_of.)
    since = facts["accommodation_since"]
    entry = facts["entry_date"]
    recent_entry = _within(entry, 60, as_of)
    ukraine = as_of >= IM_UKRAINE_FROM
    if accommodation == "anschlussunterbringung":
        if since is None:
            im: Tri = None
        elif as_of <= add_months(since, 36):
            im = True if status is not None and status not in JMD_NOT_LAWFUL else None
        else:
            im = None if as_of <= add_months(since, 48) else False
    elif accommodation == "private":
        if status is None:
            im = False if not ukraine and recent_entry is False else None
        elif status == "ae_24":
            im = None if ukraine else False
        else:
            im = None if status in IM_PRIVATE and recent_entry is not False else False
    elif accommodation is None:  # no rule can hold; not eligible only if every rule surely fails
        gone = since is not None and as_of > add_months(since, 48)
        if status is None:
            im = False if gone and not ukraine and recent_entry is False else None
        elif status in JMD_NOT_LAWFUL:
            im = False if gone else None
        else:
            no_ukraine = status != "ae_24" or not ukraine
            no_private = status not in IM_PRIVATE or recent_entry is False
            im = False if gone and no_ukraine and no_private else None
    else:
        im = False
    return jmd, mbe, fsa, im


# --- (b), (c) the engines, and the status combination of decide.decide --------------------------

Plan = tuple[tuple[tuple[str, str], ...], ...]  # per service: (rule id, effect) in file order


def subset_ruleset(ruleset: Ruleset, services: Sequence[str]) -> Ruleset:
    """``ruleset`` with only ``services``, their rules and their steps (a new object: own engines)."""
    return dataclasses.replace(
        ruleset,
        services=tuple(s for s in ruleset.services if s.id in services),
        rules=tuple(r for r in ruleset.rules if r.service in services),
        steps=tuple(s for s in ruleset.steps if s.service in services),
    )


def plan(ruleset: Ruleset, services: Sequence[str]) -> Plan:
    """The rules of each service, for :func:`combine`."""
    return tuple(tuple((r.id, r.effect) for r in ruleset.rules_of(service)) for service in services)


def combine(services: Plan, values: Mapping[str, Tri]) -> Statuses:
    """Each service's status from the rule values, with the Kleene combination of ``decide.decide``.

    Grant and not exclusion; an ``eligible`` rule grants its value, a ``check`` rule at most
    "unknown", a ``not_eligible`` rule excludes; rules absent from ``values`` are not in force.
    Written as plain loops (no reasons): :func:`verify` proves it equal to ``decide.decide``.
    """
    statuses: list[Tri] = []
    for rules in services:
        grant: Tri = False
        exclusion: Tri = False
        for rule_id, effect in rules:
            if rule_id not in values:
                continue
            value = values[rule_id]
            if effect == "not_eligible":
                if value is True:
                    exclusion = True
                elif value is None and exclusion is False:
                    exclusion = None
            elif value is not False:
                if value is True and effect == "eligible":
                    grant = True
                elif grant is False:
                    grant = None
        if exclusion is True or grant is False:
            statuses.append(False)
        else:
            statuses.append(True if grant is True and exclusion is False else None)
    return tuple(statuses)


# --- measuring --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Figures:
    """One contender's medians over the repeats."""

    wall_rate: float  # cases per second, wall clock, one tight loop
    cpu_rate: float  # cases per second of this process's CPU time, same loop
    latency: float  # median µs per case, each case timed on its own (wall clock)


def _loop(function: Callable[[T], object], items: Sequence[T]) -> tuple[float, float]:
    """Cases per second of one tight loop over ``items``: by wall clock and by CPU time."""
    cpu = time.process_time()
    wall = time.perf_counter()
    for item in items:
        function(item)
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    return len(items) / wall, len(items) / cpu


def _batch(function: Callable[[Sequence[T]], object], items: Sequence[T]) -> tuple[float, float, float]:
    """Cases per second of one call on all ``items`` (wall clock, CPU time) and the mean µs per case."""
    cpu = time.process_time()
    wall = time.perf_counter()
    function(items)
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    return len(items) / wall, len(items) / cpu, wall / len(items) * 1e6


def measure(
    contenders: Mapping[str, tuple[Callable[[T], object], Sequence[T]]],
    repeats: int,
    batches: Mapping[str, tuple[Callable[[Sequence[Any]], object], Sequence[Any]]] | None = None,
) -> dict[str, Figures]:
    """Median rates (tight loop) and median latency (cases timed one by one) over ``repeats``.

    The contenders take turns within each repeat, so a slow phase of the machine hits all alike.
    A batch contender takes all its cases in one call; its "latency" is the mean time per case.
    """
    batches = batches or {}
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in [*contenders, *batches]}
    for _ in range(repeats):
        for name, (function, items) in contenders.items():
            gc.collect()
            wall_rate, cpu_rate = _loop(function, items)
            runs[name].append((wall_rate, cpu_rate, statistics.median(latencies(function, items))))
        for name, (whole, cases) in batches.items():
            gc.collect()
            runs[name].append(_batch(whole, cases))
    return {
        name: Figures(*(statistics.median(run[column] for run in found) for column in range(3)))
        for name, found in runs.items()
    }


def verify(cases: Sequence[Case], deciders: Mapping[str, Callable[[Case], Statuses]]) -> None:
    """Every decider gives the same statuses for every case; exits with a message otherwise."""
    for index, case in enumerate(cases):
        results = {name: decider(case) for name, decider in deciders.items()}
        if len(set(results.values())) != 1:
            shown = ", ".join(f"{name} {value}" for name, value in results.items())
            sys.exit(f"case {index} (as_of {case[1]}): the deciders disagree on {SUBSET}: {shown}")


def _profile(function: Callable[[Case], object], cases: Sequence[Case], title: str) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for case in cases:
        function(case)
    profiler.disable()
    print(f"\n### cProfile: {title}, {len(cases):,} cases\n")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(14)


def _row(step: str, name: str, figures: Figures, relative: str) -> str:
    return (
        f"| {step} | {name} | {figures.cpu_rate:,.0f} | {figures.wall_rate:,.0f} | "
        f"{figures.latency:,.1f} µs | {relative} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="also print cProfile of each engine")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    profiles = [random_case(rng) for _ in range(args.cases)]
    cases = [(facts_for(profile, as_of), as_of) for profile, as_of in profiles]
    ruleset = default_ruleset()
    subset = subset_ruleset(ruleset, SUBSET)
    services = plan(subset, SUBSET)
    engines = {name: evaluator(subset, name) for name in ("python", "durable")}
    compiled_run = compiled(subset).run
    print(f"# referral-engine engine benchmark, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC\n")
    machine = f"{platform.machine()} ({platform.system()}), {os.cpu_count()} CPUs"
    print(f"Python {sys.version.split()[0]} on {machine}")
    print(f"{ruleset!r} from {Path(referral_engine.__file__).parent}")
    print(
        f"{args.cases:,} generated cases (seed {args.seed}; each profile field unknown with "
        f"probability 0.15; as_of {AS_OF} for 90 %, another day in "
        f"{OTHER_DAYS[0].year}–{OTHER_DAYS[1].year} for 10 %); "
        f"medians of {args.repeats} repeats"
    )
    print(
        f"Decision step: {', '.join(SUBSET)} ({len(subset.rules)} rules), from facts built beforehand to "
        "the four statuses. Compiled: rule values and statuses in one pass (the python engine); "
        "reference and durable: rule values, then the Kleene status combination of decide.decide "
        "written once in this script (decide.decide itself also builds reasons: not timed here)."
    )
    print(f"Load average before the run: {' '.join(f'{n:.2f}' for n in os.getloadavg())}\n")

    def decide_with(evaluate: Callable[[Facts, dt.date], Mapping[str, Tri]]) -> Callable[[Case], Statuses]:
        return lambda case: combine(services, evaluate(*case))

    # The compiled engine gives the statuses in the rule set's service order, as Status members.
    position = [SUBSET.index(service.id) for service in subset.services]

    def by_compiled(case: Case) -> Statuses:
        statuses: list[Tri] = [None] * len(SUBSET)
        for index, status in zip(position, compiled_run(*case)[1], strict=True):
            statuses[index] = STATUS_VALUE[status]
        return tuple(statuses)

    def reference(facts: Facts, as_of: dt.date) -> Mapping[str, Tri]:
        return evaluate_rules(subset, facts, as_of)

    deciders: dict[str, Callable[[Case], object]] = {
        "hand-written": lambda case: hand_written(*case),
        "python engine (compiled)": lambda case: compiled_run(*case),
        "python engine (reference)": decide_with(reference),
        "durable engine": decide_with(engines["durable"]),
    }
    order = {service.id: SUBSET.index(service.id) for service in subset.services}

    def by_decide(case: Case) -> Statuses:
        decided = decide(subset, case[0], case[1], engines["python"](*case))
        statuses: list[Tri] = [None] * len(SUBSET)
        for found in decided:
            statuses[order[found.service]] = STATUS_VALUE[found.status]
        return tuple(statuses)

    verify(
        cases,
        {
            "hand-written": lambda case: hand_written(*case),
            "python engine (compiled)": by_compiled,
            "python engine (compiled values)": decide_with(engines["python"]),
            "python engine (reference)": decide_with(reference),
            "durable engine": decide_with(engines["durable"]),
            "decide.decide": by_decide,
        },
    )
    counts = {service: dict.fromkeys(("eligible", "undetermined", "not eligible"), 0) for service in SUBSET}
    for case in cases:
        for service, value in zip(SUBSET, hand_written(*case), strict=True):
            counts[service][{True: "eligible", None: "undetermined", False: "not eligible"}[value]] += 1
    print(f"The deciders and decide.decide agree on all {len(cases):,} cases. Statuses:\n")
    for service, found in counts.items():
        print(f"- {service}: " + ", ".join(f"{label} {n:,}" for label, n in found.items()))

    def recommend_with(engine: str) -> Callable[[tuple[CaseProfile, dt.date]], object]:
        return lambda case: recommend(case[0], as_of=case[1], ruleset=ruleset, engine=engine)

    recommenders = {engine: recommend_with(engine) for engine in ("python", "durable")}
    differing = sum(recommenders["python"](case) != recommenders["durable"](case) for case in profiles)
    if differing:
        sys.exit(f"recommend() differs between the engines on {differing} of {len(profiles)} cases")
    print(f"\nrecommend() gives equal Recommendations with both engines on all {len(profiles):,} cases.\n")

    # Batches: one as_of per batch, so the cases decided on AS_OF; from validated profiles.
    same_day = [profile for profile, as_of in profiles if as_of == AS_OF]
    same_day_facts = [(facts_for(profile, AS_OF), AS_OF) for profile in same_day]
    screened = list(recommend_many(same_day, as_of=AS_OF, ruleset=subset, detail="statuses"))
    for screen, case in zip(screened, same_day_facts, strict=True):
        expected = dict(zip(SUBSET, hand_written(*case), strict=True))
        if {s: STATUS_VALUE[status] for s, status in screen.statuses.items()} != expected:
            sys.exit("recommend_many(detail='statuses') disagrees with the hand-written function")
    print(
        f"recommend_many(detail='statuses') agrees with the hand-written function on "
        f"{len(same_day):,} cases.\n"
    )

    def hand_from_profiles(items: Sequence[CaseProfile]) -> None:
        for profile in items:
            hand_written(facts_for(profile, AS_OF), AS_OF)

    def batch(
        rules: Ruleset, detail: str, engine: str = "python", columnar: bool = True
    ) -> Callable[[Sequence[CaseProfile]], None]:
        def run(items: Sequence[CaseProfile]) -> None:
            if not columnar:  # as without numpy: case by case
                batch_module.columnar_available = lambda: False
            try:
                for _ in recommend_many(items, as_of=AS_OF, ruleset=rules, detail=detail, engine=engine):  # type: ignore[call-overload]
                    pass
            finally:
                batch_module.columnar_available = available

        return run

    available = batch_module.columnar_available
    # Typed tables built beforehand (not timed) from the same profiles, for the columnar engine.
    tables: dict[str, Any] = {kind: typed_table(same_day, kind) for kind in ("pandas", "polars", "pyarrow")}
    for kind, table in tables.items():
        screened_table = screen_table(table, as_of=AS_OF, ruleset=subset)
        rows = (
            screened_table.to_dict("records")
            if kind == "pandas"
            else screened_table.to_dicts()
            if kind == "polars"
            else screened_table.to_pylist()
        )
        for row, case in zip(rows, same_day_facts, strict=True):
            expected = dict(zip(SUBSET, hand_written(*case), strict=True))
            if {s: STATUS_VALUE[Status(row[s])] for s in SUBSET} != expected:
                sys.exit(f"screen_table ({kind}) disagrees with the hand-written function")
    print(
        f"screen_table agrees with the hand-written function on {len(same_day):,} cases "
        "(typed pandas, polars and pyarrow tables).\n"
    )

    def on_table(rules: Ruleset) -> Callable[[Any], None]:
        return lambda table: screen_table(table, as_of=AS_OF, ruleset=rules)

    shipping = []
    for _ in range(args.repeats):
        started = time.process_time()
        loaded = load_ruleset(ruleset.path)
        load = time.process_time() - started
        data = pickle.dumps(loaded)
        _pickling.clear_cache()  # as in a fresh worker process
        started = time.process_time()
        pickle.loads(data)
        shipping.append((load, time.process_time() - started, len(data)))
    load, rebuild, size = (statistics.median(run[column] for run in shipping) for column in range(3))
    print(
        f"A rule set for a worker process: load_ruleset {load * 1000:.0f} ms (CPU), pickled "
        f"{size / 1024:.0f} KiB, rebuilt from the pickle in {rebuild * 1000:.1f} ms (CPU), "
        "once per process.\n"
    )

    decision = measure({name: (decider, cases) for name, decider in deciders.items()}, args.repeats)
    batches = measure(
        {"hand-written (facts built beforehand)": (lambda case: hand_written(*case), same_day_facts)},
        args.repeats,
        {
            "hand-written from profiles (facts_for + hand-written)": (hand_from_profiles, same_day),
            f'`recommend_many(detail="statuses")`, {len(subset.rules)} rules': (
                batch(subset, "statuses"),
                same_day,
            ),
            f'`recommend_many(detail="statuses")`, {len(subset.rules)} rules, case by case': (
                batch(subset, "statuses", columnar=False),
                same_day,
            ),
            f'`recommend_many(detail="statuses")`, all {len(ruleset.rules)} rules': (
                batch(ruleset, "statuses"),
                same_day,
            ),
            f'`recommend_many(detail="statuses")`, all {len(ruleset.rules)} rules, case by case': (
                batch(ruleset, "statuses", columnar=False),
                same_day,
            ),
            f'`recommend_many(detail="statuses", engine="durable")`, {len(subset.rules)} rules': (
                batch(subset, "statuses", "durable"),
                same_day,
            ),
            **{
                f"`screen_table`, typed {kind} table built beforehand, {len(subset.rules)} rules": (
                    on_table(subset),
                    tables[kind],
                )
                for kind in ("pandas", "polars", "pyarrow")
            },
            **{
                f"`screen_table`, typed {kind} table built beforehand, all {len(ruleset.rules)} rules": (
                    on_table(ruleset),
                    tables[kind],
                )
                for kind in ("pandas", "polars", "pyarrow")
            },
        },
    )
    whole = measure({f"`{e}`": (run, profiles) for e, run in recommenders.items()}, args.repeats)
    hand = decision["hand-written"].cpu_rate
    print(
        "| step | engine | cases/s (CPU time) | cases/s (wall clock) | median latency | relative (CPU time) |"
    )
    print("| --- | --- | ---: | ---: | ---: | --- |")
    step = f"decision step ({len(subset.rules)} rules)"
    for name, figures in decision.items():
        relative = (
            "1× (reference)" if name == "hand-written" else f"{hand / figures.cpu_rate:.1f}× hand-written"
        )
        print(_row(step, name, figures, relative))
    step = f"`recommend()` ({len(ruleset.rules)} rules)"
    python = whole["`python`"].cpu_rate
    for name, figures in whole.items():
        relative = "1× (reference)" if name == "`python`" else f"{python / figures.cpu_rate:.1f}× python"
        print(_row(step, name, figures, relative))

    print(f"\nBatches of {len(same_day):,} profiles on {AS_OF} (latency: the mean per case for a batch):\n")
    print("| contender | cases/s (CPU time) | cases/s (wall clock) | µs per case | relative (CPU time) |")
    print("| --- | ---: | ---: | ---: | --- |")
    batch_hand = batches["hand-written (facts built beforehand)"].cpu_rate
    for name, figures in batches.items():
        relative = (
            "1× (reference)"
            if name.startswith("hand-written (facts")
            else f"{batch_hand / figures.cpu_rate:.2f}× hand-written"
        )
        print(
            f"| {name} | {figures.cpu_rate:,.0f} | {figures.wall_rate:,.0f} | {figures.latency:,.1f} | "
            f"{relative} |"
        )

    ratio = hand / decision["python engine (compiled)"].cpu_rate
    reference_ratio = hand / decision["python engine (reference)"].cpu_rate
    durable = decision["durable engine"].cpu_rate
    batch_ratio = (
        batch_hand / batches[f'`recommend_many(detail="statuses")`, {len(subset.rules)} rules'].cpu_rate
    )
    print(f"\nLoad average after the run: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    print(
        f"target (issue 3): python engine decision step within {PYTHON_WITHIN:.0f}× of hand-written: "
        f"{ratio:.1f}× compiled, {reference_ratio:.1f}× reference -> "
        f"{'PASS' if ratio <= PYTHON_WITHIN else 'FAIL'}"
    )
    print(
        f"target (issue 3): durable engine decision step >= {DURABLE_AT_LEAST:,.0f} cases/s: "
        f"{durable:,.0f} (CPU time), {decision['durable engine'].wall_rate:,.0f} (wall clock) -> "
        f"{'PASS' if durable >= DURABLE_AT_LEAST else 'FAIL'}"
    )
    print(
        f"target (issue 10): python engine rule values + statuses within {COMPILED_WITHIN:.0f}× of "
        f"hand-written: {ratio:.2f}× -> {'PASS' if ratio <= COMPILED_WITHIN else 'FAIL'}"
    )
    table_ratio = (
        batch_hand
        / batches[f"`screen_table`, typed pyarrow table built beforehand, {len(subset.rules)} rules"].cpu_rate
    )
    print(
        f"target (issue 10): the columnar engine over a table at least 10× faster per case than "
        f"hand-written ({TABLE_WITHIN}×): {table_ratio:.2f}× hand-written "
        f"(typed pyarrow table, {len(subset.rules)} rules) -> "
        f"{'PASS' if table_ratio <= TABLE_WITHIN else 'FAIL'}"
    )
    from_profiles = batch_hand / batches["hand-written from profiles (facts_for + hand-written)"].cpu_rate
    print(
        f"target (issue 10): statuses for a batch at least as fast per case as hand-written "
        f"({BATCH_WITHIN:.0f}×): {batch_ratio:.2f}× hand-written from facts built beforehand -> "
        f"{'PASS' if batch_ratio <= BATCH_WITHIN else 'FAIL'}; "
        f"{batch_ratio / from_profiles:.2f}× hand-written from the same profiles -> "
        f"{'PASS' if batch_ratio / from_profiles <= BATCH_WITHIN else 'FAIL'}"
    )
    if args.profile:
        for name in ("python engine (compiled)", "python engine (reference)", "durable engine"):
            _profile(deciders[name], cases, f"decision step, {name}")


if __name__ == "__main__":
    main()
