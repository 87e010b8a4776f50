"""The pytest plugin that runs scenario files (registered as ``referral_engine`` in ``pytest11``).

pytest collects every ``.yaml`` file in a folder named ``scenarios`` and every file named
``scenarios.yaml`` or ``*.scenarios.yaml`` among the paths it searches; each scenario becomes one
test item named after the scenario. A scenario that fails prints ``file:line`` of each unmet
expectation and a diff of expected vs got, without a traceback; a broken file is a collection
error listing every problem with ``file:line:column``.

``--referral-engine=python|durable`` runs every scenario with that engine. The hooks look at file
names only and import the scenario machinery when the first scenario file is collected, so a
project without scenario files is not affected (it still pays for ``import referral_engine``,
which pytest does to load this module). Switch the plugin off with ``-p no:referral_engine``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr

    from .ruleset import Ruleset
    from .scenarios import Scenario, ScenarioResult

_SCENARIO_DIR = "scenarios"  # referral_engine.scenarios.SCENARIO_DIR, kept here to import nothing
_RULESETS = pytest.StashKey[dict[str, "Ruleset"]]()


def is_scenario_file(path: Path) -> bool:
    """Whether pytest collects ``path`` as a scenario file (see the module docstring)."""
    return path.suffix == ".yaml" and (
        path.parent.name == _SCENARIO_DIR
        or path.name == "scenarios.yaml"
        or path.name.endswith(".scenarios.yaml")
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--referral-engine``."""
    group = parser.getgroup("referral-engine", "referral-engine scenario tests")
    group.addoption(
        "--referral-engine",
        dest="referral_engine",
        default=None,
        metavar="ENGINE",
        help="run scenario files with this rule engine: python or durable (default: the file's engine:)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Reject an unknown ``--referral-engine`` before anything runs."""
    engine = config.getoption("referral_engine", None)
    if engine is not None:
        from .models import ENGINES

        if engine not in ENGINES:
            raise pytest.UsageError(f"--referral-engine must be one of: {', '.join(ENGINES)}")
    config.stash[_RULESETS] = {}


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ScenarioFile | None:
    """Collect scenario files; leave every other file to pytest and other plugins."""
    if is_scenario_file(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioError(Exception):
    """A scenario's recommendation did not meet its expectations."""

    def __init__(self, result: ScenarioResult) -> None:
        super().__init__(result.report())
        self.result = result


class ScenarioFile(pytest.File):
    """One scenario file: a test item per scenario."""

    def collect(self) -> Iterator[ScenarioItem]:
        """The scenarios of the file, checked against the rule set it names."""
        from .errors import RuleFileError
        from .scenarios import load_scenarios

        try:
            scenarios = load_scenarios(self.path, cache=self.config.stash[_RULESETS])
        except RuleFileError as error:
            raise self.CollectError(_relative(str(error), str(self.config.invocation_params.dir))) from None
        for scenario in scenarios:
            yield ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)


def _relative(text: str, folder: str) -> str:
    """Messages with paths shown relative to the folder pytest was started in."""
    return text.replace(folder.rstrip("/") + "/", "")


class ScenarioItem(pytest.Item):
    """One scenario: runs the rules on its profile and compares the recommendation with ``expect``."""

    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario

    def runtest(self) -> None:
        """Recommend and compare; raise :class:`ScenarioError` listing every unmet expectation."""
        from .scenarios import run_scenario

        result = run_scenario(self.scenario, engine=self.config.getoption("referral_engine", None))
        if not result.ok:
            raise ScenarioError(result)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | TerminalRepr:
        """Unmet expectations and library errors as ``file:line: message``, without a traceback."""
        from .errors import ReferralEngineError

        folder = str(self.config.invocation_params.dir)
        if isinstance(excinfo.value, ScenarioError):
            return _relative(str(excinfo.value), folder)
        if isinstance(excinfo.value, ReferralEngineError):
            where = _relative(str(self.scenario.where), folder)
            return f"{where}: scenario '{self.scenario.name}': {excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        """The file and line where the scenario starts."""
        return self.path, self.scenario.where.line - 1, f"scenario: {self.scenario.name}"
