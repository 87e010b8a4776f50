"""JSON Schemas for profiles, recommendations and rule files: valid for what the library accepts, shipped."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from referral_engine import UsageError, recommend
from referral_engine.schema import SCHEMAS, json_schema, schema_text, shipped_schema
from tests.conftest import REPO

jsonschema = pytest.importorskip("jsonschema")


def validator(name: str) -> Any:
    return jsonschema.Draft202012Validator(json_schema(name), format_checker=jsonschema.FormatChecker())


def plain(value: Any) -> Any:
    """YAML data as JSON would carry it: dates as ISO text."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def load(path: Path) -> Any:
    return plain(yaml.safe_load(path.read_text(encoding="utf-8")))


RULE_FILES = sorted((REPO / "rules" / "eligibility").glob("*.yaml"))


@pytest.mark.parametrize("path", RULE_FILES, ids=[p.stem for p in RULE_FILES])
def test_every_bundled_rule_file_matches_the_rules_schema(path: Path) -> None:
    """Each bundled eligibility file is valid under the rules schema (what an editor would check)."""
    assert [e.message for e in validator("rules").iter_errors(load(path))] == []


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("steps", REPO / "rules" / "steps.yaml"),
        ("partners", REPO / "rules" / "partners.yaml"),
        ("partners", REPO / "examples" / "deployment" / "partners.yaml"),
        ("rules", REPO / "examples" / "deployment" / "eligibility" / "helferkreis.yaml"),
    ],
)
def test_steps_and_partner_files_match_their_schemas(name: str, path: Path) -> None:
    """steps.yaml and partners.yaml of the bundled rules and the example deployment are valid."""
    assert [e.message for e in validator(name).iter_errors(load(path))] == []


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"colour": "red"}, "colour"),
        ({"effect": "maybe"}, "maybe"),
        ({"when": {"field": "age", "op": "within", "value": 3}}, "within"),
        ({"when": {"field": "shoe_size", "op": "eq", "value": 3}}, "shoe_size"),
        ({"handover": ["gossip"]}, "gossip"),
    ],
)
def test_the_rules_schema_rejects_what_the_loader_rejects(change: dict[str, Any], word: str) -> None:
    """An unknown key, effect, operator, field or category makes a rule invalid under the schema."""
    rule = {"id": "x", "effect": "eligible", "when": {"field": "age", "op": "ge", "value": 12}, "source": "s"}
    document = {"service": "jmd", "rules": [{**rule, **change}]}
    assert not validator("rules").is_valid(document), word


CASES = sorted((REPO / "examples" / "cases").glob("*.json"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_example_profiles_match_the_profile_schema_and_recommendations_theirs(path: Path) -> None:
    """Each example case is a valid profile; its recommendation as JSON is a valid recommendation."""
    case = json.loads(path.read_text(encoding="utf-8"))
    assert [e.message for e in validator("profile").iter_errors(case["profile"])] == []
    rec = recommend(case["profile"], as_of=dt.date.fromisoformat(case["as_of"]))
    errors = validator("recommendation").iter_errors(rec.model_dump(mode="json"))
    assert [e.message for e in errors] == []


def test_the_profile_schema_rejects_an_unknown_field_and_a_bad_status() -> None:
    """A typo in a field name or a status code is invalid, as recommend() would say."""
    assert not validator("profile").is_valid({"agee": 3})
    assert not validator("profile").is_valid({"residence_status": "refugee"})


@pytest.mark.parametrize("name", SCHEMAS)
def test_the_shipped_schemas_are_the_generated_ones(name: str) -> None:
    """The JSON files in the package equal what json_schema() builds (regenerate with schema_text)."""
    assert shipped_schema(name) == json.loads(schema_text(name))
    assert json_schema(name)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_an_unknown_schema_is_a_usage_error() -> None:
    """Only the listed schemas exist."""
    with pytest.raises(UsageError, match="schema must be one of"):
        json_schema("case")
    with pytest.raises(UsageError, match="schema must be one of"):
        shipped_schema("../pyproject")


def test_the_schema_command_prints_the_shipped_schema(capsys: pytest.CaptureFixture[str]) -> None:
    """`referral-engine schema rules` prints the rules schema; an unknown name is a usage error."""
    from referral_engine.cli import main

    assert main(["schema", "rules"]) == 0
    assert json.loads(capsys.readouterr().out) == shipped_schema("rules")
    with pytest.raises(SystemExit) as usage:
        main(["schema", "case"])
    assert usage.value.code == 2
