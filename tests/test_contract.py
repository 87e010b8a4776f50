"""The public contract (shared/spec/contract.md): names, ids and codes applications rely on."""

from __future__ import annotations

import datetime as dt
from typing import get_args

import referral_engine
from referral_engine import default_ruleset, recommend
from referral_engine.models import ResidenceStatus

CONTRACT_SERVICES = {
    "jmd", "mbe", "integrationskurs", "erstorientierungskurs", "berufssprachkurs", "jobcenter",
    "arbeitsagentur", "berufsberatung", "asylblg", "fluechtlingssozialarbeit", "integrationsmanagement",
    "anerkennungsberatung", "helferkreis",
}  # fmt: skip
CONTRACT_PARTNERS = {
    "caritas", "drk", "diakonie", "landratsamt", "stadt_bad_krozingen", "stadt_staufen", "jobcenter",
    "agentur_fuer_arbeit", "helferkreis_bad_krozingen", "helferkreis_staufen",
}  # fmt: skip
CONTRACT_STATUSES = {
    "arrival_certificate", "gestattung", "gestattung_safe_country", "duldung", "duldung_ermessen",
    "ausbildungsduldung", "beschaeftigungsduldung", "ae_25_1", "ae_25_2_refugee", "ae_25_2_subsidiary",
    "ae_25_3", "ae_25_4", "ae_25_5", "ae_25a_25b", "ae_104c", "ae_24", "ae_22_23", "ae_16g",
    "ae_employment", "ae_family", "ae_other", "settlement", "eu_citizen", "spaetaussiedler",
    "german_migration_background", "undocumented",
}  # fmt: skip
ENTRY_POINTS = {
    "recommend", "load_ruleset", "default_ruleset", "CaseProfile", "Recommendation", "ServiceDecision",
    "NextStep", "Consent", "ReferralEngineError", "ProfileError", "RuleFileError",
}  # fmt: skip


def test_entry_points_are_importable_from_the_package() -> None:
    """Every name the contract lists is importable from referral_engine and listed in __all__."""
    for name in ENTRY_POINTS:
        assert hasattr(referral_engine, name), name
    assert set(referral_engine.__all__) >= ENTRY_POINTS


def test_bundled_rules_offer_every_contract_service_and_partner() -> None:
    """The bundled rule set has every service id and partner id of the contract."""
    ruleset = default_ruleset()
    assert {service.id for service in ruleset.services} >= CONTRACT_SERVICES
    assert set(ruleset.partners.partners) >= CONTRACT_PARTNERS


def test_profile_accepts_every_contract_status_code() -> None:
    """CaseProfile accepts every residence-status code of the contract, plus the two optional ones."""
    assert set(get_args(ResidenceStatus)) >= CONTRACT_STATUSES | {"duldung_light", "ausreisepflichtig"}


def test_one_decision_per_service_in_contract_order() -> None:
    """A recommendation has one decision per service: eligible first, then undetermined, then not eligible."""
    rec = recommend({"age": 30, "municipality": "Staufen"}, as_of=dt.date(2026, 3, 1))
    assert sorted(d.service for d in rec.decisions) == sorted(s.id for s in default_ruleset().services)
    order = {"eligible": 0, "undetermined": 1, "not_eligible": 2}
    ranks = [order[d.status.value] for d in rec.decisions]
    assert ranks == sorted(ranks)


def test_a_known_age_alone_can_rule_out_the_jmd() -> None:
    """Age 30 with an unknown status is already "not JMD": unknown spreads only where it can matter."""
    rec = recommend({"age": 30}, as_of=dt.date(2026, 3, 1))
    assert rec.decision("jmd").status == "not_eligible"
    assert "residence_status" in rec.missing
