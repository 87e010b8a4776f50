"""Benchmark other rule engines on the decision step of ``bench_engines.py``, side by side.

Run (after ``pip install -e ".[bench,durable]"``):
python benchmarks/bench_peers.py [--cases 10000] [--seed 7] [--repeats 3]

The decision is the one ``bench_engines.py`` times: the statuses of four services (JMD, MBE,
Flüchtlingssozialarbeit, Integrationsmanagement; 20 rules) for a case's facts, each eligible, not
eligible or *undetermined* where a fact it needs is unknown. The contenders:

- the hand-written function of ``bench_engines.py`` (the reference, from the case's facts);
- the compiled python engine of referral-engine (``referral_engine.compiled``), for context;
- ``rule-engine``: one ``Rule`` per service, a ternary expression giving the status;
- ``zen-engine`` (GoRules JDM): one decision graph with a first-hit decision table per service,
  per case with ``ZenDecision.evaluate`` and for all cases with ``ZenEngine.evaluate_batch``;
- ``business-rules`` (venmo): two rules per service (eligible / not eligible) and an action
  setting the status, run with ``run_all``;
- raw ``durable-rules``: a ``durable.lang`` ruleset with Python actions, as its README shows (two
  rules per service and one catch-all), each case asserted as a fact and retracted;
- ``openfisca-core``: a tax-benefit system with a person entity, the case fields as input
  variables and one vectorised ``Variable`` per service (numpy over all persons), calculated for
  a population of all cases at once.

None of the peers has three-valued logic, so unknown is encoded explicitly: every field comes
with a ``<field>_known`` flag, and each service is two boolean conditions written once below
(:data:`DECISION`) — *surely eligible* and *surely not eligible* — undetermined when neither holds
(Kleene's logic, written out). Each peer's rules are generated from those conditions, and before
anything is timed each peer must give exactly the hand-written statuses on every case.

Dates enter every peer as day counts: the days from a date to ``as_of`` and from the start of the
36-, 48- and 60-month windows that end on ``as_of`` (``dates.window_start``) to the date, so all
peers decide from the same numbers and calendar-month arithmetic (end-of-month clamping) stays out
of the comparison. These inputs are built beforehand and not timed, as the facts are for the
hand-written function. CPU time (``time.process_time``, all threads), medians of the repeats, in
which the contenders take turns, with the fastest and slowest round.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import operator
import os
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial, reduce
from typing import Any

from bench_engines import (
    IM_PRIVATE,
    JMD_NOT_LAWFUL,
    MBE_ASK,
    MBE_LONG_RESIDENT,
    MBE_PERMANENT,
    STATUS_VALUE,
    SUBSET,
    Case,
    Statuses,
    hand_written,
    random_case,
    subset_ruleset,
)

from referral_engine import default_ruleset
from referral_engine.compiled import compiled
from referral_engine.conditions import Tri
from referral_engine.dates import Duration, window_start
from referral_engine.facts import facts_for

# --- the decision, once, as data -------------------------------------------------------------------

#: A condition: ("known", field) the field's flag is set; ("cmp", field, op, number or text);
#: ("in" / "not_in", field, values); ("all" / "any", conditions).
Cond = tuple[Any, ...]
Input = dict[str, Any]  # one case for the peers: values, ``_known`` flags and day counts

OPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
JMD_OPENS = dt.date(2017, 1, 1).toordinal()
IM_UKRAINE_FROM = dt.date(2022, 3, 11).toordinal()
WINDOWS = {months: Duration(months // 12, 0, 0) for months in (36, 48, 60)}
STATUS_NAMES: dict[Tri, str] = {True: "eligible", False: "not_eligible", None: "undetermined"}
FROM_NAME = {name: value for value, name in STATUS_NAMES.items()}


def known(field: str) -> Cond:
    return ("known", field)


def cmp(field: str, op: str, value: Any) -> Cond:
    return ("cmp", field, op, value)


def is_in(field: str, values: frozenset[str]) -> Cond:
    return ("in", field, tuple(sorted(values)))


def not_in(field: str, values: frozenset[str]) -> Cond:
    return ("not_in", field, tuple(sorted(values)))


def all_(*conditions: Cond) -> Cond:
    return ("all", conditions)


def any_(*conditions: Cond) -> Cond:
    return ("any", conditions)


def within(date: str, months: int) -> Cond:
    """The date is known, not after as_of, and at most ``months`` months before it (the rules' ``within``)."""
    return all_(known(date), cmp(f"{date}_past", ">=", 0), cmp(f"{date}_from{months}", ">=", 0))


_AGE, _STATUS, _ACC, _SINCE = "age", "residence_status", "accommodation", "accommodation_since"
_NOT_UKRAINE = any_(
    cmp("as_of", "<", IM_UKRAINE_FROM),
    all_(known(_STATUS), cmp(_STATUS, "!=", "ae_24")),
    all_(known(_ACC), cmp(_ACC, "!=", "private")),
)
_NOT_PRIVATE_AFTER_FOLLOW_UP = any_(
    all_(known(_ACC), cmp(_ACC, "!=", "private")),
    all_(known(_STATUS), not_in(_STATUS, IM_PRIVATE)),
    all_(known("entry_date"), any_(cmp("entry_date_past", "<", 0), cmp("entry_date_from60", "<", 0))),
)
_NOT_WITHIN_FOUR = all_(known(_SINCE), any_(cmp(f"{_SINCE}_past", "<", 0), cmp(f"{_SINCE}_from48", "<", 0)))

#: Per service of SUBSET: (surely eligible, surely not eligible); undetermined when neither holds.
#: The same decision as ``bench_engines.hand_written``, which the script checks on every case.
DECISION: dict[str, tuple[Cond, Cond]] = {
    "jmd": (
        all_(
            known(_AGE),
            cmp(_AGE, ">=", 12),
            cmp(_AGE, "<", 27),
            known(_STATUS),
            not_in(_STATUS, JMD_NOT_LAWFUL | {"arrival_certificate"}),
            cmp("as_of", ">=", JMD_OPENS),
        ),
        any_(
            all_(known(_AGE), any_(cmp(_AGE, "<", 12), cmp(_AGE, ">=", 27))),
            all_(known(_STATUS), cmp(_STATUS, "==", "undocumented")),
            all_(known(_STATUS), cmp(_STATUS, "==", "ausreisepflichtig"), cmp("as_of", "<", JMD_OPENS)),
        ),
    ),
    "mbe": (
        all_(
            known(_AGE),
            cmp(_AGE, ">=", 27),
            known(_STATUS),
            any_(
                cmp(_STATUS, "==", "spaetaussiedler"),
                all_(
                    is_in(_STATUS, MBE_LONG_RESIDENT),
                    any_(
                        within("entry_date", 36),
                        all_(is_in(_STATUS, MBE_PERMANENT), within("status_since", 36)),
                    ),
                ),
            ),
        ),
        any_(
            all_(known(_AGE), cmp(_AGE, "<", 27)),
            all_(known(_STATUS), not_in(_STATUS, MBE_LONG_RESIDENT | MBE_ASK | {"spaetaussiedler"})),
        ),
    ),
    "fluechtlingssozialarbeit": (
        all_(
            known(_ACC),
            cmp(_ACC, "==", "vorlaeufige_unterbringung"),
            known(_STATUS),
            not_in(_STATUS, JMD_NOT_LAWFUL),
        ),
        all_(known(_ACC), cmp(_ACC, "!=", "vorlaeufige_unterbringung")),
    ),
    "integrationsmanagement": (
        all_(
            known(_STATUS),
            not_in(_STATUS, JMD_NOT_LAWFUL),
            known(_ACC),
            cmp(_ACC, "==", "anschlussunterbringung"),
            within(_SINCE, 36),
        ),
        all_(
            _NOT_UKRAINE,
            _NOT_PRIVATE_AFTER_FOLLOW_UP,
            any_(_NOT_WITHIN_FOUR, all_(known(_ACC), cmp(_ACC, "!=", "anschlussunterbringung"))),
        ),
    ),
}


def peer_input(case: Case) -> Input:
    """A case as the peers see it: each field with a ``_known`` flag, dates as day counts."""
    facts, as_of = case
    day = as_of.toordinal()
    starts = {months: window_start(as_of, window).toordinal() for months, window in WINDOWS.items()}
    found: Input = {"as_of": day}
    for name, blank in ((_AGE, 0), (_STATUS, ""), (_ACC, "")):
        value = facts[name]
        found[f"{name}_known"] = value is not None
        found[name] = blank if value is None else value
    for name, windows in (("entry_date", (36, 60)), ("status_since", (36,)), (_SINCE, (36, 48))):
        date = facts[name]
        found[f"{name}_known"] = date is not None
        ordinal = 0 if date is None else date.toordinal()
        found[f"{name}_past"] = 0 if date is None else day - ordinal
        for months in windows:
            found[f"{name}_from{months}"] = 0 if date is None else ordinal - starts[months]
    return found


def holds(condition: Cond, case: Input) -> bool:
    """A condition on one case, in plain Python (to check :data:`DECISION` itself)."""
    kind = condition[0]
    if kind == "known":
        return bool(case[f"{condition[1]}_known"])
    if kind == "cmp":
        return bool(OPS[condition[2]](case[condition[1]], condition[3]))
    if kind in ("in", "not_in"):
        return bool((case[condition[1]] in condition[2]) == (kind == "in"))
    parts = (holds(part, case) for part in condition[1])
    return all(parts) if kind == "all" else any(parts)


def by_conditions(case: Input) -> Statuses:
    """The statuses from :data:`DECISION` in plain Python."""
    return tuple(
        True if holds(eligible, case) else (False if holds(excluded, case) else None)
        for eligible, excluded in (DECISION[service] for service in SUBSET)
    )


# --- the peers ---------------------------------------------------------------------------------------


def _expression(condition: Cond, *, zen: bool = False) -> str:
    """A condition in rule-engine's expression language (``zen``: ZEN's, nearly the same)."""
    kind = condition[0]
    if kind == "known":
        return f"{condition[1]}_known"
    if kind == "cmp":
        return f"{condition[1]} {condition[2]} {json.dumps(condition[3])}"
    if kind in ("in", "not_in"):
        test = f"{condition[1]} in {json.dumps(list(condition[2]))}"
        return test if kind == "in" else f"not ({test})"
    joiner = " and " if kind == "all" else " or "
    return "(" + joiner.join(_expression(part, zen=zen) for part in condition[1]) + ")"


def _status_expression(service: str, *, zen: bool = False) -> str:
    eligible, excluded = DECISION[service]
    return (
        f'{_expression(eligible, zen=zen)} ? "eligible" : '
        f'({_expression(excluded, zen=zen)} ? "not_eligible" : "undetermined")'
    )


Decider = Callable[[Input], Statuses]


def rule_engine_peer() -> Decider:
    """``rule-engine``: one Rule per service whose expression evaluates to the status."""
    import rule_engine

    rules = [rule_engine.Rule(_status_expression(service)) for service in SUBSET]
    names = FROM_NAME

    def decide(case: Input) -> Statuses:
        return tuple(names[rule.evaluate(case)] for rule in rules)

    return decide


def zen_graph() -> dict[str, Any]:
    """The JDM decision graph: input, one first-hit decision table per service, output."""
    nodes: list[dict[str, Any]] = [
        {"id": "input", "type": "inputNode", "name": "case", "position": {"x": 0, "y": 0}, "content": {}}
    ]
    edges = []
    for index, service in enumerate(SUBSET):
        eligible, excluded = DECISION[service]
        nodes.append(
            {
                "id": service,
                "type": "decisionTableNode",
                "name": service,
                "position": {"x": 300, "y": 150 * index},
                "content": {
                    "hitPolicy": "first",
                    "inputs": [{"id": "when", "name": "condition"}],  # no field: full expressions
                    "outputs": [{"id": "status", "name": "status", "field": service}],
                    "rules": [
                        {"_id": "e", "when": _expression(eligible, zen=True), "status": '"eligible"'},
                        {"_id": "n", "when": _expression(excluded, zen=True), "status": '"not_eligible"'},
                        {"_id": "u", "when": "", "status": '"undetermined"'},
                    ],
                },
            }
        )
        edges.append({"id": f"in-{service}", "sourceId": "input", "targetId": service})
        edges.append({"id": f"{service}-out", "sourceId": service, "targetId": "output"})
    nodes.append(
        {
            "id": "output",
            "type": "outputNode",
            "name": "statuses",
            "position": {"x": 600, "y": 0},
            "content": {},
        }
    )
    return {"nodes": nodes, "edges": edges}


def zen_peer() -> tuple[Decider, Callable[[Sequence[Input]], list[Statuses]]]:
    """``zen-engine``: per case ``ZenDecision.evaluate``, for many ``ZenEngine.evaluate_batch``."""
    import zen

    graph = zen_graph()
    engine = zen.ZenEngine({"loader": {"type": "static", "content": {"statuses.json": graph}}})
    decision = engine.create_decision(zen.ZenDecisionContent(json.dumps(graph)))
    names = FROM_NAME

    def decide(case: Input) -> Statuses:
        result = decision.evaluate(case)["result"]
        return tuple(names[result[service]] for service in SUBSET)

    def decide_all(cases: Sequence[Input]) -> list[Statuses]:
        answers = engine.evaluate_batch([{"key": "statuses.json", "context": case} for case in cases])
        found = []
        for answer in answers:
            if not answer.get("success"):
                raise RuntimeError("zen-engine's evaluate_batch failed on a case")
            result = answer["data"]["result"]
            found.append(tuple(names[result[service]] for service in SUBSET))
        return found

    return decide, decide_all


def _business_rules_condition(condition: Cond) -> dict[str, Any]:
    kind = condition[0]
    if kind == "known":
        return {"name": f"{condition[1]}_known", "operator": "is_true", "value": True}
    if kind == "cmp":
        name, op, value = condition[1:]
        if isinstance(value, str):  # its string operators have no "not equal": a pattern instead
            return _business_rules_condition(("in" if op == "==" else "not_in", name, (value,)))
        names = {
            "==": "equal_to",
            "<": "less_than",
            "<=": "less_than_or_equal_to",
            ">": "greater_than",
            ">=": "greater_than_or_equal_to",
        }
        return {"name": name, "operator": names[op], "value": value}
    if kind in ("in", "not_in"):
        choice = "|".join(re.escape(value) for value in condition[2])
        pattern = f"^(?:{choice})$" if kind == "in" else f"^(?!(?:{choice})$)"
        return {"name": condition[1], "operator": "matches_regex", "value": pattern}
    return {kind: [_business_rules_condition(part) for part in condition[1]]}


def business_rules_peer() -> Decider:
    """``business-rules``: per service an eligible and a not-eligible rule; the action sets the status."""
    from business_rules import run_all
    from business_rules.actions import BaseActions, rule_action
    from business_rules.fields import FIELD_TEXT
    from business_rules.variables import (
        BaseVariables,
        boolean_rule_variable,
        numeric_rule_variable,
        string_rule_variable,
    )

    sample = peer_input(
        (facts_for(random_case(random.Random(0))[0], dt.date(2026, 3, 1)), dt.date(2026, 3, 1))
    )

    def variable(name: str, value: Any) -> Any:
        kind = (
            boolean_rule_variable
            if isinstance(value, bool)
            else (string_rule_variable if isinstance(value, str) else numeric_rule_variable)
        )
        return kind(lambda self: self.case[name])

    # The variables are the input's fields; business-rules wants them as decorated methods.
    variables = type(
        "CaseVariables",
        (BaseVariables,),
        {
            "__init__": lambda self, case: setattr(self, "case", case),
            **{name: variable(name, value) for name, value in sample.items()},
        },
    )

    class Statuses_(BaseActions):  # type: ignore[misc]
        def __init__(self, found: dict[str, str]) -> None:
            self.found = found

        @rule_action(params={"service": FIELD_TEXT, "status": FIELD_TEXT})  # type: ignore[untyped-decorator]
        def set_status(self, service: str, status: str) -> None:
            self.found[service] = status

    rules = [
        {
            "conditions": _business_rules_condition(condition),
            "actions": [{"name": "set_status", "params": {"service": service, "status": status}}],
        }
        for service in SUBSET
        for condition, status in zip(DECISION[service], ("eligible", "not_eligible"), strict=True)
    ]
    names = FROM_NAME

    def decide(case: Input) -> Statuses:
        found = dict.fromkeys(SUBSET, "undetermined")
        run_all(
            rule_list=rules,
            defined_variables=variables(case),
            defined_actions=Statuses_(found),
            stop_on_first_trigger=False,
        )
        return tuple(names[found[service]] for service in SUBSET)

    return decide


_DURABLE: list[Decider] = []  # durable.lang keeps rulesets by name for the process: define once


def durable_peer() -> Decider:
    """Raw ``durable-rules``: a ``durable.lang`` ruleset with Python actions, one fact per case."""
    if _DURABLE:
        return _DURABLE[0]
    from durable.lang import assert_fact, m, retract_fact, ruleset, when_all

    def pattern(condition: Cond) -> Any:
        kind = condition[0]
        if kind == "known":
            return getattr(m, f"{condition[1]}_known") == True  # noqa: E712 (durable's DSL)
        if kind == "cmp":
            return OPS[condition[2]](getattr(m, condition[1]), condition[3])
        if kind in ("in", "not_in"):
            field = getattr(m, condition[1])
            if kind == "in":
                return reduce(operator.or_, (field == value for value in condition[2]))
            return reduce(operator.and_, (field != value for value in condition[2]))
        return reduce(operator.and_ if kind == "all" else operator.or_, map(pattern, condition[1]))

    found: dict[str, str] = {}

    def setter(service: str, status: str) -> Callable[[Any], None]:
        def action(c: Any) -> None:
            found[service] = status

        return action

    with ruleset("referral_peers"):
        for service in SUBSET:
            for condition, status in zip(DECISION[service], ("eligible", "not_eligible"), strict=True):
                when_all(pattern(condition))(setter(service, status))
        # A fact no rule matches is an error in durable: this rule matches every case.
        when_all(m.kind == "case")(lambda c: None)

    names = FROM_NAME

    def decide(case: Input) -> Statuses:
        found.update(dict.fromkeys(SUBSET, "undetermined"))
        fact = {"kind": "case", **case}
        assert_fact("referral_peers", fact)
        retract_fact("referral_peers", fact)
        return tuple(names[found[service]] for service in SUBSET)

    _DURABLE.append(decide)
    return decide


def openfisca_peer() -> Callable[[Mapping[str, Any]], list[Statuses]]:
    """``openfisca-core``: one vectorised Variable per service over a population of persons."""
    import numpy as np
    from openfisca_core.entities import build_entity
    from openfisca_core.periods import DateUnit
    from openfisca_core.simulations import SimulationBuilder
    from openfisca_core.taxbenefitsystems import TaxBenefitSystem
    from openfisca_core.variables import Variable

    person = build_entity(key="person", plural="persons", label="A case", is_person=True)
    system = TaxBenefitSystem([person])
    sample = peer_input(
        (facts_for(random_case(random.Random(0))[0], dt.date(2026, 3, 1)), dt.date(2026, 3, 1))
    )
    for name, value in sample.items():
        value_type = bool if isinstance(value, bool) else (str if isinstance(value, str) else int)
        system.add_variable(
            type(
                name,
                (Variable,),
                {"value_type": value_type, "entity": person, "definition_period": DateUnit.YEAR},
            )
        )

    def mask(condition: Cond, get: Callable[[str], Any]) -> Any:
        kind = condition[0]
        if kind == "known":
            return get(f"{condition[1]}_known")
        if kind == "cmp":
            return OPS[condition[2]](get(condition[1]), condition[3])
        if kind in ("in", "not_in"):
            return np.isin(get(condition[1]), condition[2], invert=kind == "not_in")
        parts = [mask(part, get) for part in condition[1]]
        return np.logical_and.reduce(parts) if kind == "all" else np.logical_or.reduce(parts)

    def status_variable(service: str) -> type:
        eligible, excluded = DECISION[service]

        def formula(persons: Any, period: Any) -> Any:
            def get(name: str) -> Any:
                return persons(name, period)

            return np.select([mask(eligible, get), mask(excluded, get)], [1, 0], default=-1)

        return type(
            f"{service}_status",
            (Variable,),
            {
                "value_type": int,
                "entity": person,
                "definition_period": DateUnit.YEAR,
                "label": f"{service}: 1 eligible, 0 not eligible, -1 undetermined",
                "formula": formula,
            },
        )

    for service in SUBSET:
        system.add_variable(status_variable(service))
    names: dict[int, Tri] = {1: True, 0: False, -1: None}

    def decide_all(columns: Mapping[str, Any]) -> list[Statuses]:
        count = len(columns["as_of"])
        simulation = SimulationBuilder().build_default_simulation(system, count=count)
        for name, column in columns.items():
            simulation.set_input(name, "2026", column)
        results = [simulation.calculate(f"{service}_status", "2026") for service in SUBSET]
        return [tuple(names[int(code)] for code in row) for row in zip(*results, strict=True)]

    return decide_all


def columns_of(cases: Sequence[Input]) -> dict[str, Any]:
    """The inputs as numpy columns, one per field (for openfisca)."""
    import numpy as np

    return {name: np.array([case[name] for case in cases]) for name in cases[0]}


# --- checking and measuring -----------------------------------------------------------------------


PEERS = ("rule-engine", "zen-engine", "business-rules", "durable-rules", "openfisca-core")
MODULES = {
    "rule-engine": "rule_engine",
    "zen-engine": "zen",
    "business-rules": "business_rules",
    "durable-rules": "durable",
    "openfisca-core": "openfisca_core",
}


def installed() -> list[str]:
    """The peers that can be imported here."""
    import importlib.util

    return [peer for peer in PEERS if importlib.util.find_spec(MODULES[peer]) is not None]


def deciders(
    peers: Sequence[str],
) -> tuple[dict[str, Decider], dict[str, Callable[[Sequence[Input]], list[Statuses]]]]:
    """Per-case and whole-batch deciders of ``peers``, each from peer inputs to statuses."""
    single: dict[str, Decider] = {}
    batch: dict[str, Callable[[Sequence[Input]], list[Statuses]]] = {}
    if "rule-engine" in peers:
        single["rule-engine (`Rule.evaluate`, 4 rules)"] = rule_engine_peer()
    if "zen-engine" in peers:
        each, whole = zen_peer()
        single["zen-engine (`ZenDecision.evaluate`)"] = each
        batch["zen-engine (`ZenEngine.evaluate_batch`)"] = whole
    if "business-rules" in peers:
        single["business-rules (`run_all`, 8 rules)"] = business_rules_peer()
    if "durable-rules" in peers:
        single["durable-rules (`durable.lang`, Python actions)"] = durable_peer()
    if "openfisca-core" in peers:
        population = openfisca_peer()
        batch["openfisca-core (vectorised `Variable`s, one simulation)"] = lambda cases: population(
            columns_of(cases)
        )
    return single, batch


def check(cases: Sequence[Case], peers: Sequence[str]) -> dict[str, int]:
    """How many cases each peer (and :data:`DECISION` in plain Python) decides unlike hand-written."""
    inputs = [peer_input(case) for case in cases]
    expected = [hand_written(*case) for case in cases]
    single, batch = deciders(peers)
    wrong = {
        "conditions (plain Python)": sum(by_conditions(x) != e for x, e in zip(inputs, expected, strict=True))
    }
    for name, decide in single.items():
        wrong[name] = sum(decide(x) != e for x, e in zip(inputs, expected, strict=True))
    for name, decide_all in batch.items():
        wrong[name] = sum(found != e for found, e in zip(decide_all(inputs), expected, strict=True))
    return wrong


def _rates(run: Callable[[], object], count: int) -> tuple[float, float]:
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return count / (time.process_time() - cpu), count / (time.perf_counter() - wall)


def _each(function: Callable[[Any], object], items: Sequence[Any]) -> Callable[[], None]:
    def run() -> None:
        for item in items:
            function(item)

    return run


def generated(cases: int, seed: int) -> Iterator[Case]:
    rng = random.Random(seed)
    for _ in range(cases):
        profile, as_of = random_case(rng)
        yield facts_for(profile, as_of), as_of


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--populations",
        default="1000,100000",
        help="further population sizes for openfisca-core (the cases repeated), comma-separated",
    )
    args = parser.parse_args()
    cases = list(generated(args.cases, args.seed))
    inputs = [peer_input(case) for case in cases]
    peers = installed()
    print(f"# referral-engine peer benchmark, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC\n")
    machine = f"{platform.machine()} ({platform.system()}), {os.cpu_count()} CPUs"
    print(f"Python {sys.version.split()[0]} on {machine}")
    missing = [peer for peer in PEERS if peer not in peers]
    print(
        f"Peers installed: {', '.join(peers)}" + (f"; not installed: {', '.join(missing)}" if missing else "")
    )
    print(f"{args.cases:,} generated cases (seed {args.seed}), medians of {args.repeats} interleaved rounds")
    print(f"Load average before the run: {' '.join(f'{n:.2f}' for n in os.getloadavg())}\n")

    wrong = check(cases, peers)
    if any(wrong.values()):
        sys.exit(f"peers disagree with the hand-written function: {wrong}")
    print(f"Every peer gives the hand-written statuses on all {len(cases):,} cases.\n")

    subset = subset_ruleset(default_ruleset(), SUBSET)
    compiled_run = compiled(subset).run
    position = [SUBSET.index(service.id) for service in subset.services]

    def by_compiled(case: Case) -> Statuses:
        statuses: list[Tri] = [None] * len(SUBSET)
        for index, status in zip(position, compiled_run(*case)[1], strict=True):
            statuses[index] = STATUS_VALUE[status]
        return tuple(statuses)

    if any(by_compiled(case) != hand_written(*case) for case in cases):
        sys.exit("the compiled python engine disagrees with the hand-written function")
    single, batch = deciders(peers)
    contenders: dict[str, tuple[Callable[[], object], int]] = {
        "hand-written (facts)": (_each(lambda case: hand_written(*case), cases), len(cases)),
        "referral-engine, compiled python engine (facts)": (_each(by_compiled, cases), len(cases)),
        "the conditions in plain Python (peer inputs)": (_each(by_conditions, inputs), len(inputs)),
    }
    for name, decide in single.items():
        contenders[name] = (_each(decide, inputs), len(inputs))
    for name, decide_all in batch.items():
        contenders[name] = (partial(decide_all, inputs), len(inputs))
    if "openfisca-core" in peers:  # the per-case cost of a vectorised peer depends on the population
        population = openfisca_peer()
        for size in (int(text) for text in args.populations.split(",") if text):
            columns = columns_of([inputs[index % len(inputs)] for index in range(size)])
            contenders[f"openfisca-core, {size:,} persons"] = (partial(population, columns), size)
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for _ in range(args.repeats):
        for name, (run, count) in contenders.items():
            runs[name].append(_rates(run, count))
    hand = statistics.median(cpu for cpu, _ in runs["hand-written (facts)"])
    print(
        "| decider | cases per round | cases/s (CPU time) | cases/s (wall clock) | µs per case (CPU) "
        "| rounds' range (µs, CPU) | relative (CPU time) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, found in runs.items():
        cpu = statistics.median(rate for rate, _ in found)
        wall = statistics.median(rate for _, rate in found)
        relative = "1× (reference)" if name.startswith("hand-written") else f"{hand / cpu:,.1f}× hand-written"
        spread = f"{1e6 / max(rate for rate, _ in found):,.2f}–{1e6 / min(rate for rate, _ in found):,.2f}"
        print(
            f"| {name} | {contenders[name][1]:,} | {cpu:,.0f} | {wall:,.0f} | {1e6 / cpu:,.2f} | {spread} "
            f"| {relative} |"
        )
    print(f"\nLoad average after the run: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")


if __name__ == "__main__":
    main()
