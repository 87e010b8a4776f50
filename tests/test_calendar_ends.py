"""Dates at the ends of the calendar never raise a raw error.

Date arithmetic saturates at ``date.min`` / ``date.max``: a period that would end after
9999-12-31 ends with it, and a change "the day after 9999-12-31" does not exist. Case data is
bounded to 1900-01-01 … 2100-12-31 (a ProfileError outside); rule files may use the sentinel
9999-12-31 for "open-ended".
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from referral_engine import load_ruleset, recommend, what_if, why_not
from referral_engine.dates import Duration, add_days, add_months, period_end
from referral_engine.impact import diff
from referral_engine.models import EARLIEST_DATE, LATEST_DATE
from referral_engine.timeline import birthday
from referral_engine.verify import check

from .conftest import FIXTURES

END = dt.date.max


def test_date_arithmetic_saturates_at_both_ends() -> None:
    """Moving past 9999-12-31 or before 0001-01-01 stops at the end instead of raising."""
    assert add_months(END, 1) == END
    assert add_months(dt.date.min, -1) == dt.date.min
    assert add_days(END, 1) == END
    assert add_days(dt.date.min, -1) == dt.date.min
    assert period_end(dt.date(9999, 6, 1), Duration(years=3)) == END
    assert birthday(dt.date(9990, 1, 1), 27) is None


@pytest.mark.parametrize(
    ("profile", "as_of"),
    [
        ({"entry_date": "2100-12-31", "residence_status": "gestattung"}, LATEST_DATE),
        ({"age": 30, "entry_date": "2024-01-01", "residence_status": "gestattung"}, LATEST_DATE),
        ({"birth_date": "2100-01-01", "entry_date": "2100-06-30"}, dt.date(2100, 12, 1)),
        ({"birth_date": "1900-01-01", "entry_date": "1900-01-01"}, EARLIEST_DATE),
    ],
)
def test_recommend_what_if_and_why_not_work_at_the_ends(profile: dict[str, object], as_of: dt.date) -> None:
    """Every entry point decides cases with dates at the ends of the allowed range, timeline included."""
    rec = recommend(profile, as_of=as_of)
    assert rec.timeline(END).until == END
    assert what_if(profile, {"entry_date": as_of.isoformat()}, as_of=as_of).after.as_of == as_of
    assert why_not(profile, "jmd", as_of=as_of).service == "jmd"


@pytest.fixture
def open_ended(tmp_path: Path) -> Path:
    """The minimal rules with a rule valid until 9999-12-31 and one valid from it.

    The late one is a youth rule: moving the adult exclusion of people without papers to 9999 would
    leave the office's adult service open to them, which the loader's § 87 guard rejects.
    """
    folder = tmp_path / "rules"
    shutil.copytree(FIXTURES / "minimal", folder)
    rules = folder / "eligibility" / "adult.yaml"
    text = rules.read_text(encoding="utf-8")
    text = text.replace(
        "    valid_from: 2020-01-01\n", "    valid_from: 2020-01-01\n    valid_to: 9999-12-31\n", 1
    )
    rules.write_text(text, encoding="utf-8")
    youth = folder / "eligibility" / "youth.yaml"
    text = youth.read_text(encoding="utf-8")
    text = text.replace(
        '    source: "test source B"\n', '    source: "test source B"\n    valid_from: 9999-12-31\n', 1
    )
    youth.write_text(text, encoding="utf-8")
    return folder


def test_check_and_diff_handle_rules_valid_until_9999(open_ended: Path) -> None:
    """The check and diff sweeps take rule sets whose validity windows reach 9999-12-31 without overflow."""
    assert check(open_ended).points > 0
    impact = diff(load_ruleset(open_ended), load_ruleset(FIXTURES / "minimal"), as_of=dt.date(2100, 12, 30))
    assert impact.cases > 0
