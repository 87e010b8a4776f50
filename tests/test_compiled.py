"""The compiled python engine equals the reference evaluator: rule values and statuses, on every case.

``decide.evaluate_rules`` (the condition closures) is the reference; ``compiled.CompiledRules``
generates straight-line Python from the same rule tree. Hypothesis compares them on the bundled
rules with generated profiles and on generated rule sets with generated facts and dates.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referral_engine import CaseProfile, Ruleset, Status, default_ruleset, recommend
from referral_engine.compiled import _ANY, MAX_DEPTH, CompiledRules, compiled, dispatch_field, open_fields
from referral_engine.conditions import Condition, all_of, any_of, leaf, negation
from referral_engine.dates import Duration, period_end, window_start
from referral_engine.decide import decide, evaluate_rules, statuses
from referral_engine.engines import evaluator
from referral_engine.facts import Facts, facts_for
from referral_engine.ruleset import Rule

from .conftest import examples
from .strategies import cases
from .test_engines import _DATES, _facts, _rules

DAY = dt.date(2026, 3, 1)


def _reference(
    ruleset: Ruleset, facts: Facts, as_of: dt.date
) -> tuple[dict[str, bool | None], tuple[Status, ...]]:
    values = evaluate_rules(ruleset, facts, as_of)
    return values, tuple(statuses(ruleset, values).values())


def _run(
    engine: CompiledRules, facts: Facts, as_of: dt.date
) -> tuple[dict[str, bool | None], tuple[Status, ...]]:
    """``engine.run`` with the rule values by rule id, to compare with the reference."""
    values, codes = engine.run(facts, as_of)
    return dict(zip(engine.rule_ids(as_of), values, strict=True)), codes


def _screened(ruleset: Ruleset, facts: Facts, as_of: dt.date) -> tuple[Any, ...]:
    """The reference values and statuses, and the missing fields of every decision ``decide`` makes."""
    values, codes = _reference(ruleset, facts, as_of)
    missing = {name for decided in decide(ruleset, facts, as_of, values) for name in decided.missing}
    assert open_fields(ruleset, facts, values, codes) == missing
    return values, dict(zip((s.id for s in ruleset.services), codes, strict=True)), missing


@settings(max_examples=examples(1500), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_compiled_rules_equal_the_reference_on_the_bundled_rules(case: tuple[CaseProfile, dt.date]) -> None:
    """Every bundled rule's value, each status and the open fields equal the reference's for a case."""
    profile, as_of = case
    facts = facts_for(profile, as_of)
    rules = default_ruleset()
    assert _run(compiled(rules), facts, as_of) == _reference(rules, facts, as_of)
    assert compiled(rules).screen(facts, as_of) == _screened(rules, facts, as_of)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_rules(), min_size=1, max_size=12, unique_by=lambda rule: rule.id),
    st.lists(st.tuples(_facts(), _DATES), min_size=1, max_size=25),
)
def test_compiled_rules_equal_the_reference_on_generated_rule_sets(
    minimal_ruleset: Ruleset, rules: list[Rule], cases: list[tuple[Facts, dt.date]]
) -> None:
    """On generated rule sets every value, status, open field and single-service probe agrees."""
    ruleset = dataclasses.replace(minimal_ruleset, rules=tuple(rules))
    engine = CompiledRules(ruleset)
    for facts, as_of in cases:
        assert _run(engine, facts, as_of) == _reference(ruleset, facts, as_of)
        assert engine.evaluate(facts, as_of) == evaluate_rules(ruleset, facts, as_of)
        assert engine.screen(facts, as_of) == _screened(ruleset, facts, as_of)
        values, codes = _reference(ruleset, facts, as_of)
        for index, service in enumerate(ruleset.services):
            own = {rule.id: values[rule.id] for rule in ruleset.rules_of(service.id) if rule.id in values}
            assert engine.service_run(facts, as_of, service.id) == (own, codes[index])


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.sampled_from(["de", "en"]))
def test_recommend_with_the_compiled_engine_equals_recommend_with_the_reference(
    case: tuple[CaseProfile, dt.date], lang: str
) -> None:
    """A whole recommendation is the same whether the python engine runs compiled or as the reference."""
    profile, as_of = case
    rules = default_ruleset().with_engine("python")
    reference = dataclasses.replace(rules)  # a new object without compiled engines
    reference._engines["compiled"] = _ReferenceEngine(reference)
    assert recommend(profile, as_of=as_of, lang=lang, ruleset=rules) == recommend(
        profile,
        as_of=as_of,
        lang=lang,
        ruleset=reference,
    )


class _ReferenceEngine(CompiledRules):
    """The reference evaluator behind the compiled engine's interface."""

    def run(self, facts: Facts, as_of: dt.date) -> tuple[tuple[bool | None, ...], tuple[Status, ...]]:
        values, codes = _reference(self._ruleset, facts, as_of)
        return tuple(values[rule_id] for rule_id in self.rule_ids(as_of)), codes

    def evaluate(self, facts: Facts, as_of: dt.date) -> dict[str, bool | None]:
        return evaluate_rules(self._ruleset, facts, as_of)


def test_the_python_engine_is_the_compiled_one_built_once_per_ruleset() -> None:
    """``engine="python"`` evaluates with the compiled rules, shared by ``with_engine`` copies."""
    rules = default_ruleset()
    python = evaluator(rules, "python")
    again = evaluator(rules.with_engine("python"), "python")
    assert python.__self__ is again.__self__ is compiled(rules)  # type: ignore[attr-defined]


def test_each_span_of_rules_in_force_is_compiled_once_and_each_date_bound_once() -> None:
    """Dates between the same validity bounds share one compiled function; a date is bound once."""
    engine = CompiledRules(default_ruleset())
    facts = facts_for(CaseProfile(age=19, residence_status="gestattung"), DAY)
    first = _run(engine, facts, DAY)
    _run(engine, facts, DAY + dt.timedelta(days=1))
    assert len(engine._spans) == 1
    assert len(engine._dates) == 2
    assert _run(engine, facts, DAY) == first
    _run(engine, facts, dt.date(2016, 6, 1))
    assert len(engine._spans) == 2


def test_the_generated_source_holds_no_case_data_and_names_rules_by_repr() -> None:
    """The source is built from the rule tree: rule ids as literals, fields read by name, no case values."""
    rules = default_ruleset()
    source = compiled(rules).source(DAY)
    assert "def run(facts):" in source
    assert repr(rules.rules_in_force(DAY)[0].id) in source
    assert "facts['age']" in source
    assert "eval(" not in source


def test_awkward_ids_and_operands_are_literals_that_read_back_unchanged(minimal_ruleset: Ruleset) -> None:
    """A rule id or operand with quotes, backslashes and newlines cannot break out of the generated source."""
    nasty = 'x\'); import os; (\'\\\n"""'
    rule = dataclasses.replace(
        minimal_ruleset.rules[0],
        id=nasty,
        when=any_of(
            (
                leaf("municipality", "eq", nasty, nasty),
                leaf("municipality", "in", frozenset({nasty}), (nasty,)),
            )
        ),
        valid_from=None,
        valid_to=None,
    )
    ruleset = dataclasses.replace(minimal_ruleset, rules=(rule,))
    engine = CompiledRules(ruleset)
    for town in (nasty, "staufen", None):
        facts = facts_for(CaseProfile(), DAY) | {"municipality": town}
        assert _run(engine, facts, DAY) == _reference(ruleset, facts, DAY)
    assert engine.evaluate({**facts_for(CaseProfile(), DAY), "municipality": nasty}, DAY) == {nasty: True}


def test_a_condition_nested_too_deep_for_the_parser_falls_back_to_its_closure(
    minimal_ruleset: Ruleset,
) -> None:
    """A rule nested deeper than ``MAX_DEPTH`` is evaluated by its closure, with the same values."""
    condition: Condition = leaf("age", "ge", 18, 18)
    for index in range(MAX_DEPTH + 5):
        condition = negation(condition) if index % 2 else all_of((condition, leaf("age", "lt", 90, 90)))
    rule = dataclasses.replace(minimal_ruleset.rules[0], id="deep", when=condition, valid_from=None)
    ruleset = dataclasses.replace(minimal_ruleset, rules=(rule,))
    engine = CompiledRules(ruleset)
    assert "k0(facts, as_of)" in engine.source(DAY)
    for age in (None, 10, 30, 95):
        facts = facts_for(CaseProfile(age=age), DAY)
        assert _run(engine, facts, DAY) == _reference(ruleset, facts, DAY)
        assert engine.screen(facts, DAY) == _screened(ruleset, facts, DAY)


@settings(max_examples=examples(500), deadline=None)
@given(
    st.dates(),
    st.builds(Duration, st.integers(0, 60), st.integers(0, 30), st.integers(0, 400)).filter(
        lambda d: (d.years, d.months, d.days) != (0, 0, 0)
    ),
)
def test_window_start_is_the_earliest_start_whose_period_contains_the_day(
    day: dt.date, duration: Duration
) -> None:
    """A period from the window start contains the day; one starting a day earlier has ended."""
    start = window_start(day, duration)
    assert start <= day
    with contextlib.suppress(OverflowError, ValueError):  # a period end after 9999-12-31 contains it
        assert period_end(start, duration) >= day
    if start > dt.date.min:
        assert period_end(start - dt.timedelta(days=1), duration) < day


@pytest.mark.parametrize("as_of", [dt.date.max, dt.date(9999, 6, 1), dt.date.min, dt.date(1, 1, 20)])
def test_dates_at_the_ends_of_the_calendar_give_the_reference_values(
    minimal_ruleset: Ruleset, as_of: dt.date
) -> None:
    """At the calendar's ends the values agree; where the reference overflows, the window holds."""
    window = leaf("entry_date", "within", Duration(3), "P3Y")
    later = leaf("entry_date", "older_than", Duration(0, 6), "P6M")
    rules = (
        dataclasses.replace(minimal_ruleset.rules[0], id="a", when=window, valid_from=None),
        dataclasses.replace(minimal_ruleset.rules[0], id="b", when=later, valid_from=None),
    )
    ruleset = dataclasses.replace(minimal_ruleset, rules=rules)
    engine = CompiledRules(ruleset)
    for entry in (None, as_of):
        facts = {**facts_for(CaseProfile(), dt.date(2026, 1, 1)), "entry_date": entry}
        try:
            expected = _reference(ruleset, facts, as_of)
        except ValueError:  # the reference cannot compute a period end after 9999-12-31
            # The compiled engine compares with the window start, as durable does: the period
            # that began on as_of contains it, and has not ended.
            assert engine.evaluate(facts, as_of) == {"a": True, "b": False}
        else:
            assert _run(engine, facts, as_of) == expected
            assert engine.screen(facts, as_of) == _screened(ruleset, facts, as_of)


def test_threads_sharing_one_compiled_rule_set_get_the_reference_values() -> None:
    """Eight threads compiling and evaluating one rule set at once all get the reference's values."""
    ruleset = dataclasses.replace(default_ruleset())
    engine = compiled(ruleset)
    days = [DAY + dt.timedelta(days=n * 97) for n in range(-40, 8)]
    facts = facts_for(CaseProfile(age=30, residence_status="settlement", entry_date=dt.date(2024, 5, 1)), DAY)
    expected = [_reference(ruleset, facts, day) for day in days]
    failures: list[int] = []

    def work(offset: int) -> None:
        for index in range(len(days)):
            turn = (index + offset) % len(days)
            if _run(engine, facts, days[turn]) != expected[turn]:
                failures.append(turn)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_the_bundled_rules_dispatch_on_the_residence_status() -> None:
    """The enumeration most rules compare is the dispatch field; a status has fewer rules to test."""
    rules = default_ruleset()
    assert dispatch_field(rules.rules) == "residence_status"
    engine = compiled(rules)
    generic = engine.source(DAY)
    citizen = engine.source(DAY, "eu_citizen")
    # A rule is a variable where its value depends on the case, a literal where the status settles it.
    assert generic.count(" = None if ") + generic.count(" = False if ") + generic.count(" = True if ") > (
        citizen.count(" = None if ") + citizen.count(" = False if ") + citizen.count(" = True if ")
    )
    assert "'eu_citizen'" not in citizen.split("def screen")[0]


def test_dispatch_field_is_the_most_compared_enumeration_and_none_without_one(
    minimal_ruleset: Ruleset,
) -> None:
    """Only enumerations compared by equality or membership count; other fields never dispatch."""
    base = minimal_ruleset.rules[0]
    by_age = dataclasses.replace(base, id="a", when=leaf("age", "ge", 18, 18))
    by_benefits = dataclasses.replace(base, id="b", when=leaf("benefits", "eq", "sgb2", "sgb2"))
    by_both = dataclasses.replace(
        base,
        id="c",
        when=all_of(
            (leaf("benefits", "ne", "none", "none"), leaf("employment", "eq", "employed", "employed"))
        ),
    )
    assert dispatch_field([by_age]) is None
    assert dispatch_field([by_age, by_benefits, by_both]) == "benefits"


@pytest.mark.parametrize("value", ["not-a-status", None, "gestattung"])
def test_a_value_outside_the_enumeration_takes_the_function_for_any_value(value: object) -> None:
    """Facts with a value the enumeration does not know get the function for any value, and its values."""
    ruleset = dataclasses.replace(default_ruleset())
    engine = CompiledRules(ruleset)
    facts = facts_for(CaseProfile(age=19, entry_date=dt.date(2025, 1, 7)), DAY) | {"residence_status": value}
    assert _run(engine, facts, DAY) == _reference(ruleset, facts, DAY)
    assert engine.screen(facts, DAY) == _screened(ruleset, facts, DAY)
    own = value is None or value == "gestattung"
    assert {key for _, key in engine._spans} == ({value} if own else {_ANY})
