"""Choosing the rule engine that gives every rule its truth value for one case.

Two engines share one semantics (three-valued, see ``rules/README.md``):

- ``"python"``: the rules compiled to straight-line Python (:mod:`referral_engine.compiled`), proven
  equal to the reference evaluator :func:`referral_engine.decide.evaluate_rules`. The default.
- ``"durable"``: the rules compiled to durable-rules (opt-in, only where the package imports).

The engine of a call is, in this order: the call's ``engine=``, the rule set's own choice
(``load_ruleset(..., engine=...)`` or ``Ruleset.with_engine``), the environment variable
``REFERRAL_ENGINE_ENGINE`` (``python`` or ``durable``), and otherwise ``"python"``. Compiled
engines are built once per rule set and kept with it.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import importlib.util
import os
import sys
import threading
from collections.abc import Callable

from ._provided import provide
from .compiled import compiled as compiled_rules
from .conditions import Tri
from .errors import RuleFileError, UsageError
from .facts import Facts
from .models import ENGINES, EngineName, Status
from .ruleset import Ruleset

Evaluate = Callable[[Facts, dt.date], dict[str, Tri]]

#: The environment variable that sets the default engine of the process (``python`` or ``durable``).
ENV_VAR = "REFERRAL_ENGINE_ENGINE"
#: The recipe that builds durable-rules 2.0.28 on Python 3.13 (upstream never released the fix).
BUILD_RECIPE = (
    "CPPFLAGS='-DPyEval_CallObject=PyObject_CallObject' pip install --no-cache-dir durable-rules==2.0.28"
)

_compile_lock = threading.Lock()
_import_problem: list[str | None] = []  # [] until the first attempt; then [None] or [message]


def _reset_after_fork() -> None:
    # A lock held by another thread at fork time would stay held forever in the child.
    global _compile_lock
    _compile_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_reset_after_fork)


def durable_problem() -> str | None:
    """Why the durable engine cannot run here (``None`` when durable-rules imports).

    Tells apart a missing package from one that is installed but does not import (as the plain
    build of durable-rules 2.0.28 on Python 3.13), and says how to fix each.
    """
    if not _import_problem:
        _import_problem.append(_try_import())
    return _import_problem[0]


def _try_import() -> str | None:
    try:
        from . import _durable  # noqa: F401
    except ImportError as error:
        installed = importlib.util.find_spec("durable_rules_engine") is not None
        try:
            importlib.metadata.distribution("durable-rules")
            installed = True
        except importlib.metadata.PackageNotFoundError:
            pass
        if not installed:
            command = BUILD_RECIPE if sys.version_info >= (3, 13) else "pip install durable-rules==2.0.28"
            return (
                "engine 'durable' needs the durable-rules package, which is not installed; "
                f"install it with: {command} (see README), or use engine='python'"
            )
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        detail = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        return (
            f"engine 'durable': durable-rules is installed but does not import on Python {version} "
            f"({detail}); rebuild it with: {BUILD_RECIPE} (see README), or use engine='python'"
        )
    return None


def durable_available() -> bool:
    """Whether durable-rules is installed and imports on this Python."""
    return durable_problem() is None


def _from_environment() -> EngineName | None:
    value = os.environ.get(ENV_VAR, "").strip()
    if not value:
        return None
    if value not in ENGINES:
        raise UsageError(f"environment variable {ENV_VAR} must be one of: {', '.join(ENGINES)} (or unset)")
    return value  # type: ignore[return-value]


def default_engine() -> EngineName:
    """The engine used when neither the call nor the rule set names one.

    ``$REFERRAL_ENGINE_ENGINE`` when set (``python`` or ``durable``), otherwise ``"python"``.
    """
    return _from_environment() or "python"


def resolve(engine: str | None, ruleset: Ruleset) -> EngineName:
    """The engine to use: ``engine``, else the ruleset's choice, else :func:`default_engine`."""
    chosen = engine if engine is not None else ruleset.engine
    if chosen is None:
        chosen = default_engine()
    if chosen not in ENGINES:
        raise UsageError(f"engine must be one of: {', '.join(ENGINES)} (or None for the default)")
    if chosen == "durable":
        problem = durable_problem()
        if problem is not None:
            raise UsageError(problem)
    return chosen  # type: ignore[return-value]


def compiled(ruleset: Ruleset, name: str) -> object:
    """The compiled engine ``name`` of ``ruleset`` (only ``"durable"`` compiles), built on first use."""
    cache = ruleset._engines
    engine = cache.get(name)
    if engine is None:
        with _compile_lock:
            engine = cache.get(name)
            if engine is None:
                from ._durable import DurableEngine

                engine = cache[name] = DurableEngine(ruleset)
    return engine


def evaluator(ruleset: Ruleset, engine: str | None = None) -> Evaluate:
    """The function that evaluates every rule of ``ruleset`` in force for one case's facts."""
    return _evaluator(ruleset, resolve(engine, ruleset))


def _evaluator(ruleset: Ruleset, name: str) -> Evaluate:
    if name == "python":
        return compiled_rules(ruleset).evaluate
    return compiled(ruleset, name).evaluate  # type: ignore[attr-defined,no-any-return]


Decide = Callable[[Facts, dt.date], tuple[dict[str, Tri], dict[str, Status]]]


def decider(ruleset: Ruleset, engine: str | None = None) -> Decide:
    """The function that gives every rule's value and every service's status for one case's facts.

    The python engine computes both in one generated function; the durable engine evaluates the
    rules and combines the statuses from their values with a generated function equal to
    :func:`referral_engine.decide.statuses`.
    """
    name = resolve(engine, ruleset)
    key = f"decider:{name}"
    found = ruleset._engines.get(key)
    if found is None:
        # Built the same by any thread: the last one stored wins. Kept with the rule set, so that
        # a call decides without building a function (a durable one is built on its first use).
        found = ruleset._engines[key] = _decider(ruleset, name)
    return found  # type: ignore[return-value]


def _decider(ruleset: Ruleset, name: str) -> Decide:
    if name == "python":
        rules = compiled_rules(ruleset)
        run, rule_ids = rules.run, rules.rule_ids
        services = tuple(service.id for service in ruleset.services)

        def decide_compiled(facts: Facts, as_of: dt.date) -> tuple[dict[str, Tri], dict[str, Status]]:
            values, by_order = run(facts, as_of)
            return dict(zip(rule_ids(as_of), values, strict=True)), dict(zip(services, by_order, strict=True))

        return decide_compiled
    # The durable engine: its rule values, and statuses from a function generated per network.
    return compiled(ruleset, name).decide  # type: ignore[attr-defined,no-any-return]


@provide
def prepare_durable(ruleset: Ruleset) -> None:
    """Check that durable-rules can run ``ruleset`` and compile it now.

    Raises :class:`RuleFileError` locating each rule durable cannot run, or :class:`UsageError`
    when durable-rules does not import here.
    """
    resolve("durable", ruleset)  # a UsageError that says why durable cannot run here
    from ._durable import check_ruleset

    problems = check_ruleset(ruleset)
    if problems:
        raise RuleFileError(problems)
    compiled(ruleset, "durable")
