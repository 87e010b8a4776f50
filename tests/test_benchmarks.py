"""The equivalence claims of the benchmark scripts, at small scale, so they cannot rot.

``benchmarks/bench_peers.py`` times other rule engines on the decision step of
``benchmarks/bench_engines.py``; both first check that every contender gives the hand-written
function's statuses. These tests run the same checks on a few hundred cases (no timing). The
peers come with the ``bench`` extra, which the ``test`` extra does not install: a peer that is not
installed is skipped, the conditions every peer is generated from are always checked.
"""

from __future__ import annotations

import sys

import pytest

from referral_engine import default_ruleset
from referral_engine.compiled import compiled

from .conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import bench_engines  # benchmarks/ is a folder of scripts, not a package
import bench_peers

CASES = list(bench_peers.generated(300, seed=19))


def test_the_hand_written_function_decides_like_the_python_engine() -> None:
    """bench_engines' yardstick still follows the bundled rules for its four services."""
    subset = bench_engines.subset_ruleset(default_ruleset(), bench_engines.SUBSET)
    run = compiled(subset).run
    order = [service.id for service in subset.services]
    for facts, as_of in CASES:
        found = dict(zip(order, run(facts, as_of)[1], strict=True))
        statuses = tuple(bench_engines.STATUS_VALUE[found[service]] for service in bench_engines.SUBSET)
        assert statuses == bench_engines.hand_written(facts, as_of)


def test_the_conditions_the_peers_are_generated_from_decide_like_the_hand_written_function() -> None:
    """DECISION (surely eligible / surely not eligible per service) gives the hand-written statuses."""
    assert bench_peers.check(CASES, []) == {"conditions (plain Python)": 0}
    statuses = {status for case in CASES for status in bench_engines.hand_written(*case)}
    assert statuses == {True, False, None}, "the cases should reach every status"


# Raw durable-rules' Python actions call datetime.utcfromtimestamp, deprecated from Python 3.12 on
# (the library's own durable adapter never runs them).
@pytest.mark.filterwarnings("ignore:datetime.datetime.utcfromtimestamp:DeprecationWarning")
@pytest.mark.parametrize("peer", bench_peers.PEERS)
def test_each_installed_peer_gives_the_hand_written_statuses(peer: str) -> None:
    """A peer's rules, generated from DECISION, decide every case as the hand-written function does."""
    if peer not in bench_peers.installed():
        pytest.skip(f"{peer} is not installed (pip install -e '.[bench]')")
    wrong = bench_peers.check(CASES, [peer])
    assert len(wrong) > 1, "the peer was not run"
    assert not any(wrong.values()), wrong


def test_the_durable_floor_probe_fires_what_the_adapter_fires(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """durable_floor.py checks its raw core calls against the adapter before timing; on 40 cases here."""
    pytest.importorskip("durable_rules_engine")  # the durable extra, which `test` does not install
    import durable_floor

    monkeypatch.setattr(sys, "argv", ["durable_floor.py", "--cases", "40", "--repeats", "3"])
    durable_floor.main()  # exits with a message if any contender fires other patterns
    table = capsys.readouterr().out
    assert "| durable core calls only, the adapter's networks" in table
    assert "| durable core calls only, all rules in one network" in table
    assert "per fired action" in table
