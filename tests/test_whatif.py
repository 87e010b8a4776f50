"""what_if and why_not on worked cases: moves, recognitions and the smallest changes a person can make."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from referral_engine import ProfileError, UsageError, recommend, what_if, why_not

from .worked import AS_OF

D = dt.date

#: A recognised refugee of 34 in vorläufige Unterbringung in Bad Krozingen.
PROVISIONAL: dict[str, Any] = {
    "age": 34,
    "residence_status": "ae_25_2_refugee",
    "accommodation": "vorlaeufige_unterbringung",
    "accommodation_since": D(2025, 9, 1),
    "municipality": "Bad Krozingen",
}
MOVE = {"accommodation": "anschlussunterbringung", "accommodation_since": D(2026, 3, 1)}
#: An asylum seeker of 30 in work, on AsylbLG.
ASYLUM: dict[str, Any] = {
    "age": 30,
    "residence_status": "gestattung",
    "language_level": "A1",
    "employment": "employed",
    "benefits": "asylblg",
    "municipality": "Bad Krozingen",
}
#: Unemployed, recognised, no German level on record: the Berufssprachkurs is open.
JOBSEEKER: dict[str, Any] = {
    "age": 40,
    "residence_status": "ae_25_2_refugee",
    "employment": "unemployed",
    "municipality": "Staufen",
}


def test_move_into_anschlussunterbringung_hands_over_to_integrationsmanagement() -> None:
    """Flüchtlingssozialarbeit (§ 12 FlüAG) ends with the move; Integrationsmanagement begins."""
    result = what_if(PROVISIONAL, MOVE, as_of=AS_OF)
    assert result.fields == ("accommodation", "accommodation_since")
    assert set(result.changed) == {"fluechtlingssozialarbeit", "integrationsmanagement"}
    change = {d.service: d for d in result.decisions}
    assert (change["fluechtlingssozialarbeit"].before, change["fluechtlingssozialarbeit"].after) == (
        "eligible",
        "not_eligible",
    )
    assert change["fluechtlingssozialarbeit"].partners_before == ("landratsamt_fsa",)
    assert change["integrationsmanagement"].partners_after == ("stadt_bad_krozingen",)
    assert [r.rule for r in change["integrationsmanagement"].reasons] == [
        "integrationsmanagement-follow-up-accommodation"
    ]
    assert {step.service for step in result.steps_added} == {"integrationsmanagement"}
    assert {step.service for step in result.steps_removed} == {"fluechtlingssozialarbeit"}
    # Three years of Integrationsmanagement from the move (P3Y ends 2029-03-01).
    assert result.after.decision("integrationsmanagement").valid_until == D(2029, 3, 2)


def test_recognition_moves_benefits_from_asylblg_to_jobcenter() -> None:
    """Recognition as a refugee ends AsylbLG (§ 1 Abs. 3 AsylbLG) and opens the Jobcenter (SGB II)."""
    result = what_if(ASYLUM, {"residence_status": "ae_25_2_refugee"}, as_of=AS_OF)
    change = {d.service: (d.before, d.after) for d in result.decisions}
    assert change["asylblg"] == ("eligible", "not_eligible")
    assert change["jobcenter"] == ("not_eligible", "eligible")
    # Only for asylum seekers; after recognition a check while the course entitlement is open (review #14).
    assert change["erstorientierungskurs"] == ("eligible", "undetermined")
    assert "jobcenter" in result.partners_changed
    text = result.explain("en")
    assert text.startswith("jobcenter: not eligible → eligible (Responsible: – → jobcenter)")
    assert (
        "✓ residence status is one of permit § 25(1) (asylum), permit § 25(2) (refugee status), "
        "permit § 25(2) (subsidiary protection)" in text
    )
    assert "met (permit § 25(2) (refugee status))" in text
    assert "(permit § 25(2) (refugee status))" not in result.explain("en", redact=True)


def test_no_change_reports_no_change() -> None:
    """An empty change, or one that sets a value already there, changes nothing."""
    for changes in ({}, {"age": 34}):
        result = what_if(PROVISIONAL, changes, as_of=AS_OF)
        assert result.changed == ()
        assert result.decisions == ()
        assert result.steps_added == result.steps_removed == ()
        assert result.explain("en") == "No change."


def test_what_if_repr_and_html() -> None:
    """The repr names fields and services but no values; the HTML shows the explanation."""
    result = what_if(PROVISIONAL, MOVE, as_of=AS_OF, lang="en")
    assert "2026" not in repr(result)
    assert "anschlussunterbringung" not in repr(result)
    assert repr(result).startswith("WhatIf(fields=('accommodation', 'accommodation_since'), changed=(")
    assert result._repr_html_().startswith("<pre>integrationsmanagement: not eligible → eligible")


def test_what_if_rejects_bad_changes() -> None:
    """A change that is not a mapping is a UsageError; an unknown field or bad value a ProfileError."""
    with pytest.raises(UsageError, match="mapping"):
        what_if(PROVISIONAL, [("age", 3)], as_of=AS_OF)  # type: ignore[arg-type]
    with pytest.raises(ProfileError, match="unknown field"):
        what_if(PROVISIONAL, {"agee": 3}, as_of=AS_OF)
    with pytest.raises(ProfileError) as caught:
        what_if(PROVISIONAL, {"language_level": "Z9"}, as_of=AS_OF)
    assert "Z9" not in str(caught.value)


def test_why_not_berufssprachkurs_lists_conditions_and_smallest_changes() -> None:
    """An unemployed refugee without a German level: register as a jobseeker and reach B1, or work with A2."""
    result = why_not(JOBSEEKER, "berufssprachkurs", as_of=AS_OF)
    assert result.status == "undetermined"
    blocking = {(c.field, c.outcome) for c in result.conditions}
    assert {
        ("registered_jobseeker", "unknown"),
        ("language_level", "unknown"),
        ("employment", "failed"),
    } <= blocking
    # berufssprachkurs-labour-market needs labour-market proximity and B1 (or a completed course);
    # berufssprachkurs-job-bsk needs employment and A2. Two changes are the fewest that work.
    alternatives = [dict(sorted(a.items())) for a in result.alternatives]
    assert {"language_level": "B1", "registered_jobseeker": True} in alternatives
    assert {"employment": "employed", "language_level": "A2"} in alternatives
    assert {"employment": "training", "language_level": "B1"} in alternatives
    assert {"integration_course": "completed", "registered_jobseeker": True} in alternatives
    assert {"employment": "employed", "language_level": "B1"} not in alternatives  # A2 is enough
    assert all(len(a) == 2 for a in alternatives)
    for alternative in result.alternatives:
        assert (
            recommend({**JOBSEEKER, **alternative}, as_of=AS_OF).decision("berufssprachkurs").status
            == "eligible"
        )


def test_why_not_single_change_first() -> None:
    """With B1 on record, registering as a jobseeker alone is enough: no pairs are offered."""
    result = why_not({**JOBSEEKER, "language_level": "B1"}, "berufssprachkurs", as_of=AS_OF)
    assert {"registered_jobseeker": True} in result.alternatives
    assert all(len(a) == 1 for a in result.alternatives)
    assert "alternatives=[['registered_jobseeker']" in repr(result)


def test_why_not_is_empty_when_no_change_of_the_person_helps() -> None:
    """JMD at 30 cannot be reached by changing German, work or courses."""
    result = why_not(JOBSEEKER, "jmd", as_of=AS_OF)
    assert result.status == "not_eligible"
    # The JMD rules all need age < 27 (listed once); the two checks also name a status each
    # (arrival certificate; ausreisepflichtig, review #21).
    assert [(c.field, c.op, c.outcome) for c in result.conditions] == [
        ("age", "lt", "failed"),
        ("residence_status", "eq", "failed"),
        ("residence_status", "eq", "failed"),
    ]
    assert result.alternatives == ()


def test_why_not_eligible_service() -> None:
    """An eligible service has nothing in the way."""
    result = why_not(JOBSEEKER, "berufsberatung", as_of=AS_OF)
    assert result.status == "eligible"
    assert result.conditions == ()
    assert result.alternatives == ()


def test_why_not_rejects_bad_arguments() -> None:
    """An unknown service and an unsupported search size are usage errors."""
    with pytest.raises(UsageError, match="unknown service"):
        why_not(JOBSEEKER, "nope", as_of=AS_OF)
    with pytest.raises(UsageError, match="max_changes"):
        why_not(JOBSEEKER, "jmd", as_of=AS_OF, max_changes=3)


def test_what_if_and_why_not_accept_the_python_engine() -> None:
    """Both pass the engine on; an unknown engine is a usage error."""
    assert what_if(PROVISIONAL, MOVE, as_of=AS_OF, engine="python").changed
    with pytest.raises(UsageError, match="engine"):
        what_if(PROVISIONAL, MOVE, as_of=AS_OF, engine="nope")
    with pytest.raises(UsageError, match="engine"):
        why_not(JOBSEEKER, "berufssprachkurs", as_of=AS_OF, engine="nope")


def test_dates_and_datetimes_for_as_of() -> None:
    """A datetime as_of counts as its date; anything else is a usage error."""
    moment = dt.datetime(2026, 3, 1, 9, 30)
    assert why_not(JOBSEEKER, "berufssprachkurs", as_of=moment) == why_not(
        JOBSEEKER, "berufssprachkurs", as_of=AS_OF
    )
    assert what_if(PROVISIONAL, MOVE, as_of=moment).changed == what_if(PROVISIONAL, MOVE, as_of=AS_OF).changed
    with pytest.raises(UsageError, match="as_of"):
        what_if(PROVISIONAL, MOVE, as_of="2026-03-01")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="as_of"):
        why_not(JOBSEEKER, "jmd", as_of="2026-03-01")  # type: ignore[arg-type]
