"""A Dask DataFrame of cases screened on a local cluster equals the single-process columnar engine.

The rule set is one key of the task graph that every partition's task depends on (so a worker
receives it once), and a worker process rebuilds it from its pickle at most once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from dask.core import get_dependencies
from distributed import Client, LocalCluster

from referral_engine import UsageError, default_ruleset
from referral_engine.columnar import OPEN_FIELDS, screen_table
from referral_engine.on_dask import screen_dask

DAY = dt.date(2026, 3, 1)
STATUSES = ["gestattung", "duldung", "ae_25_1", "ae_24", "settlement", "undocumented", "eu_citizen"]
TOWNS = ["Staufen", "Bad Krozingen", "Hartheim"]


def cases(rows: int, seed: int) -> pd.DataFrame:
    """Synthetic cases: each field unknown with probability 0.2 (NaN, None or NaT)."""
    rng = np.random.default_rng(seed)

    def unknown() -> Any:
        return rng.random(rows) < 0.2

    def some(values: Any) -> Any:
        """``values`` as Python objects, each None with probability 0.2."""
        chosen = rng.choice(values, rows).astype(object)
        chosen[unknown()] = None
        return chosen

    ages = rng.integers(0, 80, rows).astype(float)
    ages[unknown()] = np.nan
    since = pd.to_datetime(DAY) - pd.to_timedelta(rng.integers(0, 3000, rows), unit="D")
    return pd.DataFrame(
        {
            "age": ages,
            "residence_status": some(STATUSES),
            "entry_date": since.where(~unknown()),
            "accommodation": some(["private", "anschlussunterbringung"]),
            "accommodation_since": since.where(~unknown()),
            "municipality": some(TOWNS),
        }
    )


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """Two in-process workers of one thread each."""
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster,
        Client(cluster) as connected,
    ):
        yield connected


def test_a_dask_frame_gives_the_single_process_result(client: Client) -> None:
    table = cases(3000, seed=1)
    frame = dd.from_pandas(table, npartitions=6)
    result = screen_dask(frame, as_of=DAY).compute()
    expected = screen_table(table, as_of=DAY)
    assert list(result.columns) == [*(s.id for s in default_ruleset().services), OPEN_FIELDS]
    assert result.index.equals(table.index)
    pd.testing.assert_frame_equal(result.reset_index(drop=True), expected, check_dtype=False)
    assert (result[OPEN_FIELDS] > 0).any()


def test_the_rule_set_is_one_key_every_partition_depends_on() -> None:
    frame = dd.from_pandas(cases(100, seed=2), npartitions=5)
    graph = dict(screen_dask(frame, as_of=DAY).__dask_graph__())
    shipped = [key for key in graph if "referral-ruleset-" in str(key)]
    assert len(shipped) == 1
    partitions = [key for key in graph if "_screen_partition" in str(key)]
    assert len(partitions) == 5
    assert all(shipped[0] in get_dependencies(graph, key) for key in partitions)


def test_bad_frames_and_bad_rows_are_reported(client: Client) -> None:
    with pytest.raises(UsageError, match=r"dask\.dataframe\.DataFrame"):
        screen_dask(cases(3, seed=3), as_of=DAY)
    with pytest.raises(UsageError, match="unknown column 'agee'"):
        screen_dask(dd.from_pandas(pd.DataFrame({"agee": [1]}), npartitions=1), as_of=DAY)
    bad = dd.from_pandas(pd.DataFrame({"age": [20.0, 30.0, 300.0, 3.0]}), npartitions=2)
    with pytest.raises(Exception, match=r"index 0 of the batch .*age: must be from 0 to 120") as caught:
        screen_dask(bad, as_of=DAY).compute()
    assert "300" not in str(caught.value)


@pytest.mark.slow
def test_worker_processes_rebuild_the_rule_set_once_each() -> None:
    """With two worker processes: equal results, and each worker unpickled the rule set at most once."""
    table = cases(4000, seed=4)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as connected,
    ):
        result = screen_dask(dd.from_pandas(table, npartitions=8), as_of=DAY).compute()

        def rebuilds() -> int:
            from referral_engine import _pickling

            return _pickling.rebuilds

        counts = connected.run(rebuilds)
    pd.testing.assert_frame_equal(
        result.reset_index(drop=True), screen_table(table, as_of=DAY), check_dtype=False
    )
    assert len(counts) == 2
    assert all(count <= 1 for count in counts.values())
