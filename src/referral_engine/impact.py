"""``referral-engine diff``: which cases a rule change affects, before a district adopts it.

:func:`diff` applies two rule sets to the same cases and reports every decision that changes:
the case, the service, the status before and after, and the rules responsible on each side.
Cases come from a JSON-lines or CSV file (:func:`read_cases`) or, without one, are generated
deterministically from both rule sets' thresholds (:func:`generated_cases`).

Case files hold personal data: errors name the file, the line and the field, never a value, and
the report shows case ids (``file:line`` or the case's ``id``), never profiles.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, Literal

from ._input import csv_rows, parse_json, shown_key
from .batch import CaseStatuses, recommend_many
from .errors import CaseFileError, ProfileError, UsageError
from .facts import FIELDS
from .models import LANGUAGE_LEVELS, CaseProfile, Recommendation, ServiceDecision, Status
from .recommend import recommend
from .ruleset import Ruleset
from .thresholds import Thresholds, as_of_points, representatives, thresholds

#: How many profiles :func:`generated_cases` makes by default, and from which seed.
GENERATED = 2000
SEED = 0
_CASE_KEYS = ("id", "title", "as_of", "profile")


@dataclass(frozen=True)
class Case:
    """One case to compare on: an id to report it by, the profile, and its own ``as_of`` if it has one."""

    id: str
    profile: CaseProfile
    as_of: dt.date | None = None

    def __repr__(self) -> str:
        return f"Case({self.id!r}, as_of={self.as_of})"


#: What a :class:`Change` is about.
ASPECTS = ("status", "partners", "next_steps", "valid_until")


@dataclass(frozen=True)
class Change:
    """One thing that differs between the old and the new rules for one case and one service.

    ``aspect`` is ``status`` (``before``/``after`` differ), ``partners``, ``next_steps`` or
    ``valid_until`` (the status stays; ``detail`` says what changed, e.g. ``diakonie -> caritas``
    or ``+consent:caritas:jmd -consent:diakonie:jmd``; a changed ``valid_until`` is reported
    without its dates, which can reveal a birthday).
    """

    case: str
    as_of: dt.date
    service: str
    before: Status
    after: Status
    #: The rules that hold (or are unknown) for the case under the old and the new rule set.
    rules_before: tuple[str, ...]
    rules_after: tuple[str, ...]
    aspect: str = "status"
    detail: str = ""

    @property
    def kind(self) -> str:
        """What the summary counts: ``service: before -> after``, or ``service: aspect detail``."""
        if self.aspect == "status":
            return f"{self.service}: {self.before.value} -> {self.after.value}"
        return f"{self.service}: {self.aspect} {self.detail}".rstrip()


@dataclass(frozen=True)
class Impact:
    """The result of :func:`diff`: how many cases change, and every changed decision."""

    old: str
    new: str
    cases: int
    changes: tuple[Change, ...]
    generated: bool = False
    #: ``"full"``: status, partners, next steps and valid_until compared; ``"statuses"``: only statuses.
    detail: str = "full"

    @property
    def changed_cases(self) -> tuple[str, ...]:
        """Ids of the cases with at least one changed decision, in input order."""
        return tuple(dict.fromkeys(change.case for change in self.changes))

    def summary(self) -> dict[str, int]:
        """Number of cases per kind of change (``service: before -> after``), most frequent first."""
        counts: dict[str, int] = {}
        for change in self.changes:
            counts[change.kind] = counts.get(change.kind, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def samples(self, per_kind: int = 3) -> dict[str, tuple[Change, ...]]:
        """Up to ``per_kind`` changes of each kind."""
        chosen: dict[str, list[Change]] = {}
        for change in self.changes:
            bucket = chosen.setdefault(change.kind, [])
            if len(bucket) < per_kind:
                bucket.append(change)
        return {kind: tuple(chosen[kind]) for kind in self.summary()}

    def table(self, per_kind: int = 3) -> str:
        """A readable report: totals, one line per kind of change, and samples with their rules."""
        source = "generated profiles" if self.generated else "cases"
        lines = [
            f"old: {self.old}",
            f"new: {self.new}",
            f"{len(self.changed_cases)} of {self.cases} {source} change ({len(self.changes)} changes)"
            + (" (statuses only)" if self.detail == "statuses" else ""),
        ]
        samples = self.samples(per_kind)
        for kind, count in self.summary().items():
            lines.append(f"  {count:6d}  {kind}")
            for change in samples[kind]:
                line = f"          e.g. {change.case} (as of {change.as_of})"
                if change.aspect == "status":
                    before = ", ".join(change.rules_before) or "-"
                    after = ", ".join(change.rules_after) or "-"
                    line += f": was {before}; now {after}"
                lines.append(line)
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data: totals, counts per kind and every change (case ids, never profiles)."""
        return {
            "old": self.old,
            "new": self.new,
            "cases": self.cases,
            "generated": self.generated,
            "detail": self.detail,
            "changed_cases": list(self.changed_cases),
            "summary": self.summary(),
            "changes": [
                {
                    "case": c.case,
                    "as_of": c.as_of.isoformat(),
                    "service": c.service,
                    "before": c.before.value,
                    "after": c.after.value,
                    "rules_before": list(c.rules_before),
                    "rules_after": list(c.rules_after),
                    "aspect": c.aspect,
                    "detail": c.detail,
                }
                for c in self.changes
            ],
        }

    def counts(self) -> dict[str, int]:
        """Number of changes per aspect (status, partners, next_steps, valid_until)."""
        return {aspect: sum(c.aspect == aspect for c in self.changes) for aspect in ASPECTS}

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_html(self, per_kind: int = 3) -> str:
        """The report as an HTML table for notebooks and browsers: kinds, counts and sample case ids."""
        source = "generated profiles" if self.generated else "cases"
        rows = []
        samples = self.samples(per_kind)
        for kind, count in self.summary().items():
            shown = ", ".join(escape(change.case) for change in samples[kind])
            rows.append(f"<tr><td>{escape(kind)}</td><td>{count}</td><td>{shown}</td></tr>")
        return (
            f"<div><p><b>{escape(self.old)}</b> → <b>{escape(self.new)}</b>: "
            f"{len(self.changed_cases)} of {self.cases} {source} change</p>"
            "<table><tr><th>change</th><th>count</th><th>e.g.</th></tr>" + "".join(rows) + "</table></div>"
        )


def diff(
    old: Ruleset,
    new: Ruleset,
    cases: Iterable[Case] | None = None,
    *,
    as_of: dt.date | None = None,
    engine: str | None = None,
    generated: bool | None = None,
    detail: Literal["full", "statuses"] = "full",
) -> Impact:
    """Compare the decisions of ``old`` and ``new`` on ``cases`` (default: :func:`generated_cases`).

    A case is applied on its own ``as_of``, else on ``as_of``, else today. A case the rules reject
    (for example a birth date after ``as_of``) raises :class:`CaseFileError` naming the case.
    ``generated`` marks the cases as generated in the report (default: whether ``cases`` is None).
    ``detail="statuses"`` compares only the statuses, screened in batches
    (:func:`~referral_engine.recommend_many`, on the columnar engine where the ``frame`` extra is
    installed): much faster over a large caseload; the rules of each changed status are then
    looked up for that case alone.
    """
    if detail not in ("full", "statuses"):
        raise UsageError("detail must be 'full' or 'statuses'")
    generated = cases is None if generated is None else generated
    chosen = generated_cases((old, new), as_of=as_of) if cases is None else cases
    today = dt.date.today()
    changes: list[Change] = []
    count = 0
    if detail == "statuses":
        for case, day, was, now in _screened_pairs(old, new, chosen, as_of or today, engine):
            count += 1
            if was.statuses != now.statuses:
                before, after = _both(old, new, case, day, engine)
                found = _differences(case.id, day, before, after)
                changes += [change for change in found if change.aspect == "status"]
        return Impact(old.ruleset_version, new.ruleset_version, count, tuple(changes), generated, detail)
    for case in chosen:
        count += 1
        day = case.as_of or as_of or today
        before, after = _both(old, new, case, day, engine)
        changes += _differences(case.id, day, before, after)
    return Impact(old.ruleset_version, new.ruleset_version, count, tuple(changes), generated)


def _both(
    old: Ruleset, new: Ruleset, case: Case, day: dt.date, engine: str | None
) -> tuple[Recommendation, Recommendation]:
    try:
        before = recommend(case.profile, as_of=day, ruleset=old, engine=engine)
        after = recommend(case.profile, as_of=day, ruleset=new, engine=engine)
    except ProfileError as error:
        raise CaseFileError(f"{case.id}: {error}") from None
    return before, after


_BATCH = 4096


def _screened_pairs(
    old: Ruleset, new: Ruleset, cases: Iterable[Case], default_day: dt.date, engine: str | None
) -> Iterator[tuple[Case, dt.date, CaseStatuses, CaseStatuses]]:
    """Each case with its day and its statuses under both rule sets, screened in batches per day."""
    iterator = iter(cases)
    while True:
        batch = list(itertools.islice(iterator, _BATCH))
        if not batch:
            return
        for day, group in itertools.groupby(batch, key=lambda case: case.as_of or default_day):
            same_day = list(group)
            profiles = [case.profile for case in same_day]
            screened = [
                list(
                    recommend_many(
                        profiles, as_of=day, ruleset=rules, engine=engine, detail="statuses", errors="collect"
                    )
                )
                for rules in (old, new)
            ]
            for case, was, now in zip(same_day, *screened, strict=True):
                if isinstance(was, ProfileError) or isinstance(now, ProfileError):
                    bad = was if isinstance(was, ProfileError) else now
                    # As recommend() reports it: by the case's id, not the position in a batch.
                    raise CaseFileError(f"{case.id}: {ProfileError(bad.problems)}") from None
                yield case, day, was, now


def _rules(decision: ServiceDecision | None) -> tuple[str, ...]:
    if decision is None:
        return ()
    # The rules that hold or are still open: what granted, excluded or left it undetermined.
    return tuple(dict.fromkeys(r.rule for r in decision.reasons if r.in_force and r.outcome != "fails"))


def _differences(case: str, day: dt.date, before: Recommendation, after: Recommendation) -> list[Change]:
    """Every change for one case, service by service: status, partners, next steps, valid_until."""
    found = []
    old = {d.service: d for d in before.decisions}
    new = {d.service: d for d in after.decisions}
    old_steps = _steps_by_service(before)
    new_steps = _steps_by_service(after)
    for service in [*new, *(s for s in old if s not in new)]:
        was, now = old.get(service), new.get(service)
        status = (was.status if was else Status.NOT_ELIGIBLE, now.status if now else Status.NOT_ELIGIBLE)
        base = Change(case, day, service, *status, _rules(was), _rules(now))
        if status[0] is not status[1]:
            found.append(base)
            continue
        partners = (was.partners if was else (), now.partners if now else ())
        if partners[0] != partners[1]:
            shown = f"{', '.join(partners[0]) or '-'} -> {', '.join(partners[1]) or '-'}"
            found.append(dataclasses.replace(base, aspect="partners", detail=shown))
        steps = (old_steps.get(service, ()), new_steps.get(service, ()))
        added = [f"+{step}" for step in steps[1] if step not in steps[0]]
        removed = [f"-{step}" for step in steps[0] if step not in steps[1]]
        if added or removed:
            found.append(dataclasses.replace(base, aspect="next_steps", detail=" ".join(added + removed)))
        if (was.valid_until if was else None) != (now.valid_until if now else None):
            found.append(dataclasses.replace(base, aspect="valid_until"))
    return found


def _steps_by_service(rec: Recommendation) -> dict[str, tuple[str, ...]]:
    steps: dict[str, list[str]] = {}
    for step in rec.next_steps:
        steps.setdefault(step.service, []).append(step.id)
    return {service: tuple(ids) for service, ids in steps.items()}


# -- cases -------------------------------------------------------------------------------------------


def generated_cases(
    rulesets: Sequence[Ruleset], *, as_of: dt.date | None = None, count: int = GENERATED, seed: int = SEED
) -> list[Case]:
    """``count`` profiles drawn with a fixed ``seed`` from the thresholds of all ``rulesets``.

    Each field is unknown or one of its representative values (an age next to each limit, a date on
    the edge of each window, every enumeration value, …); ``as_of`` is the given day or, case by
    case, a day on which one of the rule sets changes. The same arguments give the same cases.
    """
    ths = [thresholds(ruleset) for ruleset in rulesets]
    days = sorted({day for th in ths for day in as_of_points(th)}) if as_of is None else [as_of]
    rng = random.Random(seed)
    memo: dict[tuple[int, str, dt.date], tuple[Any, ...]] = {}
    cases = []
    for number in range(1, count + 1):
        day = rng.choice(days)
        data = {name: _pick(rng, ths, name, day, memo) for name in FIELDS if name != "age"}
        if data["birth_date"] is None:
            data["age"] = _pick(rng, ths, "age", day, memo)
        cases.append(Case(f"generated #{number}", _possible(data), day))
    return cases


def _possible(data: dict[str, Any]) -> CaseProfile:
    """The profile of ``data`` with every field that makes it impossible left unknown.

    Drawn values can contradict each other (an arrival before the birth) or leave the range a
    profile may hold (a birth 120 years before an early ``as_of``); such fields become unknown.
    """
    while True:
        try:
            return CaseProfile.model_validate(data)
        except ProfileError as error:
            for problem in error.problems:
                data[problem.field.split(".")[0]] = None


def _pick(
    rng: random.Random,
    ths: Sequence[Thresholds],
    name: str,
    day: dt.date,
    memo: dict[tuple[int, str, dt.date], tuple[Any, ...]],
) -> Any:
    if rng.random() < 0.25:
        return None
    which = rng.randrange(len(ths))
    th = ths[which]
    kind = FIELDS[name].kind
    if kind == "text":
        return rng.choice(th.places)
    if kind == "list":
        return tuple(rng.sample(th.languages, k=min(len(th.languages), rng.randint(0, 2))))
    key = (which, name, day)
    if key not in memo:
        memo[key] = representatives(th, name, day)
    value = rng.choice(memo[key])
    return LANGUAGE_LEVELS[value] if kind == "level" else value


def read_cases(path: str | Path) -> list[Case]:
    """Read cases from a JSON-lines file (``.jsonl``, ``.ndjson``) or a CSV file (``.csv``).

    JSON lines: one object per line, a profile or ``{"id", "title", "as_of", "profile"}``. CSV: a
    header of profile field names (plus optional ``id`` and ``as_of``), an empty cell for unknown,
    ``languages`` separated by spaces or semicolons. A case is named by its ``id`` or ``file:line``.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CaseFileError(f"{path}: cannot read the file ({type(error).__name__})") from None
    if file.suffix.lower() == ".csv":
        return _read_csv(str(path), text)
    if file.suffix.lower() in (".jsonl", ".ndjson"):
        return _read_jsonl(str(path), text)
    raise CaseFileError(f"{path}: expected a .jsonl, .ndjson or .csv file")


def _read_jsonl(name: str, text: str) -> list[Case]:
    cases = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        data = parse_json(line, name, CaseFileError, line_offset=number - 1)
        if not isinstance(data, dict):
            raise CaseFileError(f"{where}: expected a JSON object (a case profile)")
        if "profile" in data:
            unknown = sorted(set(data) - set(_CASE_KEYS))
            if unknown:
                raise CaseFileError(
                    f"{where}: unknown key {shown_key(unknown[0])}; a case has: {', '.join(_CASE_KEYS)}"
                )
            if not isinstance(data["profile"], dict):
                raise CaseFileError(f"{where}: profile must be a JSON object")
            cases.append(_case(where, data.get("id"), data.get("as_of"), data["profile"]))
        else:
            cases.append(_case(where, None, None, data))
    return cases


def _read_csv(name: str, text: str) -> list[Case]:
    cases = []
    for line, row in csv_rows(text, name, {*FIELDS, "id", "as_of"}, CaseFileError):
        where = f"{name}:{line}"
        cells = {key: value.strip() for key, value in row.items() if value.strip()}
        profile: dict[str, Any] = {k: v for k, v in cells.items() if k not in ("id", "as_of")}
        if "languages" in profile:
            profile["languages"] = profile["languages"].replace(";", " ").split()
        cases.append(_case(where, cells.get("id"), cells.get("as_of"), profile))
    return cases


def _case(where: str, case_id: Any, as_of: Any, profile: dict[str, Any]) -> Case:
    day = None
    if as_of is not None:
        try:
            day = dt.date.fromisoformat(str(as_of))
        except ValueError:
            raise CaseFileError(f"{where}: as_of must be a date written as YYYY-MM-DD") from None
    try:
        validated = CaseProfile.model_validate(profile)
    except ProfileError as error:
        raise CaseFileError(f"{where}: {error}") from None
    return Case(str(case_id) if case_id is not None else where, validated, day)
