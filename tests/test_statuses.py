"""``decide.statuses`` combines rule values exactly as the full decision does, for any values."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from referral_engine.conditions import Tri
from referral_engine.decide import _combine, statuses
from referral_engine.loader import default_ruleset
from referral_engine.ruleset import Ruleset

from .conftest import examples

RULES = default_ruleset()
_ABSENT = "absent"  # a rule not in force: not among the values


def _expected(ruleset: Ruleset, values: dict[str, Tri]) -> dict[str, object]:
    return {
        service.id: _combine([r for r in ruleset.rules_of(service.id) if r.id in values], values)[0]
        for service in ruleset.services
    }


@st.composite
def _values(draw: st.DrawFn, ruleset: Ruleset) -> dict[str, Tri]:
    drawn = {rule.id: draw(st.sampled_from([True, False, None, _ABSENT])) for rule in ruleset.rules}
    return {rule_id: value for rule_id, value in drawn.items() if value != _ABSENT}  # type: ignore[misc]


@settings(max_examples=examples(500), deadline=None)
@given(_values(RULES))
def test_statuses_are_the_combination_of_every_decision(values: dict[str, Tri]) -> None:
    assert statuses(RULES, values) == _expected(RULES, values)


@settings(max_examples=examples(100), deadline=None)
@given(st.data())
def test_another_rule_set_gets_its_own_statuses(data: st.DataObject) -> None:
    """Rule sets are told apart by their rules: a subset of the rules decides by the subset."""
    subset = dataclasses.replace(RULES, rules=RULES.rules[::2])
    values = data.draw(_values(RULES))
    assert statuses(subset, values) == _expected(subset, values)
    assert statuses(RULES, values) == _expected(RULES, values)
