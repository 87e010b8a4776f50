"""Rule sets that extend another: replace entries by id, add new ones, remove with `remove`."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from referral_engine import RuleFileError, default_ruleset, load_ruleset, recommend
from referral_engine.cli import main

from .conftest import FIXTURES, REPO

AS_OF = dt.date(2026, 3, 1)


def _overlay(tmp_path: Path, files: dict[str, str]) -> Path:
    """A copy of the minimal rule set as `base/` and a folder `local/` that extends it."""
    shutil.copytree(FIXTURES / "minimal", tmp_path / "base")
    local = tmp_path / "local"
    (local / "eligibility").mkdir(parents=True)
    files = {"ruleset.yaml": "name: local\nversion: '2'\nextends: ../base\n", **files}
    for name, text in files.items():
        (local / name).write_text(text, encoding="utf-8")
    return local


def _problems(path: Path) -> list[str]:
    with pytest.raises(RuleFileError) as caught:
        load_ruleset(path)
    return [str(problem) for problem in caught.value.problems]


def test_example_deployment_replaces_the_sample_jmd_operator() -> None:
    """The example deployment routes the JMD to its own operator and keeps every bundled rule."""
    ruleset = load_ruleset(REPO / "examples" / "deployment")
    base = default_ruleset()
    assert {rule.id for rule in base.rules} < {rule.id for rule in ruleset.rules}
    assert ruleset.ruleset_version.startswith("bad-krozingen-staufen-deployment@2026.2-local.1+")
    rec = recommend({"age": 20, "residence_status": "duldung", "municipality": "Staufen"}, as_of=AS_OF,
                    ruleset=ruleset)  # fmt: skip
    assert rec.decision("jmd").partners == ("caritas",)
    assert recommend(
        {"age": 20, "residence_status": "duldung", "municipality": "Staufen"}, as_of=AS_OF
    ).decision("jmd").partners == ("diakonie",)


def test_example_deployment_adds_a_rule() -> None:
    """A rule the deployment adds takes part in the decision like a bundled one."""
    ruleset = load_ruleset(REPO / "examples" / "deployment")
    profile = {"age": 34, "residence_status": "ae_family", "municipality": "Staufen"}
    decision = recommend(profile, as_of=AS_OF, ruleset=ruleset).decision("helferkreis")
    assert decision.status == "eligible"
    assert [reason.rule for reason in decision.reasons] == ["helferkreis-family-reunification-local"]
    assert recommend(profile, as_of=AS_OF).decision("helferkreis").status == "undetermined"


def test_a_rule_with_a_base_id_replaces_it_in_place(tmp_path: Path) -> None:
    """An overlay rule with the id of a base rule replaces it and keeps its position."""
    rules = """service: youth
rules:
  - id: youth-age
    effect: eligible
    when: {field: age, op: lt, value: 30}
    source: "local source"
"""
    ruleset = load_ruleset(_overlay(tmp_path, {"eligibility/youth.yaml": rules}))
    base = load_ruleset(tmp_path / "base")
    assert [rule.id for rule in ruleset.rules] == [rule.id for rule in base.rules]
    replaced = next(rule for rule in ruleset.rules if rule.id == "youth-age")
    assert replaced.source == ("local source",)
    assert replaced.where.file.endswith("local/eligibility/youth.yaml")
    rec = recommend({"age": 28, "residence_status": "duldung"}, as_of=AS_OF, ruleset=ruleset)
    assert rec.decision("youth").status == "eligible"


def test_remove_drops_base_entries(tmp_path: Path) -> None:
    """`remove` drops a base rule, step and offer; the rest of the base stays."""
    local = _overlay(
        tmp_path,
        {
            "eligibility/youth.yaml": "service: youth\nremove: [youth-arrival-check]\n",
            "steps.yaml": "remove: [youth-info]\n",
            "partners.yaml": "remove: [north-youth]\n",
        },
    )
    ruleset = load_ruleset(local)
    assert "youth-arrival-check" not in {rule.id for rule in ruleset.rules}
    assert "youth-info" not in {step.id for step in ruleset.steps}
    assert [offer.id for offer in ruleset.partners.offers] == ["south-youth", "office-adult"]
    assert "north" in ruleset.partners.partners


def test_overlay_may_override_messages_and_fields(tmp_path: Path) -> None:
    """An overlay can replace single texts of messages.yaml and single entries of fields.yaml."""
    messages = "no_partner:\n  de: 'Kein Partner: {service}'\n  en: 'No partner: {service}'\n"
    fields = "fields:\n  age:\n    category: identity\n    question: {de: 'Alter?', en: 'Age?'}\n"
    ruleset = load_ruleset(_overlay(tmp_path, {"messages.yaml": messages, "fields.yaml": fields}))
    assert ruleset.messages.no_partner.en == "No partner: {service}"
    assert ruleset.messages.consent.en.startswith("Obtain a release")
    assert ruleset.fields["age"].question.de == "Alter?"
    assert ruleset.fields["residence_status"].question.de.startswith("Welchen Aufenthaltsstatus")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {"steps.yaml": "remove: [no-such-step]\n"},
            "local/steps.yaml:1:10: step 'no-such-step': nothing to remove: the base defines no",
            id="remove-unknown-id",
        ),
        pytest.param(
            {"partners.yaml": "remove: [north]\n"},
            "local/partners.yaml:1:10: 'north' is removed, but offer 'north-youth' still names it",
            id="remove-partner-still-offered",
        ),
        pytest.param(
            {"ruleset.yaml": "name: local\nversion: '2'\nextends: ../nowhere\n"},
            "local/ruleset.yaml:3:10: extends names no rule folder: '../nowhere'",
            id="extends-missing-folder",
        ),
        pytest.param(
            {"steps.yaml": "steps:\n  - {id: a, service: youth, kind: information, partner: none,"
             " text: {de: x, en: x}}\n  - {id: a, service: youth, kind: information, partner: none,"
             " text: {de: y, en: y}}\n"},
            "local/steps.yaml:3:10: step 'a': duplicate step id (also defined at",
            id="duplicate-id-in-one-layer",
        ),
        pytest.param(
            {"eligibility/youth.yaml": "service: youth\nrules:\n  - {id: youth-x, effect: maybe, when: "
             "{field: age, op: ge, value: 1}, source: s}\n"},
            "local/eligibility/youth.yaml:3:27: rule 'youth-x': unknown value 'maybe'",
            id="problem-in-overlay-file",
        ),
    ],
)  # fmt: skip
def test_overlay_problems_point_to_the_overlay_file(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    """A problem in an extending rule set is reported with the overlay's file, line and id."""
    problems = _problems(_overlay(tmp_path, files))
    assert any(expected in problem for problem in problems), problems


def test_remove_is_only_for_extending_rule_sets(tmp_path: Path) -> None:
    """A rule set that extends nothing cannot use remove."""
    shutil.copytree(FIXTURES / "minimal", tmp_path / "rules")
    steps = tmp_path / "rules" / "steps.yaml"
    steps.write_text("remove: [youth-info]\n" + steps.read_text(encoding="utf-8"), encoding="utf-8")
    problems = _problems(tmp_path / "rules")
    assert any(
        "steps.yaml:1:9" in p and "remove is for a rule set that extends another" in p for p in problems
    )


def test_a_base_cannot_extend_again(tmp_path: Path) -> None:
    """Only one level of extension: a base that extends another is reported."""
    local = _overlay(tmp_path, {})
    base_header = tmp_path / "base" / "ruleset.yaml"
    base_header.write_text("name: b\nversion: '1'\nextends: default\n", encoding="utf-8")
    problems = _problems(local)
    assert any("base/ruleset.yaml:3:10" in p and "cannot itself extend another" in p for p in problems)


def test_version_covers_the_base_files(tmp_path: Path) -> None:
    """Changing a base file changes the extending rule set's version, so results stay traceable."""
    local = _overlay(tmp_path, {})
    before = load_ruleset(local).ruleset_version
    services = tmp_path / "base" / "services.yaml"
    services.write_text(services.read_text(encoding="utf-8").replace("priority: 2", "priority: 3"), "utf-8")
    after = load_ruleset(local).ruleset_version
    assert before.startswith("local@2+")
    assert before != after


def test_cli_uses_an_extending_rule_set(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo runs on an extending rule set given with --rules."""
    assert main(["demo", "--rules", str(REPO / "examples" / "deployment")]) == 0
    assert "bad-krozingen-staufen-deployment@2026.2-local.1+" in capsys.readouterr().out
