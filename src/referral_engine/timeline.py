"""When decisions change by themselves: birthdays, the ends of time windows, rules coming and going.

With the facts unchanged, a decision (a service's status and, when eligible, its partners) can only
change on a few dates that follow from the facts and the rule set:

- a birthday at which the age crosses a limit some rule compares ``age`` with (from ``birth_date``;
  a profile that gives only ``age`` keeps that age);
- the first day of a ``within`` window (its event date) and the day after it ends
  (``period_end + 1 day``, §§ 187, 188 BGB), which is also the first day of ``older_than``;
- a rule's ``valid_from`` and the day after its ``valid_to``;
- an offer's ``valid_from`` and the day after its ``valid_to`` (routing changes).

:func:`upcoming_changes` evaluates the case only on those dates, in ascending order, so the
decision between two of them is the one on the earlier. Every date is evaluated by the chosen
engine, so both engines give the same changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from .compiled import CompiledRules
from .dates import period_end
from .decide import Decided, statuses
from .engines import Evaluate
from .facts import Facts, facts_for
from .handover import safe_route
from .models import CaseProfile, Status, StatusChange
from .ruleset import Ruleset

_DAY = dt.timedelta(days=1)

#: A decision as far as change dates are concerned: status and (when eligible) partners.
State = tuple[Status, tuple[str, ...]]


def birthday(birth_date: dt.date, years: int) -> dt.date:
    """The day a person born on ``birth_date`` turns ``years`` old (29 February: 1 March, § 188 BGB)."""
    try:
        return birth_date.replace(year=birth_date.year + years)
    except ValueError:  # 29 February in a common year
        return dt.date(birth_date.year + years, 3, 1)


def _age_limits(op: str, value: object) -> Iterator[int]:
    """The ages at which ``age op value`` can flip: ``ge 27`` and ``lt 27`` at 27, ``le 27`` at 28."""
    values = value if isinstance(value, (tuple, list, frozenset, set)) else (value,)
    for limit in values:
        if isinstance(limit, int) and not isinstance(limit, bool):
            if op in ("lt", "ge", "eq", "ne", "in", "not_in"):
                yield limit
            if op in ("le", "gt", "eq", "ne", "in", "not_in"):
                yield limit + 1


def change_dates(ruleset: Ruleset, profile: CaseProfile, as_of: dt.date) -> list[dt.date]:
    """Every date after ``as_of`` on which a decision for ``profile`` could change, ascending."""
    dates: set[dt.date] = set()
    for rule in ruleset.rules:
        if rule.valid_from is not None:
            dates.add(rule.valid_from)
        if rule.valid_to is not None and rule.valid_to < dt.date.max:
            dates.add(rule.valid_to + _DAY)
        for leaf in rule.leaves:
            if leaf.field == "age" and profile.birth_date is not None:
                for years in _age_limits(leaf.op, leaf.value):
                    if 0 < years <= 150:
                        dates.add(birthday(profile.birth_date, years))
            elif leaf.op in ("within", "older_than"):
                start = getattr(profile, leaf.field)
                if start is not None:
                    if leaf.op == "within":  # an event after as_of opens the window on its day
                        dates.add(start)
                    dates.add(period_end(start, leaf.value) + _DAY)
    for offer in ruleset.partners.offers:
        if offer.valid_from is not None:
            dates.add(offer.valid_from)
        if offer.valid_to is not None and offer.valid_to < dt.date.max:
            dates.add(offer.valid_to + _DAY)
    return sorted(day for day in dates if day > as_of)


def probe_profile(profile: CaseProfile) -> CaseProfile:
    """The profile to evaluate on other dates: with a birth date, the age follows from it."""
    if profile.birth_date is not None and profile.age is not None:
        return profile.model_copy(update={"age": None})
    return profile


def states(
    ruleset: Ruleset, evaluate: Evaluate, profile: CaseProfile, facts: Facts, on: dt.date
) -> dict[str, State]:
    """Every service's status and (if eligible) partners for ``facts`` on ``on``, without reasons."""
    engine = getattr(evaluate, "__self__", None)
    if isinstance(engine, CompiledRules):  # the python engine gives the statuses in the same pass
        values, codes = engine.run(facts, on)
        found: Iterable[tuple[str, Status]] = zip((s.id for s in ruleset.services), codes, strict=True)
    else:
        values = evaluate(facts, on)
        found = statuses(ruleset, values).items()
    return {
        service: (
            status,
            safe_route(ruleset, service, profile, on, values) if status is Status.ELIGIBLE else (),
        )
        for service, status in found
    }


def states_of(decided: Iterable[Decided], routes: dict[str, tuple[str, ...]]) -> dict[str, State]:
    """The states of decisions :func:`referral_engine.decide.decide` already made."""
    return {
        d.service: (d.status, routes.get(d.service, ()) if d.status is Status.ELIGIBLE else ())
        for d in decided
    }


def upcoming_changes(
    ruleset: Ruleset,
    evaluate: Evaluate,
    profile: CaseProfile,
    as_of: dt.date,
    start: dict[str, State],
) -> tuple[StatusChange, ...]:
    """Every change of a decision after ``as_of`` while the facts stay as they are, in date order.

    ``start`` is the state on ``as_of``. Costs one evaluation per date of :func:`change_dates`.
    """
    profile = probe_profile(profile)
    kinds = {service.id: service.kind for service in ruleset.services}
    changes: list[StatusChange] = []
    previous = start
    for day in change_dates(ruleset, profile, as_of):
        current = states(ruleset, evaluate, profile, facts_for(profile, day), day)
        for service, (status, partners) in current.items():
            old_status, old_partners = previous[service]
            if status is not old_status or partners != old_partners:
                changes.append(
                    StatusChange(
                        on=day,
                        service=service,
                        kind=kinds[service],
                        before=old_status,
                        after=status,
                        partners_before=old_partners,
                        partners_after=partners,
                    )
                )
        previous = current
    return tuple(changes)


def valid_until(changes: Iterable[StatusChange]) -> dict[str, dt.date]:
    """The first change date of each service that changes at all."""
    first: dict[str, dt.date] = {}
    for change in changes:
        first.setdefault(change.service, change.on)
    return first
