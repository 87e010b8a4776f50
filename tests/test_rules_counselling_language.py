"""Worked cases for the counselling and language services.

Covers jmd, mbe, integrationskurs, erstorientierungskurs, berufssprachkurs,
fluechtlingssozialarbeit and integrationsmanagement; the facts and boundaries come from
shared/domain/research-2026.md (sections 2, 3, 4, 5, 7 and 8.2). Time windows are tested on
the day before they end and the day after, so the cases do not depend on whether the last day
itself still counts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.worked import AS_OF, decide, holding

# --- Jugendmigrationsdienst -----------------------------------------------------------------


@pytest.mark.parametrize(("age", "expected"), [(11, "not_eligible"), (12, "eligible")])
def test_jmd_starts_at_twelve(age: int, expected: str) -> None:
    """An 11-year-old with a Duldung is not yet in the JMD's age group, a 12-year-old is."""
    _, d = decide("jmd", {"age": age, "residence_status": "duldung"})
    assert d.status == expected


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [(dt.date(2026, 3, 1), "eligible"), (dt.date(2026, 3, 2), "not_eligible")],
)
def test_jmd_ends_on_the_27th_birthday(as_of: dt.date, expected: str) -> None:
    """The day before the 27th birthday the JMD is responsible, on the birthday it is not."""
    _, d = decide("jmd", {"birth_date": "1999-03-02", "residence_status": "gestattung"}, as_of)
    assert d.status == expected


@pytest.mark.parametrize(
    "status", ["gestattung", "duldung", "duldung_ermessen", "ae_24", "eu_citizen", "spaetaussiedler"]
)
def test_jmd_open_to_lawful_or_tolerated_stay(status: str) -> None:
    """A 19-year-old staying lawfully or with a Duldung is eligible for the JMD since 2017."""
    _, d = decide("jmd", {"age": 19, "residence_status": status})
    assert d.status == "eligible"
    assert "jmd-lawful-or-tolerated" in holding(d)


def test_jmd_closed_to_undocumented() -> None:
    """A 19-year-old without any papers is not eligible for the JMD."""
    _, d = decide("jmd", {"age": 19, "residence_status": "undocumented"})
    assert d.status == "not_eligible"


def test_jmd_for_ausreisepflichtig_is_a_check() -> None:
    """A 19-year-old obliged to leave is checked with the JMD operator, not excluded.

    Review 2026-11 #21: the research's own sketch (R §10.2/§10.3) excludes only UNDOCUMENTED and the
    status's basis is unverified (R §1.1), so the hard exclusion became a check with the (free-welfare)
    operator.
    """
    _, d = decide("jmd", {"age": 19, "residence_status": "ausreisepflichtig"})
    assert d.status == "undetermined"
    assert "jmd-ausreisepflichtig-unclear" in holding(d)


def test_jmd_arrival_certificate_is_checked() -> None:
    """A 17-year-old with only an arrival certificate is undetermined: the research marks it unverified."""
    _, d = decide("jmd", {"age": 17, "residence_status": "arrival_certificate"})
    assert d.status == "undetermined"
    check = next(r for r in d.reasons if r.rule == "jmd-arrival-certificate-unclear")
    assert check.outcome == "holds"
    assert check.confidence == "unverified"


@pytest.mark.parametrize(
    ("status", "expected", "rule"),
    [
        # a check since review 2026-11 #20: the older reading is unverified (R §2.1 historical note)
        ("ae_family", "undetermined", "jmd-secure-title-before-2017"),
        ("gestattung", "undetermined", "jmd-asylum-or-duldung-before-2017"),
    ],
)
def test_jmd_before_2017_used_the_narrower_reading(status: str, expected: str, rule: str) -> None:
    """In 2016 both a title holder's and an asylum seeker's access to the JMD have to be checked."""
    _, d = decide("jmd", {"age": 19, "residence_status": status}, dt.date(2016, 6, 1))
    assert d.status == expected
    assert rule in holding(d)


def test_jmd_unknown_status_is_undetermined() -> None:
    """A 20-year-old whose residence status is unknown is undetermined and the status is asked for."""
    rec, d = decide("jmd", {"age": 20})
    assert d.status == "undetermined"
    assert "residence_status" in rec.missing


def test_jmd_unknown_age_is_undetermined() -> None:
    """An asylum seeker of unknown age is undetermined for the JMD and the age is asked for."""
    rec, d = decide("jmd", {"residence_status": "gestattung"})
    assert d.status == "undetermined"
    assert "age" in d.missing
    assert "age" in rec.missing


def test_jmd_unknown_age_does_not_matter_without_lawful_stay() -> None:
    """An undocumented person of unknown age is not eligible for the JMD, whatever the age."""
    _, d = decide("jmd", {"residence_status": "undocumented"})
    assert d.status == "not_eligible"


# --- Migrationsberatung für erwachsene Zugewanderte -----------------------------------------


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [(dt.date(2026, 3, 1), "not_eligible"), (dt.date(2026, 3, 2), "eligible")],
)
def test_mbe_starts_on_the_27th_birthday(as_of: dt.date, expected: str) -> None:
    """A newly arrived family member becomes eligible for the MBE on the 27th birthday, not the day before."""
    profile = {"birth_date": "1999-03-02", "residence_status": "ae_family", "entry_date": "2025-01-10"}
    _, d = decide("mbe", profile, as_of)
    assert d.status == expected


def test_mbe_within_three_years_of_arrival() -> None:
    """A 35-year-old with a family permit is eligible for the MBE just before three years since arrival."""
    profile = {"age": 35, "residence_status": "ae_family", "entry_date": "2023-03-01"}
    _, d = decide("mbe", profile, dt.date(2026, 2, 28))
    assert d.status == "eligible"
    assert "mbe-within-3-years-of-arrival" in holding(d)


def test_mbe_after_three_years_needs_a_check() -> None:
    """After three years the MBE counsels long-term residents only where needed: undetermined."""
    profile = {
        "age": 35,
        "residence_status": "ae_family",
        "entry_date": "2023-03-01",
        "status_since": "2023-03-01",
    }
    _, d = decide("mbe", profile, dt.date(2026, 3, 2))
    assert d.status == "undetermined"
    assert holding(d) == {"mbe-long-resident-need"}


@pytest.mark.parametrize(
    ("status_since", "expected"), [("2023-06-01", "eligible"), ("2020-06-01", "undetermined")]
)
def test_mbe_three_years_after_a_permanent_status(status_since: str, expected: str) -> None:
    """A settlement permit granted less than three years ago opens the MBE to a long-term resident."""
    profile = {
        "age": 45,
        "residence_status": "settlement",
        "entry_date": "2012-04-01",
        "status_since": status_since,
    }
    _, d = decide("mbe", profile)
    assert d.status == expected


def test_mbe_spaetaussiedler_without_time_limit() -> None:
    """A Spätaussiedler who arrived ten years ago is still eligible for the MBE."""
    _, d = decide("mbe", {"age": 50, "residence_status": "spaetaussiedler", "entry_date": "2016-01-15"})
    assert d.status == "eligible"


@pytest.mark.parametrize(
    ("status", "rule"),
    [
        ("gestattung", "mbe-gestattung-bleibeperspektive"),
        ("duldung", "mbe-duldung-unverified"),
        ("ausbildungsduldung", "mbe-duldung-unverified"),
    ],
)
def test_mbe_unverified_groups_are_undetermined(status: str, rule: str) -> None:
    """An adult asylum seeker or person with a Duldung is undetermined for the MBE (unverified)."""
    _, d = decide("mbe", {"age": 30, "residence_status": status, "entry_date": "2025-05-01"})
    assert d.status == "undetermined"
    check = next(r for r in d.reasons if r.rule == rule)
    assert check.confidence == "unverified"


def test_mbe_not_for_undocumented() -> None:
    """An undocumented person is not eligible for the MBE."""
    _, d = decide("mbe", {"age": 30, "residence_status": "undocumented", "entry_date": "2025-05-01"})
    assert d.status == "not_eligible"


def test_mbe_for_safe_country_asylum_seekers_is_a_check() -> None:
    """A safe-country asylum seeker aged 27+ gets the same check as other asylum seekers.

    Review 2026-11 #9 and answer (a): whether the 2024 MBE-FöRL covers all asylum seekers is open
    (research §3.3), so the former hard exclusion became the Gestattung check.
    """
    _, d = decide(
        "mbe", {"age": 30, "residence_status": "gestattung_safe_country", "entry_date": "2025-05-01"}
    )
    assert d.status == "undetermined"
    assert "mbe-gestattung-bleibeperspektive" in holding(d)


def test_mbe_unknown_arrival_is_asked_for() -> None:
    """A 30-year-old with a work permit and unknown arrival date is undetermined for the MBE."""
    rec, d = decide("mbe", {"age": 30, "residence_status": "ae_employment"})
    assert d.status == "undetermined"
    assert "entry_date" in d.missing
    assert "entry_date" in rec.missing


# --- Integrationskurs -----------------------------------------------------------------------

REFUGEE = {
    "age": 30,
    "residence_status": "ae_25_2_refugee",
    "language_level": "A1",
    "employment": "unemployed",
}


def test_integrationskurs_entitlement_in_first_year() -> None:
    """A recognised refugee is entitled to the integration course on the last day of the first year."""
    _, d = decide("integrationskurs", {**REFUGEE, "status_since": "2024-03-01"}, dt.date(2025, 2, 28))
    assert d.status == "eligible"
    assert "integrationskurs-entitlement-first-year" in holding(d)


def test_integrationskurs_entitlement_lapses_after_one_year() -> None:
    """A year and a day after the title the entitlement has lapsed, but in 2025 BAMF can still admit."""
    _, d = decide("integrationskurs", {**REFUGEE, "status_since": "2024-03-01"}, dt.date(2025, 3, 2))
    assert d.status == "eligible"
    assert holding(d) == {"integrationskurs-admission-before-stop"}


def test_integrationskurs_lapsed_entitlement_during_stop_is_undetermined() -> None:
    """In 2026 a refugee whose entitlement has lapsed is undetermined: the scope of the stop is open."""
    _, d = decide("integrationskurs", {**REFUGEE, "status_since": "2025-02-27"})
    assert d.status == "undetermined"
    assert "integrationskurs-admission-stop-scope-unclear" in holding(d)


GESTATTUNG = {"age": 30, "residence_status": "gestattung", "language_level": "A1"}


def test_integrationskurs_gestattung_before_stop() -> None:
    """In June 2025 an asylum seeker can be admitted to the integration course by BAMF."""
    _, d = decide("integrationskurs", {**GESTATTUNG, "employment": "employed"}, dt.date(2025, 6, 1))
    assert d.status == "eligible"
    assert "integrationskurs-admission-gestattung" in holding(d)


def test_integrationskurs_gestattung_after_stop() -> None:
    """In March 2026 an employed asylum seeker has no route into the course: admissions are stopped."""
    _, d = decide("integrationskurs", {**GESTATTUNG, "employment": "employed", "benefits": "none"})
    assert d.status == "not_eligible"
    lapsed = {r.rule for r in d.reasons if not r.in_force}
    assert "integrationskurs-admission-gestattung" in lapsed


def test_integrationskurs_gestattung_after_stop_obligation_by_social_office() -> None:
    """In March 2026 an unemployed asylum seeker on AsylbLG is undetermined: § 5b AsylbLG may apply."""
    profile = {**GESTATTUNG, "employment": "unemployed", "benefits": "asylblg"}
    _, d = decide("integrationskurs", profile)
    assert d.status == "undetermined"
    assert holding(d) == {"integrationskurs-obligation-asylblg"}


def test_integrationskurs_gestattung_during_de_facto_stop() -> None:
    """In December 2025 an asylum seeker is undetermined: BAMF is already refusing admissions."""
    _, d = decide("integrationskurs", {**GESTATTUNG, "employment": "employed"}, dt.date(2025, 12, 1))
    assert d.status == "undetermined"
    assert "integrationskurs-admission-de-facto-stop" in holding(d)


def test_integrationskurs_gestattung_before_chancen_aufenthaltsrecht() -> None:
    """In 2022 admission depends on country of origin or entry date, so an asylum seeker is undetermined."""
    _, d = decide("integrationskurs", {**GESTATTUNG, "employment": "employed"}, dt.date(2022, 6, 1))
    assert d.status == "undetermined"
    assert "integrationskurs-admission-gestattung-old-rule" in holding(d)


def test_integrationskurs_jobcenter_route_during_stop_is_unverified() -> None:
    """An EU citizen on Bürgergeld in 2026 is undetermined: the Jobcenter route is unverified."""
    profile = {
        "age": 40,
        "residence_status": "eu_citizen",
        "benefits": "sgb2",
        "language_level": "A2",
        "employment": "unemployed",
    }
    _, d = decide("integrationskurs", profile)
    assert d.status == "undetermined"
    check = next(r for r in d.reasons if r.rule == "integrationskurs-jobcenter-during-stop")
    assert check.confidence == "unverified"


def test_integrationskurs_not_with_b1() -> None:
    """A recognised refugee who already speaks German at B1 is not eligible for the integration course."""
    profile = {**REFUGEE, "language_level": "B1", "status_since": "2025-10-01"}
    _, d = decide("integrationskurs", profile)
    assert d.status == "not_eligible"
    assert holding(d) == {"integrationskurs-b1-reached"}


def test_integrationskurs_unknown_language_level_is_asked_for() -> None:
    """An entitled refugee whose German level is unknown is undetermined and the level is asked for."""
    profile = {
        "age": 30,
        "residence_status": "ae_25_1",
        "status_since": "2025-10-01",
        "employment": "unemployed",
    }
    rec, d = decide("integrationskurs", profile)
    assert d.status == "undetermined"
    assert "language_level" in rec.missing


@pytest.mark.parametrize(("age", "expected"), [(17, "not_eligible"), (30, "eligible")])
def test_integrationskurs_school_excludes_young_people(age: int, expected: str) -> None:
    """A young person at school in Germany is not eligible for the course; the exclusion stops at 27."""
    profile = {
        "age": age,
        "residence_status": "ae_family",
        "status_since": "2025-10-01",
        "language_level": "A1",
        "employment": "school",
    }
    _, d = decide("integrationskurs", profile)
    assert d.status == expected


def test_integrationskurs_adult_with_unknown_occupation_is_entitled() -> None:
    """A 34-year-old refugee in the first year is entitled even if the occupation is unknown."""
    profile = {
        "age": 34,
        "residence_status": "ae_25_2_refugee",
        "status_since": "2025-10-01",
        "language_level": "A1",
    }
    _, d = decide("integrationskurs", profile)
    assert d.status == "eligible"


def test_integrationskurs_spaetaussiedler() -> None:
    """A Spätaussiedler without German is eligible for the integration course."""
    profile = {
        "age": 40,
        "residence_status": "spaetaussiedler",
        "language_level": "none",
        "employment": "unemployed",
    }
    _, d = decide("integrationskurs", profile)
    assert d.status == "eligible"


# --- Erstorientierungskurs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("gestattung", "eligible"),
        ("gestattung_safe_country", "not_eligible"),
        ("arrival_certificate", "undetermined"),
    ],
)
def test_erstorientierungskurs_for_asylum_seekers(status: str, expected: str) -> None:
    """Asylum seekers may attend an EOK, safe-country applicants may not, arrival certificates need checks."""
    _, d = decide("erstorientierungskurs", {"age": 30, "residence_status": status})
    assert d.status == expected


@pytest.mark.parametrize(("as_of", "expected"), [(dt.date(2022, 2, 1), "not_eligible"), (AS_OF, "eligible")])
def test_erstorientierungskurs_for_ukrainians_since_2022(as_of: dt.date, expected: str) -> None:
    """A person from Ukraine can take an initial orientation course since March 2022."""
    _, d = decide("erstorientierungskurs", {"age": 30, "residence_status": "ae_24"}, as_of)
    assert d.status == expected


# --- Berufssprachkurs -----------------------------------------------------------------------

JOBSEEKER = {"age": 30, "residence_status": "ae_family", "registered_jobseeker": True}


@pytest.mark.parametrize(
    "facts",
    [{"language_level": "B1"}, {"language_level": "A2", "integration_course": "completed"}],
)
def test_berufssprachkurs_for_registered_jobseekers(facts: dict[str, Any]) -> None:
    """A registered jobseeker with B1, or A2 after the integration course, is eligible for a BSK."""
    _, d = decide("berufssprachkurs", {**JOBSEEKER, **facts})
    assert d.status == "eligible"
    assert "berufssprachkurs-labour-market" in holding(d)


def test_berufssprachkurs_not_without_labour_market_proximity() -> None:
    """A person with B1 who is neither registered, on Bürgergeld, employed nor in training is not eligible."""
    profile = {
        "age": 30,
        "residence_status": "ae_family",
        "language_level": "B1",
        "registered_jobseeker": False,
        "benefits": "none",
        "employment": "not_seeking",
    }
    _, d = decide("berufssprachkurs", profile)
    assert d.status == "not_eligible"


@pytest.mark.parametrize(("as_of", "expected"), [(dt.date(2023, 6, 1), "not_eligible"), (AS_OF, "eligible")])
def test_berufssprachkurs_job_bsk_from_a2(as_of: dt.date, expected: str) -> None:
    """An employee with A2 and no integration course qualifies for the Job-BSK introduced in 2024."""
    profile = {
        "age": 30,
        "residence_status": "ae_employment",
        "employment": "employed",
        "language_level": "A2",
        "integration_course": "none",
    }
    _, d = decide("berufssprachkurs", profile, as_of)
    assert d.status == expected


@pytest.mark.parametrize(
    ("status_since", "expected"), [("2025-07-31", "eligible"), ("2025-09-02", "not_eligible")]
)
def test_berufssprachkurs_duldung_after_six_months(status_since: str, expected: str) -> None:
    """A registered jobseeker with a Duldung is eligible after six months of Duldung, not before."""
    profile = {
        "age": 25,
        "residence_status": "duldung",
        "status_since": status_since,
        "registered_jobseeker": True,
    }
    _, d = decide("berufssprachkurs", profile)
    assert d.status == expected


def test_berufssprachkurs_asylum_seekers_are_unverified() -> None:
    """A registered asylum seeker is undetermined for job-related courses because the sources conflict."""
    _, d = decide(
        "berufssprachkurs", {"age": 30, "residence_status": "gestattung", "registered_jobseeker": True}
    )
    assert d.status == "undetermined"
    assert holding(d) == {"berufssprachkurs-asylum-seekers-unclear"}


# --- Flüchtlingssozialarbeit ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("accommodation", "expected"),
    [
        ("vorlaeufige_unterbringung", "eligible"),
        ("anschlussunterbringung", "not_eligible"),
        ("private", "not_eligible"),
    ],
)
def test_fluechtlingssozialarbeit_in_provisional_accommodation(accommodation: str, expected: str) -> None:
    """Refugee social work serves people in the district's provisional accommodation only."""
    _, d = decide(
        "fluechtlingssozialarbeit", {"residence_status": "gestattung", "accommodation": accommodation}
    )
    assert d.status == expected


def test_fluechtlingssozialarbeit_unknown_accommodation_is_asked_for() -> None:
    """With unknown accommodation refugee social work is undetermined and the accommodation is asked for."""
    rec, d = decide("fluechtlingssozialarbeit", {"residence_status": "gestattung"})
    assert d.status == "undetermined"
    assert "accommodation" in rec.missing


# --- Integrationsmanagement -----------------------------------------------------------------

FOLLOW_UP = {
    "residence_status": "ae_25_2_subsidiary",
    "accommodation": "anschlussunterbringung",
    "accommodation_since": "2023-03-01",
}


@pytest.mark.parametrize(
    ("as_of", "expected", "rule"),
    [
        (dt.date(2026, 2, 28), "eligible", "integrationsmanagement-follow-up-accommodation"),
        (dt.date(2026, 3, 2), "undetermined", "integrationsmanagement-fourth-year"),
    ],
)
def test_integrationsmanagement_three_years_from_follow_up_accommodation(
    as_of: dt.date, expected: str, rule: str
) -> None:
    """Integration management runs three years from the start of follow-up accommodation (a 4th on check)."""
    _, d = decide("integrationsmanagement", FOLLOW_UP, as_of)
    assert d.status == expected
    assert rule in holding(d)


def test_integrationsmanagement_ends_after_four_years() -> None:
    """Four years and a day after the start of follow-up accommodation integration management has ended."""
    _, d = decide("integrationsmanagement", FOLLOW_UP, dt.date(2027, 3, 2))
    assert d.status == "not_eligible"


def test_integrationsmanagement_unknown_start_is_asked_for() -> None:
    """A person in follow-up accommodation since an unknown date is undetermined and the date is asked for."""
    rec, d = decide("integrationsmanagement", {"accommodation": "anschlussunterbringung"})
    assert d.status == "undetermined"
    assert "accommodation_since" in rec.missing


def test_integrationsmanagement_ukrainians_in_private_housing_are_unverified() -> None:
    """A person from Ukraine in private housing is undetermined for integration management (unverified)."""
    _, d = decide("integrationsmanagement", {"residence_status": "ae_24", "accommodation": "private"})
    assert d.status == "undetermined"
    check = next(r for r in d.reasons if r.rule == "integrationsmanagement-ukraine-without-au-unclear")
    assert check.confidence == "unverified"


def test_integrationsmanagement_not_in_provisional_accommodation() -> None:
    """A person still in provisional accommodation is not yet served by the town's integration management."""
    _, d = decide(
        "integrationsmanagement",
        {
            "residence_status": "gestattung",
            "accommodation": "vorlaeufige_unterbringung",
            "accommodation_since": "2025-09-01",
        },
    )
    assert d.status == "not_eligible"
