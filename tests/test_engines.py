"""Two engines, one semantics: choosing an engine, and the durable engine proven equal to the reference.

The python engine (``decide.evaluate_rules``) is the reference. The durable engine must give
every rule the same truth value, and so the same recommendation, for every profile and date:
on the bundled rules and on generated rule sets that use every operator, nesting and validity
window the rule format allows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referral_engine import CaseProfile, EngineError, Ruleset, UsageError, load_ruleset, recommend
from referral_engine import engines as engines_module
from referral_engine.conditions import Condition, all_of, any_of, leaf, negation
from referral_engine.dates import Duration
from referral_engine.decide import evaluate_rules
from referral_engine.engines import default_engine, durable_available, evaluator
from referral_engine.facts import FIELDS, Facts, facts_for
from referral_engine.graph import Located
from referral_engine.loader import _OPS_BY_KIND, default_ruleset
from referral_engine.models import LANGUAGE_LEVELS
from referral_engine.ruleset import Rule

from .conftest import REPO, examples
from .strategies import LANGUAGES, as_of_dates, cases

needs_durable = pytest.mark.skipif(not durable_available(), reason="durable-rules is not installed")

DAY = dt.date(2026, 3, 1)
PROFILE = {"age": 19, "residence_status": "gestattung", "municipality": "Staufen"}


# --- choosing an engine ----------------------------------------------------------------------


def test_the_default_is_the_python_engine_even_where_durable_imports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The python engine is the default; durable runs only when asked for."""
    monkeypatch.delenv(engines_module.ENV_VAR, raising=False)
    assert default_engine() == "python"
    chosen: list[str] = []
    real = engines_module.resolve

    def recording(engine: str | None, ruleset: Ruleset) -> str:
        chosen.append(real(engine, ruleset))
        return chosen[-1]

    monkeypatch.setattr(engines_module, "resolve", recording)
    assert recommend(PROFILE, as_of=DAY) == recommend(PROFILE, as_of=DAY, engine="python")
    assert chosen == ["python", "python"]


def test_the_environment_variable_opts_in_to_durable(monkeypatch: pytest.MonkeyPatch) -> None:
    """REFERRAL_ENGINE_ENGINE chooses the default engine of the process; a bad value is a usage error."""
    monkeypatch.setenv("REFERRAL_ENGINE_ENGINE", "durable")
    assert default_engine() == "durable"
    assert engines_module.resolve(None, default_ruleset().with_engine("python")) == "python"
    monkeypatch.setenv("REFERRAL_ENGINE_ENGINE", "drools")
    with pytest.raises(UsageError, match="REFERRAL_ENGINE_ENGINE must be one of: durable, python"):
        default_engine()
    monkeypatch.setenv("REFERRAL_ENGINE_ENGINE", "")
    assert default_engine() == "python"


def test_without_durable_asking_for_it_is_a_clear_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Asking for durable where it is not installed names the package and how to install it."""
    monkeypatch.setattr(engines_module, "_import_problem", [])
    monkeypatch.setattr(
        engines_module, "_try_import", lambda: "engine 'durable' needs the durable-rules package"
    )
    with pytest.raises(UsageError, match="durable-rules package"):
        recommend(PROFILE, as_of=DAY, engine="durable")


def test_durable_installed_but_not_importable_says_so_with_the_build_recipe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """durable-rules that is installed but does not import (plain build on 3.13) is named with the fix."""
    import builtins
    import importlib.metadata

    real_import = builtins.__import__

    def failing(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "durable_rules_engine" or (len(args) > 2 and args[2] and "_durable" in args[2]):
            raise ImportError("undefined symbol: PyEval_CallObject")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(engines_module, "_import_problem", [])
    monkeypatch.delitem(sys.modules, "referral_engine._durable", raising=False)
    monkeypatch.setattr(builtins, "__import__", failing)
    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: object())
    problem = engines_module.durable_problem()
    monkeypatch.undo()
    assert problem is not None
    assert "installed but does not import" in problem
    assert "PyEval_CallObject" in problem
    assert (
        "CPPFLAGS='-DPyEval_CallObject=PyObject_CallObject' pip install --no-cache-dir durable-rules==2.0.28"
        in problem
    )


@pytest.mark.parametrize("engine", ["drools", "", "Python"])
def test_an_unknown_engine_name_is_a_usage_error(engine: str) -> None:
    with pytest.raises(UsageError, match="engine must be one of: durable, python"):
        recommend(PROFILE, as_of=DAY, engine=engine)
    with pytest.raises(UsageError, match="engine must be one of"):
        default_ruleset().with_engine(engine)
    with pytest.raises(UsageError, match="engine must be one of"):
        load_ruleset(REPO / "rules", engine=engine)


def test_the_ruleset_carries_a_default_engine_that_recommend_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chosen: list[str | None] = []
    real = engines_module.resolve

    def spy(engine: str | None, ruleset: Ruleset) -> Any:
        name = real(engine, ruleset)
        chosen.append(name)
        return name

    monkeypatch.setattr(engines_module, "resolve", spy)
    python_rules = load_ruleset(REPO / "rules", engine="python")
    assert python_rules.engine == "python"
    assert default_ruleset().with_engine("python").engine == "python"
    assert default_ruleset().with_engine(None).engine is None
    recommend(PROFILE, as_of=DAY, ruleset=python_rules)
    assert chosen == ["python"]
    if durable_available():
        recommend(PROFILE, as_of=DAY, ruleset=python_rules, engine="durable")
        assert chosen == ["python", "durable"]


@needs_durable
def test_switching_engines_compiles_the_rules_once() -> None:
    rules = default_ruleset()
    durable = evaluator(rules.with_engine("durable"))
    again = evaluator(rules.with_engine("python").with_engine("durable"))
    assert durable.__self__ is again.__self__  # type: ignore[attr-defined]  # one compiled engine


def test_with_engine_leaves_the_original_unchanged() -> None:
    rules = default_ruleset()
    other = rules.with_engine("python")
    assert rules.engine is None
    assert other.engine == "python"
    assert other.rules is rules.rules
    assert other.ruleset_version == rules.ruleset_version


# --- the durable engine equals the reference -------------------------------------------------


@needs_durable
@settings(max_examples=examples(2000), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_both_engines_give_every_bundled_rule_the_same_value(case: tuple[CaseProfile, dt.date]) -> None:
    profile, as_of = case
    facts = facts_for(profile, as_of)
    rules = default_ruleset()
    assert evaluator(rules, "durable")(facts, as_of) == evaluate_rules(rules, facts, as_of)


@needs_durable
@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.sampled_from(["de", "en"]))
def test_both_engines_give_the_same_recommendation(case: tuple[CaseProfile, dt.date], lang: Any) -> None:
    profile, as_of = case
    durable = recommend(profile, as_of=as_of, lang=lang, engine="durable")
    assert durable == recommend(profile, as_of=as_of, lang=lang, engine="python")


# Generated rule sets: every field kind, every operator, nesting, negation and validity windows.

_DATES = st.dates(min_value=dt.date(2010, 1, 1), max_value=dt.date(2028, 12, 31))
_DURATIONS = st.builds(Duration, st.integers(0, 4), st.integers(0, 13), st.integers(0, 40)).filter(
    lambda d: (d.years, d.months, d.days) != (0, 0, 0)
)
_TOWNS = ("staufen", "bad krozingen", "hartheim", "münstertal", "sölden")


def _known_values(field: str) -> st.SearchStrategy[Any]:
    """Known fact values of one field, as ``facts_for`` stores them (levels as ranks)."""
    kind = FIELDS[field].kind
    return {
        "int": st.integers(0, 90),
        "date": _DATES,
        "enum": st.sampled_from(FIELDS[field].values or ("x",)),
        "level": st.integers(0, len(LANGUAGE_LEVELS) - 1),
        "bool": st.booleans(),
        "text": st.sampled_from(_TOWNS),
        "list": st.lists(st.sampled_from(LANGUAGES), max_size=3, unique=True).map(tuple),
    }[kind]


@st.composite
def _leaves(draw: st.DrawFn) -> Condition:
    field = draw(st.sampled_from(sorted(FIELDS)))
    op = draw(st.sampled_from(_OPS_BY_KIND[FIELDS[field].kind]))
    if op in ("within", "older_than"):
        duration = draw(_DURATIONS)
        return leaf(field, op, duration, str(duration))
    if op == "contains":
        code = draw(st.sampled_from(LANGUAGES))
        return leaf(field, op, code, code)
    if op in ("in", "not_in"):
        values = draw(st.lists(_known_values(field), min_size=1, max_size=4, unique=True))
        return leaf(field, op, frozenset(values), tuple(map(str, values)))
    value = draw(_known_values(field))
    return leaf(field, op, value, str(value))


def _conditions() -> st.SearchStrategy[Condition]:
    return st.recursive(
        _leaves(),
        lambda parts: st.one_of(
            st.lists(parts, min_size=1, max_size=3).map(lambda p: all_of(tuple(p))),
            st.lists(parts, min_size=1, max_size=3).map(lambda p: any_of(tuple(p))),
            parts.map(negation),
        ),
        max_leaves=6,
    )


@st.composite
def _rules(draw: st.DrawFn) -> Rule:
    valid_from = draw(st.none() | _DATES)
    valid_to = draw(st.none() | _DATES.filter(lambda d: valid_from is None or d >= valid_from))
    return Rule(
        id=f"r{draw(st.integers(0, 10**9))}",
        service="adult_counselling",
        effect=draw(st.sampled_from(("eligible", "not_eligible", "check"))),
        when=draw(_conditions()),
        source=("generated",),
        where=Located("generated.yaml", 1),
        valid_from=valid_from,
        valid_to=valid_to,
    )


@st.composite
def _facts(draw: st.DrawFn) -> Facts:
    return {name: draw(st.none() | _known_values(name)) for name in FIELDS}


@needs_durable
@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_rules(), min_size=1, max_size=12, unique_by=lambda rule: rule.id),
    st.lists(st.tuples(_facts(), _DATES), min_size=1, max_size=25),
)
def test_both_engines_agree_on_generated_rule_sets(
    minimal_ruleset: Ruleset, rules: list[Rule], cases: list[tuple[Facts, dt.date]]
) -> None:
    ruleset = dataclasses.replace(minimal_ruleset, rules=tuple(rules))
    durable = evaluator(ruleset, "durable")
    for facts, as_of in cases:
        assert durable(facts, as_of) == evaluate_rules(ruleset, facts, as_of)


@needs_durable
@pytest.mark.parametrize("op", ["eq", "ne", "in", "not_in"])
def test_durable_compares_place_names_with_umlauts_as_the_reference(
    minimal_ruleset: Ruleset, op: str
) -> None:
    """A rule on "Münstertal" decides on durable as on the reference (durable never decodes escapes)."""
    operand: Any = frozenset({"münstertal"}) if op in ("in", "not_in") else "münstertal"
    shown: Any = ("münstertal",) if op in ("in", "not_in") else "münstertal"
    rule = dataclasses.replace(
        minimal_ruleset.rules[0], id="place", when=leaf("municipality", op, operand, shown), valid_from=None
    )
    ruleset = dataclasses.replace(minimal_ruleset, rules=(rule,))
    durable = evaluator(ruleset, "durable")
    for town in ("münstertal", "sölden", "staufen", None):
        facts = {**facts_for(CaseProfile(), DAY), "municipality": town}
        assert durable(facts, DAY) == evaluate_rules(ruleset, facts, DAY)


@needs_durable
@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_rules(), min_size=1, max_size=6, unique_by=lambda rule: rule.id),
    st.lists(st.tuples(st.none() | _DATES, st.none() | _DATES), min_size=1, max_size=4),
    st.lists(st.tuples(_facts(), _DATES), min_size=1, max_size=20),
)
def test_rules_sharing_a_condition_share_a_pattern_and_keep_their_own_values(
    minimal_ruleset: Ruleset,
    rules: list[Rule],
    windows: list[tuple[dt.date | None, dt.date | None]],
    cases: list[tuple[Facts, dt.date]],
) -> None:
    """Copies with other effects and windows: one pattern per condition and window, values as python."""
    from referral_engine import _durable

    copies = [
        dataclasses.replace(
            rule,
            id=f"{rule.id}-{n}",
            effect=("eligible", "not_eligible", "check")[n % 3],
            valid_from=start,
            valid_to=end if start is None or end is None or end >= start else start,
        )
        for n, (start, end) in enumerate(windows)
        for rule in rules
    ]
    together = (*rules, *copies, *rules[:1])  # the last: the very same condition and window again
    together = tuple(dataclasses.replace(rule, id=f"x{n}") for n, rule in enumerate(together))
    ruleset = dataclasses.replace(minimal_ruleset, rules=together)
    distinct = {(repr(rule.when), rule.valid_from, rule.valid_to) for rule in together}
    assert len(_durable.compile_rules(together)) <= 2 * len(distinct) < 2 * len(together)
    durable = evaluator(ruleset, "durable")
    for facts, as_of in cases:
        assert durable(facts, as_of) == evaluate_rules(ruleset, facts, as_of)


@needs_durable
def test_a_profile_without_any_fact_is_undetermined_alike() -> None:
    empty = recommend({}, as_of=DAY, engine="durable")
    assert empty == recommend({}, as_of=DAY, engine="python")
    assert empty.eligible == ()
    assert set(empty.undetermined)


@needs_durable
def test_cases_alternating_between_colliding_session_ids_do_not_mix() -> None:
    # durable matches session ids by a 32-bit hash: 'case-478212' and 'case-1221200' share one.
    # The adapter never uses a caller's id as a session id; its single session holds one case at
    # a time, so whatever a caller calls its cases, they cannot see each other's facts.
    youth = CaseProfile(age=19, residence_status="gestattung", municipality="Staufen")
    adult = CaseProfile(age=45, residence_status="settlement", municipality="Bad Krozingen")
    labelled = {"case-478212": youth, "case-1221200": adult}
    expected = {label: recommend(p, as_of=DAY, engine="python") for label, p in labelled.items()}
    for _ in range(50):
        for label, profile in labelled.items():
            assert recommend(profile, as_of=DAY, engine="durable") == expected[label]


# --- durable failures become ours --------------------------------------------------------------


@pytest.fixture
def durable_module() -> Any:
    if not durable_available():
        pytest.skip("durable-rules is not installed")
    from referral_engine import _durable

    return _durable


MATCHING = CaseProfile(age=30, entry_date=dt.date(2025, 1, 7), residence_status="settlement")


def _stored_facts(durable_module: Any, engine: Any) -> list[Any]:
    return list(json.loads(durable_module.core.get_facts(engine._base.handle, "case")))


def test_after_a_failure_the_engine_starts_over_on_a_fresh_session(
    durable_module: Any, monkeypatch: pytest.MonkeyPatch, minimal_ruleset: Ruleset
) -> None:
    # Measured: going on with a session whose action failed (abandoned or not) segfaults or
    # silently stops firing. So the engine never touches it again.
    engine = durable_module.DurableEngine(minimal_ruleset)
    facts = facts_for(MATCHING, DAY)
    assert evaluate_rules(minimal_ruleset, facts, DAY)["adult-new"] is True  # so a rule fires
    broken = engine._base.handle

    def fail(*args: object) -> None:
        raise durable_module.core.error("Could not complete action, error code: 310")

    monkeypatch.setattr(durable_module.core, "complete_and_start_action", fail)
    with pytest.raises(EngineError, match=r"evaluating a case \(error code 310") as caught:
        engine.evaluate(facts, DAY)
    assert "settlement" not in str(caught.value)
    assert "2025" not in str(caught.value)
    assert engine._base.dirty
    assert engine._base.handle == broken
    monkeypatch.undo()
    assert engine.evaluate(facts, DAY) == evaluate_rules(minimal_ruleset, facts, DAY)
    assert engine.renewals == 1
    for _ in range(3):
        assert engine.evaluate(facts, DAY) == evaluate_rules(minimal_ruleset, facts, DAY)
    assert _stored_facts(durable_module, engine) == []


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (
            lambda core: core.error("Could not assert fact, error code: 303"),
            "error code 303: too many patterns",
        ),
        (lambda core: core.error("Could not assert fact, error code: 302"), "error code 302: a fact has too"),
        (lambda core: core.error("pyAssertFact Invalid argument"), r"\(error\)"),
        (lambda core: MemoryError(), r"\(MemoryError\)"),
    ],
    ids=["matching-stack", "too-many-properties", "bad-argument", "out-of-memory"],
)
def test_every_durable_exception_becomes_an_engine_error(
    durable_module: Any,
    monkeypatch: pytest.MonkeyPatch,
    minimal_ruleset: Ruleset,
    failure: Any,
    message: str,
) -> None:
    engine = durable_module.DurableEngine(minimal_ruleset)
    error = failure(durable_module.core)

    def fail(*args: object) -> None:
        raise error

    monkeypatch.setattr(durable_module.core, "assert_fact", fail)
    with pytest.raises(EngineError, match="durable-rules failed while evaluating a case") as caught:
        engine.evaluate(facts_for(MATCHING, DAY), DAY)
    assert caught.match(message)


@pytest.mark.parametrize("code", [2, 3, 7])
def test_an_unexpected_result_code_is_an_engine_error(
    durable_module: Any, monkeypatch: pytest.MonkeyPatch, minimal_ruleset: Ruleset, code: int
) -> None:
    # 2: the fact is still there after clearing it once; 3: deferred (queued), never used here.
    engine = durable_module.DurableEngine(minimal_ruleset)
    monkeypatch.setattr(durable_module.core, "assert_fact", lambda *args: (code, 0))
    with pytest.raises(EngineError, match=f"did not take the case \\(result code {code}\\)"):
        engine.evaluate(facts_for(MATCHING, DAY), DAY)


def test_a_fact_left_behind_is_cleared_and_the_case_decided(
    durable_module: Any, minimal_ruleset: Ruleset
) -> None:
    engine = durable_module.DurableEngine(minimal_ruleset)
    facts = facts_for(MATCHING, DAY)
    stale = engine.fact(facts, DAY)
    durable_module.core.assert_fact(engine._base.handle, json.dumps(stale))  # as if a retract had failed
    assert engine.evaluate(facts, DAY) == evaluate_rules(minimal_ruleset, facts, DAY)
    assert _stored_facts(durable_module, engine) == []


def test_a_failed_retract_is_an_engine_error(
    durable_module: Any, monkeypatch: pytest.MonkeyPatch, minimal_ruleset: Ruleset
) -> None:
    engine = durable_module.DurableEngine(minimal_ruleset)

    def fail(*args: object) -> None:
        raise durable_module.core.error("Could not retract fact, error code: 307")

    monkeypatch.setattr(durable_module.core, "retract_fact", fail)
    with pytest.raises(EngineError, match=r"retracting a case \(error code 307: a node was deleted\)"):
        engine.evaluate(facts_for(MATCHING, DAY), DAY)
    monkeypatch.setattr(durable_module.core, "retract_fact", lambda *args: (5, 0))
    with pytest.raises(EngineError, match=r"did not retract the case \(result code 5\)"):
        engine.evaluate(facts_for(MATCHING, DAY), DAY)


def test_an_action_this_engine_did_not_define_is_an_engine_error(
    durable_module: Any, monkeypatch: pytest.MonkeyPatch, minimal_ruleset: Ruleset
) -> None:
    engine = durable_module.DurableEngine(minimal_ruleset)
    monkeypatch.setattr(
        durable_module.core, "start_action_for_state", lambda *args: ("{}", '{"someone_else": {}}')
    )
    with pytest.raises(EngineError, match="did not define"):
        engine.evaluate(facts_for(MATCHING, DAY), DAY)
    with pytest.raises(EngineError, match="did not define"):
        engine.run(facts_for(MATCHING, DAY), DAY)


def test_a_rule_set_durable_rejects_is_an_engine_error(
    durable_module: Any, monkeypatch: pytest.MonkeyPatch, minimal_ruleset: Ruleset
) -> None:
    def fail(*args: object) -> None:
        raise durable_module.core.error("Could not create ruleset, error code: 202")

    monkeypatch.setattr(durable_module.core, "create_ruleset", fail)
    with pytest.raises(EngineError, match=r"compiling the rule set \(error code 202"):
        durable_module.DurableEngine(minimal_ruleset)


def test_a_rule_set_too_large_for_durable_says_so(durable_module: Any, minimal_ruleset: Ruleset) -> None:
    rule = minimal_ruleset.rules[0]
    many = tuple(dataclasses.replace(rule, id=f"r{i}") for i in range(513))
    with pytest.raises(EngineError, match="at most 512 rules"):
        durable_module.DurableEngine(dataclasses.replace(minimal_ruleset, rules=many))


def test_a_rule_set_whose_facts_durable_cannot_hold_says_so(
    durable_module: Any, minimal_ruleset: Ruleset
) -> None:
    # Each distinct set of fields the rules read adds a flag to every fact; durable takes 255.
    names = sorted(name for name, spec in FIELDS.items() if spec.kind != "list")
    combos = [(a, b, c) for a in names for b in names for c in names if a < b < c][:300]
    rules = tuple(
        dataclasses.replace(
            minimal_ruleset.rules[0],
            id=f"r{i}",
            when=all_of(tuple(leaf(name, "ne", "x", "x") for name in combo)),
        )
        for i, combo in enumerate(combos)
    )
    with pytest.raises(
        EngineError, match=r"rule 'r\d+': with this rule, durable-rules facts would need more than 255"
    ):
        durable_module.DurableEngine(dataclasses.replace(minimal_ruleset, rules=rules))


@pytest.mark.parametrize("fields", [1, 2])
def test_a_large_rule_set_stays_within_durables_limits(
    durable_module: Any, minimal_ruleset: Ruleset, fields: int
) -> None:
    # Hundreds of rules that all match one fact: durable's 64-node matching stack and 255-property
    # facts must not overflow (the rules are grouped; the fact carries a bounded set of flags).
    # 512 distinct conditions (rules sharing one would share a pattern); for age 89 all hold.
    # On one field, no rule can be false with its field unknown: no *fails* patterns. On two,
    # each has one, and with the age unknown and literate_latin false all 512 fire at once.
    def when(i: int) -> Condition:
        age = leaf("age", "ge", i - 423, i - 423)
        return age if fields == 1 else all_of((age, leaf("literate_latin", "eq", True, True)))

    rules = tuple(
        dataclasses.replace(minimal_ruleset.rules[0], id=f"r{i}", when=when(i), valid_from=None)
        for i in range(512)
    )
    ruleset = dataclasses.replace(minimal_ruleset, rules=rules)
    engine = durable_module.DurableEngine(ruleset)
    assert len(durable_module.compile_rules(rules)) == fields * 512
    for age in (0, 45, 89, None):
        for literate in (True, False, None):
            profile = CaseProfile(age=age, literate_latin=literate, languages=tuple(LANGUAGES))
            facts = facts_for(profile, DAY)
            assert engine.evaluate(facts, DAY) == evaluate_rules(ruleset, facts, DAY)


def test_window_start_is_the_earliest_start_whose_period_contains_the_day() -> None:
    from referral_engine.dates import period_end, window_start

    for duration in (Duration(3), Duration(0, 1), Duration(0, 0, 1), Duration(1, 6, 10)):
        for day in (dt.date(2026, 3, 1), dt.date(2024, 2, 29), dt.date(2026, 12, 31), dt.date(1, 1, 5)):
            start = window_start(day, duration)
            assert period_end(start, duration) >= day
            if start > dt.date.min:
                assert period_end(start - dt.timedelta(days=1), duration) < day


@given(as_of_dates())
def test_rules_in_force_are_the_rules_whose_window_contains_the_day(day: dt.date) -> None:
    rules = default_ruleset()
    assert rules.rules_in_force(day) == tuple(r for r in rules.rules if r.in_force(day))
    assert rules.rules_in_force(day) is rules.rules_in_force(day)  # memoised per date
