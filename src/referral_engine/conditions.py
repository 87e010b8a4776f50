"""Conditions over case facts, evaluated in three-valued (Kleene) logic.

A condition is a :class:`Leaf` (``field op value``) or a combination (:class:`AllOf`,
:class:`AnyOf`, :class:`Not`). Evaluating one gives ``True``, ``False`` or ``None`` for *unknown*:
a leaf whose field is unknown is unknown; ``AllOf`` is false as soon as one part is false and
``AnyOf`` true as soon as one part is true, otherwise unknown spreads. Filling in an unknown fact
can therefore settle a condition but never flip a settled one.

Conditions are built once by the loader; each is compiled into a small closure, so evaluating a
rule is a few function calls, never an interpretation of rule text.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeAlias

from .dates import Duration, period_end
from .facts import Facts

Tri = bool | None
Test = Callable[[Facts, dt.date], Tri]

#: The operators a leaf may use; ``within`` and ``older_than`` compare a date with ``as_of``.
OPERATORS: tuple[str, ...] = (
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "in",
    "not_in",
    "contains",
    "within",
    "older_than",
)


@dataclass(frozen=True, slots=True)
class Leaf:
    """``field op value``: ``value`` is the normalised operand, ``shown`` the value as written."""

    field: str
    op: str
    value: Any
    shown: bool | int | str | tuple[str, ...]
    test: Test = dataclasses.field(repr=False, compare=False)

    def leaves(self) -> Iterator[Leaf]:
        """Yield this leaf itself."""
        yield self


@dataclass(frozen=True, slots=True)
class AllOf:
    """True when every part is true; false when any part is false."""

    parts: tuple[Condition, ...]
    test: Test = dataclasses.field(repr=False, compare=False)

    def leaves(self) -> Iterator[Leaf]:
        """The leaves of every part, in order."""
        for part in self.parts:
            yield from part.leaves()


@dataclass(frozen=True, slots=True)
class AnyOf:
    """True when any part is true; false when every part is false."""

    parts: tuple[Condition, ...]
    test: Test = dataclasses.field(repr=False, compare=False)

    def leaves(self) -> Iterator[Leaf]:
        """The leaves of every part, in order."""
        for part in self.parts:
            yield from part.leaves()


@dataclass(frozen=True, slots=True)
class Not:
    """The negation of its part; unknown stays unknown."""

    part: Condition
    test: Test = dataclasses.field(repr=False, compare=False)

    def leaves(self) -> Iterator[Leaf]:
        """The leaves of the negated part."""
        yield from self.part.leaves()


Condition: TypeAlias = Leaf | AllOf | AnyOf | Not


def leaf(field_name: str, op: str, value: Any, shown: bool | int | str | tuple[str, ...]) -> Leaf:
    """A leaf condition; ``value`` must already be normalised (see the loader)."""
    if op in ("within", "older_than"):
        duration: Duration = value
        inside = op == "within"

        def test_window(facts: Facts, as_of: dt.date) -> Tri:
            start: dt.date | None = facts[field_name]
            if start is None:
                return None
            if inside:
                return start <= as_of <= period_end(start, duration)
            return as_of > period_end(start, duration)

        return Leaf(field_name, op, value, shown, test_window)

    return Leaf(field_name, op, value, shown, _value_test(field_name, op, value))


def _value_test(name: str, op: str, value: Any) -> Test:
    """``name op value`` as one closure with the comparison written out.

    It runs for every rule and case, so it avoids an operator call and ``bool()``.
    """
    if op == "eq":
        return lambda facts, as_of: None if (actual := facts[name]) is None else actual == value
    if op == "ne":
        return lambda facts, as_of: None if (actual := facts[name]) is None else actual != value
    if op == "lt":
        return lambda facts, as_of: None if (actual := facts[name]) is None else actual < value
    if op == "le":
        return lambda facts, as_of: None if (actual := facts[name]) is None else actual <= value
    if op == "gt":
        return lambda facts, as_of: None if (actual := facts[name]) is None else actual > value
    if op == "ge":
        return lambda facts, as_of: None if (actual := facts[name]) is None else actual >= value
    if op == "in":
        return lambda facts, as_of: None if (actual := facts[name]) is None else actual in value
    if op == "not_in":
        return lambda facts, as_of: None if (actual := facts[name]) is None else actual not in value
    assert op == "contains", op
    return lambda facts, as_of: None if (actual := facts[name]) is None else value in actual


def all_of(parts: tuple[Condition, ...]) -> AllOf:
    """The conjunction of ``parts`` (Kleene)."""
    tests = tuple(part.test for part in parts)

    def test(facts: Facts, as_of: dt.date) -> Tri:
        result: Tri = True
        for part_test in tests:
            value = part_test(facts, as_of)
            if value is False:
                return False
            if value is None:
                result = None
        return result

    return AllOf(parts, test)


def any_of(parts: tuple[Condition, ...]) -> AnyOf:
    """The disjunction of ``parts`` (Kleene)."""
    tests = tuple(part.test for part in parts)

    def test(facts: Facts, as_of: dt.date) -> Tri:
        result: Tri = False
        for part_test in tests:
            value = part_test(facts, as_of)
            if value is True:
                return True
            if value is None:
                result = None
        return result

    return AnyOf(parts, test)


def negation(part: Condition) -> Not:
    """The negation of ``part`` (Kleene)."""
    part_test = part.test

    def test(facts: Facts, as_of: dt.date) -> Tri:
        value = part_test(facts, as_of)
        return None if value is None else not value

    return Not(part, test)


#: The comparisons :func:`fold` decides when a field's value is fixed (an enumeration's value).
_FOLD: dict[str, Callable[[object, Any], object]] = {
    "eq": lambda f, c: f == c,
    "ne": lambda f, c: f != c,
    "in": lambda f, c: f in c,
    "not_in": lambda f, c: f not in c,
}
_FOLDABLE = frozenset(_FOLD)


def fold(condition: Condition, field_name: str, value: object) -> Condition | Tri:
    """``condition`` for the cases whose ``field_name`` is ``value`` (``None``: unknown) only.

    The field's ``eq`` / ``ne`` / ``in`` / ``not_in`` leaves are decided (Kleene): the result is
    the condition's constant value where they settle it, else a condition equal to
    ``condition`` on every such case, without those leaves. An unknown leaf cannot be dropped
    from a combination that stays open (it keeps the rest from holding, or from failing), so
    there the part that folds to unknown is kept as it was: on those cases it is unknown too.
    """
    if isinstance(condition, Leaf):
        if condition.field != field_name or condition.op not in _FOLDABLE:
            return condition
        return None if value is None else bool(_FOLD[condition.op](value, condition.value))
    if isinstance(condition, Not):
        part = fold(condition.part, field_name, value)
        if part is None or isinstance(part, bool):
            return None if part is None else not part
        return condition if part is condition.part else negation(part)
    conjunction = isinstance(condition, AllOf)
    absorbing = not conjunction  # False absorbs a conjunction, True a disjunction
    parts: list[Condition] = []
    unknown: Condition | None = None  # the first part that folds to unknown, as it was
    for original in condition.parts:
        part = fold(original, field_name, value)
        if part is absorbing:
            return absorbing
        if part is None:
            if unknown is None:
                unknown = original
        elif not isinstance(part, bool):
            parts.append(part)
    if not parts:
        return None if unknown is not None else conjunction
    if unknown is not None:
        parts.append(unknown)
    if len(parts) == 1:
        return parts[0]
    if len(parts) == len(condition.parts) and all(
        a is b for a, b in zip(parts, condition.parts, strict=True)
    ):
        return condition
    return all_of(tuple(parts)) if conjunction else any_of(tuple(parts))


def kleene_or(values: Iterator[Tri] | tuple[Tri, ...] | list[Tri]) -> Tri:
    """True if any value is true, false if all are false, else unknown."""
    result: Tri = False
    for value in values:
        if value is True:
            return True
        if value is None:
            result = None
    return result


def kleene_and(left: Tri, right: Tri) -> Tri:
    """Kleene conjunction of two values."""
    if left is False or right is False:
        return False
    if left is None or right is None:
        return None
    return True


def kleene_not(value: Tri) -> Tri:
    """Kleene negation."""
    return None if value is None else not value
