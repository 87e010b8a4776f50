"""Deciding each service of a rule set for one case, with the reasons that decided it.

The reference evaluator :func:`evaluate_rules` gives every rule in force a truth value (``True``,
``False`` or ``None`` for unknown). :func:`decide` combines them per service — *grant and not
exclusion* in Kleene logic, see ``rules/README.md`` — and collects the reasons a caseworker can
check: each rule with its source, confidence, validity window and the outcome of each condition.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from typing import Any, NamedTuple, TypeVar, cast

from . import dates
from .conditions import Tri, kleene_and, kleene_not
from .facts import Facts
from .models import LANGUAGE_LEVELS, ConditionOutcome, ConditionValue, Reason, RuleOutcome, Status
from .ruleset import Rule, Ruleset

_RULE_OUTCOME: dict[Tri, RuleOutcome] = {True: "holds", False: "fails", None: "unknown"}


def evaluate_rules(ruleset: Ruleset, facts: Facts, as_of: dt.date) -> dict[str, Tri]:
    """The truth value of every rule in force on ``as_of`` (the reference, pure-Python engine)."""
    return {rule.id: rule.when.test(facts, as_of) for rule in ruleset.rules_in_force(as_of)}


class Decided(NamedTuple):
    """One service's decision before routing: status, open fields and pending checks.

    The reasons are built only when asked for (:func:`reasons_of`): most callers need the status.
    """

    service: str
    status: Status
    missing: tuple[str, ...]
    checks: tuple[Rule, ...]


def decide(
    ruleset: Ruleset,
    facts: Facts,
    as_of: dt.date,
    values: Mapping[str, Tri],
    by_service: Mapping[str, Status] | None = None,
) -> list[Decided]:
    """Decide every service of ``ruleset`` from the rule ``values`` an engine computed.

    ``by_service`` are the statuses if the engine gave them too (else combined from ``values``).
    """
    if by_service is None:
        by_service = statuses(ruleset, values)
    table = decision_table(ruleset)
    settled = table.settled
    return [
        settled[service, status] if status is not Status.UNDETERMINED else table.open(service, facts, values)
        for service, status in by_service.items()
    ]


_OUT = object()  # the value of a rule not in force (absent from the values)
_GRANT, _CHECK, _EXCLUDE = 0, 1, 2
_KIND = {"eligible": _GRANT, "check": _CHECK, "not_eligible": _EXCLUDE}


_Pattern = tuple[tuple[str, ...], tuple[Rule, ...], Decided | None]
_tuple = tuple.__new__


class DecisionTable:
    """What :func:`decide` reads of a rule set, looked up once per rule set (rule-set facts only)."""

    def __init__(self, ruleset: Ruleset) -> None:
        ids = [service.id for service in ruleset.services]
        #: Each service's rules in file order: id, kind of effect, the rule and its leaves' fields.
        self.rows: Mapping[str, tuple[tuple[str, int, Rule, tuple[str, ...]], ...]] = {
            service: tuple(
                (rule.id, _KIND[rule.effect], rule, tuple(leaf.field for leaf in rule.leaves))
                for rule in ruleset.rules_of(service)
            )
            for service in ids
        }
        #: The decision of a service that is eligible or not eligible (immutable, so shared by cases).
        self.settled: Mapping[tuple[str, Status], Decided] = {
            (service, status): Decided(service, status, (), ())
            for service in ids
            for status in (Status.ELIGIBLE, Status.NOT_ELIGIBLE)
        }
        #: The same by service, for each of the two statuses.
        self.eligible = {service: self.settled[service, Status.ELIGIBLE] for service in ids}
        self.not_eligible = {service: self.settled[service, Status.NOT_ELIGIBLE] for service in ids}
        #: Each service's rule ids, in file order.
        self.ids: Mapping[str, tuple[str, ...]] = {
            service: tuple(row[0] for row in rows) for service, rows in self.rows.items()
        }
        self._field_rank = ruleset._field_rank
        #: The open fields and checks of an undetermined service by its rules' values (never by a
        #: fact): bounded, emptied by ``purge_caches`` with the other memos of cases seen.
        self._patterns: dict[tuple[Any, ...], _Pattern] = dates.memo()

    def open(self, service: str, facts: Facts, values: Mapping[str, Tri]) -> Decided:
        """The decision of an undetermined ``service``: its open fields, ranked, and the checks that hold."""
        # The rules' values (absent: out of force) settle which fields could matter and which
        # checks hold; the facts only which of those fields are unknown.
        key = (service, *map(values.get, self.ids[service], _ALWAYS_OUT))
        found = self._patterns.get(key)
        if found is None:
            found = self._pattern(service, values)
            if len(self._patterns) >= _PATTERNS:
                self._patterns.clear()
            self._patterns[key] = found
        fields, checks, none_open = found
        if none_open is not None:
            return none_open
        missing = tuple([name for name in fields if facts[name] is None])
        return _tuple(Decided, (service, Status.UNDETERMINED, missing, checks))  # Decided(...), quicker

    def _pattern(self, service: str, values: Mapping[str, Tri]) -> _Pattern:
        """What the rule ``values`` of an undetermined ``service`` leave open.

        The fields of its open rules that could settle it (ranked), its checks that hold, and its
        decision if no field could (then it is the same for every case with these values).
        """
        # Undetermined: no exclusion holds, so every open exclusion is open; the open grants and
        # checks are open unless an eligible rule already holds (then only exclusions can settle it).
        granted = False
        open_rules = []
        checks = []
        for rule_id, kind, rule, fields in self.rows[service]:
            value = values.get(rule_id, _OUT)
            if value is None:
                open_rules.append((kind, fields))
            elif value is True:
                if kind == _GRANT:
                    granted = True
                elif kind == _CHECK:
                    checks.append(rule)
        found: dict[str, None] = {}
        for kind, fields in open_rules:
            if kind == _EXCLUDE or not granted:
                found.update(dict.fromkeys(fields))
        rank = self._field_rank
        # Sorted once here: a case's open fields are these in this order, less the known ones.
        fields = tuple(sorted(found, key=lambda name: rank.get(name, len(rank))))
        none_open = None if fields else Decided(service, Status.UNDETERMINED, (), tuple(checks))
        return fields, tuple(checks), none_open


#: Distinct patterns of rule values kept per rule set (a few hundred in practice).
_PATTERNS = 4096
_ALWAYS_OUT = itertools.repeat(_OUT)
_TABLE = "decide"


def decision_table(ruleset: Ruleset) -> DecisionTable:
    """The :class:`DecisionTable` of ``ruleset``, built on first use and kept with it."""
    found = ruleset._engines.get(_TABLE)
    if not isinstance(found, DecisionTable):
        found = ruleset._engines[_TABLE] = DecisionTable(ruleset)  # any thread's is as good
    return found


def reasons_of(
    ruleset: Ruleset, decided: Decided, values: Mapping[str, Tri], facts: Facts, as_of: dt.date, lang: str
) -> tuple[Reason, ...]:
    """The reasons a caseworker can check for one decision: each deciding rule with its conditions.

    The rules that granted (eligible), excluded or failed to grant (not eligible), or are still
    open (undetermined); for a decision that is not eligible, also the granting rules out of
    force on ``as_of`` whose conditions would still hold.
    """
    rules = ruleset.rules_of(decided.service)
    active = [rule for rule in rules if rule.id in values]
    _, _, exclusion = _combine(active, values)
    deciding = _deciding_rules(decided.status, active, values, exclusion)
    reasons = [_reason(rule, values[rule.id], True, facts, as_of, lang) for rule in deciding]
    if decided.status is not Status.ELIGIBLE:
        reasons += _lapsed_reasons(rules, values, facts, as_of, lang)
    return tuple(reasons)


_STATUS: dict[Tri, Status] = {True: Status.ELIGIBLE, False: Status.NOT_ELIGIBLE, None: Status.UNDETERMINED}


def _sides(active: list[Rule], values: Mapping[str, Tri]) -> tuple[Tri, Tri]:
    """The Kleene OR of the granting side (a check grants at most unknown) and of the exclusions."""
    grant: Tri = False
    exclusion: Tri = False
    for rule in active:
        value = values[rule.id]
        if rule.effect == "not_eligible":
            if value is True or exclusion is True:
                exclusion = True
            elif value is None:
                exclusion = None
        elif grant is not True:
            if value is True and rule.effect == "eligible":
                grant = True
            elif value is not False:
                grant = None
    return grant, exclusion


def _combine(active: list[Rule], values: Mapping[str, Tri]) -> tuple[Status, Tri, Tri]:
    """Grant and not exclusion (Kleene) over the rules in force: the status, the grant, the exclusion."""
    grant, exclusion = _sides(active, values)
    return _STATUS[kleene_and(grant, kleene_not(exclusion))], grant, exclusion


#: Per service: its exclusions' ids, and its granting rules' ids with whether each grants (not
#: just a check). Kept per rule set (by the identity of its rules and services, which it holds).
_Table = tuple[tuple[str, tuple[str, ...], tuple[tuple[str, bool], ...]], ...]
_TABLES: dict[tuple[int, int], tuple[object, object, _Table]] = {}
_MAX_TABLES = 64
_ABSENT = object()  # a rule not in force on the day: not among the values


def _table(ruleset: Ruleset) -> _Table:
    key = (id(ruleset.rules), id(ruleset.services))
    entry = _TABLES.get(key)
    if entry is not None and entry[0] is ruleset.rules and entry[1] is ruleset.services:
        return entry[2]
    table = tuple(
        (
            service.id,
            tuple(r.id for r in ruleset.rules_of(service.id) if r.effect == "not_eligible"),
            tuple(
                (r.id, r.effect == "eligible")
                for r in ruleset.rules_of(service.id)
                if r.effect != "not_eligible"
            ),
        )
        for service in ruleset.services
    )
    if len(_TABLES) >= _MAX_TABLES:
        _TABLES.clear()
    _TABLES[key] = (ruleset.rules, ruleset.services, table)
    return table


def statuses(ruleset: Ruleset, values: Mapping[str, Tri]) -> dict[str, Status]:
    """Only the status of every service, without reasons: for probing other dates and facts cheaply.

    The same Kleene combination as :func:`_sides` (grant and not exclusion over the rules in
    force, i.e. those in ``values``), stopping at the first rule that settles a side.
    """
    result = {}
    get = values.get
    for service_id, exclusions, grants in _table(ruleset):
        exclusion: Tri = False
        for rule_id in exclusions:
            value = get(rule_id, _ABSENT)
            if value is True:
                exclusion = True
                break
            if value is None:
                exclusion = None
        if exclusion is True:
            result[service_id] = Status.NOT_ELIGIBLE
            continue
        grant: Tri = False
        for rule_id, grants_alone in grants:
            value = get(rule_id, _ABSENT)
            if value is True and grants_alone:
                grant = True
                break
            if value is True or value is None:  # a check that holds grants at most "unknown"
                grant = None
        if grant is False:
            result[service_id] = Status.NOT_ELIGIBLE
        elif grant is True and exclusion is False:
            result[service_id] = Status.ELIGIBLE
        else:
            result[service_id] = Status.UNDETERMINED
    return result


def _deciding_rules(
    status: Status, active: list[Rule], values: Mapping[str, Tri], exclusion: Tri
) -> list[Rule]:
    """The rules that explain ``status``: what granted, what excluded, or what is still open."""
    if status is Status.ELIGIBLE:
        return [r for r in active if r.effect == "eligible" and values[r.id] is True]
    if status is Status.NOT_ELIGIBLE:
        if exclusion is True:
            return [r for r in active if r.effect == "not_eligible" and values[r.id] is True]
        return [r for r in active if r.effect != "not_eligible"]
    # Undetermined: what is still open, plus what already holds on the granting side.
    return [
        r for r in active if values[r.id] is None or (values[r.id] is True and r.effect != "not_eligible")
    ]


def _lapsed_reasons(
    rules: tuple[Rule, ...],
    values: Mapping[str, Tri],
    facts: Facts,
    as_of: dt.date,
    lang: str,
) -> list[Reason]:
    """Granting rules not in force on ``as_of`` whose conditions would still hold (or may hold)."""
    reasons = []
    for rule in rules:
        if rule.id in values or rule.effect == "not_eligible":
            continue
        value = rule.when.test(facts, as_of)
        if value is not False:
            reasons.append(_reason(rule, value, False, facts, as_of, lang))
    return reasons


def shown_value(field: str, value: Any) -> ConditionValue | None:
    """A fact as a reason shows it: dates as ISO text, the German level as its CEFR name."""
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if field == "language_level":
        level: str = LANGUAGE_LEVELS[value]
        return level
    return cast(ConditionValue, value)


def _reason(rule: Rule, value: Tri, in_force: bool, facts: Facts, as_of: dt.date, lang: str) -> Reason:
    conditions = []
    for leaf, outcomes in zip(rule.leaves, rule.outcomes, strict=True):
        condition = outcomes[leaf.test(facts, as_of)]
        actual = facts[leaf.field]
        if actual is not None:
            shown = shown_value(condition.field, actual)
            condition = _construct(ConditionOutcome, {**condition.__dict__, "actual": shown})
        conditions.append(condition)
    # Every value comes from the validated rule set or the validated profile: no re-validation.
    return _construct(
        Reason,
        {
            "rule": rule.id,
            "effect": rule.effect,
            "outcome": _RULE_OUTCOME[value],
            "in_force": in_force,
            "source": rule.source,
            "confidence": rule.confidence,
            "valid_from": rule.valid_from,
            "valid_to": rule.valid_to,
            "note": rule.note.get(lang) if rule.note else None,
            "conditions": tuple(conditions),
        },
    )


_M = TypeVar("_M", Reason, ConditionOutcome)


def _construct(cls: type[_M], fields: dict[str, Any]) -> _M:
    """A copy of a validated model with other validated values: what ``model_construct`` does.

    ``fields`` holds every field. This runs for every condition with a known value of every
    reason, where ``model_construct`` (about 2.5 µs) costs three times as much as setting
    pydantic's four instance slots directly.
    """
    model = cls.__new__(cls)
    object.__setattr__(model, "__dict__", fields)
    object.__setattr__(model, "__pydantic_fields_set__", set(fields))
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model
