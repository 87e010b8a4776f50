"""The columnar engine: a rule set over columns of many cases at once (the ``frame`` extra).

For screening a whole caseload or a synthetic population. :func:`screen_table` takes a pandas,
polars or pyarrow table (through narwhals) whose columns are :class:`~referral_engine.CaseProfile`
fields and returns a table of the same kind with, per case, each service's status (the
:class:`~referral_engine.Status` values as text) and the number of open fields — what
:func:`~referral_engine.recommend_many` gives with ``detail="statuses"``, which itself runs on this
engine for batches of profiles when numpy and narwhals are installed.

**Three-valued logic over arrays.** A condition becomes two boolean arrays, *surely true* and
*surely false* (Kleene logic, as in :mod:`referral_engine.compiled`): a leaf is true where its
field is known and the comparison holds, false where it is known and does not; ``all`` is true
where every part is and false where any part is; ``any`` the other way round; ``not`` swaps them.
Everything else is unknown. Facts are held as a value array and a *known* mask per field: dates
as day numbers, enumerations and language levels as codes in their order, the municipality as
its code among the names the rules mention, languages as tuples. Rules are taken for the batch's
single ``as_of`` (their validity windows), time windows compare dates with
:func:`~referral_engine.dates.window_start`, statuses are *grant and not exclusion* exactly as
:func:`referral_engine.decide.statuses`, and the open fields are those ``decide.decide`` lists, plus
the municipality where ``recommend`` would ask for it (a step or check that finds no partner
without it: which targets find none is known per service and day, so a row only needs which of
them apply). The masks of rules and services are packed eight rows a byte. A differential test
proves all of it equal to the reference on generated rule sets and cases.

**Typed tables.** Columns with a type (dates, numbers, booleans, text, dictionaries such as pandas
categoricals or polars enums, lists of text) are read through Arrow and numpy: a dictionary's
values are checked and encoded once and the rows take their codes from a small table, dates
become day numbers, validity bitmaps known masks. Typed pandas columns (categoricals, naive
``datetime64``, nullable and numpy integers and booleans) skip Arrow: their numpy parts are read
directly, a categorical's codes through the same small table made from its categories. Columns
of Python objects are read value by value. Every column is validated; only those the rules in
force use are kept.

**Personal data.** Errors name the column and the row (from 0), never a value.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import operator
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .conditions import AllOf, AnyOf, Condition, Leaf, Not
from .dates import Duration, period_end, window_start
from .dates import memo as date_memo
from .errors import FieldProblem, ProfileError, UsageError
from .facts import FIELDS
from .handover import RESTRICTED_STATUSES
from .loader import default_ruleset
from .models import (
    _FIELD_LIKE,
    EARLIEST_DATE,
    EVENT_DATES,
    LATEST_DATE,
    CaseProfile,
    Status,
    _is_unknown,
    _strict_bool,
    _strict_date,
    _strict_int,
    check_as_of,
)
from .ruleset import Rule, Ruleset

try:
    import numpy as np
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the columnar engine needs numpy and narwhals: pip install 'referral-engine[frame]'"
    ) from error

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Mask = NDArray[np.bool_]
    Ints = NDArray[np.int64]
    Bits = NDArray[np.uint8]
else:
    Mask = Ints = Bits = Any

__all__ = [
    "COLUMNS",
    "OPEN_FIELDS",
    "ColumnarRules",
    "columnar",
    "fact_columns",
    "profile_columns",
    "screen_profiles",
    "screen_table",
]

#: The name of the output column with the number of open fields.
OPEN_FIELDS = "open_fields"
#: Rows evaluated at once by :func:`screen_table` (bounds the temporary arrays).
ROWS_PER_CHUNK = 65_536
#: Status codes of the engine, in the order of :data:`STATUSES`.
ELIGIBLE, NOT_ELIGIBLE, UNDETERMINED = 0, 1, 2
STATUSES: tuple[Status, Status, Status] = (Status.ELIGIBLE, Status.NOT_ELIGIBLE, Status.UNDETERMINED)
_STATUS_TEXT = np.array([status.value for status in STATUSES], dtype=object)
_ORDINAL_1970 = dt.date(1970, 1, 1).toordinal()
_KEY = "columnar"
_T = TypeVar("_T")

Tri = tuple["Mask", "Mask"]  # (surely true, surely false)
#: The same as bits, eight rows a byte (``np.packbits``): the engine works on these.
PackedTri = tuple["Bits", "Bits"]


@dataclass(frozen=True)
class Column:
    """One fact over the rows: its values (encoded, see the module docstring) and where it is known."""

    values: Any
    known: Mask


#: The facts of many rows: a :class:`Column` per field (a field without a column is unknown).
FactColumns = dict[str, Column]


@dataclass(frozen=True)
class Screened:
    """The result of :meth:`ColumnarRules.screen`: status codes (rows × services) and open-field counts."""

    codes: NDArray[np.int8]
    open_fields: Ints


# -- encoding facts ---------------------------------------------------------------------------------


class _Vocabulary:
    """Codes of the municipality names (casefolded) that conditions mention; others get -2."""

    def __init__(self, conditions: Iterable[Condition]) -> None:
        names: dict[str, int] = {}
        for condition in conditions:
            for leaf in condition.leaves():
                if FIELDS[leaf.field].kind == "text":
                    operands = leaf.value if isinstance(leaf.value, frozenset) else (leaf.value,)
                    for name in sorted(operands):
                        names.setdefault(name, len(names))
        self.codes = names

    def code(self, name: object) -> int:
        return self.codes.get(name, -2) if isinstance(name, str) else -2


def _encode_operand(leaf: Leaf, vocabulary: _Vocabulary) -> Any:
    """A leaf's operand in the encoding of its field's column."""
    spec = FIELDS[leaf.field]
    value = leaf.value
    if leaf.op in ("in", "not_in"):
        return np.array(sorted(_encode_single(spec.kind, spec.values, v, vocabulary) for v in value))
    return _encode_single(spec.kind, spec.values, value, vocabulary)


def _encode_single(kind: str, values: tuple[str, ...], value: Any, vocabulary: _Vocabulary) -> Any:
    if kind == "date" and isinstance(value, dt.date):
        return value.toordinal()
    if kind == "enum":
        return values.index(value) if value in values else -2
    if kind == "text":
        return vocabulary.code(value)
    return value  # int, level rank, bool, language code, duration


class _Memo:
    """What the conditions of one screen share: each leaf's bits, a field's known rows and bits per code.

    Masks are packed eight rows a byte (``np.packbits``): the logic of rules and services runs
    on an eighth of the memory. Bits past the last row may hold anything; they are dropped when
    the rows are unpacked (:func:`_unpack`).
    """

    def __init__(self, vocabulary: _Vocabulary, rows: int) -> None:
        self.rows = rows
        self.size = (rows + 7) // 8
        self.leaves: dict[object, PackedTri] = {}
        self._equal: dict[tuple[str, object], Bits] = {}
        self._known: dict[str, Bits] = {}
        self._vocabulary = vocabulary

    def known(self, field: str, column: Column) -> Bits:
        """Where ``column`` is known, as bits (packed once per field)."""
        found = self._known.get(field)
        if found is None:
            found = self._known[field] = np.packbits(column.known)
        return found

    def equal(self, field: str, values: Any, operand: Any) -> Bits:
        """``values == operand`` as bits, computed once per field and operand."""
        key = (field, operand)
        found = self._equal.get(key)
        if found is None:
            found = self._equal[key] = np.packbits(values == operand)
        return found

    def member(self, field: str, values: Any, operand: Any) -> Bits:
        """``values`` in the sorted codes ``operand``.

        Codes of a small domain (enumerations, levels, municipalities) are tested as a few
        equalities shared with the other leaves of the field (the codes, or those left out), else
        through a lookup table; anything else with ``np.isin``.
        """
        spec = FIELDS[field]
        if spec.kind in ("enum", "level"):
            domain = len(spec.values)
        elif spec.kind == "text":
            domain = len(self._vocabulary.codes)
        else:
            domain = 0
        codes = operand.tolist()
        if not domain or values.dtype == np.bool_ or not codes or codes[0] < 0 or codes[-1] >= domain:
            return np.packbits(np.isin(values, operand))
        if len(codes) <= _FEW:
            return _any([self.equal(field, values, code) for code in codes], self.size)
        others = sorted(set(range(domain)) - set(codes))
        if len(others) <= _FEW:
            # values are codes of the domain, or negative where unknown or not one of its values
            inside: Bits = np.packbits(values >= 0)
            for code in others:
                inside &= ~self.equal(field, values, code)
            return inside
        table = np.zeros(domain + 2, dtype=bool)  # codes from -2
        table[np.asarray(codes) + 2] = True
        return np.packbits(table[values + 2])


#: The most codes a membership test makes of equalities (more: a lookup table).
_FEW = 8


# -- the compiled rule set ----------------------------------------------------------------------------


class ColumnarRules:
    """A rule set evaluated over columns; build it with :func:`columnar` (one per rule set).

    :meth:`screen` decides every row of a :data:`FactColumns` for one ``as_of``. Safe to share
    between threads (it keeps only memos per day and per leaf, none of them case data).
    """

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self.services = tuple(service.id for service in ruleset.services)
        conditions = [rule.when for rule in ruleset.rules]
        conditions += [step.when for step in ruleset.steps if step.when is not None]
        self.vocabulary = _Vocabulary(conditions)
        self._operands: dict[int, Any] = {}
        self._keys: dict[int, tuple[Leaf, object]] = {}
        self._plans: dict[dt.date, _Plan] = date_memo()  # of case dates: purge_caches() empties it
        self._target_memo: dict[tuple[dt.date, str], _Targets] = {}
        #: Anything a user of the engine keeps per rule set (``recommend_many``: its results by pattern).
        self.memo: dict[object, object] = {}
        self._lock = threading.Lock()

    # -- conditions

    def _leaf_key(self, leaf: Leaf) -> object:
        """What equal leaves (of other rules) share: their field, operator and operand."""
        found = self._keys.get(id(leaf))
        if found is None or found[0] is not leaf:
            key: object = (leaf.field, leaf.op, leaf.value)
            try:
                hash(key)
            except TypeError:  # pragma: no cover - operands are hashable (frozen); just in case
                key = id(leaf)
            found = self._keys[id(leaf)] = (leaf, key)
        return found[1]

    def _plan(self, as_of: dt.date) -> _Plan:
        """The rules in force on ``as_of`` and, per service, its rules by effect (kept per day)."""
        found = self._plans.get(as_of)
        if found is None:
            ruleset = self.ruleset
            in_force = tuple(ruleset.rules_in_force(as_of))
            ids = {rule.id for rule in in_force}
            services = []
            for service in self.services:
                active = [rule for rule in ruleset.rules_of(service) if rule.id in ids]
                services.append(
                    _ServicePlan(
                        grants=tuple(r.id for r in active if r.effect == "eligible"),
                        granting=tuple(r.id for r in active if r.effect != "not_eligible"),
                        excluding=tuple(r.id for r in active if r.effect == "not_eligible"),
                        fields=tuple(
                            (
                                r.id,
                                r.effect == "not_eligible",
                                tuple(dict.fromkeys(x.field for x in r.leaves)),
                            )
                            for r in active
                        ),
                    )
                )
            found = _Plan(in_force, tuple(services), _needed_in_force(self, as_of))
            with self._lock:
                if len(self._plans) >= 256:
                    self._plans.clear()
                self._plans[as_of] = found
        return found

    def _operand(self, leaf: Leaf) -> Any:
        found = self._operands.get(id(leaf), self)
        if found is self:
            found = self._operands[id(leaf)] = (leaf, _encode_operand(leaf, self.vocabulary))
        return found[1]

    def _leaf(self, leaf: Leaf, columns: FactColumns, as_of: dt.date, rows: int, memo: _Memo) -> PackedTri:
        column = columns.get(leaf.field)
        if column is None:
            nothing = np.zeros(memo.size, dtype=np.uint8)
            return nothing, nothing
        values = column.values
        known = memo.known(leaf.field, column)
        op = leaf.op
        operand = self._operand(leaf)
        holds: Bits
        if op in ("within", "older_than"):
            holds = np.packbits(_window(values, column.known, op, operand, as_of))
        elif op == "contains":
            found = (v is not None and operand in v for v in values)
            holds = np.packbits(np.fromiter(found, dtype=bool, count=rows))
        elif op == "eq":
            holds = memo.equal(leaf.field, values, operand)
        elif op == "ne":
            holds = ~memo.equal(leaf.field, values, operand)
        elif op == "lt":
            holds = np.packbits(values < operand)
        elif op == "le":
            holds = np.packbits(values <= operand)
        elif op == "gt":
            holds = np.packbits(values > operand)
        elif op == "ge":
            holds = np.packbits(values >= operand)
        else:
            assert op in ("in", "not_in"), op
            holds = memo.member(leaf.field, values, operand)
            if op == "not_in":
                holds = ~holds
        true = known & holds
        return true, known ^ true  # known and not holding

    def condition(self, node: Condition, columns: FactColumns, as_of: dt.date, rows: int) -> Tri:
        """The (surely true, surely false) masks of ``node`` over the rows (Kleene logic)."""
        true, false = self._condition(node, columns, as_of, rows, _Memo(self.vocabulary, rows))
        return _unpack(true, rows), _unpack(false, rows)

    def _condition(
        self, node: Condition, columns: FactColumns, as_of: dt.date, rows: int, memo: _Memo
    ) -> PackedTri:
        if isinstance(node, Leaf):
            key = self._leaf_key(node)
            found = memo.leaves.get(key)
            if found is None:
                found = memo.leaves[key] = self._leaf(node, columns, as_of, rows, memo)
            return found
        if isinstance(node, Not):
            true, false = self._condition(node.part, columns, as_of, rows, memo)
            return false, true
        parts = [self._condition(part, columns, as_of, rows, memo) for part in node.parts]
        size = memo.size
        if isinstance(node, AllOf):
            return _all([t for t, _ in parts], size), _any([f for _, f in parts], size)
        assert isinstance(node, AnyOf)
        return _any([t for t, _ in parts], size), _all([f for _, f in parts], size)

    # -- statuses and open fields

    def screen(self, columns: FactColumns, as_of: dt.date, rows: int, *, route: bool = True) -> Screened:
        """Each row's status code per service (see :data:`STATUSES`) and its number of open fields.

        ``columns`` hold the facts as ``facts_for`` derives them (age from the birth date, language
        levels as ranks, the municipality as its code; see :func:`fact_columns`). The statuses equal
        ``decide.statuses``; the open fields are those of ``compiled.open_fields`` and, with
        ``route``, the municipality where ``recommend`` asks for it: together the
        ``open_fields`` of ``recommend_many(..., detail="statuses")``.
        """
        plan = self._plan(as_of)
        memo = _Memo(self.vocabulary, rows)
        size = memo.size
        values: dict[str, PackedTri] = {
            rule.id: self._condition(rule.when, columns, as_of, rows, memo) for rule in plan.rules
        }
        services = len(self.services)
        # each service's eligible and not-eligible bits, unpacked together at the end
        decided = np.empty((2, services, size), dtype=np.uint8)
        open_by_field: dict[str, Bits] = {}
        open_rules: dict[str, list[Bits]] = {}  # where a field would settle an open rule, per rule
        open_or_eligible = np.zeros(size, dtype=np.uint8)  # where some service is not "not eligible"
        for index, service in enumerate(plan.services):
            grant_true = _any([values[rule][0] for rule in service.grants], size)
            grant_false = _all([values[rule][1] for rule in service.granting], size)
            exclusion_true = _any([values[rule][0] for rule in service.excluding], size)
            exclusion_false = _all([values[rule][1] for rule in service.excluding], size)
            eligible = np.bitwise_and(grant_true, exclusion_false, out=decided[0, index])
            not_eligible = np.bitwise_or(grant_false, exclusion_true, out=decided[1, index])
            open_or_eligible |= ~not_eligible
            undetermined = ~(eligible | not_eligible)
            if not undetermined.any():
                continue
            grant_open = undetermined & ~(grant_true | grant_false)
            exclusion_open = undetermined & ~(exclusion_true | exclusion_false)
            sides = (
                grant_open if grant_open.any() else None,
                exclusion_open if exclusion_open.any() else None,
            )
            for rule_id, excludes, names in service.fields:
                side = sides[excludes]
                if side is None:
                    continue
                true, false = values[rule_id]
                rule_open = side & ~(true | false)
                for name in names:
                    open_rules.setdefault(name, []).append(rule_open)
        # services × rows: each service's codes are contiguous (a column of the result table). The
        # two bits never hold together (a surely true grant is no surely false one), so the code
        # is UNDETERMINED less one for not eligible and less two for eligible.
        flags = np.unpackbits(decided, axis=2, count=rows).view(np.int8)
        by_service = UNDETERMINED - flags[1] - (flags[0] << 1)
        for name, masks in open_rules.items():
            column = columns.get(name)
            missing = _any(masks, size)
            if column is not None:
                missing = missing & ~memo.known(name, column)
            open_by_field[name] = missing
        if open_by_field:  # fewer fields than an int16 holds
            count = np.unpackbits(np.stack(list(open_by_field.values())), axis=1, count=rows).sum(
                axis=0, dtype=np.int16
            )
        else:
            count = np.zeros(rows, dtype=np.int16)
        if route:
            municipality = columns.get("municipality")
            asks = _all([], size) if municipality is None else ~memo.known("municipality", municipality)
            if "municipality" in open_by_field:
                asks &= ~open_by_field["municipality"]
            asks &= open_or_eligible
            if asks.any():
                asked = self._ask_municipality(asks, by_service, values, columns, as_of, rows, memo)
                count += _unpack(asked, rows)
        return Screened(by_service.T, count.astype(np.int64))

    def _ask_municipality(
        self,
        asks: Bits,
        by_service: NDArray[np.int8],
        values: Mapping[str, PackedTri],
        columns: FactColumns,
        as_of: dt.date,
        rows: int,
        memo: _Memo,
    ) -> Bits:
        """Where ``recommend`` asks for the unknown municipality (see ``batch._Screen._unrouted``).

        That is where a step of an open or eligible service, or a check of an open one, finds no
        partner without it (``steps.unrouted``). Which targets find none is known per service and
        ``as_of`` (:meth:`_targets`); what is left per row is which of them apply: the service's
        status, its checks, its steps' conditions, and for the responsible partner whether the
        residence status is restricted with no own-application grant holding.
        """
        residence = columns.get("residence_status")
        restricted: Bits | None = None
        size = memo.size
        answers = np.zeros(size, dtype=np.uint8)
        for index, service in enumerate(self.services):
            targets = self._targets(as_of, service)
            if not targets.items:
                continue
            if targets.responsible_none is None:  # the route is empty only for a restricted status
                if restricted is None:
                    restricted = (
                        memo.known("residence_status", residence)
                        & memo.member("residence_status", residence.values, _RESTRICTED_CODES)
                        if residence is not None
                        else np.zeros(size, dtype=np.uint8)
                    )
                own = [values[rule_id][0] for rule_id in targets.own_grants if rule_id in values]
                responsible: Bits | bool = restricted & ~_any(own, size) if own else restricted
            else:
                responsible = targets.responsible_none
            status = by_service[index]
            on_status: dict[int, Bits] = {}
            for code, rule_id, step_when, needs_responsible in targets.items:
                if needs_responsible and responsible is False:
                    continue
                if rule_id is not None and rule_id not in values:  # a check not in force
                    continue
                applies = on_status.get(code)
                if applies is None:
                    applies = on_status[code] = np.packbits(status == code)
                if rule_id is not None:
                    applies = applies & values[rule_id][0]
                if step_when is not None:
                    applies = applies & self._condition(step_when, columns, as_of, rows, memo)[0]
                if needs_responsible and responsible is not True:
                    applies = applies & responsible
                answers |= applies
        return answers & asks

    def _targets(self, as_of: dt.date, service: str) -> _Targets:
        """What of ``service`` may find no partner without the municipality on ``as_of`` (kept per day).

        As ``steps.unrouted`` resolves them: ``responsible`` is the first partner of the service's
        route (without the partners that report to the authorities where the status is
        restricted and no own-application grant holds), ``office:…`` the first of that office's
        route, any other target is a partner by name (always found).
        """
        key = (as_of, service)
        found = self._target_memo.get(key)
        if found is not None:
            return found
        ruleset = self.ruleset
        partners = ruleset.partners
        route = partners.route(service, None, as_of)
        responsible_none: bool | None = not route
        if route and not any(not partners.reports(partner) for partner in route):
            responsible_none = None  # only where restricted
        items: list[tuple[int, str | None, Condition | None, bool]] = []

        def none(target: str) -> bool | None:
            """Whether ``target`` finds no partner: yes, no, or ``None``: where the responsible does not."""
            if target == "responsible":
                return True if responsible_none is True else (None if responsible_none is None else False)
            if target.startswith("office:"):
                return not partners.route(target, None, as_of)
            return False

        for rule in ruleset.rules_of(service):
            if rule.effect == "check":
                lacks = none(rule.check_with or "responsible")
                if lacks is not False:
                    items.append((UNDETERMINED, rule.id, None, lacks is None))
        for step in ruleset.steps:
            if step.service != service or step.partner is None or not step.in_force(as_of):
                continue
            if step.for_status not in (Status.ELIGIBLE.value, Status.UNDETERMINED.value):
                continue
            lacks = none(step.partner)
            if lacks is not False:
                code = ELIGIBLE if step.for_status == Status.ELIGIBLE.value else UNDETERMINED
                items.append((code, None, step.when, lacks is None))
        own_grants = tuple(
            rule.id
            for rule in ruleset.rules_of(service)
            if rule.effect == "eligible" and rule.own_application
        )
        found = _Targets(tuple(items), responsible_none, own_grants)
        with self._lock:
            if len(self._target_memo) >= 4096:
                self._target_memo.clear()
            self._target_memo[key] = found
        return found


@dataclass(frozen=True)
class _ServicePlan:
    """A service's rules in force by effect (ids), and each rule's fields with its side."""

    grants: tuple[str, ...]
    granting: tuple[str, ...]
    excluding: tuple[str, ...]
    #: (rule id, whether it is an exclusion, the fields it tests)
    fields: tuple[tuple[str, bool, tuple[str, ...]], ...]


@dataclass(frozen=True)
class _Plan:
    """What :meth:`ColumnarRules.screen` runs on one day: the rules in force, each service's plan."""

    rules: tuple[Rule, ...]
    services: tuple[_ServicePlan, ...]
    #: The fields a screen on the day reads (see ``_needed_in_force``).
    needed: frozenset[str]


@dataclass(frozen=True)
class _Targets:
    """What of one service may find no partner without the municipality (see ``ColumnarRules._targets``).

    ``items``: (the status they apply to, the check rule that must hold or ``None``, the step's
    condition or ``None``, whether they need the responsible partner, found only where
    ``responsible_none`` says). ``responsible_none``: ``True`` / ``False``, or ``None`` for "where
    the status is restricted and none of ``own_grants`` holds".
    """

    items: tuple[tuple[int, str | None, Condition | None, bool], ...]
    responsible_none: bool | None
    own_grants: tuple[str, ...]


_RESTRICTED_CODES = np.array(
    sorted(FIELDS["residence_status"].values.index(status) for status in RESTRICTED_STATUSES)
)


def _any(masks: Sequence[Bits], size: int) -> Bits:
    """Bits set where any of ``masks`` has them (none: ``size`` bytes of zeros).

    One mask is returned as it is: results are shared and never changed in place.
    """
    if len(masks) < 2:
        return masks[0] if masks else np.zeros(size, dtype=np.uint8)
    result: Bits = masks[0] | masks[1]
    for mask in masks[2:]:
        result |= mask
    return result


def _all(masks: Sequence[Bits], size: int) -> Bits:
    """Bits set where all of ``masks`` have them (none: ``size`` bytes of ones); see :func:`_any`."""
    if len(masks) < 2:
        return masks[0] if masks else np.full(size, 0xFF, dtype=np.uint8)
    result: Bits = masks[0] & masks[1]
    for mask in masks[2:]:
        result &= mask
    return result


def _unpack(bits: Bits, rows: int) -> Mask:
    """Packed bits back to one boolean per row (the bits past the last row dropped)."""
    found: Mask = np.unpackbits(bits, count=rows).view(np.bool_)
    return found


def _window(values: Ints, known: Mask, op: str, duration: Duration, as_of: dt.date) -> Mask:
    """``within`` (start on or before ``as_of`` and its period still running) or ``older_than``."""
    today = as_of.toordinal()
    try:
        start = window_start(as_of, duration).toordinal()
    except (OverflowError, ValueError):  # the end of the calendar: each distinct date the reference's way
        unique, inverse = np.unique(np.where(known, values, today), return_inverse=True)
        ends = np.array(
            [period_end(dt.date.fromordinal(int(day)), duration).toordinal() for day in unique],
            dtype=np.int64,
        )[inverse]
        if op == "within":
            return (values <= today) & (today <= ends)
        return today > ends
    if op == "within":
        return (start <= values) & (values <= today)
    return values < start


_compile_lock = threading.Lock()


def columnar(ruleset: Ruleset) -> ColumnarRules:
    """The columnar engine of ``ruleset``, built on first use and kept with it."""
    cache = ruleset._engines
    found = cache.get(_KEY)
    if found is None:
        with _compile_lock:
            found = cache.get(_KEY)
            if found is None:
                found = cache[_KEY] = ColumnarRules(ruleset)
    assert isinstance(found, ColumnarRules)
    return found


# -- from profiles and tables to fact columns ---------------------------------------------------------

#: The profile fields a table may have as columns (``consents`` do not change any status).
COLUMNS: tuple[str, ...] = tuple(FIELDS)
_DATE_FIELDS = ("birth_date", *EVENT_DATES)
_MISSING = -1


def _codes(values: Sequence[str]) -> dict[object, int]:
    codes: dict[object, int] = {value: index for index, value in enumerate(values)}
    codes[None] = _MISSING
    return codes


_ENUM_CODES = {name: _codes(spec.values) for name, spec in FIELDS.items() if spec.kind in ("enum", "level")}
_BOOL_CODES: dict[object, int] = {True: 1, False: 0, None: _MISSING}


def profile_columns(profiles: Iterable[CaseProfile]) -> dict[str, list[Any]]:
    """Validated profiles as columns, a list of values (``None``: unknown) per field of :data:`COLUMNS`.

    ``pandas.DataFrame(profile_columns(profiles))`` (or polars / pyarrow) is a table for
    :func:`screen_table`; dates stay ``datetime.date``, languages tuples.
    """
    rows = [profile.__dict__ for profile in profiles]
    return {name: [row[name] for row in rows] for name in COLUMNS}


class _Names(dict[object, int]):
    """Codes of the municipality names of one chunk, each casefolded and looked up once."""

    def __init__(self, vocabulary: _Vocabulary) -> None:
        super().__init__({None: -2})
        self.vocabulary = vocabulary

    def __missing__(self, name: str) -> int:
        code = self[name] = self.vocabulary.code(name.casefold())
        return code


def _encode_profiles(profiles: Sequence[CaseProfile], fields: Sequence[str]) -> dict[str, Column]:
    """The profile-level columns of validated profiles (see :func:`_derive`).

    Each field is read from the profiles' dicts in one pass in C (no tuple per row), and each
    column is encoded by a dict lookup per value.
    """
    count = len(profiles)
    rows = list(map(operator.attrgetter("__dict__"), profiles))
    columns: dict[str, Column] = {}
    for name in fields:
        items = list(map(operator.itemgetter(name), rows))
        kind = FIELDS[name].kind
        if kind in ("enum", "level"):
            encoded = np.fromiter(map(_ENUM_CODES[name].__getitem__, items), dtype=np.int16, count=count)
            columns[name] = Column(encoded, encoded >= 0)
        elif kind == "date":  # case dates are nearly all distinct: no memo, each converted once
            days = np.fromiter(
                (_MISSING if day is None else day.toordinal() for day in items), dtype=np.int32, count=count
            )
            columns[name] = Column(days, days >= 0)
        elif kind == "int":
            numbers = np.fromiter(
                (_MISSING if item is None else item for item in items), dtype=np.int64, count=count
            )
            columns[name] = Column(numbers, numbers >= 0)
        elif kind == "bool":
            flags = np.fromiter(map(_BOOL_CODES.__getitem__, items), dtype=np.int8, count=count)
            columns[name] = Column(flags == 1, flags >= 0)
        else:  # text (already normalised by the profile), list
            values = np.empty(count, dtype=object)
            values[:] = items
            known = np.fromiter(map(operator.is_not, items, itertools.repeat(None)), dtype=bool, count=count)
            columns[name] = Column(values, known)
    return columns


def fact_columns(ruleset: Ruleset, facts: Sequence[Mapping[str, Any]]) -> FactColumns:
    """Facts as ``facts_for`` makes them (a mapping per row) as columns for :meth:`ColumnarRules.screen`.

    For tests and for callers that build facts themselves; tables and profiles have their own paths.
    """
    engine = columnar(ruleset)
    rows = len(facts)
    columns: FactColumns = {}
    for name, spec in FIELDS.items():
        items = [row.get(name) for row in facts]
        known = np.array([item is not None for item in items], dtype=bool)
        if spec.kind == "date":
            values: Any = np.array([0 if d is None else d.toordinal() for d in items], dtype=np.int64)
        elif spec.kind == "enum":
            codes = _ENUM_CODES[name]
            values = np.array([codes.get(item, -2) for item in items], dtype=np.int16)
        elif spec.kind in ("int", "level"):
            values = np.array([0 if item is None else item for item in items], dtype=np.int64)
        elif spec.kind == "bool":
            values = np.array([item is True for item in items], dtype=bool)
        elif spec.kind == "text":
            values = np.array([engine.vocabulary.code(item) for item in items], dtype=np.int64)
        else:
            values = np.empty(rows, dtype=object)
            values[:] = items
        columns[name] = Column(values, known)
    return columns


def _date_parts(ordinals: Ints) -> tuple[Ints, Ints, Ints]:
    days = (ordinals - _ORDINAL_1970).astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (days - months).astype(np.int64) + 1
    return year, month, day


def _derive(
    engine: ColumnarRules, raw: Mapping[str, Column], as_of: dt.date, rows: int
) -> tuple[FactColumns, dict[str, Mask]]:
    """The facts ``facts_for`` derives, as columns, and the rows each of its checks rejects.

    The checks (rows to reject, by the problem): a birth or event date after ``as_of``
    (``"future"``), and where there is none, an age that disagrees with the birth date (``"age"``).
    """
    facts: FactColumns = dict(raw)
    today = as_of.toordinal()
    future = np.zeros(rows, dtype=bool)
    for name in _DATE_FIELDS:
        column = raw.get(name)
        if column is not None:
            future |= column.known & (column.values > today)
    mismatch = np.zeros(rows, dtype=bool)
    birth = raw.get("birth_date")
    if birth is not None and birth.known.any():
        year, month, day = _date_parts(np.where(birth.known, birth.values, today))
        later = (as_of.month < month) | ((as_of.month == month) & (as_of.day < day))
        derived = (as_of.year - year - later).astype(np.int16)
        age = raw.get("age")
        if age is not None:
            mismatch = birth.known & age.known & (age.values != derived) & ~future
            facts["age"] = Column(np.where(birth.known, derived, age.values), birth.known | age.known)
        else:
            facts["age"] = Column(derived, birth.known)
    municipality = raw.get("municipality")
    if municipality is not None and municipality.values.dtype == object:  # names, not yet codes
        codes = _Names(engine.vocabulary)
        values = np.fromiter(map(codes.__getitem__, municipality.values), np.int64, rows)
        facts["municipality"] = Column(values, municipality.known)
    return facts, {"future": future, "age": mismatch}


# -- tables ----------------------------------------------------------------------------------------

Problems = dict[int, list[FieldProblem]]
_DATE_RANGE = f"must be between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}"


def _narwhals() -> Any:
    try:
        import narwhals.stable.v2 as nw
    except ImportError:
        raise UsageError("tables need numpy and narwhals: pip install 'referral-engine[frame]'") from None
    return nw


def _problem(problems: Problems, start: int, rows: Any, name: str, message: str) -> None:
    for row in np.flatnonzero(rows):
        problems.setdefault(start + int(row), []).append(FieldProblem(name, message))


def _each(
    name: str,
    items: list[Any],
    convert: Callable[[Any], _T],
    start: int,
    problems: Problems,
) -> list[_T | None]:
    """``convert`` applied to each known item; a failure is a problem of its row (the value not shown)."""
    out: list[_T | None] = []
    for row, item in enumerate(items):
        if item is None or (type(item) not in (list, tuple) and _is_unknown(item)):
            out.append(None)
            continue
        try:
            out.append(convert(item))
        except (ValueError, TypeError) as error:
            # Only our own messages and pydantic's templates (which never hold the value) are shown.
            message = (
                error.message if isinstance(error, _CellError) else getattr(error, "message_template", None)
            )
            message = message or "invalid value"
            problems.setdefault(start + row, []).append(FieldProblem(name, str(message)))
            out.append(None)
    return out


class _CellError(ValueError):
    """A bad cell; ``message`` says what is allowed (never the value)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _as_int(item: object) -> int:
    value = _strict_int(item)
    assert isinstance(value, int)
    return value


def _as_date(item: object) -> dt.date:
    if hasattr(item, "to_pydatetime"):  # a pandas Timestamp
        item = item.to_pydatetime()
    value = _strict_date(item)
    assert isinstance(value, dt.date)
    return value


def _as_bool(item: object) -> bool:
    if isinstance(item, np.bool_):
        item = bool(item)
    value = _strict_bool(item)
    assert isinstance(value, bool)
    return value


def _as_choice(values: tuple[str, ...]) -> Callable[[object], int]:
    codes = {value: index for index, value in enumerate(values)}

    def convert(item: object) -> int:
        found = codes.get(item) if isinstance(item, str) else None
        if found is None:
            raise _CellError(f"expected one of: {', '.join(values)}")
        return found

    return convert


def _as_municipality(item: object) -> str:
    if not isinstance(item, str) or not 1 <= len(item) <= 100:
        raise _CellError("expected a name of 1 to 100 characters")
    return " ".join(item.split())


def _cached(convert: Callable[[Any], _T]) -> Callable[[Any], _T]:
    """``convert`` remembering its answers for one column (lists are looked up as tuples)."""
    seen: dict[object, _T] = {}

    def cached(item: Any) -> _T:
        key = tuple(item) if isinstance(item, list) else item
        try:
            return seen[key]
        except (KeyError, TypeError):
            found = convert(item)
        with contextlib.suppress(TypeError):  # an unhashable cell is converted each time
            seen[key] = found
        return found

    return cached


def _as_languages(item: object) -> tuple[str, ...]:
    if isinstance(item, str) or not hasattr(item, "__iter__"):
        raise _CellError("expected a list of two-letter ISO 639-1 codes")
    codes = []
    for code in item:
        if not isinstance(code, str):
            raise _CellError("expected a list of two-letter ISO 639-1 codes")
        code = code.strip().lower()
        if not (len(code) == 2 and code.isascii() and code.isalpha()):
            raise _CellError("each language must be a two-letter ISO 639-1 code such as 'ar' or 'uk'")
        codes.append(code)
    return tuple(codes)


def _known_bool(values: list[Any]) -> Mask:
    return np.array([v is True or v is False for v in values], dtype=bool)


def _known(values: list[Any]) -> Mask:
    return np.array([v is not None for v in values], dtype=bool)


def _fill(values: list[Any], fill: Any, dtype: Any) -> Any:
    return np.array([fill if v is None else v for v in values], dtype=dtype)


def _message(error: Exception) -> str:
    """What a converter's error says is allowed: our own text or pydantic's template, never the value."""
    if isinstance(error, _CellError):
        return error.message
    template = getattr(error, "message_template", None)
    return template if isinstance(template, str) else "invalid value"


def _read_distinct(
    nw: Any,
    name: str,
    series: Any,
    convert: Callable[[object], int],
    missing: int,
    start: int,
    problems: Problems,
) -> Column | None:
    """A column read by its distinct values: each is checked and encoded once, in Python.

    The codes are then put in place by the table's own ``replace_strict``. ``None`` if the values
    cannot be told apart (unhashable cells): the caller reads them one by one.
    """
    try:
        distinct = series.drop_nulls().unique().to_list()
    except TypeError:
        return None
    old: list[Any] = []
    new: list[int] = []
    message = ""
    for value in distinct:
        if _is_unknown(value):  # a NaN that the table does not count as null
            continue
        try:
            code = convert(value)
        except (ValueError, TypeError) as error:
            message = _message(error)
            continue
        old.append(value)
        new.append(code)
    known = ~series.is_null().to_numpy()
    invalid = -(2**62)
    if old:
        codes = series.replace_strict(old, new, default=invalid, return_dtype=nw.Int64()).to_numpy()
    else:
        codes = np.full(len(series), invalid, dtype=np.int64)
    bad = known & (codes == invalid)
    if bad.any():
        _problem(problems, start, bad, name, message or "invalid value")
        known &= ~bad
    return Column(np.where(known, codes, missing), known)


def _read_column(
    nw: Any,
    name: str,
    series: Any,
    vocabulary: _Vocabulary,
    start: int,
    problems: Problems,
    keep: bool = True,
    arrow: Any = None,
) -> Column:
    """One column of a table as a profile-level :class:`Column`; bad cells become problems of their row.

    Typed columns (numbers, dates, booleans, text, dictionaries, lists; ``arrow``: the slice of
    the column as an Arrow chunked array) are read through Arrow and numpy (:func:`_read_arrow`);
    columns of Python objects value by value from ``series`` (a narwhals series, or a function
    that gives it).
    """
    if arrow is not None:
        found = _read_arrow(name, arrow.chunks, vocabulary, start, problems, keep)
        if found is not None:
            return found
    if callable(series):
        series = series()
    kind = FIELDS[name].kind
    dtype = series.dtype
    rows = len(series)
    if series.null_count() == rows:  # nothing known (also a column of the null type)
        empty = np.full(rows, None, dtype=object) if kind == "list" else np.full(rows, -2, dtype=np.int64)
        return Column(empty, np.zeros(rows, dtype=bool))
    if kind == "int" and dtype.is_numeric() and dtype != nw.Boolean:
        known = ~series.is_null().to_numpy()
        numbers = series.to_numpy()
        if dtype.is_float():
            known &= ~np.isnan(numbers)
            numbers = np.where(known, numbers, 0)
            _problem(problems, start, known & (np.mod(numbers, 1) != 0), name, "expected a whole number")
        numbers = np.where(known, numbers, 0).astype(np.int64)
        _problem(problems, start, known & ((numbers < 0) | (numbers > 120)), name, "must be from 0 to 120")
        return Column(numbers, known)
    if kind == "date" and dtype in (nw.Date, nw.Datetime):
        known = ~series.is_null().to_numpy()
        if dtype == nw.Datetime and getattr(dtype, "time_zone", None):
            _problem(problems, start, known, name, "expected a date, not a date and time")
            return Column(np.zeros(rows, dtype=np.int64), np.zeros(rows, dtype=bool))
        stamps = series.to_numpy()
        days = stamps.astype("datetime64[D]")
        if dtype == nw.Datetime:
            _problem(problems, start, known & (days != stamps), name, "expected a date, not a date and time")
        ordinals = np.where(known, days.astype(np.int64), 0) + _ORDINAL_1970
        return _date_column(name, ordinals, known, start, problems)
    if kind == "bool" and dtype == nw.Boolean:
        known = ~series.is_null().to_numpy()
        return Column(series.fill_null(False).to_numpy().astype(bool), known)
    textual = dtype in (nw.String, nw.Categorical, nw.Enum, nw.Object)
    if textual and kind in ("enum", "level", "text", "date"):
        convert: Callable[[object], int]
        if kind == "text":

            def convert(value: object) -> int:
                return vocabulary.code(_as_municipality(value).casefold())

        elif kind == "date":

            def convert(value: object) -> int:
                return _as_date(value).toordinal()

        else:
            convert = _as_choice(FIELDS[name].values)
        found = _read_distinct(nw, name, series, convert, -2 if kind == "text" else _MISSING, start, problems)
        if found is not None:
            return _date_column(name, found.values, found.known, start, problems) if kind == "date" else found
    items = series.to_list()
    if (
        kind == "bool"
        and set(map(type, items)) <= {bool, type(None), float}
        and all(item != item for item in items if type(item) is float)
    ):  # booleans with None or NaN for unknown (a pandas object column)
        return Column(np.array([item is True for item in items], dtype=bool), _known_bool(items))
    if kind == "int":
        numbers_ = _each(name, items, _as_int, start, problems)
        column = Column(_fill(numbers_, 0, np.int64), np.array([v is not None for v in numbers_], dtype=bool))
        _problem(
            problems,
            start,
            column.known & ((column.values < 0) | (column.values > 120)),
            name,
            "must be from 0 to 120",
        )
        return column
    if kind == "date":
        dates = _each(name, items, _as_date, start, problems)
        ordinals = np.array([0 if d is None else d.toordinal() for d in dates], dtype=np.int64)
        return _date_column(
            name, ordinals, np.array([d is not None for d in dates], dtype=bool), start, problems
        )
    if kind == "bool":
        flags = _each(name, items, _as_bool, start, problems)
        return Column(
            np.array([f is True for f in flags], dtype=bool), np.array([f is not None for f in flags])
        )
    converted: list[Any]
    if kind in ("enum", "level"):
        converted = _each(name, items, _as_choice(FIELDS[name].values), start, problems)
        return Column(
            _fill(converted, _MISSING, np.int16), np.array([v is not None for v in converted], dtype=bool)
        )
    converted = _each(
        name, items, _as_municipality if kind == "text" else _cached(_as_languages), start, problems
    )
    values = np.empty(rows, dtype=object)
    values[:] = converted
    return Column(values, _known(converted))


# -- typed columns through Arrow ----------------------------------------------------------------------

_DAY_UNITS = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}


def _arrow_column(native: Any) -> Any:
    """A column of a pandas, polars or pyarrow table as an Arrow chunked array, or ``None``."""
    chunks = _arrow_chunks(native)
    if chunks is None:
        return None
    import pyarrow as pa

    return pa.chunked_array(chunks, type=chunks[0].type) if chunks else None


def _arrow_chunks(native: Any) -> list[Any] | None:
    """A column of a pandas, polars or pyarrow table as Arrow arrays, or ``None`` for Python objects.

    Zero-copy where the library allows (pyarrow chunks, pandas categoricals, numbers and dates);
    ``None`` (the caller reads the values in Python) for an object column or without pyarrow.
    """
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow comes with the frame extra
        return None
    if isinstance(native, pa.ChunkedArray):
        return list(native.chunks)
    if isinstance(native, pa.Array):
        return [native]
    library = type(native).__module__.split(".")[0]
    try:
        if library == "polars":
            if native.dtype.is_nested() and not str(native.dtype).startswith("List"):
                return None
            if str(native.dtype) == "Object":
                return None
            found = native.to_arrow()
        elif library == "pandas":
            if native.dtype == object:
                return None
            found = _from_pandas(native)
        else:
            return None
    except (pa.ArrowException, TypeError, ValueError):
        return None
    return list(found.chunks) if isinstance(found, pa.ChunkedArray) else [found]


def _from_pandas(series: Any) -> Any:
    """A typed pandas column as Arrow: categoricals and naive dates from their numpy parts, else pyarrow's.

    For the columns :func:`_pandas_reader` does not read (categoricals of lists, datetimes of
    other fields, strings, floats, Arrow-backed columns).
    """
    import pyarrow as pa

    kind = getattr(series.dtype, "kind", "")
    if str(series.dtype) == "category":
        codes = series.array.codes  # valid indices by construction: no check needed
        categories = pa.array(series.cat.categories.to_list())
        return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), categories, safe=False)
    if kind == "M" and isinstance(series.dtype, np.dtype):  # datetime64 without a time zone
        stamps = series.to_numpy()
        unit = np.datetime_data(stamps.dtype)[0]
        if unit in _DAY_UNITS:
            return pa.array(stamps.view(np.int64), type=pa.timestamp(unit), mask=np.isnat(stamps))
    return pa.Array.from_pandas(series)


def _read_arrow(
    name: str, chunks: Sequence[Any], vocabulary: _Vocabulary, start: int, problems: Problems, keep: bool
) -> Column | None:
    """A typed column read through numpy, chunk by chunk; ``None`` for a type without a fast path.

    Each chunk's validity is a mask; numbers, dates and booleans are read as arrays; a dictionary
    (or a text column, dictionary-encoded first) is read by its dictionary: each distinct value is
    checked and encoded once, and the rows take their codes from a small table. Bad cells are
    problems of their rows (never the value). ``keep=False`` validates without keeping the values
    (a column the rules in force do not read).
    """
    parts: list[Column] = []
    offset = start
    for chunk in chunks:
        found = _read_chunk(name, chunk, vocabulary, offset, problems, keep)
        if found is None:
            return None
        parts.append(found)
        offset += len(chunk)
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return Column(np.concatenate([part.values for part in parts]), np.concatenate([p.known for p in parts]))


def _valid(chunk: Any) -> Mask:
    """Where a chunk holds a value: its validity bitmap unpacked."""
    rows = len(chunk)
    if chunk.null_count == 0:
        return np.ones(rows, dtype=bool)
    bitmap = chunk.buffers()[0]
    if bitmap is None:  # a layout without a validity bitmap (unions, run-end encoding)
        known: Mask = chunk.is_valid().to_numpy(zero_copy_only=False)
        return known
    return _bits(bitmap, chunk.offset, rows)


def _bits(buffer: Any, offset: int, rows: int) -> Mask:
    """An Arrow bitmap (least significant bit first) as booleans."""
    unpacked = np.unpackbits(np.frombuffer(buffer, dtype=np.uint8), count=offset + rows, bitorder="little")
    found: Mask = unpacked[offset:].view(np.bool_)
    return found


def _plain(chunk: Any, dtype: Any) -> Any:
    """The values of a fixed-width chunk as numpy sees its data buffer (nulls hold anything)."""
    return np.frombuffer(chunk.buffers()[1], dtype=dtype)[chunk.offset : chunk.offset + len(chunk)]


def _read_chunk(
    name: str, chunk: Any, vocabulary: _Vocabulary, start: int, problems: Problems, keep: bool
) -> Column | None:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = FIELDS[name].kind
    kind_type = chunk.type
    rows = len(chunk)
    if pa.types.is_null(kind_type) or chunk.null_count == rows:
        empty = np.full(rows, None, dtype=object) if kind == "list" else np.full(rows, -2, dtype=np.int64)
        return Column(empty, np.zeros(rows, dtype=bool))
    known = _valid(chunk)
    if pa.types.is_dictionary(kind_type):
        return _read_dictionary(name, chunk, known, vocabulary, start, problems)
    if pa.types.is_string(kind_type) or pa.types.is_large_string(kind_type) or _is_string_view(kind_type):
        if kind in ("enum", "level", "text", "date"):
            return _read_dictionary(name, pc.dictionary_encode(chunk), known, vocabulary, start, problems)
        return None
    if kind == "int" and (pa.types.is_integer(kind_type) or pa.types.is_floating(kind_type)):
        numbers = _plain(chunk, chunk.type.to_pandas_dtype())  # null slots hold anything: masked below
        if chunk.null_count:
            numbers = np.where(known, numbers, 0)
        if pa.types.is_floating(kind_type):
            known &= ~np.isnan(numbers)
            numbers = np.where(known, numbers, 0)
            _problem(problems, start, known & (np.mod(numbers, 1) != 0), name, "expected a whole number")
            numbers = np.where(known, numbers, 0)
        outside = known & ((numbers < 0) | (numbers > 120))
        _problem(problems, start, outside, name, "must be from 0 to 120")
        return Column(np.where(outside, 0, numbers).astype(np.int16), known)
    if kind == "date" and (pa.types.is_date(kind_type) or pa.types.is_timestamp(kind_type)):
        if pa.types.is_date32(kind_type):
            days = _plain(chunk, np.int32)
        else:
            if pa.types.is_timestamp(kind_type) and kind_type.tz is not None:
                _problem(problems, start, known, name, "expected a date, not a date and time")
                return Column(np.zeros(rows, dtype=np.int64), np.zeros(rows, dtype=bool))
            unit = "ms" if pa.types.is_date64(kind_type) else kind_type.unit
            stamps = chunk.fill_null(0).cast(pa.int64()).to_numpy()
            days, rest = np.divmod(stamps, _DAY_UNITS[unit])
            _problem(problems, start, known & (rest != 0), name, "expected a date, not a date and time")
            # Far outside any allowed date stays outside: a 32-bit day number would wrap round.
            days = np.clip(days, -1_000_000, 1_000_000)
        ordinals = (days if chunk.null_count == 0 else np.where(known, days, 0)).astype(np.int32)
        ordinals += _ORDINAL_1970
        return _date_column(name, ordinals, known, start, problems)
    if kind == "bool" and pa.types.is_boolean(kind_type):
        return Column(_bits(chunk.buffers()[1], chunk.offset, rows) & known, known)
    if kind == "list" and (pa.types.is_list(kind_type) or pa.types.is_large_list(kind_type)):
        return _read_languages(name, chunk, known, start, problems, keep)
    return None


def _is_string_view(kind_type: Any) -> bool:
    import pyarrow as pa

    check = getattr(pa.types, "is_string_view", None)
    return bool(check is not None and check(kind_type))


def _converter(name: str, vocabulary: _Vocabulary) -> Callable[[object], int]:
    """How one value of a field becomes its code (raising ``ValueError`` or ``TypeError`` if invalid)."""
    kind = FIELDS[name].kind
    if kind == "text":
        return lambda value: vocabulary.code(_as_municipality(value).casefold())
    if kind == "date":
        return lambda value: _as_date(value).toordinal()
    if kind == "int":

        def number(value: object) -> int:
            found = _as_int(value)
            if not 0 <= found <= 120:
                raise _CellError("must be from 0 to 120")
            return found

        return number
    if kind == "bool":
        return lambda value: int(_as_bool(value))
    return _as_choice(FIELDS[name].values)


@dataclass(frozen=True)
class _Dictionary:
    """A dictionary's values checked and encoded once: the small table its rows take their codes from.

    ``table`` holds each value's code (``invalid`` for a value that is not valid, its message in
    ``messages`` by index; ``unknown`` for a null or NaN value) and one more slot, the code of
    an unknown row (``missing``), which an index of -1 (pandas' missing category) takes.
    """

    table: Any
    messages: dict[int, str]
    nulls: bool
    invalid: int
    unknown: int
    missing: int


def _encode_dictionary(name: str, values: Sequence[object], vocabulary: _Vocabulary) -> _Dictionary:
    """Each value of a dictionary (an Arrow dictionary, pandas' categories) checked and encoded once."""
    convert = _converter(name, vocabulary)
    kind = FIELDS[name].kind
    dtype = np.int32 if kind == "date" else np.int16
    invalid = int(np.iinfo(dtype).min)  # no code of any field
    unknown = invalid + 1
    missing = -2 if kind == "text" else _MISSING
    table = np.empty(len(values) + 1, dtype=dtype)
    table[-1] = missing
    messages: dict[int, str] = {}
    nulls = False
    for index, value in enumerate(values):
        if value is None or _is_unknown(value):
            table[index] = unknown
            nulls = True
            continue
        try:
            table[index] = convert(value)
        except (ValueError, TypeError) as error:
            table[index] = invalid
            messages[index] = _message(error)
    return _Dictionary(table, messages, nulls, invalid, unknown, missing)


def _read_dictionary(
    name: str, chunk: Any, known: Mask, vocabulary: _Vocabulary, start: int, problems: Problems
) -> Column:
    """A dictionary chunk: its values checked and encoded once, the rows' codes taken from a table.

    A dictionary value that is not valid (a category no row may use) is an error only for the
    rows that use it; a null or NaN value of the dictionary is unknown.
    """
    dictionary = _encode_dictionary(name, chunk.dictionary.to_pylist(), vocabulary)
    indices = chunk.indices
    indices = _plain(indices, indices.type.to_pandas_dtype())
    # a null's slot may hold anything: clipped, then unknown
    codes = dictionary.table[:-1].take(indices, mode="clip")
    return _dictionary_rows(name, dictionary, codes, indices, known, bool(chunk.null_count), start, problems)


def _dictionary_rows(
    name: str,
    dictionary: _Dictionary,
    codes: Any,
    indices: Any,
    known: Mask,
    unset: bool,
    start: int,
    problems: Problems,
) -> Column:
    """The column of rows that took ``codes`` from ``dictionary`` by their ``indices``.

    Rows of a value that is not valid are problems (the message of their value) and unknown.
    ``unset``: unknown rows (``~known``) may hold any code, so they are set to the missing one.
    """
    kind = FIELDS[name].kind
    if dictionary.nulls:
        known = known & (codes != dictionary.unknown)
    bad = None
    if dictionary.messages:  # a value of the dictionary is not valid: an error where a row uses it
        bad = known & (codes == dictionary.invalid)
        if bad.any():
            for row in np.flatnonzero(bad).tolist():
                problems.setdefault(start + row, []).append(
                    FieldProblem(name, dictionary.messages.get(int(indices[row]), "invalid value"))
                )
            known = known & ~bad
        else:
            bad = None
    if unset or bad is not None or dictionary.nulls:
        codes = np.where(known, codes, codes.dtype.type(dictionary.missing))
    if kind == "bool":
        return Column(codes == 1, known)
    if kind == "date":
        return _date_column(name, codes, known, start, problems)
    return Column(codes, known)


def _two_letters(items: Any) -> bool:
    """Whether every item is two ASCII letters (valid as it stands: the common case, checked in numpy).

    Read from the text's offsets (every item two bytes long) and bytes (all letters); other
    layouts (string views) through Arrow's kernels.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_string(items.type) or pa.types.is_large_string(items.type):
        _, offsets, data = items.buffers()
        width = np.int64 if pa.types.is_large_string(items.type) else np.int32
        ends = np.frombuffer(offsets, dtype=width)[items.offset : items.offset + len(items) + 1]
        if not (np.diff(ends) == 2).all():
            return False
        text = np.frombuffer(data, dtype=np.uint8)[int(ends[0]) : int(ends[-1])] | 0x20  # lower case
        return bool(((text >= ord("a")) & (text <= ord("z"))).all())
    try:
        letters = pc.and_(pc.equal(pc.utf8_length(items), 2), pc.ascii_is_alpha(items))
    except pa.ArrowNotImplementedError:  # string views: checked value by value
        return False
    return bool(pc.all(letters).as_py())


def _read_languages(name: str, chunk: Any, known: Mask, start: int, problems: Problems, keep: bool) -> Column:
    """A list column of language codes: each distinct code checked once, bad ones reported by row."""
    import pyarrow.compute as pc

    items = chunk.flatten()
    if len(items) and (items.null_count or not _two_letters(items)):
        parents = pc.list_parent_indices(chunk).to_numpy(zero_copy_only=False)
        encoded = pc.dictionary_encode(items)
        good = np.zeros(len(encoded.dictionary) + 1, dtype=bool)
        for index, code in enumerate(encoded.dictionary.to_pylist()):
            try:
                _as_languages([code])
            except _CellError:
                continue
            good[index] = True
        indices = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.intp)
        wrong = ~good[indices]
        if wrong.any():
            bad = np.zeros(len(chunk), dtype=bool)
            bad[parents[wrong]] = True
            bad &= known
            _problem(
                problems,
                start,
                bad,
                name,
                "each language must be a two-letter ISO 639-1 code such as 'ar' or 'uk'",
            )
            known = known & ~bad
    values = np.empty(len(chunk), dtype=object)
    if keep:
        values[:] = [
            None if not k or item is None else _as_languages(item)
            for k, item in zip(known.tolist(), chunk.to_pylist(), strict=True)
        ]
    return Column(values, known)


def _date_column(name: str, ordinals: Any, known: Mask, start: int, problems: Problems) -> Column:
    outside = known & ((ordinals < EARLIEST_DATE.toordinal()) | (ordinals > LATEST_DATE.toordinal()))
    _problem(problems, start, outside, name, _DATE_RANGE)
    return Column(ordinals, known)


# -- typed pandas columns straight into numpy -----------------------------------------------------

#: Reads rows ``start`` to ``start + rows`` of one column, adding the problems of its bad cells.
_Reader = Callable[[int, int, Problems], Column]
_NAT = np.iinfo(np.int64).min  # NaT as int64


def _pandas_reader(name: str, series: Any, vocabulary: _Vocabulary) -> _Reader | None:
    """A typed pandas column read straight into the engine's arrays, or ``None`` (the Arrow path).

    What every slice shares is done once for the column: a categorical's categories checked and
    encoded (:func:`_encode_dictionary`), its rows taking their codes by their integer codes
    (-1: missing); naive ``datetime64`` seen as int64 (NaT: missing); nullable ``Int`` and
    ``boolean`` arrays filled and masked through ``to_numpy`` and ``isna``; numpy integers and
    booleans as they are. A slice is then a few numpy passes, with the checks and codes of the
    Arrow path.
    """
    import pandas as pd

    kind = FIELDS[name].kind
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        if kind == "list":
            return None
        return _categorical_reader(name, series.array.codes, dtype.categories.tolist(), vocabulary)
    array = series.array
    if kind == "date" and isinstance(dtype, np.dtype) and dtype.kind == "M":  # without a time zone
        unit = np.datetime_data(dtype)[0]
        if unit not in _DAY_UNITS:  # pragma: no cover - pandas has no other units
            return None
        return _datetime_reader(name, series.to_numpy().view(np.int64), _DAY_UNITS[unit])
    if kind == "int":
        if isinstance(array, pd.arrays.IntegerArray):
            numbers = array.to_numpy(array.dtype.numpy_dtype, na_value=0)
            return _number_reader(name, numbers, ~array.isna())
        if isinstance(dtype, np.dtype) and dtype.kind in "iu":
            return _number_reader(name, series.to_numpy(), None)
    if kind == "bool":
        if isinstance(array, pd.arrays.BooleanArray):
            return _flag_reader(array.to_numpy(bool, na_value=False), ~array.isna())
        if isinstance(dtype, np.dtype) and dtype.kind == "b":
            return _flag_reader(series.to_numpy(), None)
    return None


def _categorical_reader(name: str, codes: Any, categories: list[Any], vocabulary: _Vocabulary) -> _Reader:
    """A categorical: each category checked and encoded once, rows coded through a small table.

    Where the categories are the field's values in order (``pd.Categorical(..., categories=
    spec.values)``), pandas' codes are already the engine's and are taken as they are.
    """
    dictionary = _encode_dictionary(name, categories, vocabulary)
    table = dictionary.table
    same = dictionary.missing == _MISSING and np.array_equal(table[:-1], np.arange(len(categories)))

    def read(start: int, rows: int, problems: Problems) -> Column:
        indices = codes[start : start + rows]
        # -1 (missing) takes the table's last slot: the code of an unknown row
        found = indices.astype(np.int16) if same else table[indices]
        return _dictionary_rows(name, dictionary, found, indices, indices >= 0, False, start, problems)

    return read


def _datetime_reader(name: str, stamps: Ints, per_day: int) -> _Reader:
    """Naive datetimes as int64 in their unit: day numbers as the Arrow path makes them from timestamps."""

    def read(start: int, rows: int, problems: Problems) -> Column:
        part = stamps[start : start + rows]
        known = part != _NAT
        days = part // per_day  # floor: days before 1970 too
        # cannot wrap into a false midnight: an overflowing product is far below any stamp
        timed = known & (days * per_day != part)
        if timed.any():
            _problem(problems, start, timed, name, "expected a date, not a date and time")
        if not known.all():
            days = np.where(known, days, 0)
        days += _ORDINAL_1970
        return _date_column(name, days, known, start, problems)

    return read


def _number_reader(name: str, numbers: Any, known: Mask | None) -> _Reader:
    """Whole numbers (unknown rows hold 0; ``known`` ``None``: all known), checked from 0 to 120."""

    def read(start: int, rows: int, problems: Problems) -> Column:
        part = numbers[start : start + rows]
        outside = (part < 0) | (part > 120)
        mask = np.ones(rows, dtype=bool) if known is None else known[start : start + rows]
        if known is not None:
            outside &= mask
        if outside.any():
            _problem(problems, start, outside, name, "must be from 0 to 120")
            part = np.where(outside, 0, part)
        return Column(part.astype(np.int16, copy=False), mask)

    return read


def _flag_reader(flags: Mask, known: Mask | None) -> _Reader:
    """Booleans (unknown rows hold ``False``; ``known`` ``None``: all known)."""

    def read(start: int, rows: int, problems: Problems) -> Column:
        mask = np.ones(rows, dtype=bool) if known is None else known[start : start + rows]
        return Column(flags[start : start + rows], mask)

    return read


def _duplicated(table: Any) -> str:
    """What to say of a table with a column name twice (pandas and pyarrow allow it)."""
    names = getattr(table, "column_names", None)
    names = list(getattr(table, "columns", ()) if names is None else names)
    twice = [name for index, name in enumerate(names) if name in names[:index]]
    shown = sorted({repr(name) if name in FIELDS else "(an unknown column)" for name in twice})
    return f"a table of cases has each column once; more than once here: {', '.join(shown)}"


def _check_columns(names: Sequence[str]) -> None:
    for name in names:
        if name == "consents":
            raise UsageError("a table of cases has no consents column: consents do not change any status")
        if name not in FIELDS:
            shown = (
                repr(name) if isinstance(name, str) and _FIELD_LIKE.fullmatch(name) else "(an unknown column)"
            )
            raise UsageError(
                f"unknown column {shown}; the columns of a table of cases are CaseProfile fields: "
                f"{', '.join(COLUMNS)}"
            )


def _table_rows(
    engine: ColumnarRules,
    nw: Any,
    frame: Any,
    start: int,
    rows: int,
    as_of: dt.date,
    arrow: Mapping[str, Any],
    readers: Mapping[str, _Reader],
) -> tuple[Screened, Problems]:
    """Rows ``start`` to ``start + rows`` of a table screened, and the problems of its bad rows.

    ``readers`` read the typed pandas columns (:func:`_pandas_reader`); ``arrow`` holds the
    other columns that are typed as Arrow chunked arrays (sliced here, no copy).
    """
    problems: Problems = {}
    needed = engine._plan(as_of).needed
    end = start + rows
    raw = {
        name: readers[name](start, rows, problems)
        if name in readers
        else _read_column(
            nw,
            name,
            lambda name=name: frame[name][start:end],
            engine.vocabulary,
            start,
            problems,
            name in needed,
            None if arrow.get(name) is None else arrow[name].slice(start, rows),
        )
        for name in arrow
    }
    birth = raw.get("birth_date")
    if birth is not None:  # CaseProfile's own check: no event before the birth
        for name in EVENT_DATES:
            event = raw.get(name)
            if event is not None:
                before = birth.known & event.known & (event.values < birth.values)
                _problem(problems, start, before, name, "must not be before birth_date")
    facts, rejected = _derive(engine, raw, as_of, rows)
    for row in np.flatnonzero(rejected["future"]):
        if start + int(row) not in problems:
            problems[start + int(row)] = [
                FieldProblem(name, "must not be after the as_of date")
                for name in _DATE_FIELDS
                if name in raw and raw[name].known[row] and raw[name].values[row] > as_of.toordinal()
            ]
    _problem(
        {} if not rejected["age"].any() else problems,
        start,
        rejected["age"] & ~np.isin(np.arange(rows) + start, list(problems)),
        "age",
        "does not match birth_date on the as_of date; give one of them",
    )
    return engine.screen(facts, as_of, rows), problems


def screen_table(table: _T, *, as_of: dt.date | None = None, ruleset: Ruleset | None = None) -> _T:
    """Each case's status per service and its number of open fields, as a table of the same kind.

    ``table`` is a pandas, polars or pyarrow table (anything narwhals reads eagerly) with one row
    per case and columns named after :class:`~referral_engine.CaseProfile` fields (:data:`COLUMNS`);
    a missing column, a null or a NaN is *unknown*. Dates may be date or midnight datetime columns
    or ``YYYY-MM-DD`` text, enumerations text or categorical, ``languages`` lists of codes. Typed
    columns (not Python objects) are read without a step per row: the fast path for large tables.
    ``as_of`` (default: today) is the one date every case is decided on; ``ruleset`` defaults to
    the bundled rules.

    Returns a table of the same kind with a column per service (in rule-set order) holding the
    :class:`~referral_engine.Status` values ``eligible``, ``not_eligible``, ``undetermined`` as a
    categorical (pandas ``category``, polars ``Enum``, a pyarrow dictionary of strings), and
    ``open_fields`` (an integer), one row per input row in order: equal to the
    :class:`~referral_engine.CaseStatuses` of ``recommend_many(..., detail="statuses")``.

    Raises :class:`~referral_engine.UsageError` for a column that is no profile field, and
    :class:`~referral_engine.ProfileError` for the first bad row, its ``index`` the row (from 0)
    and its problems naming the columns, never a value.

    >>> import pandas as pd, datetime as dt
    >>> table = pd.DataFrame({"age": [19, None], "residence_status": ["gestattung", None]})
    >>> screen_table(table, as_of=dt.date(2026, 3, 1))["jmd"].tolist()
    ['eligible', 'undetermined']
    """
    nw = _narwhals()
    day = check_as_of(as_of)
    if ruleset is None:
        ruleset = default_ruleset()
    elif not isinstance(ruleset, Ruleset):
        raise UsageError("ruleset must be a Ruleset from load_ruleset() or default_ruleset()")
    from narwhals.exceptions import DuplicateError

    try:
        frame = nw.from_native(table, eager_only=True)
    except TypeError:
        raise UsageError("table must be a pandas, polars or pyarrow table") from None
    except DuplicateError:
        raise UsageError(_duplicated(table)) from None
    _check_columns(frame.columns)
    engine = columnar(ruleset)
    if OPEN_FIELDS in engine.services:
        raise UsageError(
            f"a service of this rule set is called {OPEN_FIELDS!r}, the name of the count column"
        )
    total = len(frame)
    codes: list[NDArray[np.int8]] = []
    counts: list[Ints] = []
    namespace = nw.get_native_namespace(frame)
    names = frame.columns
    readers: dict[str, _Reader] = {}
    if getattr(namespace, "__name__", "") == "pandas":  # typed columns read without Arrow
        native = frame.to_native()
        columns = {name: native[name] for name in names}
        for name, series in columns.items():
            reader = _pandas_reader(name, series, engine.vocabulary)
            if reader is not None:
                readers[name] = reader
    else:
        columns = {name: frame[name].to_native() for name in names}
    arrow = {name: None if name in readers else _arrow_column(columns[name]) for name in names}
    for start in range(0, max(total, 1), ROWS_PER_CHUNK):
        rows = min(ROWS_PER_CHUNK, total - start)
        screened, problems = _table_rows(engine, nw, frame, start, rows, day, arrow, readers)
        if problems:
            first = min(problems)
            raise ProfileError(problems[first], index=first)
        codes.append(screened.codes)
        counts.append(screened.open_fields)
    # services × rows underneath, so that each service's column of codes is contiguous
    by_service = np.concatenate([c.T for c in codes], axis=1) if codes else None
    code = by_service.T if by_service is not None else np.zeros((0, len(engine.services)), dtype=np.int8)
    count = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
    native_result: _T = _result(nw, namespace, engine.services, code, count)
    return native_result


def _result(nw: Any, namespace: Any, services: Sequence[str], codes: NDArray[np.int8], count: Ints) -> Any:
    """The result table in the input's library: a categorical column of statuses per service, the count.

    Built from the codes directly where the library can (pandas ``Categorical``, polars ``Enum``,
    pyarrow dictionary arrays); through narwhals as text otherwise.
    """
    names = [status.value for status in STATUSES]
    kind = getattr(namespace, "__name__", "")
    if kind == "pandas":
        dtype = namespace.CategoricalDtype(names)
        try:  # the codes are 0 to 2 by construction (pandas 2.1+ can skip its check)
            data = {
                s: namespace.Categorical.from_codes(codes[:, i], dtype=dtype, validate=False)
                for i, s in enumerate(services)
            }
        except TypeError:  # pragma: no cover - older pandas
            data = {
                s: namespace.Categorical.from_codes(codes[:, i], dtype=dtype) for i, s in enumerate(services)
            }
        return namespace.DataFrame({**data, OPEN_FIELDS: count})
    if kind == "polars":
        import pyarrow as pa

        enum = namespace.Enum(names)
        # polars' own Arrow form of the Enum (its field carries the categories): the columns are
        # built from the codes in that form and read back as Enum columns, nothing cast
        template = (
            namespace.DataFrame({"s": namespace.Series(names, dtype=enum)}).to_arrow().schema.field("s")
        )
        dictionary = pa.array(names, template.type.value_type)
        index_type = template.type.index_type
        arrays = [
            pa.DictionaryArray.from_arrays(
                pa.array(codes[:, i].astype(index_type.to_pandas_dtype())), dictionary, safe=False
            )
            for i in range(len(services))
        ]
        fields = [template.with_name(service) for service in services]
        table = pa.Table.from_arrays(
            [*arrays, pa.array(count)], schema=pa.schema([*fields, pa.field(OPEN_FIELDS, pa.int64())])
        )
        frame = namespace.from_arrow(table)
        if any(frame[service].dtype != enum for service in services):  # pragma: no cover - other polars
            frame = frame.with_columns(namespace.col(*services).cast(enum))
        return frame
    if kind == "pyarrow":
        dictionary = namespace.array(names)
        arrays = [
            namespace.DictionaryArray.from_arrays(
                namespace.array(codes[:, i], namespace.int8()), dictionary, safe=False
            )
            for i in range(len(services))
        ]
        return namespace.table([*arrays, namespace.array(count)], names=[*services, OPEN_FIELDS])
    data_ = {service: _STATUS_TEXT[codes[:, i]].tolist() for i, service in enumerate(services)}
    schema = {service: nw.String() for service in services} | {OPEN_FIELDS: nw.Int64()}
    return nw.from_dict({**data_, OPEN_FIELDS: count}, schema=schema, backend=namespace).to_native()


# -- batches of profiles (recommend_many) ---------------------------------------------------------------


def _needed_in_force(engine: ColumnarRules, as_of: dt.date) -> frozenset[str]:
    """The fields whose values a screen on ``as_of`` reads (the others are only validated)."""
    ruleset = engine.ruleset
    named = {leaf.field for rule in ruleset.rules_in_force(as_of) for leaf in rule.leaves}
    steps = [step.when for step in ruleset.steps if step.when is not None and step.in_force(as_of)]
    named |= {leaf.field for when in steps for leaf in when.leaves()}
    return frozenset({*named, "age", "birth_date", *EVENT_DATES, "municipality", "residence_status"})


def screen_profiles(
    ruleset: Ruleset, profiles: Sequence[CaseProfile], as_of: dt.date
) -> tuple[Screened, list[int]]:
    """Validated profiles screened on ``as_of``, and the rows ``facts_for`` would reject.

    What ``recommend_many(detail="statuses")`` runs on for a chunk of profiles. A rejected row (a
    date after ``as_of``, an age that disagrees with the birth date) has meaningless results.
    """
    engine = columnar(ruleset)
    rows = len(profiles)
    key = ("fields", as_of)
    fields = engine.memo.get(key)
    if not isinstance(fields, tuple):
        needed = _needed_in_force(engine, as_of)
        fields = tuple(name for name in COLUMNS if name in needed)
        with engine._lock:
            if len(engine.memo) > 64:  # one entry per day: bounded
                for old in [k for k in engine.memo if isinstance(k, tuple) and k[0] == "fields"]:
                    del engine.memo[old]
            engine.memo[key] = fields
    facts, rejected = _derive(engine, _encode_profiles(profiles, fields), as_of, rows)
    screened = engine.screen(facts, as_of, rows)
    return screened, np.flatnonzero(rejected["future"] | rejected["age"]).tolist()
