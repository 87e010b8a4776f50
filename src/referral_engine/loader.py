"""Loading rule folders: :func:`load_ruleset` and :func:`default_ruleset`.

The loader reads every file of a folder laid out like the repository's ``rules/``, checks each
value and every cross-reference (service, partner and municipality ids, profile fields,
operators, value types, dates, text placeholders) and raises one :class:`RuleFileError` that
lists *every* problem with its ``file:line:column`` and rule id.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import logging
import os
import stat
import string
import threading
import time
import warnings
from collections.abc import Collection, Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from functools import partial
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast, get_args

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from . import conditions as cond
from ._bundled import bundled
from ._provided import provide, provided
from ._yaml import RULE_ID, TARGET, Reader
from .dates import Duration
from .errors import RuleFileError, RuleProblem, UsageError
from .facts import FIELDS, FieldSpec
from .graph import (
    CONTACT_KEYS,
    PARTNER_KINDS,
    Located,
    Municipality,
    NotOffered,
    Offer,
    Office,
    Partner,
    PartnerGraph,
    Text,
)
from .handover import guard_problems
from .models import LANGUAGE_LEVELS, Confidence, DataCategory, Effect, StepKind
from .ruleset import Catalogue, FieldInfo, Messages, Rule, Ruleset, Service, StepTemplate
from .words import BASE_LANGUAGES, base_words

_log = logging.getLogger(__name__)

ELIGIBILITY_DIR = "eligibility"
I18N_DIR = "i18n"

SERVICE_KINDS = ("counselling", "language", "work", "benefits", "recognition", "volunteer")
#: Partner kinds of rule sets before 2026.11, read as today's kinds (a deprecation warning says so).
LEGACY_PARTNER_KINDS = {
    "welfare": "free_welfare",
    "authority": "public_body",
    "municipality": "public_body",
    "federal": "public_body",
}
STEP_KINDS = ("appointment", "application", "information")
STEP_FOR = ("eligible", "undetermined", "not_eligible")
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
    "consent": {"partner", "categories", "purpose"},
    "check": {"partner", "service", "note"},
    "no_partner": {"service"},
    "guardian": set(),
    "sample": set(),
    "restricted": {"partners"},
    "own_application": {"partner"},
}


#: Default limits of :func:`load_ruleset`: bytes per rule file and per load (all files together).
MAX_FILE_BYTES = 1024 * 1024
MAX_TOTAL_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class _Layer:
    """One rule folder of a load: the base a rule set extends, or the folder itself."""

    root: Path  # resolved: no symlink left in it
    shown: str
    overlay: bool  # True for a folder that extends another: its files are optional


@dataclass(frozen=True)
class _Limits:
    file_bytes: int
    total_bytes: int
    symlinks_outside: bool


def ignored(name: str) -> bool:
    """Whether the loader skips a file name: hidden and editor files (``.x``, ``.#x``, ``x~``, ``.swp``)."""
    return name.startswith((".", "#")) or name.endswith(("~", ".swp", ".swo", ".tmp", "#"))


class NotReadable(Exception):
    """A file the loader refuses to read; the message says why (never the file's content)."""


def read_regular_file(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path`` (at most ``limit``), opened without blocking.

    Raises :class:`FileNotFoundError` for a missing file and :class:`NotReadable` for a folder,
    device, FIFO or socket, for a file larger than ``limit`` and for any other failure: a FIFO is
    never waited on and a device such as ``/dev/zero`` never read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise NotReadable(f"cannot read file: {reason}") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise NotReadable(
                "not a regular file (a folder, device, FIFO or socket); rule files must be plain files"
            )
        if info.st_size > limit:
            raise NotReadable(f"file is larger than {limit} bytes (max_file_bytes)")
        chunks = []
        size = 0
        while size <= limit:
            chunk = os.read(descriptor, min(65536, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise NotReadable(f"cannot read file: {error.strerror or type(error).__name__}") from None
    finally:
        os.close(descriptor)
    if size > limit:  # grew while being read
        raise NotReadable(f"file is larger than {limit} bytes (max_file_bytes)")
    return b"".join(chunks)


class _Folder:
    """The state of one load: its layers, the problems found and what has been read."""

    def __init__(self, layers: list[_Layer], problems: list[RuleProblem], limits: _Limits) -> None:
        self.layers = layers
        self.problems = problems
        self.limits = limits
        self.total = 0
        self.digest = hashlib.sha256()
        self.unreadable: set[str] = set()  # files missing or not YAML: their ids are unknown

    def inside(self, path: Path, layer: _Layer) -> Path | None:
        """``path`` with its symlinks resolved, or None when that leaves the layer's folder."""
        resolved = Path(os.path.realpath(path))
        if self.limits.symlinks_outside or resolved == layer.root or layer.root in resolved.parents:
            return resolved
        return None

    def _bytes(self, reader: Reader, relative: str, layer: _Layer) -> bytes | None:
        """The content of a regular file inside the layer, within the size limits; else a problem.

        The file is opened without blocking and checked with ``fstat`` before reading: a FIFO,
        socket or device (``/dev/zero``) is never read, whatever a symlink or ``extends`` says.
        """
        path = layer.root / relative
        try:
            os.lstat(path)
        except FileNotFoundError:
            if not layer.overlay:
                reader.problem(None, "file is missing")
                self.unreadable.add(relative)
            return None
        except OSError as error:
            reader.problem(None, f"cannot read file: {error.strerror}")
            self.unreadable.add(relative)
            return None
        resolved = self.inside(path, layer)
        if resolved is None:
            reader.problem(
                None, "a symlink that leads outside the rule folder; copy the file into the folder"
            )
            self.unreadable.add(relative)
            return None
        try:
            data = read_regular_file(resolved, self.limits.file_bytes)
        except (NotReadable, FileNotFoundError) as error:
            reader.problem(None, str(error) if isinstance(error, NotReadable) else "file is missing")
            self.unreadable.add(relative)
            return None
        size = len(data)
        self.total += size
        if self.total > self.limits.total_bytes:
            reader.problem(
                None,
                f"the rule files together are larger than {self.limits.total_bytes} bytes (max_total_bytes)",
            )
            self.unreadable.add(relative)
            return None
        return data

    def read(self, relative: str, layer: _Layer) -> tuple[Reader, Node | None]:
        """Read and compose one file of a layer; a missing file is a problem only in a base layer."""
        reader = Reader(f"{layer.shown}/{relative}", self.problems)
        data = self._bytes(reader, relative, layer)
        if data is None:
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
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        reader.problem(node, f"bad placeholder syntax: {error}", rule)
        return
    names = {name for _, name, _, _ in parsed if name is not None}
    for _, name, spec, conversion in parsed:
        if name is not None and (spec or conversion):
            shown = name if name.isidentifier() else "…"
            reader.problem(
                node,
                f"placeholder '{{{shown}}}' has a format spec or conversion (':' or '!'); "
                "write a plain placeholder such as {service}",
                rule,
            )
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
    if len(texts) == len(_MESSAGE_PLACEHOLDERS) and len(labels) == len(CATEGORIES):
        return Messages(**texts, categories=labels)
    return None


def _partners(folder: _Folder, services: Collection[str]) -> PartnerGraph | None:
    municipalities: dict[str, Municipality] = {}
    partners: dict[str, Partner] = {}
    offices: dict[str, Office] = {}
    offers: dict[str, Offer] = {}
    not_offered: dict[str, NotOffered] = {}
    removed: dict[str, tuple[Reader, Node]] = {}
    readable = False
    for layer in folder.layers:
        reader, root = folder.read("partners.yaml", layer)
        keys = ("municipalities", "partners", "offers")
        optional = (*keys, "offices", "not_offered", "remove")
        entries = reader.mapping(root, () if layer.overlay else keys, optional) if root else None
        if entries is None:
            continue
        readable = readable or not layer.overlay
        removed.update(
            _remove(reader, entries, layer, offers, not_offered, partners, municipalities, offices)
        )
        _read_municipalities(reader, entries, municipalities)
        _read_partners(reader, entries, partners)
        _read_offices(reader, entries, offices, services)
        _read_offers(reader, entries, offers, partners, municipalities, services, offices)
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
    _check_units(folder, partners)
    return PartnerGraph(
        municipalities.values(), partners.values(), offers.values(), not_offered.values(), offices.values()
    )


def _check_units(folder: _Folder, partners: dict[str, Partner]) -> None:
    """A split-up partner names units that exist; a unit's organisation is a defined partner."""
    for partner in partners.values():
        where = partner.where
        for unit in partner.replaced_by:
            if unit not in partners and where is not None:
                folder.problems.append(
                    RuleProblem(
                        where.file, where.line, 1, f"replaced_by names unknown partner '{unit}'", partner.id
                    )
                )


def _targets(graph: PartnerGraph | None, partner_ids: Collection[str]) -> Collection[str]:
    """What a step's ``partner`` or a rule's ``check_with`` may name: a partner unit or ``office:<id>``."""
    if isinstance(partner_ids, _Anything) or graph is None:
        return _Anything()
    units = {pid for pid in partner_ids if not graph.partners[pid].replaced_by}
    return _Targets(units | {f"office:{oid}" for oid in graph.offices}, split=frozenset(partner_ids) - units)


class _Targets(frozenset[str]):
    """The valid targets (units and offices), knowing the split-up partner ids for clearer messages."""

    split: frozenset[str]

    def __new__(cls, items: Iterable[str], split: frozenset[str]) -> _Targets:
        targets = super().__new__(cls, items)
        targets.split = split
        return targets


def _unknown_target(targets: Collection[str], name: str) -> str:
    """The problem message for a ``partner``/``check_with`` that names no unit or office."""
    if name.startswith("office:"):
        return f"unknown office '{name.removeprefix('office:')}'; define it under offices in partners.yaml"
    if name in getattr(targets, "split", ()):
        return (
            f"partner '{name}' was split into units (see its replaced_by in partners.yaml); "
            "name the unit for this purpose"
        )
    return f"unknown partner '{name}'"


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
    optional = ("reporting_duty", "organisation", "sample", "replaced_by", "contact", "source")
    for item in reader.sequence(entries["partners"]) if "partners" in entries else []:
        fields = reader.mapping(item, required, optional)
        if fields is None or not set(required) <= fields.keys():
            continue
        pid = reader.identifier(fields["id"])
        name = reader.string(fields["name"], pid)
        kind = _partner_kind(reader, fields["kind"], pid)
        regime = reader.string(fields["data_protection"], pid)
        source = reader.strings(fields["source"], pid) if "source" in fields else ()
        duty = kind == "public_body"
        if "reporting_duty" in fields:
            given = reader.typed(fields["reporting_duty"], bool, "true or false", pid)
            if given is False and kind == "public_body":
                reader.problem(
                    fields["reporting_duty"],
                    "a public body has the § 87 AufenthG reporting duty; only schools, educational and "
                    "child-care institutions are exempt (use kind: education for those)",
                    pid,
                )
            elif given is not None:
                duty = given
        organisation = reader.identifier(fields["organisation"], pid) if "organisation" in fields else None
        if organisation and pid and not pid.startswith(organisation):
            reader.problem(
                fields["organisation"], f"a unit's id starts with its organisation's id '{organisation}'", pid
            )
        sample = "sample" in fields and bool(reader.typed(fields["sample"], bool, "true or false", pid))
        replaced_by: tuple[str, ...] = ()
        if "replaced_by" in fields:
            replaced_by = reader.items(fields["replaced_by"], partial(reader.identifier, rule=pid), pid)
        contact = _contact(reader, fields["contact"], pid) if "contact" in fields else {}
        if pid and _unique(reader, fields["id"], pid, seen, "partner") and name and kind and regime:
            partners[pid] = Partner(
                pid,
                name,
                kind,
                regime,
                source,
                duty,
                organisation,
                sample,
                replaced_by,
                MappingProxyType(contact),
                _where(reader, item),
            )


def _contact(reader: Reader, node: Node, pid: str | None) -> dict[str, str]:
    """A partner's directory data: web (an http(s) address), e-mail, phone, address, hours, access."""
    entries = reader.mapping(node, (), CONTACT_KEYS, pid)
    contact: dict[str, str] = {}
    for key, value_node in (entries or {}).items():
        value = reader.string(value_node, pid)
        if value is None:
            continue
        if key == "web" and not value.startswith(("https://", "http://")):
            reader.problem(value_node, "web must be an http(s) address", pid)
        elif key == "email" and ("@" not in value or " " in value):
            reader.problem(value_node, "email must be an e-mail address", pid)
        else:
            contact[key] = value
    return contact


def _partner_kind(reader: Reader, node: Node, pid: str | None) -> str | None:
    """A partner's kind; the kinds of older rule sets are read as today's, with a deprecation warning."""
    ok, value = reader.scalar(node, pid)
    if ok and isinstance(value, str) and value in LEGACY_PARTNER_KINDS:
        new = LEGACY_PARTNER_KINDS[value]
        warnings.warn(
            f"{reader.file}:{node.start_mark.line + 1}: partner kind '{value}' is deprecated; "
            f"use '{new}' (and reporting_duty where it differs)",
            DeprecationWarning,
            stacklevel=2,
        )
        return new
    return reader.choice(node, PARTNER_KINDS, pid)


def _read_offices(
    reader: Reader, entries: dict[str, Node], offices: dict[str, Office], services: Collection[str]
) -> None:
    """``offices``: public functions that steps route to by place and date, like services."""
    reader.subject = "office"
    seen: dict[str, Located] = {}
    for item in reader.sequence(entries["offices"]) if "offices" in entries else []:
        fields = reader.mapping(item, ("id", "name"), ("source",))
        if fields is None or not {"id", "name"} <= fields.keys():
            continue
        oid = reader.identifier(fields["id"])
        name = _text(reader, fields["name"], oid)
        source = reader.strings(fields["source"], oid) if "source" in fields else ()
        if oid and oid in services:
            reader.problem(fields["id"], f"office '{oid}' has the id of a service; choose another", oid)
        elif oid and _unique(reader, fields["id"], oid, seen, "office") and name:
            offices[oid] = Office(oid, name, source)


def _read_offers(
    reader: Reader,
    entries: dict[str, Node],
    offers: dict[str, Offer],
    partners: dict[str, Partner],
    municipalities: dict[str, Municipality],
    services: Collection[str],
    offices: dict[str, Office],
) -> None:
    reader.subject = "offer"
    seen: dict[str, Located] = {}
    required = ("id", "partner", "municipalities")
    optional = ("service", "office", "languages", "valid_from", "valid_to", "sample", "source")
    for item in reader.sequence(entries["offers"]) if "offers" in entries else []:
        fields = reader.mapping(item, required, optional)
        if fields is None or not set(required) <= fields.keys():
            continue
        oid = reader.identifier(fields["id"], pattern=RULE_ID)
        partner = reader.identifier(fields["partner"], oid)
        service: str | None = None
        if ("service" in fields) == ("office" in fields):
            reader.problem(item, "an offer names exactly one of service or office", oid)
        elif "service" in fields:
            service = reader.identifier(fields["service"], oid)
            if service and service not in services:
                reader.problem(fields["service"], f"unknown service '{service}'; see services.yaml", oid)
                service = None
        else:
            office = reader.identifier(fields["office"], oid)
            if office and office not in offices:
                reader.problem(fields["office"], f"unknown office '{office}'; define it under offices", oid)
            service = f"office:{office}" if office and office in offices else None
        if partner and partner not in partners:
            reader.problem(fields["partner"], f"unknown partner '{partner}'; define it under partners", oid)
            partner = None
        elif partner and partners[partner].replaced_by:
            message = f"partner '{partner}' was split into units: {', '.join(partners[partner].replaced_by)}"
            reader.problem(fields["partner"], message, oid)
            partner = None
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
        listed = _listing(folder, directory, layer)
        files = sorted(name for name in listed if name.endswith(".yaml"))
        for stray in sorted(Path(name) for name in listed if name.endswith(".yml")):
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


def _listing(folder: _Folder, directory: Path, layer: _Layer, name: str = ELIGIBILITY_DIR) -> list[str]:
    """The names in a layer's folder ``name`` (eligibility, i18n), without hidden and editor files."""
    if folder.inside(directory, layer) is None:
        Reader(f"{layer.shown}/{name}", folder.problems).problem(
            None, "a symlink that leads outside the rule folder"
        )
        return []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    except OSError as error:
        Reader(f"{layer.shown}/{name}", folder.problems).problem(
            None, f"cannot list the folder: {error.strerror or type(error).__name__}"
        )
        return []
    return [name for name in names if not ignored(name)]


def _rule(
    reader: Reader, item: Node, service: str | None, partners: Collection[str], seen: dict[str, Located]
) -> Rule | None:
    """One eligibility rule; None (with problems recorded) when it cannot be read."""
    required = ("id", "effect", "when", "source")
    optional = ("valid_from", "valid_to", "confidence", "note", "check_with", "handover", "own_application")
    fields = reader.mapping(item, required, optional, _peek_id(item))
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
    check_with = reader.identifier(fields["check_with"], rid, TARGET) if "check_with" in fields else None
    if check_with and check_with not in partners:
        reader.problem(fields["check_with"], _unknown_target(partners, check_with), rid)
    if check_with and effect and effect != "check":
        reader.problem(fields["check_with"], "check_with belongs to rules with effect: check", rid)
    handover: tuple[str, ...] | None = None
    if "handover" in fields:
        handover = reader.items(fields["handover"], partial(reader.choice, allowed=CATEGORIES, rule=rid), rid)
        if effect and effect != "check":
            reader.problem(fields["handover"], "handover belongs to rules with effect: check", rid)
    own = "own_application" in fields and reader.typed(fields["own_application"], bool, "true or false", rid)
    if own and effect and effect != "eligible":
        reader.problem(
            fields["own_application"], "own_application belongs to rules with effect: eligible", rid
        )
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
        handover=cast(tuple[DataCategory, ...] | None, handover),
        own_application=bool(own),
    )


def _peek_id(node: Node) -> str | None:
    """The rule's id, if it has a readable one, so that other problems can name the rule."""
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == "id" and isinstance(value, ScalarNode):
                return str(value.value)
    return None


def _steps(folder: _Folder, services: Collection[str], partners: Collection[str]) -> list[StepTemplate]:
    """Next-step templates; ``partners`` are what a step may name (units and ``office:<id>``)."""
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
    optional = (
        "for",
        "partner",
        "handover",
        "when",
        "order",
        "valid_from",
        "valid_to",
        "own_application",
        "source",
    )
    fields = reader.mapping(item, required, optional, _peek_id(item))
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
        partner = reader.identifier(fields["partner"], sid, TARGET)
        if partner == "none":
            partner = None
        elif partner and partner != "responsible" and partner not in partners:
            known = _unknown_target(partners, partner)
            message = f"{known}; use responsible, none, a partner or office:<id>"
            reader.problem(fields["partner"], message, sid)
    text = _text(reader, fields["text"], sid, {"service"} | ({"partner"} if partner else set()))
    handover: tuple[str, ...] = ()
    if "handover" in fields:
        handover = reader.items(fields["handover"], partial(reader.choice, allowed=CATEGORIES, rule=sid), sid)
        if handover and partner is None:
            reader.problem(fields["handover"], "a step without a partner cannot hand over data", sid)
    when = _condition(reader, fields["when"], sid) if "when" in fields else None
    source = reader.strings(fields["source"], sid) if "source" in fields else ()
    order = reader.typed(fields["order"], int, "a whole number", sid) if "order" in fields else None
    valid_from, valid_to = _window(reader, fields, sid)
    if for_status == "not_eligible" and partner == "responsible":
        message = (
            "a not_eligible decision has no responsible partner: name partner: none, a partner or office:<id>"
        )
        reader.problem(fields.get("partner", fields["for"]), message, sid)
    own = "own_application" in fields and reader.typed(fields["own_application"], bool, "true or false", sid)
    if own and kind != "application":
        reader.problem(
            fields["own_application"], "own_application belongs to steps of kind: application", sid
        )
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
        order=order,
        valid_from=valid_from,
        valid_to=valid_to,
        own_application=bool(own),
    )


# -- language catalogues -----------------------------------------------------------------------

#: ISO 639-1 language codes: what a catalogue's file name and ``language`` may be.
_ISO_639_1_CODES = (
    "aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da "
    "de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy "
    "hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg "
    "li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or "
    "os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta "
    "te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu"
)
ISO_639_1 = frozenset(_ISO_639_1_CODES.split(" "))
DIRECTIONS = ("ltr", "rtl")
CATALOGUE_STATUSES = ("draft", "reviewed")
_CATALOGUE_HEADER = ("language", "name", "direction", "fallback", "status")


@dataclass
class _Draft:
    """A catalogue while its layers are read: header values, their nodes, and the texts."""

    values: dict[str, str]
    nodes: dict[str, tuple[Reader, Node]]
    texts: dict[str, str]
    where: Located


def keyed_texts(
    services: Iterable[Service],
    fields: Mapping[str, FieldInfo],
    messages: Messages | None,
    steps: Iterable[StepTemplate],
    rules: Iterable[Rule],
) -> dict[str, Text]:
    """Every text a catalogue can translate, by its catalogue key (``steps.<id>``, ``rules.<id>.note``)."""
    keyed: dict[str, Text] = {f"steps.{t.id}": t.text for t in steps}
    keyed |= {f"fields.{name}.question": info.question for name, info in fields.items()}
    if messages is not None:
        keyed |= {f"messages.{key}": getattr(messages, key) for key in _MESSAGE_PLACEHOLDERS}
        keyed |= {f"categories.{key}": label for key, label in messages.categories.items()}
    keyed |= {f"services.{s.id}.name": s.name for s in services}
    keyed |= {f"rules.{r.id}.note": r.note for r in rules if r.note is not None}
    keyed |= {text.key: text for text in base_words().values()}
    return keyed


def _placeholders(text: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return set()


def _catalogue_texts(
    reader: Reader, node: Node, keyed: Mapping[str, Text], texts: dict[str, str], unknown: bool = True
) -> None:
    """Read a catalogue's ``texts:``: known keys only, each with the German text's placeholders.

    ``unknown=False`` skips keys the rule set does not have without a problem: when another file
    is broken, its rules' and steps' keys are unknown only because of that file.
    """
    if not isinstance(node, MappingNode) or node.tag != "tag:yaml.org,2002:map":
        reader.mapping(node, ())  # records the problem
        return
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, ScalarNode) else None
        if not isinstance(key, str) or key_node.tag != "tag:yaml.org,2002:str":
            reader.problem(key_node, "keys must be text keys such as steps.<step id>")
            continue
        if key in seen:
            reader.problem(key_node, f"duplicate key '{key}' (first given on line {seen[key]})")
            continue
        seen[key] = key_node.start_mark.line + 1
        base = keyed.get(key)
        if base is None and not unknown:
            continue
        if base is None:
            close = difflib.get_close_matches(key, keyed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            reader.problem(
                key_node,
                f"unknown text key '{key}'{hint}; keys are steps.<id>, fields.<field>.question, "
                "messages.<key>, categories.<category>, services.<id>.name and rules.<id>.note "
                "of this rule set, and words.<key> of the library",
            )
            continue
        value = reader.string(value_node)
        if value is None:
            continue
        expected = _placeholders(base.de)
        _check_placeholders(reader, value_node, value, expected, None)
        for name in sorted(expected - _placeholders(value)):
            reader.problem(value_node, f"placeholder '{{{name}}}' of the German text is missing")
        texts[key] = value


def _catalogue_file(
    folder: _Folder,
    layer: _Layer,
    name: str,
    drafts: dict[str, _Draft],
    keyed: Mapping[str, Text],
    unknown: bool = True,
) -> None:
    """Read one ``i18n/<lang>.yaml`` of a layer into ``drafts`` (a later layer adds and replaces texts)."""
    code = name.removesuffix(".yaml")
    reader, root = folder.read(f"{I18N_DIR}/{name}", layer)
    reader.subject = "language"
    draft = drafts.get(code)
    required = () if draft is not None else ("language", "name", "direction", "status", "texts")
    entries = reader.mapping(root, required, (*_CATALOGUE_HEADER, "reviewed_by", "texts")) if root else None
    if entries is None:
        return
    if code in BASE_LANGUAGES:
        reader.problem(
            root, f"{code} is written in the rule files themselves; catalogues are for other languages"
        )
        return
    if code not in ISO_639_1:
        reader.problem(
            root, f"unknown language code '{code}': name the file after an ISO 639-1 code (uk.yaml)"
        )
        return
    if draft is None:
        draft = drafts[code] = _Draft({"fallback": "de"}, {}, {}, Located(reader.file, 1))
    for key in (*_CATALOGUE_HEADER, "reviewed_by"):
        if key not in entries:
            continue
        node = entries[key]
        if key == "direction":
            value = reader.choice(node, DIRECTIONS, code)
        elif key == "status":
            value = reader.choice(node, CATALOGUE_STATUSES, code)
        elif key == "language":
            value = reader.string(node, code)
            if value is not None and value != code:
                reader.problem(node, f"language '{value}' differs from the file name {name}", code)
                value = None
        elif key == "fallback":
            value = reader.string(node, code)
            if value is not None and value not in ISO_639_1:
                reader.problem(node, f"unknown language code '{value}' as fallback", code)
                value = None
        else:
            value = reader.string(node, code)
        if value is not None:
            draft.values[key] = value
            draft.nodes[key] = (reader, node)
    if "texts" in entries:
        _catalogue_texts(reader, entries["texts"], keyed, draft.texts, unknown)


def _catalogues(
    folder: _Folder, keyed: Mapping[str, Text]
) -> tuple[dict[str, Catalogue], dict[str, dict[str, str]]]:
    """The language catalogues of all layers, checked: header, keys, placeholders, fallback chain."""
    drafts: dict[str, _Draft] = {}
    unknown = not folder.problems  # a broken file makes its keys unknown: report only that file
    for layer in folder.layers:
        listed = _listing(folder, layer.root / I18N_DIR, layer, I18N_DIR)
        for stray in sorted(name for name in listed if not name.endswith(".yaml")):
            Reader(f"{layer.shown}/{I18N_DIR}/{stray}", folder.problems).problem(
                None, "catalogue files are named <language>.yaml; this one would be ignored"
            )
        for name in sorted(name for name in listed if name.endswith(".yaml")):
            _catalogue_file(folder, layer, name, drafts, keyed, unknown)
    catalogues: dict[str, Catalogue] = {}
    for code, draft in drafts.items():
        values = draft.values
        if values.get("status") == "reviewed" and "reviewed_by" not in values:
            reader, node = draft.nodes["status"]
            reader.problem(node, "a reviewed catalogue names its reviewer (reviewed_by)", code)
        fallback = values["fallback"]
        if fallback not in BASE_LANGUAGES and fallback not in drafts:
            reader, node = draft.nodes["fallback"]
            known = ", ".join((*BASE_LANGUAGES, *sorted(drafts)))
            reader.problem(node, f"fallback '{fallback}' has no catalogue; use one of: {known}", code)
            continue
        chain = [code]
        while fallback not in BASE_LANGUAGES and fallback in drafts and fallback not in chain:
            chain.append(fallback)
            fallback = drafts[fallback].values["fallback"]
        if fallback in chain:
            reader, node = draft.nodes["fallback"]
            loop = " → ".join((*chain, fallback))
            reader.problem(node, f"the fallback chain loops ({loop}); it must end at de or en", code)
            continue
        if not {"name", "direction", "status"} <= values.keys():
            continue  # a missing or bad header value is already a problem
        catalogues[code] = Catalogue(
            language=code,
            name=values["name"],
            direction=values["direction"],
            fallback=values["fallback"],
            status=values["status"],
            where=draft.where,
            reviewed_by=values.get("reviewed_by"),
            keys=frozenset(draft.texts),
        )
    return catalogues, {code: drafts[code].texts for code in catalogues}


def _translated(
    text: Text, key: str, catalogues: Mapping[str, Catalogue], texts: Mapping[str, Mapping[str, str]]
) -> Text:
    """``text`` with its translations resolved along each catalogue's fallback chain."""
    resolved: dict[str, str] = {}
    for code in catalogues:
        lang = code
        while lang not in BASE_LANGUAGES and key not in texts[lang]:
            lang = catalogues[lang].fallback
        resolved[code] = texts[lang][key] if lang not in BASE_LANGUAGES else text.get(lang)
    own = frozenset(code for code in catalogues if key in texts[code])
    return Text(text.de, text.en, MappingProxyType(resolved), own, key)


@dataclass(frozen=True)
class _Parts:
    """The parts of a rule set that hold texts."""

    services: list[Service]
    fields: dict[str, FieldInfo]
    messages: Messages
    steps: list[StepTemplate]
    rules: list[Rule]
    #: The library's words, translated (empty without catalogues).
    words: Mapping[str, Text] = dataclass_field(default_factory=dict)


def _translate(
    parts: _Parts, catalogues: Mapping[str, Catalogue], texts: Mapping[str, Mapping[str, str]]
) -> _Parts:
    """The parts with every keyed text carrying its translations (nothing changes without catalogues)."""
    if not catalogues:
        return parts

    def tr(key: str, text: Text) -> Text:
        return _translated(text, key, catalogues, texts)

    messages = parts.messages
    return _Parts(
        services=[replace(s, name=tr(f"services.{s.id}.name", s.name)) for s in parts.services],
        fields={
            n: replace(f, question=tr(f"fields.{n}.question", f.question)) for n, f in parts.fields.items()
        },
        messages=replace(
            messages,
            categories={c: tr(f"categories.{c}", label) for c, label in messages.categories.items()},
            **{k: tr(f"messages.{k}", getattr(messages, k)) for k in _MESSAGE_PLACEHOLDERS},
        ),
        steps=[replace(t, text=tr(f"steps.{t.id}", t.text)) for t in parts.steps],
        rules=[replace(r, note=tr(f"rules.{r.id}.note", r.note)) if r.note else r for r in parts.rules],
        words=MappingProxyType({key: tr(text.key, text) for key, text in base_words().items()}),
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


def _base_layer(folder: _Folder, own: _Layer, extends: Node, stack: ExitStack, root: Path) -> _Layer | None:
    """The layer ``extends`` names: ``default`` (the bundled rules) or a relative folder inside ``root``."""
    reader = Reader(f"{own.shown}/ruleset.yaml", folder.problems)
    target = str(extends.value)
    if target == "default":
        base = stack.enter_context(resources.as_file(bundled("rules")))
        layer = _Layer(Path(os.path.realpath(base)), "default", overlay=False)
    else:
        if Path(target).is_absolute() or "\0" in target or target.startswith("~"):
            reader.problem(extends, "extends takes default or a relative path, not an absolute one")
            return None
        resolved = Path(os.path.realpath(own.root / target))
        if not (resolved == root or root in resolved.parents) or resolved == own.root:
            reader.problem(
                extends,
                f"extends leads outside the allowed root {root} (extends_root); "
                "use default or a folder beside this one",
            )
            return None
        layer = _Layer(resolved, f"{own.shown}/{target}".replace("/./", "/"), overlay=False)
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


def load_ruleset(
    path: str | Path,
    *,
    engine: str | None = None,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    extends_root: str | Path | None = None,
    allow_symlinks_outside: bool = False,
) -> Ruleset:
    """Load and check the rule folder at ``path``; raise :class:`RuleFileError` listing every problem.

    ``engine`` is the rule set's default engine for :func:`referral_engine.recommend`
    (``"durable"``, ``"python"``, or ``None`` for the library default). With ``"durable"``, the
    rules are compiled now, and rules durable-rules cannot run are reported here, located.

    A folder whose ``ruleset.yaml`` says ``extends: default`` (or a relative path) holds only what
    it changes: entries with the base's ids replace them, new ids are added, and ``remove: [ids]``
    drops entries of the base.

    Only regular files inside the folder are read (no devices, FIFOs or sockets; a symlink only
    when its target stays inside the folder, unless ``allow_symlinks_outside``); hidden and
    editor files (``.x``, ``.#x``, ``x~``, ``x.swp``) are skipped. Each file may have at most
    ``max_file_bytes`` (default 1 MiB) and all files of a load together ``max_total_bytes``
    (default 16 MiB). ``extends`` with a relative path must stay inside ``extends_root``
    (default: the folder that contains the rule folder).
    """
    started = time.perf_counter()
    for value, what in ((max_file_bytes, "max_file_bytes"), (max_total_bytes, "max_total_bytes")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageError(f"{what} must be a positive whole number of bytes")
    shown = _shown(path)
    try:
        root = Path(os.path.realpath(path))
        is_folder = root.is_dir()
    except (OSError, ValueError):
        is_folder = False
    if not is_folder:
        raise RuleFileError([RuleProblem(shown, 1, 1, "not a folder of rule files")])
    try:
        allowed_root = Path(os.path.realpath(extends_root)) if extends_root is not None else root.parent
    except (OSError, ValueError):
        raise UsageError("extends_root must be a folder") from None
    own = _Layer(root, shown, overlay=False)
    folder = _Folder([own], [], _Limits(max_file_bytes, max_total_bytes, allow_symlinks_outside))
    with ExitStack() as stack:
        name, version, extends = _header(folder, own)
        if extends is not None:
            base = _base_layer(folder, own, extends, stack, allowed_root)
            folder.layers = [base, _Layer(root, shown, overlay=True)] if base else [own]
        services = _services(folder)
        service_ids = folder.ids("services.yaml", (service.id for service in services))
        fields = _fields(folder)
        messages = _messages(folder)
        graph = _partners(folder, service_ids)
        partner_ids = _targets(graph, folder.ids("partners.yaml", graph.partners if graph else ()))
        steps = _steps(folder, service_ids, partner_ids)
        before = len(folder.problems)
        rules = _rules(folder, service_ids, partner_ids)
        if len(folder.problems) == before:
            # A service only looks ungrantable when its rule file is broken: say so only for clean files.
            _check_grants(folder, services, rules)
        catalogues, translations = _catalogues(folder, keyed_texts(services, fields, messages, steps, rules))
    if folder.problems or graph is None or messages is None:
        problems = sorted(set(folder.problems), key=lambda p: (p.file, p.line, p.column, p.message))
        raise RuleFileError(problems or [RuleProblem(shown, 1, 1, "incomplete rule set")])
    parts = _translate(_Parts(services, fields, messages, steps, rules), catalogues, translations)
    services, fields, messages, steps, rules = (
        parts.services,
        parts.fields,
        parts.messages,
        parts.steps,
        parts.rules,
    )
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
        catalogues=MappingProxyType(catalogues),
        words=parts.words,
    )
    unsafe = guard_problems(ruleset)
    if unsafe:
        raise RuleFileError(unsafe)
    ruleset = ruleset.with_engine(engine)
    if engine == "durable":
        provided("prepare_durable")(ruleset)  # engines come after the loader (see _provided)
    # Rule files are public: path, digest and counts are safe to log (a profile never is).
    _log.debug(
        "loaded rule set %s from %s: digest %s, %d services, %d rules, %d partners, %d steps, "
        "engine %s, %.1f ms",
        ruleset.ruleset_version,
        shown,
        ruleset.digest,
        len(ruleset.services),
        len(ruleset.rules),
        len(ruleset.partners.partners),
        len(ruleset.steps),
        engine or "default",
        (time.perf_counter() - started) * 1000,
    )
    return ruleset


def _shown(path: str | Path) -> str:
    """The folder as messages name it: printable, without control characters or lone surrogates."""
    text = str(path).rstrip("/") or "."
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(char if char.isprintable() else "?" for char in text)


_default: Ruleset | None = None
_default_lock = threading.Lock()


def _reset_after_fork() -> None:
    # A lock another thread held at fork time would stay held forever in the child.
    global _default_lock
    _default_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_reset_after_fork)


@provide
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
