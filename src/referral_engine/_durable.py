"""The durable-rules engine: a rule set compiled to durable-rules, crash-proof by construction.

This is the only module that imports durable-rules. Its 2.0.28 release is unmaintained and its
C core crashes the host process in known ways (see the README section on engines). The adapter
avoids every one of them by construction:

* It works on the engine core, ``durable_rules_engine`` (the C extension ``durable.engine``
  wraps), with one private rule-set handle per compiled rule set: never the process-global
  ``durable.lang`` registry, and no ``durable.engine.Host``, so none of the host's timer threads
  that turn a freed session into a segfault.
* One session, with one fixed id, for the life of the engine; each case is asserted as one fact
  and retracted before the next. There are never two live sessions, so no two session ids can
  share a 32-bit hash, and no session is ever deleted. A lock serialises the cases of all
  threads (durable's C code holds the GIL throughout, so threads could not run it in parallel).
* Facts are normalised before they reach the engine: only ints, strings and ``0``/``1`` flags,
  because durable compares across types (``1 == True == "1"``). Dates are day numbers
  (``date.toordinal()``), in facts and rules alike: writing one costs a fifth of ISO text.
* No Python action runs. The fired rules are read from the core's action queue with the calls
  ``durable.engine`` itself makes for every action (start, complete; not its re-assertion of the
  unchanged session state), without its per-action Python objects: each of those costs more
  than the match itself, and it is where
  durable mistakes two-argument actions for asynchronous ones, swallows action exceptions into
  ``state["exception"]`` and calls the deprecated ``datetime.utcfromtimestamp``.
* Every result code and exception of the core becomes an :class:`EngineError` or is handled.
* Any exception during a case, ``KeyboardInterrupt`` and ``SystemExit`` included, marks the
  handle dirty and is re-raised unchanged; the next case runs on a fresh handle. A used handle
  is never freed (durable's ``delete_state`` aborts the process), so fresh handles are capped.
* A forked child gives every engine a fresh lock and, on first use, a fresh handle.
* Rule sets durable cannot run (too many rules or fact properties, conditions too wide or too
  deeply nested) are found by :func:`check_ruleset` before the first case, each at its rule.

Three-valued semantics: each rule becomes a *holds* pattern (its condition) and a *fails* pattern
(the condition's negation, pushed down to the leaves). A missing field never matches in durable,
so *holds* fires exactly when the condition is true in Kleene logic and *fails* exactly when it
is false; neither firing means unknown. Every fired pattern costs time, so a *fails* pattern also
asks for a flag the fact sets only when one of the rule's fields is unknown: a rule whose fields
are all known and whose *holds* did not fire is false without asking, and a *fails* pattern
that could never fire while one of its fields is unknown is left out (:func:`can_fail_open`);
rules with the same condition and validity share their patterns. What durable itself costs per
case (the floor of this design) is measured by ``benchmarks/durable_floor.py``.

Partial evaluation: a rule set in which many rules compare one enumeration (the residence status)
gets, per value of it and for unknown, a *network* of its own (a handle with its one session)
holding only the rules that value leaves open, with its comparisons folded out; see
:class:`DurableEngine`. Each network keeps every property above: one live session, never
deleted, the engine's lock, fresh handles after failures (counted for the engine), fork safety,
durable's limits checked for its rules.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import re
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from json.encoder import encode_basestring as _encode_string
from typing import Any

import durable_rules_engine as core  # type: ignore[import-not-found]

from ._status_code import CodeFunction, StatusFunction, code_function, status_function
from .compiled import dispatch_field
from .conditions import _FOLDABLE, AllOf, AnyOf, Condition, Leaf, Not, Tri, all_of, any_of, fold
from .dates import Duration, memo, window_start
from .errors import EngineError, RuleProblem
from .facts import FIELDS, Facts
from .models import Status
from .ruleset import Rule, Ruleset

_RULESET = "referral"
_SESSION = "case"
_FACT_ID = "case"
#: What retracting a case's fact needs: durable finds the stored fact by its session and id alone
#: (``handleMessage`` for a retract reads nothing else), so it does not parse the whole fact again.
_RETRACT = json.dumps({"sid": _SESSION, "id": _FACT_ID}, separators=(",", ":"))
# Property names are short: durable parses the fact once per case and copies it into every action.
_AS_OF = "t"
_KNOWN = "k."  # list fields become one flag per tested member plus a "known" flag
_OPEN = "o."  # a flag per set of fields one of which is unknown
_FIELD_KEYS = {name: f"v{index}" for index, name in enumerate(FIELDS)}
_GROUP_OUTER = "_g"
_GROUP_INNER = "_h"
_FANOUT = 8
_MAX_PROPERTIES = 255  # MAX_OBJECT_PROPERTIES in durable-rules' src/rules/state.h
_MAX_RULES = _FANOUT**3  # what the grouping of _group() keeps within durable's matching stack
_NAME_DIGITS = len(str(_MAX_RULES - 1))
_NAME_END = 2 + 1 + _NAME_DIGITS  # an action is JSON text: '{"h007": ...'
_MAX_ALTERNATIVES = 64  # alternatives of one `$or` that may match at once (measured: 65 gives error 303)
#: Fresh handles an engine may take after failures or interrupts before it gives up. durable
#: cannot free a handle whose session saw a fact (see _free_unused): each costs 1-4 MiB.
_MAX_RENEWALS = 16
_MAX_PLANS = 4096  # dates whose plan an engine keeps (cleared when full)
_MAX_KNOWN_PATTERNS = 1024  # patterns of known fields whose open sets a network keeps (cleared when full)

# Result codes of the core's assert and retract calls (durable-rules' src/rules/rules.h).
_OK, _NOT_HANDLED, _OBSERVED = 0, 1, 2  # 3 (deferred: queued) is never expected here

Json = dict[str, Any]


@lru_cache(maxsize=4096)
def _window_key(duration: Duration) -> str:
    return f"w{duration}"


def _key(field: str) -> str:
    """The fact property of a field."""
    return _FIELD_KEYS.get(field, field)


def _value(value: Any) -> Any:
    """A rule operand or fact value as durable sees it: ints, strings, 0/1 flags, dates as day numbers."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.date):
        return value.toordinal()
    return value


def _json(value: Any) -> str:
    """A fact value as JSON text, as durable sees it (see :func:`_value`)."""
    value = _value(value)
    if type(value) is int:
        return str(value)
    return _encode_string(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _int(value: Any) -> str:
    return str(value) if type(value) is int else _json(value)


def _date(value: Any) -> str:
    """A date as its day number (``date.toordinal``): cheaper to write than ISO text, and compared alike."""
    if type(value) is dt.date:
        return str(value.toordinal())
    # As the python engine, which cannot compare it with a date either; the type only, never the value.
    raise TypeError(f"a date field holds a {type(value).__name__}, not a datetime.date")


def _flag(value: Any) -> str:
    if value is True:
        return "1"
    return "0" if value is False else _json(value)


def _string(value: Any) -> str:
    return _encode_string(value) if type(value) is str else _json(value)


#: The JSON text of a value by the kind of its field: the common type at once, anything else as _json.
_ENCODERS = {"int": _int, "level": _int, "date": _date, "bool": _flag, "enum": _string, "text": _string}
#: The same as expressions of ``v`` for a network's generated encoder (``J``: _json, ``E``: string escaping).
_INLINE = {
    _int: "(str(v) if type(v) is int else J(v))",
    _date: "(str(v.toordinal()) if type(v) is DATE else D(v))",
    _flag: "('1' if v is True else ('0' if v is False else J(v)))",
    _string: "(E(v) if type(v) is str else J(v))",
    _json: "J(v)",
}


def _any(parts: list[Json]) -> Json:
    return parts[0] if len(parts) == 1 else {"$or": parts}


def _all(parts: list[Json]) -> Json:
    return parts[0] if len(parts) == 1 else {"$and": parts}


_NEGATED_OP = {"eq": "ne", "ne": "eq", "lt": "ge", "le": "gt", "gt": "le", "ge": "lt", "in": "not_in"}
_NEGATED_OP |= {value: key for key, value in _NEGATED_OP.items()}
_COMPARE = {"lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte", "ne": "$neq"}


def _leaf(leaf: Leaf, negate: bool) -> Json:
    """One leaf as a durable expression; ``negate`` gives the expression true when the leaf is false."""
    field, op = _key(leaf.field), leaf.op
    if op in ("within", "older_than"):
        start = _window_key(leaf.value)
        inside = [{"$lte": {field: {"$m": _AS_OF}}}, {"$gte": {field: {"$m": start}}}]
        outside = [{"$gt": {field: {"$m": _AS_OF}}}, {"$lt": {field: {"$m": start}}}]
        if op == "within":
            return _any(outside) if negate else _all(inside)
        # older_than: the period ended before as_of, i.e. it started before the window start.
        return {"$gte": {field: {"$m": start}}} if negate else outside[1]
    if op == "contains":
        member = f"{field}.{leaf.value}"
        if negate:
            return _all([{f"{_KNOWN}{field}": 1}, {"$nex": {member: 1}}])
        return {member: 1}
    if negate:
        op = _NEGATED_OP[op]
    if op in ("in", "not_in"):
        values = sorted(_value(v) for v in leaf.value)
        if op == "in":
            return _any([{field: v} for v in values])
        return _all([{"$neq": {field: v}} for v in values])
    if op == "eq":
        return {field: _value(leaf.value)}
    return {_COMPARE[op]: {field: _value(leaf.value)}}


def _condition(condition: Condition, negate: bool) -> Json:
    """A condition tree as a durable expression, with negation pushed down to the leaves."""
    if isinstance(condition, Leaf):
        return _leaf(condition, negate)
    if isinstance(condition, Not):
        return _condition(condition.part, not negate)
    parts = [_condition(part, negate) for part in condition.parts]
    # De Morgan: not (a and b) = (not a) or (not b), and the other way round.
    conjunction = isinstance(condition, AllOf) != negate
    assert isinstance(condition, (AllOf, AnyOf))
    return _all(parts) if conjunction else _any(parts)


def _in_force(rule: Rule) -> list[Json]:
    window = []
    if rule.valid_from is not None:
        window.append({"$gte": {_AS_OF: rule.valid_from.toordinal()}})
    if rule.valid_to is not None:
        window.append({"$lte": {_AS_OF: rule.valid_to.toordinal()}})
    return window


def _group(index: int, outer: bool = True) -> list[Json]:
    """Always-true tests that place pattern ``index`` in a group of 8 within a group of 64.

    durable walks its pattern network depth first with a stack of 64 nodes and fails with
    error 303 when the tests that match one fact at one level outnumber it; grouping bounds
    every level to a few nodes for rule sets of up to 512 rules. The tests ask two properties
    that every fact sets to 0 to differ from the group's number: two properties, not one flag
    per group, keep the fact short (durable parses it once and tests every property of it at
    every node it visits). Without ``outer`` (for at most 64 patterns, which all share one
    outer group), the outer test and its property are left out: the one node it would add
    above the groups of 8 bounds nothing.
    """
    inner = {"$neq": {_GROUP_INNER: 1 + index // _FANOUT}}
    return [{"$neq": {_GROUP_OUTER: 1 + index // _FANOUT**2}}, inner] if outer else [inner]


def _needs_outer(patterns: int) -> bool:
    """Whether ``patterns`` patterns span more than one outer group (see :func:`_group`)."""
    return patterns > _FANOUT**2


def _fields_of(rule: Rule) -> frozenset[str]:
    return frozenset(leaf.field for leaf in rule.leaves)


def field_sets(rules: Iterable[Rule]) -> list[frozenset[str]]:
    """The distinct sets of fields the rules read, in first-use order."""
    return list(dict.fromkeys(_fields_of(rule) for rule in rules))


def _needs(condition: Condition, negate: bool) -> frozenset[str]:
    """The fields every match of :func:`_condition` (with ``negate``) reads: it never matches without them.

    Every leaf test asks for its field's property (a list field's for its known flag), and
    durable never matches a missing property: a conjunction needs what each part needs, a
    disjunction what every alternative needs.
    """
    if isinstance(condition, Leaf):
        return frozenset((condition.field,))
    if isinstance(condition, Not):
        return _needs(condition.part, not negate)
    parts = [_needs(part, negate) for part in condition.parts]
    conjunction = isinstance(condition, AllOf) != negate  # De Morgan, as in _condition
    return frozenset.union(*parts) if conjunction else frozenset.intersection(*parts)


def can_fail_open(rule: Rule) -> bool:
    """Whether the rule's *fails* pattern can ever fire: false while one of its fields is unknown.

    The pattern asks for a flag the fact carries only when one of the rule's fields is unknown.
    When the negated condition reads every one of them on every match (any condition on one
    field, an ``any`` of leaves), it cannot match then: the pattern is left out, and the rule,
    when not true, is false with its fields known and unknown otherwise, as before.
    """
    return not _needs(rule.when, negate=True) >= _fields_of(rule)


def _rule_definition(index: int, rule: Rule, open_set: int, outer: bool = True) -> dict[str, Json]:
    prefix = [*_group(index, outer), *_in_force(rule)]
    holds = _all([*prefix, _condition(rule.when, negate=False)])
    definition = {_name("h", index): {"all": [{"m": holds}]}}
    if can_fail_open(rule):
        some_unknown = {f"{_OPEN}{open_set}": 1}
        fails = _all([*prefix, some_unknown, _condition(rule.when, negate=True)])
        definition[_name("f", index)] = {"all": [{"m": fails}]}
    return definition


def _name(kind: str, index: int) -> str:
    """A pattern's action name: all of one length, so that an action's name is a fixed slice of it."""
    return f"{kind}{index:0{_NAME_DIGITS}d}"


def _pattern_key(rule: Rule) -> str:
    # Validity first: a pattern tests it before the condition (see _rule_definition).
    return json.dumps([_in_force(rule), _condition(rule.when, negate=False)], sort_keys=True)


def distinct_patterns(rules: Sequence[Rule]) -> tuple[list[Rule], list[int]]:
    """The rules with distinct conditions and validity windows, and for every rule its pattern's index.

    Rules that share both decide alike on every case, so durable matches them once: every
    pattern that fires costs time. The patterns are ordered by their tests, so that patterns
    that begin alike fall into one group (see :func:`_group`), where durable shares their first
    tests instead of repeating them in every group.
    """
    keys = [_pattern_key(rule) for rule in rules]
    order = sorted(set(keys))
    index = {key: position for position, key in enumerate(order)}
    representatives: list[Rule | None] = [None] * len(order)
    for rule, key in zip(rules, keys, strict=True):
        if representatives[index[key]] is None:
            representatives[index[key]] = rule
    return [rule for rule in representatives if rule is not None], [index[key] for key in keys]


def compile_rules(rules: Sequence[Rule]) -> dict[str, Json]:
    """The durable definition of ``rules``: per pattern, a *holds* rule ``h<i>`` and a *fails* rule ``f<i>``.

    Rules with the same condition and validity window share one pattern (see
    :func:`distinct_patterns`). A *fails* rule also asks for the flag ``_open.<k>`` of the
    pattern's set of fields ``k`` (see :func:`field_sets`), which a fact carries when one of
    those fields is unknown: when all are known and *holds* did not fire, the rule is false
    without durable having to say so (and every rule that fires costs time). A *fails* rule
    that could never fire is left out (see :func:`can_fail_open`): durable tests every
    pattern's first tests on every case.
    """
    if len(rules) > _MAX_RULES:
        raise EngineError(f"durable-rules can take at most {_MAX_RULES} rules here; use engine='python'")
    sets = field_sets(rules)
    patterns = distinct_patterns(rules)[0]
    outer = _needs_outer(len(patterns))
    definition: dict[str, Json] = {}
    for index, rule in enumerate(patterns):
        definition.update(_rule_definition(index, rule, sets.index(_fields_of(rule)), outer))
    return definition


def _single_field_equalities(parts: list[Any]) -> bool:
    """Whether an ``$or`` is what ``in`` becomes: equalities of one field, of which one can match."""
    fields = {next(iter(part)) for part in parts if isinstance(part, dict) and len(part) == 1}
    return len(fields) == 1 and not next(iter(fields)).startswith("$")


def _leaves_under_or(expression: Any, under_or: bool = False) -> int:
    """How many tests of a pattern sit under an ``$or``: the alternatives that can match at once.

    durable walks the alternatives that match one fact with a stack of 64 nodes (error 303 when
    they are more). How many it needs depends on how the ``$or`` nest (measured: one ``$or`` of
    65 fails; an ``$and`` of two ``$or`` of 40 and 30 fails, of 33 and 32 does not), so this
    counts conservatively: every test under any ``$or``. An ``$or`` of equalities of one field
    (``in``) counts once.
    """
    if isinstance(expression, dict):
        total = 0
        for key, value in expression.items():
            if key == "$or" and isinstance(value, list):
                total += 1 if _single_field_equalities(value) else _leaves_under_or(value, True)
            elif key in ("$and", "all") or isinstance(value, (dict, list)):
                total += _leaves_under_or(value, under_or)
            else:
                total += 1 if under_or else 0
        return total
    if isinstance(expression, list):
        return sum(_leaves_under_or(item, under_or) for item in expression)
    return 0


def _properties(rules: Sequence[Rule]) -> Iterator[tuple[int, int]]:
    """``(index, properties)``: how many properties a fact may need with the rules up to ``index``."""
    members: set[tuple[str, str]] = set()
    lists: set[str] = set()
    durations: set[Duration] = set()
    sets: set[frozenset[str]] = set()
    for index, rule in enumerate(rules):
        sets.add(_fields_of(rule))
        for leaf in rule.leaves:
            if leaf.op == "contains":
                members.add((leaf.field, leaf.value))
                lists.add(leaf.field)
            elif leaf.op in ("within", "older_than"):
                durations.add(leaf.value)
        yield index, 5 + len(FIELDS) + len(members) + len(lists) + len(durations) + len(sets)


def _problem(rule: Rule, message: str) -> RuleProblem:
    return RuleProblem(rule.where.file, rule.where.line, 1, f"{message}; use engine='python'", rule.id)


def check_ruleset(ruleset: Ruleset, *, compile_check: bool = True) -> list[RuleProblem]:
    """Every reason the durable engine cannot run ``ruleset``, each located at the rule that causes it.

    Checks the number of rules, the properties a fact would need, ``any`` conditions wider than
    durable's matching stack and, with ``compile_check``, that durable's core compiles each rule
    (it refuses deeply nested conditions with error 113). Empty when durable can run it.
    """
    rules = ruleset.rules
    problems = _limits(rules)
    if problems or not compile_check:
        return problems
    sets = field_sets(rules)
    for index, rule in enumerate(rules):
        definition = _rule_definition(index, rule, sets.index(_fields_of(rule)))
        try:
            handle = core.create_ruleset(_RULESET, json.dumps(definition, ensure_ascii=False))
        except Exception as error:
            code = re.search(r"error code: ?([0-9]+)", str(error))
            what = f"error code {code.group(1)}" if code else type(error).__name__
            problems.append(
                _problem(
                    rule, f"durable-rules cannot compile this condition ({what}; is it nested too deeply?)"
                )
            )
        else:
            _free_unused(handle)
    return problems


def _limits(rules: Sequence[Rule]) -> list[RuleProblem]:
    """The rules of ``rules`` beyond durable's limits: rules, fact properties, alternatives."""
    problems: list[RuleProblem] = []
    if len(rules) > _MAX_RULES:
        problems.append(
            _problem(
                rules[_MAX_RULES],
                f"durable-rules can run at most {_MAX_RULES} rules; this rule set has {len(rules)}",
            )
        )
    for index, properties in _properties(rules):
        if properties > _MAX_PROPERTIES:
            message = (
                f"with this rule, durable-rules facts would need more than {_MAX_PROPERTIES} properties "
                "(too many distinct sets of fields, time windows or tested languages)"
            )
            problems.append(_problem(rules[index], message))
            break
    if problems:
        return problems
    sets = field_sets(rules)
    for index, rule in enumerate(rules):
        definition = _rule_definition(index, rule, sets.index(_fields_of(rule)))
        widest = max(_leaves_under_or(pattern) for pattern in definition.values())
        if widest > _MAX_ALTERNATIVES:
            message = (
                f"a condition of {widest} alternatives that can hold at once (any, or the negation of all); "
                f"durable-rules takes at most {_MAX_ALTERNATIVES}"
            )
            problems.append(_problem(rule, message))
    return problems


def _free_unused(handle: int) -> None:
    """Free a rule-set handle no fact ever reached (a compile check's); used ones are never freed.

    Measured on 2.0.28: ``delete_ruleset`` of a handle without a session is safe, but
    ``delete_state`` frees pointers durable never initialised and aborts the process once the
    heap has been reused, so a handle whose session saw a fact cannot be freed safely.
    """
    with contextlib.suppress(Exception):
        core.delete_ruleset(handle)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What every case decided on one date by one network shares."""

    prefix: str  #: the fact's properties that do not depend on the case: JSON text without the closing brace
    values: dict[str, Tri]  #: every rule in force: its value when no pattern fires and its fields are known
    #: per action (``2 * pattern + holds?``): the rules in force it decides, with their values
    by_action: list[tuple[tuple[str, Tri], ...]]
    by_set: dict[int, tuple[str, ...]]  #: the rules in force of each set of fields
    statuses: StatusFunction  #: every service's status from the rule values
    #: the same by position (the order of the rules in force), for :meth:`DurableEngine.run`
    positions: list[Tri]
    by_action_at: list[tuple[tuple[int, Tri], ...]]
    by_set_at: list[tuple[int, ...]]  #: by set of fields, its rules' positions
    codes: CodeFunction
    #: per tuple of open sets of fields: ``positions`` with the rules of those sets unknown. Kept
    #: by which sets of fields have an unknown field (never a value), shared by the dates with
    #: the same rules in force, at most ``_MAX_KNOWN_PATTERNS`` (cleared when full).
    opened: dict[tuple[int, ...], list[Tri]]
    #: per pattern's action name (see ``_Network._names``): ``by_action_at`` of its action
    effects: dict[str, tuple[tuple[int, Tri], ...]]


class _Network:
    """One durable rule-set handle and its one session: the patterns of ``rules``, and how to read them.

    ``rules`` are the rules durable decides (for a variant, with the dispatch field folded out
    of their conditions); ``settled`` the values of the rules the variant's field value settles.
    ``joined`` marks the rules whose condition, on the variant's cases, is the Kleene *and*
    (``True``) or *or* (``False``) of the rule's condition here with an unknown part: their
    value is at most (at least) unknown. The engine's lock serialises every call that reaches
    the handle.
    """

    def __init__(
        self,
        ruleset: Ruleset,
        rules: Sequence[Rule],
        settled: dict[str, Tri] | None = None,
        joined: dict[str, bool] | None = None,
    ) -> None:
        self._ruleset = ruleset
        self._settled = settled or {}
        self._joined = joined or {}
        self._field_sets = field_sets(rules)
        patterns, pattern_of = distinct_patterns(rules)
        #: the sets of fields whose open flag some *fails* pattern asks for (see can_fail_open)
        self._asked = {self._field_sets.index(_fields_of(rule)) for rule in patterns if can_fail_open(rule)}
        #: per rule: the index of its pattern and of its set of fields
        self._where = {
            rule.id: (pattern, self._field_sets.index(_fields_of(rule)))
            for rule, pattern in zip(rules, pattern_of, strict=True)
        }
        definition = compile_rules(rules)
        #: the action of each pattern's name: ``2 * pattern + holds?`` (no *fails* that cannot fire)
        self._names = {name: 2 * int(name[1:]) + (name[0] == "h") for name in definition}
        self._actions = 2 * len(patterns)
        self._outer = _needs_outer(len(patterns))
        self._durations = _durations(rules)
        self._plans: dict[dt.date, _Plan] = memo()  # of case dates: purge_caches() empties it
        #: the status functions and the values with open sets (see ``_Plan.opened``) of each set of
        #: rules in force (few: they change on validity bounds)
        self._status_functions: dict[
            tuple[str, ...], tuple[StatusFunction, CodeFunction, dict[tuple[int, ...], list[Tri]]]
        ] = {}
        members: dict[str, set[str]] = {}
        for rule in rules:
            for leaf in rule.leaves:
                if leaf.op == "contains":
                    members.setdefault(leaf.field, set()).add(leaf.value)
        self._members = {name: tuple(sorted(values)) for name, values in members.items()}
        #: Only the fields the rules read go into the fact: durable parses it once per case and
        #: copies it into every action.
        self._fields = tuple(name for name in FIELDS if any(name in fields for fields in self._field_sets))
        self._lists = {name for name, spec in FIELDS.items() if spec.kind == "list"}
        self._starts = {name: f',"{_key(name)}":' for name in FIELDS}  # how each property begins
        self._encoders = {name: _ENCODERS.get(spec.kind, _json) for name, spec in FIELDS.items()}
        self._bits = {name: 1 << bit for bit, name in enumerate(FIELDS)}
        self._set_masks = [sum(self._bits[name] for name in fields) for fields in self._field_sets]
        #: per field the rules read: its name, bit, and how its property begins and its value is written
        self._scalars = tuple(
            (name, self._bits[name], self._starts[name], self._encoders[name])
            for name in self._fields
            if name not in self._lists
        )
        #: per list field the rules read: its name, bit, property key and the members rules ask about
        self._list_fields = tuple(
            (name, self._bits[name], _key(name), self._members.get(name, ()))
            for name in self._fields
            if name in self._lists
        )
        self.encode = self._encoder()
        # durable compares the JSON text of patterns and facts as it is (it never decodes \uXXXX):
        # both are written with non-ASCII characters as they are, or "münstertal" would never match.
        self._definition = json.dumps(definition, ensure_ascii=False)
        self.dirty = False  # the handle's session may hold a half-done case: never touch it again
        self.abandon = False  # set in a forked child: the handle is the parent's, do not free it
        self.handle = self.compile()

    def compile(self) -> int:
        """A new rule-set handle in durable's core."""
        try:
            handle: int = core.create_ruleset(_RULESET, self._definition)
        except Exception as error:
            raise _engine_error(error, "compiling the rule set") from None
        return handle

    def plan(self, as_of: dt.date) -> _Plan:
        """What every case on ``as_of`` shares: the fact's constant part and the rules in force."""
        plan = self._plans.get(as_of)
        if plan is None:
            constant: Json = {"sid": _SESSION, "id": _FACT_ID, _AS_OF: as_of.toordinal()}
            constant |= {_GROUP_OUTER: 0, _GROUP_INNER: 0} if self._outer else {_GROUP_INNER: 0}
            for duration in self._durations:
                constant[_window_key(duration)] = window_start(as_of, duration).toordinal()
            in_force = self._ruleset.rules_in_force(as_of)
            by_action: list[list[tuple[str, Tri]]] = [[] for _ in range(self._actions)]
            by_set: dict[int, list[str]] = {}
            values: dict[str, Tri] = {}
            for rule in in_force:
                where = self._where.get(rule.id)
                if where is None:
                    values[rule.id] = self._settled[rule.id]
                    continue
                joined = self._joined.get(rule.id)
                # and unknown: true becomes unknown; or unknown: false becomes unknown
                values[rule.id] = None if joined is False else False
                by_action[2 * where[0] + 1].append((rule.id, None if joined else True))
                by_action[2 * where[0]].append((rule.id, None if joined is False else False))
                by_set.setdefault(where[1], []).append(rule.id)
            at = {rule.id: position for position, rule in enumerate(in_force)}
            by_id, by_position, opened = self._status_functions_for(in_force)
            plan = _Plan(
                json.dumps(constant, ensure_ascii=False, separators=(",", ":"))[:-1],
                values,
                [tuple(effects) for effects in by_action],
                {index: tuple(ids) for index, ids in by_set.items()},
                by_id,
                [values[rule.id] for rule in in_force],
                [tuple((at[rule_id], value) for rule_id, value in effects) for effects in by_action],
                [
                    tuple(at[rule_id] for rule_id in by_set.get(index, ()))
                    for index in range(len(self._set_masks))
                ],
                by_position,
                opened,
                {},
            )
            plan.effects.update((name, plan.by_action_at[action]) for name, action in self._names.items())
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            self._plans[as_of] = plan
        return plan

    def _status_functions_for(
        self, in_force: tuple[Rule, ...]
    ) -> tuple[StatusFunction, CodeFunction, dict[tuple[int, ...], list[Tri]]]:
        """The statuses of ``in_force`` by rule id and by position, and their values' memo by open sets.

        The functions are generated once each; the memo is ``_Plan.opened``, shared by the plans
        of every date with these rules in force.
        """
        key = tuple(rule.id for rule in in_force)
        found = self._status_functions.get(key)
        if found is None:
            fixed = {rule.id: self._settled[rule.id] for rule in in_force if rule.id not in self._where}
            found = self._status_functions[key] = (
                status_function(self._ruleset, in_force, fixed),
                code_function(self._ruleset, in_force, fixed),
                {},
            )
        return found

    def text(self, facts: Facts, as_of: dt.date) -> tuple[str, tuple[int, ...]]:
        """The fact durable sees for one case as JSON text, and the sets of fields with an unknown field.

        Written directly (the constant part once per date, each property with the JSON encoder's
        string escaping): building a dict and dumping it cost twice as much.
        """
        return self.encode(facts, self.plan(as_of).prefix)

    def _encoder(self) -> Callable[[Facts, str], tuple[str, tuple[int, ...]]]:
        """``encode(facts, prefix)``: :meth:`text` with the date's constant part given, as straight-line code.

        One statement per field the rules read, with its encoder inlined: a loop over the fields
        cost a third more. Safe to generate: the source holds only ``repr`` of field names, of
        property names made here and of list members the rules ask about (all ``str``), and
        nothing of a case.
        """
        lines = ["def encode(facts, prefix):", "    known = 0", "    parts = [prefix]"]
        lines.append("    add = parts.append")
        tables: dict[str, dict[str, str]] = {}
        for name, bit, start, encoder in self._scalars:
            lines += [f"    v = facts[{name!r}]", "    if v is not None:", f"        known |= {bit}"]
            spec = FIELDS[name]
            if spec.kind == "enum":  # the property of each allowed value written once, here
                table = f"T{len(tables)}"
                tables[table] = {value: start + _encode_string(value) for value in spec.values}
                lines += [f"        add(({table}.get(v) if type(v) is str else None) or {start!r} + J(v))"]
            else:
                lines.append(f"        add({start!r} + {_INLINE[encoder]})")
        for name, bit, key, members in self._list_fields:
            lines += [f"    v = facts[{name!r}]", "    if v is not None:", f"        known |= {bit}"]
            known_property = f',"{_KNOWN}{key}":1'
            lines.append(f"        add({known_property!r})")
            # Only the members some rule asks about: a fact may have at most 255 properties.
            for member in members:
                member_property = f',"{key}.{member}":1'
                lines += [
                    f"        if {member!r} in v:",
                    f"            add({member_property!r})",
                ]
        lines += [
            "    found = BY_KNOWN.get(known) or OPENING(known)",
            "    add(found[1])",
            "    return ''.join(parts), found[0]",
        ]
        masks = tuple(enumerate(self._set_masks))
        # Only the sets some *fails* pattern asks about are flagged: every property costs durable
        # time at every node it visits.
        opens = tuple(
            f',"{_OPEN}{index}":1' if index in self._asked else "" for index in range(len(self._set_masks))
        )
        by_known: dict[int, tuple[tuple[int, ...], str]] = {}

        def opening(known: int) -> tuple[tuple[int, ...], str]:
            """The sets of fields with an unknown field, and the fact's end that flags them.

            Kept by which fields are known (a bit per field, never a value): at most
            ``_MAX_KNOWN_PATTERNS`` per network.
            """
            open_sets = tuple(index for index, mask in masks if mask & ~known)
            if len(by_known) >= _MAX_KNOWN_PATTERNS:
                by_known.clear()
            found = by_known[known] = (open_sets, "".join(opens[index] for index in open_sets) + "}")
            return found

        namespace: dict[str, Any] = {
            "J": _json,
            "E": _encode_string,
            "D": _date,
            "DATE": dt.date,
            "BY_KNOWN": by_known,
            "OPENING": opening,
            **tables,
        }
        # Safe: the source is generated from the validated rule tree (see the docstring).
        exec(compile("\n".join(lines) + "\n", "<durable fact encoder>", "exec"), namespace)
        encode: Callable[[Facts, str], tuple[str, tuple[int, ...]]] = namespace["encode"]
        return encode

    def values(self, plan: _Plan, open_sets: Sequence[int], fired: list[int]) -> dict[str, Tri]:
        """The rule values of one case from the patterns it fired."""
        values = (
            plan.values.copy()
        )  # every rule in force false or settled, then what the case makes otherwise
        by_set, by_action = plan.by_set, plan.by_action
        for index in open_sets:
            for rule_id in by_set.get(index, ()):
                values[rule_id] = None
        # A pattern fires only when its rules are in force, and holds (true) or fails (false),
        # an unknown field notwithstanding (an alternative that holds, a part that fails).
        for action in fired:
            for rule_id, value in by_action[action]:
                values[rule_id] = value
        return values

    def ordered(self, plan: _Plan, open_sets: tuple[int, ...], fired: list[int]) -> list[Tri]:
        """:meth:`values` by position, in the order of the rules in force."""
        values = (plan.opened.get(open_sets) or self._opened(plan, open_sets)).copy()
        by_action = plan.by_action_at
        for action in fired:
            for position, value in by_action[action]:
                values[position] = value
        return values

    @staticmethod
    def _opened(plan: _Plan, open_sets: tuple[int, ...]) -> list[Tri]:
        """The rule values by position before anything fired: the rules of ``open_sets`` unknown."""
        values = plan.positions.copy()
        for index in open_sets:
            for position in plan.by_set_at[index]:
                values[position] = None
        if len(plan.opened) >= _MAX_KNOWN_PATTERNS:
            plan.opened.clear()
        plan.opened[open_sets] = values
        return values

    def run(
        self,
        fact: str,
        values: list[Tri] | None = None,
        effects: dict[str, tuple[tuple[int, Tri], ...]] | None = None,
    ) -> list[int]:
        """Assert one case's fact, collect the patterns that fired, and retract the fact again.

        With ``values`` and ``effects`` (a plan's, see ``_Plan.effects``), each fired pattern's
        effects are written into ``values`` as it is taken off the queue instead, and nothing is
        collected. After any exception, also ``KeyboardInterrupt`` landing while the action queue is drained,
        the session is not touched again: durable gives wrong results and then crashes when a
        session with a started action is used further (measured), so the next case starts over on
        a fresh handle. The caller's exception is re-raised as it is.
        """
        if not self._names:  # a value that settles every rule: nothing for durable to decide
            return []
        handle = self.handle
        try:
            code, state = core.assert_fact(handle, fact)
            if code == _OBSERVED:
                # The same fact is still asserted (a retract that failed earlier): clear it, retry once.
                self._retract()
                code, state = core.assert_fact(handle, fact)
            if code == _NOT_HANDLED:
                fired = []  # nothing matched: known rules false, others unknown
            elif code == _OK:
                fired = self._fired(state) if effects is None else self._apply(state, values, effects)
            else:
                raise EngineError(f"durable-rules did not take the case (result code {code})")
            self._retract()
            return fired
        except BaseException as error:
            self.dirty = True
            if isinstance(error, EngineError) or not isinstance(error, Exception):
                raise
            raise _engine_error(error, "evaluating a case") from None

    def _fired(self, state: int) -> list[int]:
        """Take every action the fact started off the session's queue: the action of each (see ``_names``).

        Completing an action is all durable needs to start the next one: ``durable.engine`` also
        re-asserts the session's state object before each completion (``update_state``), a whole
        pass through the network for a state our patterns never read, so this skips it.
        """
        handle = self.handle
        started = core.start_action_for_state(handle, state)
        if not started:
            return []
        fired = []
        names, end, complete = self._names, _NAME_END, core.complete_and_start_action
        action = started[1]
        while action:
            # A started action is a JSON object whose first key is the fired pattern's name.
            found = names.get(action[2:end], -1)
            if found < 0:
                raise EngineError("durable-rules started an action this engine did not define")
            fired.append(found)
            action = complete(handle, state)
        return fired

    def _apply(
        self, state: int, values: list[Tri] | None, effects: dict[str, tuple[tuple[int, Tri], ...]]
    ) -> list[int]:
        """:meth:`_fired`, each fired pattern's effects written into ``values`` at once (nothing kept)."""
        assert values is not None
        handle = self.handle
        started = core.start_action_for_state(handle, state)
        if not started:
            return []
        end, complete = _NAME_END, core.complete_and_start_action
        action = started[1]
        try:
            while action:
                # A started action is a JSON object whose first key is the fired pattern's name.
                for position, value in effects[action[2:end]]:
                    values[position] = value
                action = complete(handle, state)
        except KeyError:
            raise EngineError("durable-rules started an action this engine did not define") from None
        return []

    def _retract(self) -> None:
        """Retract the session's case fact, found by its id (see ``_RETRACT``)."""
        try:
            code, _ = core.retract_fact(self.handle, _RETRACT)
        except Exception as error:
            raise _engine_error(error, "retracting a case") from None
        if code not in (_OK, _NOT_HANDLED):  # not handled: the fact matched nothing, so nothing is kept
            raise EngineError(f"durable-rules did not retract the case (result code {code})")


_live: weakref.WeakSet[DurableEngine] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """Give every engine of a forked child a fresh lock and, if a case was under way, a fresh handle.

    Another thread of the parent may hold a lock or be half-way through a case at fork time,
    and neither would ever finish in the child.
    """
    for engine in list(_live):
        # A case is half-done only while the lock is held: durable's C calls hold the GIL, and
        # fork() runs with it, so an engine whose lock was free is in a clean state. Only the
        # network the case was on (the last one taken under the lock) may be half-done.
        if engine._lock.locked():
            engine._busy.abandon = True
        engine._lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _durations(rules: Iterable[Rule]) -> tuple[Duration, ...]:
    found = {
        leaf.value: None for rule in rules for leaf in rule.leaves if leaf.op in ("within", "older_than")
    }
    return tuple(found)


_ERROR_CODES = {
    "101": "out of memory",
    "302": "a fact has too many properties",
    "303": "too many patterns match at once",
    "307": "a node was deleted",
}


def _engine_error(error: BaseException, doing: str) -> EngineError:
    """Our error for a durable failure: its error code if any, never its text (which may hold the fact)."""
    code = re.search(r"error code: ?([0-9]+)", str(error))
    if code is None:
        return EngineError(f"durable-rules failed while {doing} ({type(error).__name__})")
    meaning = _ERROR_CODES.get(code.group(1), "see durable-rules' rules.h")
    return EngineError(f"durable-rules failed while {doing} (error code {code.group(1)}: {meaning})")


#: A rule set gets a network per value of its dispatch field only when at least this many rules
#: compare that field: each network is a durable handle of 1-4 MiB that durable can never free.
SPECIALISE_MIN_RULES = 32

#: A variant: the rules durable decides (folded), the values of the settled, the joined (see _Network).
_Variant = tuple[tuple[Rule, ...], dict[str, Tri], dict[str, bool]]


def _fold_rule(when: Condition, field: str, value: object) -> tuple[Condition | Tri, bool | None]:
    """A rule's condition folded for the cases whose ``field`` is ``value``, and how it joins an unknown part.

    For unknown (``None``), an ``all`` (``any``) with parts that fold to unknown beside open
    parts becomes its open parts, *and* (*or*) unknown: ``True`` (``False``). Durable then
    decides the open parts alone, whose fields may all be known, and fires when they hold
    instead of whenever they fail (the unknown part would keep every such rule open).
    """
    folded = fold(when, field, value)
    if value is None and isinstance(when, (AllOf, AnyOf)) and isinstance(folded, (AllOf, AnyOf, Leaf, Not)):
        parts = [fold(part, field, value) for part in when.parts]
        if any(part is None for part in parts):
            rest = tuple(part for part in parts if isinstance(part, (AllOf, AnyOf, Leaf, Not)))
            conjunction = isinstance(when, AllOf)
            if len(rest) == 1:
                return rest[0], conjunction
            return (all_of(rest) if conjunction else any_of(rest)), conjunction
    return folded, None


def _variants(rules: Sequence[Rule]) -> tuple[str | None, dict[object, _Variant]]:
    """The dispatch field and, per value of it (``None``: unknown), the rules durable decides and the settled.

    Values whose folded rules are alike share one variant object (and so one network): see
    :class:`DurableEngine`. Empty when fewer than :data:`SPECIALISE_MIN_RULES` rules compare
    the field; a value whose folded rules durable could not run has none (its cases take the
    network of all rules).
    """
    field = dispatch_field(rules)
    if field is None:
        return None, {}
    comparing = sum(
        1 for rule in rules if any(leaf.field == field and leaf.op in _FOLDABLE for leaf in rule.leaves)
    )
    if comparing < SPECIALISE_MIN_RULES:
        return None, {}
    shared: dict[tuple[tuple[Condition | Tri, bool | None], ...], _Variant | None] = {}
    by_value: dict[object, _Variant] = {}
    for value in (*FIELDS[field].values, None):
        folded = tuple(_fold_rule(rule.when, field, value) for rule in rules)
        if folded not in shared:
            open_rules = tuple(
                rule if when is rule.when else dataclasses.replace(rule, when=when)
                for rule, (when, _) in zip(rules, folded, strict=True)
                if isinstance(when, (Leaf, AllOf, AnyOf, Not))
            )
            settled = {
                rule.id: when
                for rule, (when, _) in zip(rules, folded, strict=True)
                if when is None or isinstance(when, bool)
            }
            joined = {
                rule.id: join for rule, (_, join) in zip(rules, folded, strict=True) if join is not None
            }
            shared[folded] = None if _limits(open_rules) else (open_rules, settled, joined)
        variant = shared[folded]
        if variant is not None:
            by_value[value] = variant
    return field, by_value


class DurableEngine:
    """The rules of one :class:`Ruleset` compiled to durable-rules; :meth:`evaluate` is thread-safe.

    **Partial evaluation on the dispatch field.** As the python engine does (see
    :func:`referral_engine.compiled.dispatch_field`): where at least :data:`SPECIALISE_MIN_RULES`
    rules compare one enumeration (the residence status of the bundled rules) by ``eq`` /
    ``ne`` / ``in`` / ``not_in``, every value of it (and unknown) gets a network of its own: a
    durable handle holding only the rules that value leaves open, with those comparisons folded
    out of their conditions (:func:`referral_engine.conditions.fold`); the rules it settles
    take their constant values without durable. durable still decides every remaining condition
    of every case, and nothing is kept of a case. Networks are compiled on the first case with
    their value, and values whose folded rules are alike share one. Memory: durable can never
    free a handle, so an engine keeps one handle for all rules plus one per distinct variant
    (for the bundled rules, 26 variants of 14-66 rules instead of 98: about 23 MiB for all of
    them once used, measured), for the life of the process.

    Safe against interruption: any exception during a case, including ``KeyboardInterrupt`` and
    ``SystemExit``, marks the network's handle dirty, and its next case runs on a fresh one (at
    most :data:`_MAX_RENEWALS` times for the engine). The caller's exception is re-raised
    unchanged; durable's own become :class:`EngineError`.
    """

    def __init__(self, ruleset: Ruleset) -> None:
        problems = check_ruleset(ruleset, compile_check=False)
        if problems:
            raise EngineError(f"durable-rules cannot run this rule set: {problems[0]}")
        self._ruleset = ruleset
        self._lock = threading.Lock()
        self.renewals = 0  #: how often a dirty handle was replaced by a fresh one
        #: the network of all rules: for an engine without variants, and values outside the field's
        self._base = _Network(ruleset, ruleset.rules, {})
        self._busy = self._base  # the network of the case under way while the lock is held
        self._field, self._variants = _variants(ruleset.rules)
        #: the network of each value of the dispatch field met so far (shared as their variants are)
        self._networks: dict[object, _Network] = {}
        self._by_variant: dict[int, _Network] = {}
        _live.add(self)

    def _network(self, facts: Facts) -> _Network:
        """The network that decides this case: its dispatch field value's, compiled on first use."""
        if self._field is None:
            return self._base
        value = facts[self._field]
        network = self._networks.get(value)
        if network is None:
            variant = self._variants.get(value)
            if variant is None:
                return self._base
            with self._lock:
                network = self._by_variant.get(id(variant))
                if network is None:
                    network = self._by_variant[id(variant)] = _Network(self._ruleset, *variant)
                self._networks[value] = network
        return network

    def _renew(self, network: _Network) -> None:
        """Replace a dirty (or, in a forked child, inherited) handle by a fresh one.

        The old handle is left alone: durable cannot free it safely. So renewals are bounded:
        after :data:`_MAX_RENEWALS`, the engine refuses every case with an :class:`EngineError`
        instead of growing without bound.
        """
        if self.renewals >= _MAX_RENEWALS:
            raise EngineError(
                f"durable-rules was interrupted or failed {self.renewals + 1} times on this rule set; "
                "durable cannot release the memory of a failed session, so the durable engine stops "
                "here to bound it; load the rule set again or use engine='python'"
            )
        network.handle = network.compile()
        network.dirty = False
        network.abandon = False
        self.renewals += 1

    def text(self, facts: Facts, as_of: dt.date) -> tuple[str, tuple[int, ...]]:
        """The fact durable sees for one case as JSON text (in its network), and the open sets of fields."""
        return self._network(facts).text(facts, as_of)

    def fact(self, facts: Facts, as_of: dt.date) -> Json:
        """The fact durable sees for one case (in its network)."""
        fact: Json = json.loads(self.text(facts, as_of)[0])
        return fact

    def evaluate(self, facts: Facts, as_of: dt.date) -> dict[str, Tri]:
        """The truth value of every rule in force on ``as_of``: ``True``, ``False`` or ``None`` (unknown)."""
        network, plan, open_sets, fired = self._fire(facts, as_of)
        return network.values(plan, open_sets, fired)

    def run(self, facts: Facts, as_of: dt.date) -> tuple[tuple[Tri, ...], tuple[Status, ...]]:
        """Every rule in force's value and every service's status, by position, as ``CompiledRules.run``.

        The values are in the order of ``ruleset.rules_in_force(as_of)``, the statuses in rule-set
        order of the services.
        """
        # _fire written out: this is the engine's hot path (see benchmarks/durable_floor.py).
        network = self._networks.get(facts[self._field]) if self._field is not None else self._base
        if network is None:
            network = self._network(facts)
        plan = network._plans.get(as_of) or network.plan(as_of)
        text, open_sets = network.encode(facts, plan.prefix)
        values = (plan.opened.get(open_sets) or network._opened(plan, open_sets)).copy()
        with self._lock:
            if network.dirty or network.abandon:
                self._renew(network)
            self._busy = network
            network.run(text, values, plan.effects)
        return tuple(values), plan.codes(values)

    def decide(self, facts: Facts, as_of: dt.date) -> tuple[dict[str, Tri], dict[str, Status]]:
        """The rule values, as :meth:`evaluate` gives them, and every service's status (rule-set order).

        The statuses are those of :func:`referral_engine.decide.statuses`, from a function generated
        per network and set of rules in force, in which the rules its network settles are constants.
        """
        network, plan, open_sets, fired = self._fire(facts, as_of)
        values = network.values(plan, open_sets, fired)
        return values, plan.statuses(values)

    def _fire(self, facts: Facts, as_of: dt.date) -> tuple[_Network, _Plan, tuple[int, ...], list[int]]:
        """One case through its network: the network, the plan of the date, the open sets, what fired."""
        network = self._network(facts)
        plan = network.plan(as_of)
        text, open_sets = network.encode(facts, plan.prefix)
        with self._lock:
            if network.dirty or network.abandon:
                self._renew(network)
            self._busy = network
            fired = network.run(text)
        return network, plan, open_sets, fired
