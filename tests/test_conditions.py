"""Three-valued (Kleene) conditions and the calendar arithmetic behind ages and time windows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from referral_engine.conditions import (
    OPERATORS,
    Condition,
    Tri,
    all_of,
    any_of,
    kleene_and,
    kleene_not,
    kleene_or,
    leaf,
    negation,
)
from referral_engine.dates import Duration, add_months, age_on, period_end
from referral_engine.facts import Facts
from referral_engine.models import LANGUAGE_LEVELS
from tests.conftest import examples

AS_OF = dt.date(2026, 3, 1)
TRI: tuple[Tri, ...] = (True, False, None)
PAIRS = [(left, right) for left in TRI for right in TRI]

# Expected tables, written out by hand (None = unknown).
AND_TABLE: dict[tuple[Tri, Tri], Tri] = {
    (True, True): True,
    (True, False): False,
    (True, None): None,
    (False, True): False,
    (False, False): False,
    (False, None): False,
    (None, True): None,
    (None, False): False,
    (None, None): None,
}
OR_TABLE: dict[tuple[Tri, Tri], Tri] = {
    (True, True): True,
    (True, False): True,
    (True, None): True,
    (False, True): True,
    (False, False): False,
    (False, None): None,
    (None, True): True,
    (None, False): None,
    (None, None): None,
}
NOT_TABLE: dict[Tri, Tri] = {True: False, False: True, None: None}


def constant(name: str) -> Condition:
    """A leaf that is true, false or unknown as the fact ``name`` is True, False or None."""
    return leaf(name, "eq", True, True)


def facts(**values: Any) -> Facts:
    return dict(values)


# -- truth tables ------------------------------------------------------------------------------


@pytest.mark.parametrize(("left", "right"), PAIRS)
def test_kleene_and_table(left: Tri, right: Tri) -> None:
    """kleene_and follows the Kleene truth table for conjunction."""
    assert kleene_and(left, right) is AND_TABLE[left, right]


@pytest.mark.parametrize(("left", "right"), PAIRS)
def test_kleene_or_table(left: Tri, right: Tri) -> None:
    """kleene_or follows the Kleene truth table for disjunction."""
    assert kleene_or([left, right]) is OR_TABLE[left, right]
    assert kleene_or(iter([left, right])) is OR_TABLE[left, right]


@pytest.mark.parametrize("value", TRI)
def test_kleene_not_table(value: Tri) -> None:
    """kleene_not swaps true and false and keeps unknown."""
    assert kleene_not(value) is NOT_TABLE[value]


@pytest.mark.parametrize(("left", "right"), PAIRS)
def test_all_of_table(left: Tri, right: Tri) -> None:
    """all_of over two parts follows the Kleene truth table for conjunction."""
    condition = all_of((constant("a"), constant("b")))
    assert condition.test(facts(a=left, b=right), AS_OF) is AND_TABLE[left, right]


@pytest.mark.parametrize(("left", "right"), PAIRS)
def test_any_of_table(left: Tri, right: Tri) -> None:
    """any_of over two parts follows the Kleene truth table for disjunction."""
    condition = any_of((constant("a"), constant("b")))
    assert condition.test(facts(a=left, b=right), AS_OF) is OR_TABLE[left, right]


@pytest.mark.parametrize("value", TRI)
def test_negation_table(value: Tri) -> None:
    """Negation swaps true and false and keeps unknown."""
    assert negation(constant("a")).test(facts(a=value), AS_OF) is NOT_TABLE[value]


def test_empty_combinations() -> None:
    """kleene_or of nothing is false, as is any_of of nothing, and all_of of nothing is true."""
    assert kleene_or([]) is False
    assert any_of(()).test({}, AS_OF) is False
    assert all_of(()).test({}, AS_OF) is True


def test_false_part_settles_all_of_despite_unknowns() -> None:
    """One false part makes all_of false however many parts are unknown, wherever it stands."""
    parts = (constant("u1"), constant("f"), constant("u2"))
    assert all_of(parts).test(facts(u1=None, f=False, u2=None), AS_OF) is False
    assert any_of(parts).test(facts(u1=None, f=True, u2=None), AS_OF) is True


def test_leaves_are_listed_in_order_through_combinations() -> None:
    """leaves() walks nested combinations and negations from left to right."""
    a, b, c = constant("a"), constant("b"), constant("c")
    condition = all_of((a, any_of((negation(b), c))))
    assert [item.field for item in condition.leaves()] == ["a", "b", "c"]


# -- leaves on known and unknown values --------------------------------------------------------

LEVEL = {level: LANGUAGE_LEVELS.index(level) for level in LANGUAGE_LEVELS}

LEAF_CASES: list[tuple[str, str, Any, Any, bool]] = [
    # field, op, normalised operand, known fact, expected
    ("age", "eq", 27, 27, True),
    ("age", "eq", 27, 26, False),
    ("age", "ne", 27, 26, True),
    ("age", "ne", 27, 27, False),
    ("age", "lt", 27, 26, True),
    ("age", "lt", 27, 27, False),
    ("age", "le", 27, 27, True),
    ("age", "le", 27, 28, False),
    ("age", "gt", 27, 28, True),
    ("age", "gt", 27, 27, False),
    ("age", "ge", 27, 27, True),
    ("age", "ge", 27, 26, False),
    ("language_level", "ge", LEVEL["B1"], LEVEL["B1"], True),
    ("language_level", "ge", LEVEL["B1"], LEVEL["A2"], False),
    ("language_level", "lt", LEVEL["A1"], LEVEL["none"], True),
    ("residence_status", "in", frozenset({"duldung", "gestattung"}), "duldung", True),
    ("residence_status", "in", frozenset({"duldung", "gestattung"}), "ae_24", False),
    ("residence_status", "not_in", frozenset({"undocumented"}), "ae_24", True),
    ("residence_status", "not_in", frozenset({"undocumented"}), "undocumented", False),
    ("literate_latin", "eq", False, False, True),
    ("literate_latin", "ne", False, False, False),
    ("municipality", "eq", "staufen", "staufen", True),
    ("languages", "contains", "uk", ("ar", "uk"), True),
    ("languages", "contains", "uk", (), False),
    ("entry_date", "lt", dt.date(2025, 4, 1), dt.date(2025, 3, 31), True),
    ("entry_date", "lt", dt.date(2025, 4, 1), dt.date(2025, 4, 1), False),
    ("entry_date", "within", Duration(years=3), dt.date(2024, 1, 1), True),
    ("entry_date", "within", Duration(years=3), dt.date(2020, 1, 1), False),
    ("entry_date", "older_than", Duration(months=6), dt.date(2020, 1, 1), True),
    ("entry_date", "older_than", Duration(months=6), dt.date(2026, 1, 1), False),
]


@pytest.mark.parametrize(("field", "op", "operand", "actual", "expected"), LEAF_CASES)
def test_leaf_on_known_value(field: str, op: str, operand: Any, actual: Any, expected: bool) -> None:
    """A leaf on a known fact is true or false as its operator says."""
    condition = leaf(field, op, operand, "shown")
    assert condition.test({field: actual}, AS_OF) is expected


@pytest.mark.parametrize(("field", "op", "operand", "actual", "expected"), LEAF_CASES)
def test_leaf_on_unknown_value(field: str, op: str, operand: Any, actual: Any, expected: bool) -> None:
    """A leaf on an unknown fact is unknown, for every operator (ne and not_in included)."""
    condition = leaf(field, op, operand, "shown")
    assert condition.test({field: None}, AS_OF) is None


def test_every_operator_is_covered() -> None:
    """The leaf cases above exercise every operator the engine offers."""
    assert {op for _, op, _, _, _ in LEAF_CASES} == set(OPERATORS)


# -- within / older_than at the boundaries -----------------------------------------------------

ARRIVAL = dt.date(2023, 5, 10)


@pytest.mark.parametrize(
    ("as_of", "within", "older_than"),
    [
        (dt.date(2023, 5, 9), False, False),  # before the event: in neither window
        (dt.date(2023, 5, 10), True, False),  # the event's own day counts
        (dt.date(2026, 5, 9), True, False),
        (dt.date(2026, 5, 10), True, False),  # § 188 Abs. 2 BGB: the period ends with this day
        (dt.date(2026, 5, 11), False, True),
    ],
)
def test_three_year_window_boundaries(as_of: dt.date, within: bool, older_than: bool) -> None:
    """A P3Y window holds from the event through its third anniversary; older_than from the day after."""
    facts_ = {"entry_date": ARRIVAL}
    assert leaf("entry_date", "within", Duration(years=3), "P3Y").test(facts_, as_of) is within
    assert leaf("entry_date", "older_than", Duration(years=3), "P3Y").test(facts_, as_of) is older_than


@pytest.mark.parametrize(
    ("start", "as_of", "within"),
    [
        (dt.date(2024, 1, 31), dt.date(2024, 2, 29), True),  # month end clamped in a leap year
        (dt.date(2024, 1, 31), dt.date(2024, 3, 1), False),
        (dt.date(2025, 1, 31), dt.date(2025, 2, 28), True),
        (dt.date(2025, 1, 31), dt.date(2025, 3, 1), False),
        (dt.date(2024, 2, 29), dt.date(2025, 2, 28), False),  # P1M, not P1Y: see below
    ],
)
def test_one_month_window_at_month_ends(start: dt.date, as_of: dt.date, within: bool) -> None:
    """A P1M window from 31 January ends on the last day of February."""
    condition = leaf("entry_date", "within", Duration(months=1), "P1M")
    assert condition.test({"entry_date": start}, as_of) is within


def test_one_year_window_from_leap_day() -> None:
    """A P1Y window from 29 February ends on 28 February of the common year after."""
    condition = leaf("status_since", "within", Duration(years=1), "P1Y")
    start = {"status_since": dt.date(2024, 2, 29)}
    assert condition.test(start, dt.date(2025, 2, 28)) is True
    assert condition.test(start, dt.date(2025, 3, 1)) is False


def test_ninety_day_window() -> None:
    """A P90D window contains the 90th day after the event and not the 91st."""
    condition = leaf("accommodation_since", "within", Duration(days=90), "P90D")
    start = dt.date(2026, 1, 1)
    assert condition.test({"accommodation_since": start}, start + dt.timedelta(days=90)) is True
    assert condition.test({"accommodation_since": start}, start + dt.timedelta(days=91)) is False


@given(
    start=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 12, 31)),
    as_of=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 12, 31)),
    years=st.integers(0, 6),
    months=st.integers(0, 18),
    days=st.integers(0, 120),
)
@settings(max_examples=examples(300), deadline=None)
def test_within_and_older_than_split_the_time_after_the_event(
    start: dt.date, as_of: dt.date, years: int, months: int, days: int
) -> None:
    """From the event on, exactly one of within and older_than holds; before it neither does."""
    duration = Duration(years, months, days)
    facts_ = {"entry_date": start}
    inside = leaf("entry_date", "within", duration, str(duration)).test(facts_, as_of)
    after = leaf("entry_date", "older_than", duration, str(duration)).test(facts_, as_of)
    if as_of < start:
        assert (inside, after) == (False, False)
    else:
        assert inside is not after
        assert inside is (as_of <= period_end(start, duration))


# -- dates.py ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        (dt.date(2000, 6, 15), dt.date(2026, 6, 14), 25),  # the day before the birthday
        (dt.date(2000, 6, 15), dt.date(2026, 6, 15), 26),  # on the birthday
        (dt.date(2000, 6, 15), dt.date(2000, 6, 15), 0),
        (dt.date(2000, 12, 31), dt.date(2001, 1, 1), 0),
        (dt.date(2004, 2, 29), dt.date(2005, 2, 28), 0),  # common year: not yet on 28 February
        (dt.date(2004, 2, 29), dt.date(2005, 3, 1), 1),  # ... but on 1 March
        (dt.date(2004, 2, 29), dt.date(2008, 2, 28), 3),  # leap year: the day before
        (dt.date(2004, 2, 29), dt.date(2008, 2, 29), 4),  # leap year: on 29 February itself
        (dt.date(2004, 2, 29), dt.date(2008, 3, 1), 4),
        (dt.date(1999, 3, 1), dt.date(2025, 2, 28), 25),
        (dt.date(1999, 3, 1), dt.date(2025, 3, 1), 26),
    ],
)
def test_age_on(birth: dt.date, on: dt.date, age: int) -> None:
    """age_on counts completed years; a 29 February birthday counts from 1 March in common years."""
    assert age_on(birth, on) == age


@pytest.mark.parametrize(
    ("start", "duration", "end"),
    [
        (dt.date(2023, 1, 31), Duration(months=1), dt.date(2023, 2, 28)),
        (dt.date(2024, 1, 31), Duration(months=1), dt.date(2024, 2, 29)),
        (dt.date(2023, 3, 31), Duration(months=1), dt.date(2023, 4, 30)),
        (dt.date(2023, 8, 31), Duration(months=6), dt.date(2024, 2, 29)),
        (dt.date(2023, 5, 10), Duration(years=3), dt.date(2026, 5, 10)),
        (dt.date(2024, 2, 29), Duration(years=1), dt.date(2025, 2, 28)),
        (dt.date(2024, 2, 29), Duration(years=4), dt.date(2028, 2, 29)),
        (dt.date(2023, 11, 15), Duration(years=1, months=6), dt.date(2025, 5, 15)),
        (dt.date(2025, 12, 31), Duration(days=1), dt.date(2026, 1, 1)),
        (dt.date(2024, 1, 31), Duration(months=1, days=1), dt.date(2024, 3, 1)),
        (dt.date(2026, 3, 1), Duration(), dt.date(2026, 3, 1)),
    ],
)
def test_period_end(start: dt.date, duration: Duration, end: dt.date) -> None:
    """period_end lands on the anniversary, clamped to the month's last day where it does not exist."""
    assert period_end(start, duration) == end


@given(
    start=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)),
    months=st.integers(-240, 240),
)
@settings(max_examples=examples(300), deadline=None)
def test_add_months_keeps_the_day_or_clamps_to_month_end(start: dt.date, months: int) -> None:
    """add_months moves to the right month and keeps the day unless that month is too short."""
    moved = add_months(start, months)
    assert (moved.year * 12 + moved.month) - (start.year * 12 + start.month) == months
    if moved.day != start.day:
        assert moved.day < start.day
        assert (moved + dt.timedelta(days=1)).day == 1


@pytest.mark.parametrize(
    ("text", "duration"),
    [
        ("P3Y", Duration(3, 0, 0)),
        ("P6M", Duration(0, 6, 0)),
        ("P1Y6M", Duration(1, 6, 0)),
        ("P90D", Duration(0, 0, 90)),
        ("P1Y2M3D", Duration(1, 2, 3)),
        ("P18M", Duration(0, 18, 0)),
        ("P0D", Duration(0, 0, 0)),
    ],
)
def test_duration_parse_valid(text: str, duration: Duration) -> None:
    """Duration.parse reads years, months and days in ISO 8601 order and str() writes them back."""
    assert Duration.parse(text) == duration
    assert str(Duration.parse(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        *("", "P", "3Y", "p3y", "P3y", "P1M1Y", "P1D1M", "P1W", "PT1H", "P1YT2H", "P-1Y", "P1.5Y"),
        *(" P3Y", "P3Y ", "P Y", "P3Y4", "PY", "P3Y\n", "P\uff13Y", "P\u0663Y"),
    ],
)
def test_duration_parse_invalid(text: str) -> None:
    """Duration.parse rejects anything but PnYnMnD with at least one part."""
    with pytest.raises(ValueError, match="ISO 8601 duration"):
        Duration.parse(text)


@given(years=st.integers(0, 99), months=st.integers(0, 99), days=st.integers(0, 999))
@settings(max_examples=examples(200), deadline=None)
def test_duration_str_round_trip(years: int, months: int, days: int) -> None:
    """str() of any duration parses back to an equal duration."""
    duration = Duration(years, months, days)
    assert Duration.parse(str(duration)) == duration


def test_zero_duration_is_written_as_p0d() -> None:
    """A duration of nothing is written P0D, and P0Y reads as the same duration."""
    assert str(Duration()) == "P0D"
    assert Duration.parse("P0Y") == Duration()


# -- monotonicity ------------------------------------------------------------------------------

VARIABLES = ("a", "b", "c", "d")


def conditions() -> st.SearchStrategy[Condition]:
    """Random nested conditions over the facts a-d, each true, false or unknown."""
    leaves = st.sampled_from(VARIABLES).map(constant)
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=4).map(lambda parts: all_of(tuple(parts))),
            st.lists(children, min_size=1, max_size=4).map(lambda parts: any_of(tuple(parts))),
            children.map(negation),
        ),
        max_leaves=12,
    )


assignments = st.fixed_dictionaries({name: st.sampled_from(TRI) for name in VARIABLES})


@given(condition=conditions(), partial=assignments, data=st.data())
@settings(max_examples=examples(500), deadline=None)
def test_conditions_are_monotone(condition: Condition, partial: dict[str, Tri], data: st.DataObject) -> None:
    """Replacing unknown facts by true or false never flips a known result of a condition."""
    before = condition.test(dict(partial), AS_OF)
    filled = {
        name: value if value is not None else data.draw(st.booleans(), label=name)
        for name, value in partial.items()
    }
    after = condition.test(filled, AS_OF)
    assert after is not None
    if before is not None:
        assert after is before


@given(left=st.sampled_from(TRI), right=st.sampled_from(TRI), fill=st.booleans(), which=st.booleans())
@settings(deadline=None)
def test_kleene_connectives_are_monotone(left: Tri, right: Tri, fill: bool, which: bool) -> None:
    """Replacing an unknown input of and/or/not by true or false never flips a known output."""
    new_left = fill if left is None and which else left
    new_right = fill if right is None and not which else right
    for before, after in (
        (kleene_and(left, right), kleene_and(new_left, new_right)),
        (kleene_or([left, right]), kleene_or([new_left, new_right])),
        (kleene_not(left), kleene_not(new_left)),
    ):
        if before is not None:
            assert after is before
