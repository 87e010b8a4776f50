"""The ``referral-engine`` command: ``demo``, ``recommend``, ``batch``, ``check``, ``diff`` and more.

``recommend`` decides one case, ``batch`` a file of cases, ``check`` verifies rules and ``diff``
compares two rule sets.

Every subcommand takes the options that apply to it from one set: ``--rules DIR``, ``--engine
python|durable``, ``--lang de|en``, ``--json`` and ``--as-of YYYY-MM-DD``. ``recommend -`` reads
the case from standard input. ``referral-engine`` alone prints the help (exit code 2),
``referral-engine --version`` the package version, the bundled rule set's version and the
default engine.

Exit codes: 0 success; 1 ``check`` found errors (warnings do not count), or ``batch --on-error
skip`` skipped bad rows (the others were written; each skipped row is listed on stderr); 2 bad
input (a broken case file, invalid case data, ``batch`` stopped at a bad row, broken rule files,
a wrong argument, no command), reported as a one-line message on stderr, never a traceback; 3 the
rule engine failed (not the input's fault); 130 interrupted (Ctrl-C). Messages name files, lines
and fields, never case values. ``batch`` and ``diff`` show a progress line on stderr when it is
a terminal (``--progress``/``--no-progress`` decide otherwise); it holds counts, never case data.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import functools
import json
import os
import shutil
import stat
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn, TextIO

from . import __version__, engines
from ._batchio import FORMATS, STDIO, BadRow, Item, Row, Sink, Source, file_format
from ._bundled import bundled
from ._input import parse_json, shown_key
from ._progress import Progress
from .batch import CaseStatuses, recommend_many
from .changes import rules_at
from .errors import EngineError, ProfileError, ReferralEngineError, RuleFileError
from .explain import printable
from .exports import GRAPH_FORMATS, export_graph
from .hsds import write_hsds
from .impact import GENERATED, SEED, Case, diff, generated_cases, read_cases
from .loader import default_ruleset, load_ruleset
from .models import ENGINES, Recommendation, Status
from .recommend import recommend
from .ruleset import Ruleset
from .schema import SCHEMAS, schema_text
from .verify import check
from .words import word

EXIT_FINDINGS = 1
#: ``batch --on-error skip`` skipped rows (shares the code of ``check`` finding errors).
EXIT_SKIPPED = EXIT_FINDINGS
EXIT_BAD_INPUT = 2
EXIT_ENGINE = 3
EXIT_INTERRUPTED = 130
STDIN = "-"
_CASE_KEYS = ("title", "as_of", "profile")
#: The largest case file ``recommend`` reads (a profile is well under a kilobyte).
MAX_CASE_BYTES = 1024 * 1024

#: The labels of the text output: ``cli.<key>`` in the library's words (:mod:`referral_engine.words`).
_LABELS = (
    "case",
    "as_of",
    "rules",
    "eligible",
    "undetermined",
    "not_eligible",
    "steps",
    "no_partner",
    "needs",
    "check",
    "because",
    "none",
)


class _BadInput(Exception):
    """A problem with the command's input, reported as one line."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line too (argparse would print the usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, _line(f"{self.prog}: error: {message} (see --help)") + "\n")


class _Version(argparse.Action):
    """``--version``: computed only when asked (it loads the bundled rules)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> NoReturn:
        print(version_text())
        parser.exit(0)


def version_text() -> str:
    """``referral-engine 0.1.0 · rules <bundled version> · default engine python (durable: …)``."""
    try:
        rules = default_ruleset().ruleset_version
    except ReferralEngineError:
        rules = "unreadable"
    default: str
    try:
        default = engines.default_engine()
    except ReferralEngineError:
        default = f"python (${engines.ENV_VAR} is invalid)"
    durable = "available" if engines.durable_available() else "not available"
    return f"referral-engine {__version__} · rules {rules} · default engine {default} (durable: {durable})"


def _line(text: str) -> str:
    """One printable line: no control characters, no lone surrogates, whitespace collapsed."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return " ".join(printable(text).split())


def _error(message: str) -> None:
    print(f"referral-engine: error: {_line(message)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (see the module docstring)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_BAD_INPUT
        return _run(args)
    except RuleFileError as error:
        first = error.problems[0] if error.problems else "rule files"
        more = f" (and {len(error.problems) - 1} more problems)" if len(error.problems) > 1 else ""
        _error(f"{first}{more}")
        return EXIT_BAD_INPUT
    except EngineError as error:
        _error(str(error))
        return EXIT_ENGINE
    except (ReferralEngineError, _BadInput) as error:
        _error(str(error))
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("referral-engine: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as error:
        what = error.strerror or type(error).__name__
        _error(f"{error.filename}: {what}" if error.filename else what)
        return EXIT_BAD_INPUT
    except (RecursionError, MemoryError, ValueError, OverflowError, UnicodeError, csv.Error) as error:
        # Input beyond what the library checks for; the exception's text may hold the input.
        _error(f"cannot process the input ({type(error).__name__})")
        return EXIT_BAD_INPUT


def _run(args: argparse.Namespace) -> int:
    # The engine from --engine or $REFERRAL_ENGINE_ENGINE, resolved now: an invalid variable is a
    # usage error before any work, and durable's limits are checked when the rules are loaded.
    engine: str = getattr(args, "engine", None) or engines.default_engine()
    as_of = _date(args.as_of, "--as-of") if getattr(args, "as_of", None) else None
    if args.command == "check":
        since = _date(args.since, "--from") if args.since else None
        if args.rules is not None and args.rules_dir is not None and args.rules != args.rules_dir:
            raise _BadInput("give the rule folder once: as --rules DIR or as RULES_DIR")
        folder = args.rules if args.rules is not None else args.rules_dir
        if args.json and args.format == "text":
            raise _BadInput("--json and --format disagree: give one of them")
        as_json = args.json or args.format == "json"
        if args.against is not None and args.since_ref is not None:
            raise _BadInput("give one of --against DIR and --since REV")
        if args.against is not None:
            _folder_or_fail(args.against)
        return _check(
            folder,
            since,
            engine,
            verbose=args.verbose,
            as_json=as_json,
            out=sys.stdout,
            against=args.against,
            since_ref=args.since_ref,
        )
    if args.command == "diff":
        _diff(args, as_of, engine, sys.stdout)
        return 0
    if args.command == "schema":
        sys.stdout.write(schema_text(args.name))
        return 0
    ruleset = _ruleset(args.rules, engine)
    lang = getattr(args, "lang", None)
    if lang is not None and lang not in ruleset.languages:
        _Parser(prog=f"referral-engine {args.command}").error(
            f"argument --lang: invalid choice: '{_line(str(lang))[:20]}' "
            f"(choose from {', '.join(ruleset.languages)})"
        )
    if args.command == "graph":
        text = export_graph(
            ruleset.partners, args.format, service=args.service, municipality=args.municipality
        )
        sys.stdout.write(_printable(text))
        return 0
    if args.command == "export":
        written = write_hsds(
            ruleset, args.out, as_of=as_of, lang=args.lang, include_samples=args.include_samples
        )
        for path in written:
            print(_printable(str(path)))
        return 0
    if args.command == "batch":
        return _batch(args, ruleset, as_of, engine, sys.stdin.buffer, sys.stdout, sys.stderr)
    if args.command == "demo":
        _demo(ruleset, as_of, args.lang, engine, args.json, sys.stdout)
    else:
        _recommend_file(args.case, ruleset, as_of, args.lang, engine, args.json, sys.stdout)
    return 0


def _ruleset(folder: str | None, engine: str) -> Ruleset:
    """The rule folder (or the bundled rules), checked for ``engine`` at load."""
    if folder is None:
        ruleset = default_ruleset().with_engine(engine)
        if engine == "durable":
            engines.prepare_durable(ruleset)
        return ruleset
    _folder_or_fail(folder)
    return load_ruleset(folder, engine=engine)


def _folder_or_fail(folder: str) -> None:
    try:
        if not Path(folder).is_dir():
            raise _BadInput(f"{folder}: not a folder of rule files")
        os.listdir(folder)
    except OSError as error:
        raise _BadInput(
            f"{folder}: cannot read the folder ({error.strerror or type(error).__name__})"
        ) from None
    except ValueError:
        raise _BadInput("the rule folder's name is not a valid path") from None


def _common(
    command: argparse.ArgumentParser, *, rules: bool = True, lang: bool = True, as_json: bool = True
) -> None:
    """The options every subcommand shares, where they apply to it."""
    if rules:
        command.add_argument("--rules", metavar="DIR", help="a rule folder instead of the bundled rules")
    command.add_argument(
        "--engine",
        choices=ENGINES,
        help=f"the rule engine (default: ${engines.ENV_VAR}, else python; durable is opt-in)",
    )
    if lang:
        command.add_argument(
            "--lang",
            default="de",
            metavar="LANG",
            help="language of the output: de, en or a language of the rule set's catalogues (uk, ar)",
        )
    if as_json:
        command.add_argument("--json", action="store_true", help="print the result as JSON")


def _progress_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help="show a progress line on stderr (default: when stderr is a terminal)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="referral-engine",
        description="Recommend integration services, responsible partners and next steps for a case.",
        epilog="Exit codes: 0 success, 1 check found errors or batch skipped bad rows, 2 bad input or "
        "usage (also: no command), 3 the rule engine failed, 130 interrupted.",
    )
    parser.add_argument(
        "--version",
        action=_Version,
        help="print the version, the bundled rules' version and the default engine",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    demo = commands.add_parser("demo", help="run the bundled example cases and print their recommendations")
    one = commands.add_parser("recommend", help="recommend for one case file (JSON; - reads standard input)")
    one.add_argument(
        "case", metavar="CASE.json", help="a case profile, or {title, as_of, profile}; - for stdin"
    )
    for command in (demo, one):
        command.add_argument("--as-of", metavar="YYYY-MM-DD", help="apply the rules for this date")
        _common(command)
    _batch_parser(commands)
    check = commands.add_parser(
        "check",
        help="verify a rule folder: load problems, dead rules, contradictions, gaps, partner coverage",
        description="Exit code 0: no errors (warnings allowed); 1: errors found; 2: bad input. "
        "With --engine durable, rules durable-rules cannot run are errors too.",
    )
    check.add_argument(
        "rules_dir", nargs="?", metavar="RULES_DIR", help="same as --rules (kept for compatibility)"
    )
    _common(check, lang=False)
    check.add_argument(
        "--verbose", action="store_true", help="also list infos (overlaps carved out as designed)"
    )
    check.add_argument(
        "--from", dest="since", metavar="YYYY-MM-DD", help="verify only dates from this day on (default: all)"
    )
    check.add_argument(
        "--format", choices=("text", "json"), help="the report's format (default text; --json = json)"
    )
    check.add_argument(
        "--against",
        metavar="DIR",
        help="the rule folder you started from: findings on rules changed since then come first",
    )
    check.add_argument(
        "--since",
        dest="since_ref",
        metavar="REV",
        help="like --against, with the rule folder as committed at this git revision (e.g. HEAD, main)",
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
    compare.add_argument(
        "--format", choices=("text", "json", "html"), help="the report's format (default text; --json = json)"
    )
    compare.add_argument(
        "--statuses-only",
        action="store_true",
        help="compare statuses only, screened in batches (the columnar engine with the frame extra): "
        "much faster over large case files; partners, next steps and valid_until are not compared",
    )
    _common(compare, rules=False, lang=False)
    _progress_option(compare)
    graph = commands.add_parser(
        "graph",
        help="the partner graph as Mermaid, Graphviz DOT, GraphML or node-link JSON",
        description="The whole graph, or the part of one service (or office:<id>) or municipality.",
    )
    graph.add_argument(
        "--format", choices=GRAPH_FORMATS, default="mermaid", help="output format (default mermaid)"
    )
    graph.add_argument("--service", metavar="ID", help="only this service (or office:<id>)")
    graph.add_argument("--municipality", metavar="NAME", help="only this municipality (id or name)")
    _common(graph, lang=False)
    export = commands.add_parser("export", help="write the partner graph as a service directory")
    export.add_argument(
        "standard", choices=("hsds",), help="hsds: Open Referral HSDS 3 (organizations, services)"
    )
    export.add_argument(
        "out", metavar="OUT", help="the folder to write organizations.json and services.json into"
    )
    export.add_argument("--as-of", metavar="YYYY-MM-DD", help="which offers count as active (default today)")
    export.add_argument(
        "--include-samples", action="store_true", help="also export placeholder offers, with an alert"
    )
    _common(export)
    schemas = commands.add_parser(
        "schema", help="print a JSON Schema: profile, recommendation, rules, steps, partners or i18n"
    )
    schemas.add_argument("name", choices=SCHEMAS, help="which schema")
    return parser


def _batch_parser(commands: Any) -> None:
    batch = commands.add_parser(
        "batch",
        help="decide a file of cases: JSON lines, CSV or Parquet in and out (- is stdin/stdout)",
        description="Each row of IN is a case: a profile (JSON lines: an object, or {id, title, as_of, "
        "profile}; CSV and Parquet: columns of profile fields plus optional id, title and as_of; an empty "
        "cell is unknown; consents, and languages if not separated by spaces, as a JSON cell). "
        "OUT gets one row per case, in input order: row, id, as_of, one column per service with its "
        "status, open_fields (--detail full: also eligible and next_steps; as JSON lines, each case's "
        "whole recommendation). A bad row is named by file:line, never by its values. Exit code 0; 1 if "
        "--on-error skip skipped rows (each listed on stderr); 2 on bad input (with --on-error fail, "
        "the default: at the first bad row, leaving no OUT file); 3 if the engine failed.",
    )
    batch.add_argument("input", metavar="IN", help="the cases: .jsonl, .csv or .parquet; - for stdin")
    batch.add_argument(
        "output", metavar="OUT", help="where results go: .jsonl, .csv or .parquet; - for stdout"
    )
    batch.add_argument("--in-format", choices=FORMATS, help="the format of IN (default: from its suffix)")
    batch.add_argument("--out-format", choices=FORMATS, help="the format of OUT (default: from its suffix)")
    batch.add_argument(
        "--detail",
        choices=("statuses", "full"),
        default="statuses",
        help="statuses (default): each service's status and the open fields; full: the recommendation",
    )
    batch.add_argument(
        "--on-error",
        choices=("fail", "skip"),
        default="fail",
        help="a bad row stops the run (fail, the default) or is left out and listed on stderr (skip)",
    )
    batch.add_argument("--processes", type=int, metavar="N", help="decide in N worker processes")
    batch.add_argument(
        "--as-of", metavar="YYYY-MM-DD", help="apply the rules for this date (a row's own as_of wins)"
    )
    _common(batch, as_json=False)
    _progress_option(batch)


#: Stands in a batch for a row that could not be read, so that results stay in step with rows:
#: it is no valid profile, so it is decided as a ProfileError (the row's own problem is reported).
_UNREADABLE: dict[str, Any] = {"(a row that could not be read)": None}


def _decided(
    items: Iterable[Item],
    default_day: dt.date,
    decide: Callable[[dt.date, Iterator[Any]], Iterator[Recommendation | CaseStatuses | ProfileError]],
) -> Iterator[tuple[Item, Recommendation | CaseStatuses | ProfileError]]:
    """Each row with its result, in order: runs of rows with the same date are decided together."""
    source = iter(items)
    stash: list[Item] = []

    def pull() -> Item | None:
        return stash.pop() if stash else next(source, None)

    def feed(day: dt.date, pending: deque[Item]) -> Iterator[Any]:
        while (item := pull()) is not None:
            if isinstance(item, Row) and (item.as_of or default_day) != day:
                stash.append(item)
                return
            pending.append(item)
            yield item.profile if isinstance(item, Row) else _UNREADABLE

    while (first := pull()) is not None:
        stash.append(first)
        day = (first.as_of if isinstance(first, Row) else None) or default_day
        pending: deque[Item] = deque()
        results = decide(day, feed(day, pending))
        try:
            for result in results:
                yield pending.popleft(), result
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()


def _batch(
    args: argparse.Namespace,
    ruleset: Ruleset,
    as_of: dt.date | None,
    engine: str,
    stdin: Any,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    in_format = file_format(args.input, args.in_format, "in")
    out_format = file_format(args.output, args.out_format, "out")
    if args.processes is not None and args.processes < 1:
        raise _BadInput("--processes must be a positive whole number")
    detail = args.detail
    services = [service.id for service in ruleset.services]
    clash = sorted({"row", "id", "as_of", "open_fields", "eligible", "next_steps"} & set(services))
    if clash:
        raise _BadInput(f"a service is called {clash[0]!r}, like a column of the output")
    columns = ["row", "id", "as_of", *services, "open_fields"]
    if detail == "full":
        columns += ["eligible", "next_steps"]
    nested = detail == "full" and out_format == "jsonl"
    default_day = as_of or dt.date.today()
    lang: str = args.lang  # checked against the rule set's languages above

    def decide(day: dt.date, profiles: Iterator[Any]) -> Iterator[Any]:
        return recommend_many(
            profiles,
            as_of=day,
            ruleset=ruleset,
            engine=engine,
            lang=lang,
            detail=detail,
            errors="collect",
            processes=args.processes,
        )

    progress = Progress("referral-engine batch", stderr, enabled=_show_progress(args.progress, stderr))
    source = Source(args.input, in_format, stdin)
    read = skipped = 0
    try:
        stdout.flush()
        sink = Sink(args.output, out_format, columns, getattr(stdout, "buffer", None))
        try:
            for item, result in _decided(source, default_day, decide):
                read += 1
                if isinstance(item, Row) and not isinstance(result, ProfileError):
                    sink.write(_record(item, item.as_of or default_day, result, services, nested=nested))
                else:
                    problem = _problem(item, result)
                    if args.on_error == "fail":
                        raise _BadInput(
                            f"{problem} (stopped there; --on-error skip decides the other rows "
                            "and lists every bad row)"
                        )
                    skipped += 1
                    progress.note(_line(f"referral-engine batch: skipped {problem}"))
                progress.done(read, functools.partial(source.share, read))
            sink.commit()
        except BaseException:
            sink.abort()
            raise
    finally:
        source.close()
        progress.close()
    where = "standard output" if args.output == STDIO else args.output
    listed = " (listed above)" if skipped else ""
    stderr.write(
        _line(
            f"referral-engine batch: {read - skipped} of {read} rows decided, {skipped} skipped{listed}; "
            f"wrote {where} in {progress.seconds():.1f} s"
        )
        + "\n"
    )
    return EXIT_SKIPPED if skipped else 0


def _problem(item: Item, result: Recommendation | CaseStatuses | ProfileError) -> str:
    """What is wrong with a bad row: its place first, never a value."""
    if isinstance(item, BadRow):
        return item.problem
    problems = result.problems if isinstance(result, ProfileError) else ()
    # without the index: that counts the rows of one run of recommend_many, not of the file
    return f"{item.where}: {ProfileError(problems)}"


def _record(
    row: Row,
    day: dt.date,
    result: Recommendation | CaseStatuses,
    services: Sequence[str],
    *,
    nested: bool,
) -> dict[str, Any]:
    """One row of ``batch``'s output (see its --help); ``nested``: the whole recommendation."""
    record: dict[str, Any] = {"row": row.number, "id": row.id, "as_of": day}
    if isinstance(result, CaseStatuses):
        record.update({service: result.statuses[service].value for service in services})
        record["open_fields"] = result.open_fields
        return record
    if nested:
        record["recommendation"] = result.model_dump(mode="json")
        return record
    statuses = {decision.service: decision.status.value for decision in result.decisions}
    record.update({service: statuses.get(service) for service in services})
    record["open_fields"] = len(result.missing)
    record["eligible"] = [d.service for d in result.decisions if d.status is Status.ELIGIBLE]
    record["next_steps"] = [step.id for step in result.next_steps]
    return record


def _show_progress(option: bool | None, stream: TextIO) -> bool:
    """``--progress``/``--no-progress``, else whether ``stream`` is a terminal."""
    if option is not None:
        return option
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _check(
    rules_dir: str | None,
    since: dt.date | None,
    engine: str | None,
    *,
    verbose: bool,
    as_json: bool,
    out: TextIO,
    against: str | None = None,
    since_ref: str | None = None,
) -> int:
    if rules_dir is not None:
        _folder_or_fail(rules_dir)
    rules = rules_dir if rules_dir is not None else default_ruleset()
    try:
        if since_ref is not None:
            folder = rules_dir if rules_dir is not None else default_ruleset().path
            with tempfile.TemporaryDirectory(prefix="referral-engine-since-") as old:
                rules_at(folder, since_ref, old)
                report = check(rules, since=since, engine=engine, against=old, against_label=since_ref)
        else:
            report = check(rules, since=since, engine=engine, against=against)
    except RuleFileError as error:
        # Only the earlier rules can fail here: check() turns the checked folder's problems into findings.
        earlier = since_ref if since_ref is not None else against
        raise _BadInput(
            f"the rules to compare with ({earlier}) do not load: {len(error.problems)} problems; "
            "run check on them first"
        ) from None
    if as_json:
        findings = [
            dict(
                asdict(f),
                where=f.where,
                changed=f.changed,
                causes=[dict(asdict(c), where=c.where) for c in f.causes],
            )
            for f in report.findings
        ]
        document: dict[str, Any] = {"ruleset": report.ruleset, "ok": report.ok, "findings": findings}
        if report.against is not None:
            document["against"] = report.against
            document["changed"] = [{"subject": subject, "id": id_} for subject, id_ in report.changed]
        out.write(json.dumps(document, indent=2) + "\n")
    else:
        # Wrapped for a person at a terminal; one line per finding for a pipe (grep, a file).
        width = shutil.get_terminal_size((100, 24)).columns if out.isatty() else None
        out.write(_printable(report.table(verbose=verbose, width=width)))
    return 0 if report.ok else EXIT_FINDINGS


def _diff(args: argparse.Namespace, as_of: dt.date | None, engine: str, out: TextIO) -> None:
    old, new = (_ruleset(None if path == "default" else path, engine) for path in (args.old, args.new))
    if args.count < 1:
        raise _BadInput("--count must be a positive whole number")
    cases = (
        read_cases(args.cases) if args.cases else generated_cases((old, new), as_of=as_of, count=args.count)
    )
    progress = Progress("referral-engine diff", sys.stderr, enabled=_show_progress(args.progress, sys.stderr))
    try:
        impact = diff(
            old,
            new,
            _counted(cases, progress),
            as_of=as_of,
            generated=not args.cases,
            engine=engine,
            detail="statuses" if args.statuses_only else "full",
        )
    finally:
        progress.close()
    if progress.enabled:
        sys.stderr.write(
            f"referral-engine diff: {impact.cases} cases compared, {len(impact.changed_cases)} change "
            f"({len(impact.changes)} changes) in {progress.seconds():.1f} s\n"
        )
    fmt = args.format or ("json" if args.json else "text")
    if args.json and fmt != "json":
        raise _BadInput("--json and --format disagree: give one of them")
    if fmt == "json":
        out.write(json.dumps(impact.to_json(), indent=2) + "\n")
    elif fmt == "html":
        out.write(impact.to_html(max(args.samples, 0)) + "\n")
    else:
        out.write(_printable(impact.table(max(args.samples, 0))))


def _counted(cases: Sequence[Case], progress: Progress) -> Iterator[Case]:
    """The cases, reporting to ``progress`` how many are done as each next one is taken."""
    for number, case in enumerate(cases):
        progress.done(number, number / len(cases))
        yield case
    progress.done(len(cases), 1.0)


def _printable(text: str) -> str:
    """Text for the terminal: no control characters from rule files, no lone surrogates."""
    return printable(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def _date(text: str, what: str) -> dt.date:
    if not isinstance(text, str) or len(text) != len("YYYY-MM-DD"):
        raise _BadInput(f"{what} must be a date written as YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise _BadInput(f"{what} must be a date written as YYYY-MM-DD") from None


def _case_text(path: str) -> tuple[str, str]:
    """``(name, text)`` of a case file, or of standard input for ``-``."""
    if path == STDIN:
        data = sys.stdin.buffer.read(MAX_CASE_BYTES + 1)
        name = "<stdin>"
    else:
        name = _line(path)
        try:
            # Without blocking: a FIFO or a device is refused, never waited on or read forever.
            flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
            descriptor = os.open(path, flags | getattr(os, "O_BINARY", 0))
            with os.fdopen(descriptor, "rb") as file:
                if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                    raise _BadInput(f"{name}: not a regular file")
                data = file.read(MAX_CASE_BYTES + 1)
        except FileNotFoundError:
            raise _BadInput(f"{name}: no such file") from None
        except (OSError, ValueError) as error:
            raise _BadInput(f"{name}: cannot read the file ({type(error).__name__})") from None
    if len(data) > MAX_CASE_BYTES:
        raise _BadInput(f"{name}: larger than {MAX_CASE_BYTES} bytes; a case file holds one case")
    try:
        return name, data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _BadInput(f"{name}: not UTF-8 text (byte {error.start})") from None


def _read_case(name: str, text: str) -> tuple[str | None, dt.date | None, dict[str, Any]]:
    """``(title, as_of, profile)`` from a case file's text; the profile is validated later."""
    data = parse_json(text, name, _BadInput)
    if not isinstance(data, dict):
        raise _BadInput(f"{name}: expected a JSON object (a case profile)")
    if "profile" not in data:
        return None, None, data
    unknown = sorted(set(data) - set(_CASE_KEYS))
    if unknown:
        raise _BadInput(
            f"{name}: unknown key {shown_key(unknown[0])}; a case file has: {', '.join(_CASE_KEYS)}"
        )
    title = data.get("title")
    if title is not None and not isinstance(title, str):
        raise _BadInput(f"{name}: title must be text")
    as_of = _date(data["as_of"], f"{name}: as_of") if data.get("as_of") is not None else None
    if not isinstance(data["profile"], dict):
        raise _BadInput(f"{name}: profile must be a JSON object")
    return title, as_of, data["profile"]


def _recommend_file(
    path: str,
    ruleset: Ruleset,
    as_of: dt.date | None,
    lang: str,
    engine: str | None,
    as_json: bool,
    out: TextIO,
) -> None:
    name, text = _case_text(path)
    title, file_as_of, profile = _read_case(name, text)
    rec = _recommend(name, profile, as_of or file_as_of, ruleset, lang, engine)
    if as_json:
        out.write(rec.model_dump_json(indent=2) + "\n")
    else:
        out.write(render(rec, ruleset, title=title or Path(name).name))


def _recommend(
    name: str,
    profile: dict[str, Any],
    as_of: dt.date | None,
    ruleset: Ruleset,
    lang: str,
    engine: str | None,
) -> Recommendation:
    try:
        return recommend(profile, as_of=as_of, ruleset=ruleset, lang=lang, engine=engine)
    except EngineError:
        raise
    except ReferralEngineError as error:
        raise _BadInput(f"{name}: {error}") from None


def _demo(
    ruleset: Ruleset, as_of: dt.date | None, lang: str, engine: str | None, as_json: bool, out: TextIO
) -> None:
    cases = bundled("example_cases")
    with resources.as_file(cases) as folder:
        paths = sorted(folder.glob("*.json"))
        if not paths:
            raise _BadInput("no example cases are bundled with this installation")
        results = []
        for path in paths:
            title, file_as_of, profile = _read_case(path.name, path.read_text(encoding="utf-8"))
            rec = _recommend(path.name, profile, as_of or file_as_of, ruleset, lang, engine)
            results.append((title or path.stem, rec))
    if as_json:
        items = [{"title": title, "recommendation": rec.model_dump(mode="json")} for title, rec in results]
        out.write(json.dumps(items, indent=2, ensure_ascii=False) + "\n")
        return
    for index, (title, rec) in enumerate(results):
        out.write(("\n" if index else "") + render(rec, ruleset, title=title))


def render(rec: Recommendation, ruleset: Ruleset, *, title: str | None = None) -> str:
    """A recommendation as readable text in its language (partner names, reasons, steps)."""
    lang = rec.lang
    label = {key: word(f"cli.{key}", lang) for key in _LABELS}
    partners = ruleset.partners.partners
    lines = []
    if title:
        lines.append(f"== {label['case']}: {title}")
    lines.append(f"{label['as_of']} {rec.as_of.isoformat()} · {label['rules']} {rec.ruleset_version}")
    if rec.translation is not None and rec.translation.draft:
        draft = word("label.draft", lang)
        lines.append(f"⚠ draft translation — not yet reviewed ({rec.translation.name}: {draft})")
    eligible = [d for d in rec.decisions if d.status is Status.ELIGIBLE]
    lines.append(f"{label['eligible']}:")
    for decision in eligible:
        sample = f" ({ruleset.messages.sample.get(rec.lang)})"
        names = (
            ", ".join(
                partners[p].name + (sample if p in decision.sample_partners else "")
                for p in decision.partners
            )
            or label["no_partner"]
        )
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
    # Rule files are text from outside: show what they say, never what a terminal would do with it.
    return _printable("\n".join(lines)) + "\n"


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
