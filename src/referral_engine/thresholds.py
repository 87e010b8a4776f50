"""The boundary values a rule set uses, and the few values per field that stand for all others.

Rules compare fields against constants: ages (``age lt 27``), dates (``status_since le
2025-03-31``), CEFR levels, enumeration values, and time windows (``entry_date within P3Y``); rules
and offers come into and go out of force on fixed days. :func:`thresholds` collects these from a
rule set. The hypothesis strategies of :mod:`referral_engine.testing` draw values around them, and
the verifier of :mod:`referral_engine.verify` builds its finite domain from :func:`representatives`:
for each field a handful of values such that every value of the field behaves like one of them in
every condition of the rule set (for a given ``as_of``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .dates import Duration, add_days, add_months
from .facts import FIELDS
from .models import LANGUAGE_LEVELS
from .ruleset import Ruleset

#: Date fields that record an event in the past (arrival, issue of a title, move, birth).
EVENT_FIELDS: tuple[str, ...] = ("birth_date", "entry_date", "status_since", "accommodation_since")
MAX_AGE = 120
ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Thresholds:
    """The constants one rule set compares against, per field (see :func:`thresholds`)."""

    #: Age limits of ``age`` conditions, and the whole years of windows on ``birth_date``.
    ages: tuple[int, ...]
    #: Every age limit once per condition that uses it: the limits many rules meet at come first.
    age_uses: tuple[int, ...]
    #: Per date field: the dates it is compared with (``lt``, ``le``, ``eq`` …).
    dates: Mapping[str, tuple[dt.date, ...]]
    #: Per date field: the durations of its ``within`` / ``older_than`` windows.
    durations: Mapping[str, tuple[Duration, ...]]
    #: Ranks (0 = none … 6 = C2) that ``language_level`` is compared with.
    levels: tuple[int, ...]
    #: Per field the rules test with ``eq`` / ``in`` / ``contains``: the values they name.
    named: Mapping[str, tuple[Any, ...]]
    #: Days on which a rule or an offer comes into force or goes out of it (``valid_to`` + 1).
    changes: tuple[dt.date, ...]
    #: Fields some rule tests, in the order of :data:`referral_engine.facts.FIELDS`.
    fields: tuple[str, ...]
    #: Per service, the fields its rules test.
    fields_of: Mapping[str, tuple[str, ...]]
    #: Municipality names and aliases of the partner graph, and the languages offers are given in.
    places: tuple[str, ...]
    languages: tuple[str, ...]

    def event_edges(self, name: str, as_of: dt.date) -> tuple[dt.date, ...]:
        """Days around which ``name``'s windows (and, for birth dates, the age limits) turn on ``as_of``.

        For each window length: the start whose window ends on ``as_of`` and the days next to it
        (a few more around month ends, where §188 BGB clamps the end to the month's last day).
        """
        edges: set[dt.date] = set()
        lengths = list(self.durations.get(name, ()))
        if name == "birth_date":
            lengths += [Duration(years=age) for age in self.ages]
        for duration in lengths:
            start = add_months(add_days(as_of, -duration.days), -(duration.years * 12 + duration.months))
            edges.update(add_days(start, shift) for shift in range(-3, 4))
        return tuple(sorted(edges))


def thresholds(ruleset: Ruleset) -> Thresholds:
    """Collect the constants ``ruleset`` compares against (cheap: one pass over every leaf)."""
    ages: list[int] = []
    dates: dict[str, set[dt.date]] = {}
    durations: dict[str, set[Duration]] = {}
    levels: set[int] = set()
    named: dict[str, dict[Any, None]] = {}
    used: dict[str, dict[str, None]] = {service.id: {} for service in ruleset.services}
    for rule in ruleset.rules:
        for leaf in rule.leaves:
            used.setdefault(rule.service, {})[leaf.field] = None
            kind = FIELDS[leaf.field].kind
            values = sorted(leaf.value, key=str) if leaf.op in ("in", "not_in") else [leaf.value]
            if leaf.op in ("within", "older_than"):
                durations.setdefault(leaf.field, set()).add(leaf.value)
                if (
                    leaf.field == "birth_date"
                    and leaf.value.years
                    and not (leaf.value.months or leaf.value.days)
                ):
                    ages.append(leaf.value.years)
            elif kind == "int":
                ages.extend(values)
            elif kind == "date":
                dates.setdefault(leaf.field, set()).update(values)
            elif kind == "level":
                levels.update(values)
            else:
                named.setdefault(leaf.field, {}).update(dict.fromkeys(values))
    changes: set[dt.date] = set()
    windows: Iterable[Any] = (*ruleset.rules, *ruleset.partners.offers, *ruleset.partners.not_offered)
    for item in windows:
        if item.valid_from is not None:
            changes.add(item.valid_from)
        if item.valid_to is not None:
            changes.add(add_days(item.valid_to, 1))
    order = {name: index for index, name in enumerate(FIELDS)}
    everywhere = {name for names in used.values() for name in names}
    municipalities = ruleset.partners.municipalities.values()
    return Thresholds(
        ages=tuple(sorted(set(ages))),
        age_uses=tuple(sorted(ages, key=lambda age: (-ages.count(age), age))),
        dates=MappingProxyType({k: tuple(sorted(v)) for k, v in dates.items()}),
        durations=MappingProxyType({k: tuple(sorted(v, key=_length)) for k, v in durations.items()}),
        levels=tuple(sorted(levels)),
        named=MappingProxyType({k: tuple(v) for k, v in named.items()}),
        changes=tuple(sorted(changes)),
        fields=tuple(sorted(everywhere, key=order.__getitem__)),
        fields_of=MappingProxyType({k: tuple(sorted(v, key=order.__getitem__)) for k, v in used.items()}),
        places=tuple(dict.fromkeys(name for m in municipalities for name in (m.name, *m.aliases))),
        languages=tuple(
            sorted(
                {code for offer in ruleset.partners.offers for code in offer.languages}
                | {str(v) for v in named.get("languages", {})}
            )
        ),
    )


def _length(duration: Duration) -> tuple[int, int]:
    return duration.years * 12 + duration.months, duration.days


def as_of_points(th: Thresholds) -> tuple[dt.date, ...]:
    """One day in each period in which the same rules and offers are in force.

    The periods start on the days of :attr:`Thresholds.changes`; the day before the first change
    stands for everything earlier.
    """
    if not th.changes:
        return (dt.date(2026, 1, 1),)
    return (add_days(th.changes[0], -1), *th.changes)


def representatives(th: Thresholds, name: str, as_of: dt.date) -> tuple[Any, ...]:
    """Known values of the fact ``name`` that between them behave like every value on ``as_of``.

    Ordered fields (ages, levels, dates) come sorted, so neighbours are neighbours in the order;
    facts are given as the rules see them (``language_level`` as a rank, ``municipality`` folded).
    Each limit gives the value below it, the value itself and the one above: together with the
    ends of the range that covers every class of ``lt``, ``le``, ``eq``, ``ge``, ``gt`` and ``in``.
    Event dates lie on or before ``as_of``.
    """
    kind = FIELDS[name].kind
    if kind == "int":
        values = {0, MAX_AGE, *(a + s for a in th.ages for s in (-1, 0, 1))}
        return tuple(sorted(v for v in values if 0 <= v <= MAX_AGE))
    if kind == "level":
        return tuple(range(len(LANGUAGE_LEVELS)))
    if kind == "bool":
        return (False, True)
    if kind == "date":
        days = {as_of, add_days(as_of, -1), add_months(as_of, -12 * MAX_AGE)}
        days.update(add_days(d, s) for d in th.dates.get(name, ()) for s in (-1, 0, 1))
        days.update(th.event_edges(name, as_of))
        if name in EVENT_FIELDS:
            days = {day for day in days if day <= as_of}
        return tuple(sorted(days))
    if kind == "enum":
        return FIELDS[name].values
    if kind == "list":
        codes = th.named.get(name, ())
        return ((), *((code,) for code in codes))
    # text (municipality): the names rules use, the graph's ids, and one place nobody serves.
    names = {*(str(v) for v in th.named.get(name, ())), *(p.casefold() for p in th.places)}
    return (*sorted(names), "elsewhere")
