"""The durable-rules engine adapter (work in progress: issue 3)."""

from __future__ import annotations

import datetime as dt

import durable.engine  # type: ignore[import-not-found]  # noqa: F401

from .conditions import Tri
from .facts import Facts
from .ruleset import Ruleset


class DurableEngine:
    """The rules of one ruleset compiled to durable-rules."""

    def __init__(self, ruleset: Ruleset) -> None:
        raise NotImplementedError("the durable-rules adapter is being written (issue 3)")

    def evaluate(self, facts: Facts, as_of: dt.date) -> dict[str, Tri]:
        """The truth value of every rule in force on ``as_of``."""
        raise NotImplementedError
