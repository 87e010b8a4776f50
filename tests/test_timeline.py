"""Time: rules in force on as_of, valid_until and the timeline of coming changes, on worked cases.

Expected dates are derived by hand from the bundled rules and §§ 187, 188 BGB, not copied from
a run: the comment next to each says which rule and which period gives it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from referral_engine import Handover, UsageError, recommend
from referral_engine.timeline import birthday, change_dates

from .worked import AS_OF

D = dt.date

#: 26 years old on 2026-03-01; arrived 2024-01-10 as a recognised refugee.
TWENTY_SIX: dict[str, Any] = {
    "birth_date": D(1999, 5, 15),
    "residence_status": "ae_25_2_refugee",
    "entry_date": D(2024, 1, 10),
    "municipality": "Staufen",
}
#: An asylum seeker in work with A1 German, for the integration-course admission stop.
APPLICANT: dict[str, Any] = {
    "age": 30,
    "residence_status": "gestattung",
    "language_level": "A1",
    "employment": "employed",
    "benefits": "asylblg",
    "municipality": "Bad Krozingen",
}
#: A refugee from Ukraine (§ 24) on Bürgergeld.
UKRAINE: dict[str, Any] = {
    "age": 40,
    "residence_status": "ae_24",
    "language_level": "A1",
    "employment": "unemployed",
    "benefits": "sgb2",
    "municipality": "Staufen",
}


def test_jmd_hands_over_to_mbe_on_the_27th_birthday() -> None:
    """JMD ends and MBE (arrival within 3 years) begins on the 27th birthday, a handover."""
    rec = recommend(TWENTY_SIX, as_of=AS_OF)
    jmd, mbe = rec.decision("jmd"), rec.decision("mbe")
    assert (jmd.status, mbe.status) == ("eligible", "not_eligible")
    # jmd-lawful-or-tolerated needs age < 27; mbe-within-3-years-of-arrival age >= 27.
    assert jmd.valid_until == mbe.valid_until == D(2026, 5, 15)
    timeline = rec.timeline(D(2026, 12, 31))
    assert [(c.on, c.service, c.before, c.after) for c in timeline.changes] == [
        (D(2026, 5, 15), "jmd", "eligible", "not_eligible"),
        (D(2026, 5, 15), "mbe", "not_eligible", "eligible"),
    ]
    assert timeline.handovers == (
        Handover(on=D(2026, 5, 15), kind="counselling", from_service="jmd", to_service="mbe"),
    )
    assert (
        timeline.changes[1].partners_after
        == recommend(TWENTY_SIX, as_of=D(2026, 5, 15)).decision("mbe").partners
    )


def test_later_changes_of_the_26_year_old() -> None:
    """MBE turns to a partner's check when 3 years since arrival end; Berufsberatung ends at 67."""
    rec = recommend(TWENTY_SIX, as_of=AS_OF)
    # The P3Y window from 2024-01-10 ends on 2027-01-10 (§ 188 Abs. 2 BGB); then only the
    # check rule mbe-long-resident-need holds.
    later = rec.timeline(D(2070, 1, 1))
    assert [(c.on, c.service, c.after) for c in later.changes if c.service == "mbe"] == [
        (D(2026, 5, 15), "mbe", "eligible"),
        (D(2027, 1, 11), "mbe", "undetermined"),
    ]
    # berufsberatung: young people until 27, adults until 67: one change, on the 67th birthday.
    assert rec.decision("berufsberatung").valid_until == D(2066, 5, 15)
    assert rec.timeline(D(2026, 5, 14)).changes == ()


def test_valid_until_is_the_last_day_plus_one() -> None:
    """The day before valid_until gives the old decision, valid_until itself the new one."""
    assert recommend(TWENTY_SIX, as_of=D(2026, 5, 14)).decision("jmd").status == "eligible"
    assert recommend(TWENTY_SIX, as_of=D(2026, 5, 15)).decision("jmd").status == "not_eligible"


def test_admission_stop_either_side() -> None:
    """An asylum seeker: a course before the stop, a BAMF check during the de facto stop, then none."""
    expected = [
        (
            D(2025, 10, 31),
            "eligible",
            D(2025, 11, 1),
        ),  # integrationskurs-admission-gestattung until 2025-10-31
        (D(2025, 11, 1), "undetermined", D(2026, 2, 9)),  # integrationskurs-admission-de-facto-stop
        (D(2026, 2, 8), "undetermined", D(2026, 2, 9)),
        # The formal stop names no rule for a Gestattung; from 2027 the BAMF is asked (review #15).
        (D(2026, 2, 9), "not_eligible", D(2027, 1, 1)),
        (D(2026, 3, 1), "not_eligible", D(2027, 1, 1)),
        (D(2027, 1, 1), "undetermined", None),  # integrationskurs-admission-after-2026
    ]
    for as_of, status, until in expected:
        decision = recommend(APPLICANT, as_of=as_of).decision("integrationskurs")
        assert (as_of, decision.status, decision.valid_until) == (as_of, status, until)


def test_same_person_in_2022_and_2026() -> None:
    """A Ukrainian refugee of spring 2022: integration course then, only the Jobcenter route now."""
    person = {**UKRAINE, "status_since": D(2022, 4, 15)}
    then, now = recommend(person, as_of=D(2022, 6, 1)), recommend(person, as_of=D(2026, 3, 1))
    # integrationskurs-admission-before-stop (§ 44 Abs. 4) applies until 2025-10-31 ...
    assert then.decision("integrationskurs").status == "eligible"
    assert then.decision("integrationskurs").valid_until == D(2025, 11, 1)
    # ... in 2026 only integrationskurs-jobcenter-during-stop, a check, holds.
    assert now.decision("integrationskurs").status == "undetermined"
    lapsed = {r.rule for r in now.decision("integrationskurs").reasons if not r.in_force}
    assert "integrationskurs-admission-before-stop" in lapsed
    # Rechtskreiswechsel on 2022-06-01; a first permit before 2025-04-01 stays with the Jobcenter.
    assert then.decision("jobcenter").status == now.decision("jobcenter").status == "eligible"
    assert now.decision("jobcenter").valid_until is None
    assert recommend(person, as_of=D(2022, 5, 31)).decision("jobcenter").valid_until == D(2022, 6, 1)


def test_ukraine_benefit_switch_date() -> None:
    """A first § 24 permit after 2025-03-31: Jobcenter until 2026-06-30, then a check (planned switch)."""
    rec = recommend({**UKRAINE, "status_since": D(2025, 6, 1)}, as_of=AS_OF)
    assert rec.decision("jobcenter").status == "eligible"
    assert rec.decision("jobcenter").valid_until == D(2026, 7, 1)  # valid_to 2026-06-30 + 1 day
    assert rec.decision("asylblg").valid_until == D(2026, 7, 1)  # asylblg-ukraine-benefit-switch
    changes = {(c.service, c.after) for c in rec.timeline(D(2026, 7, 1)).changes}
    assert changes == {("jobcenter", "undetermined"), ("asylblg", "undetermined")}


def test_integrationsmanagement_ends_after_three_and_four_years() -> None:
    """Three years of Integrationsmanagement from the move, a checked fourth, then none."""
    rec = recommend(
        {
            "age": 34,
            "residence_status": "ae_25_2_refugee",  # unknown, it could be restricted: no city IM (§ 87)
            "accommodation": "anschlussunterbringung",
            "accommodation_since": D(2026, 3, 1),
        },
        as_of=AS_OF,
    )
    timeline = rec.timeline(D(2031, 1, 1))
    assert [(c.on, c.after) for c in timeline.changes if c.service == "integrationsmanagement"] == [
        (D(2029, 3, 2), "undetermined"),  # P3Y ends 2029-03-01: integrationsmanagement-fourth-year
        (D(2030, 3, 2), "not_eligible"),  # P4Y ends 2030-03-01
    ]


def test_lapse_of_the_course_entitlement() -> None:
    """The § 44 entitlement lapses one year after the title was issued."""
    rec = recommend(
        {
            **UKRAINE,
            "residence_status": "ae_25_2_refugee",
            "status_since": D(2025, 9, 30),
            "benefits": "none",
        },
        as_of=AS_OF,
    )
    course = rec.decision("integrationskurs")
    assert course.status == "eligible"  # integrationskurs-entitlement-first-year
    assert course.valid_until == D(2026, 10, 1)  # P1Y from 2025-09-30 ends 2026-09-30
    assert (
        recommend(
            {
                **UKRAINE,
                "residence_status": "ae_25_2_refugee",
                "status_since": D(2025, 9, 30),
                "benefits": "none",
            },
            as_of=D(2026, 10, 1),
        )
        .decision("integrationskurs")
        .status
        == "undetermined"
    )  # integrationskurs-admission-stop-scope-unclear


def test_age_without_birth_date_stays_as_given() -> None:
    """With only an age, no birthday is known: the decision does not change by age."""
    rec = recommend({**TWENTY_SIX, "birth_date": None, "age": 26}, as_of=AS_OF)
    assert rec.decision("jmd").valid_until is None


def test_age_and_birth_date_together() -> None:
    """A profile with both age and birth date is probed by its birth date on later dates."""
    rec = recommend({**TWENTY_SIX, "age": 26}, as_of=AS_OF)
    assert rec.decision("jmd").valid_until == D(2026, 5, 15)


@pytest.mark.parametrize(
    ("born", "years", "expected"),
    [
        (D(2000, 2, 29), 27, D(2027, 3, 1)),  # § 188 Abs. 3 BGB: common year
        (D(2000, 2, 29), 28, D(2028, 2, 29)),
        (D(1999, 12, 31), 1, D(2000, 12, 31)),
    ],
)
def test_birthday(born: dt.date, years: int, expected: dt.date) -> None:
    """Birthdays follow age_on: someone born on 29 February turns older on 1 March in common years."""
    assert birthday(born, years) == expected


def test_change_dates_are_after_as_of_and_sorted() -> None:
    """Candidate dates come after as_of, ascending, without repeats."""
    from referral_engine import CaseProfile, default_ruleset

    dates = change_dates(default_ruleset(), CaseProfile(**TWENTY_SIX), AS_OF)
    assert dates == sorted(set(dates))
    assert all(day > AS_OF for day in dates)
    assert D(2026, 5, 15) in dates  # 27th birthday
    assert D(2027, 1, 11) in dates  # end of the 3-year arrival window + 1


@pytest.mark.parametrize("until", [D(2026, 2, 28), "2027-01-01", dt.datetime(2027, 1, 1, 12, 0)])
def test_timeline_rejects_bad_until(until: Any) -> None:
    """The end date must be a date on or after as_of."""
    rec = recommend(TWENTY_SIX, as_of=AS_OF)
    with pytest.raises(UsageError, match="until"):
        rec.timeline(until)


def test_timeline_text_and_html() -> None:
    """The timeline reads as one line per change and handover, in German or English."""
    de = recommend(TWENTY_SIX, as_of=AS_OF).timeline(D(2026, 12, 31))
    assert de.text().splitlines() == [
        "2026-05-15 jmd: berechtigt → nicht berechtigt",
        "2026-05-15 mbe: nicht berechtigt → berechtigt (caritas, drk)",
        "2026-05-15 Übergang: jmd → mbe",
    ]
    en = recommend(TWENTY_SIX, as_of=AS_OF, lang="en").timeline(D(2026, 12, 31))
    assert en.text().splitlines()[-1] == "2026-05-15 handover: jmd → mbe"
    assert "<li>2026-05-15 handover: jmd → mbe</li>" in en._repr_html_()
    assert "2026" not in repr(en)  # a change date can give away a birth date
