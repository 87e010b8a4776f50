"""The durable engine's networks per residence status (partial evaluation) equal the reference.

Every test here needs durable-rules (the ``durable`` extra, which ``test`` does not install); the
folding and the generated status function are tested without it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referral_engine import CaseProfile, EngineError, Ruleset, default_ruleset, load_ruleset
from referral_engine._status_code import status_function
from referral_engine.conditions import (
    AllOf,
    AnyOf,
    Condition,
    Leaf,
    Not,
    all_of,
    any_of,
    fold,
    leaf,
    negation,
)
from referral_engine.decide import evaluate_rules, statuses
from referral_engine.engines import decider, durable_available
from referral_engine.facts import FIELDS, Facts, facts_for
from referral_engine.ruleset import Rule

from .conftest import examples
from .strategies import cases
from .test_engines import _DATES, _conditions, _facts, _rules

needs_durable = pytest.mark.skipif(not durable_available(), reason="durable-rules is not installed")
STATUS = "residence_status"
STATUSES = (*FIELDS[STATUS].values, None)
DAY = dt.date(2026, 3, 1)


def _kind(condition: Condition | bool | None) -> str:
    return "open" if isinstance(condition, (Leaf, AllOf, AnyOf, Not)) else "constant"


# --- folding ----------------------------------------------------------------------------------


@settings(max_examples=examples(1000), deadline=None)
@given(_conditions(), st.sampled_from(STATUSES), _facts(), _DATES)
def test_a_folded_condition_equals_the_condition_on_every_case_with_that_value(
    condition: Condition, value: Any, facts: Facts, as_of: dt.date
) -> None:
    facts = {**facts, STATUS: value}
    folded = fold(condition, STATUS, value)
    expected = condition.test(facts, as_of)
    if _kind(folded) == "constant":
        assert folded is expected
    else:
        assert isinstance(folded, (Leaf, AllOf, AnyOf, Not))
        assert folded.test(facts, as_of) is expected
        if value is not None:  # a known value decides every comparison of the field
            assert not any(
                leaf.field == STATUS and leaf.op in ("eq", "ne", "in", "not_in") for leaf in folded.leaves()
            )


def test_a_condition_without_the_field_folds_to_itself() -> None:
    rule = next(rule for rule in default_ruleset().rules if all(leaf.field != STATUS for leaf in rule.leaves))
    assert fold(rule.when, STATUS, "duldung") is rule.when


# --- the status function ----------------------------------------------------------------------


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_the_generated_status_function_equals_statuses(case: tuple[CaseProfile, dt.date]) -> None:
    """With no value fixed, and with the values of the rules the case's residence status settles fixed."""
    profile, as_of = case
    ruleset = default_ruleset()
    facts = facts_for(profile, as_of)
    values = evaluate_rules(ruleset, facts, as_of)
    in_force = ruleset.rules_in_force(as_of)
    assert status_function(ruleset, in_force, {})(values) == statuses(ruleset, values)
    settled: dict[str, bool | None] = {}
    for rule in in_force:
        folded = fold(rule.when, STATUS, facts[STATUS])
        if folded is None or isinstance(folded, bool):
            settled[rule.id] = folded
    assert all(values[rule_id] is value for rule_id, value in settled.items())
    assert status_function(ruleset, in_force, settled)(values) == statuses(ruleset, values)


# --- the networks -----------------------------------------------------------------------------


@pytest.fixture
def durable() -> Any:
    if not durable_available():
        pytest.skip("durable-rules is not installed")
    from referral_engine import _durable

    return _durable


@pytest.fixture
def fresh_rules() -> Ruleset:
    """The bundled rules with a durable engine of their own (other tests share the default's)."""
    return load_ruleset(default_ruleset().path.rstrip("/"), engine="durable")


@needs_durable
@settings(max_examples=examples(600), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_the_bundled_rules_decide_on_their_networks_as_the_reference(
    case: tuple[CaseProfile, dt.date],
) -> None:
    from referral_engine import _durable
    from referral_engine.engines import compiled

    profile, as_of = case
    ruleset = default_ruleset()
    facts = facts_for(profile, as_of)
    values = evaluate_rules(ruleset, facts, as_of)
    assert decider(ruleset, "durable")(facts, as_of) == (values, statuses(ruleset, values))
    engine = compiled(ruleset, "durable")
    assert isinstance(engine, _durable.DurableEngine)
    assert engine.run(facts, as_of) == (tuple(values.values()), tuple(statuses(ruleset, values).values()))
    assert engine._field == STATUS
    assert engine._network(facts) is not engine._base  # decided on its status's network


@needs_durable
def test_values_alike_share_a_network_compiled_on_first_use(durable: Any, fresh_rules: Ruleset) -> None:
    engine = durable.DurableEngine(fresh_rules)
    variants = engine._variants
    assert set(variants) == set(STATUSES)
    distinct = {id(variant) for variant in variants.values()}
    assert 1 < len(distinct) < len(STATUSES)  # some statuses fold every rule alike
    assert engine._by_variant == {}  # nothing compiled before a case
    met = set()
    for value in STATUSES:
        facts = facts_for(CaseProfile(age=30, residence_status=value), DAY)
        values, decided = engine.decide(facts, DAY)
        assert values == evaluate_rules(fresh_rules, facts, DAY)
        assert decided == statuses(fresh_rules, values)
        met.add(id(variants[value]))
        assert len(engine._by_variant) == len(met)  # one network per distinct variant met so far
    # Each network holds only the rules its status leaves open, none comparing the status by value.
    for value in FIELDS[STATUS].values:
        rules, settled, joined = variants[value]
        assert len(rules) + len(settled) == len(fresh_rules.rules)
        assert len(rules) < len(fresh_rules.rules) // 2
        assert joined == {}
        assert not any(leaf.field == STATUS for rule in rules for leaf in rule.leaves)


@needs_durable
def test_small_rule_sets_get_one_network(
    durable: Any, minimal_ruleset: Ruleset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below the threshold no status gets a network (durable never frees one): one handle in all."""
    compiled_handles = []
    real = durable.core.create_ruleset

    def counting(*args: Any) -> Any:
        compiled_handles.append(args[0])
        return real(*args)

    monkeypatch.setattr(durable.core, "create_ruleset", counting)
    engine = durable.DurableEngine(minimal_ruleset)
    for value in STATUSES:
        facts = facts_for(CaseProfile(age=30, residence_status=value), DAY)
        assert engine.evaluate(facts, DAY) == evaluate_rules(minimal_ruleset, facts, DAY)
    assert engine._variants == {}
    assert len(compiled_handles) == 1


@needs_durable
@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_rules(), min_size=1, max_size=10, unique_by=lambda rule: rule.id),
    st.lists(st.tuples(_facts(), _DATES), min_size=1, max_size=20),
)
def test_networks_decide_generated_rule_sets_as_the_reference(
    minimal_ruleset: Ruleset, rules: list[Rule], cases: list[tuple[Facts, dt.date]]
) -> None:
    """With the threshold lowered to one rule, every generated rule set with an enumeration gets networks."""
    from referral_engine import _durable

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_durable, "SPECIALISE_MIN_RULES", 1)
        ruleset = dataclasses.replace(minimal_ruleset, rules=tuple(rules))
        engine = _durable.DurableEngine(ruleset)
    for facts, as_of in cases:
        values = evaluate_rules(ruleset, facts, as_of)
        assert engine.evaluate(facts, as_of) == values
        assert engine.decide(facts, as_of) == (values, statuses(ruleset, values))
        ordered = tuple(values[rule.id] for rule in ruleset.rules_in_force(as_of))
        assert engine.run(facts, as_of) == (ordered, tuple(statuses(ruleset, values).values()))
    if engine._field is not None:
        assert engine._variants
        assert all(engine._network(facts) is not engine._base for facts, _ in cases)


@needs_durable
def test_a_status_whose_rules_durable_cannot_run_takes_the_network_of_all_rules(
    durable: Any, fresh_rules: Ruleset, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = durable._limits
    refused = fresh_rules.rules[0]

    def limits(rules: Any) -> Any:
        # Every variant has fewer rules than the rule set: pretend durable refuses them all.
        return (
            real(rules) if len(rules) == len(fresh_rules.rules) else [durable._problem(refused, "too wide")]
        )

    monkeypatch.setattr(durable, "_limits", limits)
    engine = durable.DurableEngine(fresh_rules)
    assert engine._variants == {}
    facts = facts_for(CaseProfile(age=30, residence_status="duldung"), DAY)
    assert engine._network(facts) is engine._base
    assert engine.evaluate(facts, DAY) == evaluate_rules(fresh_rules, facts, DAY)


@needs_durable
def test_a_failure_renews_only_the_network_it_happened_on(
    durable: Any, fresh_rules: Ruleset, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = durable.DurableEngine(fresh_rules)
    refugee = facts_for(CaseProfile(age=30, residence_status="ae_25_2_refugee"), DAY)
    tolerated = facts_for(CaseProfile(age=30, residence_status="duldung"), DAY)
    assert engine._network(refugee) is not engine._network(tolerated)
    broken = engine._network(refugee)
    handle = broken.handle

    def fail(*args: object) -> None:
        raise durable.core.error("Could not assert fact, error code: 101")

    monkeypatch.setattr(durable.core, "assert_fact", fail)
    with pytest.raises(EngineError, match="error code 101"):
        engine.evaluate(refugee, DAY)
    monkeypatch.undo()
    assert broken.dirty
    assert broken.handle == handle  # never touched again, never freed
    assert engine.evaluate(tolerated, DAY) == evaluate_rules(fresh_rules, tolerated, DAY)
    assert engine.renewals == 0  # the other network was clean
    assert engine.evaluate(refugee, DAY) == evaluate_rules(fresh_rules, refugee, DAY)
    assert engine.renewals == 1
    assert broken.handle != handle
    assert not broken.dirty


@needs_durable
def test_every_network_of_the_bundled_rules_fits_in_bounded_memory(
    durable: Any, fresh_rules: Ruleset
) -> None:
    """All of them compiled and used: about 23 MiB measured (DurableEngine's docstring); bounded at 100."""
    status = Path("/proc/self/status")
    if not status.exists():
        pytest.skip("the resident set size is read from /proc")

    def resident_mib() -> float:
        line = next(line for line in status.read_text().splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024

    engine = durable.DurableEngine(fresh_rules)
    before = resident_mib()
    for value in STATUSES:
        engine.evaluate(facts_for(CaseProfile(age=30, residence_status=value), DAY), DAY)
    grown = resident_mib() - before
    assert len(engine._by_variant) == len({id(variant) for variant in engine._variants.values()})
    assert 0 < grown < 100


@needs_durable
def test_a_status_that_settles_every_rule_asks_durable_nothing(
    durable: Any, minimal_ruleset: Ruleset, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tuple(
        dataclasses.replace(minimal_ruleset.rules[0], id=f"r{n}", when=leaf(STATUS, "eq", value, value))
        for n, value in enumerate(("duldung", "gestattung"))
    )
    ruleset = dataclasses.replace(minimal_ruleset, rules=rules)
    monkeypatch.setattr(durable, "SPECIALISE_MIN_RULES", 1)
    engine = durable.DurableEngine(ruleset)
    asked = []
    real = durable.core.assert_fact

    def asserting(*args: Any) -> Any:
        asked.append(args)
        return real(*args)

    monkeypatch.setattr(durable.core, "assert_fact", asserting)
    for value in ("duldung", "settlement", None):
        facts = facts_for(CaseProfile(residence_status=value), DAY)
        assert engine.decide(facts, DAY) == (
            evaluate_rules(ruleset, facts, DAY),
            statuses(ruleset, evaluate_rules(ruleset, facts, DAY)),
        )
    assert asked == []


@needs_durable
def test_the_open_sets_kept_by_pattern_of_known_fields_are_bounded_and_right(fresh_rules: Ruleset) -> None:
    """Which fields are unknown (never their values) keys a bounded memo; a full memo starts over, right."""
    from referral_engine import _durable

    engine = _durable.DurableEngine(fresh_rules)
    fields = ("age", "entry_date", "benefits", "employment", "accommodation", "registered_jobseeker")
    full = {
        "age": 30,
        "entry_date": dt.date(2024, 5, 1),
        "benefits": "sgb2",
        "employment": "unemployed",
        "accommodation": "private",
        "registered_jobseeker": True,
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_durable, "_MAX_KNOWN_PATTERNS", 3)
        for mask in range(1 << len(fields)):
            known = {name: value for bit, (name, value) in enumerate(full.items()) if mask >> bit & 1}
            profile = CaseProfile(residence_status="settlement", **known)
            facts = facts_for(profile, DAY)
            values = evaluate_rules(fresh_rules, facts, DAY)
            assert engine.decide(facts, DAY) == (values, statuses(fresh_rules, values))
            found = statuses(fresh_rules, values)
            assert engine.run(facts, DAY) == (tuple(values.values()), tuple(found.values()))
            memo = engine._network(facts).encode.__globals__["BY_KNOWN"]
            assert 0 < len(memo) <= 3
            assert all(type(key) is int for key in memo)  # a bit per field, no value
            # run()'s rule values before anything fired, by which sets of fields are open
            opened = engine._network(facts).plan(DAY).opened
            assert 0 < len(opened) <= 3
            assert all(all(type(index) is int for index in key) for key in opened)


@needs_durable
def test_every_case_leaves_its_network_empty(fresh_rules: Ruleset) -> None:
    """The fact is retracted by its session and id alone, and nothing of the case stays in durable."""
    import durable_rules_engine as core  # type: ignore[import-not-found]

    from referral_engine import _durable

    engine = _durable.DurableEngine(fresh_rules)
    seen = []
    for status in STATUSES:
        for age in (None, 10, 20, 30, 70):
            facts = facts_for(CaseProfile(residence_status=status, age=age, entry_date=DAY), DAY)
            values = evaluate_rules(fresh_rules, facts, DAY)
            expected = (tuple(values.values()), tuple(statuses(fresh_rules, values).values()))
            assert engine.run(facts, DAY) == expected
            assert engine.run(facts, DAY) == expected  # the same fact again: not "already observed"
            network = engine._network(facts)
            assert core.get_facts(network.handle, _durable._SESSION) == "[]"
            seen.append(network)
    assert len(set(map(id, seen))) > 1
    assert engine.renewals == 0


@needs_durable
def test_the_outer_group_test_only_where_patterns_span_several(durable: Any) -> None:
    """Up to 64 patterns share one outer group: its test and its fact property are left out."""
    base = default_ruleset()

    def rules(count: int) -> tuple[Rule, ...]:
        return tuple(
            dataclasses.replace(
                base.rules[0], id=f"r{index}", when=leaf("age", "ge", index, index), valid_from=None
            )
            for index in range(count)
        )

    for count, outer in ((64, False), (65, True)):
        definition = durable.compile_rules(rules(count))
        assert len(definition) == count  # on one field: no *fails* pattern can fire (can_fail_open)
        assert {"_g" in str(pattern) for pattern in definition.values()} == {outer}
        assert all("_h" in str(pattern) for pattern in definition.values())
        ruleset = dataclasses.replace(base, rules=rules(count))
        engine = durable.DurableEngine(ruleset)
        for age in (0, 30, count - 1, 99, None):  # from 63 on, every pattern holds at once
            facts = facts_for(CaseProfile(age=age), DAY)
            assert ("_g" in engine.fact(facts, DAY)) is outer
            assert engine.evaluate(facts, DAY) == evaluate_rules(ruleset, facts, DAY)


@needs_durable
def test_a_date_field_holding_something_else_is_a_type_error_without_the_value(durable: Any) -> None:
    engine = durable.DurableEngine(default_ruleset())
    facts = facts_for(CaseProfile(residence_status="duldung", age=30), DAY)
    for planted in ("MARKER-1999-01-01", dt.datetime(1999, 1, 1, 7, 7)):
        with pytest.raises(TypeError) as caught:
            engine.run({**facts, "entry_date": planted}, DAY)
        assert "MARKER" not in str(caught.value)
        assert "1999" not in str(caught.value)
        assert "date" in str(caught.value)


@needs_durable
@settings(max_examples=examples(1000), deadline=None)
@given(_conditions(), _facts(), _DATES)
def test_a_fails_pattern_left_out_could_never_have_fired(
    condition: Condition, facts: Facts, as_of: dt.date
) -> None:
    """Soundness of can_fail_open: a rule false on a case with one of its fields unknown keeps it."""
    from referral_engine import _durable as durable

    rule = dataclasses.replace(default_ruleset().rules[0], when=condition, valid_from=None, valid_to=None)
    fields = {leaf.field for leaf in condition.leaves()}
    if condition.test(facts, as_of) is False and any(facts[name] is None for name in fields):
        assert durable.can_fail_open(rule)


@needs_durable
def test_fails_patterns_are_left_out_where_they_cannot_fire(durable: Any) -> None:
    rule = default_ruleset().rules[0]

    def with_condition(when: Condition) -> Rule:
        return dataclasses.replace(rule, when=when)

    age, literate = leaf("age", "ge", 18, 18), leaf("literate_latin", "eq", True, True)
    assert not durable.can_fail_open(with_condition(age))  # one field: unknown, never false
    assert not durable.can_fail_open(with_condition(any_of((age, literate))))  # false needs both
    assert durable.can_fail_open(with_condition(all_of((age, literate))))  # one false part suffices
    assert durable.can_fail_open(with_condition(negation(any_of((age, literate)))))  # all of the negations


@needs_durable
def test_a_fact_flags_only_the_open_sets_a_fails_pattern_asks_about(durable: Any) -> None:
    base = default_ruleset()
    age, literate = leaf("age", "ge", 18, 18), leaf("literate_latin", "eq", True, True)
    for when, flagged in ((age, False), (any_of((age, literate)), False), (all_of((age, literate)), True)):
        ruleset = dataclasses.replace(
            base, rules=(dataclasses.replace(base.rules[0], when=when, valid_from=None, valid_to=None),)
        )
        engine = durable.DurableEngine(ruleset)
        for profile in (CaseProfile(literate_latin=False), CaseProfile(age=30), CaseProfile()):
            facts = facts_for(profile, DAY)
            assert any(key.startswith("o.") for key in engine.fact(facts, DAY)) is flagged
            assert engine.evaluate(facts, DAY) == evaluate_rules(ruleset, facts, DAY)
