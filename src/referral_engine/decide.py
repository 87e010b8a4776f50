"""Deciding each service of a rule set for one case, with the reasons that decided it.

The reference evaluator :func:`evaluate_rules` gives every rule in force a truth value (``True``,
``False`` or ``None`` for unknown). :func:`decide` combines them per service — *grant and not
exclusion* in Kleene logic, see ``rules/README.md`` — and collects the reasons a caseworker can
check: each rule with its source, confidence, validity window and the outcome of each condition.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from .conditions import Tri, kleene_and, kleene_not, kleene_or
from .facts import Facts
from .models import Lang, Reason, RuleOutcome, Status
from .ruleset import Rule, Ruleset

_RULE_OUTCOME: dict[Tri, RuleOutcome] = {True: "holds", False: "fails", None: "unknown"}


def evaluate_rules(ruleset: Ruleset, facts: Facts, as_of: dt.date) -> dict[str, Tri]:
    """The truth value of every rule in force on ``as_of`` (the reference, pure-Python engine)."""
    return {rule.id: rule.when.test(facts, as_of) for rule in ruleset.rules_in_force(as_of)}


@dataclass(frozen=True, slots=True)
class Decided:
    """One service's decision before routing: status, reasons, open fields and pending checks."""

    service: str
    status: Status
    reasons: tuple[Reason, ...]
    missing: tuple[str, ...]
    checks: tuple[Rule, ...]


def decide(
    ruleset: Ruleset, facts: Facts, as_of: dt.date, values: Mapping[str, Tri], lang: Lang
) -> list[Decided]:
    """Decide every service of ``ruleset`` from the rule ``values`` an engine computed."""
    decided = []
    field_rank = {name: index for index, name in enumerate(ruleset.fields)}
    for service in ruleset.services:
        rules = ruleset.rules_of(service.id)
        active = [rule for rule in rules if rule.id in values]
        grant = kleene_or(
            values[r.id] if r.effect == "eligible" else kleene_and(values[r.id], None)
            for r in active
            if r.effect != "not_eligible"
        )
        exclusion = kleene_or(values[r.id] for r in active if r.effect == "not_eligible")
        value = kleene_and(grant, kleene_not(exclusion))
        status = {True: Status.ELIGIBLE, False: Status.NOT_ELIGIBLE, None: Status.UNDETERMINED}[value]
        deciding = _deciding_rules(status, active, values, exclusion)
        reasons = [_reason(ruleset, rule, values[rule.id], True, facts, as_of, lang) for rule in deciding]
        if status is not Status.ELIGIBLE:
            reasons += _lapsed_reasons(ruleset, rules, values, facts, as_of, lang)
        missing: dict[str, None] = {}
        if status is Status.UNDETERMINED:
            # Only the open side matters: with the grant already true, only exclusions can settle it.
            open_rules = [
                r
                for r in active
                if values[r.id] is None and (exclusion if r.effect == "not_eligible" else grant) is None
            ]
            for rule in open_rules:
                for leaf in rule.leaves:
                    if facts[leaf.field] is None:
                        missing.setdefault(leaf.field, None)
        checks = tuple(r for r in deciding if r.effect == "check" and values[r.id] is True)
        decided.append(
            Decided(
                service.id,
                status,
                tuple(reasons),
                tuple(sorted(missing, key=lambda name: field_rank.get(name, len(field_rank)))),
                checks if status is Status.UNDETERMINED else (),
            )
        )
    return decided


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
    ruleset: Ruleset,
    rules: tuple[Rule, ...],
    values: Mapping[str, Tri],
    facts: Facts,
    as_of: dt.date,
    lang: Lang,
) -> list[Reason]:
    """Granting rules not in force on ``as_of`` whose conditions would still hold (or may hold)."""
    reasons = []
    for rule in rules:
        if rule.id in values or rule.effect == "not_eligible":
            continue
        value = rule.when.test(facts, as_of)
        if value is not False:
            reasons.append(_reason(ruleset, rule, value, False, facts, as_of, lang))
    return reasons


_MEMO_LIMIT = 50_000


def _reason(
    ruleset: Ruleset, rule: Rule, value: Tri, in_force: bool, facts: Facts, as_of: dt.date, lang: Lang
) -> Reason:
    leaf_values = tuple(leaf.test(facts, as_of) for leaf in rule.leaves)
    key = (rule.id, value, in_force, lang, leaf_values)
    memo = ruleset._reason_memo
    reason = memo.get(key)
    if not isinstance(reason, Reason):
        reason = _build_reason(rule, value, in_force, leaf_values, lang)
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[key] = reason
    return reason


def _build_reason(rule: Rule, value: Tri, in_force: bool, leaf_values: tuple[Tri, ...], lang: Lang) -> Reason:
    # Every value below comes from the validated rule set, so the model is built without
    # re-validation.
    return Reason.model_construct(
        rule=rule.id,
        effect=rule.effect,
        outcome=_RULE_OUTCOME[value],
        in_force=in_force,
        source=rule.source,
        confidence=rule.confidence,
        valid_from=rule.valid_from,
        valid_to=rule.valid_to,
        note=rule.note.get(lang) if rule.note else None,
        conditions=tuple(outcomes[v] for v, outcomes in zip(leaf_values, rule.outcomes, strict=True)),
    )
