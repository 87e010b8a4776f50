"""Safe referrals: partner units, the § 87 AufenthG guard, purpose-bound consent, handover packets, samples.

The property at the end is the issue's acceptance test: over generated profiles and consents, no
step, check or packet hands a restricted status to a body with the reporting duty (except the
person's own application), no packet holds a field without a valid consent for its recipient and
purpose, and volunteers never get residence, benefits or health data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import shutil
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referral_engine import (
    CaseProfile,
    Consent,
    NextStep,
    ProfileError,
    Recommendation,
    RuleFileError,
    UsageError,
    default_ruleset,
    load_ruleset,
    recommend,
)
from referral_engine.cli import main
from referral_engine.conditions import Leaf, all_of
from referral_engine.facts import facts_for
from referral_engine.graph import PARTNER_KINDS
from referral_engine.handover import RESTRICTED_STATUSES, VOLUNTEER_FORBIDDEN, handover_packet
from referral_engine.models import Accommodation, Benefits, ResidenceStatus
from referral_engine.steps import CONFIDENTIAL_STEP
from referral_engine.verify import check
from tests.conftest import REPO, edited_rules

AS_OF = dt.date(2026, 3, 1)
RULES = default_ruleset()
UNITS = RULES.partners.partners
LANDRATSAMT_UNITS = ("landratsamt_abh", "landratsamt_sozialamt", "landratsamt_fsa", "landratsamt_im")


def reports(partner: str | None) -> bool:
    return partner is not None and RULES.partners.reports(partner)


def step_ids(rec: Recommendation) -> list[str]:
    return [step.id for step in rec.next_steps]


def line_of(path: Path, text: str, *, whole: bool = False) -> int:
    """The 1-based number of the first line of ``path`` containing ``text`` (``whole``: that is ``text``)."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if (line.strip() == text) if whole else (text in line):
            return number
    raise AssertionError(f"{text!r} not in {path}")


# -- partner units and offices ------------------------------------------------------------------


def test_the_landratsamt_is_split_into_units_with_one_purpose_each() -> None:
    """The old id names its units; each unit is a public body with the reporting duty, routed to alone."""
    assert UNITS["landratsamt"].replaced_by == LANDRATSAMT_UNITS
    for unit in LANDRATSAMT_UNITS:
        assert UNITS[unit].organisation == "landratsamt"
        assert (UNITS[unit].kind, UNITS[unit].reporting_duty) == ("public_body", True)
    assert not [offer for offer in RULES.partners.offers if offer.partner == "landratsamt"]


def test_every_partner_declares_its_kind_and_reporting_duty() -> None:
    """Every unit has a known kind; exactly the public bodies have the § 87 duty (the VHS is education)."""
    for unit in UNITS.values():
        assert unit.kind in PARTNER_KINDS
        assert unit.reporting_duty is (unit.kind == "public_body"), unit.id
    assert UNITS["vhs"].kind == "education"
    assert {UNITS[p].kind for p in ("caritas", "diakonie", "drk")} == {"free_welfare"}
    assert {UNITS[p].kind for p in ("helferkreis_bad_krozingen", "helferkreis_staufen")} == {"volunteer"}


@pytest.mark.parametrize(
    ("municipality", "day", "office"),
    [
        ("Bad Krozingen", dt.date(2024, 12, 31), "landratsamt_abh"),
        ("Bad Krozingen", dt.date(2025, 1, 1), "stadt_bad_krozingen_abh"),
        ("Staufen", dt.date(2025, 1, 1), "landratsamt_abh"),
        ("Hartheim", dt.date(2026, 6, 1), "landratsamt_abh"),
    ],
)
def test_bad_krozingen_is_its_own_auslaenderbehoerde_from_2025(
    municipality: str, day: dt.date, office: str
) -> None:
    """The Ausländerbehörde is routed by place and date: Bad Krozingen's own from 1 Jan 2025 (review #7)."""
    assert RULES.partners.route("office:auslaenderbehoerde", municipality, day) == (office,)


def test_an_immigration_office_check_goes_to_the_citys_office_in_bad_krozingen() -> None:
    """The work-permit question of a Gestattung holder in Bad Krozingen goes to the city's ABH in 2026."""
    profile = {
        "age": 30,
        "residence_status": "gestattung",
        "entry_date": dt.date(2025, 11, 1),
        "accommodation": "vorlaeufige_unterbringung",
        "benefits": "asylblg",
        "municipality": "Bad Krozingen",
        "registered_jobseeker": True,
        "employment": "unemployed",
    }
    rec = recommend(profile, as_of=dt.date(2026, 2, 15))
    [step] = [s for s in rec.next_steps if s.id == "check:arbeitsagentur-gestattung-3-to-6-months"]
    assert step.partner == "stadt_bad_krozingen_abh"
    assert step.reporting_duty


def test_an_offer_of_the_split_up_partner_is_a_located_error(tmp_path: Path) -> None:
    """An offer that still names 'landratsamt' is rejected with file:line, naming the units."""
    folder = edited_rules(
        tmp_path, "partners.yaml", "    partner: landratsamt_fsa\n", "    partner: landratsamt\n"
    )
    with pytest.raises(RuleFileError) as caught:
        load_ruleset(folder)
    [problem] = caught.value.problems
    assert problem.line == line_of(folder / "partners.yaml", "- id: landratsamt-fluechtlingssozialarbeit") + 1
    assert "split into units" in problem.message
    assert "landratsamt_fsa" in problem.message


def test_a_public_body_cannot_declare_itself_free_of_the_reporting_duty(tmp_path: Path) -> None:
    """reporting_duty: false on a public body is a located error: only educational bodies are exempt."""
    folder = edited_rules(
        tmp_path,
        "partners.yaml",
        "    name: Jobcenter Breisgau-Hochschwarzwald\n    kind: public_body\n",
        "    name: Jobcenter Breisgau-Hochschwarzwald\n    kind: public_body\n    reporting_duty: false\n",
    )
    with pytest.raises(RuleFileError) as caught:
        load_ruleset(folder)
    [problem] = caught.value.problems
    assert (problem.rule, problem.line) == (
        "jobcenter",
        line_of(folder / "partners.yaml", "reporting_duty: false"),
    )
    assert "kind: education" in problem.message


def test_old_partner_kinds_load_with_a_deprecation_warning(tmp_path: Path) -> None:
    """A rule set with the kinds of before (welfare, authority) still loads, and says what to write now."""
    folder = edited_rules(tmp_path, "partners.yaml", "kind: free_welfare", "kind: welfare")
    with pytest.warns(DeprecationWarning, match=r"partners\.yaml:\d+: partner kind 'welfare' is deprecated"):
        ruleset = load_ruleset(folder)
    assert ruleset.partners.partners["caritas"].kind == "free_welfare"


def test_an_unknown_office_is_a_located_error(tmp_path: Path) -> None:
    """A step naming an office that partners.yaml does not define is rejected at its line."""
    folder = edited_rules(
        tmp_path, "steps.yaml", "partner: office:auslaenderbehoerde", "partner: office:abh", count=1
    )
    with pytest.raises(RuleFileError) as caught:
        load_ruleset(folder)
    [problem] = caught.value.problems
    assert problem.file.endswith("steps.yaml")
    assert problem.line == line_of(folder / "steps.yaml", "partner: office:abh")
    assert "unknown office 'abh'" in problem.message


# -- the § 87 guard at load time ------------------------------------------------------------------


def test_granting_a_public_body_service_to_a_restricted_status_is_rejected(tmp_path: Path) -> None:
    """Berufsberatung without its status exclusion would send people without papers to the Agentur."""
    folder = edited_rules(
        tmp_path,
        "eligibility/berufsberatung.yaml",
        "        - {field: residence_status, op: not_in, value: [undocumented, ausreisepflichtig]}\n",
        "",
        count=1,
    )
    with pytest.raises(RuleFileError) as caught:
        load_ruleset(folder)
    problems = [p for p in caught.value.problems if p.rule == "berufsberatung-young-people"]
    assert {re.search(r"status '(\w+)'", p.message).group(1) for p in problems} == RESTRICTED_STATUSES  # type: ignore[union-attr]
    for problem in problems:
        assert problem.line == line_of(
            folder / "eligibility/berufsberatung.yaml", "id: berufsberatung-young-people"
        )
        assert "agentur_fuer_arbeit" in problem.message
        assert "§ 87 AufenthG" in problem.message


def test_a_check_with_a_reporting_body_for_a_restricted_status_is_rejected(tmp_path: Path) -> None:
    """The AsylbLG check for people without papers may not go to the Landratsamt, only to free welfare."""
    folder = edited_rules(
        tmp_path,
        "eligibility/asylblg.yaml",
        "check_with: office:confidential_counselling\n    when: {field: residence_status, op: eq, value: u",
        "check_with: landratsamt_sozialamt\n    when: {field: residence_status, op: eq, value: u",
    )
    with pytest.raises(RuleFileError) as caught:
        load_ruleset(folder)
    [problem] = caught.value.problems
    assert problem.rule == "asylblg-undocumented"
    assert "a check for a person with the restricted status 'undocumented'" in problem.message


def test_a_step_to_a_reporting_body_is_rejected_unless_it_is_the_persons_own_application(
    tmp_path: Path,
) -> None:
    """Without own_application, the AsylbLG application would hand an ausreisepflichtig person's status on."""
    folder = edited_rules(
        tmp_path,
        "steps.yaml",
        "    own_application: true",
        "    own_application: false",
    )
    with pytest.raises(RuleFileError) as caught:
        load_ruleset(folder)
    [problem] = caught.value.problems
    assert (problem.subject, problem.rule) == ("step", "asylblg-apply")
    assert problem.line == line_of(folder / "steps.yaml", "id: asylblg-apply")
    assert "'ausreisepflichtig'" in problem.message


def test_own_application_belongs_to_application_steps(tmp_path: Path) -> None:
    """own_application on an appointment is a located error: only an application is the person's own."""
    folder = edited_rules(
        tmp_path,
        "steps.yaml",
        "    kind: application\n    partner: responsible\n    own_application: true",
        "    kind: appointment\n    partner: responsible\n    own_application: true",
    )
    with pytest.raises(RuleFileError) as caught:
        load_ruleset(folder)
    assert any(
        "own_application belongs to steps of kind: application" in p.message for p in caught.value.problems
    )


@pytest.mark.parametrize(
    ("file", "old", "new", "rule"),
    [
        pytest.param(
            "steps.yaml",
            '    handover: [identity, language]\n    text:\n      de: "Kontakt zum {partner}',
            '    handover: [identity, language, health]\n    text:\n      de: "Kontakt zum {partner}',
            "helferkreis-contact",
            id="step",
        ),
        pytest.param(
            "eligibility/helferkreis.yaml",
            "    handover: [identity, language]",
            "    handover: [identity, residence]",
            "helferkreis-other-groups",
            id="check",
        ),
    ],
)
def test_volunteers_never_get_residence_benefits_or_health_data(
    tmp_path: Path, file: str, old: str, new: str, rule: str
) -> None:
    """A step or check that would hand sensitive data to a volunteer group is rejected at its line."""
    folder = edited_rules(tmp_path, file, old, new)
    with pytest.raises(RuleFileError) as caught:
        load_ruleset(folder)
    [problem] = caught.value.problems
    assert problem.rule == rule
    assert "volunteer" in problem.message


def test_the_check_command_reports_a_broken_guard_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`referral-engine check` exits 1 and names the rule that sends people without papers to the city."""
    folder = edited_rules(
        tmp_path,
        "eligibility/integrationsmanagement.yaml",
        "        - {field: accommodation_since, op: within, value: P3Y}\n"
        "        - {field: residence_status, op: not_in, value: [undocumented, ausreisepflichtig]}\n",
        "        - {field: accommodation_since, op: within, value: P3Y}\n",
    )
    assert main(["check", str(folder)]) == 1
    out = capsys.readouterr().out
    line = line_of(
        folder / "eligibility/integrationsmanagement.yaml",
        "id: integrationsmanagement-follow-up-accommodation",
    )
    assert f"{folder}/eligibility/integrationsmanagement.yaml:{line}" in out
    assert "restricted status 'undocumented'" in out


def test_check_reports_an_example_operator_named_literally_in_a_step(tmp_path: Path) -> None:
    """A JMD step text naming the sample operator instead of {partner} is a safety error at its line."""
    folder = edited_rules(
        tmp_path,
        "steps.yaml",
        "Ersttermin beim Jugendmigrationsdienst ({partner}) vereinbaren",
        "Ersttermin beim Jugendmigrationsdienst der Diakonie vereinbaren",
    )
    # The catalogues' translations keep {partner}: without them, only the safety finding is left.
    shutil.rmtree(folder / "i18n")
    report = check(folder)
    [finding] = [f for f in report.of_kind("safety") if f.severity == "error"]
    assert (finding.rule, finding.subject) == ("jmd-first-appointment", "step")
    assert finding.line == line_of(folder / "steps.yaml", "id: jmd-first-appointment")
    assert "diakonie-jmd" in finding.message


def test_the_bundled_rules_pass_the_guard_and_list_their_example_operators() -> None:
    """Check finds no safety error in the bundled rules and lists each sample offer as an info."""
    report = check(RULES)
    safety = report.of_kind("safety")
    assert not [f for f in safety if f.severity == "error"]
    samples = {f.rule for f in safety}
    assert {"diakonie-jmd", "caritas-mbe", "drk-mbe"} <= samples


# -- the guard for each case -------------------------------------------------------------------------

UNDOCUMENTED_IN_AU = {
    "age": 30,
    "residence_status": "undocumented",
    "accommodation": "anschlussunterbringung",
    "accommodation_since": dt.date(2025, 1, 1),
    "municipality": "Staufen",
}


def test_a_person_without_papers_gets_the_confidential_route_first() -> None:
    """No public body is named; status-independent services become checks with a free-welfare service."""
    rec = recommend(UNDOCUMENTED_IN_AU, as_of=AS_OF, lang="en")
    assert rec.next_steps[0].id == CONFIDENTIAL_STEP
    assert "Caritas" in rec.next_steps[0].text
    assert "§ 87 AufenthG" in rec.next_steps[0].text
    assert not [step.id for step in rec.next_steps if reports(step.partner)]
    for decision in rec.decisions:
        assert not [p for p in decision.partners if reports(p)]
    for service in ("integrationsmanagement", "asylblg", "berufsberatung"):
        assert rec.decision(service).status == "undetermined"
        [check_step] = [s for s in rec.next_steps if s.kind == "check" and s.service == service]
        assert UNITS[check_step.partner or ""].kind == "free_welfare"
    assert "asylblg-apply" not in step_ids(rec)


def test_the_asylblg_application_of_a_person_obliged_to_leave_comes_with_a_warning() -> None:
    """AsylbLG for ausreisepflichtig is the person's own application: allowed, flagged and warned about."""
    profile = {"age": 40, "residence_status": "ausreisepflichtig", "municipality": "Hartheim"}
    rec = recommend(profile, as_of=AS_OF, lang="en")
    assert rec.decision("asylblg").partners == ("landratsamt_sozialamt",)
    [apply] = [s for s in rec.next_steps if s.id == "asylblg-apply"]
    assert (apply.own_application, apply.reporting_duty, apply.partner) == (
        True,
        True,
        "landratsamt_sozialamt",
    )
    assert "makes the stay known to the immigration office" in apply.text
    others = [s for s in rec.next_steps if reports(s.partner) and s.service != "asylblg"]
    assert others == []


def test_the_planner_drops_a_route_to_a_reporting_body_that_a_rule_set_let_through() -> None:
    """Even a rule set built past the loader's guard never names a reporting body for a restricted status."""
    rule = RULES.rule("berufsberatung-young-people")
    ages = tuple(leaf for leaf in rule.leaves if isinstance(leaf, Leaf) and leaf.field == "age")
    loose = dataclasses.replace(rule, when=all_of(ages))
    rules = dataclasses.replace(RULES, rules=tuple(loose if r.id == rule.id else r for r in RULES.rules))
    profile = {"age": 20, "residence_status": "undocumented", "municipality": "Staufen"}
    rec = recommend(profile, as_of=AS_OF, ruleset=rules)
    assert rec.decision("berufsberatung").status == "eligible"
    assert rec.decision("berufsberatung").partners == ()
    assert not [s for s in rec.next_steps if reports(s.partner)]
    assert rec.next_steps[0].id == CONFIDENTIAL_STEP


# -- purpose-bound consent ---------------------------------------------------------------------------

REFUGEE = {
    "age": 34,
    "residence_status": "ae_25_2_refugee",
    "municipality": "Bad Krozingen",
    "benefits": "sgb2",
    "employment": "unemployed",
    "language_level": "A2",
}


def consent(partner: str, purpose: str, *categories: str, **more: Any) -> dict[str, Any]:
    return {
        "partner": partner,
        "purpose": purpose,
        "categories": list(categories),
        "given_on": "2026-01-20",
        **more,
    }


def test_a_consent_covers_only_its_purpose() -> None:
    """A release to the Jobcenter for the integration course does not cover the Bürgergeld application."""
    given = consent("jobcenter", "integrationskurs", "identity", "residence", "family", "benefits")
    rec = recommend({**REFUGEE, "consents": [given]}, as_of=AS_OF)
    assert "consent:jobcenter:jobcenter" in step_ids(rec)
    assert "consent:jobcenter:integrationskurs" not in step_ids(rec)
    packet = rec.handover("jobcenter-apply", {**REFUGEE, "consents": [given]})
    assert packet.categories == ()
    assert packet.basis == "none"


def test_a_consent_for_one_step_covers_that_step_only() -> None:
    """A release given for the step jobcenter-apply covers it but not the cooperation-plan appointment."""
    given = consent("jobcenter", "jobcenter-apply", "identity", "residence", "family", "benefits")
    profile = {**REFUGEE, "consents": [given]}
    rec = recommend(profile, as_of=AS_OF)
    [ask] = [s for s in rec.next_steps if s.id == "consent:jobcenter:jobcenter"]
    assert set(ask.data_categories) == {"identity", "language", "employment", "qualification"}
    assert rec.handover("jobcenter-apply", profile).categories == (
        "identity",
        "residence",
        "family",
        "benefits",
    )


def test_an_old_consent_to_the_whole_landratsamt_covers_none_of_its_units() -> None:
    """A release naming 'landratsamt' no longer frees data for the AsylbLG office: ask its unit again."""
    profile = {
        "age": 30,
        "residence_status": "duldung",
        "municipality": "Staufen",
        "consents": [consent("landratsamt", "asylblg", "identity", "residence", "accommodation", "family")],
    }
    rec = recommend(profile, as_of=AS_OF)
    assert "consent:landratsamt_sozialamt:asylblg" in step_ids(rec)


@pytest.mark.parametrize(
    ("more", "covered"),
    [
        ({}, True),
        ({"expires_on": "2026-03-01"}, True),  # the last day is still covered
        ({"expires_on": "2026-02-28"}, False),
        ({"withdrawn_on": "2026-03-01"}, False),
        ({"given_on": "2026-03-02"}, False),
    ],
)
def test_withdrawal_and_expiry_are_honoured(more: dict[str, str], covered: bool) -> None:
    """A consent covers from the day it is given, up to its expiry, and not from its withdrawal on."""
    given = consent("jobcenter", "jobcenter", "identity", "residence", "family", "benefits", **more)
    profile = {**REFUGEE, "consents": [given]}
    packet = recommend(profile, as_of=AS_OF).handover("jobcenter-apply", profile)
    assert (packet.categories != ()) is covered


def test_a_child_under_14_needs_the_guardians_consent() -> None:
    """For a 13-year-old only the guardians' release counts, and the consent step says so."""
    child = {"age": 13, "residence_status": "ae_25_2_refugee", "municipality": "Staufen"}
    by_child = consent("diakonie", "jmd", "identity", "language", "education")
    rec = recommend({**child, "consents": [by_child]}, as_of=AS_OF, lang="en")
    [ask] = [s for s in rec.next_steps if s.id == "consent:diakonie:jmd"]
    assert ask.guardian_consent
    assert "the guardians must sign" in ask.text
    by_guardians = {**by_child, "given_by": "guardian"}
    rec = recommend({**child, "consents": [by_guardians]}, as_of=AS_OF)
    assert "consent:diakonie:jmd" not in step_ids(rec)
    adult = recommend({**child, "age": 14, "consents": [by_child]}, as_of=AS_OF)
    assert "consent:diakonie:jmd" not in step_ids(adult)


@pytest.mark.parametrize(
    ("given", "field"),
    [
        (consent("jobcentre", "jobcenter", "identity"), "consents.0.partner"),
        (consent("jobcenter", "jobcentre-apply", "identity"), "consents.0.purpose"),
    ],
)
def test_a_consent_naming_an_unknown_partner_or_purpose_is_a_profile_error(
    given: dict[str, Any], field: str
) -> None:
    """A typo in a consent is a ProfileError naming the field, never the value given."""
    with pytest.raises(ProfileError) as caught:
        recommend({**REFUGEE, "consents": [given]}, as_of=AS_OF)
    assert [p.field for p in caught.value.problems] == [field]
    assert "jobcentr" not in str(caught.value)


def test_a_consent_without_a_purpose_is_rejected() -> None:
    """Purpose is required: a release must name what it is given for (research §9.2 items 2, 10)."""
    with pytest.raises(ProfileError) as caught:
        Consent.model_validate({"partner": "jobcenter", "categories": ["identity"], "given_on": "2026-01-01"})
    assert [p.field for p in caught.value.problems] == ["purpose"]


# -- handover packets -----------------------------------------------------------------------------


def test_a_handover_packet_holds_exactly_the_needed_and_consented_fields() -> None:
    """Needed ∩ consented, with the values, the basis and an audit record without values."""
    given = consent("jobcenter", "jobcenter", "identity", "residence", "benefits", "health", id="EV-2026-17")
    profile = CaseProfile.model_validate(
        {**REFUGEE, "birth_date": "1991-07-13", "age": None, "consents": [given]}
    )
    rec = recommend(profile, as_of=AS_OF)
    packet = rec.handover("jobcenter-apply", profile)
    assert (packet.recipient, packet.purpose, packet.basis) == ("jobcenter", "jobcenter", "consent")
    assert packet.categories == ("identity", "residence", "benefits")  # health is consented but not needed
    assert packet.withheld == ("family",)  # needed but not consented
    assert packet.data == {
        "residence_status": "ae_25_2_refugee",
        "birth_date": "1991-07-13",
        "benefits": "sgb2",
        "municipality": "Bad Krozingen",
    }
    record = packet.record.model_dump(mode="json")
    assert record["consents"] == ["EV-2026-17"]
    assert record["fields"] == list(packet.data)
    assert record["on"] == "2026-03-01"
    for value in ("1991-07-13", "ae_25_2_refugee", "Bad Krozingen"):
        assert value not in json.dumps(record)
        assert value not in repr(packet)
        assert value not in str(packet)


def test_a_packet_is_built_only_for_steps_that_hand_data_over() -> None:
    """Steps without a partner or data, unknown steps and another rule set are usage errors."""
    rec = recommend(REFUGEE, as_of=AS_OF)
    with pytest.raises(UsageError, match="passes no case data"):
        rec.handover("consent:jobcenter:jobcenter", REFUGEE)
    with pytest.raises(UsageError, match="no next step 'nope'"):
        rec.handover("nope", REFUGEE)
    other = load_ruleset(REPO / "tests" / "fixtures" / "minimal")
    with pytest.raises(UsageError, match="pass the rule set it was made with"):
        rec.handover("jobcenter-apply", REFUGEE, ruleset=other)


@pytest.mark.parametrize("category", sorted(VOLUNTEER_FORBIDDEN))
def test_a_volunteer_packet_never_holds_sensitive_data_whatever_the_consent(category: str) -> None:
    """Even a step that asks for it and a consent that releases it: residence, benefits, health stay back."""
    profile = CaseProfile.model_validate(
        {**REFUGEE, "consents": [consent("helferkreis_staufen", "helferkreis", "identity", category)]}
    )
    step = NextStep(
        id="helferkreis-contact",
        service="helferkreis",
        partner="helferkreis_staufen",
        kind="appointment",
        text="",
        data_categories=("identity", category),
    )
    packet = handover_packet(step, profile, RULES, as_of=AS_OF)
    assert packet.categories == ("identity",)
    assert packet.withheld == (category,)


def test_a_packet_never_gives_a_restricted_status_to_a_reporting_body() -> None:
    """With a consent and a step asking for it, an undocumented person's data do not go to the Jobcenter."""
    profile = CaseProfile.model_validate(
        {**UNDOCUMENTED_IN_AU, "consents": [consent("jobcenter", "jobcenter", "identity", "residence")]}
    )
    step = NextStep(
        id="jobcenter-apply",
        service="jobcenter",
        partner="jobcenter",
        kind="application",
        text="",
        data_categories=("identity", "residence"),
    )
    packet = handover_packet(step, profile, RULES, as_of=AS_OF)
    assert (packet.categories, packet.basis, dict(packet.data)) == ((), "none", {})


# -- sample partners ------------------------------------------------------------------------------

YOUTH = {"age": 19, "residence_status": "gestattung", "municipality": "Staufen"}


def test_example_operators_are_flagged_in_decisions_steps_texts_and_html() -> None:
    """The sample JMD operator is marked wherever it appears; no consent names it without the warning."""
    rec = recommend(YOUTH, as_of=AS_OF, lang="en")
    jmd = rec.decision("jmd")
    assert jmd.sample_partners == ("diakonie",)
    for step in rec.next_steps:
        if step.partner == "diakonie" and step.service == "jmd":
            assert step.sample
            assert "example operator – replace for your deployment" in step.text
    assert "consent:diakonie:jmd" in step_ids(rec)
    assert "example operator" in jmd.explain("en")
    assert "Beispiel-Träger" in jmd.explain("de")
    assert "example operator" in rec._repr_html_()


def test_real_partners_carry_no_example_flag() -> None:
    """Routes through real offers are not flagged."""
    rec = recommend(REFUGEE, as_of=AS_OF)
    assert rec.decision("jobcenter").sample_partners == ()
    assert not [s for s in rec.next_steps if s.partner == "jobcenter" and s.sample]


# -- the property of the issue ------------------------------------------------------------------------

_MUNICIPALITIES = (None, "Bad Krozingen", "Staufen", "Hartheim")
_STATUSES: tuple[str, ...] = get_args(ResidenceStatus)


@st.composite
def _profiles(draw: st.DrawFn) -> tuple[dict[str, Any], dt.date]:
    as_of = draw(st.dates(dt.date(2024, 1, 1), dt.date(2027, 12, 31)))
    restricted = draw(st.booleans())
    status = draw(st.sampled_from(sorted(RESTRICTED_STATUSES)) if restricted else st.sampled_from(_STATUSES))
    profile: dict[str, Any] = {
        "residence_status": status,
        "age": draw(
            st.one_of(st.none(), st.integers(0, 80), st.sampled_from([11, 12, 13, 14, 15, 26, 27, 66, 67]))
        ),
        "accommodation": draw(st.none() | st.sampled_from(get_args(Accommodation))),
        "benefits": draw(st.none() | st.sampled_from(get_args(Benefits))),
        "municipality": draw(st.sampled_from(_MUNICIPALITIES)),
    }
    for name in ("entry_date", "status_since", "accommodation_since"):
        profile[name] = draw(st.none() | st.dates(dt.date(2015, 1, 1), as_of))
    for name in ("registered_jobseeker", "foreign_qualification"):
        profile[name] = draw(st.none() | st.booleans())
    profile["employment"] = draw(
        st.none() | st.sampled_from(["unemployed", "employed", "training", "school"])
    )
    profile["language_level"] = draw(st.none() | st.sampled_from(["none", "A1", "A2", "B1"]))
    return profile, as_of


@st.composite
def _consents_for(draw: st.DrawFn, steps: tuple[NextStep, ...], as_of: dt.date) -> list[dict[str, Any]]:
    """Consents aimed at the steps' recipients and purposes: valid, withdrawn, expired, a child's, wrong."""
    targets = [s for s in steps if s.partner is not None and s.data_categories and s.kind != "consent"]
    chosen = draw(st.lists(st.sampled_from(targets), max_size=6)) if targets else []
    found = []
    for step in chosen:
        near = st.dates(as_of - dt.timedelta(days=400), as_of + dt.timedelta(days=30))
        given_on = draw(near)
        later = st.dates(given_on, given_on + dt.timedelta(days=800))
        found.append(
            {
                "partner": step.partner if draw(st.integers(0, 9)) else draw(st.sampled_from(sorted(UNITS))),
                "purpose": draw(st.sampled_from([step.service, step.id])),
                "categories": draw(
                    st.lists(
                        st.sampled_from([*step.data_categories, "health", "benefits", "residence"]),
                        min_size=1,
                        max_size=5,
                        unique=True,
                    )
                ),
                "given_on": given_on,
                "withdrawn_on": draw(st.none() | later),
                "expires_on": draw(st.none() | later),
                "given_by": draw(st.sampled_from(["person", "guardian"])),
            }
        )
    return found


def _valid(
    given: Consent, recipient: str, purposes: set[str], category: str, on: dt.date, minor: bool
) -> bool:
    """Whether ``given`` releases ``category`` to ``recipient`` for ``purposes`` on ``on`` (written out)."""
    return (
        given.partner == recipient
        and given.purpose in purposes
        and category in given.categories
        and given.given_on <= on
        and (given.withdrawn_on is None or on < given.withdrawn_on)
        and (given.expires_on is None or on <= given.expires_on)
        and (given.given_by == "guardian" or not minor)
    )


@given(data=st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_no_step_or_packet_exposes_a_person_or_passes_data_without_consent(data: st.DataObject) -> None:
    """The issue's property: § 87 guard, purpose-bound consent, volunteers, withdrawal and expiry hold."""
    raw, as_of = data.draw(_profiles())
    first = recommend(raw, as_of=as_of)
    raw["consents"] = data.draw(_consents_for(first.next_steps, as_of))
    profile = CaseProfile.model_validate(raw)
    rec = recommend(profile, as_of=as_of)
    restricted = profile.residence_status in RESTRICTED_STATUSES
    minor = (age := facts_for(profile, as_of)["age"]) is not None and age < 14
    own = {t.id for t in RULES.steps if t.own_application}

    for decision in rec.decisions:
        for partner in decision.partners if restricted else ():
            if reports(partner):  # only the person's own application may route there
                assert any(
                    r.outcome == "holds" and r.effect == "eligible" and RULES.rule(r.rule).own_application
                    for r in decision.reasons
                ), (decision.service, partner)
    for step in rec.next_steps:
        unit = UNITS.get(step.partner or "")
        if unit is not None and unit.kind == "volunteer":
            assert not set(step.data_categories) & VOLUNTEER_FORBIDDEN, step.id
        if restricted and reports(step.partner):
            later_own = any(s.id in own and s.partner == step.partner for s in rec.next_steps)
            assert step.own_application or (step.kind == "consent" and later_own), step.id
        if step.partner is None or not step.data_categories or step.kind == "consent":
            continue
        packet = rec.handover(step.id, profile)
        assert set(packet.categories) <= set(step.data_categories)
        if restricted and reports(step.partner) and not step.own_application:
            assert packet.categories == ()
        if unit is not None and unit.kind == "volunteer":
            assert not set(packet.categories) & VOLUNTEER_FORBIDDEN
        for category in packet.categories:
            assert any(
                _valid(c, step.partner, {step.service, step.id}, category, as_of, minor)
                for c in profile.consents
            ), (step.id, category)
        for name, value in packet.data.items():
            assert RULES.fields[name].category in packet.categories
            assert value is not None
        assert packet.record.fields == tuple(packet.data)
        assert packet.record.basis == ("consent" if packet.categories else "none")


def test_the_guard_sees_every_restricted_status_of_the_case_model() -> None:
    """The restricted statuses are residence-status codes of the case model (a typo would guard nothing)."""
    assert set(RESTRICTED_STATUSES) <= set(_STATUSES)


def test_a_check_names_the_person_so_it_hands_over_identity_with_consent_first() -> None:
    """A check without a handover list passes identity too, and the consent step asks for it."""
    profile = {"age": 40, "residence_status": "settlement", "municipality": "Staufen"}
    rec = recommend(profile, as_of=AS_OF)
    checks = [s for s in rec.next_steps if s.kind == "check" and s.partner is not None]
    assert checks
    for step in checks:
        rule = RULES.rule(step.id.removeprefix("check:"))
        if rule.handover is None:
            assert step.data_categories[0] == "identity", step.id
    [mbe_check] = [s for s in checks if s.service == "mbe"]
    [consent_step] = [s for s in rec.next_steps if s.id == f"consent:{mbe_check.partner}:mbe"]
    assert "identity" in consent_step.data_categories


def test_the_command_line_flags_example_operators_too(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo's text names the sample JMD operator with the example warning, never bare."""
    assert main(["demo", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    jmd_lines = [line for line in out.splitlines() if line.startswith("  + Youth Migration Service (JMD)")]
    assert jmd_lines
    assert all(
        line.endswith("Diakonisches Werk (example operator – replace for your deployment)")
        for line in jmd_lines
    )
