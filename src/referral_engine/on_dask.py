"""The columnar engine on Dask: a ``dask.dataframe`` of cases screened partition by partition (``[dask]``).

:func:`screen_dask` is :func:`referral_engine.columnar.screen_table` for a Dask DataFrame: each
partition (a pandas table of cases) is screened where it lies, with ``map_partitions``. The rule
set enters the task graph once, as a single key on which every partition's task depends, so a
cluster's scheduler sends it to each worker once (not with every partition); a worker process
unpickles it once and keeps it (see :mod:`referral_engine._pickling`), and its columnar engine
is built once per process and rule set.

The module is called ``on_dask`` so that it never shadows the ``dask`` package.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .errors import UsageError
from .loader import default_ruleset
from .ruleset import Ruleset

__all__ = ["screen_dask"]


def _dask() -> tuple[Any, Any]:
    try:
        import dask
        import dask.dataframe as dd
    except ImportError:
        raise UsageError(
            "screening a Dask DataFrame needs dask: pip install 'referral-engine[dask]'"
        ) from None
    return dask, dd


def _screen_partition(partition: Any, ruleset: Ruleset, as_of: dt.date, dtypes: dict[str, Any]) -> Any:
    """One partition's statuses and open fields (a pandas DataFrame with the index of the partition)."""
    from .columnar import screen_table

    result = screen_table(partition, as_of=as_of, ruleset=ruleset)
    result.index = partition.index
    return result.astype(dtypes)


def screen_dask(frame: Any, *, as_of: dt.date | None = None, ruleset: Ruleset | None = None) -> Any:
    """Each case's status per service and its open fields, as a lazy Dask DataFrame.

    ``frame`` is a ``dask.dataframe.DataFrame`` whose columns are profile fields, as for
    :func:`~referral_engine.columnar.screen_table`; the result has one categorical column of
    statuses per service and ``open_fields``, partitioned (and indexed) like ``frame``. Nothing
    runs until it is computed; a bad row then raises the :class:`~referral_engine.ProfileError`
    of ``screen_table`` (its ``index`` is the row within its partition). ``as_of`` (default:
    today) is fixed now, so every partition is decided on the same day wherever it runs.
    """
    from .columnar import OPEN_FIELDS, STATUSES, _check_columns, columnar
    from .models import check_as_of

    dask, dd = _dask()
    import pandas as pd

    day = check_as_of(as_of)
    if ruleset is None:
        ruleset = default_ruleset()
    elif not isinstance(ruleset, Ruleset):
        raise UsageError("ruleset must be a Ruleset from load_ruleset() or default_ruleset()")
    if not isinstance(frame, dd.DataFrame):
        raise UsageError("frame must be a dask.dataframe.DataFrame (for a pandas table use screen_table)")
    _check_columns(list(frame.columns))
    services = columnar(ruleset).services
    statuses = pd.CategoricalDtype([status.value for status in STATUSES])
    dtypes: dict[str, Any] = {service: statuses for service in services} | {OPEN_FIELDS: "int64"}
    meta = pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in dtypes.items()})
    # One key for the rule set, named by its content: every partition's task depends on it, so it
    # travels to each worker once, and two graphs with the same rules share it.
    from ._pickling import _content

    key, _ = _content(ruleset)
    shipped = dask.delayed(ruleset, name=f"referral-ruleset-{key.replace(':', '-')}", pure=True)
    return frame.map_partitions(_screen_partition, shipped, day, dtypes, meta=meta)
