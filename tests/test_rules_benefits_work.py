"""Worked cases for the benefit, labour-market, recognition and volunteer services.

Covers jobcenter, asylblg, arbeitsagentur, berufsberatung, anerkennungsberatung and helferkreis,
the partner routing of rules/partners.yaml and the consent logic of the next steps; the facts and
dates come from shared/domain/research-2026.md (sections 0, 6, 7.2, 8, 9 and 11). Date windows
are tested on the day before they end and the day after, so the cases do not depend on whether
the last day itself still counts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, get_args

import pytest

from referral_engine import NextStep, Recommendation, recommend
from referral_engine.models import DataCategory
from tests.worked import AS_OF, decide, holding

ASYLUM_AND_TOLERATED = [
    "arrival_certificate",
    "gestattung",
    "gestattung_safe_country",
    "duldung",
    "duldung_ermessen",
    "duldung_light",
    "ausbildungsduldung",
    "beschaeftigungsduldung",
    "ausreisepflichtig",
]
ALL_CATEGORIES = list(get_args(DataCategory))


def step_ids(rec: Recommendation) -> list[str]:
    return [step.id for step in rec.next_steps]


def steps_of(rec: Recommendation, service: str) -> list[NextStep]:
    return [step for step in rec.next_steps if step.service == service]


# --- Jobcenter (SGB II) and AsylbLG: who pays ---------------------------------------------------


@pytest.mark.parametrize("status", ["ae_25_1", "ae_25_2_refugee", "ae_25_2_subsidiary"])
def test_recognition_moves_the_person_to_the_jobcenter(status: str) -> None:
    """A recognised person still paid AsylbLG belongs to the Jobcenter, no longer to the Landratsamt."""
    rec = recommend(
        {"age": 34, "residence_status": status, "benefits": "asylblg", "municipality": "Bad Krozingen"},
        as_of=AS_OF,
    )
    assert rec.decision("jobcenter").status == "eligible"
    assert rec.decision("jobcenter").partners == ("jobcenter",)
    assert rec.decision("asylblg").status == "not_eligible"
    assert "asylblg-recognised-protection" in holding(rec.decision("asylblg"))


@pytest.mark.parametrize("status", ASYLUM_AND_TOLERATED)
def test_asylum_seekers_and_tolerated_persons_get_asylblg_not_sgb2(status: str) -> None:
    """Asylum seekers, tolerated and departure-obliged persons are AsylbLG cases of the Landratsamt."""
    rec = recommend({"age": 30, "residence_status": status, "municipality": "Staufen"}, as_of=AS_OF)
    assert rec.decision("asylblg").status == "eligible"
    # the AsylbLG office of the split Landratsamt (review 2026-11 #3)
    assert rec.decision("asylblg").partners == ("landratsamt_sozialamt",)
    assert rec.decision("jobcenter").status == "not_eligible"
    assert holding(rec.decision("jobcenter")) == {"jobcenter-asylblg-statuses"}


@pytest.mark.parametrize(
    ("status_since", "as_of", "expected"),
    [
        ("2025-03-31", dt.date(2026, 6, 30), "eligible"),
        ("2025-04-01", dt.date(2026, 6, 30), "eligible"),
        ("2025-03-31", dt.date(2026, 7, 1), "eligible"),
        ("2025-04-01", dt.date(2026, 7, 1), "undetermined"),
    ],
)
def test_ukraine_jobcenter_depends_on_first_permit_and_planned_switch(
    status_since: str, as_of: dt.date, expected: str
) -> None:
    """§ 24 holders stay with the Jobcenter until 1 July 2026; then permits after 31 March 2025 are open."""
    profile = {"age": 30, "residence_status": "ae_24", "status_since": status_since, "benefits": "sgb2"}
    _, d = decide("jobcenter", profile, as_of)
    assert d.status == expected


def test_ukraine_switch_to_asylblg_is_an_unverified_check() -> None:
    """From 1 July 2026 a § 24 permit issued after 31 March 2025 is an unverified check with the Jobcenter."""
    profile = {"age": 30, "residence_status": "ae_24", "status_since": "2025-04-01", "benefits": "sgb2"}
    rec, d = decide("jobcenter", profile, dt.date(2026, 7, 1))
    switch = next(r for r in d.reasons if r.rule == "jobcenter-ukraine-benefit-switch")
    assert (switch.outcome, switch.effect, switch.confidence) == ("holds", "check", "unverified")
    assert switch.valid_from == dt.date(2026, 7, 1)
    check = next(s for s in rec.next_steps if s.id == "check:jobcenter-ukraine-benefit-switch")
    assert check.partner == "jobcenter"
    assert rec.decision("asylblg").status == "undetermined"


@pytest.mark.parametrize(
    ("status_since", "expected"), [("2025-03-31", "not_eligible"), ("2025-04-01", "undetermined")]
)
def test_ukraine_asylblg_after_the_planned_switch(status_since: str, expected: str) -> None:
    """After 1 July 2026 only § 24 permits issued after 31 March 2025 may move to AsylbLG."""
    profile = {"age": 30, "residence_status": "ae_24", "status_since": status_since}
    _, d = decide("asylblg", profile, dt.date(2026, 7, 1))
    assert d.status == expected


def test_ukraine_asylblg_before_the_planned_switch() -> None:
    """Before 1 July 2026 a § 24 permit issued after 31 March 2025 is no AsylbLG case."""
    profile = {"age": 30, "residence_status": "ae_24", "status_since": "2025-05-01"}
    _, d = decide("asylblg", profile, dt.date(2026, 6, 30))
    assert d.status == "not_eligible"


@pytest.mark.parametrize(
    ("as_of", "expected"), [(dt.date(2022, 5, 31), "not_eligible"), (dt.date(2022, 6, 1), "eligible")]
)
def test_ukraine_sgb2_since_june_2022(as_of: dt.date, expected: str) -> None:
    """Refugees from Ukraine came under SGB II on 1 June 2022."""
    profile = {"age": 30, "residence_status": "ae_24", "status_since": "2022-04-01", "benefits": "sgb2"}
    _, d = decide("jobcenter", profile, as_of)
    assert d.status == expected


def test_unknown_benefits_leave_the_jobcenter_open() -> None:
    """A person whose benefits are unknown might receive SGB XII, so the Jobcenter waits for that fact."""
    profile = {
        "age": 30,
        "residence_status": "ae_24",
        "status_since": "2025-05-01",
        "municipality": "Staufen",
    }
    rec, d = decide("jobcenter", profile)
    assert d.status == "undetermined"
    assert d.missing == ("benefits",)
    assert "clarify:benefits" in step_ids(rec)


@pytest.mark.parametrize(
    ("as_of", "jobcenter", "asylblg"),
    [
        (dt.date(2026, 2, 28), "not_eligible", "undetermined"),
        (dt.date(2026, 3, 2), "undetermined", "not_eligible"),
    ],
)
def test_25_5_switches_after_18_months(as_of: dt.date, jobcenter: str, asylblg: str) -> None:
    """A § 25 Abs. 5 permit is AsylbLG for 18 months and SGB II after, both checks on a pre-2024 source."""
    profile = {"age": 40, "residence_status": "ae_25_5", "status_since": "2024-09-01", "benefits": "none"}
    rec = recommend(profile, as_of=as_of)
    assert rec.decision("jobcenter").status == jobcenter
    assert rec.decision("asylblg").status == asylblg
    decisions = [rec.decision("jobcenter"), rec.decision("asylblg")]
    checks = [r for d in decisions for r in d.reasons if r.effect == "check" and r.outcome == "holds"]
    assert len(checks) == 1
    assert all(r.confidence == "unverified" for r in checks)
    assert any("vor 2024" in source for r in checks for source in r.source)


@pytest.mark.parametrize("status", ["ae_25_4", "ae_22_23"])
def test_humanitarian_titles_with_two_benefit_systems_are_checked(status: str) -> None:
    """§ 25 Abs. 4 and §§ 22/23 titles can be SGB II or AsylbLG, so both services are unverified checks."""
    rec = recommend({"age": 30, "residence_status": status, "benefits": "none"}, as_of=AS_OF)
    assert rec.decision("jobcenter").status == "undetermined"
    assert rec.decision("asylblg").status == "undetermined"


@pytest.mark.parametrize(
    ("as_of", "check"),
    [
        (dt.date(2026, 2, 28), "check:jobcenter-eu-first-three-months"),
        (dt.date(2026, 3, 2), "check:jobcenter-eu-jobseeking-only"),
    ],
)
def test_eu_citizen_without_work_is_checked_by_the_jobcenter(as_of: dt.date, check: str) -> None:
    """The Jobcenter checks an EU citizen without work: first 3 months, then the job-seeking exclusion."""
    profile = {"age": 29, "residence_status": "eu_citizen", "entry_date": "2025-12-01", "benefits": "none"}
    rec, d = decide("jobcenter", {**profile, "employment": "unemployed"}, as_of)
    assert d.status == "undetermined"
    checks = [step.id for step in rec.next_steps if step.kind == "check" and step.service == "jobcenter"]
    assert checks == [check]


@pytest.mark.parametrize(
    "extra",
    [
        {"entry_date": "2026-01-15", "employment": "employed"},
        {"entry_date": "2020-01-15", "employment": "unemployed"},
    ],
)
def test_eu_citizen_in_work_or_after_five_years_is_a_jobcenter_case(extra: dict[str, str]) -> None:
    """An EU citizen in work (even in the first months) or resident for five years comes under SGB II."""
    _, d = decide("jobcenter", {"age": 40, "residence_status": "eu_citizen", "benefits": "none", **extra})
    assert d.status == "eligible"


@pytest.mark.parametrize(
    "profile",
    [
        {"age": 50, "residence_status": "ae_25_2_refugee", "benefits": "sgb12"},
        {"age": 70, "residence_status": "settlement", "benefits": "none"},
    ],
)
def test_social_assistance_and_pension_age_are_not_jobcenter_cases(profile: dict[str, Any]) -> None:
    """SGB XII recipients and people past the SGB II age limit are not Jobcenter clients."""
    _, d = decide("jobcenter", profile)
    assert d.status == "not_eligible"


# --- Agentur für Arbeit: work access and who places -------------------------------------------


@pytest.mark.parametrize(
    ("entry_date", "expected"),
    [
        ("2025-12-02", "not_eligible"),  # 3 months not yet over on 1 March 2026
        ("2025-11-30", "undetermined"),  # 3 months over: permit at the immigration office's discretion
        ("2025-09-02", "undetermined"),
        ("2025-08-31", "eligible"),  # 6 months over: entitlement to the permit
    ],
)
def test_asylum_seeker_work_access_after_3_and_6_months(entry_date: str, expected: str) -> None:
    """Asylum seekers may not work for 3 months, may by discretion after 3 and are entitled after 6."""
    profile = {
        "age": 30,
        "residence_status": "gestattung",
        "entry_date": entry_date,
        "accommodation": "vorlaeufige_unterbringung",
        "benefits": "asylblg",
        "employment": "unemployed",
    }
    _, d = decide("arbeitsagentur", profile)
    assert d.status == expected


@pytest.mark.parametrize(
    ("municipality", "office"),
    [
        ("Staufen", "landratsamt_abh"),
        ("Hartheim", "landratsamt_abh"),
        ("Bad Krozingen", "stadt_bad_krozingen_abh"),
    ],
)
def test_discretionary_work_permit_is_checked_with_the_immigration_office(
    municipality: str, office: str
) -> None:
    """Between 3 and 6 months the check about the work permit goes to the person's Ausländerbehörde.

    Bad Krozingen is its own Ausländerbehörde since 2025 (review 2026-11 #7, "New fact"); the office
    is routed by place, so the profile names the municipality.
    """
    profile = {
        "age": 30,
        "residence_status": "gestattung",
        "entry_date": "2025-11-01",
        "accommodation": "vorlaeufige_unterbringung",
        "benefits": "asylblg",
        "employment": "unemployed",
        "municipality": municipality,
    }
    rec, _ = decide("arbeitsagentur", profile)
    check = next(s for s in rec.next_steps if s.id == "check:arbeitsagentur-gestattung-3-to-6-months")
    assert check.partner == office


def test_initial_reception_keeps_the_work_ban_for_6_months() -> None:
    """An asylum seeker still in initial reception may not work after 4 months."""
    profile = {
        "age": 30,
        "residence_status": "gestattung",
        "entry_date": "2025-11-01",
        "accommodation": "erstaufnahme",
        "benefits": "asylblg",
        "employment": "unemployed",
    }
    _, d = decide("arbeitsagentur", profile)
    assert d.status == "not_eligible"
    assert "arbeitsagentur-reception-facility-6-months" in holding(d)


@pytest.mark.parametrize(
    ("status", "rule"),
    [
        ("gestattung_safe_country", "arbeitsagentur-safe-country-work-ban"),
        ("duldung_light", "arbeitsagentur-duldung-light-work-ban"),
    ],
)
def test_work_bans_exclude_placement(status: str, rule: str) -> None:
    """Safe-country asylum seekers and § 60b Duldung holders are barred from work, whatever their wait."""
    profile = {
        "age": 30,
        "residence_status": status,
        "entry_date": "2024-01-01",
        "benefits": "asylblg",
        "registered_jobseeker": True,
    }
    rec, d = decide("arbeitsagentur", profile)
    assert d.status == "not_eligible"
    assert rule in holding(d)
    assert rec.decision("berufsberatung").status == "eligible"


def test_tolerated_person_after_3_months_is_placed_by_the_agentur() -> None:
    """A tolerated person past the 3-month wait who looks for work is placed by the Agentur für Arbeit."""
    profile = {"age": 25, "residence_status": "duldung", "entry_date": "2023-05-01", "benefits": "asylblg"}
    _, d = decide("arbeitsagentur", {**profile, "employment": "unemployed"})
    assert d.status == "eligible"
    assert d.partners == ("agentur_fuer_arbeit",)


@pytest.mark.parametrize(
    ("benefits", "expected"), [("sgb2", "not_eligible"), ("sgb3", "eligible"), ("none", "eligible")]
)
def test_jobcenter_clients_are_placed_by_the_jobcenter(benefits: str, expected: str) -> None:
    """An unemployed refugee on SGB II is placed by the Jobcenter, on ALG I or no benefits by the Agentur."""
    profile = {
        "age": 34,
        "residence_status": "ae_25_2_refugee",
        "benefits": benefits,
        "employment": "unemployed",
    }
    _, d = decide("arbeitsagentur", profile)
    assert d.status == expected


def test_gestattung_work_permit_step_goes_to_the_immigration_office() -> None:
    """An asylum seeker in Staufen placed by the Agentur asks the Landratsamt's ABH for the work permit."""
    profile = {
        "age": 30,
        "residence_status": "gestattung",
        "entry_date": "2025-06-01",
        "accommodation": "vorlaeufige_unterbringung",
        "benefits": "asylblg",
        "employment": "unemployed",
        "municipality": "Staufen",
    }
    rec = recommend(profile, as_of=AS_OF)
    permit = next(s for s in rec.next_steps if s.id == "arbeitsagentur-work-permit")
    # the Ausländerbehörde unit of the split Landratsamt (review 2026-11 #3, #7)
    assert (permit.partner, permit.kind) == ("landratsamt_abh", "application")


# --- Berufsberatung and Anerkennungsberatung: status-independent ------------------------------


@pytest.mark.parametrize(
    "status",
    ["gestattung_safe_country", "duldung_light", "ae_24", "eu_citizen", "german_migration_background"],
)
def test_careers_guidance_is_open_whatever_the_status(status: str) -> None:
    """Careers guidance at the Agentur für Arbeit is open to a 17-year-old whatever the residence status."""
    _, d = decide("berufsberatung", {"age": 17, "residence_status": status, "municipality": "Staufen"})
    assert d.status == "eligible"
    assert d.partners == ("agentur_fuer_arbeit",)


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (13, "not_eligible"),
        (14, "eligible"),
        (15, "eligible"),
        (45, "eligible"),
        (66, "eligible"),
        (67, "not_eligible"),
    ],
)
def test_careers_guidance_age_band(age: int, expected: str) -> None:
    """Careers guidance starts at 14 and also serves adults up to 66.

    The floor moved from 15 to 14 (review 2026-11 answer (e), #20: pupils in their year before
    leaving school); the band is the rule author's choice. The profile names a status because the
    grants exclude the restricted statuses (an unknown status leaves the decision open, review #1).
    """
    _, d = decide("berufsberatung", {"age": age, "residence_status": "ae_family"})
    assert d.status == expected


@pytest.mark.parametrize("status", ["gestattung", "duldung", "ae_25_2_refugee", "eu_citizen", "undocumented"])
@pytest.mark.parametrize("municipality", ["Bad Krozingen", "Staufen", "Hartheim"])
def test_recognition_counselling_for_any_foreign_qualification(status: str, municipality: str) -> None:
    """Any adult with a foreign qualification gets IQ recognition counselling, whatever the status or town.

    The profile gives an age: children are decided by age first (review 2026-11 #11), so without an
    age the decision stays open and the age is asked for.
    """
    profile = {
        "age": 30,
        "residence_status": status,
        "foreign_qualification": True,
        "municipality": municipality,
    }
    _, d = decide("anerkennungsberatung", profile)
    assert d.status == "eligible"
    assert d.partners == ("iq_anerkennungsberatung",)


@pytest.mark.parametrize(
    ("qualification", "as_of", "expected"),
    [
        (False, AS_OF, "not_eligible"),
        (None, AS_OF, "undetermined"),
        (True, dt.date(2012, 3, 31), "not_eligible"),
        (True, dt.date(2012, 4, 1), "eligible"),
    ],
)
def test_recognition_counselling_needs_a_qualification_and_the_bqfg(
    qualification: bool | None, as_of: dt.date, expected: str
) -> None:
    """Recognition counselling needs a foreign qualification and applies from the BQFG of 1 April 2012."""
    _, d = decide("anerkennungsberatung", {"age": 40, "foreign_qualification": qualification}, as_of)
    assert d.status == expected


# --- Helferkreise ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("municipality", "partners"),
    [
        ("Bad Krozingen", ("helferkreis_bad_krozingen",)),
        ("Staufen im Breisgau", ("helferkreis_staufen",)),
        ("Hartheim am Rhein", ()),
    ],
)
def test_helferkreis_serves_refugees_in_its_own_town(municipality: str, partners: tuple[str, ...]) -> None:
    """Each volunteer group serves refugees in its own town; Hartheim has none on record."""
    _, d = decide("helferkreis", {"residence_status": "gestattung", "municipality": municipality})
    assert d.status == "eligible"
    assert d.partners == partners


def test_hartheim_gets_a_no_partner_step_for_the_helferkreis() -> None:
    """A refugee in Hartheim gets a no-partner step for the Helferkreis instead of a contact step."""
    rec, _ = decide("helferkreis", {"residence_status": "ae_25_2_refugee", "municipality": "Hartheim"})
    kinds = [step.kind for step in steps_of(rec, "helferkreis")]
    assert "no_partner" in kinds
    assert "helferkreis-contact" not in step_ids(rec)


@pytest.mark.parametrize(
    ("status", "expected"), [("eu_citizen", "not_eligible"), ("ae_family", "undetermined")]
)
def test_helferkreis_beyond_refugees(status: str, expected: str) -> None:
    """EU citizens are not the volunteers' target group; for family reunification the group is asked."""
    _, d = decide("helferkreis", {"residence_status": status, "municipality": "Staufen"})
    assert d.status == expected


# --- Routing -------------------------------------------------------------------------------------

IM_PROFILE = {
    "residence_status": "ae_25_2_refugee",
    "accommodation": "anschlussunterbringung",
    "accommodation_since": "2024-06-01",
}


@pytest.mark.parametrize(
    ("municipality", "as_of", "partner"),
    [
        ("Hartheim", dt.date(2024, 12, 31), "landratsamt_im"),
        ("Hartheim", dt.date(2025, 1, 1), "stadt_bad_krozingen"),
        ("Bad Krozingen", dt.date(2025, 1, 1), "stadt_bad_krozingen"),
        ("Staufen", dt.date(2024, 12, 31), "stadt_staufen"),  # the city's own IM before 2025 (review #19)
        ("Staufen", dt.date(2025, 1, 1), "stadt_staufen"),
    ],
)
def test_integration_management_moves_to_the_cities_in_2025(
    municipality: str, as_of: dt.date, partner: str
) -> None:
    """Integration management is the Landratsamt's until 2024, then the city's (Hartheim: Bad Krozingen)."""
    _, d = decide("integrationsmanagement", {**IM_PROFILE, "municipality": municipality}, as_of)
    assert d.status == "eligible"
    assert d.partners == (partner,)


@pytest.mark.parametrize(
    ("languages", "partners"),
    [(None, ("caritas", "drk")), (["uk"], ("drk", "caritas")), (["fr", "uk"], ("caritas", "drk"))],
)
def test_counselling_in_a_language_the_person_speaks_comes_first(
    languages: list[str] | None, partners: tuple[str, ...]
) -> None:
    """An MBE offer in one of the person's languages ranks first; otherwise partner ids decide."""
    profile = {
        "age": 35,
        "residence_status": "ae_25_2_refugee",
        "entry_date": "2024-06-01",
        "municipality": "Staufen",
        "languages": languages,
    }
    _, d = decide("mbe", profile)
    assert d.status == "eligible"
    assert d.partners == partners


# --- Next steps: issuer, consent and data minimisation -------------------------------------------


@pytest.mark.parametrize(
    ("extra", "issuer"),
    [
        ({"benefits": "sgb2", "employment": "unemployed"}, "jobcenter"),
        (
            {"benefits": "sgb3", "employment": "unemployed", "registered_jobseeker": True},
            "agentur_fuer_arbeit",
        ),
        ({"benefits": "none", "employment": "employed", "registered_jobseeker": False}, "bamf"),
    ],
)
def test_job_related_course_entitlement_comes_from_the_right_body(extra: dict[str, Any], issuer: str) -> None:
    """The job-related German course entitlement comes from the Jobcenter, else the Agentur, else the BAMF."""
    profile = {"age": 30, "residence_status": "ae_25_2_refugee", "language_level": "B1", **extra}
    rec, d = decide("berufssprachkurs", profile)
    assert d.status == "eligible"
    issuers = [s.partner for s in steps_of(rec, "berufssprachkurs") if s.kind == "application"]
    assert issuers == [issuer]


JOBCENTER_CASE = {
    "age": 34,
    "residence_status": "ae_25_2_refugee",
    "benefits": "sgb2",
    "municipality": "Bad Krozingen",
}


def test_consent_comes_before_the_first_handover_to_the_jobcenter() -> None:
    """Without consent, a release for the Jobcenter precedes every step that hands it data."""
    rec = recommend(JOBCENTER_CASE, as_of=AS_OF)
    ids = step_ids(rec)
    # consent is per recipient and purpose (review 2026-11 #3): consent:<partner>:<purpose>
    consent = next(s for s in rec.next_steps if s.id == "consent:jobcenter:jobcenter")
    handovers = [
        s for s in rec.next_steps if s.partner == "jobcenter" and s.data_categories and s.kind != "consent"
    ]
    assert handovers
    assert all(ids.index("consent:jobcenter:jobcenter") < ids.index(s.id) for s in handovers)
    assert {c for s in handovers for c in s.data_categories} <= set(consent.data_categories)


@pytest.mark.parametrize(
    ("consent", "asks"),
    [
        ({"given_on": "2026-01-20"}, False),
        ({"given_on": "2026-01-20", "withdrawn_on": "2026-02-10"}, True),
        ({"given_on": "2026-03-02"}, True),
        ({"given_on": "2026-01-20", "categories": ["identity"]}, True),
    ],
    ids=["valid", "withdrawn", "given-later", "too-narrow"],
)
def test_only_a_valid_consent_replaces_the_consent_step(consent: dict[str, Any], asks: bool) -> None:
    """A consent given before as_of, not withdrawn and covering the categories removes the consent step."""
    given = {"partner": "jobcenter", "purpose": "jobcenter", "categories": ALL_CATEGORIES, **consent}
    rec = recommend({**JOBCENTER_CASE, "consents": [given]}, as_of=AS_OF)
    assert ("consent:jobcenter:jobcenter" in step_ids(rec)) is asks


def test_volunteers_and_status_independent_services_get_no_residence_data() -> None:
    """Data minimisation: the Helferkreis gets only identity and languages, careers guidance no status."""
    profile = {"age": 19, "residence_status": "duldung", "municipality": "Staufen"}
    rec = recommend(profile, as_of=AS_OF)
    helferkreis = next(s for s in rec.next_steps if s.id == "helferkreis-contact")
    assert set(helferkreis.data_categories) == {"identity", "language"}
    guidance = next(s for s in rec.next_steps if s.id == "berufsberatung-appointment")
    assert "residence" not in guidance.data_categories
    assert "health" not in {c for s in rec.next_steps for c in s.data_categories}
