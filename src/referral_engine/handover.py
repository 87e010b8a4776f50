"""What may be passed on to whom: consent, the § 87 AufenthG guard and handover packets.

Three rules make referrals safe by construction (research-2026.md §9):

* **Restricted statuses.** A person without papers (``undocumented``) or obliged to leave
  (``ausreisepflichtig``) is never routed, nor is their status handed, to a body with the reporting
  duty of § 87 AufenthG (research §9.2 item 11, §9.3) — except the person's own application that
  the law requires (``own_application``), which comes with a warning. A release from
  confidentiality cannot lift the recipient's duty to report, so consent does not change this.
* **Purpose-bound consent.** A handover is covered only by a consent for its recipient unit, its
  purpose (the service or the step) and its categories, on the day of the handover; a person
  under 14 needs the guardians' consent (research §9.2 items 2, 10, 12, 13).
* **Volunteers** never receive residence, benefits or health data (research §9.2 items 3, 14).

:func:`guard_problems` checks a rule set against the first and last rule when it is loaded;
the planner (:mod:`referral_engine.steps`) applies all three to every case, and
:func:`handover_packet` builds what may actually be passed on for one step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from ._provided import provide, provided
from .errors import RuleProblem, UsageError
from .facts import facts_for
from .models import CaseProfile, Consent, DataCategory, NextStep, Recommendation, _Frozen
from .ruleset import Rule, Ruleset, StepTemplate

#: Residence statuses whose holders a body with the § 87 AufenthG reporting duty must never learn of
#: through a referral (research §9.3: "flag UNDOCUMENTED / AUSREISEPFLICHTIG as restricted").
RESTRICTED_STATUSES: frozenset[str] = frozenset({"undocumented", "ausreisepflichtig"})

#: Data categories a volunteer group never receives (research §9.2 items 3 and 14).
VOLUNTEER_FORBIDDEN: frozenset[str] = frozenset({"residence", "benefits", "health"})

#: Under this age a consent must come from the guardians (§ 12 DSG-EKD; research §9.2 item 13).
GUARDIAN_AGE = 14

Basis = Literal["consent", "none"]


def is_restricted(profile: CaseProfile) -> bool:
    """Whether the person's residence status is restricted (see :data:`RESTRICTED_STATUSES`)."""
    return profile.residence_status in RESTRICTED_STATUSES


def needs_guardian(age: int | None) -> bool:
    """Whether a consent for a person of ``age`` must come from the guardians (unknown: no)."""
    return age is not None and age < GUARDIAN_AGE


def covering_consents(
    profile: CaseProfile,
    partner: str,
    purposes: frozenset[str],
    on: dt.date,
    *,
    minor: bool,
) -> list[tuple[int, Consent]]:
    """The person's consents (with their index) valid on ``on`` for ``partner`` and one of ``purposes``.

    For a minor under 14 only the guardians' consents count.
    """
    return [
        (index, consent)
        for index, consent in enumerate(profile.consents)
        if consent.partner == partner
        and consent.purpose in purposes
        and consent.valid_on(on)
        and (consent.given_by == "guardian" or not minor)
    ]


def released(
    profile: CaseProfile, partner: str, purposes: frozenset[str], on: dt.date, *, minor: bool
) -> set[str]:
    """Data categories released to ``partner`` for one of ``purposes``, as of ``on``."""
    found: set[str] = set()
    for _, consent in covering_consents(profile, partner, purposes, on, minor=minor):
        found.update(consent.categories)
    return found


def allowed_categories(
    ruleset: Ruleset, partner: str, categories: Iterable[str], *, restricted: bool, own_application: bool
) -> tuple[str, ...]:
    """``categories`` less what ``partner`` may never receive, whatever the consent.

    Volunteers never get residence, benefits or health data; a body with the reporting duty never
    gets anything of a person with a restricted status, except for the person's own application.
    """
    unit = ruleset.partners.partners.get(partner)
    if restricted and ruleset.partners.reports(partner) and not own_application:
        return ()
    if unit is not None and unit.kind == "volunteer":
        return tuple(c for c in categories if c not in VOLUNTEER_FORBIDDEN)
    return tuple(categories)


def safe_route(
    ruleset: Ruleset, service: str, profile: CaseProfile, on: dt.date, values: Mapping[str, bool | None]
) -> tuple[str, ...]:
    """The partners responsible for ``service``, without any body that would have to report the person.

    For a person with a restricted status the bodies with the § 87 AufenthG duty are left out,
    unless a grant that holds (``values``: rule id → truth value) is the person's own application.
    """
    route = ruleset.partners.route(service, profile.municipality, on, profile.languages or ())
    return without_reporting(ruleset, service, route, values) if is_restricted(profile) else route


def without_reporting(
    ruleset: Ruleset, service: str, route: tuple[str, ...], values: Mapping[str, bool | None]
) -> tuple[str, ...]:
    """``route`` for a person with a restricted status: without the bodies with the reporting duty.

    Unless a grant of ``service`` that holds (``values``) is the person's own application.
    """
    own = any(
        values.get(rule.id) is True
        for rule in ruleset.rules_of(service)
        if rule.effect == "eligible" and rule.own_application
    )
    return route if own else tuple(p for p in route if not ruleset.partners.reports(p))


# -- handover packets ----------------------------------------------------------------------------


class HandoverRecord(_Frozen):
    """An audit record of one handover: what (field names only), to whom, for what, when, on what basis.

    It holds no personal value, so an application can store it in its audit log (Art. 5(2) DSGVO).
    """

    step: str
    recipient: str = Field(description="the partner unit id")
    purpose: str = Field(description="the service the data are passed on for")
    categories: tuple[DataCategory, ...]
    fields: tuple[str, ...] = Field(description="names of the profile fields passed on")
    basis: Basis = Field(description="'consent', or 'none' when nothing may be passed on")
    consents: tuple[str, ...] = Field(
        default=(), description="the consents relied on: their id, or consents[i] without one"
    )
    on: dt.date = Field(description="the date the handover is for (the recommendation's as_of)")
    ruleset_version: str


class HandoverPacket(_Frozen):
    """What may actually be passed on for one step: the needed and consented profile fields, no more.

    ``data`` holds the person's values and never shows in ``repr``; ``withheld`` names the
    categories the step needs but that may not (or not yet) be passed on.
    """

    step: str
    recipient: str
    recipient_name: str
    purpose: str
    basis: Basis
    categories: tuple[DataCategory, ...] = Field(description="categories passed on: needed and consented")
    withheld: tuple[DataCategory, ...] = Field(description="categories needed but not passed on")
    data: Mapping[str, Any] = Field(default_factory=dict, repr=False, description="profile field -> value")
    warnings: tuple[str, ...] = ()
    record: HandoverRecord

    def __repr__(self) -> str:
        return (
            f"HandoverPacket(step={self.step!r}, recipient={self.recipient!r}, purpose={self.purpose!r}, "
            f"basis={self.basis!r}, categories={self.categories!r}, withheld={self.withheld!r}, "
            f"fields={self.record.fields!r})"
        )

    def __str__(self) -> str:
        return repr(self)


def handover_packet(
    step: NextStep,
    profile: CaseProfile,
    ruleset: Ruleset,
    *,
    as_of: dt.date,
    lang: str = "de",
) -> HandoverPacket:
    """The packet for one step of a recommendation made for ``profile`` on ``as_of``.

    Everything that matters is derived again from ``profile`` and ``ruleset`` here — the
    restricted status, the volunteer rule, the consents — so a packet is safe even for a step
    taken out of context.
    """
    if step.partner is None or not step.data_categories or step.kind in ("consent", "clarify"):
        raise UsageError(f"step '{step.id}' passes no case data to a partner: it has no handover packet")
    partner = step.partner
    facts = facts_for(profile, as_of)
    minor = needs_guardian(facts["age"])
    restricted = is_restricted(profile)
    allowed = allowed_categories(
        ruleset, partner, step.data_categories, restricted=restricted, own_application=step.own_application
    )
    purposes = frozenset({step.service, step.id})
    consents = covering_consents(profile, partner, purposes, as_of, minor=minor)
    consented = {category for _, consent in consents for category in consent.categories}
    passed = tuple(c for c in step.data_categories if c in allowed and c in consented)
    used = [
        (index, consent) for index, consent in consents if consented and set(consent.categories) & set(passed)
    ]
    data = {
        name: _plain(getattr(profile, name))
        for name, info in ruleset.fields.items()
        if info.category in passed and getattr(profile, name, None) is not None
    }
    messages = ruleset.messages
    warnings: list[str] = []
    if step.sample:
        warnings.append(messages.sample.get(lang))
    if step.own_application and restricted and ruleset.partners.reports(partner):
        warnings.append(messages.own_application.get(lang).format(partner=_name(ruleset, partner)))
    if minor:
        warnings.append(messages.guardian.get(lang))
    basis: Basis = "consent" if passed else "none"
    record = HandoverRecord(
        step=step.id,
        recipient=partner,
        purpose=step.service,
        categories=passed,
        fields=tuple(data),
        basis=basis,
        consents=tuple(consent.id or f"consents[{index}]" for index, consent in used),
        on=as_of,
        ruleset_version=ruleset.ruleset_version,
    )
    return HandoverPacket(
        step=step.id,
        recipient=partner,
        recipient_name=_name(ruleset, partner),
        purpose=step.service,
        basis=basis,
        categories=passed,
        withheld=tuple(c for c in step.data_categories if c not in passed),
        data=data,
        warnings=tuple(warnings),
        record=record,
    )


@provide
def packet_for(
    rec: Recommendation, step_id: str, profile: CaseProfile | Mapping[str, Any], ruleset: Ruleset | None
) -> HandoverPacket:
    """The packet of :meth:`Recommendation.handover`."""
    if not isinstance(profile, CaseProfile):
        profile = CaseProfile.model_validate(profile)
    if ruleset is None:
        ruleset = provided("default_ruleset")()
    if ruleset.ruleset_version != rec.ruleset_version:
        raise UsageError(
            f"the recommendation was made with {rec.ruleset_version}, not {ruleset.ruleset_version}: "
            "pass the rule set it was made with"
        )
    step = next((s for s in rec.next_steps if s.id == step_id), None)
    if step is None:
        raise UsageError(f"the recommendation has no next step '{step_id}'")
    return handover_packet(step, profile, ruleset, as_of=rec.as_of, lang=rec.lang)


def _plain(value: Any) -> Any:
    """A profile value as plain JSON-ready data."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _name(ruleset: Ruleset, partner: str) -> str:
    unit = ruleset.partners.partners.get(partner)
    return unit.name if unit is not None else partner


# -- the guard at load time ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Reach:
    """What a restricted status can reach in one service: a grant, a check, the decisions possible."""

    grants: tuple[Rule, ...]
    checks: tuple[Rule, ...]

    @property
    def statuses(self) -> set[str]:
        found = {"not_eligible"}
        if self.grants:
            found |= {"eligible", "undetermined"}
        if self.checks:
            found.add("undetermined")
        return found


def guard_problems(ruleset: Ruleset) -> list[RuleProblem]:
    """Rules and step templates that could expose a restricted status or give volunteers too much.

    A rule breaks the § 87 guard when it can make a service eligible (or a check) for a person
    with a restricted status while the service — or the check's partner — is a body with the
    reporting duty, and no exclusion of that status stands in force for the whole of its validity;
    a step template breaks it when it can reach such a person and names (or routes to) such a body.
    The person's own application (``own_application: true``) is the exception.
    """
    problems: list[RuleProblem] = []
    on = dt.date(2000, 1, 1)  # any date: only residence_status is known, windows stay unknown
    for status in sorted(RESTRICTED_STATUSES):
        facts = facts_for(CaseProfile.model_validate({"residence_status": status}), on)
        reach: dict[str, _Reach] = {}
        for service in ruleset.services:
            rules = ruleset.rules_of(service.id)
            exclusions = [r for r in rules if r.effect == "not_eligible" and r.when.test(facts, on) is True]
            open_rules = [
                r
                for r in rules
                if r.effect != "not_eligible"
                and r.when.test(facts, on) is not False
                and not any(_covers_window(e, r) for e in exclusions)
            ]
            reach[service.id] = _Reach(
                tuple(r for r in open_rules if r.effect == "eligible"),
                tuple(r for r in open_rules if r.effect == "check"),
            )
            for rule in open_rules:
                target = rule.check_with if rule.effect == "check" and rule.check_with else "responsible"
                if rule.effect == "eligible" and rule.own_application:
                    continue
                reporting = _reporting(ruleset, service.id, target)
                if reporting:
                    what = "a check" if rule.effect == "check" else "eligible"
                    problems.append(
                        _problem(
                            rule,
                            "rule",
                            f"can make '{service.id}' {what} for a person with the "
                            f"restricted status '{status}' and sends them to {', '.join(reporting)}, which "
                            "must report an irregular stay (§ 87 AufenthG); exclude the status, or make it a "
                            "check with a free-welfare partner (check_with: office:confidential_counselling)",
                        )
                    )
        for template in ruleset.steps:
            possible = reach.get(template.service)
            if possible is None or template.for_status not in possible.statuses:
                continue
            if template.when is not None and template.when.test(facts, on) is False:
                continue
            if template.own_application:
                continue
            reporting = _reporting(ruleset, template.service, template.partner)
            if reporting:
                problems.append(
                    _problem(
                        template,
                        "step",
                        f"can reach a person with the restricted status '{status}' and "
                        f"names {', '.join(reporting)}, which must report an irregular stay (§ 87 "
                        "AufenthG); add a condition that excludes the status, or mark the person's own "
                        "application with own_application: true",
                    )
                )
    problems += _volunteer_problems(ruleset)
    return sorted(set(problems), key=lambda p: (p.file, p.line, p.message))


def _volunteer_problems(ruleset: Ruleset) -> list[RuleProblem]:
    problems = []
    fields = ruleset.fields
    for template in ruleset.steps:
        volunteers = _volunteers(ruleset, template.service, template.partner)
        forbidden = sorted({str(c) for c in template.handover} & VOLUNTEER_FORBIDDEN)
        if volunteers and forbidden:
            problems.append(
                _problem(
                    template,
                    "step",
                    f"hands {', '.join(forbidden)} to a volunteer group "
                    f"({', '.join(volunteers)}); volunteers never receive residence, benefits or health data",
                )
            )
    for rule in ruleset.rules:
        if rule.effect != "check":
            continue
        volunteers = _volunteers(ruleset, rule.service, rule.check_with or "responsible")
        categories = check_categories(rule, fields)
        forbidden = sorted(set(categories) & VOLUNTEER_FORBIDDEN)
        if volunteers and forbidden:
            problems.append(
                _problem(
                    rule,
                    "rule",
                    f"as a check would hand {', '.join(forbidden)} to a volunteer group "
                    f"({', '.join(volunteers)}); give it a handover list without them (handover: [...])",
                )
            )
    return problems


def check_categories(rule: Rule, fields: Mapping[str, Any]) -> tuple[str, ...]:
    """The data categories a check passes to its partner: its ``handover``, or identity and its fields'.

    Asking a partner about a person names the person, so a check without a ``handover`` list
    passes ``identity`` too; an explicit list (even ``[]``, an anonymous question) is taken as it is.
    """
    if rule.handover is not None:
        return tuple(rule.handover)
    found: dict[str, None] = {"identity": None}
    for leaf in rule.leaves:
        if leaf.field in fields:
            found.setdefault(fields[leaf.field].category, None)
    return tuple(found)


def possible_partners(ruleset: Ruleset, service: str, target: str | None) -> tuple[str, ...]:
    """Every partner unit a step or check of ``service`` naming ``target`` could reach, anywhere, any time."""
    if target is None:
        return ()
    if target == "responsible":
        return tuple(dict.fromkeys(offer.partner for offer in ruleset.partners.offers_for(service)))
    if target.startswith("office:"):
        return tuple(dict.fromkeys(offer.partner for offer in ruleset.partners.offers_for(target)))
    return (target,)


def _reporting(ruleset: Ruleset, service: str, target: str | None) -> list[str]:
    return [p for p in possible_partners(ruleset, service, target) if ruleset.partners.reports(p)]


def _volunteers(ruleset: Ruleset, service: str, target: str | None) -> list[str]:
    units = ruleset.partners.partners
    return [
        p for p in possible_partners(ruleset, service, target) if p in units and units[p].kind == "volunteer"
    ]


def _covers_window(exclusion: Rule, rule: Rule | StepTemplate) -> bool:
    """Whether ``exclusion`` is in force on every day ``rule`` is."""
    starts = exclusion.valid_from is None or (
        rule.valid_from is not None and exclusion.valid_from <= rule.valid_from
    )
    ends = exclusion.valid_to is None or (rule.valid_to is not None and rule.valid_to <= exclusion.valid_to)
    return starts and ends


def _problem(item: Rule | StepTemplate, subject: str, message: str) -> RuleProblem:
    """A problem located at the rule or step template ``item``."""
    return RuleProblem(item.where.file, item.where.line, 1, message, item.id, subject)
