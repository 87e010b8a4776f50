"""`referral-engine diff`: the impact of a rule change on cases from JSON lines, CSV or generated profiles."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from referral_engine import CaseFileError, CaseProfile, Ruleset, Status, default_ruleset, load_ruleset
from referral_engine.cli import main
from referral_engine.dates import add_months, age_on
from referral_engine.impact import GENERATED, Case, diff, generated_cases, read_cases

from .conftest import REPO, edited_rules

AS_OF = dt.date(2026, 3, 1)
SECRET = "SECRET-Zeynep-1987"
STATUSES = (
    "ae_25_1",
    "gestattung",
    "arrival_certificate",
    "duldung",
    "undocumented",
    "ausreisepflichtig",
    None,
)


@pytest.fixture(scope="module")
def jmd_until_25(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled rules with the JMD age limit lowered by one year (lt 27 -> lt 26)."""
    old, new = "{field: age, op: lt, value: 27}", "{field: age, op: lt, value: 26}"
    return edited_rules(tmp_path_factory.mktemp("changed"), "eligibility/jmd.yaml", old, new)


def case_rows() -> list[dict[str, Any]]:
    """Cases aged 24 to 28 (by age or by birth date) in several statuses, and some of unknown age."""
    rows: list[dict[str, Any]] = []
    for status in STATUSES:
        for age in range(24, 29):
            rows.append({"id": f"age-{age}-{status}", "age": age, "residence_status": status})
            born = add_months(AS_OF, -12 * age)
            for shift, name in ((0, "birthday"), (1, "day-after")):
                rows.append(
                    {
                        "id": f"born-{age}-{name}-{status}",
                        "birth_date": (born + dt.timedelta(days=shift)).isoformat(),
                        "residence_status": status,
                    }
                )
        rows.append({"id": f"unknown-age-{status}", "residence_status": status})
    return rows


def age_of(row: dict[str, Any]) -> int | None:
    if "age" in row:
        return int(row["age"])
    if "birth_date" in row:
        return age_on(dt.date.fromisoformat(row["birth_date"]), AS_OF)
    return None


def expected_changes(rows: list[dict[str, Any]]) -> set[str]:
    """Computed from the rows alone: aged 26 and not excluded from the JMD by status.

    ``ausreisepflichtig`` is a check with the JMD operator (review #21), so its age limit matters too.
    """
    excluded = ("undocumented",)
    return {row["id"] for row in rows if age_of(row) == 26 and row["residence_status"] not in excluded}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    lines = []
    for row in rows:
        profile = {k: v for k, v in row.items() if k != "id" and v is not None}
        lines.append(json.dumps({"id": row["id"], "as_of": AS_OF.isoformat(), "profile": profile}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, ["id", "as_of", "age", "birth_date", "residence_status"])
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {**{k: ("" if v is None else v) for k, v in row.items()}, "as_of": AS_OF.isoformat()}
            )
    return path


def test_changed_age_limit_affects_exactly_the_26_year_olds(jmd_until_25: Path, tmp_path: Path) -> None:
    """Lowering the JMD limit changes the JMD decision of exactly the 26-year-olds it served or may serve."""
    rows = case_rows()
    impact = diff(
        default_ruleset(), load_ruleset(jmd_until_25), read_cases(write_jsonl(tmp_path / "c.jsonl", rows))
    )
    assert impact.cases == len(rows)
    statuses = [c for c in impact.changes if c.aspect == "status"]
    assert {c.case for c in statuses} == expected_changes(rows)
    assert {c.service for c in impact.changes} == {"jmd"}
    assert all(c.after is Status.NOT_ELIGIBLE for c in statuses)
    lawful = next(c for c in statuses if c.case == "age-26-ae_25_1")
    assert lawful.before is Status.ELIGIBLE
    assert lawful.rules_before == ("jmd-lawful-or-tolerated",)
    assert lawful.rules_after == ()
    summary = {kind: n for kind, n in impact.summary().items() if "->" in kind and "valid_until" not in kind}
    assert summary == {"jmd: eligible -> not_eligible": 9, "jmd: undetermined -> not_eligible": 9}
    # Younger people with a birth date keep the JMD, but it now ends a year earlier.
    earlier = {c.case for c in impact.changes if c.aspect == "valid_until"}
    assert earlier
    assert all(c.startswith("born-2") and c not in expected_changes(rows) for c in earlier)


def test_csv_cases_give_the_same_impact(jmd_until_25: Path, tmp_path: Path) -> None:
    """The same cases as CSV (empty cell = unknown) give the same changed cases."""
    rows = case_rows()
    impact = diff(
        default_ruleset(), load_ruleset(jmd_until_25), read_cases(write_csv(tmp_path / "c.csv", rows))
    )
    assert {c.case for c in impact.changes if c.aspect == "status"} == expected_changes(rows)


def test_cases_without_id_are_named_by_file_and_line(tmp_path: Path) -> None:
    """A plain profile per line is named file:line; CSV languages split on spaces or semicolons."""
    path = tmp_path / "plain.jsonl"
    path.write_text('{"age": 20}\n\n{"age": 30, "languages": ["ar"]}\n', encoding="utf-8")
    assert [case.id for case in read_cases(path)] == [f"{path}:1", f"{path}:3"]
    table = tmp_path / "plain.csv"
    table.write_text("age,languages\n20,ar;en\n", encoding="utf-8")
    [case] = read_cases(table)
    assert case.id == f"{table}:2"
    assert case.profile.languages == ("ar", "en")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", '{"age": 20}\n{"age": 2\n', r"bad.jsonl:2:\d+: invalid JSON"),
        ("bad.jsonl", f'{{"residence_status": "{SECRET}"}}\n', r"bad.jsonl:1: .*residence_status"),
        ("bad.jsonl", f'{{"profile": {{}}, "name": "{SECRET}"}}\n', r"bad.jsonl:1: unknown key 'name'"),
        ("bad.jsonl", '["not", "an", "object"]\n', r"bad.jsonl:1: expected a JSON object"),
        ("bad.csv", f"age,name\n20,{SECRET}\n", r"bad.csv:1: unknown column 'name'"),
        ("bad.csv", f"age,birth_date\n20,{SECRET}\n", r"bad.csv:2: .*birth_date"),
        ("bad.csv", f"id,as_of\n1,{SECRET}\n", r"bad.csv:2: as_of must be a date"),
        ("bad.txt", "age\n20\n", r"bad.txt: expected a .jsonl, .ndjson or .csv file"),
    ],
)
def test_bad_case_files_are_reported_by_line_without_values(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    """Each bad case file is one CaseFileError naming file:line and the field, never the value."""
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CaseFileError, match=message) as caught:
        read_cases(path)
    assert SECRET not in str(caught.value)


def test_generated_cases_are_deterministic() -> None:
    """Generated profiles depend only on the rule sets, the count and the seed."""
    rules: tuple[Ruleset, ...] = (default_ruleset(),)
    first, again = generated_cases(rules, count=50), generated_cases(rules, count=50)
    assert [(c.id, c.profile, c.as_of) for c in first] == [(c.id, c.profile, c.as_of) for c in again]
    assert first != generated_cases(rules, count=50, seed=1)


def test_diff_command_prints_summary_and_samples(
    jmd_until_25: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The diff command reports counts, kinds of change and sample case ids, and --json the same data."""
    cases = write_jsonl(tmp_path / "c.jsonl", case_rows())
    assert main(["diff", "default", str(jmd_until_25), "--cases", str(cases)]) == 0
    out = capsys.readouterr().out
    assert f"of {len(case_rows())} cases change" in out
    assert "jmd: eligible -> not_eligible" in out
    assert "jmd: valid_until" in out
    assert "e.g. age-26-" in out
    assert main(["diff", "default", str(jmd_until_25), "--cases", str(cases), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    status = {c["case"] for c in data["changes"] if c["aspect"] == "status"}
    assert status == expected_changes(case_rows())


def test_diff_command_generates_profiles_without_cases(
    jmd_until_25: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --cases the diff runs on generated profiles (--count of them; by default GENERATED)."""
    assert GENERATED == 2000
    assert (
        main(["diff", "default", str(jmd_until_25), "--json", "--as-of", "2026-03-01", "--count", "300"]) == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["generated"] is True
    assert data["cases"] == 300
    assert data["changed_cases"]
    # The JMD's status changes; an earlier JMD end can change other services' valid_until too.
    assert {c["service"] for c in data["changes"] if c["aspect"] == "status"} == {"jmd"}
    assert {kind for kind in data["summary"] if "->" in kind and "valid_until" not in kind} <= {
        "jmd: eligible -> not_eligible",
        "jmd: undetermined -> not_eligible",
    }


def test_diff_command_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing case file or a broken rule folder is one line on stderr and exit code 2."""
    assert main(["diff", "default", "default", "--cases", str(tmp_path / "none.jsonl")]) == 2
    assert "none.jsonl: no such file" in capsys.readouterr().err
    assert main(["diff", "default", str(tmp_path)]) == 2
    assert "referral-engine: error:" in capsys.readouterr().err


def test_replacing_the_jmd_operator_is_reported_for_the_affected_cases() -> None:
    """The example deployment's own JMD operator shows as a partner and consent change, not '0 cases'."""
    deployment = load_ruleset(REPO / "examples" / "deployment")
    young = CaseProfile.model_validate(
        {"age": 19, "residence_status": "gestattung", "municipality": "Staufen"}
    )
    adult = CaseProfile.model_validate({"age": 40, "residence_status": "ae_25_1", "municipality": "Staufen"})
    cases = [Case("young", young, AS_OF), Case("adult", adult, AS_OF)]
    impact = diff(default_ruleset(), deployment, cases)
    assert impact.changed_cases == ("young",)
    kinds = {change.kind for change in impact.changes}
    assert "jmd: partners diakonie -> caritas" in kinds
    assert "jmd: next_steps +consent:caritas:jmd -consent:diakonie:jmd" in kinds
    assert impact.counts() == {"status": 0, "partners": 1, "next_steps": 1, "valid_until": 0}


def test_the_html_report_counts_kinds_without_values(jmd_until_25: Path, tmp_path: Path) -> None:
    """The HTML table lists kinds, counts and case ids, never a profile value."""
    rows = case_rows()
    impact = diff(
        default_ruleset(), load_ruleset(jmd_until_25), read_cases(write_jsonl(tmp_path / "c.jsonl", rows))
    )
    html = impact._repr_html_()
    assert html.startswith("<div>")
    assert "jmd: eligible -&gt; not_eligible</td><td>9</td>" in html
    for row in rows:
        assert row.get("birth_date", "no birth date") not in html


def test_the_diff_command_writes_json_text_or_html(
    jmd_until_25: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--format html gives the HTML table, --format json the JSON; --json with another format is refused."""
    cases = write_jsonl(tmp_path / "c.jsonl", case_rows())
    assert main(["diff", "default", str(jmd_until_25), "--cases", str(cases), "--format", "html"]) == 0
    assert capsys.readouterr().out.startswith("<div>")
    assert main(["diff", "default", str(jmd_until_25), "--cases", str(cases), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["cases"] == len(case_rows())
    assert (
        main(["diff", "default", str(jmd_until_25), "--cases", str(cases), "--json", "--format", "html"]) == 2
    )


@pytest.mark.parametrize("cases_from", ["file", "generated"])
def test_statuses_only_finds_the_status_changes_of_the_full_diff(
    jmd_until_25: Path, tmp_path: Path, cases_from: str
) -> None:
    """``detail="statuses"`` (batched, columnar) reports exactly the full diff's status changes, rules too."""
    old, new = default_ruleset(), load_ruleset(jmd_until_25)
    if cases_from == "file":
        cases = read_cases(write_jsonl(tmp_path / "c.jsonl", case_rows()))
    else:
        cases = list(generated_cases((old, new), as_of=AS_OF, count=400))
    full = diff(old, new, cases)
    fast = diff(old, new, cases, detail="statuses")
    assert fast.detail == "statuses"
    assert fast.cases == full.cases
    assert fast.changes == tuple(c for c in full.changes if c.aspect == "status")
    assert fast.changes  # the lowered age limit changes someone's JMD status
    assert "(statuses only)" in fast.table()
    assert fast.to_json()["detail"] == "statuses"


def test_statuses_only_names_a_bad_case_by_its_id_without_values(tmp_path: Path) -> None:
    bad = Case("case-7", CaseProfile.model_validate({"birth_date": "2026-02-01"}), dt.date(2026, 1, 1))
    with pytest.raises(CaseFileError, match=r"^case-7: ") as error:
        diff(default_ruleset(), default_ruleset(), [bad], detail="statuses")
    assert "2026-02-01" not in str(error.value)


def test_diff_command_statuses_only(
    jmd_until_25: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = write_jsonl(tmp_path / "c.jsonl", case_rows())
    assert (
        main(["diff", "default", str(jmd_until_25), "--cases", str(cases), "--statuses-only", "--json"]) == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["detail"] == "statuses"
    assert {c["aspect"] for c in data["changes"]} == {"status"}
    assert {c["case"] for c in data["changes"]} == expected_changes(case_rows())
