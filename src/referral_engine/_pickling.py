"""Pickling a :class:`~referral_engine.ruleset.Ruleset`: shipped once, rebuilt once per process.

A rule set holds compiled closures (each condition's test), compiled engines and memos, none of
which pickle. It pickles as its *content* — the validated rule tree, services, fields, steps,
messages and partner graph, with each condition as its operator and operands — serialised once
per rule set into bytes, plus a key (the rule files' digest and a hash of those bytes) and its
default engine. Unpickling looks the key up in a per-process cache first: a worker of a process
pool that receives the same rule set with every task rebuilds it once, compiles its engines once
and keeps it; the closures are made again by the same factories the loader uses
(:func:`referral_engine.conditions.leaf`, ``all_of``, ``any_of``, ``negation``).

Why the content and not the rule files: a rule set built or changed in memory
(``dataclasses.replace``) has no files, a worker need not see the parent's folder, and
rebuilding from the validated tree takes milliseconds where loading YAML takes seconds. The rule
files' digest stays part of the key and of ``ruleset_version``. As with any pickle, unpickle only
what your own processes wrote.
"""

from __future__ import annotations

import copyreg
import dataclasses
import hashlib
import io
import pickle
import threading
from collections import OrderedDict
from types import MappingProxyType
from typing import Any

from .conditions import AllOf, AnyOf, Leaf, Not, all_of, any_of, leaf, negation
from .ruleset import Rule, Ruleset

#: How many rebuilt rule sets a process keeps (least recently used goes first).
CACHE_SIZE = 8
_KEY = "pickled"
_cache: OrderedDict[str, Ruleset] = OrderedDict()
_lock = threading.Lock()
#: How many rule sets this process has rebuilt from a pickle (for tests and diagnostics).
rebuilds = 0


def _rule(fields: dict[str, Any]) -> Rule:
    return Rule(**fields)


def _proxy(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(items)


class _Pickler(pickle.Pickler):
    """Conditions as their factory calls, read-only mappings as dicts, rules by their own fields."""

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is Leaf:
            return leaf, (obj.field, obj.op, obj.value, obj.shown)
        if kind is AllOf:
            return all_of, (obj.parts,)
        if kind is AnyOf:
            return any_of, (obj.parts,)
        if kind is Not:
            return negation, (obj.part,)
        if kind is MappingProxyType:
            return _proxy, (dict(obj),)
        if kind is Rule:
            return _rule, ({f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.init},)
        return NotImplemented


def _content(ruleset: Ruleset) -> tuple[str, bytes]:
    """The key and the serialised content of ``ruleset`` (without its default engine), made once."""
    found = ruleset._engines.get(_KEY)
    if found is None:
        fields = {
            f.name: getattr(ruleset, f.name)
            for f in dataclasses.fields(ruleset)
            if f.init and f.name != "engine"
        }
        buffer = io.BytesIO()
        _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(fields)
        blob = buffer.getvalue()
        key = f"{ruleset.digest}:{hashlib.sha256(blob).hexdigest()[:32]}"
        found = ruleset._engines[_KEY] = (key, blob)
    key, blob = found  # type: ignore[misc]
    return key, blob


def reduce_ruleset(ruleset: Ruleset) -> tuple[Any, ...]:
    """How a rule set pickles: :func:`restore` from the key, the content and the engine (see below)."""
    key, blob = _content(ruleset)
    with _lock:  # unpickling in this process gives this very rule set back
        _remember(key, ruleset.with_engine(None) if ruleset.engine is not None else ruleset)
    return restore, (key, blob, ruleset.engine)


def restore(key: str, blob: bytes, engine: str | None) -> Ruleset:
    """The rule set pickled under ``key``: this process's copy, or rebuilt from ``blob`` once."""
    global rebuilds
    with _lock:
        found = _cache.get(key)
        if found is None:
            fields = pickle.loads(blob)
            found = Ruleset(**fields)
            found._engines[_KEY] = (key, blob)
            _remember(key, found)
            rebuilds += 1
        else:
            _cache.move_to_end(key)
    return found if found.engine == engine else found.with_engine(engine)


def _remember(key: str, ruleset: Ruleset) -> None:
    _cache[key] = ruleset
    _cache.move_to_end(key)
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)


def clear_cache() -> None:
    """Forget the rule sets this process rebuilt or pickled (the next unpickle rebuilds)."""
    with _lock:
        _cache.clear()


# A rule set is pickled (and copied) by reduce_ruleset: registered here, where it is defined, so
# that the rule set's module need not import this one (the package imports it on start).
copyreg.pickle(Ruleset, reduce_ruleset)
