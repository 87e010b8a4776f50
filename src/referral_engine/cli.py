"""The ``referral-engine`` command: ``demo``, ``recommend`` one case, ``check`` rules, ``diff`` two rule sets.

Exit codes: 0 success; 1 ``check`` found errors (warnings do not count); 2 bad input (a broken
case file, invalid case data, broken rule files for ``demo`` / ``recommend`` / ``diff``, a wrong
argument), reported as a one-line message on stderr, never a traceback. Messages name fields,
never their values.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn, TextIO

from . import __version__
from ._bundled import bundled
from .errors import ReferralEngineError, RuleFileError
from .impact import GENERATED, SEED, diff, generated_cases, read_cases
from .loader import default_ruleset, load_ruleset
from .models import Lang, Recommendation, Status
from .recommend import recommend
from .ruleset import Ruleset
from .verify import check

EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2
_CASE_KEYS = ("title", "as_of", "profile")

_LABELS: dict[str, dict[Lang, str]] = {
    "case": {"de": "Fall", "en": "Case"},
    "as_of": {"de": "Stand", "en": "As of"},
    "rules": {"de": "Regeln", "en": "Rules"},
    "eligible": {"de": "Passende Angebote", "en": "Services that fit"},
    "undetermined": {"de": "Noch offen", "en": "Not yet decided"},
    "not_eligible": {"de": "Passt nicht", "en": "Does not fit"},
    "steps": {"de": "Nächste Schritte", "en": "Next steps"},
    "no_partner": {"de": "kein Partner vor Ort", "en": "no local partner"},
    "needs": {"de": "fehlt", "en": "needs"},
    "check": {"de": "Prüfung durch Partner", "en": "partner must check"},
    "because": {"de": "Grund", "en": "because"},
    "none": {"de": "keine", "en": "none"},
}


class _BadInput(Exception):
    """A problem with the command's input, reported as one line."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line too (argparse would print the usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 success, 1 check found errors, 2 bad input)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        as_of = _date(args.as_of, "--as-of") if getattr(args, "as_of", None) else None
        if args.command == "check":
            since = _date(args.since, "--from") if args.since else None
            return _check(args.rules_dir, since, verbose=args.verbose, as_json=args.json, out=sys.stdout)
        if args.command == "diff":
            _diff(args, as_of, sys.stdout)
            return 0
        ruleset = load_ruleset(args.rules) if args.rules else default_ruleset()
        if args.command == "demo":
            _demo(ruleset, as_of, args.lang, sys.stdout)
        else:
            _recommend_file(Path(args.case), ruleset, as_of, args.lang, args.json, sys.stdout)
    except RuleFileError as error:
        first = error.problems[0] if error.problems else "rule files"
        more = f" (and {len(error.problems) - 1} more problems)" if len(error.problems) > 1 else ""
        print(f"referral-engine: error: {first}{more}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ReferralEngineError, _BadInput) as error:
        message = " ".join(str(error).split())
        print(f"referral-engine: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="referral-engine",
        description="Recommend integration services, responsible partners and next steps for a case.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", help="run the bundled example cases and print their recommendations")
    one = commands.add_parser("recommend", help="recommend for one case file (JSON)")
    one.add_argument("case", metavar="CASE.json", help="a case profile, or {title, as_of, profile}")
    one.add_argument("--json", action="store_true", help="print the recommendation as JSON")
    for command in (demo, one):
        command.add_argument("--as-of", metavar="YYYY-MM-DD", help="apply the rules for this date")
        command.add_argument("--lang", choices=("de", "en"), default="de", help="language of the output")
        command.add_argument("--rules", metavar="DIR", help="a rule folder instead of the bundled rules")
    check = commands.add_parser(
        "check",
        help="verify a rule folder: load problems, dead rules, contradictions, gaps, partner coverage",
        description="Exit code 0: no errors (warnings allowed); 1: errors found; 2: bad input.",
    )
    check.add_argument(
        "rules_dir", nargs="?", metavar="RULES_DIR", help="a rule folder (default: bundled rules)"
    )
    check.add_argument(
        "--verbose", action="store_true", help="also list infos (overlaps carved out as designed)"
    )
    check.add_argument("--json", action="store_true", help="print the findings as JSON")
    check.add_argument(
        "--from", dest="since", metavar="YYYY-MM-DD", help="verify only dates from this day on (default: all)"
    )
    compare = commands.add_parser(
        "diff",
        help="which cases change between two rule folders (default cases: generated profiles)",
        description=f"Without --cases, {GENERATED} profiles are generated from both rule sets' thresholds "
        f"(seed {SEED}). Exit code 0, or 2 on bad input.",
    )
    compare.add_argument(
        "old", metavar="OLD_RULES", help="the rule folder in use ('default': the bundled rules)"
    )
    compare.add_argument("new", metavar="NEW_RULES", help="the changed rule folder")
    compare.add_argument("--cases", metavar="FILE", help="cases as JSON lines (.jsonl) or CSV (.csv)")
    compare.add_argument(
        "--as-of", metavar="YYYY-MM-DD", help="apply the rules for this date (cases' own win)"
    )
    compare.add_argument(
        "--samples", type=int, default=3, metavar="N", help="sample cases per kind of change"
    )
    compare.add_argument(
        "--count", type=int, default=GENERATED, metavar="N", help=f"generated profiles (default {GENERATED})"
    )
    compare.add_argument("--json", action="store_true", help="print the impact as JSON")
    return parser


def _check(rules_dir: str | None, since: dt.date | None, *, verbose: bool, as_json: bool, out: TextIO) -> int:
    if rules_dir is not None and not Path(rules_dir).is_dir():
        raise _BadInput(f"{rules_dir}: not a folder of rule files")
    report = check(rules_dir if rules_dir is not None else default_ruleset(), since=since)
    if as_json:
        findings = [dict(asdict(f), where=f.where) for f in report.findings]
        out.write(
            json.dumps({"ruleset": report.ruleset, "ok": report.ok, "findings": findings}, indent=2) + "\n"
        )
    else:
        out.write(report.table(verbose=verbose))
    return 0 if report.ok else EXIT_FINDINGS


def _diff(args: argparse.Namespace, as_of: dt.date | None, out: TextIO) -> None:
    old, new = (
        default_ruleset() if path == "default" else load_ruleset(path) for path in (args.old, args.new)
    )
    if args.count < 1:
        raise _BadInput("--count must be a positive whole number")
    cases = (
        read_cases(args.cases) if args.cases else generated_cases((old, new), as_of=as_of, count=args.count)
    )
    impact = diff(old, new, cases, as_of=as_of, generated=not args.cases)
    if args.json:
        out.write(json.dumps(impact.to_json(), indent=2) + "\n")
    else:
        out.write(impact.table(max(args.samples, 0)))


def _date(text: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise _BadInput(f"{what} must be a date written as YYYY-MM-DD") from None


def _read_case(path: Path) -> tuple[str | None, dt.date | None, dict[str, Any]]:
    """``(title, as_of, profile)`` from a case file; the profile is validated later."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _BadInput(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise _BadInput(f"{path}: cannot read the file ({type(error).__name__})") from None
    except json.JSONDecodeError as error:
        raise _BadInput(f"{path}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}") from None
    if not isinstance(data, dict):
        raise _BadInput(f"{path}: expected a JSON object (a case profile)")
    if "profile" not in data:
        return None, None, data
    unknown = sorted(set(data) - set(_CASE_KEYS))
    if unknown:
        raise _BadInput(f"{path}: unknown key {unknown[0]!r}; a case file has: {', '.join(_CASE_KEYS)}")
    title = data.get("title")
    as_of = _date(data["as_of"], f"{path}: as_of") if data.get("as_of") is not None else None
    if not isinstance(data["profile"], dict):
        raise _BadInput(f"{path}: profile must be a JSON object")
    return (str(title) if title is not None else None), as_of, data["profile"]


def _recommend_file(
    path: Path, ruleset: Ruleset, as_of: dt.date | None, lang: Lang, as_json: bool, out: TextIO
) -> None:
    title, file_as_of, profile = _read_case(path)
    rec = _recommend(path, profile, as_of or file_as_of, ruleset, lang)
    if as_json:
        out.write(rec.model_dump_json(indent=2) + "\n")
    else:
        out.write(render(rec, ruleset, title=title or path.name))


def _recommend(
    path: Path, profile: dict[str, Any], as_of: dt.date | None, ruleset: Ruleset, lang: Lang
) -> Recommendation:
    try:
        return recommend(profile, as_of=as_of, ruleset=ruleset, lang=lang)
    except ReferralEngineError as error:
        raise _BadInput(f"{path}: {error}") from None


def _demo(ruleset: Ruleset, as_of: dt.date | None, lang: Lang, out: TextIO) -> None:
    cases = bundled("example_cases")
    with resources.as_file(cases) as folder:
        paths = sorted(folder.glob("*.json"))
        if not paths:
            raise _BadInput("no example cases are bundled with this installation")
        for index, path in enumerate(paths):
            title, file_as_of, profile = _read_case(path)
            rec = _recommend(path, profile, as_of or file_as_of, ruleset, lang)
            out.write(("\n" if index else "") + render(rec, ruleset, title=title or path.stem))


def render(rec: Recommendation, ruleset: Ruleset, *, title: str | None = None) -> str:
    """A recommendation as readable text in its language (partner names, reasons, steps)."""
    lang = rec.lang
    label = {key: texts[lang] for key, texts in _LABELS.items()}
    partners = ruleset.partners.partners
    lines = []
    if title:
        lines.append(f"== {label['case']}: {title}")
    lines.append(f"{label['as_of']} {rec.as_of.isoformat()} · {label['rules']} {rec.ruleset_version}")
    eligible = [d for d in rec.decisions if d.status is Status.ELIGIBLE]
    lines.append(f"{label['eligible']}:")
    for decision in eligible:
        names = ", ".join(partners[p].name for p in decision.partners) or label["no_partner"]
        lines.append(f"  + {decision.name} — {names}")
        for reason in decision.reasons[:1]:
            lines.append(f"      {label['because']}: {reason.note or reason.rule} [{reason.source[0]}]")
    if not eligible:
        lines.append(f"  ({label['none']})")
    open_decisions = [d for d in rec.decisions if d.status is Status.UNDETERMINED]
    if open_decisions:
        lines.append(f"{label['undetermined']}:")
        for decision in open_decisions:
            why = f"{label['needs']}: {', '.join(decision.missing)}" if decision.missing else label["check"]
            lines.append(f"  ? {decision.name} — {why}")
    rejected = [d.name for d in rec.decisions if d.status is Status.NOT_ELIGIBLE]
    if rejected:
        lines.append(f"{label['not_eligible']}: {', '.join(rejected)}")
    lines.append(f"{label['steps']}:")
    for number, step in enumerate(rec.next_steps, start=1):
        lines.append(f"  {number}. {step.text}")
    if not rec.next_steps:
        lines.append(f"  ({label['none']})")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
