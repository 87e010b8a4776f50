"""What an installed copy of the library carries: the default rules, the example cases, py.typed."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources
from pathlib import Path

from referral_engine import default_ruleset, load_ruleset

from .conftest import REPO


def test_installed_package_ships_the_repository_rules() -> None:
    """default_ruleset() loads rules identical to the repository's rules/ folder."""
    assert default_ruleset().digest == load_ruleset(REPO / "rules").digest


def test_default_rules_load_outside_the_repository(tmp_path: Path) -> None:
    """A fresh interpreter started in an unrelated folder finds the bundled rules."""
    code = "from referral_engine import default_ruleset; print(default_ruleset().ruleset_version)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == default_ruleset().ruleset_version


def test_package_carries_type_information_and_example_cases() -> None:
    """The package has a py.typed marker and the example cases the demo runs."""
    package = resources.files("referral_engine")
    assert (package / "py.typed").is_file()
    names = sorted(item.name for item in (package / "example_cases").iterdir() if item.name.endswith(".json"))
    assert names == sorted(path.name for path in (REPO / "examples" / "cases").glob("*.json"))


def test_default_ruleset_is_loaded_once() -> None:
    """default_ruleset() returns the same object every time."""
    assert default_ruleset() is default_ruleset()
