"""What changes if the facts change: :func:`what_if`, and :func:`why_not` with the smallest changes.

:func:`what_if` compares two recommendations, before and after some facts change (a move into
Anschlussunterbringung, a recognition as a refugee), and lists which decisions, partners and next
steps change, with the reasons of the new decisions. :func:`why_not` names, for a service that is
not eligible or undetermined, the conditions that stand in the way and the smallest changes the
person can make (German level, registration as a jobseeker, employment, the integration course)
that would make it eligible. Birth date, arrival, residence status, accommodation and benefits are
not changeable by the person in this sense; consents gate handovers, never eligibility.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from html import escape
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field

from .decide import statuses
from .engines import evaluator
from .errors import UsageError
from .explain import what_if_text, why_not_html, why_not_text
from .facts import facts_for
from .loader import default_ruleset
from .models import (
    LANGUAGE_LEVELS,
    CaseProfile,
    ConditionOutcome,
    ConditionValue,
    Employment,
    IntegrationCourse,
    NextStep,
    Reason,
    Recommendation,
    Status,
    check_as_of,
)
from .recommend import recommend
from .ruleset import Ruleset

#: Facts a person can change, each with its possible values in the order of effort (lowest first).
CHANGEABLE: dict[str, tuple[ConditionValue, ...]] = {
    "language_level": LANGUAGE_LEVELS,
    "registered_jobseeker": (True, False),
    "employment": get_args(Employment),
    "integration_course": get_args(IntegrationCourse),
}
#: Facts that only move forward: nobody unlearns German or un-attends a course.
_ORDERED = ("language_level", "integration_course")


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DecisionChange(_Result):
    """One service whose status or partners differ after the change, with the new reasons."""

    service: str
    before: Status
    after: Status
    partners_before: tuple[str, ...] = ()
    partners_after: tuple[str, ...] = ()
    reasons: tuple[Reason, ...] = Field(default=(), description="the reasons of the new decision")

    def __repr__(self) -> str:
        return f"DecisionChange({self.service!r}: {self.before.value} -> {self.after.value})"

    def __str__(self) -> str:
        return repr(self)


class WhatIf(_Result):
    """The difference a change of facts makes: decisions, partners and next steps."""

    fields: tuple[str, ...] = Field(description="the profile fields that were changed")
    before: Recommendation
    after: Recommendation
    changed: tuple[str, ...] = Field(description="ids of the services whose status changes")
    decisions: tuple[DecisionChange, ...] = Field(description="services whose status or partners change")
    steps_added: tuple[NextStep, ...] = ()
    steps_removed: tuple[NextStep, ...] = ()

    @property
    def partners_changed(self) -> tuple[str, ...]:
        """Ids of the services whose responsible partners change."""
        return tuple(d.service for d in self.decisions if d.partners_before != d.partners_after)

    def explain(self, lang: str = "de", *, redact: bool = False) -> str:
        """What changes and why, as short text: each changed decision with its new explanation."""
        return what_if_text(self, lang, redact=redact)

    def _repr_html_(self) -> str:
        return f"<pre>{escape(self.explain(self.after.lang))}</pre>"

    def __repr__(self) -> str:
        return (
            f"WhatIf(fields={self.fields!r}, changed={self.changed!r}, "
            f"partners_changed={self.partners_changed!r}, steps_added={len(self.steps_added)}, "
            f"steps_removed={len(self.steps_removed)})"
        )

    def __str__(self) -> str:
        return repr(self)


class WhyNot(_Result):
    """Why a service is not eligible, and the smallest changes of facts that would make it eligible."""

    service: str
    status: Status
    conditions: tuple[ConditionOutcome, ...] = Field(
        default=(), description="failed or unknown conditions (met ones for an exclusion)"
    )
    alternatives: tuple[dict[str, ConditionValue], ...] = Field(
        default=(), description="each a smallest set of changes that makes the service eligible"
    )
    name: str = Field(default="", description="the service's name in the requested language")
    lang: str = "de"

    def explain(self, lang: str | None = None, *, redact: bool = False) -> str:
        """What stands in the way and the smallest changes that would help, as short text.

        ``redact=True`` leaves out the person's values (the conditions' actual values and the
        values an alternative would change facts to).
        """
        return why_not_text(self, lang or self.lang, redact=redact)

    def _repr_html_(self) -> str:
        return why_not_html(self)

    def __repr__(self) -> str:
        shown = [sorted(alternative) for alternative in self.alternatives]
        return f"WhyNot(service={self.service!r}, status={self.status.value!r}, alternatives={shown!r})"

    def __str__(self) -> str:
        return repr(self)


def _profile(profile: CaseProfile | Mapping[str, Any]) -> CaseProfile:
    return profile if isinstance(profile, CaseProfile) else CaseProfile.model_validate(profile)


def _apply(profile: CaseProfile, changes: Mapping[str, Any]) -> CaseProfile:
    if not isinstance(changes, Mapping):
        raise UsageError("changes must be a mapping of profile field names to new values")
    # Re-validate the whole profile so that a bad new value raises ProfileError like any input.
    return CaseProfile.model_validate({**profile.model_dump(), **changes})


def what_if(
    profile: CaseProfile | Mapping[str, Any],
    changes: Mapping[str, Any],
    *,
    as_of: dt.date | None = None,
    ruleset: Ruleset | None = None,
    lang: str = "de",
    engine: str | None = None,
) -> WhatIf:
    """Recommend for ``profile`` and for ``profile`` with ``changes`` applied, and compare.

    ``changes`` maps profile fields to new values (``None`` makes a fact unknown); a bad field or
    value raises :class:`ProfileError`. The other arguments are those of :func:`recommend`.
    """
    profile = _profile(profile)
    as_of = check_as_of(as_of)
    changed_profile = _apply(profile, changes)
    before = recommend(profile, as_of=as_of, ruleset=ruleset, lang=lang, engine=engine)
    after = recommend(changed_profile, as_of=as_of, ruleset=ruleset, lang=lang, engine=engine)
    diffs = []
    for new in after.decisions:
        old = before.decision(new.service)
        if old.status is not new.status or old.partners != new.partners:
            diffs.append(
                DecisionChange(
                    service=new.service,
                    before=old.status,
                    after=new.status,
                    partners_before=old.partners,
                    partners_after=new.partners,
                    reasons=new.reasons,
                )
            )
    old_steps, new_steps = set(before.next_steps), set(after.next_steps)
    return WhatIf(
        fields=tuple(sorted(changes)),
        before=before,
        after=after,
        changed=tuple(d.service for d in diffs if d.before is not d.after),
        decisions=tuple(diffs),
        steps_added=tuple(step for step in after.next_steps if step not in old_steps),
        steps_removed=tuple(step for step in before.next_steps if step not in new_steps),
    )


def why_not(
    profile: CaseProfile | Mapping[str, Any],
    service: str,
    *,
    as_of: dt.date | None = None,
    ruleset: Ruleset | None = None,
    lang: str = "de",
    engine: str | None = None,
    max_changes: int = 2,
) -> WhyNot:
    """The conditions that keep ``service`` from eligible and the smallest changes that would fix it.

    Alternatives change only :data:`CHANGEABLE` facts, at most ``max_changes`` of them (1 or 2), and
    only forward for the German level and the integration course. Only alternatives of the
    smallest size found are returned, and of those only the lowest German level or course stage
    that works. An eligible service has none; an empty tuple otherwise means no such change helps
    (for example because a partner must check a point the law leaves open).
    """
    profile = _profile(profile)
    as_of = check_as_of(as_of)
    if ruleset is None:
        ruleset = default_ruleset()
    if max_changes not in (1, 2):
        raise UsageError("max_changes must be 1 or 2")
    try:
        ruleset.service(service)
    except KeyError:
        raise UsageError(f"unknown service {service!r}; the rule set has no such id") from None
    decision = recommend(profile, as_of=as_of, ruleset=ruleset, lang=lang, engine=engine).decision(service)
    if decision.status is Status.ELIGIBLE:
        return WhyNot(service=service, status=decision.status, name=decision.name, lang=lang)
    return WhyNot(
        service=service,
        status=decision.status,
        name=decision.name,
        lang=lang,
        conditions=decision.blocking,
        alternatives=smallest_changes(
            profile, service, as_of=as_of, ruleset=ruleset, engine=engine, max_changes=max_changes
        ),
    )


def _options(profile: CaseProfile, field: str) -> tuple[ConditionValue, ...]:
    current = getattr(profile, field)
    values = CHANGEABLE[field]
    if field in _ORDERED and current is not None:
        return tuple(values[values.index(current) + 1 :])
    return tuple(value for value in values if value != current)


def smallest_changes(
    profile: CaseProfile,
    service: str,
    *,
    as_of: dt.date,
    ruleset: Ruleset,
    engine: str | None = None,
    max_changes: int = 2,
) -> tuple[dict[str, ConditionValue], ...]:
    """The smallest sets of changes to :data:`CHANGEABLE` facts that make ``service`` eligible."""
    evaluate = evaluator(ruleset, engine)

    def eligible(update: dict[str, ConditionValue]) -> bool:
        changed = profile.replace(**update)
        values = evaluate(facts_for(changed, as_of), as_of)
        return statuses(ruleset, values)[service] is Status.ELIGIBLE

    options = {field: _options(profile, field) for field in CHANGEABLE}
    for size in range(1, max_changes + 1):
        found: list[dict[str, ConditionValue]] = []
        for fields in itertools.combinations(CHANGEABLE, size):
            for values in itertools.product(*(options[field] for field in fields)):
                update = dict(zip(fields, values, strict=True))
                if eligible(update) and not _dominated(update, found):
                    found.append(update)
        if found:
            return tuple(found)
    return ()


def _dominated(update: dict[str, ConditionValue], found: list[dict[str, ConditionValue]]) -> bool:
    """Whether an alternative already found asks less: the same fields, a lower level or stage."""
    for other in found:
        if other.keys() != update.keys():
            continue
        if all(
            other[field] == update[field]
            or (
                field in _ORDERED
                and CHANGEABLE[field].index(other[field]) < CHANGEABLE[field].index(update[field])
            )
            for field in update
        ):
            return True
    return False
