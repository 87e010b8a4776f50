"""Explanations: reasons as data and text, redaction, next question, repr and HTML."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from referral_engine import ConditionOutcome, UsageError, default_ruleset, recommend
from referral_engine.explain import FIELD_LABELS, condition_text, duration_text

from .worked import AS_OF

D = dt.date

TWENTY_SIX: dict[str, Any] = {
    "birth_date": D(1999, 5, 15),
    "residence_status": "ae_25_2_refugee",
    "entry_date": D(2024, 1, 10),
    "municipality": "Staufen",
}


def test_reason_conditions_carry_actual_values() -> None:
    """Each condition names field, operator, required value, the case's value and the outcome."""
    mbe = recommend(TWENTY_SIX, as_of=AS_OF).decision("mbe")
    arrival = mbe.reasons[0]
    assert arrival.rule == "mbe-within-3-years-of-arrival"
    assert [(c.field, c.op, c.outcome, c.actual) for c in arrival.conditions] == [
        ("age", "ge", "failed", 26),
        ("residence_status", "in", "met", "ae_25_2_refugee"),
        ("entry_date", "within", "met", "2024-01-10"),
    ]
    second = mbe.reasons[1]
    assert (second.conditions[2].field, second.conditions[2].actual) == ("status_since", None)


def test_language_level_is_shown_by_its_cefr_name() -> None:
    """The German level is shown as B1, not as its rank on the scale."""
    rec = recommend({"language_level": "B1", "residence_status": "ae_25_3"}, as_of=AS_OF)
    condition = rec.decision("integrationskurs").reasons[0].conditions[0]
    assert (condition.field, condition.value, condition.actual) == ("language_level", "B1", "B1")


def test_explain_in_german_and_english() -> None:
    """explain() renders status, partners, change date, each rule and each condition."""
    jmd = recommend(TWENTY_SIX, as_of=AS_OF).decision("jmd")
    de = jmd.explain()
    assert de.splitlines()[:4] == [
        "Jugendmigrationsdienst (JMD): berechtigt",
        "Zuständig: Diakonisches Werk (Beispiel-Träger – für den eigenen Einsatz ersetzen)",
        "Ändert sich am: 2026-05-15",
        "- Regel jmd-lawful-or-tolerated (begründet Anspruch; trifft zu; gültig ab 2017-01-01; "
        "Sicherheit: Sekundärquelle)",
    ]
    assert "  ✓ Alter < 27: erfüllt (26)" in de.splitlines()
    en = jmd.explain("en")
    assert "  ✓ age < 27: met (26)" in en.splitlines()
    assert "Changes on: 2026-05-15" in en
    assert "Source: KJP-Programm Jugendmigrationsdienste" in en


def test_redacted_explanation_has_no_personal_values() -> None:
    """redact=True keeps outcomes but drops the case's values and the change date."""
    rec = recommend(TWENTY_SIX, as_of=AS_OF)
    text = rec.decision("mbe").explain(redact=True)
    assert "  ✗ Alter ≥ 27: nicht erfüllt" in text.splitlines()
    for value in ("(26)", "2024-01-10", "(AE § 25 Abs. 2 (Flüchtlingseigenschaft))", "2026-05-15"):
        assert value not in text


def test_missing_and_unknown_are_rendered() -> None:
    """Unknown conditions read 'unknown' and the open fields are listed by name."""
    rec = recommend({"age": 19}, as_of=AS_OF, lang="en")
    text = rec.decision("jmd").explain("en")
    assert (
        "  ? residence status is none of without papers, obliged to leave, no Duldung, "
        "arrival certificate: unknown" in text
    )
    assert text.splitlines()[-1] == "Missing facts: residence status"


@pytest.mark.parametrize(
    ("condition", "de", "en"),
    [
        (("age", "ge", 27, "failed", 26), "Alter ≥ 27: nicht erfüllt (26)", "age ≥ 27: not met (26)"),
        (
            ("entry_date", "older_than", "P6M", "met", "2020-01-01"),
            "Einreise liegt mehr als 6 Monate zurück: erfüllt (2020-01-01)",
            "arrival more than 6 months ago: met (2020-01-01)",
        ),
        (
            ("status_since", "within", "P1Y6M", "unknown", None),
            "Erteilung des Titels liegt höchstens 1 Jahr 6 Monate zurück: unbekannt",
            "issue of the title within the last 1 year 6 months: unknown",
        ),
        (
            ("registered_jobseeker", "eq", True, "failed", False),
            "arbeitsuchend gemeldet = ja: nicht erfüllt (nein)",
            "registered as a jobseeker = yes: not met (no)",
        ),
        (("languages", "contains", "ar", "met", ("ar", "de")), "Sprachen enthält ar: erfüllt (ar, de)", None),
    ],
)
def test_condition_text(condition: tuple[Any, ...], de: str, en: str | None) -> None:
    """Each operator reads as a short phrase in both languages."""
    field, op, value, outcome, actual = condition
    item = ConditionOutcome(field=field, op=op, value=value, outcome=outcome, actual=actual)
    assert condition_text(item, "de") == de
    if en is not None:
        assert condition_text(item, "en") == en
    assert "(" not in condition_text(item, "de", redact=True)


def test_every_field_has_a_label() -> None:
    """Every field a rule can test has a German and an English label."""
    assert set(default_ruleset().fields) <= set(FIELD_LABELS)


def test_duration_text() -> None:
    """Durations read in words."""
    assert duration_text("P3Y", "de") == "3 Jahre"
    assert duration_text("P1Y", "en") == "1 year"
    assert duration_text("P90D", "en") == "90 days"


def test_explain_rejects_an_unknown_language() -> None:
    """The language must be de or en."""
    jmd = recommend(TWENTY_SIX, as_of=AS_OF).decision("jmd")
    with pytest.raises(UsageError, match="lang"):
        jmd.explain("fr")


def test_repr_never_shows_personal_values() -> None:
    """Condition, decision and recommendation reprs show structure, not the case's values."""
    rec = recommend(TWENTY_SIX, as_of=AS_OF)
    mbe = rec.decision("mbe")
    for text in (repr(mbe), str(mbe), repr(mbe.reasons[0]), repr(rec), repr(rec.changes)):
        assert "2024-01-10" not in text
        assert "2026-05-15" not in text
        assert "26)" not in text
        assert "actual" not in text
    assert repr(mbe).startswith(
        "ServiceDecision(service='mbe', status='not_eligible', partners=(), sample_partners=(), reasons=8"
    )
    assert repr(mbe).endswith("valid_until=<set>)")


def test_decision_and_recommendation_html() -> None:
    """_repr_html_ gives a block per decision in its own language, partner names, and a table, escaped."""
    rec = recommend(TWENTY_SIX, as_of=AS_OF, lang="en")
    html = rec.decision("jmd")._repr_html_()
    assert html.startswith("<div><p><b>Youth Migration Service (JMD)</b>: <b style=")
    assert "<li>✓ age &lt; 27: met (26)</li>" in html  # English, like the recommendation
    assert "Responsible: Diakonisches Werk (example operator" in html  # a name, not the id
    assert "Responsible: diakonie" not in html
    assert (
        "<li>✓ Alter &lt; 27: erfüllt (26)</li>"
        in recommend(TWENTY_SIX, as_of=AS_OF).decision("jmd")._repr_html_()
    )
    table = rec._repr_html_()
    assert "<th>Service</th>" in table
    assert "<td>Youth Migration Service (JMD)</td>" in table
    assert "<td>Diakonisches Werk (example operator" in table
    assert "<td>2026-05-15</td>" in table
    assert table.count("<tr>") == len(rec.decisions) + 1
    assert "<th>Leistung</th>" in recommend(TWENTY_SIX, as_of=AS_OF)._repr_html_()


def test_next_question_is_the_top_ranked_missing_field() -> None:
    """next_question() is the missing field that settles the most open decisions, with its text."""
    profile = {
        "age": 19,
        "residence_status": "gestattung",
        "municipality": "Staufen",
        "accommodation": "vorlaeufige_unterbringung",
    }
    rec = recommend(profile, as_of=AS_OF, lang="en")
    question = rec.next_question()
    assert question is not None
    assert question.field == rec.missing[0] == "employment"
    assert question.text == default_ruleset().fields["employment"].question.en
    assert [q.field for q in rec.questions] == list(rec.missing)
    settles = [q.settles for q in rec.questions]
    assert settles == sorted(settles, reverse=True)
    # employment decides integrationskurs (obligation rule), arbeitsagentur and berufssprachkurs.
    assert question.settles == sum("employment" in d.missing for d in rec.decisions)
    assert recommend(profile, as_of=AS_OF).next_question().text.startswith("Ist die Person")  # type: ignore[union-attr]


def test_no_next_question_when_nothing_is_missing() -> None:
    """A recommendation without open fields has no next question."""
    rec = recommend({"age": 30}, as_of=AS_OF)
    complete = rec.model_copy(update={"questions": ()})
    assert complete.next_question() is None


def test_blocking_conditions() -> None:
    """Blocking conditions: failed or unknown ones of a grant, met ones of an exclusion."""
    rec = recommend({**TWENTY_SIX, "language_level": "B2"}, as_of=AS_OF)
    course = rec.decision("integrationskurs")
    assert course.status == "not_eligible"
    assert [(c.field, c.outcome) for c in course.blocking] == [("language_level", "met")]
    assert rec.decision("jmd").blocking == ()


def test_recommendation_round_trips_through_json() -> None:
    """Questions, changes and valid_until survive model_dump_json / model_validate_json."""
    from referral_engine import Recommendation

    rec = recommend(TWENTY_SIX, as_of=AS_OF)
    again = Recommendation.model_validate_json(rec.model_dump_json())
    assert again == rec
    assert again.timeline(D(2027, 1, 1)) == rec.timeline(D(2027, 1, 1))


def test_every_residence_status_has_a_name_in_german_and_english() -> None:
    """Explanations show residence statuses by their legal names, never as raw codes."""
    from typing import get_args

    from referral_engine.explain import STATUS_LABELS, condition_text
    from referral_engine.models import ConditionOutcome, ResidenceStatus

    assert set(STATUS_LABELS) == set(get_args(ResidenceStatus))
    condition = ConditionOutcome(
        field="residence_status",
        op="in",
        value=("gestattung", "ae_25_2_refugee"),
        outcome="met",
        actual="gestattung",
    )
    assert condition_text(condition, "de") == (
        "Aufenthaltsstatus ist eines von Aufenthaltsgestattung, AE § 25 Abs. 2 (Flüchtlingseigenschaft): "
        "erfüllt (Aufenthaltsgestattung)"
    )
    assert "gestattung" not in condition_text(condition, "en").replace("Gestattung", "")
