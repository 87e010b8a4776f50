"""The floor of durable-rules on the decision step: the cheapest durable call that decides every rule.

Run: python benchmarks/durable_floor.py [--cases 3000] [--seed 7] [--repeats 5]

Issue 10 asks for the durable engine's decision step (every rule's value and every service's
status for one case) at ≤ 10× the hand-written function (``handwritten.decide_all``). This script
measures, side by side in one run on the cases of ``bench_targets.py``, how much of that durable
itself costs when nothing else runs:

- hand-written (all services), the yardstick;
- the durable engine's decision step as ``bench_targets.py`` times it:
  ``DurableEngine.run(facts, as_of)`` (rule values by position and the statuses);
- the same, rule values only (``evaluator(...)``);
- durable's core calls only on the adapter's own networks (one per residence status, each with
  the rules that status leaves open; see ``DurableEngine``), each case's fact encoded beforehand;
- **durable's core calls only, all rules in one network** (as the adapter ran every case before
  it had a network per residence status): the compiled rule set, each case's fact encoded
  beforehand (not timed), per case ``assert_fact``, the fired actions taken off the queue
  (``start_action_for_state``, ``complete_and_start_action``) and ``retract_fact`` (by the fact's
  session and id, as the adapter retracts) — no Python
  per case beyond the loop, no rule values, no statuses. This is what durable needs to decide
  every rule of the case (each rule a *holds* and a *fails* pattern; a rule whose fields are all
  known and whose *holds* did not fire is false);
- the same without the adapter's group tests (which keep durable's 64-node matching stack from
  overflowing on rule sets up to 512 rules; this rule set happens not to need them): the lowest
  figure durable reaches here, though not one the adapter can rely on;
- the same with the *holds* patterns alone: durable tells which rules hold and nothing else (not
  false from unknown), a lower bound for any encoding of the rules as durable patterns;
- ``assert_fact`` + ``retract_fact`` of the same facts on a rule set of one pattern that matches
  none of them: durable's fixed cost per case (parsing the fact, the session, the retract),
  whatever the rules.

It also fits, over the cases, the core calls' time against the number of actions fired (least
squares): the cost per case with no action, and per fired action.

Before timing, every durable contender is checked to fire exactly the patterns the adapter fires
for every case, and the adapter to give the hand-written statuses. CPU time per case
(``time.process_time``), medians of interleaved rounds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from bench_engines import random_case
from bench_targets import commit, cpu_per_case
from handwritten import SERVICES, decide_all

from referral_engine import default_ruleset
from referral_engine.engines import compiled, evaluator
from referral_engine.facts import facts_for

GROUP_PROPERTIES = ("_g", "_h")
RETRACT = '{"sid":"case","id":"case"}'  # durable finds a fact to retract by its session and id


def _without_groups(expression: Any) -> Any:
    """A compiled pattern without the adapter's group tests (``$neq`` on ``_g`` / ``_h``)."""
    if isinstance(expression, dict):
        return {key: _without_groups(value) for key, value in expression.items()}
    if isinstance(expression, list):
        kept = [
            item
            for item in expression
            if not (isinstance(item, dict) and set(item.get("$neq", {})) & set(GROUP_PROPERTIES))
        ]
        return [_without_groups(item) for item in kept]
    return expression


def _drop_group_properties(text: str) -> str:
    fact = json.loads(text)
    for name in GROUP_PROPERTIES:
        fact.pop(name, None)
    return json.dumps(fact, ensure_ascii=False)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.repeats < 3:
        parser.error("--repeats must be at least 3 (medians of at least three rounds)")
    import durable_rules_engine as core  # type: ignore[import-not-found]  # the durable extra

    load_before = os.getloadavg()
    rng = random.Random(args.seed)
    cases = [random_case(rng) for _ in range(args.cases)]
    facts = [(facts_for(profile, as_of), as_of) for profile, as_of in cases]
    ruleset = default_ruleset()
    rule_values = evaluator(ruleset, "durable")
    engine: Any = compiled(ruleset, "durable")
    durable = engine.run
    texts = [engine._base.text(case_facts, as_of)[0] for case_facts, as_of in facts]
    # The adapter's own networks and facts (their live sessions, one case at a time, as it uses them).
    networks = [engine._network(case_facts) for case_facts, _ in facts]
    own = [
        (network.handle, network.text(case_facts, as_of)[0])
        for network, (case_facts, as_of) in zip(networks, facts, strict=True)
    ]

    # Raw handles of durable's core, beside the adapter's (one session each, one case at a time).
    grouped = core.create_ruleset("floor-grouped", engine._base._definition)
    ungrouped_definition = _without_groups(json.loads(engine._base._definition))
    ungrouped = core.create_ruleset("floor-ungrouped", json.dumps(ungrouped_definition))
    ungrouped_texts = [_drop_group_properties(text) for text in texts]
    holds_only = core.create_ruleset(
        "floor-holds", json.dumps({k: v for k, v in ungrouped_definition.items() if k.startswith("h")})
    )
    nothing = core.create_ruleset("floor-nothing", json.dumps({"n": {"all": [{"m": {"_never": 1}}]}}))

    def core_calls(handle: int, fact: str) -> list[str]:
        code, state = core.assert_fact(handle, fact)
        fired = []
        if code == 0:
            started = core.start_action_for_state(handle, state)
            action = started[1] if started else None
            while action:
                fired.append(action[2 : action.find('"', 2)])
                action = core.complete_and_start_action(handle, state)
        core.retract_fact(handle, RETRACT)
        return fired

    # --- every contender decides as the adapter does, before anything is timed ---------------------
    fired_counts = []
    for (case_facts, as_of), text, bare in zip(facts, texts, ungrouped_texts, strict=True):
        if dict(zip(SERVICES, durable(case_facts, as_of)[1], strict=True)) != decide_all(case_facts, as_of):
            sys.exit("the durable engine disagrees with the hand-written function")
        adapter = sorted(f"{'hf'[1 - action % 2]}{action // 2:03d}" for action in engine._base.run(text))
        if sorted(core_calls(grouped, text)) != adapter or sorted(core_calls(ungrouped, bare)) != adapter:
            sys.exit("the raw core calls fire other patterns than the adapter")
        if sorted(core_calls(holds_only, bare)) != [name for name in adapter if name.startswith("h")]:
            sys.exit("the holds patterns alone fire other patterns than the adapter's holds")
        fired_counts.append(len(adapter))
    own_counts = []
    for network, (handle, text) in zip(networks, own, strict=True):
        fired = sorted(core_calls(handle, text))
        if fired != sorted(f"{'hf'[1 - action % 2]}{action // 2:03d}" for action in network.run(text)):
            sys.exit("the raw core calls on the adapter's networks fire other patterns than the adapter")
        own_counts.append(len(fired))

    def hand() -> None:
        for case_facts, as_of in facts:
            decide_all(case_facts, as_of)

    def step() -> None:
        for case_facts, as_of in facts:
            durable(case_facts, as_of)

    def values() -> None:
        for case_facts, as_of in facts:
            rule_values(case_facts, as_of)

    def own_networks() -> None:
        for handle, text in own:
            core_calls(handle, text)

    def raw(handle: int, encoded: list[str]) -> Callable[[], None]:
        def loop() -> None:
            for text in encoded:
                core_calls(handle, text)

        return loop

    def fixed() -> None:
        for text in texts:
            core.assert_fact(nothing, text)  # not handled: nothing matches, nothing is kept
            core.retract_fact(nothing, RETRACT)

    contenders: dict[str, Callable[[], None]] = {
        "hand-written (all services)": hand,
        "durable engine: rule values + statuses": step,
        "durable engine: rule values": values,
        "durable core calls only, the adapter's networks (one per residence status)": own_networks,
        "durable core calls only, all rules in one network (facts encoded beforehand)": raw(grouped, texts),
        "the same, without the group tests": raw(ungrouped, ungrouped_texts),
        "the same, holds patterns only (no false or unknown told apart), no group tests": raw(
            holds_only, ungrouped_texts
        ),
        "durable's fixed cost: assert + retract, one pattern matching nothing": fixed,
    }
    rounds: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.repeats):
        for name, function in contenders.items():
            rounds[name].append(cpu_per_case(function, len(facts)))
    median = {name: statistics.median(found) for name, found in rounds.items()}

    # --- cost per fired action: least squares of per-case time on actions fired ------------------
    per_case = []
    for _ in range(args.repeats):
        for text in texts:
            started = time.perf_counter()
            core_calls(grouped, text)
            per_case.append(time.perf_counter() - started)
    counts = fired_counts * args.repeats
    mean_x, mean_y = statistics.fmean(counts), statistics.fmean(per_case)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(counts, per_case, strict=True)) / sum(
        (x - mean_x) ** 2 for x in counts
    )
    intercept = mean_y - slope * mean_x
    load_after = os.getloadavg()

    print(
        "# durable-rules' floor on the decision step, "
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC\n"
    )
    print(
        f"Command: python benchmarks/durable_floor.py --cases {args.cases} --seed {args.seed} "
        f"--repeats {args.repeats}"
    )
    print(
        f"Python {sys.version.split()[0]} on {platform.machine()} ({platform.system()}), "
        f"{os.cpu_count()} CPUs; "
        f"commit {commit()}; {ruleset!r} ({len(ruleset.services)} services, {len(ruleset.rules)} rules, "
        f"{len(ungrouped_definition) // 2} patterns of each kind)"
    )
    print(
        f"{args.cases:,} generated cases (seed {args.seed}); CPU time per case, medians of {args.repeats} "
        f"interleaved rounds; load average {' '.join(f'{n:.2f}' for n in load_before)} before, "
        f"{' '.join(f'{n:.2f}' for n in load_after)} after\n"
    )
    print("| contender | µs per case (CPU) | relative to hand-written |")
    print("| --- | ---: | ---: |")
    base = median["hand-written (all services)"]
    for name, seconds in median.items():
        print(f"| {name} | {seconds * 1e6:,.1f} | {seconds / base:.1f}× |")
    print(
        f"\nActions fired per case: {statistics.fmean(own_counts):.1f} on average (max {max(own_counts)}) "
        f"on the adapter's networks; {statistics.fmean(fired_counts):.1f} on average "
        f"(max {max(fired_counts)}) with all rules in one network. Core calls (all rules in one network) "
        f"against actions fired (wall clock, least squares over "
        f"{len(counts):,} case runs): {intercept * 1e6:.1f} µs per case with no action + "
        f"{slope * 1e6:.2f} µs per fired action. The issue's target, 10× hand-written, is "
        f"{10 * base * 1e6:.1f} µs per case."
    )


if __name__ == "__main__":
    main()
