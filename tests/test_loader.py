"""Every way a rule folder can be broken, and how the strict loader reports it.

Each case under ``tests/fixtures/broken/<case>/`` holds one file: a copy of the file of the same
relative path in ``tests/fixtures/minimal/`` with exactly one defect (a file named
``<name>.delete`` removes ``<name>`` instead). The test copies the minimal rule set, lays the case
over it, loads it and checks that the defect is reported at the right ``file:line:column``, for the
right rule, with a message that says what is wrong and what is allowed.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from referral_engine import ReferralEngineError, RuleFileError, RuleProblem, load_ruleset

if TYPE_CHECKING:
    from _pytest.mark.structures import ParameterSet

FIXTURES = Path(__file__).parent / "fixtures"
MINIMAL = FIXTURES / "minimal"
BROKEN = FIXTURES / "broken"
BUNDLED_RULES = Path(__file__).parent.parent / "rules"
DELETE = ".delete"


@dataclass(frozen=True)
class Expected:
    """A problem the loader must report: where it is, whose it is and what its message says."""

    file: str  # path relative to the rule folder
    line: int
    column: int | None  # None where the column is not meaningful
    rule: str | None  # the id of the rule, step, offer or service; None for file-level problems
    fragments: tuple[str, ...]  # text the message must contain
    subject: str = "rule"


def build(tmp_path: Path, *cases: str) -> Path:
    """Copy the minimal rule set to ``tmp_path`` and lay the files of ``cases`` over it."""
    folder = tmp_path / "rules"
    shutil.copytree(MINIMAL, folder)
    for case in cases:
        for source in sorted((BROKEN / case).rglob("*")):
            if not source.is_file():
                continue
            relative = source.relative_to(BROKEN / case)
            if relative.name.endswith(DELETE):
                (folder / relative.with_name(relative.name.removesuffix(DELETE))).unlink()
            else:
                (folder / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, folder / relative)
    return folder


def load_error(folder: Path) -> RuleFileError:
    """The error loading ``folder`` raises, checked to be part of the library's error hierarchy."""
    with pytest.raises(RuleFileError) as caught:
        load_ruleset(folder)
    error = caught.value
    assert isinstance(error, ValueError)
    assert isinstance(error, ReferralEngineError)
    assert error.problems, "a RuleFileError must list at least one problem"
    return error


def find(error: RuleFileError, expected: Expected) -> RuleProblem:
    """The problem of ``error`` that matches ``expected`` (fails, listing all problems, if none does)."""
    matches = [
        problem
        for problem in error.problems
        if problem.file.endswith(f"/{expected.file}")
        and problem.line == expected.line
        and (expected.column is None or problem.column == expected.column)
        and problem.rule == expected.rule
        and (expected.rule is None or problem.subject == expected.subject)
        and all(fragment in problem.message for fragment in expected.fragments)
    ]
    assert matches, f"expected {expected}\nbut the loader reported:\n{error}"
    return matches[0]


def case(name: str, expected: Expected, bug: str | None = None) -> ParameterSet:
    """One broken case; ``bug`` marks a loader bug the test documents (strict xfail)."""
    marks = [pytest.mark.xfail(strict=True, reason=f"loader bug: {bug}")] if bug else []
    return pytest.param(name, expected, id=name, marks=marks)


YOUTH = "eligibility/youth.yaml"
ADULT = "eligibility/adult.yaml"
RULE_KEYS = "expected one of: id, effect, when, source, valid_from, valid_to, confidence, note, check_with"

CASES = [
    # -- YAML itself
    case(
        "invalid_yaml_syntax",
        Expected(YOUTH, 10, 24, None, ("invalid YAML", "mapping values are not allowed")),
    ),
    case("empty_file", Expected("ruleset.yaml", 1, 1, None, ("file is empty",))),
    case(
        "duplicate_key",
        Expected(YOUTH, 11, 5, "youth-age", ("duplicate key 'source'", "first given on line 10")),
    ),
    case(
        "ambiguous_boolean",
        Expected(ADULT, 14, 13, "adult-excluded", ("'yes' is read as a boolean", "quote it")),
    ),
    case(
        "yaml_tag_on_scalar",
        Expected(YOUTH, 10, 13, "youth-age", ("YAML tags are not allowed", "python/object/apply:os.getcwd")),
    ),
    case(
        "yaml_tag_on_list",
        Expected(YOUTH, 10, 13, "youth-age", ("YAML tags are not allowed", "python/object/apply:os.getcwd")),
    ),
    case(
        "yaml_tag_on_mapping",
        Expected(
            ADULT, 13, 11, "adult-excluded", ("YAML tags are not allowed", "python/object:builtins.dict")
        ),
    ),
    case(
        "recursive_alias",
        Expected(ADULT, 13, None, None, ("aliases", "not allowed")),
    ),
    # -- the keys of a rule
    case("unknown_key_in_rule", Expected(YOUTH, 11, 5, "youth-age", ("unknown key 'partner'", RULE_KEYS))),
    case("missing_source", Expected(ADULT, 11, 5, "adult-excluded", ("missing key 'source'",))),
    case("empty_source_list", Expected(ADULT, 14, 13, "adult-excluded", ("needs a source",))),
    case(
        "unknown_effect",
        Expected(
            YOUTH, 12, 13, "youth-arrival-check", ("unknown value 'verify'", "eligible, not_eligible, check")
        ),
    ),
    case(
        "invalid_rule_id",
        Expected(YOUTH, 3, 9, "Youth Age", ("invalid id 'Youth Age'", "lower-case letters, digits")),
    ),
    # -- conditions
    case(
        "unknown_field_in_condition",
        Expected(
            ADULT,
            13,
            19,
            "adult-excluded",
            ("'residence'", "expected one of: age, birth_date", "residence_status"),
        ),
    ),
    case(
        "unknown_key_in_condition",
        Expected(
            ADULT, 13, 66, "adult-excluded", ("unknown key 'unit'", "expected one of: field, op, value")
        ),
    ),
    case(
        "operator_not_allowed_for_field",
        Expected(ADULT, 13, 41, "adult-excluded", ("'within'", "residence_status", "eq, ne, in, not_in")),
    ),
    case("string_for_age", Expected(YOUTH, 8, 39, "youth-age", ("whole number for age", "found a string"))),
    case(
        "list_for_eq", Expected(ADULT, 13, 52, "adult-excluded", ("expected a single value", "found a list"))
    ),
    case(
        "unknown_enum_value",
        Expected(
            YOUTH,
            9,
            52,
            "youth-age",
            (
                "unknown value 'undocumentd' for residence_status",
                "expected one of: arrival_certificate",
                "undocumented",
            ),
        ),
    ),
    case("bad_iso_duration", Expected(ADULT, 8, 50, "adult-new", ("ISO 8601 duration", "P3Y", "found '3Y'"))),
    case(
        "combination_with_two_keys",
        Expected(YOUTH, 6, 7, "youth-age", ("a combination has exactly one of the keys all, any, not",)),
    ),
    case("empty_all_list", Expected(ADULT, 6, 12, "adult-new", ("'all' needs at least one condition",))),
    # -- dates
    case(
        "date_with_time",
        Expected(ADULT, 10, 17, "adult-new", ("expected a date (YYYY-MM-DD)", "time")),
    ),
    case("invalid_date", Expected(ADULT, 10, 17, "adult-new", ("day is out of range for month",))),
    case(
        "valid_to_before_valid_from", Expected(ADULT, 11, 15, "adult-new", ("valid_to is before valid_from",))
    ),
    # -- cross-references of rules
    case(
        "duplicate_rule_id_across_files",
        Expected(YOUTH, 3, 9, "youth-age", ("duplicate rule id", "eligibility/adult.yaml:11")),
    ),
    case(
        "rule_file_unknown_service",
        Expected(ADULT, 1, 10, None, ("unknown service 'adults'", "services.yaml")),
    ),
    case(
        "check_with_on_non_check_rule",
        Expected(YOUTH, 11, 17, "youth-age", ("check_with belongs to rules with effect: check",)),
    ),
    case(
        "check_with_unknown_partner",
        Expected(YOUTH, 20, 17, "youth-arrival-check", ("unknown partner 'ofice'",)),
    ),
    # -- services, fields, messages
    case(
        "service_never_eligible",
        Expected("services.yaml", 6, None, "adult", ("no rule can make this service eligible",), "service"),
    ),
    case(
        "duplicate_service_id",
        Expected("services.yaml", 10, None, "youth", ("duplicate service id", "services.yaml:2"), "service"),
    ),
    case(
        "fields_missing_entry",
        Expected("fields.yaml", 5, 3, None, ("missing entry for profile field 'languages'",)),
    ),
    case(
        "unknown_message_placeholder",
        Expected("messages.yaml", 6, 7, None, ("unknown placeholder '{service}'", "{question}, {services}")),
    ),
    # -- partners
    case("missing_partners_file", Expected("partners.yaml", 1, 1, None, ("file is missing",))),
    case(
        "offer_unknown_partner",
        Expected("partners.yaml", 32, 14, "office-adult", ("unknown partner 'offfice'",), "offer"),
    ),
    case(
        "offer_unknown_municipality",
        Expected(
            "partners.yaml", 24, None, "north-youth", ("unknown municipality 'town_c'", "'all'"), "offer"
        ),
    ),
    # -- steps
    case(
        "step_unknown_service",
        Expected("steps.yaml", 13, 14, "adult-apply", ("unknown service 'adults'",), "step"),
    ),
    case(
        "step_unknown_placeholder",
        Expected(
            "steps.yaml",
            6,
            16,
            "youth-appointment",
            ("unknown placeholder '{partnr}'", "{partner}, {service}"),
            "step",
        ),
    ),
    case(
        "step_partner_placeholder_without_partner",
        Expected(
            "steps.yaml",
            11,
            58,
            "youth-info",
            ("unknown placeholder '{partner}'", "allowed: {service}"),
            "step",
        ),
    ),
    case(
        "step_unknown_handover_category",
        Expected(
            "steps.yaml",
            5,
            26,
            "youth-appointment",
            ("unknown value 'residency'", "identity, residence"),
            "step",
        ),
    ),
    case(
        "step_handover_without_partner",
        Expected("steps.yaml", 11, 15, "youth-info", ("without a partner cannot hand over data",), "step"),
    ),
]
CASE_NAMES: list[str] = [str(param.id) for param in CASES]

# Cases whose one defect legitimately causes a second problem.
LEGITIMATELY_SEVERAL = {"rule_file_unknown_service"}  # adult.yaml no longer belongs to 'adult'
# Cases where the loader adds follow-on problems that go away once the one defect is fixed.
FOLLOW_ON: dict[str, str] = {}


@pytest.mark.parametrize(("name", "expected"), CASES)
def test_broken_case_is_reported(name: str, expected: Expected, tmp_path: Path) -> None:
    """A rule folder with one defect raises a RuleFileError that locates and explains the defect."""
    error = load_error(build(tmp_path, name))
    problem = find(error, expected)
    assert str(problem) in str(error)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name,
            id=name,
            marks=[pytest.mark.xfail(strict=True, reason=f"loader bug: {FOLLOW_ON[name]}")]
            if name in FOLLOW_ON
            else [],
        )
        for name in CASE_NAMES
        if name not in LEGITIMATELY_SEVERAL
    ],
)
def test_one_defect_is_one_problem(name: str, tmp_path: Path) -> None:
    """A rule folder with one defect reports exactly one problem, without follow-on problems."""
    error = load_error(build(tmp_path, name))
    assert len(error.problems) == 1, str(error)


def test_broken_fixtures_are_single_file_edits_of_the_minimal_set() -> None:
    """Every broken case is one file that replaces (or deletes) one file of the minimal set, and is tested."""
    folders = sorted(path.name for path in BROKEN.iterdir() if path.is_dir())
    assert folders == sorted(CASE_NAMES)
    for folder in folders:
        files = [path for path in (BROKEN / folder).rglob("*") if path.is_file()]
        assert len(files) == 1, f"{folder} must hold exactly one file, found {files}"
        relative = files[0].relative_to(BROKEN / folder)
        original = MINIMAL / relative.with_name(relative.name.removesuffix(DELETE))
        assert original.is_file(), f"{folder}: {relative} replaces no file of the minimal rule set"
        assert relative.name.endswith(DELETE) or files[0].read_bytes() != original.read_bytes()


def expected_for(name: str) -> Expected:
    """The expected problem of the broken case ``name``."""
    expected = CASES[CASE_NAMES.index(name)].values[1]
    assert isinstance(expected, Expected)
    return expected


# Five broken cases, each in a different file, laid over the minimal set together.
MANY = (
    "unknown_key_in_rule",
    "empty_source_list",
    "fields_missing_entry",
    "offer_unknown_partner",
    "step_unknown_service",
)


def test_many_problems_in_different_files_are_reported_at_once(tmp_path: Path) -> None:
    """Defects in five different files are all reported in one error, sorted by file and line."""
    error = load_error(build(tmp_path, *MANY))
    for name in MANY:
        find(error, expected_for(name))
    assert len(error.problems) >= 3
    assert len({problem.file for problem in error.problems}) == len(MANY)
    assert list(error.problems) == sorted(error.problems, key=lambda problem: (problem.file, problem.line))


def test_error_message_names_every_problem(tmp_path: Path) -> None:
    """The error's message counts the problems and names each one's file:line:column."""
    error = load_error(build(tmp_path, *MANY))
    message = str(error)
    assert message.startswith(f"{len(error.problems)} problems in rule files:")
    for problem in error.problems:
        assert f"{problem.file}:{problem.line}:{problem.column}" in message
        assert str(problem) in message


def test_minimal_fixture_loads() -> None:
    """The minimal rule set the broken cases build on loads without problems."""
    ruleset = load_ruleset(MINIMAL)
    assert ruleset.name == "minimal"
    assert [service.id for service in ruleset.services] == ["youth", "adult"]
    assert sorted(rule.id for rule in ruleset.rules) == [
        "adult-excluded",
        "adult-new",
        "youth-age",
        "youth-arrival-check",
    ]
    assert len(ruleset.steps) == 4


def test_loader_never_executes_yaml(tmp_path: Path) -> None:
    """A `!!python/object/apply:os.system` tag is reported as a problem and never run."""
    folder = build(tmp_path)
    scalar_marker, list_marker = tmp_path / "ran-scalar", tmp_path / "ran-list"
    youth = folder / YOUTH
    text = youth.read_text(encoding="utf-8")
    text = text.replace('"test source A"', f'!!python/object/apply:os.system "touch {scalar_marker}"')
    text = text.replace('"test source B"', f'!!python/object/apply:os.system ["touch {list_marker}"]')
    youth.write_text(text, encoding="utf-8")
    error = load_error(folder)
    assert not scalar_marker.exists()
    assert not list_marker.exists()
    find(
        error,
        Expected(YOUTH, 10, 13, "youth-age", ("YAML tags are not allowed", "python/object/apply:os.system")),
    )


@pytest.mark.parametrize(
    "target",
    [pytest.param("ruleset.yaml", id="file"), pytest.param("no-such-folder", id="missing")],
)
def test_path_that_is_not_a_folder_is_reported(target: str, tmp_path: Path) -> None:
    """A path that is a file, or does not exist, is reported as not a folder of rule files."""
    folder = build(tmp_path)
    path = folder / target
    error = load_error(path)
    assert len(error.problems) == 1
    (problem,) = error.problems
    assert problem.file == str(path)
    assert (problem.line, problem.column, problem.rule) == (1, 1, None)
    assert "not a folder of rule files" in problem.message


def test_bundled_rules_load() -> None:
    """The repository's own rules/ folder loads without problems."""
    ruleset = load_ruleset(BUNDLED_RULES)
    assert ruleset.rules
    assert ruleset.services
