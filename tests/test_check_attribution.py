"""`check` attributes findings to the rules that cause them; --against/--since put changed rules first.

The planted defect throughout: the JMD's age limit moved from ``lt 27`` to ``lt 26`` in one rule
(an off-by-one that leaves 26-year-olds without counselling between the JMD and the MBE).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from referral_engine import default_ruleset
from referral_engine.changes import changed_entries, entry_digest, rules_at
from referral_engine.cli import main
from referral_engine.errors import UsageError
from referral_engine.explain import check_report_html
from referral_engine.loader import load_ruleset
from referral_engine.verify import SEVERITIES, Report, check

from .conftest import REPO, edited_rules

PLANTED = "jmd-lawful-or-tolerated"
JMD = "eligibility/jmd.yaml"
OLD_LIMIT = "{field: age, op: lt, value: 27}"
NEW_LIMIT = "{field: age, op: lt, value: 26}"
MARKER = "SECRET-Amina-4711"


def planted(tmp_path: Path) -> Path:
    """The bundled rules with the off-by-one in the first JMD rule only."""
    return edited_rules(tmp_path, JMD, OLD_LIMIT, NEW_LIMIT, 1)


def line_of_rule(folder: Path, rule: str) -> int:
    lines = (folder / JMD).read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if f"- id: {rule}" in line)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return planted(tmp_path_factory.mktemp("planted"))


@pytest.fixture(scope="module")
def against(folder: Path) -> Report:
    return check(folder, against=REPO / "rules")


def test_the_planted_rule_is_among_the_causes_of_every_gap_it_opens(folder: Path) -> None:
    """Without a comparison, each hole at age 26 names the planted rule as a cause, with its file:line."""
    gaps = [f for f in check(folder).errors if f.kind == "gap"]
    assert gaps
    where = f"{folder}/{JMD}:{line_of_rule(folder, PLANTED)}"
    for finding in gaps:
        assert "age 26 " in finding.message
        assert any(c.rule == PLANTED and c.where == where for c in finding.causes)


def test_no_unrelated_rule_is_blamed(folder: Path) -> None:
    """Every cause of the age hole tests the age (the boundary that flipped); none is another service's.

    The neighbours of the hole get counselling from the JMD (below) and the MBE (above); rules of
    other services that hold next door too, such as integrationsmanagement's, are not causes.
    """
    ruleset = load_ruleset(folder)
    by_id = {r.id: r for r in ruleset.rules}
    gaps = [f for f in check(ruleset).errors if f.kind == "gap"]
    causes = {c.rule for f in gaps for c in f.causes}
    assert PLANTED in causes
    assert all(any(leaf.field == "age" for leaf in by_id[rule].leaves) for rule in causes)
    assert {by_id[rule].service for rule in causes} == {"jmd", "mbe"}
    assert not {rule for f in gaps for rule in f.related} - causes - {PLANTED}  # named ⊆ blamed
    assert "integrationsmanagement-ukraine-without-au-unclear" not in causes


def test_against_lists_the_changed_rule_first_and_places_its_findings_there(
    folder: Path, against: Report
) -> None:
    """With --against the original rules, the planted rule is the one changed, and its findings lead."""
    assert against.changed == (("rule", PLANTED),)
    first = against.findings[0]
    assert (first.kind, first.rule, first.changed) == ("gap", PLANTED, True)
    assert first.where == f"{folder}/{JMD}:{line_of_rule(folder, PLANTED)}"
    assert first.causes[0].rule == PLANTED
    assert first.causes[0].changed
    assert not any(c.changed for f in against.findings for c in f.causes if c.rule != PLANTED)
    flags = [f.changed for f in against.findings]
    assert flags == sorted(flags, reverse=True)  # every changed finding before every other
    changed = [f for f in against.findings if f.changed]
    assert {f.kind for f in changed} == {"gap", "scenario"}  # the sweep's holes and the JMD's worked cases
    assert all(f.changed for f in against.errors if f.kind == "gap")


def test_the_order_is_deterministic_and_by_group_severity_then_place(folder: Path, against: Report) -> None:
    """Two runs give the same order; within a group errors come first, then by file and line."""
    again = check(folder, against=REPO / "rules")
    assert [(f.where, f.kind, f.message) for f in again.findings] == [
        (f.where, f.kind, f.message) for f in against.findings
    ]
    assert [f.causes for f in again.findings] == [f.causes for f in against.findings]
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    keys = [(not f.changed, rank[f.severity], f.file, f.line) for f in against.findings]
    assert keys == sorted(keys)


def test_findings_without_a_comparison_keep_the_severity_order(folder: Path) -> None:
    """Without --against nothing is marked changed and errors still come first."""
    report = check(folder)
    assert report.against is None
    assert report.changed == ()
    assert not any(f.changed for f in report.findings)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    keys = [(rank[f.severity], f.file, f.line) for f in report.findings]
    assert keys == sorted(keys)


def test_moving_or_reformatting_a_rule_is_no_change_and_a_new_note_is(tmp_path: Path) -> None:
    """Entries are compared by their parsed form: comments and lines do not count, content does."""
    moved = edited_rules(tmp_path / "a", JMD, "service: jmd\n", "\n\n# a comment\nservice: jmd\n", 1)
    assert changed_entries(default_ruleset(), load_ruleset(moved)) == frozenset()
    noted = edited_rules(tmp_path / "b", JMD, "am 27. Geburtstag endet", "mit dem 27. Geburtstag endet", 1)
    assert changed_entries(default_ruleset(), load_ruleset(noted)) == {("rule", PLANTED)}
    rules = default_ruleset().rules
    assert entry_digest(rules[0]) == entry_digest(rules[0]) != entry_digest(rules[1])


def test_an_offer_changed_is_marked_on_its_coverage_finding(tmp_path: Path) -> None:
    """Not only rules: an offer narrowed to fewer municipalities is the changed cause of its coverage gap."""
    folder = edited_rules(
        tmp_path,
        "partners.yaml",
        "service: integrationskurs\n    municipalities: [staufen, hartheim]",
        "service: integrationskurs\n    municipalities: [staufen]",
        1,
    )
    report = check(folder, against=REPO / "rules")
    assert report.changed == (("offer", "vhs-integrationskurs-umland"),)
    [coverage] = report.of_kind("coverage")
    assert coverage.changed
    assert coverage.rule == "vhs-integrationskurs-umland"
    assert coverage.causes[0].rule == "vhs-integrationskurs-umland"
    assert {c.rule for c in coverage.causes} == {
        o.id for o in default_ruleset().partners.offers_for("integrationskurs")
    }
    assert all(f.changed for f in report.findings[: report.findings.index(coverage)])


def test_the_text_report_says_what_caused_each_finding(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The table shows 'caused by rule … (file:line), changed since …' under the first finding."""
    assert main(["check", str(folder), "--against", str(REPO / "rules")]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[1].split()[:3] == ["error", "gap", PLANTED]
    where = f"{folder}/{JMD}:{line_of_rule(folder, PLANTED)}"
    assert lines[2].split() == [
        "caused",
        "by",
        "rule",
        PLANTED,
        f"({where}),",
        "changed",
        "since",
        f"{REPO / 'rules'};",
        *lines[2].split()[8:],
    ]
    assert f"changed since {REPO / 'rules'}, " in lines[-1]


def test_the_json_report_has_the_causes_and_the_comparison(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--format json: each finding has causes (rule, file, line, where, changed) and changed."""
    assert main(["check", str(folder), "--against", str(REPO / "rules"), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["against"] == str(REPO / "rules")
    assert data["changed"] == [{"subject": "rule", "id": PLANTED}]
    first = data["findings"][0]
    assert first["changed"] is True
    cause = first["causes"][0]
    line = line_of_rule(folder, PLANTED)
    assert cause == {
        "rule": PLANTED,
        "file": f"{folder}/{JMD}",
        "line": line,
        "subject": "rule",
        "changed": True,
        "where": f"{folder}/{JMD}:{line}",
    }
    assert all("causes" in f and "changed" in f for f in data["findings"])


def test_json_without_a_comparison_has_no_comparison_keys(capsys: pytest.CaptureFixture[str]) -> None:
    """The bundled rules' JSON report names no comparison, and each finding still has its causes."""
    assert main(["check", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "against" not in data
    assert "changed" not in data
    assert all(f["causes"] or f["rule"] is None for f in data["findings"])


def test_the_html_report_shows_the_causes(against: Report) -> None:
    """The notebook HTML has a 'caused by' column, the changed cause in bold with the comparison."""
    html = check_report_html(against)
    assert "<th>caused by</th>" in html
    assert f"<b>rule {PLANTED} (" in html
    assert "changed since " in html


def test_against_and_since_are_exclusive_and_against_must_be_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both at once, or --against a missing folder, is a usage error (exit 2)."""
    assert main(["check", "--against", str(REPO / "rules"), "--since", "HEAD"]) == 2
    assert "one of --against" in capsys.readouterr().err
    assert main(["check", "--against", str(tmp_path / "missing")]) == 2
    assert "not a folder of rule files" in capsys.readouterr().err


# -- scenarios: the worked cases in the folder's scenarios/ -------------------------------------------


def test_an_off_by_one_the_sweep_cannot_see_fails_a_scenario_attributed_to_its_rule(tmp_path: Path) -> None:
    """JMD until 27 instead of 26 leaves no gap, but the worked case of the 27th birthday fails.

    The finding is at the expectation's line in the scenario file, attributed to the grant that
    holds (the planted rule), and listed first with --against.
    """
    folder = edited_rules(tmp_path, JMD, OLD_LIMIT, "{field: age, op: lt, value: 28}", 1)
    report = check(folder)
    assert not [f for f in report.errors if f.kind != "scenario"]
    [finding] = report.errors
    assert finding.file == f"{folder}/scenarios/jmd.yaml"
    assert "decision jmd expected not_eligible, got eligible" in finding.message
    assert [c.rule for c in finding.causes] == [PLANTED]
    assert finding.causes[0].where == f"{folder}/{JMD}:{line_of_rule(folder, PLANTED)}"
    compared = check(folder, against=REPO / "rules")
    assert compared.findings[0].message == finding.message
    assert compared.findings[0].changed


def test_a_failed_scenario_blames_the_grant_that_missed_not_a_check_that_missed_too(folder: Path) -> None:
    """At 26 with a Duldung the JMD rules fail: the grant by its age limit, a check by its status too.

    Only a grant could make the case eligible, as the scenario expects: the check is not blamed.
    A missing next step is attributed to the rule that took the JMD away, then to the step.
    """
    scenario = [f for f in check(folder).errors if f.kind == "scenario"]
    status = [f for f in scenario if "decision jmd expected eligible, got not_eligible" in f.message]
    assert status
    assert all([c.rule for c in f.causes] == [PLANTED] for f in status)
    steps = [f for f in scenario if "next step jmd-first-appointment expected" in f.message]
    assert steps
    assert all(
        [(c.subject, c.rule) for c in f.causes] == [("rule", PLANTED), ("step", "jmd-first-appointment")]
        for f in steps
    )


def test_a_scenario_file_that_does_not_load_is_a_finding(tmp_path: Path) -> None:
    """A scenario naming an unknown service is an error of kind scenario at its file:line."""
    folder = edited_rules(tmp_path, "scenarios/jmd.yaml", "eligible: [jmd]", "eligible: [jmdx]", 1)
    [finding] = check(folder).errors
    assert finding.kind == "scenario"
    assert "unknown service 'jmdx'" in finding.message
    assert finding.file == f"{folder}/scenarios/jmd.yaml"


def test_check_does_not_echo_a_scenario_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The profile of a failing worked case (planted birth date) appears in no output format."""
    folder = edited_rules(tmp_path, JMD, OLD_LIMIT, "{field: age, op: lt, value: 28}", 1)
    planted_birth = "1999-03-02"  # the scenario's own birth date stands for personal data
    assert planted_birth in (folder / "scenarios" / "jmd.yaml").read_text(encoding="utf-8")
    for form in ("text", "json"):
        assert main(["check", str(folder), "--against", str(REPO / "rules"), "--format", form]) == 1
        out = capsys.readouterr().out
        assert "scenario" in out
        assert planted_birth not in out
    assert planted_birth not in check_report_html(check(folder))


# -- --since: the rule folder at a git revision -------------------------------------------------------


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with the bundled rules committed under rules/, then the off-by-one planted."""
    if shutil.which("git") is None:
        pytest.fail("git is needed for --since")
    root = tmp_path / "repo"
    shutil.copytree(REPO / "rules", root / "rules")
    git(root, "init", "-q")
    git(root, "add", "rules")
    git(root, "commit", "-q", "-m", "rules")
    path = root / "rules" / JMD
    path.write_text(path.read_text(encoding="utf-8").replace(OLD_LIMIT, NEW_LIMIT, 1), encoding="utf-8")
    return root


def test_since_compares_with_the_folder_as_committed(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--since HEAD finds the uncommitted off-by-one, as --against the committed copy would."""
    assert main(["check", str(repo / "rules"), "--since", "HEAD", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["against"] == "HEAD"
    assert data["changed"] == [{"subject": "rule", "id": PLANTED}]
    assert data["findings"][0]["rule"] == PLANTED
    git(repo, "commit", "-q", "-am", "plant")
    assert main(["check", str(repo / "rules"), "--since", "HEAD~1", "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["changed"] == [{"subject": "rule", "id": PLANTED}]
    assert main(["check", str(repo / "rules"), "--since", "HEAD", "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["changed"] == []


def test_rules_at_writes_only_the_rule_folder(repo: Path, tmp_path: Path) -> None:
    """rules_at() writes the folder's committed files, nothing of the rest of the repository."""
    (repo / "README").write_text("x", encoding="utf-8")
    git(repo, "add", "README")
    git(repo, "commit", "-q", "-m", "readme")
    out = rules_at(repo / "rules", "HEAD", tmp_path / "old")
    assert not (out / "README").exists()
    assert (out / JMD).read_text(encoding="utf-8") == (REPO / "rules" / JMD).read_text(encoding="utf-8")


@pytest.mark.parametrize("revision", [f"no-such-{MARKER}", f"--output={MARKER}", "HEAD:rules", ""])
def test_a_bad_revision_is_a_usage_error_that_does_not_echo_it(
    repo: Path, revision: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown revision, an option in disguise or a path is refused (exit 2), without repeating it."""
    assert main(["check", str(repo / "rules"), f"--since={revision}"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error:" in captured.err
    assert MARKER not in captured.err


def test_since_outside_a_git_repository_is_a_usage_error(tmp_path: Path) -> None:
    """A rule folder that is no git work tree: a UsageError that says what went wrong."""
    folder = planted(tmp_path)
    with pytest.raises(UsageError, match="git repository"):
        rules_at(folder, "HEAD", tmp_path / "old")
