"""JSON Schemas for web forms, API clients and rule authors' editors.

- ``profile``: what :func:`referral_engine.recommend` accepts (:class:`CaseProfile`), for web forms;
- ``recommendation``: what it returns as JSON (``Recommendation.model_dump(mode="json")``);
- ``rules``: the format of an eligibility rule file (``rules/eligibility/*.yaml``), for YAML
  completion in an editor (VS Code's YAML extension: ``yaml.schemas`` maps it to the files);
- ``steps`` and ``partners``: the formats of ``steps.yaml`` and ``partners.yaml``;
- ``i18n``: the format of a language catalogue (``rules/i18n/<lang>.yaml``).

The vocabularies (fields, operators, effects, categories, kinds) come from the loader's own tables,
so a schema cannot drift from what the loader accepts; the loader stays the authority on
everything a schema cannot say (cross-references, ``file:line`` messages). Copies of the schemas
ship in the package (``referral_engine/schemas/*.json``).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from .errors import UsageError
from .facts import FIELDS
from .graph import CONTACT_KEYS, PARTNER_KINDS
from .loader import (
    _OPS_BY_KIND,
    CATALOGUE_STATUSES,
    CATEGORIES,
    CONFIDENCES,
    DIRECTIONS,
    EFFECTS,
    ISO_639_1,
    STEP_FOR,
    STEP_KINDS,
)
from .models import CaseProfile, Recommendation

#: The schemas :func:`json_schema` gives.
SCHEMAS = ("profile", "recommendation", "rules", "steps", "partners", "i18n")
_DRAFT = "https://json-schema.org/draft/2020-12/schema"
_ID = r"^[a-z][a-z0-9_]*$"
_RULE_ID = r"^[a-z][a-z0-9_.-]*$"
_TARGET = r"^(office:)?[a-z][a-z0-9_]*$"


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema ``name`` (one of :data:`SCHEMAS`) as a dictionary."""
    builders = {
        "profile": _profile,
        "recommendation": _recommendation,
        "rules": _rules,
        "steps": _steps,
        "partners": _partners,
        "i18n": _i18n,
    }
    if name not in builders:
        raise UsageError(f"schema must be one of: {', '.join(SCHEMAS)}")
    return builders[name]()


def shipped_schema(name: str) -> dict[str, Any]:
    """The copy of schema ``name`` that ships in the package (equal to :func:`json_schema`)."""
    if name not in SCHEMAS:
        raise UsageError(f"schema must be one of: {', '.join(SCHEMAS)}")
    text = (resources.files("referral_engine") / "schemas" / f"{name}.schema.json").read_text(
        encoding="utf-8"
    )
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def schema_text(name: str) -> str:
    """Schema ``name`` as the JSON text that is shipped: indented, keys sorted, one trailing newline."""
    return json.dumps(json_schema(name), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _profile() -> dict[str, Any]:
    schema = CaseProfile.model_json_schema()
    return {"$schema": _DRAFT, "$id": "urn:referral-engine:schema:profile", **schema}


def _recommendation() -> dict[str, Any]:
    schema = Recommendation.model_json_schema(mode="serialization")
    return {"$schema": _DRAFT, "$id": "urn:referral-engine:schema:recommendation", **schema}


def _text(placeholders: str = "") -> dict[str, Any]:
    description = "German and English text" + (f"; placeholders: {placeholders}" if placeholders else "")
    return {
        "type": "object",
        "description": description,
        "properties": {"de": {"type": "string"}, "en": {"type": "string"}},
        "required": ["de", "en"],
        "additionalProperties": False,
    }


_DATE = {"type": "string", "format": "date", "description": "ISO date, e.g. 2026-03-01"}
_SOURCE = {
    "description": "legal reference or official page (one text or a list)",
    "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}],
}


def _condition() -> dict[str, Any]:
    """A condition: a leaf per field (with its own operators) or all / any / not."""
    leaves = []
    for name, spec in FIELDS.items():
        value: dict[str, Any]
        if spec.kind in ("enum", "level"):
            value = {
                "oneOf": [
                    {"enum": list(spec.values)},
                    {"type": "array", "items": {"enum": list(spec.values)}},
                ]
            }
        elif spec.kind == "int":
            value = {"oneOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}}]}
        elif spec.kind == "bool":
            value = {"type": "boolean"}
        elif spec.kind == "date":
            value = {"type": "string", "description": "an ISO date, or an ISO 8601 period such as P3Y"}
        elif spec.kind == "list":
            value = {"type": "string"}
        else:
            value = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
        leaves.append(
            {
                "type": "object",
                "properties": {
                    "field": {"const": name},
                    "op": {"enum": list(_OPS_BY_KIND[spec.kind])},
                    "value": value,
                },
                "required": ["field", "op", "value"],
                "additionalProperties": False,
            }
        )
    nested = {"$ref": "#/$defs/condition"}
    return {
        "oneOf": [
            *leaves,
            {
                "type": "object",
                "properties": {"all": {"type": "array", "items": nested, "minItems": 1}},
                "required": ["all"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {"any": {"type": "array", "items": nested, "minItems": 1}},
                "required": ["any"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {"not": nested},
                "required": ["not"],
                "additionalProperties": False,
            },
        ]
    }


def _rules() -> dict[str, Any]:
    rule = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "pattern": _RULE_ID},
            "effect": {"enum": list(EFFECTS)},
            "when": {"$ref": "#/$defs/condition"},
            "source": _SOURCE,
            "valid_from": _DATE,
            "valid_to": _DATE,
            "confidence": {"enum": list(CONFIDENCES)},
            "note": _text(),
            "check_with": {
                "type": "string",
                "pattern": _TARGET,
                "description": "a partner unit or office:<id>",
            },
            "handover": {"type": "array", "items": {"enum": list(CATEGORIES)}},
            "own_application": {"type": "boolean"},
        },
        "required": ["id", "effect", "when", "source"],
        "additionalProperties": False,
    }
    return {
        "$schema": _DRAFT,
        "$id": "urn:referral-engine:schema:rules",
        "title": "referral-engine eligibility rule file (rules/eligibility/*.yaml)",
        "type": "object",
        "properties": {
            "service": {"type": "string", "pattern": _ID},
            "rules": {"type": "array", "items": {"$ref": "#/$defs/rule"}},
            "remove": {"type": "array", "items": {"type": "string", "pattern": _RULE_ID}},
        },
        "required": ["service"],
        "additionalProperties": False,
        "$defs": {"rule": rule, "condition": _condition()},
    }


def _steps() -> dict[str, Any]:
    step = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "pattern": _RULE_ID},
            "service": {"type": "string", "pattern": _ID},
            "kind": {"enum": list(STEP_KINDS)},
            "for": {"enum": list(STEP_FOR)},
            "partner": {
                "type": "string",
                "pattern": _TARGET,
                "description": "responsible, none, a unit or office:<id>",
            },
            "handover": {"type": "array", "items": {"enum": list(CATEGORIES)}},
            "when": {"$ref": "#/$defs/condition"},
            "order": {"type": "integer"},
            "valid_from": _DATE,
            "valid_to": _DATE,
            "own_application": {"type": "boolean"},
            "text": _text("{partner}, {service}"),
            "source": _SOURCE,
        },
        "required": ["id", "service", "kind", "text"],
        "additionalProperties": False,
    }
    return {
        "$schema": _DRAFT,
        "$id": "urn:referral-engine:schema:steps",
        "title": "referral-engine next-step templates (rules/steps.yaml)",
        "type": "object",
        "properties": {
            "steps": {"type": "array", "items": {"$ref": "#/$defs/step"}},
            "remove": {"type": "array", "items": {"type": "string", "pattern": _RULE_ID}},
        },
        "additionalProperties": False,
        "$defs": {"step": step, "condition": _condition()},
    }


def _partners() -> dict[str, Any]:
    places = {
        "oneOf": [
            {"const": "all"},
            {"type": "array", "items": {"type": "string", "pattern": _ID}, "minItems": 1},
        ]
    }
    ids = {"type": "array", "items": {"type": "string", "pattern": _ID}}
    entries: dict[str, dict[str, Any]] = {
        "municipality": {
            "properties": {
                "id": {"type": "string", "pattern": _ID},
                "name": {"type": "string"},
                "aliases": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["id", "name"],
        },
        "partner": {
            "properties": {
                "id": {"type": "string", "pattern": _ID},
                "name": {"type": "string"},
                "kind": {"enum": list(PARTNER_KINDS)},
                "data_protection": {"type": "string"},
                "reporting_duty": {"type": "boolean"},
                "organisation": {"type": "string", "pattern": _ID},
                "sample": {"type": "boolean"},
                "replaced_by": ids,
                "contact": {
                    "type": "object",
                    "properties": {key: {"type": "string"} for key in CONTACT_KEYS},
                    "additionalProperties": False,
                },
                "source": _SOURCE,
            },
            "required": ["id", "name", "kind", "data_protection"],
        },
        "office": {
            "properties": {"id": {"type": "string", "pattern": _ID}, "name": _text(), "source": _SOURCE},
            "required": ["id", "name"],
        },
        "offer": {
            "properties": {
                "id": {"type": "string", "pattern": _RULE_ID},
                "partner": {"type": "string", "pattern": _ID},
                "service": {"type": "string", "pattern": _ID},
                "office": {"type": "string", "pattern": _ID},
                "municipalities": places,
                "languages": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]{2}$"}},
                "valid_from": _DATE,
                "valid_to": _DATE,
                "sample": {"type": "boolean"},
                "source": _SOURCE,
            },
            "required": ["id", "partner", "municipalities"],
            "oneOf": [{"required": ["service"]}, {"required": ["office"]}],
        },
        "not_offered": {
            "properties": {
                "id": {"type": "string", "pattern": _RULE_ID},
                "service": {"type": "string", "pattern": _ID},
                "municipalities": places,
                "valid_from": _DATE,
                "valid_to": _DATE,
                "source": _SOURCE,
            },
            "required": ["id", "service", "municipalities", "source"],
        },
    }
    defs = {name: {"type": "object", "additionalProperties": False, **spec} for name, spec in entries.items()}
    lists = {
        "municipalities": "municipality",
        "partners": "partner",
        "offices": "office",
        "offers": "offer",
        "not_offered": "not_offered",
    }
    properties: dict[str, Any] = {
        key: {"type": "array", "items": {"$ref": f"#/$defs/{entry}"}} for key, entry in lists.items()
    }
    properties["remove"] = {"type": "array", "items": {"type": "string", "pattern": _RULE_ID}}
    return {
        "$schema": _DRAFT,
        "$id": "urn:referral-engine:schema:partners",
        "title": "referral-engine partner graph (rules/partners.yaml)",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "$defs": defs,
    }


def _i18n() -> dict[str, Any]:
    codes = sorted(ISO_639_1 - {"de", "en"})
    kinds = (
        r"steps\.[a-z][a-z0-9_.-]*",
        r"fields\.[a-z_]+\.question",
        r"messages\.[a-z_]+",
        r"categories\.[a-z_]+",
        r"services\.[a-z][a-z0-9_]*\.name",
        r"rules\.[a-z][a-z0-9_.-]*\.note",
        r"words\.[a-z_]+(\.[a-z0-9_]+)+",
    )
    keys = f"^({'|'.join(kinds)})$"
    return {
        "$schema": _DRAFT,
        "$id": "urn:referral-engine:schema:i18n",
        "title": "referral-engine language catalogue (rules/i18n/<lang>.yaml)",
        "description": "Texts in one more language, by key; a missing text falls back along fallback. "
        "A catalogue of an overlay may give only what it changes.",
        "type": "object",
        "properties": {
            "language": {"enum": codes, "description": "ISO 639-1 code, the file's name"},
            "name": {"type": "string", "minLength": 1, "description": "the language's own name"},
            "direction": {"enum": list(DIRECTIONS)},
            "fallback": {"enum": sorted(ISO_639_1), "description": "de, en or another catalogue's language"},
            "status": {"enum": list(CATALOGUE_STATUSES)},
            "reviewed_by": {"type": "string", "minLength": 1},
            "texts": {
                "type": "object",
                "propertyNames": {"pattern": keys},
                "additionalProperties": {"type": "string", "minLength": 1},
            },
        },
        "additionalProperties": False,
    }
