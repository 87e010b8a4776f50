"""Exports of the partner graph (Mermaid, DOT, GraphML, node-link JSON) and the HSDS 3 directory."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from referral_engine import UsageError, default_ruleset
from referral_engine.cli import main
from referral_engine.exports import GRAPH_FORMATS, export_graph, partner_network
from referral_engine.hsds import NAMESPACE, age_limits, hsds_directory, hsds_id, write_hsds

RULES = default_ruleset()
GRAPH = RULES.partners
AS_OF = dt.date(2026, 3, 1)


# -- the graph ------------------------------------------------------------------------------------


def test_the_network_holds_every_offer_with_its_partner_target_and_places() -> None:
    """Each offer is a node between its partner, its service (or office) and the municipalities it covers."""
    network = GRAPH.to_networkx()
    for offer in GRAPH.offers:
        node = f"offer:{offer.id}"
        assert network.has_edge(f"partner:{offer.partner}", node)
        target = offer.service if offer.service.startswith("office:") else f"service:{offer.service}"
        assert network.has_edge(node, target)
        places = offer.municipalities or tuple(GRAPH.municipalities)
        assert {t for t in network.successors(node) if t.startswith("municipality:")} == {
            f"municipality:{m}" for m in places
        }
        assert network.nodes[node]["sample"] is offer.sample


def test_the_network_is_a_mutable_copy() -> None:
    """Changing the notebook copy leaves the rule set's frozen graph alone."""
    network = GRAPH.to_networkx()
    network.add_node("note")
    assert "note" not in GRAPH.graph
    assert "note" not in GRAPH.to_networkx()


def test_a_service_or_municipality_cuts_the_network_down() -> None:
    """service= keeps that service's offers; municipality= the offers covering that place (by name too)."""
    jmd = partner_network(GRAPH, service="jmd")
    assert {n for n in jmd if n.startswith("service:")} == {"service:jmd"}
    hartheim = partner_network(GRAPH, municipality="Hartheim")
    assert {n for n in hartheim if n.startswith("municipality:")} == {"municipality:hartheim"}
    assert "offer:helferkreis_staufen-helferkreis" not in hartheim
    abh = partner_network(GRAPH, service="office:auslaenderbehoerde")
    assert {n for n in abh if n.startswith("partner:")} == {
        "partner:landratsamt_abh",
        "partner:stadt_bad_krozingen_abh",
    }
    with pytest.raises(UsageError, match="unknown municipality"):
        partner_network(GRAPH, municipality="Freiburg")
    with pytest.raises(UsageError, match="no offer delivers"):
        partner_network(GRAPH, service="nothing")


def test_graphml_reloads_in_networkx_with_the_same_nodes_edges_and_attributes() -> None:
    """The GraphML text reads back into an equal graph."""
    network = partner_network(GRAPH)
    back = nx.read_graphml(io.StringIO(export_graph(GRAPH, "graphml")))
    assert set(back.nodes) == set(network.nodes)
    assert set(back.edges) == set(network.edges)
    for node, data in network.nodes(data=True):
        assert back.nodes[node] == data


def test_node_link_json_rebuilds_the_graph() -> None:
    """networkx.node_link_graph rebuilds the same graph from the JSON."""
    data = json.loads(export_graph(GRAPH, "json"))
    back = nx.node_link_graph(data, directed=True, multigraph=False, edges="edges")
    network = partner_network(GRAPH)
    assert set(back.nodes) == set(network.nodes)
    assert {(s, t, d["relation"]) for s, t, d in back.edges(data=True)} == {
        (s, t, d["relation"]) for s, t, d in network.edges(data=True)
    }


_MERMAID_LINE = re.compile(
    r'^    (n\d+(\["[^"\n]*"\]|\("[^"\n]*"\)|\(\["[^"\n]*"\]\)|\{\{"[^"\n]*"\}\}|\[\("[^"\n]*"\)\])'
    r"|n\d+ -->\|(delivers|of|covers)\| n\d+"
    r"|classDef sample stroke-dasharray: 5 5"
    r"|class n\d+(,n\d+)* sample)$"
)


def test_mermaid_is_a_flowchart_of_well_formed_lines() -> None:
    """Every line is a node with a quoted label, a labelled edge or the style of example offers."""
    text = export_graph(GRAPH, "mermaid")
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    for line in lines[1:]:
        assert _MERMAID_LINE.match(line), line
    names = set(re.findall(r"^    (n\d+)[\[\({]", text, re.M))
    for source, target in re.findall(r"(n\d+) -->\|\w+\| (n\d+)", text):
        assert {source, target} <= names
    assert "diakonie-jmd (example)" in text


def test_labels_cannot_break_out_of_their_quotes() -> None:
    """Quotes, brackets and line breaks in names are escaped in Mermaid and DOT."""
    network = nx.DiGraph()
    network.add_node("partner:x", kind="partner", label='A "B" <C>\nD', sample=False)
    from referral_engine.exports import to_dot, to_mermaid

    mermaid = to_mermaid(network)
    assert '    n0["A #quot;B#quot; #lt;C#gt; D"]' in mermaid.splitlines()
    dot = to_dot(network)
    assert 'label="A \\"B\\" <C> D"' in dot


#: A node_modules folder with mermaid and jsdom (``npm install mermaid jsdom``) for Mermaid's own parser.
MERMAID_MODULES = os.environ.get("REFERRAL_ENGINE_MERMAID_NODE_MODULES", "")
#: Labels that have broken Mermaid text in some tool or other: quotes, brackets, pipes, comments.
_HOSTILE_LABELS = (
    'A "B" <C>\nD',
    "x]) --> y([z",
    "a|b|c; end",
    "%% comment #35; `code` {brace} (paren)",
    "Jugendmigrationsdienst – خدمة هجرة الشباب",
    "click n0 call alert()",
)


def _mermaid_texts(tmp_path: Path) -> list[Path]:
    """Mermaid files of the whole graph, every service's and municipality's part, and hostile labels."""
    texts = {"all": export_graph(GRAPH, "mermaid")}
    texts |= {f"service-{s.id}": export_graph(GRAPH, "mermaid", service=s.id) for s in RULES.services}
    municipalities = sorted(GRAPH.municipalities)
    texts |= {f"place-{m}": export_graph(GRAPH, "mermaid", municipality=m) for m in municipalities}
    from referral_engine.exports import to_mermaid

    network = nx.DiGraph()
    for index, label in enumerate(_HOSTILE_LABELS):
        kind = ("partner", "offer", "service", "office", "municipality", "partner")[index]
        network.add_node(f"{kind}:{index}", kind=kind, label=label, sample=index % 2 == 0)
    network.add_edge("partner:0", "offer:1", relation="runs")
    texts["hostile"] = to_mermaid(network)
    paths = []
    for name, text in texts.items():
        path = tmp_path / f"{name}.mmd"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


@pytest.mark.skipif(
    not MERMAID_MODULES or shutil.which("node") is None,
    reason="Mermaid's own parser needs node and REFERRAL_ENGINE_MERMAID_NODE_MODULES "
    "(a node_modules folder with mermaid and jsdom; see README.md)",
)
def test_mermaid_parses_with_mermaids_own_parser(tmp_path: Path) -> None:
    """mermaid.parse() (under jsdom) accepts every export and rejects a broken flowchart (the control)."""
    paths = _mermaid_texts(tmp_path)
    broken = tmp_path / "broken.mmd"
    broken.write_text('flowchart LR\n    n0["open\n', encoding="utf-8")
    script = Path(__file__).parent.parent / "tools" / "mermaid_parse.mjs"
    done = subprocess.run(
        ["node", str(script), *map(str, [*paths, broken])],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "REFERRAL_ENGINE_MERMAID_NODE_MODULES": MERMAID_MODULES},
    )
    lines = done.stdout.splitlines()
    assert len(lines) == len(paths) + 1, done.stderr
    assert [line for line in lines[:-1] if not line.startswith("ok ")] == []
    assert all(line.endswith(" flowchart-v2") for line in lines[:-1])
    assert lines[-1].startswith(f"error {broken}: Parse error")
    assert done.returncode == 1


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")
def test_dot_renders_with_graphviz(tmp_path: Path) -> None:
    """Graphviz renders the DOT text to SVG without complaint."""
    source = tmp_path / "partners.dot"
    source.write_text(export_graph(GRAPH, "dot"), encoding="utf-8")
    done = subprocess.run(
        ["dot", "-Tsvg", str(source)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "<svg" in done.stdout


def test_an_unknown_format_is_a_usage_error() -> None:
    """Only the listed formats are written."""
    assert set(GRAPH_FORMATS) == {"mermaid", "dot", "graphml", "json"}
    with pytest.raises(UsageError, match="format must be one of"):
        export_graph(GRAPH, "svg")


# -- HSDS 3: a check written from the specification (openreferral/specification, schema/*.json) ------

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URI = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$")
# For each object: required fields, then field -> (JSON type, format or enum); nested arrays by object.
_SPEC: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, Any]]]] = {
    "organization": (
        ("id", "name", "description"),
        {
            "id": ("string", "uuid"),
            "name": ("string", None),
            "description": ("string", None),
            "email": ("string", "email"),
            "website": ("string", "uri"),
            "parent_organization_id": ("string", None),
            "phones": ("array", "phone"),
        },
    ),
    "service": (
        ("id", "name", "status"),
        {
            "id": ("string", "uuid"),
            "organization_id": ("string", None),
            "name": ("string", None),
            "description": ("string", None),
            "url": ("string", "uri"),
            "email": ("string", "email"),
            "status": ("string", ("active", "inactive", "defunct", "temporarily closed")),
            "eligibility_description": ("string", None),
            "minimum_age": ("number", None),
            "maximum_age": ("number", None),
            "alert": ("string", None),
            "service_areas": ("array", "service_area"),
            "languages": ("array", "language"),
        },
    ),
    "phone": (("id", "number"), {"id": ("string", "uuid"), "number": ("string", None)}),
    "service_area": (
        ("id",),
        {"id": ("string", "uuid"), "service_id": ("string", "uuid"), "name": ("string", None)},
    ),
    "language": (
        ("id",),
        {
            "id": ("string", "uuid"),
            "service_id": ("string", "uuid"),
            "name": ("string", None),
            "code": ("string", None),
        },
    ),
}


def _problems(kind: str, item: dict[str, Any], path: str) -> list[str]:
    required, fields = _SPEC[kind]
    found = [f"{path}: missing {name}" for name in required if name not in item]
    for name, value in item.items():
        if name not in fields:
            found.append(f"{path}.{name}: not a field of {kind} in HSDS 3")
            continue
        kind_of, detail = fields[name]
        if kind_of == "string" and not isinstance(value, str):
            found.append(f"{path}.{name}: not a string")
        elif kind_of == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
            found.append(f"{path}.{name}: not a number")
        elif kind_of == "array":
            if not isinstance(value, list):
                found.append(f"{path}.{name}: not an array")
            else:
                for index, nested in enumerate(value):
                    found += _problems(str(detail), nested, f"{path}.{name}[{index}]")
        elif detail == "uuid" and not _UUID.match(value):
            found.append(f"{path}.{name}: not a uuid")
        elif detail == "email" and not _EMAIL.match(value):
            found.append(f"{path}.{name}: not an e-mail address")
        elif detail == "uri" and not _URI.match(value):
            found.append(f"{path}.{name}: not a URI")
        elif isinstance(detail, tuple) and value not in detail:
            found.append(f"{path}.{name}: not one of {detail}")
    return found


@pytest.mark.parametrize("include_samples", [False, True])
def test_the_hsds_export_passes_the_specification_check(include_samples: bool) -> None:
    """Organizations and services have HSDS 3's required fields, types, formats and enums; ids are unique."""
    directory = hsds_directory(RULES, as_of=AS_OF, include_samples=include_samples)
    problems = []
    for index, organization in enumerate(directory["organizations"]):
        problems += _problems("organization", organization, f"organizations[{index}]")
    for index, service in enumerate(directory["services"]):
        problems += _problems("service", service, f"services[{index}]")
    assert problems == []
    ids = [o["id"] for o in directory["organizations"]] + [s["id"] for s in directory["services"]]
    ids += [a["id"] for s in directory["services"] for a in s["service_areas"] + s["languages"]]
    assert len(ids) == len(set(ids))
    organizations = {o["id"] for o in directory["organizations"]}
    assert {s["organization_id"] for s in directory["services"]} <= organizations
    assert {
        o["parent_organization_id"] for o in directory["organizations"] if "parent_organization_id" in o
    } <= (organizations)


def test_the_problem_check_catches_broken_objects() -> None:
    """The specification check itself finds a missing required field, a bad enum and a bad uuid."""
    broken = {"id": "not-a-uuid", "name": "x", "status": "open", "service_areas": [{"name": "y"}]}
    assert _problems("service", broken, "s") == [
        "s.id: not a uuid",
        "s.status: not one of ('active', 'inactive', 'defunct', 'temporarily closed')",
        "s.service_areas[0]: missing id",
    ]


def test_hsds_ids_are_deterministic_uuids_of_the_rule_set_ids() -> None:
    """A re-export keeps every identifier: uuid5 of kind:id in the library's namespace."""
    first = hsds_directory(RULES, as_of=AS_OF)
    assert first == hsds_directory(RULES, as_of=AS_OF)
    assert hsds_id("partner", "caritas") == str(uuid.uuid5(NAMESPACE, "partner:caritas"))
    assert {o["name"] for o in first["organizations"]} >= {
        "Caritasverband für den Landkreis Breisgau-Hochschwarzwald e.V."
    }


def test_example_operators_stay_out_of_the_directory_unless_asked_for() -> None:
    """Placeholder offers are left out by default; included, they carry an alert that they are examples."""
    ids = {offer.id for offer in GRAPH.offers if offer.sample}
    default = {s["id"] for s in hsds_directory(RULES, as_of=AS_OF)["services"]}
    assert not default & {hsds_id("offer", i) for i in ids}
    included = hsds_directory(RULES, as_of=AS_OF, include_samples=True, lang="en")["services"]
    samples = [s for s in included if s["id"] in {hsds_id("offer", i) for i in ids}]
    assert len(samples) == len(ids)
    assert all("Example operator" in s["alert"] for s in samples)


def test_services_carry_their_areas_languages_age_limits_and_status() -> None:
    """The JMD (12 to 26) and an offer outside its window (status inactive) come out as the rules say."""
    services = hsds_directory(RULES, as_of=AS_OF, include_samples=True)["services"]
    jmd = next(s for s in services if s["id"] == hsds_id("offer", "diakonie-jmd"))
    assert (jmd["minimum_age"], jmd["maximum_age"]) == (12, 26)
    assert {a["name"] for a in jmd["service_areas"]} == {m.name for m in GRAPH.municipalities.values()}
    assert {language["code"] for language in jmd["languages"]} == set(
        next(o for o in GRAPH.offers if o.id == "diakonie-jmd").languages
    )
    old = next(s for s in services if s["id"] == hsds_id("offer", "landratsamt-integrationsmanagement"))
    assert old["status"] == "inactive"


def test_age_limits_read_only_what_every_grant_says() -> None:
    """Without grants, or with a grant open upwards, the limits stay open."""
    assert age_limits([]) == (None, None)
    mbe = [r for r in RULES.rules_of("mbe") if r.effect == "eligible"]
    low, high = age_limits(mbe)
    assert low == 27
    assert high is None


def test_write_hsds_writes_two_json_files(tmp_path: Path) -> None:
    """organizations.json and services.json hold the directory, UTF-8, as JSON arrays."""
    paths = write_hsds(RULES, tmp_path / "hsds", as_of=AS_OF)
    assert [p.name for p in paths] == ["organizations.json", "services.json"]
    assert json.loads(paths[1].read_text(encoding="utf-8")) == hsds_directory(RULES, as_of=AS_OF)["services"]


# -- routing reads the graph ---------------------------------------------------------------------


def _reference_route(
    service: str, municipality: str | None, on: dt.date, languages: tuple[str, ...]
) -> tuple[str, ...]:
    """Routing as it was before it read the graph: a scan of the offers, written out independently."""
    place = GRAPH.municipality_id(municipality)
    ranked = sorted(
        (not set(languages) & set(offer.languages), offer.partner)
        for offer in GRAPH.offers
        if offer.service == service
        and (offer.valid_from is None or offer.valid_from <= on)
        and (offer.valid_to is None or on <= offer.valid_to)
        and (offer.municipalities is None or place in offer.municipalities)
    )
    return tuple(dict.fromkeys(partner for _, partner in ranked))


_TARGETS = sorted({offer.service for offer in GRAPH.offers} | {"nothing", "office:nothing"})


@given(
    service=st.sampled_from(_TARGETS),
    municipality=st.sampled_from(
        [None, "Bad Krozingen", "staufen", "Staufen im Breisgau", "Hartheim", "Freiburg"]
    ),
    on=st.dates(dt.date(2015, 1, 1), dt.date(2030, 12, 31)),
    languages=st.lists(st.sampled_from(["de", "en", "ar", "uk", "tr", "fa", "ru"]), max_size=3),
)
@settings(max_examples=400, deadline=None)
def test_routing_on_the_graph_gives_the_answers_of_the_offer_scan(
    service: str, municipality: str | None, on: dt.date, languages: list[str]
) -> None:
    """Graph queries over dated offer nodes route exactly as scanning the offers did."""
    assert GRAPH.route(service, municipality, on, languages) == _reference_route(
        service, municipality, on, tuple(languages)
    )


def _reference_sample(partner: str, service: str, municipality: str | None, on: dt.date) -> bool:
    """A placeholder as the offer scan found one: a sample unit, or only sample offers there then."""
    place = GRAPH.municipality_id(municipality)
    unit = GRAPH.partners.get(partner)
    offers = [
        offer
        for offer in GRAPH.offers
        if offer.partner == partner
        and offer.service == service
        and offer.in_force(on)
        and (offer.municipalities is None or place in offer.municipalities)
    ]
    return (unit is not None and unit.sample) or (bool(offers) and all(offer.sample for offer in offers))


@given(
    service=st.sampled_from(_TARGETS),
    municipality=st.sampled_from([None, "Bad Krozingen", "Staufen im Breisgau", "Hartheim", "Freiburg"]),
    on=st.dates(dt.date(2015, 1, 1), dt.date(2030, 12, 31)),
)
@settings(max_examples=200, deadline=None)
def test_a_routing_knows_its_partners_names_and_placeholders(
    service: str, municipality: str | None, on: dt.date
) -> None:
    """What recommend reads from the routing memo is what the offer scan and the units say."""
    routing = GRAPH.routing(service, GRAPH.municipality_id(municipality), on)
    partners = _reference_route(service, municipality, on, ())
    assert routing.partners == partners
    assert routing.names == tuple(GRAPH.partners[p].name for p in partners)
    assert routing.placeholders == tuple(
        p for p in partners if _reference_sample(p, service, municipality, on)
    )
    for partner in (*GRAPH.partners, "nobody"):
        assert GRAPH.is_sample(partner, service, municipality, on) == _reference_sample(
            partner, service, municipality, on
        )


# -- the command line ----------------------------------------------------------------------------


def test_the_graph_command_prints_each_format(capsys: pytest.CaptureFixture[str]) -> None:
    """`referral-engine graph` prints Mermaid by default and the other formats on request, cut as asked."""
    assert main(["graph", "--service", "jmd"]) == 0
    assert capsys.readouterr().out == export_graph(GRAPH, "mermaid", service="jmd")
    assert main(["graph", "--format", "graphml", "--municipality", "Staufen"]) == 0
    back = nx.read_graphml(io.StringIO(capsys.readouterr().out))
    assert "municipality:hartheim" not in back
    with pytest.raises(SystemExit) as usage:
        main(["graph", "--format", "png"])
    assert usage.value.code == 2
    assert main(["graph", "--service", "nothing"]) == 2
    assert "no offer delivers 'nothing'" in capsys.readouterr().err


def test_the_export_command_writes_the_hsds_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`referral-engine export hsds OUT` writes the two files and names them."""
    assert main(["export", "hsds", str(tmp_path / "out"), "--as-of", "2026-03-01"]) == 0
    assert capsys.readouterr().out.split() == [
        str(tmp_path / "out" / n) for n in ("organizations.json", "services.json")
    ]
    services = json.loads((tmp_path / "out" / "services.json").read_text(encoding="utf-8"))
    assert services == hsds_directory(RULES, as_of=AS_OF)["services"]


def test_partner_directory_data_is_read_checked_and_exported(tmp_path: Path) -> None:
    """contact: web, e-mail and phone reach the HSDS organization; a bad web address is a located error."""
    from referral_engine import RuleFileError, load_ruleset

    from .conftest import edited_rules

    contact = (
        '    contact: {web: "https://www.hkf-staufen.de/", email: "info@example.org", phone: "+49 7633 0"}'
    )
    folder = edited_rules(
        tmp_path / "ok", "partners.yaml", '    contact: {web: "https://www.hkf-staufen.de/"}', contact
    )
    rules = load_ruleset(folder)
    assert dict(rules.partners.partners["helferkreis_staufen"].contact) == {
        "web": "https://www.hkf-staufen.de/",
        "email": "info@example.org",
        "phone": "+49 7633 0",
    }
    [organization] = [
        o
        for o in hsds_directory(rules, as_of=AS_OF)["organizations"]
        if o["id"] == hsds_id("partner", "helferkreis_staufen")
    ]
    assert organization["website"] == "https://www.hkf-staufen.de/"
    assert organization["phones"][0]["number"] == "+49 7633 0"
    assert _problems("organization", organization, "o") == []
    broken = edited_rules(
        tmp_path / "bad", "partners.yaml", '{web: "https://www.hkf-staufen.de/"}', '{web: "hkf-staufen.de"}'
    )
    with pytest.raises(RuleFileError, match="web must be an http"):
        load_ruleset(broken)


def test_unknown_directory_data_is_absent_not_invented() -> None:
    """The bundled partners carry only sourced web pages: no phone number or e-mail is made up."""
    for partner in GRAPH.partners.values():
        assert set(partner.contact) <= {"web"}
        assert all(url.startswith("https://") for url in partner.contact.values())
