"""The library logs what it loads and which engine it uses, at debug level, never case data."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from referral_engine import load_ruleset, recommend, what_if

from .conftest import FIXTURES

MARK_DATE = dt.date(1991, 7, 13)


def test_the_library_logger_has_a_null_handler() -> None:
    """The library logger has a NullHandler: an application without logging set up sees nothing."""
    handlers = logging.getLogger("referral_engine").handlers
    assert any(isinstance(handler, logging.NullHandler) for handler in handlers)


def test_loading_rules_logs_path_digest_counts_and_time(caplog: pytest.LogCaptureFixture) -> None:
    """load_ruleset logs one debug record with the folder, the digest, counts and the time taken."""
    with caplog.at_level(logging.DEBUG, logger="referral_engine"):
        ruleset = load_ruleset(FIXTURES / "minimal")
    records = [r for r in caplog.records if r.name == "referral_engine.loader"]
    assert len(records) == 1
    message = records[0].getMessage()
    assert str(FIXTURES / "minimal") in message
    assert ruleset.digest in message
    assert f"{len(ruleset.rules)} rules" in message
    assert " ms" in message
    assert records[0].levelno == logging.DEBUG


def test_recommend_logs_the_engine_and_no_case_data(caplog: pytest.LogCaptureFixture) -> None:
    """Recommend and what_if log the engine and rule set, and no value of the profile."""
    profile = {
        "birth_date": MARK_DATE,
        "entry_date": dt.date(2019, 11, 17),
        "municipality": "Staufen",
        "languages": ["ti"],
        "residence_status": "ae_25_2_refugee",
    }
    with caplog.at_level(logging.DEBUG, logger="referral_engine"):
        recommend(profile, as_of=dt.date(2026, 3, 1))
        what_if(profile, {"language_level": "B1"}, as_of=dt.date(2026, 3, 1))
    assert any("engine" in record.getMessage() for record in caplog.records)
    text = "\n".join(f"{record.getMessage()} {record.args!r}" for record in caplog.records)
    for planted in ("1991", "07-13", "2019", "11-17", "Staufen", "'ti'", "ae_25_2_refugee", "B1"):
        assert planted not in text
