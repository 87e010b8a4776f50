"""What an installed copy of the library carries: the default rules, the example cases, py.typed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from importlib import metadata, resources
from pathlib import Path

import pytest

import referral_engine
from referral_engine import default_ruleset, load_ruleset
from referral_engine._bundled import bundled

from .conftest import REPO

CASE_NAMES = sorted(path.name for path in (REPO / "examples" / "cases").glob("*.json"))


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
    names = sorted(item.name for item in bundled("example_cases").iterdir() if item.name.endswith(".json"))
    assert names == CASE_NAMES


def test_default_ruleset_is_loaded_once() -> None:
    """default_ruleset() returns the same object every time."""
    assert default_ruleset() is default_ruleset()


def test_source_tree_has_no_symlinks() -> None:
    """No file or folder under src/ is a symlink: checkouts without symlink support work."""
    links = [path for path in (REPO / "src").rglob("*") if path.is_symlink()]
    assert links == []


def test_editable_install_reads_the_repository_folders() -> None:
    """Without copies inside the package (a checkout), the bundled folders are the repository's."""
    if (resources.files("referral_engine") / "rules").is_dir():
        pytest.skip("installed from a wheel: the package carries its own copies")
    assert Path(str(bundled("rules"))) == REPO / "rules"
    assert Path(str(bundled("example_cases"))) == REPO / "examples" / "cases"


def test_package_copy_is_preferred(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A package that carries its own rules/ folder (a wheel install) uses it, not a checkout's."""
    package = tmp_path / "fakepkg"
    (package / "rules").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert Path(str(bundled("rules", package="fakepkg"))) == package / "rules"
    with pytest.raises(FileNotFoundError, match="example_cases"):
        bundled("example_cases", package="fakepkg")


@pytest.mark.slow
def test_wheel_carries_rules_and_cases_and_loads_them(tmp_path: Path) -> None:
    """The built wheel holds the rules, example cases, both plugin modules and loads its own rules."""
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = tmp_path.glob("referral_engine-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(archive.read(n) for n in names if n.endswith(".dist-info/METADATA")).decode()
        entry_points = next(archive.read(n) for n in names if n.endswith("entry_points.txt")).decode()
    assert "referral_engine/rules/ruleset.yaml" in names
    assert "referral_engine/words.yaml" in names
    assert "referral_engine/example_cases/" + CASE_NAMES[0] in names
    assert "referral_engine_plugins/pytest_plugin.py" in names
    assert f"Version: {referral_engine.__version__}" in metadata
    assert "Classifier: Framework :: Pytest" in metadata
    assert "referral_engine = referral_engine_plugins.pytest_plugin" in entry_points
    assert "_hypothesis_setup_hook" in entry_points
    # The index page: README's text, with links into the repository or to its headings made plain.
    description = metadata.split("\n\n", 1)[1]
    assert "Content-Type: text/markdown" in metadata
    assert "## Safe referrals and data protection" in description
    assert re.findall(r"\]\(([^)]*)\)", description)  # it still has links: the absolute ones
    assert all(link.startswith(("http://", "https://")) for link in re.findall(r"\]\(([^)]*)\)", description))
    assert "[`rules/`](rules/README.md)" not in description
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
    )
    code = (
        "import referral_engine, sys; from referral_engine import default_ruleset;"
        "from referral_engine._bundled import bundled;"
        "print(default_ruleset().digest, str(bundled('rules')).startswith(sys.argv[1]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(target)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == [load_ruleset(REPO / "rules").digest, "True"]


def test_version_is_single_sourced() -> None:
    """The installed metadata's version is the package's __version__."""
    assert metadata.version("referral-engine") == referral_engine.__version__
