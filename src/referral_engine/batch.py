"""Many cases at once: :func:`recommend_many` streams results in input order with constant memory.

``detail="full"`` gives each case's :class:`~referral_engine.models.Recommendation`, exactly as
:func:`~referral_engine.recommend` does. ``detail="statuses"`` is for screening a caseload: a
:class:`CaseStatuses` per case (each service's status and the number of open fields), decided
by the same rules, engine and routing as ``recommend`` but without reasons, next steps or change
dates. With numpy installed (the ``frame`` extra), ``detail="statuses"`` on the python engine
decides chunks of :data:`COLUMNAR_CHUNK` cases at once with the columnar engine
(:mod:`referral_engine.columnar`, proven equal to the reference); chunks smaller than
:data:`COLUMNAR_MIN` (a short batch, the tail of one) go case by case. ``processes=N`` spreads
chunks of cases over ``N`` worker processes; the rule set is sent to each worker once and rebuilt
there once (see :mod:`referral_engine._pickling`).

Bad rows (``errors=``): a profile that ``recommend`` would reject raises — or yields — a
:class:`~referral_engine.errors.ProfileError` whose ``index`` is the row's position in the input
(from 0) and whose message names fields and what is allowed, never a value.

- ``"raise"`` (default): stop at the first bad row; the results before it have been yielded.
- ``"skip"``: leave bad rows out. The results then no longer line up with the input.
- ``"collect"``: yield the bad row's ``ProfileError`` in its place, so that the n-th result
  belongs to the n-th profile; nothing is lost.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import itertools
import multiprocessing
import operator
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, get_args, overload

from .compiled import Screened, compiled, open_fields
from .conditions import Tri
from .decide import decide, statuses
from .engines import evaluator, resolve
from .errors import ProfileError, UsageError
from .facts import Facts, facts_for
from .handover import safe_route
from .loader import default_ruleset
from .models import CaseProfile, Lang, Recommendation, Status, check_as_of
from .recommend import check_consents, recommend
from .ruleset import Ruleset
from .steps import unrouted

if TYPE_CHECKING:
    from .columnar import ColumnarRules
    from .columnar import Screened as Columns

Detail = Literal["full", "statuses"]
Errors = Literal["raise", "skip", "collect"]
Profile = CaseProfile | Mapping[str, Any]

#: Cases per task sent to a worker process.
CHUNK_SIZE = 256
#: Cases read and decided at once by the columnar engine (memory stays bounded by this).
COLUMNAR_CHUNK = 4096
#: Fewer cases than this (in a chunk) are decided case by case: numpy's overhead would not pay off.
COLUMNAR_MIN = 48
#: Distinct CaseStatuses kept per rule set for reuse across chunks (a few MiB at most).
RESULTS_MEMO = 16384
_CONSENTS = operator.attrgetter("consents")


@dataclass(frozen=True, slots=True)
class CaseStatuses:
    """One case screened: each service's status (rule-set order) and how many fields are open.

    ``open_fields`` is the number of fields whose answer could settle an undetermined decision
    (or the responsible partner), ``len(recommend(...).missing)``. Hashable, so a caseload's
    patterns can be counted (``collections.Counter``). Like a recommendation it is personal data:
    its ``repr`` shows service ids and counts, never a fact.
    """

    statuses: Mapping[str, Status]
    open_fields: int

    @property
    def eligible(self) -> tuple[str, ...]:
        """The services the person is eligible for, in rule-set order."""
        return tuple(service for service, status in self.statuses.items() if status is Status.ELIGIBLE)

    @property
    def undetermined(self) -> tuple[str, ...]:
        """The services still open, in rule-set order."""
        return tuple(s for s, status in self.statuses.items() if status is Status.UNDETERMINED)

    def __hash__(self) -> int:
        return hash((tuple(self.statuses.items()), self.open_fields))

    def __reduce__(self) -> tuple[object, ...]:
        return _case_statuses, (dict(self.statuses), self.open_fields)

    def __repr__(self) -> str:
        return (
            f"CaseStatuses(eligible={self.eligible!r}, undetermined={self.undetermined!r}, "
            f"open_fields={self.open_fields})"
        )


def _case_statuses(statuses: dict[str, Status], open_fields: int) -> CaseStatuses:
    return CaseStatuses(MappingProxyType(statuses), open_fields)


_STATUS_BY_CODE = (Status.ELIGIBLE, Status.NOT_ELIGIBLE, Status.UNDETERMINED)  # columnar.STATUSES


class _StatusRow(Mapping[str, Status]):
    """One row of the columnar engine's status codes, read as ``{service: status}`` (read-only).

    What ``CaseStatuses.statuses`` holds for a batch screened on the columnar engine: the codes
    are kept as they came, and a status is looked up when read. Equal to (and hashed via
    ``CaseStatuses``' items as) the dictionary of the same statuses.
    """

    __slots__ = ("_codes", "_index", "_services")

    _services: tuple[str, ...]
    _index: Mapping[str, int]
    _codes: tuple[int, ...]

    def __getitem__(self, service: str) -> Status:
        return _STATUS_BY_CODE[self._codes[self._index[service]]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._services)

    def __len__(self) -> int:
        return len(self._services)

    def __contains__(self, service: object) -> bool:
        return service in self._index

    def items(self) -> Any:  # an ItemsView would read each status through __getitem__
        return dict(zip(self._services, map(_STATUS_BY_CODE.__getitem__, self._codes), strict=True)).items()

    def values(self) -> Any:
        return [_STATUS_BY_CODE[code] for code in self._codes]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _StatusRow) and other._services is self._services:
            return other._codes == self._codes
        return dict(self.items()) == other if isinstance(other, Mapping) else NotImplemented

    __hash__ = None  # type: ignore[assignment]  # like a dict

    def __repr__(self) -> str:
        return repr(dict(self.items()))

    def __reduce__(self) -> tuple[object, ...]:
        return MappingProxyType, (dict(self.items()),)


_new = object.__new__
# The slots' own setters: a frozen dataclass's __init__ goes through object.__setattr__.
_set_services = vars(_StatusRow)["_services"].__set__
_set_index = vars(_StatusRow)["_index"].__set__
_set_codes = vars(_StatusRow)["_codes"].__set__
_set_statuses = vars(CaseStatuses)["statuses"].__set__
_set_open = vars(CaseStatuses)["open_fields"].__set__


def _from_codes(
    services: tuple[str, ...], index: Mapping[str, int], codes: tuple[int, ...], count: int
) -> CaseStatuses:
    """A ``CaseStatuses`` of a row of codes, built without its ``__init__`` (the values are the engine's)."""
    row = _new(_StatusRow)
    _set_services(row, services)
    _set_index(row, index)
    _set_codes(row, codes)
    result = _new(CaseStatuses)
    _set_statuses(result, row)
    _set_open(result, count)
    return result


class _Screen:
    """Statuses and open fields of one case, with the decisions ``recommend`` makes."""

    def __init__(self, ruleset: Ruleset, engine: str, as_of: dt.date) -> None:
        self.ruleset = ruleset
        self.as_of = as_of
        self.screen: Callable[[Facts, dt.date], Screened]
        if engine == "python":
            self.screen = compiled(ruleset).screen
        else:
            evaluate = evaluator(ruleset, engine)

            def screen(facts: Facts, on: dt.date) -> Screened:
                values = evaluate(facts, on)
                by_service = statuses(ruleset, values)
                return values, by_service, open_fields(ruleset, facts, values, tuple(by_service.values()))

            self.screen = screen

    def __call__(self, profile: Profile) -> CaseStatuses:
        if not isinstance(profile, CaseProfile):
            profile = CaseProfile.model_validate(profile)
        if profile.consents:
            check_consents(profile, self.ruleset)
        facts = facts_for(profile, self.as_of)
        values, by_service, missing = self.screen(facts, self.as_of)
        if (
            profile.municipality is None
            and "municipality" not in missing
            and self._unrouted(profile, facts, values, by_service)
        ):
            missing.add("municipality")
        return CaseStatuses(MappingProxyType(by_service), len(missing))

    def _unrouted(
        self, profile: CaseProfile, facts: Facts, values: Mapping[str, Tri], by_service: Mapping[str, Status]
    ) -> bool:
        """Whether recommend asks for the municipality: one of the steps it plans finds no partner.

        Planned exactly as :func:`referral_engine.recommend` plans them, but only for a profile
        without a municipality that has an open or eligible service (the rest need no planning).
        """
        if all(status is Status.NOT_ELIGIBLE for status in by_service.values()):
            return False
        decided = decide(self.ruleset, facts, self.as_of, values)
        routes = {
            d.service: safe_route(self.ruleset, d.service, profile, self.as_of, values)
            for d in decided
            if d.status is not Status.NOT_ELIGIBLE
        }
        return bool(unrouted(self.ruleset, decided, routes, profile, facts, self.as_of))


@dataclass(frozen=True)
class _Job:
    """What every row of a batch is decided with (sent once to each worker process)."""

    ruleset: Ruleset
    as_of: dt.date
    engine: str
    lang: str
    detail: Detail

    def decider(self) -> Callable[[Profile], Recommendation | CaseStatuses]:
        if self.detail == "statuses":
            return _Screen(self.ruleset, self.engine, self.as_of)
        ruleset, as_of, engine, lang = self.ruleset, self.as_of, self.engine, self.lang
        return lambda profile: recommend(profile, as_of=as_of, ruleset=ruleset, lang=lang, engine=engine)


Result = Recommendation | CaseStatuses | ProfileError


def _decide_rows(
    decide: Callable[[Profile], Recommendation | CaseStatuses],
    start: int,
    rows: Iterable[Profile],
    errors: Errors = "collect",
) -> Generator[Result, None, None]:
    """Each row's result in order; a bad row's ProfileError (with its index) as ``errors`` says."""
    for index, profile in enumerate(rows, start):
        try:
            result = decide(profile)
        except ProfileError as error:
            if errors == "skip":
                continue
            bad = ProfileError(error.problems, index=index)
            if errors == "raise":
                raise bad from None
            yield bad
        else:
            yield result


@overload
def recommend_many(
    profiles: Iterable[Profile],
    *,
    as_of: dt.date | None = ...,
    ruleset: Ruleset | None = ...,
    engine: str | None = ...,
    lang: Lang | str = ...,
    detail: Literal["full"] = ...,
    errors: Literal["raise", "skip"] = ...,
    processes: int | None = ...,
    chunk_size: int = ...,
) -> Generator[Recommendation, None, None]: ...
@overload
def recommend_many(
    profiles: Iterable[Profile],
    *,
    as_of: dt.date | None = ...,
    ruleset: Ruleset | None = ...,
    engine: str | None = ...,
    lang: Lang | str = ...,
    detail: Literal["statuses"],
    errors: Literal["raise", "skip"] = ...,
    processes: int | None = ...,
    chunk_size: int = ...,
) -> Generator[CaseStatuses, None, None]: ...
@overload
def recommend_many(
    profiles: Iterable[Profile],
    *,
    as_of: dt.date | None = ...,
    ruleset: Ruleset | None = ...,
    engine: str | None = ...,
    lang: Lang | str = ...,
    detail: Literal["full"] = ...,
    errors: Literal["collect"],
    processes: int | None = ...,
    chunk_size: int = ...,
) -> Generator[Recommendation | ProfileError, None, None]: ...
@overload
def recommend_many(
    profiles: Iterable[Profile],
    *,
    as_of: dt.date | None = ...,
    ruleset: Ruleset | None = ...,
    engine: str | None = ...,
    lang: Lang | str = ...,
    detail: Literal["statuses"],
    errors: Literal["collect"],
    processes: int | None = ...,
    chunk_size: int = ...,
) -> Generator[CaseStatuses | ProfileError, None, None]: ...
def recommend_many(
    profiles: Iterable[Profile],
    *,
    as_of: dt.date | None = None,
    ruleset: Ruleset | None = None,
    engine: str | None = None,
    lang: Lang | str = "de",
    detail: Detail = "full",
    errors: Errors = "raise",
    processes: int | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Generator[Any, None, None]:
    """Decide many cases, yielding one result per profile in input order (a generator).

    ``profiles`` is any iterable of :class:`CaseProfile` or mappings; it is read as the results
    are consumed, so memory stays constant however long it is. ``as_of`` (default: today, fixed
    once for the whole batch), ``ruleset``, ``engine`` and ``lang`` are those of
    :func:`~referral_engine.recommend`.

    ``detail="full"`` yields :class:`Recommendation` objects equal to ``recommend``'s;
    ``detail="statuses"`` yields a light :class:`CaseStatuses` per case (statuses and the
    number of open fields, no reasons, steps or change dates). ``errors`` is ``"raise"``,
    ``"skip"`` or ``"collect"`` (see the module documentation). ``processes=N`` decides chunks of
    ``chunk_size`` cases in ``N`` worker processes, still in order; they are started with
    ``spawn``, so a script that uses them needs the ``if __name__ == "__main__":`` guard.

    Arguments are checked at once (a :class:`UsageError`); the cases when the results are read.
    To stop early, ``close()`` the generator (or drop it): with processes, that shuts the pool down.
    """
    day = check_as_of(as_of)
    if detail not in get_args(Detail):
        raise UsageError("detail must be 'full' or 'statuses'")
    if errors not in get_args(Errors):
        raise UsageError("errors must be 'raise', 'skip' or 'collect'")
    if processes is not None and (not isinstance(processes, int) or processes < 1):
        raise UsageError("processes must be a positive number of worker processes, or None")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise UsageError("chunk_size must be a positive number of cases")
    if ruleset is None:
        ruleset = default_ruleset()
    elif not isinstance(ruleset, Ruleset):
        raise UsageError("ruleset must be a Ruleset from load_ruleset() or default_ruleset()")
    lang = ruleset.check_language(lang)
    job = _Job(ruleset, day, resolve(engine, ruleset), lang, detail)
    if processes is None and detail == "statuses" and job.engine == "python" and columnar_available():
        return _screen_chunks(ruleset, day, profiles, errors)
    if processes is None:
        return _decide_rows(job.decider(), 0, profiles, errors)
    return _apply(_pooled(job, profiles, processes, chunk_size), errors)


def _apply(results: Iterator[Result], errors: Errors) -> Generator[Result, None, None]:
    for result in results:
        if isinstance(result, ProfileError):
            if errors == "raise":
                raise result
            if errors == "skip":
                continue
        yield result


# -- the columnar engine -------------------------------------------------------------------------------


def columnar_available() -> bool:
    """Whether the columnar engine can run here (numpy is installed: the ``frame`` extra)."""
    try:
        return importlib.util.find_spec("numpy") is not None
    except (ImportError, ValueError):  # a broken or blocked numpy
        return False


def _screen_chunks(
    ruleset: Ruleset, as_of: dt.date, profiles: Iterable[Profile], errors: Errors
) -> Generator[Result, None, None]:
    """Each profile's CaseStatuses (or its ProfileError, with its index), chunk by chunk, in order.

    Rows are validated one by one as ``recommend`` validates them (the profile, its consents);
    the valid ones of a chunk are screened together by the columnar engine. A row that
    ``facts_for`` rejects gets the very error it raises. Bad rows are raised, skipped or
    yielded as ``errors`` says (see the module documentation).
    """
    from .columnar import columnar, screen_profiles

    engine = columnar(ruleset)
    single: _Screen | None = None
    rows = iter(profiles)
    start = 0
    while chunk := list(itertools.islice(rows, COLUMNAR_CHUNK)):
        if len(chunk) < COLUMNAR_MIN:
            single = single or _Screen(ruleset, "python", as_of)
            yield from _decide_rows(single, start, chunk, errors)
            start += len(chunk)
            continue
        if set(map(type, chunk)) == {CaseProfile} and not any(map(_CONSENTS, chunk)):
            valid: list[CaseProfile] = chunk  # type: ignore[assignment]  # checked just above
            positions: list[int] | None = None  # every row is valid: row i is valid[i]
            results: list[Result] = []
        else:
            results_: list[Result | None] = [None] * len(chunk)
            valid, positions = [], []
            for position, profile in enumerate(chunk):
                try:
                    if not isinstance(profile, CaseProfile):
                        profile = CaseProfile.model_validate(profile)
                    if profile.consents:
                        check_consents(profile, ruleset)
                except ProfileError as error:
                    results_[position] = ProfileError(error.problems, index=start + position)
                else:
                    valid.append(profile)
                    positions.append(position)
        bad: dict[int, ProfileError] = {}
        if valid:
            screened, rejected = screen_profiles(ruleset, valid, as_of)
            found = _case_statuses_of(engine, screened)
            for index in rejected:
                try:
                    facts_for(valid[index], as_of)
                except ProfileError as error:
                    bad[index] = error
                else:  # pragma: no cover - the columnar checks are those of facts_for
                    raise AssertionError("a row the columnar engine rejected passed facts_for")
            if positions is None:
                results = list(found)
                for index, problem in bad.items():
                    results[index] = ProfileError(problem.problems, index=start + index)
            else:
                for index, (row, result) in enumerate(zip(positions, found, strict=True)):
                    results_[row] = (
                        ProfileError(bad[index].problems, index=start + row) if index in bad else result
                    )
        if positions is not None:
            results = [result for result in results_ if result is not None]
        start += len(chunk)
        if positions is None and not bad:  # every row valid
            yield from results
        else:
            yield from _apply(iter(results), errors)


def _case_statuses_of(engine: ColumnarRules, screened: Columns) -> list[CaseStatuses]:
    """A CaseStatuses per row of a columnar result; equal rows share one (frozen) object.

    Each row's statuses and count become one integer (a base-3 digit per service, the count
    above them), looked up in the rule set's memo of results; only new ones are built.
    """
    import numpy as np

    from .columnar import STATUSES

    services = engine.services
    width = len(services)
    if width > 30:  # pragma: no cover - the integer would not fit: one object per row
        return [
            CaseStatuses(
                MappingProxyType({s: STATUSES[c] for s, c in zip(services, row, strict=True)}), int(count)
            )
            for row, count in zip(screened.codes.tolist(), screened.open_fields.tolist(), strict=True)
        ]
    base = 3**width
    keys: list[int] = (
        screened.codes.astype(np.int64) @ (3 ** np.arange(width, dtype=np.int64))
        + screened.open_fields.astype(np.int64) * base
    ).tolist()
    memo = engine.memo.setdefault("results_by_key", {})
    assert isinstance(memo, dict)
    if len(memo) >= RESULTS_MEMO:
        memo.clear()

    index = engine.memo.setdefault("service_index", {service: n for n, service in enumerate(services)})
    assert isinstance(index, dict)
    new = set(keys).difference(memo)
    if new:
        last = dict(
            zip(keys, range(len(keys)), strict=True)
        )  # a row of each key, to read its codes in one call
        fresh = list(new)
        rows = screened.codes[[last[key] for key in fresh]].tolist()
        for key, codes in zip(fresh, rows, strict=True):
            memo[key] = _from_codes(services, index, tuple(codes), key // base)
    try:
        return list(map(memo.__getitem__, keys))
    except KeyError:  # another thread cleared the memo meanwhile: each row its own result
        counts = screened.open_fields.tolist()
        return [
            _from_codes(services, index, tuple(codes), count)
            for codes, count in zip(screened.codes.tolist(), counts, strict=True)
        ]


# -- worker processes -------------------------------------------------------------------------------

_worker: Callable[[Profile], Recommendation | CaseStatuses] | None = None


def _start_worker(job: _Job) -> None:
    global _worker
    _worker = job.decider()


def _decide_chunk(start: int, rows: list[Profile]) -> list[Result]:
    assert _worker is not None, "worker not started"
    return list(_decide_rows(_worker, start, rows))


def _pooled(job: _Job, profiles: Iterable[Profile], processes: int, chunk_size: int) -> Iterator[Result]:
    """Chunks decided by ``processes`` workers, yielded in order; at most two chunks per worker ahead."""
    pool = ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(job,),
    )
    pending: deque[Future[list[Result]]] = deque()
    rows = iter(profiles)
    try:
        start = 0
        while chunk := list(itertools.islice(rows, chunk_size)):
            pending.append(pool.submit(_decide_chunk, start, chunk))
            start += len(chunk)
            if len(pending) >= 2 * processes:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
