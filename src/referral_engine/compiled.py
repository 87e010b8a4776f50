"""The python engine: each rule set compiled to straight-line Python, one function per span of dates.

:func:`referral_engine.decide.evaluate_rules` walks the condition closures of every rule; it stays
the reference. This module turns the same *loaded rule tree* (the :class:`~referral_engine.ruleset.Rule`
objects and their :class:`~referral_engine.conditions.Leaf` / ``AllOf`` / ``AnyOf`` / ``Not``
conditions) into the source of one function that, for a case's facts, computes every rule's
value and every service's status in one pass, without a call per condition::

    def run(facts):
        f0 = facts['age']
        f1 = facts['residence_status']
        v0 = False if ((f0 is not None and not f0 >= 12) or ...) else (True if (...) else None)
        ...
        if v4: s0 = NE
        elif v0 or v2: s0 = EL if v4 is False else UN
        elif v0 is None or v2 is None or v1 is not False: s0 = UN
        else: s0 = NE
        return {'jmd-lawful-or-tolerated': v0, ...}, (s0, ...)

**Kleene logic without calls.** A condition ``n`` becomes two plain boolean expressions, *surely
true* ``T(n)`` and *surely false* ``F(n)``: a leaf ``field op value`` is true when the field is known
and the comparison holds, false when it is known and does not; ``AllOf`` is true when all parts
are, false when any part is; ``AnyOf`` the other way round; ``Not`` swaps them. The rule's value is
``True`` if ``T``, ``False`` if ``F``, else ``None`` (unknown). A leaf is unknown exactly when its
field is, so after ``F`` failed, ``T`` of a conjunction of leaves is only "are all their fields
known" (and dually for a disjunction); the more likely test goes first.

**Dates.** Which rules are in force changes only on their ``valid_from`` and the day after their
``valid_to``: between two such dates the set is fixed, and each span gets its own function
(compiled on first use). A ``within`` / ``older_than`` window becomes a date comparison with
:func:`referral_engine.dates.window_start` — the earliest event date whose period (§§ 187, 188
BGB, :func:`~referral_engine.dates.period_end`) still contains ``as_of`` — computed once per
``as_of`` and bound into that date's function.

**Three uses.** ``run`` gives the rule values and statuses (the engine behind
``engine="python"``); ``screen`` adds the open fields (``recommend_many(detail="statuses")``);
``service_run`` decides one service on any date, for the change dates of
:mod:`referral_engine.timeline` (compiled once per span and service, with windows tested by
``period_end`` as in the reference, so that probing many dates binds nothing per date).

**Why generating code is safe here.** The source is generated from the validated rule tree only,
never from rule text: variable names are made here (``f0``, ``v3``), operators come from a fixed
table, rule ids, field names and operands appear only as ``repr`` of exact ``str`` / ``int`` /
``bool`` values (which always reads back as the same value), and every other operand (dates,
sets, durations, statuses) is passed in as a constant bound to a generated name. Nothing of a
case ever reaches the source; ``compile`` / ``exec`` run on text this module wrote.
"""

from __future__ import annotations

import bisect
import datetime as dt
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .conditions import AllOf, AnyOf, Condition, Leaf, Not, Tri
from .dates import Duration, period_end, window_start
from .decide import _combine, evaluate_rules, statuses
from .facts import Facts
from .models import Status
from .ruleset import Rule, Ruleset, Service

#: One date's function: the facts to (rule id -> value, one status per service in rule-set order).
Run = Callable[[Facts], tuple[dict[str, Tri], tuple[Status, ...]]]
_Factory = Callable[[dt.date, tuple[dt.date, ...]], "_Pair"]

#: Conditions nested deeper than this are evaluated by their closure (the parser has its limits).
MAX_DEPTH = 40
_MEMO_DATES = 4096
_DAY = dt.timedelta(days=1)
#: A leaf's comparison, with ``{f}`` the field's value and ``{c}`` the operand.
_COMPARE = {
    "eq": "{f} == {c}",
    "ne": "{f} != {c}",
    "lt": "{f} < {c}",
    "le": "{f} <= {c}",
    "gt": "{f} > {c}",
    "ge": "{f} >= {c}",
    "in": "{f} in {c}",
    "not_in": "{f} not in {c}",
    "contains": "{c} in {f}",
}
_KEY = "compiled"


class _Source:
    """The source of one span's function and the constants it needs."""

    def __init__(self, probe: bool = False) -> None:
        self.fields: dict[str, str] = {}
        self.constants: list[object] = []
        self.windows: dict[Duration, str] = {}
        #: Windows as the reference tests them (``period_end`` as ``pe``), for any ``as_of``.
        self.probe = probe

    def field(self, name: str) -> str:
        """The local variable that holds a fact."""
        return self.fields.setdefault(name, f"f{len(self.fields)}")

    def literal(self, value: object) -> str:
        """``value`` in the source: a literal for exact ``bool`` / ``int`` / ``str``, else a constant."""
        if value is None or type(value) in (bool, int, str):
            return repr(value)
        self.constants.append(value)
        return f"k{len(self.constants) - 1}"

    def window(self, duration: Duration) -> str:
        """The variable that holds this date's window start for ``duration``."""
        return self.windows.setdefault(duration, f"w{len(self.windows)}")


def _depth(condition: Condition) -> int:
    if isinstance(condition, Leaf):
        return 1
    if isinstance(condition, Not):
        return 1 + _depth(condition.part)
    return 1 + max((_depth(part) for part in condition.parts), default=0)


def _compare(src: _Source, leaf: Leaf) -> str:
    """The comparison of a leaf whose field is known (its value in the variable of the field)."""
    f = src.field(leaf.field)
    if src.probe and leaf.op in ("within", "older_than"):
        end = f"pe({f}, {src.literal(leaf.value)})"
        return f"{f} <= as_of <= {end}" if leaf.op == "within" else f"as_of > {end}"
    if leaf.op == "within":
        return f"{src.window(leaf.value)} <= {f} <= as_of"
    if leaf.op == "older_than":
        return f"{f} < {src.window(leaf.value)}"
    return _COMPARE[leaf.op].format(f=f, c=src.literal(leaf.value))


def _join(parts: list[str], op: str, empty: str) -> str:
    return f"({f' {op} '.join(parts)})" if parts else empty


def _true(src: _Source, node: Condition) -> str:
    """An expression that is truthy exactly when ``node`` is true."""
    if isinstance(node, Leaf):
        return f"({src.field(node.field)} is not None and {_compare(src, node)})"
    if isinstance(node, Not):
        return _false(src, node.part)
    if isinstance(node, AllOf):
        return _join([_true(src, part) for part in node.parts], "and", "True")
    return _join([_true(src, part) for part in node.parts], "or", "False")


def _false(src: _Source, node: Condition) -> str:
    """An expression that is truthy exactly when ``node`` is false."""
    if isinstance(node, Leaf):
        return f"({src.field(node.field)} is not None and not ({_compare(src, node)}))"
    if isinstance(node, Not):
        return _true(src, node.part)
    if isinstance(node, AllOf):
        return _join([_false(src, part) for part in node.parts], "or", "False")
    return _join([_false(src, part) for part in node.parts], "and", "True")


def _true_unless_false(src: _Source, node: Condition) -> str:
    """Equal to :func:`_true` wherever ``node`` is not false (a leaf: its field is known)."""
    if isinstance(node, Leaf):
        return f"{src.field(node.field)} is not None"
    if isinstance(node, Not):
        return _false_unless_true(src, node.part)
    if isinstance(node, AllOf):
        return _join([_true_unless_false(src, part) for part in node.parts], "and", "True")
    return _true(src, node)


def _false_unless_true(src: _Source, node: Condition) -> str:
    """Equal to :func:`_false` wherever ``node`` is not true."""
    if isinstance(node, Leaf):
        return f"{src.field(node.field)} is not None"
    if isinstance(node, Not):
        return _true_unless_false(src, node.part)
    if isinstance(node, AnyOf):
        return _join([_false_unless_true(src, part) for part in node.parts], "and", "True")
    return _false(src, node)


def _conjunctive(node: Condition) -> bool:
    """Whether ``node`` is false as soon as one part is (so testing "false" first is cheaper)."""
    if isinstance(node, Not):
        return not _conjunctive(node.part)
    return not isinstance(node, AnyOf)


def _value(src: _Source, rule: Rule) -> str:
    """The expression of a rule's three-valued value."""
    node = rule.when
    if _depth(node) > MAX_DEPTH:
        return f"{src.literal(node.test)}(facts, as_of)"
    if isinstance(node, Leaf) and node.op not in ("within", "older_than"):
        f = src.field(node.field)
        return f"None if {f} is None else ({_compare(src, node)})"
    if _conjunctive(node):
        return f"False if {_false(src, node)} else (True if {_true_unless_false(src, node)} else None)"
    return f"True if {_true(src, node)} else (False if {_false_unless_true(src, node)} else None)"


def _status(rules: Sequence[tuple[str, Rule]], target: str) -> list[str]:
    """Statements setting ``target`` to a service's status: grant and not exclusion (Kleene).

    ``rules`` are the service's rules in force with the variables of their values. An
    ``eligible`` rule grants its value, a ``check`` at most "unknown", a ``not_eligible`` excludes.
    """
    grants = [v for v, rule in rules if rule.effect == "eligible"]
    checks = [v for v, rule in rules if rule.effect == "check"]
    exclusions = [v for v, rule in rules if rule.effect == "not_eligible"]
    if not grants and not checks:
        return [f"{target} = NE"]
    lines = []
    keyword = "if"
    if exclusions:
        lines += [f"if {' or '.join(exclusions)}:", f"    {target} = NE"]
        keyword = "elif"
    if grants:
        settled = " and ".join(f"{v} is False" for v in exclusions) or "True"
        lines += [f"{keyword} {' or '.join(grants)}:", f"    {target} = EL if {settled} else UN"]
        keyword = "elif"
    open_ = [f"{v} is None" for v in grants] + [f"{v} is not False" for v in checks]
    lines += [f"{keyword} {' or '.join(open_)}:", f"    {target} = UN", "else:", f"    {target} = NE"]
    return lines


def _open(src: _Source, rules: Sequence[tuple[str, Rule]], status: str) -> list[str]:
    """Statements adding to ``m`` the unknown fields of a service's open rules, when it is undetermined.

    As ``decide.decide`` collects them: a rule is open when its value is unknown and so is its
    side (the grant for ``eligible`` and ``check`` rules, the exclusion for ``not_eligible``).
    Undetermined means the exclusion is not true and the grant not false, so the grant is
    unknown unless an ``eligible`` rule holds, and the exclusion unknown if any exclusion is.
    """
    granting = [(v, rule) for v, rule in rules if rule.effect != "not_eligible"]
    excluding = [(v, rule) for v, rule in rules if rule.effect == "not_eligible"]
    grants = [v for v, rule in granting if rule.effect == "eligible"]
    lines: list[str] = []

    def add(group: list[tuple[str, Rule]], indent: str) -> None:
        for v, rule in group:
            names = dict.fromkeys(leaf.field for leaf in rule.leaves)
            lines.append(f"{indent}if {v} is None:")
            lines.extend(f"{indent}    if {src.field(name)} is None: m.add({name!r})" for name in names)
            if not names:
                lines.append(f"{indent}    pass")

    if granting:
        lines.append(f"    if not ({' or '.join(grants)}):" if grants else "    if True:")
        add(granting, "        ")
    if excluding:
        add(excluding, "    ")
    if not lines:
        return []
    return [f"if {status} is UN:", *lines]


def generate(
    ruleset: Ruleset,
    rules: Sequence[Rule],
    services: Sequence[Service] | None = None,
    *,
    probe: bool = False,
) -> tuple[str, tuple[object, ...], tuple[Duration, ...]]:
    """The source of the factory of one span's functions, for ``rules`` (the rules in force).

    Each date's ``run(facts)`` returns the rule values and the statuses; ``screen(facts)`` the
    rule values, the statuses by service id and the set of open fields (those ``decide.decide``
    lists as missing). Returns the source, the
    constants its ``k0``, ``k1``, ... stand for and the durations whose window starts (``w0``,
    ``w1``, ...) each date binds. ``services`` (default: all of the rule set's) are the services
    whose statuses it computes. With ``probe`` the factory (given ``period_end`` as ``pe``)
    returns one function ``run(facts, as_of)`` for every date of the span, testing windows as
    the reference does: for probing many dates once each. See the module docstring for why this
    is safe.
    """
    services = ruleset.services if services is None else services
    src = _Source(probe)
    body: list[str] = []
    variables: dict[str, str] = {}
    for index, rule in enumerate(rules):
        variable = f"v{index}"
        variables[rule.id] = variable
        body.append(f"{variable} = {_value(src, rule)}")
    targets = []
    missing = ["m = set()"]
    for index, service in enumerate(services):
        target = f"s{index}"
        targets.append(target)
        in_force = [(variables[r.id], r) for r in ruleset.rules_of(service.id) if r.id in variables]
        body += _status(in_force, target)
        missing += _open(src, in_force, target)
    loads = [f"{variable} = facts[{name!r}]" for name, variable in src.fields.items()]
    values = ", ".join(f"{rule.id!r}: {variables[rule.id]}" for rule in rules)
    statuses_ = "".join(f"{target}, " for target in targets)
    by_service = ", ".join(
        f"{service.id!r}: {target}" for service, target in zip(services, targets, strict=True)
    )
    constants = "".join(f"k{i}, " for i in range(len(src.constants)))
    windows = "".join(f"w{i}, " for i in range(len(src.windows)))
    if probe:
        lines = [
            "def factory(constants, EL, NE, UN, pe):",
            f"    ({constants}) = constants",
            "    def run(facts, as_of):",
            *(f"        {line}" for line in [*loads, *body]),
            f"        return {{{values}}}, ({statuses_})",
            "    return run",
        ]
        return "\n".join(lines) + "\n", tuple(src.constants), ()
    lines = [
        "def factory(constants, EL, NE, UN):",
        f"    ({constants}) = constants",
        "    def bind(as_of, windows):",
        f"        ({windows}) = windows",
        "        def run(facts):",
        *(f"            {line}" for line in [*loads, *body]),
        f"            return {{{values}}}, ({statuses_})",
        "        def screen(facts):",
        *(f"            {line}" for line in [*loads, *body, *missing]),
        f"            return {{{values}}}, {{{by_service}}}, m",
        "        return run, screen",
        "    return bind",
    ]
    return "\n".join(lines) + "\n", tuple(src.constants), tuple(src.windows)


#: One date's pair of functions: ``run`` and ``screen`` (see :func:`generate`).
_Pair = tuple[Run, "Screen"]
Screened = tuple[dict[str, Tri], dict[str, Status], set[str]]
_Probe = Callable[[Facts, dt.date], tuple[dict[str, Tri], tuple[Status, ...]]]
Screen = Callable[[Facts], Screened]


def open_fields(
    ruleset: Ruleset, facts: Facts, values: Mapping[str, Tri], codes: Sequence[Status]
) -> set[str]:
    """The reference for the open fields: the unknown fields ``decide.decide`` lists as missing."""
    missing: set[str] = set()
    for service, status in zip(ruleset.services, codes, strict=True):
        if status is not Status.UNDETERMINED:
            continue
        active = [rule for rule in ruleset.rules_of(service.id) if rule.id in values]
        _, grant, exclusion = _combine(active, values)
        for rule in active:
            side = exclusion if rule.effect == "not_eligible" else grant
            if values[rule.id] is None and side is None:
                missing.update(leaf.field for leaf in rule.leaves if facts[leaf.field] is None)
    return missing


class CompiledRules:
    """A rule set compiled to straight-line Python (the ``"python"`` engine); see the module docstring.

    Equal to :func:`referral_engine.decide.evaluate_rules`, :func:`referral_engine.decide.statuses`
    and :func:`open_fields` for every case (a hypothesis test proves it). Build it with
    :func:`compiled`, which keeps one per rule set. Safe to share between threads.
    """

    def __init__(self, ruleset: Ruleset) -> None:
        self._ruleset = ruleset
        bounds: set[dt.date] = set()
        for rule in ruleset.rules:
            if rule.valid_from is not None:
                bounds.add(rule.valid_from)
            if rule.valid_to is not None and rule.valid_to < dt.date.max:
                bounds.add(rule.valid_to + _DAY)
        #: The days on which the rules in force change; span ``i`` starts at ``bounds[i - 1]``.
        self._bounds = sorted(bounds)
        self._spans: dict[int, tuple[_Factory, tuple[Duration, ...]]] = {}
        self._dates: dict[dt.date, _Pair] = {}
        self._service_spans: dict[tuple[int, str], _Probe] = {}
        self._lock = threading.Lock()

    def run(self, facts: Facts, as_of: dt.date) -> tuple[dict[str, Tri], tuple[Status, ...]]:
        """Every rule in force's value and every service's status (in rule-set order), in one pass."""
        pair = self._dates.get(as_of)
        if pair is None:
            pair = self._for_date(as_of)
        return pair[0](facts)

    def screen(self, facts: Facts, as_of: dt.date) -> Screened:
        """The rule values, the statuses by service id and the open fields of the undetermined services."""
        pair = self._dates.get(as_of)
        if pair is None:
            pair = self._for_date(as_of)
        return pair[1](facts)

    def service_run(self, facts: Facts, as_of: dt.date, service: str) -> tuple[dict[str, Tri], Status]:
        """One service's rules in force (their values) and its status: for probing change dates.

        Compiled once per span and service, with windows tested as the reference tests them
        (``period_end``, memoised by event date), so that probing a new date binds nothing.
        """
        index = bisect.bisect_right(self._bounds, as_of)
        run = self._service_spans.get((index, service))
        if run is None:
            run = self._probe(index, as_of, service)
        values, (status,) = run(facts, as_of)
        return values, status

    def evaluate(self, facts: Facts, as_of: dt.date) -> dict[str, Tri]:
        """The truth value of every rule in force on ``as_of``, as ``evaluate_rules`` gives it."""
        pair = self._dates.get(as_of)
        if pair is None:
            pair = self._for_date(as_of)
        return pair[0](facts)[0]

    def source(self, as_of: dt.date) -> str:
        """The generated source for the rules in force on ``as_of`` (to read, and for tests)."""
        return generate(self._ruleset, self._ruleset.rules_in_force(as_of))[0]

    def _for_date(self, as_of: dt.date) -> _Pair:
        factory, durations = self._span(as_of)
        try:
            windows = tuple(window_start(as_of, duration) for duration in durations)
        except (OverflowError, ValueError):  # a date at the end of the calendar: leave it to the reference
            pair = self._reference(as_of)
        else:
            pair = factory(as_of, windows)
        if len(self._dates) >= _MEMO_DATES:
            self._dates.clear()
        self._dates[as_of] = pair
        return pair

    def _span(self, as_of: dt.date) -> tuple[_Factory, tuple[Duration, ...]]:
        index = bisect.bisect_right(self._bounds, as_of)
        found = self._spans.get(index)
        if found is None:
            with self._lock:
                found = self._spans.get(index)
                if found is None:
                    rules = self._ruleset.rules_in_force(as_of)
                    source, constants, durations = generate(self._ruleset, rules)
                    namespace: dict[str, Any] = {}
                    # Safe: ``source`` is generated from the validated rule tree (module docstring).
                    exec(compile(source, f"<rules {self._ruleset.name} span {index}>", "exec"), namespace)
                    bind = namespace["factory"](
                        constants, Status.ELIGIBLE, Status.NOT_ELIGIBLE, Status.UNDETERMINED
                    )
                    found = self._spans[index] = (bind, durations)
        return found

    def _probe(self, index: int, as_of: dt.date, service: str) -> _Probe:
        ruleset = self._ruleset
        with self._lock:
            found = self._service_spans.get((index, service))
            if found is None:
                rules = [rule for rule in ruleset.rules_in_force(as_of) if rule.service == service]
                source, constants, _ = generate(ruleset, rules, (ruleset.service(service),), probe=True)
                namespace: dict[str, Any] = {}
                # Safe: ``source`` is generated from the validated rule tree (module docstring).
                exec(compile(source, f"<rules {ruleset.name} {service} span {index}>", "exec"), namespace)
                found = self._service_spans[(index, service)] = namespace["factory"](
                    constants, Status.ELIGIBLE, Status.NOT_ELIGIBLE, Status.UNDETERMINED, period_end
                )
        return found

    def _reference(self, as_of: dt.date) -> _Pair:
        ruleset = self._ruleset

        def run(facts: Facts) -> tuple[dict[str, Tri], tuple[Status, ...]]:
            values = evaluate_rules(ruleset, facts, as_of)
            return values, tuple(statuses(ruleset, values).values())

        def screen(facts: Facts) -> Screened:
            values = evaluate_rules(ruleset, facts, as_of)
            by_service = statuses(ruleset, values)
            return values, by_service, open_fields(ruleset, facts, values, tuple(by_service.values()))

        return run, screen


_compile_lock = threading.Lock()


def compiled(ruleset: Ruleset) -> CompiledRules:
    """The compiled rules of ``ruleset``, built on first use and kept with it.

    ``with_engine`` copies share them, like the durable engine.
    """
    cache = ruleset._engines
    found = cache.get(_KEY)
    if found is None:
        with _compile_lock:
            found = cache.get(_KEY)
            if found is None:
                found = cache[_KEY] = CompiledRules(ruleset)
    assert isinstance(found, CompiledRules)
    return found
