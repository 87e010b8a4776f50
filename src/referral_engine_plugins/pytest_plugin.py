"""The pytest plugin of referral-engine, registered as ``referral_engine`` in ``pytest11``.

pytest loads this module in every run of an environment that has referral-engine installed, so
it is kept tiny: it imports nothing of the library until pytest meets a scenario file that
belongs to a rule set. The scenario machinery is :mod:`referral_engine.pytest_plugin`.

A scenario file is a ``.yaml`` file in a folder named ``scenarios``, or a file named
``scenarios.yaml`` or ``*.scenarios.yaml``. It is collected only if it belongs to a rule set:

* the rule folder it tests (the folder above ``scenarios/``, or the file's own) has a
  ``ruleset.yaml``, or
* the file names its rule set itself (top-level ``rules:`` and ``scenarios:`` keys), or
* it lies under a folder listed in the ini option ``referral_engine_scenarios``.

Any other YAML — say an unrelated project's ``scenarios/*.yaml`` — is left to pytest and other
plugins. ``--referral-engine=python|durable`` runs every scenario with that engine; switch the
plugin off with ``-p no:referral_engine``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

SCENARIO_DIR = "scenarios"  # referral_engine.scenarios.SCENARIO_DIR, kept here to import nothing
_ENGINES = ("durable", "python")  # referral_engine.models.ENGINES, likewise (a test keeps them equal)
_NAMES_ITS_RULES = (re.compile(rb"^rules:", re.M), re.compile(rb"^scenarios:", re.M))
_HEAD = 65_536  # bytes read to look for those keys


def is_scenario_file(path: Path) -> bool:
    """Whether ``path`` is named like a scenario file (see the module docstring)."""
    return path.suffix == ".yaml" and (
        path.parent.name == SCENARIO_DIR
        or path.name == "scenarios.yaml"
        or path.name.endswith(".scenarios.yaml")
    )


def belongs_to_a_ruleset(path: Path, config: pytest.Config) -> bool:
    """Whether the scenario-named file ``path`` tests a rule set (see the module docstring)."""
    folder = path.parent.parent if path.parent.name == SCENARIO_DIR else path.parent
    if (folder / "ruleset.yaml").is_file():
        return True
    root = config.rootpath
    for listed in config.getini("referral_engine_scenarios"):
        if path.resolve().is_relative_to((root / str(listed)).resolve()):
            return True
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD)
    except OSError:
        return False
    return all(pattern.search(head) for pattern in _NAMES_ITS_RULES)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--referral-engine`` and the ini option ``referral_engine_scenarios``."""
    group = parser.getgroup("referral-engine", "referral-engine scenario tests")
    group.addoption(
        "--referral-engine",
        dest="referral_engine",
        default=None,
        metavar="ENGINE",
        help="run scenario files with this rule engine: python or durable (default: the file's engine:)",
    )
    parser.addini(
        "referral_engine_scenarios",
        type="paths",
        default=[],
        help="folders (relative to the rootdir) whose scenario files are collected even without a "
        "ruleset.yaml next to them",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Reject an unknown ``--referral-engine`` before anything runs."""
    engine = config.getoption("referral_engine", None)
    if engine is not None and engine not in _ENGINES:
        raise pytest.UsageError(f"--referral-engine must be one of: {', '.join(_ENGINES)}")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Any:
    """Collect scenario files of rule sets; leave every other file to pytest and other plugins."""
    if is_scenario_file(file_path) and belongs_to_a_ruleset(file_path, parent.config):
        from referral_engine.pytest_plugin import ScenarioFile

        return ScenarioFile.from_parent(parent, path=file_path)
    return None
