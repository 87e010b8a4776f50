"""Languages through catalogues: i18n/<lang>.yaml, fallback chains, draft marking and right-to-left HTML."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import string
from pathlib import Path
from typing import Any

import pytest
import yaml

from referral_engine import (
    Recommendation,
    RuleFileError,
    UsageError,
    default_ruleset,
    load_ruleset,
    recommend,
    why_not,
)
from referral_engine.cli import main
from referral_engine.explain import recommendation_html, timeline_html
from referral_engine.loader import keyed_texts
from referral_engine.ruleset import Ruleset
from referral_engine.schema import json_schema, shipped_schema
from referral_engine.verify import check
from referral_engine.words import base_words

from .conftest import REPO

AS_OF = dt.date(2026, 3, 1)
#: A young adult with a Duldung in Staufen: JMD with a partner, steps with {partner}, open questions.
PROFILE: dict[str, Any] = {"age": 20, "residence_status": "duldung", "municipality": "staufen"}
CATALOGUES = sorted((REPO / "rules" / "i18n").glob("*.yaml"))


def catalogue(code: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "rules" / "i18n" / f"{code}.yaml").read_text("utf-8"))
    return data


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def overlay(tmp_path: Path, files: dict[str, str]) -> Path:
    """A deployment folder that extends the bundled rules with the given catalogue files."""
    folder = tmp_path / "deployment"
    (folder / "i18n").mkdir(parents=True)
    (folder / "ruleset.yaml").write_text('name: local\nversion: "1"\nextends: default\n', encoding="utf-8")
    for name, text in files.items():
        (folder / "i18n" / name).write_text(text, encoding="utf-8")
    return folder


def bundled_keys(ruleset: Ruleset) -> dict[str, Any]:
    return keyed_texts(ruleset.services, ruleset.fields, ruleset.messages, ruleset.steps, ruleset.rules)


# -- translated recommendations ----------------------------------------------------------------


@pytest.mark.parametrize("code", ["uk", "ar"])
def test_a_recommendation_in_a_catalogue_language_has_translated_steps_and_questions(code: str) -> None:
    """Ukrainian and Arabic recommendations show the catalogue's step texts and questions."""
    texts = catalogue(code)["texts"]
    rec = recommend(PROFILE, as_of=AS_OF, lang=code)
    assert rec.lang == code
    assert rec.questions
    for question in rec.questions:
        assert question.text == texts[f"fields.{question.field}.question"]
    step = next(s for s in rec.next_steps if s.id == "jmd-first-appointment")
    partner = default_ruleset().partners.partners[step.partner or ""].name
    assert step.text.startswith(texts["steps.jmd-first-appointment"].format(partner=partner, service="")[:40])
    assert step.text_lang is None
    clarify = next(s for s in rec.next_steps if s.kind == "clarify")
    assert clarify.text.startswith(texts["messages.clarify"].split("{")[0])


@pytest.mark.parametrize("code", ["uk", "ar"])
def test_a_draft_catalogue_says_so_and_lists_what_fell_back(code: str) -> None:
    """A recommendation in a draft language carries its status; the bundled ones leave nothing German."""
    rec = recommend(PROFILE, as_of=AS_OF, lang=code)
    assert rec.translation is not None
    assert (rec.translation.language, rec.translation.status, rec.translation.draft) == (code, "draft", True)
    assert rec.translation.fell_back == ()
    assert rec.decision("jmd").name == catalogue(code)["texts"]["services.jmd.name"]
    assert "draft translation — not yet reviewed" in recommendation_html(rec)


@pytest.mark.parametrize("lang", ["de", "en"])
def test_german_and_english_recommendations_carry_no_translation_marks(lang: str) -> None:
    """In de and en nothing is marked: no translation record, no step text in another language."""
    rec = recommend(PROFILE, as_of=AS_OF, lang=lang)
    assert rec.translation is None
    assert all(step.text_lang is None for step in rec.next_steps)
    assert "draft" not in recommendation_html(rec)
    assert recommendation_html(rec).startswith("<div><p>")


@pytest.mark.parametrize("lang", ["de", "en"])
def test_catalogues_leave_german_and_english_output_unchanged(tmp_path: Path, lang: str) -> None:
    """The bundled rules give the same de and en recommendation with and without their catalogues."""
    folder = tmp_path / "rules"
    shutil.copytree(REPO / "rules", folder)
    shutil.rmtree(folder / "i18n")
    without = recommend(PROFILE, as_of=AS_OF, lang=lang, ruleset=load_ruleset(folder))
    with_catalogues = recommend(PROFILE, as_of=AS_OF, lang=lang, ruleset=load_ruleset(REPO / "rules"))
    exclude = {"ruleset_version"}
    assert without.model_dump(exclude=exclude) == with_catalogues.model_dump(exclude=exclude)


def test_an_unknown_language_is_a_usage_error_naming_the_available_ones() -> None:
    """recommend(lang="xx") raises a UsageError listing de, en and the catalogue languages."""
    with pytest.raises(UsageError, match="de, en, ar, uk"):
        recommend(PROFILE, as_of=AS_OF, lang="xx")


def test_the_bundled_rule_set_offers_its_catalogue_languages() -> None:
    """The bundled rules answer in de, en, ar and uk; Arabic is right to left, both are drafts."""
    ruleset = default_ruleset()
    assert ruleset.languages == ("de", "en", "ar", "uk")
    assert ruleset.catalogues["ar"].direction == "rtl"
    assert {c.status for c in ruleset.catalogues.values()} == {"draft"}
    assert all(c.fallback == "de" for c in ruleset.catalogues.values())


# -- the bundled catalogues --------------------------------------------------------------------


@pytest.mark.parametrize("path", CATALOGUES, ids=[p.stem for p in CATALOGUES])
def test_every_key_of_a_bundled_catalogue_exists_and_keeps_the_german_placeholders(path: Path) -> None:
    """Each text of a bundled catalogue names a text of the rule set and has exactly its placeholders."""
    keyed = bundled_keys(default_ruleset())
    texts = yaml.safe_load(path.read_text("utf-8"))["texts"]
    assert texts
    for key, value in texts.items():
        assert key in keyed, key
        assert placeholders(value) == placeholders(keyed[key].de), key


@pytest.mark.parametrize("code", ["uk", "ar"])
def test_a_bundled_catalogue_translates_every_client_facing_text(code: str) -> None:
    """The uk and ar catalogues translate every text: steps, questions, messages, names, notes, words."""
    keyed = bundled_keys(default_ruleset())
    assert {k.split(".")[0] for k in keyed} == {
        "steps", "fields", "messages", "categories", "services", "rules", "words"
    }  # fmt: skip
    assert sorted(set(keyed) - set(catalogue(code)["texts"])) == []


@pytest.mark.parametrize("code", ["uk", "ar"])
def test_service_names_and_rule_notes_are_translated_and_keep_the_german_term(code: str) -> None:
    """Services' names and reasons' notes come from the catalogue; the JMD's German name stays in it."""
    texts = catalogue(code)["texts"]
    rec = recommend(PROFILE, as_of=AS_OF, lang=code)
    jmd = rec.decision("jmd")
    assert jmd.name == texts["services.jmd.name"]
    assert "Jugendmigrationsdienst" in jmd.name
    assert all(d.name == texts[f"services.{d.service}.name"] for d in rec.decisions)
    notes = [(r.rule, r.note) for d in rec.decisions for r in d.reasons if r.note]
    assert notes
    assert all(note == texts[f"rules.{rule}.note"] for rule, note in notes)
    assert texts["rules.jmd-lawful-or-tolerated.note"] in jmd.explain()


@pytest.mark.parametrize("code", ["uk", "ar"])
def test_every_translated_text_differs_from_the_german_one(code: str) -> None:
    """A catalogue text is a translation, not a copy of the German text left in place."""
    keyed = bundled_keys(default_ruleset())
    same = [key for key, value in catalogue(code)["texts"].items() if value == keyed[key].de]
    assert same == []


# -- deployments add and change languages ------------------------------------------------------

RUSSIAN = """\
language: ru
name: Русский
direction: ltr
fallback: de
status: draft
texts:
  fields.age.question: "Сколько лет человеку (дата рождения)?"
"""


def test_a_deployment_adds_a_language_by_adding_a_file(tmp_path: Path) -> None:
    """An overlay's i18n/ru.yaml makes ru a language; its missing texts fall back to German, marked."""
    ruleset = load_ruleset(overlay(tmp_path, {"ru.yaml": RUSSIAN}))
    assert ruleset.languages == ("de", "en", "ar", "ru", "uk")
    rec = recommend(
        {"residence_status": "duldung", "municipality": "staufen"}, as_of=AS_OF, ruleset=ruleset, lang="ru"
    )
    german = recommend(
        {"residence_status": "duldung", "municipality": "staufen"}, as_of=AS_OF, ruleset=ruleset
    )
    assert rec.decision("jmd").status is german.decision("jmd").status
    age = next(q for q in rec.questions if q.field == "age")
    assert age.text == "Сколько лет человеку (дата рождения)?"
    others = [q for q in rec.questions if q.field != "age"]
    assert others
    assert all(q.text == ruleset.fields[q.field].question.de for q in others)
    fell_back = [s for s in rec.next_steps if s.text_lang is not None]
    assert fell_back
    assert {s.text_lang for s in fell_back} == {"de"}
    assert rec.translation is not None
    assert "fields.age.question" not in rec.translation.fell_back
    assert any(key.startswith("messages.") for key in rec.translation.fell_back)
    assert 'lang="de" dir="ltr"' in recommendation_html(rec)


def test_a_fallback_chain_passes_through_another_catalogue(tmp_path: Path) -> None:
    """A language that falls back to uk shows uk's text where it has none of its own (be → uk → de)."""
    belarusian = RUSSIAN.replace("language: ru", "language: be").replace("name: Русский", "name: Беларуская")
    ruleset = load_ruleset(overlay(tmp_path, {"be.yaml": belarusian.replace("fallback: de", "fallback: uk")}))
    rec = recommend(PROFILE, as_of=AS_OF, ruleset=ruleset, lang="be")
    uk = catalogue("uk")["texts"]
    residence = next(q for q in rec.questions if q.field != "age")
    assert residence.text == uk[f"fields.{residence.field}.question"]
    step = next(s for s in rec.next_steps if s.id == "jmd-first-appointment")
    assert step.text_lang == "uk"
    assert ruleset.fields["age"].question.get("be") == "Сколько лет человеку (дата рождения)?"


def test_an_overlay_replaces_catalogue_entries_and_marks_it_reviewed(tmp_path: Path) -> None:
    """An overlay's uk.yaml replaces one text and the header; the result says reviewed, and no draft note."""
    reviewed = (
        'status: reviewed\nreviewed_by: "Beratungsstelle, 2026-11"\ntexts:\n  fields.age.question: "Вік?"\n'
    )
    ruleset = load_ruleset(overlay(tmp_path, {"uk.yaml": reviewed}))
    rec = recommend(PROFILE, as_of=AS_OF, ruleset=ruleset, lang="uk")
    assert rec.translation is not None
    assert (rec.translation.status, rec.translation.reviewed_by) == ("reviewed", "Beratungsstelle, 2026-11")
    assert ruleset.fields["age"].question.get("uk") == "Вік?"
    assert (
        ruleset.fields["municipality"].question.get("uk")
        == catalogue("uk")["texts"]["fields.municipality.question"]
    )
    assert "not yet reviewed" not in recommendation_html(rec)


# -- broken catalogues -------------------------------------------------------------------------

_BROKEN = [
    pytest.param(
        "uk.yaml",
        'texts:\n  steps.no-such-step: "текст"\n',
        2,
        "unknown text key 'steps.no-such-step'",
        id="unknown-key",
    ),
    pytest.param(
        "uk.yaml",
        'texts:\n  steps.jmd-first-appointment: "Записатися до JMD."\n',
        2,
        "placeholder '{partner}' of the German text is missing",
        id="missing-placeholder",
    ),
    pytest.param(
        "uk.yaml",
        'texts:\n  fields.age.question: "Вік {partner}?"\n',
        2,
        "unknown placeholder '{partner}'",
        id="extra-placeholder",
    ),
    pytest.param(
        "ru.yaml",
        RUSSIAN.replace("fallback: de", "fallback: fr"),
        4,
        "fallback 'fr' has no catalogue",
        id="unknown-fallback",
    ),
    pytest.param(
        "uk.yaml",
        "fallback: ar\n",
        1,
        "the fallback chain loops",
        id="fallback-loop",
    ),
    pytest.param(
        "xx.yaml",
        RUSSIAN.replace("language: ru", "language: xx"),
        1,
        "unknown language code 'xx'",
        id="unknown-language-code",
    ),
    pytest.param(
        "ru.yaml",
        RUSSIAN.replace("language: ru", "language: be"),
        1,
        "language 'be' differs from the file name ru.yaml",
        id="language-not-file-name",
    ),
    pytest.param(
        "de.yaml",
        RUSSIAN.replace("language: ru", "language: de"),
        1,
        "de is written in the rule files themselves",
        id="base-language",
    ),
    pytest.param(
        "ru.yaml",
        RUSSIAN.replace("status: draft", "status: reviewed"),
        5,
        "names its reviewer",
        id="reviewed-without-reviewer",
    ),
    pytest.param(
        "ru.yaml",
        RUSSIAN.replace("direction: ltr", "direction: up"),
        3,
        "unknown value 'up'",
        id="bad-direction",
    ),
]


@pytest.mark.parametrize(("name", "text", "line", "message"), _BROKEN)
def test_a_broken_catalogue_is_a_located_rule_file_error(
    tmp_path: Path, name: str, text: str, line: int, message: str
) -> None:
    """Unknown keys and codes, placeholder mismatches, bad fallbacks and headers are problems at file:line."""
    folder = overlay(tmp_path, {name: text})
    if name == "uk.yaml" and text.startswith("fallback: ar"):
        (folder / "i18n" / "ar.yaml").write_text("fallback: uk\n", encoding="utf-8")
    with pytest.raises(RuleFileError) as raised:
        load_ruleset(folder)
    found = [p for p in raised.value.problems if message in p.message]
    assert found, [p.message for p in raised.value.problems]
    assert any(p.file.endswith(f"i18n/{name}") and p.line == line for p in found)


def test_a_file_in_the_catalogue_folder_that_is_no_yaml_is_reported(tmp_path: Path) -> None:
    """A catalogue named uk.yml would be ignored silently: the loader says so."""
    with pytest.raises(RuleFileError, match=r"catalogue files are named <language>\.yaml"):
        load_ruleset(overlay(tmp_path, {"uk.yml": "texts: {}\n"}))


# -- HTML, explanations and the command line ---------------------------------------------------


def test_arabic_html_is_right_to_left() -> None:
    """An Arabic recommendation's and timeline's HTML say lang="ar" and dir="rtl"; Ukrainian is ltr."""
    arabic = recommend(PROFILE, as_of=AS_OF, lang="ar")
    html = recommendation_html(arabic)
    assert html.startswith('<div lang="ar" dir="rtl">')
    assert 'dir="rtl"' in timeline_html(arabic.timeline(dt.date(2030, 1, 1)))
    assert arabic._repr_html_() == html
    assert (
        why_not(PROFILE, "integrationskurs", as_of=AS_OF, lang="ar")
        ._repr_html_()
        .startswith('<div lang="ar" dir="rtl">')
    )
    ukrainian = recommendation_html(recommend(PROFILE, as_of=AS_OF, lang="uk"))
    assert ukrainian.startswith('<div lang="uk" dir="ltr">')


#: German words of the library that must not show in a uk or ar explanation (whole words).
_GERMAN_KEYS = ("status.", "outcome.", "rule_outcome.", "effect.", "confidence.", "field.", "label.rule")


def _german_words() -> set[str]:
    """The German texts of the library's words above, plus the German operator phrases."""
    found = {t.de for k, t in base_words().items() if k.startswith(_GERMAN_KEYS)}
    return found | {"ist eines von", "ist keines von", "liegt höchstens", "liegt mehr als", "zurück"}


def _without_rule_texts(text: str, rec: Recommendation) -> str:
    """``text`` without the rule set's texts (names, notes, sources): they are not the library's words."""
    for decision in rec.decisions:
        text = text.replace(decision.name, "")
        for reason in decision.reasons:
            text = text.replace(reason.note or "", "").replace(" | ".join(reason.source), "")
    return text


@pytest.mark.parametrize("code", ["uk", "ar"])
def test_explanations_in_uk_and_ar_use_the_catalogue_words_not_german_ones(code: str) -> None:
    """Status, outcome, effect, operator, field and residence-status words come from the catalogue."""
    texts = catalogue(code)["texts"]
    profile = {**PROFILE, "entry_date": "2024-05-01", "benefits": "asylblg"}
    rec = recommend(profile, as_of=AS_OF, lang=code)
    explained = "\n".join(d.explain() for d in rec.decisions)
    assert rec.decision("jmd").explain().splitlines()[0].endswith(texts["words.status.eligible"])
    assert texts["words.field.residence_status"] in explained
    assert texts["words.residence_status.duldung"] in explained
    assert texts["words.label.rule"] in explained
    assert "[de]" not in explained
    rest = _without_rule_texts(explained, rec)
    german = [w for w in _german_words() if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", rest)]
    assert german == []
    why = why_not(profile, "integrationskurs", as_of=AS_OF, lang=code)
    assert why.explain().splitlines()[0].endswith(texts[f"words.status.{why.status.value}"])


@pytest.mark.parametrize("code", ["uk", "ar"])
def test_the_html_of_a_catalogue_language_uses_its_headings_and_status_words(code: str) -> None:
    """The recommendation's HTML table has the catalogue's headings, status words and draft notice."""
    texts = catalogue(code)["texts"]
    html = recommendation_html(recommend(PROFILE, as_of=AS_OF, lang=code))
    for key in ("heading.service", "heading.responsible", "heading.recommendation", "status.eligible"):
        assert texts[f"words.{key}"] in html
    assert texts["words.label.draft"] in html
    assert "<th>Leistung</th>" not in html
    assert "Zuständig" not in html


def test_a_redacted_explanation_in_a_catalogue_language_shows_none_of_the_persons_values() -> None:
    """redact=True leaves out the person's values in uk as in German (planted date, status label)."""
    planted = "1999-08-17"
    rec = recommend({**PROFILE, "age": None, "birth_date": planted}, as_of=AS_OF, lang="uk")
    plain = rec.decision("jmd").explain()
    redacted = rec.decision("jmd").explain(redact=True)
    assert "(26)" in plain
    assert "(26)" not in redacted
    assert planted not in redacted
    duldung = catalogue("uk")["texts"]["words.residence_status.duldung"]
    assert f"({duldung})" in plain
    assert f"({duldung})" not in redacted


def test_an_unknown_explanation_language_is_refused_without_repeating_it() -> None:
    """explain(lang=<marker>) is a UsageError that does not echo the value given."""
    marker = "SECRET-Amina-4711"
    decision = recommend(PROFILE, as_of=AS_OF).decision("jmd")
    with pytest.raises(UsageError) as raised:
        decision.explain(marker)
    assert marker not in str(raised.value)


#: A deployment's new language: a few of the library's words, the rest falls back to German.
TURKISH = """\
language: tr
name: Türkçe
direction: ltr
fallback: de
status: draft
texts:
  words.status.eligible: "hak sahibi"
  words.field.age: "yaş"
  words.operator.in: "{field} şunlardan biri: {value}"
  words.heading.service: "Hizmet"
  words.label.draft: "taslak çeviri"
"""


def test_a_deployment_language_without_code_translates_the_library_words(tmp_path: Path) -> None:
    """A new i18n/tr.yaml gives explain(), HTML and text output its words; missing ones are German, marked."""
    ruleset = load_ruleset(overlay(tmp_path, {"tr.yaml": TURKISH}))
    rec = recommend(PROFILE, as_of=AS_OF, ruleset=ruleset, lang="tr")
    jmd = rec.decision("jmd").explain()
    assert jmd.splitlines()[0].endswith(": hak sahibi")
    assert "yaş ≥ 12: erfüllt [de] (20)" in jmd
    assert "Zuständig [de]: " in jmd
    html = recommendation_html(rec)
    assert html.startswith('<div lang="tr" dir="ltr">')
    assert "<th>Hizmet</th>" in html
    assert "<th>Zuständig [de]</th>" in html
    assert "taslak çeviri" in html
    assert "hak sahibi" in rec.decision("jmd")._repr_html_()


def test_a_word_falls_back_along_the_chain_and_names_the_language_it_came_from(tmp_path: Path) -> None:
    """A right-to-left deployment language falling back to ar shows ar's words, marked [ar], in rtl HTML."""
    persian = TURKISH.replace("language: tr", "language: fa").replace("name: Türkçe", "name: فارسی")
    persian = persian.replace("direction: ltr", "direction: rtl").replace("fallback: de", "fallback: ar")
    ruleset = load_ruleset(overlay(tmp_path, {"fa.yaml": persian}))
    rec = recommend(PROFILE, as_of=AS_OF, ruleset=ruleset, lang="fa")
    met = catalogue("ar")["texts"]["words.outcome.met"]
    assert f"yaş ≥ 12: {met} [ar] (20)" in rec.decision("jmd").explain()
    assert recommendation_html(rec).startswith('<div lang="fa" dir="rtl">')


def test_every_html_of_a_right_to_left_deployment_language_is_rtl(tmp_path: Path) -> None:
    """A catalogue's direction: rtl reaches the HTML of decisions, why-not and timelines, not only tables."""
    sorani = TURKISH.replace("language: tr", "language: ku").replace("name: Türkçe", "name: کوردی")
    ruleset = load_ruleset(overlay(tmp_path, {"ku.yaml": sorani.replace("direction: ltr", "direction: rtl")}))
    rec = recommend(PROFILE, as_of=AS_OF, ruleset=ruleset, lang="ku")
    opening = '<div lang="ku" dir="rtl">'
    assert recommendation_html(rec).startswith(opening)
    assert rec.decision("jmd")._repr_html_().startswith(opening)
    assert timeline_html(rec.timeline(dt.date(2030, 1, 1))).startswith(opening)
    why = why_not(PROFILE, "integrationskurs", as_of=AS_OF, ruleset=ruleset, lang="ku")
    assert why._repr_html_().startswith(opening)


def test_a_catalogue_word_must_keep_its_placeholders(tmp_path: Path) -> None:
    """A word's translation without {field} is a located problem, like any other catalogue text."""
    broken = TURKISH.replace('"{field} şunlardan biri: {value}"', '"şunlardan biri: {value}"')
    with pytest.raises(RuleFileError, match=r"placeholder '\{field\}' of the German text is missing"):
        load_ruleset(overlay(tmp_path, {"tr.yaml": broken}))


def test_the_command_line_speaks_a_catalogue_language_and_says_draft(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`demo --lang uk` prints Ukrainian steps and the draft note; an unknown language is exit 2."""
    assert main(["demo", "--lang", "uk", "--as-of", "2026-03-01"]) == 0
    out = capsys.readouterr().out
    draft = catalogue("uk")["texts"]["words.label.draft"]
    assert f"draft translation — not yet reviewed (Українська: {draft})" in out
    assert catalogue("uk")["texts"]["words.cli.steps"] + ":" in out
    with pytest.raises(SystemExit) as caught:
        main(["demo", "--lang", "xx"])
    assert caught.value.code == 2
    assert "de, en, ar, uk" in capsys.readouterr().err


def test_check_reports_an_example_operator_named_in_a_translation(tmp_path: Path) -> None:
    """A catalogue text naming the sample operator literally is the same safety error as in German."""
    text = 'texts:\n  steps.jmd-first-appointment: "Записатися до JMD ({partner}, Diakonisches Werk)."\n'
    report = check(overlay(tmp_path, {"uk.yaml": text}))
    [finding] = [f for f in report.of_kind("safety") if f.severity == "error"]
    assert (finding.rule, finding.subject) == ("jmd-first-appointment", "step")
    assert "diakonie" in finding.message


@pytest.mark.parametrize("path", CATALOGUES, ids=[p.stem for p in CATALOGUES])
def test_a_bundled_catalogue_matches_the_i18n_schema(path: Path) -> None:
    """Each bundled catalogue is valid under the shipped i18n JSON Schema (what an editor checks)."""
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(shipped_schema("i18n"))
    assert [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text("utf-8")))] == []


def test_the_i18n_schema_rejects_an_unknown_header_and_a_malformed_key() -> None:
    """The schema catches a misspelt header key and a text key of no known kind."""
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json_schema("i18n"))
    bad = {"language": "uk", "directon": "ltr", "texts": {"step.jmd": "…"}}
    assert len(list(validator.iter_errors(bad))) == 2
