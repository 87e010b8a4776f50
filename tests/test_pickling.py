"""A rule set pickles for process pools: same recommendations after a round trip, rebuilt once per process."""

from __future__ import annotations

import dataclasses
import datetime as dt
import multiprocessing
import os
import pickle
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import pytest

from referral_engine import Recommendation, Ruleset, _pickling, default_ruleset, load_ruleset, recommend
from referral_engine.models import Lang

from .conftest import REPO

DAY = dt.date(2026, 3, 1)
LANGS: tuple[Lang, ...] = ("de", "en")
PROFILES: tuple[dict[str, object], ...] = (
    {"age": 19, "residence_status": "gestattung", "municipality": "Staufen"},
    {"birth_date": "1990-04-02", "residence_status": "settlement", "entry_date": "2024-05-01"},
    {"accommodation": "anschlussunterbringung", "accommodation_since": "2023-03-01"},
    {},
)


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    """Each test starts with no rule set remembered by this process."""
    _pickling.clear_cache()
    yield
    _pickling.clear_cache()


def _round_trip(ruleset: Ruleset) -> Ruleset:
    data = pickle.dumps(ruleset)
    _pickling.clear_cache()  # as in another process
    copy = pickle.loads(data)
    assert isinstance(copy, Ruleset)
    return copy


def test_a_pickled_rule_set_gives_equal_recommendations() -> None:
    """The bundled rules after a round trip are a new object with the same rules and recommendations."""
    rules = default_ruleset()
    copy = _round_trip(rules)
    assert copy is not rules
    assert copy.ruleset_version == rules.ruleset_version
    assert copy.rules == rules.rules
    assert copy.steps == rules.steps
    for profile in PROFILES:
        for lang in LANGS:
            expected = recommend(profile, as_of=DAY, ruleset=rules, lang=lang)
            assert recommend(profile, as_of=DAY, ruleset=copy, lang=lang) == expected


def test_unpickling_the_same_rule_set_again_rebuilds_nothing() -> None:
    """A second unpickle in the same process returns the rule set the first one rebuilt."""
    data = pickle.dumps(default_ruleset())
    _pickling.clear_cache()
    before = _pickling.rebuilds
    first = pickle.loads(data)
    assert pickle.loads(data) is first
    assert pickle.loads(pickle.dumps(first)) is first
    assert _pickling.rebuilds == before + 1


def test_pickling_and_unpickling_in_one_process_gives_the_rule_set_back() -> None:
    """Without a process boundary the original rule set comes back, nothing is rebuilt."""
    rules = default_ruleset()
    before = _pickling.rebuilds
    assert pickle.loads(pickle.dumps(rules)) is rules
    assert _pickling.rebuilds == before


def test_the_default_engine_survives_the_round_trip() -> None:
    """A rule set's own default engine is pickled with it."""
    python = _round_trip(default_ruleset().with_engine("python"))
    assert python.engine == "python"
    plain = _round_trip(default_ruleset())
    assert plain.engine is None
    assert recommend(PROFILES[0], as_of=DAY, ruleset=plain) == recommend(
        PROFILES[0], as_of=DAY, ruleset=python
    )


def test_a_rule_set_changed_in_memory_round_trips_as_changed(minimal_ruleset: Ruleset) -> None:
    """A rule set built with dataclasses.replace pickles as itself, not as the files it came from."""
    changed = dataclasses.replace(minimal_ruleset, rules=minimal_ruleset.rules[:1])
    copy = _round_trip(changed)
    assert copy.rules == changed.rules
    assert copy.rules != minimal_ruleset.rules
    assert _round_trip(minimal_ruleset).rules == minimal_ruleset.rules


def test_an_overlay_rule_set_round_trips() -> None:
    """A rule set loaded from a folder that extends the bundled rules pickles like any other."""
    rules = load_ruleset(REPO / "examples" / "deployment")
    copy = _round_trip(rules)
    assert copy.rules == rules.rules
    assert recommend(PROFILES[0], as_of=DAY, ruleset=copy) == recommend(PROFILES[0], as_of=DAY, ruleset=rules)


def _task(ruleset: Ruleset, profile: dict[str, object]) -> tuple[int, int, int, Recommendation]:
    """In a worker: which process, how often it rebuilt a rule set, which copy it used, the result."""
    return os.getpid(), _pickling.rebuilds, id(ruleset), recommend(profile, as_of=DAY, ruleset=ruleset)


def test_a_process_pool_worker_rebuilds_a_rule_set_once_however_many_tasks_carry_it() -> None:
    """Tasks that each carry the rule set to two fresh worker processes rebuild it once per process."""
    rules = default_ruleset()
    expected = [recommend(profile, as_of=DAY, ruleset=rules) for profile in PROFILES]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        futures = [pool.submit(_task, rules, profile) for _ in range(6) for profile in PROFILES]
        results = [future.result() for future in futures]
    copies: dict[int, set[int]] = {}
    for index, (pid, rebuilt, copy, recommendation) in enumerate(results):
        assert rebuilt == 1
        copies.setdefault(pid, set()).add(copy)
        assert recommendation == expected[index % len(PROFILES)]
    assert all(len(ids) == 1 for ids in copies.values())
