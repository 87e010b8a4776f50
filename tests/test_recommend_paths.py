"""recommend()'s short ways give what the long ways give, and its memos hold no fact of a case.

``recommend`` decides an undetermined service's open fields from a memo keyed by its rules'
values, asks for the municipality without planning the steps, and routes through a memo keyed by
service, place and date. Each is proven here against the long way written out independently.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings

from referral_engine import CaseProfile, default_ruleset, purge_caches, recommend
from referral_engine.decide import Decided, decide, decision_table, evaluate_rules
from referral_engine.facts import FIELDS, facts_for
from referral_engine.handover import safe_route
from referral_engine.models import Status
from referral_engine.steps import _LACKING, service_steps, unrouted

from .conftest import examples
from .strategies import cases

RULES = default_ruleset()


def _reference_open(service: str, facts: dict[str, Any], values: dict[str, bool | None]) -> Decided:
    """An undetermined service's open fields and checks, as decide() found them before its table."""
    active = [rule for rule in RULES.rules_of(service) if rule.id in values]
    grant: bool | None = False
    exclusion: bool | None = False
    for rule in active:
        value = values[rule.id]
        if rule.effect == "not_eligible":
            exclusion = True if value is True or exclusion is True else (None if value is None else exclusion)
        elif grant is not True:
            if value is True and rule.effect == "eligible":
                grant = True
            elif value is not False:
                grant = None
    missing: dict[str, None] = {}
    checks = []
    for rule in active:
        value = values[rule.id]
        if value is None and (exclusion if rule.effect == "not_eligible" else grant) is None:
            for leaf in rule.leaves:
                if facts[leaf.field] is None:
                    missing[leaf.field] = None
        elif value is True and rule.effect == "check":
            checks.append(rule)
    rank = RULES._field_rank
    ordered = sorted(missing, key=lambda name: rank.get(name, len(rank)))
    return Decided(service, Status.UNDETERMINED, tuple(ordered), tuple(checks))


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_open_fields_from_the_memo_are_those_of_the_rules(case: tuple[CaseProfile, dt.date]) -> None:
    """Every undetermined decision lists the open fields and checks the rules give, memo or not."""
    profile, as_of = case
    facts = facts_for(profile, as_of)
    values = evaluate_rules(RULES, facts, as_of)
    for decided in decide(RULES, facts, as_of, values):
        if decided.status is Status.UNDETERMINED:
            assert decided == _reference_open(decided.service, facts, values)
    # Asked twice (the second time from the memo), the same.
    assert decide(RULES, facts, as_of, values) == decide(RULES, facts, as_of, values)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_the_municipality_is_asked_for_as_the_planned_steps_say(case: tuple[CaseProfile, dt.date]) -> None:
    """Without a place, recommend asks for it exactly for the services whose planned steps lack a partner."""
    profile, as_of = case
    profile = profile.replace(municipality=None)
    facts = facts_for(profile, as_of)
    values = evaluate_rules(RULES, facts, as_of)
    decided = sorted(
        decide(RULES, facts, as_of, values),
        key=lambda d: [Status.ELIGIBLE, Status.UNDETERMINED, Status.NOT_ELIGIBLE].index(d.status),
    )
    routes = {
        d.service: safe_route(RULES, d.service, profile, as_of, values)
        for d in decided
        if d.status is not Status.NOT_ELIGIBLE
    }
    planned = service_steps(RULES, decided, routes, profile, facts, as_of, "de").unrouted
    assert unrouted(RULES, decided, routes, profile, facts, as_of) == planned
    questions = {q.field: q.settles for q in recommend(profile, as_of=as_of).questions}
    tested = sum("municipality" in d.missing for d in decided)  # a rule that tests the place itself
    assert questions.get("municipality", 0) == tested + len(planned)


def _fact_values(profile: CaseProfile, as_of: dt.date) -> set[Any]:
    """The values of a case that no memo may be keyed by: its facts (but None, booleans and the place)."""
    facts = facts_for(profile, as_of)
    return {
        value
        for name, value in facts.items()
        if value is not None and not isinstance(value, bool) and name != "municipality"
    } - {as_of}


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_the_memos_of_recommend_hold_no_fact_of_a_case(case: tuple[CaseProfile, dt.date]) -> None:
    """Keys: rule-set ids, rule values, statuses, municipality ids and the dates cases are decided on."""
    profile, as_of = case
    purge_caches()
    recommend(profile, as_of=as_of, ruleset=RULES)
    recommend(profile.replace(municipality=None), as_of=as_of, ruleset=RULES)
    table = decision_table(RULES)
    services = {service.id for service in RULES.services}
    for key in table._patterns:
        service, *rule_values = key
        assert service in services
        assert all(value in (True, False, None) or type(value) is object for value in rule_values)
    lacking = RULES._engines.get(_LACKING, {})
    assert isinstance(lacking, dict)
    for key, plans in lacking.items():
        assert key == as_of
        assert {service for service, _ in plans} == services
    places = set(RULES.partners.municipalities) | {None}
    for key in RULES.partners._routings:
        assert key[1] in places
        assert key[2] == as_of
    secrets = _fact_values(profile, as_of)
    memos: list[Any] = [table._patterns, RULES.partners._routings]
    for memo in memos:
        for key in memo:
            # True == 1 and False == 0: rule values are no ages or levels.
            assert not [part for part in key if not isinstance(part, (bool, str)) and part in secrets]
    purge_caches()
    assert not table._patterns
    assert not lacking
    assert not RULES.partners._routings


def test_the_fields_of_the_facts_are_those_of_a_profile() -> None:
    """facts_for copies a profile's fields: they must stay the testable fields in order, plus consents."""
    assert (*FIELDS, "consents") == tuple(CaseProfile.model_fields)
    facts = facts_for(CaseProfile(age=30, languages=("ar",)), dt.date(2026, 3, 1))
    assert tuple(facts) == tuple(FIELDS)
