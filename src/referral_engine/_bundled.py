"""Where the bundled rules and example cases are: inside the package, or in a source checkout.

A wheel carries copies of the repository's ``rules/`` and ``examples/cases/`` inside the
package (``referral_engine/rules``, ``referral_engine/example_cases``; see ``pyproject.toml``).
An editable install or a checkout on ``sys.path`` has no such copies — the source tree holds no
symlinks, so that checkouts without symlink support work — and uses the repository's folders.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

#: Each bundled folder's name inside the package and its path in the repository.
_IN_REPOSITORY = {"rules": "rules", "example_cases": "examples/cases"}


def bundled(name: str, package: str = "referral_engine") -> Traversable:
    """The bundled folder ``name`` (``"rules"`` or ``"example_cases"``) of ``package``.

    The package's own copy when it has one (a wheel install), else the repository's folder next
    to ``src/`` (an editable install). Use it with :func:`importlib.resources.as_file`.
    """
    inside = resources.files(package) / name
    if inside.is_dir():
        return inside
    # src/<package> in a checkout: the repository is two folders up.
    repository = Path(str(resources.files(package))).parent.parent
    checkout = repository / _IN_REPOSITORY[name]
    if (repository / "pyproject.toml").is_file() and checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"{package} has no bundled {name!r} folder (a broken installation?)")
