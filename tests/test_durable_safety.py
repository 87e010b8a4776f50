"""The durable engine is never wrong and never stuck: interrupts, forks, failures and its limits.

Every test here compares with the python engine, the reference. Tests that need durable-rules
are skipped where it does not import.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from referral_engine import CaseProfile, EngineError, RuleFileError, Ruleset, load_ruleset, recommend
from referral_engine.cli import main
from referral_engine.decide import evaluate_rules
from referral_engine.engines import durable_available
from referral_engine.facts import facts_for
from referral_engine.loader import default_ruleset

from .conftest import FIXTURES

pytestmark = pytest.mark.skipif(not durable_available(), reason="durable-rules does not import here")

DAY = dt.date(2026, 3, 1)
#: The issue's case: a 17-year-old refugee, four services with python, none after a bad Ctrl-C.
REFUGEE = CaseProfile(
    age=17, residence_status="gestattung", municipality="Staufen", entry_date=dt.date(2025, 9, 1)
)
PROFILES = [
    REFUGEE,
    CaseProfile(age=30, residence_status="settlement", municipality="Bad Krozingen"),
    CaseProfile(age=45, residence_status="duldung", employment="unemployed", language_level="A2"),
    CaseProfile(),
]
# Every call of durable's core the adapter makes while it decides one case (not update_state,
# which only re-asserts the session's state object, which no pattern reads).
CORE_CALLS = [
    "assert_fact",
    "start_action_for_state",
    "complete_and_start_action",
    "retract_fact",
]


@pytest.fixture
def durable() -> Any:
    """The adapter module (imported only where durable-rules imports)."""
    from referral_engine import _durable

    return _durable


@pytest.fixture
def fresh_rules() -> Ruleset:
    """The bundled rules with a durable engine of their own (other tests share the default's)."""
    return load_ruleset(default_ruleset().path.rstrip("/"), engine="durable")


def _expected() -> list[Any]:
    return [recommend(p, as_of=DAY, engine="python") for p in PROFILES]


def _inject(
    durable: Any, monkeypatch: pytest.MonkeyPatch, name: str, when: str, nth: int, error: type[BaseException]
) -> list[int]:
    """Make the ``nth`` call of core function ``name`` raise ``error`` before or after it runs."""
    real: Callable[..., Any] = getattr(durable.core, name)
    calls = [0]

    def interrupted(*args: Any) -> Any:
        calls[0] += 1
        if calls[0] == nth and when == "before":
            raise error()
        result = real(*args)
        if calls[0] == nth:
            raise error()
        return result

    monkeypatch.setattr(durable.core, name, interrupted)
    return calls


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("nth", [1, 2])
@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("name", CORE_CALLS)
def test_an_interrupt_at_any_core_call_leaves_every_later_result_right(
    durable: Any,
    fresh_rules: Ruleset,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    when: str,
    nth: int,
    error: type[BaseException],
) -> None:
    """An interrupt at a core call reaches the caller unchanged; afterwards durable equals python."""
    expected = _expected()
    calls = _inject(durable, monkeypatch, name, when, nth, error)
    caught: BaseException | None = None
    for _ in range(3):
        try:
            recommend(REFUGEE, as_of=DAY, ruleset=fresh_rules)
        except BaseException as raised:
            caught = raised
            break
    assert type(caught) is error  # never re-typed
    assert calls[0] >= nth
    monkeypatch.undo()
    for _ in range(3):
        assert [recommend(p, as_of=DAY, ruleset=fresh_rules) for p in PROFILES] == expected
    assert len(recommend(REFUGEE, as_of=DAY, ruleset=fresh_rules).eligible) == len(expected[0].eligible)


def test_failures_renew_the_handle_a_bounded_number_of_times(
    durable: Any, fresh_rules: Ruleset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each failure costs one fresh handle, up to a cap; then a clear EngineError; memory stays bounded."""
    engine = durable.DurableEngine(fresh_rules)
    facts = facts_for(REFUGEE, DAY)
    real = durable.core.complete_and_start_action

    def fail(*args: Any) -> Any:
        real(*args)
        raise durable.core.error("Could not complete action, error code: 303")

    monkeypatch.setattr(durable.core, "complete_and_start_action", fail)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    messages = []
    for _ in range(300):
        with pytest.raises(EngineError) as caught:
            engine.evaluate(facts, DAY)
        messages.append(str(caught.value))
    growth_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert engine.renewals == durable._MAX_RENEWALS
    # At most _MAX_RENEWALS handles of the bundled rules (about 7 MiB each for rule set 2026.3).
    assert growth_mib < 160, f"{growth_mib:.1f} MiB for 300 failures"
    assert "error code 303" in messages[0]
    assert "stops here to bound it" in messages[-1]
    assert "use engine='python'" in messages[-1]


def test_a_failed_engine_is_left_behind_by_loading_the_rules_again(durable: Any) -> None:
    """A rule set loaded again gets an engine of its own, with its own renewals."""
    first = load_ruleset(FIXTURES / "minimal", engine="durable")
    second = load_ruleset(FIXTURES / "minimal", engine="durable")
    assert first._engines["durable"] is not second._engines["durable"]
    assert getattr(second._engines["durable"], "renewals", None) == 0


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # 3.12+: fork() with threads running
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_fork_while_another_thread_uses_durable_does_not_hang_the_child(fresh_rules: Ruleset) -> None:
    """Children forked while a thread is inside the durable engine decide correctly and exit in time."""
    expected = recommend(REFUGEE, as_of=DAY, engine="python")
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            recommend(REFUGEE, as_of=DAY, ruleset=fresh_rules)

    worker = threading.Thread(target=busy, daemon=True)
    worker.start()
    failures: list[int | str] = []
    try:
        for _ in range(12):
            time.sleep(0.005)
            pid = os.fork()
            if pid == 0:  # the child: decide once, report by exit code, never return into pytest
                code = 1
                try:
                    code = 0 if recommend(REFUGEE, as_of=DAY, ruleset=fresh_rules) == expected else 3
                finally:
                    os._exit(code)
            deadline = time.monotonic() + 20
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    if os.waitstatus_to_exitcode(status) != 0:
                        failures.append(os.waitstatus_to_exitcode(status))
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
                    failures.append("hung")
                    break
                time.sleep(0.01)
    finally:
        stop.set()
        worker.join(timeout=30)
    assert failures == []


# --- rule sets durable cannot run are reported at load and by check ---------------------------


def _nested(depth: int) -> str:
    condition = "{field: age, op: ge, value: 5}"
    for level in range(depth):
        key = "all" if level % 2 else "any"
        condition = f"{{{key}: [{condition}, {{field: age, op: lt, value: {90 - level}}}]}}"
    return condition


def _with_rule(tmp_path: Path, when: str) -> Path:
    rules = f"""service: adult
rules:
  - id: adult-odd
    effect: eligible
    when: {when}
    source: "test"
"""
    folder = tmp_path / "rules"
    shutil.copytree(FIXTURES / "minimal", folder)
    (folder / "eligibility" / "odd.yaml").write_text(rules, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (_nested(16), "durable-rules cannot compile this condition"),
        (
            "{any: [" + ", ".join(f"{{field: age, op: ge, value: {k}}}" for k in range(65)) + "]}",
            "a condition of 65 alternatives",
        ),
        (
            "{not: {all: [" + ", ".join(f"{{field: age, op: lt, value: {k}}}" for k in range(70)) + "]}}",
            "a condition of 70 alternatives",
        ),
        (
            "{all: [{any: ["
            + ", ".join(f"{{field: age, op: ge, value: {k}}}" for k in range(40))
            + "]}, {any: ["
            + ", ".join(f"{{field: age, op: lt, value: {300 - k}}}" for k in range(30))
            + "]}]}",
            "a condition of 70 alternatives",
        ),
    ],
    ids=["nested-16", "wide-any", "negated-wide-all", "all-of-two-anys"],
)
def test_a_rule_durable_cannot_run_is_reported_at_load_and_by_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], when: str, message: str
) -> None:
    """load_ruleset(engine='durable') and check --engine durable locate the rule; python loads it."""
    folder = _with_rule(tmp_path, when)
    assert load_ruleset(folder).name == "minimal"  # the python engine runs it
    with pytest.raises(RuleFileError) as caught:
        load_ruleset(folder, engine="durable")
    (problem,) = caught.value.problems
    assert problem.file.endswith("eligibility/odd.yaml")
    assert problem.line == 3
    assert problem.rule == "adult-odd"
    assert message in problem.message
    assert main(["check", "--rules", str(folder), "--engine", "durable"]) == 1
    out = capsys.readouterr().out
    assert "odd.yaml:3" in out
    assert message in out


def test_more_than_512_rules_are_reported_at_the_first_rule_too_many(tmp_path: Path) -> None:
    """A rule set of 513 rules loads for python; for durable the 513th rule is named."""
    items = "".join(
        f"  - {{id: r{i}, effect: eligible, when: {{field: age, op: ge, value: {i % 90}}}, source: t}}\n"
        for i in range(513)
    )
    folder = _with_rule(tmp_path, "{field: age, op: ge, value: 1}")
    (folder / "eligibility" / "odd.yaml").write_text(f"service: adult\nrules:\n{items}", encoding="utf-8")
    assert len(load_ruleset(folder).rules) > 512
    with pytest.raises(RuleFileError, match="at most 512 rules"):
        load_ruleset(folder, engine="durable")


def test_a_durable_load_compiles_once_and_the_first_case_compiles_nothing(tmp_path: Path) -> None:
    """load_ruleset(engine='durable') compiles the engine up front."""
    rules = load_ruleset(FIXTURES / "minimal", engine="durable")
    assert "durable" in rules._engines


def test_the_cli_runs_the_durable_engine_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    """--engine durable gives the same JSON as the python engine."""
    assert main(["demo", "--json", "--engine", "durable"]) == 0
    durable_out = capsys.readouterr().out
    assert main(["demo", "--json", "--engine", "python"]) == 0
    assert capsys.readouterr().out == durable_out


# --- dates near 9999 --------------------------------------------------------------------------

END = dt.date(9999, 12, 31)
#: The last date case data may hold (models.LATEST_DATE): the ends of the allowed range.
LAST = dt.date(2100, 12, 31)


@pytest.mark.parametrize(
    ("profile", "as_of"),
    [
        ({"entry_date": "2100-12-31", "residence_status": "gestattung"}, LAST),
        ({"age": 30, "entry_date": "2024-01-01", "residence_status": "gestattung"}, LAST),
        ({"birth_date": "1990-01-01", "entry_date": "2100-12-30", "status_since": "2100-12-31"}, LAST),
        ({"birth_date": "2100-01-01", "entry_date": "2100-06-30"}, dt.date(2100, 12, 1)),
        ({"birth_date": "2090-02-28", "accommodation_since": "2100-12-31"}, LAST),
        ({"birth_date": "1900-01-01", "entry_date": "1900-01-01"}, dt.date(1900, 1, 1)),
    ],
)
def test_dates_at_the_ends_of_the_calendar_raise_nothing_and_both_engines_agree(
    profile: dict[str, Any], as_of: dt.date
) -> None:
    """Dates at the ends of the allowed range are decided alike by both engines, with timelines to 9999."""
    python = recommend(profile, as_of=as_of, engine="python")
    durable = recommend(profile, as_of=as_of, engine="durable")
    assert durable == python
    assert durable.timeline(END) == python.timeline(END)


def test_durable_errors_never_carry_case_values(durable: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine failure whose durable message holds the fact names the failure, never the values."""
    marker = CaseProfile(birth_date=dt.date(2009, 4, 7), residence_status="gestattung")

    def fail(handle: int, fact: str) -> Any:
        raise durable.core.error(f"Could not assert {fact}, error code: 101")

    monkeypatch.setattr(durable.core, "assert_fact", fail)
    rules = load_ruleset(FIXTURES / "minimal", engine="durable")
    with pytest.raises(EngineError, match="error code 101: out of memory") as caught:
        recommend(marker, as_of=DAY, ruleset=rules)
    assert "2009-04-07" not in str(caught.value)
    assert "20090407" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_after_fork_an_engine_busy_at_fork_time_starts_on_a_fresh_handle(
    durable: Any, fresh_rules: Ruleset
) -> None:
    """The fork hook renews only engines whose lock was held (a case under way); both decide right.

    Of a busy engine, only the network of the case under way (that case's residence status) is renewed.
    """
    busy = durable.DurableEngine(fresh_rules)
    idle = durable.DurableEngine(fresh_rules)
    facts = facts_for(REFUGEE, DAY)
    expected = evaluate_rules(fresh_rules, facts, DAY)
    assert busy.evaluate(facts, DAY) == expected  # the case the fork interrupts takes this network
    held = busy._lock
    held.acquire()  # as if another thread were inside a case when fork() ran
    try:
        durable._after_fork_in_child()
    finally:
        held.release()
    assert busy._lock is not held
    assert busy.evaluate(facts, DAY) == expected
    assert idle.evaluate(facts, DAY) == expected
    assert (busy.renewals, idle.renewals) == (1, 0)
