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
        return (v0, v1, ...), (s0, ...)

**Kleene logic without calls.** A condition ``n`` becomes two plain boolean expressions, *surely
true* ``T(n)`` and *surely false* ``F(n)``: a leaf ``field op value`` is true when the field is known
and the comparison holds, false when it is known and does not; ``AllOf`` is true when all parts
are, false when any part is; ``AnyOf`` the other way round; ``Not`` swaps them. The rule's value is
``True`` if ``T``, ``False`` if ``F``, else ``None`` (unknown). A leaf is unknown exactly when its
field is, so after ``F`` failed, ``T`` of a conjunction of leaves is only "are all their fields
known" (and dually for a disjunction); the more likely test goes first.

**One function per residence status.** Most rules compare an enumeration (in the bundled
rules: the residence status) by equality or membership. For each of its values, and for unknown,
the span gets a function of its own in which those comparisons are decided while generating:
rules they settle become the constants ``True`` / ``False`` / ``None``, and so do statuses they
settle, so a case is tested only on what is still open for its status — as a hand-written
function that branches on the status first. :func:`dispatch_field` picks the enumeration; a value
outside it takes the function for any value.

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

from .conditions import _FOLD, _FOLDABLE, AllOf, AnyOf, Condition, Leaf, Not, Tri
from .dates import Duration, memo, period_end, window_start
from .decide import _combine, evaluate_rules, statuses
from .facts import FIELDS, Facts
from .models import Status
from .ruleset import Rule, Ruleset, Service

#: One date's function: the facts to (the rule values in the order of the rules in force, one
#: status per service in rule-set order).
Run = Callable[[Facts], tuple[tuple[Tri, ...], tuple[Status, ...]]]
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
#: At most this many values of one field get functions of their own (an enumeration's domain).
MAX_VARIANTS = 64


class _Source:
    """The source of one span's function and the constants it needs."""

    def __init__(self, probe: bool = False, known: tuple[str, object] | None = None) -> None:
        self.fields: dict[str, str] = {}
        self.constants: list[object] = []
        self.windows: dict[Duration, str] = {}
        #: Windows as the reference tests them (``period_end`` as ``pe``), for any ``as_of``.
        self.probe = probe
        #: A field whose value is fixed for this function (``None``: unknown) and the value.
        self.known = known

    def fixed(self, leaf: Leaf) -> Tri | str:
        """The value of a leaf on the fixed field (``True``/``False``/``None``), else ``"open"``."""
        if self.known is None or leaf.field != self.known[0] or leaf.op not in _FOLDABLE:
            return "open"
        value = self.known[1]
        if value is None:
            return None
        return bool(_FOLD[leaf.op](value, leaf.value))

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
    """``parts`` joined by ``and`` / ``or``, with the literals ``True`` / ``False`` folded away."""
    absorbing, neutral = ("False", "True") if op == "and" else ("True", "False")
    if absorbing in parts:
        return absorbing
    parts = [part for part in dict.fromkeys(parts) if part != neutral]
    if not parts:
        return empty
    return parts[0] if len(parts) == 1 else f"({f' {op} '.join(parts)})"


def _choose(test: str, then: str, otherwise: str) -> str:
    """``then if test else otherwise``, folded when ``test`` is a literal."""
    if test == "True":
        return then
    if test == "False":
        return otherwise
    return f"{then} if {test} else ({otherwise})"


def _literal(fixed: Tri) -> str:
    return "True" if fixed else "False"


def _true(src: _Source, node: Condition) -> str:
    """An expression that is truthy exactly when ``node`` is true."""
    if isinstance(node, Leaf):
        fixed = src.fixed(node)
        if fixed != "open":
            return _literal(fixed is True)
        return f"({src.field(node.field)} is not None and {_compare(src, node)})"
    if isinstance(node, Not):
        return _false(src, node.part)
    if isinstance(node, AllOf):
        return _join([_true(src, part) for part in node.parts], "and", "True")
    return _join([_true(src, part) for part in node.parts], "or", "False")


def _false(src: _Source, node: Condition) -> str:
    """An expression that is truthy exactly when ``node`` is false."""
    if isinstance(node, Leaf):
        fixed = src.fixed(node)
        if fixed != "open":
            return _literal(fixed is False)
        return f"({src.field(node.field)} is not None and not ({_compare(src, node)}))"
    if isinstance(node, Not):
        return _true(src, node.part)
    if isinstance(node, AllOf):
        return _join([_false(src, part) for part in node.parts], "or", "False")
    return _join([_false(src, part) for part in node.parts], "and", "True")


def _true_unless_false(src: _Source, node: Condition) -> str:
    """Equal to :func:`_true` wherever ``node`` is not false (a leaf: its field is known)."""
    if isinstance(node, Leaf):
        if src.fixed(node) != "open":
            return _true(src, node)
        return f"{src.field(node.field)} is not None"
    if isinstance(node, Not):
        return _false_unless_true(src, node.part)
    if isinstance(node, AllOf):
        return _join([_true_unless_false(src, part) for part in node.parts], "and", "True")
    return _true(src, node)


def _false_unless_true(src: _Source, node: Condition) -> str:
    """Equal to :func:`_false` wherever ``node`` is not true."""
    if isinstance(node, Leaf):
        if src.fixed(node) != "open":
            return _false(src, node)
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
        fixed = src.fixed(node)
        if fixed != "open":
            return repr(fixed)
        f = src.field(node.field)
        return f"None if {f} is None else ({_compare(src, node)})"
    if _conjunctive(node):
        surely_false = _false(src, node)
        if surely_false == "True":
            return "False"
        return _choose(surely_false, "False", _choose(_true_unless_false(src, node), "True", "None"))
    surely_true = _true(src, node)
    if surely_true == "True":
        return "True"
    return _choose(surely_true, "True", _choose(_false_unless_true(src, node), "False", "None"))


_LITERALS = ("True", "False", "None")


def _is(value: str, literal: str) -> str:
    """``value is literal`` (``value`` a variable or a literal), folded when ``value`` is a literal."""
    if value in _LITERALS:
        return _literal(value == literal)
    return f"{value} is {literal}"


def _is_not_false(value: str) -> str:
    if value in _LITERALS:
        return _literal(value != "False")
    return f"{value} is not False"


def _truthy(value: str) -> str:
    return _literal(value == "True") if value in _LITERALS else value


def _chain(target: str, branches: list[tuple[str, str]], otherwise: str) -> list[str]:
    """An ``if`` / ``elif`` / ``else`` chain setting ``target``, with literal tests folded away."""
    lines: list[str] = []
    for test, value in branches:
        if test == "False":
            continue
        if test == "True":
            otherwise = value
            break
        lines += [f"{'elif' if lines else 'if'} {test}:", f"    {target} = {value}"]
    if not lines:
        return [f"{target} = {otherwise}"]
    return [*lines, "else:", f"    {target} = {otherwise}"]


def _status(rules: Sequence[tuple[str, Rule]], target: str) -> list[str]:
    """Statements setting ``target`` to a service's status: grant and not exclusion (Kleene).

    ``rules`` are the service's rules in force with the variables of their values (or their
    values as literals, where they are fixed). An ``eligible`` rule grants its value, a
    ``check`` at most "unknown", a ``not_eligible`` excludes.
    """
    grants = [v for v, rule in rules if rule.effect == "eligible"]
    checks = [v for v, rule in rules if rule.effect == "check"]
    exclusions = [v for v, rule in rules if rule.effect == "not_eligible"]
    if not grants and not checks:
        return [f"{target} = NE"]
    settled = _join([_is(v, "False") for v in exclusions], "and", "True")
    branches = [
        (_join([_truthy(v) for v in exclusions], "or", "False"), "NE"),
        (_join([_truthy(v) for v in grants], "or", "False"), _choose(settled, "EL", "UN")),
        (_join([_is(v, "None") for v in grants] + [_is_not_false(v) for v in checks], "or", "False"), "UN"),
    ]
    return _chain(target, branches, "NE")


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
            unknown = _is(v, "None")
            if unknown == "False":
                continue
            names = dict.fromkeys(leaf.field for leaf in rule.leaves)
            adds = [f"if {src.field(name)} is None: m.add({name!r})" for name in names]
            if unknown == "True":
                lines.extend(f"{indent}{line}" for line in adds)
            elif adds:
                lines.append(f"{indent}if {unknown}:")
                lines.extend(f"{indent}    {line}" for line in adds)

    if granting:
        held = _join([_truthy(v) for v in grants], "or", "False")
        if held != "True":
            start = len(lines)
            add(granting, "        ")
            if len(lines) > start:
                lines.insert(start, "    if True:" if held == "False" else f"    if not {held}:")
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
    known: tuple[str, object] | None = None,
) -> tuple[str, tuple[object, ...], tuple[Duration, ...]]:
    """The source of the factory of one span's functions, for ``rules`` (the rules in force).

    Each date's ``run(facts)`` returns the rule values (a tuple in the order of ``rules``) and
    the statuses; ``screen(facts)`` the rule values by rule id, the statuses by service id and
    the set of open fields (those ``decide.decide`` lists as missing). With ``known`` (a field
    and its value, ``None`` for unknown) the functions are for the cases with that value only:
    the field's comparisons are decided here, and rules and statuses they settle become
    constants. Returns the source, the
    constants its ``k0``, ``k1``, ... stand for and the durations whose window starts (``w0``,
    ``w1``, ...) each date binds. ``services`` (default: all of the rule set's) are the services
    whose statuses it computes. With ``probe`` the factory (given ``period_end`` as ``pe``)
    returns one function ``run(facts, as_of)`` for every date of the span, testing windows as
    the reference does: for probing many dates once each. See the module docstring for why this
    is safe.
    """
    services = ruleset.services if services is None else services
    src = _Source(probe, known)
    body: list[str] = []
    variables: dict[str, str] = {}
    for index, rule in enumerate(rules):
        value = _value(src, rule)
        if value in _LITERALS:  # settled by the known field: no variable
            variables[rule.id] = value
            continue
        variable = f"v{index}"
        variables[rule.id] = variable
        body.append(f"{variable} = {value}")
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
    ordered = "".join(f"{variables[rule.id]}, " for rule in rules)
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
        f"            return ({ordered}), ({statuses_})",
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


class _Day(dict[object, "_Pair"]):
    """One date's functions, by the value of the rule set's dispatch field (``_ANY``: any value)."""

    __slots__ = ("as_of", "index", "windows")

    def __init__(self, as_of: dt.date, index: int, windows: dict[Duration, dt.date] | None) -> None:
        super().__init__()
        self.as_of = as_of
        self.index = index
        #: The window starts the functions bind; ``None`` where the reference decides this date.
        self.windows = windows


#: The key of the functions for any value of the dispatch field.
_ANY = object()


def dispatch_field(rules: Sequence[Rule]) -> str | None:
    """The enumeration most ``rules`` compare with ``eq`` / ``ne`` / ``in`` / ``not_in``, if any.

    The compiled engine generates one function per value of it (and one for unknown), in which
    those comparisons are decided while generating: a hand-written function would branch on it
    first, too.
    """
    counts: dict[str, int] = {}
    for rule in rules:
        for name in {leaf.field for leaf in rule.leaves if leaf.op in _FOLDABLE}:
            spec = FIELDS.get(name)
            if spec is not None and spec.kind == "enum" and 0 < len(spec.values) < MAX_VARIANTS:
                counts[name] = counts.get(name, 0) + 1
    return max(sorted(counts), key=lambda name: counts[name], default=None)


class CompiledRules:
    """A rule set compiled to straight-line Python (the ``"python"`` engine); see the module docstring.

    Equal to :func:`referral_engine.decide.evaluate_rules`, :func:`referral_engine.decide.statuses`
    and :func:`open_fields` for every case (a hypothesis test proves it). Build it with
    :func:`compiled`, which keeps one per rule set. Safe to share between threads.

    Each span of dates has one function per value of the rule set's :func:`dispatch_field`
    (compiled when a case with that value first comes), with the comparisons of that field
    decided while generating, and one for any value.
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
        self._field = dispatch_field(ruleset.rules)
        #: The values of the dispatch field that get functions of their own (``None``: unknown).
        self._variants: frozenset[object] = frozenset(
            (*FIELDS[self._field].values, None) if self._field is not None else ()
        )
        self._spans: dict[tuple[int, object], tuple[_Factory, tuple[Duration, ...]]] = {}
        self._dates: dict[dt.date, _Day] = memo()  # of case dates: purge_caches() empties it
        self._ids: dict[int, tuple[str, ...]] = {}
        self._service_spans: dict[tuple[int, str], _Probe] = {}
        self._lock = threading.Lock()

    def run(self, facts: Facts, as_of: dt.date) -> tuple[tuple[Tri, ...], tuple[Status, ...]]:
        """The value of every rule in force (in the order of :meth:`rule_ids`) and every status, in one pass.

        The statuses are in rule-set order of the services.
        """
        return self._pair(facts, as_of)[0](facts)

    def rule_ids(self, as_of: dt.date) -> tuple[str, ...]:
        """The ids of the rules in force on ``as_of``, in the order :meth:`run` gives their values."""
        index = bisect.bisect_right(self._bounds, as_of)
        ids = self._ids.get(index)
        if ids is None:
            ids = self._ids[index] = tuple(rule.id for rule in self._ruleset.rules_in_force(as_of))
        return ids

    def screen(self, facts: Facts, as_of: dt.date) -> Screened:
        """The rule values, the statuses by service id and the open fields of the undetermined services."""
        return self._pair(facts, as_of)[1](facts)

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
        values = self._pair(facts, as_of)[0](facts)[0]
        return dict(zip(self.rule_ids(as_of), values, strict=True))

    def source(self, as_of: dt.date, value: object = _ANY) -> str:
        """The generated source for the rules in force on ``as_of`` (to read, and for tests).

        With ``value``, the source of the function for the cases whose :func:`dispatch_field`
        has that value.
        """
        known = None if value is _ANY or self._field is None else (self._field, value)
        return generate(self._ruleset, self._ruleset.rules_in_force(as_of), known=known)[0]

    def _pair(self, facts: Facts, as_of: dt.date) -> _Pair:
        day = self._dates.get(as_of)
        if day is None:
            day = self._for_date(as_of)
        if self._field is None:
            return day.get(_ANY) or self._variant(day, _ANY)
        value = facts[self._field]
        return day.get(value) or self._variant(day, value)

    def _for_date(self, as_of: dt.date) -> _Day:
        index = bisect.bisect_right(self._bounds, as_of)
        durations = {
            leaf.value
            for rule in self._ruleset.rules_in_force(as_of)
            for leaf in rule.leaves
            if leaf.op in ("within", "older_than")
        }
        try:
            windows: dict[Duration, dt.date] | None = {
                duration: window_start(as_of, duration) for duration in durations
            }
        except (OverflowError, ValueError):  # a date at the end of the calendar: leave it to the reference
            windows = None
        day = _Day(as_of, index, windows)
        if len(self._dates) >= _MEMO_DATES:
            self._dates.clear()
        self._dates[as_of] = day
        return day

    def _variant(self, day: _Day, value: object) -> _Pair:
        """The functions of ``day`` for cases whose dispatch field is ``value`` (kept for its values)."""
        if day.windows is None:
            found = day.get(_ANY)
            if found is None:
                found = day[_ANY] = self._reference(day.as_of)
            return found
        key = value if value in self._variants else _ANY
        pair = day.get(key)
        if pair is None:
            factory, durations = self._span(day.index, day.as_of, key)
            windows = day.windows
            pair = day[key] = factory(day.as_of, tuple(windows[duration] for duration in durations))
        return pair

    def _span(self, index: int, as_of: dt.date, key: object) -> tuple[_Factory, tuple[Duration, ...]]:
        found = self._spans.get((index, key))
        if found is None:
            with self._lock:
                found = self._spans.get((index, key))
                if found is None:
                    rules = self._ruleset.rules_in_force(as_of)
                    known = None if key is _ANY or self._field is None else (self._field, key)
                    source, constants, durations = generate(self._ruleset, rules, known=known)
                    namespace: dict[str, Any] = {}
                    name = f"<rules {self._ruleset.name} span {index}{'' if key is _ANY else ' variant'}>"
                    # Safe: ``source`` is generated from the validated rule tree (module docstring).
                    exec(compile(source, name, "exec"), namespace)
                    bind = namespace["factory"](
                        constants, Status.ELIGIBLE, Status.NOT_ELIGIBLE, Status.UNDETERMINED
                    )
                    found = self._spans[(index, key)] = (bind, durations)
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

        def run(facts: Facts) -> tuple[tuple[Tri, ...], tuple[Status, ...]]:
            values = evaluate_rules(ruleset, facts, as_of)
            return tuple(values.values()), tuple(statuses(ruleset, values).values())

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
