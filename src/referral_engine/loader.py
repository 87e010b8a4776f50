"""Loading rule folders: :func:`load_ruleset` and :func:`default_ruleset`.

The loader reads every file of a folder laid out like the repository's ``rules/``, checks each
value and every cross-reference (service, partner and municipality ids, profile fields,
operators, value types, dates, text placeholders) and raises one :class:`RuleFileError` that
lists *every* problem with its ``file:line:column`` and rule id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import string
import threading
import time
from collections.abc import Collection, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any, cast, get_args

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from . import conditions as cond
from ._bundled import bundled
from ._yaml import RULE_ID, Reader
from .dates import Duration
from .errors import RuleFileError, RuleProblem
from .facts import FIELDS, FieldSpec
from .graph import Located, Municipality, NotOffered, Offer, Partner, PartnerGraph, Text
from .models import LANGUAGE_LEVELS, Confidence, DataCategory, Effect, StepKind
from .ruleset import FieldInfo, Messages, Rule, Ruleset, Service, StepTemplate

_log = logging.getLogger(__name__)

ELIGIBILITY_DIR = "eligibility"

SERVICE_KINDS = ("counselling", "language", "work", "benefits", "recognition", "volunteer")
PARTNER_KINDS = ("welfare", "authority", "municipality", "federal", "volunteer", "provider")
STEP_KINDS = ("appointment", "application", "information")
STEP_FOR = ("eligible", "undetermined")
EFFECTS: tuple[str, ...] = get_args(Effect)
CONFIDENCES: tuple[str, ...] = get_args(Confidence)
CATEGORIES: tuple[str, ...] = get_args(DataCategory)

_OPS_BY_KIND: dict[str, tuple[str, ...]] = {
    "int": ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in"),
    "date": ("eq", "ne", "lt", "le", "gt", "ge", "within", "older_than"),
    "enum": ("eq", "ne", "in", "not_in"),
    "level": ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in"),
    "bool": ("eq", "ne"),
    "text": ("eq", "ne", "in", "not_in"),
    "list": ("contains",),
}
_MESSAGE_PLACEHOLDERS = {
    "clarify": {"question", "services"},
    "consent": {"partner", "categories"},
    "check": {"partner", "service", "note"},
    "no_partner": {"service"},
}


@dataclass(frozen=True)
class _Layer:
    """One rule folder of a load: the base a rule set extends, or the folder itself."""

    root: Path
    shown: str
    overlay: bool  # True for a folder that extends another: its files are optional


class _Folder:
    """The state of one load: its layers, the problems found and what has been read."""

    def __init__(self, layers: list[_Layer], problems: list[RuleProblem]) -> None:
        self.layers = layers
        self.problems = problems
        self.digest = hashlib.sha256()
        self.unreadable: set[str] = set()  # files missing or not YAML: their ids are unknown

    def read(self, relative: str, layer: _Layer) -> tuple[Reader, Node | None]:
        """Read and compose one file of a layer; a missing file is a problem only in a base layer."""
        reader = Reader(f"{layer.shown}/{relative}", self.problems)
        path = layer.root / relative
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            if not layer.overlay:
                reader.problem(None, "file is missing")
                self.unreadable.add(relative)
            return reader, None
        except OSError as error:
            reader.problem(None, f"cannot read file: {error.strerror}")
            self.unreadable.add(relative)
            return reader, None
        self.digest.update(f"{layer.overlay}:{relative}".encode() + b"\0" + data + b"\0")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            reader.problem(None, f"not UTF-8 text (byte {error.start})")
            self.unreadable.add(relative)
            return reader, None
        node = reader.compose(text)
        if node is None:
            self.unreadable.add(relative)
            if not any(p.file == reader.file for p in self.problems):
                reader.problem(None, "file is empty")
        return reader, node

    def ids(self, relative: str, ids: Iterable[str]) -> Collection[str]:
        """The ids a file defines, or every id when the file could not be read at all.

        References to an unreadable file's ids are not reported again: its own problem says it all.
        """
        return _Anything() if relative in self.unreadable else frozenset(ids)


class _Anything(frozenset[str]):
    """Contains every id."""

    def __contains__(self, item: object) -> bool:
        return True


def _remove(
    reader: Reader, entries: dict[str, Node], layer: _Layer, *targets: dict[str, Any]
) -> dict[str, tuple[Reader, Node]]:
    """Apply a layer's ``remove: [ids]``, dropping entries the base defined; say where each went."""
    removed: dict[str, tuple[Reader, Node]] = {}
    if "remove" not in entries:
        return removed
    if not layer.overlay:
        reader.problem(entries["remove"], "remove is for a rule set that extends another")
        return removed
    for node in reader.sequence(entries["remove"]):
        key = reader.identifier(node, pattern=RULE_ID)
        if key is None:
            continue
        target = next((t for t in targets if key in t), None)
        if target is None:
            reader.problem(node, f"nothing to remove: the base defines no '{key}'", key)
        else:
            del target[key]
            removed[key] = (reader, node)
    return removed


def _unique(reader: Reader, node: Node, key: str, seen: dict[str, Located], what: str) -> bool:
    """Record ``key`` as defined at ``node``; a second definition in one layer is a problem."""
    if key in seen:
        reader.problem(node, f"duplicate {what} id (also defined at {seen[key]})", key)
        return False
    seen[key] = _where(reader, node)
    return True


def _where(reader: Reader, node: Node) -> Located:
    return Located(reader.file, node.start_mark.line + 1)


def _text(
    reader: Reader, node: Node, rule: str | None = None, allowed: set[str] | None = None
) -> Text | None:
    entries = reader.mapping(node, ("de", "en"), rule=rule)
    if entries is None:
        return None
    values = {lang: reader.string(value, rule) for lang, value in entries.items()}
    de, en = values.get("de"), values.get("en")
    if allowed is not None:
        for lang in ("de", "en"):
            if lang in entries and values[lang] is not None:
                _check_placeholders(reader, entries[lang], values[lang] or "", allowed, rule)
    if de is None or en is None:
        return None
    return Text(de, en)


def _check_placeholders(reader: Reader, node: Node, text: str, allowed: set[str], rule: str | None) -> None:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as error:
        reader.problem(node, f"bad placeholder syntax: {error}", rule)
        return
    for name in sorted(names - allowed):
        expected = ", ".join(f"{{{n}}}" for n in sorted(allowed)) or "none"
        reader.problem(node, f"unknown placeholder '{{{name}}}'; allowed: {expected}", rule)


# -- conditions --------------------------------------------------------------------------------


def _condition(reader: Reader, node: Node, rule: str | None) -> cond.Condition | None:
    """Read a condition: a leaf ``{field, op, value}`` or ``all`` / ``any`` / ``not``."""
    keys = (
        {k.value for k, _ in node.value if isinstance(k, ScalarNode)}
        if isinstance(node, MappingNode)
        else set()
    )
    if keys & {"all", "any", "not"}:
        entries = reader.mapping(node, (), ("all", "any", "not"), rule)
        if entries is None:
            return None
        if len(entries) != 1:
            reader.problem(node, "a combination has exactly one of the keys all, any, not", rule)
            return None
        ((key, value),) = entries.items()
        if key == "not":
            part = _condition(reader, value, rule)
            return None if part is None else cond.negation(part)
        items = reader.sequence(value, rule)
        if not items:
            reader.problem(value, f"'{key}' needs at least one condition", rule)
            return None
        parts = [_condition(reader, item, rule) for item in items]
        if any(part is None for part in parts):
            return None
        checked = tuple(part for part in parts if part is not None)
        return cond.all_of(checked) if key == "all" else cond.any_of(checked)
    entries = reader.mapping(node, ("field", "op", "value"), rule=rule)
    if entries is None or len(entries) != 3:
        return None
    field = reader.choice(entries["field"], FIELDS, rule)
    if field is None:
        return None
    spec = FIELDS[field]
    op = reader.choice(entries["op"], cond.OPERATORS, rule)
    if op is None:
        return None
    if op not in _OPS_BY_KIND[spec.kind]:
        allowed = ", ".join(_OPS_BY_KIND[spec.kind])
        reader.problem(
            entries["op"], f"operator '{op}' does not apply to {spec.name}; allowed: {allowed}", rule
        )
        return None
    operand = _operand(reader, entries["value"], spec, op, rule)
    if operand is None:
        return None
    value, shown = operand
    return cond.leaf(field, op, value, shown)


def _operand(
    reader: Reader, node: Node, spec: FieldSpec, op: str, rule: str | None
) -> tuple[Any, bool | int | str | tuple[str, ...]] | None:
    """The normalised operand of a leaf and the value as it is shown in reasons."""
    if op in ("in", "not_in"):
        if not isinstance(node, SequenceNode) or not node.value:
            reader.problem(node, f"'{op}' needs a non-empty list of values for {spec.name}", rule)
            return None
        singles = [_single(reader, item, spec, rule) for item in node.value]
        if any(single is None for single in singles):
            return None
        values = [single for single in singles if single is not None]
        return frozenset(v for v, _ in values), tuple(str(shown) for _, shown in values)
    if op in ("within", "older_than"):
        text = reader.typed(node, str, "an ISO 8601 duration such as P3Y or P6M", rule)
        if text is None:
            return None
        try:
            duration = Duration.parse(text)
        except ValueError as error:
            reader.problem(node, str(error), rule)
            return None
        return duration, str(duration)
    if op == "contains":
        code = reader.typed(node, str, "a two-letter language code", rule)
        if code is None:
            return None
        if not (len(code) == 2 and code.isascii() and code.isalpha() and code.islower()):
            reader.problem(node, "expected a lower-case two-letter ISO 639-1 code", rule)
            return None
        return code, code
    return _single(reader, node, spec, rule)


def _single(
    reader: Reader, node: Node, spec: FieldSpec, rule: str | None
) -> tuple[Any, bool | int | str] | None:
    """One value of the field's type, normalised the way :mod:`referral_engine.facts` stores it."""
    if spec.kind == "int":
        number = reader.typed(node, int, f"a whole number for {spec.name}", rule)
        return None if number is None else (number, number)
    if spec.kind == "date":
        day = reader.typed(node, dt.date, f"a date (YYYY-MM-DD) for {spec.name}", rule)
        return None if day is None else (day, day.isoformat())
    if spec.kind == "bool":
        flag = reader.typed(node, bool, f"true or false for {spec.name}", rule)
        return None if flag is None else (flag, flag)
    if spec.kind in ("enum", "level"):
        value = reader.typed(node, str, f"a value of {spec.name}", rule)
        if value is None:
            return None
        if value not in spec.values:
            expected = ", ".join(spec.values)
            reader.problem(
                node, f"unknown value '{value}' for {spec.name}; expected one of: {expected}", rule
            )
            return None
        return (LANGUAGE_LEVELS.index(value) if spec.kind == "level" else value), value
    text = reader.string(node, rule)
    return None if text is None else (text.casefold(), text)


# -- the files ---------------------------------------------------------------------------------


def _services(folder: _Folder) -> list[Service]:
    services: dict[str, Service] = {}
    for layer in folder.layers:
        reader, root = folder.read("services.yaml", layer)
        reader.subject = "service"
        entries = (
            reader.mapping(root, () if layer.overlay else ("services",), ("services", "remove"))
            if root
            else None
        )
        if entries is None:
            continue
        _remove(reader, entries, layer, services)
        seen: dict[str, Located] = {}
        for item in reader.sequence(entries["services"]) if "services" in entries else []:
            fields = reader.mapping(item, ("id", "name", "kind", "priority"))
            if fields is None or len(fields) != 4:
                continue
            service_id = reader.identifier(fields["id"])
            name = _text(reader, fields["name"], service_id)
            kind = reader.choice(fields["kind"], SERVICE_KINDS, service_id)
            priority = reader.typed(fields["priority"], int, "a whole number", service_id)
            defined = service_id and _unique(reader, fields["id"], service_id, seen, "service")
            if defined and service_id and name and kind and priority is not None:
                services[service_id] = Service(service_id, name, kind, priority, _where(reader, item))
    return list(services.values())


def _fields(folder: _Folder) -> dict[str, FieldInfo]:
    infos: dict[str, FieldInfo] = {}
    last: tuple[Reader, Node] | None = None
    for layer in folder.layers:
        reader, root = folder.read("fields.yaml", layer)
        entries = reader.mapping(root, ("fields",)) if root else None
        if entries is None or "fields" not in entries:
            continue
        by_name = reader.mapping(entries["fields"], (), FIELDS)
        last = (reader, entries["fields"])
        for name, node in (by_name or {}).items():
            spec = reader.mapping(node, ("category", "question"))
            if spec is None or len(spec) != 2:
                continue
            category = reader.choice(spec["category"], CATEGORIES)
            question = _text(reader, spec["question"])
            if category and question:
                infos[name] = FieldInfo(name, cast(DataCategory, category), question)
    if last is not None and "fields.yaml" not in folder.unreadable:
        reader, node = last
        for name in FIELDS:
            if name not in infos:
                reader.problem(node, f"missing entry for profile field '{name}'")
    return infos


def _messages(folder: _Folder) -> Messages | None:
    texts: dict[str, Text] = {}
    labels: dict[str, Text] = {}
    for layer in folder.layers:
        reader, root = folder.read("messages.yaml", layer)
        keys = (*_MESSAGE_PLACEHOLDERS, "categories")
        entries = reader.mapping(root, () if layer.overlay else keys, keys) if root else None
        if entries is None:
            continue
        for key, allowed in _MESSAGE_PLACEHOLDERS.items():
            text = _text(reader, entries[key], allowed=allowed) if key in entries else None
            if text:
                texts[key] = text
        by_category = reader.mapping(entries["categories"], CATEGORIES) if "categories" in entries else None
        for category, node in (by_category or {}).items():
            label = _text(reader, node)
            if label:
                labels[category] = label
    clarify, consent, check, no_partner = (texts.get(k) for k in _MESSAGE_PLACEHOLDERS)
    if clarify and consent and check and no_partner and len(labels) == len(CATEGORIES):
        return Messages(clarify, consent, check, no_partner, labels)
    return None


def _partners(folder: _Folder, services: Collection[str]) -> PartnerGraph | None:
    municipalities: dict[str, Municipality] = {}
    partners: dict[str, Partner] = {}
    offers: dict[str, Offer] = {}
    not_offered: dict[str, NotOffered] = {}
    removed: dict[str, tuple[Reader, Node]] = {}
    readable = False
    for layer in folder.layers:
        reader, root = folder.read("partners.yaml", layer)
        keys = ("municipalities", "partners", "offers")
        optional = (*keys, "not_offered", "remove")
        entries = reader.mapping(root, () if layer.overlay else keys, optional) if root else None
        if entries is None:
            continue
        readable = readable or not layer.overlay
        removed.update(_remove(reader, entries, layer, offers, not_offered, partners, municipalities))
        _read_municipalities(reader, entries, municipalities)
        _read_partners(reader, entries, partners)
        _read_offers(reader, entries, offers, partners, municipalities, services)
        _read_not_offered(reader, entries, not_offered, municipalities, services)
    if not readable:
        return None
    entries_: list[Offer | NotOffered] = [*offers.values(), *not_offered.values()]
    for entry in entries_:
        names, what = ((entry.partner,), "offer") if isinstance(entry, Offer) else ((), "not_offered")
        for gone in (*names, *(entry.municipalities or ())):
            if gone in removed and gone not in partners and gone not in municipalities:
                reader, node = removed[gone]
                reader.problem(node, f"'{gone}' is removed, but {what} '{entry.id}' still names it")
    return PartnerGraph(municipalities.values(), partners.values(), offers.values(), not_offered.values())


def _read_municipalities(
    reader: Reader, entries: dict[str, Node], municipalities: dict[str, Municipality]
) -> None:
    reader.subject = "municipality"
    seen: dict[str, Located] = {}
    for item in reader.sequence(entries["municipalities"]) if "municipalities" in entries else []:
        fields = reader.mapping(item, ("id", "name"), ("aliases",))
        if fields is None or not {"id", "name"} <= fields.keys():
            continue
        mid, name = reader.identifier(fields["id"]), reader.string(fields["name"])
        aliases = reader.strings(fields["aliases"]) if "aliases" in fields else ()
        if mid and _unique(reader, fields["id"], mid, seen, "municipality") and name:
            municipalities[mid] = Municipality(mid, name, aliases)


def _read_partners(reader: Reader, entries: dict[str, Node], partners: dict[str, Partner]) -> None:
    reader.subject = "partner"
    seen: dict[str, Located] = {}
    required = ("id", "name", "kind", "data_protection")
    for item in reader.sequence(entries["partners"]) if "partners" in entries else []:
        fields = reader.mapping(item, required, ("source",))
        if fields is None or not set(required) <= fields.keys():
            continue
        pid = reader.identifier(fields["id"])
        name = reader.string(fields["name"], pid)
        kind = reader.choice(fields["kind"], PARTNER_KINDS, pid)
        regime = reader.string(fields["data_protection"], pid)
        source = reader.strings(fields["source"], pid) if "source" in fields else ()
        if pid and _unique(reader, fields["id"], pid, seen, "partner") and name and kind and regime:
            partners[pid] = Partner(pid, name, kind, regime, source)


def _read_offers(
    reader: Reader,
    entries: dict[str, Node],
    offers: dict[str, Offer],
    partners: dict[str, Partner],
    municipalities: dict[str, Municipality],
    services: Collection[str],
) -> None:
    reader.subject = "offer"
    seen: dict[str, Located] = {}
    required = ("id", "partner", "service", "municipalities")
    optional = ("languages", "valid_from", "valid_to", "sample", "source")
    for item in reader.sequence(entries["offers"]) if "offers" in entries else []:
        fields = reader.mapping(item, required, optional)
        if fields is None or not set(required) <= fields.keys():
            continue
        oid = reader.identifier(fields["id"], pattern=RULE_ID)
        partner = reader.identifier(fields["partner"], oid)
        service = reader.identifier(fields["service"], oid)
        if partner and partner not in partners:
            reader.problem(fields["partner"], f"unknown partner '{partner}'; define it under partners", oid)
            partner = None
        if service and service not in services:
            reader.problem(fields["service"], f"unknown service '{service}'; see services.yaml", oid)
            service = None
        readable, places = _places(reader, fields["municipalities"], municipalities, oid)
        languages = _languages(reader, fields["languages"], oid) if "languages" in fields else ()
        valid_from, valid_to = _window(reader, fields, oid)
        sample = "sample" in fields and bool(reader.typed(fields["sample"], bool, "true or false", oid))
        source = reader.strings(fields["source"], oid) if "source" in fields else ()
        if oid and _unique(reader, fields["id"], oid, seen, "offer") and partner and service and readable:
            offers[oid] = Offer(
                oid,
                partner,
                service,
                places,
                languages,
                valid_from,
                valid_to,
                sample,
                source,
                _where(reader, item),
            )


def _read_not_offered(
    reader: Reader,
    entries: dict[str, Node],
    not_offered: dict[str, NotOffered],
    municipalities: dict[str, Municipality],
    services: Collection[str],
) -> None:
    """``not_offered``: services that have no partner in some municipalities, on purpose."""
    reader.subject = "not_offered"
    seen: dict[str, Located] = {}
    required = ("id", "service", "municipalities", "source")
    for item in reader.sequence(entries["not_offered"]) if "not_offered" in entries else []:
        fields = reader.mapping(item, required, ("valid_from", "valid_to"))
        if fields is None or not set(required) <= fields.keys():
            continue
        nid = reader.identifier(fields["id"], pattern=RULE_ID)
        service = reader.identifier(fields["service"], nid)
        if service and service not in services:
            reader.problem(fields["service"], f"unknown service '{service}'; see services.yaml", nid)
            service = None
        readable, places = _places(reader, fields["municipalities"], municipalities, nid)
        valid_from, valid_to = _window(reader, fields, nid)
        source = reader.strings(fields["source"], nid)
        if nid and _unique(reader, fields["id"], nid, seen, "not_offered") and service and readable:
            not_offered[nid] = NotOffered(
                nid, service, places, valid_from, valid_to, source, _where(reader, item)
            )


def _places(
    reader: Reader, node: Node, municipalities: dict[str, Municipality], rule: str | None
) -> tuple[bool, tuple[str, ...] | None]:
    """``(readable, ids)`` of an offer's municipalities; ids is None for ``all``."""
    if isinstance(node, ScalarNode) and node.value == "all":
        return True, None
    ids: list[str] = []
    readable = True
    for item in reader.sequence(node, rule):
        mid = reader.identifier(item, rule)
        if mid is None:
            readable = False
        elif mid not in municipalities:
            reader.problem(
                item, f"unknown municipality '{mid}'; expected 'all' or ids from municipalities", rule
            )
            readable = False
        else:
            ids.append(mid)
    if readable and not ids:
        reader.problem(node, "expected 'all' or a non-empty list of municipality ids", rule)
    return readable and bool(ids), tuple(ids)


def _languages(reader: Reader, node: Node, rule: str | None) -> tuple[str, ...]:
    codes = reader.items(node, lambda item: reader.typed(item, str, "a language code", rule), rule)
    for code in codes:
        if not (len(code) == 2 and code.isascii() and code.isalpha() and code.islower()):
            reader.problem(node, f"'{code}' is not a lower-case two-letter ISO 639-1 code", rule)
    return codes


def _window(
    reader: Reader, fields: dict[str, Node], rule: str | None
) -> tuple[dt.date | None, dt.date | None]:
    valid_from = reader.date(fields["valid_from"], rule) if "valid_from" in fields else None
    valid_to = reader.date(fields["valid_to"], rule) if "valid_to" in fields else None
    if valid_from and valid_to and valid_to < valid_from:
        reader.problem(fields["valid_to"], "valid_to is before valid_from", rule)
    return valid_from, valid_to


def _rules(folder: _Folder, services: Collection[str], partners: Collection[str]) -> list[Rule]:
    rules: dict[str, Rule] = {}
    for layer in folder.layers:
        directory = layer.root / ELIGIBILITY_DIR
        files = sorted(p.name for p in directory.glob("*.yaml")) if directory.is_dir() else []
        for stray in sorted(directory.glob("*.yml")) if directory.is_dir() else []:
            Reader(f"{layer.shown}/{ELIGIBILITY_DIR}/{stray.name}", folder.problems).problem(
                None, "rule files must end in .yaml; this one would be ignored"
            )
        if not files and not layer.overlay:
            Reader(f"{layer.shown}/{ELIGIBILITY_DIR}", folder.problems).problem(
                None, "no eligibility rule files"
            )
        seen: dict[str, Located] = {}
        for name in files:
            reader, root = folder.read(f"{ELIGIBILITY_DIR}/{name}", layer)
            required = ("service",) if layer.overlay else ("service", "rules")
            entries = reader.mapping(root, required, ("rules", "remove")) if root else None
            if entries is None or not set(required) <= entries.keys():
                continue
            service = reader.identifier(entries["service"])
            if service and service not in services:
                reader.problem(entries["service"], f"unknown service '{service}'; see services.yaml")
                service = None
            _remove(reader, entries, layer, rules)
            for item in reader.sequence(entries["rules"]) if "rules" in entries else []:
                rule = _rule(reader, item, service, partners, seen)
                if rule is not None:
                    rules[rule.id] = rule
    return list(rules.values())


def _rule(
    reader: Reader, item: Node, service: str | None, partners: Collection[str], seen: dict[str, Located]
) -> Rule | None:
    """One eligibility rule; None (with problems recorded) when it cannot be read."""
    required = ("id", "effect", "when", "source")
    fields = reader.mapping(
        item, required, ("valid_from", "valid_to", "confidence", "note", "check_with"), _peek_id(item)
    )
    if fields is None or not set(required) <= fields.keys():
        return None
    rid = reader.identifier(fields["id"], _peek_id(item), RULE_ID)
    effect = reader.choice(fields["effect"], EFFECTS, rid)
    when = _condition(reader, fields["when"], rid)
    source = reader.strings(fields["source"], rid)
    if isinstance(fields["source"], SequenceNode) and not fields["source"].value:
        reader.problem(fields["source"], "every rule needs a source (legal reference or page)", rid)
    valid_from, valid_to = _window(reader, fields, rid)
    confidence = reader.choice(fields["confidence"], CONFIDENCES, rid) if "confidence" in fields else None
    note = _text(reader, fields["note"], rid) if "note" in fields else None
    check_with = reader.identifier(fields["check_with"], rid) if "check_with" in fields else None
    if check_with and check_with not in partners:
        reader.problem(fields["check_with"], f"unknown partner '{check_with}'", rid)
    if check_with and effect and effect != "check":
        reader.problem(fields["check_with"], "check_with belongs to rules with effect: check", rid)
    if rid is None or not _unique(reader, fields["id"], rid, seen, "rule"):
        return None
    if not (service and effect and when and source):
        return None
    return Rule(
        rid,
        service,
        cast(Effect, effect),
        when,
        source,
        _where(reader, item),
        valid_from,
        valid_to,
        cast(Confidence | None, confidence),
        note,
        check_with,
    )


def _peek_id(node: Node) -> str | None:
    """The rule's id, if it has a readable one, so that other problems can name the rule."""
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == "id" and isinstance(value, ScalarNode):
                return str(value.value)
    return None


def _steps(folder: _Folder, services: Collection[str], partners: Collection[str]) -> list[StepTemplate]:
    steps: dict[str, StepTemplate] = {}
    for layer in folder.layers:
        reader, root = folder.read("steps.yaml", layer)
        reader.subject = "step"
        required = () if layer.overlay else ("steps",)
        entries = reader.mapping(root, required, ("steps", "remove")) if root else None
        if entries is None:
            continue
        _remove(reader, entries, layer, steps)
        seen: dict[str, Located] = {}
        for item in reader.sequence(entries["steps"]) if "steps" in entries else []:
            step = _step(reader, item, services, partners, seen)
            if step is not None:
                steps[step.id] = step
    return list(steps.values())


def _step(
    reader: Reader, item: Node, services: Collection[str], partners: Collection[str], seen: dict[str, Located]
) -> StepTemplate | None:
    """One next-step template; None (with problems recorded) when it cannot be read."""
    required = ("id", "service", "kind", "text")
    fields = reader.mapping(item, required, ("for", "partner", "handover", "when", "source"), _peek_id(item))
    if fields is None or not set(required) <= fields.keys():
        return None
    sid = reader.identifier(fields["id"], _peek_id(item), RULE_ID)
    service = reader.identifier(fields["service"], sid)
    if service and service not in services:
        reader.problem(fields["service"], f"unknown service '{service}'; see services.yaml", sid)
        service = None
    kind = reader.choice(fields["kind"], STEP_KINDS, sid)
    for_status = reader.choice(fields["for"], STEP_FOR, sid) if "for" in fields else "eligible"
    partner: str | None = "responsible"
    if "partner" in fields:
        partner = reader.identifier(fields["partner"], sid)
        if partner == "none":
            partner = None
        elif partner and partner != "responsible" and partner not in partners:
            message = f"unknown partner '{partner}'; use responsible, none or a partner id"
            reader.problem(fields["partner"], message, sid)
    text = _text(reader, fields["text"], sid, {"service"} | ({"partner"} if partner else set()))
    handover: tuple[str, ...] = ()
    if "handover" in fields:
        handover = reader.items(fields["handover"], partial(reader.choice, allowed=CATEGORIES, rule=sid), sid)
        if handover and partner is None:
            reader.problem(fields["handover"], "a step without a partner cannot hand over data", sid)
    when = _condition(reader, fields["when"], sid) if "when" in fields else None
    source = reader.strings(fields["source"], sid) if "source" in fields else ()
    if sid is None or not _unique(reader, fields["id"], sid, seen, "step"):
        return None
    if not (service and kind and for_status and text and ("when" not in fields or when)):
        return None
    return StepTemplate(
        sid,
        service,
        cast(StepKind, kind),
        for_status,
        partner,
        cast(tuple[DataCategory, ...], handover),
        text,
        _where(reader, item),
        when,
        source,
    )


def _header(folder: _Folder, layer: _Layer) -> tuple[str, str, Node | None]:
    """Name, version and the ``extends`` node (if any) of a layer's ruleset.yaml."""
    reader, root = folder.read("ruleset.yaml", layer)
    optional = ("description", "research_as_of", "extends")
    entries = reader.mapping(root, ("name", "version"), optional) if root else None
    if entries is None:
        return "rules", "0", None
    name = reader.string(entries["name"]) if "name" in entries else None
    version = reader.string(entries["version"]) if "version" in entries else None
    if "description" in entries:
        _text(reader, entries["description"])
    if "research_as_of" in entries:
        reader.date(entries["research_as_of"])
    extends = entries.get("extends")
    if extends is not None and reader.string(extends) is None:
        extends = None
    return name or "rules", version or "0", extends


def _base_layer(folder: _Folder, own: _Layer, extends: Node, stack: ExitStack) -> _Layer | None:
    """The layer ``extends`` names: ``default`` (the bundled rules) or a folder relative to ``own``."""
    reader = Reader(f"{own.shown}/ruleset.yaml", folder.problems)
    target = str(extends.value)
    if target == "default":
        base = stack.enter_context(resources.as_file(bundled("rules")))
        layer = _Layer(Path(base), "default", overlay=False)
    else:
        layer = _Layer(own.root / target, f"{own.shown}/{target}".replace("/./", "/"), overlay=False)
    if not layer.root.is_dir():
        reader.problem(extends, f"extends names no rule folder: '{target}' (use default or a relative path)")
        return None
    _, _, again = _header(folder, layer)
    if again is not None:
        Reader(f"{layer.shown}/ruleset.yaml", folder.problems).problem(
            again, "a rule set that others extend cannot itself extend another"
        )
        return None
    return layer


def _check_grants(folder: _Folder, services: list[Service], rules: list[Rule]) -> None:
    """A service no rule can make eligible is a mistake: it would never be recommended."""
    granting = {rule.service for rule in rules if rule.effect != "not_eligible"}
    for service in services:
        if service.id not in granting:
            where = service.where
            message = "no rule can make this service eligible"
            folder.problems.append(RuleProblem(where.file, where.line, 1, message, service.id, "service"))


def load_ruleset(path: str | Path, *, engine: str | None = None) -> Ruleset:
    """Load and check the rule folder at ``path``; raise :class:`RuleFileError` listing every problem.

    ``engine`` is the rule set's default engine for :func:`referral_engine.recommend`
    (``"durable"``, ``"python"``, or ``None`` for the library default).

    A folder whose ``ruleset.yaml`` says ``extends: default`` (or a relative path) holds only what
    it changes: entries with the base's ids replace them, new ids are added, and ``remove: [ids]``
    drops entries of the base.
    """
    started = time.perf_counter()
    root = Path(path)
    shown = str(path).rstrip("/") or "."
    if not root.is_dir():
        raise RuleFileError([RuleProblem(shown, 1, 1, "not a folder of rule files")])
    own = _Layer(root, shown, overlay=False)
    folder = _Folder([own], [])
    with ExitStack() as stack:
        name, version, extends = _header(folder, own)
        if extends is not None:
            base = _base_layer(folder, own, extends, stack)
            folder.layers = [base, _Layer(root, shown, overlay=True)] if base else [own]
        services = _services(folder)
        service_ids = folder.ids("services.yaml", (service.id for service in services))
        fields = _fields(folder)
        messages = _messages(folder)
        graph = _partners(folder, service_ids)
        partner_ids = folder.ids("partners.yaml", graph.partners if graph else ())
        steps = _steps(folder, service_ids, partner_ids)
        before = len(folder.problems)
        rules = _rules(folder, service_ids, partner_ids)
        if len(folder.problems) == before:
            # A service only looks ungrantable when its rule file is broken: say so only for clean files.
            _check_grants(folder, services, rules)
    if folder.problems or graph is None or messages is None:
        problems = sorted(set(folder.problems), key=lambda p: (p.file, p.line, p.column, p.message))
        raise RuleFileError(problems or [RuleProblem(shown, 1, 1, "incomplete rule set")])
    ruleset = Ruleset(
        name=name,
        version=version,
        digest=folder.digest.hexdigest(),
        services=tuple(sorted(services, key=lambda s: (s.priority, s.id))),
        rules=tuple(rules),
        fields=fields,
        steps=tuple(steps),
        messages=messages,
        partners=graph,
        path=shown,
    ).with_engine(engine)
    # Rule files are public: path, digest and counts are safe to log (a profile never is).
    _log.debug(
        "loaded rule set %s from %s: digest %s, %d services, %d rules, %d partners, %d steps, "
        "engine %s, %.1f ms",
        ruleset.ruleset_version,
        shown,
        ruleset.digest,
        len(ruleset.services),
        len(ruleset.rules),
        len(graph.partners),
        len(ruleset.steps),
        engine or "default",
        (time.perf_counter() - started) * 1000,
    )
    return ruleset


_default: Ruleset | None = None
_default_lock = threading.Lock()


def default_ruleset() -> Ruleset:
    """The rules bundled with the package (the repository's ``rules/``), loaded once per process."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                with resources.as_file(bundled("rules")) as folder:
                    _default = load_ruleset(folder)
                _log.debug("default rule set: %s from %s", _default.ruleset_version, folder)
    return _default
