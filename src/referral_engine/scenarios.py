"""Scenario tests: worked cases in YAML that rule authors keep next to the rules.

A scenario file names a rule folder and lists cases, each with a profile, the date the rules are
applied for and what the recommendation must say (see ``rules/README.md``, "Scenario tests")::

    rules: ..                  # optional: the rule folder, relative to this file, or ``default``
    as_of: 2026-03-01          # the date for every scenario that gives none
    scenarios:
      - name: JMD at 19 with a Gestattung
        profile: {age: 19, residence_status: gestattung, municipality: Staufen}
        expect:
          eligible: [jmd]
          partners: {jmd: [diakonie]}

:func:`load_scenarios` reads a file as strictly as the rule files (every problem with
``file:line:column``; unknown service, partner, step and field ids are problems too) and
:func:`run_scenario` applies the rules and lists each expectation the recommendation does not
meet. Nothing here depends on pytest: ``referral_engine.pytest_plugin`` runs the files under
pytest, and a notebook can call these functions directly.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ._yaml import Reader
from .errors import ProfileError, RuleFileError, RuleProblem
from .graph import Located
from .loader import MAX_FILE_BYTES, NotReadable, default_ruleset, load_ruleset, read_regular_file
from .models import ENGINES, CaseProfile, Consent, Recommendation
from .recommend import check_municipality, recommend
from .ruleset import Ruleset
from .steps import CONFIDENTIAL_STEP

__all__ = [
    "DEFAULT_RULES",
    "SCENARIO_DIR",
    "Check",
    "Mismatch",
    "Scenario",
    "ScenarioResult",
    "default_rules_folder",
    "load_scenarios",
    "run_scenario",
]

#: The folder name that marks scenario files: ``rules/scenarios/*.yaml`` test ``rules/``.
SCENARIO_DIR = "scenarios"
#: What ``rules:`` names to test the rules bundled with the package.
DEFAULT_RULES = "default"

CheckKind = Literal[
    "status", "eligible_only", "partners", "next_step", "next_steps_order", "not_next_step", "missing"
]
_STATUS_KEYS = ("eligible", "undetermined", "not_eligible")
_EXPECT_KEYS = (*_STATUS_KEYS, "eligible_only", "partners", "next_steps", "not_next_steps", "missing")
_ANY_ID = re.compile(r"^[a-z][a-z0-9_.:-]*$")  # service, field and step ids (clarify:age)


def _join(ids: Iterable[str]) -> str:
    return ", ".join(ids) or "(none)"


@dataclass(frozen=True)
class Check:
    """One expectation of a scenario and the line it is written on.

    ``kind`` says what is checked: ``status`` (``subject`` is a service, ``expected`` its status),
    ``eligible_only`` (exactly these services are eligible), ``partners`` (the partners of
    ``subject``, in order), ``next_step`` / ``not_next_step`` (the step ``subject`` is / is not
    among the next steps), ``next_steps_order`` (these steps, where present, come in this order)
    and ``missing`` (the fact ``subject`` is among the open questions).
    """

    kind: CheckKind
    subject: str
    expected: tuple[str, ...]
    where: Located

    def expected_line(self, rec: Recommendation | None = None) -> str:
        """The expectation as one line of the expected-vs-got diff (for ``rec``, if given)."""
        return self._line(self._wanted(rec) if rec is not None else self.expected)

    def got_line(self, rec: Recommendation) -> str:
        """What ``rec`` says about the same thing, as one line (equal to the expected one if met)."""
        return self._line(self._got(rec))

    def mismatch(self, rec: Recommendation) -> str | None:
        """Why ``rec`` does not meet this expectation, or None if it does."""
        got = self._got(rec)
        if got == self._wanted(rec):
            return None
        subject = self.subject
        if self.kind == "status":
            return f"decision {subject} expected {self.expected[0]}, got {got[0]}"
        if self.kind == "eligible_only":
            return f"eligible services expected exactly {_join(self.expected)}, got {_join(got)}"
        if self.kind == "partners":
            return f"partners of {subject} expected {_join(self.expected)}, got {_join(got)}"
        if self.kind == "next_step":
            return f"next step {subject} expected, but it is not among the next steps"
        if self.kind == "not_next_step":
            return f"next step {subject} not expected, but it is step {got[0]} of {len(rec.next_steps)}"
        if self.kind == "next_steps_order":
            return f"next steps expected in the order {_join(self._wanted(rec))}, got {_join(got)}"
        return f"open question {subject} expected, but it is not asked"

    def _wanted(self, rec: Recommendation) -> tuple[str, ...]:
        """The expected value; an order is checked only among the steps present (absent ones fail alone)."""
        if self.kind == "next_steps_order":
            present = {step.id for step in rec.next_steps}
            return tuple(step for step in self.expected if step in present)
        return self.expected

    def _got(self, rec: Recommendation) -> tuple[str, ...]:
        """The actual value, shaped like ``expected``."""
        steps = [step.id for step in rec.next_steps]
        if self.kind == "status":
            return (_status(rec, self.subject),)
        if self.kind == "eligible_only":
            return tuple(sorted(rec.eligible))
        if self.kind == "partners":
            return _partners(rec, self.subject)
        if self.kind == "next_step":
            return ("present",) if self.subject in steps else ("absent",)
        if self.kind == "not_next_step":
            return (str(steps.index(self.subject) + 1),) if self.subject in steps else ("absent",)
        if self.kind == "next_steps_order":
            return tuple(step for step in steps if step in self.expected)
        return ("asked",) if self.subject in rec.missing else ("not asked",)

    def _line(self, value: tuple[str, ...]) -> str:
        shown = _join(value)
        if self.kind == "status":
            return f"decision {self.subject}: {shown}"
        if self.kind == "eligible_only":
            return f"eligible (exactly): {shown}"
        if self.kind == "partners":
            return f"partners of {self.subject}: {shown}"
        if self.kind in ("next_step", "not_next_step"):
            shown = shown if shown in ("present", "absent") else f"present (step {shown})"
            return f"next step {self.subject}: {shown}"
        if self.kind == "next_steps_order":
            return f"next steps in order: {shown}"
        return f"open question {self.subject}: {shown}"


def _status(rec: Recommendation, service: str) -> str:
    try:
        return rec.decision(service).status.value
    except KeyError:
        return "no decision (unknown service)"


def _partners(rec: Recommendation, service: str) -> tuple[str, ...]:
    try:
        return rec.decision(service).partners
    except KeyError:
        return ()


@dataclass(frozen=True)
class Scenario:
    """One worked case: a profile, the date the rules are applied for and what must come out."""

    name: str
    profile: CaseProfile
    as_of: dt.date
    checks: tuple[Check, ...]
    where: Located
    ruleset: Ruleset = field(repr=False, compare=False)
    engine: str | None = None
    source: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mismatch:
    """One expectation a recommendation did not meet: where it is written and what was found."""

    check: Check
    message: str

    def __str__(self) -> str:
        return f"{self.check.where}: {self.message}"


@dataclass(frozen=True)
class ScenarioResult:
    """The outcome of :func:`run_scenario`: the recommendation and every unmet expectation."""

    scenario: Scenario
    recommendation: Recommendation
    mismatches: tuple[Mismatch, ...]
    engine: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the recommendation met every expectation."""
        return not self.mismatches

    def report(self) -> str:
        """Each unmet expectation as ``file:line: scenario 'name': message``, then a diff of all of them."""
        name = self.scenario.name
        if self.ok:
            return f"{self.scenario.where}: scenario '{name}': passed"
        lines = [f"{m.check.where}: scenario '{name}': {m.message}" for m in self.mismatches]
        rec = self.recommendation
        engine = f", engine {self.engine}" if self.engine else ""
        lines.append(f"(as_of {rec.as_of.isoformat()}, rules {rec.ruleset_version}{engine})")
        lines += ["--- expected", "+++ got"]
        for check in self.scenario.checks:
            expected, got = check.expected_line(rec), check.got_line(rec)
            lines += [f"  {expected}"] if expected == got else [f"- {expected}", f"+ {got}"]
        kinds = {m.check.kind for m in self.mismatches}
        if kinds & {"next_step", "not_next_step", "next_steps_order"}:
            lines.append(f"next steps got: {_join(step.id for step in rec.next_steps)}")
        if "missing" in kinds:
            lines.append(f"open questions got: {_join(rec.missing)}")
        if "status" in kinds:
            lines.append(f"eligible got: {_join(rec.eligible)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


def run_scenario(
    scenario: Scenario, *, ruleset: Ruleset | None = None, engine: str | None = None
) -> ScenarioResult:
    """Apply the rules to ``scenario`` and compare the recommendation with its expectations.

    ``ruleset`` defaults to the rule set the scenario file names; ``engine`` (``"python"``,
    ``"durable"``) to the file's ``engine:`` and then to the rule set's or library's default.
    """
    chosen = engine if engine is not None else scenario.engine
    rec = recommend(
        scenario.profile, as_of=scenario.as_of, ruleset=ruleset or scenario.ruleset, engine=chosen
    )
    found = ((check, check.mismatch(rec)) for check in scenario.checks)
    mismatches = tuple(
        sorted(
            (Mismatch(check, message) for check, message in found if message is not None),
            key=lambda mismatch: mismatch.check.where.line,
        )
    )
    return ScenarioResult(scenario, rec, mismatches, chosen)


def default_rules_folder(path: str | Path) -> Path:
    """The rule folder a scenario file tests unless it names one.

    That is the folder above ``scenarios/`` for a file in a ``scenarios`` folder, else the file's own.
    """
    folder = Path(path).parent
    return folder.parent if folder.name == SCENARIO_DIR else folder


def load_scenarios(
    path: str | Path,
    *,
    ruleset: Ruleset | None = None,
    cache: MutableMapping[str, Ruleset] | None = None,
) -> tuple[Scenario, ...]:
    """Read and check the scenario file at ``path``; raise :class:`RuleFileError` listing every problem.

    The rule set is the one the file names with ``rules:`` (default: :func:`default_rules_folder`),
    unless ``ruleset`` is given. ``cache`` keeps rule sets already loaded, by folder, so that many
    files testing one folder load it once (the pytest plugin shares one per session).
    """
    shown = str(path)
    problems: list[RuleProblem] = []
    reader = Reader(shown, problems, subject="scenario")
    try:
        text = read_regular_file(path, MAX_FILE_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise RuleFileError([RuleProblem(shown, 1, 1, "no such scenario file")]) from None
    except NotReadable as error:
        raise RuleFileError([RuleProblem(shown, 1, 1, str(error))]) from None
    except UnicodeDecodeError as error:
        message = f"cannot read the scenario file ({type(error).__name__})"
        raise RuleFileError([RuleProblem(shown, 1, 1, message)]) from None
    root = reader.compose(text)
    if root is None and not problems:
        reader.problem(None, "file is empty; expected a mapping with scenarios: [...]")
    entries = reader.mapping(root, ("scenarios",), ("rules", "as_of", "engine")) if root else None
    if entries is None:
        raise RuleFileError(problems)
    if ruleset is None:
        ruleset = _ruleset(reader, entries.get("rules"), path, cache if cache is not None else {})
    elif "rules" in entries:
        reader.string(entries["rules"])  # not used, but still checked
    as_of = reader.date(entries["as_of"]) if "as_of" in entries else None
    engine = reader.choice(entries["engine"], ENGINES) if "engine" in entries else None
    scenarios: list[Scenario] = []
    if "scenarios" in entries:
        ids = _Ids(ruleset)
        items = reader.sequence(entries["scenarios"])
        if not items and isinstance(entries["scenarios"], SequenceNode):
            reader.problem(entries["scenarios"], "expected at least one scenario")
        seen: dict[str, int] = {}
        for item in items:
            scenario = _scenario(reader, item, as_of, ids, seen)
            if scenario is not None and ruleset is not None:
                name, profile, day, checks, source = scenario
                where = Located(shown, item.start_mark.line + 1)
                scenarios.append(Scenario(name, profile, day, checks, where, ruleset, engine, source))
    if problems:
        raise RuleFileError(sorted(set(problems), key=lambda p: (p.file, p.line, p.column, p.message)))
    return tuple(scenarios)


def _ruleset(
    reader: Reader, node: Node | None, path: str | Path, cache: MutableMapping[str, Ruleset]
) -> Ruleset | None:
    """The rule set the file names (or the default folder); None, with a problem, if it does not load."""
    if node is not None:
        named = reader.string(node)
        if named is None:
            return None
        if named == DEFAULT_RULES:
            return default_ruleset()
        folder = os.path.normpath(Path(path).parent / named)
        if not Path(folder, "ruleset.yaml").is_file():
            reader.problem(
                node, f"rules names no rule folder: '{named}' (use default or a path relative to this file)"
            )
            return None
    else:
        folder = os.path.normpath(default_rules_folder(path))
        if not Path(folder, "ruleset.yaml").is_file():
            reader.problem(
                None, f"no rule folder: '{folder}' has no ruleset.yaml; add rules: <folder> or default"
            )
            return None
    key = str(Path(folder).resolve())
    if key not in cache:
        try:
            cache[key] = load_ruleset(folder)
        except RuleFileError as error:
            reader.problem(
                node, f"the rule folder '{folder}' does not load ({len(error.problems)} problems):"
            )
            reader.problems.extend(error.problems)
            return None
    return cache[key]


class _Ids:
    """The ids a scenario may name, from its rule set; without one (it did not load) every id passes.

    Each method says why an id is unknown, listing the ids that exist, or returns None.
    """

    def __init__(self, ruleset: Ruleset | None) -> None:
        self.known = ruleset is not None
        self.ruleset = ruleset
        self.services = tuple(service.id for service in ruleset.services) if ruleset else ()
        self.partners = tuple(sorted(ruleset.partners.partners)) if ruleset else ()
        self.fields = tuple(ruleset.fields) if ruleset else ()
        self.templates = tuple(sorted(step.id for step in ruleset.steps)) if ruleset else ()
        self.checks = tuple(sorted(r.id for r in ruleset.rules if r.effect == "check")) if ruleset else ()

    def _unknown(self, what: str, value: str, known: tuple[str, ...]) -> str | None:
        if not self.known or value in known:
            return None
        return f"unknown {what} '{value}'; expected one of: {_join(known)}"

    def service(self, value: str) -> str | None:
        return self._unknown("service", value, self.services)

    def partner(self, value: str) -> str | None:
        return self._unknown("partner", value, self.partners)

    def field(self, value: str) -> str | None:
        return self._unknown("field", value, self.fields)

    def step(self, value: str) -> str | None:
        """Steps are templates of steps.yaml, or ``clarify:<field>``, ``consent:<partner>:<service>`` etc."""
        if value == CONFIDENTIAL_STEP:
            return None
        prefix, _, rest = value.partition(":")
        generated = {
            "clarify": ("field", self.fields),
            "consent": ("partner", self.partners),
            "check": ("check rule", self.checks),
            "no_partner": ("service", self.services),
        }
        if prefix == "consent" and rest:
            partner, _, purpose = rest.partition(":")
            problem = self.partner(partner) if self.known else None
            if problem is None and self.known and purpose not in self.services:
                problem = f"step '{value}' names an unknown service '{purpose}'; "
                problem += "expected consent:<partner>:<service>"
            return problem
        if rest and prefix in generated:
            what, known = generated[prefix]
            if not self.known or rest in known:
                return None
            return f"step '{value}' names an unknown {what} '{rest}'; expected one of: {_join(known)}"
        if not self.known or value in self.templates:
            return None
        forms = ", ".join(f"{prefix}:<{what}>" for prefix, (what, _) in generated.items()).replace(
            "consent:<partner>", "consent:<partner>:<service>"
        )
        return f"unknown step '{value}'; expected a step of steps.yaml ({_join(self.templates)}) or {forms}"


def _scenario(
    reader: Reader, item: Node, file_as_of: dt.date | None, ids: _Ids, seen: dict[str, int]
) -> tuple[str, CaseProfile, dt.date, tuple[Check, ...], tuple[str, ...]] | None:
    """The parts of one scenario; None (with problems recorded) when it cannot be read."""
    name = _peek_name(item)
    fields = reader.mapping(item, ("name", "profile", "expect"), ("as_of", "source"), name)
    if fields is None:
        return None
    name = reader.string(fields["name"]) if "name" in fields else None
    if name is not None:
        name = " ".join(name.split())
        if "::" in name:
            reader.problem(
                fields["name"], "a scenario name cannot contain '::' (pytest uses it in test ids)", name
            )
        line = fields["name"].start_mark.line + 1
        if name in seen:
            reader.problem(fields["name"], f"duplicate scenario name (first on line {seen[name]})", name)
        seen.setdefault(name, line)
    as_of = reader.date(fields["as_of"], name) if "as_of" in fields else file_as_of
    if as_of is None and "as_of" not in fields:
        reader.problem(item, "missing key 'as_of': give it here or at the top of the file", name)
    elif as_of is None and isinstance(fields["as_of"], ScalarNode) and fields["as_of"].tag.endswith(":null"):
        reader.problem(fields["as_of"], "expected a date (YYYY-MM-DD), found null", name)
    source = reader.strings(fields["source"], name) if "source" in fields else ()
    profile = _profile(reader, fields["profile"], name, ids) if "profile" in fields else None
    checks = _checks(reader, fields["expect"], ids, name) if "expect" in fields else None
    if name is None or as_of is None or profile is None or checks is None:
        return None
    return name, profile, as_of, checks, source


def _peek_name(node: Node) -> str | None:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == "name" and isinstance(value, ScalarNode):
                return str(value.value)
    return None


def _profile(reader: Reader, node: Node, name: str | None, ids: _Ids | None = None) -> CaseProfile | None:
    """The case profile; problems name the field and what is allowed, never the value given.

    With the rule set known (``ids``), a municipality it does not know is a problem too.
    """
    entries = reader.mapping(node, (), tuple(CaseProfile.model_fields), name)
    if entries is None:
        return None
    before = len(reader.problems)
    data = {key: _plain(reader, value, name) for key, value in entries.items()}
    if len(reader.problems) > before:
        return None
    try:
        profile = CaseProfile.model_validate(data)
        if ids is not None and ids.ruleset is not None:
            check_municipality(profile, ids.ruleset)
        return profile
    except ProfileError as error:
        for problem in error.problems:
            where = _locate(node, problem.field.split("."))
            reader.problem(where, f"profile field {problem.field}: {problem.message}", name)
        return None


def _plain(reader: Reader, node: Node, name: str | None) -> Any:
    """A YAML node as plain Python values (lists, mappings with text keys, scalars), read strictly."""
    if isinstance(node, SequenceNode):
        return [_plain(reader, item, name) for item in reader.sequence(node, name)]
    if isinstance(node, MappingNode):
        entries = reader.mapping(node, (), tuple(Consent.model_fields), name)
        return {key: _plain(reader, value, name) for key, value in (entries or {}).items()}
    return reader.scalar(node, name)[1]


def _locate(node: Node, path: list[str]) -> Node:
    """The node at ``path`` (``consents.0.given_on``) below ``node``, or the deepest one that exists."""
    for part in path:
        if isinstance(node, MappingNode):
            found = [value for key, value in node.value if getattr(key, "value", None) == part]
        elif isinstance(node, SequenceNode) and part.isdigit() and int(part) < len(node.value):
            found = [node.value[int(part)]]
        else:
            found = []
        if not found:
            break
        node = found[0]
    return node


def _checks(reader: Reader, node: Node, ids: _Ids, name: str | None) -> tuple[Check, ...] | None:
    """The expectations of one scenario; None (with problems recorded) if any cannot be read."""
    entries = reader.mapping(node, (), _EXPECT_KEYS, name)
    if entries is None:
        return None
    if not entries:
        reader.problem(node, f"expect checks nothing; give one of: {', '.join(_EXPECT_KEYS)}", name)
        return None
    before = len(reader.problems)

    def listed(key: str, valid: Callable[[str], str | None]) -> list[tuple[str, Located]]:
        """The ids listed under ``key``, each with its line; unknown ids are problems."""
        items = reader.sequence(entries[key], name)
        if not items and key != "eligible_only" and isinstance(entries[key], SequenceNode):
            reader.problem(entries[key], f"an empty {key} list checks nothing; leave the key out", name)
        found = []
        for item in items:
            value = reader.identifier(item, name, _ANY_ID)
            problem = valid(value) if value is not None else None
            if problem:
                reader.problem(item, problem, name)
            elif value is not None:
                found.append((value, _located(reader, item)))
        return found

    checks: list[Check] = []
    stated: dict[str, str] = {}
    for key in (k for k in _STATUS_KEYS if k in entries):
        for service, where in listed(key, ids.service):
            if service in stated:
                reader.problem(entries[key], f"service {service} is already expected {stated[service]}", name)
            stated.setdefault(service, key)
            checks.append(Check("status", service, (key,), where))
    if "eligible_only" in entries:
        only = tuple(sorted(service for service, _ in listed("eligible_only", ids.service)))
        checks.append(Check("eligible_only", "", only, _located(reader, entries["eligible_only"])))
    if "partners" in entries:
        checks += _partner_checks(reader, entries["partners"], ids, name)
    if "next_steps" in entries:
        steps = listed("next_steps", ids.step)
        checks += [Check("next_step", step, ("present",), where) for step, where in steps]
        if len(steps) > 1:
            order = tuple(step for step, _ in steps)
            checks.append(Check("next_steps_order", "", order, _located(reader, entries["next_steps"])))
    if "not_next_steps" in entries:
        steps = listed("not_next_steps", ids.step)
        checks += [Check("not_next_step", step, ("absent",), where) for step, where in steps]
    if "missing" in entries:
        facts = listed("missing", ids.field)
        checks += [Check("missing", fact, ("asked",), where) for fact, where in facts]
    return tuple(checks) if len(reader.problems) == before else None


def _located(reader: Reader, node: Node) -> Located:
    return Located(reader.file, node.start_mark.line + 1)


def _partner_checks(reader: Reader, node: Node, ids: _Ids, name: str | None) -> list[Check]:
    """``partners: {service: [partner ids]}``: the routed partners of each service, best first."""
    if not isinstance(node, MappingNode):
        reader.mapping(node, (), (), name)  # records what was found instead
        return []
    checks = []
    seen: set[str] = set()
    for key, value in node.value:
        service = reader.identifier(key, name)
        problem = ids.service(service) if service is not None else None
        if problem:
            reader.problem(key, problem, name)
        if service is None or problem:
            continue
        if service in seen:
            reader.problem(key, f"duplicate key '{service}'", name)
        seen.add(service)
        partners: list[str] = []
        for item in reader.sequence(value, name):
            partner = reader.identifier(item, name)
            problem = ids.partner(partner) if partner is not None else None
            if problem:
                reader.problem(item, problem, name)
            elif partner is not None:
                partners.append(partner)
        checks.append(Check("partners", service, tuple(partners), _located(reader, key)))
    return checks
