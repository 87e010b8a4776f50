"""The command line never shows a traceback: every bad input is one line on stderr with exit code 2.

Also the one consistent option set (``--rules``, ``--engine``, ``--lang``, ``--json``), ``-`` for
standard input, help without a command, ``--version``, and no echo of case values or of terminal
control characters from rule files.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from referral_engine import __version__
from referral_engine.cli import main
from referral_engine.loader import default_ruleset

from .conftest import FIXTURES, REPO

SECRET = "SECRET-Zeynep-1987"


def _run(
    *args: str, stdin: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """The command as a user runs it, in a process of its own (a crash cannot hide)."""
    return subprocess.run(
        [sys.executable, "-m", "referral_engine", *args],
        input=stdin,
        capture_output=True,
        check=False,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def _one_line_error(result: subprocess.CompletedProcess[bytes]) -> str:
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2, err
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert err.startswith("referral-engine")
    assert SECRET not in err
    return err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b'{"age": ' + b"9" * 5000 + b"}", "too long or not finite", id="huge-int"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "nested too deeply", id="deep-json"),
        pytest.param(b'{"a": ' * 40 + b"1" + b"}" * 40, "nested more than 32 levels", id="nested-json"),
        pytest.param(b'{"age": NaN}', "too long or not finite", id="nan"),
        pytest.param(b'{"municipality": "\\ud800"}', "lone surrogate", id="lone-surrogate"),
        pytest.param(b'{"age": 20, "age": 21}', "duplicate key 'age'", id="duplicate-key"),
        pytest.param(b"\xff\xfe", "not UTF-8", id="not-utf8"),
        pytest.param(
            f'{{"title": "{SECRET}", "profile": {{}}, "x": 1}}'.encode(), "unknown key 'x'", id="case-key"
        ),
    ],
)
def test_a_bad_case_file_is_one_line_with_exit_2(tmp_path: Path, content: bytes, message: str) -> None:
    """Hostile case files end with one line naming the problem, never a traceback or the data."""
    case = tmp_path / "case.json"
    case.write_bytes(content)
    err = _one_line_error(_run("recommend", str(case)))
    assert message in err


def test_the_duplicate_key_is_located_by_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A duplicate JSON key is reported with the line of its second occurrence."""
    case = tmp_path / "case.json"
    case.write_text('{\n  "age": 20,\n  "municipality": "Staufen",\n  "age": 21\n}\n', encoding="utf-8")
    assert main(["recommend", str(case)]) == 2
    assert f"{case}:4: duplicate key 'age'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["recommend", "{rules}/nowhere.json"], id="missing-file"),
        pytest.param(["recommend", "{case}", "--rules", "{rules}/nowhere"], id="missing-rules"),
        pytest.param(["recommend", "{case}", "--rules", "{locked}"], id="unreadable-rules"),
        pytest.param(["check", "{locked}"], id="unreadable-check"),
        pytest.param(["demo", "--as-of", "2026-13-01"], id="bad-date"),
        pytest.param(["demo", "--as-of", "20260101"], id="basic-date"),
        pytest.param(["recommend", "{rules}"], id="folder-as-case"),
        pytest.param(["diff", "default", "{rules}/nowhere"], id="diff-missing"),
    ],
)
def test_bad_paths_and_arguments_are_one_line(tmp_path: Path, args: list[str]) -> None:
    """Missing, unreadable or wrong paths and dates are one line with exit code 2."""
    locked = tmp_path / "locked"
    shutil.copytree(FIXTURES / "minimal", locked)
    locked.chmod(0)
    case = tmp_path / "case.json"
    case.write_text('{"age": 30}', encoding="utf-8")
    try:
        filled = [a.format(rules=tmp_path, case=case, locked=locked) for a in args]
        result = _run(*filled)
        if "locked" in " ".join(args) and os.geteuid() == 0:
            assert "Traceback" not in result.stderr.decode()  # root reads everything
        else:
            _one_line_error(result)
    finally:
        locked.chmod(0o755)


def test_a_lone_surrogate_in_a_path_is_one_line(tmp_path: Path) -> None:
    """A file name that is not valid UTF-8 is reported without a UnicodeEncodeError."""
    name = os.fsencode(tmp_path) + b"/case-\xff.json"
    result = subprocess.run(
        [sys.executable, "-m", "referral_engine", "recommend", name],
        capture_output=True,
        check=False,
        timeout=120,
    )
    _one_line_error(result)


def test_deep_yaml_in_a_rule_folder_is_one_line(tmp_path: Path) -> None:
    """A rule file nested thousands of levels deep is one located line, not a RecursionError."""
    folder = tmp_path / "rules"
    shutil.copytree(FIXTURES / "minimal", folder)
    (folder / "services.yaml").write_text("services: " + "[" * 5000 + "]" * 5000, encoding="utf-8")
    err = _one_line_error(_run("demo", "--rules", str(folder)))
    assert "services.yaml:1:" in err


def test_a_long_csv_field_is_one_line(tmp_path: Path) -> None:
    """A CSV cell beyond the csv module's field limit is a located one-line error."""
    cases = tmp_path / "cases.csv"
    cases.write_text("id,municipality\n1," + "x" * 200_000 + "\n", encoding="utf-8")
    err = _one_line_error(_run("diff", "default", str(REPO / "rules"), "--cases", str(cases)))
    assert "cases.csv:" in err
    assert "unreadable CSV" in err


def test_a_csv_without_header_does_not_echo_its_first_row(tmp_path: Path) -> None:
    """A CSV whose first line is a case (no header) is refused without repeating that line."""
    cases = tmp_path / "cases.csv"
    cases.write_text(f"34,gestattung,{SECRET}\n", encoding="utf-8")
    err = _one_line_error(_run("diff", "default", str(REPO / "rules"), "--cases", str(cases)))
    assert "is the header row missing?" in err
    assert "gestattung" not in err


def test_a_duplicate_csv_column_is_located(tmp_path: Path) -> None:
    """A column given twice is refused at line 1, naming both positions."""
    cases = tmp_path / "cases.csv"
    cases.write_text("id,age,age\n1,30,31\n", encoding="utf-8")
    err = _one_line_error(_run("diff", "default", str(REPO / "rules"), "--cases", str(cases)))
    assert "cases.csv:1: column 'age' appears twice (columns 2 and 3)" in err


def test_a_duplicate_key_in_json_lines_is_located(tmp_path: Path) -> None:
    """A duplicate key in a JSON-lines case is reported with its line."""
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"age": 30}\n{"age": 30, "age": 31}\n', encoding="utf-8")
    err = _one_line_error(_run("diff", "default", str(REPO / "rules"), "--cases", str(cases)))
    assert "cases.jsonl:2: duplicate key 'age'" in err


# --- one consistent command line ------------------------------------------------------------------


def test_recommend_reads_standard_input() -> None:
    """Recommend - reads the case from standard input."""
    result = _run("recommend", "-", "--json", "--as-of", "2026-03-01", stdin=b'{"age": 30}')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["as_of"] == "2026-03-01"


def test_every_subcommand_takes_the_common_options(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--rules, --engine and --json work on every subcommand; --lang where there is text to translate."""
    minimal = str(FIXTURES / "minimal")
    case = tmp_path / "case.json"
    case.write_text('{"age": 30}', encoding="utf-8")
    assert main(["demo", "--rules", str(REPO / "rules"), "--engine", "python", "--lang", "en", "--json"]) == 0
    assert isinstance(json.loads(capsys.readouterr().out), list)
    assert (
        main(["recommend", str(case), "--rules", minimal, "--engine", "python", "--lang", "en", "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["lang"] == "en"
    assert main(["check", "--rules", minimal, "--engine", "python", "--json"]) in (0, 1)
    assert json.loads(capsys.readouterr().out)["ruleset"].startswith("minimal@")
    assert main(["diff", minimal, minimal, "--engine", "python", "--json", "--count", "5"]) == 0
    assert json.loads(capsys.readouterr().out)["changed_cases"] == []


def test_check_keeps_its_positional_folder(capsys: pytest.CaptureFixture[str]) -> None:
    """Check RULES_DIR still works and means the same as check --rules RULES_DIR."""
    minimal = str(FIXTURES / "minimal")
    assert main(["check", minimal, "--json"]) == main(["check", "--rules", minimal, "--json"])
    first, second = capsys.readouterr().out.split("\n}\n")[:2]
    assert json.loads(first + "}")["findings"] == json.loads(second + "}")["findings"]
    assert main(["check", minimal, "--rules", str(REPO / "rules")]) == 2


def test_a_bare_command_prints_the_help_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """referral-engine without a command prints the help and exits with 2."""
    assert main([]) == 2
    out = capsys.readouterr().out
    assert "usage: referral-engine" in out
    assert "Exit codes:" in out


def test_version_names_the_package_the_rules_and_the_default_engine() -> None:
    """--version prints the package version, the bundled rules' version and the default engine."""
    result = _run("--version", env={"REFERRAL_ENGINE_ENGINE": ""})
    out = result.stdout.decode()
    assert result.returncode == 0
    assert f"referral-engine {__version__}" in out
    assert f"rules {default_ruleset().ruleset_version}" in out
    assert "default engine python" in out


def test_an_invalid_engine_variable_is_a_usage_error() -> None:
    """A wrong REFERRAL_ENGINE_ENGINE is one line naming the variable."""
    err = _one_line_error(_run("demo", env={"REFERRAL_ENGINE_ENGINE": "drools"}))
    assert "REFERRAL_ENGINE_ENGINE must be one of: durable, python" in err


def test_terminal_escapes_in_rule_text_never_reach_the_terminal(tmp_path: Path) -> None:
    """Escape sequences and bidi overrides in rule texts are stripped from the printed output."""
    folder = tmp_path / "rules"
    shutil.copytree(FIXTURES / "minimal", folder)
    steps = folder / "steps.yaml"
    text = steps.read_text(encoding="utf-8")
    steps.write_text(
        text.replace("Antrag bei {partner}", "Antrag \\e]0;pwned\\a\\e[2J bei \\u202e{partner}"),
        encoding="utf-8",
    )
    case = tmp_path / "case.json"
    case.write_text(
        '{"age": 30, "entry_date": "2025-01-01", "municipality": "Town A", "residence_status": "settlement"}',
        encoding="utf-8",
    )
    result = _run("recommend", str(case), "--rules", str(folder), "--as-of", "2026-01-01")
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert "Antrag ]0;pwned[2J bei" in out
    assert "\x1b" not in out
    assert "\u202e" not in out
    assert "\x07" not in out


def test_render_and_explanations_strip_control_characters() -> None:
    """printable() removes C0/C1 controls and bidi overrides but keeps newlines, tabs and umlauts."""
    from referral_engine.explain import printable

    assert printable("a\x1b[31mb\x07c\u202ed\ne\tü\x9b") == "a[31mbcd\ne\tü"


def test_keyboard_interrupt_is_one_line_with_exit_130(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C during a command ends with one line and exit code 130, no traceback."""
    from referral_engine import cli

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_demo", interrupted)
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["demo"]) == 130
    assert err.getvalue() == "referral-engine: interrupted\n"


@pytest.mark.parametrize("command", ["demo", "check"])
def test_an_unreadable_rule_folder_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """A rule folder that cannot be listed (no permission, even for root here) is one line, exit 2."""
    real = os.listdir
    folder = str(FIXTURES / "minimal")

    def denied(path: object = ".") -> list[str]:
        if os.fspath(path).rstrip("/") == folder:  # type: ignore[call-overload]
            raise PermissionError(13, "Permission denied", folder)
        return real(path)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(os, "listdir", denied)
    assert main([command, "--rules", folder]) == 2
    err = capsys.readouterr().err
    assert err == f"referral-engine: error: {folder}: cannot read the folder (Permission denied)\n"
