"""recommend() on the small rule set in tests/fixtures/minimal, with expectations worked out by hand.

The fixture: service ``youth`` (priority 1) is granted for ages 12-26 unless undocumented, with a
``check`` rule for arrival certificates (check_with: office); service ``adult`` (priority 2) is
granted from 27 within three years of arrival (rule in force from 2020-01-01) and excluded for
undocumented people. ``north`` (de, ar; town_a) and ``south`` (de, uk; town_a, town_b) offer youth,
``office`` offers adult in town_a from 2025-01-01. Steps: youth-appointment (hands over identity and
residence), youth-info (no partner), adult-apply (hands over residence) and adult-appointment (only
when employment is not ``employed``).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest

from referral_engine import (
    CaseProfile,
    ConditionOutcome,
    Consent,
    ProfileError,
    Recommendation,
    Ruleset,
    Status,
    load_ruleset,
    recommend,
)
from referral_engine.models import Lang, Reason

MINIMAL = Path(__file__).parent / "fixtures" / "minimal"
AS_OF = dt.date(2026, 3, 1)
YOUTH: dict[str, Any] = {"residence_status": "gestattung", "municipality": "Town A", "age": 20}
ADULT: dict[str, Any] = {
    "residence_status": "gestattung",
    "municipality": "Town A",
    "age": 30,
    "entry_date": dt.date(2024, 6, 1),
}


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    """The minimal fixture rule set."""
    return load_ruleset(MINIMAL)


def run(ruleset: Ruleset, *, as_of: dt.date = AS_OF, lang: Lang = "de", **profile: Any) -> Recommendation:
    return recommend(profile, as_of=as_of, ruleset=ruleset, lang=lang)


def step_ids(rec: Recommendation) -> list[str]:
    return [step.id for step in rec.next_steps]


def status(rec: Recommendation, service: str) -> Status:
    return rec.decision(service).status


def variant(tmp_path: Path, files: dict[str, str]) -> Ruleset:
    """The minimal rule set with some files replaced."""
    folder = tmp_path / "rules"
    shutil.copytree(MINIMAL, folder)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return load_ruleset(folder)


YOUTH_WITH_REAL_CHECK = """\
service: youth
rules:
  - id: youth-age
    effect: eligible
    when:
      all:
        - {field: age, op: ge, value: 12}
        - {field: age, op: lt, value: 27}
        - {field: residence_status, op: not_in, value: [undocumented, arrival_certificate]}
    source: "test source A"
  - id: youth-arrival-check
    effect: check
    when:
      all:
        - {field: age, op: ge, value: 12}
        - {field: age, op: lt, value: 27}
        - {field: residence_status, op: eq, value: arrival_certificate}
    source: "test source B"
    confidence: unverified
    CHECK_WITH
    note: {de: Ankunftsnachweis offen, en: arrival certificate unclear}
"""


# -- eligibility -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "youth", "adult"),
    [
        (11, "not_eligible", "not_eligible"),
        (12, "eligible", "not_eligible"),
        (26, "eligible", "not_eligible"),
        (27, "not_eligible", "eligible"),
        (120, "not_eligible", "eligible"),
    ],
)
def test_eligibility_by_age_boundaries(ruleset: Ruleset, age: int, youth: str, adult: str) -> None:
    """Youth is for ages 12 to 26 and adult from 27 (with a recent arrival)."""
    rec = run(ruleset, **{**ADULT, "age": age})
    assert status(rec, "youth") == youth
    assert status(rec, "adult") == adult


@pytest.mark.parametrize(
    ("as_of", "youth"),
    [
        (dt.date(2026, 2, 28), "not_eligible"),  # still 11
        (dt.date(2026, 3, 1), "eligible"),  # 12th birthday
        (dt.date(2041, 2, 28), "eligible"),  # still 26
        (dt.date(2041, 3, 1), "not_eligible"),  # 27th birthday
    ],
)
def test_eligibility_by_birth_date(ruleset: Ruleset, as_of: dt.date, youth: str) -> None:
    """The age rules use the age computed from birth_date on as_of, counting from the birthday."""
    rec = run(ruleset, as_of=as_of, residence_status="gestattung", birth_date=dt.date(2014, 3, 1))
    assert status(rec, "youth") == youth


def test_leap_day_birthday_counts_from_first_of_march(ruleset: Ruleset) -> None:
    """Someone born on 29 February 2000 turns 27 on 1 March 2027, not on 28 February."""
    profile: dict[str, Any] = {"residence_status": "gestattung", "birth_date": dt.date(2000, 2, 29)}
    assert status(run(ruleset, as_of=dt.date(2027, 2, 28), **profile), "youth") == "eligible"
    assert status(run(ruleset, as_of=dt.date(2027, 3, 1), **profile), "youth") == "not_eligible"


def test_unknown_fact_makes_a_decision_undetermined(ruleset: Ruleset) -> None:
    """Without an age, youth is undetermined and names the unknown fields, not not_eligible."""
    rec = run(ruleset, residence_status="gestattung", municipality="Town A")
    youth = rec.decision("youth")
    assert youth.status == "undetermined"
    assert youth.missing == ("age",)
    assert youth.partners == ()  # partners are listed for eligible decisions only


def test_exclusion_beats_grant(ruleset: Ruleset) -> None:
    """An undocumented 30-year-old is not eligible for adult although adult-new holds."""
    rec = run(ruleset, **{**ADULT, "residence_status": "undocumented"})
    adult = rec.decision("adult")
    assert adult.status == "not_eligible"
    assert [(reason.rule, reason.outcome, reason.effect) for reason in adult.reasons] == [
        ("adult-excluded", "holds", "not_eligible")
    ]
    assert adult.reasons[0].source == ("test source D",)


def test_unknown_exclusion_leaves_grant_undetermined(ruleset: Ruleset) -> None:
    """A holding grant with an unknown exclusion is undetermined, with the exclusion's field missing."""
    rec = run(ruleset, **{**ADULT, "residence_status": None})
    adult = rec.decision("adult")
    assert adult.status == "undetermined"
    assert adult.missing == ("residence_status",)
    assert {(reason.rule, reason.outcome) for reason in adult.reasons} == {
        ("adult-new", "holds"),
        ("adult-excluded", "unknown"),
    }


def test_check_rule_is_subsumed_by_a_holding_grant(ruleset: Ruleset) -> None:
    """In the fixture youth-age also holds for arrival certificates, so youth is simply eligible."""
    rec = run(ruleset, **{**YOUTH, "residence_status": "arrival_certificate"})
    assert status(rec, "youth") == "eligible"
    assert not any(step.kind == "check" for step in rec.next_steps)


def test_check_rule_makes_undetermined_with_check_step(tmp_path: Path) -> None:
    """A holding check rule alone gives undetermined, a check step with check_with and a consent first."""
    rules = variant(
        tmp_path,
        {"eligibility/youth.yaml": YOUTH_WITH_REAL_CHECK.replace("CHECK_WITH", "check_with: office")},
    )
    rec = run(rules, **{**YOUTH, "residence_status": "arrival_certificate"})
    youth = rec.decision("youth")
    assert youth.status == "undetermined"
    assert youth.missing == ()
    assert rec.missing == ()
    assert [(r.rule, r.outcome, r.confidence) for r in youth.reasons] == [
        ("youth-arrival-check", "holds", "unverified")
    ]
    assert step_ids(rec) == ["consent:office:youth", "check:youth-arrival-check"]
    consent, check = rec.next_steps
    assert (consent.kind, consent.partner, consent.data_categories) == (
        "consent",
        "office",
        ("identity", "residence"),
    )
    assert (check.kind, check.partner, check.service) == ("check", "office", "youth")
    assert check.data_categories == ("identity", "residence")  # the categories of age and residence_status
    assert check.text == "Mit District Office klären (Jugendberatung): Ankunftsnachweis offen"


def test_check_rule_without_check_with_asks_the_responsible_partner(tmp_path: Path) -> None:
    """Without check_with the check goes to the routed partner, or becomes a no_partner step."""
    rules = variant(tmp_path, {"eligibility/youth.yaml": YOUTH_WITH_REAL_CHECK.replace("CHECK_WITH", "")})
    rec = run(rules, lang="en", **{**YOUTH, "residence_status": "arrival_certificate", "languages": ["uk"]})
    assert step_ids(rec) == ["consent:south:youth", "check:youth-arrival-check"]
    assert (
        rec.next_steps[1].text
        == "Check with South Counselling (Youth counselling): arrival certificate unclear"
    )
    nowhere = run(rules, **{**YOUTH, "residence_status": "arrival_certificate", "municipality": None})
    assert step_ids(nowhere) == ["clarify:municipality"]  # an unknown municipality is asked for


def test_check_step_is_suppressed_by_consent(tmp_path: Path) -> None:
    """A valid consent for the checking partner removes the consent step but not the check."""
    rules = variant(
        tmp_path,
        {"eligibility/youth.yaml": YOUTH_WITH_REAL_CHECK.replace("CHECK_WITH", "check_with: office")},
    )
    consent = Consent(
        partner="office", purpose="youth", categories=("identity", "residence"), given_on=dt.date(2026, 1, 1)
    )
    rec = run(rules, **{**YOUTH, "residence_status": "arrival_certificate", "consents": [consent]})
    assert step_ids(rec) == ["check:youth-arrival-check"]


# -- missing facts -----------------------------------------------------------------------------


def test_missing_fields_of_an_empty_profile(ruleset: Ruleset) -> None:
    """With nothing known both services are open; fields are ranked by how many they settle."""
    rec = run(ruleset)
    assert rec.undetermined == ("youth", "adult")
    assert rec.decision("youth").missing == ("residence_status", "age")
    assert rec.decision("adult").missing == ("residence_status", "age", "entry_date")
    assert rec.missing == ("residence_status", "age", "entry_date")
    assert step_ids(rec)[:3] == ["clarify:residence_status", "clarify:age", "clarify:entry_date"]
    assert [step.service for step in rec.next_steps[:3]] == ["youth", "youth", "adult"]
    assert rec.next_steps[0].text == (
        "Offene Frage klären: Welchen Aufenthaltsstatus hat die Person (Titel bzw. Bescheinigung)? "
        "(entscheidet über: Jugendberatung, Erwachsenenberatung)"
    )


def test_missing_ties_follow_fields_yaml_order(ruleset: Ruleset) -> None:
    """Fields that settle equally many decisions come in fields.yaml order, not rule order."""
    rec = run(ruleset, age=30)
    assert status(rec, "youth") == "not_eligible"
    # adult-new names entry_date first, but residence_status comes first in fields.yaml.
    assert rec.missing == ("residence_status", "entry_date")
    assert step_ids(rec) == ["clarify:residence_status", "clarify:entry_date"]


def test_missing_counts_beat_fields_yaml_order(tmp_path: Path) -> None:
    """A field that settles more decisions outranks one listed earlier in fields.yaml."""
    fields = (MINIMAL / "fields.yaml").read_text(encoding="utf-8")
    entry = "  entry_date:\n" + fields.split("  entry_date:\n")[1].split("\n  status_since:")[0] + "\n"
    reordered = fields.replace(entry, "").replace("fields:\n", "fields:\n" + entry, 1)
    rules = variant(tmp_path, {"fields.yaml": reordered})
    assert next(iter(rules.fields)) == "entry_date"
    rec = run(rules)
    # entry_date (1 decision) is first in fields.yaml but residence_status and age settle two.
    assert rec.missing == ("residence_status", "age", "entry_date")
    assert rec.decision("adult").missing == ("entry_date", "residence_status", "age")


# -- routing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Town A", "town a", "TOWN A", "  Town   A ", "A-Town", "a-town"])
def test_routing_by_municipality_name_or_alias(ruleset: Ruleset, name: str) -> None:
    """The municipality is matched by name or alias, ignoring case and extra spaces."""
    rec = run(ruleset, **{**YOUTH, "municipality": name})
    assert rec.decision("youth").partners == ("north", "south")


@pytest.mark.parametrize(
    ("languages", "partners"),
    [
        ((), ("north", "south")),
        (("uk",), ("south", "north")),
        (("ar",), ("north", "south")),
        (("UK", "fa"), ("south", "north")),
        (("uk", "ar"), ("north", "south")),  # both spoken: by partner id
        (("de",), ("north", "south")),
        (("fa",), ("north", "south")),
    ],
)
def test_language_preference(ruleset: Ruleset, languages: tuple[str, ...], partners: tuple[str, ...]) -> None:
    """Offers in a language the person speaks come first, then by partner id."""
    rec = run(ruleset, **{**YOUTH, "languages": languages})
    assert rec.decision("youth").partners == partners


def test_routing_town_b(ruleset: Ruleset) -> None:
    """In town_b only south offers youth."""
    assert run(ruleset, **{**YOUTH, "municipality": "Town B"}).decision("youth").partners == ("south",)


@pytest.mark.parametrize("municipality", ["Town C", "Freiburg"])
def test_municipality_outside_graph_is_a_profile_error(ruleset: Ruleset, municipality: str) -> None:
    """A municipality the rule set does not know is a ProfileError listing the ones it knows."""
    with pytest.raises(
        ProfileError, match=r"municipality: unknown municipality; this rule set knows: Town A, Town B"
    ):
        run(ruleset, **{**YOUTH, "municipality": municipality})


def test_a_known_municipality_without_an_offer_gives_a_no_partner_step(ruleset: Ruleset) -> None:
    """Where no offer covers a known municipality, an eligible service gets a no_partner step."""
    rec = run(ruleset, **{**ADULT, "municipality": "Town B"})
    adult = rec.decision("adult")
    assert adult.status == "eligible"
    assert adult.partners == ()
    assert step_ids(rec) == ["no_partner:adult"]
    assert rec.next_steps[0].partner is None
    assert rec.next_steps[0].kind == "no_partner"
    assert rec.next_steps[0].text.startswith(
        "Erwachsenenberatung: Für den Wohnort der Person ist kein Partner hinterlegt"
    )


@pytest.mark.parametrize(
    ("as_of", "partners"), [(dt.date(2024, 12, 31), ()), (dt.date(2025, 1, 1), ("office",))]
)
def test_offer_validity_window(ruleset: Ruleset, as_of: dt.date, partners: tuple[str, ...]) -> None:
    """The office's adult offer counts from 2025-01-01 on."""
    rec = run(ruleset, as_of=as_of, **ADULT)
    assert rec.decision("adult").status == "eligible"
    assert rec.decision("adult").partners == partners
    if not partners:
        assert step_ids(rec) == ["no_partner:adult"]


def test_an_unknown_municipality_is_a_question_not_a_missing_partner(ruleset: Ruleset) -> None:
    """Without a municipality an eligible service with no partner asks where the person lives (review #17)."""
    rec = run(ruleset, **{**YOUTH, "municipality": None})
    assert rec.decision("youth").partners == ()
    assert rec.missing == ("municipality",)
    assert step_ids(rec) == ["clarify:municipality", "youth-info"]
    assert rec.questions[0].field == "municipality"
    assert rec.next_steps[0].service == "youth"


# -- next steps --------------------------------------------------------------------------------


def test_youth_steps(ruleset: Ruleset) -> None:
    """An eligible youth gets a consent for north, the appointment and the leaflet, in that order."""
    rec = run(ruleset, **YOUTH)
    assert rec.eligible == ("youth",)
    assert rec.missing == ()
    assert step_ids(rec) == ["consent:north:youth", "youth-appointment", "youth-info"]
    consent, appointment, info = rec.next_steps
    assert (consent.kind, consent.partner, consent.service) == ("consent", "north", "youth")
    assert consent.data_categories == ("identity", "residence")
    assert (
        consent.text == "Schweigepflichtentbindung einholen für North Counselling, Zweck Jugendberatung: "
        "Weitergabe von Personalien, Aufenthaltsstatus"
    )
    assert (appointment.kind, appointment.partner, appointment.data_categories) == (
        "appointment",
        "north",
        ("identity", "residence"),
    )
    assert appointment.text == "Termin bei North Counselling (Jugendberatung)"
    assert (info.kind, info.partner, info.data_categories) == ("information", None, ())
    assert info.text == "Infoblatt zu Jugendberatung aushändigen"


def test_texts_in_english(ruleset: Ruleset) -> None:
    """With lang='en' names and step texts are English."""
    rec = run(ruleset, lang="en", **YOUTH)
    assert rec.lang == "en"
    assert rec.decision("youth").name == "Youth counselling"
    assert [step.text for step in rec.next_steps] == [
        "Obtain a release from confidentiality for North Counselling, purpose Youth counselling: "
        "sharing personal details, residence status",
        "Appointment with North Counselling (Youth counselling)",
        "Hand out the Youth counselling leaflet",
    ]
    empty = run(ruleset, lang="en")
    assert empty.next_steps[0].text == (
        "Ask: What is the person's residence status (title or certificate)? "
        "(decides: Youth counselling, Adult counselling)"
    )


@pytest.mark.parametrize(
    ("employment", "steps"),
    [
        (None, ["consent:office:adult", "adult-apply"]),  # unknown: a step's condition must hold
        ("employed", ["consent:office:adult", "adult-apply"]),
        ("unemployed", ["consent:office:adult", "adult-appointment", "adult-apply"]),
    ],
)
def test_step_with_condition_and_kind_order(
    ruleset: Ruleset, employment: str | None, steps: list[str]
) -> None:
    """adult-appointment needs employment != employed and comes before the application."""
    rec = run(ruleset, **{**ADULT, "employment": employment})
    assert step_ids(rec) == steps
    assert rec.next_steps[-1].data_categories == ("residence",)
    assert rec.next_steps[0].data_categories == ("residence",)


def test_no_clarify_step_for_a_step_condition(ruleset: Ruleset) -> None:
    """A field only a step's condition tests is not a missing fact."""
    rec = run(ruleset, **ADULT)
    assert rec.missing == ()
    assert not any(step.kind == "clarify" for step in rec.next_steps)


@pytest.mark.parametrize(
    ("consent", "steps"),
    [
        pytest.param(None, ["consent:north:youth", "youth-appointment", "youth-info"], id="none"),
        pytest.param(
            Consent(
                partner="north",
                purpose="youth",
                categories=("identity", "residence"),
                given_on=dt.date(2026, 1, 1),
            ),
            ["youth-appointment", "youth-info"],
            id="valid",
        ),
        pytest.param(
            Consent(
                partner="north",
                purpose="youth",
                categories=("residence", "identity", "health"),
                given_on=AS_OF,
            ),
            ["youth-appointment", "youth-info"],
            id="given-on-as_of",
        ),
        pytest.param(
            Consent(
                partner="north",
                purpose="youth",
                categories=("identity", "residence"),
                given_on=dt.date(2026, 1, 1),
                withdrawn_on=dt.date(2026, 3, 2),
            ),
            ["youth-appointment", "youth-info"],
            id="withdrawn-after-as_of",
        ),
        pytest.param(
            Consent(
                partner="north",
                purpose="youth",
                categories=("identity", "residence"),
                given_on=dt.date(2026, 1, 1),
                withdrawn_on=dt.date(2026, 2, 1),
            ),
            ["consent:north:youth", "youth-appointment", "youth-info"],
            id="withdrawn",
        ),
        pytest.param(
            Consent(
                partner="north",
                purpose="youth",
                categories=("identity", "residence"),
                given_on=dt.date(2026, 1, 1),
                withdrawn_on=AS_OF,
            ),
            ["consent:north:youth", "youth-appointment", "youth-info"],
            id="withdrawn-on-as_of",
        ),
        pytest.param(
            Consent(
                partner="north",
                purpose="youth",
                categories=("identity", "residence"),
                given_on=dt.date(2026, 3, 2),
            ),
            ["consent:north:youth", "youth-appointment", "youth-info"],
            id="given-after-as_of",
        ),
        pytest.param(
            Consent(
                partner="south",
                purpose="youth",
                categories=("identity", "residence"),
                given_on=dt.date(2026, 1, 1),
            ),
            ["consent:north:youth", "youth-appointment", "youth-info"],
            id="other-partner",
        ),
    ],
)
def test_consent_suppresses_consent_step(ruleset: Ruleset, consent: Consent | None, steps: list[str]) -> None:
    """Only a consent in force on as_of for the partner and categories removes the consent step."""
    rec = run(ruleset, **YOUTH, consents=[consent] if consent else [])
    assert step_ids(rec) == steps


def test_partial_consent_asks_only_for_the_rest(ruleset: Ruleset) -> None:
    """A consent for some categories leaves a consent step for the categories not yet released."""
    consent = Consent(
        partner="north", purpose="youth", categories=("identity",), given_on=dt.date(2026, 1, 1)
    )
    rec = run(ruleset, **YOUTH, consents=[consent])
    assert rec.next_steps[0].id == "consent:north:youth"
    assert rec.next_steps[0].data_categories == ("residence",)


def test_consents_add_up(ruleset: Ruleset) -> None:
    """Two consents for the same partner together cover the categories of both."""
    consents = [
        Consent(partner="north", purpose="youth", categories=("identity",), given_on=dt.date(2026, 1, 1)),
        Consent(partner="north", purpose="youth", categories=("residence",), given_on=dt.date(2026, 2, 1)),
    ]
    assert step_ids(run(ruleset, **YOUTH, consents=consents)) == ["youth-appointment", "youth-info"]


# -- reasons -----------------------------------------------------------------------------------


def test_reasons_of_not_eligible_list_failing_conditions(ruleset: Ruleset) -> None:
    """A 30-year-old is not eligible for youth; the reasons show which conditions failed."""
    rec = run(ruleset, **ADULT)
    youth = rec.decision("youth")
    assert youth.status == "not_eligible"
    assert [(r.rule, r.effect, r.outcome, r.in_force) for r in youth.reasons] == [
        ("youth-age", "eligible", "fails", True),
        ("youth-arrival-check", "check", "fails", True),
    ]
    assert [(c.field, c.op, c.value, c.outcome) for c in youth.reasons[0].conditions] == [
        ("age", "ge", 12, "met"),
        ("age", "lt", 27, "failed"),
        ("residence_status", "ne", "undocumented", "met"),
    ]
    assert [(c.field, c.op, c.value, c.outcome) for c in youth.reasons[1].conditions] == [
        ("age", "ge", 12, "met"),
        ("age", "lt", 27, "failed"),
        ("residence_status", "eq", "arrival_certificate", "failed"),
    ]
    assert youth.reasons[1].note == "Ankunftsnachweis offen"
    assert youth.reasons[1].confidence == "unverified"


def test_reasons_of_eligible_decision(ruleset: Ruleset) -> None:
    """An eligible decision gives the granting rule with its source, window, met conditions and values."""
    adult = run(ruleset, lang="en", **ADULT).decision("adult")
    assert adult.reasons == (
        Reason(
            rule="adult-new",
            effect="eligible",
            outcome="holds",
            in_force=True,
            source=("test source C",),
            valid_from=dt.date(2020, 1, 1),
            conditions=(
                ConditionOutcome(field="age", op="ge", value=27, outcome="met", actual=30),
                ConditionOutcome(
                    field="entry_date", op="within", value="P3Y", outcome="met", actual="2024-06-01"
                ),
            ),
        ),
    )
    assert adult.name == "Adult counselling"


def test_rule_outside_validity_window_shows_as_not_in_force(ruleset: Ruleset) -> None:
    """Before 2020 adult-new is not applied but listed with in_force=False because it would hold."""
    rec = run(ruleset, as_of=dt.date(2019, 12, 31), **{**ADULT, "entry_date": dt.date(2019, 6, 1)})
    adult = rec.decision("adult")
    assert adult.status == "not_eligible"
    assert [(r.rule, r.outcome, r.in_force, r.valid_from) for r in adult.reasons] == [
        ("adult-new", "holds", False, dt.date(2020, 1, 1))
    ]
    on_the_day = run(ruleset, as_of=dt.date(2020, 1, 1), **{**ADULT, "entry_date": dt.date(2019, 6, 1)})
    assert on_the_day.decision("adult").status == "eligible"
    assert on_the_day.decision("adult").reasons[0].in_force is True


def test_rule_outside_window_that_would_fail_is_not_listed(ruleset: Ruleset) -> None:
    """A lapsed rule whose conditions fail anyway is not given as a reason."""
    rec = run(ruleset, as_of=dt.date(2019, 12, 31), **{**ADULT, "age": 20, "entry_date": dt.date(2019, 6, 1)})
    assert rec.decision("adult").reasons == ()


@pytest.mark.parametrize(
    ("entry_date", "adult"),
    [
        (dt.date(2023, 3, 1), "eligible"),  # third anniversary is as_of itself
        (dt.date(2023, 2, 28), "not_eligible"),
        (dt.date(2026, 3, 1), "eligible"),
    ],
)
def test_adult_window_boundaries(ruleset: Ruleset, entry_date: dt.date, adult: str) -> None:
    """The P3Y arrival window of adult-new includes its third anniversary (§ 188 BGB)."""
    rec = run(ruleset, **{**ADULT, "entry_date": entry_date})
    assert status(rec, "adult") == adult


def test_arrival_after_as_of_is_a_profile_error(ruleset: Ruleset) -> None:
    """An arrival after as_of is rejected like a birth after as_of, not read as outside the window."""
    with pytest.raises(ProfileError, match="entry_date: must not be after the as_of date"):
        run(ruleset, **{**ADULT, "entry_date": dt.date(2026, 3, 2)})


# -- the whole recommendation ------------------------------------------------------------------


def test_decisions_order_and_summary(ruleset: Ruleset) -> None:
    """Eligible decisions come first; eligible and version summarise the result."""
    rec = run(ruleset, **ADULT)
    assert [d.service for d in rec.decisions] == ["adult", "youth"]
    assert rec.eligible == ("adult",)
    assert rec.undetermined == ()
    assert rec.as_of == AS_OF
    assert rec.ruleset_version == ruleset.ruleset_version
    assert rec.ruleset_version.startswith("minimal@1+")


def test_profile_and_mapping_give_the_same_result(ruleset: Ruleset) -> None:
    """A CaseProfile and the equivalent mapping give equal recommendations."""
    profile = CaseProfile.model_validate(ADULT)
    assert recommend(profile, as_of=AS_OF, ruleset=ruleset) == recommend(ADULT, as_of=AS_OF, ruleset=ruleset)


YOUTH_CHECK_BY_STATUS = """\
service: youth
rules:
  - id: youth-age
    effect: eligible
    when:
      all:
        - {field: age, op: ge, value: 12}
        - {field: age, op: lt, value: 27}
        - {field: residence_status, op: not_in, value: [undocumented, arrival_certificate]}
    source: "test source A"
  - id: youth-arrival-check
    effect: check
    when: {field: residence_status, op: eq, value: arrival_certificate}
    source: "test source B"
    check_with: office
"""


def test_checks_follow_the_decision_order(tmp_path: Path) -> None:
    """A check for an undetermined service comes after the steps of the eligible services, consents first.

    The same office gets two releases, one per purpose: a consent binds one recipient and one purpose.
    """
    rules = variant(tmp_path, {"eligibility/youth.yaml": YOUTH_CHECK_BY_STATUS})
    rec = run(rules, **{**ADULT, "residence_status": "arrival_certificate", "employment": "unemployed"})
    assert rec.eligible == ("adult",)
    assert rec.undetermined == ("youth",)
    assert step_ids(rec) == [
        "consent:office:adult",
        "consent:office:youth",
        "adult-appointment",
        "adult-apply",
        "check:youth-arrival-check",
    ]
