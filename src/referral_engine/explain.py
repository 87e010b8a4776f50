"""Reasons as readable text and HTML, in any language a catalogue has, with or without the person's values.

An explanation needs nothing but the frozen decision: each condition carries its field, operator,
required value, the case's value and the outcome, and the library's words
(:mod:`referral_engine.words`: German and English in ``words.yaml``, other languages from the
catalogues) turn them into a line such as ``Alter ≥ 27: nicht erfüllt (26)``. With
``redact=True`` the case's values and every date derived from them are left out
(``Alter ≥ 27: nicht erfüllt``): the text says which conditions the person meets, so it is
still case data, but it repeats none of their data.
"""

from __future__ import annotations

import datetime as dt
import re
from html import escape
from typing import TYPE_CHECKING

from ._provided import provide
from .dates import Duration
from .errors import UsageError
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
from .words import base_words, known_language, language_direction, word

if TYPE_CHECKING:
    from .verify import Finding, Report
    from .whatif import WhatIf, WhyNot

# C0 and C1 controls (but tab and newline), and the bidirectional overrides that make a
# terminal or an editor show text other than what it is.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` without terminal control characters (escape sequences, bidi overrides).

    Rule files are text from outside: what they say is shown, never what a terminal would do
    with it. Every text this module returns has passed here, and so has the command line's.
    """
    return _CONTROL.sub("", text)


_MARKS = {"met": "✓", "failed": "✗", "unknown": "?"}
#: Operators written as symbols in every language; the others are words (``operator.<op>``).
_SYMBOLS = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥"}
_UNITS = ("years", "months", "days")


def __getattr__(name: str) -> dict[str, tuple[str, str]]:
    """``FIELD_LABELS`` and ``STATUS_LABELS``: field and residence-status names, code → (de, en).

    Read from the library's words (``words.yaml``) on first use; other languages come from the
    rule set's catalogues (``words.field.<name>``, ``words.residence_status.<code>``).
    """
    prefix = {"FIELD_LABELS": "field.", "STATUS_LABELS": "residence_status."}.get(name)
    if prefix is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return {
        key.removeprefix(prefix): (text.de, text.en)
        for key, text in base_words().items()
        if key.startswith(prefix)
    }


def duration_text(duration: str, lang: str) -> str:
    """An ISO 8601 duration in words: ``P1Y6M`` → ``1 Jahr 6 Monate`` / ``1 year 6 months``."""
    parsed = Duration.parse(duration)
    parts = []
    for unit in _UNITS:
        count = getattr(parsed, unit)
        if count:
            parts.append(word(f"unit.{unit}.{'one' if count == 1 else 'other'}", lang, count=str(count)))
    return " ".join(parts) or "0"


def value_text(value: ConditionValue, lang: str, field: str | None = None) -> str:
    """A required or actual value as text: lists joined with commas, booleans as yes / no.

    Residence-status codes (``field="residence_status"``) are shown by their names.
    """
    if isinstance(value, bool):
        return word("label.yes" if value else "label.no", lang)
    if isinstance(value, tuple):
        shown = [value_text(item, lang, field) for item in value]
        return ", ".join(shown) if shown else word("label.none", lang)
    if field == "residence_status" and f"residence_status.{value}" in base_words():
        return word(f"residence_status.{value}", lang)
    return str(value)


def condition_text(condition: ConditionOutcome, lang: str = "de", *, redact: bool = False) -> str:
    """One condition as a line: ``Alter ≥ 27: nicht erfüllt (26)``; redacted without ``(26)``."""
    field = _field(condition.field, lang)
    key = f"operator.{condition.op}"
    if condition.op in ("within", "older_than") and isinstance(condition.value, str):
        test = word(key, lang, field=field, period=duration_text(condition.value, lang))
    elif key in base_words() and condition.op not in ("within", "older_than"):
        test = word(key, lang, field=field, value=value_text(condition.value, lang, condition.field))
    else:
        op = _SYMBOLS.get(condition.op, condition.op)
        test = f"{field} {op} {value_text(condition.value, lang, condition.field)}"
    line = f"{test}: {word(f'outcome.{condition.outcome}', lang)}"
    if not redact and condition.actual is not None:
        line += f" ({value_text(condition.actual, lang, condition.field)})"
    return printable(line)


def _status_word(status: Status, lang: str) -> str:
    return word(f"status.{status.value}", lang)


def _date(day: dt.date) -> str:
    return day.isoformat()


def _reason_head(reason: Reason, lang: str) -> str:
    details = [word(f"effect.{reason.effect}", lang), word(f"rule_outcome.{reason.outcome}", lang)]
    if not reason.in_force:
        details.append(word("label.not_in_force", lang))
    if reason.valid_from is not None:
        details.append(f"{word('label.valid_from', lang)} {_date(reason.valid_from)}")
    if reason.valid_to is not None:
        details.append(f"{word('label.valid_to', lang)} {_date(reason.valid_to)}")
    if reason.confidence is not None:
        details.append(f"{word('label.confidence', lang)}: {word(f'confidence.{reason.confidence}', lang)}")
    return f"{word('label.rule', lang)} {reason.rule} ({'; '.join(details)})"


@provide
def explain_decision(decision: ServiceDecision, lang: str = "de", *, redact: bool = False) -> str:
    """The text of :meth:`ServiceDecision.explain`."""
    _check_lang(lang)
    lines = [f"{decision.name}: {_status_word(decision.status, lang)}"]
    if decision.partners:
        lines.append(f"{word('label.responsible', lang)}: {_partners(decision, lang)}")
    if decision.valid_until is not None and not redact:
        lines.append(f"{word('label.changes_on', lang)}: {_date(decision.valid_until)}")
    for reason in decision.reasons:
        lines.append(f"- {_reason_head(reason, lang)}")
        if reason.note:
            lines.append(f"  {reason.note}")
        lines.append(f"  {word('label.source', lang)}: {' | '.join(reason.source)}")
        for condition in reason.conditions:
            lines.append(f"  {_MARKS[condition.outcome]} {condition_text(condition, lang, redact=redact)}")
    if decision.missing:
        labels = [_field(name, lang) for name in decision.missing]
        lines.append(f"{word('label.missing', lang)}: {', '.join(labels)}")
    return printable("\n".join(lines))


def _partners(decision: ServiceDecision, lang: str) -> str:
    """The responsible partners, each placeholder marked as an example operator."""
    sample = f" ({word('label.sample', lang)})"
    names = (
        decision.partner_names if len(decision.partner_names) == len(decision.partners) else decision.partners
    )
    return ", ".join(
        name + (sample if partner in decision.sample_partners else "")
        for partner, name in zip(decision.partners, names, strict=True)
    )


def _field(name: str, lang: str) -> str:
    key = f"field.{name}"
    return word(key, lang) if key in base_words() else name


def _check_lang(lang: str) -> None:
    if not known_language(lang):
        raise UsageError("lang must be de, en or a language of a rule set's catalogues (such as uk or ar)")


#: Languages written right to left, for ``dir="rtl"`` where no catalogue says its direction.
RTL_LANGUAGES = frozenset({"ar", "dv", "fa", "he", "ps", "sd", "ug", "ur", "yi"})


def _div(lang: str, direction: str | None = None) -> str:
    """The opening tag of an HTML block in ``lang``: plain for de and en, else with lang and dir."""
    if lang in ("de", "en"):
        return "<div>"
    direction = direction or language_direction(lang) or ("rtl" if lang in RTL_LANGUAGES else "ltr")
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
        f'<p class="draft-translation"><b>⚠ {escape(word("label.draft", translation.language))}</b> '
        '<span lang="en" dir="ltr">(draft translation — not yet reviewed; Entwurf, noch nicht geprüft; '
        f"{escape(translation.name)}; {fell_back} texts shown in the fallback language)</span></p>"
    )


# -- HTML for notebooks ---------------------------------------------------------------------------

_COLOURS = {Status.ELIGIBLE: "#1b7f3b", Status.UNDETERMINED: "#9a6700", Status.NOT_ELIGIBLE: "#a40e26"}


def _status_html(status: Status, lang: str) -> str:
    return f'<b style="color:{_COLOURS[status]}">{escape(_status_word(status, lang))}</b>'


@provide
def decision_html(decision: ServiceDecision, lang: str = "de") -> str:
    """A decision as an HTML block for notebooks: status, partners, and a table per reason.

    Notebooks sit on the caseworker's desk, so the case's values are shown.
    """
    parts = [f"{_div(lang)}<p><b>{escape(decision.name)}</b>: {_status_html(decision.status, lang)}"]
    if decision.partners:
        parts.append(f" — {escape(word('label.responsible', lang))}: {escape(_partners(decision, lang))}")
    if decision.valid_until is not None:
        parts.append(f" — {escape(word('label.changes_on', lang))}: {_date(decision.valid_until)}")
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


@provide
def recommendation_html(rec: Recommendation) -> str:
    """A recommendation as an HTML table: one row per service, then the next steps."""
    lang = rec.lang
    heads = [word(f"heading.{key}", lang) for key in ("service", "status", "responsible", "changes_on")]
    rows = []
    for decision in rec.decisions:
        until = _date(decision.valid_until) if decision.valid_until else ""
        rows.append(
            f"<tr><td>{escape(decision.name)}</td><td>{_status_html(decision.status, lang)}</td>"
            f"<td>{escape(_partners(decision, lang))}</td><td>{until}</td></tr>"
        )
    steps = "".join(_step_html(step) for step in rec.next_steps)
    title = escape(word("heading.recommendation", lang))
    return printable(
        f"{_div(lang, rec.translation.direction if rec.translation else None)}{_translation_html(rec)}"
        f"<p><b>{title}</b> {rec.as_of.isoformat()} · {escape(rec.ruleset_version)}</p>"
        f"<table><thead><tr>{''.join(f'<th>{escape(h)}</th>' for h in heads)}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table><ol>{steps}</ol></div>"
    )


@provide
def timeline_text(timeline: Timeline, *, redact: bool = False) -> str:
    """One line per change (date, service, old → new status), each date's handovers after its changes.

    With ``redact``, the dates are left out (most follow from the person's birth and event dates):
    the lines keep their order, each starting with ``-``.
    """
    lang = timeline.lang
    lines: list[tuple[dt.date, int, str]] = []
    for change in timeline.changes:
        line = f"{change.service}: {_status_word(change.before, lang)} → {_status_word(change.after, lang)}"
        if change.partners_after and change.partners_after != change.partners_before:
            line += f" ({', '.join(change.partners_after)})"
        lines.append((change.on, 0, line))
    for handover in timeline.handovers:
        handed = word("label.handover", lang)
        lines.append((handover.on, 1, f"{handed}: {handover.from_service} → {handover.to_service}"))
    # sorted() is stable: changes keep their order within a date, handovers follow them.
    ordered = sorted(lines, key=lambda item: item[:2])
    return printable("\n".join(f"{'-' if redact else _date(on)} {line}" for on, _, line in ordered))


@provide
def timeline_html(timeline: Timeline) -> str:
    """The timeline as an HTML list."""
    items = "".join(f"<li>{escape(line)}</li>" for line in timeline_text(timeline).splitlines())
    head = escape(word("label.coming_changes", timeline.lang))
    return f"{_div(timeline.lang)}<p><b>{head}</b></p><ul>{items}</ul></div>"


def what_if_text(what_if: WhatIf, lang: str = "de", *, redact: bool = False) -> str:
    """Each changed decision (old → new status, partners) with the explanation of the new one."""
    _check_lang(lang)
    if not what_if.decisions:
        return word("label.no_change", lang)
    blocks = []
    for change in what_if.decisions:
        before, after = (_status_word(status, lang) for status in (change.before, change.after))
        head = f"{change.service}: {before} → {after}"
        if change.partners_before != change.partners_after:
            old = ", ".join(change.partners_before) or "–"
            new = ", ".join(change.partners_after) or "–"
            head += f" ({word('label.responsible', lang)}: {old} → {new})"
        body = explain_decision(what_if.after.decision(change.service), lang, redact=redact)
        blocks.append(head + "\n" + "\n".join("  " + line for line in body.splitlines()))
    return printable("\n".join(blocks))


def why_not_text(why_not: WhyNot, lang: str = "de", *, redact: bool = False) -> str:
    """The text of :meth:`WhyNot.explain`: status, what blocks it, and the smallest changes."""
    _check_lang(lang)
    lines = [f"{why_not.name or why_not.service}: {_status_word(why_not.status, lang)}"]
    if why_not.conditions:
        lines.append(word("label.blocking", lang) + ":")
        for condition in why_not.conditions:
            lines.append(f"  {_MARKS[condition.outcome]} {condition_text(condition, lang, redact=redact)}")
    if why_not.alternatives:
        lines.append(word("label.alternatives", lang) + ":")
        for alternative in why_not.alternatives:
            parts = [
                _field(name, lang) + ("" if redact else f" = {_shown(value, lang)}")
                for name, value in sorted(alternative.items())
            ]
            lines.append("  - " + ", ".join(parts))
    elif why_not.status is not Status.ELIGIBLE:
        lines.append(word("label.no_alternative", lang))
    return printable("\n".join(lines))


def why_not_html(why_not: WhyNot) -> str:
    """:func:`why_not_text` as an HTML block for notebooks, in the result's language."""
    lines = why_not_text(why_not, why_not.lang).splitlines()
    head, rest = lines[0], lines[1:]
    items = "".join(f"<li>{escape(line.strip())}</li>" for line in rest)
    return f"{_div(why_not.lang)}<p><b>{escape(head)}</b></p><ul>{items}</ul></div>"


def _shown(value: object, lang: str) -> str:
    if isinstance(value, bool):
        return word("label.yes" if value else "label.no", lang)
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
