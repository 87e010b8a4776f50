"""Scenario files: loading, checking, the bundled scenarios, and the pytest plugin that runs them."""

from __future__ import annotations

import datetime as dt
import shutil
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from referral_engine import RuleFileError, Ruleset, default_ruleset, load_ruleset
from referral_engine._bundled import bundled
from referral_engine.engines import durable_available
from referral_engine.scenarios import default_rules_folder, load_scenarios, run_scenario

from .conftest import FIXTURES, REPO, examples

pytest_plugins = ["pytester"]

BUNDLED = sorted((REPO / "rules" / "scenarios").glob("*.yaml"))
SECRET = "SECRET-Zeynep-1987"

PASSING = """\
as_of: 2026-01-01
scenarios:
  - name: youth in Town A
    profile: {age: 20, residence_status: gestattung, municipality: Town A, languages: [uk]}
    expect:
      eligible: [youth]
      not_eligible: [adult]
      partners: {youth: [south, north]}
      next_steps: [consent:south:youth, youth-appointment, youth-info]
  - name: adult in Town A
    as_of: 2025-06-01
    profile: {age: 30, residence_status: ae_family, entry_date: 2024-01-01, municipality: Town A}
    expect:
      eligible_only: [adult]
      partners: {adult: [office]}
      not_next_steps: [youth-info]
  - name: adult without an arrival date
    profile: {age: 30, municipality: Town A}
    expect: {undetermined: [adult], missing: [entry_date]}
"""

FAILING = """\
as_of: 2026-01-01
scenarios:
  - name: too old for youth
    profile: {age: 30, residence_status: gestattung, municipality: Town A}
    expect:
      eligible: [youth]
      partners: {youth: [south]}
"""


def _rule_folder(pytester: pytest.Pytester) -> Path:
    """A copy of the minimal rule set as rules/, with an empty rules/scenarios/ folder."""
    rules = pytester.path / "rules"
    shutil.copytree(FIXTURES / "minimal", rules)
    (rules / "scenarios").mkdir()
    return rules


def _scenario_file(tmp_path: Path, text: str, name: str = "checks.yaml") -> Path:
    """A scenario file in a scenarios/ folder of a copy of the minimal rule set."""
    rules = tmp_path / "rules"
    if not rules.exists():
        shutil.copytree(FIXTURES / "minimal", rules)
    path = rules / "scenarios" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _problems(path: Path) -> str:
    with pytest.raises(RuleFileError) as caught:
        load_scenarios(path)
    return str(caught.value)


# --- the bundled scenarios -------------------------------------------------------------------


_LOADED: dict[str, Ruleset] = {}  # the bundled rules, loaded once for every bundled scenario file


def test_bundled_scenarios_cover_every_service() -> None:
    """Every service of the bundled rules is eligible in at least one bundled scenario."""
    covered = set()
    for path in BUNDLED:
        for scenario in load_scenarios(path, cache=_LOADED):
            covered |= {
                c.subject for c in scenario.checks if c.kind == "status" and c.expected == ("eligible",)
            }
    assert covered >= {service.id for service in default_ruleset().services}


def test_bundled_scenarios_test_a_boundary_of_every_service() -> None:
    """Every service of the bundled rules is also not eligible or undetermined in some bundled scenario."""
    covered = set()
    for path in BUNDLED:
        for scenario in load_scenarios(path, cache=_LOADED):
            covered |= {
                c.subject for c in scenario.checks if c.kind == "status" and c.expected != ("eligible",)
            }
    assert covered >= {service.id for service in default_ruleset().services}


def test_bundled_scenarios_test_the_bundled_rules() -> None:
    """Files in rules/scenarios/ test rules/ by default: the same rules the package bundles."""
    scenarios = load_scenarios(BUNDLED[0])
    assert default_rules_folder(BUNDLED[0]) == REPO / "rules"
    assert scenarios[0].ruleset.digest == default_ruleset().digest


def test_installed_package_ships_the_scenarios() -> None:
    """The package carries the scenario files of rules/scenarios, like the rest of the rules."""
    folder = bundled("rules") / "scenarios"
    assert sorted(item.name for item in folder.iterdir() if item.name.endswith(".yaml")) == [
        path.name for path in BUNDLED
    ]


def test_a_scenarios_folder_does_not_change_a_rule_set(tmp_path: Path) -> None:
    """load_ruleset ignores a scenarios/ folder: the rules and their digest stay the same."""
    path = _scenario_file(tmp_path, PASSING)
    assert load_ruleset(path.parent.parent).digest == load_ruleset(FIXTURES / "minimal").digest


# --- load_scenarios and run_scenario ------------------------------------------------------------


def test_a_scenario_keeps_its_profile_date_and_line(tmp_path: Path) -> None:
    """A loaded scenario has its name, validated profile, date (own or the file's) and starting line."""
    path = _scenario_file(tmp_path, PASSING)
    first, second, _ = load_scenarios(path)
    assert (first.name, first.as_of, first.where.line) == ("youth in Town A", dt.date(2026, 1, 1), 3)
    assert first.profile.languages == ("uk",)
    assert (second.as_of, second.where.line) == (dt.date(2025, 6, 1), 10)


def test_run_scenario_meets_the_expectations(tmp_path: Path) -> None:
    """A scenario whose expectations hold gives an ok result with the recommendation."""
    for scenario in load_scenarios(_scenario_file(tmp_path, PASSING)):
        result = run_scenario(scenario, engine="python")
        assert result.ok, result.report()
        assert result.recommendation.as_of == scenario.as_of


def test_a_failed_expectation_names_its_line_and_shows_a_diff(tmp_path: Path) -> None:
    """Each unmet expectation is reported with file:line, and a diff shows expected against got."""
    path = _scenario_file(tmp_path, FAILING)
    result = run_scenario(load_scenarios(path)[0])
    assert not result.ok
    report = result.report()
    assert (
        f"{path}:6: scenario 'too old for youth': decision youth expected eligible, got not_eligible"
        in report
    )
    assert f"{path}:7: scenario 'too old for youth': partners of youth expected south, got (none)" in report
    assert "- decision youth: eligible\n+ decision youth: not_eligible" in report
    assert "- partners of youth: south\n+ partners of youth: (none)" in report


def test_listed_steps_must_come_in_order(tmp_path: Path) -> None:
    """Steps listed under next_steps must appear in the listed order; absent ones fail on their own line."""
    path = _scenario_file(
        tmp_path,
        """\
        as_of: 2026-01-01
        scenarios:
          - name: order
            profile: {age: 20, residence_status: gestattung, municipality: Town A}
            expect:
              next_steps:
                - youth-info
                - youth-appointment
                - adult-apply
        """,
    )
    report = run_scenario(load_scenarios(path)[0]).report()
    assert (
        "next steps expected in the order youth-info, youth-appointment, got youth-appointment, youth-info"
        in report
    )
    assert (
        f"{path}:9: scenario 'order': next step adult-apply expected, but it is not among the next steps"
        in report
    )


def test_steps_that_must_not_appear_and_open_questions(tmp_path: Path) -> None:
    """not_next_steps fails for a step that is there, missing for a fact that is not asked."""
    path = _scenario_file(
        tmp_path,
        """\
        as_of: 2026-01-01
        scenarios:
          - name: absent
            profile: {age: 20, residence_status: gestattung, municipality: Town A}
            expect:
              not_next_steps: [youth-info]
              missing: [age]
              eligible_only: [youth, adult]
        """,
    )
    report = run_scenario(load_scenarios(path)[0]).report()
    assert ":6: scenario 'absent': next step youth-info not expected, but it is step" in report
    assert ":7: scenario 'absent': open question age expected, but it is not asked" in report
    assert ":8: scenario 'absent': eligible services expected exactly adult, youth, got youth" in report


def test_rules_default_tests_the_bundled_rules(tmp_path: Path) -> None:
    """rules: default checks a scenario file anywhere against the rules bundled with the package."""
    path = tmp_path / "bundled.scenarios.yaml"
    text = _one(
        "{eligible: [jmd]}", "{age: 19, residence_status: gestattung}", "rules: default\nas_of: 2026-03-01\n"
    )
    path.write_text(text, encoding="utf-8")
    (scenario,) = load_scenarios(path)
    assert scenario.ruleset is default_ruleset()
    assert run_scenario(scenario).ok


def test_a_given_ruleset_replaces_the_named_one(tmp_path: Path) -> None:
    """load_scenarios(ruleset=...) checks the file against that rule set, whatever the file names."""
    path = _scenario_file(tmp_path, PASSING)
    minimal = load_ruleset(FIXTURES / "minimal")
    assert all(s.ruleset is minimal for s in load_scenarios(path, ruleset=minimal))


def test_a_cache_loads_each_rule_folder_once(tmp_path: Path) -> None:
    """Files sharing a cache share the rule set their folder loads to."""
    cache: dict[str, object] = {}
    first = load_scenarios(_scenario_file(tmp_path, PASSING, "a.yaml"), cache=cache)  # type: ignore[arg-type]
    second = load_scenarios(_scenario_file(tmp_path, PASSING, "b.yaml"), cache=cache)  # type: ignore[arg-type]
    assert len(cache) == 1
    assert first[0].ruleset is second[0].ruleset


# --- broken scenario files ----------------------------------------------------------------------


def _one(expect: str, profile: str = "{}", top: str = "as_of: 2026-01-01\n") -> str:
    """A scenario file with one scenario named x, written in flow style on line 3 (after ``top``)."""
    return f"{top}scenarios:\n  - {{name: x, profile: {profile}, expect: {expect}}}\n"


BROKEN = {
    "unknown_top_key": (
        "as_of: 2026-01-01\nrule: ..\nscenarios: []\n",
        ":2:1: unknown key 'rule'; expected one of: scenarios, rules, as_of, engine",
    ),
    "no_scenarios": ("as_of: 2026-01-01\nscenarios: []\n", ":2:12: expected at least one scenario"),
    "empty_file": ("# nothing\n", ":1:1: file is empty; expected a mapping with scenarios: [...]"),
    "invalid_yaml": ("scenarios: [\n", "invalid YAML"),
    "anchor": ("as_of: &d 2026-01-01\nscenarios: []\n", "anchors and aliases"),
    "no_as_of": (
        "scenarios:\n  - name: x\n    profile: {}\n    expect: {eligible: [youth]}\n",
        ":2:5: scenario 'x': missing key 'as_of': give it here or at the top of the file",
    ),
    "null_date": (
        "scenarios:\n  - name: x\n    as_of: null\n    profile: {}\n    expect: {eligible: [youth]}\n",
        ":3:12: scenario 'x': expected a date (YYYY-MM-DD), found null",
    ),
    "bad_date": (
        "as_of: 2026-02-30\nscenarios:\n  - name: x\n    profile: {}\n    expect: {eligible: [youth]}\n",
        ":1:8: unreadable value: day is out of range for month",
    ),
    "unknown_scenario_key": (
        "as_of: 2026-01-01\nscenarios:\n  - name: x\n    profile: {}\n"
        "    expect: {eligible: [youth]}\n    when: 1\n",
        ":6:5: scenario 'x': unknown key 'when'; expected one of: name, profile, expect, as_of, source",
    ),
    "duplicate_name": (
        _one("{eligible: [youth]}") + "  - {name: x, profile: {}, expect: {eligible: [adult]}}\n",
        ":4:12: scenario 'x': duplicate scenario name (first on line 3)",
    ),
    "empty_expect": (
        _one("{}"),
        "scenario 'x': expect checks nothing; give one of: eligible, undetermined, not_eligible,",
    ),
    "unknown_expect_key": (
        _one("{eligable: [youth]}"),
        ":3:37: scenario 'x': unknown key 'eligable'; expected one of: eligible,",
    ),
    "empty_list": (
        _one("{missing: []}"),
        "scenario 'x': an empty missing list checks nothing; leave the key out",
    ),
    "service_twice": (
        _one("{eligible: [youth], undetermined: [youth]}"),
        "scenario 'x': service youth is already expected eligible",
    ),
    "unknown_service": (
        _one("{eligible: [yuoth]}"),
        ":3:48: scenario 'x': unknown service 'yuoth'; expected one of: youth, adult",
    ),
    "unknown_partner": (
        _one("{partners: {youth: [west]}}"),
        ":3:56: scenario 'x': unknown partner 'west'; expected one of: north, office, south",
    ),
    "unknown_service_for_partners": (
        _one("{partners: {kids: [north]}}"),
        ":3:48: scenario 'x': unknown service 'kids'; expected one of: youth, adult",
    ),
    "unknown_step": (
        _one("{next_steps: [youth-apply]}"),
        "scenario 'x': unknown step 'youth-apply'; expected a step of steps.yaml (adult-apply, "
        "adult-appointment, youth-appointment, youth-info) or clarify:<field>, consent:<partner>:<service>, "
        "check:<check rule>, no_partner:<service>",
    ),
    "unknown_consent_partner": (
        _one("{not_next_steps: [consent:west:youth]}"),
        "scenario 'x': unknown partner 'west'; expected one of: north, office, south",
    ),
    "unknown_check_rule": (
        _one("{next_steps: [check:youth-age]}"),
        "step 'check:youth-age' names an unknown check rule 'youth-age'; expected one of: youth-arrival",
    ),
    "unknown_field": (
        _one("{missing: [agee]}"),
        ":3:47: scenario 'x': unknown field 'agee'; expected one of: residence_status, age,",
    ),
    "unknown_profile_field": (
        _one("{eligible: [youth]}", "{agee: 3}"),
        ":3:25: scenario 'x': unknown key 'agee'; expected one of: age, birth_date,",
    ),
    "bad_profile_value": (
        f"as_of: 2026-01-01\nscenarios:\n  - name: x\n    profile:\n      age: 20\n"
        f"      residence_status: {SECRET}\n    expect: {{eligible: [youth]}}\n",
        ":6:25: scenario 'x': profile field residence_status: Input should be 'arrival_certificate',",
    ),
    "bad_consent": (
        "as_of: 2026-01-01\nscenarios:\n  - name: x\n    profile:\n      consents:\n"
        "        - {partner: north, purpose: youth, categories: [identity], given_on: 2026-01-02, "
        "withdrawn_on: 2026-01-01}\n"
        "    expect: {eligible: [youth]}\n",
        ":6:104: scenario 'x': profile field consents.0.withdrawn_on: must not be before given_on",
    ),
    "ambiguous_boolean": (
        _one("{eligible: [youth]}", "{literate_latin: no}"),
        "'no' is read as a boolean; write true/false, or quote it for text",
    ),
    "unknown_engine": (
        _one("{eligible: [youth]}", top="as_of: 2026-01-01\nengine: drools\n"),
        ":2:9: unknown value 'drools'; expected one of: durable, python",
    ),
    "colons_in_name": (
        "as_of: 2026-01-01\nscenarios:\n  - {name: 'a::b', profile: {}, expect: {eligible: [youth]}}\n",
        ":3:12: scenario 'a::b': a scenario name cannot contain '::' (pytest uses it in test ids)",
    ),
    "no_rule_folder": (
        _one("{eligible: [youth]}", top="rules: ../nowhere\nas_of: 2026-01-01\n"),
        ":1:8: rules names no rule folder: '../nowhere' (use default or a path relative to this file)",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_scenario_files_are_reported_with_file_and_line(tmp_path: Path, case: str) -> None:
    """Each mistake in a scenario file is a RuleFileError naming file:line:column and what is allowed.

    Messages never repeat a profile value.
    """
    text, expected = BROKEN[case]
    path = _scenario_file(tmp_path, text)
    message = _problems(path)
    assert expected in message
    assert str(path) in message
    assert SECRET not in message


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    """A file with several mistakes lists all of them, each with its own line."""
    path = _scenario_file(
        tmp_path,
        """\
        as_of: 2026-01-01
        scenarios:
          - name: one
            profile: {age: 20}
            expect: {eligible: [yuoth]}
          - name: two
            profile: {age: 20}
            expect: {missing: [agee]}
        """,
    )
    with pytest.raises(RuleFileError) as caught:
        load_scenarios(path)
    assert [problem.line for problem in caught.value.problems] == [5, 8]


def test_a_file_outside_a_rule_folder_must_name_one(tmp_path: Path) -> None:
    """A scenario file whose folder holds no rule set is told to name one with rules:."""
    path = tmp_path / "lost.scenarios.yaml"
    path.write_text(_one("{eligible: [a]}"))
    assert "no rule folder: " in _problems(path)
    assert "add rules: <folder> or default" in _problems(path)


def test_a_broken_rule_folder_is_reported_with_its_problems(tmp_path: Path) -> None:
    """When the rule folder a scenario file names does not load, its problems are listed too."""
    path = _scenario_file(tmp_path, FAILING)
    (path.parent.parent / "services.yaml").write_text("services: 3\n", encoding="utf-8")
    message = _problems(path)
    assert f"the rule folder '{path.parent.parent}' does not load" in message
    assert "services.yaml:1:11: expected a list, found an integer" in message


def test_a_missing_scenario_file_is_a_rule_file_error(tmp_path: Path) -> None:
    """Loading a path that does not exist raises RuleFileError, not OSError."""
    assert "no such scenario file" in _problems(tmp_path / "nothing.yaml")


@pytest.fixture(scope="module")
def edited_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the property test below writes its edited scenario files (next to the minimal rules)."""
    return _scenario_file(tmp_path_factory.mktemp("edits"), PASSING, "edited.yaml")


EDITS = st.sampled_from(
    [
        "",
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "-",
        "#",
        "&a",
        "*a",
        "!!str",
        "\n",
        " ",
        "null",
        "no",
        "2026-13-01",
        "youth",
        "age",
    ]
)


@settings(max_examples=examples(80), deadline=None)
@given(data=st.data())
def test_any_edit_of_a_scenario_file_loads_or_is_reported(edited_file: Path, data: st.DataObject) -> None:
    """Whatever an edit does to a scenario file, it loads and runs, or raises RuleFileError: nothing else."""
    text = data.draw(st.sampled_from([PASSING, FAILING]))
    for _ in range(data.draw(st.integers(1, 3))):
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, min(len(text), start + 3)))
        text = text[:start] + data.draw(EDITS) + text[end:]
    edited_file.write_text(text, encoding="utf-8")
    try:
        scenarios = load_scenarios(edited_file)
    except RuleFileError as error:
        scenarios, problems = (), error.problems
    else:
        problems = ()
    assert all(problem.file == str(edited_file) for problem in problems)
    for scenario in scenarios:
        assert run_scenario(scenario).report()


# --- the pytest plugin --------------------------------------------------------------------------


def test_plugin_runs_each_scenario_as_a_test(pytester: pytest.Pytester) -> None:
    """Pytest collects rules/scenarios/*.yaml and runs one passing test per scenario."""
    rules = _rule_folder(pytester)
    (rules / "scenarios" / "checks.yaml").write_text(PASSING, encoding="utf-8")
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*rules/scenarios/checks.yaml::youth in Town A PASSED*"])


def test_plugin_reports_a_failing_scenario_without_a_traceback(pytester: pytest.Pytester) -> None:
    """A failing scenario shows file:line of the expectation and the expected-vs-got diff, no traceback."""
    rules = _rule_folder(pytester)
    (rules / "scenarios" / "checks.yaml").write_text(FAILING, encoding="utf-8")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*scenario: too old for youth*",
            "rules/scenarios/checks.yaml:6: scenario 'too old for youth': "
            "decision youth expected eligible, got not_eligible",
            "rules/scenarios/checks.yaml:7: scenario 'too old for youth': "
            "partners of youth expected south, got (none)",
            "--- expected",
            "+++ got",
            "- decision youth: eligible",
            "+ decision youth: not_eligible",
        ]
    )
    output = result.stdout.str()
    assert "Traceback" not in output
    assert "runtest" not in output


def test_plugin_reports_a_broken_file_as_a_collection_error(pytester: pytest.Pytester) -> None:
    """A malformed scenario file is a collection error listing its problems with file:line:column."""
    rules = _rule_folder(pytester)
    (rules / "scenarios" / "checks.yaml").write_text(
        _one("{eligible: [yuoth], partners: {youth: [west]}}"),
        encoding="utf-8",
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting rules/scenarios/checks.yaml*",
            "2 problems in rule files:",
            "  rules/scenarios/checks.yaml:3:48: scenario 'x': unknown service 'yuoth'; expected one of*",
            "  rules/scenarios/checks.yaml:3:75: scenario 'x': unknown partner 'west'; expected one of*",
        ]
    )
    output = result.stdout.str()
    assert "Traceback" not in output
    assert "load_scenarios" not in output


def test_plugin_collects_the_three_kinds_of_scenario_file(pytester: pytest.Pytester) -> None:
    """Files in a scenarios/ folder, scenarios.yaml and *.scenarios.yaml are collected; other YAML is not."""
    rules = _rule_folder(pytester)
    (rules / "scenarios" / "a.yaml").write_text(PASSING, encoding="utf-8")
    (rules / "scenarios.yaml").write_text(PASSING, encoding="utf-8")
    (rules / "more.scenarios.yaml").write_text(PASSING, encoding="utf-8")
    result = pytester.runpytest()
    result.assert_outcomes(passed=9)


def test_plugin_and_library_agree_on_the_scenarios_folder() -> None:
    """The plugin's file-name convention uses the folder name the library defaults rule folders by."""
    from referral_engine import pytest_plugin, scenarios
    from referral_engine_plugins import pytest_plugin as plugin_module

    assert plugin_module.SCENARIO_DIR == scenarios.SCENARIO_DIR
    assert pytest_plugin.is_scenario_file(Path("rules") / scenarios.SCENARIO_DIR / "jmd.yaml")
    assert not pytest_plugin.is_scenario_file(Path("rules") / "eligibility" / "jmd.yaml")


def test_plugin_and_library_agree_on_the_engines() -> None:
    """The tiny plugin module checks --referral-engine against the library's engine names."""
    from referral_engine.models import ENGINES
    from referral_engine_plugins import pytest_plugin as plugin_module

    assert plugin_module._ENGINES == ENGINES


UNRELATED = """\
# an unrelated project's load-test scenarios: not a referral-engine file
scenarios:
  - name: checkout
    users: 50
"""


def test_plugin_ignores_scenario_folders_of_unrelated_projects(pytester: pytest.Pytester) -> None:
    """A project's own scenarios/*.yaml without a rule set next to it is not collected (no errors)."""
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "load.yaml").write_text(UNRELATED, encoding="utf-8")
    (pytester.path / "scenarios.yaml").write_text("steps: [login, checkout]\n", encoding="utf-8")
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK


def test_unrelated_run_imports_nothing_of_the_library(pytester: pytest.Pytester) -> None:
    """In a fresh pytest process of an unrelated project, referral_engine is never imported."""
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "load.yaml").write_text(UNRELATED, encoding="utf-8")
    pytester.makepyfile(
        test_plain="""
        import sys

        def test_library_not_imported():
            assert "referral_engine" not in sys.modules
            assert "referral_engine_plugins.pytest_plugin" in sys.modules
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_ini_option_names_scenario_folders(pytester: pytest.Pytester) -> None:
    """Scenario files under a referral_engine_scenarios folder are collected with no ruleset.yaml."""
    rules = _rule_folder(pytester)
    (rules / "ruleset.yaml").unlink()
    (rules / "scenarios" / "checks.yaml").write_text(PASSING, encoding="utf-8")
    assert pytester.runpytest().ret == pytest.ExitCode.NO_TESTS_COLLECTED
    pytester.makeini("[pytest]\nreferral_engine_scenarios = rules\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)  # collected: the library now says what the folder lacks
    result.stdout.fnmatch_lines(["*rules/scenarios/checks.yaml:1:1: no rule folder*"])


def test_plugin_leaves_projects_without_scenarios_alone(pytester: pytest.Pytester) -> None:
    """A project without scenario files runs as before: its YAML files are not collected."""
    pytester.makefile(".yaml", config="key: value\n")
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)


def test_plugin_runs_scenarios_with_the_chosen_engine(pytester: pytest.Pytester) -> None:
    """--referral-engine=python runs every scenario with that engine."""
    rules = _rule_folder(pytester)
    (rules / "scenarios" / "checks.yaml").write_text(PASSING, encoding="utf-8")
    pytester.runpytest("--referral-engine=python").assert_outcomes(passed=3)


def test_plugin_rejects_an_unknown_engine(pytester: pytest.Pytester) -> None:
    """An unknown --referral-engine is a usage error before anything runs."""
    result = pytester.runpytest("--referral-engine=drools")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--referral-engine must be one of: durable, python*"])


def test_plugin_can_be_switched_off(pytester: pytest.Pytester) -> None:
    """-p no:referral_engine switches scenario collection off."""
    rules = _rule_folder(pytester)
    (rules / "scenarios" / "checks.yaml").write_text(FAILING, encoding="utf-8")
    result = pytester.runpytest("-p", "no:referral_engine")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_readme_scenario_example_fails_as_shown(tmp_path: Path) -> None:
    """The scenario file in README.md loads, and its failing scenario prints the report shown there."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Scenario tests", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    shown = section.split("```text\n", 1)[1].split("```", 1)[0].splitlines()[1:]
    path = tmp_path / "rules" / "scenarios" / "jmd.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(example, encoding="utf-8")
    passing, failing = (run_scenario(s) for s in load_scenarios(path, ruleset=default_ruleset()))
    assert passing.ok, passing.report()
    report = failing.report().replace(str(path), "rules/scenarios/jmd.yaml")
    report = report.replace(default_ruleset().ruleset_version, default_ruleset().ruleset_version[:-12] + "…")
    assert report.splitlines() == shown


def test_rules_readme_scenario_example_passes(tmp_path: Path) -> None:
    """The annotated scenario file in rules/README.md is valid and holds for the bundled rules."""
    text = (REPO / "rules" / "README.md").read_text(encoding="utf-8")
    example = text.split("## Scenario tests", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.yaml"
    path.write_text(example, encoding="utf-8")
    for scenario in load_scenarios(path, ruleset=default_ruleset()):
        result = run_scenario(scenario)
        assert result.ok, result.report()


@pytest.mark.skipif(durable_available(), reason="needs an environment without durable-rules")
def test_plugin_reports_a_library_error_in_one_line(pytester: pytest.Pytester) -> None:
    """A library error while running a scenario (here: an engine that is not installed) is one line."""
    rules = _rule_folder(pytester)
    (rules / "scenarios" / "checks.yaml").write_text(FAILING, encoding="utf-8")
    result = pytester.runpytest("--referral-engine=durable")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["rules/scenarios/checks.yaml:3: scenario 'too old for youth': engine 'durable' needs*"]
    )
    assert "Traceback" not in result.stdout.str()
