"""Choosing the rule engine that gives every rule its truth value for one case.

Two engines share one semantics (three-valued, see ``rules/README.md``):

- ``"python"``: the rules compiled to straight-line Python (:mod:`referral_engine.compiled`), proven
  equal to the reference evaluator :func:`referral_engine.decide.evaluate_rules`.
- ``"durable"``: the rules compiled to durable-rules (only where the package is installed).

``engine=None`` means the ruleset's own choice (``load_ruleset(..., engine=...)``) and then the
default: durable where it imports, python otherwise. Compiled engines are built once per ruleset
and kept with it.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from functools import lru_cache

from .compiled import compiled as compiled_rules
from .conditions import Tri
from .errors import UsageError
from .facts import Facts
from .models import ENGINES, EngineName
from .ruleset import Ruleset

Evaluate = Callable[[Facts, dt.date], dict[str, Tri]]

_compile_lock = threading.Lock()


@lru_cache(maxsize=1)
def durable_available() -> bool:
    """Whether durable-rules is installed and imports on this Python."""
    try:
        from . import _durable  # noqa: F401
    except ImportError:
        return False
    return True


def default_engine() -> EngineName:
    """``"durable"`` where durable-rules imports, otherwise ``"python"``."""
    return "durable" if durable_available() else "python"


def resolve(engine: str | None, ruleset: Ruleset) -> EngineName:
    """The engine to use: ``engine``, else the ruleset's choice, else :func:`default_engine`."""
    chosen = engine if engine is not None else ruleset.engine
    if chosen is None:
        return default_engine()
    if chosen not in ENGINES:
        raise UsageError(f"engine must be one of: {', '.join(ENGINES)} (or None for the default)")
    if chosen == "durable" and not durable_available():
        raise UsageError(
            "engine 'durable' needs the durable-rules package; install it (see README) or use engine='python'"
        )
    return chosen  # type: ignore[return-value]


def evaluator(ruleset: Ruleset, engine: str | None = None) -> Evaluate:
    """The function that evaluates every rule of ``ruleset`` in force for one case's facts."""
    name = resolve(engine, ruleset)
    if name == "python":
        return compiled_rules(ruleset).evaluate
    cache = ruleset._engines
    compiled = cache.get(name)
    if compiled is None:
        with _compile_lock:
            compiled = cache.get(name)
            if compiled is None:
                from ._durable import DurableEngine

                compiled = cache[name] = DurableEngine(ruleset)
    return compiled.evaluate  # type: ignore[no-any-return,attr-defined]
