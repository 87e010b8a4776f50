"""Text and HTML for notebooks: why-not, check reports and the diff, in the result's language."""

from __future__ import annotations

import datetime as dt

from referral_engine import default_ruleset, why_not
from referral_engine.verify import check

AS_OF = dt.date(2026, 3, 1)
LEARNER = {
    "age": 30,
    "residence_status": "ae_25_1",
    "language_level": "A1",
    "benefits": "sgb2",
    "employment": "unemployed",
    "registered_jobseeker": True,
    "municipality": "Staufen",
}


def test_why_not_explains_what_blocks_and_what_would_help_in_its_language() -> None:
    """The text names the blocking conditions and the smallest changes, in the language asked for."""
    result = why_not(LEARNER, "berufssprachkurs", as_of=AS_OF, lang="en")
    text = result.explain()
    assert text.splitlines()[0] == "Job-related German course: undetermined"
    assert "German level ≥ B1: not met (A1)" in text
    assert "Smallest changes that help:" in text
    assert "German level = B1" in text
    german = result.explain("de")
    assert "Kleinste Änderungen, die helfen:" in german


def test_redacted_why_not_shows_no_value_of_the_person() -> None:
    """With redact=True neither the actual values nor the values of the alternatives appear."""
    text = why_not(LEARNER, "berufssprachkurs", as_of=AS_OF, lang="en").explain(redact=True)
    assert "(A1)" not in text
    assert "unemployed" not in text
    assert "= B1" not in text


def test_why_not_html_is_in_the_result_language() -> None:
    """A WhyNot shows as HTML in a notebook, in the language why_not() was asked for."""
    html = why_not(LEARNER, "berufssprachkurs", as_of=AS_OF, lang="en")._repr_html_()
    assert html.startswith("<div><p><b>Job-related German course: undetermined</b>")
    assert "In the way:" in html
    assert "Steht entgegen" in why_not(LEARNER, "berufssprachkurs", as_of=AS_OF)._repr_html_()


def test_an_eligible_service_has_nothing_in_the_way() -> None:
    """For an eligible service the text is one line."""
    text = why_not({**LEARNER, "language_level": "B1"}, "berufssprachkurs", as_of=AS_OF, lang="en").explain()
    assert text == "Job-related German course: eligible"


def test_a_check_report_is_short_in_a_repr_and_a_table_in_html() -> None:
    """Repr gives counts, not 25 KB of findings; the HTML is a table with every error and warning."""
    report = check(default_ruleset())
    assert repr(report).startswith("Report('bad-krozingen-staufen@")
    assert len(repr(report)) < 200
    html = report._repr_html_()
    assert html.count("<tr>") == 1 + len(report.errors) + len(report.warnings)
    assert "0 errors" in html
