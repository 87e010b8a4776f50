"""No echo: case values never reach messages, redacted texts or caches that outlive the case.

Planted marker values stand for personal data; every check asserts that they do not appear.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from referral_engine import CaseFileError, load_ruleset, recommend
from referral_engine.impact import read_cases

from .conftest import FIXTURES

MARKER = "SECRET-Amina-4711"
BIRTH = dt.date(1999, 8, 17)  # the 27th birthday is a change date in the bundled rules
DAY = dt.date(2026, 3, 1)


def test_a_redacted_timeline_shows_no_date() -> None:
    """Timeline.text(redact=True) keeps the order of changes but leaves out every date."""
    rec = recommend(
        {"birth_date": BIRTH.isoformat(), "residence_status": "gestattung", "municipality": "Staufen"},
        as_of=DAY,
    )
    timeline = rec.timeline(dt.date(2030, 1, 1))
    assert timeline.changes, "the case must have changes for this test to mean anything"
    plain = timeline.text()
    redacted = timeline.text(redact=True)
    assert "2026-08-17" in plain  # the 27th birthday
    assert not re.search(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", redacted)
    assert len(redacted.splitlines()) == len(plain.splitlines())
    assert all(line.startswith("- ") for line in redacted.splitlines())


@pytest.mark.parametrize(
    "content",
    [
        f"34,gestattung,{MARKER}\n35,duldung,x\n",
        f"age,municipality,age\n34,{MARKER},1\n",
        f"{MARKER},age\n1,2\n",
    ],
    ids=["no-header", "duplicate-column", "marker-as-column"],
)
def test_csv_headers_are_checked_before_any_row_is_read(tmp_path: Path, content: str) -> None:
    """A CSV whose header is missing, repeated or wrong is refused without showing a cell."""
    path = tmp_path / "cases.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CaseFileError, match=r"cases.csv:1: ") as caught:
        read_cases(path)
    assert MARKER not in str(caught.value)
    assert "gestattung" not in str(caught.value)


def test_a_duplicate_json_key_in_a_case_file_is_refused_with_its_line(tmp_path: Path) -> None:
    """Duplicate keys are not resolved silently: the second one is reported by line."""
    path = tmp_path / "cases.jsonl"
    path.write_text(f'{{"age": 30}}\n{{"municipality": "{MARKER}", "municipality": "x"}}\n', encoding="utf-8")
    with pytest.raises(CaseFileError, match=r"cases.jsonl:2: duplicate key 'municipality'") as caught:
        read_cases(path)
    assert MARKER not in str(caught.value)


def test_explanations_strip_terminal_control_characters_from_rule_text(tmp_path: Path) -> None:
    """A rule note with escape sequences is explained without them."""
    folder = tmp_path / "rules"
    shutil.copytree(FIXTURES / "minimal", folder)
    rule_file = folder / "eligibility" / "adult.yaml"
    text = rule_file.read_text(encoding="utf-8")
    rule_file.write_text(
        text.replace(
            '    source: "test source C"\n',
            '    source: "test source C"\n'
            '    note: {de: "Hinweis \\e[31mrot\\e[0m", en: "note \\e]0;x\\a \\u202eok"}\n',
            1,
        ),
        encoding="utf-8",
    )
    rules = load_ruleset(folder)
    rec = recommend(
        {"age": 30, "entry_date": "2025-01-01", "residence_status": "settlement"}, as_of=DAY, ruleset=rules
    )
    for lang in ("de", "en"):
        explained = rec.decision("adult").explain(lang)
        assert "\x1b" not in explained
        assert "\x07" not in explained
        assert "\u202e" not in explained
    assert "Hinweis [31mrot[0m" in rec.decision("adult").explain("de")
