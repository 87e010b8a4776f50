"""Hostile rule folders: each is refused with a located error, within a time limit, without escaping.

The loader reads only regular files inside the rule folder, within size limits, and never
blocks on a FIFO or reads a device; ``extends`` stays inside its root. Each fixture below is
one way a folder can try to hang the process, exhaust its memory or read outside the folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from referral_engine import RuleFileError, UsageError, load_ruleset
from referral_engine.cli import main

from .conftest import FIXTURES

MINIMAL = FIXTURES / "minimal"
LIMIT_SECONDS = 10
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev need a POSIX system")


@contextmanager
def time_limit(seconds: int = LIMIT_SECONDS) -> Iterator[None]:
    """Fail (instead of hanging) when the block takes longer than ``seconds``."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(MINIMAL, folder)
    return folder


def _problems(folder: Path, **options: object) -> list[str]:
    with time_limit(), pytest.raises(RuleFileError) as caught:
        load_ruleset(folder, **options)  # type: ignore[arg-type]
    return [str(problem) for problem in caught.value.problems]


@posix_only
def test_a_fifo_as_a_rule_file_is_refused_without_blocking(tmp_path: Path) -> None:
    """A FIFO in place of a rule file is reported as not a regular file, and the load does not hang."""
    folder = _copy(tmp_path)
    (folder / "eligibility" / "adult.yaml").unlink()
    os.mkfifo(folder / "eligibility" / "adult.yaml")
    problems = _problems(folder)
    assert any("eligibility/adult.yaml:1:1: not a regular file" in p for p in problems)


@posix_only
def test_a_fifo_reached_through_extends_is_refused_without_blocking(tmp_path: Path) -> None:
    """A base folder reached by extends whose services.yaml is a FIFO does not hang the load."""
    base = _copy(tmp_path)
    (base / "services.yaml").unlink()
    os.mkfifo(base / "services.yaml")
    local = tmp_path / "local"
    local.mkdir()
    (local / "ruleset.yaml").write_text("name: local\nversion: '1'\nextends: ../rules\n", encoding="utf-8")
    problems = _problems(local)
    assert any("rules/services.yaml:1:1: not a regular file" in p for p in problems)


@posix_only
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_symlink_to_a_device_is_refused_without_reading_it(tmp_path: Path, device: str) -> None:
    """A rule file that is a symlink to an endless device is refused before a byte is read."""
    if not os.path.exists(device):
        pytest.skip(f"{device} does not exist here")
    folder = _copy(tmp_path)
    (folder / "steps.yaml").unlink()
    (folder / "steps.yaml").symlink_to(device)
    problems = _problems(folder, allow_symlinks_outside=True)
    assert any("steps.yaml:1:1: not a regular file" in p for p in problems)
    # Without the allow option the symlink is refused for leaving the folder.
    assert any("steps.yaml:1:1: a symlink that leads outside" in p for p in _problems(folder))


def test_a_huge_file_is_refused_by_the_size_limit(tmp_path: Path) -> None:
    """A rule file larger than max_file_bytes is refused without being parsed."""
    folder = _copy(tmp_path)
    with (folder / "partners.yaml").open("a", encoding="utf-8") as file:
        file.write("# " + "x" * (2 * 1024 * 1024) + "\n")
    problems = _problems(folder)
    assert any("partners.yaml:1:1: file is larger than 1048576 bytes (max_file_bytes)" in p for p in problems)
    assert load_ruleset(folder, max_file_bytes=4 * 1024 * 1024).name == "minimal"


def test_the_folder_size_limit_counts_every_file(tmp_path: Path) -> None:
    """All files of a load together may not exceed max_total_bytes."""
    problems = _problems(_copy(tmp_path), max_total_bytes=2000)
    assert any("larger than 2000 bytes (max_total_bytes)" in p for p in problems)


@pytest.mark.parametrize("value", [0, -1, True, 1.5])
def test_size_limits_must_be_positive_whole_numbers(value: object) -> None:
    """A size limit that is no positive whole number is a usage error."""
    with pytest.raises(UsageError, match="max_file_bytes must be a positive whole number"):
        load_ruleset(MINIMAL, max_file_bytes=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("template", "what"),
    [
        ("Termin bei {partner:>200000000}", "format-width"),
        ("Termin bei {partner!r}", "conversion"),
        ("Termin bei {partner!s:^99}", "both"),
    ],
)
def test_a_template_with_a_format_spec_or_conversion_is_a_located_error(
    tmp_path: Path, template: str, what: str
) -> None:
    """Format specs and conversions in step texts are refused at load, at the text's line."""
    folder = _copy(tmp_path)
    steps = folder / "steps.yaml"
    text = steps.read_text(encoding="utf-8")
    steps.write_text(text.replace('"Termin bei {partner} ({service})"', f'"{template}"', 1), encoding="utf-8")
    problems = _problems(folder)
    assert any(
        "steps.yaml:6:" in p and "step 'youth-appointment'" in p and "format spec or conversion" in p
        for p in problems
    ), (what, problems)


@pytest.mark.parametrize(
    ("extends", "message"),
    [
        ("/etc", "extends takes default or a relative path, not an absolute one"),
        ("../../..", "extends leads outside the allowed root"),
        ("../../outside", "extends leads outside the allowed root"),
    ],
)
def test_extends_cannot_leave_its_root(tmp_path: Path, extends: str, message: str) -> None:
    """Extends with an absolute path or one that climbs out of the root is refused, located."""
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    outside = tmp_path / "a" / "outside"
    shutil.copytree(MINIMAL, outside)
    local = deep / "local"
    local.mkdir()
    (local / "ruleset.yaml").write_text(f"name: local\nversion: '1'\nextends: {extends}\n", encoding="utf-8")
    problems = _problems(local)
    assert any(p.startswith(f"{local}/ruleset.yaml:3:10: {message}") for p in problems), problems


def test_extends_may_name_a_sibling_or_a_folder_inside_a_declared_root(tmp_path: Path) -> None:
    """A sibling folder is inside the default root; extends_root widens the root on request."""
    shutil.copytree(MINIMAL, tmp_path / "base")
    local = tmp_path / "x" / "local"
    local.mkdir(parents=True)
    (local / "ruleset.yaml").write_text("name: l\nversion: '1'\nextends: ../../base\n", encoding="utf-8")
    assert any("outside the allowed root" in p for p in _problems(local))
    assert load_ruleset(local, extends_root=tmp_path).name == "l"


def test_a_symlink_that_leads_outside_the_folder_is_refused(tmp_path: Path) -> None:
    """A rule file symlinked to a file outside the folder is not read (its content never echoed)."""
    secret = tmp_path / "secret.yaml"
    secret.write_text("SECRET-outside: [1, 2\n", encoding="utf-8")
    folder = _copy(tmp_path)
    (folder / "eligibility" / "adult.yaml").unlink()
    (folder / "eligibility" / "adult.yaml").symlink_to(secret)
    problems = _problems(folder)
    assert any(
        "eligibility/adult.yaml:1:1: a symlink that leads outside the rule folder" in p for p in problems
    )
    assert not any("SECRET" in p for p in problems)


def test_a_symlink_inside_the_folder_is_followed(tmp_path: Path) -> None:
    """A symlink whose target stays inside the folder is read like the file itself."""
    folder = _copy(tmp_path)
    (folder / "shared").mkdir()
    (folder / "eligibility" / "adult.yaml").rename(folder / "shared" / "adult.yaml")
    (folder / "eligibility" / "adult.yaml").symlink_to(folder / "shared" / "adult.yaml")
    assert len(load_ruleset(folder).rules) == len(load_ruleset(MINIMAL).rules)


@pytest.mark.parametrize("name", [".#adult.yaml", ".adult.yaml", "#adult.yaml#", ".hidden.yml"])
def test_hidden_and_editor_files_are_ignored(tmp_path: Path, name: str) -> None:
    """Editor lock files and hidden files in the eligibility folder are not read as rules."""
    folder = _copy(tmp_path)
    (folder / "eligibility" / name).write_text("not: [valid yaml\n", encoding="utf-8")
    assert len(load_ruleset(folder).rules) == len(load_ruleset(MINIMAL).rules)


@pytest.mark.parametrize("depth", [200, 5000])
def test_deeply_nested_yaml_is_a_located_error(tmp_path: Path, depth: int) -> None:
    """Nesting beyond the limit is a located RuleFileError, never a RecursionError."""
    folder = _copy(tmp_path)
    (folder / "services.yaml").write_text("services: " + "[" * depth + "]" * depth + "\n", encoding="utf-8")
    problems = _problems(folder)
    assert any("services.yaml:1:" in p and "nested more than 64 levels deep" in p for p in problems)


def test_a_control_character_in_yaml_is_a_located_error(tmp_path: Path) -> None:
    """A character YAML forbids is reported with its line, not as an exception."""
    folder = _copy(tmp_path)
    (folder / "services.yaml").write_text("services:\n  - id: \x07bell\n", encoding="utf-8")
    problems = _problems(folder)
    assert any("services.yaml:2:9: invalid YAML" in p for p in problems), problems


@posix_only
def test_the_cli_check_reports_a_fifo_folder_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """referral-engine check on a folder with a FIFO finishes in time and reports the file."""
    folder = _copy(tmp_path)
    (folder / "messages.yaml").unlink()
    os.mkfifo(folder / "messages.yaml")
    with time_limit():
        code = main(["check", "--rules", str(folder), "--json"])
    assert code == 1
    assert "messages.yaml" in capsys.readouterr().out


@pytest.mark.parametrize("written", ["027", "0x1b", "1_000", "1:30", "0o33"])
def test_a_number_yaml_would_read_as_octal_hex_or_sexagesimal_is_a_located_error(
    tmp_path: Path, written: str
) -> None:
    """An age limit written 027 (YAML 1.1 reads 23) is refused at its line instead of misread."""
    folder = _copy(tmp_path)
    rules = folder / "eligibility" / "adult.yaml"
    text = rules.read_text(encoding="utf-8")
    rules.write_text(
        text.replace("{field: age, op: ge, value: 27}", f"{{field: age, op: ge, value: {written}}}"),
        encoding="utf-8",
    )
    problems = _problems(folder)
    located = [p for p in problems if "adult.yaml:7:" in p]
    assert located, problems
    assert "not a plain decimal number" in located[0] or "expected a whole number" in located[0]


@posix_only
def test_a_fifo_as_a_scenario_file_is_refused_without_blocking(tmp_path: Path) -> None:
    """A scenario file that is a FIFO is a located RuleFileError, not a hang."""
    from referral_engine.scenarios import load_scenarios

    fifo = tmp_path / "cases.yaml"
    os.mkfifo(fifo)
    with time_limit(), pytest.raises(RuleFileError, match="not a regular file"):
        load_scenarios(fifo)
