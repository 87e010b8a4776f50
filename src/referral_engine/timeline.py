"""When decisions change by themselves: birthdays, the ends of time windows, rules coming and going.

With the facts unchanged, a decision (a service's status and, when eligible, its partners) can only
change on a few dates that follow from the facts and the rule set:

- a birthday at which the age crosses a limit some rule compares ``age`` with (from ``birth_date``;
  a profile that gives only ``age`` keeps that age);
- the first day of a ``within`` window (its event date) and the day after it ends
  (``period_end + 1 day``, §§ 187, 188 BGB), which is also the first day of ``older_than``;
- a rule's ``valid_from`` and the day after its ``valid_to``;
- an offer's ``valid_from`` and the day after its ``valid_to`` (routing changes).

:func:`upcoming_changes` decides the case only on those dates, in ascending order, so the
decision between two of them is the one on the earlier; and on each date only the services the
date concerns (its rule's, limit's, window's or offer's service), with those services' rules
compiled (:mod:`referral_engine.compiled`, proven equal to both engines). Both engines therefore
give the same changes, and the cost per date does not grow with the rest of the rule set.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .compiled import CompiledRules, compiled
from .dates import Duration, period_end
from .decide import Decided, statuses
from .engines import Evaluate
from .facts import Facts, facts_for
from .handover import safe_route
from .models import CaseProfile, Status, StatusChange
from .ruleset import Ruleset

_DAY = dt.timedelta(days=1)
_PLAN = "time plan"

#: A decision as far as change dates are concerned: status and (when eligible) partners.
State = tuple[Status, tuple[str, ...]]


def birthday(birth_date: dt.date, years: int) -> dt.date | None:
    """The day a person born on ``birth_date`` turns ``years`` old (29 February: 1 March, § 188 BGB).

    ``None`` when that day would be after 9999-12-31 (no date can represent it).
    """
    year = birth_date.year + years
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        return None
    try:
        return birth_date.replace(year=year)
    except ValueError:  # 29 February in a common year
        return dt.date(year, 3, 1)


def _day_after(day: dt.date) -> dt.date | None:
    return day + _DAY if day < dt.date.max else None


def _age_limits(op: str, value: object) -> Iterator[int]:
    """The ages at which ``age op value`` can flip: ``ge 27`` and ``lt 27`` at 27, ``le 27`` at 28."""
    values = value if isinstance(value, (tuple, list, frozenset, set)) else (value,)
    for limit in values:
        if isinstance(limit, int) and not isinstance(limit, bool):
            if op in ("lt", "ge", "eq", "ne", "in", "not_in"):
                yield limit
            if op in ("le", "gt", "eq", "ne", "in", "not_in"):
                yield limit + 1


@dataclass(frozen=True, slots=True)
class _TimePlan:
    """What can change a rule set's decisions over time, and which service each thing concerns.

    Built once per rule set: the fixed dates (rule and offer validity), the ages at which an
    ``age`` leaf can flip and the time windows, each with its service (an offer of an office
    names ``office:<id>``, which no service decision depends on).
    """

    fixed: tuple[tuple[dt.date, str], ...]
    ages: tuple[tuple[int, str], ...]
    windows: tuple[tuple[str, bool, Duration, str], ...]


def _time_plan(ruleset: Ruleset) -> _TimePlan:
    found = ruleset._engines.get(_PLAN)
    if isinstance(found, _TimePlan):
        return found
    fixed: dict[tuple[dt.date, str], None] = {}
    ages: dict[tuple[int, str], None] = {}
    windows: dict[tuple[str, bool, Duration, str], None] = {}
    for rule in ruleset.rules:
        if rule.valid_from is not None:
            fixed[(rule.valid_from, rule.service)] = None
        if rule.valid_to is not None and rule.valid_to < dt.date.max:
            fixed[(rule.valid_to + _DAY, rule.service)] = None
        for leaf in rule.leaves:
            if leaf.field == "age":
                for years in _age_limits(leaf.op, leaf.value):
                    if 0 < years <= 150:
                        ages[(years, rule.service)] = None
            elif leaf.op in ("within", "older_than"):
                windows[(leaf.field, leaf.op == "within", leaf.value, rule.service)] = None
    for offer in ruleset.partners.offers:
        if offer.valid_from is not None:
            fixed[(offer.valid_from, offer.service)] = None
        if offer.valid_to is not None and offer.valid_to < dt.date.max:
            fixed[(offer.valid_to + _DAY, offer.service)] = None
    plan = _TimePlan(tuple(fixed), tuple(ages), tuple(windows))
    ruleset._engines[_PLAN] = plan
    return plan


def change_sources(ruleset: Ruleset, profile: CaseProfile, as_of: dt.date) -> list[tuple[dt.date, set[str]]]:
    """Every date after ``as_of`` on which a decision could change, ascending, with what it concerns.

    Each date comes with the services (or ``office:<id>``) whose decision or partners it can
    change: the service of a rule or offer starting or ending, of an age limit, of a window.
    """
    plan = _time_plan(ruleset)
    found: dict[dt.date, set[str]] = {}
    for day, service in plan.fixed:
        if day > as_of:
            found.setdefault(day, set()).add(service)
    if profile.birth_date is not None:
        for years, service in plan.ages:
            turns = birthday(profile.birth_date, years)  # None past 9999-12-31
            if turns is not None and turns > as_of:
                found.setdefault(turns, set()).add(service)
    for field, within, duration, service in plan.windows:
        start = getattr(profile, field)
        if start is None:
            continue
        # A period ending on 9999-12-31 (saturated) has no representable next day.
        end = _day_after(period_end(start, duration))
        for moment in (start, end) if within else (end,):  # an event after as_of opens a window
            if moment is not None and moment > as_of:
                found.setdefault(moment, set()).add(service)
    return sorted(found.items())


def change_dates(ruleset: Ruleset, profile: CaseProfile, as_of: dt.date) -> list[dt.date]:
    """Every date after ``as_of`` on which a decision for ``profile`` could change, ascending."""
    return [day for day, _ in change_sources(ruleset, profile, as_of)]


def probe_profile(profile: CaseProfile) -> CaseProfile:
    """The profile to evaluate on other dates: with a birth date, the age follows from it."""
    if profile.birth_date is not None and profile.age is not None:
        return profile.replace(age=None)
    return profile


def states(
    ruleset: Ruleset, evaluate: Evaluate, profile: CaseProfile, facts: Facts, on: dt.date
) -> dict[str, State]:
    """Every service's status and (if eligible) partners for ``facts`` on ``on``, without reasons."""
    engine = getattr(evaluate, "__self__", None)
    if isinstance(engine, CompiledRules):  # the python engine gives the statuses in the same pass
        ordered, codes = engine.run(facts, on)
        values = dict(zip(engine.rule_ids(on), ordered, strict=True))
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
    profile: CaseProfile,
    as_of: dt.date,
    start: dict[str, State],
) -> tuple[StatusChange, ...]:
    """Every change of a decision after ``as_of`` while the facts stay as they are, in date order.

    ``start`` is the state on ``as_of``. Each date of :func:`change_sources` decides again only
    the services it can change, with their own rules compiled (:mod:`referral_engine.compiled`,
    proven equal to every engine), so the cost grows with the dates and the rules they concern,
    not with the whole rule set per date; the durable engine is not run again per date
    (whichever engine decided ``start``). :func:`upcoming_changes_reference` is the reference.
    """
    profile = probe_profile(profile)
    engine = compiled(ruleset)
    rank = {service.id: index for index, service in enumerate(ruleset.services)}
    kinds = {service.id: service.kind for service in ruleset.services}
    changes: list[StatusChange] = []
    previous = dict(start)
    for day, concerned in change_sources(ruleset, profile, as_of):
        services = sorted((s for s in concerned if s in rank), key=rank.__getitem__)
        if not services:
            continue
        facts = facts_for(profile, day)
        for service in services:
            values, status = engine.service_run(facts, day, service)
            partners = safe_route(ruleset, service, profile, day, values) if status is Status.ELIGIBLE else ()
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
            previous[service] = (status, partners)
    return tuple(changes)


def upcoming_changes_reference(
    ruleset: Ruleset,
    evaluate: Evaluate,
    profile: CaseProfile,
    as_of: dt.date,
    start: dict[str, State],
) -> tuple[StatusChange, ...]:
    """:func:`upcoming_changes` the way it was first built, kept as its reference for tests.

    Decides every service again on each date of :func:`change_dates`, with the given engine.
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
