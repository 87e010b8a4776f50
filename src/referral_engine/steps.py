"""Planning the next steps of a recommendation: safe routes, and consent before any handover.

Order: for a person with a restricted status the confidential first contact comes first; then
questions for missing facts (most useful first); then releases from confidentiality, one for each
recipient unit and purpose that a later step hands case data to without a valid consent; then the
steps of each service (in decision order), each service's steps by their ``order`` (see
:data:`KIND_ORDER` for steps without one).

Every step passes through the guard of :mod:`referral_engine.handover`: no body with the § 87
AufenthG reporting duty is named for a person with a restricted status (except the person's own
application, with a warning), volunteers get no residence, benefits or health data, and a partner
that rests on a placeholder offer is flagged as an example.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, cast

from . import dates
from .decide import Decided
from .facts import Facts
from .handover import allowed_categories, check_categories, is_restricted, needs_guardian, released
from .models import CaseProfile, DataCategory, NextStep, Status, StepKind
from .ruleset import Rule, Ruleset, StepTemplate

#: The position of a step without an explicit ``order`` among its service's steps.
KIND_ORDER: dict[StepKind, int] = {
    "check": 0,
    "no_partner": 10,
    "appointment": 20,
    "application": 30,
    "information": 40,
}

#: The id of the step that names the confidential first contact for a restricted status.
CONFIDENTIAL_STEP = "restricted:confidential-first-contact"
CONFIDENTIAL_OFFICE = "office:confidential_counselling"
_MEMO_SIZE = 4096


@dataclass(frozen=True, slots=True)
class _Plan:
    ruleset: Ruleset
    profile: CaseProfile
    facts: Facts
    as_of: dt.date
    lang: str
    restricted: bool
    minor: bool

    def partner_name(self, partner: str) -> str:
        unit = self.ruleset.partners.partners.get(partner)
        return unit.name if unit is not None else partner

    def service_name(self, service: str) -> str:
        return self.ruleset.service(service).name.get(self.lang)

    def route(self, target: str) -> tuple[str, ...]:
        """The partners for a service or ``office:<id>`` at the person's place on the plan's date."""
        languages = self.profile.languages or ()
        return self.ruleset.partners.route(target, self.profile.municipality, self.as_of, languages)

    def reports(self, partner: str) -> bool:
        return self.ruleset.partners.reports(partner)

    def is_sample(self, partner: str, target: str) -> bool:
        return self.ruleset.partners.is_sample(partner, target, self.profile.municipality, self.as_of)


@dataclass(frozen=True, slots=True)
class ServiceSteps:
    """The services' own steps, in order, and the services a step of which found no partner."""

    steps: tuple[NextStep, ...]
    #: Services with a step (or check) whose partner depends on the unknown municipality.
    unrouted: tuple[str, ...]


def service_steps(
    ruleset: Ruleset,
    decided: Sequence[Decided],
    routes: Mapping[str, tuple[str, ...]],
    profile: CaseProfile,
    facts: Facts,
    as_of: dt.date,
    lang: str,
) -> ServiceSteps:
    """Each service's checks, appointments, applications and information, for decisions sorted best first."""
    plan = _plan(ruleset, profile, facts, as_of, lang)
    steps: list[NextStep] = []
    unrouted: list[str] = []
    for decision in decided:
        keyed, lacks_partner = _service_steps(plan, decision, routes.get(decision.service, ()))
        steps += [step for _, step in sorted(keyed, key=lambda item: item[0])]
        if lacks_partner and facts["municipality"] is None:
            unrouted.append(decision.service)
    return ServiceSteps(tuple(steps), tuple(unrouted))


def plan_steps(
    ruleset: Ruleset,
    decided: Sequence[Decided],
    planned: ServiceSteps,
    missing: Sequence[str],
    profile: CaseProfile,
    facts: Facts,
    as_of: dt.date,
    lang: str,
    *,
    asked_by: Mapping[str, Sequence[str]] | None = None,
) -> tuple[NextStep, ...]:
    """All next steps: the confidential contact, questions, consents, then the services' own steps.

    ``asked_by`` maps a missing field to the services it would settle, for fields that no
    decision lists as missing (the municipality, which settles the partner).
    """
    plan = _plan(ruleset, profile, facts, as_of, lang)
    front = [_confidential_step(plan, decided)] if plan.restricted else []
    front += _clarify_steps(plan, decided, missing, asked_by or {})
    return (*front, *_consent_steps(plan, planned.steps), *planned.steps)


def _plan(ruleset: Ruleset, profile: CaseProfile, facts: Facts, as_of: dt.date, lang: str) -> _Plan:
    return _Plan(ruleset, profile, facts, as_of, lang, is_restricted(profile), needs_guardian(facts["age"]))


def _clarify_steps(
    plan: _Plan, decided: Sequence[Decided], missing: Sequence[str], asked_by: Mapping[str, Sequence[str]]
) -> list[NextStep]:
    steps = []
    template = plan.ruleset.messages.clarify.get(plan.lang)
    for field in missing:
        services = [d.service for d in decided if field in d.missing] or list(asked_by.get(field, ()))
        if not services:
            continue
        info = plan.ruleset.fields[field]
        text = template.format(
            question=info.question.get(plan.lang),
            services=", ".join(plan.service_name(s) for s in services),
        )
        steps.append(
            NextStep(id=f"clarify:{field}", service=services[0], partner=None, kind="clarify", text=text)
        )
    return steps


def _confidential_step(plan: _Plan, decided: Sequence[Decided]) -> NextStep:
    """Where a person with a restricted status can go first without being reported, and why."""
    partners = plan.route(CONFIDENTIAL_OFFICE)
    names = ", ".join(plan.partner_name(p) for p in partners) or "Caritas, Diakonie, DRK"
    service = next((d.service for d in decided if d.status is not Status.NOT_ELIGIBLE), decided[0].service)
    return NextStep(
        id=CONFIDENTIAL_STEP,
        service=service,
        partner=None,
        kind="information",
        text=plan.ruleset.messages.restricted.get(plan.lang).format(partners=names),
    )


def _service_steps(
    plan: _Plan, decision: Decided, route: tuple[str, ...]
) -> tuple[list[tuple[tuple[int, int], NextStep]], bool]:
    """A service's steps with their sort keys (order, position in file), and whether one lacked a partner."""
    ruleset, lang = plan.ruleset, plan.lang
    service_name = plan.service_name(decision.service)
    responsible = route[0] if route else None
    steps: list[tuple[tuple[int, int], NextStep]] = []
    lacks_partner = False
    for position, rule in enumerate(decision.checks):
        partner = _resolve(plan, rule.check_with or "responsible", responsible)
        if partner is None:
            lacks_partner = True
            continue
        target = _offered(rule.check_with, decision.service)
        step = _guarded(plan, _check_step(plan, rule, partner, service_name, target))
        if step is not None:
            steps.append(((KIND_ORDER["check"], position), step))
    for position, template in _templates(plan, decision):
        partner = _resolve(plan, template.partner, responsible)
        if template.partner is not None and partner is None:
            lacks_partner = True
            continue
        target = _offered(template.partner, decision.service)
        names = {"service": service_name, "partner": plan.partner_name(partner) if partner else ""}
        text = template.text.get(lang).format(**names)
        step = _guarded(
            plan,
            NextStep(
                id=template.id,
                service=decision.service,
                partner=partner,
                kind=template.kind,
                text=text,
                data_categories=template.handover,
                sample=partner is not None and plan.is_sample(partner, target),
                reporting_duty=partner is not None and plan.reports(partner),
                own_application=template.own_application,
            ),
        )
        if step is not None:
            order = template.order if template.order is not None else KIND_ORDER[template.kind]
            steps.append(((order, 1000 + position), step))
    lacks_partner = lacks_partner and decision.status is not Status.NOT_ELIGIBLE
    if lacks_partner and plan.facts["municipality"] is not None:
        # An unknown municipality is asked for (see recommend); a known one without a partner is a gap.
        steps.append(
            (
                (KIND_ORDER["no_partner"], 0),
                NextStep(
                    id=f"no_partner:{decision.service}",
                    service=decision.service,
                    partner=None,
                    kind="no_partner",
                    text=ruleset.messages.no_partner.get(lang).format(service=service_name),
                ),
            )
        )
    return steps, lacks_partner


def _templates(plan: _Plan, decision: Decided) -> Iterator[tuple[int, StepTemplate]]:
    """The step templates that apply to a decision on the plan's date, with their position in the file."""
    for position, template in plan.ruleset._steps_for.get((decision.service, decision.status.value), ()):
        if not template.in_force(plan.as_of):
            continue
        if template.when is not None and template.when.test(plan.facts, plan.as_of) is not True:
            continue
        yield position, template


def unrouted(
    ruleset: Ruleset,
    decided: Sequence[Decided],
    routes: Mapping[str, tuple[str, ...]],
    profile: CaseProfile,
    facts: Facts,
    as_of: dt.date,
) -> tuple[str, ...]:
    """``service_steps(...).unrouted`` without building the steps: what recommend asks the place for.

    The services (decisions sorted best first) with a check or step whose partner is not found
    because the municipality is unknown. Empty when the municipality is known.
    """
    if facts["municipality"] is not None:
        return ()
    return lacking_partner(ruleset, decided, lambda service: bool(routes.get(service, ())), facts, as_of)


def lacking_partner(
    ruleset: Ruleset,
    decided: Sequence[Decided],
    routed: Callable[[str], bool],
    facts: Facts,
    as_of: dt.date,
) -> tuple[str, ...]:
    """:func:`unrouted` for a case whose municipality is unknown, asking ``routed`` only when it matters.

    ``routed(service)``: whether the service's safe route (at an unknown place) names a partner.
    """
    found = []
    plans = _lacking_on(ruleset, as_of)
    for decision in decided:
        status = decision.status
        if status is Status.NOT_ELIGIBLE:
            continue
        service = decision.service
        lacking = plans[service, status]
        if lacking.always or (lacking.unless_routed and not routed(service)):
            found.append(service)
            continue
        for rule in decision.checks:
            unserved = _unserved(ruleset, rule.check_with or "responsible", as_of)
            if unserved or (unserved is None and not routed(service)):
                found.append(service)
                break
        else:
            for template, needs_responsible in lacking.when:
                if (
                    (not needs_responsible or not routed(service))
                    and template.when is not None
                    and template.when.test(facts, as_of) is True
                ):
                    found.append(service)
                    break
    return tuple(found)


class _Lacking(NamedTuple):
    """The steps of a decision (service, status, date) that may find no partner without a place."""

    #: A step that always applies lacks a partner: an office without a partner at an unknown place.
    always: bool
    #: A step that always applies lacks one when the service has no partner of its own there.
    unless_routed: bool
    #: The steps that apply only ``when`` their condition holds, each with whether it lacks a
    #: partner only when the service has none of its own (a step for the responsible partner).
    when: tuple[tuple[StepTemplate, bool], ...]


_LACKING = "unrouted"


def _lacking_on(ruleset: Ruleset, as_of: dt.date) -> Mapping[tuple[str, Status], _Lacking]:
    """Which steps of each decision (service, status) may find no partner without a place, on ``as_of``.

    Memoised by date: rule-set facts only.
    """
    memo = ruleset._engines.get(_LACKING)
    if not isinstance(memo, dict):
        memo = ruleset._engines[_LACKING] = dates.memo()
    found: dict[tuple[str, Status], _Lacking] | None = memo.get(as_of)
    if found is None:
        found = {
            (service.id, status): _lacking(ruleset, service.id, status, as_of)
            for service in ruleset.services
            for status in (Status.ELIGIBLE, Status.UNDETERMINED)
        }
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[as_of] = found
    return found


def _lacking(ruleset: Ruleset, service: str, status: Status, as_of: dt.date) -> _Lacking:
    """The step templates of one decision in force on ``as_of`` that may find no partner without a place."""
    always = unless_routed = False
    when = []
    for _, template in ruleset._steps_for.get((service, status.value), ()):
        if not template.in_force(as_of) or template.partner is None:
            continue
        unserved = _unserved(ruleset, template.partner, as_of)
        if unserved is False:
            continue
        if template.when is not None:
            when.append((template, unserved is None))
        elif unserved:
            always = True
        else:
            unless_routed = True
    return _Lacking(always, unless_routed, tuple(when))


def _unserved(ruleset: Ruleset, target: str, as_of: dt.date) -> bool | None:
    """Whether a check or step for ``target`` finds no partner where the municipality is unknown.

    ``None`` for the responsible partner: it depends on whether the service has one there.
    """
    if target == "responsible":
        return None
    if target.startswith("office:"):
        return not ruleset.partners.routing(target, None, as_of).partners
    return False


def _resolve(plan: _Plan, target: str | None, responsible: str | None) -> str | None:
    """The partner unit a step or check names: the responsible one, an office's, or a fixed one."""
    if target is None:
        return None
    if target == "responsible":
        return responsible
    if target.startswith("office:"):
        found = plan.route(target)
        return found[0] if found else None
    return target


def _offered(target: str | None, service: str) -> str:
    """What a named partner is offered for: an office named by the step, else the step's service."""
    return target if target is not None and target.startswith("office:") else service


def _guarded(plan: _Plan, step: NextStep) -> NextStep | None:
    """The step as it may be shown: dropped if it would expose a restricted status, trimmed for volunteers.

    The loader already rejects rule sets that could produce such steps; this is the second lock.
    """
    partner = step.partner
    if partner is None:
        return step
    if plan.restricted and plan.reports(partner) and not step.own_application:
        return None
    categories = allowed_categories(
        plan.ruleset,
        partner,
        step.data_categories,
        restricted=plan.restricted,
        own_application=step.own_application,
    )
    text = step.text
    if step.sample:
        text = f"{text} [{plan.ruleset.messages.sample.get(plan.lang)}]"
    if step.own_application and plan.restricted and step.reporting_duty:
        warning = plan.ruleset.messages.own_application.get(plan.lang).format(
            partner=plan.partner_name(partner)
        )
        text = f"{text} {warning}"
    if categories == step.data_categories and text == step.text:
        return step
    return step.model_copy(
        update={"data_categories": cast(tuple[DataCategory, ...], categories), "text": text}
    )


def _check_step(plan: _Plan, rule: Rule, partner: str, service_name: str, target: str) -> NextStep:
    """Ask a partner to settle what a rule marked unsure; it sees only what the question needs."""
    order = tuple(plan.ruleset.messages.categories)
    categories = check_categories(rule, plan.ruleset.fields)
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
        sample=plan.is_sample(partner, target),
        reporting_duty=plan.reports(partner),
    )


def _consent_steps(plan: _Plan, steps: Sequence[NextStep]) -> list[NextStep]:
    """A release from confidentiality for each recipient and purpose that would get data not yet released."""
    needed: dict[tuple[str, str], tuple[set[str], bool]] = {}
    for step in steps:
        if step.partner is None or not step.data_categories:
            continue
        purposes = frozenset({step.service, step.id})
        lacking = set(step.data_categories) - released(
            plan.profile, step.partner, purposes, plan.as_of, minor=plan.minor
        )
        if lacking:
            categories, sample = needed.setdefault((step.partner, step.service), (set(), False))
            categories |= lacking
            needed[(step.partner, step.service)] = (categories, sample or step.sample)
    labels = plan.ruleset.messages.categories
    order = tuple(labels)
    consents = []
    for (partner, service), (categories, sample) in needed.items():
        ordered = sorted(categories, key=order.index)
        text = plan.ruleset.messages.consent.get(plan.lang).format(
            partner=plan.partner_name(partner),
            purpose=plan.service_name(service),
            categories=", ".join(labels[c].get(plan.lang) for c in ordered),
        )
        if sample:
            text = f"{text} [{plan.ruleset.messages.sample.get(plan.lang)}]"
        if plan.minor:
            text = f"{text} {plan.ruleset.messages.guardian.get(plan.lang)}"
        consents.append(
            NextStep(
                id=f"consent:{partner}:{service}",
                service=service,
                partner=partner,
                kind="consent",
                text=text,
                data_categories=cast(tuple[DataCategory, ...], tuple(ordered)),
                sample=sample,
                reporting_duty=plan.reports(partner),
                guardian_consent=plan.minor,
            )
        )
    return consents
