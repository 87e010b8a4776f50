"""Calendar arithmetic for ages and time windows, following §§ 187, 188 BGB.

* An age increases at the start of the birthday (§ 187 Abs. 2 BGB); someone born on 29 February
  turns a year older on 1 March in common years (§ 188 Abs. 3 BGB).
* A period that starts with an event (arrival, issue of a title, move) ends with the day whose
  number matches the event's day (§ 187 Abs. 1, § 188 Abs. 2 BGB), or with the last day of the
  month where that day does not exist (§ 188 Abs. 3 BGB). So a three-year window after arrival on
  10 May 2023 still contains 10 May 2026.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import weakref
from dataclasses import dataclass
from functools import lru_cache

_DURATION = re.compile(r"P(?:([0-9]+)Y)?(?:([0-9]+)M)?(?:([0-9]+)D)?")


@dataclass(frozen=True, slots=True)
class Duration:
    """A calendar duration of whole years, months and days (ISO 8601, e.g. ``P1Y6M``)."""

    years: int = 0
    months: int = 0
    days: int = 0

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Parse ``PnYnMnD`` (any part may be left out, at least one must be there)."""
        match = _DURATION.fullmatch(text)
        if not match or text == "P":
            raise ValueError(f"expected an ISO 8601 duration such as P3Y, P6M, P1Y6M or P90D, found {text!r}")
        years, months, days = (int(part) if part else 0 for part in match.groups())
        return cls(years, months, days)

    def __str__(self) -> str:
        parts = [(self.years, "Y"), (self.months, "M"), (self.days, "D")]
        return "P" + "".join(f"{n}{unit}" for n, unit in parts if n) if any(n for n, _ in parts) else "P0D"


def add_months(start: dt.date, months: int) -> dt.date:
    """``start`` moved by whole months, clamped to the month's last day (§ 188 Abs. 3 BGB).

    Saturates at ``date.min`` / ``date.max``: a period that would end after 9999-12-31 (the
    common "open end" sentinel) ends with the last representable day, never with an error.
    """
    month_index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(month_index, 12)
    if year > dt.MAXYEAR:
        return dt.date.max
    if year < dt.MINYEAR:
        return dt.date.min
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return dt.date(year, month + 1, day)


def add_days(day: dt.date, days: int) -> dt.date:
    """``day`` moved by ``days`` days, saturating at ``date.min`` / ``date.max``."""
    ordinal = day.toordinal() + days
    return dt.date.fromordinal(min(max(ordinal, 1), dt.date.max.toordinal()))


@lru_cache(maxsize=65536)
def _period_end(start: dt.date, duration: Duration) -> dt.date:
    return add_days(add_months(start, duration.years * 12 + duration.months), duration.days)


def period_end(start: dt.date, duration: Duration) -> dt.date:
    """The last day of a period of ``duration`` that starts with an event on ``start``.

    Saturates at ``date.max``: such a period contains every later representable date. Memoised
    (every ``within`` / ``older_than`` test of every case and candidate date asks); the memo
    holds case dates, so :func:`referral_engine.purge_caches` empties it.
    """
    return _period_end(start, duration)


class Memo(dict):  # type: ignore[type-arg]
    """A memo keyed by dates (of cases, too); every live one is known, so :func:`purge` empties them.

    Compared and hashed by identity, so that a weak set can hold them.
    """

    __hash__ = object.__hash__  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        return self is other


_memos: weakref.WeakSet[Memo] = weakref.WeakSet()


def memo() -> Memo:
    """A new memo that :func:`purge` empties (rule sets and partner graphs keep theirs here)."""
    found = Memo()
    _memos.add(found)
    return found


def purge() -> None:
    """Forget every memoised date (they may be case dates) and empty every :func:`memo`."""
    _period_end.cache_clear()
    window_start.cache_clear()
    for found in list(_memos):
        found.clear()


def age_on(birth_date: dt.date, on: dt.date) -> int:
    """Completed years of life on the date ``on`` (a 29 February birthday counts from 1 March)."""
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


@lru_cache(maxsize=4096)
def window_start(as_of: dt.date, duration: Duration) -> dt.date:
    """The earliest start whose period of ``duration`` still contains ``as_of``.

    ``period_end`` never decreases as the start moves later, so a period that started on ``start``
    contains ``as_of`` (when ``start <= as_of``) exactly when ``start >= window_start(as_of, duration)``;
    that turns a time window into a plain date comparison (the durable engine and the compiled
    python engine make it; the reference evaluator calls :func:`period_end`). Memoised: the
    durable engine asks for every case.
    """
    months = duration.years * 12 + duration.months
    try:
        # period_end(start) >= as_of  <=>  add_months(start, months) >= as_of - days; add_months
        # never decreases, so the earliest such start is ``target`` moved back by the months, or
        # the day after it where the month's end clamped it (31 March - 1 month: 28 February).
        target = as_of - dt.timedelta(days=duration.days)
        start = add_months(target, -months)
    except (OverflowError, ValueError):  # before year 1: every start from the first day qualifies
        return dt.date.min
    return start if add_months(start, months) >= target else start + dt.timedelta(days=1)
