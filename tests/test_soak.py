"""The durable engine under load, at small scale: the checks of ``benchmarks/soak_durable.py``.

The script runs them at full scale (8 threads x 5,000 cases, a million cases); these tests use
its functions, so both always check the same thing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from referral_engine import Ruleset, default_ruleset
from referral_engine.engines import durable_available

from .conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import soak_durable  # benchmarks/ is a folder of scripts, not a package

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not durable_available(), reason="durable-rules is not installed"),
]


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    """The bundled rules, shared by every thread as in production."""
    return default_ruleset()


def test_threads_sharing_one_ruleset_get_exactly_the_sequential_recommendations(ruleset: Ruleset) -> None:
    """Eight threads deciding 300 cases each with the durable engine get the sequential results."""
    outcome = soak_durable.check_threads(ruleset, threads=8, per_thread=300, seed=11)
    assert outcome.ok, outcome.failures


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS from /proc (Linux)")
def test_twenty_thousand_evaluations_grow_resident_memory_by_less_than_20_mib(ruleset: Ruleset) -> None:
    """20,000 cases on the durable evaluator, each equal to the python engine, leave RSS flat."""
    outcome = soak_durable.check_memory(ruleset, cases=20_000, warmup=2_000, seed=12, max_growth_mib=20)
    assert outcome.ok, outcome.failures


def test_colliding_session_ids_never_mix_two_cases(ruleset: Ruleset) -> None:
    """Profiles labelled case-478212 and case-1221200, interleaved and from two threads, stay apart."""
    outcome = soak_durable.check_collision(ruleset, rounds=200)
    assert outcome.ok, outcome.failures
    assert outcome.figures["raw_durable_mixes"], "control: durable itself mixes these two session ids"
