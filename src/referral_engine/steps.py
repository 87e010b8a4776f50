"""Planning the next steps of a recommendation, consent before any handover.

Order: questions for missing facts (most useful first), then releases from confidentiality for
every partner that a later step hands case data to without a valid consent, then per service (in
decision order) checks with partners, appointments, applications and information.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from .decide import Decided
from .facts import Facts
from .models import CaseProfile, DataCategory, Lang, NextStep, Status, StepKind
from .ruleset import Rule, Ruleset

_KIND_ORDER: dict[StepKind, int] = {
    "check": 0,
    "no_partner": 1,
    "appointment": 2,
    "application": 3,
    "information": 4,
}


@dataclass(frozen=True, slots=True)
class _Plan:
    ruleset: Ruleset
    profile: CaseProfile
    facts: Facts
    as_of: dt.date
    lang: Lang

    def partner_name(self, partner: str) -> str:
        return self.ruleset.partners.partners[partner].name

    def service_name(self, service: str) -> str:
        return self.ruleset.service(service).name.get(self.lang)


def plan_steps(
    ruleset: Ruleset,
    decided: Sequence[Decided],
    routes: Mapping[str, tuple[str, ...]],
    missing: Sequence[str],
    profile: CaseProfile,
    facts: Facts,
    as_of: dt.date,
    lang: Lang,
) -> tuple[NextStep, ...]:
    """The ordered next steps for decisions already sorted best first."""
    plan = _Plan(ruleset, profile, facts, as_of, lang)
    service_steps: list[NextStep] = []
    for decision in decided:
        if decision.status is not Status.NOT_ELIGIBLE:
            steps = _service_steps(plan, decision, routes.get(decision.service, ()))
            service_steps += sorted(steps, key=lambda step: _KIND_ORDER[step.kind])
    return (*_clarify_steps(plan, decided, missing), *_consent_steps(plan, service_steps), *service_steps)


def _clarify_steps(plan: _Plan, decided: Sequence[Decided], missing: Sequence[str]) -> list[NextStep]:
    steps = []
    template = plan.ruleset.messages.clarify.get(plan.lang)
    for field in missing:
        services = [d.service for d in decided if field in d.missing]
        info = plan.ruleset.fields[field]
        text = template.format(
            question=info.question.get(plan.lang),
            services=", ".join(plan.service_name(s) for s in services),
        )
        steps.append(
            NextStep(id=f"clarify:{field}", service=services[0], partner=None, kind="clarify", text=text)
        )
    return steps


def _service_steps(plan: _Plan, decision: Decided, route: tuple[str, ...]) -> list[NextStep]:
    ruleset, lang = plan.ruleset, plan.lang
    service_name = plan.service_name(decision.service)
    responsible = route[0] if route else None
    steps: list[NextStep] = []
    lacks_partner = False
    for rule in decision.checks:
        partner = rule.check_with or responsible
        if partner is None:
            lacks_partner = True
            continue
        steps.append(_check_step(plan, rule, partner, service_name))
    for template in ruleset.steps:
        if template.service != decision.service or template.for_status != decision.status.value:
            continue
        if template.when is not None and template.when.test(plan.facts, plan.as_of) is not True:
            continue
        partner = responsible if template.partner == "responsible" else template.partner
        if template.partner == "responsible" and partner is None:
            lacks_partner = True
            continue
        names = {"service": service_name, "partner": plan.partner_name(partner) if partner else ""}
        steps.append(
            NextStep(
                id=template.id,
                service=decision.service,
                partner=partner,
                kind=template.kind,
                text=template.text.get(lang).format(**names),
                data_categories=template.handover,
            )
        )
    if lacks_partner:
        steps.append(
            NextStep(
                id=f"no_partner:{decision.service}",
                service=decision.service,
                partner=None,
                kind="no_partner",
                text=ruleset.messages.no_partner.get(lang).format(service=service_name),
            )
        )
    return steps


def _check_step(plan: _Plan, rule: Rule, partner: str, service_name: str) -> NextStep:
    """Ask a partner to settle what a rule marked unsure; it sees the facts the rule tests."""
    fields = plan.ruleset.fields
    categories = {fields[leaf.field].category for leaf in rule.when.leaves() if leaf.field in fields}
    order = tuple(plan.ruleset.messages.categories)
    text = plan.ruleset.messages.check.get(plan.lang).format(
        partner=plan.partner_name(partner),
        service=service_name,
        note=rule.note.get(plan.lang) if rule.note else rule.id,
    )
    return NextStep(
        id=f"check:{rule.id}",
        service=rule.service,
        partner=partner,
        kind="check",
        text=text,
        data_categories=cast(tuple[DataCategory, ...], tuple(sorted(categories, key=order.index))),
    )


def _consent_steps(plan: _Plan, steps: Sequence[NextStep]) -> list[NextStep]:
    """A release from confidentiality for each partner that would get data not yet released."""
    needed: dict[str, tuple[str, set[str]]] = {}
    for step in steps:
        if step.partner is None or not step.data_categories:
            continue
        released = _released(plan, step.partner)
        lacking = set(step.data_categories) - released
        if lacking:
            service, categories = needed.setdefault(step.partner, (step.service, set()))
            categories |= lacking
    labels = plan.ruleset.messages.categories
    order = tuple(labels)
    consents = []
    for partner, (service, categories) in needed.items():
        ordered = sorted(categories, key=order.index)
        text = plan.ruleset.messages.consent.get(plan.lang).format(
            partner=plan.partner_name(partner),
            categories=", ".join(labels[c].get(plan.lang) for c in ordered),
        )
        consents.append(
            NextStep(
                id=f"consent:{partner}",
                service=service,
                partner=partner,
                kind="consent",
                text=text,
                data_categories=cast(tuple[DataCategory, ...], tuple(ordered)),
            )
        )
    return consents


def _released(plan: _Plan, partner: str) -> set[str]:
    """Data categories the person has released to ``partner`` and not withdrawn, as of the plan date."""
    released: set[str] = set()
    for consent in plan.profile.consents:
        if consent.partner == partner and consent.valid_on(plan.as_of):
            released.update(consent.categories)
    return released
