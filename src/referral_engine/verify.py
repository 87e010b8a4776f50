"""``referral-engine check``: verify a rule set before it goes live.

:func:`check` loads a rule folder (every load problem becomes an error finding) and then sweeps a
finite domain built from the rule set's own thresholds (:mod:`referral_engine.thresholds`):

* **unreachable** (error): a service no profile can get on any date (eligible or undetermined);
* **dead rule** (error): a rule that holds for no profile on any day it is in force;
* **contradiction** (error): a granting or ``check`` rule that some exclusion of the same service
  overrides wherever it holds, so it can never take effect; a partial **overlap** (info) is the
  designed way to carve an exception out of a grant (exclusions beat grants) and is only listed;
* **gap**: a profile for which every ``counselling`` service is ``not_eligible``. An error when
  it is a *hole* — the profile's neighbours on both sides in an ordered field (age, German level,
  a date) or the same profile in the ``as_of`` periods before and after do get counselling, as an
  off-by-one between two rules does — otherwise a warning (children under 12, people obliged to
  leave …);
* **coverage** (error): a service that some profile can get on some day has no partner in force
  for a municipality, and ``partners.yaml`` does not declare it ``not_offered`` there.
* **scenario** (error): a worked case in the folder's ``scenarios/*.yaml`` (see
  :mod:`referral_engine.scenarios`) that does not come out as written.

Each finding names its causes (:attr:`Finding.causes`), and with ``against`` the entries changed
since then come first (see :func:`check`).

The domain: for each ``as_of`` period (the days rules and offers come into or go out of force),
each field's values are split into the classes in which every condition of the rules under study
gives the same answer (:func:`referral_engine.thresholds.representatives`); the sweep evaluates
one profile per combination of classes, per service and only over the fields that service's rules
test. Within those periods and the representative values that is exhaustive, but it is a sweep,
not a proof: fields are split one at a time, and date windows are probed at their edges for one
``as_of`` per period.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import textwrap
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from . import engines
from .changes import changed_entries
from .conditions import Leaf, Tri
from .dates import add_days, period_end
from .errors import RuleFileError
from .explain import check_report_html
from .facts import FIELDS, Facts
from .graph import Located
from .handover import guard_problems
from .loader import load_ruleset
from .models import LANGUAGE_LEVELS, Recommendation, ServiceDecision
from .recommend import recommend
from .ruleset import Rule, Ruleset
from .scenarios import SCENARIO_DIR, load_scenarios, run_scenario
from .scenarios import Check as ScenarioCheck
from .thresholds import Thresholds, as_of_points, representatives, thresholds

Severity = Literal["error", "warning", "info"]
Kind = Literal[
    "load",
    "unreachable",
    "dead_rule",
    "contradiction",
    "overlap",
    "gap",
    "coverage",
    "safety",
    "engine",
    "scenario",
]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
_ORDERED = ("int", "level", "date")
#: Kinds whose ``rule`` is one of several causes (not the finding's subject): with a comparison,
#: the finding moves to the changed cause.
_MOVABLE = ("gap", "coverage")


@dataclass(frozen=True)
class Cause:
    """An entry that a finding is attributed to: a rule (or what ``subject`` says), and where it is.

    ``changed`` is true when :func:`check` ran ``against`` another rule set and this entry is new
    or different there (see :mod:`referral_engine.changes`).
    """

    rule: str
    file: str
    line: int
    subject: str = "rule"
    changed: bool = False

    @property
    def where(self) -> str:
        """``file:line``."""
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Finding:
    """One result of :func:`check`: what is wrong (or worth a look), where, and for which rule.

    ``rule`` is the id of the entry at ``file:line`` — a rule, or what ``subject`` says it is (an
    offer, a ``not_offered`` entry, a partner …); ``service`` the service concerned. ``causes``
    are the entries whose content makes the finding true, found from the sweep's evidence: for a
    gap, the rules whose value flips between the profiles left without counselling and their
    neighbours that get some (a grant's boundary, or an exclusion's); for a contradiction or an
    overlap, the rule and the exclusions that override it; for a failed scenario, the rules on
    the decision's path (see :func:`_scenario_findings`); otherwise the entry itself.
    ``changed`` says whether one of them is new or different in :func:`check`'s ``against``.
    """

    severity: Severity
    kind: Kind
    message: str
    file: str
    line: int
    rule: str | None = None
    service: str | None = None
    #: Other rule ids the finding names (the other side of an overlap or a gap).
    related: tuple[str, ...] = ()
    subject: str = "rule"
    causes: tuple[Cause, ...] = ()

    @property
    def where(self) -> str:
        """``file:line``."""
        return f"{self.file}:{self.line}"

    @property
    def changed(self) -> bool:
        """Whether an entry the finding is attributed to changed (only with ``check(against=...)``)."""
        return any(c.changed for c in self.causes)

    def caused_by(self, *, since: str | None = None) -> str:
        """``caused by rule a (file:line), changed since X; rule b (file:line)`` (empty without causes)."""
        if not self.causes:
            return ""
        named = [
            f"{c.subject} {c.rule} ({_near(c.where)})"
            + (f", changed since {since}" if c.changed and since else "")
            for c in self.causes
        ]
        return "caused by " + "; ".join(named)

    def __str__(self) -> str:
        subject = (
            f" {self.subject} {self.rule}"
            if self.rule
            else (f" service {self.service}" if self.service else "")
        )
        return f"{self.where}: {self.severity}: {self.kind}{subject}: {self.message}"


@dataclass(frozen=True)
class Report:
    """Everything :func:`check` found, errors first; ``ok`` when there is no error.

    With ``check(against=...)``: ``against`` names the rule set compared with, ``changed`` lists
    the (subject, id) of the entries new or changed since, and the findings attributed to them
    come first.
    """

    ruleset: str
    findings: tuple[Finding, ...]
    points: int = 0
    seconds: float = 0.0
    against: str | None = None
    changed: tuple[tuple[str, str], ...] = ()

    @property
    def errors(self) -> tuple[Finding, ...]:
        """The findings of severity ``error``."""
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """The findings of severity ``warning``."""
        return tuple(f for f in self.findings if f.severity == "warning")

    @property
    def ok(self) -> bool:
        """Whether the rule set has no error (warnings and infos do not count)."""
        return not self.errors

    def of_kind(self, kind: str) -> tuple[Finding, ...]:
        """The findings of one kind."""
        return tuple(f for f in self.findings if f.kind == kind)

    def _repr_html_(self) -> str:
        return check_report_html(self)

    def __repr__(self) -> str:
        counts = {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}
        return (
            f"Report({self.ruleset!r}, errors={counts['error']}, warnings={counts['warning']}, "
            f"infos={counts['info']}, ok={self.ok})"
        )

    def table(self, *, verbose: bool = False, width: int | None = None) -> str:
        """The findings as a text table (infos only with ``verbose``), and a summary line.

        With ``width`` (e.g. the terminal's), messages wrap onto indented lines so that no line is
        longer; the summary wraps likewise.
        """
        shown = [f for f in self.findings if verbose or f.severity != "info"]
        rows = [("severity", "kind", "rule / service", "file:line", "message")]
        rows += [(f.severity, f.kind, f.rule or f.service or "", _near(f.where), f.message) for f in shown]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        indent = sum(widths) + 2 * len(widths)
        room = max(width - indent, 30) if width else None
        lines = []
        blames = ["", *(f.caused_by(since=self.against) for f in shown)]
        for row, blame in zip(rows, blames, strict=True):
            left = "  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  "
            parts = textwrap.wrap(row[4], room, break_on_hyphens=False) if room else [row[4]]
            lines.append(left + (parts[0] if parts else ""))
            lines += [" " * indent + part for part in parts[1:]]
            # The attribution on a line of its own under the message, so that it is easy to spot.
            blamed = textwrap.wrap(blame, room, break_on_hyphens=False) if room and blame else [blame]
            lines += [" " * indent + part for part in blamed if part]
        counts = {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}
        hidden = "" if verbose or not counts["info"] else " (--verbose lists the infos)"
        compared = ""
        if self.against is not None:
            rules = sum(subject == "rule" for subject, _ in self.changed)
            on_changed = sum(f.changed for f in self.findings)
            entries = "entry" if len(self.changed) == 1 else "entries"
            compared = (
                f"; {len(self.changed)} {entries} ({rules} of them rules) changed since {self.against}, "
                f"{on_changed} findings on them (listed first)"
            )
        summary = (
            f"{self.ruleset}: {counts['error']} errors, {counts['warning']} warnings, {counts['info']} infos"
            f"{hidden}{compared}; {self.points} profiles swept in {self.seconds:.2f} s"
        )
        summary_lines = textwrap.wrap(summary, width) if width else [summary]
        return "\n".join([*(lines if shown else []), *summary_lines]) + "\n"


def _near(where: str) -> str:
    """``file:line`` with a file inside the working directory shown relative to it (one path style)."""
    here = os.getcwd() + os.sep
    return where[len(here) :] if where.startswith(here) else where


def check(
    rules: str | Path | Ruleset,
    *,
    since: dt.date | None = None,
    engine: str | None = None,
    against: str | Path | Ruleset | None = None,
    against_label: str | None = None,
) -> Report:
    """Verify the rule folder (or loaded :class:`Ruleset`) ``rules``; see the module docstring.

    ``since`` limits the sweep to ``as_of`` dates from that day on (a deployment that adopts the
    rules on a given day need not cover the past). The sweep evaluates conditions with the
    reference semantics of :mod:`referral_engine.conditions`: it analyses the rules, not an engine.
    With ``engine="durable"``, every rule durable-rules cannot run (too deeply nested, too wide,
    too many rules or fact properties) is an error of kind ``engine`` at its ``file:line``; a
    :class:`referral_engine.UsageError` says when durable-rules does not import here.

    ``against`` is the rule set the author started from (a folder or a :class:`Ruleset`; e.g. the
    bundled rules, or the folder at the last release). Entries new or changed since then are
    marked (:attr:`Cause.changed`), a finding attributed to one moves to the changed entry's
    ``file:line``, and those findings come first; ``against_label`` names it in the report
    (default: its path or version).
    """
    started = time.perf_counter()
    if isinstance(rules, Ruleset):
        ruleset = rules
    else:
        try:
            ruleset = load_ruleset(rules)
        except RuleFileError as error:
            failed = tuple(
                Finding(
                    "error",
                    "load",
                    f"{p.message} (column {p.column})",
                    p.file,
                    p.line,
                    p.rule,
                    p.rule if p.subject == "service" else None,
                    subject=p.subject,
                )
                for p in error.problems
            )
            return Report(str(rules), _attributed(failed), 0, time.perf_counter() - started)
    sweep = _Sweep(ruleset, since)
    findings = [
        *sweep.services(),
        *sweep.gaps(),
        *sweep.coverage(),
        *_safety(ruleset),
        *_engine_findings(ruleset, engine),
    ]
    changed: frozenset[tuple[str, str]] = frozenset()
    label = None
    base = None
    if against is not None:
        base = against if isinstance(against, Ruleset) else load_ruleset(against)
        changed = changed_entries(base, ruleset)
        label = against_label or (str(against) if not isinstance(against, Ruleset) else base.ruleset_version)
    findings += _scenario_findings(ruleset, base)
    return Report(
        ruleset.ruleset_version,
        _attributed(findings, changed),
        sweep.points,
        time.perf_counter() - started,
        against=label,
        changed=tuple(sorted(changed)),
    )


def _attributed(
    findings: Iterable[Finding], changed: frozenset[tuple[str, str]] = frozenset()
) -> tuple[Finding, ...]:
    """The findings with their causes marked changed or not, ordered for a rule author.

    A finding without causes of its own is attributed to the entry at its ``file:line``. One
    attributed to a changed entry is placed at that entry. Findings on changed entries come
    first; within each group, errors before warnings before infos, then by ``file:line``.
    """
    done = []
    for finding in findings:
        causes = finding.causes or (
            (Cause(finding.rule, finding.file, finding.line, finding.subject),) if finding.rule else ()
        )
        causes = tuple(replace(c, changed=(c.subject, c.rule) in changed) for c in causes)
        # The changed ones first: they are what the author just did.
        causes = tuple(sorted(causes, key=lambda c: not c.changed))
        moved = causes[0] if causes and causes[0].changed and finding.kind in _MOVABLE else None
        if moved is not None:
            finding = replace(
                finding, rule=moved.rule, file=moved.file, line=moved.line, subject=moved.subject
            )
        done.append(replace(finding, causes=causes))
    order = {s: i for i, s in enumerate(SEVERITIES)}
    done.sort(key=lambda f: (not f.changed, order[f.severity], f.file, f.line, f.kind, f.message))
    return tuple(done)


def _scenario_findings(ruleset: Ruleset, base: Ruleset | None) -> list[Finding]:
    """The worked cases in the folder's ``scenarios/*.yaml`` that fail, one finding per expectation.

    Each is run with the reference engine against the rule set under check, whatever folder its
    file names. Its causes: with ``base``, the rules of the services concerned whose outcome for
    the scenario differs between ``base`` and the rule set; otherwise (or if none differs) the
    rules on the decision's path (see :func:`_path_causes`); a partner or step expectation is
    attributed to the service's offers or to the step.
    """
    folder = Path(ruleset.path) / SCENARIO_DIR
    if not folder.is_dir():
        return []
    findings: list[Finding] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            scenarios = load_scenarios(path, ruleset=ruleset)
        except RuleFileError as error:
            findings += [
                Finding(
                    "error",
                    "scenario",
                    f"{p.message} (column {p.column})",
                    p.file,
                    p.line,
                    subject="scenario",
                )
                for p in error.problems
            ]
            continue
        for scenario in scenarios:
            result = run_scenario(scenario, ruleset=ruleset, engine="python")
            if result.ok:
                continue
            before = (
                recommend(scenario.profile, as_of=scenario.as_of, ruleset=base, engine="python")
                if base is not None
                else None
            )
            for mismatch in result.mismatches:
                check_ = mismatch.check
                findings.append(
                    Finding(
                        "error",
                        "scenario",
                        f"scenario '{scenario.name}': {mismatch.message}",
                        check_.where.file,
                        check_.where.line,
                        service=check_.subject if check_.kind in ("status", "partners") else None,
                        subject="scenario",
                        causes=_scenario_causes(ruleset, check_, result.recommendation, before),
                    )
                )
    return findings


def _scenario_causes(
    ruleset: Ruleset, expectation: ScenarioCheck, rec: Recommendation, before: Recommendation | None
) -> tuple[Cause, ...]:
    """What an unmet expectation is attributed to (see :func:`_scenario_findings`)."""
    if expectation.kind == "partners":
        offers = [o for o in ruleset.partners.offers_for(expectation.subject) if o.in_force(rec.as_of)]
        return tuple(_cause(o.id, o.where, "offer") for o in offers)
    wanted: dict[str, str] = {}
    steps = {s.id: s for s in ruleset.steps}
    named: tuple[str, ...] = ()
    if expectation.kind in ("next_step", "not_next_step", "next_steps_order"):
        named = expectation.expected if expectation.kind == "next_steps_order" else (expectation.subject,)
        named = tuple(i for i in named if i in steps)
        # A step comes with its service's status: if that status is off, so is the step.
        for step in (steps[i] for i in named):
            try:
                status = rec.decision(step.service).status.value
            except KeyError:
                continue
            absent = expectation.kind == "next_step"
            if absent and status != step.for_status:
                wanted[step.service] = step.for_status
            elif not absent and expectation.kind == "not_next_step" and status == step.for_status:
                wanted[step.service] = "not " + status
    elif expectation.kind == "status":
        wanted = {expectation.subject: expectation.expected[0]}
    elif expectation.kind == "eligible_only":
        differ = set(expectation.expected) ^ set(rec.eligible)
        wanted = {s: "eligible" if s in expectation.expected else "not eligible" for s in sorted(differ)}
    where = {r.id: r.where for r in ruleset.rules}
    blamed: dict[str, None] = {}
    for service, status in wanted.items():
        try:
            decision = rec.decision(service)
        except KeyError:
            continue
        found: list[str] = []
        if before is not None:
            try:
                old = {r.rule: (r.outcome, r.in_force) for r in before.decision(service).reasons}
            except KeyError:
                old = {}
            new = {r.rule: (r.outcome, r.in_force) for r in decision.reasons}
            found = [rule for rule in new if old.get(rule) != new[rule]]
        blamed.update(dict.fromkeys(found or _path_causes(decision, status)))
    rules = tuple(_cause(rule, where.get(rule)) for rule in blamed)
    return rules + tuple(_cause(i, steps[i].where, "step") for i in named)


def _path_causes(decision: ServiceDecision, wanted: str) -> list[str]:
    """The rules on the path to a decision that is not ``wanted``.

    Got eligible: the grants that hold. Got undetermined: the checks that hold and the rules left
    unknown. Got not_eligible: the exclusions that hold, else, of the rules that would give the
    wanted status (grants for eligible, checks for undetermined), those that missed by the fewest
    failed conditions: the boundary that flipped, as for a one-year-off age limit.
    """
    reasons = decision.reasons
    got = decision.status.value
    if got == "eligible":
        return [r.rule for r in reasons if r.outcome == "holds" and r.effect == "eligible"]
    if got == "undetermined":
        return [
            r.rule
            for r in reasons
            if r.outcome == "unknown" or (r.outcome == "holds" and r.effect == "check")
        ]
    excluding = [r.rule for r in reasons if r.outcome == "holds" and r.effect == "not_eligible"]
    if excluding or wanted not in ("eligible", "undetermined"):
        return excluding
    failing = [r for r in reasons if r.effect != "not_eligible" and r.outcome == "fails"]
    effect = "eligible" if wanted == "eligible" else "check"
    failing = [r for r in failing if r.effect == effect] or failing
    misses = {r.rule: sum(c.outcome == "failed" for c in r.conditions) + (not r.in_force) for r in failing}
    fewest = min(misses.values(), default=0)
    return [rule for rule, count in misses.items() if count == fewest]


def _safety(ruleset: Ruleset) -> Iterator[Finding]:
    """The § 87 guard, and placeholder partners that could reach the output without their flag.

    A rule set from :func:`load_ruleset` passed the guard already; one built otherwise may not.
    A text that names a partner literally (instead of ``{partner}``) where that partner's offer for
    the service is a placeholder would show an example operator as a fact: an error. Each
    placeholder offer is listed as an info, so that a deployment sees what it must replace.
    """
    for problem in guard_problems(ruleset):
        yield Finding(
            "error",
            "safety",
            problem.message,
            problem.file,
            problem.line,
            problem.rule,
            subject=problem.subject,
        )
    graph = ruleset.partners
    for template in ruleset.steps:
        for offer in graph.offers_for(template.service):
            if not offer.sample:
                continue
            unit = graph.partners.get(offer.partner)
            names = {offer.partner, *((unit.name,) if unit else ())}
            texts = [template.text.de.casefold(), template.text.en.casefold()]
            texts += [text.casefold() for text in template.text.translations.values()]
            if any(name.casefold() in text for name in names for text in texts):
                where = template.where
                message = (
                    f"names the example operator '{offer.partner}' (offer '{offer.id}' is sample: true) "
                    "in its text; use {partner}, so that the output flags it as an example"
                )
                yield Finding(
                    "error",
                    "safety",
                    message,
                    where.file,
                    where.line,
                    template.id,
                    template.service,
                    subject="step",
                )
    for offer in graph.offers:
        if offer.sample and offer.where is not None:
            message = f"example operator '{offer.partner}' (sample: true): replace it for your deployment"
            yield Finding(
                "info", "safety", message, offer.where.file, offer.where.line, offer.id, subject="offer"
            )


def _engine_findings(ruleset: Ruleset, engine: str | None) -> list[Finding]:
    """What keeps ``engine`` from running the rule set (only durable has limits)."""
    if engine is None or engines.resolve(engine, ruleset) != "durable":
        return []
    from ._durable import check_ruleset

    return [
        Finding("error", "engine", p.message, p.file, p.line, p.rule, subject=p.subject)
        for p in check_ruleset(ruleset)
    ]


# -- the finite domain ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Class:
    """Values of one field that every condition under study treats alike; ``value`` stands for all."""

    value: Any
    label: str


@dataclass
class _Dimension:
    name: str
    ordered: bool
    classes: list[_Class] = field(default_factory=list)


def _classes(th: Thresholds, name: str, leaves: Sequence[Leaf], as_of: dt.date) -> _Dimension:
    """Split ``name``'s representative values into classes by how ``leaves`` judge them."""
    kind = FIELDS[name].kind
    ordered = kind in _ORDERED
    groups: dict[tuple[Tri, ...], list[Any]] = {}
    runs: list[tuple[tuple[Tri, ...], list[Any]]] = []
    for value in representatives(th, name, as_of):
        facts = {name: value}
        signature = tuple(leaf.test(facts, as_of) for leaf in leaves)
        if ordered:
            if runs and runs[-1][0] == signature:
                runs[-1][1].append(value)
            else:
                runs.append((signature, [value]))
        else:
            groups.setdefault(signature, []).append(value)
    found = runs if ordered else list(groups.items())
    classes = []
    for signature, values in found:
        if kind == "date":
            # Dates move with as_of: name the class by the conditions it meets, the same every period.
            met = [f"{leaf.op} {leaf.shown}" for leaf, v in zip(leaves, signature, strict=True) if v]
            label = " & ".join(met) or "none of: " + ", ".join(f"{leaf.op} {leaf.shown}" for leaf in leaves)
        else:
            label = _label(kind, values)
        classes.append(_Class(values[0], label))
    return _Dimension(name, ordered, classes)


def _label(kind: str, values: list[Any]) -> str:
    shown = [LANGUAGE_LEVELS[v] if kind == "level" else str(v) for v in values]
    if kind in _ORDERED:
        return shown[0] if len(shown) == 1 else f"{shown[0]}..{shown[-1]}"
    return "|".join(shown)


def _value(rule: Rule, facts: Facts, as_of: dt.date) -> Tri:
    return rule.when.test(facts, as_of) if rule.in_force(as_of) else False


def _decision(rules: Sequence[Rule], values: Sequence[Tri]) -> Tri:
    """A service's decision from its rules' values: grant and not exclusion (see rules/README.md).

    The same Kleene logic as :func:`referral_engine.decide.decide`, without building reasons:
    a holding exclusion settles it at once, a ``check`` rule counts as an unknown grant.
    """
    grant: Tri = False
    open_exclusion = False
    for rule, value in zip(rules, values, strict=True):
        if value is False:
            continue
        if rule.effect == "not_eligible":
            if value is True:
                return False
            open_exclusion = True
        elif value is True and rule.effect == "eligible":
            grant = True
        elif grant is False:
            grant = None
    if grant is False:
        return False
    return None if grant is None or open_exclusion else True


class _Sweep:
    def __init__(self, ruleset: Ruleset, since: dt.date | None = None) -> None:
        self.since = since
        self.ruleset = ruleset
        self.th = thresholds(ruleset)
        self.as_ofs = self._from_since(as_of_points(self.th))
        self.points = 0
        self.reachable: dict[str, tuple[tuple[dt.date, ...], set[dt.date]]] = {}

    def _points_for(self, rules: Sequence[Rule]) -> tuple[dt.date, ...]:
        """One ``as_of`` per period in which the same ``rules`` are in force.

        Where a date field is compared both with fixed dates and with windows (``status_since le
        2025-03-31`` and ``within P1Y``), the periods of the whole rule set are used instead, plus
        the days around each fixed date and each window end after it.
        """
        changes = sorted(
            {r.valid_from for r in rules if r.valid_from}
            | {add_days(r.valid_to, 1) for r in rules if r.valid_to}
        )
        leaves = [leaf for rule in rules for leaf in rule.leaves if FIELDS[leaf.field].kind == "date"]
        windows = {(lf.field, lf.value) for lf in leaves if lf.op in ("within", "older_than")}
        fixed = {(lf.field, lf.value) for lf in leaves if lf.op not in ("within", "older_than")}
        mixed = [(name, day, d) for name, day in fixed for other, d in windows if other == name]
        if mixed:
            extra = {
                add_days(edge, shift)
                for _, day, duration in mixed
                for edge in (day, period_end(day, duration))
                for shift in (0, 1)
            }
            return self._from_since(tuple(sorted(set(as_of_points(self.th)) | extra)))
        return self._from_since((add_days(changes[0], -1), *changes)) if changes else self.as_ofs[:1]

    def _from_since(self, points: tuple[dt.date, ...]) -> tuple[dt.date, ...]:
        """The periods (given by their first days) that do not end before ``since``."""
        if self.since is None:
            return points
        since = self.since
        return tuple(p for i, p in enumerate(points) if i + 1 == len(points) or points[i + 1] > since)

    def reachable_on(self, service: str, day: dt.date) -> bool:
        """Whether some profile can get ``service`` (eligible or undetermined) on ``day``."""
        points, reached = self.reachable.get(service, ((), set()))
        earlier = [p for p in points if p <= day]
        return bool(points) and (earlier[-1] if earlier else points[0]) in reached

    def _grid(self, rules: Sequence[Rule], as_of: dt.date) -> tuple[list[_Dimension], Iterator[Facts]]:
        names = list(dict.fromkeys(leaf.field for rule in rules for leaf in rule.leaves))
        dims = [
            _classes(self.th, n, [lf for r in rules for lf in r.leaves if lf.field == n], as_of)
            for n in names
        ]

        def points() -> Iterator[Facts]:
            base: Facts = dict.fromkeys(FIELDS)
            for combo in itertools.product(*(d.classes for d in dims)):
                facts = dict(base)
                facts.update((d.name, c.value) for d, c in zip(dims, combo, strict=True))
                yield facts

        return dims, points()

    def services(self) -> Iterator[Finding]:
        """Unreachable services, dead rules, contradictions and overlaps, service by service."""
        for service in self.ruleset.services:
            rules = self.ruleset.rules_of(service.id)
            holds: dict[str, int] = dict.fromkeys((r.id for r in rules), 0)
            alone: dict[str, int] = dict.fromkeys((r.id for r in rules), 0)
            together: dict[tuple[str, str], int] = {}
            reachable: set[dt.date] = set()
            exclusions = [r for r in rules if r.effect == "not_eligible"]
            evaluated: set[str] = set()
            days = self._points_for(rules)
            for as_of in days:
                active = [r for r in rules if r.in_force(as_of)]
                evaluated.update(r.id for r in active)
                _, points = self._grid(active, as_of)
                for facts in points:
                    self.points += 1
                    values = [r.when.test(facts, as_of) for r in active]
                    if _decision(active, values) is not False:
                        reachable.add(as_of)
                    excluding = [
                        r.id
                        for r, v in zip(active, values, strict=True)
                        if v is True and r.effect == "not_eligible"
                    ]
                    for rule, value in zip(active, values, strict=True):
                        if value is not True:
                            continue
                        holds[rule.id] += 1
                        if rule.effect == "not_eligible":
                            continue
                        if not excluding:
                            alone[rule.id] += 1
                        for other in excluding:
                            together[rule.id, other] = together.get((rule.id, other), 0) + 1
            self.reachable[service.id] = (days, reachable)
            if not reachable:
                # What keeps every profile out: the exclusions that override the grants that hold,
                # else the grants themselves (they never hold), else the service (it has none).
                grants = [r for r in rules if r.effect != "not_eligible"]
                overriding = {e for (_, e) in together}
                blamed = [r for r in exclusions if r.id in overriding] or grants
                causes = tuple(_cause(r.id, r.where) for r in blamed) or (
                    _cause(service.id, service.where, "service"),
                )
                yield Finding(
                    "error",
                    "unreachable",
                    "no profile can get this service on any date (every profile is not_eligible)",
                    service.where.file,
                    service.where.line,
                    service=service.id,
                    causes=causes,
                )
            swept = [
                r for r in rules if r.id in evaluated
            ]  # rules out of force since ``since`` are not judged
            yield from self._rule_findings(service.id, swept, holds, alone, together, exclusions)

    def _rule_findings(
        self,
        service: str,
        rules: Sequence[Rule],
        holds: dict[str, int],
        alone: dict[str, int],
        together: dict[tuple[str, str], int],
        exclusions: Sequence[Rule],
    ) -> Iterator[Finding]:
        where = {r.id: r.where for r in rules}
        for rule in rules:
            itself = _cause(rule.id, rule.where)
            if not holds[rule.id]:
                window = "" if rule.valid_from is None and rule.valid_to is None else " while it is in force"
                yield Finding(
                    "error",
                    "dead_rule",
                    f"holds for no profile{window}: its conditions exclude each other or its dates",
                    rule.where.file,
                    rule.where.line,
                    rule.id,
                    service,
                )
                continue
            if rule.effect == "not_eligible":
                continue
            others = tuple(e.id for e in exclusions if (rule.id, e.id) in together)
            named = ", ".join(f"{o} ({where[o]})" for o in others)
            if not alone[rule.id]:
                yield Finding(
                    "error",
                    "contradiction",
                    f"{rule.effect} rule never takes effect: wherever it holds, {named} excludes",
                    rule.where.file,
                    rule.where.line,
                    rule.id,
                    service,
                    others,
                    causes=(itself, *(_cause(o, where[o]) for o in others)),
                )
            elif others:
                yield Finding(
                    "info",
                    "overlap",
                    f"{named} overrides it for some profiles (an exception, as designed?)",
                    rule.where.file,
                    rule.where.line,
                    rule.id,
                    service,
                    others,
                    causes=(itself, *(_cause(o, where[o]) for o in others)),
                )

    def gaps(self, kind: str = "counselling") -> Iterator[Finding]:
        """Profiles for whom every service of ``kind`` is not_eligible, merged into regions."""
        services = [s for s in self.ruleset.services if s.kind == kind]
        if not services:
            return
        rules = [r for s in services for r in self.ruleset.rules_of(s.id)]
        by_service = [[i for i, r in enumerate(rules) if r.service == s.id] for s in services]
        regions: list[_Region] = []
        days = self._points_for(rules)
        for index, as_of in enumerate(days):
            dims, points = self._grid(rules, as_of)
            region = _Region(dims)
            for key, facts in zip(
                itertools.product(*(range(len(d.classes)) for d in dims)), points, strict=True
            ):
                self.points += 1
                point = (index, *key)
                values = [_value(r, facts, as_of) for r in rules]
                decided = [_decision([rules[i] for i in idx], [values[i] for i in idx]) for idx in by_service]
                # The rules that hold (or may) here: a gap's causes are those that differ next door.
                region.held[point] = tuple(i for i, v in enumerate(values) if v is not False)
                if any(d is not False for d in decided):
                    region.covered[point] = [
                        r.id for r, v in zip(rules, values, strict=True) if v and r.effect != "not_eligible"
                    ]
                else:
                    region.missing.add(point)
            regions.append(region)
        yield from self._gap_findings(services[0].where, rules, regions, days, kind)

    def _gap_findings(
        self,
        where: Located,
        rules: Sequence[Rule],
        regions: list[_Region],
        days: Sequence[dt.date],
        kind: str,
    ) -> Iterator[Finding]:
        # One as_of period after another; the dimensions of a period are the same fields but may
        # split differently (windows depend on as_of), so periods are merged only by description.
        described: dict[tuple[Severity, str], list[str]] = {}
        related: dict[tuple[Severity, str], tuple[str, ...]] = {}
        primary: dict[tuple[Severity, str], str | None] = {}
        flipped: dict[tuple[Severity, str], dict[int, None]] = {}
        covered_all = {k: v for region in regions for k, v in region.covered.items()}
        held_all = {k: v for region in regions for k, v in region.held.items()}
        # The same classes (by label) in another period: a gap only for some days between covered
        # days is a hole in time, such as a rule that starts a day after its predecessor ends.
        by_labels = {
            (point[0], _labels(region.dims, point)): point for region in regions for point in region.covered
        }
        for index, region in enumerate(regions):
            dims, missing = region.dims, region.missing
            holes: dict[tuple[int, ...], tuple[tuple[int, ...], tuple[int, ...]]] = {}
            for point in missing:
                # Neighbours in an ordered field first (an off-by-one between two rules), then in
                # time: a point can be both, and the first names the rules whose values border it.
                for d, dim in enumerate(dims, start=1):
                    if not dim.ordered:
                        continue
                    below = (*point[:d], point[d] - 1, *point[d + 1 :])
                    above = (*point[:d], point[d] + 1, *point[d + 1 :])
                    if below in covered_all and above in covered_all:
                        holes[point] = (below, above)
                        break
                else:
                    labels = _labels(dims, point)
                    before, after = by_labels.get((index - 1, labels)), by_labels.get((index + 1, labels))
                    if before is not None and after is not None:
                        holes[point] = (before, after)
            for severity, points in (("error", set(holes)), ("warning", missing - set(holes))):
                for cube in _merge(points):
                    text = _describe(dims, cube)
                    key: tuple[Severity, str] = (severity, text)  # type: ignore[assignment]
                    described.setdefault(key, []).append(days[index].isoformat())
                    if severity != "error":
                        continue
                    first_point = (index, *min(itertools.product(*cube)))
                    below_point, above_point = holes[first_point]
                    below_rules, above_rules = covered_all[below_point], covered_all[above_point]
                    primary[key] = above_rules[0] if above_rules else None
                    related[key] = tuple(dict.fromkeys([*below_rules, *above_rules]))
                    flips = flipped.setdefault(key, {})
                    for combo in itertools.product(*cube):
                        hole = (index, *combo)
                        for neighbour in holes[hole]:
                            flips.update(dict.fromkeys(_flips(rules, held_all[hole], held_all[neighbour])))
        rule_where = {r.id: r.where for r in self.ruleset.rules}
        for (severity, text), starts in described.items():
            periods = _periods(starts, days)
            rule = primary.get((severity, text))
            others = related.get((severity, text), ())
            if severity == "error":
                names = ", ".join(others)
                message = f"no {kind} service for {text} ({periods}), though neighbours get one: {names}"
            else:
                message = f"no {kind} service for {text} ({periods})"
            located = rule_where[rule] if rule else None
            causes = tuple(
                _cause(rules[i].id, rules[i].where) for i in sorted(flipped.get((severity, text), ()))
            )
            yield Finding(
                severity,
                "gap",
                message,
                (located or where).file,
                (located or where).line,
                rule,
                None,
                others,
                causes=causes,
            )

    def coverage(self) -> Iterator[Finding]:
        """Service × municipality × period without a partner in force, unless declared not offered."""
        graph = self.ruleset.partners
        for service in self.ruleset.services:
            offers = graph.offers_for(service.id)
            declared = [n for n in graph.not_offered if n.service == service.id]
            for mid in graph.municipalities:
                uncovered: list[str] = []
                for as_of in (day for day in self.as_ofs if self.reachable_on(service.id, day)):
                    serving = [
                        o
                        for o in offers
                        if o.in_force(as_of) and (o.municipalities is None or mid in o.municipalities)
                    ]
                    excused = [
                        n
                        for n in declared
                        if n.in_force(as_of) and (n.municipalities is None or mid in n.municipalities)
                    ]
                    if not serving and not excused:
                        uncovered.append(as_of.isoformat())
                    for note in excused if serving else ():
                        where = note.where
                        yield Finding(
                            "warning",
                            "coverage",
                            f"declared not offered in {mid}, but offer {serving[0].id} serves it there",
                            where.file if where else service.where.file,
                            where.line if where else service.where.line,
                            note.id,
                            service.id,
                            subject="not_offered",
                        )
                if uncovered:
                    near = offers[0].where if offers and offers[0].where else service.where
                    # Any offer of the service could cover the municipality: those that do on
                    # other days first (their dates end or start there), then the others.
                    there = [o for o in offers if o.municipalities is None or mid in o.municipalities]
                    blamed = [*there, *(o for o in offers if o not in there)]
                    causes = tuple(_cause(o.id, o.where, "offer") for o in blamed) or (
                        _cause(service.id, service.where, "service"),
                    )
                    yield Finding(
                        "error",
                        "coverage",
                        f"no partner for {service.id} in {mid} ({_periods(uncovered, self.as_ofs)}); "
                        "add an offer or declare it under not_offered in partners.yaml",
                        near.file,
                        near.line,
                        offers[0].id if offers else None,
                        service.id,
                        subject="offer",
                        causes=causes,
                    )


@dataclass
class _Region:
    """One ``as_of`` period of a gap sweep: its dimensions, and what holds at each point.

    A point is ``(period, class index per dimension)``. ``held`` lists the indices of the rules
    that hold or may hold there; ``covered`` the granting rules at points where some service of
    the kind is not ``not_eligible``; ``missing`` the other points.
    """

    dims: list[_Dimension]
    held: dict[tuple[int, ...], tuple[int, ...]] = field(default_factory=dict)
    covered: dict[tuple[int, ...], list[str]] = field(default_factory=dict)
    missing: set[tuple[int, ...]] = field(default_factory=set)


def _flips(rules: Sequence[Rule], at_hole: tuple[int, ...], next_door: tuple[int, ...]) -> list[int]:
    """The rules that make the difference between a hole and a covered neighbour.

    A grant that holds next door but not in the hole ends (or starts) at the boundary between
    them; an exclusion that holds in the hole but not next door starts (or ends) there. Neighbours
    differ in one field (or one ``as_of`` period), so only rules testing it (or starting or ending
    then) can flip. Indices into ``rules``.
    """
    hole, door = set(at_hole), set(next_door)
    grants = [i for i in next_door if i not in hole and rules[i].effect != "not_eligible"]
    exclusions = [i for i in at_hole if i not in door and rules[i].effect == "not_eligible"]
    return grants + exclusions


def _cause(rule: str, where: Located | None, subject: str = "rule") -> Cause:
    return Cause(rule, where.file if where else "", where.line if where else 0, subject)


def _merge(points: Iterable[tuple[int, ...]]) -> list[tuple[frozenset[int], ...]]:
    """Merge points into boxes (a set of classes per dimension) that together cover them exactly."""
    cubes = {tuple(frozenset([c]) for c in point[1:]) for point in points}
    changed = True
    while changed:
        changed = False
        for d in range(len(next(iter(cubes), ()))):
            grouped: dict[tuple[frozenset[int], ...], set[int]] = {}
            for cube in cubes:
                grouped.setdefault((*cube[:d], *cube[d + 1 :]), set()).update(cube[d])
            merged = {(*rest[:d], frozenset(classes), *rest[d:]) for rest, classes in grouped.items()}
            if len(merged) < len(cubes):
                cubes, changed = merged, True
    return sorted(cubes, key=lambda cube: [sorted(s) for s in cube])


def _labels(dims: Sequence[_Dimension], point: tuple[int, ...]) -> tuple[str, ...]:
    """The class labels of a point (its first element is the period), comparable across periods."""
    return tuple(dim.classes[c].label for dim, c in zip(dims, point[1:], strict=True))


def _describe(dims: Sequence[_Dimension], cube: tuple[frozenset[int], ...]) -> str:
    parts = []
    for dim, chosen in zip(dims, cube, strict=True):
        if len(chosen) == len(dim.classes):
            continue
        labels = [dim.classes[i].label for i in sorted(chosen)]
        others = [c.label for i, c in enumerate(dim.classes) if i not in chosen]
        if not dim.ordered and len(others) < len(labels):
            parts.append(f"{dim.name} not {'|'.join(others)}")
        else:
            parts.append(
                f"{dim.name} {' or '.join(labels) if FIELDS[dim.name].kind == 'date' else '|'.join(labels)}"
            )
    return ", ".join(parts) or "every profile"


def _periods(days: Sequence[str], points: Sequence[dt.date]) -> str:
    """The as_of periods that start on ``days``, as ranges ``from..to``."""
    starts = sorted(dt.date.fromisoformat(d) for d in days)
    index = {day: i for i, day in enumerate(points)}
    ranges: list[list[int]] = []
    for day in starts:
        i = index[day]
        if ranges and ranges[-1][1] == i - 1:
            ranges[-1][1] = i
        else:
            ranges.append([i, i])
    shown = []
    for first, last in ranges:
        begin = "" if first == 0 else points[first].isoformat()
        end = "" if last == len(points) - 1 else add_days(points[last + 1], -1).isoformat()
        shown.append("any date" if not begin and not end else f"as_of {begin}..{end}")
    return ", ".join(shown)
