"""The partner graph for people and other tools: Mermaid, Graphviz DOT, GraphML and node-link JSON.

Every format is written from one plain networkx graph (:func:`partner_network`), so a picture, a
GraphML file opened in Gephi or yEd and a notebook's ``nx`` analysis show the same structure::

    partner:caritas ──delivers──▶ offer:caritas-mbe ──of──▶ service:mbe
                                        └──covers──▶ municipality:staufen

An offer carries its validity window, languages and ``sample`` flag; placeholder offers are drawn
dashed. ``service=`` or ``municipality=`` cut the graph down to what concerns one of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import networkx as nx

from ._provided import provide
from .errors import UsageError
from .graph import PartnerGraph

#: The formats :func:`export_graph` writes.
GRAPH_FORMATS = ("mermaid", "dot", "graphml", "json")


@provide
def partner_network(
    graph: PartnerGraph, *, service: str | None = None, municipality: str | None = None
) -> nx.DiGraph:
    """A plain, mutable networkx copy of the partner graph with JSON-friendly node and edge attributes.

    Nodes are ``kind:id`` with ``kind`` (partner, offer, service, office, municipality) and
    ``label``; partners add ``type`` (their kind), ``reporting_duty`` and ``sample``; offers add
    ``valid_from``/``valid_to`` (ISO dates or ``""`` for open), ``languages`` (comma-separated) and
    ``sample``. ``service`` (a service id or ``office:<id>``) or ``municipality`` (an id or name)
    keep only the offers that concern it, with their partners, targets and municipalities.
    """
    source = graph.graph
    place = None
    if municipality is not None:
        place = graph.municipality_id(municipality) or (
            municipality if municipality in graph.municipalities else None
        )
        if place is None:
            raise UsageError(f"unknown municipality; expected one of: {', '.join(graph.municipalities)}")
    if service is not None and not graph.offers_for(service):
        raise UsageError(f"no offer delivers '{service}'")
    network = nx.DiGraph()
    for node, data in source.nodes(data=True):
        if data["kind"] != "offer":
            continue
        target = next(t for t in source.succ[node] if source.edges[node, t]["relation"] == "of")
        places = [t for t in source.succ[node] if source.edges[node, t]["relation"] == "covers"]
        if service is not None and target != (
            service if service.startswith("office:") else f"service:{service}"
        ):
            continue
        if place is not None:
            if f"municipality:{place}" not in places:
                continue
            places = [f"municipality:{place}"]
        partner = f"partner:{data['partner']}"
        for kept in (partner, node, target, *places):
            network.add_node(kept, **_plain(source.nodes[kept]))
        network.add_edge(partner, node, relation="delivers")
        network.add_edge(node, target, relation="of")
        for covered in places:
            network.add_edge(node, covered, relation="covers")
    return network


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """A node's attributes as GraphML and JSON can carry them: text, numbers and booleans only."""
    plain: dict[str, Any] = {"kind": data["kind"], "label": data.get("name", "")}
    if data["kind"] == "partner":
        plain.update(type=data["type"], reporting_duty=data["reporting_duty"], sample=data["sample"])
    elif data["kind"] == "offer":
        plain.update(
            valid_from=data["valid_from"].isoformat() if data["valid_from"] else "",
            valid_to=data["valid_to"].isoformat() if data["valid_to"] else "",
            languages=",".join(data["languages"]),
            sample=data["sample"],
        )
    return plain


def export_graph(
    graph: PartnerGraph, fmt: str, *, service: str | None = None, municipality: str | None = None
) -> str:
    """The partner graph (or the part of one service or municipality) as text in ``fmt``.

    ``fmt`` is one of :data:`GRAPH_FORMATS`: ``mermaid`` (a flowchart for Markdown), ``dot``
    (Graphviz), ``graphml`` (Gephi, yEd, ``networkx.read_graphml``) or ``json`` (networkx
    node-link data).
    """
    writers: dict[str, Callable[[nx.DiGraph], str]] = {
        "mermaid": to_mermaid,
        "dot": to_dot,
        "graphml": to_graphml,
        "json": to_node_link_json,
    }
    if fmt not in writers:
        raise UsageError(f"format must be one of: {', '.join(GRAPH_FORMATS)}")
    return writers[fmt](partner_network(graph, service=service, municipality=municipality))


_SHAPES = {
    "partner": ('["', '"]'),
    "offer": ('("', '")'),
    "service": ('(["', '"])'),
    "office": ('{{"', '"}}'),
    "municipality": ('[("', '")]'),
}


def to_mermaid(network: nx.DiGraph) -> str:
    """A Mermaid flowchart: partners as boxes, offers as rounded boxes, services as stadiums.

    Placeholder (``sample``) offers and partners are labelled and drawn dashed.
    """
    names = {node: f"n{index}" for index, node in enumerate(sorted(network.nodes))}
    lines = ["flowchart LR"]
    dashed = []
    for node in sorted(network.nodes):
        data = network.nodes[node]
        if data.get("sample"):
            dashed.append(names[node])
        left, right = _SHAPES[str(data["kind"])]
        lines.append(f"    {names[node]}{left}{_mermaid_text(_label(node, data))}{right}")
    for source, target, data in sorted(network.edges(data=True)):
        lines.append(f"    {names[source]} -->|{data['relation']}| {names[target]}")
    if dashed:
        lines.append("    classDef sample stroke-dasharray: 5 5")
        lines.append(f"    class {','.join(dashed)} sample")
    return "\n".join(lines) + "\n"


def _label(node: str, data: dict[str, Any]) -> str:
    """A node's label: its name, "(example)" for a placeholder, an offer's validity window."""
    label = str(data.get("label", node))
    if data.get("sample"):
        label += " (example)"
    if data.get("kind") == "offer" and (data.get("valid_from") or data.get("valid_to")):
        label += f" {data.get('valid_from') or '…'}–{data.get('valid_to') or '…'}"
    return label


def _mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label: quotes and angle brackets as entity codes, one line."""
    one_line = re.sub(r"\s+", " ", text)
    return one_line.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def to_dot(network: nx.DiGraph) -> str:
    """A Graphviz digraph; render with ``dot -Tsvg``."""
    shapes = {
        "partner": "box",
        "offer": "ellipse",
        "service": "oval",
        "office": "hexagon",
        "municipality": "house",
    }
    lines = ["digraph partners {", "    rankdir=LR;"]
    for node in sorted(network.nodes):
        data = network.nodes[node]
        style = ', style="dashed"' if data.get("sample") else ""
        lines.append(
            f"    {_dot_id(node)} [label={_dot_id(_label(node, data))}, "
            f"shape={shapes[str(data['kind'])]}{style}];"
        )
    for source, target, data in sorted(network.edges(data=True)):
        lines.append(f"    {_dot_id(source)} -> {_dot_id(target)} [label={_dot_id(str(data['relation']))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_id(text: str) -> str:
    """A double-quoted DOT id with backslashes, quotes and line breaks escaped."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + re.sub(r"[\r\n]+", " ", escaped) + '"'


def to_graphml(network: nx.DiGraph) -> str:
    """GraphML text that ``networkx.read_graphml`` reads back into the same nodes, edges and attributes."""
    return "\n".join(nx.generate_graphml(network)) + "\n"


def to_node_link_json(network: nx.DiGraph) -> str:
    """Node-link JSON as networkx ≥ 3.4 writes it (``networkx.node_link_graph(data)`` rebuilds the graph).

    Written here rather than by ``networkx.node_link_data``, whose key for edges changed between
    releases, so that the output is the same whatever networkx is installed.
    """
    data: dict[str, Any] = {
        "directed": True,
        "multigraph": False,
        "graph": {},
        "nodes": [{"id": node, **network.nodes[node]} for node in sorted(network.nodes)],
        "edges": [
            {"source": source, "target": target, **attributes}
            for source, target, attributes in sorted(network.edges(data=True))
        ],
    }
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
