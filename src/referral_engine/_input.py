"""Reading case files strictly: JSON without duplicate keys, CSV with a checked header.

Case files hold personal data, so every message here names a place (``file:line``, a key, a
column) and never a value. A key or column is named only when it looks like a field name;
anything else may itself be personal data (a name typed into the wrong cell) and is called
"an unknown key".
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

#: How deeply JSON arrays and objects may nest in a case (a profile nests two levels).
MAX_DEPTH = 32

_FIELD_LIKE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

Fail = Callable[[str], Exception]


def shown_key(key: object) -> str:
    """A key as an error message may show it: quoted when field-like, else ``an unknown key``."""
    if isinstance(key, str) and _FIELD_LIKE.match(key):
        return f"'{key}'"
    return "(a name that is no field name, not shown)"


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Duplicate(key)
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _line_of_second(text: str, key: str) -> int | None:
    """The line of the second occurrence of ``"key":`` in ``text`` (where a duplicate is)."""
    pattern = re.compile(re.escape(json.dumps(key)) + r"\s*:")
    found = list(itertools.islice(pattern.finditer(text), 2))
    if len(found) < 2:
        return None
    return text.count("\n", 0, found[1].start()) + 1


def _depth_ok(value: Any, depth: int = 0) -> bool:
    stack: list[tuple[Any, int]] = [(value, depth)]
    while stack:
        item, level = stack.pop()
        if level > MAX_DEPTH:
            return False
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return True


def _surrogate_free(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def parse_json(text: str, where: str, fail: Fail, *, line_offset: int = 0) -> Any:
    r"""The JSON value in ``text``; any problem raises ``fail(message)`` naming ``where`` and the line.

    Duplicate keys, ``NaN``/``Infinity``, integers of more than 4,300 digits, nesting deeper
    than :data:`MAX_DEPTH` and lone surrogates (``"\\ud800"``) are refused.
    """
    try:
        data = json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constant)
    except _Duplicate as error:
        line = _line_of_second(text, error.key)
        place = f"{where}:{line + line_offset}" if line is not None else where
        raise fail(f"{place}: duplicate key {shown_key(error.key)}") from None
    except json.JSONDecodeError as error:
        raise fail(f"{where}:{error.lineno + line_offset}:{error.colno}: invalid JSON: {error.msg}") from None
    except RecursionError:
        raise fail(f"{where}: invalid JSON: nested too deeply") from None
    except ValueError:
        # int() refuses more than 4,300 digits; parse_constant refuses NaN and Infinity.
        raise fail(f"{where}: invalid JSON: a number that is too long or not finite") from None
    if not _depth_ok(data):
        raise fail(f"{where}: invalid JSON: nested more than {MAX_DEPTH} levels deep")
    if not _surrogate_free(data):
        raise fail(f"{where}: invalid JSON: text with a lone surrogate (\\ud800-\\udfff)")
    return data


def csv_header(header: list[str] | None, name: str, allowed: set[str], fail: Fail) -> list[str]:
    """The column names of a CSV header row, checked: distinct names from ``allowed``.

    A file without a header (whose first line holds a case) is refused without showing that line.
    """
    if header is None:
        raise fail(f"{name}:1: empty file; expected a header row of column names")
    columns = [cell.strip() for cell in header]
    seen: dict[str, int] = {}
    for number, column in enumerate(columns, start=1):
        if column not in allowed:
            raise fail(
                f"{name}:1: unknown column {shown_key(column)} (column {number}); columns are id, "
                "as_of and profile fields; is the header row missing?"
            )
        if column in seen:
            raise fail(
                f"{name}:1: column {shown_key(column)} appears twice (columns {seen[column]} and {number})"
            )
        seen[column] = number
    return columns


def csv_rows(text: str, name: str, allowed: set[str], fail: Fail) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line, row)`` for each data row of a CSV file whose header is checked before any row is read.

    The header must consist of distinct names from ``allowed``: a file without a header (whose
    first line holds a case) is refused without showing that line.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        columns = csv_header(next(reader, None), name, allowed, fail)
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(columns):
                raise fail(f"{name}:{line}: more cells than columns")
            yield line, dict(zip(columns, row, strict=False))
    except csv.Error as error:
        # csv's messages describe the structure ("field larger than field limit"), never a cell.
        raise fail(f"{name}:{reader.line_num}: unreadable CSV: {error}") from None
