"""Reasons, next steps and change dates are built on first access, and nobody can tell.

``recommend()`` decides statuses, partners and questions at once and leaves the rest to a
builder (``models._Lazy``). These tests show that a lazy result behaves like one built eagerly in
every way a caller can observe: values, equality, hashing, JSON, nesting in a host model,
pickling, copies, threads and the languages.
"""

from __future__ import annotations

import copy
import datetime as dt
import gc
import pickle
import threading
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from referral_engine import CaseProfile, Recommendation, ServiceDecision, default_ruleset, recommend

from .strategies import cases

AS_OF = dt.date(2026, 3, 1)
PROFILE = {
    "age": 22,
    "residence_status": "ae_25_2_refugee",
    "language_level": "A2",
    "municipality": "Staufen im Breisgau",
    "benefits": "sgb2",
    "entry_date": "2023-05-02",
}
LAZY_RECOMMENDATION = {"next_steps", "changes", "translation"}
LAZY_DECISION = {"reasons", "valid_until"}


def _fresh(lang: str = "en", **extra: Any) -> Recommendation:
    return recommend({**PROFILE, **extra}, as_of=AS_OF, lang=lang)


def _unbuilt(model: Recommendation | ServiceDecision) -> set[str]:
    """The lazy fields not built yet (white box: what the laziness is about)."""
    return set(type(model)._lazy_fields) - set(model.__dict__)


def test_a_fresh_recommendation_has_built_nothing_lazy() -> None:
    """Statuses, partners and questions are there; reasons, steps and changes wait to be read."""
    rec = _fresh()
    assert rec.eligible
    assert _unbuilt(rec) == LAZY_RECOMMENDATION
    assert all(_unbuilt(d) == LAZY_DECISION for d in rec.decisions)
    jmd = rec.decision("jmd")
    assert jmd.status == "eligible"
    assert jmd.partners  # read without building anything
    assert _unbuilt(jmd) == LAZY_DECISION


def test_reading_one_field_builds_only_what_it_needs() -> None:
    rec = _fresh()
    reasons = rec.decision("jmd").reasons
    assert {r.rule for r in reasons if r.outcome == "holds"}
    assert _unbuilt(rec.decision("jmd")) == {"valid_until"}
    assert _unbuilt(rec.decision("mbe")) == LAZY_DECISION
    assert _unbuilt(rec) == LAZY_RECOMMENDATION
    assert rec.next_steps
    assert _unbuilt(rec) == {"changes", "translation"}


def _read_everything(rec: Recommendation) -> None:
    for decision in rec.decisions:
        _ = decision.reasons, decision.valid_until
    _ = rec.next_steps, rec.changes, rec.translation


@settings(max_examples=60, deadline=None)
@given(cases(), st.sampled_from(["de", "en", "uk", "ar"]), st.randoms(use_true_random=False))
def test_any_order_of_reading_gives_the_same_result(
    case: tuple[CaseProfile, dt.date], lang: str, random: Any
) -> None:
    """Dumped at once, read field by field in any order, or rebuilt from JSON: the same result."""
    profile, as_of = case
    at_once = recommend(profile, as_of=as_of, lang=lang).model_dump(mode="json")
    rec = recommend(profile, as_of=as_of, lang=lang)
    parts: list[Any] = [*rec.decisions, rec]
    random.shuffle(parts)
    for part in parts:
        names = sorted(type(part)._lazy_fields)
        random.shuffle(names)
        for name in names:
            getattr(part, name)
    assert rec.model_dump(mode="json") == at_once
    lazy = recommend(profile, as_of=as_of, lang=lang)
    assert Recommendation.model_validate_json(rec.model_dump_json()) == lazy
    assert lazy == rec


def test_equality_and_hash_do_not_depend_on_what_was_read() -> None:
    read, unread = _fresh(), _fresh()
    _read_everything(read)
    assert read == unread
    assert unread == read
    assert hash(_fresh()) == hash(read)
    assert _fresh() != _fresh(age=30)
    assert read.decision("jmd") == _fresh().decision("jmd")


def test_a_host_model_dumps_the_lazy_fields() -> None:
    """Nested in an application's pydantic model, the unbuilt fields are built for its dump."""

    class Reply(BaseModel):
        request_id: str
        result: Recommendation

    reply = Reply(request_id="r-1", result=_fresh())
    dumped = reply.model_dump(mode="json")
    assert dumped["result"]["next_steps"]
    assert dumped["result"]["decisions"][0]["reasons"]
    assert Reply.model_validate_json(reply.model_dump_json()).result == _fresh()


@pytest.mark.parametrize(
    "duplicate",
    [
        pytest.param(lambda rec: pickle.loads(pickle.dumps(rec)), id="pickle"),
        pytest.param(copy.copy, id="copy"),
        pytest.param(copy.deepcopy, id="deepcopy"),
        pytest.param(lambda rec: rec.model_copy(), id="model_copy"),
        pytest.param(lambda rec: rec.model_copy(update={"lang": "en"}), id="model_copy-update"),
    ],
)
def test_copies_and_pickles_carry_every_field(duplicate: Any) -> None:
    copied = duplicate(_fresh())
    assert copied == _fresh()
    assert copied.next_steps == _fresh().next_steps
    assert copied.decision("jmd").reasons == _fresh().decision("jmd").reasons


def test_iteration_and_repr_see_the_built_fields() -> None:
    assert dict(_fresh())["next_steps"] == _fresh().next_steps
    assert f"next_steps={len(_fresh().next_steps)}" in repr(_fresh())


def test_threads_reading_one_result_at_once_agree() -> None:
    """Many threads build the same fields of one fresh result at the same time: one value each."""
    expected = _fresh()
    _read_everything(expected)
    for _ in range(20):
        rec = _fresh()
        seen: list[tuple[object, ...]] = []
        barrier = threading.Barrier(8)

        def read(
            rec: Recommendation = rec, barrier: threading.Barrier = barrier, seen: list[Any] = seen
        ) -> None:
            barrier.wait()
            seen.append(
                (rec.next_steps, rec.changes, *(d.reasons for d in rec.decisions), rec.model_dump_json())
            )

        threads = [threading.Thread(target=read) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(seen) == 8
        assert all(item == seen[0] for item in seen)
        assert rec == expected


def test_a_settled_result_lets_go_of_the_case() -> None:
    """Once every lazy field is built, the result no longer holds the profile it was made from."""
    profile = CaseProfile.model_validate(PROFILE)
    ref = weakref.ref(profile)
    rec = recommend(profile, as_of=AS_OF)
    del profile
    gc.collect()
    assert ref() is not None  # the builder still needs it
    rec.model_dump()
    gc.collect()
    assert ref() is None


def test_a_catalogue_language_marks_fallbacks_lazily() -> None:
    rec = _fresh(lang="uk")
    assert _unbuilt(rec) == LAZY_RECOMMENDATION
    assert rec.translation is not None
    assert rec.translation.language == "uk"
    assert rec.next_steps == recommend({**PROFILE}, as_of=AS_OF, lang="uk").model_copy().next_steps


def test_reasons_hold_the_case_values_without_a_shared_memo() -> None:
    """The reasons show this case's own values (built per result; no memo shared between cases)."""
    rec = recommend({**PROFILE, "age": 23}, as_of=AS_OF)
    shown = {c.actual for r in rec.decision("jmd").reasons for c in r.conditions if c.field == "age"}
    assert shown == {23}
    other = recommend({**PROFILE, "age": 24}, as_of=AS_OF, ruleset=default_ruleset())
    assert {c.actual for r in other.decision("jmd").reasons for c in r.conditions if c.field == "age"} == {24}


def test_an_unread_recommendation_is_freed_without_the_garbage_collector() -> None:
    """No reference cycle: dropping a result frees it (and its case) at once, read or not."""
    readers: list[Callable[[Recommendation], object]] = [
        lambda rec: None,
        lambda rec: rec.decisions[0].reasons,
        _read_everything,
    ]
    for read in readers:
        rec = _fresh(lang="uk")
        read(rec)
        refs: list[weakref.ref[Any]] = [weakref.ref(rec), weakref.ref(rec.decisions[0])]
        enabled = gc.isenabled()
        gc.disable()
        try:
            del rec
            assert [ref() for ref in refs] == [None, None]
        finally:
            if enabled:
                gc.enable()


def test_settling_one_decision_leaves_its_siblings_lazy() -> None:
    """The decisions of one result share their builder until each is settled on its own."""
    rec, eager = _fresh(), _fresh()
    _read_everything(eager)
    first, second = rec.decisions[0], rec.decisions[1]
    first.model_dump()  # settles the first: it lets go of the builder
    assert first._pending() is None
    assert _unbuilt(second) == LAZY_DECISION
    assert second._pending() is not None
    assert second.reasons == eager.decisions[1].reasons
    assert rec == eager


def test_the_json_lists_the_fields_in_order_whichever_was_read_first() -> None:
    """Read in any order, a result dumps the very JSON text of the same result built eagerly."""
    rec = _fresh(lang="uk")
    rec.decisions[0].valid_until  # noqa: B018 (read before reasons, unlike the declared order)
    rec.changes  # noqa: B018
    text = rec.model_dump_json()
    assert text == Recommendation.model_validate_json(text).model_dump_json()
    assert list(rec.decisions[0].model_dump()) == list(ServiceDecision.model_fields)
