"""The examples and the README run as written."""

from __future__ import annotations

import datetime as dt
import json
import runpy
from pathlib import Path

import pytest

from referral_engine import recommend

from .conftest import REPO

CASES = sorted((REPO / "examples" / "cases").glob("*.json"))


def _case(name: str) -> tuple[dict[str, object], dt.date]:
    data = json.loads((REPO / "examples" / "cases" / name).read_text(encoding="utf-8"))
    return data["profile"], dt.date.fromisoformat(data["as_of"])


def test_quickstart_prints_what_the_readme_shows(capsys: pytest.CaptureFixture[str]) -> None:
    """examples/quickstart.py prints the same eligible services, partners and questions as the README."""
    runpy.run_path(str(REPO / "examples" / "quickstart.py"), run_name="__main__")
    lines = capsys.readouterr().out.splitlines()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for line in lines[:3]:
        assert line in readme
    assert len(lines) == 6
    assert all(line.startswith("- ") for line in lines[3:])


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_example_cases_are_valid_and_lead_somewhere(case: Path) -> None:
    """Each example case is a valid profile with an eligible service or a question, and next steps."""
    profile, as_of = _case(case.name)
    rec = recommend(profile, as_of=as_of)
    assert rec.eligible or rec.questions
    assert rec.next_steps


def test_explain_and_what_if_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """examples/explain_and_what_if.py prints the handover, the move and both sides of the admission stop."""
    runpy.run_path(str(REPO / "examples" / "explain_and_what_if.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "JMD valid until: 2026-05-15" in out
    assert "2026-05-15 handover: jmd → mbe" in out
    assert "changed: ('integrationsmanagement', 'fluechtlingssozialarbeit')" in out
    assert "Integrationsmanagement until: 2029-03-02" in out
    assert "2025-10-31 eligible until 2025-11-01" in out
    assert "2026-02-09 not_eligible until 2027-01-01" in out
    assert "(26)" not in out  # the explanation it prints is redacted


@pytest.mark.slow  # pytest also collects examples/rule_author_test.py itself (testpaths)
def test_rule_author_test_file_passes() -> None:
    """examples/rule_author_test.py, the test file a rule author keeps next to their rules, passes."""
    module = runpy.run_path(str(REPO / "examples" / "rule_author_test.py"), run_name="rule_author_test")
    tests = [value for name, value in module.items() if name.startswith("test_") and callable(value)]
    assert len(tests) == 5
    for test in tests:
        test()


@pytest.mark.slow  # two rule sets loaded from YAML and a local Dask cluster: about 10 s
def test_dask_rule_change_example_counts_what_a_single_process_counts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """examples/dask_rule_change.py at 3,000 cases: its counts per service are those of screen_table."""
    import pandas as pd

    from referral_engine import default_ruleset
    from referral_engine.columnar import screen_table

    module = runpy.run_path(str(REPO / "examples" / "dask_rule_change.py"), run_name="dask_rule_change")
    module["main"](["--cases", "3000", "--partitions", "3", "--workers", "2", "--in-process", "--seed", "5"])
    lines = capsys.readouterr().out.splitlines()
    printed = {
        line.split()[0]: tuple(int(n) for n in line.split()[1:]) for line in lines if line.startswith("jmd ")
    }
    cases = pd.concat([module["synthetic_cases"]((5, index, 1000)) for index in range(3)])
    before = screen_table(cases, as_of=module["AS_OF"], ruleset=default_ruleset())
    after = screen_table(cases, as_of=module["AS_OF"], ruleset=module["reformed_rules"](tmp_path))
    changed = int((before["jmd"] != after["jmd"]).sum())
    expected = (int((before["jmd"] == "eligible").sum()), int((after["jmd"] == "eligible").sum()), changed)
    assert printed == {"jmd": expected}
    assert changed > 0
    unchanged = [line for line in lines if line.split()[:1] == ["mbe"]]
    assert unchanged
    assert unchanged[0].split()[-1] == "0"  # the reform touches only JMD
    assert "3,000 synthetic cases" in lines[0]
