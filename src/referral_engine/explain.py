"""Reasons as readable text and HTML, in German or English, with or without the person's values.

An explanation needs nothing but the frozen decision: each condition carries its field, operator,
required value, the case's value and the outcome, and the phrases below turn them into a line
such as ``Alter ≥ 27: nicht erfüllt (26)``. With ``redact=True`` the case's values and every date
derived from them are left out (``Alter ≥ 27: nicht erfüllt``): the text says which conditions
the person meets, so it is still case data, but it repeats none of their data.
"""

from __future__ import annotations

import datetime as dt
import re
from html import escape
from typing import TYPE_CHECKING

from .dates import Duration
from .models import (
    ConditionOutcome,
    ConditionValue,
    NextStep,
    Reason,
    Recommendation,
    ServiceDecision,
    Status,
    Timeline,
)

if TYPE_CHECKING:
    from .verify import Finding, Report
    from .whatif import WhatIf, WhyNot

_T = dict[str, tuple[str, str]]  # key -> (German, English)

# C0 and C1 controls (but tab and newline), and the bidirectional overrides that make a
# terminal or an editor show text other than what it is.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` without terminal control characters (escape sequences, bidi overrides).

    Rule files are text from outside: what they say is shown, never what a terminal would do
    with it. Every text this module returns has passed here, and so has the command line's.
    """
    return _CONTROL.sub("", text)


#: Display names of the profile fields a condition can test.
FIELD_LABELS: _T = {
    "age": ("Alter", "age"),
    "birth_date": ("Geburtsdatum", "date of birth"),
    "residence_status": ("Aufenthaltsstatus", "residence status"),
    "entry_date": ("Einreise", "arrival"),
    "status_since": ("Erteilung des Titels", "issue of the title"),
    "language_level": ("Deutschniveau", "German level"),
    "literate_latin": ("alphabetisiert (lateinische Schrift)", "literate in Latin script"),
    "accommodation": ("Unterbringung", "accommodation"),
    "accommodation_since": ("Beginn der Unterbringung", "start of accommodation"),
    "municipality": ("Wohnort", "municipality"),
    "benefits": ("Leistungsbezug", "benefits"),
    "employment": ("Erwerbssituation", "employment"),
    "registered_jobseeker": ("arbeitsuchend gemeldet", "registered as a jobseeker"),
    "foreign_qualification": ("ausländischer Abschluss", "foreign qualification"),
    "integration_course": ("Integrationskurs", "integration course"),
    "languages": ("Sprachen", "languages"),
}
_OPERATORS: _T = {
    "eq": ("=", "="),
    "ne": ("≠", "≠"),
    "lt": ("<", "<"),
    "le": ("≤", "≤"),
    "gt": (">", ">"),
    "ge": ("≥", "≥"),
    "in": ("ist eines von", "is one of"),
    "not_in": ("ist keines von", "is none of"),
    "contains": ("enthält", "includes"),
    "within": ("liegt höchstens", "within the last"),
    "older_than": ("liegt mehr als", "more than"),
}
_OUTCOMES: _T = {
    "met": ("erfüllt", "met"),
    "failed": ("nicht erfüllt", "not met"),
    "unknown": ("unbekannt", "unknown"),
}
_MARKS = {"met": "✓", "failed": "✗", "unknown": "?"}
_STATUS: _T = {
    "eligible": ("berechtigt", "eligible"),
    "not_eligible": ("nicht berechtigt", "not eligible"),
    "undetermined": ("offen", "undetermined"),
}
_RULE_OUTCOMES: _T = {
    "holds": ("trifft zu", "holds"),
    "fails": ("trifft nicht zu", "does not hold"),
    "unknown": ("offen", "open"),
}
_EFFECTS: _T = {
    "eligible": ("begründet Anspruch", "grants"),
    "not_eligible": ("schließt aus", "excludes"),
    "check": ("Prüfpunkt", "check point"),
}
_CONFIDENCE: _T = {
    "verified": ("belegt", "verified"),
    "secondary": ("Sekundärquelle", "secondary source"),
    "unverified": ("unbestätigt", "unverified"),
}
_WORDS: _T = {
    "rule": ("Regel", "Rule"),
    "source": ("Quelle", "Source"),
    "confidence": ("Sicherheit", "confidence"),
    "from": ("gültig ab", "valid from"),
    "to": ("gültig bis", "valid to"),
    "not_in_force": ("am Stichtag nicht in Kraft", "not in force on the date"),
    "partners": ("Zuständig", "Responsible"),
    "sample": (
        "Beispiel-Träger – für den eigenen Einsatz ersetzen",
        "example operator – replace for your deployment",
    ),
    "missing": ("Offene Angaben", "Missing facts"),
    "until": ("Ändert sich am", "Changes on"),
    "yes": ("ja", "yes"),
    "no": ("nein", "no"),
    "ago": ("zurück", "ago"),
    "none": ("keine", "none"),
    "handover": ("Übergang", "handover"),
    "blocking": ("Steht entgegen", "In the way"),
    "alternatives": ("Kleinste Änderungen, die helfen", "Smallest changes that help"),
    "no_alternative": (
        "Keine Änderung der Person hilft (z. B. weil ein Partner prüfen muss).",
        "No change of the person's facts helps (e.g. because a partner must check).",
    ),
    "changes": ("Kommende Änderungen", "Coming changes"),
}
_UNITS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    # unit -> ((German singular, plural), (English singular, plural))
    "years": (("Jahr", "Jahre"), ("year", "years")),
    "months": (("Monat", "Monate"), ("month", "months")),
    "days": (("Tag", "Tage"), ("day", "days")),
}


def _t(table: _T, key: str, lang: str) -> str:
    de, en = table[key]
    return en if lang == "en" else de


def duration_text(duration: str, lang: str) -> str:
    """An ISO 8601 duration in words: ``P1Y6M`` → ``1 Jahr 6 Monate`` / ``1 year 6 months``."""
    parsed = Duration.parse(duration)
    parts = []
    for unit, (de, en) in _UNITS.items():
        count = getattr(parsed, unit)
        if count:
            singular, plural = en if lang == "en" else de
            parts.append(f"{count} {singular if count == 1 else plural}")
    return " ".join(parts) or "0"


#: Readable names of the residence-status codes (German law's terms; research §1.1).
STATUS_LABELS: _T = {
    "arrival_certificate": ("Ankunftsnachweis", "arrival certificate"),
    "gestattung": ("Aufenthaltsgestattung", "asylum seeker's permit (Gestattung)"),
    "gestattung_safe_country": (
        "Aufenthaltsgestattung (sicherer Herkunftsstaat)",
        "Gestattung (safe country of origin)",
    ),
    "duldung": ("Duldung", "Duldung (tolerated stay)"),
    "duldung_ermessen": ("Ermessensduldung (§ 60a Abs. 2 S. 3)", "discretionary Duldung (§ 60a(2) s. 3)"),
    "duldung_light": (
        "Duldung bei ungeklärter Identität (§ 60b)",
        "Duldung for persons with unclarified identity (§ 60b)",
    ),
    "ausbildungsduldung": ("Ausbildungsduldung (§ 60c)", "training Duldung (§ 60c)"),
    "beschaeftigungsduldung": ("Beschäftigungsduldung (§ 60d)", "employment Duldung (§ 60d)"),
    "ausreisepflichtig": ("ausreisepflichtig ohne Duldung", "obliged to leave, no Duldung"),
    "ae_25_1": ("AE § 25 Abs. 1 (Asylberechtigung)", "permit § 25(1) (asylum)"),
    "ae_25_2_refugee": ("AE § 25 Abs. 2 (Flüchtlingseigenschaft)", "permit § 25(2) (refugee status)"),
    "ae_25_2_subsidiary": ("AE § 25 Abs. 2 (subsidiärer Schutz)", "permit § 25(2) (subsidiary protection)"),
    "ae_25_3": ("AE § 25 Abs. 3 (Abschiebungsverbot)", "permit § 25(3) (ban on deportation)"),
    "ae_25_4": ("AE § 25 Abs. 4 (vorübergehender Aufenthalt)", "permit § 25(4) (temporary stay)"),
    "ae_25_5": ("AE § 25 Abs. 5 (Ausreise unmöglich)", "permit § 25(5) (departure impossible)"),
    "ae_25a_25b": ("AE § 25a / § 25b (gute Integration)", "permit § 25a / § 25b (good integration)"),
    "ae_104c": ("Chancen-Aufenthaltsrecht (§ 104c)", "opportunity residence (§ 104c)"),
    "ae_24": ("AE § 24 (vorübergehender Schutz)", "permit § 24 (temporary protection)"),
    "ae_22_23": ("AE § 22 / § 23 (Aufnahme)", "permit § 22 / § 23 (admission)"),
    "ae_16g": ("AE § 16g (Ausbildung)", "permit § 16g (vocational training)"),
    "ae_employment": ("AE zur Erwerbstätigkeit", "permit for employment"),
    "ae_family": ("AE aus familiären Gründen", "permit for family reasons"),
    "ae_other": ("sonstige Aufenthaltserlaubnis", "other residence permit"),
    "settlement": ("Niederlassungserlaubnis / Daueraufenthalt", "settlement permit"),
    "eu_citizen": ("EU-Bürger/in", "EU citizen"),
    "spaetaussiedler": ("Spätaussiedler/in", "late repatriate (Spätaussiedler)"),
    "german_migration_background": ("Deutsche/r mit Migrationsgeschichte", "German with a migration history"),
    "undocumented": ("ohne Papiere", "without papers"),
}


def value_text(value: ConditionValue, lang: str, field: str | None = None) -> str:
    """A required or actual value as text: lists joined with commas, booleans as yes / no.

    Residence-status codes (``field="residence_status"``) are shown by their names.
    """
    if isinstance(value, bool):
        return _t(_WORDS, "yes" if value else "no", lang)
    if isinstance(value, tuple):
        shown = [value_text(item, lang, field) for item in value]
        return ", ".join(shown) if shown else _t(_WORDS, "none", lang)
    if field == "residence_status" and value in STATUS_LABELS:
        return _t(STATUS_LABELS, str(value), lang)
    return str(value)


def condition_text(condition: ConditionOutcome, lang: str = "de", *, redact: bool = False) -> str:
    """One condition as a line: ``Alter ≥ 27: nicht erfüllt (26)``; redacted without ``(26)``."""
    label = FIELD_LABELS.get(condition.field, (condition.field, condition.field))
    field = label[1] if lang == "en" else label[0]
    op = _t(_OPERATORS, condition.op, lang) if condition.op in _OPERATORS else condition.op
    if condition.op in ("within", "older_than") and isinstance(condition.value, str):
        period = duration_text(condition.value, lang)
        if lang != "en":
            test = f"{field} {op} {period} zurück"
        else:
            test = f"{field} {op} {period}" + (" ago" if condition.op == "older_than" else "")
    else:
        test = f"{field} {op} {value_text(condition.value, lang, condition.field)}"
    line = f"{test}: {_t(_OUTCOMES, condition.outcome, lang)}"
    if not redact and condition.actual is not None:
        line += f" ({value_text(condition.actual, lang, condition.field)})"
    return printable(line)


def _date(day: dt.date) -> str:
    return day.isoformat()


def _reason_head(reason: Reason, lang: str) -> str:
    details = [_t(_EFFECTS, reason.effect, lang), _t(_RULE_OUTCOMES, reason.outcome, lang)]
    if not reason.in_force:
        details.append(_t(_WORDS, "not_in_force", lang))
    if reason.valid_from is not None:
        details.append(f"{_t(_WORDS, 'from', lang)} {_date(reason.valid_from)}")
    if reason.valid_to is not None:
        details.append(f"{_t(_WORDS, 'to', lang)} {_date(reason.valid_to)}")
    if reason.confidence is not None:
        details.append(f"{_t(_WORDS, 'confidence', lang)}: {_t(_CONFIDENCE, reason.confidence, lang)}")
    return f"{_t(_WORDS, 'rule', lang)} {reason.rule} ({'; '.join(details)})"


def explain_decision(decision: ServiceDecision, lang: str = "de", *, redact: bool = False) -> str:
    """The text of :meth:`ServiceDecision.explain`."""
    _check_lang(lang)
    lines = [f"{decision.name}: {_t(_STATUS, decision.status.value, lang)}"]
    if decision.partners:
        lines.append(f"{_t(_WORDS, 'partners', lang)}: {_partners(decision, lang)}")
    if decision.valid_until is not None and not redact:
        lines.append(f"{_t(_WORDS, 'until', lang)}: {_date(decision.valid_until)}")
    for reason in decision.reasons:
        lines.append(f"- {_reason_head(reason, lang)}")
        if reason.note:
            lines.append(f"  {reason.note}")
        lines.append(f"  {_t(_WORDS, 'source', lang)}: {' | '.join(reason.source)}")
        for condition in reason.conditions:
            lines.append(f"  {_MARKS[condition.outcome]} {condition_text(condition, lang, redact=redact)}")
    if decision.missing:
        labels = [_field(name, lang) for name in decision.missing]
        lines.append(f"{_t(_WORDS, 'missing', lang)}: {', '.join(labels)}")
    return printable("\n".join(lines))


def _partners(decision: ServiceDecision, lang: str) -> str:
    """The responsible partners, each placeholder marked as an example operator."""
    sample = f" ({_t(_WORDS, 'sample', lang)})"
    names = (
        decision.partner_names if len(decision.partner_names) == len(decision.partners) else decision.partners
    )
    return ", ".join(
        name + (sample if partner in decision.sample_partners else "")
        for partner, name in zip(decision.partners, names, strict=True)
    )


def _field(name: str, lang: str) -> str:
    label = FIELD_LABELS.get(name, (name, name))
    return label[1] if lang == "en" else label[0]


def _check_lang(lang: str) -> None:
    from .ruleset import known_language  # the rule set comes after explain: imported on use

    if not known_language(lang):
        from .errors import UsageError

        raise UsageError("lang must be de, en or a language of a rule set's catalogues (such as uk or ar)")


#: Languages written right to left, for ``dir="rtl"`` where no catalogue says its direction.
RTL_LANGUAGES = frozenset({"ar", "dv", "fa", "he", "ps", "sd", "ug", "ur", "yi"})


def _div(lang: str, direction: str | None = None) -> str:
    """The opening tag of an HTML block in ``lang``: plain for de and en, else with lang and dir."""
    if lang in ("de", "en"):
        return "<div>"
    direction = direction or ("rtl" if lang in RTL_LANGUAGES else "ltr")
    return f'<div lang="{escape(lang)}" dir="{escape(direction)}">'


def _step_html(step: NextStep) -> str:
    """A next step as a list item; a text that fell back to another language says which one."""
    if step.text_lang is None:
        return f"<li>{escape(step.text)}</li>"
    lang = escape(step.text_lang)
    return f'<li lang="{lang}" dir="ltr">{escape(step.text)} <small>[{lang}]</small></li>'


def _translation_html(rec: Recommendation) -> str:
    """The visible note on a draft translation (nothing for de, en or a reviewed catalogue)."""
    translation = rec.translation
    if translation is None or not translation.draft:
        return ""
    fell_back = len(translation.fell_back)
    return (
        '<p class="draft-translation" lang="en" dir="ltr"><b>⚠ draft translation — not yet reviewed</b> '
        f"({escape(translation.name)}; Entwurf, noch nicht geprüft; "
        f"{fell_back} texts shown in the fallback language)</p>"
    )


# -- HTML for notebooks ---------------------------------------------------------------------------

_COLOURS = {Status.ELIGIBLE: "#1b7f3b", Status.UNDETERMINED: "#9a6700", Status.NOT_ELIGIBLE: "#a40e26"}


def _status_html(status: Status, lang: str) -> str:
    return f'<b style="color:{_COLOURS[status]}">{escape(_t(_STATUS, status.value, lang))}</b>'


def decision_html(decision: ServiceDecision, lang: str = "de") -> str:
    """A decision as an HTML block for notebooks: status, partners, and a table per reason.

    Notebooks sit on the caseworker's desk, so the case's values are shown.
    """
    parts = [f"{_div(lang)}<p><b>{escape(decision.name)}</b>: {_status_html(decision.status, lang)}"]
    if decision.partners:
        parts.append(f" — {escape(_t(_WORDS, 'partners', lang))}: {escape(_partners(decision, lang))}")
    if decision.valid_until is not None:
        parts.append(f" — {escape(_t(_WORDS, 'until', lang))}: {_date(decision.valid_until)}")
    parts.append("</p>")
    for reason in decision.reasons:
        parts.append(f"<p>{escape(_reason_head(reason, lang))}<br><small>")
        parts.append(escape(" | ".join(reason.source)) + "</small></p><ul>")
        for condition in reason.conditions:
            mark = _MARKS[condition.outcome]
            parts.append(f"<li>{mark} {escape(condition_text(condition, lang))}</li>")
        parts.append("</ul>")
    parts.append("</div>")
    return printable("".join(parts))


def recommendation_html(rec: Recommendation) -> str:
    """A recommendation as an HTML table: one row per service, then the next steps."""
    lang = rec.lang
    heads = (
        ("Service", "Status", "Responsible", "changes on")
        if lang == "en"
        else ("Leistung", "Status", "Zuständig", "ändert sich am")
    )
    rows = []
    for decision in rec.decisions:
        until = _date(decision.valid_until) if decision.valid_until else ""
        rows.append(
            f"<tr><td>{escape(decision.name)}</td><td>{_status_html(decision.status, lang)}</td>"
            f"<td>{escape(_partners(decision, lang))}</td><td>{until}</td></tr>"
        )
    steps = "".join(_step_html(step) for step in rec.next_steps)
    title = "Recommendation" if lang == "en" else "Empfehlung"
    return printable(
        f"{_div(lang, rec.translation.direction if rec.translation else None)}{_translation_html(rec)}"
        f"<p><b>{title}</b> {rec.as_of.isoformat()} · {escape(rec.ruleset_version)}</p>"
        f"<table><thead><tr>{''.join(f'<th>{escape(h)}</th>' for h in heads)}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table><ol>{steps}</ol></div>"
    )


def timeline_text(timeline: Timeline, *, redact: bool = False) -> str:
    """One line per change (date, service, old → new status), each date's handovers after its changes.

    With ``redact``, the dates are left out (most follow from the person's birth and event dates):
    the lines keep their order, each starting with ``-``.
    """
    lang = timeline.lang
    lines: list[tuple[dt.date, int, str]] = []
    for change in timeline.changes:
        line = (
            f"{change.service}: {_t(_STATUS, change.before.value, lang)} → "
            f"{_t(_STATUS, change.after.value, lang)}"
        )
        if change.partners_after and change.partners_after != change.partners_before:
            line += f" ({', '.join(change.partners_after)})"
        lines.append((change.on, 0, line))
    for handover in timeline.handovers:
        word = _t(_WORDS, "handover", lang)
        lines.append((handover.on, 1, f"{word}: {handover.from_service} → {handover.to_service}"))
    # sorted() is stable: changes keep their order within a date, handovers follow them.
    ordered = sorted(lines, key=lambda item: item[:2])
    return printable("\n".join(f"{'-' if redact else _date(on)} {line}" for on, _, line in ordered))


def timeline_html(timeline: Timeline) -> str:
    """The timeline as an HTML list."""
    items = "".join(f"<li>{escape(line)}</li>" for line in timeline_text(timeline).splitlines())
    head = escape(_t(_WORDS, "changes", timeline.lang))
    return f"{_div(timeline.lang)}<p><b>{head}</b></p><ul>{items}</ul></div>"


def what_if_text(what_if: WhatIf, lang: str = "de", *, redact: bool = False) -> str:
    """Each changed decision (old → new status, partners) with the explanation of the new one."""
    _check_lang(lang)
    if not what_if.decisions:
        return "No change." if lang == "en" else "Keine Änderung."
    blocks = []
    for change in what_if.decisions:
        before, after = (_t(_STATUS, status.value, lang) for status in (change.before, change.after))
        head = f"{change.service}: {before} → {after}"
        if change.partners_before != change.partners_after:
            old = ", ".join(change.partners_before) or "–"
            new = ", ".join(change.partners_after) or "–"
            head += f" ({_t(_WORDS, 'partners', lang)}: {old} → {new})"
        body = explain_decision(what_if.after.decision(change.service), lang, redact=redact)
        blocks.append(head + "\n" + "\n".join("  " + line for line in body.splitlines()))
    return printable("\n".join(blocks))


def why_not_text(why_not: WhyNot, lang: str = "de", *, redact: bool = False) -> str:
    """The text of :meth:`WhyNot.explain`: status, what blocks it, and the smallest changes."""
    _check_lang(lang)
    lines = [f"{why_not.name or why_not.service}: {_t(_STATUS, why_not.status.value, lang)}"]
    if why_not.conditions:
        lines.append(_t(_WORDS, "blocking", lang) + ":")
        for condition in why_not.conditions:
            lines.append(f"  {_MARKS[condition.outcome]} {condition_text(condition, lang, redact=redact)}")
    if why_not.alternatives:
        lines.append(_t(_WORDS, "alternatives", lang) + ":")
        for alternative in why_not.alternatives:
            parts = [
                _field(name, lang) + ("" if redact else f" = {_shown(value)}")
                for name, value in sorted(alternative.items())
            ]
            lines.append("  - " + ", ".join(parts))
    elif why_not.status is not Status.ELIGIBLE:
        lines.append(_t(_WORDS, "no_alternative", lang))
    return printable("\n".join(lines))


def why_not_html(why_not: WhyNot) -> str:
    """:func:`why_not_text` as an HTML block for notebooks, in the result's language."""
    lines = why_not_text(why_not, why_not.lang).splitlines()
    head, rest = lines[0], lines[1:]
    items = "".join(f"<li>{escape(line.strip())}</li>" for line in rest)
    return f"{_div(why_not.lang)}<p><b>{escape(head)}</b></p><ul>{items}</ul></div>"


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "ja/yes" if value else "nein/no"
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def check_report_html(report: Report, *, verbose: bool = False) -> str:
    """A check report as an HTML table for notebooks (infos only with ``verbose``)."""
    shown = [f for f in report.findings if verbose or f.severity != "info"]

    def causes(finding: Finding) -> str:
        changed = f" (changed since {escape(report.against)})" if report.against is not None else ""
        return "<br>".join(
            f"{'<b>' if c.changed else ''}{escape(c.subject)} {escape(c.rule)} ({escape(c.where)})"
            f"{changed + '</b>' if c.changed else ''}"
            for c in finding.causes
        )

    rows = "".join(
        f"<tr><td>{escape(f.severity)}</td><td>{escape(f.kind)}</td>"
        f"<td>{escape(f.rule or f.service or '')}</td><td>{escape(f.where)}</td>"
        f"<td>{escape(printable(f.message))}</td><td>{causes(f)}</td></tr>"
        for f in shown
    )
    counts = {s: sum(f.severity == s for f in report.findings) for s in ("error", "warning", "info")}
    compared = (
        f"; {len(report.changed)} entries changed since {escape(report.against)}, listed first"
        if report.against is not None
        else ""
    )
    summary = (
        f"{escape(report.ruleset)}: {counts['error']} errors, {counts['warning']} warnings, "
        f"{counts['info']} infos{compared}"
    )
    head = (
        "<tr><th>severity</th><th>kind</th><th>rule / service</th><th>file:line</th><th>message</th>"
        "<th>caused by</th></tr>"
    )
    return f"<div><p><b>{summary}</b></p><table>{head}{rows}</table></div>"
