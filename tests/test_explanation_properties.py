"""Properties of explanations, what-if, valid_until and smallest changes on generated cases."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from referral_engine import (
    CaseProfile,
    ConditionOutcome,
    Recommendation,
    Ruleset,
    ServiceDecision,
    Status,
    default_ruleset,
    recommend,
    what_if,
    why_not,
)
from referral_engine.conditions import kleene_and, kleene_not, kleene_or
from referral_engine.decide import decide, evaluate_rules, statuses
from referral_engine.facts import FIELDS, facts_for
from referral_engine.models import LANGUAGE_LEVELS
from tests.conftest import examples
from tests.strategies import cases

RULES: Ruleset = default_ruleset()
RULES_BY_ID = {rule.id: rule for rule in RULES.rules}
SERVICES = tuple(service.id for service in RULES.services)

Case = tuple[CaseProfile, dt.date]


def _fact(field: str, shown: Any) -> Any:
    """The fact a rule tests, from the value a reason shows."""
    if shown is None:
        return None
    kind = FIELDS[field].kind
    if kind == "date":
        return dt.date.fromisoformat(shown)
    if kind == "level":
        return LANGUAGE_LEVELS.index(shown)
    return shown


def _state(decision: ServiceDecision) -> tuple[Status, tuple[str, ...]]:
    return decision.status, decision.partners


@given(case=cases())
@settings(max_examples=examples(150), deadline=None)
def test_reasons_reproduce_the_decision(case: Case) -> None:
    """Re-evaluating the conditions a reason lists gives its outcome, and the reasons give the status."""
    profile, as_of = case
    rec = recommend(profile, as_of=as_of, ruleset=RULES)
    for decision in rec.decisions:
        grant: bool | None = False
        exclusion: bool | None = False
        for reason in decision.reasons:
            rule = RULES_BY_ID[reason.rule]
            facts: dict[str, Any] = dict.fromkeys(FIELDS)
            for condition in reason.conditions:
                facts[condition.field] = _fact(condition.field, condition.actual)
            for leaf, condition in zip(rule.leaves, reason.conditions, strict=True):
                value = leaf.test(facts, as_of)
                assert condition.outcome == {True: "met", False: "failed", None: "unknown"}[value]
            value = rule.when.test(facts, as_of)
            assert reason.outcome == {True: "holds", False: "fails", None: "unknown"}[value]
            if not reason.in_force:
                continue
            if reason.effect == "not_eligible":
                exclusion = kleene_or((exclusion, value))
            else:
                grant = kleene_or((grant, value if reason.effect == "eligible" else kleene_and(value, None)))
        status = kleene_and(grant, kleene_not(exclusion))
        expected = {True: Status.ELIGIBLE, False: Status.NOT_ELIGIBLE, None: Status.UNDETERMINED}[status]
        assert decision.status is expected, decision.service


@given(case=cases())
@settings(max_examples=examples(100), deadline=None)
def test_statuses_agree_with_decide(case: Case) -> None:
    """The reason-free status combination used for probing dates agrees with decide()."""
    profile, as_of = case
    facts = facts_for(profile, as_of)
    values = evaluate_rules(RULES, facts, as_of)
    decided = {d.service: d.status for d in decide(RULES, facts, as_of, values)}
    assert statuses(RULES, values) == decided


@given(case=cases())
@settings(max_examples=examples(60), deadline=None)
def test_what_if_without_changes_changes_nothing(case: Case) -> None:
    """what_if with no changes reports no change of decisions, partners or steps."""
    profile, as_of = case
    result = what_if(profile, {}, as_of=as_of, ruleset=RULES)
    assert result.changed == ()
    assert result.decisions == ()
    assert result.steps_added == result.steps_removed == ()
    assert result.before == result.after


def _recommend_on(profile: CaseProfile, day: dt.date, cache: dict[dt.date, Recommendation]) -> Recommendation:
    if day not in cache:
        cache[day] = recommend(profile, as_of=day, ruleset=RULES)
    return cache[day]


@given(case=cases())
@settings(max_examples=examples(80), deadline=None)
def test_valid_until_is_the_first_change(case: Case) -> None:
    """With valid_until = d, the decision is the same on d - 1 day and different on d."""
    profile, as_of = case
    rec = recommend(profile, as_of=as_of, ruleset=RULES)
    cache: dict[dt.date, Recommendation] = {as_of: rec}
    for decision in rec.decisions:
        day = decision.valid_until
        if day is None:
            continue
        assert day > as_of
        before = _recommend_on(profile, day - dt.timedelta(days=1), cache).decision(decision.service)
        on = _recommend_on(profile, day, cache).decision(decision.service)
        assert _state(before) == _state(decision), decision.service
        assert _state(on) != _state(decision), decision.service


@given(case=cases())
@settings(max_examples=examples(40), deadline=None)
def test_timeline_changes_match_recommendations_on_those_dates(case: Case) -> None:
    """Each change in the timeline is what recommend() gives on its date."""
    profile, as_of = case
    rec = recommend(profile, as_of=as_of, ruleset=RULES)
    for change in rec.changes[:6]:
        later = recommend(profile, as_of=change.on, ruleset=RULES).decision(change.service)
        assert (later.status, later.partners) == (change.after, change.partners_after)


@given(case=cases(), data=st.data())
@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_smallest_changes_make_the_service_eligible(case: Case, data: st.DataObject) -> None:
    """Every alternative why_not suggests, applied to the profile, makes the service eligible."""
    profile, as_of = case
    rec = recommend(profile, as_of=as_of, ruleset=RULES)
    open_services = [d.service for d in rec.decisions if d.status is not Status.ELIGIBLE]
    assume(open_services)
    service = data.draw(st.sampled_from(open_services), label="service")
    result = why_not(profile, service, as_of=as_of, ruleset=RULES)
    sizes = {len(alternative) for alternative in result.alternatives}
    assert len(sizes) <= 1  # only the smallest size
    for alternative in result.alternatives:
        changed = profile.model_copy(update=alternative)
        assert recommend(changed, as_of=as_of, ruleset=RULES).decision(service).status is Status.ELIGIBLE


def _stripped(decision: ServiceDecision) -> ServiceDecision:
    reasons = tuple(
        reason.model_copy(
            update={
                "conditions": tuple(
                    ConditionOutcome(field=c.field, op=c.op, value=c.value, outcome=c.outcome)
                    for c in reason.conditions
                )
            }
        )
        for reason in decision.reasons
    )
    return decision.model_copy(update={"reasons": reasons, "valid_until": None})


@given(case=cases())
@settings(max_examples=examples(80), deadline=None)
def test_redacted_explanations_hold_no_personal_values(case: Case) -> None:
    """A redacted explanation is the same whatever the person's values are, and shows none of them."""
    profile, as_of = case
    rec = recommend(profile, as_of=as_of, ruleset=RULES)
    for decision in rec.decisions:
        for lang in ("de", "en"):
            redacted = decision.explain(lang, redact=True)
            assert redacted == _stripped(decision).explain(lang, redact=True)
            if decision.valid_until is not None:
                assert decision.valid_until.isoformat() not in redacted.replace(
                    _stripped(decision).explain(lang), ""
                )
            # Short values (an age of 5, a code) also occur in rule texts ("§ 25(5)"): the value as
            # the explanation attaches it may appear only as often as in the text without values.
            without_values = _stripped(decision).explain(lang)
            for reason in decision.reasons:
                for condition in reason.conditions:
                    if condition.actual is not None:
                        for attached in (f"({condition.actual})", f": met ({condition.actual}"):
                            assert redacted.count(attached) == without_values.count(attached)
