"""The referral-engine command line: demo, recommend, and one-line errors with exit code 2."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from referral_engine import Recommendation, recommend
from referral_engine.cli import main

from .conftest import FIXTURES, REPO

CASES = sorted((REPO / "examples" / "cases").glob("*.json"))
SECRET = "SECRET-Zeynep-1987"


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_demo_prints_every_bundled_case(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo runs every example case and prints its title, decisions and next steps."""
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for case in CASES:
        assert json.loads(case.read_text(encoding="utf-8"))["title"] in out
    assert out.count("Nächste Schritte:") == len(CASES)


def test_demo_speaks_english(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo prints English headings and texts with --lang en."""
    assert main(["demo", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "Services that fit:" in out
    assert "Nächste Schritte" not in out


def test_recommend_json_matches_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    """The recommend command with --json prints the Recommendation the library returns."""
    case = CASES[0]
    data = json.loads(case.read_text(encoding="utf-8"))
    assert main(["recommend", str(case), "--json", "--lang", "en"]) == 0
    printed = Recommendation.model_validate_json(capsys.readouterr().out)
    expected = recommend(data["profile"], as_of=dt.date.fromisoformat(data["as_of"]), lang="en")
    assert printed == expected


def test_recommend_accepts_a_plain_profile_and_as_of(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file holding only a profile works, and --as-of sets the date the rules are applied for."""
    case = _write(tmp_path / "case.json", {"age": 20, "residence_status": "duldung"})
    assert main(["recommend", str(case), "--as-of", "2026-03-01", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["as_of"] == "2026-03-01"
    assert printed["decisions"]


def test_recommend_renders_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json the recommendation is printed as readable text with the case file's title."""
    case = _write(
        tmp_path / "case.json", {"title": "Testfall", "as_of": "2026-03-01", "profile": {"age": 20}}
    )
    assert main(["recommend", str(case)]) == 0
    out = capsys.readouterr().out
    assert "== Fall: Testfall" in out
    assert "Stand 2026-03-01" in out


def test_recommend_uses_another_rule_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--rules applies a rule folder instead of the bundled rules."""
    case = _write(tmp_path / "case.json", {"age": 20, "municipality": "Town A"})
    assert main(["recommend", str(case), "--rules", str(FIXTURES / "minimal"), "--as-of", "2026-01-01"]) == 0
    assert "minimal@1+" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(None, "no such file", id="missing-file"),
        pytest.param("{not json", "case.json:1:2: invalid JSON", id="invalid-json"),
        pytest.param("[1, 2]", "expected a JSON object", id="not-an-object"),
        pytest.param(
            json.dumps({"profile": {}, "extra": 1}), "unknown key 'extra'", id="unknown-wrapper-key"
        ),
        pytest.param(json.dumps({"profile": {}, "as_of": "soon"}), "as_of must be a date", id="bad-as-of"),
        pytest.param(
            json.dumps({"age": SECRET, "colour": SECRET}), "age: expected a whole number", id="bad-profile"
        ),
    ],
)
def test_bad_case_files_give_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, fragment: str
) -> None:
    """A bad case file ends with exit code 2 and one line on stderr that never echoes case data."""
    case = tmp_path / "case.json"
    if content is not None:
        case.write_text(content, encoding="utf-8")
    assert main(["recommend", str(case)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("referral-engine: error: ")
    assert fragment in captured.err
    assert SECRET not in captured.err


def test_bad_as_of_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An --as-of that is not a date is a one-line error with exit code 2."""
    assert main(["demo", "--as-of", "31.12.2026"]) == 2
    assert "--as-of must be a date written as YYYY-MM-DD" in capsys.readouterr().err


def test_broken_rules_report_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A broken rule folder is reported with the first problem's file:line and how many more there are."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "ruleset.yaml").write_text("name: x\nversion: '1'\nnonsense: 1\n", encoding="utf-8")
    assert main(["demo", "--rules", str(rules)]) == 2
    err = capsys.readouterr().err
    assert f"{rules}/" in err
    assert "more problems" in err
    assert err.count("\n") == 1


def test_module_entry_point_never_shows_a_traceback(tmp_path: Path) -> None:
    """Running the package with python -m fails on bad input with exit code 2 and no traceback."""
    case = _write(tmp_path / "case.json", {"age": -4})
    result = subprocess.run(
        [sys.executable, "-m", "referral_engine", "recommend", str(case)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "age: Input should be greater than or equal to 0" in result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["frobnicate"], id="unknown-command"),
        pytest.param(["demo", "--lang", "fr"], id="unknown-language"),
        pytest.param(["recommend"], id="missing-case-file"),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """A wrong command line ends with exit code 2 and one line that points to --help."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("referral-engine")
    assert ": error: " in err
    assert err.rstrip().endswith("(see --help)")


def test_output_cut_short_by_the_reader_is_no_error() -> None:
    """Piping the demo into a reader that stops early (like head) ends quietly, without a traceback."""
    with subprocess.Popen(
        [sys.executable, "-m", "referral_engine", "demo"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        assert process.stdout.readline().startswith(b"== ")
        process.stdout.close()
        stderr = process.stderr.read()
        assert process.wait(timeout=60) == 0
    assert b"Traceback" not in stderr
