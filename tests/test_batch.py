"""recommend_many: many cases in input order, full or statuses only, bad rows by index, in processes."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from referral_engine import (
    CaseProfile,
    CaseStatuses,
    ProfileError,
    Recommendation,
    Status,
    UsageError,
    default_ruleset,
    recommend,
    recommend_many,
)
from referral_engine.batch import COLUMNAR_CHUNK
from referral_engine.engines import durable_available

from .conftest import examples
from .strategies import cases

DAY = dt.date(2026, 3, 1)
SECRET = "1987-06-05"
ROWS: list[Any] = [
    {"age": 19, "residence_status": "gestattung", "municipality": "Staufen"},
    {"birth_date": SECRET, "age": 99},  # age and birth date disagree
    {"accommodation": "anschlussunterbringung", "accommodation_since": "2023-03-01"},
    {"age": "nineteen"},  # not a number
    CaseProfile(age=45, residence_status="settlement", entry_date=dt.date(2024, 5, 1)),
    {},
]
GOOD = [0, 2, 4, 5]


def _screened(profile: CaseProfile, as_of: dt.date) -> tuple[dict[str, Status], int]:
    rec = recommend(profile, as_of=as_of)
    return {d.service: d.status for d in rec.decisions}, len(rec.missing)


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_statuses_are_the_decisions_and_open_fields_of_recommend(case: tuple[CaseProfile, dt.date]) -> None:
    """A generated case screens to the decisions of recommend and as many open fields as it has missing."""
    profile, as_of = case
    (found,) = recommend_many([profile], as_of=as_of, detail="statuses", engine="python")
    statuses, open_fields = _screened(profile, as_of)
    assert dict(found.statuses) == statuses
    assert list(found.statuses) == [service.id for service in default_ruleset().services]
    assert found.open_fields == open_fields
    assert found.eligible == tuple(s for s in found.statuses if statuses[s] is Status.ELIGIBLE)


@pytest.mark.skipif(not durable_available(), reason="durable-rules is not installed")
@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_statuses_on_the_durable_engine_are_the_same(case: tuple[CaseProfile, dt.date]) -> None:
    """The durable engine screens a generated case to the same statuses and open fields."""
    profile, as_of = case
    (python,) = recommend_many([profile], as_of=as_of, detail="statuses", engine="python")
    (durable,) = recommend_many([profile], as_of=as_of, detail="statuses", engine="durable")
    assert durable == python


def test_full_detail_yields_recommend_s_recommendations_in_input_order() -> None:
    """Each good row gives the Recommendation recommend gives it, in the order of the input."""
    good = [ROWS[i] for i in GOOD]
    results = list(recommend_many(good, as_of=DAY, lang="en"))
    assert results == [recommend(row, as_of=DAY, lang="en") for row in good]
    # Every language of the rule set, the catalogues' too, as recommend() writes it.
    ukrainian = list(recommend_many(good, as_of=DAY, lang="uk"))
    assert ukrainian == [recommend(row, as_of=DAY, lang="uk") for row in good]
    assert {rec.lang for rec in ukrainian} == {"uk"}
    assert all(isinstance(result, Recommendation) for result in results)


def test_the_input_is_read_only_as_results_are_consumed() -> None:
    """A generator of profiles is consumed one row per result, so memory stays constant."""
    read: list[int] = []

    def rows() -> Iterator[dict[str, Any]]:
        for index in range(10_000):
            read.append(index)
            yield {"age": index % 90}

    results = recommend_many(rows(), as_of=DAY)
    assert read == []
    first = next(results)
    assert isinstance(first, Recommendation)
    assert read == [0]
    next(results)
    assert read == [0, 1]


def test_statuses_read_the_input_one_chunk_ahead_at_most() -> None:
    """The columnar engine reads a chunk of profiles at a time: memory stays bounded by the chunk."""
    read: list[int] = []

    def rows() -> Iterator[dict[str, Any]]:
        for index in range(3 * COLUMNAR_CHUNK):
            read.append(index)
            yield {"age": index % 90}

    results = recommend_many(rows(), as_of=DAY, detail="statuses")
    assert read == []
    assert isinstance(next(results), CaseStatuses)
    assert len(read) == COLUMNAR_CHUNK
    for _ in range(COLUMNAR_CHUNK):
        next(results)
    assert len(read) == 2 * COLUMNAR_CHUNK


def test_a_bad_row_raises_a_profile_error_naming_its_index_and_never_its_values() -> None:
    """With errors='raise' the rows before a bad row are yielded, then its index is reported."""
    results = recommend_many(ROWS, as_of=DAY)
    assert isinstance(next(results), Recommendation)
    with pytest.raises(ProfileError, match="at index 1 of the batch") as caught:
        next(results)
    assert caught.value.index == 1
    assert [problem.field for problem in caught.value.problems] == ["age"]
    assert SECRET not in str(caught.value)
    assert "99" not in str(caught.value)
    assert "nineteen" not in repr(caught.value)


def test_skip_leaves_bad_rows_out() -> None:
    """With errors='skip' only the good rows' results come, in order."""
    results = list(recommend_many(ROWS, as_of=DAY, detail="statuses", errors="skip"))
    expected = list(recommend_many([ROWS[i] for i in GOOD], as_of=DAY, detail="statuses"))
    assert results == expected
    assert len(results) == len(GOOD)


def test_collect_yields_each_bad_row_s_error_in_its_place() -> None:
    """With errors='collect' the n-th result belongs to the n-th row, errors included."""
    results = list(recommend_many(ROWS, as_of=DAY, errors="collect"))
    assert len(results) == len(ROWS)
    for index, result in enumerate(results):
        if index in GOOD:
            assert result == recommend(ROWS[index], as_of=DAY)
        else:
            assert isinstance(result, ProfileError)
            assert result.index == index
    assert isinstance(results[3], ProfileError)
    assert [problem.field for problem in results[3].problems] == ["age"]


def test_a_consent_recommend_rejects_is_a_bad_row_for_statuses_too() -> None:
    """A consent naming an unknown partner makes the row bad in either detail, as in recommend."""
    consent = {"partner": "nobody", "purpose": "mbe", "categories": ["identity"], "given_on": "2026-01-05"}
    row = {"age": 30, "consents": [consent]}
    with pytest.raises(ProfileError):
        recommend(row, as_of=DAY)
    for detail in ("full", "statuses"):
        (result,) = recommend_many([row], as_of=DAY, detail=detail, errors="collect")
        assert isinstance(result, ProfileError)
        assert result.index == 0
        assert [p.field for p in result.problems] == ["consents.0.partner"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"detail": "reasons"}, "detail must be"),
        ({"errors": "ignore"}, "errors must be"),
        ({"processes": 0}, "processes must be"),
        ({"chunk_size": 0}, "chunk_size must be"),
        ({"lang": "fr"}, "lang must be"),
        ({"as_of": "2026-03-01"}, "as_of must be"),
        ({"engine": "drools"}, "engine must be"),
        ({"ruleset": "rules/"}, "ruleset must be"),
    ],
)
def test_wrong_arguments_are_usage_errors_at_the_call(arguments: dict[str, Any], message: str) -> None:
    """A wrong argument fails when recommend_many is called, before any row is read."""
    with pytest.raises(UsageError, match=message):
        recommend_many(iter(()), **arguments)


def test_the_statuses_of_a_case_are_frozen_picklable_and_show_no_facts() -> None:
    """A CaseStatuses cannot be changed, pickles, hashes and its repr shows services and counts only."""
    (found,) = recommend_many([ROWS[4]], as_of=DAY, detail="statuses")
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.open_fields = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        found.statuses["mbe"] = Status.ELIGIBLE  # type: ignore[index]
    assert pickle.loads(pickle.dumps(found)) == found
    assert hash(pickle.loads(pickle.dumps(found))) == hash(found)
    assert "mbe" in repr(found)
    assert "settlement" not in repr(found)
    assert "2024" not in repr(found)


def test_a_profile_error_pickles_with_its_problems_and_index() -> None:
    """A batch's ProfileError survives pickling (a worker process sends it) unchanged."""
    (error,) = recommend_many([ROWS[3]], as_of=DAY, errors="collect")
    assert isinstance(error, ProfileError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.problems, copy.index, str(copy)) == (error.problems, error.index, str(error))


def test_worker_processes_give_the_same_results_in_the_same_order() -> None:
    """With two worker processes and small chunks, results and errors equal the in-process ones."""
    rows = ROWS * 7
    for detail in ("full", "statuses"):
        alone = list(recommend_many(rows, as_of=DAY, detail=detail, errors="collect"))
        pooled = list(
            recommend_many(rows, as_of=DAY, detail=detail, errors="collect", processes=2, chunk_size=4)
        )
        assert [type(result) for result in pooled] == [type(result) for result in alone]
        assert [r for r in pooled if not isinstance(r, ProfileError)] == [
            r for r in alone if not isinstance(r, ProfileError)
        ]
        assert [r.index for r in pooled if isinstance(r, ProfileError)] == [
            r.index for r in alone if isinstance(r, ProfileError)
        ]


def test_worker_processes_raise_at_the_first_bad_row_and_stop() -> None:
    """With processes and errors='raise' the good rows before the first bad one come, then its error."""
    results = recommend_many(ROWS, as_of=DAY, detail="statuses", processes=2, chunk_size=1)
    first = next(results)
    assert first == next(iter(recommend_many(ROWS[:1], as_of=DAY, detail="statuses")))
    with pytest.raises(ProfileError, match="at index 1 of the batch") as caught:
        next(results)
    assert SECRET not in str(caught.value)
    results.close()


def test_a_batch_s_statuses_read_equal_hash_and_pickle_as_those_decided_case_by_case() -> None:
    """The columnar engine's results (status codes read on access) behave as the case-by-case dicts do."""
    profiles = [
        CaseProfile(age=age, residence_status=status, municipality=town)
        for age in (None, 14, 30)
        for status in (None, "gestattung", "settlement", "undocumented")
        for town in (None, "Staufen")
    ] * 3
    assert len(profiles) >= 48  # COLUMNAR_MIN: decided on the columnar engine, not case by case
    batch = list(recommend_many(profiles, as_of=DAY, detail="statuses"))
    one_by_one = [next(iter(recommend_many([profile], as_of=DAY, detail="statuses"))) for profile in profiles]
    services = [service.id for service in default_ruleset().services]
    for found, expected in zip(batch, one_by_one, strict=True):
        statuses = found.statuses
        assert type(statuses) is not type(expected.statuses)  # the two paths really differ
        assert found == expected
        assert expected == found
        assert statuses == expected.statuses
        assert expected.statuses == statuses
        assert statuses == dict(expected.statuses)
        assert dict(statuses) == dict(expected.statuses)
        assert hash(found) == hash(expected)
        assert list(statuses) == services == list(statuses.keys())
        assert list(statuses.items()) == list(expected.statuses.items())
        assert list(statuses.values()) == list(expected.statuses.values())
        assert len(statuses) == len(services)
        assert "jmd" in statuses
        assert "nope" not in statuses
        assert statuses["jmd"] is expected.statuses["jmd"]
        assert statuses.get("nope") is None
        assert repr(statuses) == repr(dict(expected.statuses))
        assert found.eligible == expected.eligible
        assert found.undetermined == expected.undetermined
        again = pickle.loads(pickle.dumps(found))
        assert again == found
        assert hash(again) == hash(found)
        with pytest.raises(KeyError):
            statuses["nope"]
        with pytest.raises(TypeError):
            hash(statuses)  # like a dict
    assert collections.Counter(batch) == collections.Counter(one_by_one)
