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
  because durable compares across types (``1 == True == "1"``).
* No Python action runs. The fired rules are read from the core's action queue with the calls
  ``durable.engine`` itself makes for every action (start, update state, complete), without its
  per-action Python objects: each of those costs more than the match itself, and it is where
  durable mistakes two-argument actions for asynchronous ones, swallows action exceptions into
  ``state["exception"]`` and calls the deprecated ``datetime.utcfromtimestamp``.
* Every result code and exception of the core becomes an :class:`EngineError` or is handled.

Three-valued semantics: each rule becomes a *holds* pattern (its condition) and a *fails* pattern
(the condition's negation, pushed down to the leaves). A missing field never matches in durable,
so *holds* fires exactly when the condition is true in Kleene logic and *fails* exactly when it
is false; neither firing means unknown. Every fired pattern costs time, so a *fails* pattern also
asks for a flag the fact sets only when one of the rule's fields is unknown: a rule whose fields
are all known and whose *holds* did not fire is false without asking.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import durable_rules_engine as core  # type: ignore[import-not-found]

from .conditions import AllOf, AnyOf, Condition, Leaf, Not, Tri
from .dates import Duration, window_start
from .errors import EngineError
from .facts import FIELDS, Facts
from .ruleset import Rule, Ruleset

_RULESET = "referral"
_SESSION = "case"
_AS_OF = "as_of"
_KNOWN = "_known."  # list fields become one flag per tested member plus a "known" flag
_OPEN = "_open."
_GROUP = "_group."
_FANOUT = 8
_MAX_PROPERTIES = 255  # MAX_OBJECT_PROPERTIES in durable-rules' src/rules/state.h

# Result codes of the core's assert and retract calls (durable-rules' src/rules/rules.h).
_OK, _NOT_HANDLED, _OBSERVED = 0, 1, 2  # 3 (deferred: queued) is never expected here
# A started action is a JSON object whose first key is the fired pattern's name: ours are h<i> / f<i>.
_ACTION_NAME = re.compile(r'\{"([hf][0-9]+)"')

Json = dict[str, Any]


@lru_cache(maxsize=4096)
def _window_key(duration: Duration) -> str:
    return f"_from_{duration}"


def _value(value: Any) -> Any:
    """A rule operand or fact value as durable sees it: ints, strings, 0/1 flags."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _any(parts: list[Json]) -> Json:
    return parts[0] if len(parts) == 1 else {"$or": parts}


def _all(parts: list[Json]) -> Json:
    return parts[0] if len(parts) == 1 else {"$and": parts}


_NEGATED_OP = {"eq": "ne", "ne": "eq", "lt": "ge", "le": "gt", "gt": "le", "ge": "lt", "in": "not_in"}
_NEGATED_OP |= {value: key for key, value in _NEGATED_OP.items()}
_COMPARE = {"lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte", "ne": "$neq"}


def _leaf(leaf: Leaf, negate: bool) -> Json:
    """One leaf as a durable expression; ``negate`` gives the expression true when the leaf is false."""
    field, op = leaf.field, leaf.op
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
        window.append({"$gte": {_AS_OF: rule.valid_from.isoformat()}})
    if rule.valid_to is not None:
        window.append({"$lte": {_AS_OF: rule.valid_to.isoformat()}})
    return window


def _group(index: int) -> list[Json]:
    """Two always-true tests that place a rule in a group of 8 within a group of 64.

    durable walks its pattern network depth first with a stack of 64 nodes and fails with
    error 303 when the tests that match one fact at one level outnumber it; grouping bounds
    every level to a few nodes for rule sets of up to 512 rules.
    """
    return [{f"{_GROUP}{index // _FANOUT**2}": 1}, {f"{_GROUP}{index // _FANOUT**2}.{index // _FANOUT}": 1}]


def _group_flags(index: int) -> list[str]:
    return [next(iter(test)) for test in _group(index)]


def _fields_of(rule: Rule) -> frozenset[str]:
    return frozenset(leaf.field for leaf in rule.leaves)


def field_sets(rules: Iterable[Rule]) -> list[frozenset[str]]:
    """The distinct sets of fields the rules read, in first-use order."""
    return list(dict.fromkeys(_fields_of(rule) for rule in rules))


def compile_rules(rules: Sequence[Rule]) -> dict[str, Json]:
    """The durable definition of ``rules``: per rule, a *holds* rule ``h<i>`` and a *fails* rule ``f<i>``.

    A *fails* rule also asks for the flag ``_open.<k>`` of the rule's set of fields ``k`` (see
    :func:`field_sets`), which a fact carries when one of those fields is unknown: when all are
    known and *holds* did not fire, the rule is false without durable having to say so (and
    every rule that fires costs time).
    """
    if len(rules) > _FANOUT**3:
        raise EngineError(f"durable-rules can take at most {_FANOUT**3} rules here; use engine='python'")
    sets = field_sets(rules)
    definition: dict[str, Json] = {}
    for index, rule in enumerate(rules):
        prefix = [*_group(index), *_in_force(rule)]
        some_unknown = {f"{_OPEN}{sets.index(_fields_of(rule))}": 1}
        holds = _all([*prefix, _condition(rule.when, negate=False)])
        fails = _all([*prefix, some_unknown, _condition(rule.when, negate=True)])
        definition[f"h{index}"] = {"all": [{"m": holds}]}
        definition[f"f{index}"] = {"all": [{"m": fails}]}
    return definition


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


class DurableEngine:
    """The rules of one :class:`Ruleset` compiled to durable-rules; :meth:`evaluate` is thread-safe."""

    def __init__(self, ruleset: Ruleset) -> None:
        self._ruleset = ruleset
        self._rules = ruleset.rules
        self._index = {rule.id: index for index, rule in enumerate(self._rules)}
        self._fields = tuple(_fields_of(rule) for rule in self._rules)
        self._field_sets = field_sets(self._rules)
        self._durations = _durations(self._rules)
        self._lock = threading.Lock()
        self._constant = {name: 1 for index in range(len(self._rules)) for name in _group_flags(index)}
        members: dict[str, set[str]] = {}
        for rule in self._rules:
            for leaf in rule.leaves:
                if leaf.op == "contains":
                    members.setdefault(leaf.field, set()).add(leaf.value)
        self._members = {name: tuple(sorted(values)) for name, values in members.items()}
        largest = 3 + len(self._constant) + len(FIELDS) + sum(map(len, self._members.values()))
        largest += len(self._members) + len(self._durations) + len(self._field_sets)
        if largest > _MAX_PROPERTIES:
            raise EngineError(
                f"durable-rules takes facts of at most {_MAX_PROPERTIES} properties; this rule set needs "
                f"up to {largest} (too many distinct sets of fields or time windows); use engine='python'"
            )
        self._definition = json.dumps(compile_rules(self._rules))
        self._handle = self._compile()

    def _compile(self) -> int:
        """A new rule-set handle in durable's core; durable cannot free one safely, so it stays."""
        try:
            handle: int = core.create_ruleset(_RULESET, self._definition)
        except Exception as error:
            raise _engine_error(error, "compiling the rule set") from None
        return handle

    def fact(self, facts: Facts, as_of: dt.date) -> tuple[Json, frozenset[str]]:
        """The fact durable sees for one case, and the names of the known fields."""
        fact: Json = {"sid": _SESSION, "id": "case", _AS_OF: as_of.isoformat(), **self._constant}
        known = set()
        for name, value in facts.items():
            if value is None:
                continue
            known.add(name)
            if FIELDS[name].kind == "list":
                fact[f"{_KNOWN}{name}"] = 1
                # Only the members some rule asks about: a fact may have at most 255 properties.
                for member in self._members.get(name, ()):
                    if member in value:
                        fact[f"{name}.{member}"] = 1
            else:
                fact[name] = _value(value)
        for duration in self._durations:
            fact[_window_key(duration)] = window_start(as_of, duration).isoformat()
        known_fields = frozenset(known)
        for index, fields in enumerate(self._field_sets):
            if not fields <= known_fields:
                fact[f"{_OPEN}{index}"] = 1
        return fact, known_fields

    def evaluate(self, facts: Facts, as_of: dt.date) -> dict[str, Tri]:
        """The truth value of every rule in force on ``as_of``: ``True``, ``False`` or ``None`` (unknown)."""
        fact, known = self.fact(facts, as_of)
        text = json.dumps(fact, ensure_ascii=False)
        with self._lock:
            fired = self._run(text)
        values: dict[str, Tri] = {}
        for rule in self._ruleset.rules_in_force(as_of):
            index = self._index[rule.id]
            if f"h{index}" in fired:
                values[rule.id] = True
            elif self._fields[index] <= known or f"f{index}" in fired:
                values[rule.id] = False
            else:
                values[rule.id] = None
        return values

    def _run(self, fact: str) -> frozenset[str]:
        """Assert one case's fact, collect the patterns that fired, and retract the fact again.

        After any error the session is not touched again: durable crashes when a session whose
        action failed is used further (measured), so the engine starts over on a fresh handle.
        """
        try:
            code, state = core.assert_fact(self._handle, fact)
            if code == _OBSERVED:
                # The same fact is still asserted (a retract that failed earlier): clear it, retry once.
                self._retract(fact)
                code, state = core.assert_fact(self._handle, fact)
            if code == _NOT_HANDLED:
                fired: frozenset[str] = frozenset()  # nothing matched: known rules false, others unknown
            elif code == _OK:
                fired = self._fired(state)
            else:
                raise EngineError(f"durable-rules did not take the case (result code {code})")
            self._retract(fact)
            return fired
        except Exception as error:
            self._handle = self._compile()
            if isinstance(error, EngineError):
                raise
            raise _engine_error(error, "evaluating a case") from None

    def _fired(self, state: int) -> frozenset[str]:
        """Take every action the fact started off the session's queue; their names are the fired patterns."""
        fired = []
        started = core.start_action_for_state(self._handle, state)
        if not started:
            return frozenset()
        state_json, action = started
        while action:
            name = _ACTION_NAME.match(action)
            if name is None:
                raise EngineError("durable-rules started an action this engine did not define")
            fired.append(name.group(1))
            core.update_state(self._handle, state_json)
            action = core.complete_and_start_action(self._handle, state)
        return frozenset(fired)

    def _retract(self, fact: str) -> None:
        try:
            code, _ = core.retract_fact(self._handle, fact)
        except Exception as error:
            raise _engine_error(error, "retracting a case") from None
        if code not in (_OK, _NOT_HANDLED):  # not handled: the fact matched nothing, so nothing is kept
            raise EngineError(f"durable-rules did not retract the case (result code {code})")
