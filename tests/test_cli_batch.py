"""``referral-engine batch``: every format pair, bad rows by place, skip or fail, stdin/stdout, progress."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from referral_engine import Recommendation, cli, default_ruleset, recommend, recommend_many
from referral_engine._batchio import Format, Row, Source
from referral_engine._progress import Progress
from referral_engine.cli import _decided, main
from referral_engine.errors import EngineError

from .conftest import REPO

CASES = sorted((REPO / "examples" / "cases").glob("*.json"))
MARKER = "MARKER-7f3a"
FORMATS = ("jsonl", "csv", "parquet")
SUFFIX = {"jsonl": ".jsonl", "csv": ".csv", "parquet": ".parquet"}
DAY = dt.date(2026, 3, 1)
PYTHON_M = (sys.executable, "-m", "referral_engine")


def _examples() -> list[dict[str, Any]]:
    """The example cases as rows: an id, the case's date and its profile."""
    rows = []
    for path in CASES:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows.append({"id": path.stem[:2], "as_of": data["as_of"], "profile": data["profile"]})
    return rows


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "as_of": row["as_of"], **row["profile"]}


def _write_cases(path: Path, fmt: str, rows: list[dict[str, Any]]) -> Path:
    """``rows`` ({id, as_of, profile}) in ``fmt`` as a user would write them."""
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    elif fmt == "csv":
        flat = [_flat(row) for row in rows]
        columns = list(dict.fromkeys(key for row in flat for key in row))
        with path.open("w", encoding="utf-8", newline="") as file:
            writer = csv.DictWriter(file, columns)
            writer.writeheader()
            for row in flat:
                cells = dict(row)
                if "languages" in cells:
                    cells["languages"] = " ".join(cells["languages"])
                if "consents" in cells:
                    cells["consents"] = json.dumps(cells["consents"])
                writer.writerow(cells)
    else:
        flat = []
        for row in rows:
            cells = _flat(row)
            for key, value in cells.items():
                if isinstance(value, str) and len(value) == 10 and value[4] == "-" and key != "id":
                    cells[key] = dt.date.fromisoformat(value)  # dates as Parquet dates
            flat.append(cells)
        columns = list(dict.fromkeys(key for row in flat for key in row))
        pq.write_table(pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in flat]), path)
    return path


def _read_results(path: Path, fmt: str) -> list[dict[str, Any]]:
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if fmt == "csv":
        with path.open(encoding="utf-8", newline="") as file:
            return list(csv.DictReader(file))
    return list(pq.read_table(path).to_pylist())


def _expected(row: dict[str, Any]) -> Recommendation:
    return recommend(row["profile"], as_of=dt.date.fromisoformat(row["as_of"]))


def _statuses(rec: Recommendation) -> dict[str, str]:
    return {d.service: d.status.value for d in rec.decisions}


SERVICES = [service.id for service in default_ruleset().services]


@pytest.mark.parametrize(("source", "target"), list(itertools.product(FORMATS, FORMATS)))
def test_every_format_pair_gives_the_statuses_of_recommend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str, target: str
) -> None:
    """Each example case comes out in input order with its id, date, statuses and open fields."""
    rows = _examples()
    cases = _write_cases(tmp_path / f"cases{SUFFIX[source]}", source, rows)
    out = tmp_path / f"out{SUFFIX[target]}"
    assert main(["batch", str(cases), str(out)]) == 0
    results = _read_results(out, target)
    assert len(results) == len(rows)
    for number, (row, result) in enumerate(zip(rows, results, strict=True), start=1):
        expected = _expected(row)
        assert int(result["row"]) == (number + 1 if source == "csv" else number)
        assert result["id"] == row["id"]
        assert str(result["as_of"]) == row["as_of"]
        assert {s: result[s] for s in SERVICES} == _statuses(expected)
        assert int(result["open_fields"]) == len(expected.missing)
    err = capsys.readouterr().err
    assert f"{len(rows)} of {len(rows)} rows decided, 0 skipped" in err


@pytest.mark.parametrize("target", ["csv", "parquet"])
def test_full_detail_flattens_to_statuses_eligible_and_next_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    """--detail full into CSV or Parquet: statuses, open fields, eligible services and next step ids."""
    rows = _examples()
    cases = _write_cases(tmp_path / "cases.jsonl", "jsonl", rows)
    out = tmp_path / f"out{SUFFIX[target]}"
    assert main(["batch", str(cases), str(out), "--detail", "full"]) == 0
    for row, result in zip(rows, _read_results(out, target), strict=True):
        expected = _expected(row)
        assert {s: result[s] for s in SERVICES} == _statuses(expected)
        eligible, steps = result["eligible"], result["next_steps"]
        if target == "csv":
            eligible, steps = eligible.split(), steps.split()
        assert list(eligible) == [d.service for d in expected.decisions if d.status.value == "eligible"]
        assert list(steps) == [step.id for step in expected.next_steps]
        assert int(result["open_fields"]) == len(expected.missing)


def test_full_detail_as_json_lines_holds_each_recommendation(tmp_path: Path) -> None:
    """--detail full into JSON lines: the row, id and date with the whole recommendation, in English."""
    rows = _examples()
    cases = _write_cases(tmp_path / "cases.csv", "csv", rows)
    out = tmp_path / "out.jsonl"
    assert main(["batch", str(cases), str(out), "--detail", "full", "--lang", "en"]) == 0
    for row, result in zip(rows, _read_results(out, "jsonl"), strict=True):
        assert result["id"] == row["id"]
        expected = recommend(row["profile"], as_of=dt.date.fromisoformat(row["as_of"]), lang="en")
        assert Recommendation.model_validate(result["recommendation"]) == expected


def test_a_rows_own_date_wins_over_as_of(tmp_path: Path) -> None:
    """Rows are decided on their own as_of, the others on --as-of, whatever order the dates come in."""
    profile = {"birth_date": "1999-06-15", "residence_status": "ae_25_1", "municipality": "Staufen"}
    days = ["2026-03-01", None, "2026-07-01", "2026-03-01", None]
    rows = [{"profile": profile, **({"as_of": day} if day else {})} for day in days]
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["batch", str(cases), str(out), "--as-of", "2025-01-01"]) == 0
    results = _read_results(out, "jsonl")
    assert [r["as_of"] for r in results] == [day or "2025-01-01" for day in days]
    for result in results:
        expected = recommend(profile, as_of=dt.date.fromisoformat(result["as_of"]))
        assert {s: result[s] for s in SERVICES} == _statuses(expected)
    # the dates matter here: JMD ends with the 27th birthday (2026-06-15)
    assert len({r["jmd"] for r in results}) > 1


# -- bad rows ----------------------------------------------------------------------------------------


def _good(n: int) -> dict[str, Any]:
    return {"id": f"good-{n}", "as_of": "2026-03-01", "profile": {"age": 20 + n, "municipality": "Staufen"}}


JSONL_BAD = [
    json.dumps(_good(1)),
    '{"age": 3' + f', "municipality": "{MARKER}"',  # line 2: bad JSON
    json.dumps({"age": 30, "hobby": MARKER}),  # line 3: unknown field
    json.dumps({"age": MARKER}),  # line 4: wrong type
    json.dumps([MARKER]),  # line 5: not an object
    json.dumps({"as_of": MARKER, "profile": {"age": 20}}),  # line 6: bad date
    json.dumps(_good(2)),
    json.dumps({"profile": {"age": 20}, MARKER: 1}),  # line 8: unknown key next to profile
    json.dumps({"residence_status": MARKER}),  # line 9: not an allowed value
]
JSONL_PLACES = [2, 3, 4, 5, 6, 8, 9]


def _bad_jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "cases.jsonl"
    data = "\n".join(JSONL_BAD).encode() + b"\n" + f'{{"municipality": "\xff{MARKER}"}}\n'.encode("latin-1")
    path.write_bytes(data + json.dumps(_good(3)).encode() + b"\n")
    return path


def test_skip_lists_every_bad_row_by_place_without_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--on-error skip: the good rows are written, each bad row is listed as file:line, exit code 1."""
    cases = _bad_jsonl(tmp_path)
    out = tmp_path / "out.csv"
    assert main(["batch", str(cases), str(out), "--on-error", "skip"]) == 1
    captured = capsys.readouterr()
    skipped = [line for line in captured.err.splitlines() if "skipped " + str(cases) in line]
    places = [int(line.split(f"{cases}:")[1].split(":")[0]) for line in skipped]
    assert places == [*JSONL_PLACES, 10]
    assert "3 of 11 rows decided, 8 skipped (listed above)" in captured.err
    assert [r["id"] for r in _read_results(out, "csv")] == ["good-1", "good-2", "good-3"]
    assert [r["row"] for r in _read_results(out, "csv")] == ["1", "7", "11"]
    for text in (captured.out, captured.err, out.read_text(encoding="utf-8")):
        assert MARKER not in text


def test_fail_stops_at_the_first_bad_row_and_writes_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """By default a bad row stops the run (exit code 2), names its place and leaves OUT as it was."""
    cases = _bad_jsonl(tmp_path)
    out = tmp_path / "out.jsonl"
    out.write_text("earlier results\n", encoding="utf-8")
    assert main(["batch", str(cases), str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"referral-engine: error: {cases}:2:")
    assert "--on-error skip" in captured.err
    assert len(captured.err.splitlines()) == 1
    assert MARKER not in captured.err + captured.out
    assert out.read_text(encoding="utf-8") == "earlier results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cases.jsonl", "out.jsonl"]


def test_bad_csv_rows_are_named_by_their_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """CSV: a wrong type, a broken JSON cell, too many cells and bytes that are not UTF-8, each by row."""
    cases = tmp_path / "cases.csv"
    lines = [
        "id,age,municipality,consents",
        "a,20,Staufen,",
        f"b,{MARKER},Staufen,",
        f'c,20,Staufen,"[{{{MARKER}"',
        f"d,20,Staufen,,{MARKER}",
        "e,21,Staufen,",
    ]
    data = "\n".join(lines).encode() + f"\nf,20,\xff{MARKER},\n".encode("latin-1") + b"g,22,,\n"
    cases.write_bytes(data)
    out = tmp_path / "out.parquet"
    assert main(["batch", str(cases), str(out), "--on-error", "skip"]) == 1
    captured = capsys.readouterr()
    for row in (3, 4, 5, 7):
        assert f"skipped {cases}:{row}: " in captured.err
    assert [r["id"] for r in _read_results(out, "parquet")] == ["a", "e", "g"]
    assert MARKER not in captured.err + captured.out


def test_bad_parquet_rows_are_named_by_their_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Parquet: a value of the wrong kind is a bad row, named by its row number from 1."""
    cases = tmp_path / "cases.parquet"
    table = pa.table({"age": ["20", MARKER, "31"], "residence_status": [None, None, MARKER]})
    pq.write_table(table, cases)
    out = tmp_path / "out.jsonl"
    assert main(["batch", str(cases), str(out), "--on-error", "skip"]) == 1
    captured = capsys.readouterr()
    assert f"skipped {cases}:2: invalid case profile (1 problem); age:" in captured.err
    assert f"skipped {cases}:3: invalid case profile (1 problem); residence_status:" in captured.err
    assert [r["row"] for r in _read_results(out, "jsonl")] == [1]
    assert MARKER not in captured.err + captured.out


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param(f'{{"age": NaN, "municipality": "{MARKER}"}}', "not finite", id="nan"),
        pytest.param(f'{{"municipality": "{MARKER}", "municipality": "x"}}', "duplicate key", id="duplicate"),
        pytest.param(f'{{"municipality": "{MARKER}\\ud800"}}', "lone surrogate", id="surrogate"),
        pytest.param("[" * 100 + f'"{MARKER}"' + "]" * 100, "nested", id="deep"),
        pytest.param(f'{{"municipality": "{MARKER}{"x" * 1_100_000}"}}', "longer than", id="long-line"),
        pytest.param(f'{{"id": ["{MARKER}"], "profile": {{}}}}', "id must be", id="id-not-text"),
        pytest.param(f'{{"profile": "{MARKER}"}}', "profile must be a JSON object", id="profile-not-object"),
    ],
)
def test_hostile_json_lines_are_bad_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    """Lines the strict JSON reader refuses are bad rows at their line; the rows around them are decided."""
    cases = tmp_path / "cases.jsonl"
    good = json.dumps(_good(1))
    cases.write_text(f"{good}\n{line}\n{good}\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["batch", str(cases), str(out), "--on-error", "skip"]) == 1
    err = capsys.readouterr().err
    skipped = [text for text in err.splitlines() if "skipped /" in text]
    assert len(skipped) == 1
    assert skipped[0].startswith(f"referral-engine batch: skipped {cases}:2")
    assert message in skipped[0]
    assert MARKER not in err
    assert [r["row"] for r in _read_results(out, "jsonl")] == [1, 3]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--processes", "0"], "--processes must be a positive whole number"),
        (["--in-format", "xml"], "argument --in-format: invalid choice"),
        (["--detail", "some"], "argument --detail: invalid choice"),
        (["--on-error", "ignore"], "argument --on-error: invalid choice"),
    ],
)
def test_bad_arguments_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """Wrong options stop before any row with one line and exit code 2."""
    cases = _write_cases(tmp_path / "cases.jsonl", "jsonl", _examples())
    try:
        code = main(["batch", str(cases), str(tmp_path / "out.csv"), *args])
    except SystemExit as usage:  # argparse's own checks
        code = int(str(usage.code))
    assert code == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(("failure", "code"), [(EngineError("engine down"), 3), (KeyboardInterrupt(), 130)])
def test_a_failure_midway_leaves_no_output_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException, code: int
) -> None:
    """The engine failing (exit code 3) or Ctrl-C (130) after some rows leaves neither OUT nor a part."""
    cases = _write_cases(tmp_path / "cases.jsonl", "jsonl", _examples())
    real = recommend_many

    def failing(profiles: Any, **options: Any) -> Any:
        yield from itertools.islice(real(profiles, **options), 2)
        raise failure

    monkeypatch.setattr(cli, "recommend_many", failing)
    assert main(["batch", str(cases), str(tmp_path / "out.parquet")]) == code
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cases.jsonl"]


def test_languages_beyond_german_and_english(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Any language of the rule set: statuses have no text, whole recommendations are written in it."""
    cases = _write_cases(tmp_path / "cases.jsonl", "jsonl", _examples())
    out = tmp_path / "out.jsonl"
    assert main(["batch", str(cases), str(out), "--lang", "uk"]) == 0
    assert len(_read_results(out, "jsonl")) == len(CASES)
    full = tmp_path / "full.jsonl"
    assert main(["batch", str(cases), str(full), "--lang", "uk", "--detail", "full"]) == 0
    rows = [json.loads(line) for line in full.read_text(encoding="utf-8").splitlines()]
    assert {row["recommendation"]["lang"] for row in rows} == {"uk"}
    assert all(row["recommendation"]["translation"]["language"] == "uk" for row in rows)
    with pytest.raises(SystemExit) as exit_:
        main(["batch", str(cases), str(tmp_path / "x.jsonl"), "--lang", "xx"])
    assert exit_.value.code == 2
    assert "argument --lang: invalid choice" in capsys.readouterr().err


def test_a_folder_is_no_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """OUT naming a folder is refused with exit code 2."""
    cases = _write_cases(tmp_path / "cases.jsonl", "jsonl", _examples())
    folder = tmp_path / "out.csv"
    folder.mkdir()
    assert main(["batch", str(cases), str(folder)]) == 2
    assert "a folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("cases.csv", f"age,{MARKER}\n20,1\n", "unknown column"),
        ("cases.csv", f"{MARKER},20\n", "unknown column"),
        ("cases.parquet", "not parquet", "not a Parquet file"),
        ("cases.txt", "{}", "cannot tell the format of in"),
    ],
)
def test_an_unreadable_file_is_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str, message: str
) -> None:
    """A file that cannot be read at all stops before any row, exit code 2, without showing values."""
    cases = tmp_path / name
    cases.write_text(content, encoding="utf-8")
    assert main(["batch", str(cases), str(tmp_path / "out.csv")]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert MARKER not in err
    assert not (tmp_path / "out.csv").exists()


def test_parquet_without_pyarrow_names_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without pyarrow, a Parquet file is refused with the pip command that installs it."""
    cases = _write_cases(tmp_path / "cases.jsonl", "jsonl", _examples())
    real = __import__("importlib").import_module

    def no_pyarrow(name: str, package: str | None = None) -> Any:
        if name.startswith("pyarrow"):
            raise ImportError(name)
        return real(name, package)

    monkeypatch.setattr("referral_engine._batchio.importlib.import_module", no_pyarrow)
    assert main(["batch", str(cases), str(tmp_path / "out.parquet")]) == 2
    assert 'pip install "referral-engine[frame]"' in capsys.readouterr().err


# -- standard input and output, processes ------------------------------------------------------------


def test_standard_input_and_output_are_json_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``batch - -`` reads JSON lines from stdin and writes them to stdout; the summary goes to stderr."""
    rows = _examples()
    data = "".join(json.dumps(row) + "\n" for row in rows).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    assert main(["batch", "-", "-"]) == 0
    captured = capsys.readouterr()
    results = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["id"] for r in results] == [row["id"] for row in rows]
    for row, result in zip(rows, results, strict=True):
        assert {s: result[s] for s in SERVICES} == _statuses(_expected(row))
    assert "wrote standard output" in captured.err


def test_csv_through_a_pipe_with_the_formats_given(tmp_path: Path) -> None:
    """A real pipe: CSV on stdin, CSV on stdout, chosen with --in-format and --out-format."""
    rows = _examples()
    cases = _write_cases(tmp_path / "cases.csv", "csv", rows)
    result = subprocess.run(
        [*PYTHON_M, "batch", "-", "-", "--in-format", "csv", "--out-format", "csv", "--detail", "full"],
        input=cases.read_bytes(),
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = list(csv.DictReader(io.StringIO(result.stdout.decode("utf-8"))))
    assert [r["id"] for r in out] == [row["id"] for row in rows]
    assert "\r" not in result.stderr.decode()  # a pipe: no progress line


def test_worker_processes_give_the_same_output(tmp_path: Path) -> None:
    """--processes 2 writes the same rows as one process, in the same order."""
    rows = _examples() * 3
    cases = _write_cases(tmp_path / "cases.jsonl", "jsonl", rows)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert main(["batch", str(cases), str(one)]) == 0
    assert main(["batch", str(cases), str(two), "--processes", "2"]) == 0
    assert one.read_text(encoding="utf-8") == two.read_text(encoding="utf-8")


def test_rows_are_read_as_they_are_decided(tmp_path: Path) -> None:
    """Streaming: the first rows are decided before the input ends (an endless input works)."""
    endless = (Row(f"x:{n}", n, None, None, {"age": 20}) for n in itertools.count(1))

    def decide(day: dt.date, profiles: Any) -> Any:
        return ({"decided": profile} for profile in profiles)

    first = list(itertools.islice(_decided(endless, DAY, decide), 3))
    assert [row.number for row, _ in first] == [1, 2, 3]
    # and a file is read a piece at a time
    cases = tmp_path / "cases.jsonl"
    cases.write_text((json.dumps({"age": 21}) + "\n") * 20000, encoding="utf-8")
    table = _write_cases(tmp_path / "c.csv", "csv", _examples() * 2000)
    files: list[tuple[Path, Format]] = [(cases, "jsonl"), (table, "csv")]
    for path, fmt in files:
        source = Source(str(path), fmt, io.BytesIO())
        next(iter(source))
        share = source.share(1)
        assert share is not None
        assert 0 < share < 0.2
        source.close()


# -- progress ----------------------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_redraws_at_most_ten_times_a_second() -> None:
    """Updates closer than 0.1 s apart are not drawn; the line holds counts, a bar and a share."""
    stream, clock = io.StringIO(), _Clock()
    progress = Progress("job", stream, enabled=True, clock=clock)
    for rows in range(1, 101):
        clock.now = rows * 0.005  # 100 updates in 0.5 s
        progress.done(rows, rows / 200)
    assert 4 <= stream.getvalue().count("\r") <= 6
    assert "job: [" in stream.getvalue()
    assert "100 rows" not in stream.getvalue() or "%" in stream.getvalue()
    progress.close()
    assert stream.getvalue().endswith("\r")


def test_progress_is_silent_unless_enabled() -> None:
    """A disabled progress line writes nothing, however often it is updated."""
    stream = io.StringIO()
    progress = Progress("job", stream, enabled=False)
    for rows in range(1000):
        progress.done(rows, 0.5)
    progress.close()
    assert stream.getvalue() == ""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("terminal", "option", "shown"),
    [(True, [], True), (False, [], False), (False, ["--progress"], True), (True, ["--no-progress"], False)],
)
def test_batch_shows_progress_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, terminal: bool, option: list[str], shown: bool
) -> None:
    """The progress line appears when stderr is a terminal or with --progress, never with case data."""
    rows = [dict(_good(n), id=f"{MARKER}-{n}") for n in range(50)]
    cases = _write_cases(tmp_path / "cases.jsonl", "jsonl", rows)
    stderr = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    assert main(["batch", str(cases), str(tmp_path / "out.csv"), *option]) == 0
    text = stderr.getvalue()
    assert ("\r" in text) is shown
    assert ("referral-engine batch: [" in text) is shown
    assert "50 of 50 rows decided" in text
    assert MARKER not in text


@pytest.mark.parametrize(("terminal", "shown"), [(True, True), (False, False)])
def test_diff_shows_progress_and_a_summary_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], terminal: bool, shown: bool
) -> None:
    """diff: a progress line and a summary on a terminal's stderr; its report is the same either way."""
    args = ["diff", "default", "default", "--count", "30", "--as-of", "2026-03-01"]
    assert main(args) == 0
    plain = capsys.readouterr()
    assert plain.err == ""
    stderr = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    assert main(args) == 0
    assert capsys.readouterr().out == plain.out
    text = stderr.getvalue()
    assert ("referral-engine diff: [" in text) is shown
    assert ("referral-engine diff: 30 cases compared, 0 change (0 changes)" in text) is shown


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_progress_on_a_real_pseudo_terminal(tmp_path: Path) -> None:
    """With stderr on a pseudo-terminal, batch draws its progress line there."""
    cases = _write_cases(tmp_path / "cases.jsonl", "jsonl", _examples())
    leader, follower = os.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "referral_engine", "batch", str(cases), str(tmp_path / "out.csv")],
            stderr=follower,
            stdout=subprocess.DEVNULL,
            check=False,
        )
        os.close(follower)
        text = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the terminal is closed and empty
                break
            if not chunk:
                break
            text += chunk
    finally:
        os.close(leader)
    assert result.returncode == 0
    assert b"\rreferral-engine batch: [" in text
    assert b"6 of 6 rows decided" in text


def test_help_documents_the_exit_codes() -> None:
    """``batch --help`` says what each exit code means."""
    result = subprocess.run(
        [sys.executable, "-m", "referral_engine", "batch", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "1 if --on-error skip skipped rows" in text
    assert "2 on bad input" in text
