"""Files of cases in and of results out for ``referral-engine batch``: JSON lines, CSV and Parquet.

Rows are read one at a time (Parquet: a row group's batch at a time), so JSON lines and CSV of
any length take constant memory; results are written as they come. A row that cannot be read
becomes a :class:`BadRow` naming its place (``file:N``) and the problem, never a value; a file
that cannot be read at all (no header, an unknown column) raises :class:`CaseFileError`.

``N`` is the line for JSON lines; for CSV the line the row starts on (the spreadsheet's row
number, the header being row 1, unless a cell holds a line break); for Parquet the row number
from 1. Parquet needs pyarrow (``pip install "referral-engine[frame]"``).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import importlib
import io
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from ._input import csv_header, parse_json, shown_key
from .errors import CaseFileError, UsageError
from .models import EARLIEST_DATE, LATEST_DATE, CaseProfile

Format = Literal["jsonl", "csv", "parquet"]
FORMATS: tuple[Format, ...] = ("jsonl", "csv", "parquet")
SUFFIXES: dict[str, Format] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
STDIO = "-"
#: The longest line of a JSON-lines file (a profile is well under a kilobyte).
MAX_LINE_BYTES = 1024 * 1024
#: Keys besides the profile's fields that a row may have.
CASE_KEYS = ("id", "title", "as_of")
#: Columns (or keys) a row of cases may have: the profile's fields, ``consents`` and :data:`CASE_KEYS`.
COLUMNS = frozenset({*CASE_KEYS, *CaseProfile.model_fields})
_WRAPPER_KEYS = (*CASE_KEYS, "profile")
_MAX_ID = 200
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INSTALL = 'Parquet files need pyarrow: pip install "referral-engine[frame]"'


@dataclass(frozen=True, slots=True)
class Row:
    """One readable row: its place, its case id and date if it has them, and the profile's data."""

    where: str
    number: int
    id: str | None
    as_of: dt.date | None
    profile: dict[str, Any]

    def __repr__(self) -> str:
        return f"Row({self.where!r})"


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that cannot be read: ``problem`` starts with its place and never holds a value."""

    where: str
    number: int
    problem: str


Item = Row | BadRow


def file_format(path: str, given: str | None, what: str) -> Format:
    """The format of ``path``: ``given``, else from the suffix; standard input/output is JSON lines."""
    if given is not None:
        if given not in FORMATS:
            raise UsageError(f"{what} must be one of: {', '.join(FORMATS)}")
        return given
    if path == STDIO:
        return "jsonl"
    found = SUFFIXES.get(Path(path).suffix.lower())
    if found is None:
        raise UsageError(
            f"cannot tell the format of {what} from its name; name it .jsonl, .csv or .parquet "
            f"or give --{what}-format {'|'.join(FORMATS)}"
        )
    return found


def pyarrow() -> tuple[Any, Any]:
    """``(pyarrow, pyarrow.parquet)``, or a UsageError naming the extra that installs them."""
    try:
        return importlib.import_module("pyarrow"), importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise UsageError(_INSTALL) from None


# -- reading -----------------------------------------------------------------------------------------


class Source:
    """Rows of cases from a file (or standard input) in one of :data:`FORMATS`; iterate it once."""

    def __init__(self, path: str, fmt: Format, stdin: IO[bytes]) -> None:
        self.fmt = fmt
        self.name = "<stdin>" if path == STDIO else path
        self._size: int | None = None
        self._file: IO[bytes]
        self._parquet: Any = None
        if path == STDIO:
            self._file = stdin
        else:
            try:
                self._file = open(path, "rb")  # noqa: SIM115 (closed by close())
            except FileNotFoundError:
                raise CaseFileError(f"{self.name}: no such file") from None
            except OSError as error:
                raise CaseFileError(
                    f"{self.name}: cannot read the file ({error.strerror or type(error).__name__})"
                ) from None
            with contextlib.suppress(OSError):
                status = os.fstat(self._file.fileno())
                if stat.S_ISREG(status.st_mode):
                    self._size = status.st_size
                elif stat.S_ISDIR(status.st_mode):
                    self._file.close()
                    raise CaseFileError(f"{self.name}: a folder, not a file of cases")
        self.rows_total: int | None = None
        if fmt == "parquet":
            try:
                self._open_parquet()
            except BaseException:
                self.close()
                raise

    def _open_parquet(self) -> None:
        _, parquet = pyarrow()
        data: IO[bytes] = self._file if self._size is not None else io.BytesIO(self._file.read())
        try:
            self._parquet = parquet.ParquetFile(data)
        except Exception:  # pyarrow's errors are its own classes; its messages may quote the file
            raise CaseFileError(f"{self.name}: not a Parquet file") from None
        self.rows_total = self._parquet.metadata.num_rows
        for number, column in enumerate(self._parquet.schema_arrow.names, start=1):
            if column not in COLUMNS:
                raise CaseFileError(
                    f"{self.name}: unknown column {shown_key(column)} (column {number}); "
                    "columns are id, title, as_of and profile fields"
                )

    def share(self, rows: int) -> float | None:
        """The share of the input read after ``rows`` rows, when it can be known."""
        if self.rows_total:
            return rows / self.rows_total
        if self._size:
            with contextlib.suppress(OSError, ValueError):
                return self._file.tell() / self._size
        return None

    def __iter__(self) -> Iterator[Item]:
        if self.fmt == "jsonl":
            return self._jsonl()
        if self.fmt == "csv":
            return self._csv()
        return self._parquet_rows()

    def close(self) -> None:
        """Close the file (never standard input)."""
        if self.name != "<stdin>":
            self._file.close()

    def _jsonl(self) -> Iterator[Item]:
        number = 0
        while line := self._file.readline(MAX_LINE_BYTES + 1):
            number += 1
            where = f"{self.name}:{number}"
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                while (rest := self._file.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass
                yield BadRow(where, number, f"{where}: longer than {MAX_LINE_BYTES} bytes")
                continue
            if number == 1 and line.startswith(codecs.BOM_UTF8):
                line = line[len(codecs.BOM_UTF8) :]
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as error:
                yield BadRow(where, number, f"{where}: not UTF-8 text (byte {error.start + 1} of the line)")
                continue
            if not text.strip():
                continue
            yield _json_row(where, number, text.rstrip("\r\n"), self.name)

    def _csv(self) -> Iterator[Item]:
        # surrogateescape: a row with bytes that are not UTF-8 is one bad row, not a broken file
        text = io.TextIOWrapper(self._file, encoding="utf-8-sig", errors="surrogateescape", newline="")
        reader = csv.reader(text)
        try:
            columns = csv_header(next(reader, None), self.name, set(COLUMNS), CaseFileError)
            start = reader.line_num + 1
            for cells in reader:
                number, start = start, reader.line_num + 1
                if not any(cell.strip() for cell in cells):
                    continue
                where = f"{self.name}:{number}"
                if len(cells) > len(columns):
                    yield BadRow(where, number, f"{where}: more cells than columns")
                elif not _utf8(cells):
                    yield BadRow(where, number, f"{where}: not UTF-8 text")
                else:
                    yield _table_row(where, number, dict(zip(columns, cells, strict=False)), text=True)
        except csv.Error as error:
            # csv's messages describe the structure ("field larger than field limit"), never a cell.
            raise CaseFileError(f"{self.name}:{reader.line_num}: unreadable CSV: {error}") from None
        finally:
            text.detach()

    def _parquet_rows(self) -> Iterator[Item]:
        number = 0
        for batch in self._parquet.iter_batches(batch_size=1024):
            for data in batch.to_pylist():
                number += 1
                where = f"{self.name}:{number}"
                yield _table_row(where, number, data, text=False)


def _utf8(cells: Sequence[str]) -> bool:
    try:
        for cell in cells:
            cell.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Bad(Exception):
    """A row's problem (the message never holds a value)."""


def _json_row(where: str, number: int, text: str, name: str) -> Item:
    try:
        data = parse_json(text, name, _Bad, line_offset=number - 1)
        if not isinstance(data, dict):
            raise _Bad(f"{where}: expected a JSON object (a case profile)")
        if "profile" in data:
            unknown = sorted(set(data) - set(_WRAPPER_KEYS))
            if unknown:
                raise _Bad(f"{where}: unknown key {shown_key(unknown[0])} next to profile")
            if not isinstance(data["profile"], dict):
                raise _Bad(f"{where}: profile must be a JSON object")
            profile = dict(data["profile"])
            case = {key: data.get(key) for key in CASE_KEYS}
        else:
            profile = {key: value for key, value in data.items() if key not in CASE_KEYS}
            case = {key: data.get(key) for key in CASE_KEYS}
        return _row(where, number, case, profile)
    except _Bad as error:
        problem = str(error)
        if problem.startswith(f"{name}: "):  # parse_json could not tell the line: it is this one
            problem = f"{where}: {problem[len(name) + 2 :]}"
        return BadRow(where, number, problem)


def _table_row(where: str, number: int, data: dict[str, Any], *, text: bool) -> Item:
    """A CSV or Parquet row: empty cells are unknown; ``languages`` and ``consents`` may be JSON text."""
    try:
        profile: dict[str, Any] = {}
        case: dict[str, Any] = {}
        for key, value in data.items():
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            if key in CASE_KEYS:
                case[key] = value.strip() if isinstance(value, str) else value
            elif key == "consents" and isinstance(value, str):
                profile[key] = _json_cell(where, key, value)
            elif key == "consents" and isinstance(value, list):
                # a Parquet list of structs: a field a consent leaves out reads back as null
                profile[key] = [_present(item) for item in value]
            elif key == "languages" and isinstance(value, str):
                cell = value.strip()
                profile[key] = (
                    _json_cell(where, key, cell) if cell.startswith("[") else cell.replace(";", " ").split()
                )
            else:
                profile[key] = value.strip() if text and isinstance(value, str) else value
        return _row(where, number, case, profile)
    except _Bad as error:
        return BadRow(where, number, str(error))


def _present(item: Any) -> Any:
    return {k: v for k, v in item.items() if v is not None} if isinstance(item, dict) else item


def _json_cell(where: str, column: str, cell: str) -> Any:
    try:
        return parse_json(cell, where, _Bad)
    except _Bad:
        raise _Bad(f"{where}: {column}: not valid JSON (expected a JSON array)") from None


def _row(where: str, number: int, case: dict[str, Any], profile: dict[str, Any]) -> Item:
    case_id = case.get("id")
    if case_id is not None:
        if isinstance(case_id, int) and not isinstance(case_id, bool):
            case_id = str(case_id)
        if not isinstance(case_id, str) or not case_id or len(case_id) > _MAX_ID:
            raise _Bad(f"{where}: id must be text of 1 to {_MAX_ID} characters or a whole number")
    title = case.get("title")
    if title is not None and not isinstance(title, str):
        raise _Bad(f"{where}: title must be text")
    return Row(where, number, case_id, _as_of(where, case.get("as_of")), profile)


def _as_of(where: str, value: Any) -> dt.date | None:
    if value is None:
        return None
    day: dt.date | None = None
    if isinstance(value, dt.datetime):
        day = value.date() if value.time() == dt.time(0) and value.tzinfo is None else None
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        with contextlib.suppress(ValueError):
            day = dt.date.fromisoformat(value.strip())
    if day is None:
        raise _Bad(f"{where}: as_of must be a date written as YYYY-MM-DD")
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise _Bad(f"{where}: as_of must be between {EARLIEST_DATE.isoformat()} and {LATEST_DATE}")
    return day


# -- writing -----------------------------------------------------------------------------------------

#: Columns of a result holding lists (service or step ids); CSV writes them separated by spaces.
LIST_COLUMNS = ("eligible", "next_steps")


class Sink:
    """Result records written to a file or standard output in one of :data:`FORMATS`.

    A file is written under a temporary name beside it and moved into place by ``commit()``;
    ``abort()`` removes it, so a failed run never leaves half a file (standard output, though,
    has received the records before the failure). Parquet is written in row groups of
    :data:`GROUP` records, so memory stays bounded there too.
    """

    GROUP = 4096

    def __init__(
        self,
        path: str,
        fmt: Format,
        columns: Sequence[str],
        stdout: IO[bytes] | None,
    ) -> None:
        self.fmt = fmt
        self.columns = tuple(columns)
        self.path = path
        self.name = "<stdout>" if path == STDIO else path
        self.count = 0
        self._temp: str | None = None
        self._buffer: list[dict[str, Any]] = []
        self._writer: Any = None
        if fmt == "parquet":
            self._pa, self._pq = pyarrow()
            pa = self._pa
            self._schema = pa.schema([(name, _arrow_type(pa, name)) for name in self.columns])
        self._file: IO[bytes]
        if path == STDIO:
            if stdout is None:
                raise UsageError("standard output here takes text only; give OUT a file name")
            self._file = stdout
        else:
            target = Path(path)
            if target.is_dir():
                raise CaseFileError(f"{self.name}: a folder; give the name of the file to write")
            descriptor, self._temp = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".part", dir=target.parent if str(target.parent) else "."
            )
            self._file = os.fdopen(descriptor, "wb")
            # mkstemp makes the file private; the result gets the mode a new file would get.
            umask = os.umask(0)
            os.umask(umask)
            with contextlib.suppress(OSError):
                os.chmod(descriptor, 0o666 & ~umask)
        self._text: io.TextIOWrapper | None = None
        self._csv: Any = None
        if fmt in ("jsonl", "csv"):
            self._text = io.TextIOWrapper(self._file, encoding="utf-8", newline="", write_through=False)
        if fmt == "csv":
            assert self._text is not None
            self._csv = csv.writer(self._text, lineterminator="\n")
            self._csv.writerow(self.columns)
        if fmt == "parquet":
            self._writer = self._pq.ParquetWriter(self._file, self._schema)

    def write(self, record: dict[str, Any]) -> None:
        """Write one record: a mapping of the columns (JSON lines: any JSON object)."""
        self.count += 1
        if self.fmt == "jsonl":
            assert self._text is not None
            self._text.write(json.dumps(record, ensure_ascii=False, default=_json_default) + "\n")
        elif self.fmt == "csv":
            self._csv.writerow([_csv_cell(record.get(name)) for name in self.columns])
        else:
            self._buffer.append(record)
            if len(self._buffer) >= self.GROUP:
                self._flush_parquet()

    def _flush_parquet(self) -> None:
        if self._buffer:
            table = self._pa.Table.from_pylist(self._buffer, schema=self._schema)
            self._writer.write_table(table)
            self._buffer = []

    def commit(self) -> None:
        """Finish the output: flush it and move a file into place."""
        if self.fmt == "parquet":
            self._flush_parquet()
            self._writer.close()
        if self._text is not None:
            self._text.flush()
            self._text.detach()
        self._file.flush()
        if self._temp is not None:
            self._file.close()
            os.replace(self._temp, self.path)
            self._temp = None

    def abort(self) -> None:
        """Give up: remove a partly written file (what went to standard output stays)."""
        with contextlib.suppress(Exception):
            if self._writer is not None:
                self._writer.close()
            if self._text is not None:
                self._text.flush()
                self._text.detach()
            self._file.flush()
        if self._temp is not None:
            with contextlib.suppress(OSError):
                self._file.close()
                os.unlink(self._temp)
            self._temp = None


def _arrow_type(pa: Any, column: str) -> Any:
    if column in ("row", "open_fields"):
        return pa.int64()
    if column == "as_of":
        return pa.date32()
    if column in LIST_COLUMNS:
        return pa.list_(pa.string())
    return pa.string()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value))
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(type(value).__name__)
