"""The package's imports go one way: no module imports one that imports it back, even inside a function.

A circle of imports is how results come to import their renderers and the rule set its engines;
``referral_engine._provided`` is the one way a method reaches a layer above it. Imports under
``if TYPE_CHECKING:`` are for the type checker only and do not count.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest

import referral_engine
from referral_engine import _provided

PACKAGE = Path(referral_engine.__file__).parent


def _imports(path: Path) -> Iterator[str]:
    """The package's modules that ``path`` imports at run time, wherever in the module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for_types_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for part in node.body
        for inner in ast.walk(part)
    }
    for node in ast.walk(tree):
        if id(node) in for_types_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module.split(".")[0]] if node.module else [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("referral_engine."):
            names = [(node.module or "").split(".")[1]]
        elif isinstance(node, ast.Import):
            names = [a.name.split(".")[1] for a in node.names if a.name.startswith("referral_engine.")]
        else:
            continue
        yield from (name for name in names if (PACKAGE / f"{name}.py").exists())


def _graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for path in PACKAGE.glob("*.py"):
        graph.add_node(path.stem)
        graph.add_edges_from((path.stem, name) for name in _imports(path) if name != path.stem)
    return graph


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = _graph()
    assert len(graph) > 30
    circles = [
        sorted(component) for component in nx.strongly_connected_components(graph) if len(component) > 1
    ]
    assert circles == [], f"circles of imports: {circles}; see referral_engine._provided"


def test_results_import_no_renderer_and_the_ground_nothing_above() -> None:
    graph = _graph()
    assert set(graph.successors("_provided")) == set()
    assert set(graph.successors("errors")) == set()
    assert set(graph.successors("models")) <= {"errors", "_provided"}
    below_explain = nx.descendants(graph, "explain")
    assert not below_explain & {"ruleset", "loader", "recommend", "engines", "whatif", "verify"}


def test_every_function_asked_for_upwards_is_registered() -> None:
    asked = {
        name
        for path in PACKAGE.glob("*.py")
        for name in re.findall(r"""provided\(["']([a-z_]+)["']\)""", path.read_text(encoding="utf-8"))
    }
    assert asked >= {
        "explain_decision",
        "packet_for",
        "partner_network",
        "prepare_durable",
        "default_ruleset",
    }
    for name in asked:
        assert callable(_provided.provided(name)), name


def test_a_function_nobody_registered_is_a_runtime_error_naming_it() -> None:
    with pytest.raises(RuntimeError, match=r"referral_engine's no_such_renderer\(\) is not registered"):
        _provided.provided("no_such_renderer")
