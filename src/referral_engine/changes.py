"""What changed between two rule sets, entry by entry (``referral-engine check --against/--since``).

Each entry (rule, service, step, offer, ``not_offered`` declaration, partner) is compared by a
digest of its parsed form, not of its text: moving a rule to another line, reformatting it or
editing a comment does not change it; changing a condition, a date, an effect or a note does.
:func:`rules_at` writes the rule folder as it was at a git revision into a new folder, so that
``check --since REF`` can compare with it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .errors import UsageError
from .ruleset import Ruleset

__all__ = ["changed_entries", "entry_digest", "rules_at"]

#: Fields that say where an entry is written, not what it says.
_PLACE = frozenset({"where"})


def _canonical(value: Any) -> Any:
    """A plain, ordered form of a parsed entry: the same for equal entries in every process."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            tuple(
                (f.name, _canonical(getattr(value, f.name)))
                for f in dataclasses.fields(value)
                if f.repr and f.name not in _PLACE and not f.name.startswith("_")
            ),
        )
    if isinstance(value, Mapping):
        return tuple(sorted(((repr(k), _canonical(v)) for k, v in value.items()), key=repr))
    if isinstance(value, (set, frozenset)):
        return ("set", tuple(sorted((_canonical(v) for v in value), key=repr)))
    if isinstance(value, (tuple, list)):
        return tuple(_canonical(v) for v in value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return repr(value)


def entry_digest(entry: object) -> str:
    """A digest of ``entry``'s parsed form, without where it is written."""
    return hashlib.sha256(repr(_canonical(entry)).encode("utf-8")).hexdigest()[:16]


def _entries(ruleset: Ruleset) -> Iterator[tuple[tuple[str, str], object]]:
    """Every comparable entry of ``ruleset``, keyed by (subject, id) as check's findings name them."""
    yield from ((("rule", r.id), r) for r in ruleset.rules)
    yield from ((("service", s.id), s) for s in ruleset.services)
    yield from ((("step", s.id), s) for s in ruleset.steps)
    graph = ruleset.partners
    yield from ((("offer", o.id), o) for o in graph.offers)
    yield from ((("not_offered", n.id), n) for n in graph.not_offered)
    yield from ((("partner", p.id), p) for p in graph.partners.values())


def changed_entries(old: Ruleset, new: Ruleset) -> frozenset[tuple[str, str]]:
    """The (subject, id) of every entry of ``new`` that ``old`` lacks or has with other content.

    Entries only ``old`` has are not listed: they are gone from ``new``, so no finding on ``new``
    can point at them.
    """
    before = {key: entry_digest(entry) for key, entry in _entries(old)}
    return frozenset(key for key, entry in _entries(new) if before.get(key) != entry_digest(entry))


def _git(folder: Path, *args: str) -> bytes:
    git = shutil.which("git")
    if git is None:
        raise UsageError("--since needs git on the PATH; compare with a folder by --against DIR instead")
    done = subprocess.run(
        [git, "-C", str(folder), *args],
        capture_output=True,
        check=False,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )
    if done.returncode != 0:
        raise UsageError(
            f"git {args[0]} failed in {folder} (exit {done.returncode}): is it in a git repository, "
            "and does the revision exist?"
        )
    return done.stdout


def rules_at(folder: str | Path, revision: str, into: str | Path) -> Path:
    """Write the rule folder ``folder`` as committed at git ``revision`` into ``into``; return it.

    ``folder`` must lie in a git work tree; ``revision`` is anything ``git rev-parse`` accepts
    (``HEAD~1``, a tag, a branch). Only regular files and folders are written, and only inside
    ``into``.
    """
    if not revision or revision.startswith("-") or any(c in revision for c in "\0\n:"):
        raise UsageError("--since takes a git revision such as HEAD~1, a tag or a branch")
    here = Path(folder).resolve()
    top = Path(_git(here, "rev-parse", "--show-toplevel").decode("utf-8", "surrogateescape").strip())
    prefix = _git(here, "rev-parse", "--show-prefix").decode("utf-8", "surrogateescape").strip()
    commit = _git(here, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}").decode().strip()
    # From the top: run in a subfolder, git archive would only take what lies under it.
    archive = _git(top, "archive", "--format=tar", f"{commit}:{prefix}" if prefix else commit)
    target = Path(into).resolve()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            path = (target / member.name).resolve()
            if target not in (path, *path.parents):
                continue
            if member.isdir():
                path.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                path.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is not None:
                    path.write_bytes(source.read())
    return target
