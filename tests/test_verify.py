"""`referral-engine check`: the bundled rules pass; each seeded defect is found with rule id and file:line."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from referral_engine import default_ruleset
from referral_engine.cli import main
from referral_engine.verify import Finding, Report, check

from .conftest import REPO, edited_rules


def seeded(tmp_path: Path, file: str, old: str, new: str, count: int = 1) -> Path:
    """A copy of the bundled rules with ``old`` replaced by ``new`` in one file (``count`` times; -1: all)."""
    return edited_rules(tmp_path, file, old, new, count)


def line_of(folder: Path, file: str, text: str, occurrence: int = 1) -> int:
    """The line number of the ``occurrence``-th line of ``file`` that contains ``text``."""
    lines = (folder / file).read_text(encoding="utf-8").splitlines()
    hits = [number for number, line in enumerate(lines, start=1) if text in line]
    return hits[occurrence - 1]


def at(folder: Path, file: str, text: str, occurrence: int = 1) -> str:
    """``file:line`` of that line, as findings show it."""
    return f"{folder}/{file}:{line_of(folder, file, text, occurrence)}"


def only(report: Report, kind: str, severity: str = "error") -> list[Finding]:
    return [f for f in report.findings if f.kind == kind and f.severity == severity]


@pytest.fixture(scope="module")
def bundled() -> Report:
    return check(default_ruleset())


def test_bundled_rules_pass(bundled: Report) -> None:
    """The bundled rules have no error-level finding; the sweep covers tens of thousands of profiles."""
    assert bundled.ok, "\n".join(map(str, bundled.errors))
    assert bundled.points > 10_000


def test_bundled_rules_are_checked_within_seconds() -> None:
    """check() on the bundled rules, loading included, takes a few seconds at most."""
    started = time.perf_counter()
    check(REPO / "rules")
    assert time.perf_counter() - started < 8


def test_bundled_gaps_are_warnings_about_known_groups(bundled: Report) -> None:
    """Children under 12 and people obliged to leave or without papers get no counselling: warnings."""
    gaps = bundled.of_kind("gap")
    assert gaps
    assert all(f.severity == "warning" for f in gaps)
    assert any("age 0..11" in f.message for f in gaps)
    assert any("ausreisepflichtig|undocumented" in f.message for f in gaps)


def test_designed_exceptions_are_infos_not_errors(bundled: Report) -> None:
    """An exclusion that carves an exception out of a grant (B1 reached) is listed as an info overlap."""
    overlaps = {f.rule: f for f in bundled.of_kind("overlap")}
    assert overlaps["integrationskurs-entitlement-first-year"].severity == "info"
    assert "integrationskurs-b1-reached" in overlaps["integrationskurs-entitlement-first-year"].related


def test_declared_not_offered_is_accepted(tmp_path: Path) -> None:
    """Without its not_offered entry, the missing Helferkreis in Hartheim is a coverage error."""
    folder = seeded(
        tmp_path, "partners.yaml", "  - id: helferkreis-hartheim\n", "  - id: helferkreis-nowhere\n"
    )
    folder_text = (folder / "partners.yaml").read_text(encoding="utf-8")
    (folder / "partners.yaml").write_text(
        folder_text.replace(
            'municipalities: [hartheim]\n    source: ["research',
            'municipalities: [staufen]\n    source: ["research',
        ),
        encoding="utf-8",
    )
    report = check(folder)
    coverage = only(report, "coverage")
    assert [(f.service, "hartheim" in f.message) for f in coverage] == [("helferkreis", True)]
    assert only(report, "coverage", "warning")  # declared not offered in Staufen, yet served there


# -- the seeded defects of issue 5 ------------------------------------------------------------------


def test_duplicated_rule_id_is_found(tmp_path: Path) -> None:
    """A rule id used twice is a load error naming the rule and the second definition's file:line."""
    folder = seeded(
        tmp_path,
        "eligibility/mbe.yaml",
        "  - id: mbe-spaetaussiedler\n",
        "  - id: mbe-within-3-years-of-arrival\n",
    )
    report = check(folder)
    [finding] = only(report, "load")
    assert finding.rule == "mbe-within-3-years-of-arrival"
    assert finding.where == at(folder, "eligibility/mbe.yaml", "id: mbe-within-3-years-of-arrival", 2)
    assert "duplicate rule id" in finding.message


def test_unknown_partner_is_found(tmp_path: Path) -> None:
    """A rule that asks an unknown partner to check is a load error with the rule id and file:line."""
    folder = seeded(
        tmp_path,
        "eligibility/integrationskurs.yaml",
        "check_with: landratsamt_sozialamt",
        "check_with: landratsamt_sozialamtt",
    )
    [finding] = only(check(folder), "load")
    assert finding.rule == "integrationskurs-obligation-asylblg"
    line = line_of(folder, "eligibility/integrationskurs.yaml", "check_with: landratsamt_sozialamtt")
    assert finding.where == f"{folder}/eligibility/integrationskurs.yaml:{line}"
    assert "unknown partner 'landratsamt_sozialamtt'" in finding.message


def test_a_split_partner_is_named_with_its_units(tmp_path: Path) -> None:
    """A rule that still names the split-up Landratsamt is told to name the unit for its purpose."""
    folder = seeded(
        tmp_path,
        "eligibility/integrationskurs.yaml",
        "check_with: landratsamt_sozialamt",
        "check_with: landratsamt",
    )
    [finding] = only(check(folder), "load")
    assert finding.rule == "integrationskurs-obligation-asylblg"
    assert "was split into units" in finding.message


def test_unknown_partner_of_an_offer_is_found(tmp_path: Path) -> None:
    """An offer naming an unknown partner is a load error naming the offer and its file:line."""
    folder = seeded(
        tmp_path,
        "partners.yaml",
        "    partner: vhs\n    service: integrationskurs\n    municipalities: [staufen",
        "    partner: vhs_umland\n    service: integrationskurs\n    municipalities: [staufen",
    )
    [finding] = only(check(folder), "load")
    assert (finding.rule, finding.subject) == ("vhs-integrationskurs-umland", "offer")
    assert finding.where == at(folder, "partners.yaml", "partner: vhs_umland")


def test_removed_partner_for_one_municipality_is_found(tmp_path: Path) -> None:
    """An integration course without a provider for Hartheim is a coverage error at the course's offers."""
    folder = seeded(
        tmp_path,
        "partners.yaml",
        "service: integrationskurs\n    municipalities: [staufen, hartheim]",
        "service: integrationskurs\n    municipalities: [staufen]",
    )
    report = check(folder)
    [finding] = only(report, "coverage")
    assert finding.service == "integrationskurs"
    assert "hartheim" in finding.message
    assert (finding.rule, finding.subject) == ("vhs-integrationskurs", "offer")
    assert finding.where == at(folder, "partners.yaml", "- id: vhs-integrationskurs")
    assert not report.ok


OVERLAP = """  - id: mbe-spaetaussiedler-own-programme
    effect: not_eligible
    when:
      all:
        - {field: age, op: ge, value: 27}
        - {field: residence_status, op: eq, value: spaetaussiedler}
    source: ["seeded defect: Spätaussiedler go to a programme of their own"]

  - id: mbe-long-resident-need
"""


def test_overlapping_rule_with_contradicting_result_is_found(tmp_path: Path) -> None:
    """An exclusion that holds wherever a grant holds is a contradiction naming both rules and lines."""
    folder = seeded(tmp_path, "eligibility/mbe.yaml", "  - id: mbe-long-resident-need\n", OVERLAP)
    [finding] = only(check(folder), "contradiction")
    assert finding.rule == "mbe-spaetaussiedler"
    assert finding.related == ("mbe-spaetaussiedler-own-programme",)
    assert finding.where == at(folder, "eligibility/mbe.yaml", "- id: mbe-spaetaussiedler")
    new_line = line_of(folder, "eligibility/mbe.yaml", "- id: mbe-spaetaussiedler-own-programme")
    assert f"mbe.yaml:{new_line}" in finding.message


def test_age_gap_between_jmd_and_mbe_is_found(tmp_path: Path) -> None:
    """MBE from 28 while JMD ends at 26: 27-year-olds fall through, an error naming the bordering rules."""
    folder = seeded(
        tmp_path,
        "eligibility/mbe.yaml",
        "{field: age, op: ge, value: 27}",
        "{field: age, op: ge, value: 28}",
        -1,
    )
    gaps = only(check(folder), "gap")
    assert gaps
    assert all("age 27 " in f.message for f in gaps)
    assert {f.rule for f in gaps} <= {r.id for r in default_ruleset().rules_of("mbe")}
    for finding in gaps:
        assert finding.where == at(folder, "eligibility/mbe.yaml", f"- id: {finding.rule}")
        assert any(r.startswith("jmd-") for r in finding.related)


def test_one_day_gap_between_rule_windows_is_found(tmp_path: Path) -> None:
    """JMD rules starting on 2 January 2017 while the old ones end on 31 December: a hole in time."""
    folder = seeded(tmp_path, "eligibility/jmd.yaml", "valid_from: 2017-01-01", "valid_from: 2017-01-02", -1)
    gaps = only(check(folder), "gap")
    assert gaps
    assert all("as_of 2017-01-01..2017-01-01" in f.message for f in gaps)
    assert all(f.rule is not None and f.rule.startswith("jmd-") for f in gaps)
    for finding in gaps:  # the rules on either side of the missing day
        assert any(r.endswith("-before-2017") for r in finding.related)
        assert {"jmd-lawful-or-tolerated", "jmd-arrival-certificate-unclear"} & set(finding.related)
    assert all(f.file == f"{folder}/eligibility/jmd.yaml" for f in gaps)


def test_dead_rule_and_unreachable_service_are_found(tmp_path: Path) -> None:
    """A rule whose conditions exclude each other is dead; a service with only dead grants is unreachable."""
    folder = seeded(
        tmp_path,
        "eligibility/anerkennungsberatung.yaml",
        "when: {field: foreign_qualification, op: eq, value: true}",
        "when: {all: [{field: foreign_qualification, op: eq, value: true},"
        " {field: foreign_qualification, op: eq, value: false}]}",
    )
    report = check(folder)
    [dead] = only(report, "dead_rule")
    assert dead.rule == "anerkennungsberatung-foreign-qualification"
    [unreachable] = only(report, "unreachable")
    assert unreachable.service == "anerkennungsberatung"
    assert unreachable.where == at(folder, "services.yaml", "- id: anerkennungsberatung")


# -- the command ------------------------------------------------------------------------------------


def test_check_command_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The check command exits 0 on the bundled rules, 1 when it finds errors, 2 for a missing folder."""
    assert main(["check"]) == 0
    assert "0 errors" in capsys.readouterr().out
    folder = seeded(
        tmp_path,
        "partners.yaml",
        "service: integrationskurs\n    municipalities: [staufen, hartheim]",
        "service: integrationskurs\n    municipalities: [staufen]",
    )
    assert main(["check", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "error     coverage" in out
    assert f"{folder}/partners.yaml:" in out
    assert main(["check", str(tmp_path / "missing")]) == 2
    assert "not a folder of rule files" in capsys.readouterr().err


def test_check_command_reports_load_problems_as_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Broken rule files are findings in the table (exit 1), not a traceback, and --json is plain JSON."""
    folder = seeded(tmp_path, "eligibility/jmd.yaml", "effect: eligible", "effect: eligble")
    assert main(["check", str(folder), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    [finding] = data["findings"]
    assert finding["kind"] == "load"
    assert finding["rule"] == "jmd-lawful-or-tolerated"
    assert finding["where"].startswith(f"{folder}/eligibility/jmd.yaml:")


# -- partners.yaml: not_offered ------------------------------------------------------------------


def test_not_offered_is_loaded_into_the_partner_graph() -> None:
    """The bundled partners.yaml declares the Helferkreis as not offered in Hartheim, with its line."""
    [entry] = default_ruleset().partners.not_offered
    assert (entry.id, entry.service, entry.municipalities) == (
        "helferkreis-hartheim",
        "helferkreis",
        ("hartheim",),
    )
    assert entry.where is not None
    assert entry.where.file.endswith("partners.yaml")
    assert entry.source


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "service: helferkreis\n    municipalities: [hartheim]",
            "service: helferkreise\n    municipalities: [hartheim]",
            "unknown service 'helferkreise'",
        ),
        (
            "municipalities: [hartheim]\n    source",
            "municipalities: [muellheim]\n    source",
            "unknown municipality 'muellheim'",
        ),
        ('    source: ["research §7.1', '    sources: ["research §7.1', "unknown key 'sources'"),
    ],
)
def test_bad_not_offered_entries_are_load_errors(tmp_path: Path, old: str, new: str, message: str) -> None:
    """A not_offered entry is checked like an offer: service, municipalities and keys."""
    findings = only(check(seeded(tmp_path, "partners.yaml", old, new)), "load")
    [finding] = [f for f in findings if message in f.message]
    assert finding.where.startswith(f"{tmp_path}/rules/partners.yaml:")


def test_a_deployment_can_remove_a_not_offered_entry(tmp_path: Path) -> None:
    """An overlay's remove: [id] drops a bundled not_offered entry like any other entry."""
    (tmp_path / "ruleset.yaml").write_text('name: local\nversion: "1"\nextends: default\n', encoding="utf-8")
    (tmp_path / "partners.yaml").write_text("remove: [helferkreis-hartheim]\n", encoding="utf-8")
    report = check(tmp_path)
    assert [f.service for f in report.errors] == ["helferkreis"]


def test_the_table_wraps_messages_at_the_width_given() -> None:
    """With a width no line of the table is longer; continuation lines are indented under the message."""
    report = check(REPO / "rules")
    table = report.table(width=100)
    assert max(len(line) for line in table.splitlines()) <= 100
    unwrapped = report.table()
    assert max(len(line) for line in unwrapped.splitlines()) > 100
    assert "".join(table.split()) == "".join(unwrapped.split())  # the same text, only wrapped


def test_check_speaks_json_with_format_and_shows_paths_relative_to_the_working_directory(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--format json equals --json; the text table names files inside the working directory relatively."""
    monkeypatch.chdir(REPO)
    assert main(["check", "rules", "--format", "json"]) == 0
    as_format = json.loads(capsys.readouterr().out)
    assert main(["check", "rules", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == as_format["findings"]
    assert main(["check", "--rules", str(REPO / "rules")]) == 0
    out = capsys.readouterr().out
    assert " rules/services.yaml:" in out
    assert str(REPO) not in out
