"""What a module needs from a layer above it: found here, registered there.

The package's imports go one way, from the ground up (``errors`` → ``models`` → ``graph`` →
rule sets → engines → ``recommend`` → …): a module never imports one above it, not even inside
a function. A few methods still hand their work upwards — a result's ``explain()`` and
``_repr_html_`` to :mod:`referral_engine.explain`, ``Recommendation.handover()`` to
:mod:`referral_engine.handover`, ``PartnerGraph.to_networkx()`` to
:mod:`referral_engine.exports`, the loader's check of the durable engine to
:mod:`referral_engine.engines` — so those modules register the functions by name with
:func:`provide` when they are imported, and the methods call :func:`provided`. The package's
``__init__`` imports every provider, and importing any of its modules runs it first.

This module imports nothing of the package.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_PROVIDED: dict[str, Callable[..., Any]] = {}


def provide(function: F) -> F:
    """Register ``function`` under its name (a decorator); the module defining it is its provider."""
    _PROVIDED[function.__name__] = function
    return function


def provided(name: str) -> Callable[..., Any]:
    """The function registered as ``name``.

    Raises RuntimeError naming the function if its module was never imported, which happens only
    while the package itself is still being imported.
    """
    try:
        return _PROVIDED[name]
    except KeyError:
        raise RuntimeError(
            f"referral_engine's {name}() is not registered yet: import referral_engine before calling it"
        ) from None
