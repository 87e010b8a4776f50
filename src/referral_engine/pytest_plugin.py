"""The scenario files pytest runs: one test item per scenario (the plugin's machinery).

The plugin itself is the tiny module ``referral_engine_plugins.pytest_plugin`` (registered as
``referral_engine`` in ``pytest11``): it decides which files are scenario files of a rule set
and imports this module only when it meets one. A scenario that fails prints ``file:line`` of
each unmet expectation and a diff of expected vs got, without a traceback; a broken file is a
collection error listing every problem with ``file:line:column``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from referral_engine_plugins.pytest_plugin import is_scenario_file

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr

    from .ruleset import Ruleset
    from .scenarios import Scenario, ScenarioResult

__all__ = ["ScenarioError", "ScenarioFile", "ScenarioItem", "is_scenario_file"]

_RULESETS = pytest.StashKey[dict[str, "Ruleset"]]()


def _rulesets(config: pytest.Config) -> dict[str, Ruleset]:
    """The rule sets loaded in this run, by folder: each is loaded once for all its files."""
    if _RULESETS not in config.stash:
        config.stash[_RULESETS] = {}
    return config.stash[_RULESETS]


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
            scenarios = load_scenarios(self.path, cache=_rulesets(self.config))
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
